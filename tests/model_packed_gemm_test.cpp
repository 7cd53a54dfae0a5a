// The packed AVX-512 GEMM against a double-precision reference, on every edge of its 12x32
// blocking and 256-deep slices, and wired into the dense layers' three products.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
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
