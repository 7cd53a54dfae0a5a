// The loader side of the loader/schema agreement: scripts/check-schema.py (CTest entry
// config_schema) holds configs/trainer.schema.json to the same files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/error.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> json_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json" && entry.path().filename() != "trainer.schema.json") {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const fs::path kSource = TRAINER_SOURCE_DIR;

}  // namespace

TEST_CASE("every shipped config and every valid test config loads", "[config][schema]") {
  auto files = json_files(kSource / "configs");
  REQUIRE(files.size() >= 2);
  const auto valid = json_files(kSource / "tests/configs/valid");
  REQUIRE(!valid.empty());
  files.insert(files.end(), valid.begin(), valid.end());
  for (const auto& path : files) {
    INFO(path.string());
    CHECK_NOTHROW(trainer::load_config_file(path.string()));
  }
}

TEST_CASE("every invalid test config is refused by the loader with exit 2", "[config][schema]") {
  const auto files = json_files(kSource / "tests/configs/invalid");
  REQUIRE(files.size() >= 20);
  for (const auto& path : files) {
    INFO(path.string());
    try {
      trainer::load_config_file(path.string());
      FAIL_CHECK("accepted " << path.string());
    } catch (const trainer::Error& e) {
      CHECK(e.exit_code() == 2);
      // Every refusal names the file it came from.
      CHECK(e.where().rfind(path.string(), 0) == 0);
    }
  }
}
