#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "trainer/error.hpp"

namespace trainer::cli {

int run(int argc, char** argv) {
  CLI::App app{"trainer: train neural networks inside a RAM budget"};
  app.set_version_flag("--version", TRAINER_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return 0;
}

}  // namespace trainer::cli
