/* qgemm.c -- the int8 product (qgemm.h): portable C and AVX2, chosen at run time. */
#include "kernels/qgemm.h"

#include <string.h>

void dn_qgemm_pack(int8_t *Wp, const int8_t *W, size_t K, size_t O) {
  size_t Kp = dn_qgemm_kpad(K), Op = dn_qgemm_opad(O);
  memset(Wp, 0, Kp * Op);
  for (size_t k = 0; k < K; k++)
    for (size_t o = 0; o < O; o++)
      Wp[((o / 8) * (Kp / 4) + k / 4) * 32 + (o % 8) * 4 + k % 4] = W[k * O + o];
}

static void qgemm_portable(int32_t *C, const uint8_t *X, const int8_t *Wp, size_t N, size_t Kp,
                           size_t Op) {
  size_t KQ = Kp / 4;
  for (size_t n = 0; n < N; n++) {
    const uint8_t *x = X + n * Kp;
    for (size_t b = 0; b < Op / 8; b++) {
      int32_t acc[8] = {0};
      const int8_t *w = Wp + b * KQ * 32;
      for (size_t q = 0; q < KQ; q++)
        for (size_t c = 0; c < 8; c++)
          for (size_t j = 0; j < 4; j++)
            acc[c] += (int32_t)x[4 * q + j] * w[q * 32 + c * 4 + j];
      memcpy(C + n * Op + b * 8, acc, sizeof acc);
    }
  }
}

#ifdef DN_HAVE_X86_KERNELS
#include <immintrin.h>

#define DN_QTARGET __attribute__((target("avx2")))

/* R rows (1..4) x NB blocks of 8 columns (1 or 2) from row n, block b. R and NB are constants at
 * each call, so the loops unroll into registers. */
static DN_QTARGET inline __attribute__((always_inline)) void tile_avx2(int32_t *C, const uint8_t *X,
                                                                       const int8_t *Wp, size_t n,
                                                                       size_t b, size_t Kp,
                                                                       size_t Op, int R, int NB) {
  const __m256i ones = _mm256_set1_epi16(1);
  size_t KQ = Kp / 4;
  __m256i acc[4][2];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < NB; j++)
      acc[r][j] = _mm256_setzero_si256();
  const int8_t *w = Wp + b * KQ * 32;
  for (size_t q = 0; q < KQ; q++) {
    __m256i v[2];
    for (int j = 0; j < NB; j++)
      v[j] = _mm256_loadu_si256((const __m256i *)(w + (j * KQ + q) * 32));
    for (int r = 0; r < R; r++) {
      int32_t quad;
      memcpy(&quad, X + (n + r) * Kp + 4 * q, 4);
      __m256i xb = _mm256_set1_epi32(quad);
      for (int j = 0; j < NB; j++)
        acc[r][j] =
            _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(_mm256_maddubs_epi16(xb, v[j]), ones));
    }
  }
  for (int r = 0; r < R; r++)
    for (int j = 0; j < NB; j++)
      _mm256_storeu_si256((__m256i *)(C + (n + r) * Op + (b + j) * 8), acc[r][j]);
}

static DN_QTARGET void rows_avx2(int32_t *C, const uint8_t *X, const int8_t *Wp, size_t n,
                                 size_t Kp, size_t Op, int R) {
  size_t b = 0, OB = Op / 8;
  for (; b + 2 <= OB; b += 2)
    switch (R) {
    case 4: tile_avx2(C, X, Wp, n, b, Kp, Op, 4, 2); break;
    case 3: tile_avx2(C, X, Wp, n, b, Kp, Op, 3, 2); break;
    case 2: tile_avx2(C, X, Wp, n, b, Kp, Op, 2, 2); break;
    default: tile_avx2(C, X, Wp, n, b, Kp, Op, 1, 2); break;
    }
  if (b < OB)
    switch (R) {
    case 4: tile_avx2(C, X, Wp, n, b, Kp, Op, 4, 1); break;
    case 3: tile_avx2(C, X, Wp, n, b, Kp, Op, 3, 1); break;
    case 2: tile_avx2(C, X, Wp, n, b, Kp, Op, 2, 1); break;
    default: tile_avx2(C, X, Wp, n, b, Kp, Op, 1, 1); break;
    }
}

static DN_QTARGET void qgemm_avx2(int32_t *C, const uint8_t *X, const int8_t *Wp, size_t N,
                                  size_t Kp, size_t Op) {
  size_t n = 0;
  for (; n + 4 <= N; n += 4)
    rows_avx2(C, X, Wp, n, Kp, Op, 4);
  if (n < N)
    rows_avx2(C, X, Wp, n, Kp, Op, (int)(N - n));
}
#endif

dn_qgemm_fn dn_qgemm_for(dn_cpu_level level) {
#ifdef DN_HAVE_X86_KERNELS
  if (level >= DN_CPU_AVX2)
    return qgemm_avx2;
#else
  (void)level;
#endif
  return qgemm_portable;
}

void dn_qgemm(int32_t *C, const uint8_t *X, const int8_t *Wp, size_t N, size_t Kp, size_t Op) {
  dn_qgemm_for(dn_cpu_level_get())(C, X, Wp, N, Kp, Op);
}
