#include "onnx_layers.hpp"

#include <cmath>

#include "trainer/error.hpp"
#include "trainer/weights_io.hpp"

namespace trainer::export_detail {

namespace {

// The slope src/model/activations.cpp uses for negative inputs (torch's default as well). The
// ONNX-against-predict test fails if the two part.
constexpr float kLeakySlope = 0.01f;

// A parameter tensor as an initializer under its .npy name, in PyTorch's layout.
std::string add_param(GraphBuilder& g, const TensorSlot& t, std::span<const float> params) {
  return g.initializer(t.name, t.shape, tensor_values(params, t));
}

std::vector<std::int64_t> hw(const Extent& e) { return {e.h, e.w}; }

// The one tensor of a node's inputs that flows along the graph, checked: an image op fed a flat
// tensor means a layer before it was exported wrongly, not that the file is bad.
void require_image(const Flow& in, const std::string& scope, const char* op) {
  if (in.shape.size() != 3)
    throw Error::runtime(scope, std::string("internal: ") + op + " receives a tensor that is not [C, H, W] in the ONNX graph");
}

}  // namespace

Flow add_image_input(GraphBuilder& g, const Flow& in, const std::string& scope, const SampleShape& image,
                     bool channels_first) {
  if (in.shape != std::vector<std::int64_t>{image.size()})
    throw Error::runtime(scope, "internal: the image input transform receives samples that are not flat rows");
  const std::vector<std::int64_t> chw = image.chw();
  // Reshape's 0 copies the batch dimension (a -1 would be ambiguous for an empty batch). One
  // channel's pixels read the same in either order, so they need no Transpose.
  const std::string name = scope + "/image";
  if (channels_first || image.c == 1) {
    const std::vector<std::int64_t> dims{0, chw[0], chw[1], chw[2]};
    return {g.node("Reshape", name, {in.name, g.initializer_i64(name + ".shape", {4}, dims)}, name), chw};
  }
  const std::vector<std::int64_t> dims{0, image.h, image.w, image.c};
  const std::string nhwc =
      g.node("Reshape", name + "/nhwc", {in.name, g.initializer_i64(name + ".shape", {4}, dims)}, name + "/nhwc");
  return {g.node("Transpose", name, {nhwc}, name, {{"perm", std::vector<std::int64_t>{0, 3, 1, 2}}}), chw};
}

Flow add_conv2d(GraphBuilder& g, const Flow& in, const std::string& scope, const LayerConfig& layer,
                const std::vector<std::int64_t>& out_shape, const TensorSlot& weight, const TensorSlot* bias,
                std::span<const float> params) {
  require_image(in, scope, "conv2d");
  std::vector<std::string> inputs{in.name, add_param(g, weight, params)};
  if (bias != nullptr) inputs.push_back(add_param(g, *bias, params));
  // ONNX pads: [begin of H, begin of W, end of H, end of W].
  const std::vector<std::int64_t> pads{layer.pad_begin.h, layer.pad_begin.w, layer.pad_end.h, layer.pad_end.w};
  const std::string name = scope + "/conv2d";
  return {g.node("Conv", name, inputs, name,
                 {{"kernel_shape", hw(layer.kernel)}, {"strides", hw(layer.stride)}, {"pads", pads}}),
          out_shape};
}

Flow add_pool2d(GraphBuilder& g, const Flow& in, const std::string& scope, const LayerConfig& layer,
                const std::vector<std::int64_t>& out_shape) {
  require_image(in, scope, to_string(layer.type));
  const bool max = layer.type == LayerConfig::Type::max_pool2d;
  const std::string name = scope + "/" + to_string(layer.type);
  // The trainer's pools have no padding, and ceil_mode 0 takes the floor of the output size as
  // the trainer does; count_include_pad is spelled out although no padding makes it moot.
  std::vector<Attr> attrs{{"kernel_shape", hw(layer.size)}, {"strides", hw(layer.stride)},
                          {"pads", std::vector<std::int64_t>{0, 0, 0, 0}}, {"ceil_mode", std::int64_t{0}}};
  if (!max) attrs.push_back({"count_include_pad", std::int64_t{0}});
  return {g.node(max ? "MaxPool" : "AveragePool", name, {in.name}, name, attrs), out_shape};
}

Flow add_global_avg_pool(GraphBuilder& g, const Flow& in, const std::string& scope,
                         const std::vector<std::int64_t>& out_shape) {
  require_image(in, scope, "global_avg_pool");
  const std::string name = scope + "/global_avg_pool";
  const std::string pooled = g.node("GlobalAveragePool", name + "/pool", {in.name}, name + "/pool");
  return {g.node("Flatten", name, {pooled}, name, {{"axis", std::int64_t{1}}}), out_shape};
}

Flow add_batch_norm(GraphBuilder& g, const Flow& in, const std::string& scope, const LayerConfig& layer,
                    const BatchNormTensors& t, std::span<const float> params) {
  const std::string name = scope + "/batch_norm";
  // training_mode 0 (the default): the running statistics are inputs, not updated outputs.
  return {g.node("BatchNormalization", name,
                 {in.name, add_param(g, t.weight, params), add_param(g, t.bias, params),
                  add_param(g, t.running_mean, params), add_param(g, t.running_var, params)},
                 name, {{"epsilon", static_cast<float>(layer.eps)}}),
          in.shape};
}

Flow add_dense(GraphBuilder& g, const Flow& in, const std::string& scope, const TensorSlot& weight,
               const TensorSlot* bias, std::span<const float> params) {
  if (in.shape != std::vector<std::int64_t>{weight.shape[1]})  // a layer before it forgot to flatten
    throw Error::runtime(scope, "internal: a dense layer of " + std::to_string(weight.shape[1]) +
                                    " inputs receives samples of another shape in the ONNX graph");
  std::vector<std::string> inputs{in.name, add_param(g, weight, params)};
  if (bias != nullptr) inputs.push_back(add_param(g, *bias, params));
  const std::string out = g.node("Gemm", scope + "/dense", inputs, scope + "/dense", {{"transB", std::int64_t{1}}});
  return {out, {weight.shape[0]}};
}

Flow add_activation(GraphBuilder& g, const Flow& in, const std::string& scope, Activation f) {
  const std::string name = scope + "/" + to_string(f);
  switch (f) {
    case Activation::linear: return in;
    case Activation::relu: return {g.node("Relu", name, {in.name}, name), in.shape};
    case Activation::tanh: return {g.node("Tanh", name, {in.name}, name), in.shape};
    case Activation::sigmoid: return {g.node("Sigmoid", name, {in.name}, name), in.shape};
    case Activation::leaky_relu:
      return {g.node("LeakyRelu", name, {in.name}, name, {{"alpha", kLeakySlope}}), in.shape};
    case Activation::gelu: {
      // In the trainer's order of operations: (0.5 x) (1 + erf(x * (1/sqrt 2))).
      const std::string scaled = g.node("Mul", name + "/scaled", {in.name, g.scalar(static_cast<float>(M_SQRT1_2))}, name + "/scaled");
      const std::string erf = g.node("Erf", name + "/erf", {scaled}, name + "/erf");
      const std::string cdf2 = g.node("Add", name + "/one_plus", {erf, g.scalar(1.0f)}, name + "/one_plus");
      const std::string half = g.node("Mul", name + "/half", {in.name, g.scalar(0.5f)}, name + "/half");
      return {g.node("Mul", name, {half, cdf2}, name), in.shape};
    }
  }
  return in;
}

Flow add_dropout(GraphBuilder& g, const Flow& in, const std::string& scope) {
  return {g.node("Identity", scope + "/dropout", {in.name}, scope + "/dropout"), in.shape};
}

Flow add_flatten(GraphBuilder& g, const Flow& in, const std::string& scope) {
  if (in.shape.size() == 1) return in;
  std::int64_t width = 1;
  for (std::int64_t d : in.shape) width *= d;
  const std::string name = scope + "/flatten";
  if (in.shape.empty()) {
    const std::int64_t axis = 1;
    const std::string axes = g.initializer_i64(name + ".axes", {1}, std::span<const std::int64_t>(&axis, 1));
    return {g.node("Unsqueeze", name, {in.name, axes}, name), {1}};
  }
  return {g.node("Flatten", name, {in.name}, name, {{"axis", std::int64_t{1}}}), {width}};
}

}  // namespace trainer::export_detail
