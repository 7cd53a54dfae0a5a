// The bad-input matrix: every way a user or a script can hand trainer something wrong, run on
// the built binary, checking the exit code of DESIGN.md and that the message names the file,
// the JSON pointer or the flag, and what would be valid.
//
// With TRAINER_ERRORS_MD=FILE set, every row appends "| input | exit | message |" to FILE:
// that is how docs/errors.md shows the messages as actually printed.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"

using nlohmann::json;
using trainer::test::read_text;
using trainer::test::run_command;
using trainer::test::RunResult;
using trainer::test::TempDir;
using trainer::test::write_text;
namespace fs = std::filesystem;

namespace {

const std::string kBin = TRAINER_BINARY;
const std::string kFixtures = fs::path(TRAINER_FIXTURES_DIR).lexically_normal().string();

// One row of docs/errors.md, with the temporary folder replaced by $TMP.
void record(const std::string& input, const RunResult& r, const std::string& tmp) {
  const char* doc = std::getenv("TRAINER_ERRORS_MD");
  if (doc == nullptr) return;
  std::string msg;
  std::string line;
  std::istringstream in(r.out);
  std::string first;
  while (std::getline(in, line)) {
    if (line.rfind("trainer: ", 0) == 0) msg = line;  // the error line, not the logs before it
    if (first.empty()) first = line;
  }
  if (msg.empty()) msg = first;  // command-line parser errors (CLI11) have no prefix
  for (std::size_t p; (p = msg.find(tmp)) != std::string::npos;) msg.replace(p, tmp.size(), "$TMP");
  for (std::size_t p = 0; (p = msg.find('|', p)) != std::string::npos; p += 2) msg.replace(p, 1, "\\|");
  std::ofstream(doc, std::ios::app) << "| " << input << " | " << r.exit_code << " | `" << msg << "` |\n";
}

// A small, valid classification run: 60 samples of 4 features, 3 classes.
struct Workspace {
  TempDir tmp;
  std::string x = tmp.file("x.npy");
  std::string y = tmp.file("y.npy");
  std::string config = tmp.file("run.json");
  json cfg;

  Workspace() {
    std::vector<float> xs(60 * 4);
    std::vector<std::int64_t> ys(60);
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>((i * 37) % 11) / 11.0f - 0.5f;
    for (std::size_t i = 0; i < ys.size(); ++i) ys[i] = static_cast<std::int64_t>(i % 3);
    write_x(xs);
    trainer::test::write_npy(y, "<i8", {60}, ys.data(), ys.size() * sizeof(std::int64_t));
    cfg = {{"data", {{"train", {{"x", x}, {"y", y}}}, {"validation_split", 0.2}}},
           {"model",
            {{"layers", json::array({{{"type", "dense"}, {"units", 8}, {"activation", "relu"}},
                                     {{"type", "dense"}, {"units", 3}}})},
             {"loss", "cross_entropy"}}},
           {"optimizer", {{"type", "sgd"}, {"lr", 0.1}}},
           {"training", {{"epochs", 2}, {"batch_size", 16}, {"seed", 1}}},
           {"memory", {{"verify", false}}}};
    save();
  }
  void write_x(const std::vector<float>& xs) {
    trainer::test::write_npy(x, "<f4", {static_cast<std::int64_t>(xs.size() / 4), 4}, xs.data(),
                             xs.size() * sizeof(float));
  }
  void save() const { write_text(config, cfg.dump(2)); }
  // Runs `trainer ARGS`, records the row for docs/errors.md and returns the result.
  RunResult run(const std::string& input, const std::string& args) const {
    // timeout: a hang (e.g. open() of a FIFO waiting for a writer) fails the row with 124.
    RunResult r = run_command("timeout -k 5 60 " + kBin + " " + args + " < /dev/null");
    record(input, r, tmp.path().string());
    return r;
  }
  std::string fit_args() const { return "fit --config " + config + " --quiet"; }
};

void expect(const RunResult& r, int code, const std::vector<std::string>& needles) {
  INFO("output: " << r.out);
  CHECK(r.exit_code == code);
  for (const auto& n : needles) CHECK_THAT(r.out, Catch::Contains(n));
}

bool is_root() { return ::geteuid() == 0; }

// The files a failed run must not leave behind in `dir`.
void expect_no_outputs(const fs::path& dir) {
  for (const char* name : {"m.jsonl", "run.ckpt", "run.ckpt.tmp", "w", "p.npy", "p.npy.tmp"}) {
    INFO(name);
    CHECK_FALSE(fs::exists(dir / name));
  }
}

// A folder nobody may write to, even root: a read-only tmpfs when root (permissions do not
// stop root), mode 0555 otherwise. unusable() says why when neither works here.
class ReadOnlyDir {
 public:
  explicit ReadOnlyDir(const fs::path& p) : path_(p) {
    fs::create_directories(p);
    if (is_root()) {
      mounted_ = ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, "size=16k") == 0;
      if (!mounted_) why_ = "running as root and cannot mount a read-only tmpfs (no CAP_SYS_ADMIN?)";
    } else {
      fs::permissions(p, fs::perms::owner_read | fs::perms::owner_exec);
    }
  }
  ~ReadOnlyDir() {
    if (mounted_) ::umount(path_.c_str());
  }
  const std::string& unusable() const { return why_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  bool mounted_ = false;
  std::string why_;
};

// Trains the workspace's config once with a checkpoint and returns its path.
std::string trained_checkpoint(const Workspace& w) {
  const std::string ckpt = w.tmp.file("good.ckpt");
  auto r = run_command(kBin + " " + w.fit_args() + " --checkpoint " + ckpt);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  return ckpt;
}

void flip_byte(const std::string& path, std::uint64_t at) {
  std::string bytes = read_text(path);
  REQUIRE(at < bytes.size());
  bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
  write_text(path, bytes);
}

}  // namespace

// ---- the config file ------------------------------------------------------------------------

TEST_CASE("matrix: malformed JSON names the config file and line:column", "[errors]") {
  Workspace w;
  write_text(w.config, "{\n  \"data\": {\n    \"train\": ,\n  }\n}\n");
  auto r = w.run("config with a syntax error on line 3", w.fit_args());
  expect(r, 2, {w.config + ":3:"});
}

TEST_CASE("matrix: a wrong type names the JSON pointer and the expected type", "[errors]") {
  Workspace w;
  w.cfg["optimizer"]["lr"] = "fast";
  w.save();
  auto r = w.run("`\"lr\": \"fast\"`", w.fit_args());
  expect(r, 2, {w.config, "/optimizer/lr", "number"});
}

TEST_CASE("matrix: layers given as an object name /model/layers", "[errors]") {
  Workspace w;
  w.cfg["model"]["layers"] = {{"type", "dense"}, {"units", 3}};
  w.save();
  auto r = w.run("`\"layers\": {...}` (not a list)", w.fit_args());
  expect(r, 2, {"/model/layers"});
}

TEST_CASE("matrix: an unknown top-level key is named with the nearest valid one", "[errors]") {
  Workspace w;
  w.cfg["optimiser"] = w.cfg["optimizer"];
  w.cfg.erase("optimizer");
  w.save();
  auto r = w.run("`\"optimiser\"` (typo)", w.fit_args());
  expect(r, 2, {"/optimiser", "optimizer"});
}

TEST_CASE("matrix: an unknown nested key is named with the nearest valid one", "[errors]") {
  Workspace w;
  w.cfg["training"]["batchsize"] = 16;
  w.save();
  auto r = w.run("`/training/batchsize` (typo)", w.fit_args());
  expect(r, 2, {"/training/batchsize", "batch_size"});
}

TEST_CASE("matrix: a negative learning rate names /optimizer/lr", "[errors]") {
  Workspace w;
  w.cfg["optimizer"]["lr"] = -1;
  w.save();
  auto r = w.run("`\"lr\": -1`", w.fit_args());
  expect(r, 2, {"/optimizer/lr"});
}

TEST_CASE("matrix: validation_split outside 0 to 1 names its pointer", "[errors]") {
  Workspace w;
  w.cfg["data"]["validation_split"] = 1.5;
  w.save();
  auto r = w.run("`\"validation_split\": 1.5`", w.fit_args());
  expect(r, 2, {"/data/validation_split"});
}

TEST_CASE("matrix: zero epochs names /training/epochs", "[errors]") {
  Workspace w;
  w.cfg["training"]["epochs"] = 0;
  w.save();
  auto r = w.run("`\"epochs\": 0`", w.fit_args());
  expect(r, 2, {"/training/epochs"});
}

TEST_CASE("matrix: a layer of zero units names its pointer", "[errors]") {
  Workspace w;
  w.cfg["model"]["layers"][0]["units"] = 0;
  w.save();
  auto r = w.run("`\"units\": 0`", w.fit_args());
  expect(r, 2, {"/model/layers/0/units"});
}

TEST_CASE("matrix: a missing config file exits 2 naming it", "[errors]") {
  Workspace w;
  const std::string missing = w.tmp.file("nope.json");
  auto r = w.run("`--config` of a missing file", "fit --config " + missing);
  expect(r, 2, {missing, "not found"});
}

TEST_CASE("matrix: a config that is a folder exits 2 naming it", "[errors]") {
  Workspace w;
  auto r = w.run("`--config` of a folder", "fit --config " + w.tmp.path().string());
  expect(r, 2, {w.tmp.path().string(), "folder"});
}

TEST_CASE("matrix: an empty config file exits 2 naming it", "[errors]") {
  Workspace w;
  write_text(w.config, "");
  auto r = w.run("`--config` of an empty file", w.fit_args());
  expect(r, 2, {w.config});
}

TEST_CASE("matrix: a config that is a FIFO is refused at once instead of blocking", "[errors]") {
  Workspace w;
  const std::string fifo = w.tmp.file("run.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Before the fix, open() waited for a writer: the row timed out with 124.
  auto r = w.run("`--config` of a FIFO", "fit --config " + fifo);
  expect(r, 2, {fifo, "not a regular file"});
}

TEST_CASE("matrix: an unreadable config exits 2 naming it", "[errors]") {
  Workspace w;
  if (is_root()) {
    WARN("skipped: running as root, where file permissions do not stop reads");
    return;
  }
  fs::permissions(w.config, fs::perms::none);
  auto r = w.run("`--config` without read permission", w.fit_args());
  expect(r, 2, {w.config});
}

// ---- data files -----------------------------------------------------------------------------

TEST_CASE("matrix: a missing training x exits 3 naming the file", "[errors]") {
  Workspace w;
  fs::remove(w.x);
  auto r = w.run("`/data/train/x` missing", w.fit_args());
  expect(r, 3, {w.x});
}

TEST_CASE("matrix: a missing training y exits 3 naming the file", "[errors]") {
  Workspace w;
  fs::remove(w.y);
  auto r = w.run("`/data/train/y` missing", w.fit_args());
  expect(r, 3, {w.y});
}

TEST_CASE("matrix: a training x that is a folder exits 3 naming it", "[errors]") {
  Workspace w;
  fs::remove(w.x);
  fs::create_directory(w.x);
  auto r = w.run("`/data/train/x` is a folder", w.fit_args());
  expect(r, 3, {w.x, "directory"});
}

TEST_CASE("matrix: an empty training x exits 3 naming it", "[errors]") {
  Workspace w;
  write_text(w.x, "");
  auto r = w.run("`/data/train/x` is an empty file", w.fit_args());
  expect(r, 3, {w.x});
}

TEST_CASE("matrix: a training x that is a FIFO is refused at once instead of blocking", "[errors]") {
  Workspace w;
  fs::remove(w.x);
  REQUIRE(::mkfifo(w.x.c_str(), 0600) == 0);
  auto r = w.run("`/data/train/x` is a FIFO", "validate --config " + w.config);
  expect(r, 3, {w.x, "not a regular file"});
}

TEST_CASE("matrix: an unreadable training x exits 3 naming it", "[errors]") {
  Workspace w;
  if (is_root()) {
    WARN("skipped: running as root, where file permissions do not stop reads");
    return;
  }
  fs::permissions(w.x, fs::perms::none);
  auto r = w.run("`/data/train/x` without read permission", w.fit_args());
  expect(r, 3, {w.x, "Permission denied"});
}

TEST_CASE("matrix: x and y of different lengths exit 3 naming both files", "[errors]") {
  Workspace w;
  w.write_x(std::vector<float>(59 * 4, 0.25f));
  auto r = w.run("x of 59 rows, y of 60", w.fit_args());
  expect(r, 3, {w.x, w.y, "59", "60"});
}

TEST_CASE("matrix: a label equal to the class count exits 3 naming y and the valid range", "[errors]") {
  Workspace w;
  std::vector<std::int64_t> ys(60, 1);
  ys[17] = 3;
  trainer::test::write_npy(w.y, "<i8", {60}, ys.data(), ys.size() * sizeof(std::int64_t));
  auto r = w.run("label 3 with 3 output units", w.fit_args());
  expect(r, 3, {w.y, "[0, 3)"});
}

TEST_CASE("matrix: a negative label exits 3 naming y", "[errors]") {
  Workspace w;
  std::vector<std::int64_t> ys(60, 1);
  ys[5] = -1;
  trainer::test::write_npy(w.y, "<i8", {60}, ys.data(), ys.size() * sizeof(std::int64_t));
  auto r = w.run("label -1", w.fit_args());
  expect(r, 3, {w.y, "[0, 3)"});
}

TEST_CASE("matrix: a NaN input exits 3 naming x, the row and the column", "[errors]") {
  Workspace w;
  std::vector<float> xs(60 * 4, 0.5f);
  xs[10 * 4 + 2] = std::numeric_limits<float>::quiet_NaN();
  w.write_x(xs);
  auto r = w.run("NaN in x (row 10, column 2)", w.fit_args());
  expect(r, 3, {w.x, "NaN", "row 10", "column 2", "finite"});
}

TEST_CASE("matrix: an infinite input exits 3 naming x", "[errors]") {
  Workspace w;
  std::vector<float> xs(60 * 4, 0.5f);
  xs[3] = -std::numeric_limits<float>::infinity();
  w.write_x(xs);
  auto r = w.run("-Inf in x", w.fit_args());
  expect(r, 3, {w.x, "infinite", "finite"});
}

TEST_CASE("matrix: a NaN weight in /model/init_from exits 3 naming the file, the row and the column", "[errors]") {
  Workspace w;
  const std::string dir = w.tmp.file("init");
  fs::create_directories(dir);
  auto write = [&](const std::string& name, std::vector<std::int64_t> shape, float nan_at = -1) {
    std::int64_t count = 1;
    for (std::int64_t s : shape) count *= s;
    std::vector<float> v(static_cast<std::size_t>(count), 0.25f);
    if (nan_at >= 0) v[static_cast<std::size_t>(nan_at)] = std::numeric_limits<float>::quiet_NaN();
    trainer::test::write_npy(dir + "/" + name, "<f4", shape, v.data(), v.size() * sizeof(float));
  };
  write("dense0.weight.npy", {8, 4});
  write("dense0.bias.npy", {8});
  write("dense1.weight.npy", {3, 8}, 2 * 8 + 5);
  write("dense1.bias.npy", {3});
  w.cfg["model"]["init_from"] = dir;
  w.save();
  auto r = w.run("NaN in an init_from weight (row 2, column 5)",
                 w.fit_args() + " --metrics " + w.tmp.file("m.jsonl") + " --checkpoint " + w.tmp.file("run.ckpt"));
  expect(r, 3, {dir + "/dense1.weight.npy", "NaN weight", "row 2, column 5", "finite values"});
  expect_no_outputs(w.tmp.path());
}

TEST_CASE("matrix: every malformed .npy fixture used as training x exits 3 naming the file", "[errors]") {
  const json manifest = json::parse(read_text(kFixtures + "/npy/manifest.json"));
  int rows = 0;
  for (const auto& c : manifest.at("cases")) {
    if (c.at("expect") != "error") continue;
    ++rows;
    const std::string file = c.at("file").get<std::string>();
    DYNAMIC_SECTION(file) {
      Workspace w;
      const std::string bad = kFixtures + "/npy/" + file;
      w.cfg["data"]["train"]["x"] = bad;
      w.save();
      auto r = w.run("`/data/train/x` = fixture `" + file + "`", w.fit_args());
      expect(r, 3, {bad});
    }
  }
  CHECK(rows >= 20);  // the manifest lists its malformed files; losing them would pass silently
}

// ---- image models ---------------------------------------------------------------------------

namespace {

// The workspace with images: x becomes [60, 6, 6, 2] (channels last) and the model a CNN.
void use_images(Workspace& w, const json& layers) {
  std::vector<float> xs(60 * 6 * 6 * 2);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>((i * 37) % 11) / 11.0f;
  trainer::test::write_npy(w.x, "<f4", {60, 6, 6, 2}, xs.data(), xs.size() * sizeof(float));
  w.cfg["model"]["layers"] = layers;
  w.save();
}

const json kConv3 = {{"type", "conv2d"}, {"filters", 4}, {"kernel", 3}, {"activation", "relu"}};
const json kFlatten = {{"type", "flatten"}};
const json kDense3 = {{"type", "dense"}, {"units", 3}};

}  // namespace

TEST_CASE("matrix: a conv2d kernel larger than its padded input names the layer and both shapes", "[errors][image]") {
  Workspace w;
  use_images(w, {{{"type", "conv2d"}, {"filters", 4}, {"kernel", 7}, {"padding", "valid"}}, kFlatten, kDense3});
  auto r = w.run("conv2d kernel 7x7 on a 6x6 image", w.fit_args() + " --metrics " + w.tmp.file("m.jsonl"));
  expect(r, 2, {w.config + ": /model/layers/0", "7x7", "6x6"});
  expect_no_outputs(w.tmp.path());
}

TEST_CASE("matrix: pooling larger than its input names the layer and both shapes", "[errors][image]") {
  Workspace w;
  use_images(w, {kConv3, {{"type", "max_pool2d"}, {"size", 2}}, {{"type", "max_pool2d"}, {"size", 3}}, kFlatten, kDense3});
  auto r = w.run("max_pool2d of size 3 on a 2x2 input", w.fit_args());
  expect(r, 2, {w.config + ": /model/layers/2", "max_pool2d of size 3x3", "2x2 input", "4x2x2"});
}

TEST_CASE("matrix: a dense layer straight after a spatial one names the layer and the missing flatten", "[errors][image]") {
  Workspace w;
  use_images(w, {kConv3, kDense3});
  auto r = w.run("dense after conv2d without flatten", w.fit_args());
  expect(r, 2, {w.config + ": /model/layers/1", "dense layer on a 4x4x4", "flatten or global_avg_pool"});
}

TEST_CASE("matrix: flat rows for an image model without image_shape name x, its shape and /data/layout", "[errors][image]") {
  Workspace w;  // x is [60, 4]: not an image
  w.cfg["model"]["layers"] = {kConv3, kFlatten, kDense3};
  w.save();
  auto r = w.run("conv2d on flat rows without /data/image_shape", w.fit_args());
  expect(r, 3, {w.x, "(60, 4)", "/data/layout", "/data/image_shape"});
}

TEST_CASE("matrix: an image_shape that does not cover the rows names x and both sizes", "[errors][image]") {
  Workspace w;
  use_images(w, {{{"type", "conv2d"}, {"filters", 2}, {"kernel", 1}}, kFlatten, kDense3});
  w.cfg["data"]["image_shape"] = {6, 6, 3};
  w.save();
  auto r = w.run("/data/image_shape [6, 6, 3] for rows of 72 values", w.fit_args());
  expect(r, 3, {w.x, "72 values", "/data/image_shape", "108"});
}

TEST_CASE("matrix: an init_from conv weight of another shape names the file and both shapes", "[errors][image]") {
  Workspace w;
  use_images(w, {kConv3, kFlatten, kDense3});
  const std::string dir = w.tmp.file("init");
  fs::create_directories(dir);
  auto write = [&](const std::string& name, std::vector<std::int64_t> shape) {
    std::int64_t count = 1;
    for (std::int64_t d : shape) count *= d;
    std::vector<float> v(static_cast<std::size_t>(count), 0.1f);
    trainer::test::write_npy(dir + "/" + name, "<f4", shape, v.data(), v.size() * sizeof(float));
  };
  write("conv0.weight.npy", {4, 2, 3, 2});  // a 3x2 kernel where the model has 3x3
  write("conv0.bias.npy", {4});
  write("dense0.weight.npy", {3, 64});
  write("dense0.bias.npy", {3});
  w.cfg["model"]["init_from"] = dir;
  w.save();
  auto r = w.run("init_from conv0.weight [4, 2, 3, 2] for a 3x3 kernel", w.fit_args() + " --checkpoint " + w.tmp.file("run.ckpt"));
  expect(r, 3, {dir + "/conv0.weight.npy", "(4, 2, 3, 2)", "(4, 2, 3, 3)"});
  expect_no_outputs(w.tmp.path());
}

TEST_CASE("matrix: same padding with a stride and augmenting an MLP name their keys", "[errors][image]") {
  Workspace w;
  use_images(w, {{{"type", "conv2d"}, {"filters", 2}, {"stride", 2}, {"padding", "same"}}, kFlatten, kDense3});
  auto r = w.run("\"same\" padding with stride 2", w.fit_args());
  expect(r, 2, {"/model/layers/0/padding", "stride 1"});
  Workspace mlp;
  mlp.cfg["data"]["augment"] = {{"flip", true}};
  mlp.save();
  r = mlp.run("/data/augment on a model without image layers", mlp.fit_args());
  expect(r, 2, {"/data/augment"});
}

// ---- flags and budgets ----------------------------------------------------------------------

TEST_CASE("matrix: --ram garbage exits 2 naming --ram and the accepted forms", "[errors]") {
  Workspace w;
  for (const char* value : {"lots", "12X", "-5G", "1.5.2G", ""}) {
    DYNAMIC_SECTION("--ram '" << value << "'") {
      auto r = w.run(std::string("`--ram '") + value + "'`", w.fit_args() + " --ram '" + value + "'");
      expect(r, 2, {"--ram"});
    }
  }
}

TEST_CASE("matrix: --ram 1M is too small and exits 4 naming the budget", "[errors]") {
  Workspace w;
  // 1024-512-3: the parameters alone (2.1 MiB) exceed the budget.
  w.cfg["model"]["layers"] = json::array({{{"type", "dense"}, {"units", 1024}, {"activation", "relu"}},
                                          {{"type", "dense"}, {"units", 512}, {"activation", "relu"}},
                                          {{"type", "dense"}, {"units", 3}}});
  w.save();
  auto r = w.run("`--ram 1M` for a 1024-512-3 model", w.fit_args() + " --ram 1M");
  expect(r, 4, {"--ram", "largest items", "parameters", "a budget of at least"});
}

TEST_CASE("matrix: --threads 0 and negative exit 2 naming --threads", "[errors]") {
  Workspace w;
  for (const char* value : {"0", "-3"}) {
    DYNAMIC_SECTION("--threads " << value) {
      auto r = w.run(std::string("`--threads ") + value + "`", w.fit_args() + " --threads " + value);
      expect(r, 2, {"--threads", "at least 1"});
    }
  }
}

// ---- checkpoints ----------------------------------------------------------------------------

TEST_CASE("matrix: --resume of a missing checkpoint exits 3 naming it", "[errors]") {
  Workspace w;
  const std::string missing = w.tmp.file("none.ckpt");
  auto r = w.run("`--resume` of a missing file", w.fit_args() + " --resume " + missing);
  expect(r, 3, {missing});
}

TEST_CASE("matrix: a checkpoint from another config exits 3 for --resume and evaluate", "[errors]") {
  Workspace w;
  const std::string ckpt = trained_checkpoint(w);
  w.cfg["model"]["layers"][0]["units"] = 16;
  w.save();
  auto resume = w.run("`--resume` of a checkpoint of another model", w.fit_args() + " --resume " + ckpt);
  expect(resume, 3, {ckpt, "different"});
  auto eval = w.run("`evaluate --weights` of a checkpoint of another model",
                    "evaluate --config " + w.config + " --weights " + ckpt);
  expect(eval, 3, {ckpt, "different"});
}

TEST_CASE("matrix: a truncated checkpoint exits 3 for --resume, evaluate and predict", "[errors]") {
  Workspace w;
  const std::string ckpt = trained_checkpoint(w);
  fs::resize_file(ckpt, fs::file_size(ckpt) / 2);
  auto resume = w.run("`--resume` of a truncated checkpoint", w.fit_args() + " --resume " + ckpt);
  expect(resume, 3, {ckpt});
  auto eval = w.run("`evaluate --weights` of a truncated checkpoint",
                    "evaluate --config " + w.config + " --weights " + ckpt);
  expect(eval, 3, {ckpt});
  auto pred = w.run("`predict --weights` of a truncated checkpoint",
                    "predict --weights " + ckpt + " --input " + w.x + " --output " + w.tmp.file("p.npy"));
  expect(pred, 3, {ckpt});
  expect_no_outputs(w.tmp.path());
}

TEST_CASE("matrix: a bit-flipped checkpoint fails its CRC with exit 3", "[errors]") {
  Workspace w;
  const std::string ckpt = trained_checkpoint(w);
  flip_byte(ckpt, fs::file_size(ckpt) / 2);
  auto resume = w.run("`--resume` of a checkpoint with one bit flipped", w.fit_args() + " --resume " + ckpt);
  expect(resume, 3, {ckpt, "CRC"});
  auto eval = w.run("`evaluate --weights` of a checkpoint with one bit flipped",
                    "evaluate --config " + w.config + " --weights " + ckpt);
  expect(eval, 3, {ckpt, "CRC"});
}

TEST_CASE("matrix: a file that is not a checkpoint exits 3 naming it", "[errors]") {
  Workspace w;
  auto r = w.run("`evaluate --weights` of a .npy file", "evaluate --config " + w.config + " --weights " + w.x);
  expect(r, 3, {w.x, "not a trainer checkpoint"});
}

// ---- output folders -------------------------------------------------------------------------

TEST_CASE("matrix: output files in a missing folder exit 1 before training, leaving nothing", "[errors]") {
  Workspace w;
  const std::string gone = w.tmp.file("gone/deeper");
  struct Case {
    const char* flag;
    std::string args;
  };
  // --export-weights creates its folder, so it fails only where no folder can be made (under a file).
  // A metrics file next to the config shows whether any epoch ran before the failure.
  const std::string metrics = " --metrics " + w.tmp.file("m.jsonl");
  for (const Case& c : {Case{"--metrics", " --metrics " + gone + "/m.jsonl"},
                        Case{"--checkpoint", metrics + " --checkpoint " + gone + "/run.ckpt"},
                        Case{"--export-weights", metrics + " --export-weights " + w.x + "/w"}}) {
    DYNAMIC_SECTION(c.flag) {
      auto r = w.run(std::string("`") + c.flag + "` in a missing folder", w.fit_args() + c.args);
      expect(r, 1, {c.flag});
      CHECK_THAT(r.out, Catch::Contains("folder"));
      CHECK_FALSE(fs::exists(w.tmp.path() / "gone"));
      expect_no_outputs(w.tmp.path());
    }
  }
}

TEST_CASE("matrix: predict --output in a missing folder exits 1 leaving nothing", "[errors]") {
  Workspace w;
  const std::string ckpt = trained_checkpoint(w);
  const std::string out = w.tmp.file("gone/p.npy");
  auto r = w.run("`predict --output` in a missing folder",
                 "predict --weights " + ckpt + " --input " + w.x + " --output " + out);
  expect(r, 1, {out});
  CHECK_FALSE(fs::exists(w.tmp.path() / "gone"));
}

TEST_CASE("matrix: output files in a read-only folder exit 1 before training, leaving nothing", "[errors]") {
  Workspace w;
  ReadOnlyDir ro(w.tmp.path() / "ro");
  if (!ro.unusable().empty()) {
    WARN("skipped: " << ro.unusable());
    return;
  }
  const std::string ckpt = trained_checkpoint(w);
  struct Case {
    const char* flag;
    std::string args;
  };
  for (const Case& c : {Case{"--metrics", w.fit_args() + " --metrics " + ro.file("m.jsonl")},
                        Case{"--checkpoint", w.fit_args() + " --metrics " + w.tmp.file("m.jsonl") +
                                                 " --checkpoint " + ro.file("run.ckpt")},
                        Case{"--export-weights", w.fit_args() + " --metrics " + w.tmp.file("m.jsonl") +
                                                     " --export-weights " + ro.file("w")},
                        Case{"--output", "predict --weights " + ckpt + " --input " + w.x + " --output " +
                                             ro.file("p.npy")}}) {
    DYNAMIC_SECTION(c.flag) {
      auto r = w.run(std::string("`") + c.flag + "` in a read-only folder", c.args);
      expect(r, 1, {ro.file("")});
      expect_no_outputs(w.tmp.path());
      expect_no_outputs(w.tmp.path() / "ro");
    }
  }
}
