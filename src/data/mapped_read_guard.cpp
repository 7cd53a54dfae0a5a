// SIGBUS on mapped reads: one process-wide handler, a per-thread jump target while a read runs.
#include "mapped_read_guard.hpp"

#include <csetjmp>
#include <csignal>
#include <mutex>

#include "trainer/error.hpp"

namespace trainer::data_detail {
namespace {

thread_local sigjmp_buf* t_target = nullptr;

extern "C" void on_sigbus(int, siginfo_t*, void*) {
  if (t_target != nullptr) siglongjmp(*t_target, 1);  // a guarded read: unwind to its start
  // Not ours: fall back to the default action; returning re-executes the faulting access,
  // which then kills the process with SIGBUS as if no handler had been installed.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    // SA_NODEFER: SIGBUS stays unblocked after the jump (sigsetjmp below saves no mask, so no
    // system call per read).
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, nullptr);
  });
}

}  // namespace

void guarded_read_impl(const std::string& path, void (*read)(void*), void* context) {
  install_handler();
  sigjmp_buf target;
  sigjmp_buf* const outer = t_target;  // guarded reads may nest (a read inside a read)
  if (sigsetjmp(target, 0) != 0) {
    t_target = outer;
    throw Error::data(path, "the file shrank while it was being read (truncated or replaced under trainer; "
                            "SIGBUS on its memory map)",
                      "leave data files unchanged while trainer runs");
  }
  t_target = &target;
  try {
    read(context);
  } catch (...) {
    t_target = outer;
    throw;
  }
  t_target = outer;
}

}  // namespace trainer::data_detail
