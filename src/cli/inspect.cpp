// Placeholder until the inspect command lands from its issue; it refuses honestly with exit 1.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"

namespace trainer::cli {

void add_inspect(CLI::App& app, const Globals&, Action& action) {
  auto* sub = app.add_subcommand("inspect", "(not available in this build yet)");
  sub->allow_extras();
  sub->callback([&action] {
    action = [] {
      std::cerr << "trainer inspect: not available in this build yet\n";
      return 1;
    };
  });
}

}  // namespace trainer::cli
