// What every export format is written from: a checkpoint with its config and parameter layout.
//
// Private to src/export. The model is read only through read_checkpoint(), load_config_text()
// and Network::layout(), so a change of the checkpoint's or the model's internals reaches the
// exporters through those three alone.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "trainer/checkpoint.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/npy.hpp"

namespace trainer::export_detail {

// How samples are stored in the training x file: the ONNX input takes them as they are.
struct InputSpec {
  DType dtype = DType::f4;
  std::vector<std::int64_t> sample_shape;  // shape of one sample, without the batch axis
};

struct ExportedModel {
  std::string source;        // the checkpoint's path, for messages
  CheckpointData checkpoint;
  Config config;
  ParamLayout layout;        // names, shapes and offsets of checkpoint.params
  std::int64_t outputs = 0;  // values per sample of the last layer

  std::span<const float> params() const { return checkpoint.params; }
  // REQUIRES: a tensor of that name exists (Error::data naming the checkpoint otherwise).
  const TensorSlot& tensor(const std::string& name) const;
};

// Key/value pairs both formats carry: trainer_version and config_hash (16 hex digits).
std::vector<std::pair<std::string, std::string>> model_metadata(const ExportedModel& model);

// The serialized ONNX ModelProto (opset 17). input describes x; logits drops the output head.
std::string onnx_model_bytes(const ExportedModel& model, const InputSpec& input, bool logits);

// The safetensors file: 8-byte little-endian header length, JSON header (padded with spaces to
// a multiple of 8), then every tensor of `layout` as float32 little-endian, in layout order.
std::string safetensors_bytes(const ParamLayout& layout, std::span<const float> params,
                              const std::vector<std::pair<std::string, std::string>>& metadata);

// What `trainer predict` writes for this loss: "probabilities", "sigmoid" or "values".
const char* predict_output_kind(Loss loss);

}  // namespace trainer::export_detail
