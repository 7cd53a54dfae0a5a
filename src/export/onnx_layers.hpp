// The ONNX form of each layer kind, one function per kind, in inference mode.
//
// Each function takes the tensor flowing in (its name and per-sample shape), adds the nodes and
// initializers of one layer, and returns the tensor flowing out. `scope` is the layer's JSON
// pointer ("/model/layers/2"): node names start with it, so a graph viewer shows which config
// entry each node came from. Parameters are float32 initializers named as in the .npy export.
//
// Image layers (conv2d, pooling, batch_norm in inference form, flatten, global_avg_pool) are
// meant to join as one function each; activations inside the graph are then NHWC like the
// trainer's, with a Transpose around each op that ONNX defines on NCHW.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "onnx_graph.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"

namespace trainer::export_detail {

// A tensor of the graph: [batch, shape...].
struct Flow {
  std::string name;
  std::vector<std::int64_t> shape;  // per sample
};

// y = x W^T + b (Gemm with transB): W [out, in] as stored, bias optional (none: no C input).
// REQUIRES: in.shape is [in].
Flow add_dense(GraphBuilder& g, const Flow& in, const std::string& scope, const TensorSlot& weight,
               const TensorSlot* bias, std::span<const float> params);

// The hidden-layer activations of src/model/activations.cpp, computed as the trainer does:
// leaky_relu's slope 0.01, gelu's exact erf form 0.5 x (1 + erf(x / sqrt 2)) (opset 17 has no
// Gelu op). linear adds nothing.
Flow add_activation(GraphBuilder& g, const Flow& in, const std::string& scope, Activation f);

// Inverted dropout is the identity at inference; an Identity node keeps the layer visible.
Flow add_dropout(GraphBuilder& g, const Flow& in, const std::string& scope);

// [batch, d1, d2, ...] to [batch, d1*d2*...] in C order; [batch] to [batch, 1]. A no-op on
// [batch, n].
Flow add_flatten(GraphBuilder& g, const Flow& in, const std::string& scope);

}  // namespace trainer::export_detail
