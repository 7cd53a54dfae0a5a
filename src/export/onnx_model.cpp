// The whole ONNX model: input x as stored, the input transform, the layers, the output head,
// and the model's metadata.
#include <climits>

#include "exported_model.hpp"
#include "onnx.pb.h"
#include "onnx_layers.hpp"
#include "trainer/error.hpp"

namespace trainer::export_detail {
namespace {

constexpr std::int64_t kOpset = 17;
// IR version 8 goes with opset 17 (ONNX 1.12, Debian 12's python3-onnx checker).
constexpr std::int64_t kIrVersion = 8;

int onnx_type(DType d) {
  switch (d) {
    case DType::b1: return onnx::TensorProto::BOOL;
    case DType::u1: return onnx::TensorProto::UINT8;
    case DType::u2: return onnx::TensorProto::UINT16;
    case DType::u4: return onnx::TensorProto::UINT32;
    case DType::u8: return onnx::TensorProto::UINT64;
    case DType::i1: return onnx::TensorProto::INT8;
    case DType::i2: return onnx::TensorProto::INT16;
    case DType::i4: return onnx::TensorProto::INT32;
    case DType::i8: return onnx::TensorProto::INT64;
    case DType::f2: return onnx::TensorProto::FLOAT16;
    case DType::f4: return onnx::TensorProto::FLOAT;
    case DType::f8: break;
  }
  return onnx::TensorProto::DOUBLE;
}

// A graph input or output: elem_type [N, shape...] with a free batch dimension named N.
void describe(onnx::ValueInfoProto& v, const std::string& name, int elem_type, const std::vector<std::int64_t>& shape) {
  v.set_name(name);
  onnx::TypeProto::Tensor& t = *v.mutable_type()->mutable_tensor_type();
  t.set_elem_type(elem_type);
  onnx::TensorShapeProto& s = *t.mutable_shape();
  s.add_dim()->set_dim_param("N");
  for (std::int64_t d : shape) s.add_dim()->set_dim_value(d);
}

Error unsupported(const ExportedModel& m, const std::string& where, LayerConfig::Type type) {
  return Error::usage(at_key(m.source, where),
                      std::string(to_string(type)) + ": ONNX export of image models (conv2d, pooling, batch_norm, "
                                                     "flatten, global_avg_pool) is not built yet",
                      "an MLP (dense and dropout layers), or --format safetensors or npy for this model");
}

// What gather_f32 does to every value: float32, flattened, (v * x_scale - mean) * inv_std.
Flow add_input_transform(GraphBuilder& g, const ExportedModel& m, const InputSpec& input) {
  const std::string scope = "/data";
  Flow flow{"x", input.sample_shape};
  if (input.dtype != DType::f4)
    flow.name = g.node("Cast", scope + "/cast", {flow.name}, scope + "/cast", {{"to", std::int64_t{onnx::TensorProto::FLOAT}}});
  flow = add_flatten(g, flow, scope);
  const CheckpointData& ck = m.checkpoint;
  if (ck.x_scale != 1.0f)
    flow.name = g.node("Mul", scope + "/x_scale", {flow.name, g.initializer("x_scale", {}, {&ck.x_scale, 1})}, scope + "/x_scale");
  if (!ck.mean.empty()) {
    const std::vector<std::int64_t> dims{static_cast<std::int64_t>(ck.mean.size())};
    flow.name = g.node("Sub", scope + "/mean", {flow.name, g.initializer("mean", dims, ck.mean)}, scope + "/mean");
    flow.name = g.node("Mul", scope + "/inv_std", {flow.name, g.initializer("inv_std", dims, ck.inv_std)}, scope + "/inv_std");
  }
  return flow;
}

// The layers in config order; the last dense layer's activation is the loss's (the head).
Flow add_layers(GraphBuilder& g, const ExportedModel& m, Flow flow) {
  const auto& layers = m.config.model.layers;
  std::size_t last_dense = 0;
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i].type == LayerConfig::Type::dense) last_dense = i;
  std::int64_t dense = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerConfig& l = layers[i];
    const std::string scope = "/model/layers/" + std::to_string(i);
    switch (l.type) {
      case LayerConfig::Type::dropout: flow = add_dropout(g, flow, scope); break;
      case LayerConfig::Type::dense: {
        const std::string name = "dense" + std::to_string(dense++);
        flow = add_dense(g, flow, scope, m.tensor(name + ".weight"), l.bias ? &m.tensor(name + ".bias") : nullptr,
                         m.params());
        if (i != last_dense) flow = add_activation(g, flow, scope, l.activation);
        break;
      }
      // Image layers join here, one add_<kind>() each (onnx_layers.hpp).
      case LayerConfig::Type::conv2d:
      case LayerConfig::Type::max_pool2d:
      case LayerConfig::Type::avg_pool2d:
      case LayerConfig::Type::global_avg_pool:
      case LayerConfig::Type::batch_norm:
      case LayerConfig::Type::flatten:
        throw unsupported(m, scope, l.type);
    }
  }
  return flow;
}

// What `trainer predict` applies to the logits (src/model/losses.cpp).
Flow add_output_head(GraphBuilder& g, const ExportedModel& m, const Flow& logits) {
  const std::string scope = "/model/output";
  switch (m.config.model.loss) {
    case Loss::cross_entropy:
      return {g.node("Softmax", scope + "/softmax", {logits.name}, scope + "/softmax", {{"axis", std::int64_t{-1}}}), logits.shape};
    case Loss::binary_cross_entropy:
      return {g.node("Sigmoid", scope + "/sigmoid", {logits.name}, scope + "/sigmoid"), logits.shape};
    case Loss::mse: break;
  }
  return logits;
}

}  // namespace

std::string onnx_model_bytes(const ExportedModel& m, const InputSpec& input, bool logits) {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("trainer");
  model.set_producer_version(TRAINER_VERSION);
  model.set_doc_string(std::string("Exported by trainer from ") + m.source + "; y is " +
                       (logits ? "logits" : predict_output_kind(m.config.model.loss)));
  onnx::OperatorSetIdProto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOpset);
  for (const auto& [key, value] : model_metadata(m)) {
    onnx::StringStringEntryProto& e = *model.add_metadata_props();
    e.set_key(key);
    e.set_value(value);
  }
  onnx::StringStringEntryProto& kind = *model.add_metadata_props();
  kind.set_key("output");
  kind.set_value(logits ? "logits" : predict_output_kind(m.config.model.loss));

  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("trainer");
  describe(*graph.add_input(), "x", onnx_type(input.dtype), input.sample_shape);
  GraphBuilder g(graph);
  Flow flow = add_layers(g, m, add_input_transform(g, m, input));
  if (!logits) flow = add_output_head(g, m, flow);
  g.rename_result(flow.name, "y");
  describe(*graph.add_output(), "y", onnx::TensorProto::FLOAT, flow.shape);

  // A protobuf message cannot exceed 2 GiB; ONNX's external-data files are not written here.
  if (model.ByteSizeLong() > static_cast<std::size_t>(INT_MAX))
    throw Error::runtime(m.source, "the model is larger than the 2 GiB an ONNX file can hold",
                         "--format safetensors or npy for models this large");
  return model.SerializeAsString();
}

}  // namespace trainer::export_detail
