// The command line as scripts use it: exit codes, messages that name the flag or key, JSON
// output, and the fit -> evaluate -> predict session on the shipped digits demo.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/npy.hpp"

using nlohmann::json;
using trainer::test::run_command;
using trainer::test::TempDir;

namespace {

const std::string kBin = TRAINER_BINARY;
const std::string kRoot = TRAINER_SOURCE_DIR;
const std::string kDigits = kRoot + "/configs/digits-mlp.json";

std::string trainer_cmd(const std::string& args) { return kBin + " " + args; }

}  // namespace

TEST_CASE("trainer --version and --help answer with exit 0 and help shows examples", "[cli]") {
  auto v = run_command(trainer_cmd("--version"));
  CHECK(v.exit_code == 0);
  CHECK_THAT(v.out, Catch::Contains(TRAINER_VERSION));
  auto h = run_command(trainer_cmd("--help"));
  CHECK(h.exit_code == 0);
  CHECK_THAT(h.out, Catch::Contains("Examples:") && Catch::Contains("probe-batch") && Catch::Contains("Exit codes"));
  for (const char* cmd : {"fit", "probe-batch", "evaluate", "predict", "inspect", "validate", "import"}) {
    auto sub = run_command(trainer_cmd(std::string(cmd) + " --help"));
    INFO(cmd);
    CHECK(sub.exit_code == 0);
    CHECK_THAT(sub.out, Catch::Contains("Example"));
  }
}

TEST_CASE("each command's --help lists the common flags it takes", "[cli]") {
  struct Case {
    const char* cmd;
    std::vector<const char*> flags;
  };
  const std::vector<const char*> all = {"--config", "--ram", "--threads", "--seed", "--json", "--log-format", "--quiet"};
  for (const Case& c : {Case{"fit", all}, Case{"probe-batch", all}, Case{"evaluate", all},
                        Case{"predict", {"--ram", "--threads", "--json", "--quiet"}},
                        Case{"inspect", {"--json", "--log-format", "--quiet"}},
                        Case{"validate", {"--config", "--seed", "--json"}}, Case{"import", {"--json", "--quiet"}},
                        Case{"report", {"--config", "--json"}}}) {
    const auto r = run_command(trainer_cmd(std::string(c.cmd) + " --help"));
    for (const char* flag : c.flags) {
      INFO(c.cmd << " --help lacks " << flag << ":\n" << r.out);
      CHECK_THAT(r.out, Catch::Contains(flag));
    }
  }
  // A common flag works after the command as well as before it.
  CHECK(run_command(trainer_cmd("inspect " + kRoot + "/data/digits/train_x.npy --json"), false).out.front() == '{');
  CHECK(run_command(trainer_cmd("--json inspect " + kRoot + "/data/digits/train_x.npy"), false).out.front() == '{');
}

TEST_CASE("a count below its range says at least 1, not a range of 300 digits", "[cli]") {
  for (const char* args : {"fit --epochs 0", "fit --threads 0", "probe-batch --threads -1"}) {
    const auto r = run_command(trainer_cmd(args) + " --config " + kDigits);
    INFO(args << " -> " << r.out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("at least 1"));
    CHECK(r.out.size() < 300);
  }
}

TEST_CASE("usage errors exit 2 and name the flag", "[cli]") {
  struct Case {
    const char* args;
    const char* needle;
  };
  for (const Case& c : {Case{"fit --threads 0", "--threads"}, Case{"fit --threads -2", "--threads"},
                        Case{"probe-batch --ram lots", "--ram"}, Case{"fit --batch-size huge", "--batch-size"},
                        Case{"fit --micro-batch full", "--micro-batch"}, Case{"frobnicate", "frobnicate"},
                        Case{"fit --config /nonexistent/run.json", "/nonexistent/run.json"}}) {
    const bool has_config = std::string(c.args).find("--config") != std::string::npos;
    auto r = run_command(trainer_cmd(c.args) + (has_config ? "" : " --config " + kDigits));
    INFO(c.args << " -> " << r.out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains(c.needle));
  }
}

TEST_CASE("validate accepts the demo config and names a typo with a suggestion", "[cli]") {
  auto ok = run_command(trainer_cmd("validate --config " + kDigits));
  INFO(ok.out);
  CHECK(ok.exit_code == 0);
  TempDir tmp;
  std::string text = trainer::test::read_text(kDigits);
  const auto pos = text.find("\"optimizer\"");
  REQUIRE(pos != std::string::npos);
  text.replace(pos, 11, "\"optimiser\"");
  // The copy lives elsewhere, so give it absolute data paths by running from the configs folder's copy.
  const std::string bad = kRoot + "/configs/.typo-test.json";
  trainer::test::write_text(bad, text);
  auto r = run_command(trainer_cmd("validate --config " + bad));
  std::filesystem::remove(bad);
  INFO(r.out);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Catch::Contains("/optimiser") && Catch::Contains("optimizer"));
}

TEST_CASE("fit, evaluate and predict on the digits demo, with outputs checked before training", "[cli][digits]") {
  TempDir tmp;
  auto missing = run_command(trainer_cmd("fit --config " + kDigits + " --epochs 1 --metrics " + tmp.file("no/such/m.jsonl")));
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.out, Catch::Contains("--metrics"));

  const std::string ck = tmp.file("run.ckpt");
  auto fit = run_command(trainer_cmd("fit --quiet --json --config " + kDigits + " --epochs 3 --checkpoint " + ck +
                                     " --metrics " + tmp.file("m.jsonl")),
                         false);
  INFO(fit.out);
  REQUIRE(fit.exit_code == 0);
  json summary = json::parse(fit.out);
  CHECK(summary["epochs"].size() == 3);
  CHECK(summary["test_accuracy"].get<double>() > 0.8);
  CHECK(trainer::read_checkpoint(ck).epochs_done == 3);

  auto ev = run_command(trainer_cmd("evaluate --json --config " + kDigits + " --weights " + ck), false);
  INFO(ev.out);
  REQUIRE(ev.exit_code == 0);
  json e = json::parse(ev.out);
  CHECK(e["set"] == "test");
  CHECK(std::abs(e["accuracy"].get<double>() - summary["test_accuracy"].get<double>()) < 1e-12);

  const std::string out = tmp.file("pred.npy");
  auto pr = run_command(trainer_cmd("predict --weights " + ck + " --input " + kRoot + "/data/digits/test_x.npy --output " + out));
  INFO(pr.out);
  REQUIRE(pr.exit_code == 0);
  trainer::NpyArray p = trainer::NpyArray::open(out);
  trainer::NpyArray tx = trainer::NpyArray::open(kRoot + "/data/digits/test_x.npy");
  CHECK(p.header().dtype_str() == "<f4");
  CHECK(p.header().shape == std::vector<std::int64_t>{tx.rows(), 10});
  double row_sum = 0;
  for (int j = 0; j < 10; ++j) row_sum += p.element(static_cast<std::uint64_t>(j));
  CHECK(std::abs(row_sum - 1.0) < 1e-5);  // softmax probabilities

  auto bad_ck = run_command(trainer_cmd("evaluate --config " + kDigits + " --weights " + tmp.file("none.ckpt")));
  CHECK(bad_ck.exit_code == 3);
}

TEST_CASE("SIGINT during fit writes a loadable checkpoint and exits 130", "[cli][signals]") {
  TempDir tmp;
  const std::string ck = tmp.file("run.ckpt");
  const std::string metrics = tmp.file("m.jsonl");
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);
    execl(kBin.c_str(), kBin.c_str(), "fit", "--config", kDigits.c_str(), "--epochs", "100000", "--checkpoint",
          ck.c_str(), "--metrics", metrics.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the first epoch is logged, then interrupt mid-run.
  for (int i = 0; i < 600 && trainer::test::read_text(metrics).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  trainer::CheckpointData d = trainer::read_checkpoint(ck);
  CHECK(d.epochs_done >= 1);
  CHECK_FALSE(std::filesystem::exists(ck + ".tmp"));
}

TEST_CASE("the built-in demo reaches at least 0.95 test accuracy", "[cli][digits]") {
  TempDir tmp;
  auto fit = run_command("cd " + tmp.path().string() + " && " + trainer_cmd("fit --json"), false);
  INFO(fit.out);
  REQUIRE(fit.exit_code == 0);
  json summary = json::parse(fit.out);
  CHECK(summary["test_accuracy"].get<double>() >= 0.95);
}

TEST_CASE("the digits CNN demo trains to 0.97, and batch norm over micro-batches is said once", "[cli][digits][image]") {
  const std::string cnn = kRoot + "/configs/digits-cnn.json";
  auto fit = run_command(trainer_cmd("fit --json --config " + cnn), false);
  INFO(fit.out);
  REQUIRE(fit.exit_code == 0);
  CHECK(json::parse(fit.out).at("test_accuracy").get<double>() >= 0.97);

  // Accumulating: each micro-batch is normalised by its own statistics, which fit says (once).
  auto split = run_command(trainer_cmd("fit --epochs 1 --batch-size 64 --micro-batch 16 --config " + cnn));
  INFO(split.out);
  REQUIRE(split.exit_code == 0);
  const std::string warning = "batch_norm normalises each micro-batch of 16 by its own statistics";
  const auto at = split.out.find(warning);
  CHECK(at != std::string::npos);
  CHECK(split.out.find(warning, at + 1) == std::string::npos);
  // A micro-batch that is the whole batch: nothing to say.
  auto whole = run_command(trainer_cmd("fit --epochs 1 --config " + cnn));
  CHECK(whole.out.find("batch_norm normalises") == std::string::npos);
}
