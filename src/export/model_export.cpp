// trainer export: reads the checkpoint, its config and the parameter layout, then hands the
// model to one format's writer and puts the result in place atomically.
#include "trainer/export/model_export.hpp"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "exported_model.hpp"
#include "trainer/atomic_file.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/error.hpp"
#include "trainer/log.hpp"
#include "trainer/npy_writer.hpp"
#include "trainer/weights_io.hpp"

namespace trainer {
namespace export_detail {

const TensorSlot& ExportedModel::tensor(const std::string& name) const {
  for (const TensorSlot& t : layout.tensors)
    if (t.name == name) return t;
  throw Error::data(source, "the model has no tensor " + name, "a checkpoint written by trainer fit");
}

std::vector<std::pair<std::string, std::string>> model_metadata(const ExportedModel& model) {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(model.checkpoint.config_hash));
  return {{"trainer_version", TRAINER_VERSION}, {"config_hash", hash}};
}

const char* predict_output_kind(Loss loss) {
  switch (loss) {
    case Loss::cross_entropy: return "probabilities";
    case Loss::binary_cross_entropy: return "sigmoid";
    case Loss::mse: break;
  }
  return "values";
}

namespace {

ExportedModel load_model(const std::string& path) {
  ExportedModel m;
  m.source = path;
  m.checkpoint = read_checkpoint(path);
  // The checkpoint carries its config, as for predict; paths in it are absolute.
  m.config = load_config_text(m.checkpoint.config_json, path, ".");
  const Network net(m.config.model, m.checkpoint.input);
  if (static_cast<std::size_t>(net.layout().total) != m.checkpoint.params.size())
    throw Error::data(path, "checkpoint does not match its own model config", "a checkpoint written by trainer fit");
  m.layout = net.layout();
  m.layers = net.layers();
  m.outputs = net.outputs();
  return m;
}

// The --config given to export, refused when the checkpoint was not made by a run of it.
Config run_config(const ExportedModel& m, const std::string& config_path) {
  Config c = load_config_file(config_path);
  if (config_hash(c) != m.checkpoint.config_hash)
    throw Error::data(m.source, "checkpoint was made with a different model or optimizer config",
                      "a checkpoint written by a run of " + config_path);
  return c;
}

// Where the training x file is: the --config it was trained with, else the checkpoint's own
// config when its path is absolute. Relative paths in a checkpoint are relative to a config
// folder the checkpoint does not record.
std::string training_x_path(const ExportedModel& m, const std::string& config_path) {
  if (!config_path.empty()) return run_config(m, config_path).data.train.x;
  // m.config resolved relative paths against ".": the canonical text has them as written.
  const auto written = nlohmann::json::parse(m.checkpoint.config_json).at("data").at("train").at("x").get<std::string>();
  return std::filesystem::path(written).is_absolute() ? written : std::string();
}

// How samples are stored: as the checkpoint recorded it (version 3), else as the training x file
// says. Without either the input is float32 [N, width]: the graph then computes the same outputs
// from the same values cast to float32 (the trainer's own first step), only x's declared type
// differs.
InputSpec describe_input(const ExportedModel& m, const std::string& config_path) {
  const CheckpointData& ck = m.checkpoint;
  if (!ck.x_dtype.empty()) {
    if (!config_path.empty()) run_config(m, config_path);  // a --config of another run is still an error
    InputSpec recorded{DType::f4, ck.x_sample_shape};
    npy_format::dtype_of_descr(ck.x_dtype, recorded.dtype);  // read_checkpoint refused unknown ones
    return recorded;
  }
  const std::int64_t width = ck.input_width;
  const InputSpec flat{DType::f4, {width}};
  const std::string fallback = "; the ONNX input x is float32 [N, " + std::to_string(width) + "]";
  const std::string path = training_x_path(m, config_path);
  if (path.empty()) {
    log::warn("export: the checkpoint names its training inputs by a relative path" + fallback +
              " (add --config RUN.json to take x's dtype and shape from the training data)");
    return flat;
  }
  // Named by --config, a file that does not fit is a data error; found by the checkpoint alone,
  // it is a guess that did not work out.
  const auto unusable = [&](const Error& e) {
    if (!config_path.empty()) throw e;
    log::warn("export: cannot take x's dtype and shape from the training inputs (" + std::string(e.what()) + ")" +
              fallback);
    return flat;
  };
  std::optional<NpyArray> x;
  try {
    x.emplace(NpyArray::open(path));
  } catch (const Error& e) {
    return unusable(e);
  }
  if (x->header().shape.empty() || x->row_width() != width)
    return unusable(Error::data(path, "does not hold samples of " + std::to_string(width) + " values",
                                "the training inputs the checkpoint was made from"));
  if (m.checkpoint.input.image) {  // the same values per sample could be other images
    try {
      const SampleShape stored = sample_shape_of(*x, m.config.data, m.config.model);
      if (stored != m.checkpoint.input)
        throw Error::data(path, "holds images of " + stored.text() + " (CxHxW)", "the model's " + m.checkpoint.input.text());
    } catch (const Error& e) {
      return unusable(e);
    }
  }
  return {x->header().dtype, {x->header().shape.begin() + 1, x->header().shape.end()}};
}

}  // namespace
}  // namespace export_detail

ExportFormat parse_export_format(const std::string& text, const std::string& flag) {
  if (text == "onnx") return ExportFormat::onnx;
  if (text == "safetensors") return ExportFormat::safetensors;
  if (text == "npy") return ExportFormat::npy;
  throw Error::usage(flag, "unknown export format '" + text + "'", "one of: onnx, safetensors, npy");
}

const char* to_string(ExportFormat format) {
  switch (format) {
    case ExportFormat::onnx: return "onnx";
    case ExportFormat::safetensors: return "safetensors";
    case ExportFormat::npy: break;
  }
  return "npy";
}

ExportSummary export_model(const std::string& checkpoint, const std::string& output, const ExportOptions& options) {
  using namespace export_detail;
  if (options.logits && options.format != ExportFormat::onnx)
    throw Error::usage("--logits", "only applies to --format onnx", "--format onnx, or no --logits");
  const ExportedModel m = load_model(checkpoint);
  std::error_code ec;
  if (options.format != ExportFormat::npy && std::filesystem::is_directory(output, ec))
    throw Error::runtime(output, "is a folder", std::string("a file path for --format ") + to_string(options.format));
  ExportSummary s;
  s.output = output;
  s.format = options.format;
  s.tensors = static_cast<std::int64_t>(m.layout.tensors.size());
  s.outputs = m.outputs;
  switch (options.format) {
    case ExportFormat::onnx: {
      const InputSpec input = describe_input(m, options.config);
      write_file_atomically(output, onnx_model_bytes(m, input, options.logits));
      s.input_dtype = npy_format::descr(input.dtype);  // little-endian, as ONNX Runtime takes it
      s.input_shape = input.sample_shape;
      s.output_kind = options.logits ? "logits" : predict_output_kind(m.config.model.loss);
      break;
    }
    case ExportFormat::safetensors:
      write_file_atomically(output, safetensors_bytes(m.layout, m.params(), model_metadata(m)));
      break;
    case ExportFormat::npy:
      // The --export-weights layout; each file appears whole (write_npy renames it into place).
      export_weights(output, m.layout, m.params());
      break;
  }
  return s;
}

}  // namespace trainer
