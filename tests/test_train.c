/* test_train.c -- compile, fit, evaluate, predict, the *_on_batch calls, apply_gradients,
 * validation split, determinism, NaN safety, the progress display and bad input. */
#define _POSIX_C_SOURCE 200809L
#include "dn_test.h"
#include <unistd.h>

#include <stdlib.h>

#include "core/alloc.h"
#include "training/optimizer.h"
#include "training/progress.h"
#include "model/sequential.h"

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t test_rng = 88172645463325252u;
static double uniform(double lo, double hi) {
  test_rng ^= test_rng << 13;
  test_rng ^= test_rng >> 7;
  test_rng ^= test_rng << 17;
  return lo + (hi - lo) * (double)(test_rng >> 11) * 0x1p-53;
}

/* The Kaggle lesson network: 2 -> relu 4 -> relu 3 -> linear 1 (31 params). */
static dn_model *lesson_model(void) {
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_dense(3, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  return m;
}

/* A learnable target: y = 0.6 x0 - 0.4 x1 + 0.5 |x0 x1| + 0.2 on [-1, 1]^2. */
static void make_data(float *x, float *y, size_t rows) {
  test_rng = 88172645463325252u;
  for (size_t r = 0; r < rows; r++) {
    double a = uniform(-1, 1), b = uniform(-1, 1);
    x[2 * r] = (float)a;
    x[2 * r + 1] = (float)b;
    y[r] = (float)(0.6 * a - 0.4 * b + 0.5 * fabs(a * b) + 0.2);
  }
}

/* MSE of the model's predictions on rows [from, from + n) computed here in double. */
static double mse_of(dn_model *m, const float *x, const float *y, size_t from, size_t n) {
  float *p = malloc(n * sizeof *p);
  assert_ok(dn_predict(m, dn_tensor_2d(x + 2 * from, n, 2), dn_tensor_2d(p, n, 1)));
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += ((double)p[i] - y[from + i]) * ((double)p[i] - y[from + i]);
  free(p);
  return s / (double)n;
}

static void assert_weights_equal(const dn_model *m, const float *w) {
  float *now = dn_test_weights_of(m);
  assert_memory_equal(now, w, dn_model_count_params(m) * sizeof *w);
  free(now);
}

/* ---- learning ------------------------------------------------------------------- */

static void test_fit_learns_with_adam(void **state) {
  (void)state;
  enum { N = 256 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_adam(.learning_rate = 0.01), .loss = "mse",
                       .metrics = (const char *[]){"mae", NULL}));
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  float initial;
  assert_ok(dn_evaluate(m, tx, ty, &initial));
  dn_history *h = dn_fit(m, tx, ty, .epochs = 60, .batch_size = 32, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 60);
  const double *loss = dn_history_values(h, "loss");
  assert_non_null(loss);
  float final;
  assert_ok(dn_evaluate(m, tx, ty, &final));
  /* Stated goal: Adam at lr 0.01 cuts the MSE at least 20-fold within 60 epochs. */
  assert_true(final < initial / 20.0f);
  assert_true(loss[59] < loss[0] / 10.0);
  assert_close(final, mse_of(m, x, y, 0, N), 1e-6, 1e-5);
  dn_history_free(h);
  dn_model_free(m);
}

/* With SGD at lr 0 the weights never move, so every epoch loss is exactly the data loss at the
 * initial weights: the sample-count-weighted mean over batches of 4, 4, 2 rows (the last partial
 * batch kept), equal to the mean over all rows, whatever the shuffle. */
static void test_epoch_loss_is_weighted_mean_and_split_takes_last_rows(void **state) {
  (void)state;
  enum { N = 13 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = DN_ZERO), .loss = "mse"));
  /* split 0.2 of 13: floor(13 * 0.8) = 10 training rows, the last 3 validate. */
  dn_history *h = dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 2,
                         .batch_size = 4, .validation_split = 0.2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  double train = mse_of(m, x, y, 0, 10), val = mse_of(m, x, y, 10, 3);
  assert_true(fabs(train - val) > 1e-3); /* the two sets differ, so the check can fail */
  for (size_t e = 0; e < 2; e++) {
    assert_close(dn_history_values(h, "loss")[e], train, 1e-7, 1e-5);
    assert_close(dn_history_values(h, "val_loss")[e], val, 1e-7, 1e-5);
    assert_int_equal(dn_history_epoch(h, e), e);
  }
  dn_history_free(h);
  dn_model_free(m);
}

static size_t batches_seen;
static void count_batch(dn_model *m, size_t index, const dn_logs *logs, void *user) {
  (void)m;
  (void)index;
  (void)logs;
  (void)user;
  batches_seen++;
}

static void test_split_row_counts(void **state) {
  (void)state;
  enum { N = 10 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .loss = "mae"));
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  /* batch 1: one batch per training row. 10 * (1 - 0.25) = 7.5 -> 7 rows train. */
  batches_seen = 0;
  dn_history *h =
      dn_fit(m, tx, ty, .batch_size = 1, .validation_split = 0.25, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_lambda_callback(.on_batch_end = count_batch), NULL});
  assert_non_null(h);
  assert_int_equal(batches_seen, 7);
  dn_history_free(h);
  /* Keras computes floor(n * (1.0 - split)) in double: 1.0 - 0.8 = 0.19999999999999996, so
   * 10 rows keep floor(1.9999999999999996) = 1 training row (exact arithmetic would give 2). */
  batches_seen = 0;
  h = dn_fit(m, tx, ty, .batch_size = 1, .validation_split = 0.8, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_lambda_callback(.on_batch_end = count_batch), NULL});
  assert_non_null(h);
  assert_int_equal(batches_seen, 1);
  dn_history_free(h);
  /* Default batch 32 with 10 rows: one partial batch. */
  batches_seen = 0;
  h = dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_lambda_callback(.on_batch_end = count_batch), NULL});
  assert_non_null(h);
  assert_int_equal(batches_seen, 1);
  assert_null(dn_history_values(h, "val_loss"));
  dn_history_free(h);
  dn_model_free(m);
}

static void test_validation_data_overrides_split(void **state) {
  (void)state;
  enum { N = 12 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = DN_ZERO), .loss = "mse",
                       .metrics = (const char *[]){"mae", NULL}));
  batches_seen = 0;
  dn_history *h =
      dn_fit(m, dn_tensor_2d(x, 8, 2), dn_tensor_2d(y, 8, 1), .batch_size = 1,
             .validation_split = 0.5, .validation_x = dn_tensor_2d(x + 8 * 2, 4, 2),
             .validation_y = dn_tensor_2d(y + 8, 4, 1), .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_lambda_callback(.on_batch_end = count_batch), NULL});
  assert_non_null(h);
  assert_int_equal(batches_seen, 8); /* all 8 rows trained: the split was ignored */
  assert_close(dn_history_values(h, "val_loss")[0], mse_of(m, x, y, 8, 4), 1e-7, 1e-5);
  const char *expect[] = {"loss", "mae", "val_loss", "val_mae"};
  assert_int_equal(dn_history_key_count(h), 4);
  for (size_t i = 0; i < 4; i++)
    assert_string_equal(dn_history_key(h, i), expect[i]);
  dn_history_free(h);
  dn_model_free(m);
}

static void test_same_seed_is_bit_identical(void **state) {
  (void)state;
  enum { N = 64 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  float *w[3];
  dn_history *h[3];
  uint64_t fit_seed[3] = {42, 42, 43};
  for (int k = 0; k < 3; k++) {
    dn_model *m = dn_sequential(dn_dense(8, .activation = "relu", .input_dim = 2), dn_dropout(0.3),
                                dn_dense(1));
    assert_non_null(m);
    assert_ok(dn_model_set_seed(m, 7));
    assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
    h[k] = dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 3, .batch_size = 8,
                  .validation_split = 0.25, .seed = fit_seed[k], .verbose = DN_VERBOSE_SILENT);
    assert_non_null(h[k]);
    w[k] = dn_test_weights_of(m);
    if (k == 0)
      assert_int_equal(dn_model_count_params(m), 8 * 2 + 8 + 8 + 1);
    dn_model_free(m);
  }
  size_t n = 8 * 2 + 8 + 8 + 1;
  assert_memory_equal(w[0], w[1], n * sizeof(float));
  assert_memory_equal(dn_history_values(h[0], "loss"), dn_history_values(h[1], "loss"),
                      3 * sizeof(double));
  assert_memory_equal(dn_history_values(h[0], "val_loss"), dn_history_values(h[1], "val_loss"),
                      3 * sizeof(double));
  assert_memory_not_equal(w[0], w[2], n * sizeof(float)); /* another shuffle/dropout seed */
  for (int k = 0; k < 3; k++) {
    free(w[k]);
    dn_history_free(h[k]);
  }
}

/* Batch size 1 at learning rate 0: each batch's loss is one row's loss, recovered from the
 * running mean the batch logs carry. Every epoch must visit every training row once; shuffled
 * epochs in a new order, unshuffled ones in row order. */
static double running[3][12];
static size_t run_epoch;
static void record_running(dn_model *m, size_t batch, const dn_logs *logs, void *user) {
  (void)m;
  (void)user;
  running[run_epoch][batch] = dn_logs_get(logs, "loss");
}
static void next_epoch(dn_model *m, size_t epoch, const dn_logs *logs, void *user) {
  (void)m;
  (void)logs;
  (void)user;
  run_epoch = epoch + 1;
}

static void visit_order(dn_model *m, const float *x, const float *y, bool shuffle,
                        size_t order[3][12]) {
  run_epoch = 0;
  dn_history *h = dn_fit(
      m, dn_tensor_2d(x, 12, 2), dn_tensor_2d(y, 12, 1), .epochs = 3, .batch_size = 1,
      .no_shuffle = !shuffle, .verbose = DN_VERBOSE_SILENT,
      .callbacks = (dn_callback *[]){
          dn_lambda_callback(.on_batch_end = record_running, .on_epoch_end = next_epoch), NULL});
  assert_non_null(h);
  dn_history_free(h);
  float p[12];
  assert_ok(dn_predict(m, dn_tensor_2d(x, 12, 2), dn_tensor_2d(p, 12, 1)));
  for (size_t e = 0; e < 3; e++) {
    bool used[12] = {false};
    for (size_t b = 0; b < 12; b++) {
      double row_loss = (double)(b + 1) * running[e][b] - (double)b * (b ? running[e][b - 1] : 0);
      size_t hit = 12;
      for (size_t r = 0; r < 12; r++) {
        double err = (double)p[r] - y[r];
        if (!used[r] && fabs(err * err - row_loss) <= 1e-9 + 1e-6 * err * err)
          hit = r;
      }
      assert_true(hit < 12); /* every batch is one unvisited row */
      used[hit] = true;
      order[e][b] = hit;
    }
  }
}

static void test_shuffle_visits_every_row_once_per_epoch(void **state) {
  (void)state;
  float x[24], y[12];
  for (size_t r = 0; r < 12; r++) { /* distinct per-row losses */
    x[2 * r] = (float)r / 12.0f;
    x[2 * r + 1] = 0.5f;
    y[r] = (float)(r * r) / 10.0f - 3.0f;
  }
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = DN_ZERO), .loss = "mse"));
  size_t order[3][12];
  visit_order(m, x, y, false, order);
  for (size_t e = 0; e < 3; e++)
    for (size_t b = 0; b < 12; b++)
      assert_int_equal(order[e][b], b);
  visit_order(m, x, y, true, order);
  size_t in_place = 0;
  for (size_t b = 0; b < 12; b++)
    in_place += order[0][b] == b;
  assert_true(in_place < 12);
  assert_memory_not_equal(order[0], order[1], sizeof order[0]); /* reshuffled every epoch */
  dn_model_free(m);
}

/* No allocation in the steady state: everything a training epoch (batches and validation)
 * needs is sized before the first step. */
static size_t allocs_at_begin, allocs_in_epoch = 999;
static void note_allocs_begin(dn_model *m, size_t epoch, const dn_logs *logs, void *user) {
  (void)m;
  (void)logs;
  (void)user;
  if (epoch == 1)
    allocs_at_begin = dn_alloc_count();
}
static void note_allocs_end(dn_model *m, size_t epoch, const dn_logs *logs, void *user) {
  (void)m;
  (void)logs;
  (void)user;
  if (epoch == 1)
    allocs_in_epoch = dn_alloc_count() - allocs_at_begin;
}

static void test_no_allocation_in_steady_state(void **state) {
  (void)state;
  enum { N = 50 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = dn_sequential(dn_dense(6, .activation = "relu", .input_dim = 2), dn_dropout(0.2),
                              dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse",
                       .metrics = (const char *[]){"mae", "r2_score", NULL}));
  size_t before = dn_alloc_count();
  dn_history *h =
      dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 3, .batch_size = 8,
             .validation_split = 0.2, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_lambda_callback(.on_epoch_begin = note_allocs_begin,
                                                               .on_epoch_end = note_allocs_end),
                                            NULL});
  assert_non_null(h);
  assert_true(dn_alloc_count() > before); /* the counter does count this thread's allocations */
  assert_int_equal(allocs_in_epoch, 0);
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- NaN safety ------------------------------------------------------------------ */

static float *saved_weights;
static void save_weights_at_batch_2(dn_model *m, size_t batch, const dn_logs *logs, void *user) {
  (void)logs;
  (void)user;
  if (batch == 2) {
    free(saved_weights);
    saved_weights = dn_test_weights_of(m);
  }
}

static void test_nan_loss_fails_and_keeps_last_good_weights(void **state) {
  (void)state;
  enum { N = 8 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  x[2 * 3] = NAN; /* row 3: batch 3 with batch_size 1 and no shuffle */
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  float *before = dn_test_weights_of(m);
  dn_history *h = dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .batch_size = 1,
                         .no_shuffle = true, .verbose = DN_VERBOSE_SILENT,
                         .callbacks = (dn_callback *[]){
                             dn_lambda_callback(.on_batch_end = save_weights_at_batch_2), NULL});
  assert_null(h);
  assert_int_equal(dn_last_status(), DN_ERR_NUMERIC);
  assert_non_null(strstr(dn_last_error(), "dn_fit: the loss is NaN or Inf at epoch 1, batch 3"));
  assert_non_null(saved_weights);
  assert_memory_not_equal(saved_weights, before, 31 * sizeof(float)); /* steps 0-2 applied */
  assert_weights_equal(m, saved_weights);                             /* step 3 was not */
  float *all = dn_test_weights_of(m);
  for (size_t i = 0; i < 31; i++)
    assert_true(isfinite(all[i]));
  free(all);
  free(before);
  free(saved_weights);
  saved_weights = NULL;
  dn_model_free(m);
}

static float *weights_after_batch_0;
static void save_weights_at_batch_0(dn_model *m, size_t batch, const dn_logs *logs, void *user) {
  (void)logs;
  (void)user;
  if (batch == 0) {
    free(weights_after_batch_0);
    weights_after_batch_0 = dn_test_weights_of(m);
  }
}

/* A refused step leaves no trace: BatchNormalization's training forward pass moves the moving
 * statistics before the loss is known, and they are put back with the rest. */
static void test_refused_step_keeps_moving_statistics(void **state) {
  (void)state;
  enum { N = 8 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  x[2 * 3 + 1] = NAN; /* row 3: in batch 1 of size 2 */
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_batch_normalization(), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  size_t np = dn_model_count_params(m);
  assert_int_equal(np, 12 + 16 + 5); /* dense 12, BN 4 x 4 (moving stats 8), dense 5 */
  dn_history *h = dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .batch_size = 2,
                         .no_shuffle = true, .verbose = DN_VERBOSE_SILENT,
                         .callbacks = (dn_callback *[]){
                             dn_lambda_callback(.on_batch_end = save_weights_at_batch_0), NULL});
  assert_null(h);
  assert_status_msg(dn_last_status(), DN_ERR_NUMERIC, "loss is NaN or Inf at epoch 1, batch 1");
  assert_non_null(weights_after_batch_0);
  float *now = dn_test_weights_of(m);
  for (size_t i = 0; i < np; i++)
    assert_true(isfinite(now[i]));
  /* moving_mean starts at 0; batch 0 moved it to 0.01 * its batch mean (not all zero). */
  double moved = 0;
  for (size_t j = 0; j < 4; j++)
    moved += fabs(now[12 + 8 + j]);
  assert_true(moved > 0);
  assert_memory_equal(now, weights_after_batch_0, np * sizeof *now);
  free(now);
  free(weights_after_batch_0);
  weights_after_batch_0 = NULL;
  /* The same through dn_train_on_batch. */
  float *before = dn_test_weights_of(m);
  assert_status_msg(
      dn_train_on_batch(m, dn_tensor_2d(x + 2 * 2, 2, 2), dn_tensor_2d(y + 2, 2, 1), NULL),
      DN_ERR_NUMERIC, "the step was not applied");
  assert_weights_equal(m, before);
  free(before);
  dn_model_free(m);
}

static void test_terminate_on_nan_returns_history(void **state) {
  (void)state;
  enum { N = 8 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  x[2 * 3] = NAN;
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  FILE *out = tmpfile();
  dn_history *h = dn_fit(
      m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 5, .batch_size = 1,
      .no_shuffle = true, .verbose = DN_VERBOSE_SILENT, .out = out,
      .callbacks = (dn_callback *[]){dn_lambda_callback(.on_batch_end = save_weights_at_batch_2),
                                     dn_terminate_on_nan(), NULL});
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 1); /* stopped in the first epoch */
  assert_true(isnan(dn_history_values(h, "loss")[0]));
  assert_weights_equal(m, saved_weights);
  char *text = dn_test_read_stream(out, NULL);
  assert_string_equal(text, "Batch 3: Invalid loss, terminating training\n");
  free(text);
  fclose(out);
  free(saved_weights);
  saved_weights = NULL;
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- overflow (issue 12) ----------------------------------------------------------- */

/* 2 -> relu 4 -> relu 6 -> 1 with Adam on targets of 1e30: the mse is 1e60, finite as a double
 * but Inf as the float the caller gets (Keras's float32 loss is Inf too). Refused every time;
 * every weight stays finite and unchanged, the optimizer takes no step. */
static void test_float_overflow_loss_refused(void **state) {
  (void)state;
  enum { N = 16 };
  float x[2 * N], y[N];
  for (size_t i = 0; i < N; i++) {
    x[2 * i] = (float)i / N;
    x[2 * i + 1] = 1.0f - (float)i / N;
    y[i] = 1e30f;
  }
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_dense(6, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  assert_ok(dn_model_build(m, 2));
  size_t np = dn_model_count_params(m);
  assert_int_equal(np, 49);
  float *before = dn_test_weights_of(m);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  for (int k = 0; k < 2; k++) {
    float loss = -1;
    assert_status_msg(dn_train_on_batch(m, tx, ty, &loss), DN_ERR_NUMERIC,
                      "dn_train_on_batch: the loss is NaN or Inf (loss inf)");
    assert_true(loss == -1); /* not written on failure */
    assert_weights_equal(m, before);
    assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  }
  /* fit: fails at the first batch, nothing applied. */
  dn_history *h = dn_fit(m, tx, ty, .epochs = 3, .batch_size = 4, .verbose = DN_VERBOSE_SILENT);
  assert_null(h);
  assert_status_msg(dn_last_status(), DN_ERR_NUMERIC,
                    "dn_fit: the loss is NaN or Inf at epoch 1, batch 0 (loss inf)");
  assert_weights_equal(m, before);
  /* with TerminateOnNaN: the history (loss Inf), nothing applied. */
  FILE *out = tmpfile();
  h = dn_fit(m, tx, ty, .epochs = 3, .batch_size = 4, .verbose = DN_VERBOSE_SILENT, .out = out,
             .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL});
  fclose(out);
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 1);
  assert_true(isinf(dn_history_values(h, "loss")[0]));
  dn_history_free(h);
  assert_weights_equal(m, before);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  /* evaluate changes nothing and reports the float loss: Inf. */
  float eval = 0;
  assert_ok(dn_evaluate(m, tx, ty, &eval));
  assert_true(isinf(eval));
  assert_weights_equal(m, before);
  free(before);
  dn_model_free(m);
}

/* The loss (~1e20) and the gradients (~1e10) are finite, but SGD's step lr * g with lr = 1e30
 * is ~1e40, beyond FLT_MAX: the update is refused before anything is written,
 * BatchNormalization's moving statistics included, also under TerminateOnNaN (the loss is
 * fine, so it would not stop). */
static void test_update_overflow_refused(void **state) {
  (void)state;
  enum { N = 8 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  for (size_t i = 0; i < N; i++)
    y[i] = 1e10f;
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_batch_normalization(), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = 1e30), .loss = "mse"));
  assert_ok(dn_model_build(m, 2));
  size_t np = dn_model_count_params(m);
  float *before = dn_test_weights_of(m);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  float loss = -1;
  assert_status_msg(dn_train_on_batch(m, tx, ty, &loss), DN_ERR_NUMERIC,
                    "dn_train_on_batch: the optimizer's update would make a weight or a slot Inf "
                    "or NaN");
  assert_weights_equal(m, before); /* moving mean and variance too */
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  const dn_optimizer *opt = dn_model_optimizer(m);
  for (size_t i = 0; i < opt->n_slots * opt->n_params; i++)
    assert_true(opt->slots[i] == 0.0f);
  for (int terminate = 0; terminate < 2; terminate++) {
    dn_history *h =
        dn_fit(m, tx, ty, .epochs = 2, .batch_size = 8, .verbose = DN_VERBOSE_SILENT,
               .callbacks = terminate ? (dn_callback *[]){dn_terminate_on_nan(), NULL} : NULL);
    assert_null(h);
    assert_status_msg(dn_last_status(), DN_ERR_NUMERIC,
                      "dn_fit: the optimizer's update would make a weight or a slot Inf or NaN at "
                      "epoch 1, batch 0");
    assert_weights_equal(m, before);
  }
  float *now = dn_test_weights_of(m);
  for (size_t i = 0; i < np; i++)
    assert_true(isfinite(now[i]));
  free(now);
  free(before);
  dn_model_free(m);
}

/* Large but safe: targets of 1e17 give a loss of ~1e34 and gradients of ~2e17 (g * g ~ 4e34):
 * finite in Keras's float32, so the step is applied. One Adam step on Dense(1), worked out
 * here in double: m = 0.1 g, v = 0.001 g^2, w -= alpha m / (sqrt(v) + eps). */
static void test_large_but_safe_step_applied(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer_object = dn_adam(.learning_rate = 0.01), .loss = "mse"));
  assert_ok(dn_model_build(m, 2));
  const float w0[3] = {0.5f, -0.25f, 0.125f}; /* kernel (2), bias */
  assert_ok(dn_model_set_weights(m, w0, 3));
  float x[2] = {0.75f, 2.0f}, y[1] = {1e17f};
  float loss = 0;
  assert_ok(dn_train_on_batch(m, dn_tensor_2d(x, 1, 2), dn_tensor_2d(y, 1, 1), &loss));
  const double p = (double)w0[0] * x[0] + (double)w0[1] * x[1] + w0[2];
  const double e = p - (double)y[0];
  assert_close(loss, e * e, 0, 1e-6);
  const double grad[3] = {2 * e * x[0], 2 * e * x[1], 2 * e};
  const double alpha = 0.01 * sqrt(1 - 0.999) / (1 - 0.9);
  float *w = dn_test_weights_of(m);
  for (int i = 0; i < 3; i++) {
    const double mi = 0.1 * grad[i], vi = 0.001 * grad[i] * grad[i];
    const double expected = w0[i] - alpha * mi / (sqrt(vi) + 1e-7);
    assert_true(isfinite(w[i]));
    assert_close(w[i], expected, 1e-7, 1e-6);
    assert_true(fabs(w[i] - w0[i]) > 5e-3); /* each moved by ~lr */
  }
  free(w);
  dn_model_free(m);
}

/* Gradients beyond the backward pass's check limit (2^60, ~1.15e18) but finite, with a finite
 * loss: mae on inputs of 1e19 and 2e19 gives kernel gradients of the inputs' size. The step is
 * applied (Keras's float32 gives the same for 1e19; for 2e19 its g * g overflows, while the
 * moment 0.001 g^2 = 4e35 fits). One Adam step on Dense(1), worked out here in double. */
static void test_gradients_beyond_check_limit_applied(void **state) {
  (void)state;
  const float xs[2][2] = {{1e19f, -1e19f}, {2e19f, 2e19f}};
  for (int c = 0; c < 2; c++) {
    dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
    assert_non_null(m);
    assert_ok(dn_compile(m, .optimizer_object = dn_adam(.learning_rate = 0.01), .loss = "mae"));
    assert_ok(dn_model_build(m, 2));
    const float w0[3] = {0.5f, -0.25f, 0.125f}; /* kernel (2), bias */
    assert_ok(dn_model_set_weights(m, w0, 3));
    float y[1] = {0.0f}, loss = 0;
    assert_ok(dn_train_on_batch(m, dn_tensor_2d(xs[c], 1, 2), dn_tensor_2d(y, 1, 1), &loss));
    const double p = (double)w0[0] * xs[c][0] + (double)w0[1] * xs[c][1] + w0[2];
    assert_close(loss, fabs(p), 0, 1e-6);
    const double sign = p > 0 ? 1.0 : -1.0;
    const double grad[3] = {sign * xs[c][0], sign * xs[c][1], sign};
    const double alpha = 0.01 * sqrt(1 - 0.999) / (1 - 0.9);
    float *w = dn_test_weights_of(m);
    for (int i = 0; i < 3; i++) {
      const double mi = 0.1 * grad[i], vi = 0.001 * grad[i] * grad[i];
      assert_close(w[i], w0[i] - alpha * mi / (sqrt(vi) + 1e-7), 1e-7, 1e-6);
    }
    const dn_optimizer *opt = dn_model_optimizer(m);
    assert_close(opt->slots[opt->n_params + 0], 0.001 * grad[0] * grad[0], 0, 1e-6); /* v */
    assert_int_equal(dn_optimizer_iterations(opt), 1);
    free(w);
    dn_model_free(m);
  }
}

/* The optimizer tracks the magnitudes of the weights it writes, so it must look again after
 * any other write: a weight of 3e38 set (for the model or the layer) or loaded between two steps,
 * on an input that is always 0 (the loss does not see it), overflows under weight decay (w - 3 w =
 * -6e38). The step is refused and nothing changes. */
static void test_written_weights_rechecked(void **state) {
  (void)state;
  enum { N = 4 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  for (size_t i = 0; i < N; i++)
    x[2 * i + 1] = 0.0f; /* kernel[1] never meets a nonzero input */
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  char path[] = "/tmp/dn_test_rechecked_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  for (int how = 0; how < 3; how++) { /* dn_model_set_weights, a file, dn_layer_set_weight */
    dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
    assert_non_null(m);
    assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = 1.0, .weight_decay = 3.0),
                         .loss = "mse"));
    const float hostile[3] = {0.5f, 3e38f, 0.25f};
    if (how == 1) { /* the same weights through a file */
      assert_ok(dn_model_build(m, 2));
      assert_ok(dn_model_set_weights(m, hostile, 3));
      assert_ok(dn_model_save(m, path));
    }
    float loss;
    const float w0[3] = {0.5f, -0.25f, 0.25f};
    assert_ok(dn_model_build(m, 2));
    assert_ok(dn_model_set_weights(m, w0, 3));
    assert_ok(dn_train_on_batch(m, tx, ty, &loss)); /* tracks |w| <= ~1 */
    if (how == 0)
      assert_ok(dn_model_set_weights(m, hostile, 3));
    else if (how == 1)
      assert_ok(dn_model_load_weights(m, path));
    else
      assert_ok(dn_layer_set_weight(dn_model_layer(m, 0), 0, dn_tensor_2d(hostile, 2, 1)));
    float *before = dn_test_weights_of(m);
    assert_true(before[1] == 3e38f);
    assert_status_msg(dn_train_on_batch(m, tx, ty, &loss), DN_ERR_NUMERIC,
                      "the optimizer's update would make a weight or a slot Inf or NaN");
    assert_weights_equal(m, before);
    assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 1);
    free(before);
    dn_model_free(m);
  }
  remove(path);
}

static void test_apply_gradients_refuses_nan(void **state) {
  (void)state;
  dn_model *m = lesson_model();
  assert_status_msg(dn_model_apply_gradients(m), DN_ERR_STATE, "not compiled");
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = 0.5), .loss = "mse"));
  float x[4] = {0.5f, -0.25f, 1.0f, 0.75f}, y[2], dy[2] = {1.0f, -2.0f};
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 2, 2), true, dn_tensor_2d(y, 2, 1)));
  assert_ok(dn_model_backward(m, dn_tensor_2d(dy, 2, 1)));
  float *w = dn_test_weights_of(m), g[31];
  assert_ok(dn_model_get_gradients(m, g, 31));
  double gsum = 0;
  for (size_t i = 0; i < 31; i++)
    gsum += fabs(g[i]);
  assert_true(gsum > 0); /* a non-trivial step */
  assert_ok(dn_model_apply_gradients(m));
  float *w2 = dn_test_weights_of(m);
  for (size_t i = 0; i < 31; i++)
    assert_close(w2[i], (double)w[i] - 0.5 * (double)g[i], 1e-6, 1e-6);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 1);
  /* A NaN gradient: nothing applied. */
  m->grads[0] = NAN;
  assert_status_msg(dn_model_apply_gradients(m), DN_ERR_NUMERIC, "NaN or Inf");
  assert_weights_equal(m, w2);
  free(w);
  free(w2);
  dn_model_free(m);
}

/* ---- on_batch, evaluate, predict ------------------------------------------------------ */

static void test_train_on_batch_is_one_sgd_step_with_regularization(void **state) {
  (void)state;
  enum { N = 5 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = dn_sequential(dn_dense(3, .activation = "tanh", .input_dim = 2, .kernel_l2 = 0.05),
                              dn_dense(1, .kernel_regularizer = "l1"));
  assert_non_null(m);
  const double lr = 0.1;
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = lr), .loss = "mse"));
  size_t n = dn_model_count_params(m);
  float *w = dn_test_weights_of(m), p[N], dy[N], *g = malloc(n * sizeof *g);
  /* Expected loss and gradient computed by hand from the hand-driven passes. */
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  assert_ok(dn_model_forward(m, tx, true, dn_tensor_2d(p, N, 1)));
  double data = 0;
  for (size_t i = 0; i < N; i++) {
    double e = (double)p[i] - y[i];
    data += e * e / N;
    dy[i] = (float)(2.0 * e / N);
  }
  double penalty = dn_model_regularization_loss(m);
  assert_true(penalty > 0);
  assert_ok(dn_model_backward(m, dn_tensor_2d(dy, N, 1)));
  assert_ok(dn_model_get_gradients(m, g, n));
  float loss;
  assert_ok(dn_train_on_batch(m, tx, ty, &loss));
  assert_close(loss, data + penalty, 1e-6, 1e-5);
  float *w2 = dn_test_weights_of(m);
  for (size_t i = 0; i < n; i++)
    assert_close(w2[i], (double)w[i] - lr * (double)g[i], 1e-6, 1e-5);
  /* test_on_batch: the loss at the new weights, nothing changes. */
  float tl;
  assert_ok(dn_test_on_batch(m, tx, ty, &tl));
  assert_close(tl, mse_of(m, x, y, 0, N) + dn_model_regularization_loss(m), 1e-6, 1e-5);
  assert_weights_equal(m, w2);
  free(w);
  free(w2);
  free(g);
  dn_model_free(m);
}

static void test_evaluate_and_predict_in_batches(void **state) {
  (void)state;
  enum { N = 70 }; /* batches of 32, 32, 6 */
  float x[2 * N], y[N], p[N], q[N];
  make_data(x, y, N);
  dn_model *m = dn_sequential(dn_dense(5, .activation = "relu", .input_dim = 2, .kernel_l2 = 0.01),
                              dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .loss = "mse", .metrics = (const char *[]){"mae", "mse", NULL}));
  assert_int_equal(dn_model_metrics_count(m), 3);
  assert_string_equal(dn_model_metric_name(m, 0), "loss");
  assert_string_equal(dn_model_metric_name(m, 1), "mae");
  assert_string_equal(dn_model_metric_name(m, 2), "mse");
  assert_null(dn_model_metric_name(m, 3));
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  assert_ok(dn_predict(m, tx, dn_tensor_2d(p, N, 1)));
  assert_ok(dn_model_forward(m, tx, false, dn_tensor_2d(q, N, 1)));
  assert_close_array(p, q, N, 1e-6, 1e-6);
  assert_ok(dn_predict_on_batch(m, tx, dn_tensor_2d(q, N, 1)));
  assert_close_array(p, q, N, 1e-6, 1e-6);
  double mae = 0, mse = 0;
  for (size_t i = 0; i < N; i++) {
    double e = (double)p[i] - y[i];
    mae += fabs(e) / N;
    mse += e * e / N;
  }
  double v[3];
  assert_ok(dn_evaluate_metrics(m, tx, ty, .values = v, .values_capacity = 3));
  double penalty = dn_model_regularization_loss(m);
  assert_true(penalty > 0);
  assert_close(v[0], mse + penalty, 1e-6, 1e-5); /* Keras: evaluate's loss includes it */
  assert_close(v[1], mae, 1e-6, 1e-5);
  assert_close(v[2], mse, 1e-6, 1e-5);
  /* Sample weights weight the loss (sum over batch size), not the metrics. */
  float sw[N];
  double wsum = 0;
  for (size_t i = 0; i < N; i++) {
    sw[i] = (float)(i % 3);
    double e = (double)p[i] - y[i];
    wsum += sw[i] * e * e;
  }
  assert_ok(dn_evaluate_metrics(m, tx, ty, .batch_size = 7, .sample_weight = dn_tensor_1d(sw, N),
                                .values = v, .values_capacity = 3));
  assert_close(v[0], wsum / N + penalty, 1e-6, 1e-5);
  assert_close(v[1], mae, 1e-6, 1e-5);
  dn_model_free(m);
}

/* Predicting in place (y over x) gives what predicting into a separate buffer gives, also when
 * the output rows are wider than the input rows (a small net's last layer would otherwise write
 * over inputs not read yet). */
static void test_predict_in_place(void **state) {
  (void)state;
  enum { N = 8, O = 4 };
  dn_model *m = dn_sequential(dn_dense(3, .activation = "relu", .input_dim = 1), dn_dense(O));
  assert_non_null(m);
  float x[N], apart[N * O], buf[N * O];
  for (size_t i = 0; i < N; i++)
    x[i] = (float)i * 0.25f - 1.0f;
  assert_ok(dn_predict_on_batch(m, dn_tensor_2d(x, N, 1), dn_tensor_2d(apart, N, O)));
  for (int call = 0; call < 2; call++) { /* the first call makes the workspace, the second not */
    memcpy(buf, x, sizeof x);
    dn_tensor in = dn_tensor_2d(buf, N, 1), out = dn_tensor_2d(buf, N, O);
    assert_ok(call == 0 ? dn_predict(m, in, out) : dn_predict_on_batch(m, in, out));
    assert_memory_equal(buf, apart, sizeof apart);
  }
  dn_model_free(m);
}

static void test_compile_again_replaces_optimizer(void **state) {
  (void)state;
  dn_model *m = lesson_model();
  assert_null(dn_model_optimizer(m));
  assert_int_equal(dn_model_metrics_count(m), 0);
  assert_ok(dn_compile(m, .loss = "mae"));
  assert_string_equal(dn_model_optimizer(m)->name, "rmsprop"); /* Keras's default */
  assert_close(dn_optimizer_learning_rate(dn_model_optimizer(m)), 0.001, 0, 1e-12);
  dn_optimizer *adam = dn_adam(.learning_rate = 0.02);
  assert_ok(dn_compile(m, .optimizer = "sgd", .optimizer_object = adam, .loss = "mse"));
  assert_ptr_equal(dn_model_optimizer(m), adam); /* the object wins over the name */
  /* Recompiling with the model's own optimizer keeps it (and resets its state). */
  float x[2] = {1, 2}, y[1] = {0.5f};
  assert_ok(dn_train_on_batch(m, dn_tensor_2d(x, 1, 2), dn_tensor_2d(y, 1, 1), NULL));
  assert_int_equal(dn_optimizer_iterations(adam), 1);
  assert_ok(dn_compile(m, .optimizer_object = adam, .loss = "mse"));
  assert_ptr_equal(dn_model_optimizer(m), adam);
  assert_int_equal(dn_optimizer_iterations(adam), 0);
  /* A failing compile frees the object it was given and leaves the model as it was. */
  assert_status_msg(dn_compile(m, .optimizer_object = dn_sgd(), .loss = "nope"), DN_ERR_ARG,
                    "dn_compile: unknown loss 'nope'");
  assert_ptr_equal(dn_model_optimizer(m), adam);
  assert_status_msg(dn_compile(NULL, .optimizer_object = dn_sgd(), .loss = "mse"), DN_ERR_ARG,
                    "model is NULL");
  /* Metrics that do not fit the built model fail at compile, freeing what it made. */
  dn_model *c3 = dn_sequential(dn_dense(3, .activation = "softmax", .input_dim = 2));
  assert_status_msg(dn_compile(c3, .loss = "sparse_categorical_crossentropy",
                               .metrics = (const char *[]){"mse", NULL}),
                    DN_ERR_SHAPE, "metric 'mse'");
  assert_null(dn_model_optimizer(c3)); /* still uncompiled; the rmsprop it made is freed */
  assert_ok(dn_compile(c3, .optimizer = "sgd", .loss = "categorical_crossentropy"));
  dn_optimizer *kept = dn_model_optimizer(c3);
  assert_status_msg(dn_compile(c3, .loss = "sparse_categorical_crossentropy",
                               .metrics = (const char *[]){"mae", NULL}),
                    DN_ERR_SHAPE, "dn_compile: dn_metric_init: metric 'mae'");
  assert_status_msg(dn_compile(c3, .optimizer_object = dn_adam(),
                               .loss = "sparse_categorical_crossentropy",
                               .metrics = (const char *[]){"mae", NULL}),
                    DN_ERR_SHAPE, "needs targets with as many columns");
  assert_ptr_equal(dn_model_optimizer(c3), kept);
  assert_ok(dn_compile(c3, .optimizer_object = kept, .loss = "sparse_categorical_crossentropy",
                       .metrics = (const char *[]){"accuracy", NULL}));
  assert_ptr_equal(dn_model_optimizer(c3), kept);
  dn_model_free(c3);
  dn_model_free(m);
}

/* Layers added after compile: the next fit re-sizes metrics, optimizer and batch buffers. */
static void test_fit_after_model_grows(void **state) {
  (void)state;
  enum { N = 40 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = dn_sequential(dn_dense(2, .activation = "relu", .input_dim = 2));
  assert_non_null(m);
  assert_ok(
      dn_compile(m, .optimizer = "adam", .loss = "mse", .metrics = (const char *[]){"mae", NULL}));
  float y2[2 * N];
  for (size_t i = 0; i < N; i++)
    y2[2 * i] = y2[2 * i + 1] = y[i];
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_history *h =
      dn_fit(m, tx, dn_tensor_2d(y2, N, 2), .batch_size = 16, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  assert_ok(dn_model_add(m, dn_dense(16, .activation = "relu")));
  assert_ok(dn_model_add(m, dn_dense(1)));
  h = dn_fit(m, tx, ty, .epochs = 2, .batch_size = 16, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  double v[2];
  assert_ok(dn_evaluate_metrics(m, tx, ty, .values = v, .values_capacity = 2));
  float p[N];
  assert_ok(dn_predict(m, tx, dn_tensor_2d(p, N, 1)));
  double mae = 0;
  for (size_t i = 0; i < N; i++)
    mae += fabs((double)p[i] - y[i]) / N;
  assert_close(v[1], mae, 1e-6, 1e-5);
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- progress display ------------------------------------------------------------------ */

static double fake_now;
static double fake_clock(void) {
  return fake_now;
}

static void test_progress_lines_format(void **state) {
  (void)state;
  FILE *out = tmpfile();
  dn_progress p;
  assert_ok(dn_progress_init(&p, out, DN_VERBOSE_LINES, 3, 16, 8));
  p.clock = fake_clock;
  fake_now = 100.0;
  dn_progress_epoch_begin(&p, 1);
  fake_now = 100.064; /* 64 ms for 16 steps: 4ms/step */
  const char *names[] = {"loss", "mae", "val_loss", "val_mae"};
  double values[] = {0.123456, 0.0005, 2.5, -0.25};
  dn_logs logs = {4, names, values};
  dn_progress_epoch_end(&p, &logs);
  char *text = dn_test_read_stream(out, NULL);
  assert_string_equal(text, "Epoch 2/3\n16/16 - 0s - 4ms/step - loss: 0.1235 - mae: 5.0000e-04 - "
                            "val_loss: 2.5000 - val_mae: -2.5000e-01\n");
  free(text);
  fclose(out);
  dn_progress_free(&p);
}

static void test_progress_bar_format(void **state) {
  (void)state;
  FILE *out = tmpfile();
  dn_progress p;
  assert_ok(dn_progress_init(&p, out, DN_VERBOSE_BAR, 1, 4, 8));
  p.clock = fake_clock;
  fake_now = 10.0;
  dn_progress_epoch_begin(&p, 0); /* one epoch: no "Epoch" line, as Keras */
  const char *names[] = {"mae", "loss"};
  double v1[] = {0.5, 0.25}, v2[] = {0.3, 0.75};
  dn_logs l1 = {2, names, v1}, l2 = {2, names, v2};
  fake_now = 10.010;
  dn_progress_batch_end(&p, 0, &l1);
  fake_now = 10.020; /* within 0.05 s: accumulated, not drawn */
  dn_progress_batch_end(&p, 1, &l2);
  fake_now = 10.090;
  dn_progress_batch_end(&p, 2, &l2);
  const char *fnames[] = {"loss", "mae", "val_loss"};
  double fv[] = {0.5, 0.4, 0.0001};
  dn_logs fl = {3, fnames, fv};
  fake_now = 10.100;
  dn_progress_epoch_end(&p, &fl);
  char *text = dn_test_read_stream(out, NULL);
#define BAR5 "\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81"
  /* Draw 1 (step 1): 10 ms/step, eta 3 * 10 ms -> "0s"; keys sorted (loss before mae).
   * Draw 2 (step 3): step time ignores the first step: (10.090 - 10.010) / 2 = 40 ms;
   * values are the averages of the three logged running values (0.25+0.75+0.75)/3.
   * Final: elapsed 0.1 s -> "0s", (10.100 - 10.010) / 3 = 30 ms, epoch values as logged. */
  /* Each redraw first backs over the previous one, 66 cells wide ("1/4 " 4 + bar 20 + " 0s" 3
   * + " 10ms/step" 10 + " - loss: 0.2500" 15 + " - mae: 0.5000" 14), as Keras writes
   * "\b" * prev_total_width before "\r". */
  char back[67];
  memset(back, '\b', 66);
  back[66] = '\0';
  char expect[1024];
  snprintf(expect, sizeof expect, "%s%s%s%s%s",
           "\r1/4 " BAR5 BAR5 BAR5 BAR5 " 0s 10ms/step - loss: 0.2500 - mae: 0.5000", back,
           "\r3/4 " BAR5 BAR5 BAR5 BAR5 " 0s 40ms/step - loss: 0.5833 - mae: 0.3667", back,
           "\r4/4 " BAR5 BAR5 BAR5 BAR5 " 0s 30ms/step - loss: 0.5000 - mae: 0.4000 - val_loss: "
           "1.0000e-04\n");
  assert_string_equal(text, expect);
  free(text);
  fclose(out);
  dn_progress_free(&p);
}

static void test_progress_bar_fill_and_padding(void **state) {
  (void)state;
  FILE *out = tmpfile();
  dn_progress p;
  assert_ok(dn_progress_init(&p, out, DN_VERBOSE_BAR, 1, 10, 4));
  p.clock = fake_clock;
  fake_now = 0;
  dn_progress_epoch_begin(&p, 0);
  const char *names[] = {"loss"};
  double v[] = {12345.5};
  dn_logs l = {1, names, v};
  fake_now = 100.0; /* 100 s/step, eta 9 * 100 s = 15:00 */
  dn_progress_batch_end(&p, 0, &l);
  double v2[] = {0.5};
  dn_logs l2 = {1, names, v2};
  fake_now = 100.5; /* step 3 of 10: 6 of 20 cells done */
  dn_progress_batch_end(&p, 2, &l2);
  char *text = dn_test_read_stream(out, NULL);
  const char *second = strchr(text + 1, '\r');
  assert_non_null(second);
  const char *cell = "\xe2\x94\x81";
  char expect[512], bar[128] = "";
  for (int i = 0; i < 20; i++)
    strcat(bar, cell);
  /* The first draw is 61 cells wide (" 1/10 " 6 + bar 20 + " 15:00" 6 + " 100s/step" 10 +
   * " - loss: 12345.5000" 19); the second backs over it with 61 '\b'. */
  char back[62];
  memset(back, '\b', 61);
  back[61] = '\0';
  snprintf(expect, sizeof expect, "\r 1/10 %s 15:00 100s/step - loss: 12345.5000%s", bar, back);
  assert_int_equal(second - text, (long)strlen(expect));
  assert_memory_equal(text, expect, strlen(expect));
  /* (12345.5 + 2 * 0.5) / 3 = 4115.5 (the second value counts for the two steps since the last
   * update); step time (100.5 - 100) / 2 = 0.25 s; eta 7 * 0.25 s -> "1s"; three characters
   * shorter than the first draw -> padded with three spaces. */
  snprintf(expect, sizeof expect, "\r 3/10 %s 1s 250ms/step - loss: 4115.5000   ", bar);
  assert_string_equal(second, expect);
  free(text);
  fclose(out);
  dn_progress_free(&p);
}

static void test_fit_progress_lines_and_silent(void **state) {
  (void)state;
  enum { N = 20 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .loss = "mse", .metrics = (const char *[]){"mae", NULL}));
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  FILE *out = tmpfile();
  dn_history *h = dn_fit(m, tx, ty, .epochs = 2, .batch_size = 4, .validation_split = 0.2,
                         .verbose = DN_VERBOSE_LINES, .out = out);
  assert_non_null(h);
  char *text = dn_test_read_stream(out, NULL);
  /* "Epoch 1/2\n4/4 - 0s - Nms/step - loss: a - mae: b - val_loss: c - val_mae: d\n" x 2 */
  char *line = strtok(text, "\n");
  for (int e = 0; e < 2; e++) {
    char epoch[32];
    snprintf(epoch, sizeof epoch, "Epoch %d/2", e + 1);
    assert_non_null(line);
    assert_string_equal(line, epoch);
    line = strtok(NULL, "\n");
    assert_non_null(line);
    unsigned secs, t;
    char unit[8];
    double v[4];
    int used = 0;
    assert_int_equal(sscanf(line,
                            "4/4 - %us - %u%2[mus]/step - loss: %lf - mae: %lf - val_loss: "
                            "%lf - val_mae: %lf%n",
                            &secs, &t, unit, &v[0], &v[1], &v[2], &v[3], &used),
                     7);
    assert_int_equal((size_t)used, strlen(line));
    const char *keys[] = {"loss", "mae", "val_loss", "val_mae"};
    for (int k = 0; k < 4; k++) {
      char want[32], got[32];
      snprintf(want, sizeof want, "%.4f", dn_history_values(h, keys[k])[e]);
      snprintf(got, sizeof got, "%.4f", v[k]);
      assert_string_equal(got, want);
    }
    line = strtok(NULL, "\n");
  }
  assert_null(line);
  free(text);
  fclose(out);
  dn_history_free(h);
  /* initial_epoch 1 of 2: only "Epoch 2/2" (Keras prints epoch + 1 over fit's epochs). */
  out = tmpfile();
  h = dn_fit(m, tx, ty, .epochs = 2, .initial_epoch = 1, .batch_size = 4,
             .verbose = DN_VERBOSE_LINES, .out = out);
  assert_non_null(h);
  text = dn_test_read_stream(out, NULL);
  assert_int_equal(strncmp(text, "Epoch 2/2\n5/5 - ", 15), 0); /* 20 rows, batch 4 */
  assert_null(strstr(text, "Epoch 1/2"));
  assert_int_equal(dn_history_epoch(h, 0), 1);
  free(text);
  fclose(out);
  dn_history_free(h);
  /* SILENT writes nothing; AUTO on a file (not a terminal) is LINES. */
  out = tmpfile();
  h = dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT, .out = out);
  assert_non_null(h);
  assert_int_equal(ftell(out), 0);
  dn_history_free(h);
  h = dn_fit(m, tx, ty, .batch_size = 8, .out = out);
  assert_non_null(h);
  text = dn_test_read_stream(out, NULL);
  assert_int_equal(strncmp(text, "3/3 - ", 6), 0);
  assert_non_null(strstr(text, " - loss: "));
  free(text);
  fclose(out);
  dn_history_free(h);
  dn_model_free(m);
}

static void test_fit_progress_bar_draws_final_line(void **state) {
  (void)state;
  enum { N = 12 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .loss = "mse"));
  FILE *out = tmpfile();
  dn_history *h = dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 2,
                         .batch_size = 4, .verbose = DN_VERBOSE_BAR, .out = out);
  assert_non_null(h);
  char *text = dn_test_read_stream(out, NULL);
  assert_int_equal(strncmp(text, "Epoch 1/2\n\r1/3 ", 15), 0);
  char *second = strstr(text, "Epoch 2/2\n");
  assert_non_null(second);
  /* The last draw of each epoch ends the line with the epoch's loss, then the spaces that blank
   * out a wider earlier draw (as Keras pads; how many depends on the step times printed). */
  char want[64];
  snprintf(want, sizeof want, " - loss: %.4f", dn_history_values(h, "loss")[1]);
  size_t tl = strlen(text), wl = strlen(want);
  assert_true(tl > wl + 1 && text[tl - 1] == '\n');
  for (tl--; tl > wl && text[tl - 1] == ' '; tl--)
    ;
  assert_memory_equal(text + tl - wl, want, wl);
  char *last = strrchr(text, '\r');
  assert_int_equal(strncmp(last, "\r3/3 ", 5), 0);
  free(text);
  fclose(out);
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- bad input ----------------------------------------------------------------------- */

static void test_fit_bad_input_leaves_model_unchanged(void **state) {
  (void)state;
  enum { N = 10 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_model *m = lesson_model();
  float *w = dn_test_weights_of(m);
  assert_null(dn_fit(m, tx, ty));
  assert_status_msg(dn_last_status(), DN_ERR_STATE, "dn_fit: the model is not compiled");
  assert_null(dn_fit(NULL, tx, ty));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "dn_fit: model is NULL");
  /* A callback handed to a failing fit is owned (freed) all the same: no leak under ASan. */
  assert_null(dn_fit(NULL, tx, ty, .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL}));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  const dn_tensor none = {0};
  struct {
    dn_fit_options o;
    dn_status st;
    const char *msg;
  } cases[] = {
      {{.model = m, .x = none, .y = ty}, DN_ERR_ARG, "dn_fit: x is no tensor"},
      {{.model = m, .x = tx, .y = none}, DN_ERR_ARG, "dn_fit: y is no tensor"},
      {{.model = m, .x = dn_tensor_2d(NULL, N, 2), .y = ty}, DN_ERR_ARG, "dn_fit: x is no tensor"},
      /* 0.1's rows argument is the tensors' first dim now: zero rows is a shape error. */
      {{.model = m, .x = dn_tensor_2d(x, 0, 2), .y = dn_tensor_2d(y, 0, 1)},
       DN_ERR_SHAPE,
       "dn_fit: x has shape [0 x 2]: no rows"},
      {{.model = m, .x = tx, .y = ty, .validation_split = -0.1},
       DN_ERR_ARG,
       "validation_split must be in [0, 1), got -0.1"},
      {{.model = m, .x = tx, .y = ty, .validation_split = 1.0},
       DN_ERR_ARG,
       "validation_split must be in [0, 1), got 1"},
      {{.model = m, .x = tx, .y = ty, .validation_split = NAN},
       DN_ERR_ARG,
       "validation_split must be in [0, 1)"},
      {{.model = m,
        .x = dn_tensor_2d(x, 1, 2),
        .y = dn_tensor_2d(y, 1, 1),
        .validation_split = 0.5},
       DN_ERR_ARG,
       "leaves 0 training and 1 validation rows"},
      {{.model = m, .x = tx, .y = ty, .validation_split = 1e-17},
       DN_ERR_ARG,
       "leaves 10 training and 0 validation rows"},
      {{.model = m, .x = tx, .y = ty, .validation_x = tx},
       DN_ERR_ARG,
       "dn_fit: validation_x is given but validation_y is not"},
      /* 0.1's validation_rows is the validation tensors' first dim now: the "validation_rows is
       * 0" and "validation_rows without validation data" cases become zero validation rows
       * and validation_y without validation_x. */
      {{.model = m,
        .x = tx,
        .y = ty,
        .validation_x = dn_tensor_2d(x, 0, 2),
        .validation_y = dn_tensor_2d(y, 0, 1)},
       DN_ERR_SHAPE,
       "dn_fit: validation_x has shape [0 x 2]: no rows"},
      {{.model = m, .x = tx, .y = ty, .validation_y = dn_tensor_2d(y, 3, 1)},
       DN_ERR_ARG,
       "dn_fit: validation_y is given but validation_x is not"},
      {{.model = m, .x = tx, .y = ty, .verbose = (dn_verbose)9},
       DN_ERR_ARG,
       "verbose 9 is not a dn_verbose value"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_null(dn_fit_with(cases[i].o));
    assert_status_msg(dn_last_status(), cases[i].st, cases[i].msg);
    assert_weights_equal(m, w);
    assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  }
  /* A monitor whose direction cannot be told is refused before training. */
  assert_null(dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT,
                     .callbacks = (dn_callback *[]){dn_early_stopping(.monitor = "foo"), NULL}));
  assert_status_msg(dn_last_status(), DN_ERR_ARG,
                    "EarlyStopping cannot tell whether monitor 'foo'");
  assert_weights_equal(m, w);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  free(w);
  dn_model_free(m);
}

static void test_sparse_labels_checked_up_front(void **state) {
  (void)state;
  float x[6] = {0, 1, 1, 0, 0.5f, 0.5f}, y[3] = {0, 2, 1};
  dn_tensor tx = dn_tensor_2d(x, 3, 2), ty = dn_tensor_2d(y, 3, 1);
  dn_model *m = dn_sequential(dn_dense(3, .activation = "softmax", .input_dim = 2));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "sparse_categorical_crossentropy",
                       .metrics = (const char *[]){"accuracy", NULL}));
  float *w = dn_test_weights_of(m);
  y[1] = 3; /* not a class of 3 */
  assert_null(dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "dn_fit: y row 1 holds 3, not a class index");
  assert_weights_equal(m, w);
  y[1] = 2;
  dn_history *h = dn_fit(m, tx, ty, .epochs = 2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_non_null(dn_history_values(h, "accuracy"));
  dn_history_free(h);
  free(w);
  dn_model_free(m);
}

static void test_other_entry_points_bad_input(void **state) {
  (void)state;
  float x[4] = {1, 2, 3, 4}, y[2] = {1, 2}, out[2], loss;
  dn_tensor tx = dn_tensor_2d(x, 2, 2), ty = dn_tensor_2d(y, 2, 1), tout = dn_tensor_2d(out, 2, 1);
  const dn_tensor none = {0};
  dn_model *m = lesson_model();
  float *w = dn_test_weights_of(m);
  assert_status_msg(dn_train_on_batch(m, tx, ty, &loss), DN_ERR_STATE, "not compiled");
  assert_status_msg(dn_evaluate(m, tx, ty, &loss), DN_ERR_STATE, "not compiled");
  assert_status_msg(dn_test_on_batch(m, tx, ty, &loss), DN_ERR_STATE, "not compiled");
  assert_ok(dn_predict(m, tx, tout)); /* predict needs no compile, as Keras */
  /* 0.1's y_capacity is y's shape now: one output row for two input rows. */
  assert_status_msg(dn_predict(m, tx, dn_tensor_2d(out, 1, 1)), DN_ERR_SHAPE,
                    "dn_predict: y has 1 row but x has 2");
  assert_status_msg(dn_predict(m, none, tout), DN_ERR_ARG, "dn_predict: x is no tensor");
  assert_status_msg(dn_predict(m, dn_tensor_2d(x, 0, 2), tout), DN_ERR_SHAPE, "no rows");
  assert_status_msg(dn_predict(NULL, tx, tout), DN_ERR_ARG, "model is NULL");
  assert_status_msg(dn_compile(m, .loss = NULL), DN_ERR_ARG, "loss is required");
  assert_status_msg(dn_compile(m, .optimizer = "adamx", .loss = "mse"), DN_ERR_ARG, "adamx");
  assert_status_msg(dn_compile(m, .loss = "mse", .metrics = (const char *[]){"mae", "f2", NULL}),
                    DN_ERR_ARG, "dn_compile: unknown metric 'f2'");
  /* "loss" is a monitor name, not a metric: rejected at compile, not at the first fit. */
  assert_status_msg(dn_compile(m, .loss = "mse", .metrics = (const char *[]){"loss", NULL}),
                    DN_ERR_ARG, "dn_compile: unknown metric 'loss'");
  assert_null(dn_model_optimizer(m)); /* all those compiles failed */
  assert_ok(dn_compile(m, .loss = "mse"));
  assert_status_msg(dn_train_on_batch(m, none, ty, &loss), DN_ERR_ARG, "x is no tensor");
  assert_status_msg(dn_train_on_batch(m, tx, none, &loss), DN_ERR_ARG, "y is no tensor");
  assert_status_msg(dn_train_on_batch(m, dn_tensor_2d(x, 0, 2), dn_tensor_2d(y, 0, 1), &loss),
                    DN_ERR_SHAPE, "no rows");
  assert_status_msg(dn_evaluate(m, tx, ty, NULL), DN_ERR_ARG, "loss is NULL");
  assert_status_msg(dn_evaluate_metrics(m, tx, ty, .values = NULL), DN_ERR_ARG, "values is NULL");
  assert_weights_equal(m, w);
  /* No input shape: 0.1 refused fit with DN_ERR_STATE; 0.2 builds the model from x's width, as
   * Keras builds on its first batch, after checking y against the output that width gives. */
  dn_model *u = dn_sequential(dn_dense(2));
  assert_ok(dn_compile(u, .loss = "mse"));
  assert_null(dn_fit(u, tx, ty, .verbose = DN_VERBOSE_SILENT));
  assert_status_msg(dn_last_status(), DN_ERR_SHAPE,
                    "dn_fit: y has 1 column but the model's output width is 2");
  assert_int_equal(dn_model_input_dim(u), 0); /* the failed fit did not build it */
  float y2[4] = {1, 2, 3, 4};
  dn_history *h = dn_fit(u, tx, dn_tensor_2d(y2, 2, 2), .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_model_input_dim(u), 2);
  assert_int_equal(dn_model_count_params(u), 2 * 2 + 2);
  dn_history_free(h);
  /* A model without layers cannot take an input width: a state error. */
  dn_model *e = dn_model_new();
  assert_non_null(e);
  assert_status_msg(dn_predict(e, tx, tout), DN_ERR_STATE, "dn_predict: the model has no layers");
  free(w);
  dn_model_free(e);
  dn_model_free(u);
  dn_model_free(m);
}

/* A batch larger than the data is one batch of every row, as in Keras: one optimizer step
 * per epoch, even for a batch_size whose step count would overflow. */
static void test_batch_larger_than_data(void **state) {
  (void)state;
  dn_model *m = lesson_model();
  const float x[6] = {0.1f, 0.2f, 0.3f, -0.4f, 0.5f, 0.6f}, y[3] = {1, 2, 3};
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  /* The largest batch_size accepted (SIZE_MAX is DN_ZERO_COUNT, refused below). */
  dn_history *h = dn_fit(m, dn_tensor_2d(x, 3, 2), dn_tensor_2d(y, 3, 1), .epochs = 2,
                         .batch_size = SIZE_MAX / 2, .verbose = DN_VERBOSE_SILENT);

  assert_non_null(h);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 2);
  dn_history_free(h);
  dn_model_free(m);
}

static size_t zc_train_begins, zc_train_ends, zc_epochs;
static void zc_train_begin(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m, (void)i, (void)l, (void)u;
  zc_train_begins++;
}
static void zc_train_end(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m, (void)i, (void)l, (void)u;
  zc_train_ends++;
}
static void zc_epoch_begin(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)i, (void)l, (void)u;
  zc_epochs++;
  dn_model_stop_training(m); /* a regression must not loop for SIZE_MAX epochs here */
}

/* Issue 12: .epochs = DN_ZERO_COUNT trains nothing and returns an empty history (Keras
 * epochs=0: on_train_begin and on_train_end run, no epoch); every other size_t count that is a
 * converted negative number, and a zero batch_size, is DN_ERR_ARG naming the field. */
static void test_zero_count_options(void **state) {
  (void)state;
  float x[2 * 8], y[8];
  make_data(x, y, 8);
  dn_tensor tx = dn_tensor_2d(x, 8, 2), ty = dn_tensor_2d(y, 8, 1);
  dn_model *m = lesson_model();
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  float *w0 = dn_test_weights_of(m);
  FILE *out = tmpfile();
  assert_non_null(out);
  zc_train_begins = zc_train_ends = zc_epochs = 0;
  dn_history *h =
      dn_fit(m, tx, ty, .epochs = DN_ZERO_COUNT, .verbose = DN_VERBOSE_LINES, .out = out,
             .validation_split = 0.25,
             .callbacks = (dn_callback *[]){
                 dn_lambda_callback(.on_train_begin = zc_train_begin, .on_train_end = zc_train_end,
                                    .on_epoch_begin = zc_epoch_begin),
                 dn_early_stopping(.monitor = "loss", .restore_best_weights = true), NULL});
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 0);
  assert_int_equal(dn_history_key_count(h), 0);
  assert_int_equal(zc_epochs, 0);
  assert_int_equal(zc_train_begins, 1);
  assert_int_equal(zc_train_ends, 1);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  assert_weights_equal(m, w0);
  assert_int_equal(ftell(out), 0); /* nothing to show */
  fclose(out);
  dn_history_free(h);

  /* initial_epoch = DN_ZERO_COUNT is 0, like leaving it unset. */
  h = dn_fit(m, tx, ty, .epochs = 2, .initial_epoch = DN_ZERO_COUNT, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 2);
  assert_int_equal(dn_history_epoch(h, 0), 0);
  dn_history_free(h);
  free(w0);
  w0 = dn_test_weights_of(m);
  uint64_t steps = dn_optimizer_iterations(dn_model_optimizer(m));

  /* Refused before anything changes. */
  assert_null(dn_fit(m, tx, ty, .epochs = (size_t)-5, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_fit: epochs is 18446744073709551611"));
  assert_null(dn_fit(m, tx, ty, .batch_size = DN_ZERO_COUNT, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_fit: batch_size must be >= 1"));
  assert_null(dn_fit(m, tx, ty, .batch_size = (size_t)-2, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "batch_size"));
  assert_null(dn_fit(m, tx, ty, .initial_epoch = (size_t)-3, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_fit: initial_epoch is"));
  double v[2];
  assert_status_msg(dn_evaluate_metrics(m, tx, ty, v, 2, .batch_size = DN_ZERO_COUNT), DN_ERR_ARG,
                    "dn_evaluate_metrics: batch_size must be >= 1");
  assert_ok(dn_evaluate_metrics(m, tx, ty, v, 2, .batch_size = 3));
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), steps);
  assert_weights_equal(m, w0);
  free(w0);
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_learns_with_adam),
      cmocka_unit_test(test_epoch_loss_is_weighted_mean_and_split_takes_last_rows),
      cmocka_unit_test(test_split_row_counts),
      cmocka_unit_test(test_validation_data_overrides_split),
      cmocka_unit_test(test_same_seed_is_bit_identical),
      cmocka_unit_test(test_shuffle_visits_every_row_once_per_epoch),
      cmocka_unit_test(test_no_allocation_in_steady_state),
      cmocka_unit_test(test_nan_loss_fails_and_keeps_last_good_weights),
      cmocka_unit_test(test_refused_step_keeps_moving_statistics),
      cmocka_unit_test(test_terminate_on_nan_returns_history),
      cmocka_unit_test(test_float_overflow_loss_refused),
      cmocka_unit_test(test_update_overflow_refused),
      cmocka_unit_test(test_large_but_safe_step_applied),
      cmocka_unit_test(test_gradients_beyond_check_limit_applied),
      cmocka_unit_test(test_written_weights_rechecked),
      cmocka_unit_test(test_apply_gradients_refuses_nan),
      cmocka_unit_test(test_train_on_batch_is_one_sgd_step_with_regularization),
      cmocka_unit_test(test_evaluate_and_predict_in_batches),
      cmocka_unit_test(test_predict_in_place),
      cmocka_unit_test(test_compile_again_replaces_optimizer),
      cmocka_unit_test(test_fit_after_model_grows),
      cmocka_unit_test(test_progress_lines_format),
      cmocka_unit_test(test_progress_bar_format),
      cmocka_unit_test(test_progress_bar_fill_and_padding),
      cmocka_unit_test(test_fit_progress_lines_and_silent),
      cmocka_unit_test(test_fit_progress_bar_draws_final_line),
      cmocka_unit_test(test_fit_bad_input_leaves_model_unchanged),
      cmocka_unit_test(test_sparse_labels_checked_up_front),
      cmocka_unit_test(test_other_entry_points_bad_input),
      cmocka_unit_test(test_batch_larger_than_data),
      cmocka_unit_test(test_zero_count_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
