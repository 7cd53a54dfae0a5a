// Weights in the PyTorch Linear layout as .npy files: dense<i>.weight.npy (float32 [out, in])
// and dense<i>.bias.npy (float32 [out]) for each dense layer in order.
#pragma once

#include <span>
#include <string>

#include "trainer/model.hpp"

namespace trainer {

// The values of tensor `t` in PyTorch's layout (the shape in t.shape), as every export writes
// them: the one place that knows how a tensor sits in the flat parameters (today as it is; a
// layer that keeps its weights in another order must convert here, not in each exporter).
std::span<const float> tensor_values(std::span<const float> params, const TensorSlot& t);

// Writes every tensor of `layout` from `params` into folder `dir` (created if missing).
// Throws Error::runtime naming the file.
void export_weights(const std::string& dir, const ParamLayout& layout, std::span<const float> params);

// Reads every tensor of `layout` from folder `dir` into `params`. Throws Error::data naming
// the file for a missing file or a shape that differs from the model's.
void import_weights(const std::string& dir, const ParamLayout& layout, std::span<float> params);

}  // namespace trainer
