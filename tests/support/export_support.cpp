#include "support/export_support.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>

#include "support/npy_test_reader_support.hpp"
#include "support/npy_writer.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"

namespace trainer::test {
namespace {

const std::string kScripts = std::string(TRAINER_SOURCE_DIR) + "/tests/export/";

// IEEE binary16 bits of v. REQUIRES: v is 0 or a normal half whose mantissa fits 10 bits
// (the test's values are small multiples of 0.5).
std::uint16_t half_bits(double v) {
  if (v == 0) return 0;
  const std::uint16_t sign = v < 0 ? 0x8000 : 0;
  const double a = std::fabs(v);
  const int e = static_cast<int>(std::floor(std::log2(a)));
  const auto mantissa = static_cast<std::uint16_t>(std::lround((a / std::ldexp(1.0, e) - 1.0) * 1024.0));
  return static_cast<std::uint16_t>(sign | ((e + 15) << 10) | mantissa);
}

// A value of the dtype kind ('b', 'u', 'i', 'f') and size, stored in `size` bytes at `out` in the
// given byte order.
void encode(char kind, int size, bool big_endian, std::mt19937_64& rng, unsigned char* out) {
  std::uint64_t bits = 0;
  std::uniform_int_distribution<int> small(-16, 16);
  if (kind == 'b') {
    bits = rng() % 2;
  } else if (kind == 'u') {
    bits = size == 1 ? rng() % 256 : rng() % 5000;
  } else if (kind == 'i') {
    const std::int64_t v = size == 1 ? static_cast<std::int64_t>(rng() % 256) - 128
                                     : static_cast<std::int64_t>(rng() % 10001) - 5000;
    bits = static_cast<std::uint64_t>(v);
  } else if (size == 2) {
    bits = half_bits(small(rng) * 0.5);
  } else if (size == 4) {
    const float f = std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng);
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    bits = u;
  } else {
    const double d = std::uniform_real_distribution<double>(-3.0, 3.0)(rng);
    std::memcpy(&bits, &d, 8);
  }
  for (int b = 0; b < size; ++b) {
    const int shift = 8 * (big_endian ? size - 1 - b : b);
    out[b] = static_cast<unsigned char>((bits >> shift) & 0xFF);
  }
}

}  // namespace

RunResult run_trainer(const std::string& args) { return run_command(std::string(TRAINER_BINARY) + " " + args); }

ExportData write_export_data(const TempDir& dir, const std::string& name, const std::string& descr,
                             const std::vector<std::int64_t>& sample_shape, std::int64_t rows, int classes,
                             std::uint64_t seed) {
  ExportData d;
  d.x = dir.file(name + "_x.npy");
  d.y = dir.file(name + "_y.npy");
  for (std::int64_t s : sample_shape) d.width *= s;
  const char kind = descr[1];
  const int size = descr[2] - '0';
  std::mt19937_64 rng(seed);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(rows * d.width * size));
  for (std::size_t i = 0; i < bytes.size(); i += static_cast<std::size_t>(size))
    encode(kind, size, descr[0] == '>', rng, bytes.data() + i);
  std::vector<std::int64_t> shape{rows};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  write_npy(d.x, descr, shape, bytes.data(), bytes.size());
  std::vector<std::int64_t> labels(static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i) % classes;
  write_npy(d.y, "<i8", {rows}, labels.data(), labels.size() * sizeof(std::int64_t));
  return d;
}

nlohmann::json export_config(const ExportData& data, const nlohmann::json& layers, const std::string& loss,
                             const nlohmann::json& extra_data) {
  nlohmann::json c = {{"data", {{"train", {{"x", data.x}, {"y", data.y}}}}},
                      {"model", {{"layers", layers}, {"loss", loss}}},
                      {"optimizer", {{"type", "adam"}, {"lr", 0.01}}},
                      {"training", {{"epochs", 2}, {"batch_size", 16}, {"seed", 7}, {"threads", 1}}},
                      {"memory", {{"ram", "none"}, {"verify", false}}}};
  c["data"].update(extra_data);
  return c;
}

void write_random_checkpoint(const std::string& path, const nlohmann::json& config_json, std::int64_t width,
                             std::uint64_t seed) {
  write_random_checkpoint(path, config_json, SampleShape::flat(width), seed);
}

void write_random_checkpoint(const std::string& path, const nlohmann::json& config_json, const SampleShape& input,
                             std::uint64_t seed) {
  const Config config = load_config_text(config_json.dump(), path, ".");
  const Network net(config.model, input);
  const std::int64_t width = input.size();
  std::mt19937_64 rng(seed);
  CheckpointData ck;
  ck.config_json = config.canonical_json;
  ck.config_hash = config_hash(config);
  ck.input_width = width;
  ck.input = net.input_shape();
  ck.seed = seed;
  ck.x_scale = static_cast<float>(config.data.x_scale);
  if (config.data.normalize == Normalize::standardize) {
    std::uniform_real_distribution<float> mean(-1.0f, 1.0f), inv_std(0.5f, 2.0f);
    for (std::int64_t j = 0; j < width; ++j) {
      ck.mean.push_back(mean(rng));
      ck.inv_std.push_back(inv_std(rng));
    }
  }
  ck.params.resize(static_cast<std::size_t>(net.layout().total));
  for (const TensorSlot& t : net.layout().tensors) {
    // Weights scaled by fan-in keep every layer's pre-activations around [-2, 2], where each
    // activation is neither flat nor linear.
    const double bound = t.shape.size() == 2 ? 1.7 / std::sqrt(static_cast<double>(t.shape[1])) : 0.5;
    std::uniform_real_distribution<float> value(static_cast<float>(-bound), static_cast<float>(bound));
    for (std::int64_t i = 0; i < t.count; ++i) ck.params[static_cast<std::size_t>(t.offset + i)] = value(rng);
  }
  write_checkpoint(path, {&ck, ck.params, ck.optimizer_state});
}

RunResult run_onnx_runtime(const std::vector<OnnxRun>& runs) {
  if (std::string(TRAINER_NODE).empty())
    return {127, "node not found when the build was configured (scripts/install-packages.sh --project)"};
  std::string command = std::string("NODE_PATH=") + TRAINER_ORT_MODULES + " " + TRAINER_NODE + " " + kScripts + "onnx_run.js";
  for (const OnnxRun& r : runs) command += " " + r.model + " " + r.input + " " + r.output;
  return run_command(command);
}

RunResult check_onnx(const std::vector<std::string>& models) {
  std::string args;
  for (const std::string& m : models) args += " " + m;
  return run_export_script("onnx_check.py", args);
}

RunResult run_export_script(const std::string& script, const std::string& args) {
  if (std::string(TRAINER_SYSTEM_PYTHON).empty())
    return {127, "/usr/bin/python3 not found when the build was configured (scripts/install-packages.sh --project)"};
  return run_command(std::string(TRAINER_SYSTEM_PYTHON) + " " + kScripts + script + " " + args);
}

std::vector<float> read_f32(const std::string& path, std::vector<std::int64_t>* shape) {
  const test_npy::Array a = test_npy::read(path);
  if (a.descr != "<f4") throw std::runtime_error(path + ": " + a.descr + ", not <f4");
  if (shape != nullptr) *shape = a.shape;
  return a.as_float();
}

double worst_excess(const std::vector<float>& a, const std::vector<float>& b, double tol) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double allowed = tol * std::max(1.0, std::fabs(static_cast<double>(b[i])));
    const double diff = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!(diff <= allowed)) worst = std::max(worst, std::isnan(diff) ? INFINITY : diff - allowed);
  }
  return worst;
}

std::string hash_hex(std::uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace trainer::test
