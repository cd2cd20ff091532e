/* test_threads.c -- same seed, same results on any thread count: a fit large enough to thread
 * (packed GEMMs split over threads, the optimizer update and the gradient check split over
 * parameter ranges) ends with bit-identical weights and losses on 1 and 2 threads. Skipped in
 * builds without OpenMP (-DDENSENET_OPENMP=ON), where there is only one thread. */
#include "dn_test.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef _OPENMP
enum { IN = 8, ROWS = 512, BATCH = 256, EPOCHS = 3 };
static float X[ROWS * IN], Y[ROWS];

static void fill(void) {
  for (size_t i = 0; i < ROWS * IN; i++)
    X[i] = (float)((i * 7919) % 1000) / 1000.0f;
  for (size_t s = 0; s < ROWS; s++)
    Y[s] = X[s * IN] * 2.0f - X[s * IN + 1] + X[s * IN + 2] * X[s * IN + 3];
}

/* A W2-shaped net: 256 x 512 x 512 products (above the threading threshold) and 267,777
 * parameters (above the optimizer's split threshold). */
static float *train(int threads, const char *optimizer, double *first, double *last,
                    size_t *n_params) {
  omp_set_num_threads(threads);
  assert_int_equal(omp_get_max_threads(), threads); /* (an OMP_THREAD_LIMIT would void the test) */
  dn_model *m = dn_sequential(dn_dense(512, .activation = "relu", .input_dim = IN),
                              dn_dense(512, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, 7));
  assert_ok(dn_compile(m, .optimizer = optimizer, .loss = "mae"));
  dn_history *h = dn_fit(m, X, Y, ROWS, .batch_size = BATCH, .epochs = EPOCHS, .seed = 11,
                         .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  const double *loss = dn_history_values(h, "loss");
  assert_non_null(loss);
  *first = loss[0];
  *last = loss[EPOCHS - 1];
  dn_history_free(h);
  *n_params = dn_model_count_params(m);
  float *w = malloc(*n_params * sizeof *w);
  assert_non_null(w);
  assert_ok(dn_model_get_weights(m, w, *n_params));
  dn_model_free(m);
  return w;
}

static void same_on_1_and_2_threads(const char *optimizer) {
  fill();
  double first1, last1, first2, last2;
  size_t n1, n2;
  float *w1 = train(1, optimizer, &first1, &last1, &n1);
  float *w2 = train(2, optimizer, &first2, &last2, &n2);
  assert_int_equal(n1, n2);
  assert_true(last1 < first1); /* it trained */
  assert_true(first1 == first2 && last1 == last2);
  assert_memory_equal(w1, w2, n1 * sizeof *w1);
  free(w1);
  free(w2);
}

static void test_adam(void **state) {
  (void)state;
  same_on_1_and_2_threads("adam");
}

static void test_nadam(void **state) {
  (void)state;
  same_on_1_and_2_threads("nadam"); /* its per-step product is computed once, not per thread */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_adam), cmocka_unit_test(test_nadam)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void) {
  printf("built without OpenMP: one thread only, nothing to compare\n");
  return 77;
}
#endif
