// Inverted dropout with a counter-based mask: keep(i) is a pure function of the step's seed,
// the layer's salt and the element index, so a step is reproducible (also after a resume)
// without RNG state, and drawing the mask allocates nothing.
#include <cmath>

#include "kernels.hpp"
#include "parallel.hpp"

namespace trainer::model {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

template <class T>
void dropout_forward(const T* in, T* out, std::uint8_t* mask, Index count, double rate,
                     std::uint64_t seed, std::uint64_t salt) {
  // drop when the top 32 bits of the hash fall below rate * 2^32
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(rate, 32));
  const std::uint64_t key = splitmix64(seed ^ splitmix64(salt));
  const T keep_scale = static_cast<T>(1.0 / (1.0 - rate));
  parallel_rows(count, 4, [&](Index i0, Index i1) {
    for (Index i = i0; i < i1; ++i) {
      const bool keep = (splitmix64(key + static_cast<std::uint64_t>(i)) >> 32) >= threshold;
      mask[i] = keep ? 1 : 0;
      out[i] = keep ? in[i] * keep_scale : T(0);
    }
  });
}

template <class T>
void dropout_backward(T* g, const std::uint8_t* mask, Index count, double rate) {
  const T keep_scale = static_cast<T>(1.0 / (1.0 - rate));
  for (Index i = 0; i < count; ++i) g[i] = mask[i] ? g[i] * keep_scale : T(0);
}

#define TRAINER_INSTANTIATE(T)                                                                    \
  template void dropout_forward<T>(const T*, T*, std::uint8_t*, Index, double, std::uint64_t,    \
                                   std::uint64_t);                                               \
  template void dropout_backward<T>(T*, const std::uint8_t*, Index, double);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(double)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::model
