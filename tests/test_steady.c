/* test_steady.c -- the allocation-free steady state: after the first batch, train_on_batch,
 * test_on_batch, evaluate, fit's inner steps, predict_on_batch, predict and the hand-driven
 * passes (forward, backward, apply_gradients) allocate nothing (counted through the public
 * allocator hook, on every thread). Tensor views are a few words on the stack: making them
 * allocates nothing either. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include "dn_test.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_size_t allocs;

static void *counting_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  atomic_fetch_add(&allocs, 1);
  void *p = NULL;
  return posix_memalign(&p, alignment, size) == 0 ? p : NULL;
}

static void counting_free(void *ptr, void *ctx) {
  (void)ctx;
  free(ptr);
}

enum { IN = 8, ROWS = 300, BATCH = 64 };
static float X[ROWS * IN], Y[ROWS], P[ROWS];

/* A W2-shaped net (smaller): packed GEMMs, K = 8 and N = 1 layers, Adam, MAE. */
static dn_model *make_model(void) {
  dn_model *m = dn_sequential(dn_dense(96, .activation = "relu", .input_dim = IN),
                              dn_dense(80, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mae"));
  return m;
}

static void fill(void) {
  for (size_t i = 0; i < ROWS * IN; i++)
    X[i] = (float)((i * 7919) % 1000) / 1000.0f;
  for (size_t s = 0; s < ROWS; s++)
    Y[s] = X[s * IN] * 2.0f - X[s * IN + 1];
}

/* Rows [first, first + rows) of X and Y as views. */
static dn_tensor xs(size_t first, size_t rows) {
  return dn_tensor_2d(X + first * IN, rows, IN);
}
static dn_tensor ys(size_t first, size_t rows) {
  return dn_tensor_2d(Y + first, rows, 1);
}

static void test_train_on_batch(void **state) {
  (void)state;
  fill();
  dn_model *m = make_model();
  float loss0, loss;
  assert_ok(dn_train_on_batch(m, xs(0, BATCH), ys(0, BATCH), &loss0)); /* buffers are made */
  size_t before = atomic_load(&allocs);
  for (size_t step = 0; step < 20; step++)
    assert_ok(
        dn_train_on_batch(m, xs((step % 4) * BATCH, BATCH), ys((step % 4) * BATCH, BATCH), &loss));
  assert_int_equal(atomic_load(&allocs), before);
  /* a smaller last batch reuses the same buffers */
  assert_ok(dn_train_on_batch(m, xs(0, 17), ys(0, 17), &loss));
  assert_int_equal(atomic_load(&allocs), before);
  assert_true(loss < loss0); /* it really trained */
  /* test_on_batch and evaluate: after their first call, nothing either */
  assert_ok(dn_test_on_batch(m, xs(0, BATCH), ys(0, BATCH), &loss));
  float eval;
  assert_ok(dn_evaluate(m, xs(0, ROWS), ys(0, ROWS), &eval));
  before = atomic_load(&allocs);
  for (size_t step = 0; step < 5; step++) {
    assert_ok(dn_test_on_batch(m, xs(step * 7, BATCH), ys(step * 7, BATCH), &loss));
    assert_ok(dn_evaluate(m, xs(0, ROWS - step), ys(0, ROWS - step), &eval));
  }
  assert_int_equal(atomic_load(&allocs), before);
  dn_model_free(m);
}

static void test_hand_driven_passes(void **state) {
  (void)state;
  fill();
  dn_model *m = make_model();
  static float out[BATCH], dy[BATCH], dx[BATCH * IN];
  for (size_t i = 0; i < BATCH; i++)
    dy[i] = (float)(i % 3) - 1.0f;
  const dn_tensor ot = dn_tensor_2d(out, BATCH, 1);
  assert_ok(dn_model_forward(m, xs(0, BATCH), true, ot));
  assert_ok(dn_model_backward_input(m, dn_tensor_2d(dy, BATCH, 1), dn_tensor_2d(dx, BATCH, IN)));
  assert_ok(dn_model_apply_gradients(m)); /* the first step makes the optimizer's slots */
  size_t before = atomic_load(&allocs);
  for (size_t step = 0; step < 10; step++) {
    size_t rows = BATCH - step;
    assert_ok(dn_model_forward(m, xs(step, rows), true, ot));
    assert_ok(dn_model_backward(m, dn_tensor_2d(dy, rows, 1)));
    assert_ok(dn_model_backward_input(m, dn_tensor_2d(dy, rows, 1), dn_tensor_2d(dx, rows, IN)));
    assert_ok(dn_model_apply_gradients(m));
  }
  assert_int_equal(atomic_load(&allocs), before);
  dn_model_free(m);
}

static void test_predict(void **state) {
  (void)state;
  fill();
  dn_model *m = make_model();
  const dn_tensor pt = dn_tensor_2d(P, ROWS, 1);
  assert_ok(dn_predict_on_batch(m, xs(0, BATCH), pt));
  size_t before = atomic_load(&allocs);
  for (size_t i = 0; i < 10; i++)
    assert_ok(dn_predict_on_batch(m, xs(0, BATCH - i), pt));
  assert_int_equal(atomic_load(&allocs), before);
  assert_ok(dn_predict(m, xs(0, ROWS), pt));
  before = atomic_load(&allocs);
  assert_ok(dn_predict(m, xs(0, ROWS), pt));
  assert_int_equal(atomic_load(&allocs), before);
  dn_model_free(m);
}

/* fit's per-call allocations (history, index buffers) do not grow with the number of steps. */
static size_t fit_allocs(dn_model *m, size_t rows) {
  size_t before = atomic_load(&allocs);
  dn_history *h = dn_fit(m, .x = xs(0, rows), .y = ys(0, rows), .epochs = 2, .batch_size = 16,
                         .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  return atomic_load(&allocs) - before;
}

static void test_fit_inner_steps(void **state) {
  (void)state;
  fill();
  dn_model *m = make_model();
  fit_allocs(m, ROWS);                                        /* warm: model buffers for batch 16 */
  size_t few = fit_allocs(m, 32), many = fit_allocs(m, ROWS); /* 2 vs 19 steps per epoch */
  print_message("fit: %zu allocations for 4 steps, %zu for 38 steps\n", few, many);
  assert_int_equal(few, many);
  dn_model_free(m);
}

int main(void) {
  dn_allocator a = {counting_alloc, counting_free, NULL};
  if (dn_set_allocator(&a) != DN_OK)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_train_on_batch),
      cmocka_unit_test(test_hand_driven_passes),
      cmocka_unit_test(test_predict),
      cmocka_unit_test(test_fit_inner_steps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
