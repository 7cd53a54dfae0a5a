// Fuzzes parse_size ("12G", "1.5GiB", "auto", ...). Beyond not crashing: a refusal is always a
// usage error (exit 2), and an accepted plain byte count renders back to the same number.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "trainer/error.hpp"
#include "trainer/size.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trainer_fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return -1;  // sizes are short; long inputs only repeat digits
  const std::string text(reinterpret_cast<const char*>(data), size);
  trainer::SizeSpec spec;
  try {
    spec = trainer::parse_size(text, "--ram");
  } catch (const trainer::Error& e) {
    if (e.exit_code() != 2) __builtin_trap();
    return 0;
  }
  (void)trainer::format_bytes(spec.bytes);
  if (spec.kind != trainer::SizeSpec::Kind::bytes) return 0;
  // Every accepted size is a byte count that parses back to itself.
  if (trainer::parse_size(std::to_string(spec.bytes), "--ram").bytes != spec.bytes) __builtin_trap();
  // A plain number of bytes ("0123" or "123B") is exactly that number.
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string rest = text.substr(digits);
  if (rest.empty() || rest == "b" || rest == "B") {
    std::string number = text.substr(0, digits);
    while (number.size() > 1 && number[0] == '0') number.erase(0, 1);
    if (number != std::to_string(spec.bytes)) __builtin_trap();
  }
  return 0;
}
