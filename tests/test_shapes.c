/* test_shapes.c -- shapes at the boundary, through the public API only. Every shape mistake a
 * caller can make with the data calls (fit, evaluate, evaluate_metrics, predict,
 * predict_on_batch, train_on_batch, test_on_batch, forward, backward, backward_input, the
 * gradient check, Normalization adapt) gets DN_ERR_SHAPE (DN_ERR_ARG for "no tensor") with a
 * message naming the call, the argument and both numbers, writes nothing to the caller's output
 * tensors, and leaves the model as it was: same weights and optimizer iterations, and a later fit
 * gives bit for bit what a twin model that never saw the bad call gives. The tensors of wrong
 * shapes are exact-size heap arrays, so valgrind sees any read past them. An unbuilt model takes
 * its width from x on its first call (as dn_model_build would), and not on a call that fails.
 * loss = "crossentropy" / "ce" resolves from y as Keras 3 does: checked against the explicit
 * loss name and against hand computations. */
#include "dn_test.h"

#include <stdint.h>
#include <stdlib.h>

enum { IN = 5, OUT = 3, ROWS = 6, MAX_PARAMS = 512 };

/* ---- data: exact-size heap arrays, freed after each test --------------------------------- */

static float *buffers[512];
static size_t n_buffers;

/* A deterministic value in [-1, 1) for element i of data set `seed`. */
static float value(size_t i, unsigned seed) {
  return (float)(((i + 1) * 2654435761u + seed * 40503u) % 1000u) / 500.0f - 1.0f;
}

static float *buffer(size_t n, unsigned seed) {
  assert_true(n_buffers < sizeof buffers / sizeof *buffers);
  float *b = malloc((n ? n : 1) * sizeof *b);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++)
    b[i] = value(i, seed);
  buffers[n_buffers++] = b;
  return b;
}

/* A rows x cols view of a new heap array of exactly that size. */
static dn_tensor mat(size_t rows, size_t cols, unsigned seed) {
  return dn_tensor_2d(buffer(rows * cols, seed), rows, cols);
}

/* A (n,) view of n class indices 0, 1, ..., classes - 1, 0, ... */
static dn_tensor labels_1d(size_t n, size_t classes) {
  float *b = buffer(n, 0);
  for (size_t i = 0; i < n; i++)
    b[i] = (float)(i % classes);
  return dn_tensor_1d(b, n);
}

/* The same labels as an n x 1 matrix. */
static dn_tensor labels(size_t n, size_t classes) {
  dn_tensor t = labels_1d(n, classes);
  return dn_tensor_2d(t.data, n, 1);
}

/* The same labels one-hot, n x classes. */
static dn_tensor one_hot(size_t n, size_t classes) {
  float *b = buffer(n * classes, 0);
  for (size_t i = 0; i < n * classes; i++)
    b[i] = (i % classes) == ((i / classes) % classes) ? 1.0f : 0.0f;
  return dn_tensor_2d(b, n, classes);
}

/* A rank-3 view (rows x a x b) of a new heap array. */
static dn_tensor rank3(size_t rows, size_t a, size_t b) {
  const size_t shape[3] = {rows, a, b};
  return dn_tensor_view(buffer(rows * a * b, 9), 3, shape);
}

static int free_buffers(void **state) {
  (void)state;
  for (size_t i = 0; i < n_buffers; i++)
    free(buffers[i]);
  n_buffers = 0;
  return 0;
}

/* ---- models ------------------------------------------------------------------------------ */

/* Dense(4, relu) -> BatchNormalization -> Dropout(0.25) -> Dense(3): weights, moving statistics
 * and a dropout stream, so any change a failed call makes shows up. input_dim 0: unbuilt. */
static dn_model *model(size_t input_dim, bool compile) {
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = input_dim),
                              dn_batch_normalization(), dn_dropout(0.25), dn_dense(OUT));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, 42));
  if (compile)
    assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  return m;
}

typedef struct snapshot {
  size_t in, out, n;
  uint64_t iterations;
  float w[MAX_PARAMS];
} snapshot;

static snapshot snap(const dn_model *m) {
  snapshot s = {dn_model_input_dim(m),
                dn_model_output_dim(m),
                dn_model_count_params(m),
                dn_optimizer_iterations(dn_model_optimizer(m)),
                {0}};
  assert_true(s.n <= MAX_PARAMS);
  if (s.n > 0)
    assert_ok(dn_model_get_weights(m, s.w, s.n));
  return s;
}

static void assert_same_snapshot(snapshot a, snapshot b) {
  assert_int_equal(a.in, b.in);
  assert_int_equal(a.out, b.out);
  assert_int_equal(a.n, b.n);
  assert_int_equal(a.iterations, b.iterations);
  assert_memory_equal(a.w, b.w, a.n * sizeof(float));
}

#define ASSERT_UNCHANGED(m, s) assert_same_snapshot(snap(m), (s))

/* Two epochs of fit on (x, y), batches of 4, shuffles and dropout drawn from the model's own
 * streams; the epoch losses into loss[2]. */
static void fit2(dn_model *m, dn_tensor x, dn_tensor y, double *loss) {
  dn_history *h = dn_fit(m, x, y, .epochs = 2, .batch_size = 4, .verbose = DN_VERBOSE_SILENT);
  if (h == NULL)
    fail_msg("fit: %s", dn_last_error());
  assert_int_equal(dn_history_length(h), 2);
  const double *l = dn_history_values(h, "loss");
  assert_non_null(l);
  assert_true(isfinite(l[1]));
  memcpy(loss, l, 2 * sizeof *loss);
  dn_history_free(h);
}

/* The victim saw bad calls, the control did not (both saw the same good calls): they hold the
 * same state, and a fit on (x, y) gives both the same losses and weights, bit for bit. */
static void assert_twins(dn_model *victim, dn_model *control, dn_tensor x, dn_tensor y) {
  assert_same_snapshot(snap(victim), snap(control));
  double lv[2], lc[2];
  fit2(victim, x, y, lv);
  fit2(control, x, y, lc);
  assert_memory_equal(lv, lc, sizeof lv);
  assert_same_snapshot(snap(victim), snap(control));
}

/* A stale error from another call (public API only): a failing call that does not set its own
 * status and message is caught by the name checks. */
static void poison(void) {
  assert_null(dn_model_layer(NULL, 0));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
}

static dn_status fit_status(dn_history *h) {
  if (h == NULL)
    return dn_last_status();
  dn_history_free(h);
  return DN_OK;
}

/* dn_fit as a status, silent. */
#define FIT(m, ...) fit_status(dn_fit(m, __VA_ARGS__, .verbose = DN_VERBOSE_SILENT))

#define SHAPE(call, fn, arg, a, b)                                                                 \
  do {                                                                                             \
    poison();                                                                                      \
    assert_shape_error(call, fn, arg, a, b);                                                       \
  } while (0)

/* "no tensor": DN_ERR_ARG naming the call and the argument. */
#define NO_TENSOR(call, fn, arg)                                                                   \
  do {                                                                                             \
    poison();                                                                                      \
    assert_named_error(call, DN_ERR_ARG, fn, arg);                                                 \
    assert_non_null(strstr(dn_last_error(), "no tensor"));                                         \
  } while (0)

/* The message "fn: arg has C columns but the model's input width is W". */
#define ASSERT_WIDTH_MESSAGE(fn, arg, c, w)                                                        \
  do {                                                                                             \
    char want_[160];                                                                               \
    snprintf(want_, sizeof want_, "%s: %s has %zu columns but the model's input width is %zu",     \
             (fn), (arg), (size_t)(c), (size_t)(w));                                               \
    if (strstr(dn_last_error(), want_) == NULL)                                                    \
      fail_msg("message '%s' lacks '%s'", dn_last_error(), want_);                                 \
  } while (0)

/* An output tensor the library must not have written: every element still `value(i, seed)`. */
static void assert_untouched(dn_tensor t, unsigned seed) {
  size_t n = dn_tensor_size(t);
  for (size_t i = 0; i < n; i++)
    if (t.data[i] != value(i, seed))
      fail_msg("output element %zu was written (%g)", i, (double)t.data[i]);
}

/* ---- the issue's example ----------------------------------------------------------------- */

static void test_issue_example(void **state) {
  (void)state;
  /* .input_dim = 31 fitted on a 30-column array: the 0.1 library read past the array. */
  dn_model *m = dn_sequential(dn_dense(8, .activation = "relu", .input_dim = 31), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mae"));
  snapshot s = snap(m);
  dn_tensor x = mat(100, 30, 1), y = mat(100, 1, 2);
  poison();
  assert_null(dn_fit(m, x, y, .epochs = 10, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_SHAPE);
  assert_non_null(
      strstr(dn_last_error(), "dn_fit: x has 30 columns but the model's input width is 31"));
  ASSERT_UNCHANGED(m, s);
  dn_model_free(m);
}

/* ---- x's width against the model's input width, in every call ----------------------------- */

static void test_x_width(void **state) {
  (void)state;
  dn_model *m = model(IN, true), *control = model(IN, true);
  snapshot s = snap(m);
  dn_tensor x = mat(ROWS, IN, 1), y = mat(ROWS, OUT, 2);
  dn_tensor wide = mat(ROWS, 7, 3), narrow = mat(ROWS, 2, 4), out = mat(ROWS, OUT, 5);
  dn_gradient_check_report report;
  double values[2];
  float loss = -1.0f;

  SHAPE(FIT(m, wide, y), "dn_fit", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_fit", "x", 7, IN);
  SHAPE(FIT(m, narrow, y), "dn_fit", "x", 2, IN);
  SHAPE(dn_evaluate(m, wide, y, &loss), "dn_evaluate", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_evaluate", "x", 7, IN);
  assert_true(loss == -1.0f); /* not written */
  SHAPE(dn_evaluate_metrics(m, wide, y, values, 2), "dn_evaluate_metrics", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_evaluate_metrics", "x", 7, IN);
  SHAPE(dn_train_on_batch(m, wide, y, &loss), "dn_train_on_batch", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_train_on_batch", "x", 7, IN);
  SHAPE(dn_test_on_batch(m, narrow, y, &loss), "dn_test_on_batch", "x", 2, IN);
  ASSERT_WIDTH_MESSAGE("dn_test_on_batch", "x", 2, IN);
  assert_true(loss == -1.0f);
  SHAPE(dn_predict(m, wide, out), "dn_predict", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_predict", "x", 7, IN);
  SHAPE(dn_predict_on_batch(m, narrow, out), "dn_predict_on_batch", "x", 2, IN);
  ASSERT_WIDTH_MESSAGE("dn_predict_on_batch", "x", 2, IN);
  SHAPE(dn_model_forward(m, wide, true, out), "dn_model_forward", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_model_forward", "x", 7, IN);
  SHAPE(dn_model_forward(m, narrow, false, out), "dn_model_forward", "x", 2, IN);
  SHAPE(dn_model_gradient_check(m, wide, y, &report), "dn_model_gradient_check", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_model_gradient_check", "x", 7, IN);
  /* a rank-1 x reads as one column */
  dn_tensor vec = dn_tensor_1d(buffer(ROWS, 6), ROWS);
  SHAPE(FIT(m, vec, y), "dn_fit", "x", 1, IN);
  SHAPE(dn_predict(m, vec, out), "dn_predict", "x", 1, IN);
  /* more rows than the 32 of a predict or evaluate batch: checked before the first batch */
  dn_tensor big_wide = mat(40, 7, 7), big_out = mat(40, OUT, 8);
  SHAPE(dn_predict(m, big_wide, big_out), "dn_predict", "x", 7, IN);
  SHAPE(dn_evaluate(m, big_wide, mat(40, OUT, 2), &loss), "dn_evaluate", "x", 7, IN);
  assert_untouched(out, 5);
  assert_untouched(big_out, 8);
  ASSERT_UNCHANGED(m, s);
  assert_twins(m, control, x, y);
  dn_model_free(m);
  dn_model_free(control);
}

/* ---- y's width against the output width --------------------------------------------------- */

static void test_y_width(void **state) {
  (void)state;
  dn_model *m = model(IN, true), *control = model(IN, true);
  snapshot s = snap(m);
  dn_tensor x = mat(ROWS, IN, 1), y = mat(ROWS, OUT, 2);
  dn_tensor y2 = mat(ROWS, 2, 3), y4 = mat(ROWS, 4, 4);
  double values[2] = {-1, -1};
  float loss = -1.0f;
  SHAPE(FIT(m, x, y2), "dn_fit", "y", 2, OUT);
  SHAPE(FIT(m, x, y4), "dn_fit", "y", 4, OUT);
  SHAPE(FIT(m, x, labels_1d(ROWS, OUT)), "dn_fit", "y", 1, OUT);
  SHAPE(dn_evaluate(m, x, y2, &loss), "dn_evaluate", "y", 2, OUT);
  SHAPE(dn_evaluate_metrics(m, x, y4, values, 2), "dn_evaluate_metrics", "y", 4, OUT);
  SHAPE(dn_train_on_batch(m, x, y2, &loss), "dn_train_on_batch", "y", 2, OUT);
  SHAPE(dn_test_on_batch(m, x, y4, &loss), "dn_test_on_batch", "y", 4, OUT);
  dn_gradient_check_report report;
  SHAPE(dn_model_gradient_check(m, x, y2, &report), "dn_model_gradient_check", "dy", 2, OUT);
  SHAPE(dn_model_gradient_check(m, x, y4, &report, .training = true), "dn_model_gradient_check",
        "dy", 4, OUT);
  assert_true(loss == -1.0f && values[0] == -1 && values[1] == -1);
  ASSERT_UNCHANGED(m, s);
  assert_twins(m, control, x, y);
  dn_model_free(m);
  dn_model_free(control);
}

/* Sparse losses take one column of class indices; the other cross-entropies take the output's
 * width (the 0.1 library read past a 1-column y given to categorical_crossentropy). */
static void test_y_width_crossentropies(void **state) {
  (void)state;
  dn_tensor x = mat(ROWS, IN, 1);
  float loss = -1.0f;
  dn_model *sp = dn_sequential(dn_dense(OUT, .activation = "softmax", .input_dim = IN));
  dn_model *cat = dn_sequential(dn_dense(OUT, .activation = "softmax", .input_dim = IN));
  dn_model *bin = dn_sequential(dn_dense(1, .activation = "sigmoid", .input_dim = IN));
  assert_non_null(sp);
  assert_non_null(cat);
  assert_non_null(bin);
  assert_ok(dn_compile(sp, .loss = "sparse_categorical_crossentropy"));
  assert_ok(dn_compile(cat, .loss = "categorical_crossentropy"));
  assert_ok(dn_compile(bin, .loss = "binary_crossentropy"));
  snapshot ssp = snap(sp), scat = snap(cat), sbin = snap(bin);

  dn_tensor hot = one_hot(ROWS, OUT), two = mat(ROWS, 2, 3);
  SHAPE(FIT(sp, x, hot), "dn_fit", "y", OUT, 1);
  SHAPE(FIT(sp, x, two), "dn_fit", "y", 2, 1);
  SHAPE(dn_evaluate(sp, x, hot, &loss), "dn_evaluate", "y", OUT, 1);
  SHAPE(dn_train_on_batch(sp, x, hot, &loss), "dn_train_on_batch", "y", OUT, 1);
  SHAPE(dn_test_on_batch(sp, x, two, &loss), "dn_test_on_batch", "y", 2, 1);
  /* labels not one-hot for categorical_crossentropy: 1 column for a 3-wide output */
  dn_tensor lab = labels(ROWS, OUT);
  SHAPE(FIT(cat, x, lab), "dn_fit", "y", 1, OUT);
  SHAPE(FIT(cat, x, labels_1d(ROWS, OUT)), "dn_fit", "y", 1, OUT);
  SHAPE(dn_evaluate(cat, x, lab, &loss), "dn_evaluate", "y", 1, OUT);
  SHAPE(dn_train_on_batch(cat, x, lab, &loss), "dn_train_on_batch", "y", 1, OUT);
  SHAPE(dn_test_on_batch(cat, x, lab, &loss), "dn_test_on_batch", "y", 1, OUT);
  SHAPE(FIT(bin, x, hot), "dn_fit", "y", OUT, 1);
  SHAPE(dn_evaluate(bin, x, two, &loss), "dn_evaluate", "y", 2, 1);
  assert_true(loss == -1.0f);
  ASSERT_UNCHANGED(sp, ssp);
  ASSERT_UNCHANGED(cat, scat);
  ASSERT_UNCHANGED(bin, sbin);
  /* the right shapes go through: 1 column or rank 1 for sparse, one-hot for categorical */
  assert_ok(dn_evaluate(sp, x, lab, &loss));
  assert_true(isfinite(loss));
  assert_ok(dn_evaluate(sp, x, labels_1d(ROWS, OUT), &loss));
  assert_ok(dn_evaluate(cat, x, hot, &loss));
  assert_ok(dn_evaluate(bin, x, labels_1d(ROWS, 2), &loss));
  dn_model_free(sp);
  dn_model_free(cat);
  dn_model_free(bin);
}

/* ---- row counts ---------------------------------------------------------------------------- */

static void test_unequal_rows(void **state) {
  (void)state;
  dn_model *m = model(IN, true), *control = model(IN, true);
  snapshot s = snap(m);
  dn_tensor x = mat(ROWS, IN, 1), y = mat(ROWS, OUT, 2), y5 = mat(5, OUT, 3);
  dn_gradient_check_report report;
  double values[2];
  float loss = -1.0f;
  SHAPE(FIT(m, x, y5), "dn_fit", "y", 5, ROWS);
  SHAPE(FIT(m, mat(5, IN, 4), y), "dn_fit", "y", ROWS, 5);
  SHAPE(dn_evaluate(m, x, y5, &loss), "dn_evaluate", "y", 5, ROWS);
  SHAPE(dn_evaluate_metrics(m, x, y5, values, 2), "dn_evaluate_metrics", "y", 5, ROWS);
  SHAPE(dn_train_on_batch(m, x, y5, &loss), "dn_train_on_batch", "y", 5, ROWS);
  SHAPE(dn_test_on_batch(m, x, y5, &loss), "dn_test_on_batch", "y", 5, ROWS);
  SHAPE(dn_model_gradient_check(m, x, y5, &report), "dn_model_gradient_check", "dy", 5, ROWS);
  /* past one evaluate batch of 32 */
  SHAPE(dn_evaluate(m, mat(40, IN, 5), mat(39, OUT, 6), &loss), "dn_evaluate", "y", 39, 40);

  /* sample weights: one per row, one column */
  SHAPE(FIT(m, x, y, .sample_weight = dn_tensor_1d(buffer(5, 7), 5)), "dn_fit", "sample_weight", 5,
        ROWS);
  SHAPE(FIT(m, x, y, .sample_weight = dn_tensor_1d(buffer(7, 7), 7)), "dn_fit", "sample_weight", 7,
        ROWS);
  SHAPE(FIT(m, x, y, .sample_weight = mat(ROWS, 2, 7)), "dn_fit", "sample_weight", 2, 1);
  SHAPE(FIT(m, x, y, .sample_weight = rank3(ROWS, 1, 1)), "dn_fit", "sample_weight", 3, 2);
  SHAPE(dn_evaluate_metrics(m, x, y, values, 2, .sample_weight = dn_tensor_1d(buffer(5, 7), 5)),
        "dn_evaluate_metrics", "sample_weight", 5, ROWS);
  SHAPE(dn_evaluate_metrics(m, x, y, values, 2, .sample_weight = mat(ROWS, 2, 7)),
        "dn_evaluate_metrics", "sample_weight", 2, 1);

  /* validation pairs: their own row count, the model's widths */
  dn_tensor vx = mat(4, IN, 8), vy = mat(4, OUT, 9);
  SHAPE(FIT(m, x, y, .validation_x = vx, .validation_y = mat(3, OUT, 9)), "dn_fit", "validation_y",
        3, 4);
  SHAPE(FIT(m, x, y, .validation_x = mat(4, 7, 8), .validation_y = vy), "dn_fit", "validation_x", 7,
        IN);
  SHAPE(FIT(m, x, y, .validation_x = vx, .validation_y = mat(4, 2, 9)), "dn_fit", "validation_y", 2,
        OUT);
  SHAPE(FIT(m, x, y, .validation_x = vx, .validation_y = mat(0, OUT, 9)), "dn_fit", "validation_y",
        0, OUT);
  SHAPE(FIT(m, x, y, .validation_x = rank3(4, IN, 1), .validation_y = vy), "dn_fit", "validation_x",
        3, 2);
  /* one of the pair without the other: DN_ERR_ARG naming both */
  poison();
  assert_named_error(FIT(m, x, y, .validation_x = vx), DN_ERR_ARG, "dn_fit", "validation_y");
  assert_true(dn_has_word(dn_last_error(), "validation_x"));
  poison();
  assert_named_error(FIT(m, x, y, .validation_y = vy), DN_ERR_ARG, "dn_fit", "validation_x");
  assert_true(dn_has_word(dn_last_error(), "validation_y"));
  NO_TENSOR(FIT(m, x, y, .validation_x = vx, .validation_y = dn_tensor_2d(NULL, 4, OUT)), "dn_fit",
            "validation_y");
  ASSERT_UNCHANGED(m, s);
  /* the right validation pair goes through (rank 1 is not wide enough here: 3 outputs) */
  dn_history *h =
      dn_fit(m, x, y, .validation_x = vx, .validation_y = vy, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_non_null(dn_history_values(h, "val_loss"));
  dn_history_free(h);
  h = dn_fit(control, x, y, .validation_x = vx, .validation_y = vy, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  assert_twins(m, control, x, y);
  dn_model_free(m);
  dn_model_free(control);
}

/* ---- output tensors: at least x's rows, exactly the output's columns ----------------------- */

static void test_outputs(void **state) {
  (void)state;
  dn_model *m = model(IN, false), *control = model(IN, false);
  snapshot s = snap(m);
  dn_tensor x = mat(ROWS, IN, 1);
  dn_tensor short_y = mat(5, OUT, 11), narrow_y = mat(ROWS, 2, 12), wide_y = mat(ROWS, 4, 13);
  SHAPE(dn_predict(m, x, short_y), "dn_predict", "y", 5, ROWS);
  SHAPE(dn_predict(m, x, narrow_y), "dn_predict", "y", 2, OUT);
  SHAPE(dn_predict(m, x, wide_y), "dn_predict", "y", 4, OUT);
  SHAPE(dn_predict(m, x, dn_tensor_1d(buffer(ROWS, 14), ROWS)), "dn_predict", "y", 1, OUT);
  SHAPE(dn_predict(m, x, rank3(ROWS, OUT, 1)), "dn_predict", "y", 3, 2);
  SHAPE(dn_predict_on_batch(m, x, short_y), "dn_predict_on_batch", "y", 5, ROWS);
  SHAPE(dn_predict_on_batch(m, x, narrow_y), "dn_predict_on_batch", "y", 2, OUT);
  SHAPE(dn_predict_on_batch(m, x, wide_y), "dn_predict_on_batch", "y", 4, OUT);
  SHAPE(dn_model_forward(m, x, false, short_y), "dn_model_forward", "y", 5, ROWS);
  SHAPE(dn_model_forward(m, x, true, narrow_y), "dn_model_forward", "y", 2, OUT);
  SHAPE(dn_model_forward(m, x, true, wide_y), "dn_model_forward", "y", 4, OUT);
  /* predict batches by 32: a y one row short of 40 is refused before the first batch */
  dn_tensor big_y = mat(39, OUT, 15);
  SHAPE(dn_predict(m, mat(40, IN, 16), big_y), "dn_predict", "y", 39, 40);
  assert_untouched(short_y, 11);
  assert_untouched(narrow_y, 12);
  assert_untouched(wide_y, 13);
  assert_untouched(big_y, 15);
  ASSERT_UNCHANGED(m, s);

  /* more rows than x: fine, the extra rows are left alone */
  dn_tensor tall = mat(ROWS + 2, OUT, 17), ref = mat(ROWS, OUT, 18);
  assert_ok(dn_predict(m, x, tall));
  assert_ok(dn_predict(control, x, ref));
  assert_memory_equal(tall.data, ref.data, ROWS * OUT * sizeof(float));
  for (size_t i = ROWS * OUT; i < (ROWS + 2) * OUT; i++)
    assert_true(tall.data[i] == value(i, 17));
  assert_ok(dn_predict_on_batch(m, x, tall));
  assert_memory_equal(tall.data, ref.data, ROWS * OUT * sizeof(float));

  /* backward: dy as the forward's output, dx as x */
  dn_tensor y = mat(ROWS, OUT, 19), dy = mat(ROWS, OUT, 20);
  assert_ok(dn_model_forward(m, x, true, y));
  assert_ok(dn_model_forward(control, x, true, mat(ROWS, OUT, 19)));
  s = snap(m); /* the training forward moved the moving statistics */
  assert_same_snapshot(s, snap(control));
  SHAPE(dn_model_backward(m, mat(ROWS, 2, 21)), "dn_model_backward", "dy", 2, OUT);
  SHAPE(dn_model_backward(m, mat(ROWS, 4, 21)), "dn_model_backward", "dy", 4, OUT);
  SHAPE(dn_model_backward(m, mat(5, OUT, 21)), "dn_model_backward", "dy", 5, ROWS);
  SHAPE(dn_model_backward(m, mat(ROWS + 1, OUT, 21)), "dn_model_backward", "dy", ROWS + 1, ROWS);
  SHAPE(dn_model_backward(m, rank3(ROWS, OUT, 1)), "dn_model_backward", "dy", 3, 2);
  dn_tensor short_dx = mat(5, IN, 22), narrow_dx = mat(ROWS, 4, 23), wide_dx = mat(ROWS, 6, 24);
  SHAPE(dn_model_backward_input(m, dy, short_dx), "dn_model_backward_input", "dx", 5, ROWS);
  SHAPE(dn_model_backward_input(m, dy, narrow_dx), "dn_model_backward_input", "dx", 4, IN);
  SHAPE(dn_model_backward_input(m, dy, wide_dx), "dn_model_backward_input", "dx", 6, IN);
  SHAPE(dn_model_backward_input(m, mat(5, OUT, 21), mat(5, IN, 22)), "dn_model_backward_input",
        "dy", 5, ROWS);
  SHAPE(dn_model_backward_input(m, mat(ROWS, 2, 21), mat(ROWS, IN, 22)), "dn_model_backward_input",
        "dy", 2, OUT);
  assert_untouched(short_dx, 22);
  assert_untouched(narrow_dx, 23);
  assert_untouched(wide_dx, 24);
  ASSERT_UNCHANGED(m, s);
  /* the forward still stands: the right backward gives the control's gradients and dx */
  dn_tensor dx = mat(ROWS + 1, IN, 25), dx_ref = mat(ROWS, IN, 26);
  assert_ok(dn_model_backward_input(m, dy, dx));
  assert_ok(dn_model_backward_input(control, mat(ROWS, OUT, 20), dx_ref));
  assert_memory_equal(dx.data, dx_ref.data, ROWS * IN * sizeof(float));
  for (size_t i = ROWS * IN; i < (ROWS + 1) * IN; i++)
    assert_true(dx.data[i] == value(i, 25));
  size_t n = dn_model_count_params(m);
  float gv[MAX_PARAMS], gc[MAX_PARAMS];
  assert_ok(dn_model_get_gradients(m, gv, n));
  assert_ok(dn_model_get_gradients(control, gc, n));
  assert_memory_equal(gv, gc, n * sizeof(float));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  assert_ok(dn_compile(control, .optimizer = "adam", .loss = "mse"));
  assert_twins(m, control, x, mat(ROWS, OUT, 2));
  dn_model_free(m);
  dn_model_free(control);
}

/* ---- ranks, zero dims, the zero tensor --------------------------------------------------- */

static void test_rank_and_zero_dims(void **state) {
  (void)state;
  dn_model *m = model(IN, true), *control = model(IN, true);
  snapshot s = snap(m);
  dn_tensor x = mat(ROWS, IN, 1), y = mat(ROWS, OUT, 2), out = mat(ROWS, OUT, 3);
  dn_tensor x3 = rank3(ROWS, IN, 1), y3 = rank3(ROWS, OUT, 1);
  dn_gradient_check_report report;
  double values[2];
  float loss;
  /* rank 3 (even when the product of the other dims is the right width) */
  SHAPE(FIT(m, x3, y), "dn_fit", "x", 3, 2);
  SHAPE(FIT(m, x, y3), "dn_fit", "y", 3, 2);
  SHAPE(dn_evaluate(m, x3, y, &loss), "dn_evaluate", "x", 3, 2);
  SHAPE(dn_evaluate_metrics(m, x, y3, values, 2), "dn_evaluate_metrics", "y", 3, 2);
  SHAPE(dn_train_on_batch(m, x3, y, &loss), "dn_train_on_batch", "x", 3, 2);
  SHAPE(dn_test_on_batch(m, x, y3, &loss), "dn_test_on_batch", "y", 3, 2);
  SHAPE(dn_predict(m, x3, out), "dn_predict", "x", 3, 2);
  SHAPE(dn_predict_on_batch(m, x3, out), "dn_predict_on_batch", "x", 3, 2);
  SHAPE(dn_model_forward(m, x3, true, out), "dn_model_forward", "x", 3, 2);
  SHAPE(dn_model_gradient_check(m, x3, y, &report), "dn_model_gradient_check", "x", 3, 2);
  SHAPE(dn_model_gradient_check(m, x, y3, &report), "dn_model_gradient_check", "dy", 3, 2);
  const size_t s4[4] = {ROWS, 1, 1, IN};
  SHAPE(dn_predict(m, dn_tensor_view(buffer(ROWS * IN, 1), 4, s4), out), "dn_predict", "x", 4, 2);

  /* zero dims: a 0-row or 0-column tensor is a shape error naming the 0 */
  dn_tensor no_rows = mat(0, IN, 1), no_cols = mat(ROWS, 0, 1);
  SHAPE(FIT(m, no_rows, mat(0, OUT, 2)), "dn_fit", "x", 0, IN);
  SHAPE(FIT(m, no_cols, y), "dn_fit", "x", ROWS, 0);
  SHAPE(FIT(m, x, mat(ROWS, 0, 2)), "dn_fit", "y", ROWS, 0);
  SHAPE(dn_evaluate(m, no_rows, mat(0, OUT, 2), &loss), "dn_evaluate", "x", 0, IN);
  SHAPE(dn_train_on_batch(m, no_rows, mat(0, OUT, 2), &loss), "dn_train_on_batch", "x", 0, IN);
  SHAPE(dn_test_on_batch(m, x, mat(ROWS, 0, 2), &loss), "dn_test_on_batch", "y", ROWS, 0);
  SHAPE(dn_predict(m, no_rows, out), "dn_predict", "x", 0, IN);
  SHAPE(dn_predict(m, x, mat(0, OUT, 3)), "dn_predict", "y", 0, OUT);
  SHAPE(dn_predict_on_batch(m, no_cols, out), "dn_predict_on_batch", "x", ROWS, 0);
  SHAPE(dn_model_forward(m, no_rows, false, out), "dn_model_forward", "x", 0, IN);
  SHAPE(dn_model_gradient_check(m, no_rows, mat(0, OUT, 2), &report), "dn_model_gradient_check",
        "x", 0, IN);
  SHAPE(FIT(m, dn_tensor_1d(buffer(0, 1), 0), y), "dn_fit", "x", 0, 0);

  /* the zero tensor and NULL data: no tensor */
  const dn_tensor none = {0}, null_x = dn_tensor_2d(NULL, ROWS, IN);
  NO_TENSOR(FIT(m, none, y), "dn_fit", "x");
  NO_TENSOR(FIT(m, null_x, y), "dn_fit", "x");
  NO_TENSOR(FIT(m, x, none), "dn_fit", "y");
  NO_TENSOR(dn_evaluate(m, none, y, &loss), "dn_evaluate", "x");
  NO_TENSOR(dn_evaluate(m, x, none, &loss), "dn_evaluate", "y");
  NO_TENSOR(dn_evaluate_metrics(m, x, none, values, 2), "dn_evaluate_metrics", "y");
  NO_TENSOR(dn_train_on_batch(m, null_x, y, &loss), "dn_train_on_batch", "x");
  NO_TENSOR(dn_train_on_batch(m, x, none, &loss), "dn_train_on_batch", "y");
  NO_TENSOR(dn_test_on_batch(m, none, y, &loss), "dn_test_on_batch", "x");
  NO_TENSOR(dn_predict(m, none, out), "dn_predict", "x");
  NO_TENSOR(dn_predict(m, x, none), "dn_predict", "y");
  NO_TENSOR(dn_predict_on_batch(m, x, dn_tensor_2d(NULL, ROWS, OUT)), "dn_predict_on_batch", "y");
  NO_TENSOR(dn_model_forward(m, none, false, out), "dn_model_forward", "x");
  NO_TENSOR(dn_model_forward(m, x, false, none), "dn_model_forward", "y");
  NO_TENSOR(dn_model_gradient_check(m, none, y, &report), "dn_model_gradient_check", "x");
  NO_TENSOR(dn_model_gradient_check(m, x, none, &report), "dn_model_gradient_check", "dy");
  assert_untouched(out, 3);
  ASSERT_UNCHANGED(m, s);
  /* backward's dy and dx */
  assert_ok(dn_model_forward(m, x, false, out));
  assert_ok(dn_model_forward(control, x, false, mat(ROWS, OUT, 3)));
  NO_TENSOR(dn_model_backward(m, none), "dn_model_backward", "dy");
  NO_TENSOR(dn_model_backward_input(m, none, mat(ROWS, IN, 4)), "dn_model_backward_input", "dy");
  NO_TENSOR(dn_model_backward_input(m, y, none), "dn_model_backward_input", "dx");
  SHAPE(dn_model_backward(m, mat(0, OUT, 2)), "dn_model_backward", "dy", 0, OUT);
  SHAPE(dn_model_backward_input(m, y, mat(ROWS, 0, 4)), "dn_model_backward_input", "dx", ROWS, 0);
  ASSERT_UNCHANGED(m, s);
  assert_twins(m, control, x, y);
  dn_model_free(m);
  dn_model_free(control);
}

/* ---- fit's callbacks on a shape error ---------------------------------------------------- */

static void count_call(dn_model *model, size_t index, const dn_logs *logs, void *user) {
  (void)model;
  (void)index;
  (void)logs;
  (*(int *)user)++;
}

static void test_fit_callbacks_on_shape_error(void **state) {
  (void)state;
  dn_model *m = model(IN, true);
  snapshot s = snap(m);
  int calls = 0;
  /* fit takes the callback and frees it (valgrind's leak check) without calling it */
  SHAPE(FIT(m, mat(ROWS, 7, 1), mat(ROWS, OUT, 2),
            .callbacks =
                (dn_callback *[]){dn_lambda_callback(.on_train_begin = count_call,
                                                     .on_epoch_begin = count_call, .user = &calls),
                                  dn_early_stopping(.monitor = "loss"), NULL}),
        "dn_fit", "x", 7, IN);
  assert_int_equal(calls, 0);
  ASSERT_UNCHANGED(m, s);
  dn_model_free(m);
}

/* ---- an unbuilt model: built from x's width on its first call ----------------------------- */

static void test_unbuilt_fit(void **state) {
  (void)state;
  dn_model *m = model(0, true), *control = model(0, true), *built = model(0, true);
  assert_ok(dn_model_build(built, IN));
  dn_tensor x = mat(ROWS, IN, 1), y = mat(ROWS, OUT, 2);
  float loss;
  assert_int_equal(dn_model_input_dim(m), 0);
  assert_int_equal(dn_model_output_dim(m), 0);
  assert_int_equal(dn_model_count_params(m), 0);
  /* a wrong y (its width, its rows), sample weights or validation pair on the first call: the
   * model stays unbuilt */
  SHAPE(FIT(m, x, mat(ROWS, 2, 3)), "dn_fit", "y", 2, OUT);
  SHAPE(FIT(m, x, mat(5, OUT, 3)), "dn_fit", "y", 5, ROWS);
  SHAPE(FIT(m, x, y, .sample_weight = dn_tensor_1d(buffer(5, 4), 5)), "dn_fit", "sample_weight", 5,
        ROWS);
  SHAPE(FIT(m, x, y, .validation_x = mat(4, 7, 5), .validation_y = mat(4, OUT, 5)), "dn_fit",
        "validation_x", 7, IN);
  SHAPE(FIT(m, rank3(ROWS, IN, 1), y), "dn_fit", "x", 3, 2);
  poison();
  assert_named_error(FIT(m, x, y, .validation_x = mat(4, IN, 5)), DN_ERR_ARG, "dn_fit",
                     "validation_y");
  SHAPE(dn_train_on_batch(m, x, mat(ROWS, 4, 3), &loss), "dn_train_on_batch", "y", 4, OUT);
  SHAPE(dn_evaluate(m, x, mat(5, OUT, 3), &loss), "dn_evaluate", "y", 5, ROWS);
  assert_int_equal(dn_model_input_dim(m), 0);
  assert_int_equal(dn_model_output_dim(m), 0);
  assert_int_equal(dn_model_count_params(m), 0);
  /* the first good fit builds it as dn_model_build would, and trains as that model trains */
  assert_twins(m, control, x, y);
  assert_int_equal(dn_model_input_dim(m), IN);
  assert_int_equal(dn_model_output_dim(m), OUT);
  double loss_built[2];
  fit2(built, x, y, loss_built);
  assert_same_snapshot(snap(m), snap(built));
  /* now it has a width */
  SHAPE(FIT(m, mat(ROWS, 7, 1), y), "dn_fit", "x", 7, IN);
  ASSERT_WIDTH_MESSAGE("dn_fit", "x", 7, IN);
  assert_twins(m, control, x, y);
  dn_model_free(m);
  dn_model_free(control);
  dn_model_free(built);
}

static void test_unbuilt_predict(void **state) {
  (void)state;
  dn_model *m = model(0, false), *built = model(0, false);
  assert_ok(dn_model_build(built, IN));
  dn_tensor x = mat(ROWS, IN, 1);
  dn_tensor narrow = mat(ROWS, 2, 3), short_y = mat(5, OUT, 4);
  SHAPE(dn_predict(m, x, narrow), "dn_predict", "y", 2, OUT);
  SHAPE(dn_predict(m, x, short_y), "dn_predict", "y", 5, ROWS);
  SHAPE(dn_predict_on_batch(m, x, narrow), "dn_predict_on_batch", "y", 2, OUT);
  SHAPE(dn_predict(m, rank3(ROWS, IN, 1), mat(ROWS, OUT, 4)), "dn_predict", "x", 3, 2);
  NO_TENSOR(dn_predict(m, x, (dn_tensor){0}), "dn_predict", "y");
  assert_untouched(narrow, 3);
  assert_untouched(short_y, 4);
  assert_int_equal(dn_model_input_dim(m), 0);
  assert_int_equal(dn_model_count_params(m), 0);
  dn_tensor y = mat(ROWS, OUT, 5), ref = mat(ROWS, OUT, 6);
  assert_ok(dn_predict(m, x, y));
  assert_int_equal(dn_model_input_dim(m), IN);
  assert_int_equal(dn_model_output_dim(m), OUT);
  assert_ok(dn_predict(built, x, ref));
  assert_memory_equal(y.data, ref.data, ROWS * OUT * sizeof(float));
  assert_same_snapshot(snap(m), snap(built));
  SHAPE(dn_predict(m, mat(ROWS, 4, 1), y), "dn_predict", "x", 4, IN);
  dn_model_free(m);
  dn_model_free(built);

  /* a model whose output width follows its input width (Normalization only): y is checked
   * against the width x implies, and the model stays unbuilt when it does not fit */
  dn_model *z = dn_sequential(dn_normalization());
  assert_non_null(z);
  SHAPE(dn_predict(z, x, mat(ROWS, IN + 2, 7)), "dn_predict", "y", IN + 2, IN);
  SHAPE(dn_predict(z, x, mat(ROWS, OUT, 7)), "dn_predict", "y", OUT, IN);
  assert_int_equal(dn_model_input_dim(z), 0);
  dn_tensor zy = mat(ROWS, IN, 8);
  assert_ok(dn_predict(z, x, zy));
  assert_int_equal(dn_model_input_dim(z), IN);
  assert_int_equal(dn_model_output_dim(z), IN);
  assert_memory_equal(zy.data, x.data, ROWS * IN * sizeof(float)); /* mean 0, variance 1 */
  dn_model_free(z);
}

static void test_unbuilt_forward(void **state) {
  (void)state;
  dn_model *m = model(0, false), *built = model(0, false);
  assert_ok(dn_model_build(built, IN));
  dn_tensor x = mat(ROWS, IN, 1);
  dn_gradient_check_report report;
  SHAPE(dn_model_forward(m, x, true, mat(ROWS, 2, 3)), "dn_model_forward", "y", 2, OUT);
  SHAPE(dn_model_forward(m, x, true, mat(5, OUT, 3)), "dn_model_forward", "y", 5, ROWS);
  NO_TENSOR(dn_model_forward(m, x, true, (dn_tensor){0}), "dn_model_forward", "y");
  assert_int_equal(dn_model_input_dim(m), 0);
  /* backward and the gradient check need a built model: they do not build one */
  poison();
  assert_named_error(dn_model_backward(m, mat(ROWS, OUT, 4)), DN_ERR_STATE, "dn_model_backward",
                     "input");
  poison();
  assert_named_error(dn_model_gradient_check(m, x, mat(ROWS, OUT, 4), &report), DN_ERR_STATE,
                     "dn_model_gradient_check", "input");
  assert_int_equal(dn_model_input_dim(m), 0);
  assert_int_equal(dn_model_count_params(m), 0);
  /* the first good forward builds it; training mode draws the same dropout mask as the twin */
  dn_tensor y = mat(ROWS, OUT, 5), ref = mat(ROWS, OUT, 6);
  assert_ok(dn_model_forward(m, x, true, y));
  assert_ok(dn_model_forward(built, x, true, ref));
  assert_int_equal(dn_model_input_dim(m), IN);
  assert_memory_equal(y.data, ref.data, ROWS * OUT * sizeof(float));
  dn_tensor dy = mat(ROWS, OUT, 7);
  assert_ok(dn_model_backward(m, dy));
  assert_ok(dn_model_backward(built, dy));
  size_t n = dn_model_count_params(m);
  float gm[MAX_PARAMS], gb[MAX_PARAMS];
  assert_ok(dn_model_get_gradients(m, gm, n));
  assert_ok(dn_model_get_gradients(built, gb, n));
  assert_memory_equal(gm, gb, n * sizeof(float));
  assert_same_snapshot(snap(m), snap(built));
  dn_model_free(m);
  dn_model_free(built);
}

/* ---- Normalization adapt ----------------------------------------------------------------- */

static void test_normalization_adapt(void **state) {
  (void)state;
  dn_layer *z = dn_normalization(.input_dim = IN);
  assert_non_null(z);
  dn_model *m = dn_sequential(z, dn_dense(OUT));
  assert_non_null(m);
  snapshot s = snap(m);
  SHAPE(dn_normalization_adapt(z, mat(ROWS, 4, 1)), "dn_normalization_adapt", "x", 4, IN);
  SHAPE(dn_normalization_adapt(z, mat(ROWS, 7, 1)), "dn_normalization_adapt", "x", 7, IN);
  SHAPE(dn_normalization_adapt(z, dn_tensor_1d(buffer(ROWS, 1), ROWS)), "dn_normalization_adapt",
        "x", 1, IN);
  SHAPE(dn_normalization_adapt(z, rank3(ROWS, IN, 1)), "dn_normalization_adapt", "x", 3, 2);
  SHAPE(dn_normalization_adapt(z, mat(0, IN, 1)), "dn_normalization_adapt", "x", 0, IN);
  NO_TENSOR(dn_normalization_adapt(z, (dn_tensor){0}), "dn_normalization_adapt", "x");
  ASSERT_UNCHANGED(m, s);
  /* the right width: mean and population variance per column */
  const float data[6] = {1, 10, 2, 20, 6, 60}; /* 3 rows x 2 */
  dn_layer *z2 = dn_normalization(.input_dim = 2);
  dn_model *m2 = dn_sequential(z2);
  assert_non_null(m2);
  assert_ok(dn_normalization_adapt(z2, dn_tensor_2d(data, 3, 2)));
  float w[5];
  assert_ok(dn_model_get_weights(m2, w, 5));
  const float want[5] = {3.0f, 30.0f, 14.0f / 3.0f, 1400.0f / 3.0f, 0.0f};
  assert_close_array(w, want, 5, 1e-6, 1e-6);
  dn_model_free(m2);
  /* an unbuilt layer takes its width from x; afterwards that width is checked */
  dn_layer *u = dn_normalization();
  assert_non_null(u);
  assert_int_equal(dn_layer_output_dim(u), 0);
  SHAPE(dn_normalization_adapt(u, rank3(ROWS, IN, 1)), "dn_normalization_adapt", "x", 3, 2);
  assert_int_equal(dn_layer_output_dim(u), 0);
  assert_ok(dn_normalization_adapt(u, mat(ROWS, IN, 1)));
  assert_int_equal(dn_layer_output_dim(u), IN);
  SHAPE(dn_normalization_adapt(u, mat(ROWS, 2, 1)), "dn_normalization_adapt", "x", 2, IN);
  dn_layer_free(u);
  dn_model_free(m);
}

/* ---- crossentropy / ce: resolved from y as Keras 3 does ---------------------------------- */

/* Tiny hand cases: 3 rows of 2 inputs through one Dense layer with set weights. */
static const float TX[6] = {1, 2, 0, 1, 2, 0};

static dn_model *tiny(size_t units, const char *activation, const char *loss) {
  dn_model *m = dn_sequential(dn_dense(units, .activation = activation, .input_dim = 2));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = loss));
  if (units == 1) {
    const float w[3] = {0.5f, -0.25f, 0.1f}; /* kernel 2 x 1, bias */
    assert_ok(dn_model_set_weights(m, w, 3));
  } else {
    const float w[9] = {0.2f, -0.1f, 0.4f, 0.3f, 0.5f, -0.2f, 0.05f, -0.05f, 0.0f};
    assert_ok(dn_model_set_weights(m, w, 9));
  }
  return m;
}

/* The tiny net's logits for row r, in double from the same float weights. */
static void tiny_logits(size_t units, size_t r, double *z) {
  static const float k1[2] = {0.5f, -0.25f}, b1 = 0.1f;
  static const float k3[2][3] = {{0.2f, -0.1f, 0.4f}, {0.3f, 0.5f, -0.2f}};
  static const float b3[3] = {0.05f, -0.05f, 0.0f};
  if (units == 1) {
    z[0] = (double)TX[2 * r] * k1[0] + (double)TX[2 * r + 1] * k1[1] + b1;
    return;
  }
  for (size_t j = 0; j < 3; j++)
    z[j] = (double)TX[2 * r] * k3[0][j] + (double)TX[2 * r + 1] * k3[1][j] + b3[j];
}

static float evaluate(dn_model *m, dn_tensor x, dn_tensor y) {
  float loss = NAN;
  assert_ok(dn_evaluate(m, x, y, &loss));
  assert_true(isfinite(loss));
  return loss;
}

/* Two models compiled with different loss names, trained the same way, end bit-identical. */
static void assert_same_training(dn_model *a, dn_model *b, dn_tensor x, dn_tensor y) {
  size_t n = dn_model_count_params(a);
  assert_int_equal(n, dn_model_count_params(b));
  assert_true(n <= MAX_PARAMS);
  float w[MAX_PARAMS];
  assert_ok(dn_model_get_weights(a, w, n));
  assert_ok(dn_model_set_weights(b, w, n));
  assert_ok(dn_model_set_seed(a, 3));
  assert_ok(dn_model_set_weights(a, w, n)); /* set_seed re-draws */
  assert_ok(dn_model_set_seed(b, 3));
  assert_ok(dn_model_set_weights(b, w, n));
  dn_history *ha = dn_fit(a, x, y, .epochs = 3, .batch_size = 2, .verbose = DN_VERBOSE_SILENT);
  dn_history *hb = dn_fit(b, x, y, .epochs = 3, .batch_size = 2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(ha);
  assert_non_null(hb);
  assert_memory_equal(dn_history_values(ha, "loss"), dn_history_values(hb, "loss"),
                      3 * sizeof(double));
  dn_history_free(ha);
  dn_history_free(hb);
  snapshot sa = snap(a), sb = snap(b);
  assert_same_snapshot(sa, sb);
  bool moved = false;
  for (size_t i = 0; i < n; i++)
    moved |= sa.w[i] != w[i];
  assert_true(moved); /* it trained */
}

static void test_ce_binary(void **state) {
  (void)state;
  /* hand: L = mean(y * softplus(-z) + (1 - y) * softplus(z)) = mean(-log p or -log(1 - p)) */
  const float y[3] = {1, 0, 1};
  double hand = 0;
  for (size_t r = 0; r < 3; r++) {
    double z;
    tiny_logits(1, r, &z);
    hand += y[r] == 1.0f ? log1p(exp(-z)) : log1p(exp(z));
  }
  hand /= 3;
  const char *names[] = {"crossentropy", "ce", "binary_crossentropy", "bce"};
  float losses[4];
  for (size_t i = 0; i < 4; i++) {
    dn_model *m = tiny(1, "sigmoid", names[i]);
    losses[i] = evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(y, 3, 1));
    /* a rank-1 y is binary too (the output is 1 wide) */
    assert_true(evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_1d(y, 3)) == losses[i]);
    dn_model_free(m);
  }
  assert_close(losses[0], hand, 1e-6, 1e-6);
  for (size_t i = 1; i < 4; i++)
    assert_true(losses[i] == losses[0]);

  /* a larger net against the formula on its own predictions (clipped as Keras's backends) */
  dn_tensor x = mat(ROWS, IN, 1), lab = labels(ROWS, 2);
  dn_model *ce = dn_sequential(dn_dense(4, .activation = "tanh", .input_dim = IN),
                               dn_dense(1, .activation = "sigmoid"));
  dn_model *bce = dn_sequential(dn_dense(4, .activation = "tanh", .input_dim = IN),
                                dn_dense(1, .activation = "sigmoid"));
  assert_non_null(ce);
  assert_non_null(bce);
  assert_ok(dn_compile(ce, .optimizer = "adam", .loss = "crossentropy"));
  assert_ok(dn_compile(bce, .optimizer = "adam", .loss = "binary_crossentropy"));
  float p[ROWS];
  assert_ok(dn_predict(ce, x, dn_tensor_2d(p, ROWS, 1)));
  double want = 0;
  for (size_t r = 0; r < ROWS; r++) {
    double q = fmin(fmax((double)p[r], 1e-7), 1 - 1e-7);
    want -= lab.data[r] == 1.0f ? log(q) : log(1 - q);
  }
  want /= ROWS;
  assert_close(evaluate(ce, x, lab), want, 1e-6, 1e-6);
  assert_same_training(ce, bce, x, lab);
  dn_model_free(ce);
  dn_model_free(bce);
}

/* softmax of the tiny net's row r, in double */
static void tiny_softmax(size_t r, double *p) {
  double z[3], zmax, sum = 0;
  tiny_logits(3, r, z);
  zmax = fmax(z[0], fmax(z[1], z[2]));
  for (size_t j = 0; j < 3; j++)
    sum += p[j] = exp(z[j] - zmax);
  for (size_t j = 0; j < 3; j++)
    p[j] /= sum;
}

static void test_ce_sparse(void **state) {
  (void)state;
  const float lab[3] = {0, 2, 1};
  double hand = 0;
  for (size_t r = 0; r < 3; r++) {
    double p[3];
    tiny_softmax(r, p);
    hand -= log(p[(size_t)lab[r]]);
  }
  hand /= 3;
  const char *names[] = {"crossentropy", "ce", "sparse_categorical_crossentropy"};
  float losses[3];
  for (size_t i = 0; i < 3; i++) {
    /* one column of labels, and rank 1 (each on a fresh model: the first call resolves) */
    dn_model *m = tiny(3, "softmax", names[i]);
    losses[i] = evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(lab, 3, 1));
    dn_model_free(m);
    m = tiny(3, "softmax", names[i]);
    assert_true(evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_1d(lab, 3)) == losses[i]);
    dn_model_free(m);
  }
  assert_close(losses[0], hand, 1e-6, 1e-6);
  assert_true(losses[1] == losses[0] && losses[2] == losses[0]);

  /* resolved once: a one-hot y afterwards is the wrong width for sparse labels */
  dn_model *m = tiny(3, "softmax", "crossentropy");
  assert_true(evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_1d(lab, 3)) == losses[0]);
  float loss = -1.0f;
  SHAPE(dn_evaluate(m, dn_tensor_2d(TX, 3, 2), one_hot(3, 3), &loss), "dn_evaluate", "y", 3, 1);
  dn_model_free(m);

  /* trained: as sparse_categorical_crossentropy, bit for bit */
  dn_tensor x = mat(ROWS, IN, 1), y = labels(ROWS, OUT);
  dn_model *ce = dn_sequential(dn_dense(OUT, .activation = "softmax", .input_dim = IN));
  dn_model *sc = dn_sequential(dn_dense(OUT, .activation = "softmax", .input_dim = IN));
  assert_non_null(ce);
  assert_non_null(sc);
  assert_ok(dn_compile(ce, .optimizer = "adam", .loss = "ce"));
  assert_ok(dn_compile(sc, .optimizer = "adam", .loss = "sparse_categorical_crossentropy"));
  assert_same_training(ce, sc, x, y);
  dn_model_free(ce);
  dn_model_free(sc);
}

static void test_ce_categorical(void **state) {
  (void)state;
  /* one-hot rows of the labels {0, 2, 1}, and soft targets */
  const float hot[9] = {1, 0, 0, 0, 0, 1, 0, 1, 0};
  const float soft[9] = {0.2f, 0.5f, 0.3f, 0.0f, 0.25f, 0.75f, 1.0f, 0.0f, 0.0f};
  double hand_hot = 0, hand_soft = 0;
  for (size_t r = 0; r < 3; r++) {
    double p[3];
    tiny_softmax(r, p);
    for (size_t j = 0; j < 3; j++) {
      hand_hot -= hot[3 * r + j] * log(p[j]);
      hand_soft -= soft[3 * r + j] * log(p[j]);
    }
  }
  hand_hot /= 3;
  hand_soft /= 3;
  const char *names[] = {"crossentropy", "ce", "categorical_crossentropy", "cce"};
  float lh[4], ls[4];
  for (size_t i = 0; i < 4; i++) {
    dn_model *m = tiny(3, "softmax", names[i]);
    lh[i] = evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(hot, 3, 3));
    ls[i] = evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(soft, 3, 3));
    dn_model_free(m);
  }
  assert_close(lh[0], hand_hot, 1e-6, 1e-6);
  assert_close(ls[0], hand_soft, 1e-6, 1e-6);
  for (size_t i = 1; i < 4; i++)
    assert_true(lh[i] == lh[0] && ls[i] == ls[0]);
  /* resolved once: 1-column labels afterwards are not one-hot */
  dn_model *m = tiny(3, "softmax", "ce");
  assert_true(evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(hot, 3, 3)) == lh[0]);
  float loss = -1.0f;
  const float lab[3] = {0, 2, 1};
  SHAPE(dn_evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(lab, 3, 1), &loss), "dn_evaluate", "y",
        1, 3);
  dn_model_free(m);

  dn_tensor x = mat(ROWS, IN, 1), y = one_hot(ROWS, OUT);
  dn_model *ce = dn_sequential(dn_dense(OUT, .activation = "softmax", .input_dim = IN));
  dn_model *cc = dn_sequential(dn_dense(OUT, .activation = "softmax", .input_dim = IN));
  assert_non_null(ce);
  assert_non_null(cc);
  assert_ok(dn_compile(ce, .optimizer = "adam", .loss = "crossentropy"));
  assert_ok(dn_compile(cc, .optimizer = "adam", .loss = "categorical_crossentropy"));
  assert_same_training(ce, cc, x, y);
  dn_model_free(ce);
  dn_model_free(cc);
}

static double nan_rate(size_t epoch, double learning_rate, void *user) {
  (void)epoch;
  (void)user;
  return learning_rate * NAN;
}

/* A failed first call does not resolve the loss: y that fits none of the three (or one-hot y in
 * a fit failing before its first step), then sparse labels, which must still resolve to sparse;
 * and a 1-wide output takes no other width. */
static void test_ce_failed_call_resolves_nothing(void **state) {
  (void)state;
  const float lab[3] = {0, 2, 1};
  dn_model *m = tiny(3, "softmax", "crossentropy"), *sc = tiny(3, "softmax", "scce");
  float loss = -1.0f;
  SHAPE(dn_evaluate(m, dn_tensor_2d(TX, 3, 2), mat(3, 2, 1), &loss), "dn_evaluate", "y", 2, 3);
  SHAPE(dn_train_on_batch(m, dn_tensor_2d(TX, 3, 2), mat(3, 4, 1), &loss), "dn_train_on_batch", "y",
        4, 3);
  SHAPE(FIT(m, dn_tensor_2d(TX, 3, 2), mat(2, 1, 1)), "dn_fit", "y", 2, 3);
  assert_true(loss == -1.0f);
  assert_true(evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(lab, 3, 1)) ==
              evaluate(sc, dn_tensor_2d(TX, 3, 2), dn_tensor_2d(lab, 3, 1)));
  dn_model_free(m);

  /* a fit that fails after its checks but before its first step (a CSVLogger that cannot open
   * its file) leaves the loss unresolved too: one-hot targets there, sparse labels after */
  m = tiny(3, "softmax", "crossentropy");
  poison();
  assert_null(
      dn_fit(m, dn_tensor_2d(TX, 3, 2), one_hot(3, 3), .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_csv_logger("/nonexistent-dir/l.csv"), NULL}));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  assert_true(evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_1d(lab, 3)) ==
              evaluate(sc, dn_tensor_2d(TX, 3, 2), dn_tensor_1d(lab, 3)));
  dn_model_free(m);
  /* the same with a LearningRateScheduler whose NaN rate stops fit at the first epoch's begin */
  m = tiny(3, "softmax", "crossentropy");
  poison();
  assert_null(
      dn_fit(m, dn_tensor_2d(TX, 3, 2), one_hot(3, 3), .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_learning_rate_scheduler(nan_rate, NULL), NULL}));
  assert_int_equal(dn_last_status(), DN_ERR_NUMERIC);
  assert_true(evaluate(m, dn_tensor_2d(TX, 3, 2), dn_tensor_1d(lab, 3)) ==
              evaluate(sc, dn_tensor_2d(TX, 3, 2), dn_tensor_1d(lab, 3)));
  dn_model_free(m);
  dn_model_free(sc);

  dn_model *b = tiny(1, "sigmoid", "ce");
  SHAPE(dn_evaluate(b, dn_tensor_2d(TX, 3, 2), mat(3, 2, 1), &loss), "dn_evaluate", "y", 2, 1);
  dn_model_free(b);
}

/* ---- huge row counts (issue 12) ---------------------------------------------------------- */

/* Views over an 8-float array that claim far more rows. Every size the library computes from
 * them would overflow, so each call refuses them with DN_ERR_SHAPE before reading anything (a
 * read past the array would crash under ASan), writes nothing and changes nothing. */
static void huge_rows_refused(dn_model *m, size_t rows, const char *needle) {
  float small[8] = {0.5f, -1, 2, 0.25f, 1, 1, -2, 3};
  float out[8];
  for (size_t i = 0; i < 8; i++)
    out[i] = value(i, 5);
  dn_tensor x = dn_tensor_2d(small, rows, 2), y = dn_tensor_2d(small, rows, 1);
  dn_tensor yo = dn_tensor_2d(out, rows, 1);
  snapshot s = snap(m);
  float loss = 7;
  double v[2] = {7, 7};
  dn_gradient_check_report r = {0};
  assert_status_msg(FIT(m, x, y), DN_ERR_SHAPE, needle);
  assert_non_null(strstr(dn_last_error(), "dn_fit: x has"));
  assert_status_msg(FIT(m, x, y, .validation_split = 0.5), DN_ERR_SHAPE, needle);
  assert_status_msg(dn_evaluate(m, x, y, &loss), DN_ERR_SHAPE, needle);
  assert_non_null(strstr(dn_last_error(), "dn_evaluate: x has"));
  assert_status_msg(dn_evaluate_metrics(m, x, y, v, 2), DN_ERR_SHAPE, needle);
  assert_status_msg(dn_train_on_batch(m, x, y, &loss), DN_ERR_SHAPE, needle);
  assert_status_msg(dn_test_on_batch(m, x, y, &loss), DN_ERR_SHAPE, needle);
  assert_status_msg(dn_predict(m, x, yo), DN_ERR_SHAPE, needle);
  assert_non_null(strstr(dn_last_error(), "dn_predict: x has"));
  assert_status_msg(dn_predict_on_batch(m, x, yo), DN_ERR_SHAPE, needle);
  assert_status_msg(dn_model_forward(m, x, false, yo), DN_ERR_SHAPE, needle);
  assert_non_null(strstr(dn_last_error(), "dn_model_forward: x has"));
  assert_status_msg(dn_model_forward(m, x, true, yo), DN_ERR_SHAPE, needle);
  if (dn_model_input_dim(m) != 0) {
    assert_status_msg(dn_model_gradient_check(m, x, yo, &r), DN_ERR_SHAPE, needle);
    assert_non_null(strstr(dn_last_error(), "dn_model_gradient_check: x has"));
  }
  /* a huge output behind a small input: only the rows x has are written, so it is accepted
   * when its size is valid, and refused when it overflows */
  if (strstr(needle, "overflows") != NULL) {
    assert_status_msg(dn_predict(m, dn_tensor_2d(small, 2, 2), yo), DN_ERR_SHAPE, needle);
    assert_non_null(strstr(dn_last_error(), "dn_predict: y has"));
  }
  assert_float_equal(loss, 7, 0);
  assert_float_equal(v[0], 7, 0);
  assert_untouched(dn_tensor_2d(out, 8, 1), 5);
  ASSERT_UNCHANGED(m, s);
}

static void test_huge_rows(void **state) {
  (void)state;
  /* 2 -> Dense(64) -> Dense(1), built and unbuilt */
  dn_model *built = dn_sequential(dn_dense(64, .activation = "relu", .input_dim = 2), dn_dense(1));
  dn_model *unbuilt = dn_sequential(dn_dense(64, .activation = "relu"), dn_dense(1));
  assert_ok(dn_compile(built, .optimizer = "adam", .loss = "mse"));
  assert_ok(dn_compile(unbuilt, .optimizer = "adam", .loss = "mse"));
  /* x's own size overflows: SIZE_MAX / 2 rows of 2 columns */
  huge_rows_refused(built, SIZE_MAX / 2, "overflows");
  huge_rows_refused(unbuilt, SIZE_MAX / 2, "overflows");
  if (sizeof(size_t) == 8) {
    /* x's own size is valid (2^59 floats), but the rows at the 64-wide layer are not */
    size_t rows = (size_t)1 << 58;
    huge_rows_refused(built, rows,
                      "x has 288230376151711744 rows; at the model's widest layer (64 wide)");
    huge_rows_refused(unbuilt, rows, "at the model's widest layer (64 wide)");
  }
  assert_int_equal(dn_model_input_dim(unbuilt), 0);

  /* a view whose bytes would run past the top of the address space */
  const float *top = (const float *)(uintptr_t)((UINTPTR_MAX - 63) & ~(uintptr_t)63);
  float out2[64];
  assert_status_msg(dn_predict(built, dn_tensor_2d(top, 32, 2), dn_tensor_2d(out2, 32, 1)),
                    DN_ERR_SHAPE, "pass the end of the address space");
  assert_non_null(strstr(dn_last_error(), "dn_predict: x has shape [32 x 2]"));

  /* hand-driven passes after a real forward of 2 rows */
  float small[4] = {1, 2, 3, 4}, yo[2], dy[2] = {1, -1}, dx[4];
  assert_ok(dn_model_forward(built, dn_tensor_2d(small, 2, 2), false, dn_tensor_2d(yo, 2, 1)));
  assert_status_msg(dn_model_backward(built, dn_tensor_2d(dy, SIZE_MAX / 2, 1)), DN_ERR_SHAPE,
                    "overflows");
  assert_status_msg(
      dn_model_backward_input(built, dn_tensor_2d(dy, 2, 1), dn_tensor_2d(dx, SIZE_MAX / 2, 2)),
      DN_ERR_SHAPE, "dn_model_backward_input: dx has shape");
  assert_ok(dn_model_backward_input(built, dn_tensor_2d(dy, 2, 1), dn_tensor_2d(dx, 2, 2)));

  /* Normalization adapt: x's size overflows */
  dn_layer *z = dn_normalization();
  assert_status_msg(dn_normalization_adapt(z, dn_tensor_2d(small, SIZE_MAX / 2, 2)), DN_ERR_SHAPE,
                    "dn_normalization_adapt: x has shape");
  assert_int_equal(dn_layer_output_dim(z), 0);
  dn_layer_free(z);
  dn_model_free(built);
  dn_model_free(unbuilt);
}

/* fit's validation split on a row count that double cannot hold exactly: the training part is
 * never more than the rows (0.1 read past x here), so a split too small to leave a validation
 * row is DN_ERR_ARG before anything is read or allocated. */
static void test_split_of_huge_rows(void **state) {
  (void)state;
  if (sizeof(size_t) != 8)
    skip();
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 1));
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  float small[2] = {1, 2};
  size_t rows = ((size_t)1 << 60) - 1; /* rounds up to 2^60 as a double */
  dn_tensor x = dn_tensor_2d(small, rows, 1), y = dn_tensor_2d(small, rows, 1);
  snapshot s = snap(m);
  assert_status_msg(FIT(m, x, y, .validation_split = 1e-300), DN_ERR_ARG,
                    "leaves 1152921504606846975 training and 0 validation rows");
  ASSERT_UNCHANGED(m, s);
  dn_model_free(m);
}

int main(void) {
#define T(f) cmocka_unit_test_teardown(f, free_buffers)
  const struct CMUnitTest tests[] = {
      T(test_issue_example),
      T(test_x_width),
      T(test_y_width),
      T(test_y_width_crossentropies),
      T(test_unequal_rows),
      T(test_outputs),
      T(test_rank_and_zero_dims),
      T(test_fit_callbacks_on_shape_error),
      T(test_unbuilt_fit),
      T(test_unbuilt_predict),
      T(test_unbuilt_forward),
      T(test_normalization_adapt),
      T(test_ce_binary),
      T(test_ce_sparse),
      T(test_ce_categorical),
      T(test_ce_failed_call_resolves_nothing),
      T(test_huge_rows),
      T(test_split_of_huge_rows),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
