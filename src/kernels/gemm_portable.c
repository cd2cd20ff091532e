/* gemm_portable.c -- the SGEMM backend in plain C for every machine (the
 * compiler may vectorise it for the baseline instruction set). */
#include <math.h>

#include "core/alloc.h"
#include "core/fpenv.h"

#ifdef DENSENET_HAVE_OPENMP
#include <omp.h>
#endif
#include "kernels/gemm.h"
#include "kernels/kernels.h"

#define DN_SUFFIX portable
#define DN_TARGET
#define DN_MR 4
#define DN_NR 16
#define DN_KC 256
#define DN_MC 64
#define DN_NC 512
#define DN_SW DN_SMALL_WIDTH_PORTABLE

/* c + a * b as a multiply, then an add (two statements: no compiler contracts them into an
 * FMA), in the micro-kernel and every other path (gemm_template.h). */
static inline float madd_portable(float a, float b, float c) {
  float p = a * b;
  return c + p;
}
#define DN_MADD(a, b, c) madd_portable((a), (b), (c))

/* MR x NR tile of C from K steps of packed A (MR per step) and B (NR per step). */
static void ukernel_portable(size_t K, const float *Ap, const float *Bp, float *C, size_t ldc,
                             const dn_tile_op *op) {
  float acc[DN_MR][DN_NR] = {{0}};
  for (size_t k = 0; k < K; k++) {
    const float *a = Ap + k * DN_MR, *b = Bp + k * DN_NR;
    for (int r = 0; r < DN_MR; r++)
      for (int j = 0; j < DN_NR; j++)
        acc[r][j] = DN_MADD(a[r], b[j], acc[r][j]);
  }
  for (int r = 0; r < DN_MR; r++) {
    float *c = C + r * ldc;
    for (int j = 0; j < DN_NR; j++) {
      float t = op->alpha * acc[r][j];
      if (op->load)
        t = t + op->beta * c[j];
      if (op->bias != NULL)
        t = t + op->bias[j];
      if (op->act == DN_EPI_RELU && t <= 0.0f)
        t = 0.0f;
      if (op->flag != NULL && !(fabsf(t) <= DN_GRAD_LIMIT))
        *op->flag = true;
      c[j] = t;
    }
  }
}

#include "kernels/gemm_template.h"
