/* parallel.h -- internal: the thread budget and the split of elementwise work over threads, for
 * the kernels and for the flat loops above them (optimizer updates, gradient scans). */
#ifndef DN_PARALLEL_H
#define DN_PARALLEL_H

#include <stddef.h>

/* Largest thread count the kernels may use (1 without OpenMP): the count dn_set_threads set,
 * else omp_get_max_threads(). The public dn_threads() returns it. */
int dn_max_threads(void);

/* Elementwise work over [0, n): fn(ctx, lo, hi) on contiguous parts, one per
 * thread (OpenMP builds: at most dn_max_threads() parts, each at least
 * `grain` long; otherwise one call for the whole range on this thread).
 * Workers adopt the caller's FTZ/DAZ state. Only for work whose result for
 * each element does not depend on where the parts begin and end. */
typedef void (*dn_range_fn)(void *ctx, size_t lo, size_t hi);
void dn_parallel_ranges(size_t n, size_t grain, dn_range_fn fn, void *ctx);

#endif
