// Reads from a memory-mapped file fault with SIGBUS when the file shrinks under the mapping (for
// example another process truncated it while trainer runs). guarded_read() turns such a fault,
// raised on the calling thread inside `read`, into Error::data naming the file, so the run ends
// with exit code 3 and a message instead of a crash.
//
// The fault leaves `read` by siglongjmp, so `read` must own nothing that needs a destructor
// (no allocations, no locks) while it touches mapped memory: plain copy and conversion loops.
// SIGBUS outside a guarded region keeps its default action (the process dies with the signal).
#pragma once

#include <string>
#include <utility>

namespace trainer::data_detail {

void guarded_read_impl(const std::string& path, void (*read)(void*), void* context);

template <typename F>
void guarded_read(const std::string& path, F&& read) {
  guarded_read_impl(path, [](void* f) { (*static_cast<std::remove_reference_t<F>*>(f))(); },
                    const_cast<void*>(static_cast<const void*>(&read)));
}

}  // namespace trainer::data_detail
