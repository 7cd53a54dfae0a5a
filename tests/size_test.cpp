#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "trainer/error.hpp"
#include "trainer/size.hpp"

using trainer::Error;
using trainer::SizeSpec;

namespace {

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;

std::uint64_t bytes_of(const std::string& text) {
  const SizeSpec s = trainer::parse_size(text, "--ram");
  REQUIRE(s.kind == SizeSpec::Kind::bytes);
  return s.bytes;
}

// The Error a refused size throws; fails the test when the text is accepted.
Error refusal(const std::string& text) {
  try {
    trainer::parse_size(text, "--ram");
  } catch (const Error& e) {
    return e;
  }
  FAIL("parse_size accepted `" << text << "`");
  throw;  // unreachable: FAIL throws
}

}  // namespace

TEST_CASE("parse_size reads unit suffixes as binary units in every spelling", "[size]") {
  CHECK(bytes_of("12G") == 12 * GiB);
  CHECK(bytes_of("12GB") == 12 * GiB);
  CHECK(bytes_of("12GiB") == 12 * GiB);
  CHECK(bytes_of("512M") == 512 * MiB);
  CHECK(bytes_of("512MB") == 512 * MiB);
  CHECK(bytes_of("512MiB") == 512 * MiB);
  CHECK(bytes_of("64K") == 64 * KiB);
  CHECK(bytes_of("64KB") == 64 * KiB);
  CHECK(bytes_of("64KiB") == 64 * KiB);
  CHECK(bytes_of("2T") == 2 * TiB);
  CHECK(bytes_of("2TiB") == 2 * TiB);
}

TEST_CASE("parse_size ignores the case of unit letters", "[size]") {
  CHECK(bytes_of("512m") == 512 * MiB);
  CHECK(bytes_of("1gib") == GiB);
  CHECK(bytes_of("3kb") == 3 * KiB);
}

TEST_CASE("parse_size reads plain byte counts", "[size]") {
  CHECK(bytes_of("1073741824") == GiB);
  CHECK(bytes_of("100B") == 100);
  CHECK(bytes_of("18446744073709551615") == UINT64_MAX);
}

TEST_CASE("parse_size reads decimal amounts with a unit, rounding down to bytes", "[size]") {
  CHECK(bytes_of("1.5G") == GiB + GiB / 2);
  CHECK(bytes_of("1.5GiB") == GiB + GiB / 2);
  CHECK(bytes_of("0.5K") == 512);
  CHECK(bytes_of("1.3G") == 1395864371);  // 1.3 * 2^30 = 1395864371.2
}

TEST_CASE("parse_size reads auto and none", "[size]") {
  CHECK(trainer::parse_size("auto", "--ram").kind == SizeSpec::Kind::automatic);
  CHECK(trainer::parse_size("none", "--ram").kind == SizeSpec::Kind::none);
}

TEST_CASE("parse_size refuses malformed sizes with exit 2, the flag and the accepted forms",
          "[size]") {
  for (const char* bad : {"", "-1G", "-5", "12X", "G", "1.5", "1.5B", "12 G", " 12G", "1.G",
                          ".5G", "1e9", "+3G", "12GG", "12Gi", "12iB", "12GBs", "Auto", "0x10"}) {
    INFO("input: `" << bad << "`");
    const Error e = refusal(bad);
    CHECK(e.exit_code() == 2);
    CHECK(e.where() == "--ram");
    CHECK(e.valid() ==
          "accepted forms: 12G, 12GB, 12GiB, 512M, 1.5G, 1073741824, auto, none "
          "(binary units: 1G = 1024^3 bytes)");
  }
}

TEST_CASE("parse_size refuses sizes past 2^64 bytes", "[size]") {
  CHECK(refusal("18446744073709551616").fault().find("2^64") != std::string::npos);
  CHECK(refusal("17179869184G").fault().find("2^64") != std::string::npos);  // exactly 2^64
  CHECK(refusal("99999999999999999999999T").exit_code() == 2);
  CHECK(bytes_of("17179869183G") == 17179869183ull * GiB);
}

TEST_CASE("parse_size names the place it was given in the error", "[size]") {
  try {
    trainer::parse_size("12X", "run.json: /memory/ram");
    FAIL("accepted 12X");
  } catch (const Error& e) {
    CHECK(e.where() == "run.json: /memory/ram");
    CHECK(std::string(e.what()).find("unknown unit `X`") != std::string::npos);
  }
}

TEST_CASE("format_bytes renders bytes below 1 KiB exactly and larger sizes in binary units",
          "[size]") {
  CHECK(trainer::format_bytes(0) == "0 B");
  CHECK(trainer::format_bytes(100) == "100 B");
  CHECK(trainer::format_bytes(1023) == "1023 B");
  CHECK(trainer::format_bytes(1024) == "1.00 KiB");
  CHECK(trainer::format_bytes(512 * MiB) == "512.00 MiB");
  CHECK(trainer::format_bytes(GiB + GiB / 2) == "1.50 GiB");
  CHECK(trainer::format_bytes(3 * TiB) == "3.00 TiB");
}
