/* gemm_bench.c -- the GEMM alone: libdensenet's dn_gemm (the active backend, or the one named by
 * DN_CPU) against OpenBLAS cblas_sgemm on every product shape of W2, W3 and W4, interleaved in
 * one process (best of R repetitions of >= 30 ms each). Internal tool: uses src/kernels.h.
 *   gemm_bench [R]        (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS select the threads) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <stdbool.h>
#include "kernels.h"
#include <cblas.h>
#undef I
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
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
  float *A = malloc(sizeof(float) * 2048 * 2048), *B = malloc(sizeof(float) * 2048 * 2048),
        *C = malloc(sizeof(float) * 2048 * 2048);
  for (size_t i = 0; i < 2048 * 2048; i++) {
    A[i] = (float)(i % 7) * 0.1f;
    B[i] = (float)(i % 5) * 0.1f;
    C[i] = 0;
  }
  printf("backend %s  (best of %d x >=30ms, GFLOP/s; ratio = ours/openblas)\n",
         dn_kernels_backend(), reps);
  double tot_o = 0, tot_b = 0;
  for (size_t q = 0; q < sizeof s / sizeof *s; q++) {
    size_t M = s[q].M, N = s[q].N, K = s[q].K;
    size_t lda = s[q].ta ? M : K, ldb = s[q].tb ? K : N;
    double best[2] = {1e9, 1e9};
    for (int r = 0; r < reps; r++)
      for (int w = 0; w < 2; w++) {
        int it = 0;
        double t0 = now(), t;
        do {
          if (w == 0)
            dn_gemm(s[q].ta, s[q].tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
          else
            cblas_sgemm(CblasRowMajor, s[q].ta ? CblasTrans : CblasNoTrans,
                        s[q].tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C,
                        N);
          it++;
          t = now() - t0;
        } while (t < 0.03);
        if (t / it < best[w])
          best[w] = t / it;
      }
    if (q < 8) {
      tot_o += best[0];
      tot_b += best[1];
    }
    printf("%-26s ours %6.1f  openblas %6.1f  ratio %.2f  (%.0f us vs %.0f us)\n", s[q].n,
           2.0 * M * N * K / best[0] / 1e9, 2.0 * M * N * K / best[1] / 1e9, best[1] / best[0],
           best[0] * 1e6, best[1] * 1e6);
  }
  printf("W2 step GEMM sum (fwd/dW/dX hidden x1, L1, out): ours %.0f us openblas %.0f us\n",
         tot_o * 1e6, tot_b * 1e6);
  return 0;
}
