// Loading the config a command runs with and applying the common flags over it.
#pragma once

#include <string>

#include "cli/commands.hpp"
#include "trainer/config.hpp"

namespace trainer::cli {

// --config, else ./trainer.json, else the built-in demo (logged); then --ram/--threads/--seed.
Config load_run_config(const Globals& g);

// "N", "auto" and (when allow_full) "full", for --batch-size / --micro-batch.
BatchSpec parse_batch_flag(const std::string& text, const std::string& flag, bool allow_full);

}  // namespace trainer::cli
