/* parallel.c -- the thread budget and the split of elementwise work over threads. */
#include "kernels/parallel.h"

#include "core/fpenv.h"

#ifdef DENSENET_HAVE_OPENMP
#include <omp.h>
#endif

int dn_max_threads(void) {
#ifdef DENSENET_HAVE_OPENMP
  return omp_get_max_threads();
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
