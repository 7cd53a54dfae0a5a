// What the report promises about its output: nice axis ticks, escaped text, exactly one marker
// per epoch per series, every section present, nothing that could load or run, atomic writes.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>

#include "support/temp_dir.hpp"
#include "trainer/error.hpp"
#include "trainer/report.hpp"

using trainer::EpochRecord;
using trainer::ReportInput;

namespace {

// A plausible run: loss falls, accuracy rises; validation and accuracy can be left out.
std::vector<EpochRecord> make_run(int epochs, bool validation, bool accuracy) {
  std::vector<EpochRecord> out;
  for (int i = 1; i <= epochs; ++i) {
    EpochRecord e;
    e.epoch = i;
    e.train_loss = 0.2 + 1.5 / i;
    if (accuracy) e.train_accuracy = 0.95 - 0.4 / i;
    if (validation) e.val_loss = 0.3 + 1.2 / i;
    if (validation && accuracy) e.val_accuracy = 0.9 - 0.35 / i;
    e.lr = 0.001 * (1.0 - 0.04 * i);
    e.seconds = 1.5;
    e.samples_per_second = 30000 + 100 * (i % 3);
    e.batch_size = 256;
    e.micro_batch = 128;
    out.push_back(e);
  }
  return out;
}

// data-x of every marker (class "pt"), grouped by data-series.
std::map<std::string, std::vector<double>> points(const std::string& doc) {
  std::map<std::string, std::vector<double>> out;
  static const std::regex element(R"(<(circle|rect|path)\b[^>]*\bclass="pt"[^>]*>)");
  static const std::regex series(R"re(data-series="([^"]*)")re");
  static const std::regex x(R"re(data-x="([^"]*)")re");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), element); it != std::sregex_iterator(); ++it) {
    const std::string tag = it->str();
    std::smatch s, v;
    REQUIRE(std::regex_search(tag, s, series));
    REQUIRE(std::regex_search(tag, v, x));
    out[s[1]].push_back(std::stod(v[1]));
  }
  return out;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

std::vector<double> epochs_1_to(int n) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

nlohmann::json sample_probe() {
  return {{"budget_bytes", 512 << 20},
          {"budget_source", "cgroup"},
          {"batch_size", 256},
          {"micro_batch", 128},
          {"eval_batch_size", 1024},
          {"predicted_peak_bytes", 300 << 20},
          {"measured_peak_bytes", 310 << 20},
          {"breakdown", {{"parameters", 100 << 20}, {"activations", 150 << 20}, {"runtime_baseline", 50 << 20}}},
          {"trials",
           {{{"batch", 512}, {"predicted_bytes", 600 << 20}, {"measured_bytes", 0}, {"fits", false}},
            {{"batch", 128}, {"predicted_bytes", 300 << 20}, {"measured_bytes", 310 << 20}, {"fits", true}}}}};
}

}  // namespace

TEST_CASE("nice ticks: steps of 1, 2 or 5 x 10^k that cover the data", "[report]") {
  struct Case {
    double lo, hi;
  };
  for (const Case c : {Case{0, 0.93}, Case{0.28, 2.31}, Case{1, 20}, Case{0.000003, 0.00101}, Case{-3.7, 12.2},
                       Case{14200, 16150}, Case{0.8213, 0.9343}, Case{5, 5}, Case{0, 0}}) {
    const trainer::NiceScale s = trainer::nice_scale(c.lo, c.hi, 5);
    INFO(c.lo << ".." << c.hi << " step " << s.step);
    const double exponent = std::floor(std::log10(s.step));
    const double mantissa = s.step / std::pow(10.0, exponent);
    CHECK((std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 || std::abs(mantissa - 5) < 1e-9));
    CHECK(s.lo <= c.lo);
    CHECK(s.hi >= c.hi);
    CHECK(s.ticks.size() >= 3);
    CHECK(s.ticks.size() <= 11);
    for (double t : s.ticks) CHECK(std::abs(t / s.step - std::round(t / s.step)) < 1e-9);
    CHECK(s.ticks.front() == s.lo);
    CHECK(s.ticks.back() == s.hi);
  }
  // Hand-worked cases.
  const auto accuracy = trainer::nice_scale(0, 0.93, 5);
  CHECK(accuracy.step == Approx(0.2));
  CHECK(accuracy.ticks.size() == 6);  // 0, 0.2 ... 1.0
  const auto epochs = trainer::nice_scale(1, 20, 5, 1);
  CHECK(epochs.ticks == std::vector<double>{0, 5, 10, 15, 20});
  const auto one_epoch = trainer::nice_scale(1, 1, 5, 1);
  CHECK(one_epoch.step == 1);  // integer axes never get fractional ticks
}

TEST_CASE("tick labels carry only the decimals the step needs", "[report]") {
  CHECK(trainer::format_tick(0.6000000000000001, 0.2) == "0.6");
  CHECK(trainer::format_tick(0.30000000000000004, 0.05) == "0.30");
  CHECK(trainer::format_tick(15, 5) == "15");
  CHECK(trainer::format_tick(14200, 200) == "14200");
  CHECK(trainer::format_tick(14500, 500) == "14.5k");
  CHECK(trainer::format_tick(15000, 5000) == "15k");
  CHECK(trainer::format_tick(2500000, 500000) == "2.5M");
  CHECK(trainer::format_tick(0.0004, 0.0002) == "0.0004");
  CHECK(trainer::format_tick(0.00002, 0.00001) == "2e-05");
  CHECK(trainer::format_tick(1e-17, 0.2) == "0");
}

TEST_CASE("xml_escape neutralises markup, control characters and broken UTF-8", "[report]") {
  CHECK(trainer::xml_escape(R"(<script>alert("x&y")</script>)") ==
        "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;");
  CHECK(trainer::xml_escape("it's") == "it&#39;s");
  CHECK(trainer::xml_escape(std::string("a\x01" "b\x1b" "c", 5)) == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
  CHECK(trainer::xml_escape("caf\xC3\xA9 \xE2\x9C\x93") == "caf\xC3\xA9 \xE2\x9C\x93");  // valid UTF-8 kept
  CHECK(trainer::xml_escape("bad\xC3(") == "bad\xEF\xBF\xBD(");                      // truncated sequence
  CHECK(trainer::xml_escape("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(trainer::xml_escape("tab\there\n") == "tab\there\n");
}

TEST_CASE("SVG figure: exactly one marker per epoch in each of the four loss/accuracy series", "[report]") {
  ReportInput input;
  input.epochs = make_run(17, true, true);
  const std::string svg = trainer::render_svg(input);
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(count(svg, "<svg") == 1);
  const auto pts = points(svg);
  CHECK(pts.size() == 4);
  for (const char* series : {"train_loss", "val_loss", "train_accuracy", "val_accuracy"}) {
    INFO(series);
    REQUIRE(pts.count(series) == 1);
    CHECK(pts.at(series) == epochs_1_to(17));
  }
}

TEST_CASE("SVG figure: series without values are left out and a gap drops just that point", "[report]") {
  ReportInput regression;
  regression.epochs = make_run(5, false, false);
  const auto pts = points(trainer::render_svg(regression));
  CHECK(pts.size() == 1);
  CHECK(pts.at("train_loss") == epochs_1_to(5));

  ReportInput gappy;
  gappy.epochs = make_run(6, true, true);
  gappy.epochs[2].val_loss.reset();  // epoch 3 without validation
  const auto gap_pts = points(trainer::render_svg(gappy));
  CHECK(gap_pts.at("val_loss") == std::vector<double>{1, 2, 4, 5, 6});
  CHECK(gap_pts.at("train_loss") == epochs_1_to(6));
}

TEST_CASE("HTML report: every chart has one marker per epoch, the memory bar one segment per item", "[report]") {
  ReportInput input;
  input.epochs = make_run(12, true, true);
  input.probe = sample_probe();
  input.settings = {{"optimizer", {{"type", "adam"}, {"lr", 0.001}}}, {"model", {{"layers", {{{"units", 64}}}}}}};
  const std::string html = trainer::render_html(input);
  const auto pts = points(html);
  for (const char* series :
       {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "samples_per_second"}) {
    INFO(series);
    REQUIRE(pts.count(series) == 1);
    CHECK(pts.at(series) == epochs_1_to(12));
  }
  CHECK(count(html, "class=\"seg\"") == 3);
  CHECK(count(html, "data-mark=\"budget\"") == 1);
  CHECK(count(html, "data-mark=\"measured\"") == 1);
  for (const char* section : {"Loss per epoch", "Accuracy per epoch", "Learning rate per epoch",
                              "Throughput per epoch", "Memory breakdown", "Batch-size trials", "Settings"}) {
    CHECK_THAT(html, Catch::Contains(section));
  }
  CHECK_THAT(html, Catch::Contains("/optimizer/lr") && Catch::Contains("/model/layers/0"));
  CHECK(count(html, "&#10003; fits") == 1);
  CHECK(count(html, "&#10007; fails") == 1);
}

TEST_CASE("HTML report: self-contained, nothing to fetch or run", "[report]") {
  ReportInput input;
  input.epochs = make_run(3, true, true);
  input.probe = sample_probe();
  const std::string html = trainer::render_html(input);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find(" src=") == std::string::npos);
  CHECK(html.find(" href=") == std::string::npos);
  // The only URL is the SVG namespace, which is a name, not a fetch.
  std::string rest = html;
  for (std::size_t pos; (pos = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;) rest.erase(pos, 26);
  CHECK(rest.find("http://") == std::string::npos);
  CHECK(rest.find("https://") == std::string::npos);
  CHECK(rest.find("//") == std::string::npos);  // protocol-relative URLs too
}

TEST_CASE("HTML report: hostile strings from untrusted inputs come out escaped", "[report]") {
  const std::string hostile = "</svg><script>alert('pwned')</script><img src=x onerror=\"boom()\">&amp;";
  ReportInput input;
  input.title = hostile;
  input.source = hostile;
  input.epochs = make_run(2, true, true);
  nlohmann::json probe = sample_probe();
  probe["breakdown"][hostile] = 1024;
  probe["budget_source"] = hostile;
  input.probe = probe;
  input.settings = {{hostile, hostile}, {"data", {{"train", {{"x", hostile}}}}}};
  for (const std::string& doc : {trainer::render_html(input), trainer::render_svg(input)}) {
    CHECK(doc.find("<script") == std::string::npos);
    CHECK(doc.find("<img") == std::string::npos);
    CHECK(doc.find("onerror=\"") == std::string::npos);
  }
  const std::string html = trainer::render_html(input);
  CHECK_THAT(html, Catch::Contains("&lt;/svg&gt;&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
  CHECK_THAT(html, Catch::Contains("&amp;amp;"));
  CHECK(count(html, "</svg>") == count(html, "<svg"));  // no element closed early
}

TEST_CASE("write_report writes the rendered document atomically and a missing folder is exit 1", "[report]") {
  trainer::test::TempDir dir;
  ReportInput input;
  input.epochs = make_run(4, true, true);
  const std::string html_path = dir.file("r.html");
  trainer::test::write_text(html_path, "old report");
  trainer::write_report(input, html_path, trainer::ReportFormat::html);
  CHECK(trainer::test::read_text(html_path) == trainer::render_html(input));
  trainer::write_report(input, dir.file("r.svg"), trainer::ReportFormat::svg);
  CHECK(trainer::test::read_text(dir.file("r.svg")) == trainer::render_svg(input));
  // Only the two reports: no temporary file left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 2);

  const std::string missing = dir.file("no/such/folder/r.html");
  try {
    trainer::write_report(input, missing, trainer::ReportFormat::html);
    FAIL("no error");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 1);
    CHECK(e.where() == missing);
  }
}
