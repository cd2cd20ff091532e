/* test_history.c -- dn_history: keys in first-logged order, values per epoch, epoch indices,
 * NaN for a key missing from an epoch, CSV export, NULL handling. */
#define _POSIX_C_SOURCE 200809L

#include "dn_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "training/history.h"

static void record(dn_history *h, size_t epoch, size_t n, const char **names, const double *v) {
  dn_logs logs = {n, names, v};
  assert_ok(dn_history_record(h, epoch, &logs));
}

static void test_record_and_read(void **state) {
  (void)state;
  dn_history *h = dn_history_new(1); /* grows past its initial room */
  assert_non_null(h);
  assert_int_equal(dn_history_length(h), 0);
  const char *k1[] = {"loss", "mae", "val_loss"};
  const char *k2[] = {"loss", "val_loss", "learning_rate"}; /* mae missing, a new key */
  record(h, 3, 3, k1, (double[]){0.5, 0.25, 0.75});
  record(h, 4, 3, k2, (double[]){0.4, 0.7, 0.01});
  record(h, 5, 3, k1, (double[]){0.3, 0.2, 0.6});
  assert_int_equal(dn_history_length(h), 3);
  assert_int_equal(dn_history_key_count(h), 4);
  const char *order[] = {"loss", "mae", "val_loss", "learning_rate"};
  for (size_t i = 0; i < 4; i++)
    assert_string_equal(dn_history_key(h, i), order[i]);
  assert_null(dn_history_key(h, 4));
  const double *loss = dn_history_values(h, "loss");
  assert_true(loss[0] == 0.5 && loss[1] == 0.4 && loss[2] == 0.3);
  const double *mae = dn_history_values(h, "mae");
  assert_true(mae[0] == 0.25 && isnan(mae[1]) && mae[2] == 0.2);
  const double *lr = dn_history_values(h, "learning_rate");
  assert_true(isnan(lr[0]) && lr[1] == 0.01 && isnan(lr[2]));
  assert_null(dn_history_values(h, "accuracy"));
  assert_null(dn_history_values(h, NULL));
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(dn_history_epoch(h, i), 3 + i);
  assert_int_equal(dn_history_epoch(h, 3), 0);
  dn_history_free(h);
}

static void test_write_csv(void **state) {
  (void)state;
  dn_history *h = dn_history_new(2);
  const char *k[] = {"loss", "val_loss"};
  record(h, 0, 2, k, (double[]){0.1, 1e-05});
  record(h, 1, 2, k, (double[]){(double)0.1f, 123.0});
  char path[] = "/tmp/dn_hist_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_ok(dn_history_write_csv(h, path));
  FILE *f = fopen(path, "r");
  char text[256] = "";
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  remove(path);
  /* Python-repr floats: the shortest text that reads back to the same double. */
  assert_string_equal(text, "epoch,loss,val_loss\n0,0.1,1e-05\n1,0.10000000149011612,123.0\n");
  assert_status_msg(dn_history_write_csv(h, "/nonexistent-dir/h.csv"), DN_ERR_IO,
                    "dn_history_write_csv: cannot open '/nonexistent-dir/h.csv'");
  assert_status_msg(dn_history_write_csv(NULL, path), DN_ERR_ARG, "history is NULL");
  assert_status_msg(dn_history_write_csv(h, NULL), DN_ERR_ARG, "path is NULL");
  dn_history_free(h);
}

static void test_null_history(void **state) {
  (void)state;
  assert_int_equal(dn_history_length(NULL), 0);
  assert_int_equal(dn_history_key_count(NULL), 0);
  assert_null(dn_history_key(NULL, 0));
  assert_null(dn_history_values(NULL, "loss"));
  assert_int_equal(dn_history_epoch(NULL, 0), 0);
  dn_history_free(NULL);
}

/* The history fit returns: keys in Keras order, one entry per epoch run. */
static void test_history_from_fit(void **state) {
  (void)state;
  float x[16], y[8];
  for (int i = 0; i < 8; i++) {
    x[2 * i] = (float)i / 8;
    x[2 * i + 1] = 1.0f - (float)i / 8;
    y[i] = (float)(i % 2);
  }
  dn_model *m = dn_sequential(dn_dense(1, .activation = "sigmoid", .input_dim = 2));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "binary_crossentropy",
                       .metrics = (const char *[]){"binary_accuracy", "mse", NULL}));
  dn_history *h = dn_fit(m, dn_tensor_2d(x, 8, 2), dn_tensor_1d(y, 8), .epochs = 3,
                         .validation_split = 0.25, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  const char *order[] = {"loss",     "binary_accuracy",     "mse",
                         "val_loss", "val_binary_accuracy", "val_mse"};
  assert_int_equal(dn_history_key_count(h), 6);
  for (size_t i = 0; i < 6; i++)
    assert_string_equal(dn_history_key(h, i), order[i]);
  assert_int_equal(dn_history_length(h), 3);
  const double *acc = dn_history_values(h, "val_binary_accuracy");
  for (size_t e = 0; e < 3; e++) {
    /* 2 validation rows: accuracy is 0, 0.5 or 1. */
    assert_true(acc[e] == 0.0 || acc[e] == 0.5 || acc[e] == 1.0);
    assert_int_equal(dn_history_epoch(h, e), e);
  }
  dn_history_free(h);
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_and_read),
      cmocka_unit_test(test_write_csv),
      cmocka_unit_test(test_null_history),
      cmocka_unit_test(test_history_from_fit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
