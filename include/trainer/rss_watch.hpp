// Watching resident anonymous memory while a run trains: a cheap read of /proc/self/statm
// (resident minus shared pages = RssAnon) that keeps the highest value seen. The training
// loop samples it now and then; if the real peak exceeds the plan by more than the headroom
// the plan is wrong (a bug to fix), and overrun_warning() says so with both figures.
//
// sample() opens, reads and closes the file each time and allocates nothing, so it is safe in
// the allocation-free training step and always measures the calling process (a descriptor
// kept open across fork() would keep reading the parent). About ten microseconds per call.
//
// Thread-safety: one RssWatch per thread, or external locking.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace trainer {

class RssWatch {
 public:
  // statm_path: for tests; the live file otherwise.
  explicit RssWatch(std::string statm_path = "/proc/self/statm");

  // Reads the current resident anonymous bytes (0 if unreadable) and updates the peak.
  std::uint64_t sample();
  std::uint64_t peak() const { return peak_; }
  void reset() { peak_ = 0; }

  // A warning with both figures when peak() > planned_bytes * (1 + headroom), else nullopt.
  std::optional<std::string> overrun_warning(std::uint64_t planned_bytes, double headroom) const;

 private:
  std::string path_;
  std::uint64_t page_;
  std::uint64_t peak_ = 0;
};

}  // namespace trainer
