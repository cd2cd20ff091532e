/* test_errors.c -- cross-cutting error behaviour: status strings and the last-error
 * contract, every option macro with empty and full argument lists (compiled with the
 * project's -Wpedantic -Wextra, which includes -Woverride-init), and allocation failure
 * injected at every allocation of model building, passes and training: each failure is a
 * clean DN_ERR_NOMEM, never a crash or a leak, and leaves existing objects usable (an unbuilt
 * model that fails to build from x on its first call stays unbuilt). */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include "dn_test.h"

#include <stdlib.h>

/* ---- an allocator that fails the n-th allocation ----------------------- */

static long fail_at = -1; /* -1: never */
static long calls;

static void *failing_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  if (fail_at >= 0 && calls++ == fail_at)
    return NULL;
  void *p = NULL;
  return posix_memalign(&p, alignment, size) == 0 ? p : NULL;
}

static void plain_free(void *ptr, void *ctx) {
  (void)ctx;
  free(ptr);
}

static void arm(long n) {
  calls = 0;
  fail_at = n;
}

static int setup(void **state) {
  (void)state;
  dn_allocator a = {failing_alloc, plain_free, NULL};
  fail_at = -1;
  return dn_set_allocator(&a) == DN_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return dn_set_allocator(NULL) == DN_OK ? 0 : -1;
}

/* ---- status ------------------------------------------------------------- */

static void test_status_strings(void **state) {
  (void)state;
  const dn_status all[] = {DN_OK,         DN_ERR_ARG,     DN_ERR_SHAPE,
                           DN_ERR_NOMEM,  DN_ERR_STATE,   DN_ERR_IO,
                           DN_ERR_FORMAT, DN_ERR_NUMERIC, DN_ERR_UNSUPPORTED};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    const char *s = dn_status_string(all[i]);
    assert_non_null(s);
    assert_true(strncmp(s, "DN_", 3) == 0);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(s, dn_status_string(all[j]));
  }
  assert_non_null(strstr(dn_status_string((dn_status)999), "unknown"));
  assert_string_equal(dn_version(), DN_VERSION_STRING);
  /* Every failure sets both the status and a message naming the function. */
  assert_null(dn_dense(0));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_dense"));
  dn_allocator half = {failing_alloc, NULL, NULL};
  assert_status_msg(dn_set_allocator(&half), DN_ERR_ARG, "free");
}

/* ---- the option macros ---------------------------------------------------- */

static double halve(size_t epoch, double lr, void *user) {
  (void)epoch;
  (void)user;
  return lr / 2;
}

static void on_epoch(dn_model *model, size_t epoch, const dn_logs *logs, void *user) {
  (void)model;
  (void)epoch;
  (void)logs;
  (void)user;
}

static void test_macros_compile_and_run(void **state) {
  (void)state;
  /* Empty and full argument lists alike. */
  dn_layer *layers[] = {
      dn_dense(3),
      dn_dense(3, .activation = "relu", .input_dim = 2, .no_bias = true,
               .kernel_initializer = "he_normal", .bias_initializer = "zeros",
               .kernel_regularizer = "l2", .kernel_l2 = 0.1, .name = "d"),
      dn_activation("relu"),
      dn_activation("elu", .input_dim = 3),
      dn_dropout(0.5),
      dn_dropout(0.5, .input_dim = 3, .name = "drop"),
      dn_batch_normalization(),
      dn_batch_normalization(.input_dim = 3, .momentum = 0.9, .epsilon = DN_ZERO),
      dn_normalization(),
      dn_normalization(.input_dim = 3, .invert = true),
  };
  for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
    assert_non_null(layers[i]);
    dn_layer_free(layers[i]);
  }
  dn_optimizer *opts[] = {
      dn_sgd(),
      dn_sgd(.learning_rate = 0.1, .momentum = 0.9, .nesterov = true),
      dn_adam(),
      dn_adam(.learning_rate = 1e-2, .beta_1 = DN_ZERO, .amsgrad = true, .clipnorm = 1),
      dn_adamw(.weight_decay = DN_ZERO),
      dn_rmsprop(.centered = true),
      dn_adagrad(),
      dn_adadelta(),
      dn_adamax(),
      dn_nadam(),
      dn_lion(.schedule = dn_exponential_decay(.initial_learning_rate = 0.1, .decay_steps = 10,
                                               .decay_rate = 0.5)),
      dn_sgd(.schedule = dn_cosine_decay(.initial_learning_rate = 0.1, .decay_steps = 100)),
      dn_sgd(.schedule = dn_inverse_time_decay(.initial_learning_rate = 0.1, .decay_steps = 1,
                                               .decay_rate = 0.5)),
      dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = (const double[]){10, 20},
                                                     .values = (const double[]){1, 0.5, 0.1},
                                                     .n_boundaries = 2)),
  };
  for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
    if (opts[i] == NULL)
      fail_msg("optimizer %zu: %s", i, dn_last_error());
    dn_optimizer_free(opts[i]);
  }
  dn_callback *cbs[] = {
      dn_early_stopping(),
      dn_early_stopping(.monitor = "val_loss", .patience = 3, .restore_best_weights = true),
      dn_early_stopping(.patience = DN_ZERO_COUNT), /* patience is an int, as ReduceLROnPlateau's */
      dn_reduce_lr_on_plateau(),
      dn_reduce_lr_on_plateau(.monitor = "loss", .patience = DN_ZERO_COUNT, .factor = 0.5),
      dn_learning_rate_scheduler(halve, NULL),
      dn_terminate_on_nan(),
      dn_csv_logger("unused.csv"),
      dn_csv_logger("unused.csv", .separator = ';', .append = true),
      dn_model_checkpoint("unused.dnn"),
      dn_model_checkpoint("unused-{epoch:02d}.dnn", .save_best_only = true),
      dn_lambda_callback(),
      dn_lambda_callback(.on_epoch_end = on_epoch, .user = NULL),
  };
  for (size_t i = 0; i < sizeof cbs / sizeof *cbs; i++) {
    if (cbs[i] == NULL)
      fail_msg("callback %zu: %s", i, dn_last_error());
    dn_callback_free(cbs[i]);
  }
  dn_model *m = dn_sequential(dn_dense(2, .input_dim = 2), dn_dense(1));
  assert_ok(dn_compile(m, .loss = "mse"));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "huber",
                       .metrics = (const char *[]){"mae", NULL}, .huber_delta = 2));
  /* const data, views without a cast */
  static const float x[4] = {1, 2, 3, 4}, y[2] = {1, 2};
  const dn_tensor xt = dn_tensor_2d(x, 2, 2), yt = dn_tensor_1d(y, 2);
  float pred[2], loss;
  dn_history *h = dn_fit(m, xt, yt, .epochs = 2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  h = dn_fit(m, xt, yt);
  (void)h; /* verbose AUTO prints to stdout: fine in a test log */
  dn_history_free(h);
  h = dn_fit(m, xt, yt, .epochs = 1, .batch_size = 1, .validation_x = xt, .validation_y = yt,
             .no_shuffle = true, .sample_weight = dn_tensor_1d(y, 2), .verbose = DN_VERBOSE_SILENT,
             .seed = 3, .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL});
  assert_non_null(h);
  dn_history_free(h);
  double values[2];
  assert_ok(dn_evaluate_metrics(m, xt, yt, values, 2));
  assert_ok(dn_evaluate_metrics(m, xt, yt, values, 2, .batch_size = 1,
                                .sample_weight = dn_tensor_1d(y, 2)));
  assert_ok(dn_evaluate_metrics_with((dn_evaluate_metrics_options){
      .model = m, .x = xt, .y = yt, .values = values, .values_capacity = 2}));
  assert_ok(dn_evaluate(m, xt, yt, &loss));
  assert_close(values[0], loss, 1e-6, 1e-6);
  assert_ok(dn_predict(m, xt, dn_tensor_2d(pred, 2, 1)));
  assert_ok(dn_predict_on_batch(m, xt, dn_tensor_1d(pred, 2)));
  dn_gradient_check_report report;
  assert_ok(dn_model_gradient_check(m, xt, yt, &report));
  assert_ok(dn_model_gradient_check(m, xt, yt, &report, .epsilon = 1e-2, .training = true));
  dn_model_free(m);
  /* the data and plot macros, with their positional arguments only and with options (these
   * fail on a missing directory: this test is about what compiles) */
  dn_dataset data;
  assert_status_msg(dn_csv_load("/nonexistent-dir/d.csv", &data), DN_ERR_IO, "dn_csv_load");
  assert_status_msg(dn_csv_load("/nonexistent-dir/d.csv", &data, .delimiter = ';',
                                .target_names = (const char *[]){"t", NULL}),
                    DN_ERR_IO, "dn_csv_load");
  dn_dataset_free(&data);
  const dn_plot_series series = {.y = y, .n = 2};
  assert_status_msg(dn_plot_svg("/nonexistent-dir/p.svg", &series, 1), DN_ERR_IO, "dn_plot_svg");
  assert_status_msg(dn_plot_svg("/nonexistent-dir/p.svg", &series, 1, .title = "t", .width = 300),
                    DN_ERR_IO, "dn_plot_svg");
}

/* ---- allocation failures -------------------------------------------------- */

/* Runs `body` with the n-th allocation failing, for n = 0, 1, ... until it succeeds;
 * every failure must be DN_ERR_NOMEM (ASan reports any leak). Returns the count. */
#define FOR_EACH_FAILURE(n_out, body)                                                              \
  do {                                                                                             \
    long n_ = 0;                                                                                   \
    for (;; n_++) {                                                                                \
      arm(n_);                                                                                     \
      bool ok_ = (body);                                                                           \
      fail_at = -1;                                                                                \
      if (ok_)                                                                                     \
        break;                                                                                     \
      if (dn_last_status() != DN_ERR_NOMEM)                                                        \
        fail_msg("allocation %ld: expected DN_ERR_NOMEM, got %s (%s)", n_,                         \
                 dn_status_string(dn_last_status()), dn_last_error());                             \
      assert_true(n_ < 10000);                                                                     \
    }                                                                                              \
    *(n_out) = n_;                                                                                 \
  } while (0)

static dn_model *built;

static bool build_lesson(void) {
  built = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2), dn_dropout(0.2),
                        dn_batch_normalization(), dn_dense(3, .activation = "relu"), dn_dense(1));
  return built != NULL;
}

static void test_nomem_building(void **state) {
  (void)state;
  long n;
  FOR_EACH_FAILURE(&n, build_lesson());
  assert_true(n > 5); /* there were allocations to fail */
  assert_int_equal(dn_model_count_params(built), 12 + 16 + 15 + 4);
  dn_model_free(built);
}

/* dn_model_clone and dn_model_copy (test_layer_access.c): each allocation failing in turn is
 * DN_ERR_NOMEM naming the call, the original untouched. */
static const dn_model *original;
static dn_model *duplicate;
static bool clone_original(void) {
  return (duplicate = dn_model_clone(original)) != NULL;
}
static bool copy_original(void) {
  return (duplicate = dn_model_copy(original)) != NULL;
}

static void test_nomem_clone_and_copy(void **state) {
  (void)state;
  const float mean[2] = {1, 2}, var[2] = {1, 4};
  dn_model *m =
      dn_sequential(dn_normalization(.input_dim = 2, .mean = mean, .variance = var),
                    dn_dense(4, .activation = "relu"), dn_batch_normalization(), dn_dense(1));
  assert_non_null(m);
  original = m;
  float *before = dn_test_weights_of(m);
  long n;
  FOR_EACH_FAILURE(&n, clone_original() || strstr(dn_last_error(), "dn_model_clone") == NULL);
  assert_true(n > 5);
  assert_non_null(duplicate);
  dn_test_assert_same_weights(duplicate, m); /* fresh weights from the same seed */
  dn_model_free(duplicate);
  FOR_EACH_FAILURE(&n, copy_original() || strstr(dn_last_error(), "dn_model_copy") == NULL);
  assert_true(n > 5);
  assert_non_null(duplicate);
  dn_test_assert_same_weights(duplicate, m);
  dn_model_free(duplicate);
  float *after = dn_test_weights_of(m);
  assert_memory_equal(before, after, dn_model_count_params(m) * sizeof *before);
  free(after);
  free(before);
  dn_model_free(m);
}

static void test_nomem_passes_leave_model_usable(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_dense(3, .activation = "relu"), dn_dense(1));
  float w0[31], w1[31];
  assert_ok(dn_model_get_weights(m, w0, 31));
  float x[64 * 2], y[64], dy[64];
  for (int i = 0; i < 128; i++)
    x[i] = (float)(i % 9) / 9.0f;
  for (int i = 0; i < 64; i++)
    dy[i] = 1.0f;
  const dn_tensor xt = dn_tensor_2d(x, 64, 2), yt = dn_tensor_2d(y, 64, 1);
  long n;
  FOR_EACH_FAILURE(&n, dn_model_forward(m, xt, true, yt) == DN_OK);
  assert_true(n >= 1);
  assert_ok(dn_model_backward(m, dn_tensor_2d(dy, 64, 1)));
  assert_ok(dn_model_get_weights(m, w1, 31));
  assert_memory_equal(w0, w1, sizeof w0);
  /* Training calls: compile and fit under every failure point. */
  FOR_EACH_FAILURE(&n, dn_compile(m, .optimizer = "adam", .loss = "mse",
                                  .metrics = (const char *[]){"mae", NULL}) == DN_OK);
  float target[64];
  for (int i = 0; i < 64; i++)
    target[i] = x[2 * i] - x[2 * i + 1];
  dn_history *h = NULL;
  FOR_EACH_FAILURE(&n,
                   (h = dn_fit(m, xt, dn_tensor_2d(target, 64, 1), .epochs = 2, .batch_size = 16,
                               .validation_split = 0.25, .verbose = DN_VERBOSE_SILENT)) != NULL);
  assert_true(n >= 1);
  assert_int_equal(dn_history_length(h), 2);
  dn_history_free(h);
  dn_model_free(m);
}

/* The first data call of an unbuilt model, by kind: predict, forward, train_on_batch. */
static const char *const first_call_names[3] = {"dn_predict", "dn_model_forward",
                                                "dn_train_on_batch"};

static dn_status first_call(int kind, dn_model *m, dn_tensor x, dn_tensor y, float *p) {
  switch (kind) {
  case 0: return dn_predict(m, x, dn_tensor_2d(p, 8, 1));
  case 1: return dn_model_forward(m, x, false, dn_tensor_2d(p, 8, 1));
  default: return dn_train_on_batch(m, x, y, p);
  }
}

static dn_model *first_call_model(int kind) {
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  if (kind == 2)
    assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  return m;
}

/* An unbuilt model builds from x's width on its first call; an allocation failure on the way
 * leaves it unbuilt (a failed call leaves the model unchanged), and the next call builds it as
 * if nothing had happened. */
static void test_nomem_first_call_builds(void **state) {
  (void)state;
  float x[8 * 3], y[8], p[8], ref[8], w[21], wref[21];
  for (int i = 0; i < 24; i++)
    x[i] = (float)(i % 5) / 5.0f - 0.3f;
  for (int i = 0; i < 8; i++)
    y[i] = x[3 * i] - x[3 * i + 2];
  const dn_tensor xt = dn_tensor_2d(x, 8, 3), yt = dn_tensor_2d(y, 8, 1);
  for (int kind = 0; kind < 3; kind++) {
    const char *fn = first_call_names[kind];
    dn_model *twin = first_call_model(kind);
    assert_ok(dn_model_build(twin, 3));
    assert_ok(first_call(kind, twin, xt, yt, ref));
    dn_model *m = first_call_model(kind);
    long failures = 0;
    for (long k = 0;; k++) {
      arm(k);
      dn_status st = first_call(kind, m, xt, yt, p);
      fail_at = -1;
      if (st == DN_OK)
        break;
      if (st != DN_ERR_NOMEM || dn_last_status() != DN_ERR_NOMEM)
        fail_msg("%s: allocation %ld: expected DN_ERR_NOMEM, got %s (%s)", fn, k,
                 dn_status_string(st), dn_last_error());
      if (dn_model_input_dim(m) != 0 || dn_model_count_params(m) != 0)
        fail_msg("%s: allocation %ld failed (%s) but left the model built (input width %zu)", fn, k,
                 dn_last_error(), dn_model_input_dim(m));
      failures++;
      assert_true(k < 10000);
    }
    assert_true(failures >= 1); /* building allocates */
    assert_int_equal(dn_model_input_dim(m), 3);
    assert_memory_equal(p, ref, (kind == 2 ? 1 : 8) * sizeof *p);
    assert_int_equal(dn_model_count_params(m), 21);
    assert_ok(dn_model_get_weights(m, w, 21));
    assert_ok(dn_model_get_weights(twin, wref, 21));
    assert_memory_equal(w, wref, sizeof w);
    dn_model_free(m);
    dn_model_free(twin);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_strings),
      cmocka_unit_test(test_macros_compile_and_run),
      cmocka_unit_test_setup_teardown(test_nomem_building, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nomem_clone_and_copy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nomem_passes_leave_model_usable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nomem_first_call_builds, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
