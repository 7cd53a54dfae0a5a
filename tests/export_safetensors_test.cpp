// trainer export --format safetensors, read back by an independent reader (Python's json and
// numpy on the raw bytes, tests/export/safetensors_read.py): the format's rules hold, and every
// tensor equals the .npy export's bit for bit, under the same name.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/export_support.hpp"
#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"

using nlohmann::json;
using namespace trainer::test;

namespace {

// Exports `ckpt` as model.safetensors and model.npy/ in `dir`, checks the first against the
// second with the independent reader, and returns the metadata it printed.
json export_and_read_back(const TempDir& dir, const std::string& ckpt) {
  for (const char* format : {"safetensors", "npy"}) {
    const RunResult r = run_trainer("export --quiet --weights " + ckpt + " --format " + format + " --output " +
                                    dir.file(std::string("model.") + format));
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
  }
  const RunResult read = run_export_script("safetensors_read.py", dir.file("model.safetensors") + " " + dir.file("model.npy"));
  INFO(read.out);
  REQUIRE(read.exit_code == 0);
  return json::parse(read.out);
}

}  // namespace

TEST_CASE("safetensors export holds the .npy export's tensors bit for bit, with the version and config hash", "[export]") {
  TempDir dir;
  const ExportData data = write_export_data(dir, "d", "|u1", {3, 5}, 10, 4, 8);
  // Widths chosen so that tensor sizes are not all multiples of 8 bytes (a 7-float bias).
  const json layers = json::array({{{"type", "dense"}, {"units", 7}, {"activation", "gelu"}},
                                   {{"type", "dropout"}, {"rate", 0.1}},
                                   {{"type", "dense"}, {"units", 5}, {"activation", "tanh"}},
                                   {{"type", "dense"}, {"units", 4}}});
  const std::string ckpt = dir.file("run.ckpt");
  write_random_checkpoint(ckpt, export_config(data, layers, "cross_entropy", {{"normalize", "standardize"}}), data.width, 4);
  const json metadata = export_and_read_back(dir, ckpt);
  CHECK(metadata == json{{"trainer_version", TRAINER_VERSION},
                         {"config_hash", hash_hex(trainer::read_checkpoint(ckpt).config_hash)}});
}

TEST_CASE("safetensors export of an image model holds the conv and batch-norm tensors, running statistics included",
          "[export]") {
  TempDir dir;
  const ExportData data = write_export_data(dir, "img", "|u1", {4, 4, 1}, 6, 3, 2);
  const json layers = json::array({{{"type", "conv2d"}, {"filters", 3}, {"kernel", 3}, {"padding", "same"}, {"bias", false}},
                                   {{"type", "batch_norm"}, {"activation", "relu"}},
                                   {{"type", "flatten"}},
                                   {{"type", "dense"}, {"units", 3}}});
  const std::string ckpt = dir.file("run.ckpt");
  write_random_checkpoint(ckpt, export_config(data, layers, "cross_entropy"), trainer::SampleShape::hwc(4, 4, 1), 5);
  export_and_read_back(dir, ckpt);
  const std::string file = read_text(dir.file("model.safetensors"));
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | static_cast<unsigned char>(file[static_cast<std::size_t>(i)]);
  const std::string header = file.substr(8, header_size);
  for (const char* name : {"conv0.weight", "bn0.weight", "bn0.bias", "bn0.running_mean", "bn0.running_var", "dense0.weight"})
    CHECK_THAT(header, Catch::Contains(std::string("\"") + name + "\""));
  CHECK_THAT(header, !Catch::Contains("conv0.bias"));
}
