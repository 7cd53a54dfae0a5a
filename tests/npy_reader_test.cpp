// NpyArray behaviours beyond the manifest: half-float conversion, twins in other orders and byte
// orders, the on-the-fly transform, label checks and page release.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "support/npy_writer.hpp"
#include "trainer/error.hpp"
#include "trainer/npy.hpp"

using trainer::NpyArray;
using trainer::test::write_npy;

namespace {

template <typename T>
std::vector<T> byteswapped(std::vector<T> v) {
  for (auto& x : v) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &x, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    std::memcpy(&x, b, sizeof(T));
  }
  return v;
}

void check_error(const std::function<void()>& f, const std::string& needle1, const std::string& needle2 = {}) {
  try {
    f();
    FAIL("no error thrown");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK_THAT(e.what(), Catch::Contains(needle1));
    if (!needle2.empty()) CHECK_THAT(e.what(), Catch::Contains(needle2));
  }
}

}  // namespace

TEST_CASE("npy: float16 converts normals, subnormals, signed zero, infinities and NaN", "[npy]") {
  const std::vector<std::uint16_t> bits = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400,
                                           0x8000, 0x7C00, 0xFC00, 0x7E00, 0x3555};
  const std::vector<double> expected = {1.0, -2.0, 65504.0, std::ldexp(1.0, -24), std::ldexp(1023.0, -24),
                                        std::ldexp(1.0, -14), -0.0, INFINITY, -INFINITY, NAN,
                                        0.333251953125};
  auto little = NpyArray::open(write_npy("half_le.npy", "<f2", {11}, bits));
  auto big = NpyArray::open(write_npy("half_be.npy", ">f2", {11}, byteswapped(bits)));
  std::vector<std::int64_t> rows(11);
  for (int i = 0; i < 11; ++i) rows[i] = i;
  std::vector<float> batch(11);
  big.gather_f32(rows, batch.data());
  for (std::size_t i = 0; i < bits.size(); ++i) {
    INFO("half bits " << bits[i]);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(little.element(i)));
      CHECK(std::isnan(batch[i]));
      continue;
    }
    CHECK(little.element(i) == expected[i]);
    CHECK(batch[i] == static_cast<float>(expected[i]));
    CHECK(std::signbit(little.element(i)) == std::signbit(expected[i]));
  }
}

TEST_CASE("npy: Fortran-ordered and big-endian twins give the same batches as the C-ordered file, also permuted",
          "[npy]") {
  const std::int64_t n = 7, a = 3, b = 5;  // shape (7, 3, 5)
  std::vector<float> c_order(n * a * b), f_order(n * a * b);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < a; ++j)
      for (std::int64_t k = 0; k < b; ++k) {
        const float v = static_cast<float>(i * 100 + j * 10 + k) + 0.25f;
        c_order[(i * a + j) * b + k] = v;
        f_order[i + n * (j + a * k)] = v;  // column-major: first index fastest
      }
  auto c = NpyArray::open(write_npy("twin_c.npy", "<f4", {n, a, b}, c_order));
  auto f = NpyArray::open(write_npy("twin_f.npy", "<f4", {n, a, b}, f_order, true));
  auto fbe = NpyArray::open(write_npy("twin_fbe.npy", ">f4", {n, a, b}, byteswapped(f_order), true));
  auto cbe = NpyArray::open(write_npy("twin_cbe.npy", ">f4", {n, a, b}, byteswapped(c_order)));
  const std::vector<std::int64_t> rows = {6, 0, 3, 3, 1};
  std::vector<float> mean(15), inv_std(15);
  for (int j = 0; j < 15; ++j) {
    mean[j] = 0.5f * static_cast<float>(j);
    inv_std[j] = 1.0f / static_cast<float>(j + 1);
  }
  std::vector<float> want(rows.size() * 15);
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t j = 0; j < 15; ++j)
      want[r * 15 + j] = (c_order[rows[r] * 15 + j] * 2.0f - mean[j]) * inv_std[j];
  for (const NpyArray* array : {&c, &f, &fbe, &cbe}) {
    INFO(array->path());
    CHECK(array->row_width() == 15);
    std::vector<float> got(want.size());
    array->gather_f32(rows, got.data(), 2.0f, mean, inv_std);
    CHECK(got == want);
    // With `to`, the same rows land permuted: rows[i] in output row to[i].
    const std::vector<std::int64_t> to = {2, 4, 0, 1, 3};
    std::vector<float> placed(want.size());
    array->gather_f32(rows, placed.data(), 2.0f, mean, inv_std, to);
    bool all_placed = true;
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::size_t j = 0; j < 15; ++j)
        all_placed = all_placed && placed[static_cast<std::size_t>(to[r]) * 15 + j] == want[r * 15 + j];
    CHECK(all_placed);
  }
}

TEST_CASE("npy: every integer dtype converts exactly in both byte orders", "[npy]") {
  const std::vector<std::int16_t> i2 = {-32768, -1, 0, 1, 32767};
  const std::vector<std::uint32_t> u4 = {0, 1, 2147483648u, 4294967295u};
  const std::vector<std::int64_t> i8 = {-(std::int64_t{1} << 40), -3, 0, std::int64_t{1} << 44};
  auto a = NpyArray::open(write_npy("i2be.npy", ">i2", {5}, byteswapped(i2)));
  auto b = NpyArray::open(write_npy("u4be.npy", ">u4", {4}, byteswapped(u4)));
  auto c = NpyArray::open(write_npy("i8le.npy", "<i8", {4}, i8));
  for (std::size_t i = 0; i < i2.size(); ++i) CHECK(a.element(i) == i2[i]);
  for (std::size_t i = 0; i < u4.size(); ++i) CHECK(b.element(i) == u4[i]);
  for (std::size_t i = 0; i < i8.size(); ++i) CHECK(c.element(i) == static_cast<double>(i8[i]));
}

TEST_CASE("npy: nonzero_extent spans each row's values whose bytes are not all zero, in any dtype and byte order",
          "[npy]") {
  using Extents = std::vector<std::pair<std::int64_t, std::int64_t>>;
  const auto extents = [](const NpyArray& a, const std::vector<std::int64_t>& rows) {
    std::vector<std::int64_t> first(rows.size(), -1), end(rows.size(), -1);
    a.nonzero_extent(rows, first.data(), end.data());
    Extents e;
    for (std::size_t i = 0; i < rows.size(); ++i) e.emplace_back(first[i], end[i]);
    return e;
  };
  // Rows longer than a word, so both the word loop and the byte loop decide.
  const std::int64_t w = 19;
  std::vector<std::uint8_t> u1(4 * w, 0);
  u1[0 * w + 9] = 3;  // row 0: [9, 12)
  u1[0 * w + 11] = 5;
  u1[2 * w + 0] = 1;  // row 2: [0, 1); row 1 is all zero
  u1[3 * w + 1] = 2;  // row 3: [1, 19)
  u1[3 * w + 18] = 9;
  auto bytes = NpyArray::open(write_npy("extent_u1.npy", "|u1", {4, w}, u1));
  CHECK(extents(bytes, {3, 0, 1, 2, 0}) == Extents{{1, 19}, {9, 12}, {0, 0}, {0, 1}, {9, 12}});

  // 2.0f is 00 00 00 40 little-endian: the value's zero bytes still belong to it.
  std::vector<float> f4(2 * 10, 0.0f);
  f4[0] = 2.0f;  // row 0: [0, 5)
  f4[4] = 2.0f;
  f4[10 + 7] = -0.0f;  // row 1: a negative zero's sign byte is not zero: [7, 8)
  auto floats = NpyArray::open(write_npy("extent_f4.npy", "<f4", {2, 10}, f4));
  CHECK(extents(floats, {0, 1}) == Extents{{0, 5}, {7, 8}});
  std::vector<std::int16_t> i2(2 * 6, 0);
  i2[3] = 1;  // big-endian 00 01: row 0 is [3, 4)
  i2[6 + 5] = 256;  // 01 00: row 1 is [5, 6)
  auto big = NpyArray::open(write_npy("extent_i2be.npy", ">i2", {2, 6}, byteswapped(i2)));
  CHECK(extents(big, {0, 1}) == Extents{{3, 4}, {5, 6}});

  std::vector<double> f8(5, 0.0);
  f8[2] = 1.0;  // 00 00 00 00 00 00 f0 3f: the value's last byte alone is not zero
  auto doubles = NpyArray::open(write_npy("extent_f8.npy", "<f8", {1, 5}, f8));
  CHECK(extents(doubles, {0}) == Extents{{2, 3}});

  // A Fortran-ordered row is spread over the file: reported whole.
  auto fortran = NpyArray::open(write_npy("extent_f.npy", "<f4", {2, 10}, f4, true));
  CHECK(extents(fortran, {1, 0}) == Extents{{0, 10}, {0, 10}});
}

TEST_CASE("npy: labels outside 0..classes-1 or non-integral are refused naming the file and row", "[npy]") {
  const std::vector<std::int64_t> rows = {0, 1, 2};
  std::vector<std::int32_t> out(3);
  auto ints = NpyArray::open(write_npy("labels.npy", "<i8", {3}, std::vector<std::int64_t>{0, 9, 10}));
  ints.gather_labels(std::vector<std::int64_t>{0, 1}, out.data(), 10);
  CHECK(out[0] == 0);
  CHECK(out[1] == 9);
  check_error([&] { ints.gather_labels(rows, out.data(), 10); }, ints.path(), "row 2");
  auto negative = NpyArray::open(write_npy("labels_neg.npy", "<i4", {3}, std::vector<std::int32_t>{1, -1, 0}));
  check_error([&] { negative.gather_labels(rows, out.data(), 10); }, negative.path(), "row 1");
  auto floats = NpyArray::open(write_npy("labels_f.npy", "<f4", {3}, std::vector<float>{1.0f, 2.0f, 2.5f}));
  check_error([&] { floats.gather_labels(rows, out.data(), 10); }, floats.path(), "row 2");
  auto wide = NpyArray::open(write_npy("labels_wide.npy", "<i8", {1, 3}, std::vector<std::int64_t>{0, 1, 2}));
  check_error([&] { wide.gather_labels(std::vector<std::int64_t>{0}, out.data(), 10); }, wide.path());
}

TEST_CASE("npy: missing files and directories are data errors naming the path", "[npy]") {
  const std::string missing = trainer::test::temp_path("does-not-exist.npy");
  check_error([&] { NpyArray::open(missing); }, missing);
  const std::string dir = std::string(TRAINER_FIXTURES_DIR) + "/npy";
  check_error([&] { NpyArray::open(dir); }, dir, "directory");
}

TEST_CASE("npy: released rows read back the same values", "[npy]") {
  std::vector<float> values(4096 * 8);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  auto a = NpyArray::open(write_npy("release.npy", "<f4", {4096, 8}, values));
  std::vector<std::int64_t> rows(4096);
  for (int i = 0; i < 4096; ++i) rows[i] = i;
  std::vector<float> before(values.size()), after(values.size());
  a.gather_f32(rows, before.data());
  a.release_rows(0, 4096);
  a.release_rows(-5, 99999);  // clamped, not an error
  a.gather_f32(rows, after.data());
  CHECK(before == values);
  CHECK(after == values);
}

TEST_CASE("npy: gather_f32 with a chunk order moves each row's columns 4 at a time, after scaling", "[npy]") {
  // 14 values a row: chunks 0-2 move (an order that is not its own inverse), the last 2 values
  // stay. Values 1..56 (no zero, so a misplaced value cannot pass for another).
  const std::int64_t rows = 4, width = 14;
  std::vector<std::uint8_t> u1(rows * width);
  std::vector<float> f4(rows * width);
  std::vector<std::int16_t> i2(rows * width);
  for (std::size_t i = 0; i < u1.size(); ++i) {
    u1[i] = static_cast<std::uint8_t>(i + 1);
    f4[i] = static_cast<float>(i + 1) * 0.5f;
    i2[i] = static_cast<std::int16_t>(-static_cast<int>(i) - 1);
  }
  std::vector<float> fortran(rows * width);  // element (r, j) at j * rows + r
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < width; ++j) fortran[j * rows + r] = f4[r * width + j];
  const std::vector<std::pair<const char*, std::string>> files = {
      {"u1", write_npy("chunks_u1.npy", "|u1", {rows, width}, u1)},
      {"f4", write_npy("chunks_f4.npy", "<f4", {rows, width}, f4)},
      {"i2", write_npy("chunks_i2.npy", "<i2", {rows, width}, i2)},
      {"f4 fortran", write_npy("chunks_f4_fortran.npy", "<f4", {rows, width}, fortran, true)}};
  const std::vector<std::int32_t> chunks = {2, 0, 1};
  const std::vector<std::int64_t> order = {2, 0, 3};
  const std::vector<std::int64_t> to = {1, 2, 0};
  std::vector<float> mean(width), inv_std(width);
  for (std::int64_t j = 0; j < width; ++j) {
    mean[j] = 0.25f * static_cast<float>(j);
    inv_std[j] = 1.0f + 0.125f * static_cast<float>(j);
  }
  for (const auto& [name, path] : files)
    for (bool standardise : {false, true}) {
      INFO(name << (standardise ? ", standardised" : ", scaled"));
      const NpyArray a = NpyArray::open(path);
      const std::span<const float> m = standardise ? std::span<const float>(mean) : std::span<const float>();
      const std::span<const float> s = standardise ? std::span<const float>(inv_std) : std::span<const float>();
      std::vector<float> plain(order.size() * width), moved(order.size() * width);
      a.gather_f32(order, plain.data(), 0.5f, m, s, to);
      a.gather_f32(order, moved.data(), 0.5f, m, s, to, chunks);
      for (std::size_t r = 0; r < order.size(); ++r) {
        const float* p = plain.data() + r * width;
        const float* q = moved.data() + r * width;
        CHECK(std::vector<float>(q, q + 4) == std::vector<float>(p + 8, p + 12));
        CHECK(std::vector<float>(q + 4, q + 8) == std::vector<float>(p, p + 4));
        CHECK(std::vector<float>(q + 8, q + 12) == std::vector<float>(p + 4, p + 8));
        CHECK(std::vector<float>(q + 12, q + 14) == std::vector<float>(p + 12, p + 14));
      }
    }
  // An order of the wrong length, or with a chunk outside the row, is refused naming the file.
  const NpyArray a = NpyArray::open(files[0].second);
  std::vector<float> out(width);
  for (const std::vector<std::int32_t>& bad : {std::vector<std::int32_t>{0, 1}, std::vector<std::int32_t>{0, 1, 3}})
    CHECK_THROWS_WITH(a.gather_f32(std::vector<std::int64_t>{0}, out.data(), 1.0f, {}, {}, {}, bad),
                      Catch::Contains("chunks_u1.npy"));
}
