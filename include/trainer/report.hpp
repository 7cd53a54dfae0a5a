// The run report: a self-contained HTML page (or one SVG figure) drawn from a run's metrics.
//
// Inputs are the per-epoch metrics JSONL written by `fit --metrics`, optionally the JSON of
// `probe-batch --json` (memory breakdown and trials) and the run's settings (a JSON object, e.g.
// the config's canonical JSON). Every input is untrusted: readers refuse malformed lines with a
// data error naming file:line, and every string that reaches the output is XML-escaped. The
// output has no scripts and loads nothing from the network. `fit --report` calls write_report()
// at the end of training; `trainer report` calls it on files from an earlier run.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/epoch_metrics.hpp"

namespace trainer {

// One line of the metrics JSONL. Optional figures are null in the file: accuracies for
// regression losses, validation figures when the run has no validation set.
using EpochRecord = EpochMetrics;  // the per-epoch figures of fit and --metrics

enum class ReportFormat { html, svg };

struct ReportInput {
  std::vector<EpochRecord> epochs;       // sorted by epoch, one record per epoch
  std::optional<nlohmann::json> probe;   // probe-batch --json output, when known
  nlohmann::json settings = nlohmann::json::object();  // shown as a table of JSON pointers
  std::string title = "trainer report";
  std::string source;                    // where the metrics came from (shown under the title)
};

// Reads a metrics JSONL file. Blank lines are skipped; when an epoch appears twice (a resumed
// run appending to the same file) the later line wins. Throws Error::data naming "file:line"
// for a line that is not a JSON object or lacks a field, and "no epochs" for an empty file.
std::vector<EpochRecord> read_metrics(const std::string& path);
// The same from text already in memory; `source` names it in errors.
std::vector<EpochRecord> parse_metrics(std::string_view text, const std::string& source);

// Reads probe-batch --json output and checks the fields the report draws (Error::data otherwise).
nlohmann::json read_probe(const std::string& path);
void check_probe(const nlohmann::json& probe, const std::string& source);

// "html" or "svg"; anything else is Error::usage naming `flag`.
ReportFormat parse_report_format(const std::string& text, const std::string& flag);

// The whole document as text.
std::string render_html(const ReportInput& input);
// One SVG figure: loss and (when the run has it) accuracy side by side, for a README.
std::string render_svg(const ReportInput& input);

// Renders and writes atomically (temporary file in the same folder, then rename). A missing or
// unwritable folder is Error::runtime naming `path`.
void write_report(const ReportInput& input, const std::string& path, ReportFormat format);

// Building blocks, public so tests can hold them to their promises.

// Axis ticks at 1, 2 or 5 x 10^k spanning [lo, hi]; the axis runs from the first to the last
// tick. `min_step` keeps integer axes (epochs) from getting fractional ticks.
struct NiceScale {
  double lo = 0;
  double hi = 1;
  double step = 1;
  std::vector<double> ticks;
};
NiceScale nice_scale(double lo, double hi, int target_ticks = 5, double min_step = 0);

// A tick label with just the decimals the step needs ("0.2", "15k", "2e-06" for tiny steps).
std::string format_tick(double value, double step);

// Escapes & < > " ' and replaces control characters XML 1.0 forbids, so text from untrusted
// files can go into element content and attribute values alike.
std::string xml_escape(std::string_view text);

}  // namespace trainer
