/* test_callbacks.c -- EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, CSVLogger,
 * ModelCheckpoint and LambdaCallback against Keras 3's rules, driven both by scripted
 * monitored values (through the internal hooks) and through dn_fit. */
#define _POSIX_C_SOURCE 200809L

#include "dn_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "training/callbacks.h"
#include "model/sequential.h"

/* ---- helpers ------------------------------------------------------------------- */

static dn_model *small_model(void) {
  dn_model *m = dn_sequential(dn_dense(3, .activation = "relu", .input_dim = 2), dn_dense(1));
  assert_non_null(m);
  return m;
}

static void make_data(float *x, float *y, size_t rows) {
  for (size_t r = 0; r < rows; r++) {
    double a = sin(0.7 * (double)r), b = cos(1.3 * (double)r);
    x[2 * r] = (float)a;
    x[2 * r + 1] = (float)b;
    y[r] = (float)(0.5 * a - 0.25 * b + 0.1);
  }
}

/* Drives cb over scripted values of `key` (one per epoch), setting every weight to e + 1
 * before epoch e ends. Returns the number of epochs run; *marker gets weight[0] after
 * train end (the epoch whose weights are in place, 1-based). */
static size_t drive(dn_callback *cb, const char *key, const double *vals, size_t n, float *marker,
                    FILE *out) {
  dn_model *m = small_model();
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  size_t np = dn_model_count_params(m);
  float *w = malloc(np * sizeof *w);
  dn_cb_ctx ctx = {m, out ? out : stdout, n, 1, out ? DN_VERBOSE_LINES : DN_VERBOSE_SILENT, false};
  dn_logbook book;
  assert_ok(dn_logbook_init(&book, 4));
  assert_ok(dn_cb_prepare(cb, &ctx));
  m->stop_training = false;
  assert_ok(dn_cb_train_begin(cb, &ctx));
  size_t ran = n;
  for (size_t e = 0; e < n; e++) {
    for (size_t i = 0; i < np; i++)
      w[i] = (float)(e + 1);
    assert_ok(dn_model_set_weights(m, w, np));
    dn_logbook_clear(&book);
    assert_ok(dn_logbook_set(&book, "loss", 99.0));
    if (key != NULL)
      assert_ok(dn_logbook_set(&book, key, vals[e]));
    assert_ok(dn_cb_epoch_end(cb, &ctx, e, &book));
    if (m->stop_training) {
      ran = e + 1;
      break;
    }
  }
  dn_logs logs = dn_logbook_view(&book);
  assert_ok(dn_cb_train_end(cb, &ctx, &logs));
  dn_cb_release(cb);
  assert_ok(dn_model_get_weights(m, w, np));
  *marker = w[0];
  for (size_t i = 1; i < np; i++)
    assert_true(w[i] == w[0]);
  free(w);
  dn_logbook_free(&book);
  dn_model_free(m);
  return ran;
}

/* ---- EarlyStopping ----------------------------------------------------------------- */

static void test_early_stopping_scripted(void **state) {
  (void)state;
  float marker;
  /* patience 0: e0 improves (best None); e1 improves; e2 wait 1 >= 0, no improvement: stop.
   * The best epoch (1) is restored. */
  double a[] = {1.0, 0.9, 0.95, 0.8};
  dn_callback *cb = dn_early_stopping(.restore_best_weights = true);
  assert_int_equal(drive(cb, "val_loss", a, 4, &marker, NULL), 3);
  assert_true(marker == 2.0f);
  dn_callback_free(cb);

  /* min_delta 0.1, patience 2: 0.95 is not below 1.0 - 0.1 (wait 1); 0.85 is (best, wait 0);
   * 0.84, 0.83 are not below 0.75: wait 2 at epoch 4 -> stop. min_delta's sign is ignored. */
  double b[] = {1.0, 0.95, 0.85, 0.84, 0.83, 0.7};
  cb = dn_early_stopping(.min_delta = -0.1, .patience = 2, .restore_best_weights = true);
  assert_int_equal(drive(cb, "val_loss", b, 6, &marker, NULL), 5);
  assert_true(marker == 3.0f);
  dn_callback_free(cb);

  /* Baseline 0.5: improvements that do not beat it keep counting the wait, but a stop is only
   * checked on an epoch that does not improve. */
  double c[] = {0.9, 0.8, 0.7, 0.6};
  cb = dn_early_stopping(.patience = 2, .use_baseline = true, .baseline = 0.5);
  assert_int_equal(drive(cb, "val_loss", c, 4, &marker, NULL), 4);
  assert_true(marker == 4.0f); /* no restore asked: the last weights stay */
  double c2[] = {0.9, 0.8, 0.85, 0.1};
  assert_int_equal(drive(cb, "val_loss", c2, 4, &marker, NULL), 3); /* reused: state reset */
  dn_callback_free(cb);

  /* start_from_epoch 2: epochs 0 and 1 are ignored; 7 is the first best, 8 stops. */
  double d[] = {5, 6, 7, 8, 9};
  cb = dn_early_stopping(.start_from_epoch = 2, .restore_best_weights = true);
  assert_int_equal(drive(cb, "val_loss", d, 5, &marker, NULL), 4);
  assert_true(marker == 3.0f);
  dn_callback_free(cb);

  /* "val_accuracy" in auto mode is maximized. */
  double e[] = {0.5, 0.6, 0.6, 0.55};
  cb = dn_early_stopping(.monitor = "val_accuracy", .patience = 1);
  assert_int_equal(drive(cb, "val_accuracy", e, 4, &marker, NULL), 3);
  dn_callback_free(cb);
  /* ... unless told to minimize. */
  cb = dn_early_stopping(.monitor = "val_accuracy", .patience = 1, .mode = DN_MODE_MIN);
  assert_int_equal(drive(cb, "val_accuracy", e, 4, &marker, NULL), 2); /* 0.6 is worse */
  dn_callback_free(cb);
  double e2[] = {0.5, 0.4, 0.3, 0.2};
  cb = dn_early_stopping(.monitor = "val_accuracy", .patience = 1, .mode = DN_MODE_MIN);
  assert_int_equal(drive(cb, "val_accuracy", e2, 4, &marker, NULL), 4);
  dn_callback_free(cb);

  /* Keras 3 restores the best weights at train end even without an early stop. */
  double f[] = {3, 1, 2};
  cb = dn_early_stopping(.patience = 10, .restore_best_weights = true);
  assert_int_equal(drive(cb, "val_loss", f, 3, &marker, NULL), 3);
  assert_true(marker == 2.0f);
  dn_callback_free(cb);

  /* A monitored value missing from the logs: skipped, never stops, restores nothing. */
  cb = dn_early_stopping(.restore_best_weights = true);
  assert_int_equal(drive(cb, NULL, NULL, 3, &marker, NULL), 3);
  assert_true(marker == 3.0f);
  dn_callback_free(cb);

  /* A NaN first value is "better" than None (Keras), then nothing improves on it. */
  double g[] = {NAN, 1.0, 0.5};
  cb = dn_early_stopping(.patience = 1);
  assert_int_equal(drive(cb, "val_loss", g, 3, &marker, NULL), 2);
  dn_callback_free(cb);

  /* DN_ZERO_COUNT is patience 0 (Keras's default already): the first case again. */
  cb = dn_early_stopping(.patience = DN_ZERO_COUNT, .restore_best_weights = true);
  assert_non_null(cb);
  assert_int_equal(drive(cb, "val_loss", a, 4, &marker, NULL), 3);
  assert_true(marker == 2.0f);
  dn_callback_free(cb);
}

static size_t count_of(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* A monitored value that never appears: Keras 3's warnings (early_stopping.py
 * get_monitor_value, reduce_lr_on_plateau.py on_epoch_end), once per fit, on the progress
 * stream; nothing when fit is silent. */
static void test_missing_monitor_warnings(void **state) {
  (void)state;
  float x[16], y[8];
  make_data(x, y, 8);
  dn_tensor tx = dn_tensor_2d(x, 8, 2), ty = dn_tensor_2d(y, 8, 1);
  const char *es_text = "UserWarning: Early stopping conditioned on metric `val_loss` which is not "
                        "available. Available metrics are: loss\n";
  const char *rl_text = "UserWarning: Learning rate reduction is conditioned on metric `val_mae` "
                        "which is not available. Available metrics are: loss,learning_rate.\n";
  for (int v = 0; v < 3; v++) {
    dn_verbose verbose = v == 0 ? DN_VERBOSE_LINES : v == 1 ? DN_VERBOSE_BAR : DN_VERBOSE_SILENT;
    dn_model *m = small_model();
    assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
    FILE *out = tmpfile();
    dn_history *h =
        dn_fit(m, tx, ty, .epochs = 3, .verbose = verbose, .out = out,
               .callbacks = (dn_callback *[]){dn_early_stopping(.monitor = "val_loss"),
                                              dn_reduce_lr_on_plateau(.monitor = "val_mae"), NULL});
    assert_non_null(h);
    assert_int_equal(dn_history_length(h), 3); /* skipped epochs: no stop */
    char *text = dn_test_read_stream(out, NULL);
    size_t want = verbose == DN_VERBOSE_SILENT ? 0 : 1;
    assert_int_equal(count_of(text, es_text), want);
    assert_int_equal(count_of(text, rl_text), want);
    if (verbose == DN_VERBOSE_BAR) /* after the bar's partial line, on a line of its own */
      assert_non_null(strstr(text, "\nUserWarning: Early stopping"));
    if (verbose == DN_VERBOSE_SILENT)
      assert_string_equal(text, "");
    free(text);
    fclose(out);
    dn_history_free(h);
    dn_model_free(m);
  }
}

static void test_early_stopping_messages(void **state) {
  (void)state;
  FILE *out = tmpfile();
  float marker;
  double a[] = {1.0, 0.9, 0.95, 0.8};
  dn_callback *cb = dn_early_stopping(.restore_best_weights = true, .verbose = true);
  assert_int_equal(drive(cb, "val_loss", a, 4, &marker, out), 3);
  dn_callback_free(cb);
  fflush(out);
  rewind(out);
  char text[256] = "";
  size_t n = fread(text, 1, sizeof text - 1, out);
  text[n] = '\0';
  assert_string_equal(text, "Epoch 3: early stopping\n"
                            "Restoring model weights from the end of the best epoch: 2.\n");
  fclose(out);
}

/* Keras's docstring example: monitor "loss", patience 3, a loss that never improves after the
 * first epoch (here SGD with learning rate 0) -> only 4 epochs run. */
static void test_early_stopping_in_fit(void **state) {
  (void)state;
  enum { N = 10 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_model *m = small_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = DN_ZERO), .loss = "mse"));
  /* no_shuffle: the same summation order every epoch, so the loss is bit-identical. */
  dn_history *h = dn_fit(
      m, tx, ty, .epochs = 10, .batch_size = 1, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT,
      .callbacks = (dn_callback *[]){dn_early_stopping(.monitor = "loss", .patience = 3), NULL});
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 4);
  dn_history_free(h);
  /* fit took and freed that callback: a second fit gets a new one (0.1 let the model keep it
   * for re-use, as Keras does), and starts from a fresh state all the same. */
  h = dn_fit(m, tx, ty, .epochs = 10, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT,
             .callbacks =
                 (dn_callback *[]){dn_early_stopping(.monitor = "loss", .patience = 3), NULL});
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 4);
  dn_history_free(h);
  /* 0.1 refused a callback kept by another model; with no model keeping callbacks, the one way
   * to hand fit a callback it already has is to list it twice: refused before training (it
   * would be freed twice), and freed once (ASan/valgrind see no double free or leak). */
  size_t np = dn_model_count_params(m);
  float *w = malloc(np * sizeof *w), *w2 = malloc(np * sizeof *w2);
  assert_ok(dn_model_get_weights(m, w, np));
  dn_callback *es = dn_early_stopping(.monitor = "loss", .patience = 3);
  assert_null(dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT,
                     .callbacks = (dn_callback *[]){es, dn_terminate_on_nan(), es, NULL}));
  assert_status_msg(dn_last_status(), DN_ERR_ARG,
                    "dn_fit: callbacks[2] is callbacks[0] again (EarlyStopping)");
  assert_ok(dn_model_get_weights(m, w2, np));
  assert_memory_equal(w, w2, np * sizeof *w);
  free(w);
  free(w2);
  dn_model_free(m);
}

/* ---- ReduceLROnPlateau ---------------------------------------------------------------- */

static void test_reduce_lr_scripted(void **state) {
  (void)state;
  dn_model *m = small_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = 1.0), .loss = "mse"));
  dn_callback *cb = dn_reduce_lr_on_plateau(.factor = 0.5, .patience = 2, .cooldown = 1,
                                            .min_lr = 0.2, .min_delta = DN_ZERO);
  dn_cb_ctx ctx = {m, stdout, 10, 1, DN_VERBOSE_SILENT, false};
  dn_logbook book;
  assert_ok(dn_logbook_init(&book, 4));
  assert_ok(dn_cb_prepare(cb, &ctx));
  assert_ok(dn_cb_train_begin(cb, &ctx));
  /* Hand trace of Keras's rule (wait counts epochs without improvement outside cooldown;
   * at wait == patience lr = max(lr * factor, min_lr), cooldown starts, wait = 0; a cooldown
   * epoch resets wait and, once over, counts again in the same epoch): */
  double vals[10] = {1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9};
  /* The logged rate is Keras's float(optimizer.learning_rate), a float32 variable: 0.2 reads
   * back as 0.20000000298023224 (the powers of two are exact). */
  double logged[10] = {1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, (double)0.2f, (double)0.2f};
  double after[10] = {1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2};
  for (size_t e = 0; e < 10; e++) {
    dn_logbook_clear(&book);
    assert_ok(dn_logbook_set(&book, "val_loss", vals[e]));
    assert_ok(dn_cb_epoch_end(cb, &ctx, e, &book));
    dn_logs logs = dn_logbook_view(&book);
    assert_true(dn_logs_get(&logs, "learning_rate") == logged[e]);
    assert_close(dn_optimizer_learning_rate(dn_model_optimizer(m)), after[e], 0, 1e-12);
  }
  dn_callback_free(cb);
  /* cooldown 2 on a flat value: no waiting during the cooldown epochs, so the rate halves
   * every second epoch after the first reduction. */
  assert_ok(dn_optimizer_set_learning_rate(dn_model_optimizer(m), 1.0));
  cb = dn_reduce_lr_on_plateau(.monitor = "loss", .factor = 0.5, .patience = 1, .cooldown = 2);
  assert_ok(dn_cb_prepare(cb, &ctx));
  assert_ok(dn_cb_train_begin(cb, &ctx));
  double flat_logged[6] = {1, 1, 0.5, 0.5, 0.25, 0.25};
  double flat_after[6] = {1, 0.5, 0.5, 0.25, 0.25, 0.125};
  for (size_t e = 0; e < 6; e++) {
    dn_logbook_clear(&book);
    assert_ok(dn_logbook_set(&book, "loss", 1.0));
    assert_ok(dn_cb_epoch_end(cb, &ctx, e, &book));
    dn_logs logs = dn_logbook_view(&book);
    assert_close(dn_logs_get(&logs, "learning_rate"), flat_logged[e], 0, 1e-12);
    assert_close(dn_optimizer_learning_rate(dn_model_optimizer(m)), flat_after[e], 0, 1e-12);
  }
  dn_callback_free(cb);
  dn_model_free(m);
  /* The verbose message prints Python's repr of old_lr * factor, old_lr being the float32
   * variable's value: Adam's 0.001 reads as 0.0010000000474974513. patience 0: the first
   * epoch improves on inf, the second reduces. */
  m = small_model();
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  ctx.model = m;
  ctx.out = tmpfile();
  cb = dn_reduce_lr_on_plateau(.monitor = "loss", .patience = DN_ZERO_COUNT, .verbose = true);
  assert_ok(dn_cb_prepare(cb, &ctx));
  assert_ok(dn_cb_train_begin(cb, &ctx));
  for (size_t e = 0; e < 2; e++) {
    dn_logbook_clear(&book);
    assert_ok(dn_logbook_set(&book, "loss", 1.0));
    assert_ok(dn_cb_epoch_end(cb, &ctx, e, &book));
  }
  char *text = dn_test_read_stream(ctx.out, NULL);
  assert_string_equal(text, "\nEpoch 2: ReduceLROnPlateau reducing learning rate to "
                            "0.00010000000474974513.\n");
  free(text);
  fclose(ctx.out);
  dn_logbook_free(&book);
  dn_callback_free(cb);
  dn_model_free(m);
}

static void test_reduce_lr_auto_mode_and_fit(void **state) {
  (void)state;
  enum { N = 8 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_model *m = small_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = DN_ZERO), .loss = "mse",
                       .metrics = (const char *[]){"mae", NULL}));
  /* Constant loss: patience 1 (DN_ZERO_COUNT would be 0) -> lr stays 0 (not > min_lr 0). */
  dn_history *h = dn_fit(m, tx, ty, .epochs = 3, .verbose = DN_VERBOSE_SILENT,
                         .callbacks = (dn_callback *[]){
                             dn_reduce_lr_on_plateau(.monitor = "loss", .patience = 1), NULL});
  assert_non_null(h);
  /* learning_rate comes after the loss and metrics, as Keras's History sees it. */
  assert_int_equal(dn_history_key_count(h), 3);
  assert_string_equal(dn_history_key(h, 2), "learning_rate");
  assert_true(dn_history_values(h, "learning_rate")[2] == 0.0);
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- LearningRateScheduler ------------------------------------------------------------ */

typedef struct sched_log {
  size_t calls, epochs[8];
  double lrs[8];
} sched_log;

static double halve_after_two(size_t epoch, double lr, void *user) {
  sched_log *s = user;
  s->epochs[s->calls] = epoch;
  s->lrs[s->calls++] = lr;
  return epoch < 2 ? lr : lr * 0.5;
}

static double keep_rate(size_t epoch, double lr, void *user) {
  (void)epoch;
  (void)user;
  return lr;
}

static void test_learning_rate_scheduler(void **state) {
  (void)state;
  enum { N = 8 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_model *m = small_model();
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = 0.1), .loss = "mse"));
  sched_log s = {0};
  dn_history *h =
      dn_fit(m, tx, ty, .epochs = 4, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_learning_rate_scheduler(halve_after_two, &s), NULL});
  assert_non_null(h);
  assert_int_equal(s.calls, 4);
  /* Keras hands the schedule float(optimizer.learning_rate), the float32 variable's value
   * (0.1 -> 0.10000000149011612), and logs that value; halving it stays exact. */
  const double f = (double)0.1f;
  double seen[4] = {f, f, f, f / 2}, logged[4] = {f, f, f / 2, f / 4};
  for (size_t e = 0; e < 4; e++) {
    assert_int_equal(s.epochs[e], e);
    assert_true(s.lrs[e] == seen[e]);
    assert_true(dn_history_values(h, "learning_rate")[e] == logged[e]);
  }
  assert_true(dn_optimizer_learning_rate(dn_model_optimizer(m)) == f / 4);
  dn_history_free(h);
  /* initial_epoch 2 of 4: epochs 2 and 3 run (their indices are passed and recorded). */
  s.calls = 0;
  h = dn_fit(m, tx, ty, .epochs = 4, .initial_epoch = 2, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_learning_rate_scheduler(halve_after_two, &s), NULL});
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 2);
  assert_int_equal(dn_history_epoch(h, 0), 2);
  assert_int_equal(dn_history_epoch(h, 1), 3);
  assert_int_equal(s.calls, 2);
  assert_int_equal(s.epochs[0], 2);
  dn_history_free(h);
  /* Keras's progress line shows that float32 value: 0.0010000000474974513 > 1e-3, so Adam's
   * default rate prints as "0.0010", not "1.0000e-03". */
  dn_model *a = small_model();
  assert_ok(dn_compile(a, .optimizer = "adam", .loss = "mse"));
  FILE *out = tmpfile();
  h = dn_fit(a, tx, ty, .verbose = DN_VERBOSE_LINES, .out = out,
             .callbacks = (dn_callback *[]){dn_learning_rate_scheduler(keep_rate, NULL), NULL});
  assert_non_null(h);
  assert_true(dn_history_values(h, "learning_rate")[0] == (double)0.001f);
  char *text = dn_test_read_stream(out, NULL);
  const char *tail = " - learning_rate: 0.0010\n";
  assert_true(strlen(text) > strlen(tail));
  assert_string_equal(text + strlen(text) - strlen(tail), tail);
  free(text);
  fclose(out);
  dn_history_free(h);
  dn_model_free(a);
  /* initial_epoch >= epochs: nothing runs, an empty history. */
  h = dn_fit(m, tx, ty, .epochs = 2, .initial_epoch = 2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 0);
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- CSVLogger ------------------------------------------------------------------------- */

static void test_csv_logger(void **state) {
  (void)state;
  enum { N = 10 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  char path[] = "/tmp/dn_csvlog_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  dn_model *m = small_model();
  assert_ok(
      dn_compile(m, .optimizer = "adam", .loss = "mse", .metrics = (const char *[]){"mae", NULL}));
  dn_history *h =
      dn_fit(m, tx, ty, .epochs = 3, .validation_split = 0.3, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_csv_logger(path), NULL});
  assert_non_null(h);
  char *text = dn_test_read_file(path, NULL);
  /* Header: epoch + sorted keys; rows end in \r\n as Python's csv module writes them. */
  const char *header = "epoch,loss,mae,val_loss,val_mae\r\n";
  assert_int_equal(strncmp(text, header, strlen(header)), 0);
  const char *p = text + strlen(header);
  const char *keys[] = {"loss", "mae", "val_loss", "val_mae"};
  for (size_t e = 0; e < 3; e++) {
    char *end;
    assert_int_equal(strtoul(p, &end, 10), e);
    p = end;
    for (size_t k = 0; k < 4; k++) {
      assert_int_equal(*p, ',');
      double v = strtod(p + 1, &end);
      assert_true(v == dn_history_values(h, keys[k])[e]); /* repr round-trips exactly */
      p = end;
    }
    assert_int_equal(strncmp(p, "\r\n", 2), 0);
    p += 2;
  }
  assert_int_equal(*p, '\0');
  free(text);
  dn_history_free(h);
  /* append: no second header; ';' separator. */
  h = dn_fit(m, tx, ty, .epochs = 2, .verbose = DN_VERBOSE_SILENT,
             .callbacks =
                 (dn_callback *[]){dn_csv_logger(path, .separator = ';', .append = true), NULL});
  assert_non_null(h);
  text = dn_test_read_file(path, NULL);
  size_t lines = 0;
  for (const char *q = text; (q = strstr(q, "\r\n")) != NULL; q += 2)
    lines++;
  assert_int_equal(lines, 1 + 3 + 2);
  assert_non_null(strstr(text, "\r\n0;"));
  assert_null(strstr(text + strlen(header), "epoch"));
  free(text);
  dn_history_free(h);
  /* Keras writes the header in append mode only when f.readline() is empty: a file whose
   * first line is blank ("\n", length 1) gets no header; an empty file gets one. */
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("\n", f);
  fclose(f);
  h = dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_csv_logger(path, .append = true), NULL});
  assert_non_null(h);
  text = dn_test_read_file(path, NULL);
  assert_int_equal(strncmp(text, "\n0,", 3), 0);
  free(text);
  dn_history_free(h);
  f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  h = dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_csv_logger(path, .append = true), NULL});
  assert_non_null(h);
  text = dn_test_read_file(path, NULL);
  assert_int_equal(strncmp(text, "epoch,loss,mae\r\n0,", 18), 0);
  free(text);
  dn_history_free(h);
  remove(path);
  /* A file that cannot be opened: DN_ERR_IO before training, weights unchanged. */
  size_t np = dn_model_count_params(m);
  float *w = malloc(np * sizeof *w), *w2 = malloc(np * sizeof *w2);
  assert_ok(dn_model_get_weights(m, w, np));
  assert_null(
      dn_fit(m, tx, ty, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_csv_logger("/nonexistent-dir/log.csv"), NULL}));
  assert_status_msg(dn_last_status(), DN_ERR_IO,
                    "CSVLogger cannot open '/nonexistent-dir/log.csv'");
  assert_ok(dn_model_get_weights(m, w2, np));
  assert_memory_equal(w, w2, np * sizeof *w);
  free(w);
  free(w2);
  dn_model_free(m);
}

/* ---- ModelCheckpoint ------------------------------------------------------------------- */

static void test_checkpoint_templates(void **state) {
  (void)state;
  const char *names[] = {"loss", "val_loss"};
  double values[] = {0.5, 0.123456};
  dn_logs logs = {2, names, values};
  char out[256];
  assert_ok(dn_checkpoint_expand("w-{epoch:02d}-{val_loss:.2f}.dnn", 2, &logs, out, sizeof out));
  assert_string_equal(out, "w-03-0.12.dnn");
  assert_ok(dn_checkpoint_expand("e{epoch}_{loss}_{{x}}", 9, &logs, out, sizeof out));
  assert_string_equal(out, "e10_0.5_{x}");
  assert_ok(
      dn_checkpoint_expand("{epoch:4d}|{val_loss:.3e}|{loss:+.1f}", 0, &logs, out, sizeof out));
  assert_string_equal(out, "   1|1.235e-01|+0.5");
  assert_status_msg(dn_checkpoint_expand("{mae}.dnn", 0, &logs, out, sizeof out), DN_ERR_ARG,
                    "uses '{mae}', which is not in the logs");
  assert_status_msg(dn_checkpoint_expand("a{epoch}", 0, &logs, out, 2), DN_ERR_ARG, "too long");
  const char *bad[] = {"{epoch", "x}y", "{}", "{epoch:q}", "{val_loss:d}", "{epoch:.}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_null(dn_model_checkpoint(bad[i]));
    assert_int_equal(dn_last_status(), DN_ERR_ARG);
    assert_non_null(strstr(dn_last_error(), "dn_model_checkpoint"));
  }
}

/* Keeps a copy of the weights at the end of epoch 0 (the lambda runs before the checkpoint). */
static float epoch0_weights[64];
static void keep_epoch0(dn_model *m, size_t epoch, const dn_logs *l, void *u) {
  (void)l;
  (void)u;
  if (epoch == 0)
    assert_ok(dn_model_get_weights(m, epoch0_weights, dn_model_count_params(m)));
}

static void assert_model_file_weights(const char *path, const float *want, size_t n) {
  dn_model *loaded = dn_model_load(path);
  assert_non_null(loaded);
  assert_int_equal(dn_model_count_params(loaded), n);
  float got[64];
  assert_ok(dn_model_get_weights(loaded, got, n));
  assert_memory_equal(got, want, n * sizeof *got);
  dn_model_free(loaded);
}

static void test_checkpoint_in_fit(void **state) {
  (void)state;
  enum { N = 10 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_model *m = small_model();
  assert_ok(dn_compile(m, .loss = "mse"));
  size_t np = dn_model_count_params(m);
  assert_true(np <= 64);
  char dir[] = "/tmp/dn_ckpt_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char tpl[128], p1[160], p2[160];
  snprintf(tpl, sizeof tpl, "%s/sub/m-{epoch:02d}.dnn", dir);
  /* save_freq "epoch", not save_best_only: one full model per epoch, in a directory made on
   * the way, each holding that epoch's weights. */
  dn_history *h =
      dn_fit(m, tx, ty, .epochs = 2, .validation_split = 0.2, .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){dn_lambda_callback(.on_epoch_end = keep_epoch0),
                                            dn_model_checkpoint(tpl), NULL});
  assert_non_null(h);
  dn_history_free(h);
  snprintf(p1, sizeof p1, "%s/sub/m-01.dnn", dir);
  snprintf(p2, sizeof p2, "%s/sub/m-02.dnn", dir);
  float final_w[64];
  assert_ok(dn_model_get_weights(m, final_w, np));
  assert_true(memcmp(final_w, epoch0_weights, np * sizeof *final_w) != 0); /* it trained */
  assert_model_file_weights(p1, epoch0_weights, np);
  assert_model_file_weights(p2, final_w, np);
  remove(p1);
  remove(p2);
  snprintf(p1, sizeof p1, "%s/sub", dir);
  assert_int_equal(rmdir(p1), 0);

  /* save_best_only, weights only, verbose, driven with scripted val_loss values (drive sets
   * every weight to e + 1 in epoch e). Keras's MonitorCallback sets best to +inf when the
   * monitor is set up, so epoch 1 "improved from inf"; epoch 2 (0.7) does not improve. */
  snprintf(p1, sizeof p1, "%s/best.w", dir);
  FILE *out = tmpfile();
  dn_callback *cb =
      dn_model_checkpoint(p1, .save_best_only = true, .save_weights_only = true, .verbose = true);
  double vals[] = {0.5, 0.7, 0.25};
  float marker;
  assert_int_equal(drive(cb, "val_loss", vals, 3, &marker, out), 3);
  char *text = dn_test_read_stream(out, NULL);
  char expect[1024];
  snprintf(expect, sizeof expect,
           "\nEpoch 1: val_loss improved from inf to 0.50000, saving model to %s\n"
           "\nEpoch 1: finished saving model to %s\n"
           "\nEpoch 2: val_loss did not improve from 0.50000\n"
           "\nEpoch 3: val_loss improved from 0.50000 to 0.25000, saving model to %s\n"
           "\nEpoch 3: finished saving model to %s\n",
           p1, p1, p1, p1);
  assert_string_equal(text, expect);
  free(text);
  fclose(out);
  dn_model *fresh = small_model();
  assert_ok(dn_model_load_weights(fresh, p1));
  float w[64];
  assert_ok(dn_model_get_weights(fresh, w, np));
  for (size_t i = 0; i < np; i++)
    assert_true(w[i] == 3.0f); /* epoch 3's weights, the best */
  dn_model_free(fresh);
  /* best is kept across runs of the hooks (Keras sets it once per callback object; fit now
   * frees its callbacks, so only the hooks can run one twice): 0.3 does not beat 0.25. */

  out = tmpfile();
  double later[] = {0.3};
  drive(cb, "val_loss", later, 1, &marker, out);
  text = dn_test_read_stream(out, NULL);
  assert_string_equal(text, "\nEpoch 1: val_loss did not improve from 0.25000\n");
  free(text);
  fclose(out);
  dn_callback_free(cb);
  remove(p1);

  /* A NaN first value does not beat inf (no file); in max mode best starts at -inf. */
  out = tmpfile();
  cb = dn_model_checkpoint(p1, .save_best_only = true, .save_weights_only = true, .verbose = true);
  double nan_first[] = {NAN};
  drive(cb, "val_loss", nan_first, 1, &marker, out);
  dn_callback_free(cb);
  cb = dn_model_checkpoint(p1, .monitor = "val_accuracy", .save_best_only = true,
                           .save_weights_only = true, .verbose = true);
  double acc[] = {0.5};
  drive(cb, "val_accuracy", acc, 1, &marker, out);
  dn_callback_free(cb);
  text = dn_test_read_stream(out, NULL);
  snprintf(expect, sizeof expect,
           "\nEpoch 1: val_loss did not improve from inf\n"
           "\nEpoch 1: val_accuracy improved from -inf to 0.50000, saving model to %s\n"
           "\nEpoch 1: finished saving model to %s\n",
           p1, p1);
  assert_string_equal(text, expect);
  free(text);
  fclose(out);
  assert_int_equal(remove(p1), 0);
  assert_int_equal(rmdir(dir), 0);
  dn_model_free(m);
}

/* ---- LambdaCallback ---------------------------------------------------------------------- */

typedef struct trace {
  char text[512];
  size_t stop_at_epoch, stop_at_batch;
} trace;

static void note(trace *t, const char *what, size_t index) {
  size_t n = strlen(t->text);
  snprintf(t->text + n, sizeof t->text - n, "%s%zu ", what, index);
}
static void on_tb(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m;
  assert_int_equal(l->count, 0);
  note(u, "tb", i);
}
static void on_te(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m;
  assert_true(isfinite(dn_logs_get(l, "loss")));
  note(u, "te", i);
}
static void on_eb(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m;
  (void)l;
  note(u, "eb", i);
}
static void on_ee(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m;
  assert_true(isfinite(dn_logs_get(l, "loss")));
  assert_true(isfinite(dn_logs_get(l, "val_loss")));
  assert_true(isnan(dn_logs_get(l, "nope")));
  note(u, "ee", i);
}
static void on_bb(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m;
  (void)l;
  note(u, "bb", i);
}
static void on_be(dn_model *m, size_t i, const dn_logs *l, void *u) {
  trace *t = u;
  assert_true(isfinite(dn_logs_get(l, "loss")));
  note(t, "be", i);
  if (strstr(t->text, "eb1 ") != NULL && i == t->stop_at_batch)
    dn_model_stop_training(m);
}

static void test_lambda_hooks_and_stop(void **state) {
  (void)state;
  enum { N = 10 };
  float x[2 * N], y[N];
  make_data(x, y, N);
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_model *m = small_model();
  assert_ok(dn_compile(m, .loss = "mse"));
  trace t = {.stop_at_batch = 0};
  /* 8 training rows in batches of 4: 2 steps; stop after batch 0 of epoch 1. */
  dn_history *h =
      dn_fit(m, tx, ty, .epochs = 3, .batch_size = 4, .validation_split = 0.2,
             .verbose = DN_VERBOSE_SILENT,
             .callbacks = (dn_callback *[]){
                 dn_lambda_callback(.on_train_begin = on_tb, .on_train_end = on_te,
                                    .on_epoch_begin = on_eb, .on_epoch_end = on_ee,
                                    .on_batch_begin = on_bb, .on_batch_end = on_be, .user = &t),
                 NULL});
  assert_non_null(h);
  assert_string_equal(t.text, "tb0 eb0 bb0 be0 bb1 be1 ee0 eb1 bb0 be0 ee1 te0 ");
  assert_int_equal(dn_history_length(h), 2); /* the stopped epoch still ends and is recorded */
  dn_history_free(h);
  dn_model_free(m);
}

/* Batch-level logs as Keras's CallbackList hands them over: running averages since the epoch
 * began (the loss weighted by batch size), keys sorted (_pythonify_logs iterates
 * sorted(logs.items())); epoch logs keep the compile order. */
typedef struct batch_trace {
  size_t n;
  char order[4][160];
  double loss[4], mse[4], acc[4];
} batch_trace;

static void keys_of(char *out, size_t cap, const dn_logs *l) {
  out[0] = '\0';
  for (size_t i = 0; i < l->count; i++) {
    size_t k = strlen(out);
    snprintf(out + k, cap - k, "%s%s", i ? "," : "", l->names[i]);
  }
}
static void record_batch(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m;
  (void)i;
  batch_trace *t = u;
  keys_of(t->order[t->n], sizeof t->order[0], l);
  t->loss[t->n] = dn_logs_get(l, "loss");
  t->mse[t->n] = dn_logs_get(l, "mse");
  t->acc[t->n] = dn_logs_get(l, "binary_accuracy");
  t->n++;
}
static void record_epoch(dn_model *m, size_t i, const dn_logs *l, void *u) {
  (void)m;
  (void)i;
  batch_trace *t = u;
  keys_of(t->order[3], sizeof t->order[0], l);
}

static void test_batch_logs_sorted_running_means(void **state) {
  (void)state;
  enum { N = 8 };
  float x[2 * N], unused[N], y[N] = {0, 1, 0, 1, 1, 0, 0, 1};
  make_data(x, unused, N); /* any x: the model predicts 0 */
  dn_tensor tx = dn_tensor_2d(x, N, 2), ty = dn_tensor_2d(y, N, 1);
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2, .kernel_initializer = "zeros"));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = DN_ZERO), .loss = "mse",
                       .metrics = (const char *[]){"mse", "binary_accuracy", NULL}));
  batch_trace t = {0};
  dn_history *h = dn_fit(
      m, tx, ty, .batch_size = 3, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT,
      .callbacks = (dn_callback *[]){dn_lambda_callback(.on_batch_end = record_batch,
                                                        .on_epoch_end = record_epoch, .user = &t),
                                     NULL});
  assert_non_null(h);
  assert_int_equal(t.n, 3);
  /* Prediction 0: squared error y^2 (0 or 1), correct iff y == 0. Batches {0,1,0}, {1,1,0},
   * {0,1}: running loss 1/3, 3/6, 4/8; running accuracy 2/3, 3/6, 4/8. */
  double loss[3] = {1.0 / 3, 0.5, 0.5}, acc[3] = {2.0 / 3, 0.5, 0.5};
  for (size_t b = 0; b < 3; b++) {
    assert_string_equal(t.order[b], "binary_accuracy,loss,mse");
    assert_close(t.loss[b], loss[b], 1e-15, 0);
    assert_close(t.mse[b], loss[b], 1e-15, 0);
    assert_close(t.acc[b], acc[b], 1e-15, 0);
  }
  assert_string_equal(t.order[3], "loss,mse,binary_accuracy");
  dn_history_free(h);
  dn_model_free(m);
}

/* ---- monitor, repr, constructors ---------------------------------------------------------- */

static void test_monitor_resolution(void **state) {
  (void)state;
  struct {
    const char *name;
    dn_mode mode;
    int less; /* -1 = error */
  } cases[] = {
      {"val_loss", DN_MODE_AUTO, 1},     {"loss", DN_MODE_AUTO, 1},
      {"val_accuracy", DN_MODE_AUTO, 0}, {"binary_accuracy", DN_MODE_AUTO, 0},
      {"val_mae", DN_MODE_AUTO, 1},      {"r2_score", DN_MODE_AUTO, 0},
      {"val_my_loss", DN_MODE_AUTO, 1},  {"foo", DN_MODE_AUTO, -1},
      {"foo", DN_MODE_MAX, 0},           {"val_loss", DN_MODE_MAX, 0},
      {"learning_rate", DN_MODE_MIN, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dn_monitor mon;
    assert_ok(dn_monitor_init(&mon, "t", cases[i].name, cases[i].mode, 0.25));
    if (cases[i].less < 0) {
      assert_status_msg(dn_monitor_resolve(&mon, "EarlyStopping"), DN_ERR_ARG,
                        "pass .mode = DN_MODE_MIN or DN_MODE_MAX");
      continue;
    }
    assert_ok(dn_monitor_resolve(&mon, "EarlyStopping"));
    assert_int_equal(mon.less, cases[i].less);
    /* min: current + 0.25 < best; max: current - 0.25 > best. */
    assert_true(dn_monitor_improves(&mon, mon.less ? 0.7 : 1.3, true, 1.0));
    assert_false(dn_monitor_improves(&mon, mon.less ? 0.8 : 1.2, true, 1.0));
    assert_true(dn_monitor_improves(&mon, 5.0, false, 0.0));
    assert_false(dn_monitor_improves(&mon, NAN, true, 1.0));
  }
  dn_monitor mon;
  assert_ok(dn_monitor_init(&mon, "t", NULL, DN_MODE_AUTO, 0));
  assert_string_equal(mon.name, "val_loss");
}

static void test_repr(void **state) {
  (void)state;
  struct {
    double v;
    const char *s;
  } cases[] = {
      {0.1, "0.1"},
      {1e-05, "1e-05"},
      {123.0, "123.0"},
      {1e16, "1e+16"},
      {1234567.0, "1234567.0"},
      {0.0001, "0.0001"},
      {0.00012345, "0.00012345"},
      {-2.5, "-2.5"},
      {0.0, "0.0"},
      {1.5e-07, "1.5e-07"},
      {(double)0.1f, "0.10000000149011612"},
      {1e15, "1000000000000000.0"},
      {2.5e100, "2.5e+100"},
      {NAN, "nan"},
      {-INFINITY, "-inf"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[64];
    dn_format_repr(buf, sizeof buf, cases[i].v);
    assert_string_equal(buf, cases[i].s);
  }
}

static void test_constructor_errors(void **state) {
  (void)state;
  assert_null(dn_early_stopping(.mode = (dn_mode)7));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "dn_early_stopping: mode 7");
  assert_null(dn_early_stopping(.min_delta = NAN));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "min_delta is NaN");
  assert_null(dn_early_stopping(.monitor = ""));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "monitor is empty");
  /* patience is an int now, as ReduceLROnPlateau's: below DN_ZERO_COUNT is refused. */
  assert_null(dn_early_stopping(.patience = -2));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "patience must be >= 0");

  assert_null(dn_reduce_lr_on_plateau(.factor = 1.0));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "factor must be in [0, 1), got 1");
  assert_null(dn_reduce_lr_on_plateau(.patience = -2));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "patience must be >= 0");
  assert_null(dn_reduce_lr_on_plateau(.min_lr = -1));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "min_lr must be >= 0");
  assert_null(dn_learning_rate_scheduler(NULL, NULL));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "schedule is NULL");
  assert_null(dn_csv_logger(NULL));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "dn_csv_logger: filename is NULL");
  assert_null(dn_csv_logger(""));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "filename is empty");
  assert_null(dn_model_checkpoint(NULL));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "dn_model_checkpoint: filepath is NULL");
  assert_null(dn_model_checkpoint("x.dnn", .mode = (dn_mode)3));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "mode 3");
  dn_callback_free(NULL);
  double nan_logs = dn_logs_get(NULL, "loss");
  assert_true(isnan(nan_logs));
}

/* Without libdensenet_keras (this test does not link it), a Keras path is refused when fit
 * starts, naming the fix, and nothing is written (never a native file named .keras / .h5). */
static void test_checkpoint_keras_path_without_keras(void **state) {
  (void)state;
  char dir[] = "/tmp/dn_ckpt_keras_XXXXXX";
  assert_non_null(mkdtemp(dir));
  const char *names[3] = {"m.keras", "m.h5", "m.weights.h5"};
  float x[16], y[8];
  for (int i = 0; i < 16; i++)
    x[i] = (float)i / 16.0f;
  for (int i = 0; i < 8; i++)
    y[i] = x[2 * i] - x[2 * i + 1];
  for (int i = 0; i < 3; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
    assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
    assert_null(dn_fit(
        m, dn_tensor_2d(x, 8, 2), dn_tensor_2d(y, 8, 1), .epochs = 1, .verbose = DN_VERBOSE_SILENT,
        .callbacks =
            (dn_callback *[]){dn_model_checkpoint(path, .save_weights_only = i == 2), NULL}));
    assert_status_msg(dn_last_status(), DN_ERR_UNSUPPORTED, "call dn_keras_register()");
    assert_non_null(strstr(dn_last_error(), path));
    assert_int_equal(access(path, F_OK), -1);
    dn_model_free(m);
  }
  /* Keras's rule for weights only: .weights.h5 */
  assert_null(dn_model_checkpoint("w.keras", .save_weights_only = true));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "must end in .weights.h5");
  assert_int_equal(rmdir(dir), 0);
}

/* Issue 12: the size_t counts take DN_ZERO_COUNT (arriving as SIZE_MAX) as 0, and refuse other
 * converted negative numbers. */
static void test_zero_count_fields(void **state) {
  (void)state;
  /* A flat value with patience 0 stops at the second epoch, as with start_from_epoch 0 (as
   * SIZE_MAX, it would never start). */
  const double flat[5] = {1, 1, 1, 1, 1};
  float marker;
  dn_callback *cb = dn_early_stopping(.monitor = "val_loss", .start_from_epoch = DN_ZERO_COUNT);
  assert_non_null(cb);
  assert_int_equal(drive(cb, "val_loss", flat, 5, &marker, NULL), 2);
  dn_callback_free(cb);
  assert_null(dn_early_stopping(.start_from_epoch = (size_t)-2));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_early_stopping: start_from_epoch is"));
  cb = dn_reduce_lr_on_plateau(.cooldown = DN_ZERO_COUNT);
  assert_non_null(cb);
  dn_callback_free(cb);
  assert_null(dn_reduce_lr_on_plateau(.cooldown = (size_t)-2));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_reduce_lr_on_plateau: cooldown is"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_early_stopping_scripted),
      cmocka_unit_test(test_early_stopping_messages),
      cmocka_unit_test(test_missing_monitor_warnings),
      cmocka_unit_test(test_early_stopping_in_fit),
      cmocka_unit_test(test_reduce_lr_scripted),
      cmocka_unit_test(test_reduce_lr_auto_mode_and_fit),
      cmocka_unit_test(test_learning_rate_scheduler),
      cmocka_unit_test(test_csv_logger),
      cmocka_unit_test(test_checkpoint_templates),
      cmocka_unit_test(test_checkpoint_in_fit),
      cmocka_unit_test(test_lambda_hooks_and_stop),
      cmocka_unit_test(test_batch_logs_sorted_running_means),
      cmocka_unit_test(test_monitor_resolution),
      cmocka_unit_test(test_repr),
      cmocka_unit_test(test_constructor_errors),
      cmocka_unit_test(test_zero_count_fields),
      cmocka_unit_test(test_checkpoint_keras_path_without_keras),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
