// One 64-byte-aligned block of memory, allocated once and carved into named regions.
//
// The training step's buffers all come from Storage sized by the memory plan, so the plan is
// exact by construction and the step itself never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace trainer {

inline constexpr std::size_t kAlign = 64;

inline std::uint64_t align_up(std::uint64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

class Storage {
 public:
  Storage() = default;
  // Allocates `bytes` zeroed bytes (touched, so they are resident and counted from the start).
  explicit Storage(std::uint64_t bytes);
  Storage(Storage&&) noexcept;
  Storage& operator=(Storage&&) noexcept;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  std::uint64_t size() const { return size_; }
  std::uint64_t used() const { return used_; }

  // Next region of `bytes` (rounded up to 64). Throws std::logic_error when the plan was short:
  // that is a bug in the plan, never a user error.
  std::span<std::byte> take(std::uint64_t bytes);
  // Moves the carving point to `offset` (64-aligned, at most size()). Going back overlays the
  // regions taken next on earlier ones: only for buffers that are never in use at the same time.
  void seek(std::uint64_t offset);
  template <class T>
  std::span<T> take_array(std::uint64_t count) {
    auto raw = take(count * sizeof(T));
    return {reinterpret_cast<T*>(raw.data()), static_cast<std::size_t>(count)};
  }

 private:
  std::byte* base_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t used_ = 0;
};

}  // namespace trainer
