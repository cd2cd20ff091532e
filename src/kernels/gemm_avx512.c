/* gemm_avx512.c -- the SGEMM backend for AVX-512 (8 x 32 register tile:
 * 16 zmm accumulators, two B vectors, one broadcast A value). Compiled with
 * a per-function target attribute, so the file builds without -mavx512f and
 * runs only when dn_cpu_level_get() says the CPU (and OS) support AVX-512. */
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

#define DN_SUFFIX avx512
#define DN_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define DN_MR 8
#define DN_NR 32
#ifndef DN_KC
#define DN_KC 256
#endif
#ifndef DN_MC
#define DN_MC 128
#endif
#define DN_NC 512
#define DN_SW DN_SMALL_WIDTH_AVX512

/* t = alpha*acc (+ beta*C) (+ bias) (relu), then store 16 floats at c. */
static DN_TARGET inline void store16(float *c, __m512 acc, const dn_tile_op *op, int off) {
  __m512 t = _mm512_mul_ps(_mm512_set1_ps(op->alpha), acc);
  if (op->load)
    t = _mm512_add_ps(t, _mm512_mul_ps(_mm512_set1_ps(op->beta), _mm512_loadu_ps(c)));
  if (op->bias != NULL)
    t = _mm512_add_ps(t, _mm512_loadu_ps(op->bias + off));
  if (op->act == DN_EPI_RELU)
    t = _mm512_mask_mov_ps(t, _mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_LE_OQ),
                           _mm512_setzero_ps());
  if (op->flag != NULL && /* |t| > limit, or NaN (unordered) */
      _mm512_cmp_ps_mask(_mm512_abs_ps(t), _mm512_set1_ps(DN_GRAD_LIMIT), _CMP_NLE_UQ) != 0)
    *op->flag = true;
  _mm512_storeu_ps(c, t);
}

/* The 8 x 32 tile from K steps of packed A and B. C's rows are prefetched
 * first: the tile is read (beta, later K blocks) and written only at the end. */
static DN_TARGET __attribute__((noinline)) void ukernel_avx512(size_t K, const float *restrict A,
                                                               const float *restrict B, float *C,
                                                               size_t ldc, const dn_tile_op *op) {
  for (int r = 0; r < DN_MR; r++) {
    _mm_prefetch((const char *)(C + r * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(C + r * ldc + 16), _MM_HINT_T0);
  }
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  for (size_t k = 0; k < K; k++) {
    __m512 b0 = _mm512_loadu_ps(B), b1 = _mm512_loadu_ps(B + 16), a;
#define DN_STEP(r)                                                                                 \
  a = _mm512_set1_ps(A[r]);                                                                        \
  c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);                                                       \
  c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);
    DN_STEP(0)
    DN_STEP(1)
    DN_STEP(2)
    DN_STEP(3)
    DN_STEP(4)
    DN_STEP(5)
    DN_STEP(6)
    DN_STEP(7)
#undef DN_STEP
    A += DN_MR;
    B += DN_NR;
  }
#define DN_OUT(r)                                                                                  \
  store16(C + r * ldc, c##r##0, op, 0);                                                            \
  store16(C + r * ldc + 16, c##r##1, op, 16);
  DN_OUT(0) DN_OUT(1) DN_OUT(2) DN_OUT(3) DN_OUT(4) DN_OUT(5) DN_OUT(6) DN_OUT(7)
#undef DN_OUT
}

/* Transposes 16 rows of 16 floats: in row i at src + i*lds, out row j (= column j) in v[j]. */
static DN_TARGET inline void transpose16(const float *src, size_t lds, __m512 v[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i++)
    v[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    v[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    v[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    v[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    v[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(v[i], v[4 + i], 0x88);
    t[4 + i] = _mm512_shuffle_f32x4(v[i], v[4 + i], 0xdd);
    t[8 + i] = _mm512_shuffle_f32x4(v[8 + i], v[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(v[8 + i], v[12 + i], 0xdd);
  }
  for (int i = 0; i < 8; i++) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    v[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
  }
}

/* Two MR = 8 row panels of a row-major A (16 rows at a, kc columns) into d0 and d1. */
static DN_TARGET void pack_a_pair(const float *a, size_t lda, size_t kc, float *d0, float *d1) {
  size_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m512 v[16];
    transpose16(a + k, lda, v);
    for (int j = 0; j < 16; j++) {
      _mm256_storeu_ps(d0 + (k + j) * 8, _mm512_castps512_ps256(v[j]));
      _mm256_storeu_ps(d1 + (k + j) * 8,
                       _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[j]), 1)));
    }
  }
  for (; k < kc; k++)
    for (int r = 0; r < 8; r++) {
      d0[k * 8 + r] = a[r * lda + k];
      d1[k * 8 + r] = a[(r + 8) * lda + k];
    }
}
#define DN_PACK_A_PAIR pack_a_pair

/* One NR = 32 column panel of op(B) = B^T: column c of op(B) is row c of B (at b + c*ldb). */
static DN_TARGET void pack_b_trans(const float *b, size_t ldb, size_t kc, float *d) {
  size_t k = 0;
  for (; k + 16 <= kc; k += 16)
    for (int half = 0; half < 2; half++) {
      __m512 v[16];
      transpose16(b + half * 16 * ldb + k, ldb, v);
      for (int j = 0; j < 16; j++)
        _mm512_storeu_ps(d + (k + j) * 32 + half * 16, v[j]);
    }
  for (; k < kc; k++)
    for (int c = 0; c < 32; c++)
      d[k * 32 + c] = b[c * ldb + k];
}
#define DN_PACK_B_TRANS pack_b_trans

/* The small-layer kernels' vector operations (gemm_template.h): one zmm holds
 * a row of up to 16 values; masks select the live lanes. */
#define DN_V __m512
#define DN_VM __mmask16
#define DN_VMASK(n) ((__mmask16)((1u << (n)) - 1u))
#define DN_VLOAD(m, p) _mm512_maskz_loadu_ps((m), (p))
#define DN_VSTORE(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define DN_VZERO() _mm512_setzero_ps()
#define DN_VSET1(x) _mm512_set1_ps(x)
#define DN_VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define DN_VADD(a, b) _mm512_add_ps((a), (b))
#define DN_VMUL(a, b) _mm512_mul_ps((a), (b))
/* v <= 0 -> 0 (NaN stays NaN); 1 where v > 0, else 0; lane k of v in every lane */
#define DN_VRELU(v)                                                                                \
  _mm512_mask_mov_ps((v), _mm512_cmp_ps_mask((v), _mm512_setzero_ps(), _CMP_LE_OQ),                \
                     _mm512_setzero_ps())
#define DN_VPOS01(v)                                                                               \
  _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((v), _mm512_setzero_ps(), _CMP_GT_OQ),                    \
                      _mm512_set1_ps(1.0f))
#define DN_VLANE(v, k) _mm512_permutexvar_ps(_mm512_set1_epi32((int)(k)), (v))

/* The unpacked paths' multiply-add: fused, as in the micro-kernel and the small kernels. */
#define DN_MADD(a, b, c) fmaf((a), (b), (c))

#include "kernels/gemm_template.h"

#else
typedef int dn_gemm_avx512_unavailable; /* non-x86: this backend is not built */
#endif
