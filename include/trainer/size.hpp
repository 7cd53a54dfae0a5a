// Parsing of memory sizes as users write them: "12G", "12GB", "12GiB", "512M", "1.5G",
// "1073741824", "auto", "none". Units are binary (K = 1024) whether or not an "i" is written,
// and their letters are case-insensitive ("512m" = "512M"). Decimals need a unit and round
// down to whole bytes; "0" is accepted here (a budget too small is the planner's exit 4).
#pragma once

#include <cstdint>
#include <string>

namespace trainer {

struct SizeSpec {
  enum class Kind { bytes, automatic, none };
  Kind kind = Kind::automatic;
  std::uint64_t bytes = 0;  // meaningful when kind == bytes
};

// where: the flag ("--ram") or "file: /memory/ram", used in the Error (exit 2) on bad input.
SizeSpec parse_size(const std::string& text, const std::string& where);

// "1.50 GiB"-style rendering for logs and tables.
std::string format_bytes(std::uint64_t bytes);

}  // namespace trainer
