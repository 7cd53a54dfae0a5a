#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "trainer/error.hpp"

namespace trainer::cli {

int run(int argc, char** argv) {
  CLI::App app{"trainer: train neural networks inside a RAM budget"};
  app.set_version_flag("--version", TRAINER_VERSION);
  // Minimal wiring (from the import branch) so `trainer import` can be exercised end to end;
  // the CLI issue owns this file and registers every command with its common flags.
  Globals globals;
  Action action;
  app.fallthrough();
  app.add_flag("--json", globals.json, "One JSON object on stdout instead of text");
  app.add_flag("--quiet", globals.quiet, "Less output");
  add_import(app, globals, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!action) return 0;
  try {
    return action();
  } catch (const Error& e) {
    std::cerr << "trainer: " << e.what() << '\n';
    return e.exit_code();
  }
}

}  // namespace trainer::cli
