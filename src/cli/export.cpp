// trainer export: the trained model of a checkpoint as ONNX, safetensors or .npy files.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "trainer/export/model_export.hpp"
#include "trainer/log.hpp"

namespace trainer::cli {
namespace {

struct ExportFlags {
  std::string weights, format, output;
  bool logits = false;
};

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[N";
  for (std::int64_t d : shape) s += ", " + std::to_string(d);
  return s + "]";
}

}  // namespace

void add_export(CLI::App& app, Globals& g, Action& action) {
  auto f = std::make_shared<ExportFlags>();
  auto* sub = app.add_subcommand("export", "The trained model for other runtimes: ONNX, safetensors or .npy");
  add_common_flags(*sub, g, kConfigFlag | kOutputFlags);
  sub->footer(
      "Example: trainer export --weights run.ckpt --format onnx --output model.onnx\n"
      "onnx: opset 17; input x as stored in the training .npy (its dtype and per-sample shape, any batch),\n"
      "  x_scale and standardisation inside the graph; output y as trainer predict writes it\n"
      "  (probabilities, sigmoid or values), or the last layer's logits with --logits. Give the run's\n"
      "  --config so that x takes the training data's dtype and shape (else float32 rows if the\n"
      "  checkpoint names its data by a relative path). ONNX export covers dense and dropout layers;\n"
      "  image models export as safetensors or npy.\n"
      "safetensors: the same tensors under the same names as npy. npy: a folder of\n"
      "  dense<i>.weight.npy [out, in] and dense<i>.bias.npy [out] (as fit --export-weights).");
  sub->add_option("--weights", f->weights, "Checkpoint written by trainer fit --checkpoint")->required();
  sub->add_option("--format", f->format, "onnx, safetensors or npy")->required();
  sub->add_option("--output", f->output, "File to write (onnx, safetensors) or folder (npy)")->required();
  sub->add_flag("--logits", f->logits, "onnx: output the last layer's values before softmax/sigmoid");
  sub->callback([&action, &g, f] {
    action = [&g, f] {
      ExportOptions options;
      options.format = parse_export_format(f->format, "--format");
      options.logits = f->logits;
      options.config = g.config;
      const ExportSummary s = export_model(f->weights, f->output, options);
      if (g.json) {
        nlohmann::json out{{"output", s.output}, {"format", to_string(s.format)}, {"tensors", s.tensors},
                           {"outputs", s.outputs}};
        if (s.format == ExportFormat::onnx) {
          out["input"] = {{"name", "x"}, {"dtype", s.input_dtype}, {"shape", s.input_shape}};
          out["output_kind"] = s.output_kind;
        }
        std::cout << out.dump() << std::endl;
      } else if (s.format == ExportFormat::onnx) {
        log::info("wrote " + s.output + ": ONNX opset 17, x " + s.input_dtype + " " + shape_text(s.input_shape) +
                  " -> y " + s.output_kind + " [N, " + std::to_string(s.outputs) + "]");
      } else {
        log::info("wrote " + s.output + ": " + std::to_string(s.tensors) + " tensors (" + to_string(s.format) + ")");
      }
      return 0;
    };
  });
}

}  // namespace trainer::cli
