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

/* A dn_status call fails with DN_ERR_SHAPE, naming fn, arg and the numbers a and b as words. */
#define EXPECT_SHAPE(call, fn, arg, a, b)                                                          \
  do {                                                                                             \
    poison();                                                                                      \
    assert_shape_error(call, fn, arg, a, b);                                                       \
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
#define XT dn_tensor_2d(X, 4, 2)
#define YT dn_tensor_2d(Y, 4, 1)
static const dn_tensor NONE = {0}; /* "no tensor" */

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
  const char *fn = "dn_normalization_adapt";
  dn_layer *z = dn_normalization(.input_dim = 2);
  dn_layer *unbuilt = dn_normalization();
  dn_layer *d = dn_dense(2, .input_dim = 2);
  assert_non_null(z);
  assert_non_null(unbuilt);
  assert_non_null(d);
  EXPECT(dn_normalization_adapt(NULL, dn_tensor_2d(x, 3, 2)), DN_ERR_ARG, fn, "layer");
  EXPECT(dn_normalization_adapt(z, NONE), DN_ERR_ARG, fn, "x is no tensor");
  EXPECT(dn_normalization_adapt(z, dn_tensor_2d(NULL, 3, 2)), DN_ERR_ARG, fn, "x is no tensor");
  EXPECT(dn_normalization_adapt(z, dn_tensor_2d(x, 0, 2)), DN_ERR_SHAPE, fn, "no rows");
  EXPECT(dn_normalization_adapt(d, dn_tensor_2d(x, 3, 2)), DN_ERR_ARG, fn, "not a Normalization");
  EXPECT(dn_normalization_adapt(z, dn_tensor_2d(x, SIZE_MAX, 2)), DN_ERR_SHAPE, fn, "overflows");
  EXPECT_SHAPE(dn_normalization_adapt(z, dn_tensor_2d(x, 2, 3)), fn, "x", 3, 2);
  /* An unbuilt layer takes its width from x (0.1 refused it with DN_ERR_STATE). */
  assert_ok(dn_normalization_adapt(unbuilt, dn_tensor_2d(x, 3, 2)));
  assert_int_equal(dn_layer_output_dim(unbuilt), 2);
  assert_int_equal(dn_layer_count_params(unbuilt), 5);
  /* A NaN in x fails before anything is written. */
  dn_model *m = dn_sequential(z);
  assert_non_null(m);
  assert_ok(dn_normalization_adapt(z, dn_tensor_2d(x, 3, 2)));
  snapshot s = snap(m);
  EXPECT(dn_normalization_adapt(z, dn_tensor_2d(bad, 3, 2)), DN_ERR_NUMERIC, fn, "x[1][0]");
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
  const dn_tensor yt = dn_tensor_2d(y, 4, 1), dyt = dn_tensor_2d(dy, 4, 1);
  const dn_tensor dxt = dn_tensor_2d(dx, 4, 2);
  EXPECT(dn_model_forward(NULL, XT, false, yt), DN_ERR_ARG, "dn_model_forward", "model");
  EXPECT(dn_model_forward(m, NONE, false, yt), DN_ERR_ARG, "dn_model_forward", "x is no tensor");
  EXPECT(dn_model_forward(m, dn_tensor_2d(NULL, 4, 2), false, yt), DN_ERR_ARG, "dn_model_forward",
         "x is no tensor");
  EXPECT(dn_model_forward(m, XT, false, NONE), DN_ERR_ARG, "dn_model_forward", "y is no tensor");
  EXPECT(dn_model_forward(m, dn_tensor_2d(X, 0, 2), false, yt), DN_ERR_SHAPE, "dn_model_forward",
         "no rows");
  /* 0.1 checked a capacity in floats; now y's rows and columns */
  EXPECT_SHAPE(dn_model_forward(m, XT, false, dn_tensor_2d(y, 3, 1)), "dn_model_forward", "y", 3,
               4);
  EXPECT_SHAPE(dn_model_forward(m, XT, false, dn_tensor_2d(y, 2, 2)), "dn_model_forward", "y", 2,
               1);
  EXPECT(dn_model_forward(m, dn_tensor_2d(X, (size_t)-1 / 2, 2), false, yt), DN_ERR_SHAPE,
         "dn_model_forward", "overflows");

  EXPECT(dn_model_backward(NULL, dyt), DN_ERR_ARG, "dn_model_backward", "model");
  EXPECT(dn_model_backward(m, dyt), DN_ERR_STATE, "dn_model_backward", "forward");
  assert_ok(dn_model_forward(m, XT, true, yt));
  EXPECT(dn_model_backward(m, NONE), DN_ERR_ARG, "dn_model_backward", "dy is no tensor");
  /* 0.1: DN_ERR_STATE; a dy whose rows differ from the forward's is a shape error now */
  EXPECT_SHAPE(dn_model_backward(m, dn_tensor_2d(dy, 3, 1)), "dn_model_backward", "dy", 3, 4);
  EXPECT_SHAPE(dn_model_backward_input(m, dyt, dn_tensor_2d(dx, 3, 2)), "dn_model_backward_input",
               "dx", 3, 4);
  EXPECT(dn_model_backward_input(m, dyt, NONE), DN_ERR_ARG, "dn_model_backward_input",
         "dx is no tensor");
  assert_ok(dn_model_backward_input(m, dyt, dxt));

  EXPECT(dn_model_apply_gradients(NULL), DN_ERR_ARG, "dn_model_apply_gradients", "NULL");
  EXPECT(dn_model_apply_gradients(m), DN_ERR_STATE, "dn_model_apply_gradients", "dn_compile");
  ASSERT_UNCHANGED(m, s);

  /* A NaN gradient is refused whole: no weight moves, no step is counted. */
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  const float nan_dy[4] = {NAN, 1, 1, 1};
  assert_ok(dn_model_forward(m, XT, true, yt));
  assert_ok(dn_model_backward(m, dn_tensor_2d(nan_dy, 4, 1)));
  EXPECT(dn_model_apply_gradients(m), DN_ERR_NUMERIC, "dn_model_apply_gradients", "NaN");
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  ASSERT_UNCHANGED(m, s);

  dn_gradient_check_report r;
  const char *gfn = "dn_model_gradient_check";
  EXPECT(dn_model_gradient_check(NULL, XT, dyt, &r), DN_ERR_ARG, gfn, "NULL");
  EXPECT(dn_model_gradient_check(m, XT, dyt, NULL), DN_ERR_ARG, gfn, "NULL");
  EXPECT(dn_model_gradient_check(m, NONE, dyt, &r), DN_ERR_ARG, gfn, "x is no tensor");
  EXPECT(dn_model_gradient_check(m, XT, NONE, &r), DN_ERR_ARG, gfn, "dy is no tensor");
  EXPECT(dn_model_gradient_check(m, dn_tensor_2d(X, 0, 2), dyt, &r), DN_ERR_SHAPE, gfn, "no rows");
  EXPECT(dn_model_gradient_check(m, XT, dyt, &r, .epsilon = -1e-3), DN_ERR_ARG, gfn, "epsilon");
  EXPECT(dn_model_gradient_check(m, XT, dyt, &r, .epsilon = NAN), DN_ERR_ARG, gfn, "epsilon");
  EXPECT(dn_model_gradient_check(m, XT, dyt, &r, .epsilon = 1.5), DN_ERR_ARG, gfn, "epsilon");
  ASSERT_UNCHANGED(m, s);

  /* A model without an input shape: forward builds it from x (Keras builds on the first call);
   * backward and the gradient check need one. */
  dn_model *unbuilt = dn_sequential(dn_dense(1));
  assert_non_null(unbuilt);
  EXPECT(dn_model_backward(unbuilt, dyt), DN_ERR_STATE, "dn_model_backward", "input shape");
  EXPECT(dn_model_gradient_check(unbuilt, XT, dyt, &r), DN_ERR_STATE, gfn, "input shape");
  assert_int_equal(dn_model_input_dim(unbuilt), 0);
  assert_ok(dn_model_forward(unbuilt, XT, false, yt));
  assert_int_equal(dn_model_input_dim(unbuilt), 2);
  assert_int_equal(dn_model_count_params(unbuilt), 3);
  assert_true(dn_model_regularization_loss(NULL) == 0.0);
  /* A model with no layers cannot be built. */
  dn_model *empty = dn_model_new();
  assert_non_null(empty);
  EXPECT(dn_model_forward(empty, XT, false, yt), DN_ERR_STATE, "dn_model_forward", "no layers");
  dn_model_free(empty);
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

static void count_call(dn_model *model, size_t index, const dn_logs *logs, void *user) {
  (void)model;
  (void)index;
  (void)logs;
  (*(int *)user)++;
}

static void test_fit(void **state) {
  (void)state;
  const char *fn = "dn_fit";
  dn_model *m = lesson();
  snapshot s = snap(m);
  EXPECT_NULL(dn_fit(NULL, XT, YT), DN_ERR_ARG, fn, "model is NULL");
  EXPECT_NULL(dn_fit(NULL, XT, YT, .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL}),
              DN_ERR_ARG, fn, "model is NULL"); /* the callback is freed (leak checker) */
  EXPECT_NULL(dn_fit(m, XT, YT, .verbose = DN_VERBOSE_SILENT), DN_ERR_STATE, fn, "dn_compile");
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  EXPECT_NULL(dn_fit(m, NONE, YT), DN_ERR_ARG, fn, "x is no tensor");
  EXPECT_NULL(dn_fit(m, XT, NONE), DN_ERR_ARG, fn, "y is no tensor");
  EXPECT_NULL(dn_fit(m, dn_tensor_2d(X, 0, 2), dn_tensor_2d(Y, 0, 1)), DN_ERR_SHAPE, fn, "no rows");
  EXPECT_NULL(dn_fit(m, XT, YT, .validation_split = 1.0), DN_ERR_ARG, fn, "validation_split");
  EXPECT_NULL(dn_fit(m, XT, YT, .validation_split = -0.2), DN_ERR_ARG, fn, "validation_split");
  EXPECT_NULL(dn_fit(m, XT, YT, .validation_split = NAN), DN_ERR_ARG, fn, "validation_split");
  EXPECT_NULL(dn_fit(m, dn_tensor_2d(X, 1, 2), dn_tensor_2d(Y, 1, 1), .validation_split = 0.5),
              DN_ERR_ARG, fn, "both must be > 0");
  /* 0.1 checked validation_rows; now the pair is two tensors: both or neither */
  EXPECT_NULL(dn_fit(m, XT, YT, .validation_x = XT), DN_ERR_ARG, fn, "validation_y");
  EXPECT_NULL(dn_fit(m, XT, YT, .validation_y = YT), DN_ERR_ARG, fn, "validation_x");
  EXPECT_NULL(dn_fit(m, XT, YT, .validation_x = XT, .validation_y = dn_tensor_2d(Y, 0, 1)),
              DN_ERR_SHAPE, fn, "validation_y");
  /* Callbacks handed to a failing fit are freed by it all the same (the leak checker sees it),
   * and never called. */
  int calls = 0;
  EXPECT_NULL(dn_fit(m, NONE, YT,
                     .callbacks = (dn_callback *[]){dn_terminate_on_nan(),
                                                    dn_lambda_callback(.on_train_begin = count_call,
                                                                       .user = &calls),
                                                    NULL}),
              DN_ERR_ARG, fn, "x is no tensor");
  assert_int_equal(calls, 0);
  /* An EarlyStopping whose monitor has no known direction fails before any step. */
  EXPECT_NULL(dn_fit(m, XT, YT, .verbose = DN_VERBOSE_SILENT,
                     .callbacks = (dn_callback *[]){dn_early_stopping(.monitor = "foo"), NULL}),
              DN_ERR_ARG, fn, "'foo'");
  /* A LearningRateScheduler returning NaN fails fit before any step. */
  EXPECT_NULL(
      dn_fit(m, XT, YT, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_learning_rate_scheduler(nan_schedule, NULL), NULL}),
      DN_ERR_NUMERIC, fn, "LearningRateScheduler");
  /* A CSVLogger that cannot open its file fails fit before any step. */
  EXPECT_NULL(dn_fit(m, XT, YT, .verbose = DN_VERBOSE_SILENT,
                     .callbacks = (dn_callback *[]){dn_csv_logger("/nonexistent-dir/l.csv"), NULL}),
              DN_ERR_IO, fn, "/nonexistent-dir/l.csv");
  ASSERT_UNCHANGED(m, s);

  /* A NaN loss in the first step: fit fails and applies nothing; with TerminateOnNaN it
   * returns the history, also without applying the step. */
  const float nan_x[8] = {NAN, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_NULL(
      dn_fit(m, dn_tensor_2d(nan_x, 4, 2), YT, .verbose = DN_VERBOSE_SILENT, .no_shuffle = true),
      DN_ERR_NUMERIC, fn, "not applied");
  ASSERT_UNCHANGED(m, s);
  FILE *sink = fopen("/dev/null", "w");
  assert_non_null(sink);
  dn_history *stopped =
      dn_fit(m, dn_tensor_2d(nan_x, 4, 2), YT, .verbose = DN_VERBOSE_SILENT, .no_shuffle = true,
             .out = sink, .callbacks = (dn_callback *[]){dn_terminate_on_nan(), NULL});
  fclose(sink);
  assert_non_null(stopped);
  assert_int_equal(dn_history_length(stopped), 1);
  assert_true(isnan(dn_history_values(stopped, "loss")[0]));
  dn_history_free(stopped);
  ASSERT_UNCHANGED(m, s);

  /* fit frees the callbacks it was given when it returns (0.1 kept them in the model): a
   * successful fit, then the model freed, leaves nothing (the leak checker), and each fit runs
   * only its own callbacks. */
  calls = 0;
  dn_history *h =
      dn_fit(m, XT, YT, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){
                 dn_lambda_callback(.on_train_begin = count_call, .user = &calls), NULL});
  assert_non_null(h);
  dn_history_free(h);
  assert_int_equal(calls, 1);
  h = dn_fit(m, XT, YT, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  assert_int_equal(calls, 1); /* the earlier fit's callback is gone */

  /* Sparse labels must be class indices in [0, output_dim). */
  dn_model *c = dn_sequential(dn_dense(3, .activation = "softmax", .input_dim = 2));
  assert_non_null(c);
  assert_ok(dn_compile(c, .loss = "sparse_categorical_crossentropy"));
  snapshot sc = snap(c);
  const float labels[4] = {0, 2, 3, 1}, half[4] = {0, 0.5f, 1, 2};
  const dn_tensor lt = dn_tensor_2d(labels, 4, 1);
  EXPECT_NULL(dn_fit(c, XT, lt, .verbose = DN_VERBOSE_SILENT), DN_ERR_ARG, fn, "row 2");
  EXPECT_NULL(dn_fit(c, XT, dn_tensor_1d(half, 4), .verbose = DN_VERBOSE_SILENT), DN_ERR_ARG, fn,
              "row 1");
  EXPECT(dn_train_on_batch(c, XT, lt, NULL), DN_ERR_ARG, "dn_train_on_batch", "row 2");
  EXPECT(dn_evaluate(c, XT, lt, &(float){0}), DN_ERR_ARG, "dn_evaluate", "row 2");
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
  const dn_tensor yt = dn_tensor_2d(y, 4, 1);
  EXPECT(dn_evaluate(m, XT, YT, &loss), DN_ERR_STATE, "dn_evaluate", "dn_compile");
  EXPECT(dn_evaluate_metrics(m, XT, YT, v, 4), DN_ERR_STATE, "dn_evaluate_metrics", "dn_compile");
  EXPECT(dn_train_on_batch(m, XT, YT, &loss), DN_ERR_STATE, "dn_train_on_batch", "dn_compile");
  EXPECT(dn_test_on_batch(m, XT, YT, &loss), DN_ERR_STATE, "dn_test_on_batch", "dn_compile");
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse",
                       .metrics = (const char *[]){"mae", "mse", NULL}));

  EXPECT(dn_evaluate(NULL, XT, YT, &loss), DN_ERR_ARG, "dn_evaluate", "model is NULL");
  EXPECT(dn_evaluate(m, NONE, YT, &loss), DN_ERR_ARG, "dn_evaluate", "x is no tensor");
  EXPECT(dn_evaluate(m, XT, NONE, &loss), DN_ERR_ARG, "dn_evaluate", "y is no tensor");
  EXPECT(dn_evaluate(m, dn_tensor_2d(X, 0, 2), dn_tensor_2d(Y, 0, 1), &loss), DN_ERR_SHAPE,
         "dn_evaluate", "no rows");
  EXPECT(dn_evaluate(m, XT, YT, NULL), DN_ERR_ARG, "dn_evaluate", "loss is NULL");
  EXPECT(dn_evaluate_metrics(NULL, XT, YT, v, 4), DN_ERR_ARG, "dn_evaluate_metrics",
         "model is NULL");
  EXPECT(dn_evaluate_metrics(m, XT, YT, NULL, 3), DN_ERR_ARG, "dn_evaluate_metrics",
         "values is NULL");
  EXPECT(dn_evaluate_metrics(m, XT, YT, v, 0), DN_ERR_ARG, "dn_evaluate_metrics",
         "values_capacity");
  EXPECT(dn_evaluate_metrics(m, NONE, YT, v, 4), DN_ERR_ARG, "dn_evaluate_metrics",
         "x is no tensor");
  /* values_capacity bounds what is written: the loss and the first metric only. */
  v[2] = v[3] = 12345.0;
  assert_ok(dn_evaluate_metrics(m, XT, YT, v, 2));
  assert_true(v[2] == 12345.0 && v[3] == 12345.0);
  assert_true(isfinite(v[0]) && isfinite(v[1]));
  assert_ok(dn_evaluate(m, XT, YT, &loss));
  assert_true((float)v[0] == loss); /* the same mean, rounded to float */

  EXPECT(dn_train_on_batch(NULL, XT, YT, &loss), DN_ERR_ARG, "dn_train_on_batch", "model");
  EXPECT(dn_train_on_batch(m, NONE, YT, &loss), DN_ERR_ARG, "dn_train_on_batch", "x is no tensor");
  EXPECT(dn_train_on_batch(m, XT, NONE, &loss), DN_ERR_ARG, "dn_train_on_batch", "y is no tensor");
  EXPECT(dn_train_on_batch(m, dn_tensor_2d(X, 0, 2), YT, &loss), DN_ERR_SHAPE, "dn_train_on_batch",
         "no rows");
  EXPECT(dn_test_on_batch(NULL, XT, YT, &loss), DN_ERR_ARG, "dn_test_on_batch", "model");
  EXPECT(dn_test_on_batch(m, XT, NONE, &loss), DN_ERR_ARG, "dn_test_on_batch", "y is no tensor");
  EXPECT(dn_test_on_batch(m, XT, dn_tensor_2d(Y, 0, 1), &loss), DN_ERR_SHAPE, "dn_test_on_batch",
         "no rows");
  /* A NaN input makes a NaN loss: the step is refused and no weight moves. */
  const float nan_x[8] = {NAN, 1, 1, 1, 1, 1, 1, 1};
  EXPECT(dn_train_on_batch(m, dn_tensor_2d(nan_x, 4, 2), YT, &loss), DN_ERR_NUMERIC,
         "dn_train_on_batch", "not applied");
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  ASSERT_UNCHANGED(m, s);

  EXPECT(dn_predict(NULL, XT, yt), DN_ERR_ARG, "dn_predict", "model is NULL");
  EXPECT(dn_predict(m, NONE, yt), DN_ERR_ARG, "dn_predict", "x is no tensor");
  EXPECT(dn_predict(m, XT, NONE), DN_ERR_ARG, "dn_predict", "y is no tensor");
  EXPECT(dn_predict(m, XT, dn_tensor_2d(NULL, 4, 1)), DN_ERR_ARG, "dn_predict", "y is no tensor");
  EXPECT(dn_predict(m, dn_tensor_2d(X, 0, 2), yt), DN_ERR_SHAPE, "dn_predict", "no rows");
  /* 0.1 checked a capacity in floats; now y's rows (at least x's) and columns (exactly) */
  EXPECT_SHAPE(dn_predict(m, XT, dn_tensor_2d(y, 3, 1)), "dn_predict", "y", 3, 4);
  EXPECT_SHAPE(dn_predict(m, XT, dn_tensor_2d(y, 2, 2)), "dn_predict", "y", 2, 1);
  EXPECT_SHAPE(dn_predict_on_batch(m, XT, dn_tensor_2d(y, 2, 1)), "dn_predict_on_batch", "y", 2, 4);
  EXPECT(dn_predict_on_batch(m, NONE, yt), DN_ERR_ARG, "dn_predict_on_batch", "x is no tensor");
  EXPECT(dn_predict_on_batch(NULL, XT, yt), DN_ERR_ARG, "dn_predict_on_batch", "model is NULL");
  ASSERT_UNCHANGED(m, s);
  /* An unbuilt model takes its width from x on the first call (0.1: DN_ERR_STATE). */
  dn_model *unbuilt = dn_sequential(dn_dense(1));
  assert_non_null(unbuilt);
  assert_ok(dn_predict(unbuilt, XT, yt));
  assert_int_equal(dn_model_input_dim(unbuilt), 2);
  dn_model_free(unbuilt);
  unbuilt = dn_sequential(dn_dense(1));
  assert_non_null(unbuilt);
  assert_ok(dn_compile(unbuilt, .loss = "mse"));
  assert_ok(dn_train_on_batch(unbuilt, XT, YT, &loss));
  assert_int_equal(dn_model_input_dim(unbuilt), 2);
  assert_true(isfinite(loss));
  dn_model_free(unbuilt);
  /* A model with no layers has nothing to build. */
  dn_model *empty = dn_model_new();
  assert_non_null(empty);
  EXPECT(dn_predict(empty, XT, yt), DN_ERR_STATE, "dn_predict", "no layers");
  assert_ok(dn_compile(empty, .loss = "mse"));
  EXPECT(dn_train_on_batch(empty, XT, YT, &loss), DN_ERR_STATE, "dn_train_on_batch", "no layers");
  EXPECT_NULL(dn_fit(empty, XT, YT, .verbose = DN_VERBOSE_SILENT), DN_ERR_STATE, "dn_fit",
              "no layers");
  dn_model_free(empty);
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
  dn_history *h = dn_fit(m, XT, YT, .epochs = 2, .verbose = DN_VERBOSE_SILENT);
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
  EXPECT(dn_csv_load(NULL, &d), DN_ERR_ARG, fn, "path is NULL");
  assert_null(d.x.data); /* cleared first */
  assert_int_equal(d.x.rank, 0);
  assert_null(d.y.data);
  EXPECT(dn_csv_load(path, NULL), DN_ERR_ARG, fn, "out is NULL");
  EXPECT(dn_csv_load("/nonexistent-dir/d.csv", &d), DN_ERR_IO, fn, "/nonexistent-dir");
  EXPECT(dn_csv_load(path, &d, .target_names = (const char *[]){"target", NULL}), DN_ERR_ARG, fn,
         "\"target\"");
  EXPECT(dn_csv_load(path, &d, .feature_names = (const char *[]){"a", NULL},
                     .feature_columns = (const size_t[]){0}, .n_feature_columns = 1),
         DN_ERR_ARG, fn, "not both");
  EXPECT(dn_csv_load(path, &d, .n_target_columns = 1), DN_ERR_ARG, fn, "target_columns is NULL");
  EXPECT(dn_csv_load(path, &d, .target_columns = (const size_t[]){9}, .n_target_columns = 1),
         DN_ERR_ARG, fn, "index 9");
  EXPECT(dn_csv_load(path, &d, .no_header = true, .target_names = (const char *[]){"t", NULL}),
         DN_ERR_ARG, fn, "by index only");
  EXPECT(dn_csv_load(path, &d, .delimiter = '"'), DN_ERR_ARG, fn, "delimiter");
  assert_null(d.x.data);

  const char *sfn = "dn_train_test_split";
  dn_dataset train, test;
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *[]){"t", NULL}));
  assert_int_equal(dn_tensor_rows(d.x), 3);
  assert_int_equal(dn_tensor_cols(d.x), 2);
  assert_int_equal(dn_tensor_rows(d.y), 3);
  assert_int_equal(dn_tensor_cols(d.y), 1);
  EXPECT(dn_train_test_split(NULL, 0.5, 1, &train, &test), DN_ERR_ARG, sfn, "data is NULL");
  EXPECT(dn_train_test_split(&d, 0.5, 1, NULL, &test), DN_ERR_ARG, sfn, "train is NULL");
  EXPECT(dn_train_test_split(&d, 0.5, 1, &train, &train), DN_ERR_ARG, sfn, "different");
  EXPECT(dn_train_test_split(&d, 0.5, 1, &d, &test), DN_ERR_ARG, sfn, "must not be the input");
  EXPECT(dn_train_test_split(&d, 0.0, 1, &train, &test), DN_ERR_ARG, sfn, "test_fraction");
  EXPECT(dn_train_test_split(&d, 1.0, 1, &train, &test), DN_ERR_ARG, sfn, "test_fraction");
  EXPECT(dn_train_test_split(&d, NAN, 1, &train, &test), DN_ERR_ARG, sfn, "test_fraction");
  dn_dataset one = d; /* a one-row view of the same data */
  one.x = dn_tensor_slice_rows(d.x, 0, 1);
  one.y = dn_tensor_slice_rows(d.y, 0, 1);
  EXPECT(dn_train_test_split(&one, 0.5, 1, &train, &test), DN_ERR_ARG, sfn, "at least 2 rows");
  assert_int_equal(dn_tensor_rows(d.x), 3); /* the input is untouched */
  dn_dataset_free(&d);
  assert_null(d.x.data);
  assert_null(d.y.data);
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
  EXPECT(dn_plot_svg(NULL, &ok, 1), DN_ERR_ARG, fn, "path is NULL");
  EXPECT(dn_plot_svg(path, NULL, 1), DN_ERR_ARG, fn, "series is NULL");
  EXPECT(dn_plot_svg(path, &ok, 0), DN_ERR_ARG, fn, "n_series is 0");
  EXPECT(dn_plot_svg(path, &empty, 1), DN_ERR_ARG, fn, "series[0]");
  EXPECT(dn_plot_svg(path, &no_y, 1), DN_ERR_ARG, fn, "series[0].y is NULL");
  EXPECT(dn_plot_svg(path, &ok, 1, .width = 5), DN_ERR_ARG, fn, "5 x 440");
  EXPECT(dn_plot_svg("/nonexistent-dir/p.svg", &ok, 1), DN_ERR_IO, fn, "/nonexistent-dir");
  assert_ok(dn_plot_svg(path, &ok, 1));

  const char *hfn = "dn_plot_history_svg";
  dn_model *m = compiled("mse", NULL);
  dn_history *h = dn_fit(m, XT, YT, .epochs = 2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  EXPECT(dn_plot_history_svg(NULL, path), DN_ERR_ARG, hfn, "history is NULL");
  EXPECT(dn_plot_history_svg(h, NULL), DN_ERR_ARG, hfn, "path is NULL");
  EXPECT(dn_plot_history_svg(h, path, .keys = (const char *[]){NULL}), DN_ERR_ARG, hfn,
         "empty list");
  EXPECT(dn_plot_history_svg(h, path, .keys = (const char *[]){"loss", "val_mae", NULL}),
         DN_ERR_ARG, hfn, "\"val_mae\"");
  assert_ok(dn_plot_history_svg(h, path));
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
