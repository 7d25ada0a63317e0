// Counts heap allocations made on threads that opted in, by wrapping malloc and friends.
// Linked into the test binary only: the steady-state no-allocation test of the media plane.
#ifndef C_SAUTI_ALLOC_COUNTER_H
#define C_SAUTI_ALLOC_COUNTER_H
#include <stdint.h>

/// Starts (1) or stops (0) counting allocations made on the calling thread.
void sauti_alloc_count_this_thread(int on);
/// Prints a backtrace to stderr for each of the next `n` counted allocations (debugging aid).
void sauti_alloc_trace_next(int n);
/// Allocations counted so far, over all opted-in threads.
uint64_t sauti_alloc_count(void);
#endif
