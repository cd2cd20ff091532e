/* test_source.c -- data that streams: batch sources (dn_source), fit / evaluate / predict and
 * Normalization's adapt from a source, and the CSV source (columns, errors, shuffle buffer,
 * bounded memory). */
#define _POSIX_C_SOURCE 200809L
#include "dn_test.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_dir[] = "/tmp/dn_test_source_XXXXXX";

static int setup(void **state) {
  (void)state;
  return mkdtemp(tmp_dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(const char *name) {
  static char path[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(path[k], sizeof path[k], "%s/%s", tmp_dir, name);
  return path[k];
}

static const char *write_text(const char *name, const char *text) {
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  return path;
}

/* A regression data set of `rows` rows: 3 features and target "t" (column 2 of 4), written with
 * 9 significant digits so the floats read back exactly. */
static const char *write_data(const char *name, size_t rows, unsigned seed) {
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fprintf(f, "a,b,t,c\n");
  uint64_t s = seed * 2654435761u + 1;
  for (size_t r = 0; r < rows; r++) {
    float v[3];
    for (int j = 0; j < 3; j++) {
      s = s * 6364136223846793005u + 1442695040888963407u;
      v[j] = (float)((double)(s >> 40) / (double)(1u << 24) * 4.0 - 2.0);
    }
    float t = 0.5f * v[0] - 1.5f * v[1] + v[2] * v[2];
    fprintf(f, "%.9g,%.9g,%.9g,%.9g\n", v[0], v[1], t, v[2]);
  }
  assert_int_equal(fclose(f), 0);
  return path;
}

static dn_model *small_model(void) {
  dn_model *m = dn_sequential(dn_dense(8, .activation = "relu", .input_dim = 3), dn_dropout(0.1),
                              dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, 11));
  assert_ok(
      dn_compile(m, .optimizer = "adam", .loss = "mse", .metrics = (const char *[]){"mae", NULL}));
  return m;
}

static void assert_same_weights(const dn_model *a, const dn_model *b) {
  size_t n = dn_model_count_params(a);
  assert_int_equal(n, dn_model_count_params(b));
  float *wa = calloc(n, sizeof *wa), *wb = calloc(n, sizeof *wb);
  assert_ok(dn_model_get_weights(a, wa, n));
  assert_ok(dn_model_get_weights(b, wb, n));
  for (size_t i = 0; i < n; i++)
    if (memcmp(&wa[i], &wb[i], sizeof(float)) != 0) {
      print_error("weight %zu: %.9g vs %.9g\n", i, wa[i], wb[i]);
      fail();
    }
  free(wa);
  free(wb);
}

/* ---- a source over arrays, with a failure on demand ---- */

typedef struct array_source {
  const float *x, *y;
  size_t rows, xc, yc, pos;
  size_t pass, batch;           /* the current pass (1-based) and batch (0-based) */
  size_t fail_pass, fail_batch; /* fail there (fail_pass 0: never) */
} array_source;

static dn_status array_next(void *state, dn_tensor x, dn_tensor y, size_t *rows) {
  array_source *a = state;
  if (a->pass == 0)
    a->pass = 1;
  if (a->pass == a->fail_pass && a->batch == a->fail_batch)
    return DN_ERR_IO;
  size_t cap = dn_tensor_rows(x), n = a->rows - a->pos < cap ? a->rows - a->pos : cap;
  memcpy(x.data, a->x + a->pos * a->xc, n * a->xc * sizeof(float));
  memcpy(y.data, a->y + a->pos * a->yc, n * a->yc * sizeof(float));
  a->pos += n;
  a->batch++;
  *rows = n;
  return DN_OK;
}

static dn_status array_reset(void *state) {
  array_source *a = state;
  a->pos = 0;
  a->batch = 0;
  a->pass++;
  return DN_OK;
}

static dn_source *array_source_new(array_source *a, const dn_dataset *d) {
  *a = (array_source){.x = d->x.data,
                      .y = d->y.data,
                      .rows = dn_tensor_rows(d->x),
                      .xc = dn_tensor_cols(d->x),
                      .yc = dn_tensor_cols(d->y)};
  dn_source *s =
      dn_source(array_next, .state = a, .x_cols = a->xc, .y_cols = a->yc, .reset = array_reset);
  assert_non_null(s);
  return s;
}

/* ---- fit, evaluate, predict: equal to the in-memory calls ---- */

static void test_fit_matches_memory(void **state) {
  (void)state;
  const char *train = write_data("train.csv", 203, 1), *val = write_data("val.csv", 50, 2);
  const char *const targets[] = {"t", NULL};
  dn_dataset d, v;
  assert_ok(dn_csv_load(train, &d, .target_names = targets));
  assert_ok(dn_csv_load(val, &v, .target_names = targets));
  dn_model *a = small_model(), *b = small_model();
  dn_history *ha = dn_fit(a, d.x, d.y, .epochs = 3, .batch_size = 16, .no_shuffle = true,
                          .validation_x = v.x, .validation_y = v.y, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(ha);
  /* the shuffle buffer holds the whole file but shuffling is off: file order */
  dn_source *s =
      dn_csv_source(train, .target_names = targets, .no_shuffle = true, .shuffle_buffer = 1000);
  dn_source *vs = dn_csv_source(val, .target_names = targets, .no_shuffle = true);
  assert_non_null(s);
  assert_non_null(vs);
  size_t xc, yc, steps;
  assert_ok(dn_source_shape(s, &xc, &yc, &steps));
  assert_int_equal(xc, 3);
  assert_int_equal(yc, 1);
  assert_int_equal(steps, 0);
  dn_history *hb = dn_fit_source(b, s, .epochs = 3, .batch_size = 16, .validation_source = vs,
                                 .verbose = DN_VERBOSE_SILENT);
  assert_non_null(hb);
  assert_same_weights(a, b);
  assert_int_equal(dn_history_length(hb), 3);
  const char *keys[] = {"loss", "mae", "val_loss", "val_mae"};
  for (size_t k = 0; k < 4; k++) {
    const double *va = dn_history_values(ha, keys[k]), *vb = dn_history_values(hb, keys[k]);
    assert_non_null(vb);
    for (size_t e = 0; e < 3; e++)
      assert_true(memcmp(&va[e], &vb[e], sizeof(double)) == 0);
  }

  /* evaluate and predict from a source equal the in-memory calls */
  double ve[2], vm[2];
  assert_ok(dn_evaluate_metrics(a, v.x, v.y, ve, 2, .batch_size = 16));
  assert_ok(dn_evaluate_source(b, vs, vm, 2, .batch_size = 16));
  assert_true(memcmp(ve, vm, sizeof ve) == 0);
  assert_ok(dn_evaluate_source(b, vs, vm, 2, .batch_size = 16)); /* reset, the same again */
  assert_true(memcmp(ve, vm, sizeof ve) == 0);
  float pa[60], pb[60];
  size_t n = 0;
  assert_ok(dn_predict(a, v.x, dn_tensor_2d(pa, 50, 1)));
  assert_ok(dn_predict_source(b, vs, dn_tensor_2d(pb, 60, 1), .rows = &n));
  assert_int_equal(n, 50);
  assert_true(memcmp(pa, pb, 50 * sizeof(float)) == 0);
  assert_status_msg(dn_predict_source(b, vs, dn_tensor_2d(pb, 40, 1)), DN_ERR_SHAPE, "40 rows");

  /* a source of arrays with known steps gives the same as well */
  dn_model *c = small_model();
  array_source as;
  dn_source *src = array_source_new(&as, &d);
  dn_history *hc = dn_fit_source(c, src, .epochs = 3, .batch_size = 16, .validation_source = vs,
                                 .verbose = DN_VERBOSE_SILENT);
  assert_non_null(hc);
  assert_same_weights(a, c);

  dn_history_free(ha);
  dn_history_free(hb);
  dn_history_free(hc);
  dn_source_free(s);
  dn_source_free(vs);
  dn_source_free(src);
  dn_model_free(a);
  dn_model_free(b);
  dn_model_free(c);
  dn_dataset_free(&d);
  dn_dataset_free(&v);
}

/* A source that fails mid-epoch: fit returns its status, naming epoch and batch, and keeps the
 * steps taken (as dn_fit documents); one failing at the first batch leaves the model as it
 * was. */
static void test_source_error_mid_epoch(void **state) {
  (void)state;
  const char *train = write_data("err.csv", 100, 3);
  dn_dataset d;
  assert_ok(dn_csv_load(train, &d, .target_names = (const char *const[]){"t", NULL}));
  dn_model *a = small_model(), *b = small_model();
  array_source as;
  dn_source *src = array_source_new(&as, &d);
  as.fail_pass = 2;
  as.fail_batch = 3;
  assert_null(dn_fit_source(a, src, .epochs = 3, .batch_size = 10, .verbose = DN_VERBOSE_SILENT,
                            .callbacks = (dn_callback *[]){dn_early_stopping(), NULL}));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), "dn_fit_source: epoch 2, batch 3: "));
  assert_non_null(strstr(dn_last_error(), "DN_ERR_IO") != NULL ? "" : NULL);
  /* the reference: one epoch in file order, then three steps */
  dn_history *h =
      dn_fit(b, d.x, d.y, .batch_size = 10, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  for (size_t k = 0; k < 3; k++)
    assert_ok(dn_train_on_batch(b, dn_tensor_slice_rows(d.x, 10 * k, 10),
                                dn_tensor_slice_rows(d.y, 10 * k, 10), NULL));
  assert_same_weights(a, b);

  /* failing before the first step: the model is unchanged */
  dn_model *c = small_model(), *fresh = small_model();
  as.fail_pass = as.pass + 1; /* the next pass, at its first batch */
  as.fail_batch = 0;
  assert_null(dn_fit_source(c, src, .epochs = 2, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), "epoch 1, batch 0"));
  assert_same_weights(c, fresh);

  /* a source without reset can be read once: a second epoch is DN_ERR_STATE */
  array_source once = as;
  once.fail_pass = 0;
  once.pos = 0;
  dn_source *one = dn_source(array_next, .state = &once, .x_cols = 3, .y_cols = 1);
  assert_null(dn_fit_source(c, one, .epochs = 2, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_STATE);
  assert_non_null(strstr(dn_last_error(), "no reset callback"));
  /* a source of other widths: the shape error of dn_fit */
  dn_source *wide = dn_source(array_next, .state = &once, .x_cols = 4, .y_cols = 1);
  assert_null(dn_fit_source(c, wide, .verbose = DN_VERBOSE_SILENT));
  assert_int_equal(dn_last_status(), DN_ERR_SHAPE);
  assert_null(dn_fit_source(c, NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_null(dn_source(NULL, .x_cols = 1));
  dn_source_free(one);
  dn_source_free(wide);
  dn_source_free(src);
  dn_model_free(a);
  dn_model_free(b);
  dn_model_free(c);
  dn_model_free(fresh);
  dn_dataset_free(&d);
}

/* ---- the CSV source ---- */

/* Reads a whole pass of a source through dn_source_next into x (cap rows of xc) and y. */
static dn_status read_all(dn_source *s, float *x, float *y, size_t cap, size_t xc, size_t yc,
                          size_t *total) {
  *total = 0;
  dn_status st = dn_source_reset(s);
  for (size_t n = 1; st == DN_OK && n > 0;) {
    size_t room = cap - *total < 7 ? cap - *total : 7;
    if (room == 0)
      return DN_ERR_SHAPE;
    st = dn_source_next(s, dn_tensor_2d(x + *total * xc, room, xc),
                        yc ? dn_tensor_2d(y + *total * yc, room, yc) : (dn_tensor){0}, &n);
    *total += st == DN_OK ? n : 0;
  }
  return st;
}

/* The message dn_csv_load gives for a file, and the one the source gives (at creation or while
 * reading), must say the same after the function's name. */
static void check_same_error(const char *name, const char *text, dn_csv_load_options lo,
                             dn_csv_source_options so) {
  const char *path = write_text(name, text);
  dn_dataset d;
  lo.path = path;
  lo.out = &d;
  dn_status want = dn_csv_load_with(lo);
  assert_int_not_equal(want, DN_OK);
  char expected[600];
  const char *msg = dn_last_error();
  assert_true(strncmp(msg, "dn_csv_load: ", 13) == 0);
  snprintf(expected, sizeof expected, "dn_csv_source: %s", msg + 13);
  so.path = path;
  dn_source *s = dn_csv_source_with(so);
  dn_status got = dn_last_status();
  if (s != NULL) {
    float x[64], y[64];
    size_t n, xc, yc;
    assert_ok(dn_source_shape(s, &xc, &yc, NULL));
    got = read_all(s, x, y, 16, xc, yc, &n);
  }
  if (got != want || strstr(dn_last_error(), expected) == NULL) {
    print_error("%s: got %d '%s'\nwant %d '...%s'\n", name, got, dn_last_error(), want, expected);
    fail();
  }
  dn_source_free(s);
}

static void test_csv_errors_match_load(void **state) {
  (void)state;
  const char *const t[] = {"t", NULL};
  dn_csv_load_options lo = {.target_names = t};
  dn_csv_source_options so = {.target_names = t};
  check_same_error("bad_cell.csv", "a,t\n1,2\n3,x4\n5,6\n", lo, so);
  check_same_error("ragged.csv", "a,t\n1,2\n3,4,5\n", lo, so);
  check_same_error("empty_cell.csv", "a,t\n1,2\n3,\n", lo, so);
  check_same_error("quote.csv", "a,t\n1,2\n\"3\"x,4\n", lo, so);
  check_same_error("unterminated.csv", "a,t\n1,2\n\"3,4\n", lo, so);
  check_same_error("nan.csv", "a,t\n1,2\nnan,4\n", lo, so);
  check_same_error("no_rows.csv", "a,t\n", lo, so);
  check_same_error("empty.csv", "", lo, so);
  check_same_error("no_column.csv", "a,b\n1,2\n", lo, so);
  lo.max_record_bytes = so.max_record_bytes = 8;
  check_same_error("long.csv", "a,t\n1,2\n123456789,4\n", lo, so);
  /* the shuffle buffer does not change which error comes first */
  so = (dn_csv_source_options){.target_names = t, .shuffle_buffer = 2, .seed = 5};
  lo = (dn_csv_load_options){.target_names = t};
  check_same_error("late.csv", "a,t\n1,2\n3,4\n5,6\n7,8\n9,1o\n", lo, so);

  /* dropped rows: the same rows as dn_csv_load, counted */
  const char *path = write_text("drop.csv", "a,t\n1,2\nx,4\n5,6\n7,\n9,10\n");
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .target_names = t, .drop_invalid_rows = true));
  dn_source *s =
      dn_csv_source(path, .target_names = t, .drop_invalid_rows = true, .no_shuffle = true);
  assert_non_null(s);
  float x[16], y[16];
  size_t n;
  assert_ok(read_all(s, x, y, 16, 1, 1, &n));
  assert_int_equal(n, 3);
  assert_int_equal(dn_csv_source_dropped_rows(s), d.dropped_rows);
  assert_true(memcmp(x, d.x.data, 3 * sizeof(float)) == 0);
  assert_true(memcmp(y, d.y.data, 3 * sizeof(float)) == 0);
  dn_source_free(s);
  dn_dataset_free(&d);
  /* no_header: columns by index, the first row is data (and comes again after a reset) */
  path = write_text("plain.csv", "1;2;3\n4;5;6\n");
  s = dn_csv_source(path, .no_header = true, .delimiter = ';', .no_shuffle = true,
                    .target_columns = (const size_t[]){0}, .n_target_columns = 1);
  assert_non_null(s);
  for (int pass = 0; pass < 2; pass++) {
    assert_ok(read_all(s, x, y, 16, 2, 1, &n));
    assert_int_equal(n, 2);
    assert_true(x[0] == 2 && x[1] == 3 && x[2] == 5 && x[3] == 6 && y[0] == 1 && y[1] == 4);
  }
  dn_source_free(s);
  assert_null(dn_csv_source(NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_null(dn_csv_source(path, .feature_names = t, .feature_columns = (const size_t[]){0},
                            .n_feature_columns = 1));
  assert_non_null(strstr(dn_last_error(), "dn_csv_source: give features by name or by index"));
}

/* The shuffle buffer: each pass a permutation of the rows; seeded; a new order per pass; a
 * buffer of one row is the file order; rows drawn only from what the buffer has read. */
static void test_shuffle_buffer(void **state) {
  (void)state;
  enum { ROWS = 100 };
  char text[2048] = "i,t\n";
  for (int r = 0; r < ROWS; r++)
    snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%d\n", r, r);
  const char *path = write_text("order.csv", text);
  const char *const t[] = {"t", NULL};
  float x[3][ROWS + 8], y[ROWS + 8];
  size_t n;
  dn_source *a = dn_csv_source(path, .target_names = t, .shuffle_buffer = 1000, .seed = 9);
  dn_source *b = dn_csv_source(path, .target_names = t, .shuffle_buffer = 1000, .seed = 9);
  assert_ok(read_all(a, x[0], y, ROWS + 8, 1, 1, &n));
  assert_int_equal(n, ROWS);
  assert_ok(read_all(b, x[1], y, ROWS + 8, 1, 1, &n));
  assert_true(memcmp(x[0], x[1], ROWS * sizeof(float)) == 0); /* same seed, same order */
  assert_ok(read_all(a, x[2], y, ROWS + 8, 1, 1, &n));
  assert_true(memcmp(x[0], x[2], ROWS * sizeof(float)) != 0); /* the next pass: another order */
  for (int p = 0; p < 3; p++) {
    bool seen[ROWS] = {false};
    for (int i = 0; i < ROWS; i++) {
      int v = (int)x[p][i];
      assert_true(v >= 0 && v < ROWS && !seen[v]);
      seen[v] = true;
    }
  }
  dn_source_free(a);
  dn_source_free(b);
  a = dn_csv_source(path, .target_names = t, .shuffle_buffer = 1);
  assert_ok(read_all(a, x[0], y, ROWS + 8, 1, 1, &n));
  for (int i = 0; i < ROWS; i++)
    assert_true(x[0][i] == (float)i);
  dn_source_free(a);
  /* a buffer of 10: the k-th row out is among the first k + 10 rows of the file */
  a = dn_csv_source(path, .target_names = t, .shuffle_buffer = 10, .seed = 1);
  assert_ok(read_all(a, x[0], y, ROWS + 8, 1, 1, &n));
  bool moved = false;
  for (int i = 0; i < ROWS; i++) {
    assert_true(x[0][i] < (float)(i + 10));
    moved |= x[0][i] != (float)i;
  }
  assert_true(moved);
  dn_source_free(a);
}

/* ---- Normalization ---- */

static void test_adapt_source(void **state) {
  (void)state;
  const char *path = write_data("adapt.csv", 1001, 4);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *const[]){"t", NULL}));
  /* an offset that makes a naive sum of squares lose digits */
  for (size_t i = 0; i < dn_tensor_size(d.x); i++)
    d.x.data[i] += 1000.0f;
  dn_layer *a = dn_normalization(), *b = dn_normalization();
  assert_ok(dn_normalization_adapt(a, d.x));
  array_source as;
  dn_source *s = array_source_new(&as, &d);
  assert_ok(dn_normalization_adapt_source(b, s, 64));
  float wa[7], wb[7];
  assert_ok(dn_layer_get_weights(
      a, (dn_tensor[]){dn_tensor_1d(wa, 3), dn_tensor_1d(wa + 3, 3), dn_tensor_1d(wa + 6, 1)}, 3));
  assert_ok(dn_layer_get_weights(
      b, (dn_tensor[]){dn_tensor_1d(wb, 3), dn_tensor_1d(wb + 3, 3), dn_tensor_1d(wb + 6, 1)}, 3));
  for (int j = 0; j < 7; j++) /* within float rounding: one part in 2^23, with a margin of 2 */
    assert_close(wb[j], wa[j], 0.0, 2.5e-7);
  assert_true(wa[3] > 1.0f); /* the variance is there, not lost to the offset */
  /* again (the source is reset): the same */
  assert_ok(dn_normalization_adapt_source(b, s, 7));
  float wc[7];
  assert_ok(dn_layer_get_weights(
      b, (dn_tensor[]){dn_tensor_1d(wc, 3), dn_tensor_1d(wc + 3, 3), dn_tensor_1d(wc + 6, 1)}, 3));
  for (int j = 0; j < 7; j++)
    assert_close(wc[j], wa[j], 0.0, 2.5e-7);
  dn_layer *narrow = dn_normalization(.input_dim = 2);
  assert_status_msg(dn_normalization_adapt_source(narrow, s, 0), DN_ERR_SHAPE, "3 columns");
  dn_layer_free(narrow);
  dn_layer_free(a);
  dn_layer_free(b);
  dn_source_free(s);
  dn_dataset_free(&d);
}

/* ---- bounded memory ---- */

/* Peak RSS (KiB) of a child that reads `rows_to_read` rows (0: all) of the source over path. */
static long child_peak_kib(const char *path, size_t buffer, bool all) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dn_source *s = dn_csv_source(path, .target_names = (const char *const[]){"t", NULL},
                                 .shuffle_buffer = buffer, .seed = 2);
    static float x[256 * 3], y[256];
    size_t n = 1, total = 0;
    dn_status st = s ? DN_OK : DN_ERR_IO;
    while (st == DN_OK && n > 0 && (all || total == 0)) {
      st = dn_source_next(s, dn_tensor_2d(x, 256, 3), dn_tensor_2d(y, 256, 1), &n);
      total += n;
    }
    dn_source_free(s);
    _exit(st == DN_OK ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  struct rusage ru;
  assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0);
  return ru.ru_maxrss; /* the largest of the children so far */
}

static void test_bounded_memory(void **state) {
  (void)state;
  /* 20x the buffer: 40000 buffered rows (4 floats: 640 KB) of a file of 800000 rows (~35 MB of
   * text, 12.8 MB as floats) */
  enum { BUFFER = 40000, ROWS = 20 * BUFFER };
  const char *path = write_data("big.csv", ROWS, 6);
  long base = child_peak_kib(path, BUFFER, false);
  long peak = child_peak_kib(path, BUFFER, true);
  /* Reading the whole file adds at most a few MB (the buffer is filled in both; generous
   * bound); a source holding the file would add its 12.8 MB of floats or the 35 MB of text. */
  if (peak - base > 6 * 1024) {
    print_error("peak RSS grew from %ld KiB to %ld KiB\n", base, peak);
    fail();
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_matches_memory),    cmocka_unit_test(test_source_error_mid_epoch),
      cmocka_unit_test(test_csv_errors_match_load), cmocka_unit_test(test_shuffle_buffer),
      cmocka_unit_test(test_adapt_source),          cmocka_unit_test(test_bounded_memory),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
