// Memory sizes as users write them (see size.hpp). Accepted, with the unit letters
// case-insensitive ("512m" = "512M" = "512MiB"): a plain byte count ("1073741824", "1024B"),
// a whole or decimal number with a unit K, M, G or T, optionally followed by "B" or "iB"
// ("12G", "12GB", "12GiB", "1.5G"), and the words "auto" and "none". Units are always binary:
// people who type "12GB" for a RAM budget mean what `free -g` shows, and one rule is easier
// to remember than two. A decimal amount is rounded down to whole bytes; a fraction of a plain
// byte count is refused because it is a mistake, not a rounding.
#include "trainer/size.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <optional>

#include "trainer/error.hpp"

namespace trainer {
namespace {

__extension__ typedef unsigned __int128 wide_t;  // holds amount * unit without overflow

constexpr const char* kAccepted =
    "accepted forms: 12G, 12GB, 12GiB, 512M, 1.5G, 1073741824, auto, none "
    "(binary units: 1G = 1024^3 bytes)";

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The multiplier of a unit suffix ("" = bytes), or nothing when the suffix is not a unit.
std::optional<std::uint64_t> unit_multiplier(const std::string& suffix) {
  std::string s;
  for (char c : suffix) s += lower(c);
  if (s.empty() || s == "b") return 1;
  static constexpr std::array<char, 4> letters{'k', 'm', 'g', 't'};
  std::uint64_t mult = 1;
  for (char letter : letters) {
    mult *= 1024;
    if (s[0] != letter) continue;
    const std::string rest = s.substr(1);
    if (rest.empty() || rest == "b" || rest == "ib") return mult;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

SizeSpec parse_size(const std::string& text, const std::string& where) {
  auto refuse = [&](const std::string& why) {
    return Error::usage(where, why, kAccepted);
  };
  if (text == "auto") return {SizeSpec::Kind::automatic, 0};
  if (text == "none") return {SizeSpec::Kind::none, 0};
  if (text.empty()) throw refuse("empty size");
  if (text[0] == '-') throw refuse("negative size `" + text + "`");

  std::size_t i = 0;
  wide_t whole = 0;
  while (i < text.size() && is_digit(text[i])) {
    whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
    if (whole > UINT64_MAX) throw refuse("size `" + text + "` is larger than 2^64 bytes");
    ++i;
  }
  if (i == 0) throw refuse("`" + text + "` does not start with a number");

  // Fraction digits beyond 18 change less than a byte even in TiB, so they are dropped.
  wide_t frac = 0, frac_scale = 1;
  bool has_fraction = false;
  if (i < text.size() && text[i] == '.') {
    has_fraction = true;
    ++i;
    const std::size_t first = i;
    while (i < text.size() && is_digit(text[i])) {
      if (i - first < 18) {
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        frac_scale *= 10;
      }
      ++i;
    }
    if (i == first) throw refuse("`" + text + "` has no digits after the decimal point");
  }

  const std::string suffix = text.substr(i);
  const auto mult = unit_multiplier(suffix);
  if (!mult) throw refuse("unknown unit `" + suffix + "` in `" + text + "`");
  if (has_fraction && *mult == 1) {
    throw refuse("`" + text + "` is a fraction of a byte count; give a unit for decimals");
  }
  const wide_t bytes = whole * *mult + frac * *mult / frac_scale;
  if (bytes > UINT64_MAX) throw refuse("size `" + text + "` is larger than 2^64 bytes");
  return {SizeSpec::Kind::bytes, static_cast<std::uint64_t>(bytes)};
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr std::array<const char*, 6> units{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t u = 0;
  while (value >= 1024.0 && u + 1 < units.size()) {
    value /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", value, units[u]);
  return buf;
}

}  // namespace trainer
