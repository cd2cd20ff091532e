/* test_fit_options.c -- fit's class_weight, validation_freq, steps_per_epoch and
 * validation_batch_size (Keras 3's semantics), and the progress bars of evaluate and predict. */
#define _POSIX_C_SOURCE 200809L
#include "dn_test.h"

#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------------ */

/* Deterministic values in [-1, 1]. */
static void make_x(float *x, size_t rows, size_t cols) {
  for (size_t i = 0; i < rows * cols; i++)
    x[i] = (float)sin(1.7 * (double)i + 0.3);
}

/* 2 -> relu 4 -> `out` units with `act`, compiled with `loss` and Adam. */
static dn_model *model_for(size_t out, const char *act, const char *loss) {
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_dense(out, .activation = act));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = loss));
  return m;
}

/* A second model with the same architecture and weights. */
static dn_model *twin(const dn_model *a, size_t out, const char *act, const char *loss) {
  dn_model *b = model_for(out, act, loss);
  size_t n = dn_model_count_params(a);
  float *w = malloc(n * sizeof *w);
  assert_ok(dn_model_get_weights(a, w, n));
  assert_ok(dn_model_set_weights(b, w, n));
  free(w);
  return b;
}

static void assert_same_weights(const dn_model *a, const dn_model *b) {
  size_t n = dn_model_count_params(a);
  assert_int_equal(n, dn_model_count_params(b));
  float *wa = malloc(n * sizeof *wa), *wb = malloc(n * sizeof *wb);
  assert_ok(dn_model_get_weights(a, wa, n));
  assert_ok(dn_model_get_weights(b, wb, n));
  assert_memory_equal(wa, wb, n * sizeof *wa); /* bit-identical */
  free(wa);
  free(wb);
}

/* ---- class_weight --------------------------------------------------------------- */

enum { N = 24 };

/* class_weight on `y` (width tcols) equals the same fit with each row weighted by hand. */
static void check_class_weight_as_sample_weight(size_t out, const char *act, const char *loss,
                                                const float *y, size_t tcols, const float *cw,
                                                size_t ncw, const float *rowcls, const float *sw) {
  float x[2 * N], w[N];
  make_x(x, N, 2);
  for (size_t r = 0; r < N; r++)
    w[r] = sw ? cw[(size_t)rowcls[r]] * sw[r] : cw[(size_t)rowcls[r]];
  dn_model *a = model_for(out, act, loss), *b = twin(a, out, act, loss);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, tcols);
  dn_history *ha = dn_fit(a, tx, ty, .epochs = 3, .batch_size = 5, .seed = 11,
                          .verbose = DN_VERBOSE_SILENT, .class_weight = dn_tensor_1d(cw, ncw),
                          .sample_weight = sw ? dn_tensor_2d(sw, N, 1) : (dn_tensor){0});
  dn_history *hb = dn_fit(b, tx, ty, .epochs = 3, .batch_size = 5, .seed = 11,
                          .verbose = DN_VERBOSE_SILENT, .sample_weight = dn_tensor_2d(w, N, 1));
  assert_non_null(ha);
  assert_non_null(hb);
  assert_same_weights(a, b);
  assert_memory_equal(dn_history_values(ha, "loss"), dn_history_values(hb, "loss"),
                      3 * sizeof(double));
  dn_history_free(ha);
  dn_history_free(hb);
  dn_model_free(a);
  dn_model_free(b);
}

static void test_class_weight_binary_column(void **state) {
  (void)state;
  float y[N], cls[N];
  for (size_t r = 0; r < N; r++)
    cls[r] = y[r] = (float)(r % 3 == 0);
  const float cw[] = {0.5f, 3.0f};
  check_class_weight_as_sample_weight(1, "sigmoid", "binary_crossentropy", y, 1, cw, 2, cls, NULL);
  /* Soft labels round half to even as Keras's np.round: 0.5 -> class 0, 0.7 -> class 1. */
  for (size_t r = 0; r < N; r++) {
    y[r] = r % 4 == 0 ? 0.5f : r % 4 == 1 ? 0.7f : r % 4 == 2 ? 0.2f : 1.0f;
    cls[r] = r % 4 == 1 || r % 4 == 3;
  }
  check_class_weight_as_sample_weight(1, "sigmoid", "binary_crossentropy", y, 1, cw, 2, cls, NULL);
}

static void test_class_weight_sparse_and_one_hot(void **state) {
  (void)state;
  float y[N], onehot[3 * N], cls[N];
  for (size_t r = 0; r < N; r++) {
    cls[r] = y[r] = (float)(r * 7 % 3);
    for (size_t k = 0; k < 3; k++)
      onehot[3 * r + k] = k == (size_t)y[r] ? 0.9f : 0.05f; /* argmax, not exact one-hot */
  }
  const float cw[] = {1.0f, 0.25f, 4.0f};
  check_class_weight_as_sample_weight(3, "softmax", "sparse_categorical_crossentropy", y, 1, cw, 3,
                                      cls, NULL);
  check_class_weight_as_sample_weight(3, "softmax", "categorical_crossentropy", onehot, 3, cw, 3,
                                      cls, NULL);
  /* A table longer than the classes present is fine. */
  const float cw5[] = {1.0f, 0.25f, 4.0f, 9.0f, 9.0f};
  check_class_weight_as_sample_weight(3, "softmax", "sparse_categorical_crossentropy", y, 1, cw5, 5,
                                      cls, NULL);
}

/* Keras 3 refuses class_weight with sample_weight ("You cannot `class_weight` and
 * `sample_weight` at the same time."): DN_ERR_ARG, nothing trained. */
static void test_class_weight_with_sample_weight_refused(void **state) {
  (void)state;
  float x[2 * N], y[N], sw[N];
  make_x(x, N, 2);
  for (size_t r = 0; r < N; r++) {
    y[r] = (float)(r % 2);
    sw[r] = 0.1f + 0.3f * (float)(r % 5);
  }
  const float cw[] = {0.3f, 1.7f};
  dn_model *m = model_for(1, "sigmoid", "binary_crossentropy");
  assert_ok(dn_model_build(m, 2));
  size_t n = dn_model_count_params(m);
  float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
  assert_non_null(before);
  assert_non_null(after);
  assert_ok(dn_model_get_weights(m, before, n));
  dn_history *h = dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 2,
                         .verbose = DN_VERBOSE_SILENT, .class_weight = dn_tensor_1d(cw, 2),
                         .sample_weight = dn_tensor_2d(sw, N, 1));
  assert_null(h);
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(),
                         "dn_fit: you cannot use class_weight and sample_weight at the same time"));
  assert_ok(dn_model_get_weights(m, after, n));
  assert_memory_equal(before, after, n * sizeof *after);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  free(before);
  free(after);
  dn_model_free(m);
}

static void test_class_weight_errors(void **state) {
  (void)state;
  float x[2 * N], y[N], w0[32];
  make_x(x, N, 2);
  dn_model *m = model_for(1, NULL, "mse");
  size_t n = dn_model_count_params(m);
  assert_ok(dn_model_get_weights(m, w0, n));
  const float cw[] = {1.0f, 2.0f};
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  /* A regression target: 2.7 rounds to class 3, outside a table of 2. */
  for (size_t r = 0; r < N; r++)
    y[r] = r == 5 ? 2.7f : (float)(r % 2);
  assert_null(dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT, .class_weight = dn_tensor_1d(cw, 2)));
  assert_string_equal(dn_last_error(), "dn_fit: y row 5 holds 2.7, which is no class in "
                                       "class_weight's 2 entries (a class index rounded from it "
                                       "must be in [0, 2))");
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  y[5] = -0.7f; /* rounds to -1: no class */
  assert_null(dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT, .class_weight = dn_tensor_1d(cw, 2)));
  assert_non_null(strstr(dn_last_error(), "y row 5 holds -0.7"));
  y[5] = NAN;
  assert_null(dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT, .class_weight = dn_tensor_1d(cw, 2)));
  assert_non_null(strstr(dn_last_error(), "y row 5 holds nan"));
  y[5] = 1.0f;
  /* A table of two columns. */
  assert_null(
      dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT, .class_weight = dn_tensor_2d(cw, 1, 2)));
  assert_int_equal(dn_last_status(), DN_ERR_SHAPE);
  assert_non_null(strstr(dn_last_error(), "class_weight has 2 columns but takes 1"));
  float after[32];
  assert_ok(dn_model_get_weights(m, after, n));
  assert_memory_equal(after, w0, n * sizeof *w0); /* nothing changed */
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 0);
  dn_model_free(m);

  /* Sparse labels of 3 classes against a table of 2; a one-hot row of class 2 likewise. */
  dn_model *s = model_for(3, "softmax", "sparse_categorical_crossentropy");
  float ys[N], oh[3 * N] = {0};
  for (size_t r = 0; r < N; r++) {
    ys[r] = r == 7 ? 2.0f : (float)(r % 2);
    oh[3 * r + (size_t)ys[r]] = 1.0f;
  }
  assert_null(dn_fit(s, tx, dn_tensor_2d(ys, N, 1), .verbose = DN_VERBOSE_SILENT,
                     .class_weight = dn_tensor_1d(cw, 2)));
  assert_non_null(strstr(dn_last_error(), "y row 7 holds 2, which is no class"));
  dn_model_free(s);
  dn_model *c = model_for(3, "softmax", "categorical_crossentropy");
  assert_null(dn_fit(c, tx, dn_tensor_2d(oh, N, 3), .verbose = DN_VERBOSE_SILENT,
                     .class_weight = dn_tensor_1d(cw, 2)));
  assert_string_equal(dn_last_error(),
                      "dn_fit: y row 7 is of class 2 (its argmax) but class_weight has 2 entries");
  dn_model_free(c);
}

/* Keras: class_weight does not apply to the validation data (its val_loss is unweighted). */
static void test_class_weight_not_on_validation(void **state) {
  (void)state;
  float x[2 * N], y[N];
  double v[1];
  make_x(x, N, 2);
  for (size_t r = 0; r < N; r++)
    y[r] = (float)(r % 3 == 0);
  dn_model *m = model_for(1, "sigmoid", "binary_crossentropy");
  const float cw[] = {0.2f, 5.0f};
  dn_history *h = dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .batch_size = 4,
                         .validation_split = 0.25, .verbose = DN_VERBOSE_SILENT,
                         .class_weight = dn_tensor_1d(cw, 2));
  assert_non_null(h);
  /* validation rows: the last 6; evaluated in batches of 4 as fit does */
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x + 2 * 18, 6, 2), dn_tensor_2d(y + 18, 6, 1), v, 1,
                                .batch_size = 4, .verbose = DN_VERBOSE_SILENT));
  assert_true(dn_history_values(h, "val_loss")[0] == v[0]);
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- validation_freq -------------------------------------------------------------- */

static void test_validation_freq(void **state) {
  (void)state;
  float x[2 * N], y[N];
  make_x(x, N, 2);
  for (size_t r = 0; r < N; r++)
    y[r] = x[2 * r] - 0.5f * x[2 * r + 1];
  dn_model *m = model_for(1, NULL, "mse");
  FILE *out = tmpfile();
  dn_callback *es = dn_early_stopping(.monitor = "val_loss", .patience = 100);
  dn_history *h =
      dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 5, .batch_size = 6,
             .validation_split = 0.25, .validation_freq = 2, .verbose = DN_VERBOSE_LINES,
             .out = out, .callbacks = (dn_callback *[]){es, NULL});
  assert_non_null(h);
  const double *vl = dn_history_values(h, "val_loss");
  assert_non_null(vl);
  for (size_t e = 0; e < 5; e++) /* 1-based epochs 2 and 4 validate */
    assert_true(e % 2 == 1 ? isfinite(vl[e]) : isnan(vl[e]));
  char *text = dn_test_read_stream(out, NULL);
  /* epochs 1, 3, 5 log no val_ values; 2 and 4 do */
  char *line = strtok(text, "\n");
  int epoch = 0, warnings = 0;
  for (; line != NULL; line = strtok(NULL, "\n")) {
    if (strncmp(line, "Epoch ", 6) == 0) {
      epoch++;
      continue;
    }
    if (strncmp(line, "UserWarning: ", 13) == 0) {
      warnings++; /* EarlyStopping's, once, at the first epoch without val_loss */
      assert_int_equal(epoch, 1);
      assert_non_null(strstr(line, "`val_loss` which is not available"));
      continue;
    }
    assert_true(strncmp(line, "3/3 - ", 6) == 0);
    assert_true((strstr(line, "val_loss") != NULL) == (epoch % 2 == 0));
  }
  assert_int_equal(epoch, 5);
  assert_int_equal(warnings, 1);
  free(text);
  fclose(out);
  /* DN_ZERO_COUNT is no frequency */
  assert_null(dn_fit(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .validation_split = 0.25,
                     .validation_freq = DN_ZERO_COUNT, .verbose = DN_VERBOSE_SILENT));
  assert_non_null(strstr(dn_last_error(), "validation_freq must be >= 1"));
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- steps_per_epoch --------------------------------------------------------------- */

enum { R = 10 };

/* The same steps by hand: dn_train_on_batch on consecutive rows [from, to) in batches of bs. */
static void by_hand(dn_model *m, const float *x, const float *y, size_t from, size_t to,
                    size_t bs) {
  for (size_t s = from; s < to; s += bs) {
    size_t n = to - s < bs ? to - s : bs;
    assert_ok(dn_train_on_batch(m, dn_tensor_2d(x + 2 * s, n, 2), dn_tensor_2d(y + s, n, 1), NULL));
  }
}

static void test_steps_per_epoch_carries_on(void **state) {
  (void)state;
  float x[2 * R], y[R];
  make_x(x, R, 2);
  for (size_t r = 0; r < R; r++)
    y[r] = x[2 * r] * x[2 * r + 1];
  /* batch 2: a pass is 5 batches. 3 steps an epoch: epoch 1 takes batches 0-2, epoch 2 the
   * remaining 3-4 and runs out (Keras's warning), epoch 3 starts a fresh pass. */
  dn_model *a = model_for(1, NULL, "mse"), *b = twin(a, 1, NULL, "mse");
  FILE *out = tmpfile();
  dn_history *h =
      dn_fit(a, dn_tensor_2d(x, R, 2), dn_tensor_2d(y, R, 1), .epochs = 4, .batch_size = 2,
             .steps_per_epoch = 3, .no_shuffle = true, .verbose = DN_VERBOSE_LINES, .out = out);
  assert_non_null(h);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(a)), 3 + 2 + 3 + 2);
  by_hand(b, x, y, 0, 6, 2);
  by_hand(b, x, y, 6, 10, 2);
  by_hand(b, x, y, 0, 6, 2);
  by_hand(b, x, y, 6, 10, 2);
  assert_same_weights(a, b);
  char *text = dn_test_read_stream(out, NULL);
  const char *warning =
      "UserWarning: Your input ran out of data; interrupting training. Make sure that your "
      "dataset or generator can generate at least `steps_per_epoch * epochs` batches. You may "
      "need to use the `.repeat()` function when building your dataset.\n";
  char *at = strstr(text, warning);
  assert_non_null(at);                           /* in epoch 2, */
  assert_null(strstr(at + 1, "UserWarning"));    /* once per fit */
  assert_true(at > strstr(text, "Epoch 2/4\n")); /* before epoch 2's line, which shows 3/3 */
  assert_true(strncmp(at + strlen(warning), "3/3 - ", 6) == 0);
  free(text);
  fclose(out);
  dn_history_free(h);
  dn_model_free(a);
  dn_model_free(b);
}

static void test_steps_per_epoch_sets_batch_size(void **state) {
  (void)state;
  float x[2 * R], y[R];
  make_x(x, R, 2);
  for (size_t r = 0; r < R; r++)
    y[r] = x[2 * r] - x[2 * r + 1];
  /* No batch_size: ceil(10 / 3) = 4 rows a batch, 3 batches a pass = an epoch. */
  dn_model *a = model_for(1, NULL, "mse"), *b = twin(a, 1, NULL, "mse");
  dn_history *h = dn_fit(a, dn_tensor_2d(x, R, 2), dn_tensor_2d(y, R, 1), .epochs = 2,
                         .steps_per_epoch = 3, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  by_hand(b, x, y, 0, 10, 4);
  by_hand(b, x, y, 0, 10, 4);
  assert_same_weights(a, b);
  dn_history_free(h);
  /* More steps than a pass holds (batch 4: 3 batches): every epoch ends after the pass. */
  h = dn_fit(a, dn_tensor_2d(x, R, 2), dn_tensor_2d(y, R, 1), .epochs = 3, .batch_size = 4,
             .steps_per_epoch = 5, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(a)), 6 + 9);
  dn_history_free(h);
  /* Shuffled, batch 2 (passes of 5 batches), 4 steps an epoch: 4, then the last batch of the
   * pass (it runs out), then 4 of a fresh pass. */
  h = dn_fit(a, dn_tensor_2d(x, R, 2), dn_tensor_2d(y, R, 1), .epochs = 3, .batch_size = 2,
             .steps_per_epoch = 4, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(a)), 15 + 9);
  dn_history_free(h);
  assert_null(dn_fit(a, dn_tensor_2d(x, R, 2), dn_tensor_2d(y, R, 1),
                     .steps_per_epoch = DN_ZERO_COUNT, .verbose = DN_VERBOSE_SILENT));
  assert_non_null(strstr(dn_last_error(), "steps_per_epoch"));
  dn_model_free(a);
  dn_model_free(b);
}

/* ---- validation_batch_size ------------------------------------------------------------ */

static void test_validation_batch_size(void **state) {
  (void)state;
  float x[2 * N], y[N];
  make_x(x, N, 2);
  for (size_t r = 0; r < N; r++)
    y[r] = 0.3f * x[2 * r] + x[2 * r + 1];
  dn_model *a = model_for(1, NULL, "mse"), *b = twin(a, 1, NULL, "mse");
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_history *ha = dn_fit(a, tx, ty, .batch_size = 4, .validation_split = 0.5, .seed = 3,
                          .verbose = DN_VERBOSE_SILENT);
  dn_history *hb = dn_fit(b, tx, ty, .batch_size = 4, .validation_split = 0.5, .seed = 3,
                          .validation_batch_size = 5, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(ha);
  assert_non_null(hb);
  assert_same_weights(a, b); /* validation changes nothing in training */
  /* By hand: the mean squared error of the 12 validation rows, in double. */
  float pred[N / 2];
  assert_ok(dn_predict(a, dn_tensor_2d(x + N, N / 2, 2), dn_tensor_2d(pred, N / 2, 1)));
  double want = 0.0;
  for (size_t r = 0; r < N / 2; r++)
    want += ((double)pred[r] - y[N / 2 + r]) * ((double)pred[r] - y[N / 2 + r]);
  want /= N / 2;
  double va = dn_history_values(ha, "val_loss")[0], vb = dn_history_values(hb, "val_loss")[0];
  assert_close(va, want, 0, 1e-6);
  assert_close(vb, want, 0, 1e-6);
  dn_history_free(ha);
  dn_history_free(hb);
  assert_null(dn_fit(a, tx, ty, .validation_split = 0.5, .validation_batch_size = DN_ZERO_COUNT,
                     .verbose = DN_VERBOSE_SILENT));
  assert_non_null(strstr(dn_last_error(), "validation_batch_size must be >= 1"));
  dn_model_free(a);
  dn_model_free(b);
}

/* ---- progress display of evaluate and predict ------------------------------------------- */

#define BAR20                                                                                      \
  "\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94"   \
  "\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2"   \
  "\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81"

/* A value as Keras's Progbar prints it (BAR compares |v|, LINES v, with 1e-3). */
static void keras_value(char *buf, size_t cap, double v) {
  snprintf(buf, cap, fabs(v) > 1e-3 ? "%.4f" : "%.4e", v);
}

/* The text after "<k>/<k> " up to " - loss" with the time fields replaced: "Ns Tus/step" (BAR)
 * or "- Ns - Tus/step" (LINES) is checked by shape and cut out; returns where the values
 * start (or NULL). */
static const char *skip_times(const char *p, bool lines) {
  unsigned secs, t;
  char unit[3];
  int used = 0;
  if (lines)
    sscanf(p, "- %us - %u%2[mu]s/step%n", &secs, &t, unit, &used);
  else
    sscanf(p, "%us %u%2[mu]s/step%n", &secs, &t, unit, &used);
  if (used == 0) /* "0s/step" has no unit letter */
    sscanf(p, lines ? "- %us - %us/step%n" : "%us %us/step%n", &secs, &t, &used);
  return used ? p + used : NULL;
}

static dn_model *regression_model(float *x, float *y, size_t rows) {
  make_x(x, rows, 2);
  for (size_t r = 0; r < rows; r++)
    y[r] = 0.7f * x[2 * r] - x[2 * r + 1];
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_compile(m, .loss = "mse", .metrics = (const char *[]){"mae", NULL}));
  return m;
}

static void test_evaluate_progress_lines(void **state) {
  (void)state;
  float x[2 * N], y[N];
  dn_model *m = regression_model(x, y, N);
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  double v[2], quiet[2];
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), v, 2,
                                .batch_size = 10, .verbose = DN_VERBOSE_LINES, .out = out));
  fclose(out);
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), quiet, 2,
                                .batch_size = 10, .verbose = DN_VERBOSE_SILENT));
  assert_memory_equal(v, quiet, sizeof v); /* the display changes nothing */
  /* "3/3 - 0s - 1ms/step - loss: 0.1234 - mae: 0.2345\n": Keras's evaluate(verbose=2) */
  assert_true(strncmp(text, "3/3 ", 4) == 0);
  const char *p = skip_times(text + 4, true);
  assert_non_null(p);
  char want[128], a[32], b[32];
  keras_value(a, sizeof a, v[0]);
  keras_value(b, sizeof b, v[1]);
  snprintf(want, sizeof want, " - loss: %s - mae: %s\n", a, b);
  assert_string_equal(p, want);
  free(text);
  /* AUTO on a stream that is no terminal: the line, as fit */
  out = open_memstream(&text, &len);
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), v, 2, .out = out));
  fclose(out);
  assert_true(strncmp(text, "1/1 - ", 6) == 0 && strchr(text, '\n') == text + len - 1);
  free(text);
  out = open_memstream(&text, &len);
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), v, 2,
                                .verbose = DN_VERBOSE_SILENT, .out = out));
  fclose(out);
  assert_int_equal(len, 0);
  free(text);
  assert_status_msg(dn_evaluate_metrics(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), v, 2,
                                        .verbose = (dn_verbose)9),
                    DN_ERR_ARG, "dn_evaluate_metrics: verbose 9 is not a dn_verbose value");
  dn_model_free(m);
}

static void test_evaluate_progress_bar(void **state) {
  (void)state;
  float x[2 * N], y[N];
  dn_model *m = regression_model(x, y, N);
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  double v[2], first[2];
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), v, 2,
                                .batch_size = 10, .verbose = DN_VERBOSE_BAR, .out = out));
  fclose(out);
  /* The first batch's draw (always shown) holds that batch's values: those of its 10 rows. */
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x, 10, 2), dn_tensor_2d(y, 10, 1), first, 2,
                                .verbose = DN_VERBOSE_SILENT));
  char want[160], a[32], b[32];
  assert_true(strncmp(text, "\r1/3 " BAR20 " ", 4 + 60 + 1) == 0);
  const char *p = skip_times(text + 65, false);
  assert_non_null(p);
  keras_value(a, sizeof a, first[0]);
  keras_value(b, sizeof b, first[1]);
  snprintf(want, sizeof want, " - loss: %s - mae: %s", a, b);
  assert_true(strncmp(p, want, strlen(want)) == 0);
  /* The last draw: "\b" x the previous width, "\r3/3 <bar> 0s 1ms/step - loss: .. - mae: ..",
   * padded with spaces to the previous width, then the newline. */
  const char *last = strrchr(text, '\r');
  assert_true(last[-1] == '\b');
  assert_true(strncmp(last, "\r3/3 " BAR20 " ", 65) == 0);
  p = skip_times(last + 65, false);
  assert_non_null(p);
  keras_value(a, sizeof a, v[0]);
  keras_value(b, sizeof b, v[1]);
  snprintf(want, sizeof want, " - loss: %s - mae: %s", a, b);
  assert_true(strncmp(p, want, strlen(want)) == 0);
  for (p += strlen(want); *p == ' '; p++)
    ;
  assert_string_equal(p, "\n");
  free(text);
  dn_model_free(m);
}

static void test_predict_progress(void **state) {
  (void)state;
  float x[2 * N], y[N], got[N], want[N];
  dn_model *m = regression_model(x, y, N);
  assert_ok(dn_predict(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(want, N, 1)));
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_ok(dn_model_predict(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(got, N, 1), .batch_size = 5,
                             .verbose = DN_VERBOSE_BAR, .out = out));
  fclose(out);
  assert_memory_equal(got, want, sizeof got);
  /* Keras's predict: "5/5 ━━━━━━━━━━━━━━━━━━━━ 0s 1ms/step", no values */
  assert_true(strncmp(text, "\r1/5 " BAR20 " ", 65) == 0);
  const char *last = strrchr(text, '\r');
  assert_true(strncmp(last, "\r5/5 " BAR20 " ", 65) == 0);
  const char *p = skip_times(last + 65, false);
  assert_non_null(p);
  while (*p == ' ')
    p++;
  assert_string_equal(p, "\n");
  free(text);
  out = open_memstream(&text, &len);
  assert_ok(dn_model_predict(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(got, N, 1),
                             .verbose = DN_VERBOSE_LINES, .out = out));
  fclose(out);
  assert_true(strncmp(text, "1/1 ", 4) == 0);
  p = skip_times(text + 4, true);
  assert_non_null(p);
  assert_string_equal(p, "\n");
  free(text);
  assert_status_msg(dn_model_predict(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(got, N, 1),
                                     .batch_size = DN_ZERO_COUNT),
                    DN_ERR_ARG, "dn_model_predict: batch_size");
  assert_status_msg(dn_model_predict(m, dn_tensor_2d(x, N, 2), dn_tensor_2d(got, N, 1),
                                     .verbose = (dn_verbose)-1),
                    DN_ERR_ARG, "dn_model_predict: verbose -1");
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_class_weight_binary_column),
      cmocka_unit_test(test_class_weight_sparse_and_one_hot),
      cmocka_unit_test(test_class_weight_with_sample_weight_refused),
      cmocka_unit_test(test_class_weight_errors),
      cmocka_unit_test(test_class_weight_not_on_validation),
      cmocka_unit_test(test_validation_freq),
      cmocka_unit_test(test_steps_per_epoch_carries_on),
      cmocka_unit_test(test_steps_per_epoch_sets_batch_size),
      cmocka_unit_test(test_validation_batch_size),
      cmocka_unit_test(test_evaluate_progress_lines),
      cmocka_unit_test(test_evaluate_progress_bar),
      cmocka_unit_test(test_predict_progress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
