// trainer export: a checkpoint's model in a format other runtimes load (DESIGN.md "Outputs").
//
//   onnx         opset 17; input `x` as stored in the training .npy (dtype, per-sample shape,
//                free batch dimension); x_scale and standardisation inside the graph; output `y`
//                as `trainer predict` writes it, or the last layer's logits.
//   safetensors  the parameters under the names of the .npy export, float32 little-endian,
//                with the trainer version and config hash in __metadata__.
//   npy          the --export-weights folder (dense<i>.weight.npy, dense<i>.bias.npy).
//
// Files appear whole or not at all (written beside the target, then renamed). Thread-safety:
// none needed; each call is independent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trainer {

enum class ExportFormat { onnx, safetensors, npy };

// "onnx", "safetensors" or "npy"; anything else is Error::usage naming `flag` and the valid list.
ExportFormat parse_export_format(const std::string& text, const std::string& flag);
const char* to_string(ExportFormat format);

struct ExportOptions {
  ExportFormat format = ExportFormat::onnx;
  bool logits = false;  // onnx only: y is the last layer's output before softmax/sigmoid
  // onnx only, optional: the config the checkpoint was trained with, whose training x file gives
  // the input's dtype and per-sample shape. Without it, the checkpoint's config is used when it
  // names that file by an absolute path; otherwise x is float32 [N, width] (with a warning).
  std::string config;
};

// What was written, for the command's log line and --json output.
struct ExportSummary {
  std::string output;
  ExportFormat format = ExportFormat::onnx;
  std::int64_t tensors = 0;            // parameter tensors written
  std::string input_dtype;             // onnx: NumPy's dtype string of x ("|u1", "<f8"); else empty
  std::vector<std::int64_t> input_shape;  // onnx: per-sample shape of x (without the batch dimension)
  std::string output_kind;             // onnx: probabilities, sigmoid, values or logits
  std::int64_t outputs = 0;            // values per sample in y
};

// Reads `checkpoint` and writes the model to `output` (a file, or a folder for npy).
// Throws Error::data (exit 3) naming the checkpoint if it is missing, corrupt or truncated, before
// anything is written; Error::runtime (exit 1) naming `output` if it cannot be written, leaving
// no partial file; Error::usage for --logits with a format other than onnx.
ExportSummary export_model(const std::string& checkpoint, const std::string& output, const ExportOptions& options);

}  // namespace trainer
