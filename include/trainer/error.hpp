// trainer::Error — the one error type of the project.
//
// Every failure a user can cause or meet is an Error carrying the exit code of DESIGN.md,
// where it happened (a file path, a JSON pointer such as "/optimizer/lr", or a flag such as
// "--ram"), what is wrong, and what would be valid. Library code throws; only main() turns an
// Error into a message and an exit code, so forked probes and tests can see every failure.
#pragma once

#include <stdexcept>
#include <string>

namespace trainer {

enum class ExitCode : int {
  ok = 0,
  runtime = 1,      // writing outputs, I/O faults during a run
  usage = 2,        // command line or config
  data = 3,         // data file or checkpoint missing, unreadable, malformed, inconsistent
  budget = 4,       // memory budget cannot be met
  diverged = 5,     // NaN/Inf loss
  interrupted = 130 // SIGINT/SIGTERM
};

class Error : public std::runtime_error {
 public:
  // where: file, JSON pointer or flag (may combine: "run.json: /optimizer/lr").
  // fault: what is wrong. valid: what would be accepted (may be empty).
  Error(ExitCode code, std::string where, std::string fault, std::string valid = {});

  static Error usage(std::string where, std::string fault, std::string valid = {});
  static Error data(std::string where, std::string fault, std::string valid = {});
  static Error runtime(std::string where, std::string fault, std::string valid = {});
  static Error budget(std::string where, std::string fault, std::string valid = {});
  static Error diverged(std::string where, std::string fault, std::string valid = {});
  static Error interrupted(std::string where, std::string fault);

  ExitCode code() const noexcept { return code_; }
  int exit_code() const noexcept { return static_cast<int>(code_); }
  const std::string& where() const noexcept { return where_; }
  const std::string& fault() const noexcept { return fault_; }
  const std::string& valid() const noexcept { return valid_; }

 private:
  ExitCode code_;
  std::string where_;
  std::string fault_;
  std::string valid_;
};

// "file: /key" — joins a file and a JSON pointer the way every message names a config key.
std::string at_key(const std::string& file, const std::string& pointer);

}  // namespace trainer
