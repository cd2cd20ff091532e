/* gemm_avx2.c -- the SGEMM backend for AVX2 + FMA (6 x 16 register tile:
 * 12 ymm accumulators, two B vectors, one broadcast A value). Compiled with
 * a per-function target attribute, so the file builds without -mavx2 and
 * runs only when dn_cpu_level_get() says the CPU has AVX2 and FMA. */
#include "kernels/gemm.h"

#ifdef DN_HAVE_X86_KERNELS
#include <immintrin.h>
#include <math.h>

#include "core/alloc.h"
#include "core/fpenv.h"
#include "kernels/kernels.h"

#ifdef DENSENET_HAVE_OPENMP
#include <omp.h>
#endif

#define DN_SUFFIX avx2
#define DN_TARGET __attribute__((target("avx2,fma")))
#define DN_MR 6
#define DN_NR 16
#define DN_KC 256
#define DN_MC 72
#define DN_NC 512
#define DN_SW DN_SMALL_WIDTH_AVX2

/* t = alpha*acc (+ beta*C) (+ bias) (relu), then store 8 floats at c. */
static DN_TARGET inline void store8(float *c, __m256 acc, const dn_tile_op *op, int off) {
  __m256 t = _mm256_mul_ps(_mm256_set1_ps(op->alpha), acc);
  if (op->load)
    t = _mm256_add_ps(t, _mm256_mul_ps(_mm256_set1_ps(op->beta), _mm256_loadu_ps(c)));
  if (op->bias != NULL)
    t = _mm256_add_ps(t, _mm256_loadu_ps(op->bias + off));
  if (op->act == DN_EPI_RELU)
    t = _mm256_andnot_ps(_mm256_cmp_ps(t, _mm256_setzero_ps(), _CMP_LE_OQ), t);
  if (op->flag != NULL && /* |t| > limit, or NaN (unordered) */
      _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), t),
                                       _mm256_set1_ps(DN_GRAD_LIMIT), _CMP_NLE_UQ)) != 0)
    *op->flag = true;
  _mm256_storeu_ps(c, t);
}

static DN_TARGET void ukernel_avx2(size_t K, const float *restrict A, const float *restrict B,
                                   float *C, size_t ldc, const dn_tile_op *op) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (size_t k = 0; k < K; k++) {
    __m256 b0 = _mm256_loadu_ps(B), b1 = _mm256_loadu_ps(B + 8), a;
#define DN_STEP(r)                                                                                 \
  a = _mm256_broadcast_ss(A + r);                                                                  \
  c##r##0 = _mm256_fmadd_ps(a, b0, c##r##0);                                                       \
  c##r##1 = _mm256_fmadd_ps(a, b1, c##r##1);
    DN_STEP(0)
    DN_STEP(1)
    DN_STEP(2)
    DN_STEP(3)
    DN_STEP(4)
    DN_STEP(5)
#undef DN_STEP
    A += DN_MR;
    B += DN_NR;
  }
#define DN_OUT(r)                                                                                  \
  store8(C + r * ldc, c##r##0, op, 0);                                                             \
  store8(C + r * ldc + 8, c##r##1, op, 8);
  DN_OUT(0) DN_OUT(1) DN_OUT(2) DN_OUT(3) DN_OUT(4) DN_OUT(5)
#undef DN_OUT
}

/* The small-layer kernels' vector operations (gemm_template.h): one ymm holds
 * a row of up to 8 values; masks (all bits set in live lanes) come from a
 * sliding window over dn_avx2_lanes. */
static const int dn_avx2_lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
#define DN_V __m256
#define DN_VM __m256i
#define DN_VMASK(n) _mm256_loadu_si256((const __m256i *)(const void *)(dn_avx2_lanes + 8 - (n)))
#define DN_VLOAD(m, p) _mm256_maskload_ps((p), (m))
#define DN_VSTORE(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define DN_VZERO() _mm256_setzero_ps()
#define DN_VSET1(x) _mm256_set1_ps(x)
#define DN_VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define DN_VADD(a, b) _mm256_add_ps((a), (b))
#define DN_VMUL(a, b) _mm256_mul_ps((a), (b))
/* v <= 0 -> 0 (NaN stays NaN); 1 where v > 0, else 0; lane k of v in every lane */
#define DN_VRELU(v) _mm256_andnot_ps(_mm256_cmp_ps((v), _mm256_setzero_ps(), _CMP_LE_OQ), (v))
#define DN_VPOS01(v)                                                                               \
  _mm256_and_ps(_mm256_cmp_ps((v), _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(1.0f))
#define DN_VLANE(v, k) _mm256_permutevar8x32_ps((v), _mm256_set1_epi32((int)(k)))

/* The unpacked paths' multiply-add: fused, as in the micro-kernel and the small kernels. */
#define DN_MADD(a, b, c) fmaf((a), (b), (c))

#include "kernels/gemm_template.h"

#else
typedef int dn_gemm_avx2_unavailable; /* non-x86: this backend is not built */
#endif
