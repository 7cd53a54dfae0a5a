// The direct convolution kernels (src/model/direct_conv.hpp) against a double-precision
// reference, over window shapes, strides, padding, filter counts that leave a partial block of
// 32, with and without bias, relu and accumulation.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "../src/model/direct_conv.hpp"

namespace {

using trainer::model::DirectConvShape;
using trainer::model::Index;

std::vector<float> random_values(std::size_t count, std::uint32_t seed, bool relu_like = false) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = relu_like ? std::max(0.0f, dist(gen)) : dist(gen);
  return v;
}

DirectConvShape shape(Index h, Index w, Index c, Index f, Index kh, Index kw, Index s, Index p) {
  const Index oh = (h + 2 * p - kh) / s + 1, ow = (w + 2 * p - kw) / s + 1;
  return {h, w, c, oh, ow, f, kh, kw, s, s, p, p};
}

// x[s, ih, iw, c] for the window position (ki, kj, c) of output pixel (oh, ow), zero outside.
double tap(const DirectConvShape& g, const std::vector<float>& x, Index s, Index oh, Index ow, Index ki, Index kj,
           Index c) {
  const Index ih = oh * g.sh - g.ph + ki, iw = ow * g.sw - g.pw + kj;
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0.0;
  return x[static_cast<std::size_t>(((s * g.h + ih) * g.w + iw) * g.c + c)];
}

}  // namespace

TEST_CASE("direct convolution kernels match a double reference", "[model][image]") {
  DirectConvShape probe = shape(8, 8, 1, 32, 3, 3, 1, 1);
  if (!trainer::model::direct_conv_available(probe)) {
    WARN("no AVX-512 here: the direct convolution kernels are not used");
    return;
  }
  const std::vector<DirectConvShape> cases = {
      shape(28, 28, 1, 32, 3, 3, 1, 1),  // the Fashion-MNIST model's first layer
      shape(9, 7, 1, 40, 3, 3, 1, 1),    // a partial block of filters, rows not a multiple of 4 pixels
      shape(10, 10, 1, 5, 3, 3, 2, 0),   // stride 2, no padding
      shape(6, 9, 3, 16, 2, 2, 1, 0),    // three channels
      shape(7, 7, 2, 33, 2, 3, 2, 2),    // wide padding, rectangular window, 33 filters
      shape(5, 6, 1, 64, 3, 4, 1, 1),    // K = 12, the most
      shape(4, 4, 12, 8, 1, 1, 1, 0),    // a 1x1 window over 12 channels
  };
  const Index samples = 3;
  std::uint32_t seed = 1;
  for (const DirectConvShape& g : cases) {
    REQUIRE(trainer::model::direct_conv_available(g));
    const Index k = g.depth(), pixels = g.oh * g.ow;
    INFO(g.h << "x" << g.w << "x" << g.c << ", " << g.f << " filters " << g.kh << "x" << g.kw << " stride " << g.sh
              << " pad " << g.ph);
    const auto x = random_values(static_cast<std::size_t>(samples * g.h * g.w * g.c), seed++);
    const auto wt = random_values(static_cast<std::size_t>(k * g.f), seed++);  // [K, F]
    const auto bias = random_values(static_cast<std::size_t>(g.f), seed++);
    std::vector<float> scratch(static_cast<std::size_t>(trainer::model::direct_conv_scratch_floats(g)));
    // forward, reference in double: out[s, p, f]
    std::vector<double> ref(static_cast<std::size_t>(samples * pixels * g.f));
    for (Index s = 0; s < samples; ++s)
      for (Index oh = 0; oh < g.oh; ++oh)
        for (Index ow = 0; ow < g.ow; ++ow)
          for (Index f = 0; f < g.f; ++f) {
            double sum = bias[static_cast<std::size_t>(f)];
            for (Index ki = 0; ki < g.kh; ++ki)
              for (Index kj = 0; kj < g.kw; ++kj)
                for (Index c = 0; c < g.c; ++c)
                  sum += tap(g, x, s, oh, ow, ki, kj, c) * wt[static_cast<std::size_t>(((ki * g.kw + kj) * g.c + c) * g.f + f)];
            ref[static_cast<std::size_t>(((s * g.oh + oh) * g.ow + ow) * g.f + f)] = sum;
          }
    for (bool relu : {false, true}) {
      std::vector<float> out(ref.size(), 7.0f);
      trainer::model::direct_conv_forward(g, x.data(), samples, wt.data(), bias.data(), relu, out.data(), scratch.data());
      double worst = 0;
      for (std::size_t i = 0; i < ref.size(); ++i)
        worst = std::max(worst, std::abs(out[i] - (relu ? std::max(0.0, ref[i]) : ref[i])));
      CHECK(worst < 1e-5);
    }
    // weight gradient: dwt[t, f] = sum over pixels of tap * dz, db[f] = sum of dz
    const auto g_out = random_values(ref.size(), seed++);
    const auto kept = random_values(ref.size(), seed++, true);  // a relu output: half zeros
    for (bool masked : {false, true}) {
      std::vector<double> dwt_ref(static_cast<std::size_t>(k * g.f)), db_ref(static_cast<std::size_t>(g.f));
      for (Index s = 0; s < samples; ++s)
        for (Index oh = 0; oh < g.oh; ++oh)
          for (Index ow = 0; ow < g.ow; ++ow)
            for (Index f = 0; f < g.f; ++f) {
              const auto at = static_cast<std::size_t>(((s * g.oh + oh) * g.ow + ow) * g.f + f);
              const double dz = masked && !(kept[at] > 0.0f) ? 0.0 : g_out[at];
              db_ref[static_cast<std::size_t>(f)] += dz;
              for (Index ki = 0; ki < g.kh; ++ki)
                for (Index kj = 0; kj < g.kw; ++kj)
                  for (Index c = 0; c < g.c; ++c)
                    dwt_ref[static_cast<std::size_t>(((ki * g.kw + kj) * g.c + c) * g.f + f)] += tap(g, x, s, oh, ow, ki, kj, c) * dz;
            }
      std::vector<float> dwt(dwt_ref.size(), 0.5f), db(db_ref.size(), 0.5f);
      for (bool accumulate : {false, true}) {
        trainer::model::direct_conv_weight_grad(g, x.data(), samples, g_out.data(), masked ? kept.data() : nullptr,
                                                dwt.data(), db.data(), accumulate, scratch.data());
        // after the first call the buffers hold one sum; the accumulating call adds a second
        const double times = accumulate ? 2.0 : 1.0;
        double worst = 0;
        for (std::size_t i = 0; i < dwt.size(); ++i) worst = std::max(worst, std::abs(dwt[i] - times * dwt_ref[i]));
        for (std::size_t i = 0; i < db.size(); ++i) worst = std::max(worst, std::abs(db[i] - times * db_ref[i]));
        CHECK(worst < 1e-5 + 1e-7 * static_cast<double>(samples * pixels));  // float sums of that many terms
      }
    }
  }
}
