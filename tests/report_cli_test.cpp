// `trainer report` as scripts use it: exit codes, messages naming file:line, the format chosen
// from the flag or the output's extension, and --json output.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

using trainer::test::read_text;
using trainer::test::run_command;
using trainer::test::TempDir;
using trainer::test::write_text;

namespace {

const std::string kBin = TRAINER_BINARY;
const std::string kRoot = TRAINER_SOURCE_DIR;
const std::string kMetrics = kRoot + "/docs/report-example.jsonl";
const std::string kProbe = kRoot + "/docs/report-example-probe.json";

std::string report(const std::string& args) { return kBin + " report " + args; }

}  // namespace

TEST_CASE("trainer report writes the HTML report and says so and --json reports the output", "[report]") {
  TempDir dir;
  const std::string out = dir.file("report.html");
  auto r = run_command(report(kMetrics + " --probe " + kProbe + " --output " + out));
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(out));
  const std::string html = read_text(out);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK_THAT(html, Catch::Contains("Memory breakdown"));

  auto j = run_command(report(kMetrics + " --output " + dir.file("r2.html") + " --json"), false);
  REQUIRE(j.exit_code == 0);
  const auto doc = nlohmann::json::parse(j.out);
  CHECK(doc["output"] == dir.file("r2.html"));
  CHECK(doc["format"] == "html");
  CHECK(doc["epochs"] == 20);
}

TEST_CASE("trainer report picks SVG from the extension or --format", "[report]") {
  TempDir dir;
  REQUIRE(run_command(report(kMetrics + " --output " + dir.file("curves.svg"))).exit_code == 0);
  CHECK(read_text(dir.file("curves.svg")).rfind("<?xml", 0) == 0);
  REQUIRE(run_command(report(kMetrics + " --format svg --output " + dir.file("curves.out"))).exit_code == 0);
  CHECK(read_text(dir.file("curves.out")).rfind("<?xml", 0) == 0);
  auto bad = run_command(report(kMetrics + " --format pdf --output " + dir.file("x")));
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.out, Catch::Contains("--format"));
}

TEST_CASE("trainer report: bad metrics exit 3 naming file:line and empty metrics exit 3 no epochs", "[report]") {
  TempDir dir;
  const std::string bad = dir.file("bad.jsonl");
  const std::string first_line = read_text(kMetrics).substr(0, read_text(kMetrics).find('\n') + 1);
  write_text(bad, first_line + "{\"epoch\": 2}\n");
  auto r = run_command(report(bad + " --output " + dir.file("r.html")));
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains(bad + ":2"));
  CHECK_FALSE(std::filesystem::exists(dir.file("r.html")));

  write_text(dir.file("empty.jsonl"), "");
  auto e = run_command(report(dir.file("empty.jsonl") + " --output " + dir.file("r.html")));
  CHECK(e.exit_code == 3);
  CHECK_THAT(e.out, Catch::Contains("no epochs"));

  auto missing = run_command(report(dir.file("absent.jsonl") + " --output " + dir.file("r.html")));
  CHECK(missing.exit_code == 3);
  CHECK_THAT(missing.out, Catch::Contains("absent.jsonl"));

  write_text(dir.file("probe.json"), "{\"budget_bytes\": 1}");
  auto probe = run_command(report(kMetrics + " --probe " + dir.file("probe.json") + " --output " + dir.file("r.html")));
  CHECK(probe.exit_code == 3);
  CHECK_THAT(probe.out, Catch::Contains("probe.json"));
}

TEST_CASE("trainer report: an output folder that does not exist is exit 1", "[report]") {
  TempDir dir;
  const std::string out = dir.file("missing/report.html");
  auto r = run_command(report(kMetrics + " --output " + out));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains(out));
}

TEST_CASE("trainer report --config adds the run's settings", "[report]") {
  TempDir dir;
  auto r = run_command(report(kMetrics + " --config " + kRoot + "/configs/digits-mlp.json --output " + dir.file("r.html")));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(read_text(dir.file("r.html")), Catch::Contains("/optimizer/lr") && Catch::Contains("/model/layers/0"));
}
