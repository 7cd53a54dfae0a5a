// The shipped digits demo: importing scikit-learn's digits.csv.gz, checked against sums the test
// computes itself from the gzip'd text, and the committed data/digits files reproduced exactly.
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>

#include "import_test_support.hpp"
#include "trainer/import.hpp"

using trainer::ImportOptions;
using trainer::import_data;
using namespace import_test;

namespace {

const char* const kDigitsCsv = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

struct Expected {
  std::int64_t rows = 0;
  std::int64_t feature_sum = 0;
  std::int64_t label_sum = 0;
  std::array<std::int64_t, 10> per_class{};
};

// Independent of the importer: split the decompressed text on ',' and '\n' by hand.
Expected expected_from_text(const std::string& text) {
  Expected e;
  std::int64_t field = 0, value = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
    } else if (c == ',' || c == '\n') {
      if (field < 64) {
        e.feature_sum += value;
      } else {
        e.label_sum += value;
        if (value >= 0 && value < 10) ++e.per_class[static_cast<std::size_t>(value)];
      }
      if (c == '\n') {
        ++e.rows;
        field = 0;
      } else {
        ++field;
      }
      value = 0;
    }
  }
  return e;
}

std::int64_t byte_sum(const std::string& data) {
  std::int64_t sum = 0;
  for (char c : data) sum += static_cast<unsigned char>(c);
  return sum;
}

}  // namespace

TEST_CASE("digits.csv.gz imports as 1797 uint8 rows of 64 features with labels 0..9 and the right sums", "[import]") {
  if (!std::filesystem::exists(kDigitsCsv)) {
    WARN(kDigitsCsv << " missing (apt-get install python3-sklearn): digits import test skipped");
    return;
  }
  const Expected expected = expected_from_text(read_gzip(kDigitsCsv));
  REQUIRE(expected.rows == 1797);
  ScratchDir dir;
  ImportOptions options;
  options.input = kDigitsCsv;
  options.out_dir = dir.path();
  const auto summary = import_data(options);
  CHECK_FALSE(summary.header);
  CHECK(summary.rows == 1797);
  CHECK(summary.features == 64);
  const ParsedNpy x = load_npy(dir.file("x.npy"));
  const ParsedNpy y = load_npy(dir.file("y.npy"));
  CHECK(x.descr == "|u1");
  CHECK(x.shape == std::vector<std::int64_t>{1797, 64});
  CHECK(y.descr == "|u1");
  CHECK(y.shape == std::vector<std::int64_t>{1797});
  CHECK(byte_sum(x.data) == expected.feature_sum);
  CHECK(byte_sum(y.data) == expected.label_sum);
  std::array<std::int64_t, 10> per_class{};
  for (char c : y.data) {
    const auto label = static_cast<unsigned char>(c);
    REQUIRE(label < 10);
    ++per_class[label];
  }
  CHECK(per_class == expected.per_class);
  for (auto count : per_class) CHECK(count > 0);
}

TEST_CASE("committed data/digits files equal a fresh import with --split-every 6, byte for byte", "[import]") {
  if (!std::filesystem::exists(kDigitsCsv)) {
    WARN(kDigitsCsv << " missing (apt-get install python3-sklearn): digits reproduction test skipped");
    return;
  }
  ScratchDir dir;
  ImportOptions options;  // the command of data/README.md and scripts/make-digits.sh
  options.input = kDigitsCsv;
  options.out_dir = dir.path();
  options.header = trainer::CsvHeader::absent;
  options.label_column = "last";
  options.split_every = 6;
  import_data(options);
  const std::string committed = std::string(TRAINER_SOURCE_DIR) + "/data/digits/";
  for (const char* name : {"train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"}) {
    INFO(name);
    CHECK(read_file(committed + name) == read_file(dir.file(name)));
  }
  CHECK(load_npy(committed + "train_x.npy").shape == std::vector<std::int64_t>{1498, 64});
  CHECK(load_npy(committed + "test_y.npy").shape == std::vector<std::int64_t>{299});
}
