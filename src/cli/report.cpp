// `trainer report METRICS.jsonl [--probe PROBE.json] --output R.html [--format html|svg]`:
// the report of an earlier run (see trainer/report.hpp).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "trainer/config.hpp"
#include "trainer/error.hpp"
#include "trainer/report.hpp"

namespace trainer::cli {
namespace {

struct ReportFlags {
  std::string metrics;
  std::string probe;
  std::string output;
  std::string format = "auto";
  std::string title;
};

// "auto" follows the output's extension, so `--output loss.svg` needs no --format.
ReportFormat choose_format(const ReportFlags& flags) {
  if (flags.format != "auto") return parse_report_format(flags.format, "--format");
  const std::string& out = flags.output;
  const bool svg = out.size() >= 4 && (out.compare(out.size() - 4, 4, ".svg") == 0 || out.compare(out.size() - 4, 4, ".SVG") == 0);
  return svg ? ReportFormat::svg : ReportFormat::html;
}

int run_report(const ReportFlags& flags, const Globals& globals) {
  const ReportFormat format = choose_format(flags);
  ReportInput input;
  input.epochs = read_metrics(flags.metrics);
  input.source = "metrics: " + flags.metrics;
  if (!flags.probe.empty()) {
    input.probe = read_probe(flags.probe);
    input.source += " \u00b7 memory: " + flags.probe;
  }
  // Only an explicit --config: the built-in demo config would describe some other run.
  if (!globals.config.empty()) {
    const Config config = load_config_file(globals.config);
    input.settings = nlohmann::json::parse(config.canonical_json);
    input.source += " \u00b7 config: " + globals.config;
  }
  if (!flags.title.empty()) input.title = flags.title;
  write_report(input, flags.output, format);
  const char* format_name = format == ReportFormat::svg ? "svg" : "html";
  if (globals.json) {
    nlohmann::json out = {{"output", flags.output},
                          {"format", format_name},
                          {"epochs", input.epochs.size()},
                          {"probe", !flags.probe.empty()}};
    std::cout << out.dump() << '\n';
  } else if (!globals.quiet) {
    std::cout << "wrote " << flags.output << " (" << format_name << ", " << input.epochs.size() << " epochs"
              << (flags.probe.empty() ? "" : ", memory breakdown") << ")\n";
  }
  return 0;
}

}  // namespace

void add_report(CLI::App& app, Globals& globals, Action& action) {
  auto flags = std::make_shared<ReportFlags>();
  auto* sub = app.add_subcommand("report", "A self-contained HTML report (or one SVG chart) of a run's metrics");
  add_common_flags(*sub, globals, kConfigFlag | kOutputFlags);
  sub->footer(
      "Examples:\n"
      "  trainer fit --metrics run.jsonl && trainer probe-batch --json > probe.json\n"
      "  trainer report run.jsonl --probe probe.json --output report.html\n"
      "  trainer report run.jsonl --config run.json --output report.html   # adds the settings table\n"
      "  trainer report run.jsonl --output curves.svg                      # loss + accuracy, for a README\n"
      "The HTML has inline SVG and CSS only: no scripts, nothing fetched from the network.");
  sub->add_option("metrics", flags->metrics, "Metrics JSONL written by fit --metrics")->required();
  sub->add_option("--probe", flags->probe, "JSON from probe-batch --json: memory breakdown and trials");
  sub->add_option("--output,-o", flags->output, "Report file to write (replaced atomically)")->required();
  sub->add_option("--format", flags->format, "html, svg, or auto (svg when --output ends in .svg)")
      ->default_str("auto");
  sub->add_option("--title", flags->title, "Heading of the report")->default_str("trainer report");
  sub->callback([flags, &globals, &action] { action = [flags, &globals] { return run_report(*flags, globals); }; });
}

}  // namespace trainer::cli
