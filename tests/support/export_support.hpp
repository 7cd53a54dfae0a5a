// Test helpers for `trainer export`: small data sets in any dtype, checkpoints made in-process
// (random weights and statistics, so no training is needed), and the outside tools the export
// tests hold the files to: ONNX Runtime (node + onnxruntime-node), onnx.checker and a safetensors
// reader (Debian's python3 with python3-onnx and numpy).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "trainer/sample_shape.hpp"

namespace trainer::test {

// The built trainer binary with these arguments (stdout and stderr together).
RunResult run_trainer(const std::string& args);

// A data set of `rows` samples of `sample_shape` stored as `descr` ("|u1", ">f8", "<f2", ...),
// with values from a seeded generator that fit the dtype, and class ids 0..classes-1 as y.
struct ExportData {
  std::string x, y;
  std::int64_t width = 1;  // values per sample
};
ExportData write_export_data(const TempDir& dir, const std::string& name, const std::string& descr,
                             const std::vector<std::int64_t>& sample_shape, std::int64_t rows, int classes,
                             std::uint64_t seed);

// A config for `data` with the given layers and loss; absolute data paths, no budget or trial,
// so commands on it start fast. `extra_data` is merged into /data (x_scale, normalize, ...).
nlohmann::json export_config(const ExportData& data, const nlohmann::json& layers, const std::string& loss,
                             const nlohmann::json& extra_data = nlohmann::json::object());

// Writes a checkpoint as `trainer fit` would for `config`: random parameters, and when
// /data/normalize is standardize random per-feature mean and inv_std (seeded).
void write_random_checkpoint(const std::string& path, const nlohmann::json& config, std::int64_t width,
                             std::uint64_t seed);
// The same for an image model whose samples are h x w x c.
void write_random_checkpoint(const std::string& path, const nlohmann::json& config, const SampleShape& input,
                             std::uint64_t seed);

// Runs every (model, input .npy, output .npy) triple in one ONNX Runtime process.
struct OnnxRun {
  std::string model, input, output;
};
RunResult run_onnx_runtime(const std::vector<OnnxRun>& runs);

// onnx.checker.check_model(full_check=True) on every file (one python process).
RunResult check_onnx(const std::vector<std::string>& models);

// Debian's python3 running tests/export/<script> with the given arguments.
RunResult run_export_script(const std::string& script, const std::string& args);

// A float32 .npy of any shape, read with the test-only reader.
std::vector<float> read_f32(const std::string& path, std::vector<std::int64_t>* shape = nullptr);

// Largest violation of |a - b| <= tol * max(1, |b|) (relative, or absolute below 1); 0 if none.
// Sizes that differ count as infinitely bad.
double worst_excess(const std::vector<float>& a, const std::vector<float>& b, double tol);

// "287ef1b6b2739cf1": how export names a config hash.
std::string hash_hex(std::uint64_t hash);

}  // namespace trainer::test
