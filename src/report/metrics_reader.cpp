// Reading the report's inputs: the metrics JSONL and the probe-batch JSON. Both are untrusted, so
// every field is checked for presence and type before the charts see it.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "trainer/error.hpp"
#include "trainer/report.hpp"

namespace trainer {
namespace {

using nlohmann::json;

const char* kMetricsValid = "one JSON object per line as written by trainer fit --metrics";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::data(path, std::string("cannot open: ") + std::strerror(errno), "a readable file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error::data(path, "read failed", "a readable file");
  return text.str();
}

std::string type_text(const json& v) { return v.is_null() ? "null" : std::string(v.type_name()); }

// A finite number (JSON has no NaN/Inf, but a double can still overflow to Inf when parsed).
double number(const json& line, const char* key, const std::string& where) {
  if (!line.contains(key)) throw Error::data(where, std::string("missing \"") + key + "\"", kMetricsValid);
  const json& v = line[key];
  if (!v.is_number()) {
    throw Error::data(where, std::string("/") + key + " is " + type_text(v) + ", not a number", kMetricsValid);
  }
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw Error::data(where, std::string("/") + key + " is not finite", kMetricsValid);
  return d;
}

std::optional<double> nullable(const json& line, const char* key, const std::string& where) {
  if (!line.contains(key)) throw Error::data(where, std::string("missing \"") + key + "\"", kMetricsValid);
  if (line[key].is_null()) return std::nullopt;
  return number(line, key, where);
}

std::int64_t integer(const json& line, const char* key, const std::string& where) {
  const double d = number(line, key, where);
  if (d != std::floor(d) || d < -9.0e15 || d > 9.0e15) {
    throw Error::data(where, std::string("/") + key + " is not a whole number", kMetricsValid);
  }
  return static_cast<std::int64_t>(d);
}

EpochRecord parse_line(std::string_view text, const std::string& where) {
  json line;
  try {
    line = json::parse(text.begin(), text.end());
  } catch (const json::parse_error&) {
    throw Error::data(where, "not valid JSON", kMetricsValid);
  }
  if (!line.is_object()) throw Error::data(where, "a JSON " + type_text(line) + ", not an object", kMetricsValid);
  EpochRecord r;
  r.epoch = integer(line, "epoch", where);
  r.train_loss = number(line, "train_loss", where);
  r.train_accuracy = nullable(line, "train_accuracy", where);
  r.val_loss = nullable(line, "val_loss", where);
  r.val_accuracy = nullable(line, "val_accuracy", where);
  r.lr = number(line, "lr", where);
  r.seconds = number(line, "seconds", where);
  r.samples_per_second = number(line, "samples_per_second", where);
  r.batch_size = integer(line, "batch_size", where);
  r.micro_batch = integer(line, "micro_batch", where);
  return r;
}

std::int64_t whole_bytes(const json& v, const std::string& where) {
  // The upper bound keeps the conversion to int64 defined (and no machine has 9 EB of RAM).
  if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() < 9.0e18)) {
    throw Error::data(where, "is " + type_text(v) + ", not a byte count", "a number >= 0");
  }
  return v.get<std::int64_t>();
}

}  // namespace

std::vector<EpochRecord> parse_metrics(std::string_view text, const std::string& source) {
  // Keyed by epoch so a resumed run that appended a repeated epoch keeps its later line.
  std::map<std::int64_t, EpochRecord> by_epoch;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    EpochRecord r = parse_line(line, source + ":" + std::to_string(line_no));
    by_epoch[r.epoch] = r;
  }
  if (by_epoch.empty()) throw Error::data(source, "no epochs", kMetricsValid);
  std::vector<EpochRecord> out;
  out.reserve(by_epoch.size());
  for (auto& [epoch, r] : by_epoch) out.push_back(r);
  return out;
}

std::vector<EpochRecord> read_metrics(const std::string& path) { return parse_metrics(read_file(path), path); }

void check_probe(const json& probe, const std::string& source) {
  const char* valid = "the output of trainer probe-batch --json";
  if (!probe.is_object()) throw Error::data(source, "a JSON " + type_text(probe) + ", not an object", valid);
  for (const char* key : {"budget_bytes", "budget_source", "breakdown", "trials"}) {
    if (!probe.contains(key)) throw Error::data(source, std::string("missing \"") + key + "\"", valid);
  }
  whole_bytes(probe["budget_bytes"], at_key(source, "/budget_bytes"));
  if (!probe["budget_source"].is_string()) throw Error::data(at_key(source, "/budget_source"), "is not a string", valid);
  for (const char* key : {"predicted_peak_bytes", "measured_peak_bytes"}) {
    if (probe.contains(key)) whole_bytes(probe[key], at_key(source, std::string("/") + key));
  }
  const json& breakdown = probe["breakdown"];
  if (!breakdown.is_object()) throw Error::data(at_key(source, "/breakdown"), "is not an object", "an object of bytes by item");
  for (const auto& [name, bytes] : breakdown.items()) {
    whole_bytes(bytes, at_key(source, "/breakdown/" + name));
  }
  const json& trials = probe["trials"];
  if (!trials.is_array()) throw Error::data(at_key(source, "/trials"), "is not a list", "a list of trials");
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const std::string where = at_key(source, "/trials/" + std::to_string(i));
    const json& t = trials[i];
    if (!t.is_object()) throw Error::data(where, "is not an object", "{batch, predicted_bytes, measured_bytes, fits}");
    for (const char* key : {"batch", "predicted_bytes", "measured_bytes"}) {
      if (!t.contains(key)) throw Error::data(where, std::string("missing \"") + key + "\"", valid);
      whole_bytes(t[key], where + "/" + key);
    }
    if (!t.contains("fits") || !t["fits"].is_boolean()) throw Error::data(where + "/fits", "is not true/false", valid);
  }
}

json read_probe(const std::string& path) {
  const std::string text = read_file(path);
  json probe;
  try {
    probe = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann reports a byte offset; users find a line faster.
    const std::size_t upto = std::min<std::size_t>(e.byte, text.size());
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(upto), '\n');
    throw Error::data(path + ":" + std::to_string(line), "not valid JSON", "the output of trainer probe-batch --json");
  }
  check_probe(probe, path);
  return probe;
}

ReportFormat parse_report_format(const std::string& text, const std::string& flag) {
  if (text == "html") return ReportFormat::html;
  if (text == "svg") return ReportFormat::svg;
  throw Error::usage(flag, "'" + text + "' is not a report format", "html or svg");
}

}  // namespace trainer
