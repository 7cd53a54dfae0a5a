// Seeded weight initialisers (he/glorot, uniform/normal) from our own generator.
//
// std:: distributions are not used: their output differs between standard libraries, and a
// seed must give the same weights everywhere. Each tensor draws from its own stream
// (seed, tensor id); normals come from Box-Muller in double.
#include <cmath>

#include "kernels.hpp"

namespace trainer::model {
namespace {

class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t tensor) : state_(splitmix64(seed) ^ splitmix64(~tensor)) {}
  // uniform in [0, 1) with 53 random bits
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return splitmix64(state_);
  }
  std::uint64_t state_;
};

}  // namespace

template <class T>
void init_dense_weight(Init init, T* w, Index out, Index in, std::uint64_t seed, std::uint64_t tensor) {
  Stream stream(seed, tensor);
  const auto fan_in = static_cast<double>(in);
  const auto fan_avg_2 = static_cast<double>(in + out);
  const Index count = out * in;
  switch (init) {
    case Init::he_uniform:
    case Init::glorot_uniform: {
      const double bound = init == Init::he_uniform ? std::sqrt(6.0 / fan_in) : std::sqrt(6.0 / fan_avg_2);
      for (Index i = 0; i < count; ++i) w[i] = static_cast<T>((2.0 * stream.uniform() - 1.0) * bound);
      break;
    }
    case Init::he_normal:
    case Init::glorot_normal: {
      const double stddev = init == Init::he_normal ? std::sqrt(2.0 / fan_in) : std::sqrt(2.0 / fan_avg_2);
      for (Index i = 0; i < count; ++i) w[i] = static_cast<T>(stream.normal() * stddev);
      break;
    }
  }
}

template void init_dense_weight<float>(Init, float*, Index, Index, std::uint64_t, std::uint64_t);
template void init_dense_weight<double>(Init, double*, Index, Index, std::uint64_t, std::uint64_t);

}  // namespace trainer::model
