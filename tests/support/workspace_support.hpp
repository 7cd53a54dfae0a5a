// 64-byte-aligned byte storage for network workspaces in tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace test_ws {

struct Aligned {
  explicit Aligned(std::uint64_t bytes)
      : size(bytes), data(static_cast<std::byte*>(std::aligned_alloc(64, ((bytes + 63) / 64 + 1) * 64))) {}
  std::span<std::byte> span() { return {data.get(), size}; }
  std::uint64_t size;
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte[], Free> data;
};

}  // namespace test_ws
