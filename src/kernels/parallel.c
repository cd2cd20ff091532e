/* parallel.c -- the thread budget (dn_set_threads / dn_threads) and the split of elementwise
 * work over threads. */
#include "kernels/parallel.h"

#include "core/fpenv.h"
#include "core/status.h"

#include <stdatomic.h>

#ifdef DENSENET_HAVE_OPENMP
#include <omp.h>
#endif

/* The count dn_set_threads asked for; 0: OpenMP's own (omp_get_max_threads(): OMP_NUM_THREADS,
 * else the CPUs of the process's affinity mask). Process-wide; read once per product. */
static _Atomic int dn_thread_request = 0;

dn_status dn_set_threads(int n) {
  if (n < 0 || n > DN_MAX_THREADS)
    return dn_fail(DN_ERR_ARG,
                   "dn_set_threads: n must be 0 (the default) or 1 to %d threads (got %d)",
                   DN_MAX_THREADS, n);
  atomic_store_explicit(&dn_thread_request, n, memory_order_relaxed);
  return DN_OK;
}

int dn_threads(void) {
  return dn_max_threads();
}

int dn_max_threads(void) {
#ifdef DENSENET_HAVE_OPENMP
  int n = atomic_load_explicit(&dn_thread_request, memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
#else
  return 1;
#endif
}

void dn_parallel_ranges(size_t n, size_t grain, dn_range_fn fn, void *ctx) {
  size_t parts = grain > 0 ? n / grain : 1, most = (size_t)dn_max_threads();
  if (parts > most)
    parts = most;
  if (parts <= 1) {
    fn(ctx, 0, n);
    return;
  }
#ifdef DENSENET_HAVE_OPENMP
  dn_fp_state caller = dn_fp_current();
#pragma omp parallel num_threads((int)parts)
  {
    dn_fp_state own = dn_fp_adopt(caller);
    size_t t = (size_t)omp_get_thread_num(), k = (size_t)omp_get_num_threads();
    fn(ctx, n * t / k, n * (t + 1) / k);
    dn_fp_leave(own);
  }
#else
  fn(ctx, 0, n);
#endif
}
