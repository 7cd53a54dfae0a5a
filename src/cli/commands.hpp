// The command-line interface: one file per command under src/cli/, each with an options
// struct, an add_<command>() that binds its flags and a run function it installs as the
// action when parsing selects the command.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace trainer::cli {

// Flags common to every command (DESIGN.md "Common flags"); they may follow the subcommand.
struct Globals {
  std::string config;           // --config; empty = ./trainer.json or the built-in demo
  std::string ram;              // --ram; empty = from the config
  std::optional<long long> threads;  // --threads
  std::optional<unsigned long long> seed;  // --seed
  bool json = false;            // --json: one JSON object on stdout
  std::string log_format = "text";  // --log-format text|json
  bool quiet = false;           // --quiet
};

// The chosen command's work; returns the exit code, throws trainer::Error on failure.
using Action = std::function<int()>;

void add_fit(CLI::App& app, Globals& globals, Action& action);
void add_probe_batch(CLI::App& app, Globals& globals, Action& action);
void add_evaluate(CLI::App& app, Globals& globals, Action& action);
void add_predict(CLI::App& app, Globals& globals, Action& action);
void add_inspect(CLI::App& app, Globals& globals, Action& action);
void add_validate(CLI::App& app, Globals& globals, Action& action);
void add_import(CLI::App& app, Globals& globals, Action& action);
void add_report(CLI::App& app, Globals& globals, Action& action);
void add_export(CLI::App& app, Globals& globals, Action& action);

// Parses argv, runs the chosen command, and returns the process exit code.
int run(int argc, char** argv);

}  // namespace trainer::cli
