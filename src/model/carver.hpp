// Hands out consecutive 64-byte-aligned slices of a workspace, or only measures them when the
// base is null. The one pass behind a plan and its binding: the model's plan_*() carve with a
// null base, bind() carves the real storage with the same calls, so the two cannot disagree.
// Every slice is booked under a key of the breakdown ("activations", "workspace", ...); items
// come out in the order their keys were first used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/model.hpp"

namespace trainer::model {

class Carver {
 public:
  static constexpr std::uint64_t kAlign = 64;
  static std::uint64_t round_up(std::uint64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

  explicit Carver(std::byte* base) : base_(base) {}

  // A slice of `count` values of U, booked under `key` (labelled `name` in the breakdown),
  // stored into `slot` when carving; a measuring pass leaves `slot` as it is, so measuring a
  // bound network does not unbind it.
  template <class U>
  void take(U*& slot, std::int64_t count, const char* key, const char* name) {
    if (base_) slot = reinterpret_cast<U*>(base_ + used_);
    const std::uint64_t bytes = round_up(static_cast<std::uint64_t>(count) * sizeof(U));
    used_ += bytes;
    book(key, name, bytes);
  }
  std::uint64_t used() const { return used_; }
  const std::vector<MemoryItem>& items() const { return items_; }

 private:
  void book(const char* key, const char* name, std::uint64_t bytes) {
    if (bytes == 0) return;  // an MLP has no convolution workspace: no line for it
    for (MemoryItem& item : items_) {
      if (item.key == key) {
        item.bytes += bytes;
        return;
      }
    }
    items_.push_back({key, name, bytes});
  }

  std::byte* base_;
  std::uint64_t used_ = 0;
  std::vector<MemoryItem> items_;
};

}  // namespace trainer::model
