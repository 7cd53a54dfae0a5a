// SIGINT/SIGTERM during training: the handler only records the signal; the loop finishes the
// current step, writes the checkpoint and stops with exit code 130.
#pragma once

namespace trainer {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers
  ~InterruptGuard();  // restores the previous ones
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static int pending();  // the signal number received, or 0
  static void clear();
};

}  // namespace trainer
