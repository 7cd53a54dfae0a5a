// The HTML report: one self-contained page (inline CSS and SVG, no scripts, nothing fetched)
// with the run's summary, its epoch charts, the memory breakdown and trials, and its settings.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "metric_charts.hpp"
#include "svg_chart.hpp"
#include "trainer/report.hpp"
#include "trainer/size.hpp"

namespace trainer {
namespace {

using nlohmann::json;

// A system font stack: the page must not fetch fonts.
const char* kStyle = R"CSS(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d1d1f;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; font-size: 14px; line-height: 1.45; }
main { max-width: 1160px; margin: 0 auto; padding: 24px 20px 40px; }
header h1 { margin: 0 0 2px; font-size: 24px; }
header p { margin: 0; color: #555; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; margin-top: 18px; }
.card { background: #fff; border: 1px solid #e1e3e8; border-radius: 8px; padding: 10px 12px; }
.card .label { color: #555; font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { color: #555; font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid #e1e3e8; border-radius: 8px; padding: 6px; }
figure svg { display: block; width: 100%; height: auto; }
.panel { background: #fff; border: 1px solid #e1e3e8; border-radius: 8px; padding: 12px 14px; }
.panel svg { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eceef2; vertical-align: top; }
th { font-weight: 600; color: #444; background: #fafbfc; }
td.num, th.num { text-align: right; }
td.key { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 13px; white-space: nowrap; }
td.val { overflow-wrap: anywhere; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 2px; vertical-align: -2px; margin-right: 6px; border: 1px solid #0002; }
.fits { color: #00734f; font-weight: 600; }
.fails { color: #b34700; font-weight: 600; }
.muted { color: #666; }
footer { margin-top: 30px; color: #777; font-size: 12px; }
)CSS";

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// 38369.4 -> "38,369": long figures stay readable in a narrow card.
std::string grouped(double v) {
  const std::string digits = fixed(std::abs(v), 0);
  std::string out = v < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string duration(double seconds) {
  if (seconds < 60) return fixed(seconds, 1) + " s";
  const auto total = static_cast<long long>(seconds + 0.5);
  char buf[64];
  if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", total / 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", total / 3600, total / 60 % 60);
  }
  return buf;
}

void card(std::ostringstream& o, const std::string& label, const std::string& value, const std::string& note = {}) {
  o << "<div class=\"card\"><div class=\"label\">" << xml_escape(label) << "</div><div class=\"value\">"
    << xml_escape(value) << "</div>";
  if (!note.empty()) o << "<div class=\"note\">" << xml_escape(note) << "</div>";
  o << "</div>";
}

// The epoch at which a metric is best (lowest or highest), if the metric was recorded.
std::optional<std::pair<double, std::int64_t>> best(const std::vector<EpochRecord>& epochs,
                                                     std::optional<double> EpochRecord::*field, bool lowest) {
  std::optional<std::pair<double, std::int64_t>> out;
  for (const EpochRecord& e : epochs) {
    const auto& v = e.*field;
    if (v && (!out || (lowest ? *v < out->first : *v > out->first))) out = std::make_pair(*v, e.epoch);
  }
  return out;
}

void summary(std::ostringstream& o, const std::vector<EpochRecord>& epochs) {
  const EpochRecord& last = epochs.back();
  double seconds = 0, samples_per_second = 0;
  for (const EpochRecord& e : epochs) seconds += e.seconds, samples_per_second += e.samples_per_second;
  samples_per_second /= static_cast<double>(epochs.size());
  o << "<section class=\"cards\">";
  card(o, "epochs", std::to_string(epochs.size()),
       epochs.front().epoch == 1 ? std::string() : "from epoch " + std::to_string(epochs.front().epoch));
  card(o, "final train loss", fixed(last.train_loss, 4));
  if (last.train_accuracy) card(o, "final train accuracy", fixed(*last.train_accuracy, 4));
  if (last.val_loss) {
    const auto b = best(epochs, &EpochRecord::val_loss, true);
    card(o, "final validation loss", fixed(*last.val_loss, 4), "best " + fixed(b->first, 4) + " at epoch " + std::to_string(b->second));
  }
  if (last.val_accuracy) {
    const auto b = best(epochs, &EpochRecord::val_accuracy, false);
    card(o, "final validation accuracy", fixed(*last.val_accuracy, 4),
         "best " + fixed(b->first, 4) + " at epoch " + std::to_string(b->second));
  }
  card(o, "training time", duration(seconds));
  card(o, "mean throughput", grouped(samples_per_second), "samples/s");
  card(o, "batch size", std::to_string(last.batch_size),
       last.micro_batch != last.batch_size ? "micro-batch " + std::to_string(last.micro_batch) + " (accumulating)"
                                           : "micro-batch " + std::to_string(last.micro_batch));
  o << "</section>";
}

void charts(std::ostringstream& o, const std::vector<EpochRecord>& epochs) {
  const double w = 560, h = 300;
  std::vector<svg::LineChart> list{report_charts::loss(epochs)};
  if (auto acc = report_charts::accuracy(epochs)) list.push_back(std::move(*acc));
  list.push_back(report_charts::learning_rate(epochs));
  list.push_back(report_charts::throughput(epochs));
  o << "<h2>Training</h2>";
  if (!report_charts::accuracy(epochs)) {
    o << "<p class=\"muted\">No accuracy: the loss is a regression loss.</p>";
  }
  o << "<section class=\"charts\">";
  for (const svg::LineChart& c : list) {
    o << "<figure>" << svg::svg_root(svg::draw_line_chart(c, w, h), w, h, c.title + " per epoch") << "</figure>";
  }
  o << "</section>";
}

std::uint64_t bytes_of(const json& probe, const char* key) {
  return probe.contains(key) && probe[key].is_number() ? probe[key].get<std::uint64_t>() : 0;
}

void memory(std::ostringstream& o, const json& probe) {
  svg::MemoryBar bar;
  for (const auto& [name, bytes] : probe["breakdown"].items()) bar.items.push_back({name, bytes.get<std::uint64_t>()});
  // Largest first: the bar reads as "where the memory went"; JSON objects carry no order anyway.
  std::stable_sort(bar.items.begin(), bar.items.end(),
                   [](const svg::MemoryItem& a, const svg::MemoryItem& b) { return a.bytes > b.bytes; });
  bar.budget_source = probe["budget_source"].get<std::string>();
  bar.budget = bar.budget_source == "none" ? 0 : bytes_of(probe, "budget_bytes");
  bar.predicted_peak = bytes_of(probe, "predicted_peak_bytes");
  bar.measured_peak = bytes_of(probe, "measured_peak_bytes");
  std::uint64_t total = 0;
  for (const auto& item : bar.items) total += item.bytes;

  o << "<h2>Memory</h2><section class=\"panel\">";
  o << "<p>Budget <b>" << (bar.budget ? xml_escape(format_bytes(bar.budget)) : std::string("none")) << "</b> from "
    << xml_escape(bar.budget_source);
  for (const char* key : {"batch_size", "micro_batch", "eval_batch_size"}) {
    if (probe.contains(key) && probe[key].is_number()) {
      o << " &middot; " << (std::string(key) == "batch_size" ? "batch size" : std::string(key) == "micro_batch" ? "micro-batch" : "evaluation batch")
        << " <b>" << probe[key].get<long long>() << "</b>";
    }
  }
  if (bar.budget && bar.measured_peak) {
    o << " &middot; measured peak " << fixed(100.0 * static_cast<double>(bar.measured_peak) / static_cast<double>(bar.budget), 1)
      << "% of the budget";
  }
  o << "</p>";
  double h = 0;
  const double w = 1100;
  const std::string body = svg::draw_memory_bar(bar, w, &h);
  o << svg::svg_root(body, w, h, "Memory breakdown against the budget");
  o << "<table><thead><tr><th class=\"num\">#</th><th>item</th><th class=\"num\">bytes</th><th class=\"num\">size</th>"
       "<th class=\"num\">share</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < bar.items.size(); ++i) {
    const auto& item = bar.items[i];
    const double share = total ? 100.0 * static_cast<double>(item.bytes) / static_cast<double>(total) : 0;
    o << "<tr><td class=\"num\">" << i + 1 << "</td><td><span class=\"swatch\" style=\"background:"
      << svg::segment_colour(i) << "\"></span>" << xml_escape(item.name) << "</td><td class=\"num\">" << item.bytes
      << "</td><td class=\"num\">" << xml_escape(format_bytes(item.bytes)) << "</td><td class=\"num\">"
      << fixed(share, 1) << "%</td></tr>";
  }
  o << "<tr><th></th><th>total</th><th class=\"num\">" << total << "</th><th class=\"num\">"
    << xml_escape(format_bytes(total)) << "</th><th class=\"num\">100%</th></tr></tbody></table></section>";

  const json& trials = probe["trials"];
  o << "<h2>Batch-size trials</h2><section class=\"panel\">";
  if (trials.empty()) {
    o << "<p class=\"muted\">No trials were run (the budget was not enforced or the batch was forced).</p>";
  } else {
    o << "<table><thead><tr><th class=\"num\">#</th><th class=\"num\">micro-batch</th><th class=\"num\">predicted</th>"
         "<th class=\"num\">measured</th><th>result</th></tr></thead><tbody>";
    for (std::size_t i = 0; i < trials.size(); ++i) {
      const json& t = trials[i];
      const auto measured = t["measured_bytes"].get<std::uint64_t>();
      o << "<tr><td class=\"num\">" << i + 1 << "</td><td class=\"num\">" << t["batch"].get<long long>()
        << "</td><td class=\"num\">" << xml_escape(format_bytes(t["predicted_bytes"].get<std::uint64_t>()))
        << "</td><td class=\"num\">" << (measured ? xml_escape(format_bytes(measured)) : std::string("&mdash;"))
        << "</td><td>" << (t["fits"].get<bool>() ? "<span class=\"fits\">&#10003; fits</span>" : "<span class=\"fails\">&#10007; fails</span>")
        << "</td></tr>";
    }
    o << "</tbody></table>";
  }
  o << "</section>";
}

// Settings as rows of JSON pointer and value; an array of objects (layers) gets one row per
// element, printed compactly, since a pointer per field would bury the structure.
void flatten(const json& value, const std::string& pointer, std::vector<std::pair<std::string, std::string>>& rows) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, child] : value.items()) flatten(child, pointer + "/" + key, rows);
    return;
  }
  if (value.is_array() && std::any_of(value.begin(), value.end(), [](const json& v) { return v.is_object(); })) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      rows.emplace_back(pointer + "/" + std::to_string(i), value[i].dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return;
  }
  rows.emplace_back(pointer.empty() ? "/" : pointer,
                    value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, json::error_handler_t::replace));
}

void settings(std::ostringstream& o, const json& settings_json) {
  o << "<h2>Settings</h2><section class=\"panel\">";
  std::vector<std::pair<std::string, std::string>> rows;
  if (settings_json.is_object() && !settings_json.empty()) flatten(settings_json, "", rows);
  if (rows.empty()) {
    o << "<p class=\"muted\">No settings recorded (trainer report --config FILE adds the run's config).</p>";
  } else {
    o << "<table><thead><tr><th>setting</th><th>value</th></tr></thead><tbody>";
    for (const auto& [key, value] : rows) {
      o << "<tr><td class=\"key\">" << xml_escape(key) << "</td><td class=\"val\">" << xml_escape(value) << "</td></tr>";
    }
    o << "</tbody></table>";
  }
  o << "</section>";
}

}  // namespace

std::string render_html(const ReportInput& input) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       // Belt and braces: even a bug that let markup through could load or run nothing.
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
       "<title>"
    << xml_escape(input.title) << "</title><style>" << kStyle << "</style></head>\n<body><main><header><h1>"
    << xml_escape(input.title) << "</h1>";
  if (!input.source.empty()) o << "<p>" << xml_escape(input.source) << "</p>";
  o << "</header>\n";
  if (!input.epochs.empty()) {
    summary(o, input.epochs);
    o << '\n';
    charts(o, input.epochs);
    o << '\n';
  }
  if (input.probe) {
    memory(o, *input.probe);
    o << '\n';
  }
  settings(o, input.settings);
  o << "\n<footer>Written by trainer " << TRAINER_VERSION << ".</footer></main></body></html>\n";
  return o.str();
}

}  // namespace trainer
