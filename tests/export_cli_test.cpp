// trainer export on bad input: a missing, corrupt or truncated checkpoint exits 3 and writes
// nothing; an output that cannot be written exits 1 and leaves no partial file; an unknown
// --format exits 2 naming the valid ones.
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/export_support.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace trainer::test;

namespace {

const std::vector<std::string> kFormats{"onnx", "safetensors", "npy"};

// A checkpoint of a model with a 100 x 64 first layer (25 KiB of weights) and its data.
std::string make_checkpoint(const TempDir& dir) {
  const ExportData data = write_export_data(dir, "d", "<f4", {100}, 8, 2, 3);
  const json layers = json::array({{{"type", "dense"}, {"units", 64}, {"activation", "relu"}}, {{"type", "dense"}, {"units", 2}}});
  const std::string path = dir.file("run.ckpt");
  write_random_checkpoint(path, export_config(data, layers, "cross_entropy"), data.width, 1);
  return path;
}

std::string export_args(const std::string& checkpoint, const std::string& format, const std::string& output) {
  return "export --weights " + checkpoint + " --format " + format + " --output " + output;
}

std::vector<std::string> entries(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("export --help shows an example and the formats", "[export]") {
  const RunResult r = run_trainer("export --help");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("Example: trainer export --weights run.ckpt --format onnx --output model.onnx") &&
                        Catch::Contains("safetensors") && Catch::Contains("--logits"));
}

TEST_CASE("export from a missing, corrupt, truncated or foreign checkpoint exits 3 and writes nothing", "[export]") {
  TempDir dir;
  const std::string good = make_checkpoint(dir);
  const std::string bytes = read_text(good);
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x40);  // a weight's bit: the CRC catches it
  write_text(dir.file("corrupt.ckpt"), flipped);
  write_text(dir.file("truncated.ckpt"), bytes.substr(0, bytes.size() / 2));
  struct Case {
    std::string name, path, needle;
  };
  for (const Case& c : {Case{"missing", dir.file("nope.ckpt"), "nope.ckpt"}, Case{"corrupt", dir.file("corrupt.ckpt"), "corrupt.ckpt"},
                        Case{"truncated", dir.file("truncated.ckpt"), "truncated.ckpt"},
                        Case{"a .npy file", dir.file("d_x.npy"), "d_x.npy"}}) {
    for (const std::string& format : kFormats) {
      TempDir out;
      const RunResult r = run_trainer(export_args(c.path, format, out.file("model")));
      INFO(c.name << " --format " << format << ": " << r.out);
      CHECK(r.exit_code == 3);
      CHECK_THAT(r.out, Catch::Contains(c.needle));
      CHECK(entries(out.path()).empty());
    }
  }
}

TEST_CASE("export to an output that cannot be written exits 1 and leaves no partial file", "[export]") {
  TempDir dir;
  const std::string ckpt = make_checkpoint(dir);
  write_text(dir.file("plain"), "a file, not a folder");
  fs::create_directory(dir.file("folder"));
  for (const std::string& format : kFormats) {
    INFO("--format " << format);
    // Under a regular file: no folder can be there.
    RunResult r = run_trainer(export_args(ckpt, format, dir.file("plain/model")));
    INFO(r.out);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains(dir.file("plain/model")));
    CHECK(read_text(dir.file("plain")) == "a file, not a folder");
  }
  // An existing folder where a file should go.
  for (const char* format : {"onnx", "safetensors"}) {
    const RunResult r = run_trainer(export_args(ckpt, format, dir.file("folder")));
    INFO(format << ": " << r.out);
    CHECK(r.exit_code == 1);
    CHECK(entries(dir.file("folder")).empty());
    CHECK(entries(dir.path()).size() == 5);  // run.ckpt, d_x.npy, d_y.npy, plain, folder: no temporary file
    CHECK_THAT(r.out, Catch::Contains("is a folder"));
  }

  // A disk that fills up halfway through the file: a 16 KiB tmpfs for 25 KiB of weights.
  const fs::path small = dir.path() / "small";
  fs::create_directory(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=16k") != 0) {
    WARN("cannot mount a small tmpfs here (not root, or no CAP_SYS_ADMIN): the full-disk rows are skipped");
    return;
  }
  for (const std::string& format : kFormats) {
    const RunResult r = run_trainer(export_args(ckpt, format, (small / "model").string()));
    INFO(format << ": " << r.out);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains((small / "model").string()));
    // npy: the folder itself may remain, but no file in it, not even a temporary one.
    CHECK((format == "npy" ? entries(small / "model") : entries(small)).empty());
    fs::remove_all(small / "model");
  }
  ::umount(small.c_str());
}

TEST_CASE("export --format other than onnx, safetensors or npy exits 2 with the valid list, and --logits only with onnx",
          "[export]") {
  TempDir dir;
  const std::string ckpt = make_checkpoint(dir);
  const RunResult bad = run_trainer(export_args(ckpt, "tflite", dir.file("model.tflite")));
  INFO(bad.out);
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.out, Catch::Contains("--format") && Catch::Contains("tflite") &&
                          Catch::Contains("one of: onnx, safetensors, npy"));
  CHECK_FALSE(fs::exists(dir.file("model.tflite")));
  // The format is checked before the checkpoint is read.
  CHECK(run_trainer(export_args(dir.file("nope.ckpt"), "pt", dir.file("m"))).exit_code == 2);

  const RunResult logits = run_trainer(export_args(ckpt, "safetensors", dir.file("m.safetensors")) + " --logits");
  INFO(logits.out);
  CHECK(logits.exit_code == 2);
  CHECK_THAT(logits.out, Catch::Contains("--logits"));
  CHECK_FALSE(fs::exists(dir.file("m.safetensors")));
  CHECK(run_trainer("export --weights " + ckpt + " --output " + dir.file("m.onnx")).exit_code == 2);  // --format is required
}

TEST_CASE("export --format onnx of an image model exits 2 naming its first image layer, and writes nothing", "[export]") {
  TempDir dir;
  const ExportData data = write_export_data(dir, "img", "<f4", {4, 4, 2}, 6, 2, 2);
  const json config = export_config(data, json::array({{{"type", "conv2d"}, {"filters", 2}, {"kernel", 3}},
                                                 {{"type", "global_avg_pool"}},
                                                 {{"type", "dense"}, {"units", 2}}}),
                              "cross_entropy");
  write_random_checkpoint(dir.file("cnn.ckpt"), config, trainer::SampleShape::hwc(4, 4, 2), 3);
  const RunResult r = run_trainer(export_args(dir.file("cnn.ckpt"), "onnx", dir.file("cnn.onnx")));
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Catch::Contains("image models") && Catch::Contains("--format safetensors or npy"));
  CHECK_THAT(r.out, Catch::Contains("/model/layers/0") && Catch::Contains("conv2d"));
  CHECK_FALSE(fs::exists(dir.file("cnn.onnx")));
}
