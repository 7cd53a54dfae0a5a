// Dataset: cross-checks of x and y, streamed value checks, standardisation and gathering.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "support/npy_writer.hpp"
#include "trainer/dataset.hpp"
#include "trainer/error.hpp"

using trainer::Dataset;
using trainer::TargetKind;
using trainer::test::write_npy;

namespace {

void check_data_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    FAIL("no error thrown");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 3);
    for (const auto& s : needles) CHECK_THAT(e.what(), Catch::Contains(s));
  }
}

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

TEST_CASE("dataset: x and y of different lengths are refused naming both files", "[data]") {
  auto x = write_npy("len_x.npy", "<f4", {4, 2}, std::vector<float>(8, 1.0f));
  auto y = write_npy("len_y.npy", "<i8", {3}, std::vector<std::int64_t>{0, 1, 0});
  check_data_error([&] { Dataset::open(x, y, TargetKind::class_ids, 2); }, {x, y, "3", "4"});
}

TEST_CASE("dataset: class ids must be (N,) or (N, 1) and targets must match the outputs", "[data]") {
  auto x = write_npy("shape_x.npy", "<f4", {3, 2}, std::vector<float>(6, 1.0f));
  auto y2 = write_npy("shape_y2.npy", "<i8", {3, 2}, std::vector<std::int64_t>(6, 0));
  check_data_error([&] { Dataset::open(x, y2, TargetKind::class_ids, 2); }, {y2});
  auto col = write_npy("shape_col.npy", "<i8", {3, 1}, std::vector<std::int64_t>{1, 0, 1});
  CHECK(Dataset::open(x, col, TargetKind::class_ids, 2).target_width() == 1);
  check_data_error([&] { Dataset::open(x, y2, TargetKind::values, 3); }, {y2, "2 values", "3 outputs"});
  CHECK(Dataset::open(x, y2, TargetKind::values, 2).target_width() == 2);
}

TEST_CASE("dataset: (N, 28, 28) samples are flattened to 784 values", "[data]") {
  const std::string dir = TRAINER_FIXTURES_DIR;
  auto y = write_npy("images_y.npy", "<i8", {21}, std::vector<std::int64_t>(21, 1));
  auto d = Dataset::open(dir + "/npy/u1_images_Nx28x28.npy", y, TargetKind::class_ids, 10);
  CHECK(d.width() == 784);
  CHECK(d.size() == 21);
}

TEST_CASE("dataset: check_values reports the first NaN row of x and the first bad label row of y", "[data]") {
  std::vector<float> xs(10 * 3, 0.5f);
  xs[7 * 3 + 1] = NAN;
  xs[8 * 3] = INFINITY;
  auto x = write_npy("nan_x.npy", "<f4", {10, 3}, xs);
  auto good_x = write_npy("good_x.npy", "<f4", {10, 3}, std::vector<float>(30, 0.5f));
  std::vector<std::int64_t> labels(10, 1);
  auto y = write_npy("ok_y.npy", "<i8", {10}, labels);
  check_data_error([&] { Dataset::open(x, y, TargetKind::class_ids, 3).check_values(); }, {x, "row 7"});
  labels[4] = 3;
  auto bad_y = write_npy("bad_y.npy", "<i8", {10}, labels);
  check_data_error([&] { Dataset::open(good_x, bad_y, TargetKind::class_ids, 3).check_values(); },
                   {bad_y, "row 4"});
  CHECK_NOTHROW(Dataset::open(good_x, y, TargetKind::class_ids, 3).check_values());
  // one output = binary classification: labels 0 and 1 are valid, 2 is not
  labels = std::vector<std::int64_t>(10, 1);
  labels[9] = 2;
  auto binary = write_npy("binary_y.npy", "<u1", {10}, std::vector<std::uint8_t>(labels.begin(), labels.end()));
  check_data_error([&] { Dataset::open(good_x, binary, TargetKind::class_ids, 1).check_values(); },
                   {binary, "row 9"});
}

TEST_CASE("dataset: standardize_stats gives the per-feature mean and 1/std of x*scale", "[data]") {
  // feature 0: 1, 2, 3, 4 (scaled x2: mean 5, population std sqrt(5)); feature 1 constant
  auto x = write_npy("std_x.npy", "<f8", {4, 2}, std::vector<double>{1, 7, 2, 7, 3, 7, 4, 7});
  auto y = write_npy("std_y.npy", "<i4", {4}, std::vector<std::int32_t>{0, 1, 0, 1});
  auto d = Dataset::open(x, y, TargetKind::class_ids, 2);
  auto t = d.standardize_stats(iota(4), 2.0f);
  REQUIRE(t.mean.size() == 2);
  CHECK(t.mean[0] == Approx(5.0));
  CHECK(t.inv_std[0] == Approx(1.0 / std::sqrt(5.0)));
  CHECK(t.mean[1] == Approx(14.0));
  CHECK(t.inv_std[1] == 1.0f);  // constant feature: not scaled up
  // over a subset of rows only
  auto sub = d.standardize_stats(std::vector<std::int64_t>{0, 1}, 1.0f);
  CHECK(sub.mean[0] == Approx(1.5));
  CHECK(sub.inv_std[0] == Approx(2.0));
}

TEST_CASE("dataset: gather fills inputs with the transform and labels or targets", "[data]") {
  auto x = write_npy("g_x.npy", "|u1", {3, 2}, std::vector<std::uint8_t>{0, 255, 16, 32, 64, 128});
  auto y = write_npy("g_y.npy", "<i8", {3, 1}, std::vector<std::int64_t>{2, 0, 1});
  auto d = Dataset::open(x, y, TargetKind::class_ids, 3);
  trainer::InputTransform t;
  t.scale = 0.0625f;
  std::vector<float> xs(4);
  std::vector<std::int32_t> labels(2);
  d.gather(std::vector<std::int64_t>{2, 0}, t, xs.data(), labels.data(), nullptr);
  CHECK(xs == std::vector<float>{4.0f, 8.0f, 0.0f, 255.0f / 16});
  CHECK(labels == std::vector<std::int32_t>{1, 2});

  auto targets = write_npy("g_t.npy", "<f4", {3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  auto r = Dataset::open(x, targets, TargetKind::values, 2);
  std::vector<float> ts(4);
  r.gather(std::vector<std::int64_t>{1, 2}, t, xs.data(), nullptr, ts.data());
  CHECK(ts == std::vector<float>{3, 4, 5, 6});
}
