#include "onnx_graph.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "onnx.pb.h"

namespace trainer::export_detail {
namespace {

// TensorProto.raw_data is little-endian whatever the host.
template <class T>
std::string little_endian_bytes(std::span<const T> values) {
  std::string bytes(values.size_bytes(), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = 0; i < bytes.size(); i += sizeof(T))
      std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i), bytes.begin() + static_cast<std::ptrdiff_t>(i + sizeof(T)));
  }
  return bytes;
}

onnx::TensorProto& add_initializer(onnx::GraphProto& graph, const std::string& name,
                                   const std::vector<std::int64_t>& dims, int data_type, std::string raw) {
  onnx::TensorProto& t = *graph.add_initializer();
  t.set_name(name);
  for (std::int64_t d : dims) t.add_dims(d);
  t.set_data_type(data_type);
  t.set_raw_data(std::move(raw));
  return t;
}

}  // namespace

std::string GraphBuilder::initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                      std::span<const float> values) {
  add_initializer(graph_, name, dims, onnx::TensorProto::FLOAT, little_endian_bytes(values));
  return name;
}

std::string GraphBuilder::initializer_i64(const std::string& name, const std::vector<std::int64_t>& dims,
                                          std::span<const std::int64_t> values) {
  add_initializer(graph_, name, dims, onnx::TensorProto::INT64, little_endian_bytes(values));
  return name;
}

std::string GraphBuilder::scalar(float value) {
  for (const auto& [v, name] : scalars_)
    if (std::memcmp(&v, &value, sizeof value) == 0) return name;
  const std::string name = "const." + std::to_string(scalars_.size());
  scalars_.emplace_back(value, name);
  return initializer(name, {}, std::span<const float>(&value, 1));
}

std::string GraphBuilder::node(const std::string& op, const std::string& node_name,
                               const std::vector<std::string>& inputs, const std::string& output,
                               const std::vector<Attr>& attrs) {
  onnx::NodeProto& n = *graph_.add_node();
  n.set_op_type(op);
  n.set_name(node_name);
  for (const std::string& in : inputs) n.add_input(in);
  n.add_output(output);
  for (const Attr& a : attrs) {
    onnx::AttributeProto& p = *n.add_attribute();
    p.set_name(a.name);
    if (const auto* i = std::get_if<std::int64_t>(&a.value)) {
      p.set_type(onnx::AttributeProto::INT);
      p.set_i(*i);
    } else if (const auto* f = std::get_if<float>(&a.value)) {
      p.set_type(onnx::AttributeProto::FLOAT);
      p.set_f(*f);
    } else {
      p.set_type(onnx::AttributeProto::INTS);
      for (std::int64_t v : std::get<std::vector<std::int64_t>>(a.value)) p.add_ints(v);
    }
  }
  return output;
}

void GraphBuilder::rename_result(const std::string& tensor, const std::string& name) {
  if (tensor == name) return;
  const int count = graph_.node_size();
  if (count > 0 && graph_.node(count - 1).output(0) == tensor) {
    graph_.mutable_node(count - 1)->set_output(0, name);
    return;
  }
  node("Identity", name, {tensor}, name);
}

}  // namespace trainer::export_detail
