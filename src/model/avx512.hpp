// What the AVX-512 kernels (packed_gemm.cpp, direct_conv.cpp, max_pool_2x2.cpp) share:
// <immintrin.h>, the attribute that compiles a function for AVX-512 whatever the build targets,
// the run-time check that the CPU has it, and the mask of a partial register.
#pragma once

#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TRAINER_AVX512_KERNELS 1
// GCC 12 reports false -W(maybe-)uninitialized inside its own AVX-512 intrinsics (their
// "undefined" pass-through operand); silenced for that header only, as in eigen.hpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#define TRAINER_AVX512 __attribute__((target("avx512f")))

namespace trainer::model {

// Whether this CPU runs the AVX-512 kernels: the one run-time check they all ask.
inline bool avx512_available() {
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

// The first `count` of a register's 16 lanes.
TRAINER_AVX512 inline __mmask16 lanes(std::int64_t count) {
  if (count >= 16) return 0xFFFF;
  if (count <= 0) return 0;
  return static_cast<__mmask16>((1u << count) - 1);
}

}  // namespace trainer::model
#endif
