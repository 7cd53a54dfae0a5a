// Shared plumbing of the libFuzzer targets: a private scratch folder (on tmpfs when there is
// one, so the fsyncs of the writers cost nothing) and writing the fuzzer's bytes to a file
// there, because the readers under test take paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace trainer_fuzz {

// Inputs above this size are skipped: the formats under test have no reason to need more to
// reach any code path, and big inputs only slow the fuzzer down.
inline constexpr std::size_t kMaxInput = std::size_t{1} << 20;

// This process's scratch folder, created on first use and removed at exit.
const std::string& scratch_dir();

// Writes bytes to scratch_dir()/name (replacing it) and returns the path.
std::string write_file(const std::string& name, const std::uint8_t* data, std::size_t size);

// Removes everything inside `dir` (not dir itself).
void clear_dir(const std::string& dir);

// Silences the library's log output (called from each target's LLVMFuzzerInitialize).
void quiet_logs();

}  // namespace trainer_fuzz
