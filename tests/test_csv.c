/* test_csv.c -- CSV loading (columns, quoting, line endings, numbers, errors with line and
 * column, dropping, streaming a large file) and the seeded train/test split. */
#define _POSIX_C_SOURCE 200809L
#include "dn_test.h"

#include <float.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data/csv.h"
#include "core/decimal.h"

static char tmp_dir[] = "/tmp/dn_test_csv_XXXXXX";

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

/* Writes `text` (len bytes) to tmp_dir/name and returns the path (static buffer). */
static const char *write_bytes(const char *name, const char *text, size_t len) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return path;
}

static const char *write_text(const char *name, const char *text) {
  return write_bytes(name, text, strlen(text));
}

static void assert_floats(const float *got, const float *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      print_error("[%zu]: got %.9g, expected %.9g\n", i, got[i], want[i]);
      fail();
    }
}

/* The zero tensor, field by field (a struct compare would read padding). */
static void assert_no_tensor(dn_tensor t) {
  assert_null(t.data);
  assert_int_equal(t.rank, 0);
  for (int i = 0; i < DN_TENSOR_MAX_RANK; i++)
    assert_int_equal(t.shape[i], 0);
  assert_false(t.owner);
}

static void assert_empty(const dn_dataset *d) {
  assert_no_tensor(d->x);
  assert_no_tensor(d->y);
  assert_int_equal(d->dropped_rows, 0);
}

static const char *const ABCD = "a,b,c,d\n1,2,3,4\n5,6,7,8\n";

static void test_default_columns_and_target_by_name(void **state) {
  (void)state;
  const char *path = write_text("abcd.csv", ABCD);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *[]){"b", NULL}));
  assert_int_equal(dn_tensor_rows(d.x), 2);
  assert_int_equal(dn_tensor_cols(d.x), 3);
  assert_int_equal(dn_tensor_cols(d.y), 1);
  assert_int_equal(d.dropped_rows, 0);
  assert_floats(d.x.data, (const float[]){1, 3, 4, 5, 7, 8}, 6);
  assert_floats(d.y.data, (const float[]){2, 6}, 2);
  /* Owning rows x columns tensors, ready for the data calls. */
  assert_true(d.x.owner && d.y.owner);
  assert_int_equal(d.x.rank, 2);
  assert_int_equal(d.y.rank, 2);
  dn_dataset_free(&d);
  assert_empty(&d);
  dn_dataset_free(&d); /* twice is harmless */
  dn_dataset_free(NULL);

  /* no options: every column is a feature, no targets */
  assert_ok(dn_csv_load(path, &d));
  assert_int_equal(dn_tensor_cols(d.x), 4);
  assert_int_equal(dn_tensor_cols(d.y), 0);
  assert_no_tensor(d.y);
  assert_floats(d.x.data, (const float[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
  dn_dataset_free(&d);
}

/* The dataset's tensors go straight into the data calls, as in Keras (model.fit(x, y)): a
 * Dense(1) of kernel ones predicts the row sums 1+3+4 = 8 and 5+7+8 = 20 against targets 2 and 6,
 * so the MSE is ((8-2)^2 + (20-6)^2) / 2 = 116. */
static void test_dataset_feeds_the_data_calls(void **state) {
  (void)state;
  const char *path = write_text("abcd.csv", ABCD);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *[]){"b", NULL}));
  dn_model *m = dn_sequential(dn_dense(1, .kernel_initializer = "ones"));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer_object = dn_sgd(.learning_rate = DN_ZERO), .loss = "mse"));
  dn_history *h = dn_fit(m, d.x, d.y, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  assert_int_equal(dn_model_input_dim(m), 3); /* built from x's width */
  assert_close(dn_history_values(h, "loss")[0], 116.0, 0, 1e-7);
  float loss, p[2];
  assert_ok(dn_evaluate(m, d.x, d.y, &loss));
  assert_close(loss, 116.0, 0, 1e-7);
  assert_ok(dn_predict(m, d.x, dn_tensor_2d(p, 2, 1)));
  assert_floats(p, (const float[]){8, 20}, 2);
  dn_history_free(h);
  dn_model_free(m);
  dn_dataset_free(&d);
}

static void test_columns_by_index_and_several_targets(void **state) {
  (void)state;
  const char *path = write_text("abcd.csv", ABCD);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .feature_columns = (const size_t[]){3, 1}, .n_feature_columns = 2,
                        .target_columns = (const size_t[]){0}, .n_target_columns = 1));
  assert_int_equal(dn_tensor_cols(d.x), 2);
  assert_floats(d.x.data, (const float[]){4, 2, 8, 6}, 4);
  assert_floats(d.y.data, (const float[]){1, 5}, 2);
  dn_dataset_free(&d);

  /* two targets by name, in the order given; features are the rest in file order */
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *[]){"d", "a", NULL}));
  assert_int_equal(dn_tensor_cols(d.x), 2);
  assert_int_equal(dn_tensor_cols(d.y), 2);
  assert_floats(d.x.data, (const float[]){2, 3, 6, 7}, 4);
  assert_floats(d.y.data, (const float[]){4, 1, 8, 5}, 4);
  dn_dataset_free(&d);

  /* features by name, a subset */
  assert_ok(dn_csv_load(path, &d, .feature_names = (const char *[]){"c", NULL},
                        .target_names = (const char *[]){"a", "b", NULL}));
  assert_int_equal(dn_tensor_cols(d.x), 1);
  assert_floats(d.x.data, (const float[]){3, 7}, 2);
  assert_floats(d.y.data, (const float[]){1, 2, 5, 6}, 4);
  dn_dataset_free(&d);

  /* no header: by index, the first row is data */
  path = write_text("noheader.csv", "1,2,3\n4,5,6\n");
  assert_ok(dn_csv_load(path, &d, .no_header = true, .target_columns = (const size_t[]){2},
                        .n_target_columns = 1));
  assert_int_equal(dn_tensor_rows(d.x), 2);
  assert_floats(d.x.data, (const float[]){1, 2, 4, 5}, 4);
  assert_floats(d.y.data, (const float[]){3, 6}, 2);
  dn_dataset_free(&d);
}

static void test_quoted_fields(void **state) {
  (void)state;
  const char *text = "\"x, first\",\"say \"\"hi\"\"\",note,y\n"
                     "\"1.5\", \"-2\" ,\"line one\nline \"\"two\"\", still\",3\n"
                     "2.5,\"\"\"not a number\"\"\"\"\",plain,4\n";
  const char *path = write_text("quoted.csv", text);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .feature_names = (const char *[]){"x, first", NULL},
                        .target_names = (const char *[]){"y", NULL}));
  assert_int_equal(dn_tensor_rows(d.x), 2);
  assert_floats(d.x.data, (const float[]){1.5f, 2.5f}, 2);
  assert_floats(d.y.data, (const float[]){3, 4}, 2);
  dn_dataset_free(&d);

  /* the escaped header name; its second row holds text -> malformed, named with its line */
  assert_status_msg(dn_csv_load(path, &d, .feature_names = (const char *[]){"say \"hi\"", NULL},
                                .target_names = (const char *[]){"y", NULL}),
                    DN_ERR_FORMAT,
                    "line 4, column 2 (\"say \"hi\"\"): malformed number \"\"not a number\"\"\"");
  assert_empty(&d);
}

static void test_line_endings_whitespace_and_bom(void **state) {
  (void)state;
  const char *text = "\xEF\xBB\xBF"
                     " a , b \r\n"
                     "\r\n"
                     "  1 ,\t2\t\r\n"
                     "\n"
                     "3,4\r"  /* a lone CR ends a record too */
                     "5 , 6"; /* no final line break */
  const char *path = write_text("endings.csv", text);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *[]){"b", NULL}));
  assert_int_equal(dn_tensor_rows(d.x), 3);
  assert_floats(d.x.data, (const float[]){1, 3, 5}, 3);
  assert_floats(d.y.data, (const float[]){2, 4, 6}, 3);
  dn_dataset_free(&d);

  /* line numbers count the skipped empty lines and each kind of break */
  path = write_text("endings_bad.csv", "a,b\r\n\r\n1,2\r\n\n3,4\r5,x\n");
  assert_status_msg(dn_csv_load(path, &d), DN_ERR_FORMAT,
                    "line 6, column 2 (\"b\"): malformed number \"x\"");
}

static void test_other_delimiters(void **state) {
  (void)state;
  dn_dataset d;
  const char *path = write_text("semi.csv", "a;b\n1,5;2\n");
  /* with ';' a comma is not a decimal separator either: "1,5" is malformed */
  assert_status_msg(dn_csv_load(path, &d, .delimiter = ';'), DN_ERR_FORMAT,
                    "line 2, column 1 (\"a\"): malformed number \"1,5\"");
  path = write_text("tab.csv", "a\tb\tc\n1\t\t3\n");
  /* tab-separated: tabs are not trimmed as blanks, so the empty cell stays empty */
  assert_status_msg(dn_csv_load(path, &d, .delimiter = '\t'), DN_ERR_FORMAT,
                    "line 2, column 2 (\"b\"): missing value");
  assert_ok(dn_csv_load(path, &d, .delimiter = '\t', .feature_columns = (const size_t[]){0, 2},
                        .n_feature_columns = 2));
  assert_floats(d.x.data, (const float[]){1, 3}, 2);
  dn_dataset_free(&d);
  /* a byte above 0x7f (Latin-1's section sign) */
  path = write_text("high.csv", "a\xa7"
                                "b\n1\xa7"
                                " 2\n");
  assert_ok(dn_csv_load(path, &d, .delimiter = '\xa7'));
  assert_int_equal(dn_tensor_cols(d.x), 2);
  assert_floats(d.x.data, (const float[]){1, 2}, 2);
  dn_dataset_free(&d);
}

static void test_number_forms(void **state) {
  (void)state;
  static const struct {
    const char *text;
    float value;
  } cases[] = {
      {"0", 0.0f},
      {"-0", -0.0f},
      {"+3", 3.0f},
      {"5.", 5.0f},
      {".5", 0.5f},
      {"-.25", -0.25f},
      {"1e3", 1000.0f},
      {"1E-2", 0.01f},
      {"-2.5e+1", -25.0f},
      {"0.000e0", 0.0f},
      {"00012.50", 12.5f},
      {"79.99", 79.99f},
      {"1e-50", 0.0f}, /* below half the smallest subnormal */
      {"-1e-50", -0.0f},
      {"1.401298464324817e-45", 0x1p-149f}, /* smallest subnormal */
      {"7.006492321624085e-46", 0.0f},      /* a little below half of it */
      {"7.00649232162408535461864791644958065640130970938257885878534141944895541342930300743"
       "319094181060791015625e-46",
       0.0f}, /* exactly half (2^-150): a tie, to even */
      {"7.00649232162408535461864791644958065640130970938257885878534141944895541342930300743"
       "319094181060791015625000000000000000000000000000000000000000000000000000000000000000"
       "00000000000000000000000000000000000000000000000000001e-46",
       0x1p-149f}, /* a hair above the tie, beyond 128 digits (the sticky digit decides) */
      {"3.4028235e38", FLT_MAX},
      {"340282356779733661637539395458142568447", FLT_MAX}, /* just below the overflow edge */
      {"0.1000000000000000000000000000000000000000000000000000000001", 0.1f},
      {"16777217", 16777216.0f}, /* a tie, to even */
      {"16777219", 16777220.0f}, /* a tie, to even (up) */
      {"1e0000000000000000000000000000001", 10.0f},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    float got = 1234.0f;
    dn_decimal_result r = dn_decimal_to_float(cases[i].text, strlen(cases[i].text), 0, &got);
    if (r != DN_DECIMAL_OK || memcmp(&got, &cases[i].value, sizeof got) != 0) {
      print_error("'%s': result %d, got %.9g, expected %.9g\n", cases[i].text, (int)r, got,
                  cases[i].value);
      fail();
    }
  }
  static const struct {
    const char *text;
    dn_decimal_result result;
  } bad[] = {
      {"", DN_DECIMAL_EMPTY},
      {" \t ", DN_DECIMAL_EMPTY},
      {".", DN_DECIMAL_MALFORMED},
      {"-", DN_DECIMAL_MALFORMED},
      {"1e", DN_DECIMAL_MALFORMED},
      {"1e+", DN_DECIMAL_MALFORMED},
      {"e5", DN_DECIMAL_MALFORMED},
      {"1.2.3", DN_DECIMAL_MALFORMED},
      {"1 2", DN_DECIMAL_MALFORMED},
      {"0x10", DN_DECIMAL_MALFORMED},
      {"1,5", DN_DECIMAL_MALFORMED},
      {"--1", DN_DECIMAL_MALFORMED},
      {"nan", DN_DECIMAL_NONFINITE},
      {"-Inf", DN_DECIMAL_NONFINITE},
      {"INFINITY", DN_DECIMAL_NONFINITE},
      {"nan(0x1)", DN_DECIMAL_NONFINITE},
      {"1e39", DN_DECIMAL_RANGE},
      {"-3.5e38", DN_DECIMAL_RANGE},
      {"340282356779733661637539395458142568448", DN_DECIMAL_RANGE}, /* 2^128 - 2^103: a tie */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    float got = 1234.0f;
    dn_decimal_result r = dn_decimal_to_float(bad[i].text, strlen(bad[i].text), 0, &got);
    if (r != bad[i].result || got != 1234.0f) {
      print_error("'%s': result %d (%s), expected %d\n", bad[i].text, (int)r,
                  dn_decimal_result_string(r), (int)bad[i].result);
      fail();
    }
  }
  /* the text is not NUL-terminated: only `len` bytes count */
  float v = 0;
  assert_int_equal(dn_decimal_to_float("12345", 2, 0, &v), DN_DECIMAL_OK);
  assert_true(v == 12.0f);
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Compares one string with strtof (glibc's is correctly rounded) in the "C" locale. */
static void check_against_strtof(const char *text, size_t *checked) {
  char *end;
  float want = strtof(text, &end);
  assert_true(*end == '\0');
  float got = 0;
  dn_decimal_result r = dn_decimal_to_float(text, strlen(text), 0, &got);
  if (isinf(want)) {
    if (r != DN_DECIMAL_RANGE) {
      print_error("'%s': strtof overflows, got result %d\n", text, (int)r);
      fail();
    }
  } else if (r != DN_DECIMAL_OK || memcmp(&got, &want, sizeof got) != 0) {
    print_error("'%s': result %d, got %a, strtof %a\n", text, (int)r, (double)got, (double)want);
    fail();
  }
  (*checked)++;
}

static void test_numbers_match_strtof(void **state) {
  (void)state;
  assert_non_null(setlocale(LC_NUMERIC, "C"));
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  char text[400];
  size_t checked = 0;
  /* random decimals: up to 30 digits, any point position, exponents across float's range */
  for (int it = 0; it < 4000; it++) {
    size_t n = 0;
    if (xorshift(&seed) % 2)
      text[n++] = '-';
    int digits = 1 + (int)(xorshift(&seed) % (it % 2 ? 9 : 30));
    int point = (int)(xorshift(&seed) % (uint64_t)(digits + 2));
    for (int i = 0; i < digits; i++) {
      if (i == point)
        text[n++] = '.';
      text[n++] = (char)('0' + xorshift(&seed) % 10);
    }
    if (xorshift(&seed) % 3 != 0)
      n += (size_t)snprintf(text + n, sizeof text - n, "e%d", (int)(xorshift(&seed) % 96) - 56);
    text[n] = '\0';
    check_against_strtof(text, &checked);
  }
  /* the hard cases: exact float midpoints (ties), and a hair above and below them, written
   * with up to 120 significant digits (every float midpoint is exactly a double) */
  for (int it = 0; it < 2000; it++) {
    uint32_t bits = (uint32_t)(xorshift(&seed) % 0x7f7fffffu);
    if (it % 4 == 0)
      bits %= 0x01000000u; /* subnormals and the smallest normals */
    float f, g;
    memcpy(&f, &bits, sizeof f);
    g = nextafterf(f, INFINITY);
    double mid = ((double)f + (double)g) / 2;
    int precision = (int)(xorshift(&seed) % 120);
    snprintf(text, sizeof text, "%.*e", precision, mid);
    check_against_strtof(text, &checked);
    snprintf(text, sizeof text, "%.120e", mid); /* exact, then nudged in the last digit */
    char *e = strchr(text, 'e');
    memmove(e + 1, e, strlen(e) + 1);
    e[0] = (char)('1' + it % 9);
    check_against_strtof(text, &checked);
  }
  assert_int_equal(checked, 4000 + 4000);
  print_message("  %zu decimal strings give the same float as strtof\n", checked);

  /* locale independence: under a comma-decimal LC_NUMERIC the result does not change */
  const char *comma_locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ru_RU.UTF-8"};
  const char *found = NULL;
  for (size_t i = 0; i < 4 && found == NULL; i++)
    found = setlocale(LC_NUMERIC, comma_locales[i]);
  if (found == NULL) {
    print_message("  (no comma-decimal locale installed: LC_NUMERIC check skipped)\n");
  } else {
    float v = 0;
    assert_int_equal(dn_decimal_to_float("2.5", 3, 0, &v), DN_DECIMAL_OK);
    assert_true(v == 2.5f);
    assert_int_equal(dn_decimal_to_float("2,5", 3, 0, &v), DN_DECIMAL_MALFORMED);
  }
  setlocale(LC_NUMERIC, "C");
}

static void test_cell_errors_name_line_and_column(void **state) {
  (void)state;
  dn_dataset d;
  static const struct {
    const char *text, *message;
  } cases[] = {
      {"a,b,c\n1,2,3\n4,1.2.3,6\n", "line 3, column 2 (\"b\"): malformed number \"1.2.3\""},
      {"a,b,c\n1,2,3\n\n4,5\n", "line 4, column 3: the row has 2 fields, the header has 3"},
      {"a,b,c\n1,2,3,4\n", "line 2, column 4: the row has 4 fields, the header has 3"},
      {"a,b,c\n1,,3\n", "line 2, column 2 (\"b\"): missing value (empty cell)"},
      {"a,b,c\n1,2,  \n", "line 2, column 3 (\"c\"): missing value (empty cell)"},
      {"a,b,c\n1,2,\"\"\n", "line 2, column 3 (\"c\"): missing value (empty cell)"},
      {"a,b,c\n1,NaN,3\n", "line 2, column 2 (\"b\"): NaN or infinity is not accepted \"NaN\""},
      {"a,b,c\n1,2,-inf\n", "line 2, column 3 (\"c\"): NaN or infinity is not accepted \"-inf\""},
      {"a,b,c\n1,2,1e40\n", "line 2, column 3 (\"c\"): number out of float range \"1e40\""},
      {"a,b,c\n1,\"2\"x,3\n", "line 2, column 2: unexpected character after the closing quote"},
      {"a,b,c\n1,2,3\n4,\"5\n6,7\n", "line 3, column 2: unterminated quoted field"},
      {"a,\"b\"c\n1,2\n", "line 1, column 2: header: unexpected character after the closing"},
      {"a,b,c\n1,2,\"multi\nline\",x\n",
       "line 2, column 4: the row has 4 fields, the header has 3"},
      {"a,b,c\n1,\"2\n\",\"\n3\"\n", "line 2, column 2 (\"b\"): malformed number \"2?\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.csv", i);
    const char *path = write_text(name, cases[i].text);
    d.dropped_rows = 99; /* cleared even on failure */
    d.x.rank = 2;
    dn_status s = dn_csv_load(path, &d);
    if (s != DN_ERR_FORMAT || strstr(dn_last_error(), cases[i].message) == NULL ||
        strstr(dn_last_error(), name) == NULL || strstr(dn_last_error(), "dn_csv_load") == NULL) {
      print_error("case %zu: %s: '%s' lacks '%s'\n", i, dn_status_string(s), dn_last_error(),
                  cases[i].message);
      fail();
    }
    assert_empty(&d);
  }
  /* a cell in a column that is not chosen is never parsed */
  const char *path = write_text("unused.csv", "a,name,c\n1,Ford Pinto,3\n");
  assert_ok(dn_csv_load(path, &d, .feature_columns = (const size_t[]){0}, .n_feature_columns = 1,
                        .target_columns = (const size_t[]){2}, .n_target_columns = 1));
  assert_floats(d.x.data, (const float[]){1}, 1);
  dn_dataset_free(&d);
}

static void test_drop_invalid_rows(void **state) {
  (void)state;
  const char *text = "a,b\n"
                     "1,2\n"
                     "x,3\n"      /* malformed */
                     "4\n"        /* ragged */
                     "5,6,7\n"    /* ragged */
                     ",8\n"       /* missing */
                     "9,nan\n"    /* not finite */
                     "1e99,1\n"   /* out of range */
                     "\"1\"z,1\n" /* text after a quote */
                     "10,11\n"
                     "12,\"13\"\n";
  const char *path = write_text("drop.csv", text);
  dn_dataset d;
  dn_csv_load_options o = {
      .out = &d, .target_names = (const char *[]){"b", NULL}, .drop_invalid_rows = true};
  o.path = path;
  assert_ok(dn_csv_load_with(o));
  assert_int_equal(dn_tensor_rows(d.x), 3);
  assert_int_equal(d.dropped_rows, 7);
  assert_floats(d.x.data, (const float[]){1, 10, 12}, 3);
  assert_floats(d.y.data, (const float[]){2, 11, 13}, 3);
  dn_dataset_free(&d);

  /* nothing left */
  o.path = write_text("drop_all.csv", "a,b\nx,1\n2\n");
  assert_status_msg(dn_csv_load_with(o), DN_ERR_FORMAT, "no data rows (2 invalid rows");
  assert_empty(&d);
  /* an unterminated quote is not a droppable row */
  o.path = write_text("drop_quote.csv", "a,b\n1,2\n\"3,4\n");
  assert_status_msg(dn_csv_load_with(o), DN_ERR_FORMAT, "unterminated quoted field");
}

static void test_file_and_argument_errors(void **state) {
  (void)state;
  dn_dataset d;
  char missing[300];
  snprintf(missing, sizeof missing, "%s/no_such_file.csv", tmp_dir);
  assert_status_msg(dn_csv_load(missing, &d), DN_ERR_IO, "no_such_file.csv");
  assert_status_msg(dn_csv_load(tmp_dir, &d), DN_ERR_IO,
                    "is not a regular file (it is a directory)");
  assert_empty(&d);

  const char *path = write_text("empty.csv", "");
  assert_status_msg(dn_csv_load(path, &d), DN_ERR_FORMAT, "no data rows");
  path = write_text("blank.csv", "\n\r\n\n");
  assert_status_msg(dn_csv_load(path, &d), DN_ERR_FORMAT, "no data rows");
  path = write_text("header_only.csv", "a,b\n");
  assert_status_msg(dn_csv_load(path, &d), DN_ERR_FORMAT, "no data rows");
  assert_status_msg(dn_csv_load(path, &d, .no_header = true), DN_ERR_FORMAT,
                    "line 1, column 1: malformed number \"a\"");

  path = write_text("abcd.csv", ABCD);
  assert_status_msg(dn_csv_load(path, &d, .target_names = (const char *[]){"nope", NULL}),
                    DN_ERR_ARG, "abcd.csv': no column named \"nope\" (a target)");
  assert_status_msg(dn_csv_load(path, &d, .feature_names = (const char *[]){"a", "zz", NULL}),
                    DN_ERR_ARG, "no column named \"zz\" (a feature)");
  assert_status_msg(
      dn_csv_load(path, &d, .target_columns = (const size_t[]){4}, .n_target_columns = 1),
      DN_ERR_ARG, "target column index 4 is out of range (4 columns)");
  assert_status_msg(
      dn_csv_load(path, &d, .target_names = (const char *[]){"a", "b", "c", "d", NULL}), DN_ERR_ARG,
      "no feature columns");
  assert_status_msg(dn_csv_load(path, &d, .target_names = (const char *[]){"a", NULL},
                                .target_columns = (const size_t[]){0}, .n_target_columns = 1),
                    DN_ERR_ARG, "by name or by index, not both");
  assert_status_msg(dn_csv_load(path, &d, .n_feature_columns = 2), DN_ERR_ARG,
                    "feature_columns is NULL");
  assert_status_msg(
      dn_csv_load(path, &d, .no_header = true, .target_names = (const char *[]){"a", NULL}),
      DN_ERR_ARG, "by index only");
  assert_status_msg(dn_csv_load(path, &d, .delimiter = '"'), DN_ERR_ARG, "delimiter");
  assert_status_msg(dn_csv_load(NULL, &d), DN_ERR_ARG, "path is NULL");
  assert_status_msg(dn_csv_load(path, NULL), DN_ERR_ARG, "out is NULL");
  assert_empty(&d);
}

static void test_stream_seam(void **state) {
  (void)state;
  static char text[] = "u,v\n1,2\n3,4\n";
  FILE *f = fmemopen(text, strlen(text), "r");
  assert_non_null(f);
  dn_dataset d;
  assert_ok(dn_csv_load_stream(f, "memory", NULL, &d));
  fclose(f);
  assert_int_equal(dn_tensor_rows(d.x), 2);
  assert_floats(d.x.data, (const float[]){1, 2, 3, 4}, 4);
  dn_dataset_free(&d);
  assert_status_msg(dn_csv_load_stream(NULL, "memory", NULL, &d), DN_ERR_ARG, "file is NULL");
}

/* Allocator that fails after `budget` allocations (to walk every failure path). */
static long alloc_budget;
static long alloc_live;
static void *failing_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  if (alloc_budget-- <= 0)
    return NULL;
  void *p = NULL;
  if (posix_memalign(&p, alignment, size) != 0)
    return NULL;
  alloc_live++;
  return p;
}
static void counting_free(void *p, void *ctx) {
  (void)ctx;
  alloc_live--;
  free(p);
}

static void test_out_of_memory_paths(void **state) {
  (void)state;
  /* enough rows and a long field to make every buffer grow at least once */
  char text[8192];
  size_t n = (size_t)snprintf(text, sizeof text, "a,\"%0200d\",c\n", 7);
  for (int i = 0; i < 300; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "%d,x,%d.5\n", i, -i);
  const char *path = write_bytes("oom.csv", text, n);
  dn_csv_load_options o = {.path = path,
                           .target_names = (const char *[]){"c", NULL},
                           .feature_columns = (const size_t[]){0},
                           .n_feature_columns = 1};
  dn_allocator hook = {failing_alloc, counting_free, NULL};
  long budget = 0;
  for (;; budget++) {
    alloc_budget = budget;
    alloc_live = 0;
    assert_ok(dn_set_allocator(&hook));
    dn_dataset d;
    o.out = &d;
    dn_status s = dn_csv_load_with(o);
    if (s == DN_OK) {
      assert_int_equal(dn_tensor_rows(d.x), 300);
      assert_true(d.y.data[299] == -299.5f);
      dn_dataset_free(&d);
      assert_int_equal(alloc_live, 0);
      break;
    }
    assert_int_equal(s, DN_ERR_NOMEM);
    assert_non_null(strstr(dn_last_error(), "dn_csv_load"));
    assert_empty(&d);
    assert_int_equal(alloc_live, 0); /* nothing leaked */
  }
  assert_ok(dn_set_allocator(NULL));
  assert_true(budget >= 8);

  /* the split's failure paths */
  dn_dataset data;
  o.out = &data;
  assert_ok(dn_csv_load_with(o));

  for (budget = 0;; budget++) {
    alloc_budget = budget;
    alloc_live = 0;
    assert_ok(dn_set_allocator(&hook));
    dn_dataset tr, te;
    dn_status s = dn_train_test_split(&data, 0.25, 1, &tr, &te);
    if (s == DN_OK) {
      dn_dataset_free(&tr);
      dn_dataset_free(&te);
      assert_int_equal(alloc_live, 0);
      break;
    }
    assert_int_equal(s, DN_ERR_NOMEM);
    assert_non_null(strstr(dn_last_error(), "dn_train_test_split"));
    assert_empty(&tr);
    assert_empty(&te);
    assert_int_equal(alloc_live, 0);
  }
  assert_ok(dn_set_allocator(NULL));
  dn_dataset_free(&data);
}

/* ---- limits and streams (issue 12 item 4) ---- */

/* An allocator that tracks the bytes live and their peak (a header before each block holds its
 * size). */
static size_t peak_live, bytes_live;
static void *peak_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  unsigned char *p = NULL;
  if (posix_memalign((void **)&p, alignment, size + alignment) != 0)
    return NULL;
  memcpy(p, &size, sizeof size);
  bytes_live += size;
  if (bytes_live > peak_live)
    peak_live = bytes_live;
  return p + alignment;
}
static void peak_free(void *ptr, void *ctx) {
  (void)ctx;
  unsigned char *p = (unsigned char *)ptr - 64; /* DN_ALIGN: the library always asks for 64 */
  size_t size;
  memcpy(&size, p, sizeof size);
  bytes_live -= size;
  free(p);
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static void test_dev_zero_is_refused_quickly_in_bounded_memory(void **state) {
  (void)state;
  if (access("/dev/zero", R_OK) != 0)
    skip();
  dn_dataset d;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_status_msg(dn_csv_load("/dev/zero", &d), DN_ERR_IO,
                    "'/dev/zero' is not a regular file (it is a character device)");
  assert_non_null(strstr(dn_last_error(), "allow_stream"));
  assert_empty(&d);
  /* Asked for as a stream, it is one endless record of NUL bytes: the record limit ends it. */
  peak_live = bytes_live = 0;
  assert_ok(dn_set_allocator(&(dn_allocator){peak_alloc, peak_free, NULL}));
  assert_status_msg(dn_csv_load("/dev/zero", &d, .allow_stream = true), DN_ERR_FORMAT,
                    "'/dev/zero', line 1: the record is longer than 1048576 bytes (the limit, "
                    "max_record_bytes)");
  assert_empty(&d);
  assert_int_equal(bytes_live, 0);
  /* the record (doubled buffers: < 2 MiB, and the old one while copying) + the 64 KiB buffer */
  assert_true(peak_live <= 4 * DN_CSV_MAX_RECORD_BYTES);
  size_t peak_default = peak_live;
  peak_live = 0;
  assert_status_msg(dn_csv_load("/dev/zero", &d, .allow_stream = true, .max_record_bytes = 1000),
                    DN_ERR_FORMAT, "longer than 1000 bytes");
  assert_true(peak_live <= 65536 + 16384);
  assert_ok(dn_set_allocator(NULL));
  print_message("  /dev/zero: peak %zu bytes with the default record limit, %zu with 1000\n",
                peak_default, peak_live);
  assert_true(seconds_since(&t0) < 5.0);
}

static void test_record_and_file_limits(void **state) {
  (void)state;
  dn_dataset d;
  /* the record limit counts a record's bytes without its line break, exactly */
  const char *path = write_text("ten.csv", "a,b\r\n1234567,89\r\n1,2\n12345678,9");
  assert_ok(dn_csv_load(path, &d, .max_record_bytes = 10));
  assert_int_equal(dn_tensor_rows(d.x), 3);
  dn_dataset_free(&d);
  path = write_text("eleven.csv", "a,b\n1,2\n\n12345678,90\n3,4\n");
  assert_status_msg(dn_csv_load(path, &d, .max_record_bytes = 10), DN_ERR_FORMAT,
                    "eleven.csv', line 4: the record is longer than 10 bytes");
  assert_empty(&d);
  /* also in a quoted field that never closes, and not a droppable row */
  path = write_text("open_quote.csv", "a,b\n1,\"2\n\n\n\n\n\n\n\n\n\n\n\n\n");
  assert_status_msg(dn_csv_load(path, &d, .max_record_bytes = 8, .drop_invalid_rows = true),
                    DN_ERR_FORMAT, "line 2: the record is longer than 8 bytes");
  assert_status_msg(dn_csv_load(path, &d), DN_ERR_FORMAT, "unterminated quoted field");
  /* a regular file over the file limit is refused before it is read */
  path = write_text("twenty.csv", "a,b\n1,2\n3,4\n5,6\n7,8\n");
  assert_status_msg(dn_csv_load(path, &d, .max_file_bytes = 19), DN_ERR_FORMAT,
                    "twenty.csv' is 20 bytes, more than 19 (the limit, max_file_bytes)");
  assert_empty(&d);
  assert_ok(dn_csv_load(path, &d, .max_file_bytes = 20));
  assert_int_equal(dn_tensor_rows(d.x), 4);
  dn_dataset_free(&d);
  /* a stream is counted as it is read */
  FILE *f = fmemopen((void *)"a,b\n1,2\n3,4\n5,6\n7,8\n", 20, "rb");
  assert_non_null(f);
  assert_status_msg(dn_csv_load_stream(f, "mem", &(dn_csv_load_options){.max_file_bytes = 12}, &d),
                    DN_ERR_FORMAT, "'mem': the input is longer than 12 bytes (the limit");
  fclose(f);
  assert_empty(&d);
}

/* A child process that opens `fifo` for writing and writes `text` once, or (endless) forever;
 * returns its pid. */
static pid_t fifo_writer(const char *fifo, const char *text, bool endless) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(fifo, O_WRONLY);
    if (fd < 0)
      _exit(2);
    size_t n = strlen(text);
    do {
      if (write(fd, text, n) != (ssize_t)n)
        _exit(endless ? 0 : 3);
    } while (endless);
    close(fd);
    _exit(0);
  }
  return pid;
}

static void test_fifo_only_when_allowed(void **state) {
  (void)state;
  char fifo[300];
  snprintf(fifo, sizeof fifo, "%s/in.fifo", tmp_dir);
  if (mkfifo(fifo, 0600) != 0) {
    print_message("  mkfifo failed (%s): FIFO cases skipped\n", strerror(errno));
    skip();
  }
  dn_dataset d;
  /* refused without opening it (an open of a FIFO with no writer would block) */
  assert_status_msg(dn_csv_load(fifo, &d), DN_ERR_IO, "is not a regular file (it is a FIFO)");
  assert_empty(&d);
  /* allowed: read to the writer's end */
  pid_t pid = fifo_writer(fifo, "a,b\n1,2\n3,4\n", false);
  assert_ok(
      dn_csv_load(fifo, &d, .allow_stream = true, .target_names = (const char *[]){"b", NULL}));
  assert_int_equal(dn_tensor_rows(d.x), 2);
  assert_floats(d.x.data, (const float[]){1, 3}, 2);
  assert_floats(d.y.data, (const float[]){2, 4}, 2);
  dn_dataset_free(&d);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* an endless writer of valid rows ends at the file limit */
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* (the child's write fails, ours do not) */
  pid = fifo_writer(fifo, "1,2\n", true);
  assert_status_msg(dn_csv_load(fifo, &d, .allow_stream = true, .max_file_bytes = 1 << 20),
                    DN_ERR_FORMAT,
                    "the input is longer than 1048576 bytes (the limit, max_file_bytes)");
  assert_empty(&d);
  assert_int_equal(waitpid(pid, &status, 0), pid); /* the writer ends once we close the FIFO */
  signal(SIGPIPE, old);
  assert_true(seconds_since(&t0) < 5.0);
}

static void test_large_file_streams(void **state) {
  (void)state;
  enum { ROWS = 200000 };
  char path[300];
  snprintf(path, sizeof path, "%s/large.csv", tmp_dir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fprintf(f, "id,half,neg,target\n");
  for (int i = 0; i < ROWS; i++)
    fprintf(f, "%d,%d.5,-%de-3,%d\n", i, i, i % 1000, i % 7);
  assert_int_equal(fclose(f), 0);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *[]){"target", NULL}));
  assert_int_equal(dn_tensor_rows(d.x), ROWS);
  assert_int_equal(dn_tensor_cols(d.x), 3);
  size_t bad = 0;
  for (size_t i = 0; i < ROWS; i++) {
    float want[3] = {(float)i, (float)i + 0.5f, -(float)(i % 1000) / 1000.0f};
    char s[32];
    snprintf(s, sizeof s, "-%zue-3", i % 1000);
    want[2] = strtof(s, NULL);
    if (memcmp(d.x.data + 3 * i, want, sizeof want) != 0 || d.y.data[i] != (float)(i % 7))
      bad++;
  }
  assert_int_equal(bad, 0);
  dn_dataset_free(&d);
}

/* Records whose line breaks, quotes and "" escapes straddle the 64 KiB read buffer's refills. */
static void test_read_buffer_boundaries(void **state) {
  (void)state;
  enum { CHUNK = 65536 };
  static char text[CHUNK + 256];
  for (size_t shift = 0; shift < 8; shift++) {
    /* "a,b,c\n" (6) + "1,2,<pad>" then a "\r\n" and a quoted "" field near the boundary */
    size_t n = (size_t)snprintf(text, sizeof text, "a,b,c\n1,2,");
    size_t pad = CHUNK - 4 - n + shift;
    memset(text + n, 'x', pad);
    n += pad;
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "\r\n3,\"4\",\"p\"\"q\"\r\n5,6,\"\"\"\"\r\n7,8,z\n");
    const char *path = write_bytes("boundary.csv", text, n);
    dn_dataset d;
    assert_ok(
        dn_csv_load(path, &d, .feature_columns = (const size_t[]){0, 1}, .n_feature_columns = 2));
    assert_int_equal(dn_tensor_rows(d.x), 4);
    assert_floats(d.x.data, (const float[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
    dn_dataset_free(&d);
    /* line numbers stay right across the refill */
    assert_status_msg(dn_csv_load(path, &d), DN_ERR_FORMAT,
                      "line 2, column 3 (\"c\"): malformed number \"xxxx");
    text[n - 2] = '9';           /* "7,8,9\n": now the last row is the first bad one after line 2 */
    memset(text + 10, '0', pad); /* "1,2,000...0" is a number */
    path = write_bytes("boundary2.csv", text, n);
    assert_status_msg(dn_csv_load(path, &d), DN_ERR_FORMAT,
                      "line 3, column 3 (\"c\"): malformed number \"p\"q\"");
  }
}

/* Inputs that once looked risky (found by review and fuzzing); each must fail or load cleanly. */
static void test_fuzz_regressions(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t len;
    dn_status status;
    const char *message;
  } cases[] = {
      {"\xEF\xBB\xBF", 3, DN_ERR_FORMAT, "no data rows (the file is empty)"},
      {"\xEF\xBB", 2, DN_ERR_FORMAT, "no data rows"}, /* half a BOM is a header name */
      {"\"", 1, DN_ERR_FORMAT, "line 1, column 1: unterminated quoted field"},
      {"a\r", 2, DN_ERR_FORMAT, "no data rows"},
      {"a\n\r", 3, DN_ERR_FORMAT, "no data rows"},
      {",\n,", 3, DN_ERR_FORMAT, "line 2, column 1: missing value"},
      {"a\n\"\"\"", 5, DN_ERR_FORMAT, "line 2, column 1: unterminated quoted field"},
      {"a\n\"1\"\"", 6, DN_ERR_FORMAT, "line 2, column 1: unterminated quoted field"},
      {"a\n1\0002\n", 6, DN_ERR_FORMAT, "line 2, column 1 (\"a\"): malformed number \"1?2\""},
      {"a\n\"1\"  \n", 8, DN_OK, NULL},
      {"a\n1e-99999999999999999999\n", 26, DN_OK, NULL},
      {"a\n1e99999999999999999999\n", 25, DN_ERR_FORMAT, "number out of float range"},
      {"a\n0.0000000000000000000000000000000000000000000000000000000000001e61\n", 68, DN_OK, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *path = write_bytes("regression.csv", cases[i].bytes, cases[i].len);
    dn_dataset d;
    dn_status s = dn_csv_load(path, &d);
    if (s != cases[i].status ||
        (cases[i].message != NULL && strstr(dn_last_error(), cases[i].message) == NULL)) {
      print_error("case %zu: %s '%s', expected %s '%s'\n", i, dn_status_string(s), dn_last_error(),
                  dn_status_string(cases[i].status), cases[i].message ? cases[i].message : "");
      fail();
    }
    if (s == DN_OK)
      assert_int_equal(dn_tensor_rows(d.x), 1);
    dn_dataset_free(&d);
  }
}

/* A dataset whose only feature is the row number and whose target is 10x it. */
static dn_dataset numbered(size_t rows) {
  dn_dataset d = {0};
  assert_ok(dn_tensor_new_2d(&d.x, rows, 1));
  assert_ok(dn_tensor_new_2d(&d.y, rows, 1));
  for (size_t i = 0; i < rows; i++) {
    d.x.data[i] = (float)i;
    d.y.data[i] = 10.0f * (float)i;
  }
  return d;
}

static void test_split_sizes_determinism_and_disjointness(void **state) {
  (void)state;
  static const struct {
    size_t rows;
    double fraction;
    size_t test;
  } sizes[] = {{10, 0.2, 2}, {10, 0.25, 3}, {7, 0.5, 4},     {3, 0.01, 1},
               {3, 0.99, 2}, {2, 0.5, 1},   {1030, 0.2, 206}};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    dn_dataset data = numbered(sizes[k].rows), tr, te;
    assert_ok(dn_train_test_split(&data, sizes[k].fraction, 42, &tr, &te));
    assert_int_equal(dn_tensor_rows(te.x), sizes[k].test);
    assert_int_equal(dn_tensor_rows(tr.x), sizes[k].rows - sizes[k].test);
    assert_int_equal(dn_tensor_cols(tr.x), 1);
    assert_int_equal(dn_tensor_cols(te.y), 1);
    /* every row lands exactly once, with its own target */
    int *seen = calloc(sizes[k].rows, sizeof(int));
    assert_non_null(seen);
    for (size_t i = 0; i < dn_tensor_rows(tr.x); i++) {
      assert_true(tr.y.data[i] == 10.0f * tr.x.data[i]);
      seen[(size_t)tr.x.data[i]]++;
    }
    for (size_t i = 0; i < dn_tensor_rows(te.x); i++) {
      assert_true(te.y.data[i] == 10.0f * te.x.data[i]);
      seen[(size_t)te.x.data[i]]++;
    }
    for (size_t i = 0; i < sizes[k].rows; i++)
      assert_int_equal(seen[i], 1);
    free(seen);
    dn_dataset_free(&tr);
    dn_dataset_free(&te);
    dn_dataset_free(&data);
  }

  /* same seed -> same split; another seed -> another; rows really are shuffled */
  dn_dataset data = numbered(100), a1, b1, a2, b2, a3, b3;
  assert_ok(dn_train_test_split(&data, 0.3, 7, &a1, &b1));
  assert_ok(dn_train_test_split(&data, 0.3, 7, &a2, &b2));
  assert_ok(dn_train_test_split(&data, 0.3, 8, &a3, &b3));
  assert_memory_equal(a1.x.data, a2.x.data, dn_tensor_rows(a1.x) * sizeof(float));
  assert_memory_equal(b1.x.data, b2.x.data, dn_tensor_rows(b1.x) * sizeof(float));
  assert_memory_not_equal(b1.x.data, b3.x.data, dn_tensor_rows(b1.x) * sizeof(float));
  size_t in_order = 0;
  for (size_t i = 0; i < dn_tensor_rows(a1.x); i++)
    in_order += a1.x.data[i] == (float)i;
  assert_true(in_order < 10);
  dn_dataset_free(&a1);
  dn_dataset_free(&b1);
  dn_dataset_free(&a2);
  dn_dataset_free(&b2);
  dn_dataset_free(&a3);
  dn_dataset_free(&b3);

  /* no targets: y stays no tensor */
  dn_tensor y = data.y;
  data.y = (dn_tensor){0};
  assert_ok(dn_train_test_split(&data, 0.5, 1, &a1, &b1));
  assert_no_tensor(a1.y);
  assert_no_tensor(b1.y);
  assert_int_equal(dn_tensor_rows(a1.x) + dn_tensor_rows(b1.x), 100);
  dn_dataset_free(&a1);
  dn_dataset_free(&b1);
  data.y = y;

  /* bad arguments */
  assert_status_msg(dn_train_test_split(&data, 0.0, 1, &a1, &b1), DN_ERR_ARG, "(0, 1), got 0");
  assert_empty(&a1);
  assert_status_msg(dn_train_test_split(&data, 1.0, 1, &a1, &b1), DN_ERR_ARG, "(0, 1), got 1");
  assert_status_msg(dn_train_test_split(&data, NAN, 1, &a1, &b1), DN_ERR_ARG, "test_fraction");
  assert_status_msg(dn_train_test_split(&data, -0.5, 1, &a1, &b1), DN_ERR_ARG, "got -0.5");
  assert_status_msg(dn_train_test_split(NULL, 0.5, 1, &a1, &b1), DN_ERR_ARG, "data is NULL");
  assert_status_msg(dn_train_test_split(&data, 0.5, 1, NULL, &b1), DN_ERR_ARG, "train is NULL");
  assert_status_msg(dn_train_test_split(&data, 0.5, 1, &a1, &a1), DN_ERR_ARG, "different");
  assert_status_msg(dn_train_test_split(&data, 0.5, 1, &data, &b1), DN_ERR_ARG, "input dataset");
  assert_true(dn_tensor_rows(data.x) == 100 && data.x.data[99] == 99.0f); /* untouched */
  /* x and y are tensors now: their row counts must agree. */
  data.y.shape[0] = 99;
  assert_status_msg(dn_train_test_split(&data, 0.5, 1, &a1, &b1), DN_ERR_SHAPE,
                    "dn_train_test_split: data->x has 100 rows but data->y has 99");
  assert_empty(&a1);
  data.x.shape[0] = data.y.shape[0] = 1;
  assert_status_msg(dn_train_test_split(&data, 0.5, 1, &a1, &b1), DN_ERR_ARG, "at least 2 rows");
  data.x.shape[0] = data.y.shape[0] = 100;
  dn_dataset_free(&data);
}

static void test_concrete_dataset(void **state) {
  (void)state;
  /* The copy the project ships in examples/data (DN_SOURCE_DIR is set by ctest). */
  const char *dir = getenv("DN_SOURCE_DIR");
  struct stat st;
  if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    print_message("  DN_SOURCE_DIR is not a directory: concrete.csv test skipped\n");
    skip();
  }
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/data/concrete.csv", dir);
  dn_dataset d;
  assert_ok(dn_csv_load(path, &d, .target_names = (const char *[]){"CompressiveStrength", NULL}));
  assert_int_equal(dn_tensor_rows(d.x), 1030);
  assert_int_equal(dn_tensor_cols(d.x), 8);
  assert_int_equal(dn_tensor_cols(d.y), 1);
  assert_floats(d.x.data, (const float[]){540, 0, 0, 162, 2.5f, 1040, 676, 28}, 8);
  assert_floats(d.y.data, (const float[]){79.99f}, 1);
  dn_dataset tr, te;
  assert_ok(dn_train_test_split(&d, 0.2, 0, &tr, &te));
  assert_int_equal(dn_tensor_rows(tr.x), 824);
  assert_int_equal(dn_tensor_rows(te.x), 206);
  dn_dataset_free(&tr);
  dn_dataset_free(&te);
  dn_dataset_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_columns_and_target_by_name),
      cmocka_unit_test(test_dataset_feeds_the_data_calls),
      cmocka_unit_test(test_columns_by_index_and_several_targets),

      cmocka_unit_test(test_quoted_fields),
      cmocka_unit_test(test_line_endings_whitespace_and_bom),
      cmocka_unit_test(test_other_delimiters),
      cmocka_unit_test(test_number_forms),
      cmocka_unit_test(test_numbers_match_strtof),
      cmocka_unit_test(test_cell_errors_name_line_and_column),
      cmocka_unit_test(test_drop_invalid_rows),
      cmocka_unit_test(test_file_and_argument_errors),
      cmocka_unit_test(test_stream_seam),
      cmocka_unit_test(test_out_of_memory_paths),
      cmocka_unit_test(test_large_file_streams),
      cmocka_unit_test(test_dev_zero_is_refused_quickly_in_bounded_memory),
      cmocka_unit_test(test_record_and_file_limits),
      cmocka_unit_test(test_fifo_only_when_allowed),
      cmocka_unit_test(test_read_buffer_boundaries),
      cmocka_unit_test(test_fuzz_regressions),
      cmocka_unit_test(test_split_sizes_determinism_and_disjointness),
      cmocka_unit_test(test_concrete_dataset),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
