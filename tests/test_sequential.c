/* test_sequential.c -- the Sequential container: building, naming, shapes, the weights
 * layout, seeding, the summary table, the workspace, and bad input on every entry point. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "dn_test.h"

#include <stdlib.h>
#include <time.h>

#include "core/alloc.h"
#include "model/sequential.h"

static dn_model *lesson(void) {
  return dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                       dn_dense(3, .activation = "relu"), dn_dense(1));
}

static void test_lesson_shapes_and_names(void **state) {
  (void)state;
  dn_model *m = lesson();
  assert_non_null(m);
  assert_int_equal(dn_model_layer_count(m), 3);
  assert_int_equal(dn_model_input_dim(m), 2);
  assert_int_equal(dn_model_output_dim(m), 1);
  assert_int_equal(dn_model_count_params(m), 31);
  assert_int_equal(dn_model_count_trainable_params(m), 31);
  const char *names[] = {"dense", "dense_1", "dense_2"};
  const size_t counts[] = {12, 15, 4}, outs[] = {4, 3, 1};
  for (size_t i = 0; i < 3; i++) {
    dn_layer *l = dn_model_layer(m, i);
    assert_string_equal(dn_layer_name(l), names[i]);
    assert_string_equal(dn_layer_type(l), "Dense");
    assert_int_equal(dn_layer_count_params(l), counts[i]);
    assert_int_equal(dn_layer_output_dim(l), outs[i]);
  }
  assert_null(dn_model_layer(m, 3));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  dn_model_free(m);
}

/* The naming rule as 0.2.0 computed it, by brute force: the stem if no layer has it, else
 * stem_k for the lowest k no layer has. */
static void reference_name(const dn_model *m, const char *stem, char *out, size_t cap) {
  for (size_t k = 0;; k++) {
    if (k == 0)
      snprintf(out, cap, "%s", stem);
    else
      snprintf(out, cap, "%s_%zu", stem, k);
    bool taken = false;
    for (size_t i = 0; i < dn_model_layer_count(m) && !taken; i++)
      taken = strcmp(dn_layer_name(dn_model_layer(m, i)), out) == 0;
    if (!taken)
      return;
  }
}

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Issue 12: automatic names come from a counter per kind (adding n layers was cubic), with the
 * same names as before, also where user-given names take slots or an add fails. */
static void test_auto_names(void **state) {
  (void)state;
  dn_model *m = dn_model_new();
  assert_ok(dn_model_add(m, dn_dense(2, .input_dim = 3, .name = "dense_1")));
  char want[64];
  /* A mixed sequence, each automatic name checked against the brute-force rule. */
  for (size_t i = 0; i < 300; i++) {
    const char *stem = i % 3 == 2 ? "activation" : "dense";
    if (i % 7 == 3) { /* a user-given name ahead of the counter, or already passed */
      snprintf(want, sizeof want, "%s_%zu", stem, i % 2 ? i / 2 + 3 : i / 4);
      bool taken = false;
      for (size_t j = 0; j < dn_model_layer_count(m) && !taken; j++)
        taken = strcmp(dn_layer_name(dn_model_layer(m, j)), want) == 0;
      dn_status st = i % 3 == 2 ? dn_model_add(m, dn_activation("relu", .name = want))
                                : dn_model_add(m, dn_dense(2, .name = want));
      assert_int_equal(st, taken ? DN_ERR_ARG : DN_OK);
      continue;
    }
    reference_name(m, stem, want, sizeof want);
    if (i % 11 == 5) { /* a layer that fails to join takes no name from the next one */
      assert_status_msg(dn_model_add(m, dn_dense(1, .input_dim = 7)), DN_ERR_SHAPE, "7");
    }
    assert_ok(i % 3 == 2 ? dn_model_add(m, dn_activation("tanh")) : dn_model_add(m, dn_dense(2)));
    assert_string_equal(dn_layer_name(dn_model_layer(m, dn_model_layer_count(m) - 1)), want);
  }
  dn_model_free(m);

  /* 10,000 automatic names (4,000 took 29 s in 0.1) within a generous bound. */
  m = dn_model_new();
  assert_ok(dn_model_add(m, dn_dense(1, .name = "dense_7")));
  assert_ok(dn_model_add(m, dn_dense(1, .name = "dense_9000")));
  double t0 = seconds_now();
  for (size_t i = 0; i < 10000; i++)
    assert_int_equal(dn_model_add(m, dn_dense(1)), DN_OK);
  double elapsed = seconds_now() - t0;
  assert_true(elapsed < 5.0);
  assert_int_equal(dn_model_layer_count(m), 10002);
  assert_string_equal(dn_layer_name(dn_model_layer(m, 2)), "dense");
  assert_string_equal(dn_layer_name(dn_model_layer(m, 3)), "dense_1");
  assert_string_equal(dn_layer_name(dn_model_layer(m, 8)), "dense_6");
  assert_string_equal(dn_layer_name(dn_model_layer(m, 9)), "dense_8"); /* dense_7 is taken */
  assert_string_equal(dn_layer_name(dn_model_layer(m, 9000)), "dense_8999");
  assert_string_equal(dn_layer_name(dn_model_layer(m, 9001)), "dense_9001");
  assert_string_equal(dn_layer_name(dn_model_layer(m, 10001)), "dense_10001");
  assert_status_msg(dn_model_add(m, dn_dense(1, .name = "dense_5000")), DN_ERR_ARG, "dense_5000");
  assert_ok(dn_model_add(m, dn_activation("relu")));
  assert_string_equal(dn_layer_name(dn_model_layer(m, 10002)), "activation");
  dn_model_free(m);
}

/* Issue 12: a width no row can have (DN_ZERO_COUNT given as a size_t width arrives as SIZE_MAX)
 * is refused when the layer is built, naming the layer, never allocated. */
static void test_huge_widths(void **state) {
  (void)state;
  const char *expect = "input width 18446744073709551615 is above the limit";
  assert_null(dn_sequential(dn_activation("relu", .input_dim = DN_ZERO_COUNT)));
  assert_int_equal(dn_last_status(), DN_ERR_SHAPE);
  assert_non_null(strstr(dn_last_error(), expect));
  assert_null(dn_sequential(dn_dropout(0.5, .input_dim = DN_ZERO_COUNT)));
  assert_non_null(strstr(dn_last_error(), expect));
  assert_null(dn_sequential(dn_dense(2, .input_dim = DN_ZERO_COUNT)));
  assert_non_null(strstr(dn_last_error(), expect));
  assert_null(dn_sequential(dn_dense(DN_ZERO_COUNT, .input_dim = 2)));
  assert_int_equal(dn_last_status(), DN_ERR_SHAPE);
  dn_model *m = dn_model_new();
  assert_ok(dn_model_add(m, dn_activation("relu")));
  assert_status_msg(dn_model_build(m, SIZE_MAX), DN_ERR_SHAPE, expect);
  assert_int_equal(dn_model_input_dim(m), 0);
  assert_ok(dn_model_build(m, 3));
  dn_model_free(m);
}

static void test_summary_table(void **state) {
  (void)state;
  dn_model *m = lesson();
  char buf[8192] = {0};
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_ok(dn_model_summary(m, f));
  rewind(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  assert_true(n > 0);
  assert_non_null(strstr(buf, "Model: \"sequential\""));
  assert_non_null(strstr(buf, "Layer (type)"));
  assert_non_null(strstr(buf, "Output Shape"));
  assert_non_null(strstr(buf, "Param #"));
  assert_non_null(strstr(buf, "dense (Dense)"));
  assert_non_null(strstr(buf, "dense_2 (Dense)"));
  assert_non_null(strstr(buf, "(None, 3)"));
  assert_non_null(strstr(buf, " Total params: 31 (124.00 B)\n"));
  assert_non_null(strstr(buf, " Trainable params: 31 (124.00 B)\n"));
  assert_non_null(strstr(buf, " Non-trainable params: 0 (0.00 B)\n"));
  /* Every table line is 88 columns wide (UTF-8 box characters count as one). */
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, " ", 1) == 0 || strncmp(line, "Model", 5) == 0)
      continue;
    size_t cols = 0;
    for (unsigned char *p = (unsigned char *)line; *p; p++)
      cols += (*p & 0xC0) != 0x80;
    assert_int_equal(cols, 88);
  }
  dn_model_free(m);
  /* Large counts get thousands separators and 1024-based sizes. */
  m = dn_sequential(dn_dense(512, .input_dim = 8), dn_dense(512), dn_dense(512), dn_dense(1));
  f = tmpfile();
  assert_ok(dn_model_summary(m, f));
  rewind(f);
  memset(buf, 0, sizeof buf);
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  assert_non_null(strstr(buf, "262,656"));
  assert_non_null(strstr(buf, " Total params: 530,433 (2.02 MB)\n"));
  dn_model_free(m);
}

static void test_weights_roundtrip_and_order(void **state) {
  (void)state;
  dn_model *m = lesson();
  float w[31], back[31];
  for (int i = 0; i < 31; i++)
    w[i] = (float)i * 0.01f - 0.1f;
  assert_ok(dn_model_set_weights(m, w, 31));
  assert_ok(dn_model_get_weights(m, back, 31));
  assert_memory_equal(w, back, sizeof w);
  /* Order: kernel (in x out row-major) then bias. A single-layer check: y = x W + b. */
  dn_model *one = dn_sequential(dn_dense(2, .input_dim = 3));
  const float p[8] = {1, 2, 3, 4, 5, 6, 0.5f, -0.5f}; /* W = [[1,2],[3,4],[5,6]], b */
  assert_ok(dn_model_set_weights(one, p, 8));
  const float x[3] = {1, 1, 2};
  float y[2];
  assert_ok(dn_model_forward(one, dn_tensor_2d(x, 1, 3), false, dn_tensor_2d(y, 1, 2)));
  assert_close(y[0], 1 + 3 + 10 + 0.5, 0, 0);
  assert_close(y[1], 2 + 4 + 12 - 0.5, 0, 0);
  /* Wrong sizes: an error, weights unchanged. */
  float junk[30] = {0};
  assert_status_msg(dn_model_set_weights(m, junk, 30), DN_ERR_SHAPE, "31");
  assert_ok(dn_model_get_weights(m, back, 31));
  assert_memory_equal(w, back, sizeof w);
  assert_status_msg(dn_model_get_weights(m, NULL, 31), DN_ERR_ARG, "NULL");
  dn_model_free(one);
  dn_model_free(m);
}

static void test_seed_determinism(void **state) {
  (void)state;
  dn_model *a = lesson(), *b = lesson();
  float wa[31], wb[31];
  assert_ok(dn_model_get_weights(a, wa, 31));
  assert_ok(dn_model_get_weights(b, wb, 31));
  assert_memory_equal(wa, wb, sizeof wa); /* default seed: reproducible */
  assert_ok(dn_model_set_seed(a, 7));
  assert_ok(dn_model_get_weights(a, wa, 31));
  assert_true(memcmp(wa, wb, sizeof wa) != 0);
  assert_ok(dn_model_set_seed(b, 7));
  assert_ok(dn_model_get_weights(b, wb, 31));
  assert_memory_equal(wa, wb, sizeof wa);
  /* set_seed(default) reproduces a fresh model's weights exactly. */
  dn_model *c = lesson();
  float wc[31];
  assert_ok(dn_model_get_weights(c, wc, 31));
  assert_ok(dn_model_set_seed(a, DN_DEFAULT_SEED));
  assert_ok(dn_model_get_weights(a, wa, 31));
  assert_memory_equal(wa, wc, sizeof wa);
  dn_model_free(a);
  dn_model_free(b);
  dn_model_free(c);
}

static void test_add_and_build(void **state) {
  (void)state;
  dn_model *m = dn_model_new();
  assert_ok(dn_model_add(m, dn_dense(4, .activation = "tanh")));
  assert_ok(dn_model_add(m, dn_dense(2)));
  assert_int_equal(dn_model_input_dim(m), 0);
  assert_int_equal(dn_model_count_params(m), 0);
  float x[3] = {1, 2, 3}, y[2];
  dn_tensor tx = dn_tensor_2d(x, 1, 3), ty = dn_tensor_2d(y, 1, 2);
  /* 0.1 refused a forward pass on an unbuilt model (DN_ERR_STATE); 0.2 builds it from x's
   * width as Keras does, so only a refused call (here y one column short of the output width
   * that x gives) leaves it unbuilt. */
  assert_status_msg(dn_model_forward(m, tx, false, dn_tensor_2d(y, 1, 1)), DN_ERR_SHAPE,
                    "dn_model_forward: y has 1 column but the model's output width is 2");
  assert_int_equal(dn_model_input_dim(m), 0);
  assert_int_equal(dn_model_count_params(m), 0);
  FILE *f = tmpfile();
  assert_ok(dn_model_summary(m, f)); /* unbuilt layers print as Keras does */
  fclose(f);
  assert_ok(dn_model_build(m, 3));
  assert_int_equal(dn_model_count_params(m), 3 * 4 + 4 + 4 * 2 + 2);
  assert_ok(dn_model_forward(m, tx, false, ty));
  assert_status_msg(dn_model_build(m, 5), DN_ERR_STATE, "input_dim");
  /* Built by dn_model_build, by input_dim or by the first forward pass: the same seed gives the
   * same weights. */
  dn_model *n = dn_sequential(dn_dense(4, .activation = "tanh", .input_dim = 3), dn_dense(2));
  dn_model *b = dn_model_new();
  assert_ok(dn_model_add(b, dn_dense(4, .activation = "tanh")));
  assert_ok(dn_model_add(b, dn_dense(2)));
  assert_ok(dn_model_forward(b, tx, false, ty));
  assert_int_equal(dn_model_input_dim(b), 3);
  float wm[26], wn[26], wb[26];
  assert_ok(dn_model_get_weights(m, wm, 26));
  assert_ok(dn_model_get_weights(n, wn, 26));
  assert_ok(dn_model_get_weights(b, wb, 26));
  assert_memory_equal(wm, wn, sizeof wm);
  assert_memory_equal(wb, wn, sizeof wb);
  /* ... and then takes no other width. */
  float x4[4] = {1, 2, 3, 4};
  assert_status_msg(dn_model_forward(b, dn_tensor_2d(x4, 1, 4), false, ty), DN_ERR_SHAPE,
                    "dn_model_forward: x has 4 columns but the model's input width is 3");
  dn_model_free(b);
  /* Adding to a built model extends the parameter block, keeping the old weights. */
  assert_ok(dn_model_add(n, dn_dense(5, .name = "extra")));
  assert_int_equal(dn_model_count_params(n), 26 + 15);
  float wn2[41];
  assert_ok(dn_model_get_weights(n, wn2, 41));
  assert_memory_equal(wn, wn2, sizeof wn);
  assert_string_equal(dn_layer_name(dn_model_layer(n, 2)), "extra");
  /* Names must be unique; the rejected layer is freed (ASan would see a leak otherwise). */
  assert_status_msg(dn_model_add(n, dn_dense(1, .name = "extra")), DN_ERR_ARG, "extra");
  /* A conflicting input_dim on a later layer. */
  assert_status_msg(dn_model_add(n, dn_dense(1, .input_dim = 7)), DN_ERR_SHAPE, "7");
  assert_int_equal(dn_model_layer_count(n), 3);
  dn_model_free(m);
  dn_model_free(n);
}

static void test_bad_input(void **state) {
  (void)state;
  /* Constructors */
  assert_null(dn_dense(0));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "units"));
  assert_null(dn_dense(3, .activation = "relux"));
  assert_non_null(strstr(dn_last_error(), "relux"));
  /* A failed layer inside dn_sequential: NULL, the message names it, nothing leaks. */
  dn_model *m =
      dn_sequential(dn_dense(4, .input_dim = 2), dn_dense(3, .activation = "nope"), dn_dense(1));
  assert_null(m);
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "nope"));
  assert_null(dn_sequential_with(0, NULL));
  assert_status_msg(dn_model_add(NULL, dn_dense(1)), DN_ERR_ARG, "model");
  dn_model *empty = dn_model_new();
  assert_status_msg(dn_model_add(empty, NULL), DN_ERR_ARG, "layer");
  dn_model_free(empty);
  m = lesson();
  float x[4] = {0}, y[2] = {0}, dy[2] = {1, 1}, dx[4];
  dn_tensor tx = dn_tensor_2d(x, 2, 2), ty = dn_tensor_2d(y, 2, 1), tdy = dn_tensor_2d(dy, 2, 1);
  const dn_tensor none = {0};
  assert_status_msg(dn_model_forward(NULL, tx, false, ty), DN_ERR_ARG, "model");
  assert_status_msg(dn_model_forward(m, none, false, ty), DN_ERR_ARG, "x is no tensor");
  /* 0.1's rows argument is x's first dim now: zero rows is a shape error. */
  assert_status_msg(dn_model_forward(m, dn_tensor_2d(x, 0, 2), false, ty), DN_ERR_SHAPE, "no rows");
  /* 0.1's y_capacity is y's shape now: one output row for two input rows. */
  assert_status_msg(dn_model_forward(m, tx, false, dn_tensor_2d(y, 1, 1)), DN_ERR_SHAPE,
                    "dn_model_forward: y has 1 row but x has 2");
  assert_status_msg(dn_model_backward(m, tdy), DN_ERR_STATE, "forward");
  assert_ok(dn_model_forward(m, tx, true, ty));
  /* dy's rows against the forward's: a shape error now (0.1 said DN_ERR_STATE). */
  assert_status_msg(dn_model_backward(m, dn_tensor_2d(dy, 1, 1)), DN_ERR_SHAPE,
                    "dn_model_backward: dy has 1 row but the last dn_model_forward had 2");
  assert_status_msg(dn_model_backward(m, none), DN_ERR_ARG, "dn_model_backward: dy is no tensor");
  /* 0.1's dx_capacity (3 of 4 floats) is dx's shape now: too few rows, or the wrong width. */
  assert_status_msg(dn_model_backward_input(m, tdy, dn_tensor_2d(dx, 1, 2)), DN_ERR_SHAPE,
                    "dn_model_backward_input: dx has 1 row but dy has 2");
  assert_status_msg(dn_model_backward_input(m, tdy, dn_tensor_2d(dx, 2, 1)), DN_ERR_SHAPE,
                    "dn_model_backward_input: dx has 1 column but the model's input width is 2");
  assert_ok(dn_model_backward_input(m, tdy, dn_tensor_2d(dx, 2, 2)));
  assert_status_msg(dn_model_summary(m, NULL), DN_ERR_ARG, "out");
  assert_status_msg(dn_model_set_seed(NULL, 1), DN_ERR_ARG, "model");
  assert_status_msg(dn_model_build(m, 0), DN_ERR_ARG, "input_dim");
  dn_gradient_check_report rep;
  assert_status_msg(dn_model_gradient_check(m, none, tdy, &rep), DN_ERR_ARG, "x is no tensor");
  assert_status_msg(dn_model_gradient_check(m, tx, tdy, NULL), DN_ERR_ARG,
                    "dn_model_gradient_check: report is NULL");
  assert_int_equal(dn_model_count_params(NULL), 0);
  assert_int_equal(dn_model_output_dim(NULL), 0);
  dn_model_free(m);
  dn_model_free(NULL);
  dn_layer_free(NULL);
}

static void test_gradient_check_report(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(3, .activation = "tanh", .input_dim = 2),
                              dn_dense(2, .activation = "sigmoid"));
  const float x[6] = {0.1f, -0.4f, 0.9f, 0.3f, -0.7f, 0.2f}, dy[6] = {1, -0.5f, 0.2f, 0.3f, 2, 1};
  float before[17], after[17];
  assert_ok(dn_model_get_weights(m, before, 17));
  dn_gradient_check_report rep;
  assert_ok(dn_model_gradient_check(m, dn_tensor_2d(x, 3, 2), dn_tensor_2d(dy, 3, 2), &rep));

  assert_int_equal(rep.checked, 17 + 6);
  assert_true(rep.max_rel_error < 5e-2); /* float32 differences at eps 1e-3 */
  assert_true(rep.max_abs_error < 1e-3);
  assert_ok(dn_model_get_weights(m, after, 17));
  assert_memory_equal(before, after, sizeof before); /* weights left as they were */
  dn_model_free(m);
}

/* The workspace (every layer's output buffer for ws_rows rows, sequential.h) is sized by the
 * largest batch seen: it grows from 1 to 300 rows when a larger forward pass comes, and a
 * smaller pass after that reuses it (no allocation, no shrinking). */
static void test_workspace_grows(void **state) {
  (void)state;
  dn_model *m = lesson();
  assert_int_equal(m->ws_rows, 0); /* nothing reserved before the first pass */
  float *x = calloc(300 * 2, sizeof *x), *y = calloc(300, sizeof *y), y1[1], y2[1];
  for (int i = 0; i < 600; i++)
    x[i] = (float)(i % 17) / 17.0f - 0.3f;
  assert_ok(dn_model_forward(m, dn_tensor_2d(x + 2 * 250, 1, 2), false, dn_tensor_2d(y1, 1, 1)));
  assert_int_equal(m->ws_rows, 1);
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 300, 2), false, dn_tensor_2d(y, 300, 1)));
  assert_int_equal(m->ws_rows, 300); /* grown */
  size_t allocs = dn_alloc_count();
  assert_ok(dn_model_forward(m, dn_tensor_2d(x + 2 * 250, 1, 2), false, dn_tensor_2d(y2, 1, 1)));
  assert_int_equal(m->ws_rows, 300);              /* kept */
  assert_int_equal(dn_alloc_count() - allocs, 0); /* reused */
  /* Batched rows equal single-row results, before and after the growth. */
  assert_close(y[250], y1[0], 0, 0);
  assert_close(y2[0], y1[0], 0, 0);

  free(x);
  free(y);
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lesson_shapes_and_names),
      cmocka_unit_test(test_auto_names),
      cmocka_unit_test(test_huge_widths),
      cmocka_unit_test(test_summary_table),
      cmocka_unit_test(test_weights_roundtrip_and_order),
      cmocka_unit_test(test_seed_determinism),
      cmocka_unit_test(test_add_and_build),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_gradient_check_report),
      cmocka_unit_test(test_workspace_grows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
