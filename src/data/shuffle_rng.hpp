// The data layer's random numbers: xoshiro256** seeded through splitmix64, with an unbiased
// bounded draw (Lemire's multiply-and-reject). Written out here, not taken from <random>, so the
// same seed gives the same epoch order with every compiler and standard library.
#pragma once

#include <cstdint>

namespace trainer::data_detail {

__extension__ typedef unsigned __int128 uint128;  // GCC/Clang builtin; -Wpedantic-clean

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class ShuffleRng {
 public:
  // `stream` separates independent uses of one seed (epoch orders, the validation split).
  ShuffleRng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t sm = seed;
    const std::uint64_t mixed = splitmix64(sm) ^ (stream * 0xD1B54A32D192ED03ull);
    sm = mixed;
    for (auto& word : s_) word = splitmix64(sm);
  }

  // For checking against the generator's published reference outputs.
  static ShuffleRng from_state(const std::uint64_t (&state)[4]) {
    ShuffleRng rng(0, 0);
    for (int i = 0; i < 4; ++i) rng.s_[i] = state[i];
    return rng;
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound), bound > 0.
  std::uint64_t below(std::uint64_t bound) {
    uint128 m = static_cast<uint128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(m);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<uint128>(next()) * bound;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace trainer::data_detail
