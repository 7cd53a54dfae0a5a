// Counts heap allocations of the whole process (all threads) between start() and stop().
//
// alloc_counter_support.cpp replaces the global operator new/delete family and interposes
// glibc's malloc family (forwarding to __libc_malloc & co.), so allocations from Eigen,
// libgomp or the standard library are seen as well. Unavailable under AddressSanitizer,
// which owns malloc itself.
#pragma once

#include <cstdint>

namespace alloc_counter {

bool available();
void start();
std::int64_t stop();  // allocations counted since start()

}  // namespace alloc_counter
