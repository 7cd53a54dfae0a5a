// Faults a run survives, on the built binary: SIGINT/SIGTERM mid-epoch (checkpoint, exit 130,
// resume equal to an uninterrupted run bit for bit), kill -9 at random moments (the checkpoint on
// disk always loads), a full disk while writing a checkpoint (exit 1, the previous one intact) and
// a data file truncated under its memory map (exit 3 with a message, not a SIGBUS crash).
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/error.hpp"

using nlohmann::json;
using trainer::test::read_text;
using trainer::test::TempDir;
using trainer::test::write_text;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string kBin = TRAINER_BINARY;
const std::string kDigits = std::string(TRAINER_SOURCE_DIR) + "/data/digits/";

json digits_config(const std::string& x, const std::string& y, json layers, std::int64_t batch,
                   std::int64_t epochs) {
  return {{"data", {{"train", {{"x", x}, {"y", y}}}, {"validation_split", 0.1}, {"x_scale", 0.0625}}},
          {"model", {{"layers", std::move(layers)}, {"loss", "cross_entropy"}}},
          {"optimizer", {{"type", "adam"}, {"lr", 0.001}}},
          {"training", {{"epochs", epochs}, {"batch_size", batch}, {"seed", 7}}},
          {"memory", {{"verify", false}}}};
}

json dense(std::int64_t units, const char* activation = nullptr) {
  json l = {{"type", "dense"}, {"units", units}};
  if (activation != nullptr) l["activation"] = activation;
  return l;
}

// A trainer process started without a shell, so signals reach trainer itself.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int in = ::open("/dev/null", O_RDONLY);
      if (fd < 0 || in < 0) ::_exit(127);
      ::dup2(in, 0);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(kBin.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(kBin.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == 0) return true;
    finish(status);
    return false;
  }
  // The exit code (128 + signal when killed); fails the test after `limit`.
  int wait(std::chrono::milliseconds limit = 60s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (running()) {
      if (std::chrono::steady_clock::now() > until) {
        FAIL("trainer still running after " << limit.count() << " ms: " << read_text(log_));
      }
      std::this_thread::sleep_for(2ms);
    }
    return code_;
  }
  std::string log() const { return read_text(log_); }

 private:
  void finish(int status) {
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
  }
  std::string log_;
  pid_t pid_ = -1;
  int code_ = -1;
};

// Waits until the metrics file holds `epochs` lines; returns the last one.
json wait_for_epochs(Child& child, const std::string& metrics, int epochs) {
  const auto until = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    std::istringstream in(read_text(metrics));
    std::string line, last;
    int lines = 0;
    while (std::getline(in, line))
      if (!line.empty()) ++lines, last = line;
    if (lines >= epochs) return json::parse(last);
    if (!child.running()) FAIL("trainer ended before epoch " << epochs << ": " << child.log());
    if (std::chrono::steady_clock::now() > until) FAIL("no epoch " << epochs << " after 60 s");
    std::this_thread::sleep_for(1ms);
  }
}

// Every file of two folders, byte for byte.
void expect_same_files(const fs::path& a, const fs::path& b) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(a)) {
    ++files;
    INFO(entry.path().filename());
    CHECK(read_text(entry.path().string()) == read_text((b / entry.path().filename()).string()));
  }
  CHECK(files >= 4);  // two dense layers: weight and bias each
}

void interrupt_and_resume(int sig) {
  TempDir tmp;
  const std::string config = tmp.file("run.json");
  // 64-128-128-10, batch 4: a few hundred steps per epoch, long enough to land inside one. Three
  // epochs: an epoch takes only tens of milliseconds, so a signal aimed at the second may land
  // in the third.
  write_text(config, digits_config(kDigits + "train_x.npy", kDigits + "train_y.npy",
                                   {dense(128, "relu"), dense(128, "relu"), dense(10)}, 4, 3)
                         .dump());
  const std::string common = "fit --config " + config + " --threads 2 --quiet";
  auto ref = trainer::test::run_command(kBin + " " + common + " --export-weights " + tmp.file("ref"));
  INFO(ref.out);
  REQUIRE(ref.exit_code == 0);

  const std::string ckpt = tmp.file("run.ckpt");
  // An epoch takes tens of milliseconds and ends with an fsync'd checkpoint: on a loaded machine
  // the signal can land at an epoch boundary, or after the run ended. Such tries are redone.
  for (int attempt = 1;; ++attempt) {
    fs::remove(ckpt);
    fs::remove(tmp.file("m.jsonl"));
    Child child({"fit", "--config", config, "--threads", "2", "--quiet", "--metrics", tmp.file("m.jsonl"),
                 "--checkpoint", ckpt},
                tmp.file("interrupted.log"));
    const json first = wait_for_epochs(child, tmp.file("m.jsonl"), 1);
    for (int i = 0; i < 60000 && !fs::exists(ckpt); ++i) std::this_thread::sleep_for(1ms);
    // A quarter of an epoch into epoch 2.
    std::this_thread::sleep_for(std::chrono::duration<double>(first.at("seconds").get<double>() / 4));
    child.signal(sig);
    const int code = child.wait();
    const bool missed = code == 0 || (code == 130 && trainer::read_checkpoint(ckpt).batches_done == 0);
    if (missed && attempt < 10) continue;
    INFO(child.log() << " (attempt " << attempt << ")");
    REQUIRE(code == 130);
    CHECK_THAT(child.log(), Catch::Contains(sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    const trainer::CheckpointData ck = trainer::read_checkpoint(ckpt);
    CHECK((ck.epochs_done == 1 || ck.epochs_done == 2));
    CHECK(ck.batches_done > 0);  // mid-epoch, not at an epoch boundary
    break;
  }

  auto resumed = trainer::test::run_command(kBin + " " + common + " --resume " + ckpt + " --export-weights " +
                                            tmp.file("resumed"));
  INFO(resumed.out);
  REQUIRE(resumed.exit_code == 0);
  expect_same_files(tmp.path() / "ref", tmp.path() / "resumed");
}

}  // namespace

TEST_CASE("SIGINT mid-epoch writes a checkpoint, exits 130, and resuming equals an uninterrupted run",
          "[faults]") {
  interrupt_and_resume(SIGINT);
}

TEST_CASE("SIGTERM mid-epoch writes a checkpoint, exits 130, and resuming equals an uninterrupted run",
          "[faults]") {
  interrupt_and_resume(SIGTERM);
}

TEST_CASE("kill -9 at random moments never leaves a checkpoint that fails to load", "[faults]") {
  TempDir tmp;
  const std::string config = tmp.file("run.json");
  write_text(config, digits_config(kDigits + "train_x.npy", kDigits + "train_y.npy", {dense(16, "relu"), dense(10)},
                                   16, 1000000)
                         .dump());
  const std::string ckpt = tmp.file("run.ckpt");
  std::mt19937 rng(20240607);
  int loaded = 0;
  for (int run = 0; run < 50; ++run) {
    // Kills within 200 ms hit start-up, the trial and the first epoch alike; until a run has lived
    // long enough to write a checkpoint (a loaded machine, a sanitized build) the window widens
    // by 40 ms per run, so that the later runs also resume from one.
    std::uniform_int_distribution<int> delay_ms(5, loaded > 0 ? 200 : 200 + 40 * run);
    // Each run continues from the checkpoint the previous kill left, so a bad one fails the next run too.
    std::vector<std::string> args{"fit", "--config", config, "--quiet", "--checkpoint", ckpt};
    if (fs::exists(ckpt)) args.insert(args.end(), {"--resume", ckpt});
    Child child(args, tmp.file("run.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    child.signal(SIGKILL);
    const int code = child.wait();
    INFO("run " << run << ": " << child.log());
    CHECK((code == 128 + SIGKILL || code == 0));
    if (!fs::exists(ckpt)) continue;
    trainer::CheckpointData ck;
    REQUIRE_NOTHROW(ck = trainer::read_checkpoint(ckpt));  // magic, version, lengths and CRC32
    CHECK(ck.epochs_done >= 1);
    ++loaded;
  }
  CHECK(loaded > 0);  // some run lived long enough to write one, or the test proved nothing
}

TEST_CASE("a full disk while writing a checkpoint exits 1 and keeps the previous checkpoint", "[faults]") {
  TempDir tmp;
  const fs::path small = tmp.path() / "small";
  fs::create_directory(small);
  // 64 KiB holds one checkpoint of this model (about 44 KB) but not a second one beside it, and
  // the new one is written next to the old before the rename.
  if (::geteuid() != 0 || ::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64k") != 0) {
    WARN("skipped: mounting a 64 KiB tmpfs needs root with CAP_SYS_ADMIN");
    return;
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{small};
  const std::string config = tmp.file("run.json");
  write_text(config, digits_config(kDigits + "train_x.npy", kDigits + "train_y.npy", {dense(48, "relu"), dense(10)},
                                   32, 3)
                         .dump());
  const std::string ckpt = (small / "run.ckpt").string();
  auto r = trainer::test::run_command(kBin + " fit --config " + config + " --checkpoint " + ckpt);
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains(ckpt) && Catch::Contains("No space left"));
  const trainer::CheckpointData ck = trainer::read_checkpoint(ckpt);
  CHECK(ck.epochs_done == 1);
  CHECK_FALSE(fs::exists(ckpt + ".tmp"));
}

TEST_CASE("a data file truncated while mapped exits 3 naming it, without a SIGBUS crash", "[faults]") {
  TempDir tmp;
  const std::string x = tmp.file("x.npy"), y = tmp.file("y.npy");
  fs::copy_file(kDigits + "train_x.npy", x);
  fs::copy_file(kDigits + "train_y.npy", y);
  const std::string config = tmp.file("run.json");
  write_text(config, digits_config(x, y, {dense(16, "relu"), dense(10)}, 32, 1000000).dump());
  Child child({"fit", "--config", config, "--metrics", tmp.file("m.jsonl")}, tmp.file("run.log"));
  wait_for_epochs(child, tmp.file("m.jsonl"), 1);
  fs::resize_file(x, 128);  // the header stays; every row is gone
  const int code = child.wait();
  INFO(child.log());
  CHECK(code == 3);
  CHECK_THAT(child.log(), Catch::Contains(x) && Catch::Contains("shrank while it was being read"));
}
