// A thin builder over onnx::GraphProto: nodes, initializers and shared scalar constants, with
// the tensor bookkeeping the layer functions (onnx_layers.hpp) need and nothing else.
//
// Private to src/export. The generated protobuf classes stay out of this header, so only the
// .cpp files that fill the protos depend on them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace onnx {
class GraphProto;
}

namespace trainer::export_detail {

// One node attribute: an integer (INT), a float (FLOAT) or a list of integers (INTS).
struct Attr {
  std::string name;
  std::variant<std::int64_t, float, std::vector<std::int64_t>> value;
};

class GraphBuilder {
 public:
  // Fills `graph`, which must outlive the builder.
  explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  // A float32 initializer; returns `name`.
  std::string initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                          std::span<const float> values);
  // An int64 initializer (shapes, axes); returns `name`.
  std::string initializer_i64(const std::string& name, const std::vector<std::int64_t>& dims,
                              std::span<const std::int64_t> values);
  // A float32 scalar shared by every node that needs the same value; returns its name.
  std::string scalar(float value);

  // Adds node `op` (default domain) named `node_name` with one output called `output`; returns
  // `output`.
  std::string node(const std::string& op, const std::string& node_name, const std::vector<std::string>& inputs,
                   const std::string& output, const std::vector<Attr>& attrs = {});

  // Makes tensor `tensor` available under `name` (the graph output's name): renames the last
  // node's output when that node made it, else adds an Identity node.
  void rename_result(const std::string& tensor, const std::string& name);

 private:
  onnx::GraphProto& graph_;
  std::vector<std::pair<float, std::string>> scalars_;
};

}  // namespace trainer::export_detail
