// trainer report: the HTML report lands with its own issue; until then it refuses with exit 1.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"

namespace trainer::cli {

void add_report(CLI::App& app, const Globals&, Action& action) {
  auto* sub = app.add_subcommand("report", "HTML report of a run's metrics (not available in this version)");
  sub->allow_extras();
  sub->callback([&action] {
    action = [] {
      std::cerr << "trainer: report is not available in this version (see issue 9); "
                   "the metrics JSONL from fit --metrics holds the same figures\n";
      return 1;
    };
  });
}

}  // namespace trainer::cli
