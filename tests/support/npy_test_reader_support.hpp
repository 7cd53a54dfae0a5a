// A tiny test-only .npy reader for the fixtures: version 1.0, little-endian, C order,
// dtypes <f4, <f8, <i8. The product's real reader (trainer/npy.hpp) is tested on its own; the
// model tests must not depend on it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace test_npy {

struct Array {
  std::string descr;                // "<f4", "<f8" or "<i8"
  std::vector<std::int64_t> shape;
  std::vector<double> values;       // every element converted to double, C order

  std::int64_t count() const { return static_cast<std::int64_t>(values.size()); }
  std::vector<float> as_float() const;
  std::vector<std::int32_t> as_int32() const;
};

// Throws std::runtime_error naming the file on anything outside the supported subset.
Array read(const std::string& path);

}  // namespace test_npy
