/* test_export_c.c -- dn_model_export_c: the generated C99 compiles warning-free under gcc and
 * clang (-std=c99 -Wall -Wextra -Werror -pedantic) and predicts what dn_predict predicts on the
 * portable backend bit for bit, one row at a time and in a batch of 1000; on the default backend
 * within a stated tolerance; and its errors write nothing.
 *
 * The compilers are looked for on PATH at run time; a missing one skips its checks with the
 * reason (no compiler at all skips the test). Scratch files go to ./export-c/ (the test's
 * working directory is its build folder). */
#define _POSIX_C_SOURCE 200809L

#include "dn_test.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/kernels.h"

#define ROWS 1000

/* Compile flags the issue asks for, and the contraction switch the generated header asks for. */
static const char CFLAGS[] = "-std=c99 -Wall -Wextra -Werror -pedantic -O2 -ffp-contract=off";

/* A driver: reads ROWS rows of inputs, writes the rows one call each, then one batch call. */
static const char DRIVER[] =
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include \"net.h\"\n"
    "int main(int argc, char **argv) {\n"
    "  size_t rows, r;\n"
    "  if (argc != 4)\n"
    "    return 2;\n"
    "  rows = (size_t)atol(argv[1]);\n"
    "  float *x = malloc(rows * NET_INPUT_DIM * sizeof *x);\n"
    "  float *y = malloc(2 * rows * NET_OUTPUT_DIM * sizeof *y);\n"
    "  FILE *in = fopen(argv[2], \"rb\"), *out = fopen(argv[3], \"wb\");\n"
    "  if (!x || !y || !in || !out || fread(x, sizeof *x, rows * NET_INPUT_DIM, in) !=\n"
    "      rows * NET_INPUT_DIM)\n"
    "    return 1;\n"
    "  for (r = 0; r < rows; r++)\n"
    "    net_predict(x + r * NET_INPUT_DIM, y + r * NET_OUTPUT_DIM);\n"
    "  net_predict_batch(x, rows, y + rows * NET_OUTPUT_DIM);\n"
    "  fwrite(y, sizeof *y, 2 * rows * NET_OUTPUT_DIM, out);\n"
    "  return fclose(out) != 0;\n"
    "}\n";

static uint64_t lcg = 88172645463325252ull;
static float uniform(float lo, float hi) {
  lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * (float)((lcg >> 40) / 16777216.0);
}

static bool have(const char *program) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
  return system(cmd) == 0;
}

static void write_file(const char *path, const void *data, size_t bytes) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, bytes, f), bytes);
  assert_int_equal(fclose(f), 0);
}

static void read_file(const char *path, void *data, size_t bytes) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(data, 1, bytes, f), bytes);
  fclose(f);
}

/* Random weights: variances and BatchNormalization's moving variances positive. */
static void randomize(dn_model *m, float scale) {
  size_t n = dn_model_count_params(m);
  float *w = malloc(n * sizeof *w);
  assert_non_null(w);
  assert_int_equal(dn_model_get_weights(m, w, n), DN_OK);
  size_t at = 0;
  for (size_t i = 0; i < dn_model_layer_count(m); i++) {
    dn_layer *l = dn_model_layer(m, i);
    size_t k = dn_layer_count_params(l);
    const char *type = dn_layer_type(l);
    bool positive_tail = strcmp(type, "BatchNormalization") == 0; /* last in: the variance */
    size_t in = dn_layer_input_dim(l);
    for (size_t j = 0; j < k; j++) {
      if (strcmp(type, "Normalization") == 0)
        w[at + j] = j < in ? uniform(-2.0f, 2.0f) : j < 2 * in ? uniform(0.01f, 9.0f) : 0.0f;
      else if (positive_tail && j >= k - in)
        w[at + j] = uniform(0.05f, 3.0f);
      else
        w[at + j] = uniform(-scale, scale);
    }
    at += k;
  }
  assert_int_equal(dn_model_set_weights(m, w, n), DN_OK);
  free(w);
}

/* Exports m as net.{h,c} into export-c/<tag>, compiles it with each compiler found and checks
 * the outputs against dn_predict. */
static void check_model(dn_model *m, const char *tag, float input_scale, double tol) {
  size_t in = dn_model_input_dim(m), out = dn_model_output_dim(m);
  char dir[256], cmd[2048], path[300];
  snprintf(dir, sizeof dir, "export-c/%s", tag);
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
  assert_int_equal(system(cmd), 0);
  if (dn_model_export_c(m, dir, "net") != DN_OK)
    fail_msg("%s: %s", tag, dn_last_error());
  snprintf(path, sizeof path, "%s/driver.c", dir);
  write_file(path, DRIVER, strlen(DRIVER));

  float *x = malloc(ROWS * in * sizeof *x), *want1 = malloc(ROWS * out * sizeof *x);
  float *wantb = malloc(ROWS * out * sizeof *x), *got = malloc(2 * ROWS * out * sizeof *x);
  float *deflt = malloc(ROWS * out * sizeof *x);
  assert_true(x && want1 && wantb && got && deflt);
  for (size_t i = 0; i < ROWS * in; i++)
    x[i] = uniform(-input_scale, input_scale);
  snprintf(path, sizeof path, "%s/x.bin", dir);
  write_file(path, x, ROWS * in * sizeof *x);

  assert_true(dn_kernels_set_backend("portable"));
  for (size_t r = 0; r < ROWS; r++)
    assert_int_equal(
        dn_predict(m, dn_tensor_2d(x + r * in, 1, in), dn_tensor_2d(want1 + r * out, 1, out)),
        DN_OK);
  assert_int_equal(dn_predict(m, dn_tensor_2d(x, ROWS, in), dn_tensor_2d(wantb, ROWS, out)), DN_OK);
  assert_true(dn_kernels_set_backend(NULL));
  assert_int_equal(dn_predict(m, dn_tensor_2d(x, ROWS, in), dn_tensor_2d(deflt, ROWS, out)), DN_OK);

  const char *compilers[] = {"gcc", "clang"};
  int compiled = 0;
  for (int c = 0; c < 2; c++) {
    if (!have(compilers[c])) {
      printf("[  SKIP    ] %s: %s is not installed\n", tag, compilers[c]);
      continue;
    }
    snprintf(cmd, sizeof cmd,
             "%s %s -I'%s' '%s/net.c' '%s/driver.c' -o '%s/run-%s' -lm && "
             "'%s/run-%s' %d '%s/x.bin' '%s/y-%s.bin'",
             compilers[c], CFLAGS, dir, dir, dir, dir, compilers[c], dir, compilers[c], ROWS, dir,
             dir, compilers[c]);
    if (system(cmd) != 0)
      fail_msg("%s: compiling or running the generated code failed: %s", tag, cmd);
    snprintf(path, sizeof path, "%s/y-%s.bin", dir, compilers[c]);
    read_file(path, got, 2 * ROWS * out * sizeof *got);
    for (size_t i = 0; i < ROWS * out; i++) {
      if (memcmp(&got[i], &want1[i], sizeof(float)) != 0)
        fail_msg("%s (%s): row %zu output %zu one row at a time: got %a, dn_predict %a", tag,
                 compilers[c], i / out, i % out, (double)got[i], (double)want1[i]);
      if (memcmp(&got[ROWS * out + i], &wantb[i], sizeof(float)) != 0)
        fail_msg("%s (%s): row %zu output %zu in the batch: got %a, dn_predict %a", tag,
                 compilers[c], i / out, i % out, (double)got[ROWS * out + i], (double)wantb[i]);
      /* The default backend (AVX2 / AVX-512 use FMA): equal to rounding, docs/deploy.md. */
      dn_assert_close_at(got[ROWS * out + i], deflt[i], tol, tol, tag, i, __FILE__, __LINE__);
    }
    compiled++;
  }
  if (compiled == 0)
    skip();
  free(x);
  free(want1);
  free(wantb);
  free(got);
  free(deflt);
}

static const char *const ACTIVATIONS[] = {
    "linear",      "relu",           "leaky_relu",  "relu6",        "elu",         "selu",
    "celu",        "gelu",           "sigmoid",     "hard_sigmoid", "log_sigmoid", "tanh",
    "hard_tanh",   "softplus",       "softsign",    "silu",         "hard_silu",   "mish",
    "exponential", "softmax",        "log_softmax", "tanh_shrink",  "soft_shrink", "hard_shrink",
    "squareplus",  "sparse_sigmoid", "sparse_plus"};
#define N_ACT (sizeof ACTIVATIONS / sizeof ACTIVATIONS[0])

/* Every activation in a Dense layer (narrow and wide, with and without bias) and as an
 * Activation layer. The default-backend tolerance: a few float32 ulps of the values. */
static void test_every_activation(void **state) {
  (void)state;
  for (size_t a = 0; a < N_ACT; a++) {
    const char *act = ACTIVATIONS[a];
    dn_model *m = dn_sequential(dn_dense(6, .activation = act, .input_dim = 5),
                                dn_dense(12, .activation = act, .no_bias = true),
                                dn_dense(9, .activation = act), dn_activation(act), dn_dense(3));
    assert_non_null(m);
    /* exp(u) turns an absolute difference in u into the same relative one, so four nested
     * exponentials multiply a last-ulp difference (FMA on the AVX paths, none in the portable
     * order) by every exponent on the way. With weights up to 0.8 the exponents reach 20 and
     * outputs 3e9, and 1e-5 would no longer mean "a few ulps"; weights up to 0.15 keep the
     * exponents near 1, where it does. The portable comparison above stays bit for bit. */
    randomize(m, strcmp(act, "exponential") == 0 ? 0.15f : 0.8f);
    char tag[64];
    snprintf(tag, sizeof tag, "act-%s", act);
    check_model(m, tag, 2.5f, 1e-5);
    dn_model_free(m);
  }
}

/* Normalization (both ways), BatchNormalization (with and without gamma and beta), Dropout,
 * softmax at the end. */
static void test_normalization_softmax(void **state) {
  (void)state;
  dn_model *m =
      dn_sequential(dn_normalization(.input_dim = 7), dn_dense(16, .activation = "relu"),
                    dn_dropout(0.3), dn_batch_normalization(), dn_dense(10, .activation = "tanh"),
                    dn_batch_normalization(.no_center = true, .no_scale = true, .epsilon = 1e-5),
                    dn_normalization(.invert = true), dn_dense(4, .activation = "softmax"));
  assert_non_null(m);
  randomize(m, 0.6f);
  check_model(m, "norm-bn-softmax", 3.0f, 1e-5);
  dn_model_free(m);
}

/* Deep and wide: the portable GEMM's other summation orders (blocks of 256 inputs for a batch
 * of 8 or more rows; 16 interleaved sums for one unit of 129 or more inputs and enough rows). */
static void test_deep(void **state) {
  (void)state;
  dn_model *m = dn_sequential(
      dn_dense(48, .activation = "relu", .input_dim = 300), dn_dense(40, .activation = "selu"),
      dn_dense(200, .activation = "relu"), dn_dense(1), dn_dense(33, .activation = "gelu"),
      dn_dense(33), dn_dense(520, .activation = "relu"), dn_dense(8, .activation = "tanh"),
      dn_dense(8, .activation = "relu"), dn_dense(7), dn_dense(2));
  assert_non_null(m);
  randomize(m, 0.15f);
  check_model(m, "deep", 1.0f, 1e-4);
  dn_model_free(m);
}

static size_t files_in(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* Errors: clear messages, nothing written. */
static void test_errors(void **state) {
  (void)state;
  assert_int_equal(system("rm -rf export-c/errors && mkdir -p export-c/errors"), 0);
  const char *dir = "export-c/errors";
  dn_model *m = dn_sequential(dn_dense(3, .activation = "tanh", .input_dim = 2), dn_dense(1));
  assert_non_null(m);

  assert_int_equal(dn_model_export_c(NULL, dir, "net"), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "model is NULL"));
  const char *bad[] = {"", "9net", "my-net", "net.h", "int", "__net", "_Net", "a b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(dn_model_export_c(m, dir, bad[i]), DN_ERR_ARG);
    assert_non_null(strstr(dn_last_error(), "dn_model_export_c: name"));
  }
  char longname[64];
  memset(longname, 'a', 49);
  longname[49] = 0;
  assert_int_equal(dn_model_export_c(m, dir, longname), DN_ERR_ARG);

  assert_int_equal(dn_model_export_c(m, "export-c/errors/missing", "net"), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), "export-c/errors/missing"));
  write_file("export-c/errors/plain", "x", 1);
  assert_int_equal(dn_model_export_c(m, "export-c/errors/plain", "net"), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), "not a directory"));
  assert_int_equal(remove("export-c/errors/plain"), 0);
  if (geteuid() != 0) { /* root writes anywhere */
    assert_int_equal(mkdir("export-c/errors/ro", 0500), 0);
    assert_int_equal(dn_model_export_c(m, "export-c/errors/ro", "net"), DN_ERR_IO);
    assert_non_null(strstr(dn_last_error(), "not writable"));
    assert_int_equal(files_in("export-c/errors/ro"), 0);
    rmdir("export-c/errors/ro");
  }

  dn_model *unbuilt = dn_sequential(dn_dense(3), dn_dense(1));
  assert_int_equal(dn_model_export_c(unbuilt, dir, "net"), DN_ERR_STATE);
  assert_non_null(strstr(dn_last_error(), "dn_model_export_c: the model has no input shape"));
  dn_model_free(unbuilt);

  float w[13];
  assert_int_equal(dn_model_get_weights(m, w, 13), DN_OK);
  w[4] = NAN;
  assert_int_equal(dn_model_set_weights(m, w, 13), DN_OK);
  assert_int_equal(dn_model_export_c(m, dir, "net"), DN_ERR_NUMERIC);
  assert_non_null(strstr(dn_last_error(), "kernel[4] is NaN"));
  assert_int_equal(files_in(dir), 0);

  w[4] = 0.5f;
  assert_int_equal(dn_model_set_weights(m, w, 13), DN_OK);
  assert_int_equal(dn_model_export_c(m, dir, "net"), DN_OK);
  assert_int_equal(files_in(dir), 2);
  dn_model_free(m);
}

int main(void) {
  if (mkdir("export-c", 0755) != 0 && access("export-c", W_OK) != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_every_activation),
      cmocka_unit_test(test_normalization_softmax),
      cmocka_unit_test(test_deep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
