/* Small helpers shared by the load generators (dnsload.c, asload.c): a monotonic clock in nanoseconds and an
 * int64 comparison for qsort (percentiles). Header-only: each generator is one cc invocation. */
#ifndef INFERNO_BENCH_LOADGEN_H
#define INFERNO_BENCH_LOADGEN_H
#include <stdint.h>
#include <time.h>

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}
#endif
