#include "trainer/storage.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace trainer {

Storage::Storage(std::uint64_t bytes) : size_(align_up(bytes)) {
  if (size_ == 0) return;
  base_ = static_cast<std::byte*>(std::aligned_alloc(kAlign, size_));
  if (base_ == nullptr) throw std::bad_alloc();
  std::memset(base_, 0, size_);
}

Storage::Storage(Storage&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      used_(std::exchange(other.used_, 0)) {}

Storage& Storage::operator=(Storage&& other) noexcept {
  if (this != &other) {
    std::free(base_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    used_ = std::exchange(other.used_, 0);
  }
  return *this;
}

Storage::~Storage() { std::free(base_); }

std::span<std::byte> Storage::take(std::uint64_t bytes) {
  const std::uint64_t rounded = align_up(bytes);
  if (used_ + rounded > size_) {
    throw std::logic_error("memory plan too small: wanted " + std::to_string(rounded) +
                           " more bytes with " + std::to_string(size_ - used_) + " left");
  }
  std::span<std::byte> region{base_ + used_, static_cast<std::size_t>(bytes)};
  used_ += rounded;
  return region;
}

void Storage::seek(std::uint64_t offset) {
  if (offset > size_ || offset % kAlign != 0)
    throw std::logic_error("storage seek to " + std::to_string(offset) + " outside the aligned block of " +
                           std::to_string(size_) + " bytes");
  used_ = offset;
}

}  // namespace trainer
