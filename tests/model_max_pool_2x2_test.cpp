// The AVX-512 2x2 max pool kernels (src/model/max_pool_2x2.hpp) against a plain reference of the
// rules they must keep: the first largest value of a window (ties are common after a relu), a NaN
// in the first position kept, later NaNs never chosen, the above-zero bit, and backward writing
// every input value, with and without the relu's cut. Channel counts leave partial vectors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "../src/model/max_pool_2x2.hpp"

namespace {

using trainer::model::Index;

struct Reference {
  std::vector<float> out;
  std::vector<std::uint8_t> from;
};

Reference reference_forward(const std::vector<float>& in, Index samples, Index h, Index w, Index c) {
  const Index oh = h / 2, ow = w / 2;
  Reference r{std::vector<float>(static_cast<std::size_t>(samples * oh * ow * c)),
              std::vector<std::uint8_t>(static_cast<std::size_t>(samples * oh * ow * c))};
  for (Index s = 0; s < samples; ++s)
    for (Index i = 0; i < oh; ++i)
      for (Index j = 0; j < ow; ++j)
        for (Index ch = 0; ch < c; ++ch) {
          float best = 0.0f;
          int at = 0;
          for (int t = 0; t < 4; ++t) {
            const float v = in[static_cast<std::size_t>(((s * h + 2 * i + t / 2) * w + 2 * j + t % 2) * c + ch)];
            if (t == 0 || v > best) best = v, at = t;
          }
          const auto o = static_cast<std::size_t>(((s * oh + i) * ow + j) * c + ch);
          r.out[o] = best;
          r.from[o] = static_cast<std::uint8_t>(at | (best > 0.0f ? trainer::model::kPoolAboveZero : 0));
        }
  return r;
}

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

TEST_CASE("the 2x2 max pool kernels keep the general pool's choices and gradients", "[model][image]") {
  if (!trainer::model::max_pool_2x2_available()) {
    WARN("no AVX-512 here: the 2x2 max pool kernels are not used");
    return;
  }
  const Index samples = 2, h = 4, w = 6;
  std::mt19937 gen(11);
  // Few distinct values, so that windows often hold ties; some NaNs.
  const float values[] = {-1.0f, 0.0f, 0.0f, 0.5f, 1.0f, 1.0f, std::numeric_limits<float>::quiet_NaN()};
  std::uniform_int_distribution<int> pick(0, 6);
  std::uniform_real_distribution<float> grad(-1.0f, 1.0f);
  for (const Index c : {Index{1}, Index{5}, Index{16}, Index{20}, Index{32}, Index{64}, Index{70}}) {
    INFO("channels " << c);
    const Index in_count = samples * h * w * c, out_count = in_count / 4;
    std::vector<float> in(static_cast<std::size_t>(in_count));
    for (auto& v : in) v = values[pick(gen)];
    const Reference r = reference_forward(in, samples, h, w, c);
    // One byte past the outputs: a kernel that writes beyond them changes it.
    std::vector<float> out(static_cast<std::size_t>(out_count) + 1, 7.0f);
    std::vector<std::uint8_t> from(static_cast<std::size_t>(out_count) + 1, 0x55);
    trainer::model::max_pool_2x2_forward(in.data(), samples, h, w, c, out.data(), from.data());
    for (std::size_t o = 0; o < static_cast<std::size_t>(out_count); ++o) {
      INFO("output " << o);
      REQUIRE(same(out[o], r.out[o]));
      REQUIRE(int(from[o]) == int(r.from[o]));
    }
    CHECK(out.back() == 7.0f);
    CHECK(from.back() == 0x55);

    std::vector<float> g(static_cast<std::size_t>(out_count));
    for (auto& v : g) v = grad(gen);
    for (const bool through_relu : {false, true}) {
      INFO("through_relu " << through_relu);
      std::vector<float> dx(static_cast<std::size_t>(in_count) + 1, 9.0f);
      trainer::model::max_pool_2x2_spread(g.data(), from.data(), samples, h, w, c, through_relu, dx.data());
      const Index oh = h / 2, ow = w / 2;
      for (Index s = 0; s < samples; ++s)
        for (Index i = 0; i < h; ++i)
          for (Index j = 0; j < w; ++j)
            for (Index ch = 0; ch < c; ++ch) {
              const auto o = static_cast<std::size_t>(((s * oh + i / 2) * ow + j / 2) * c + ch);
              const int tap = static_cast<int>((i % 2) * 2 + j % 2);
              const bool passes = !through_relu || r.out[o] > 0.0f;
              const float want = (r.from[o] & trainer::model::kPoolPositionBits) == tap && passes ? g[o] : 0.0f;
              REQUIRE(dx[static_cast<std::size_t>(((s * h + i) * w + j) * c + ch)] == want);
            }
      CHECK(dx.back() == 9.0f);
    }
  }
}
