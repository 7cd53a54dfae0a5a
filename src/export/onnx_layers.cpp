#include "onnx_layers.hpp"

#include <cmath>

#include "trainer/error.hpp"

namespace trainer::export_detail {

namespace {

// The slope src/model/activations.cpp uses for negative inputs (torch's default as well). The
// ONNX-against-predict test fails if the two part.
constexpr float kLeakySlope = 0.01f;

}  // namespace

Flow add_dense(GraphBuilder& g, const Flow& in, const std::string& scope, const TensorSlot& weight,
               const TensorSlot* bias, std::span<const float> params) {
  if (in.shape != std::vector<std::int64_t>{weight.shape[1]})  // a layer before it forgot to flatten
    throw Error::runtime(scope, "internal: a dense layer of " + std::to_string(weight.shape[1]) +
                                    " inputs receives samples of another shape in the ONNX graph");
  const auto values = [&](const TensorSlot& t) {
    return params.subspan(static_cast<std::size_t>(t.offset), static_cast<std::size_t>(t.count));
  };
  std::vector<std::string> inputs{in.name, g.initializer(weight.name, weight.shape, values(weight))};
  if (bias != nullptr) inputs.push_back(g.initializer(bias->name, bias->shape, values(*bias)));
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
