// Loading one stored .npy element (any plain dtype, either byte order) as a C++ value.
//
// Private to src/data: the reader, gatherers and statistics dispatch once per call on the
// dtype and then run a loop specialised for the element type.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "trainer/npy.hpp"

namespace trainer::npy_detail {

// IEEE 754 binary16 bits to float, by hand: the standard library has no half type in C++20.
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t mantissa = h & 0x3FFu;
  float magnitude;
  if (exponent == 0) {
    // zero or subnormal: mantissa * 2^-24, exact in float
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else {
    std::uint32_t bits = ((exponent + 112u) << 23) | (mantissa << 13);
    std::memcpy(&magnitude, &bits, sizeof magnitude);
  }
  std::uint32_t out;
  std::memcpy(&out, &magnitude, sizeof out);
  out |= sign;
  float result;
  std::memcpy(&result, &out, sizeof result);
  return result;
}

// A tag naming the stored type; f2 is stored as uint16 bits.
struct Half {};
template <typename T>
struct Tag {
  using type = T;
};

template <typename Storage>
inline Storage load_raw(const std::uint8_t* p, bool swap) {
  Storage v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (sizeof(Storage) == 2) {
    if (swap) v = static_cast<Storage>(__builtin_bswap16(static_cast<std::uint16_t>(v)));
  } else if constexpr (sizeof(Storage) == 4) {
    if (swap) {
      std::uint32_t u;
      std::memcpy(&u, &v, 4);
      u = __builtin_bswap32(u);
      std::memcpy(&v, &u, 4);
    }
  } else if constexpr (sizeof(Storage) == 8) {
    if (swap) {
      std::uint64_t u;
      std::memcpy(&u, &v, 8);
      u = __builtin_bswap64(u);
      std::memcpy(&v, &u, 8);
    }
  }
  return v;
}

// The element at p converted to Out (float or double). bool is 0/1 (any non-zero byte is true).
template <typename T, typename Out>
inline Out load_as(const std::uint8_t* p, bool swap) {
  if constexpr (std::is_same_v<T, Half>) {
    return static_cast<Out>(half_to_float(load_raw<std::uint16_t>(p, swap)));
  } else if constexpr (std::is_same_v<T, bool>) {
    return *p != 0 ? Out(1) : Out(0);
  } else {
    return static_cast<Out>(load_raw<T>(p, swap));
  }
}

// Calls f(Tag<T>{}) with the storage type of `dtype`.
template <typename F>
inline decltype(auto) dispatch(DType dtype, F&& f) {
  switch (dtype) {
    case DType::b1: return f(Tag<bool>{});
    case DType::u1: return f(Tag<std::uint8_t>{});
    case DType::u2: return f(Tag<std::uint16_t>{});
    case DType::u4: return f(Tag<std::uint32_t>{});
    case DType::u8: return f(Tag<std::uint64_t>{});
    case DType::i1: return f(Tag<std::int8_t>{});
    case DType::i2: return f(Tag<std::int16_t>{});
    case DType::i4: return f(Tag<std::int32_t>{});
    case DType::i8: return f(Tag<std::int64_t>{});
    case DType::f2: return f(Tag<Half>{});
    case DType::f4: return f(Tag<float>{});
    case DType::f8: break;
  }
  return f(Tag<double>{});
}

inline bool is_float(DType d) { return d == DType::f2 || d == DType::f4 || d == DType::f8; }

}  // namespace trainer::npy_detail
