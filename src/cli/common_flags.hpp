// The common flags (DESIGN.md "Common flags"), added to the top-level app and to every command
// that takes them, so that `trainer CMD --help` lists them and they may come before or after
// the command. All copies bind the same Globals.
#pragma once

#include <string>

#include "cli/commands.hpp"

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace trainer::cli {

enum CommonFlag : unsigned {
  kConfigFlag = 1u << 0,   // --config
  kRamFlag = 1u << 1,      // --ram
  kThreadsFlag = 1u << 2,  // --threads
  kSeedFlag = 1u << 3,     // --seed
  kOutputFlags = 1u << 4,  // --json, --log-format, -q/--quiet
  kAllCommonFlags = kConfigFlag | kRamFlag | kThreadsFlag | kSeedFlag | kOutputFlags,
};

void add_common_flags(CLI::App& app, Globals& g, unsigned flags);

// Accepts an integer >= min; refuses anything else with "'0' is not <what>: an integer of at
// least 1" (CLI::PositiveNumber would print a range up to 1.8e308).
CLI::Validator at_least(long long min, const std::string& what);

}  // namespace trainer::cli
