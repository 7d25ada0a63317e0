#define _GNU_SOURCE
#include "CSautiAllocCounter.h"
#include <stddef.h>
#include <stdatomic.h>
#include <errno.h>
#include <malloc.h>
#include <execinfo.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static __thread int counting;  /* 0: not counted; else the thread's group, 1-15 */
static __thread int inside;
static _Atomic uint64_t total[16];
static _Atomic int traces;

void sauti_alloc_count_this_thread(int group) { counting = group < 0 || group > 15 ? 1 : group; }
uint64_t sauti_alloc_count_group(int group) { return group < 1 || group > 15 ? 0 : atomic_load(&total[group]); }
uint64_t sauti_alloc_count(void) {
    uint64_t sum = 0;
    for (int g = 1; g < 16; g++) sum += atomic_load(&total[g]);
    return sum;
}

void sauti_alloc_trace_next(int n) { atomic_store(&traces, n); }

static inline void note(void) {
    if (!counting) return;
    atomic_fetch_add_explicit(&total[counting], 1, memory_order_relaxed);
    if (atomic_load_explicit(&traces, memory_order_relaxed) > 0 && !inside) {
        inside = 1;
        if (atomic_fetch_sub(&traces, 1) > 0) {
            void *frames[24];
            int n = backtrace(frames, 24);
            write(2, "--- allocation on a counted thread:\n", 36);
            backtrace_symbols_fd(frames, n, 2);
        }
        inside = 0;
    }
}

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t n) { note(); return __libc_memalign(alignment, n); }
void *aligned_alloc(size_t alignment, size_t n) { note(); return __libc_memalign(alignment, n); }
int posix_memalign(void **out, size_t alignment, size_t n) {
    note();
    void *p = __libc_memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
