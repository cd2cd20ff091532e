/* test_invariance.c -- batch invariance: a row's output depends only on the row and the weights.
 * For every native backend the CPU has (reference, portable, AVX2, AVX-512), models that take
 * every kernel path (the small-net chain, fused relu and linear layers, other activations
 * through the plain product, narrow and wide layers, one-unit layers, 1 to 3 blocks of the 256
 * terms the packed path sums at a time), every batch size 1..70 with the row at a random place
 * among random rows, on 1 and 2 threads (OpenMP builds; serial builds have one thread and say
 * so): dn_predict and dn_model_forward(training = true) give the row the bits its batch of one
 * gives it. (The cblas backend hands large products to the BLAS library, whose order is its
 * own: not covered.) */
#include "dn_test.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum { MAX_BATCH = 70 };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng_state >> 32);
}
static float urand(void) { /* in [-1, 1) */
  return (float)((double)(next_u32() >> 8) / 8388608.0 - 1.0);
}

static dn_model *make_model(int which) {
  switch (which) {
  case 0: /* the small-net chain (every layer at most 8 wide), relu and linear */
    return dn_sequential(dn_dense(8, .activation = "relu", .input_dim = 4),
                         dn_dense(6, .activation = "relu"), dn_dense(1));
  case 1: /* small layers with other activations: the plain product, then the activation */
    return dn_sequential(dn_dense(7, .activation = "tanh", .input_dim = 5),
                         dn_dense(3, .activation = "sigmoid"),
                         dn_dense(2, .activation = "softmax"));
  case 2: /* 16 wide (AVX-512's small kernels, the others' GEMM), then a one-unit layer */
    return dn_sequential(dn_dense(16, .activation = "relu", .input_dim = 12),
                         dn_dense(16, .activation = "relu"), dn_dense(1, .activation = "sigmoid"));
  case 3: /* wide: one-unit layer on 300 inputs (dot lanes), 300 -> 40 (two K blocks) */
    return dn_sequential(dn_dense(300, .activation = "relu", .input_dim = 30),
                         dn_dense(40, .activation = "elu"), dn_dense(1));
  case 4: /* 600 inputs (three K blocks) into a narrow layer, products large enough to thread */
    return dn_sequential(dn_dense(33, .activation = "relu", .input_dim = 600),
                         dn_dense(300, .activation = "relu"), dn_dense(257),
                         dn_dense(10, .activation = "softmax"));
  default: /* no bias, linear, 256 inputs exactly (one full block), 9 outputs */
    return dn_sequential(dn_dense(256, .input_dim = 3, .no_bias = true),
                         dn_dense(9, .activation = "relu", .no_bias = true));
  }
}
enum { N_MODELS = 6 };

/* The row's output in a batch of `rows` at position `at` (other rows random), by predict or
 * by the training forward pass. */
static void run(dn_model *m, bool forward, const float *row, size_t in, size_t out, size_t rows,
                size_t at, float *x, float *y, float *got) {
  for (size_t i = 0; i < rows * in; i++)
    x[i] = urand();
  memcpy(x + at * in, row, in * sizeof *x);
  if (forward)
    assert_ok(dn_model_forward(m, dn_tensor_2d(x, rows, in), true, dn_tensor_2d(y, rows, out)));
  else
    assert_ok(dn_predict(m, dn_tensor_2d(x, rows, in), dn_tensor_2d(y, rows, out)));
  memcpy(got, y + at * out, out * sizeof *got);
}

static size_t check_model(int which, const char *backend, int threads) {
  dn_model *m = make_model(which);
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, 100 + (uint64_t)which));
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  size_t in = dn_model_input_dim(m), out = dn_model_output_dim(m);
  float *x = malloc(MAX_BATCH * in * sizeof *x), *y = malloc(MAX_BATCH * out * sizeof *y);
  float *row = malloc(in * sizeof *row), *one = malloc(out * sizeof *one);
  float *got = malloc(out * sizeof *got);
  assert_true(x && y && row && one && got);
  size_t checked = 0;
  for (int forward = 0; forward < 2; forward++) {
    for (size_t i = 0; i < in; i++)
      row[i] = 2.0f * urand();
    run(m, forward, row, in, out, 1, 0, x, y, one);
    for (size_t rows = 1; rows <= MAX_BATCH; rows++) {
      size_t at = next_u32() % rows;
      run(m, forward, row, in, out, rows, at, x, y, got);
      if (memcmp(got, one, out * sizeof *got) != 0) {
        for (size_t o = 0; o < out; o++)
          if (memcmp(&got[o], &one[o], sizeof *got) != 0)
            fail_msg("model %d, %s, %d thread(s), %s: row %zu of %zu, output %zu: %a, alone %a",
                     which, backend, threads, forward ? "forward(training)" : "predict", at, rows,
                     o, (double)got[o], (double)one[o]);
      }
      checked++;
    }
  }
  free(x);
  free(y);
  free(row);
  free(one);
  free(got);
  dn_model_free(m);
  return checked;
}

static void test_row_independent_of_batch(void **state) {
  (void)state;
  static const char *const backends[] = {"reference", "portable", "avx2", "avx512"};
#ifdef _OPENMP
  int saved = omp_get_max_threads();
  const int max_threads = 2;
#else
  print_message("built without OpenMP: one thread only (the 2-thread half is skipped)\n");
  const int max_threads = 1;
#endif
  size_t ran = 0;
  for (size_t b = 0; b < sizeof backends / sizeof *backends; b++) {
    if (!dn_kernels_set_backend(backends[b])) {
      print_message("backend %s: not on this CPU or build, skipped\n", backends[b]);
      continue;
    }
    for (int threads = 1; threads <= max_threads; threads++) {
#ifdef _OPENMP
      omp_set_num_threads(threads);
#endif
      for (int which = 0; which < N_MODELS; which++)
        ran += check_model(which, backends[b], threads);
    }
  }
#ifdef _OPENMP
  omp_set_num_threads(saved);
#endif
  assert_true(dn_kernels_set_backend(NULL));
  assert_true(ran >= 2 * 2 * N_MODELS * MAX_BATCH); /* reference and portable at least */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_row_independent_of_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
