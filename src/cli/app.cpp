#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "trainer/error.hpp"

namespace trainer::cli {

// Minimal wiring for the data branch (the integrator registers every command and the globals).
int run(int argc, char** argv) {
  CLI::App app{"trainer: train neural networks inside a RAM budget"};
  app.set_version_flag("--version", TRAINER_VERSION);
  Globals globals;
  app.add_flag("--json", globals.json, "one JSON object on stdout");
  Action action;
  add_inspect(app, globals, action);
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
