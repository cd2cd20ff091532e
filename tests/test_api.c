/* test_api.c -- cross-cutting bad-input tests of the public API: every entry point, section by
 * section, called with NULL pointers, zero sizes, mismatched sizes and bad names returns the
 * documented status, sets dn_last_status()/dn_last_error() to a message that names the function
 * and what was wrong, and leaves the objects it was given unchanged (weights compared bit for
 * bit before and after). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include "dn_test.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/status.h" /* dn_fail: poisons the last error before each call */

/* ---- helpers ------------------------------------------------------------------------------ */

/* A stale last error with status DN_OK: a failing call that forgets to set its own is caught. */
static void poison(void) {
  dn_fail(DN_OK, "(stale message)");
}

static void check_last(dn_status got, dn_status want, const char *fn, const char *what,
                       const char *call, const char *file, int line) {
  if (got != want || dn_last_status() != want) {
    print_error("%s: returned %s, last status %s, expected %s (message: %s)\n", call,
                dn_status_string(got), dn_status_string(dn_last_status()), dn_status_string(want),
                dn_last_error());
    _fail(file, line);
  }
  const char *msg = dn_last_error();
  if (strstr(msg, fn) == NULL || strstr(msg, what) == NULL) {
    print_error("%s: message '%s' should name '%s' and say '%s'\n", call, msg, fn, what);
    _fail(file, line);
  }
}

/* A dn_status call fails with `status`; the message contains `fn` and `what`. */
#define EXPECT(call, status, fn, what)                                                             \
  do {                                                                                             \
    poison();                                                                                      \
    dn_status st_ = (call);                                                                        \
    check_last(st_, (status), (fn), (what), #call, __FILE__, __LINE__);                            \
  } while (0)

/* A pointer-returning call returns NULL with `status` and such a message. */
#define EXPECT_NULL(call, status, fn, what)                                                        \
  do {                                                                                             \
    poison();                                                                                      \
    const void *p_ = (const void *)(call);                                                         \
    if (p_ != NULL) {                                                                              \
      print_error("%s: expected NULL\n", #call);                                                   \
      _fail(__FILE__, __LINE__);                                                                   \
    }                                                                                              \
    check_last(dn_last_status(), (status), (fn), (what), #call, __FILE__, __LINE__);               \
  } while (0)

/* The lesson network: 2 -> Dense(4, relu) -> Dense(3, relu) -> Dense(1), 31 parameters. */
static dn_model *lesson(void) {
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_dense(3, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  assert_int_equal(dn_model_count_params(m), 31);
  return m;
}

static dn_model *compiled(const char *loss, const char *const *metrics) {
  dn_model *m = lesson();
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = loss, .metrics = metrics));
  return m;
}

/* A copy of everything a failed call must not touch: layer count and every weight. */
typedef struct snapshot {
  size_t layers, n;
  float w[64];
} snapshot;

static snapshot snap(const dn_model *m) {
  snapshot s = {dn_model_layer_count(m), dn_model_count_params(m), {0}};
  assert_true(s.n <= 64);
  assert_ok(dn_model_get_weights(m, s.w, s.n));
  return s;
}

#define ASSERT_UNCHANGED(m, s)                                                                     \
  do {                                                                                             \
    snapshot now_ = snap(m);                                                                       \
    assert_int_equal(now_.layers, (s).layers);                                                     \
    assert_int_equal(now_.n, (s).n);                                                               \
    assert_memory_equal(now_.w, (s).w, (s).n * sizeof(float));                                     \
  } while (0)

static const float X[8] = {0.5f, -1.0f, 1.5f, 2.0f, -0.5f, 0.25f, 1.0f, 1.0f}; /* 4 rows x 2 */
static const float Y[4] = {1.0f, 0.0f, 2.0f, -1.0f};                           /* 4 rows x 1 */

static char tmp_dir[64];

static const char *tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", tmp_dir, name);
  return buf;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/dn_test_api_XXXXXX");
  return mkdtemp(tmp_dir) != NULL ? 0 : -1;
}

static int remove_dir(void **state) {
  (void)state;
  static const char *const names[] = {"data.csv", "garbage.dnn", "small.dnn", "model.dnn",
                                      "plot.svg", "hist.csv",    NULL};
  char p[128];
  for (size_t i = 0; names[i] != NULL; i++)
    remove(tmp_path(p, sizeof p, names[i]));
  return rmdir(tmp_dir) == 0 ? 0 : -1;
}

/* ---- status and errors -------------------------------------------------------------------- */

static void test_status_and_allocator(void **state) {
  (void)state;
  assert_string_equal(dn_version(), DN_VERSION_STRING);
  assert_non_null(strstr(dn_status_string((dn_status)-3), "unknown"));
  EXPECT(dn_set_allocator(&(dn_allocator){NULL, NULL, NULL}), DN_ERR_ARG, "dn_set_allocator",
         "must both be set");
  assert_ok(dn_set_allocator(NULL)); /* restores the default */
  /* Every failure leaves the status and the message; a success leaves them alone. */
  EXPECT(dn_model_build(NULL, 2), DN_ERR_ARG, "dn_model_build", "model is NULL");
  poison();
  dn_model *m = lesson();
  assert_int_equal(dn_last_status(), DN_OK);
  assert_string_equal(dn_last_error(), "(stale message)");
  dn_model_free(m);
}

/* ---- layers and activations --------------------------------------------------------------- */

static void test_layer_constructors(void **state) {
  (void)state;
  EXPECT_NULL(dn_dense(0), DN_ERR_ARG, "dn_dense", "units");
  EXPECT_NULL(dn_dense(3, .activation = "relux"), DN_ERR_ARG, "dn_dense", "'relux'");
  EXPECT_NULL(dn_dense(3, .activation = "ReLU"), DN_ERR_ARG, "dn_dense", "did you mean 'relu'");
  EXPECT_NULL(dn_dense(3, .activation = "glu"), DN_ERR_UNSUPPORTED, "dn_dense", "'glu'");
  EXPECT_NULL(dn_dense(3, .kernel_initializer = "glorot"), DN_ERR_ARG, "dn_dense", "'glorot'");
  EXPECT_NULL(dn_dense(3, .bias_initializer = "orthogonal"), DN_ERR_UNSUPPORTED, "dn_dense",
              "'orthogonal'");
  EXPECT_NULL(dn_dense(3, .kernel_initializer = "random_uniform",
                       .kernel_init = {.minval = 1.0, .maxval = -1.0}),
              DN_ERR_ARG, "dn_dense", "minval");
  EXPECT_NULL(dn_dense(3, .bias_initializer = "random_normal", .bias_init = {.stddev = -1.0}),
              DN_ERR_ARG, "dn_dense", "stddev");
  EXPECT_NULL(dn_dense(3, .kernel_initializer = "constant", .kernel_init = {.value = NAN}),
              DN_ERR_ARG, "dn_dense", "finite");
  EXPECT_NULL(dn_dense(3, .kernel_regularizer = "l3"), DN_ERR_ARG, "dn_dense", "'l3'");
  EXPECT_NULL(dn_dense(3, .bias_l2 = -0.5), DN_ERR_ARG, "dn_dense", "bias regularization");
  EXPECT_NULL(dn_dense(3, .kernel_l1 = INFINITY), DN_ERR_ARG, "dn_dense", "finite");
  char long_name[200];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  EXPECT_NULL(dn_dense(3, .name = long_name), DN_ERR_ARG, "dn_dense", "longer than 63");

  EXPECT_NULL(dn_activation(NULL), DN_ERR_ARG, "dn_activation", "NULL");
  EXPECT_NULL(dn_activation("softmaxx"), DN_ERR_ARG, "dn_activation", "'softmaxx'");
  EXPECT_NULL(dn_activation("relu", .name = long_name), DN_ERR_ARG, "dn_activation",
              "longer than 63");
  EXPECT_NULL(dn_batch_normalization(.name = long_name), DN_ERR_ARG, "dn_batch_normalization",
              "longer than 63");
  EXPECT_NULL(dn_dropout(1.5), DN_ERR_ARG, "dn_dropout", "[0, 1]");
  EXPECT_NULL(dn_dropout(-0.1), DN_ERR_ARG, "dn_dropout", "[0, 1]");
  EXPECT_NULL(dn_dropout(NAN), DN_ERR_ARG, "dn_dropout", "[0, 1]");
  EXPECT_NULL(dn_batch_normalization(.momentum = 1.5), DN_ERR_ARG, "dn_batch_normalization",
              "momentum");
  EXPECT_NULL(dn_batch_normalization(.epsilon = -1e-3), DN_ERR_ARG, "dn_batch_normalization",
              "epsilon");
  const float mean[2] = {0.0f, 1.0f}, bad_var[2] = {1.0f, -1.0f};
  EXPECT_NULL(dn_normalization(.input_dim = 2, .mean = mean), DN_ERR_ARG, "dn_normalization",
              "both mean and variance");
  EXPECT_NULL(dn_normalization(.mean = mean, .variance = mean), DN_ERR_ARG, "dn_normalization",
              "input_dim");
  EXPECT_NULL(dn_normalization(.input_dim = 2, .mean = mean, .variance = bad_var), DN_ERR_ARG,
              "dn_normalization", "feature 1");

  /* A failed constructor inside dn_sequential: the call fails with that message, and the other
   * layers are freed (the leak checker sees it). */
  EXPECT_NULL(
      dn_sequential(dn_dense(4, .input_dim = 2), dn_dense(3, .activation = "nope"), dn_dense(1)),
      DN_ERR_ARG, "dn_sequential: dn_dense", "'nope'");
  EXPECT_NULL(dn_sequential_with(0, NULL), DN_ERR_ARG, "dn_sequential", "no layers");
  EXPECT_NULL(dn_sequential(dn_dense(4, .input_dim = 2), dn_dense(3, .input_dim = 5)), DN_ERR_SHAPE,
              "dn_sequential", "input_dim 5");

  /* Accessors on NULL: documented neutral values, no crash. */
  assert_null(dn_layer_name(NULL));
  assert_null(dn_layer_type(NULL));
  assert_int_equal(dn_layer_output_dim(NULL), 0);
  assert_int_equal(dn_layer_count_params(NULL), 0);
  dn_layer_free(NULL);
}

static void test_normalization_adapt(void **state) {
  (void)state;
  const float x[6] = {1, 2, 3, 4, 5, 6};
  const float bad[6] = {1, 2, NAN, 4, 5, 6};
  dn_layer *z = dn_normalization(.input_dim = 2);
  dn_layer *unbuilt = dn_normalization();
  dn_layer *d = dn_dense(2, .input_dim = 2);
  assert_non_null(z);
  assert_non_null(unbuilt);
  assert_non_null(d);
  EXPECT(dn_normalization_adapt(NULL, x, 3), DN_ERR_ARG, "dn_normalization_adapt", "layer");
  EXPECT(dn_normalization_adapt(z, NULL, 3), DN_ERR_ARG, "dn_normalization_adapt", "x is NULL");
  EXPECT(dn_normalization_adapt(z, x, 0), DN_ERR_ARG, "dn_normalization_adapt", "rows");
  EXPECT(dn_normalization_adapt(d, x, 3), DN_ERR_ARG, "dn_normalization_adapt",
         "not a Normalization");
  EXPECT(dn_normalization_adapt(unbuilt, x, 3), DN_ERR_STATE, "dn_normalization_adapt", "width");
  EXPECT(dn_normalization_adapt(z, x, SIZE_MAX), DN_ERR_SHAPE, "dn_normalization_adapt",
         "overflows");
  /* A NaN in x fails before anything is written. */
  dn_model *m = dn_sequential(z);
  assert_non_null(m);
  assert_ok(dn_normalization_adapt(z, x, 3));
  snapshot s = snap(m);
  EXPECT(dn_normalization_adapt(z, bad, 3), DN_ERR_NUMERIC, "dn_normalization_adapt", "x[1][0]");
  ASSERT_UNCHANGED(m, s);
  dn_model_free(m);
  dn_layer_free(unbuilt);
  dn_layer_free(d);
}

/* ---- model lifecycle ---------------------------------------------------------------------- */

static void test_model_lifecycle(void **state) {
  (void)state;
  dn_model *m = lesson();
  snapshot s = snap(m);
  /* dn_model_add takes the layer also on failure (the leak checker sees it freed). */
  EXPECT(dn_model_add(NULL, dn_dense(2)), DN_ERR_ARG, "dn_model_add", "model is NULL");
  EXPECT(dn_model_add(m, NULL), DN_ERR_ARG, "dn_model_add", "layer is NULL");
  EXPECT(dn_model_add(m, dn_dense(2, .input_dim = 7)), DN_ERR_SHAPE, "dn_model_add", "input_dim 7");
  EXPECT(dn_model_add(m, dn_dense(2, .name = "dense_1")), DN_ERR_ARG, "dn_model_add", "'dense_1'");
  ASSERT_UNCHANGED(m, s);
  /* A layer already in a model is refused and stays with its model. */
  dn_model *other = dn_model_new();
  assert_non_null(other);
  EXPECT(dn_model_add(other, dn_model_layer(m, 0)), DN_ERR_ARG, "dn_model_add", "already belongs");
  assert_int_equal(dn_model_layer_count(other), 0);
  ASSERT_UNCHANGED(m, s);

  EXPECT(dn_model_build(NULL, 2), DN_ERR_ARG, "dn_model_build", "NULL");
  EXPECT(dn_model_build(m, 0), DN_ERR_ARG, "dn_model_build", "input_dim");
  EXPECT(dn_model_build(m, 3), DN_ERR_STATE, "dn_model_build", "input_dim 2");
  assert_ok(dn_model_build(m, 2)); /* the same shape again is a no-op */
  EXPECT(dn_model_build(other, 2), DN_ERR_STATE, "dn_model_build", "no layers");
  ASSERT_UNCHANGED(m, s);

  EXPECT_NULL(dn_model_layer(m, 3), DN_ERR_ARG, "dn_model_layer", "index 3");
  EXPECT_NULL(dn_model_layer(NULL, 0), DN_ERR_ARG, "dn_model_layer", "NULL");
  EXPECT(dn_model_set_seed(NULL, 1), DN_ERR_ARG, "dn_model_set_seed", "NULL");
  EXPECT(dn_model_summary(NULL, stdout), DN_ERR_ARG, "dn_model_summary", "model is NULL");
  EXPECT(dn_model_summary(m, NULL), DN_ERR_ARG, "dn_model_summary", "out is NULL");
  assert_int_equal(dn_model_input_dim(NULL), 0);
  assert_int_equal(dn_model_output_dim(NULL), 0);
  assert_int_equal(dn_model_layer_count(NULL), 0);
  assert_int_equal(dn_model_count_params(NULL), 0);
  assert_int_equal(dn_model_count_trainable_params(NULL), 0);
  dn_model_stop_training(NULL);
  dn_model_free(NULL);
  ASSERT_UNCHANGED(m, s);
  dn_model_free(other);
  dn_model_free(m);
}

/* ---- weights ------------------------------------------------------------------------------ */

static void test_weights(void **state) {
  (void)state;
  dn_model *m = lesson();
  snapshot s = snap(m);
  float buf[64];
  memset(buf, 0x7f, sizeof buf);
  EXPECT(dn_model_get_weights(NULL, buf, 31), DN_ERR_ARG, "dn_model_get_weights", "model");
  EXPECT(dn_model_get_weights(m, NULL, 31), DN_ERR_ARG, "dn_model_get_weights", "NULL");
  EXPECT(dn_model_get_weights(m, buf, 30), DN_ERR_SHAPE, "dn_model_get_weights", "31");
  EXPECT(dn_model_set_weights(NULL, buf, 31), DN_ERR_ARG, "dn_model_set_weights", "model");
  EXPECT(dn_model_set_weights(m, NULL, 31), DN_ERR_ARG, "dn_model_set_weights", "NULL");
  EXPECT(dn_model_set_weights(m, buf, 32), DN_ERR_SHAPE, "dn_model_set_weights", "32");
  EXPECT(dn_model_set_weights(m, buf, 0), DN_ERR_SHAPE, "dn_model_set_weights", "31");
  EXPECT(dn_model_get_gradients(NULL, buf, 31), DN_ERR_ARG, "dn_model_get_gradients", "model");
  EXPECT(dn_model_get_gradients(m, buf, 3), DN_ERR_SHAPE, "dn_model_get_gradients", "31");
  ASSERT_UNCHANGED(m, s);
  /* A model without an input shape has no weights yet. */
  dn_model *unbuilt = dn_sequential(dn_dense(3));
  assert_non_null(unbuilt);
  assert_int_equal(dn_model_count_params(unbuilt), 0);
  EXPECT(dn_model_set_weights(unbuilt, buf, 31), DN_ERR_SHAPE, "dn_model_set_weights", "0");
  dn_model_free(unbuilt);
  dn_model_free(m);
}

/* ---- hand-driven passes ------------------------------------------------------------------- */

static void test_passes(void **state) {
  (void)state;
  dn_model *m = lesson();
  snapshot s = snap(m);
  float y[4], dy[4] = {1, 1, 1, 1}, dx[8];
  EXPECT(dn_model_forward(NULL, X, 4, false, y, 4), DN_ERR_ARG, "dn_model_forward", "model");
  EXPECT(dn_model_forward(m, NULL, 4, false, y, 4), DN_ERR_ARG, "dn_model_forward", "NULL");
  EXPECT(dn_model_forward(m, X, 4, false, NULL, 4), DN_ERR_ARG, "dn_model_forward", "y is NULL");
  EXPECT(dn_model_forward(m, X, 0, false, y, 4), DN_ERR_ARG, "dn_model_forward", "rows");
  EXPECT(dn_model_forward(m, X, 4, false, y, 3), DN_ERR_SHAPE, "dn_model_forward",
         "holds 3 floats");
  EXPECT(dn_model_forward(m, X, (size_t)-1 / 2, false, y, 4), DN_ERR_SHAPE, "dn_model_forward",
         "holds 4 floats");

  EXPECT(dn_model_backward(NULL, dy, 4), DN_ERR_ARG, "dn_model_backward", "model");
  EXPECT(dn_model_backward(m, dy, 4), DN_ERR_STATE, "dn_model_backward", "forward");
  assert_ok(dn_model_forward(m, X, 4, true, y, 4));
  EXPECT(dn_model_backward(m, NULL, 4), DN_ERR_ARG, "dn_model_backward", "dy is NULL");
  EXPECT(dn_model_backward(m, dy, 3), DN_ERR_STATE, "dn_model_backward", "same 3 rows");
  EXPECT(dn_model_backward_input(m, dy, 4, dx, 7), DN_ERR_SHAPE, "dn_model_backward_input",
         "holds 7 floats");
  assert_ok(dn_model_backward_input(m, dy, 4, dx, 8));

  EXPECT(dn_model_apply_gradients(NULL), DN_ERR_ARG, "dn_model_apply_gradients", "NULL");
  EXPECT(dn_model_apply_gradients(m), DN_ERR_STATE, "dn_model_apply_gradients", "dn_compile");
  ASSERT_UNCHANGED(m, s);

  /* A NaN gradient is refused whole: no weight moves, no step is counted. */
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  const float nan_dy[4] = {NAN, 1, 1, 1};
  assert_ok(dn_model_forward(m, X, 4, true, y, 4));
  assert_ok(dn_model_backward(m, nan_dy, 4));
  EXPECT(dn_model_apply_gradients(m), DN_ERR_NUMERIC, "dn_model_apply_gradients", "NaN");
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  ASSERT_UNCHANGED(m, s);

  dn_gradient_check_report r;
  EXPECT(dn_model_gradient_check(NULL, X, dy, 4, NULL, &r), DN_ERR_ARG, "dn_model_gradient_check",
         "NULL");
  EXPECT(dn_model_gradient_check(m, X, dy, 4, NULL, NULL), DN_ERR_ARG, "dn_model_gradient_check",
         "NULL");
  EXPECT(dn_model_gradient_check(m, X, dy, 0, NULL, &r), DN_ERR_ARG, "dn_model_gradient_check",
         "rows");
  EXPECT(dn_model_gradient_check(m, X, dy, 4, &(dn_gradient_check_options){.epsilon = -1e-3}, &r),
         DN_ERR_ARG, "dn_model_gradient_check", "epsilon");
  EXPECT(dn_model_gradient_check(m, X, dy, 4, &(dn_gradient_check_options){.epsilon = NAN}, &r),
         DN_ERR_ARG, "dn_model_gradient_check", "epsilon");
  ASSERT_UNCHANGED(m, s);

  /* A model without an input shape. */
  dn_model *unbuilt = dn_sequential(dn_dense(1));
  assert_non_null(unbuilt);
  EXPECT(dn_model_forward(unbuilt, X, 4, false, y, 4), DN_ERR_STATE, "dn_model_forward",
         "input shape");
  EXPECT(dn_model_backward(unbuilt, dy, 4), DN_ERR_STATE, "dn_model_backward", "input shape");
  EXPECT(dn_model_gradient_check(unbuilt, X, dy, 4, NULL, &r), DN_ERR_STATE,
         "dn_model_gradient_check", "input shape");
  assert_true(dn_model_regularization_loss(NULL) == 0.0);
  dn_model_free(unbuilt);
  dn_model_free(m);
}

/* ---- optimizers --------------------------------------------------------------------------- */

static void test_optimizers(void **state) {
  (void)state;
  const char *fn = "dn_optimizer_with";
  EXPECT_NULL(dn_optimizer_with((dn_optimizer_options){0}), DN_ERR_ARG, fn, "name is NULL");
  EXPECT_NULL(dn_optimizer_with((dn_optimizer_options){.name = "adamx"}), DN_ERR_ARG, fn,
              "'adamx'");
  EXPECT_NULL(dn_sgd(.learning_rate = -0.1), DN_ERR_ARG, fn, "learning_rate");
  EXPECT_NULL(dn_adam(.learning_rate = NAN), DN_ERR_ARG, fn, "learning_rate");
  EXPECT_NULL(dn_adam(.beta_1 = 1.0), DN_ERR_ARG, fn, "beta_1");
  EXPECT_NULL(dn_nadam(.beta_2 = -0.5), DN_ERR_ARG, fn, "beta_2");
  EXPECT_NULL(dn_lion(.beta_1 = DN_ZERO), DN_ERR_ARG, fn, "beta_1");
  EXPECT_NULL(dn_adam(.epsilon = -1e-7), DN_ERR_ARG, fn, "epsilon");
  EXPECT_NULL(dn_sgd(.momentum = 1.5), DN_ERR_ARG, fn, "momentum");
  EXPECT_NULL(dn_rmsprop(.rho = 2.0), DN_ERR_ARG, fn, "rho");
  EXPECT_NULL(dn_adagrad(.initial_accumulator_value = -1), DN_ERR_ARG, fn,
              "initial_accumulator_value");
  EXPECT_NULL(dn_adamw(.weight_decay = -0.01), DN_ERR_ARG, fn, "weight_decay");
  EXPECT_NULL(dn_sgd(.clipnorm = 1.0, .clipvalue = 0.5), DN_ERR_ARG, fn, "only one of");
  EXPECT_NULL(dn_sgd(.global_clipnorm = -1.0), DN_ERR_ARG, fn, "global_clipnorm");
  EXPECT_NULL(dn_sgd(.schedule = dn_exponential_decay(.initial_learning_rate = 0.1)), DN_ERR_ARG,
              fn, "decay_steps");
  EXPECT_NULL(
      dn_sgd(.schedule = dn_inverse_time_decay(.initial_learning_rate = -1, .decay_steps = 10)),
      DN_ERR_ARG, fn, "initial_learning_rate");
  EXPECT_NULL(dn_sgd(.schedule = dn_cosine_decay(.initial_learning_rate = 0.1, .decay_steps = 10,
                                                 .alpha = 2.0)),
              DN_ERR_ARG, fn, "alpha");
  EXPECT_NULL(dn_sgd(.schedule = dn_piecewise_constant_decay(.n_boundaries = 0)), DN_ERR_ARG, fn,
              "n_boundaries");
  const double bounds[2] = {10, 5}, values[3] = {0.1, 0.01, 0.001};
  EXPECT_NULL(dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = bounds, .values = values,
                                                             .n_boundaries = 2)),
              DN_ERR_ARG, fn, "strictly increasing");
  EXPECT_NULL(dn_sgd(.schedule = (dn_schedule){.kind = (dn_schedule_kind)99}), DN_ERR_ARG, fn,
              "kind 99");

  /* Accessors. */
  poison();
  assert_true(isnan(dn_optimizer_learning_rate(NULL)));
  check_last(dn_last_status(), DN_ERR_ARG, "dn_optimizer_learning_rate", "NULL", "lr(NULL)",
             __FILE__, __LINE__);
  assert_int_equal(dn_optimizer_iterations(NULL), 0);
  assert_null(dn_model_optimizer(NULL));
  EXPECT(dn_optimizer_set_learning_rate(NULL, 0.1), DN_ERR_ARG, "dn_optimizer_set_learning_rate",
         "NULL");
  dn_optimizer *o = dn_sgd(.learning_rate = 0.05);
  assert_non_null(o);
  EXPECT(dn_optimizer_set_learning_rate(o, -1.0), DN_ERR_ARG, "dn_optimizer_set_learning_rate",
         "learning_rate");
  EXPECT(dn_optimizer_set_learning_rate(o, INFINITY), DN_ERR_ARG, "dn_optimizer_set_learning_rate",
         "finite");
  assert_close(dn_optimizer_learning_rate(o), 0.05, 0, 0);
  dn_optimizer_free(o);
  dn_optimizer *sched =
      dn_sgd(.schedule = dn_exponential_decay(.initial_learning_rate = 0.1, .decay_steps = 10,
                                              .decay_rate = 0.5));
  assert_non_null(sched);
  EXPECT(dn_optimizer_set_learning_rate(sched, 0.2), DN_ERR_STATE, "dn_optimizer_set_learning_rate",
         "schedule");
  assert_close(dn_optimizer_learning_rate(sched), 0.1, 0, 0);
  dn_optimizer_free(sched);
  dn_optimizer_free(NULL);
}

/* ---- compile ------------------------------------------------------------------------------ */

static void test_compile(void **state) {
  (void)state;
  dn_model *m = compiled("mse", (const char *[]){"mae", NULL});
  dn_optimizer *before = dn_model_optimizer(m);
  snapshot s = snap(m);
  EXPECT(dn_compile(NULL, .loss = "mse"), DN_ERR_ARG, "dn_compile", "model is NULL");
  EXPECT(dn_compile(m, .optimizer = "adam"), DN_ERR_ARG, "dn_compile", "loss is required");
  EXPECT(dn_compile(m, .loss = "mse2"), DN_ERR_ARG, "dn_compile", "'mse2'");
  EXPECT(dn_compile(m, .loss = "mse", .optimizer = "adamx"), DN_ERR_ARG, "dn_compile", "'adamx'");
  EXPECT(dn_compile(m, .loss = "mse", .metrics = (const char *[]){"mae", "f1", NULL}), DN_ERR_ARG,
         "dn_compile", "'f1'");
  EXPECT(dn_compile(m, .loss = "huber", .huber_delta = -1.0), DN_ERR_ARG, "dn_compile",
         "huber_delta");
  EXPECT(dn_compile(m, .loss = "mse", .from_logits = true), DN_ERR_ARG, "dn_compile",
         "from_logits");
  EXPECT(dn_compile(m, .loss = "binary_crossentropy", .label_smoothing = 1.5), DN_ERR_ARG,
         "dn_compile", "label_smoothing");
  /* The optimizer object is the model's from the call on, also on failure (freed here). */
  EXPECT(dn_compile(m, .loss = "nope", .optimizer_object = dn_sgd()), DN_ERR_ARG, "dn_compile",
         "'nope'");
  EXPECT(dn_compile(NULL, .loss = "mse", .optimizer_object = dn_adam()), DN_ERR_ARG, "dn_compile",
         "model is NULL");
  /* A failed compile keeps the earlier one. */
  assert_ptr_equal(dn_model_optimizer(m), before);
  assert_int_equal(dn_model_metrics_count(m), 2);
  assert_string_equal(dn_model_metric_name(m, 1), "mae"); /* Keras logs the name given */
  assert_null(dn_model_metric_name(m, 2));
  assert_null(dn_model_metric_name(NULL, 0));
  assert_int_equal(dn_model_metrics_count(NULL), 0);
  ASSERT_UNCHANGED(m, s);
  dn_model_free(m);
}

static double nan_schedule(size_t epoch, double lr, void *user) {
  (void)epoch;
  (void)user;
  return lr * NAN;
}

/* ---- fit ---------------------------------------------------------------------------------- */

static void test_fit(void **state) {
  (void)state;
  const char *fn = "dn_fit";
  dn_model *m = lesson();
  snapshot s = snap(m);
  EXPECT_NULL(dn_fit(NULL, X, Y, 4), DN_ERR_ARG, fn, "model is NULL");
  EXPECT_NULL(dn_fit(NULL, X, Y, 4, .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL}),
              DN_ERR_ARG, fn, "model is NULL"); /* the callback is freed (leak checker) */
  EXPECT_NULL(dn_fit(m, X, Y, 4, .verbose = DN_VERBOSE_SILENT), DN_ERR_STATE, fn, "dn_compile");
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  EXPECT_NULL(dn_fit(m, NULL, Y, 4), DN_ERR_ARG, fn, "x is NULL");
  EXPECT_NULL(dn_fit(m, X, NULL, 4), DN_ERR_ARG, fn, "y is NULL");
  EXPECT_NULL(dn_fit(m, X, Y, 0), DN_ERR_ARG, fn, "rows");
  EXPECT_NULL(dn_fit(m, X, Y, 4, .validation_split = 1.0), DN_ERR_ARG, fn, "validation_split");
  EXPECT_NULL(dn_fit(m, X, Y, 4, .validation_split = -0.2), DN_ERR_ARG, fn, "validation_split");
  EXPECT_NULL(dn_fit(m, X, Y, 4, .validation_split = NAN), DN_ERR_ARG, fn, "validation_split");
  EXPECT_NULL(dn_fit(m, X, Y, 1, .validation_split = 0.5), DN_ERR_ARG, fn, "both must be > 0");
  EXPECT_NULL(dn_fit(m, X, Y, 4, .validation_x = X, .validation_rows = 4), DN_ERR_ARG, fn,
              "validation_y is NULL");
  EXPECT_NULL(dn_fit(m, X, Y, 4, .validation_x = X, .validation_y = Y), DN_ERR_ARG, fn,
              "validation_rows is 0");
  EXPECT_NULL(dn_fit(m, X, Y, 4, .validation_rows = 4), DN_ERR_ARG, fn, "validation_rows is 4");
  /* Callbacks handed to a failing fit belong to the model all the same (freed with it). */
  EXPECT_NULL(dn_fit(m, NULL, Y, 4, .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL}),
              DN_ERR_ARG, fn, "x is NULL");
  /* An EarlyStopping whose monitor has no known direction fails before any step. */
  EXPECT_NULL(dn_fit(m, X, Y, 4, .verbose = DN_VERBOSE_SILENT,
                     .callbacks = (dn_callback *[]){dn_early_stopping(.monitor = "foo"), NULL}),
              DN_ERR_ARG, fn, "'foo'");
  /* A LearningRateScheduler returning NaN fails fit before any step. */
  EXPECT_NULL(
      dn_fit(m, X, Y, 4, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_learning_rate_scheduler(nan_schedule, NULL), NULL}),
      DN_ERR_NUMERIC, fn, "LearningRateScheduler");
  /* A CSVLogger that cannot open its file fails fit before any step. */
  EXPECT_NULL(dn_fit(m, X, Y, 4, .verbose = DN_VERBOSE_SILENT,
                     .callbacks = (dn_callback *[]){dn_csv_logger("/nonexistent-dir/l.csv"), NULL}),
              DN_ERR_IO, fn, "/nonexistent-dir/l.csv");
  ASSERT_UNCHANGED(m, s);

  /* A NaN loss in the first step: fit fails and applies nothing; with TerminateOnNaN it
   * returns the history, also without applying the step. */
  const float nan_x[8] = {NAN, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_NULL(dn_fit(m, nan_x, Y, 4, .verbose = DN_VERBOSE_SILENT, .no_shuffle = true),
              DN_ERR_NUMERIC, fn, "not applied");
  ASSERT_UNCHANGED(m, s);
  FILE *sink = fopen("/dev/null", "w");
  assert_non_null(sink);
  dn_history *stopped =
      dn_fit(m, nan_x, Y, 4, .verbose = DN_VERBOSE_SILENT, .no_shuffle = true, .out = sink,
             .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL});
  fclose(sink);
  assert_non_null(stopped);
  assert_int_equal(dn_history_length(stopped), 1);
  assert_true(isnan(dn_history_values(stopped, "loss")[0]));
  dn_history_free(stopped);
  ASSERT_UNCHANGED(m, s);

  /* A callback owned by one model is refused by another. */
  dn_callback *cb = dn_terminate_on_nan();
  assert_non_null(cb);
  dn_history *h =
      dn_fit(m, X, Y, 4, .verbose = DN_VERBOSE_SILENT, .callbacks = (dn_callback *[]){cb, NULL});
  assert_non_null(h);
  dn_history_free(h);
  dn_model *other = compiled("mse", NULL);
  snapshot so = snap(other);
  EXPECT_NULL(dn_fit(other, X, Y, 4, .verbose = DN_VERBOSE_SILENT,
                     .callbacks = (dn_callback *[]){cb, NULL}),
              DN_ERR_ARG, fn, "belongs to another model");
  ASSERT_UNCHANGED(other, so);
  dn_model_free(other);

  /* Sparse labels must be class indices in [0, output_dim). */
  dn_model *c = dn_sequential(dn_dense(3, .activation = "softmax", .input_dim = 2));
  assert_non_null(c);
  assert_ok(dn_compile(c, .loss = "sparse_categorical_crossentropy"));
  snapshot sc = snap(c);
  const float labels[4] = {0, 2, 3, 1}, half[4] = {0, 0.5f, 1, 2};
  EXPECT_NULL(dn_fit(c, X, labels, 4, .verbose = DN_VERBOSE_SILENT), DN_ERR_ARG, fn, "row 2");
  EXPECT_NULL(dn_fit(c, X, half, 4, .verbose = DN_VERBOSE_SILENT), DN_ERR_ARG, fn, "row 1");
  EXPECT(dn_train_on_batch(c, X, labels, 4, NULL), DN_ERR_ARG, "dn_train_on_batch", "row 2");
  EXPECT(dn_evaluate(c, X, labels, 4, &(float){0}), DN_ERR_ARG, "dn_evaluate", "row 2");
  ASSERT_UNCHANGED(c, sc);
  dn_model_free(c);
  dn_model_free(m);
}

/* ---- evaluate, predict and the *_on_batch calls -------------------------------------------- */

static void test_evaluate_predict_on_batch(void **state) {
  (void)state;
  dn_model *m = lesson();
  snapshot s = snap(m);
  float loss = 0, y[4];
  double v[4];
  EXPECT(dn_evaluate(m, X, Y, 4, &loss), DN_ERR_STATE, "dn_evaluate", "dn_compile");
  EXPECT(dn_train_on_batch(m, X, Y, 4, &loss), DN_ERR_STATE, "dn_train_on_batch", "dn_compile");
  EXPECT(dn_test_on_batch(m, X, Y, 4, &loss), DN_ERR_STATE, "dn_test_on_batch", "dn_compile");
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse",
                       .metrics = (const char *[]){"mae", "mse", NULL}));

  EXPECT(dn_evaluate(NULL, X, Y, 4, &loss), DN_ERR_ARG, "dn_evaluate", "model is NULL");
  EXPECT(dn_evaluate(m, NULL, Y, 4, &loss), DN_ERR_ARG, "dn_evaluate", "x is NULL");
  EXPECT(dn_evaluate(m, X, NULL, 4, &loss), DN_ERR_ARG, "dn_evaluate", "y is NULL");
  EXPECT(dn_evaluate(m, X, Y, 0, &loss), DN_ERR_ARG, "dn_evaluate", "rows");
  EXPECT(dn_evaluate(m, X, Y, 4, NULL), DN_ERR_ARG, "dn_evaluate", "loss is NULL");
  EXPECT(dn_evaluate_ex(m, X, Y, 4, .values = NULL, .values_capacity = 3), DN_ERR_ARG,
         "dn_evaluate", "values is NULL");
  EXPECT(dn_evaluate_ex(m, X, Y, 4, .values = v, .values_capacity = 0), DN_ERR_ARG, "dn_evaluate",
         "values_capacity");
  /* values_capacity bounds what is written: the loss and the first metric only. */
  v[2] = v[3] = 12345.0;
  assert_ok(dn_evaluate_ex(m, X, Y, 4, .values = v, .values_capacity = 2));
  assert_true(v[2] == 12345.0 && v[3] == 12345.0);
  assert_true(isfinite(v[0]) && isfinite(v[1]));

  EXPECT(dn_train_on_batch(NULL, X, Y, 4, &loss), DN_ERR_ARG, "dn_train_on_batch", "model");
  EXPECT(dn_train_on_batch(m, NULL, Y, 4, &loss), DN_ERR_ARG, "dn_train_on_batch", "x is NULL");
  EXPECT(dn_train_on_batch(m, X, NULL, 4, &loss), DN_ERR_ARG, "dn_train_on_batch", "y is NULL");
  EXPECT(dn_train_on_batch(m, X, Y, 0, &loss), DN_ERR_ARG, "dn_train_on_batch", "rows");
  EXPECT(dn_test_on_batch(NULL, X, Y, 4, &loss), DN_ERR_ARG, "dn_test_on_batch", "model");
  EXPECT(dn_test_on_batch(m, X, NULL, 4, &loss), DN_ERR_ARG, "dn_test_on_batch", "y is NULL");
  EXPECT(dn_test_on_batch(m, X, Y, 0, &loss), DN_ERR_ARG, "dn_test_on_batch", "rows");
  /* A NaN input makes a NaN loss: the step is refused and no weight moves. */
  const float nan_x[8] = {NAN, 1, 1, 1, 1, 1, 1, 1};
  EXPECT(dn_train_on_batch(m, nan_x, Y, 4, &loss), DN_ERR_NUMERIC, "dn_train_on_batch",
         "not applied");
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  ASSERT_UNCHANGED(m, s);

  EXPECT(dn_predict(NULL, X, 4, y, 4), DN_ERR_ARG, "dn_predict", "model is NULL");
  EXPECT(dn_predict(m, NULL, 4, y, 4), DN_ERR_ARG, "dn_predict", "x is NULL");
  EXPECT(dn_predict(m, X, 4, NULL, 4), DN_ERR_ARG, "dn_predict", "y is NULL");
  EXPECT(dn_predict(m, X, 0, y, 4), DN_ERR_ARG, "dn_predict", "rows");
  EXPECT(dn_predict(m, X, 4, y, 3), DN_ERR_SHAPE, "dn_predict", "holds 3 floats");
  EXPECT(dn_predict_on_batch(m, X, 4, y, 2), DN_ERR_SHAPE, "dn_predict_on_batch", "holds 2 floats");
  EXPECT(dn_predict_on_batch(m, NULL, 4, y, 4), DN_ERR_ARG, "dn_predict_on_batch", "x is NULL");
  ASSERT_UNCHANGED(m, s);
  dn_model *unbuilt = dn_sequential(dn_dense(1));
  assert_non_null(unbuilt);
  EXPECT(dn_predict(unbuilt, X, 4, y, 4), DN_ERR_STATE, "dn_predict", "input shape");
  assert_ok(dn_compile(unbuilt, .loss = "mse"));
  EXPECT(dn_train_on_batch(unbuilt, X, Y, 4, &loss), DN_ERR_STATE, "dn_train_on_batch",
         "input shape");
  dn_model_free(unbuilt);
  dn_model_free(m);
}

/* ---- history and callbacks ---------------------------------------------------------------- */

static void test_history(void **state) {
  (void)state;
  char p[128];
  assert_int_equal(dn_history_length(NULL), 0);
  assert_int_equal(dn_history_key_count(NULL), 0);
  assert_null(dn_history_key(NULL, 0));
  assert_null(dn_history_values(NULL, "loss"));
  assert_int_equal(dn_history_epoch(NULL, 0), 0);
  dn_history_free(NULL);
  EXPECT(dn_history_write_csv(NULL, tmp_path(p, sizeof p, "hist.csv")), DN_ERR_ARG,
         "dn_history_write_csv", "history is NULL");

  dn_model *m = compiled("mse", NULL);
  dn_history *h = dn_fit(m, X, Y, 4, .epochs = 2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 2);
  assert_null(dn_history_key(h, dn_history_key_count(h)));
  assert_null(dn_history_values(h, "val_loss"));
  assert_null(dn_history_values(h, NULL));
  assert_int_equal(dn_history_epoch(h, 2), 0);
  EXPECT(dn_history_write_csv(h, NULL), DN_ERR_ARG, "dn_history_write_csv", "path is NULL");
  EXPECT(dn_history_write_csv(h, "/nonexistent-dir/h.csv"), DN_ERR_IO, "dn_history_write_csv",
         "/nonexistent-dir/h.csv");
  assert_ok(dn_history_write_csv(h, tmp_path(p, sizeof p, "hist.csv")));
  dn_history_free(h);
  dn_model_free(m);
}

static double constant_schedule(size_t epoch, double lr, void *user) {
  (void)epoch;
  (void)user;
  return lr;
}

static void test_callbacks(void **state) {
  (void)state;
  EXPECT_NULL(dn_early_stopping(.monitor = ""), DN_ERR_ARG, "dn_early_stopping", "monitor");
  EXPECT_NULL(dn_early_stopping(.mode = (dn_mode)7), DN_ERR_ARG, "dn_early_stopping", "mode 7");
  EXPECT_NULL(dn_early_stopping(.min_delta = NAN), DN_ERR_ARG, "dn_early_stopping", "min_delta");
  EXPECT_NULL(dn_early_stopping(.use_baseline = true, .baseline = NAN), DN_ERR_ARG,
              "dn_early_stopping", "baseline");
  EXPECT_NULL(dn_reduce_lr_on_plateau(.factor = 1.0), DN_ERR_ARG, "dn_reduce_lr_on_plateau",
              "factor");
  EXPECT_NULL(dn_reduce_lr_on_plateau(.patience = -5), DN_ERR_ARG, "dn_reduce_lr_on_plateau",
              "patience");
  EXPECT_NULL(dn_reduce_lr_on_plateau(.min_lr = -1.0), DN_ERR_ARG, "dn_reduce_lr_on_plateau",
              "min_lr");
  EXPECT_NULL(dn_reduce_lr_on_plateau(.min_delta = INFINITY), DN_ERR_ARG, "dn_reduce_lr_on_plateau",
              "min_delta");
  EXPECT_NULL(dn_learning_rate_scheduler(NULL, NULL), DN_ERR_ARG, "dn_learning_rate_scheduler",
              "schedule is NULL");
  EXPECT_NULL(dn_csv_logger(NULL), DN_ERR_ARG, "dn_csv_logger", "filename is NULL");
  EXPECT_NULL(dn_csv_logger(""), DN_ERR_ARG, "dn_csv_logger", "filename is empty");
  EXPECT_NULL(dn_csv_logger("log.csv", .separator = '\n'), DN_ERR_ARG, "dn_csv_logger",
              "separator");
  EXPECT_NULL(dn_model_checkpoint(NULL), DN_ERR_ARG, "dn_model_checkpoint", "filepath is NULL");
  EXPECT_NULL(dn_model_checkpoint("m-{epoch.dnn"), DN_ERR_ARG, "dn_model_checkpoint", "unclosed");
  EXPECT_NULL(dn_model_checkpoint("m.dnn", .mode = (dn_mode)-1), DN_ERR_ARG, "dn_model_checkpoint",
              "mode -1");
  assert_true(isnan(dn_logs_get(NULL, "loss")));
  const char *names[1] = {"loss"};
  const double values[1] = {0.5};
  dn_logs logs = {1, names, values};
  assert_true(isnan(dn_logs_get(&logs, NULL)));
  assert_true(isnan(dn_logs_get(&logs, "val_loss")));
  assert_true(dn_logs_get(&logs, "loss") == 0.5);
  /* Callbacks never handed to fit are the caller's to free. */
  dn_callback_free(dn_learning_rate_scheduler(constant_schedule, NULL));
  dn_callback_free(dn_lambda_callback());
  dn_callback_free(NULL);
}

/* ---- persistence -------------------------------------------------------------------------- */

static void test_persistence(void **state) {
  (void)state;
  char p[128], small[128], garbage[128];
  dn_model *m = compiled("mse", NULL);
  snapshot s = snap(m);
  EXPECT(dn_model_save(NULL, "x.dnn"), DN_ERR_ARG, "dn_model_save", "model is NULL");
  EXPECT(dn_model_save(m, NULL), DN_ERR_ARG, "dn_model_save", "path is NULL");
  EXPECT(dn_model_save(m, ""), DN_ERR_ARG, "dn_model_save", "empty");
  EXPECT(dn_model_save(m, tmp_dir), DN_ERR_IO, "dn_model_save", "directory");
  EXPECT(dn_model_save(m, "/nonexistent-dir/m.dnn"), DN_ERR_IO, "dn_model_save",
         "/nonexistent-dir");
  EXPECT(dn_model_save_weights(NULL, "x.dnn"), DN_ERR_ARG, "dn_model_save_weights", "model");
  EXPECT(dn_model_save_weights(m, NULL), DN_ERR_ARG, "dn_model_save_weights", "path is NULL");
  EXPECT_NULL(dn_model_load(NULL), DN_ERR_ARG, "dn_model_load", "path is NULL");
  EXPECT_NULL(dn_model_load("/nonexistent-dir/m.dnn"), DN_ERR_IO, "dn_model_load",
              "/nonexistent-dir/m.dnn");
  EXPECT_NULL(dn_model_load(tmp_dir), DN_ERR_IO, "dn_model_load", "directory");
  write_file(tmp_path(garbage, sizeof garbage, "garbage.dnn"), "this is not a model file\n");
  EXPECT_NULL(dn_model_load(garbage), DN_ERR_FORMAT, "dn_model_load", "garbage.dnn");
  EXPECT(dn_model_load_weights(NULL, garbage), DN_ERR_ARG, "dn_model_load_weights", "model");
  EXPECT(dn_model_load_weights(m, NULL), DN_ERR_ARG, "dn_model_load_weights", "path is NULL");
  EXPECT(dn_model_load_weights(m, garbage), DN_ERR_FORMAT, "dn_model_load_weights", "garbage.dnn");
  /* Weights of another architecture are refused whole. */
  dn_model *other = dn_sequential(dn_dense(4, .input_dim = 2), dn_dense(1));
  assert_non_null(other);
  assert_ok(dn_model_save_weights(other, tmp_path(small, sizeof small, "small.dnn")));
  EXPECT(dn_model_load_weights(m, small), DN_ERR_FORMAT, "dn_model_load_weights", "layers");
  ASSERT_UNCHANGED(m, s);
  /* A model file saved and loaded round-trips the weights. */
  assert_ok(dn_model_save(m, tmp_path(p, sizeof p, "model.dnn")));
  dn_model *back = dn_model_load(p);
  assert_non_null(back);
  ASSERT_UNCHANGED(back, s);
  dn_model_free(back);
  dn_model_free(other);
  dn_model_free(m);
}

/* ---- data --------------------------------------------------------------------------------- */

static void test_csv(void **state) {
  (void)state;
  const char *fn = "dn_csv_load";
  char path[128];
  tmp_path(path, sizeof path, "data.csv");
  write_file(path, "a,b,t\n1,2,3\n4,5,6\n7,8,9\n");
  dn_dataset d;
  memset(&d, 0x5a, sizeof d);
  EXPECT(dn_csv_load(NULL, NULL, &d), DN_ERR_ARG, fn, "path is NULL");
  assert_null(d.x); /* cleared first */
  EXPECT(dn_csv_load(path, NULL, NULL), DN_ERR_ARG, fn, "out is NULL");
  EXPECT(dn_csv_load("/nonexistent-dir/d.csv", NULL, &d), DN_ERR_IO, fn, "/nonexistent-dir");
  EXPECT(dn_csv_load(path, &(dn_csv_options){.target_names = (const char *[]){"target", NULL}}, &d),
         DN_ERR_ARG, fn, "\"target\"");
  EXPECT(dn_csv_load(path,
                     &(dn_csv_options){.feature_names = (const char *[]){"a", NULL},
                                       .feature_columns = (const size_t[]){0},
                                       .n_feature_columns = 1},
                     &d),
         DN_ERR_ARG, fn, "not both");
  EXPECT(dn_csv_load(path, &(dn_csv_options){.n_target_columns = 1}, &d), DN_ERR_ARG, fn,
         "target_columns is NULL");
  EXPECT(dn_csv_load(
             path, &(dn_csv_options){.target_columns = (const size_t[]){9}, .n_target_columns = 1},
             &d),
         DN_ERR_ARG, fn, "index 9");
  EXPECT(dn_csv_load(
             path,
             &(dn_csv_options){.no_header = true, .target_names = (const char *[]){"t", NULL}}, &d),
         DN_ERR_ARG, fn, "by index only");
  EXPECT(dn_csv_load(path, &(dn_csv_options){.delimiter = '"'}, &d), DN_ERR_ARG, fn, "delimiter");
  assert_null(d.x);

  const char *sfn = "dn_train_test_split";
  dn_dataset train, test;
  assert_ok(dn_csv_load(path, &(dn_csv_options){.target_names = (const char *[]){"t", NULL}}, &d));
  assert_int_equal(d.rows, 3);
  EXPECT(dn_train_test_split(NULL, 0.5, 1, &train, &test), DN_ERR_ARG, sfn, "data is NULL");
  EXPECT(dn_train_test_split(&d, 0.5, 1, NULL, &test), DN_ERR_ARG, sfn, "train is NULL");
  EXPECT(dn_train_test_split(&d, 0.5, 1, &train, &train), DN_ERR_ARG, sfn, "different");
  EXPECT(dn_train_test_split(&d, 0.5, 1, &d, &test), DN_ERR_ARG, sfn, "must not be the input");
  EXPECT(dn_train_test_split(&d, 0.0, 1, &train, &test), DN_ERR_ARG, sfn, "test_fraction");
  EXPECT(dn_train_test_split(&d, 1.0, 1, &train, &test), DN_ERR_ARG, sfn, "test_fraction");
  EXPECT(dn_train_test_split(&d, NAN, 1, &train, &test), DN_ERR_ARG, sfn, "test_fraction");
  dn_dataset one = d;
  one.rows = 1;
  EXPECT(dn_train_test_split(&one, 0.5, 1, &train, &test), DN_ERR_ARG, sfn, "at least 2 rows");
  assert_int_equal(d.rows, 3); /* the input is untouched */
  dn_dataset_free(&d);
  dn_dataset_free(NULL);
}

/* ---- plots -------------------------------------------------------------------------------- */

static void test_plots(void **state) {
  (void)state;
  char path[128];
  tmp_path(path, sizeof path, "plot.svg");
  const float ys[3] = {1, 2, 3};
  dn_plot_series ok = {.label = "y", .y = ys, .n = 3};
  dn_plot_series empty = {.label = "y", .y = ys, .n = 0};
  dn_plot_series no_y = {.label = "y", .n = 3};
  const char *fn = "dn_plot_svg";
  EXPECT(dn_plot_svg(NULL, &ok, 1, NULL), DN_ERR_ARG, fn, "path is NULL");
  EXPECT(dn_plot_svg(path, NULL, 1, NULL), DN_ERR_ARG, fn, "series is NULL");
  EXPECT(dn_plot_svg(path, &ok, 0, NULL), DN_ERR_ARG, fn, "n_series is 0");
  EXPECT(dn_plot_svg(path, &empty, 1, NULL), DN_ERR_ARG, fn, "series[0]");
  EXPECT(dn_plot_svg(path, &no_y, 1, NULL), DN_ERR_ARG, fn, "series[0].y is NULL");
  EXPECT(dn_plot_svg(path, &ok, 1, &(dn_plot_options){.width = 5}), DN_ERR_ARG, fn, "5 x 440");
  EXPECT(dn_plot_svg("/nonexistent-dir/p.svg", &ok, 1, NULL), DN_ERR_IO, fn, "/nonexistent-dir");
  assert_ok(dn_plot_svg(path, &ok, 1, NULL));

  const char *hfn = "dn_plot_history_svg";
  dn_model *m = compiled("mse", NULL);
  dn_history *h = dn_fit(m, X, Y, 4, .epochs = 2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  EXPECT(dn_plot_history_svg(NULL, path, NULL, NULL), DN_ERR_ARG, hfn, "history is NULL");
  EXPECT(dn_plot_history_svg(h, NULL, NULL, NULL), DN_ERR_ARG, hfn, "path is NULL");
  EXPECT(dn_plot_history_svg(h, path, (const char *[]){NULL}, NULL), DN_ERR_ARG, hfn, "empty list");
  EXPECT(dn_plot_history_svg(h, path, (const char *[]){"loss", "val_mae", NULL}, NULL), DN_ERR_ARG,
         hfn, "\"val_mae\"");
  assert_ok(dn_plot_history_svg(h, path, NULL, NULL));
  dn_history_free(h);
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_and_allocator),
      cmocka_unit_test(test_layer_constructors),
      cmocka_unit_test(test_normalization_adapt),
      cmocka_unit_test(test_model_lifecycle),
      cmocka_unit_test(test_weights),
      cmocka_unit_test(test_passes),
      cmocka_unit_test(test_optimizers),
      cmocka_unit_test(test_compile),
      cmocka_unit_test(test_fit),
      cmocka_unit_test(test_evaluate_predict_on_batch),
      cmocka_unit_test(test_history),
      cmocka_unit_test(test_callbacks),
      cmocka_unit_test(test_persistence),
      cmocka_unit_test(test_csv),
      cmocka_unit_test(test_plots),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
