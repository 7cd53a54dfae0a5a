// The report's readers: metrics JSONL and probe JSON are untrusted, so every bad line is a data
// error (exit 3) that names the file and line; good files come back field by field.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"
#include "trainer/error.hpp"
#include "trainer/report.hpp"

using trainer::Error;
using trainer::test::TempDir;
using trainer::test::write_text;

namespace {

const std::string kLine1 =
    R"({"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.7, "val_loss": 0.8, "val_accuracy": 0.72, "lr": 0.01, )"
    R"("seconds": 2.5, "samples_per_second": 1000, "batch_size": 64, "micro_batch": 32})";
const std::string kLine2 =
    R"({"epoch": 2, "train_loss": 0.5, "train_accuracy": null, "val_loss": null, "val_accuracy": null, "lr": 0.005, )"
    R"("seconds": 2.0, "samples_per_second": 1250, "batch_size": 64, "micro_batch": 32, "extra": "ignored"})";

// The Error thrown by parsing `text` as metrics named "m.jsonl"; fails the test when none is.
Error metrics_error(const std::string& text) {
  try {
    trainer::parse_metrics(text, "m.jsonl");
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error for: " << text);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("metrics JSONL: every field is read, nulls stay absent, blank lines are skipped", "[report]") {
  const auto epochs = trainer::parse_metrics(kLine1 + "\n\n" + kLine2 + "\n", "m.jsonl");
  REQUIRE(epochs.size() == 2);
  const auto& a = epochs[0];
  CHECK(a.epoch == 1);
  CHECK(a.train_loss == 0.9);
  CHECK(a.train_accuracy == 0.7);
  CHECK(a.val_loss == 0.8);
  CHECK(a.val_accuracy == 0.72);
  CHECK(a.lr == 0.01);
  CHECK(a.seconds == 2.5);
  CHECK(a.samples_per_second == 1000);
  CHECK(a.batch_size == 64);
  CHECK(a.micro_batch == 32);
  const auto& b = epochs[1];
  CHECK(b.epoch == 2);
  CHECK_FALSE(b.train_accuracy.has_value());
  CHECK_FALSE(b.val_loss.has_value());
  CHECK_FALSE(b.val_accuracy.has_value());
}

TEST_CASE("metrics JSONL: a repeated epoch (resumed run) keeps the later line, epochs come out sorted", "[report]") {
  std::string again = kLine1;
  again.replace(again.find("0.9"), 3, "0.4");
  const auto epochs = trainer::parse_metrics(kLine2 + "\n" + kLine1 + "\n" + again + "\n", "m.jsonl");
  REQUIRE(epochs.size() == 2);
  CHECK(epochs[0].epoch == 1);
  CHECK(epochs[0].train_loss == 0.4);
  CHECK(epochs[1].epoch == 2);
}

TEST_CASE("metrics JSONL: a line that is not JSON is a data error at file:line", "[report]") {
  const Error e = metrics_error(kLine1 + "\n" + kLine2 + "\n{\"epoch\": 3, oops\n");
  CHECK(e.exit_code() == 3);
  CHECK(e.where() == "m.jsonl:3");
  CHECK_THAT(e.fault(), Catch::Contains("not valid JSON"));
}

TEST_CASE("metrics JSONL: a missing or mistyped field is named with its line", "[report]") {
  std::string no_lr = kLine2;
  no_lr.replace(no_lr.find("\"lr\": 0.005, "), 13, "");
  Error missing = metrics_error(kLine1 + "\n" + no_lr + "\n");
  CHECK(missing.exit_code() == 3);
  CHECK(missing.where() == "m.jsonl:2");
  CHECK_THAT(missing.fault(), Catch::Contains("\"lr\""));

  std::string text_loss = kLine1;
  text_loss.replace(text_loss.find("0.9"), 3, "\"low\"");
  Error typed = metrics_error(text_loss);
  CHECK(typed.where() == "m.jsonl:1");
  CHECK_THAT(typed.fault(), Catch::Contains("/train_loss") && Catch::Contains("string"));

  std::string half_epoch = kLine1;
  half_epoch.replace(half_epoch.find("\"epoch\": 1"), 10, "\"epoch\": 1.5");
  CHECK_THAT(metrics_error(half_epoch).fault(), Catch::Contains("/epoch"));

  Error array = metrics_error("[1, 2]\n");
  CHECK(array.where() == "m.jsonl:1");
  CHECK_THAT(array.fault(), Catch::Contains("not an object"));
}

TEST_CASE("metrics JSONL: an empty file has no epochs (exit 3)", "[report]") {
  for (const std::string text : {"", "\n\n", "  \r\n"}) {
    const Error e = metrics_error(text);
    CHECK(e.exit_code() == 3);
    CHECK(e.where() == "m.jsonl");
    CHECK_THAT(e.fault(), Catch::Contains("no epochs"));
  }
}

TEST_CASE("metrics JSONL: a missing file is a data error naming it", "[report]") {
  TempDir dir;
  const std::string path = dir.file("absent.jsonl");
  try {
    trainer::read_metrics(path);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK(e.where() == path);
  }
  write_text(dir.file("ok.jsonl"), kLine1 + "\n");
  CHECK(trainer::read_metrics(dir.file("ok.jsonl")).size() == 1);
}

TEST_CASE("probe JSON: bad JSON names its line and missing or mistyped fields name their pointer", "[report]") {
  TempDir dir;
  const nlohmann::json good = {{"budget_bytes", 1000},
                               {"budget_source", "--ram"},
                               {"breakdown", {{"parameters", 600}, {"activations", 300}}},
                               {"trials", {{{"batch", 8}, {"predicted_bytes", 900}, {"measured_bytes", 950}, {"fits", true}}}}};
  write_text(dir.file("good.json"), good.dump(2));
  CHECK(trainer::read_probe(dir.file("good.json")) == good);

  write_text(dir.file("broken.json"), "{\n  \"budget_bytes\": 1,\n  \"breakdown\": ]\n}\n");
  try {
    trainer::read_probe(dir.file("broken.json"));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK(e.where() == dir.file("broken.json") + ":3");
  }

  auto fault_of = [](const nlohmann::json& probe) -> Error {
    try {
      trainer::check_probe(probe, "p.json");
    } catch (const Error& e) {
      return e;
    }
    FAIL("no error for " << probe.dump());
    throw std::logic_error("unreachable");
  };
  nlohmann::json no_trials = good;
  no_trials.erase("trials");
  CHECK_THAT(fault_of(no_trials).fault(), Catch::Contains("\"trials\""));
  nlohmann::json bad_item = good;
  bad_item["breakdown"]["parameters"] = "lots";
  CHECK(fault_of(bad_item).where() == "p.json: /breakdown/parameters");
  nlohmann::json bad_trial = good;
  bad_trial["trials"][0]["fits"] = "yes";
  CHECK(fault_of(bad_trial).where() == "p.json: /trials/0/fits");
  CHECK(fault_of(nlohmann::json::array()).exit_code() == 3);
}

TEST_CASE("report format names: html and svg and anything else is a usage error naming the flag", "[report]") {
  CHECK(trainer::parse_report_format("html", "--format") == trainer::ReportFormat::html);
  CHECK(trainer::parse_report_format("svg", "--format") == trainer::ReportFormat::svg);
  try {
    trainer::parse_report_format("pdf", "--format");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(e.where() == "--format");
  }
}
