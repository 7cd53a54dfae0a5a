// Weights in the PyTorch Linear layout as .npy files: dense<i>.weight.npy (float32 [out, in])
// and dense<i>.bias.npy (float32 [out]) for each dense layer in order.
#pragma once

#include <span>
#include <string>

#include "trainer/model.hpp"

namespace trainer {

// Writes every tensor of `layout` from `params` into folder `dir` (created if missing).
// Throws Error::runtime naming the file.
void export_weights(const std::string& dir, const ParamLayout& layout, std::span<const float> params);

// Reads every tensor of `layout` from folder `dir` into `params`. Throws Error::data naming
// the file for a missing file or a shape that differs from the model's.
void import_weights(const std::string& dir, const ParamLayout& layout, std::span<float> params);

}  // namespace trainer
