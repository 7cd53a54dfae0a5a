// Fuzzes the config loader (load_config_text): JSON syntax, every key's type and range checks,
// the suggestions for unknown keys, and the canonical form. A config that loads must load again
// from its own canonical JSON to the same canonical JSON and the same config_hash: checkpoints
// store that text, so it has to stay a valid config.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "trainer/config.hpp"
#include "trainer/error.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trainer_fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > trainer_fuzz::kMaxInput) return -1;
  const std::string text(reinterpret_cast<const char*>(data), size);
  trainer::Config config;
  try {
    config = trainer::load_config_text(text, "fuzz.json", "/fuzz/base");
  } catch (const trainer::Error& e) {
    if (e.exit_code() != 2) __builtin_trap();  // every config fault is a usage error
    return 0;
  }
  // No try here: a refusal of the loader's own output is a finding.
  const trainer::Config again = trainer::load_config_text(config.canonical_json, "canonical.json", "/fuzz/base");
  if (again.canonical_json != config.canonical_json) __builtin_trap();
  if (trainer::config_hash(again) != trainer::config_hash(config)) __builtin_trap();
  return 0;
}
