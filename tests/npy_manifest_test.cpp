// Every case of the public .npy fixture manifest (files written by real NumPy): valid files give
// the manifest's header facts and checksums computed from our own reads; malformed ones are
// refused with exit code 3 and a message naming the file.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "trainer/error.hpp"
#include "trainer/npy.hpp"

namespace {

using trainer::DType;
using trainer::NpyArray;

const std::string kNpyDir = std::string(TRAINER_FIXTURES_DIR) + "/npy/";

const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(kNpyDir + "manifest.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return m;
}

const nlohmann::json& find_case(const std::string& name) {
  for (const auto& c : manifest()["cases"])
    if (c["name"] == name) return c;
  FAIL("case " << name << " is not in the manifest");
  throw;  // unreachable
}

// Types whose every value is exactly a float, so float32 batches reproduce the checksums.
bool float_exact(DType d) {
  return d == DType::b1 || d == DType::u1 || d == DType::i1 || d == DType::u2 || d == DType::i2 ||
         d == DType::f2 || d == DType::f4;
}

void check_sums(const std::vector<double>& x, const nlohmann::json& checksum, const char* source) {
  double sum = 0, weighted = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sum += x[i];
    weighted += x[i] * static_cast<double>(i + 1);
  }
  INFO("values from " << source);
  CHECK(std::abs(sum - checksum["sum"].get<double>()) <= 1e-12 * checksum["abs_sum"].get<double>());
  CHECK(std::abs(weighted - checksum["weighted_sum"].get<double>()) <=
        1e-12 * checksum["abs_weighted_sum"].get<double>());
}

void check_valid(const nlohmann::json& c, const std::string& path) {
  NpyArray a = NpyArray::open(path);
  const auto& h = a.header();
  CHECK(h.dtype_str() == c["dtype"].get<std::string>());
  CHECK(h.shape == c["shape"].get<std::vector<std::int64_t>>());
  CHECK(h.version_str() == c["version"].get<std::string>());
  CHECK(h.header_len == c["header_len"].get<std::uint64_t>());
  CHECK(h.data_offset == c["data_offset"].get<std::uint64_t>());
  CHECK(a.file_size() == c["file_size"].get<std::uint64_t>());
  CHECK(h.fortran_order == c["fortran_order"].get<bool>());

  std::vector<double> x(h.count);
  for (std::uint64_t i = 0; i < h.count; ++i) x[i] = a.element(i);
  const auto& first = c["first_values_c_order"];
  for (std::size_t i = 0; i < first.size(); ++i)
    CHECK(x[i] == (first[i].is_boolean() ? (first[i].get<bool>() ? 1.0 : 0.0) : first[i].get<double>()));
  check_sums(x, c["checksum"], "element()");
  if (c["checksum"].contains("sum_int")) {
    __int128 sum = 0, weighted = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      auto v = static_cast<std::int64_t>(x[i]);
      sum += v;
      weighted += static_cast<__int128>(v) * static_cast<__int128>(i + 1);
    }
    CHECK(static_cast<std::int64_t>(sum) == c["checksum"]["sum_int"].get<std::int64_t>());
    CHECK(static_cast<std::int64_t>(weighted) == c["checksum"]["weighted_sum_int"].get<std::int64_t>());
  }

  if (h.shape.empty()) {  // a 0-d scalar has no samples
    CHECK_THROWS_AS(a.rows(), trainer::Error);
    return;
  }
  std::vector<std::int64_t> rows(static_cast<std::size_t>(a.rows()));
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<std::int64_t>(r);
  std::vector<float> batch(h.count);
  a.gather_f32(rows, batch.data());
  if (float_exact(h.dtype)) {
    check_sums(std::vector<double>(batch.begin(), batch.end()), c["checksum"], "gather_f32()");
  } else {
    for (std::size_t i = 0; i < batch.size(); ++i) CHECK(batch[i] == static_cast<float>(x[i]));
  }
}

void check_refused(const std::string& path) {
  try {
    NpyArray a = NpyArray::open(path);
    FAIL("accepted " << path);
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
}

void check_manifest_case(const std::string& name) {
  const auto& c = find_case(name);
  const std::string path = kNpyDir + c["file"].get<std::string>();
  INFO(path << ": " << c.value("description", c.value("reason", "")));
  if (c["expect"] == "ok")
    check_valid(c, path);
  else
    check_refused(path);
}

}  // namespace

#define NPY_MANIFEST_CASE(name) \
  TEST_CASE("npy manifest case " name, "[npy][manifest]") { check_manifest_case(name); }
#include "npy_manifest_cases.inc"
#undef NPY_MANIFEST_CASE

TEST_CASE("npy manifest: the generated case list covers every manifest case", "[npy][manifest]") {
  std::set<std::string> listed;
#define NPY_MANIFEST_CASE(name) listed.insert(name);
#include "npy_manifest_cases.inc"
#undef NPY_MANIFEST_CASE
  std::set<std::string> in_manifest;
  for (const auto& c : manifest()["cases"]) in_manifest.insert(c["name"].get<std::string>());
  CHECK(listed == in_manifest);  // else rerun scripts/gen_npy_manifest_cases.py
}
