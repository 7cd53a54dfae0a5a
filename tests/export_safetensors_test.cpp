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
  for (const char* format : {"safetensors", "npy"}) {
    const RunResult r = run_trainer("export --quiet --weights " + ckpt + " --format " + format + " --output " +
                                    dir.file(std::string("model.") + format));
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
  }
  const RunResult read = run_export_script("safetensors_read.py", dir.file("model.safetensors") + " " + dir.file("model.npy"));
  INFO(read.out);
  REQUIRE(read.exit_code == 0);
  const json metadata = json::parse(read.out);
  CHECK(metadata == json{{"trainer_version", TRAINER_VERSION},
                         {"config_hash", hash_hex(trainer::read_checkpoint(ckpt).config_hash)}});
}
