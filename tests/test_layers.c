/* test_layers.c -- Activation, Dropout, BatchNormalization and Normalization layers:
 * Keras's formulas worked out independently, finite-difference gradients, seeding. */
#include "dn_test.h"

#include <stdlib.h>

/* ---- Activation ----------------------------------------------------------- */

static void test_activation_layer(void **state) {
  (void)state;
  dn_model *m =
      dn_sequential(dn_dense(3, .input_dim = 2, .name = "d"), dn_activation("tanh"), dn_dense(1));
  assert_non_null(m);
  assert_string_equal(dn_layer_name(dn_model_layer(m, 1)), "activation");
  assert_string_equal(dn_layer_type(dn_model_layer(m, 1)), "Activation");
  assert_int_equal(dn_model_count_params(m), 9 + 4);
  /* Dense(3) then Activation("tanh") equals Dense(3, activation="tanh"). */
  dn_model *fused = dn_sequential(dn_dense(3, .input_dim = 2, .activation = "tanh"), dn_dense(1));
  float w[13];
  assert_ok(dn_model_get_weights(m, w, 13));
  assert_ok(dn_model_set_weights(fused, w, 13));
  const float x[4] = {0.3f, -1.2f, 2.0f, 0.7f};
  float y1[2], y2[2];
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 2, 2), false, dn_tensor_2d(y1, 2, 1)));
  assert_ok(dn_model_forward(fused, dn_tensor_2d(x, 2, 2), false, dn_tensor_2d(y2, 2, 1)));
  assert_memory_equal(y1, y2, sizeof y1);
  dn_gradient_check_report rep;
  const float dy[2] = {1, -2};
  assert_ok(dn_model_gradient_check(m, dn_tensor_2d(x, 2, 2), dn_tensor_2d(dy, 2, 1), &rep,
                                    .epsilon = 1e-2));
  assert_true(rep.max_rel_error < 1e-2);
  assert_null(dn_activation("tanhh"));
  assert_non_null(strstr(dn_last_error(), "tanhh"));
  dn_model_free(m);
  dn_model_free(fused);
}

/* ---- Dropout -------------------------------------------------------------- */

static void test_dropout(void **state) {
  (void)state;
  enum { R = 200, D = 50 };
  dn_model *m = dn_sequential(dn_dropout(0.3, .input_dim = D));
  assert_non_null(m);
  assert_string_equal(dn_layer_name(dn_model_layer(m, 0)), "dropout");
  float *x = malloc(R * D * sizeof *x), *y = malloc(R * D * sizeof *y);
  for (int i = 0; i < R * D; i++)
    x[i] = 1.0f + (float)(i % 7);
  dn_tensor tx = dn_tensor_2d(x, R, D), ty = dn_tensor_2d(y, R, D);
  /* Inference: identity. */
  assert_ok(dn_model_forward(m, tx, false, ty));
  assert_memory_equal(x, y, R * D * sizeof *x);
  /* Training: every value is 0 or x / (1 - rate); about 70 % kept. */
  assert_ok(dn_model_forward(m, tx, true, ty));
  size_t kept = 0;
  for (int i = 0; i < R * D; i++) {
    if (y[i] != 0.0f) {
      kept++;
      assert_close(y[i], x[i] / 0.7f, 0, 1e-6);
    }
  }
  /* 10000 Bernoulli(0.7) draws: sd = sqrt(10000*0.21) ~ 46; allow 5 sd. */
  assert_true(kept > 7000 - 230 && kept < 7000 + 230);
  /* Backward passes the gradient through the same mask. */
  float *dy = malloc(R * D * sizeof *dy), *dx = malloc(R * D * sizeof *dx);
  for (int i = 0; i < R * D; i++)
    dy[i] = 1.0f;
  assert_ok(dn_model_backward_input(m, dn_tensor_2d(dy, R, D), dn_tensor_2d(dx, R, D)));
  for (int i = 0; i < R * D; i++)
    assert_close(dx[i], y[i] == 0.0f ? 0.0 : 1.0 / 0.7, 0, 1e-6);
  /* Same seed, same masks. */
  float *y2 = malloc(R * D * sizeof *y2);
  assert_ok(dn_model_set_seed(m, 5));
  assert_ok(dn_model_forward(m, tx, true, ty));
  assert_ok(dn_model_set_seed(m, 5));
  assert_ok(dn_model_forward(m, tx, true, dn_tensor_2d(y2, R, D)));
  assert_memory_equal(y, y2, R * D * sizeof *y);
  dn_model_free(m);
  /* rate 0: identity in training; rate 1: zeros. */
  m = dn_sequential(dn_dropout(0.0, .input_dim = D));
  assert_ok(dn_model_forward(m, tx, true, ty));
  assert_memory_equal(x, y, R * D * sizeof *x);
  dn_model_free(m);
  m = dn_sequential(dn_dropout(1.0, .input_dim = D));
  assert_ok(dn_model_forward(m, tx, true, ty));
  for (int i = 0; i < R * D; i++)
    assert_true(y[i] == 0.0f);
  dn_model_free(m);
  assert_null(dn_dropout(1.5));
  assert_non_null(strstr(dn_last_error(), "rate"));
  assert_null(dn_dropout(-0.1));
  free(x);
  free(y);
  free(y2);
  free(dy);
  free(dx);
}

/* ---- BatchNormalization ---------------------------------------------------- */

/* Independent double reference: L = sum(y * dy), y = g (x - mu) / sqrt(var + eps) + b. */
static double bn_ref_loss(const double *x, size_t N, size_t D, const double *g, const double *b,
                          double eps, const double *dy) {
  double L = 0;
  for (size_t j = 0; j < D; j++) {
    double mu = 0, var = 0;
    for (size_t n = 0; n < N; n++)
      mu += x[n * D + j] / (double)N;
    for (size_t n = 0; n < N; n++)
      var += (x[n * D + j] - mu) * (x[n * D + j] - mu) / (double)N;
    for (size_t n = 0; n < N; n++)
      L += (g[j] * (x[n * D + j] - mu) / sqrt(var + eps) + b[j]) * dy[n * D + j];
  }
  return L;
}

static void test_batch_norm_forward_and_moving_stats(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_batch_normalization(.input_dim = 2));
  assert_non_null(m);
  assert_string_equal(dn_layer_name(dn_model_layer(m, 0)), "batch_normalization");
  assert_int_equal(dn_model_count_params(m), 8);
  assert_int_equal(dn_model_count_trainable_params(m), 4);
  float w[8];
  assert_ok(dn_model_get_weights(m, w, 8));
  const float init[8] = {1, 1, 0, 0, 0, 0, 1, 1}; /* gamma, beta, moving_mean, moving_variance */
  assert_memory_equal(w, init, sizeof w);
  /* Column 0: 1, 2, 3, 6 -> mean 3, biased var (4+1+0+9)/4 = 3.5.
   * Column 1: 0, 0, 4, 4 -> mean 2, var 4. */
  const float x[8] = {1, 0, 2, 0, 3, 4, 6, 4};
  float y[8];
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 4, 2), true, dn_tensor_2d(y, 4, 2)));
  double s0 = sqrt(3.5 + 1e-3), s1 = sqrt(4 + 1e-3);
  const double expect[8] = {-2 / s0, -2 / s1, -1 / s0, -2 / s1, 0, 2 / s1, 3 / s0, 2 / s1};
  assert_close_array(y, expect, 8, 1e-6, 1e-5);
  assert_ok(dn_model_get_weights(m, w, 8));
  /* moving = moving * 0.99 + batch * 0.01 */
  assert_close(w[4], 0.03, 1e-7, 1e-6);
  assert_close(w[5], 0.02, 1e-7, 1e-6);
  assert_close(w[6], 0.99 + 0.035, 1e-6, 1e-6);
  assert_close(w[7], 0.99 + 0.04, 1e-6, 1e-6);
  /* Inference uses the moving statistics: set them and gamma/beta by hand. */
  const float set[8] = {2, 0.5f, 1, -1, 1, 3, 4, 0.25f};
  assert_ok(dn_model_set_weights(m, set, 8));
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 4, 2), false, dn_tensor_2d(y, 4, 2)));
  for (int n = 0; n < 4; n++) {
    assert_close(y[2 * n], 2 * (x[2 * n] - 1) / sqrt(4 + 1e-3) + 1, 1e-6, 1e-5);
    assert_close(y[2 * n + 1], 0.5 * (x[2 * n + 1] - 3) / sqrt(0.25 + 1e-3) - 1, 1e-6, 1e-5);
  }
  /* Inference does not move the statistics. */
  assert_ok(dn_model_get_weights(m, w, 8));
  assert_memory_equal(w, set, sizeof w);
  dn_model_free(m);
  /* Options: momentum, epsilon, no center / scale. */
  m = dn_sequential(dn_batch_normalization(.input_dim = 3, .momentum = 0.5, .no_center = true));
  assert_int_equal(dn_model_count_params(m), 9);
  assert_int_equal(dn_model_count_trainable_params(m), 3);
  dn_model_free(m);
  /* A width whose parameter count would overflow is a clean shape error (SIZE_MAX / 8 is the
   * widest width accepted; wider is refused before the layer sees it). */
  dn_model *huge = dn_model_new();
  assert_status_msg(dn_model_add(huge, dn_batch_normalization(.input_dim = SIZE_MAX / 8)),
                    DN_ERR_SHAPE, "overflows");
  assert_status_msg(dn_model_add(huge, dn_batch_normalization(.input_dim = SIZE_MAX / 2)),
                    DN_ERR_SHAPE, "above the limit");
  dn_model_free(huge);
  assert_null(dn_normalization(.input_dim = SIZE_MAX / 4));
  assert_int_equal(dn_last_status(), DN_ERR_SHAPE);
  assert_null(dn_batch_normalization(.momentum = 1.5));
  assert_non_null(strstr(dn_last_error(), "momentum"));
}

static void test_batch_norm_gradients(void **state) {
  (void)state;
  enum { N = 5, D = 3 };
  dn_model *m = dn_sequential(dn_batch_normalization(.input_dim = D));
  float w[4 * D];
  for (int j = 0; j < D; j++) {
    w[j] = 0.5f + 0.3f * (float)j; /* gamma */
    w[D + j] = -0.2f * (float)j;   /* beta */
    w[2 * D + j] = 0.1f;           /* moving mean */
    w[3 * D + j] = 2.0f;           /* moving variance */
  }
  assert_ok(dn_model_set_weights(m, w, 4 * D));
  float xf[N * D], dyf[N * D], y[N * D], dx[N * D], g[4 * D];
  double x[N * D], dy[N * D], gam[D], bet[D];
  srand(11);
  for (int i = 0; i < N * D; i++) {
    x[i] = xf[i] = (float)(rand() % 2001 - 1000) / 400.0f;
    dy[i] = dyf[i] = (float)(rand() % 2001 - 1000) / 1000.0f;
  }
  for (int j = 0; j < D; j++) {
    gam[j] = w[j];
    bet[j] = w[D + j];
  }
  assert_ok(dn_model_forward(m, dn_tensor_2d(xf, N, D), true, dn_tensor_2d(y, N, D)));
  assert_ok(dn_model_backward_input(m, dn_tensor_2d(dyf, N, D), dn_tensor_2d(dx, N, D)));
  assert_ok(dn_model_get_gradients(m, g, 4 * D));
  const double h = 1e-6, eps = 1e-3;
  double biggest = 0;
  for (int i = 0; i < N * D; i++) {
    double keep = x[i];
    x[i] = keep + h;
    double hi = bn_ref_loss(x, N, D, gam, bet, eps, dy);
    x[i] = keep - h;
    double lo = bn_ref_loss(x, N, D, gam, bet, eps, dy);
    x[i] = keep;
    dn_assert_close_at(dx[i], (hi - lo) / (2 * h), 1e-5, 1e-4, "dx", (size_t)i, __FILE__, __LINE__);
    biggest = fmax(biggest, fabs((hi - lo) / (2 * h)));
  }
  for (int j = 0; j < D; j++) {
    double keep = gam[j];
    gam[j] = keep + h;
    double hi = bn_ref_loss(x, N, D, gam, bet, eps, dy);
    gam[j] = keep - h;
    double lo = bn_ref_loss(x, N, D, gam, bet, eps, dy);
    gam[j] = keep;
    dn_assert_close_at(g[j], (hi - lo) / (2 * h), 1e-5, 1e-4, "dgamma", (size_t)j, __FILE__,
                       __LINE__);
    keep = bet[j];
    bet[j] = keep + h;
    hi = bn_ref_loss(x, N, D, gam, bet, eps, dy);
    bet[j] = keep - h;
    lo = bn_ref_loss(x, N, D, gam, bet, eps, dy);
    bet[j] = keep;
    dn_assert_close_at(g[D + j], (hi - lo) / (2 * h), 1e-5, 1e-4, "dbeta", (size_t)j, __FILE__,
                       __LINE__);
    assert_true(g[2 * D + j] == 0.0f && g[3 * D + j] == 0.0f); /* non-trainable */
  }
  assert_true(biggest > 1e-2);
  /* Inference-mode gradients through the public check, and inside a deeper model. */
  dn_model *deep = dn_sequential(dn_dense(4, .input_dim = 3, .activation = "tanh"),
                                 dn_batch_normalization(), dn_dense(2, .activation = "sigmoid"));
  float xx[12], dd[8];
  for (int i = 0; i < 12; i++)
    xx[i] = (float)(i % 5) * 0.3f - 0.6f;
  for (int i = 0; i < 8; i++)
    dd[i] = (float)(i % 3) - 1.0f;
  /* In training mode the first layer's bias has an exactly-zero gradient (BN removes the
   * batch mean), so the relative error is float noise there: judge by the absolute error,
   * which shrinks as eps^2 (central differences), i.e. the analytic gradient is right. */
  dn_gradient_check_report rep;
  dn_gradient_check_options opt = {.model = deep,
                                   .x = dn_tensor_2d(xx, 4, 3),
                                   .dy = dn_tensor_2d(dd, 4, 2),
                                   .report = &rep,
                                   .epsilon = 3e-3,
                                   .training = true};
  assert_ok(dn_model_gradient_check_with(opt));
  assert_true(rep.max_abs_error < 2e-3);
  double coarse = rep.max_abs_error;
  opt.epsilon = 1e-2;
  assert_ok(dn_model_gradient_check_with(opt));
  assert_true(rep.max_abs_error > 4 * coarse); /* the error is O(eps^2) truncation */
  opt.training = false;
  assert_ok(dn_model_gradient_check_with(opt));
  assert_true(rep.max_rel_error < 2e-3);
  dn_model_free(deep);
  dn_model_free(m);
}

/* ---- Normalization ---------------------------------------------------------- */

static void test_normalization(void **state) {
  (void)state;
  /* Column 0: 1, 2, 3, 6 (mean 3, population var 3.5); column 1: 5, 5, 5, 5 (var 0). */
  const float x[8] = {1, 5, 2, 5, 3, 5, 6, 5};
  dn_layer *norm = dn_normalization(.input_dim = 2);
  assert_non_null(norm);
  assert_ok(dn_normalization_adapt(norm, dn_tensor_2d(x, 4, 2)));
  dn_model *m = dn_sequential(norm, dn_dense(1, .kernel_initializer = "ones"));
  assert_non_null(m);
  assert_string_equal(dn_layer_name(dn_model_layer(m, 0)), "normalization");
  assert_int_equal(dn_model_count_params(m), 5 + 3);
  assert_int_equal(dn_model_count_trainable_params(m), 3);
  float w[8];
  assert_ok(dn_model_get_weights(m, w, 8));
  const float expect_w[5] = {3, 5, 3.5f, 0, 0}; /* mean, variance, count (0, as Keras) */
  assert_memory_equal(w, expect_w, sizeof expect_w);
  /* y = (x0 - 3)/sqrt(3.5) + (x1 - 5)/max(0, 1e-7) = (x0 - 3)/sqrt(3.5) for x1 = 5 */
  float y[4];
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 4, 2), false, dn_tensor_2d(y, 4, 1)));
  for (int n = 0; n < 4; n++)
    assert_close(y[n], (x[2 * n] - 3) / sqrt(3.5), 1e-6, 1e-6);
  /* Gradient w.r.t. the input: 1/sqrt(3.5) for column 0, 1/1e-7 for column 1. */
  float dx[8], dy[4] = {1, 1, 1, 1};
  assert_ok(dn_model_backward_input(m, dn_tensor_2d(dy, 4, 1), dn_tensor_2d(dx, 4, 2)));
  assert_close(dx[0], 1 / sqrt(3.5), 1e-6, 1e-6);
  assert_close(dx[1], 1e7, 0, 1e-5);
  /* Adapting the layer inside the model updates the model's weights. */
  const float x2[4] = {0, 0, 2, 4};
  assert_ok(dn_normalization_adapt(dn_model_layer(m, 0), dn_tensor_2d(x2, 2, 2)));
  assert_ok(dn_model_get_weights(m, w, 8));
  assert_close(w[0], 1, 0, 0);
  assert_close(w[1], 2, 0, 0);
  assert_close(w[2], 1, 0, 0);
  assert_close(w[3], 4, 0, 0);
  assert_status_msg(dn_normalization_adapt(dn_model_layer(m, 1), dn_tensor_2d(x2, 2, 2)),
                    DN_ERR_ARG, "not a Normalization");
  /* x's width against the layer's (2): a shape error, the statistics unchanged. */
  assert_status_msg(dn_normalization_adapt(dn_model_layer(m, 0), dn_tensor_2d(x2, 1, 4)),
                    DN_ERR_SHAPE,
                    "dn_normalization_adapt: x has 4 columns but the layer's input width is 2");
  assert_ok(dn_model_get_weights(m, w, 8));
  assert_close(w[0], 1, 0, 0);
  assert_close(w[3], 4, 0, 0);
  dn_model_free(m);
  /* Given mean and variance; invert. */
  const float mean[2] = {1, -1}, var[2] = {4, 9};
  m = dn_sequential(
      dn_normalization(.input_dim = 2, .mean = mean, .variance = var, .invert = true));
  const float z[2] = {0.5f, 2};
  assert_ok(dn_model_forward(m, dn_tensor_2d(z, 1, 2), false, dn_tensor_2d(y, 1, 2)));
  assert_close(y[0], 1 + 0.5 * 2, 0, 1e-7);
  assert_close(y[1], -1 + 2 * 3, 0, 1e-7);
  dn_model_free(m);
  /* An unbuilt layer takes its input width from x, as Keras's adapt builds it (0.1 refused it
   * with DN_ERR_STATE); a model made from it has that input width. */
  dn_layer *unbuilt = dn_normalization();
  assert_status_msg(dn_normalization_adapt(unbuilt, (dn_tensor){0}), DN_ERR_ARG,
                    "dn_normalization_adapt: x is no tensor");
  assert_ok(dn_normalization_adapt(unbuilt, dn_tensor_2d(x, 4, 2)));
  m = dn_sequential(unbuilt);
  assert_non_null(m);
  assert_int_equal(dn_model_input_dim(m), 2);
  assert_int_equal(dn_model_count_params(m), 5);
  assert_ok(dn_model_get_weights(m, w, 5));
  assert_memory_equal(w, expect_w, sizeof expect_w);
  dn_model_free(m);

  assert_null(dn_normalization(.mean = mean));
  const float bad_var[2] = {1, -1};
  assert_null(dn_normalization(.input_dim = 2, .mean = mean, .variance = bad_var));
  assert_non_null(strstr(dn_last_error(), "variance"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_activation_layer),
      cmocka_unit_test(test_dropout),
      cmocka_unit_test(test_batch_norm_forward_and_moving_stats),
      cmocka_unit_test(test_batch_norm_gradients),
      cmocka_unit_test(test_normalization),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
