// The packed AVX-512 GEMM against a double-precision reference, on every edge of its 12x32
// blocking and 256-deep slices, its skipping of all-zero depth steps, and its wiring into the
// dense layers' three products.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "../src/model/kernels.hpp"
#include "../src/model/packed_gemm.hpp"
#include "trainer/model.hpp"

namespace {

using trainer::model::Index;
using trainer::model::MatrixOperand;

std::vector<float> random_values(std::size_t count, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(gen);
  return v;
}

float at(const MatrixOperand& m, Index i, Index j) { return m.data[i * m.row_stride + j * m.col_stride]; }

// Largest |c - reference| relative to the reference's scale sum_p |a_ip * b_pj| (+1 for sums
// near zero); c0 is c before the call, added when accumulating.
double worst_error(Index m, Index n, Index k, const MatrixOperand& a, const MatrixOperand& b,
                   const std::vector<float>& c0, const std::vector<float>& c, Index ldc, bool accumulate) {
  double worst = 0;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) {
      double sum = accumulate ? c0[i * ldc + j] : 0.0, scale = 1.0;
      for (Index p = 0; p < k; ++p) {
        const double term = static_cast<double>(at(a, i, p)) * at(b, p, j);
        sum += term;
        scale += std::abs(term);
      }
      worst = std::max(worst, std::abs(c[i * ldc + j] - sum) / scale);
    }
  return worst;
}

}  // namespace

TEST_CASE("The packed GEMM matches a double reference on every edge of its blocking", "[model]") {
  if (!trainer::model::packed_gemm_available()) {
    // A build without AVX-512: no product may be routed to the kernel.
    CHECK_FALSE(trainer::gemm_tiling(2048, 512, 784, 2).packed);
    return;
  }
  struct Shape {
    Index m, n, k;
  };
  std::vector<Shape> shapes;
  for (Index m : {1, 11, 12, 13, 100, 256})
    for (Index n : {1, 31, 32, 33, 70, 256})
      for (Index k : {1, 5, 256, 257, 600}) shapes.push_back({m, n, k});
  // Full 512-wide tiles, the largest the dense layers cut.
  for (const Shape big : {Shape{512, 512, 24}, Shape{512, 47, 300}, Shape{37, 512, 513}}) shapes.push_back(big);
  std::uint32_t seed = 1;
  for (const auto [m, n, k] : shapes)
    for (bool a_transposed : {false, true})
      for (bool b_transposed : {false, true})
        for (bool accumulate : {false, true}) {
          const auto a_values = random_values(static_cast<std::size_t>(m * k), seed++);
          const auto b_values = random_values(static_cast<std::size_t>(k * n), seed++);
          const MatrixOperand a = a_transposed ? MatrixOperand{a_values.data(), 1, m}
                                               : MatrixOperand{a_values.data(), k, 1};
          const MatrixOperand b = b_transposed ? MatrixOperand{b_values.data(), 1, k}
                                               : MatrixOperand{b_values.data(), n, 1};
          // The output sits inside a wider buffer with rows to spare: nothing outside
          // [m, n] may change.
          const Index ldc = n + 5;
          const auto c0 = random_values(static_cast<std::size_t>((m + 1) * ldc), seed++);
          auto c = c0;
          trainer::model::packed_gemm_tile(m, n, k, a, b, c.data(), ldc, accumulate);
          INFO(m << " x " << n << " x " << k << (a_transposed ? ", a transposed" : "")
                 << (b_transposed ? ", b transposed" : "") << (accumulate ? ", accumulating" : ""));
          CHECK(worst_error(m, n, k, a, b, c0, c, ldc, accumulate) < 1e-6);
          bool outside_untouched = true;
          for (Index i = 0; i <= m; ++i)
            for (Index j = 0; j < ldc; ++j)
              if ((i >= m || j >= n) && c[i * ldc + j] != c0[i * ldc + j]) outside_untouched = false;
          CHECK(outside_untouched);
        }
}

TEST_CASE("The dense layers' float products agree with their double ones where the packed kernel runs",
          "[model]") {
  // The float instantiation routes to the packed kernel (with AVX-512) and the double one to
  // Eigen, so this checks the operands each product hands the kernel.
  const Index rows = 300, in = 784, out = 64;
  CHECK(trainer::gemm_tiling(rows, out, in, 1).packed ==
        trainer::model::packed_gemm_available());
  const auto x = random_values(rows * in, 7), w = random_values(out * in, 8), dz = random_values(rows * out, 9);
  auto as_double = [](const std::vector<float>& v, bool magnitude) {
    std::vector<double> d(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) d[i] = magnitude ? std::abs(v[i]) : v[i];
    return d;
  };
  const auto xd = as_double(x, false), wd = as_double(w, false), dzd = as_double(dz, false);
  const auto xm = as_double(x, true), wm = as_double(w, true), dzm = as_double(dz, true);
  const std::vector<float> bias(out, 0.0f);
  const std::vector<double> biasd(out, 0.0);
  // Error relative to the sum of |terms| of each output (the same product over magnitudes),
  // the scale float rounding works at; a wrong operand is off by about 1 on that scale.
  auto worst = [](const std::vector<float>& f, const std::vector<double>& d, const std::vector<double>& scale) {
    double e = 0;
    for (std::size_t i = 0; i < f.size(); ++i) e = std::max(e, std::abs(f[i] - d[i]) / (1.0 + scale[i]));
    return e;
  };
  using trainer::Activation;
  using namespace trainer::model;

  std::vector<float> z(rows * out), a(rows * out);
  std::vector<double> zd(rows * out), ad(rows * out), zm(rows * out), am(rows * out);
  dense_forward<float>(x.data(), w.data(), bias.data(), Activation::linear, z.data(), a.data(), true, rows, out, in);
  dense_forward<double>(xd.data(), wd.data(), biasd.data(), Activation::linear, zd.data(), ad.data(), true, rows, out,
                        in);
  dense_forward<double>(xm.data(), wm.data(), biasd.data(), Activation::linear, zm.data(), am.data(), true, rows, out,
                        in);
  CHECK(worst(z, zd, zm) < 1e-6);

  std::vector<float> da(rows * in);
  std::vector<double> dad(rows * in), dam(rows * in);
  gemm_input_grad<float>(dz.data(), w.data(), da.data(), rows, in, out);
  gemm_input_grad<double>(dzd.data(), wd.data(), dad.data(), rows, in, out);
  gemm_input_grad<double>(dzm.data(), wm.data(), dam.data(), rows, in, out);
  CHECK(worst(da, dad, dam) < 1e-6);

  for (bool accumulate : {true, false}) {
    std::vector<float> dw(out * in, 1.0f);
    std::vector<double> dwd(out * in, 1.0), dwm(out * in, 1.0);
    gemm_weight_grad<float>(dz.data(), x.data(), dw.data(), out, in, rows, accumulate);
    gemm_weight_grad<double>(dzd.data(), xd.data(), dwd.data(), out, in, rows, accumulate);
    gemm_weight_grad<double>(dzm.data(), xm.data(), dwm.data(), out, in, rows, true);
    INFO((accumulate ? "accumulating onto 1" : "overwriting 1"));
    CHECK(worst(dw, dwd, dwm) < 1e-6);
  }
}

namespace {

// Values in [-1, 1] where, at random depth steps, a whole block of the kernel's blocking is zero
// (+0 or -0): `block` rows of the left operand (12) or columns of the right one (32). At other
// steps a block is zero but for one value, which must not be skipped.
std::vector<float> values_with_zero_steps(Index rows, Index cols, Index block, bool along_rows, std::uint32_t seed) {
  auto v = random_values(static_cast<std::size_t>(rows * cols), seed);
  std::mt19937 gen(seed ^ 0x5bd1e995u);
  std::discrete_distribution<int> kind({0.4, 0.3, 0.3});  // all zero, all but one, untouched
  std::bernoulli_distribution negative(0.5);
  // along_rows: v is [depth, cols] and blocks are runs of `block` columns of a depth row;
  // otherwise v is [rows, depth] and blocks are runs of `block` rows of a depth column.
  const Index depth = along_rows ? rows : cols, width = along_rows ? cols : rows;
  for (Index p = 0; p < depth; ++p)
    for (Index b0 = 0; b0 < width; b0 += block) {
      const int k = kind(gen);
      if (k == 2) continue;
      const Index b1 = std::min(width, b0 + block);
      const Index keep = k == 1 ? std::uniform_int_distribution<Index>(b0, b1 - 1)(gen) : -1;
      for (Index i = b0; i < b1; ++i)
        if (i != keep)
          v[static_cast<std::size_t>(along_rows ? p * cols + i : i * cols + p)] = negative(gen) ? -0.0f : 0.0f;
    }
  return v;
}

}  // namespace

TEST_CASE("Depth steps that are zero in a searched operand are skipped without changing a value", "[model]") {
  if (!trainer::model::packed_gemm_available()) return;
  std::uint32_t seed = 100;
  for (Index m : {5, 12, 100})
    for (Index n : {16, 33, 96})
      for (Index k : {40, 300})
        for (bool a_transposed : {false, true})
          for (bool b_transposed : {false, true}) {
            // Zero steps of the left operand come in 12-row blocks, of the right one in 32-column
            // blocks; both are laid out as the kernel reads them whatever the storage order.
            std::vector<float> a_values = values_with_zero_steps(m, k, 12, false, seed++);
            std::vector<float> b_values = values_with_zero_steps(k, n, 32, true, seed++);
            auto store = [](const std::vector<float>& v, Index rows, Index cols, bool transposed) {
              if (!transposed) return v;
              std::vector<float> t(v.size());
              for (Index i = 0; i < rows; ++i)
                for (Index j = 0; j < cols; ++j)
                  t[static_cast<std::size_t>(j * rows + i)] = v[static_cast<std::size_t>(i * cols + j)];
              return t;
            };
            a_values = store(a_values, m, k, a_transposed);
            b_values = store(b_values, k, n, b_transposed);
            auto operand = [](const std::vector<float>& v, Index rows, Index cols, bool transposed, bool search) {
              return transposed ? MatrixOperand{v.data(), 1, rows, search} : MatrixOperand{v.data(), cols, 1, search};
            };
            std::vector<float> plain(static_cast<std::size_t>(m * n));
            trainer::model::packed_gemm_tile(m, n, k, operand(a_values, m, k, a_transposed, false),
                                             operand(b_values, k, n, b_transposed, false), plain.data(), n, false);
            for (const auto& [search_a, search_b] : {std::pair{true, false}, {false, true}, {true, true}}) {
              const MatrixOperand a = operand(a_values, m, k, a_transposed, search_a);
              const MatrixOperand b = operand(b_values, k, n, b_transposed, search_b);
              std::vector<float> c(static_cast<std::size_t>(m * n), 7.0f);
              trainer::model::packed_gemm_tile(m, n, k, a, b, c.data(), n, false);
              INFO(m << " x " << n << " x " << k << (a_transposed ? ", a transposed" : "")
                     << (b_transposed ? ", b transposed" : "") << ", searching" << (search_a ? " a" : "")
                     << (search_b ? " b" : ""));
              // A skipped step adds an exact zero: the sums are the same floats (+0 == -0).
              CHECK(c == plain);
              CHECK(worst_error(m, n, k, a, b, std::vector<float>(c.size()), c, n, false) < 1e-6);
            }
          }
}

TEST_CASE("The packed GEMM skips a depth step only for the blocks that are zero there", "[model]") {
  if (!trainer::model::packed_gemm_available()) return;
  // A skipped step is not multiplied at all, so an infinity in the other operand there shows
  // which outputs skipped it: 0 * inf would make them NaN.
  const Index m = 24, n = 64, k = 20, step = 7;
  std::vector<float> a = random_values(m * k, 1), b = random_values(k * n, 2);
  for (Index i = 0; i < 12; ++i) a[static_cast<std::size_t>(i * k + step)] = 0.0f;  // rows 0-11 zero at the step
  for (Index j = 0; j < n; ++j) b[static_cast<std::size_t>(step * n + j)] = std::numeric_limits<float>::infinity();
  std::vector<float> c(m * n);
  trainer::model::packed_gemm_tile(m, n, k, MatrixOperand{a.data(), k, 1, true}, MatrixOperand{b.data(), n, 1, false},
                                   c.data(), n, false);
  CHECK(std::all_of(c.begin(), c.begin() + 12 * n, [](float v) { return std::isfinite(v); }));
  CHECK(std::none_of(c.begin() + 12 * n, c.end(), [](float v) { return std::isfinite(v); }));
  // Not searched: the step is multiplied like any other.
  trainer::model::packed_gemm_tile(m, n, k, MatrixOperand{a.data(), k, 1, false}, MatrixOperand{b.data(), n, 1, false},
                                   c.data(), n, false);
  CHECK(std::none_of(c.begin(), c.end(), [](float v) { return std::isfinite(v); }));
}

TEST_CASE("The dense layers search their activations and gradients for zero steps, not their weights", "[model]") {
  if (!trainer::model::packed_gemm_available()) return;
  // As above, an infinity where the searched operand is zero shows whether the step was skipped.
  using namespace trainer::model;
  const Index rows = 48, in = 64, out = 64, p = 5;
  const float inf = std::numeric_limits<float>::infinity();
  auto finite = [](const std::vector<float>& v, Index from, Index to) {
    return std::all_of(v.begin() + from, v.begin() + to, [](float x) { return std::isfinite(x); });
  };
  auto none_finite = [](const std::vector<float>& v, Index from, Index to) {
    return std::none_of(v.begin() + from, v.begin() + to, [](float x) { return std::isfinite(x); });
  };
  const std::vector<float> bias(out, 0.0f);

  SECTION("forward: twelve inputs' rows zero at a feature skip it") {
    auto x = random_values(rows * in, 3), w = random_values(out * in, 4);
    for (Index i = 0; i < 12; ++i) x[static_cast<std::size_t>(i * in + p)] = 0.0f;
    for (Index j = 0; j < out; ++j) w[static_cast<std::size_t>(j * in + p)] = inf;
    std::vector<float> z(rows * out), a(rows * out);
    dense_forward<float>(x.data(), w.data(), bias.data(), trainer::Activation::linear, z.data(), a.data(), true, rows,
                         out, in);
    CHECK(finite(z, 0, 12 * out));
    CHECK(none_finite(z, 12 * out, rows * out));
  }
  SECTION("input gradient: twelve samples' gradients zero at a unit skip it") {
    auto dz = random_values(rows * out, 5), w = random_values(out * in, 6);
    for (Index i = 0; i < 12; ++i) dz[static_cast<std::size_t>(i * out + p)] = 0.0f;
    for (Index j = 0; j < in; ++j) w[static_cast<std::size_t>(p * in + j)] = inf;
    std::vector<float> da(rows * in);
    gemm_input_grad<float>(dz.data(), w.data(), da.data(), rows, in, out);
    CHECK(finite(da, 0, 12 * in));
    CHECK(none_finite(da, 12 * in, rows * in));
  }
  SECTION("weight gradient: 32 inputs of a sample that are zero skip it") {
    auto dz = random_values(rows * out, 7), x = random_values(rows * in, 8);
    for (Index j = 0; j < 32; ++j) x[static_cast<std::size_t>(p * in + j)] = 0.0f;
    for (Index i = 0; i < out; ++i) dz[static_cast<std::size_t>(p * out + i)] = inf;
    std::vector<float> dw(out * in);
    gemm_weight_grad<float>(dz.data(), x.data(), dw.data(), out, in, rows, false);
    bool first_32_finite = true, rest_not_finite = true;
    for (Index i = 0; i < out; ++i) {
      first_32_finite = first_32_finite && finite(dw, i * in, i * in + 32);
      rest_not_finite = rest_not_finite && none_finite(dw, i * in + 32, i * in + in);
    }
    CHECK(first_32_finite);
    CHECK(rest_not_finite);
  }
}
