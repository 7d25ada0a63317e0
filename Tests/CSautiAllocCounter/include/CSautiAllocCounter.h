// Counts heap allocations made on threads that opted in, by wrapping malloc and friends.
// Linked into the test binary only: the steady-state no-allocation test of the media plane.
#ifndef C_SAUTI_ALLOC_COUNTER_H
#define C_SAUTI_ALLOC_COUNTER_H
#include <stdint.h>

/// Counts allocations made on the calling thread in `group` (1-15), or stops (0). Tests that
/// may run at once use different groups, so one's set-up is not counted in another's window.
void sauti_alloc_count_this_thread(int group);
/// Allocations counted so far in one group.
uint64_t sauti_alloc_count_group(int group);
/// Prints a backtrace to stderr for each of the next `n` counted allocations (debugging aid).
void sauti_alloc_trace_next(int n);
/// Allocations counted so far, over all groups.
uint64_t sauti_alloc_count(void);
#endif
