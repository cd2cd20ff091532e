/* omp_balance.c -- how far two threads drift apart on identical work: REGIONS OpenMP regions in
 * which each of 2 threads runs the same STEPS of 16 independent multiply-add chains, then meets
 * the other at a barrier. Prints each thread's time working and waiting. On a quiet machine the
 * waits are a few percent; a wait of 10-20% means the vCPUs' speeds drift within a region, which
 * caps any 2-thread speed-up whatever the split. Not part of ctest.
 *   omp_balance [REGIONS=2000] [STEPS=20000] */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* 16 chains of 8 lanes; the compiler vectorises them for the baseline instruction set. */
static float chains(long steps, float seed) {
  float c[16][8];
  for (int i = 0; i < 16; i++)
    for (int l = 0; l < 8; l++)
      c[i][l] = seed + 0.01f * (float)(i + l);
  for (long s = 0; s < steps; s++)
    for (int i = 0; i < 16; i++)
      for (int l = 0; l < 8; l++)
        c[i][l] = c[i][l] * 0.999f + 0.001f;
  float t = 0.0f;
  for (int i = 0; i < 16; i++)
    for (int l = 0; l < 8; l++)
      t += c[i][l];
  return t;
}

int main(int argc, char **argv) {
  int regions = argc > 1 ? atoi(argv[1]) : 2000;
  long steps = argc > 2 ? atol(argv[2]) : 20000;
  double work[2] = {0, 0}, wait[2] = {0, 0};
  float sink = 0.0f;
  int team = 0;
  double t0 = now();
  for (int r = 0; r < regions; r++) {
#pragma omp parallel num_threads(2) reduction(+ : sink)
    {
      int t = omp_get_thread_num();
      if (t == 0 && r == 0)
        team = omp_get_num_threads();
      double s = now();
      sink += chains(steps, (float)r);
      double e = now();
      work[t] += e - s;
#pragma omp barrier
      wait[t] += now() - e;
    }
  }
  double total = now() - t0;
  if (team != 2) {
    printf("omp_balance: got %d thread(s), need 2\n", team);
    return 1;
  }
  printf("%d regions in %.1f ms (%.0f us each)\n", regions, total * 1e3, total / regions * 1e6);
  for (int t = 0; t < 2; t++)
    printf("thread %d: working %.1f ms, waiting for the other %.1f ms (%.1f%%)\n", t, work[t] * 1e3,
           wait[t] * 1e3, 100.0 * wait[t] / (work[t] + wait[t]));
  printf("(checksum %g)\n", (double)sink);
  return 0;
}
