/* gemm_bench.c -- the GEMM alone: libdensenet's dn_gemm (the active backend, or the one named by
 * DN_CPU) against OpenBLAS cblas_sgemm on every product shape of W2, W3 and W4, in one process.
 * Internal tool: uses src/kernels/kernels.h.
 *   gemm_bench [ROUNDS]   (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS select the threads)
 *
 * On a shared VM the core's speed changes from one second to the next, so long timed runs of
 * one program and then the other compare two different machines. Each round here times one
 * call of every shape on both libraries and one fixed FMA loop (the core's peak at that moment),
 * back to back; each figure is the best of ROUNDS (default 60). Rates are reported as a share
 * of that peak (the widest FMA the CPU has, 16 chains), so runs minutes apart can be compared. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include <cblas.h>
#undef I

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* The core's multiply-add peak at this moment: independent chains of the widest FMA the CPU has,
 * in GFLOP/s (plain C elsewhere). 16 chains in AVX-512's 32 registers; 12 in AVX2's 16 (16 chains
 * and the two operands would spill to the stack: 59 GFLOP/s instead of 104 on an AVX2 EPYC). */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PEAK_BODY(V, FMA, SET1, ADD, LANES, CH)                                                    \
  V c[CH], a = SET1(0.999f), b = SET1(0.001f);                                                     \
  for (int i = 0; i < CH; i++)                                                                     \
    c[i] = SET1(0.1f * (float)i);                                                                  \
  double t0 = now();                                                                               \
  for (long k = 0; k < PEAK_STEPS; k++) {                                                          \
    for (int i = 0; i < CH; i++)                                                                   \
      c[i] = FMA(c[i], a, b);                                                                      \
    __asm__("" : "+x"(a)); /* keeps the chains in the loop */                                      \
  }                                                                                                \
  double t = now() - t0;                                                                           \
  for (int i = 1; i < CH; i++)                                                                     \
    c[0] = ADD(c[0], c[i]);                                                                        \
  float out[LANES];                                                                                \
  memcpy(out, &c[0], sizeof out);                                                                  \
  peak_sink += out[0];                                                                             \
  return 2.0 * CH * LANES * PEAK_STEPS / t / 1e9;
#endif
#define PEAK_STEPS 20000L
static float peak_sink;

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) static double peak_avx512(void) {
  PEAK_BODY(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps, 16, 16)
}
__attribute__((target("avx2,fma"))) static double peak_avx2(void) {
  PEAK_BODY(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps, 8, 12)
}
#endif

static double fma_peak(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("avx512f"))
    return peak_avx512();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return peak_avx2();
#endif
  float c[16] = {0};
  double t0 = now();
  for (long k = 0; k < PEAK_STEPS; k++)
    for (int i = 0; i < 16; i++)
      c[i] = c[i] * 0.999f + 0.001f;
  double t = now() - t0;
  peak_sink += c[3];
  return 2.0 * 16 * PEAK_STEPS / t / 1e9;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 60;
  if (rounds < 1)
    rounds = 1;
  struct {
    int ta, tb;
    size_t M, N, K;
    const char *n;
  } s[] = {{0, 0, 256, 512, 512, "W2 fwd NN 256x512x512"},
           {1, 0, 512, 512, 256, "W2 dW TN 512x512x256"},
           {0, 1, 256, 512, 512, "W2 dX NT 256x512x512"},
           {0, 0, 256, 512, 8, "W2 L1 fwd 256x512x8"},
           {1, 0, 8, 512, 256, "W2 L1 dW 8x512x256"},
           {0, 0, 256, 1, 512, "W2 out fwd 256x1x512"},
           {1, 0, 512, 1, 256, "W2 out dW 512x1x256"},
           {0, 1, 256, 512, 1, "W2 out dX 256x512x1"},
           {0, 0, 128, 1024, 784, "W3 fwd1 128x1024x784"},
           {0, 0, 128, 1024, 1024, "W3 fwd2 128x1024x1024"},
           {1, 0, 1024, 1024, 128, "W3 dW2"},
           {0, 1, 128, 1024, 1024, "W3 dX2"},
           {1, 0, 784, 1024, 128, "W3 dW1"},
           {0, 0, 1024, 512, 512, "W4 1024x512x512"}};
  enum { n_shapes = sizeof s / sizeof *s };
  float *A = malloc(sizeof(float) * 2048 * 2048), *B = malloc(sizeof(float) * 2048 * 2048),
        *C = malloc(sizeof(float) * 2048 * 2048);
  if (A == NULL || B == NULL || C == NULL)
    return 1;
  for (size_t i = 0; i < 2048 * 2048; i++) {
    A[i] = (float)(i % 7) * 0.1f;
    B[i] = (float)(i % 5) * 0.1f;
    C[i] = 0;
  }
  double best[n_shapes][2], peak = 0.0;
  for (int q = 0; q < n_shapes; q++)
    best[q][0] = best[q][1] = 1e9;
  for (int r = 0; r < rounds; r++) {
    double p = fma_peak();
    if (p > peak)
      peak = p;
    for (int q = 0; q < n_shapes; q++) {
      size_t M = s[q].M, N = s[q].N, K = s[q].K;
      size_t lda = s[q].ta ? M : K, ldb = s[q].tb ? K : N;
      for (int w = 0; w < 2; w++) {
        double t0 = now();
        if (w == 0)
          dn_gemm(s[q].ta, s[q].tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
        else
          cblas_sgemm(CblasRowMajor, s[q].ta ? CblasTrans : CblasNoTrans,
                      s[q].tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C,
                      N);
        double t = now() - t0;
        if (t < best[q][w])
          best[q][w] = t;
      }
    }
  }
  printf("backend %s, best of %d rounds; the core's FMA peak %.1f GFLOP/s (%g)\n",
         dn_kernels_backend(), rounds, peak, (double)peak_sink);
  printf("%-24s %8s %8s %7s %7s %6s\n", "shape", "ours", "openblas", "ours%", "oblas%", "ratio");
  double tot_o = 0, tot_b = 0;
  for (int q = 0; q < n_shapes; q++) {
    double flop = 2.0 * s[q].M * s[q].N * s[q].K;
    double go = flop / best[q][0] / 1e9, gb = flop / best[q][1] / 1e9;
    if (q < 8) {
      tot_o += best[q][0];
      tot_b += best[q][1];
    }
    printf("%-24s %8.1f %8.1f %6.1f%% %6.1f%% %6.3f\n", s[q].n, go, gb, 100.0 * go / peak,
           100.0 * gb / peak, best[q][1] / best[q][0]);
  }
  printf("W2 step GEMM sum (fwd/dW/dX hidden x1, L1, out): ours %.0f us openblas %.0f us\n",
         tot_o * 1e6, tot_b * 1e6);
  free(A);
  free(B);
  free(C);
  return 0;
}
