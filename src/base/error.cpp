#include "trainer/error.hpp"

#include <utility>

namespace trainer {
namespace {

std::string compose(const std::string& where, const std::string& fault, const std::string& valid) {
  std::string text = where.empty() ? fault : where + ": " + fault;
  if (!valid.empty()) text += " (" + valid + ")";
  return text;
}

}  // namespace

Error::Error(ExitCode code, std::string where, std::string fault, std::string valid)
    : std::runtime_error(compose(where, fault, valid)),
      code_(code),
      where_(std::move(where)),
      fault_(std::move(fault)),
      valid_(std::move(valid)) {}

Error Error::usage(std::string where, std::string fault, std::string valid) {
  return {ExitCode::usage, std::move(where), std::move(fault), std::move(valid)};
}
Error Error::data(std::string where, std::string fault, std::string valid) {
  return {ExitCode::data, std::move(where), std::move(fault), std::move(valid)};
}
Error Error::runtime(std::string where, std::string fault, std::string valid) {
  return {ExitCode::runtime, std::move(where), std::move(fault), std::move(valid)};
}
Error Error::budget(std::string where, std::string fault, std::string valid) {
  return {ExitCode::budget, std::move(where), std::move(fault), std::move(valid)};
}
Error Error::diverged(std::string where, std::string fault, std::string valid) {
  return {ExitCode::diverged, std::move(where), std::move(fault), std::move(valid)};
}
Error Error::interrupted(std::string where, std::string fault) {
  return {ExitCode::interrupted, std::move(where), std::move(fault), {}};
}

std::string at_key(const std::string& file, const std::string& pointer) {
  if (file.empty()) return pointer;
  if (pointer.empty()) return file;
  return file + ": " + pointer;
}

}  // namespace trainer
