// The ONNX form of each layer kind, one function per kind, in inference mode.
//
// Each function takes the tensor flowing in (its name and per-sample shape), adds the nodes and
// initializers of one layer, and returns the tensor flowing out. `scope` is the layer's JSON
// pointer ("/model/layers/2"): node names start with it, so a graph viewer shows which config
// entry each node came from. Parameters are float32 initializers named as in the .npy export.
//
// Image tensors are NCHW in the graph, the layout ONNX defines Conv, the pools and
// BatchNormalization on: the input transform turns the stored samples into [N, C, H, W] once, and
// the trainer's flatten order (channel, row, column) is then plain Flatten. The trainer's own
// NHWC activations are its implementation; only the values at the layer boundaries must agree.
// Per-sample shapes come from the network (LayerSummary::output_shape, PyTorch's order), not
// from formulas repeated here.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "onnx_graph.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/sample_shape.hpp"

namespace trainer::export_detail {

// A tensor of the graph: [batch, shape...].
struct Flow {
  std::string name;
  std::vector<std::int64_t> shape;  // per sample
};

// Rows of `image.size()` values, stored as the training file holds a sample (channels_first:
// C planes of H x W, else H x W pixels of C values), to [C, H, W].
// REQUIRES: in.shape is [image.size()].
Flow add_image_input(GraphBuilder& g, const Flow& in, const std::string& scope, const SampleShape& image,
                     bool channels_first);

// y = x W^T + b (Gemm with transB): W [out, in] as stored, bias optional (none: no C input).
// REQUIRES: in.shape is [in].
Flow add_dense(GraphBuilder& g, const Flow& in, const std::string& scope, const TensorSlot& weight,
               const TensorSlot* bias, std::span<const float> params);

// Conv with the layer's kernel, stride and padding (pad_begin, pad_end: ONNX's pads), weight
// [out, in, kh, kw] as stored, bias optional. No activation (add_activation follows).
Flow add_conv2d(GraphBuilder& g, const Flow& in, const std::string& scope, const LayerConfig& layer,
                const std::vector<std::int64_t>& out_shape, const TensorSlot& weight, const TensorSlot* bias,
                std::span<const float> params);

// MaxPool or AveragePool of the layer's size and stride, no padding, floor of the output size.
Flow add_pool2d(GraphBuilder& g, const Flow& in, const std::string& scope, const LayerConfig& layer,
                const std::vector<std::int64_t>& out_shape);

// GlobalAveragePool, then [C, 1, 1] flattened to [C] (the trainer's output is flat).
Flow add_global_avg_pool(GraphBuilder& g, const Flow& in, const std::string& scope,
                         const std::vector<std::int64_t>& out_shape);

// BatchNormalization in inference form: running mean and variance, eps; per channel of
// [C, H, W] or per feature of [F] (axis 1 either way). No activation.
struct BatchNormTensors {
  const TensorSlot& weight;
  const TensorSlot& bias;
  const TensorSlot& running_mean;
  const TensorSlot& running_var;
};
Flow add_batch_norm(GraphBuilder& g, const Flow& in, const std::string& scope, const LayerConfig& layer,
                    const BatchNormTensors& tensors, std::span<const float> params);

// The hidden-layer activations of src/model/activations.cpp, computed as the trainer does:
// leaky_relu's slope 0.01, gelu's exact erf form 0.5 x (1 + erf(x / sqrt 2)) (opset 17 has no
// Gelu op). linear adds nothing.
Flow add_activation(GraphBuilder& g, const Flow& in, const std::string& scope, Activation f);

// Inverted dropout is the identity at inference; an Identity node keeps the layer visible.
Flow add_dropout(GraphBuilder& g, const Flow& in, const std::string& scope);

// [batch, d1, d2, ...] to [batch, d1*d2*...] in C order (on [C, H, W]: the trainer's flatten
// order); [batch] to [batch, 1]. A no-op on [batch, n].
Flow add_flatten(GraphBuilder& g, const Flow& in, const std::string& scope);

}  // namespace trainer::export_detail
