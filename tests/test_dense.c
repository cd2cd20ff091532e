/* test_dense.c -- the Dense layer and whole models: known outputs, gradients of a scalar
 * loss with respect to every weight, bias and input against finite differences of an
 * independent double-precision reimplementation, regularizers and initializer wiring. */
#include "dn_test.h"

#include <stdlib.h>

/* ---- an independent double-precision MLP (dense layers only) ----------- */

typedef enum { ACT_LINEAR, ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_ELU, ACT_SOFTPLUS } ref_act;

static double ref_apply(ref_act a, double z) {
  switch (a) {
  case ACT_LINEAR: return z;
  case ACT_RELU: return z > 0 ? z : 0;
  case ACT_TANH: return tanh(z);
  case ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
  case ACT_ELU: return z >= 0 ? z : expm1(z);
  case ACT_SOFTPLUS: return log1p(exp(z));
  }
  return NAN;
}

static const char *ref_name(ref_act a) {
  static const char *names[] = {"linear", "relu", "tanh", "sigmoid", "elu", "softplus"};
  return names[a];
}

typedef struct {
  size_t n_layers;
  size_t dims[6]; /* dims[0] inputs, dims[i+1] units of layer i */
  ref_act act[5];
  bool bias[5];
} ref_net;

/* Forward in double with weights w (Keras layout: kernel I x O then bias, layer by
 * layer), returning L = sum(y * dy) + l2 * sum(kernel^2). */
static double ref_loss(const ref_net *net, const double *w, const double *x, size_t rows,
                       const double *dy, double l2) {
  double a[64 * 16], b[64 * 16];
  size_t off = 0;
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < net->dims[0]; j++)
      a[r * 16 + j] = x[r * net->dims[0] + j];
  double penalty = 0;
  for (size_t l = 0; l < net->n_layers; l++) {
    size_t I = net->dims[l], O = net->dims[l + 1];
    const double *W = w + off, *B = w + off + I * O;
    for (size_t k = 0; k < I * O; k++)
      penalty += l2 * W[k] * W[k];
    for (size_t r = 0; r < rows; r++)
      for (size_t o = 0; o < O; o++) {
        double z = net->bias[l] ? B[o] : 0.0;
        for (size_t i = 0; i < I; i++)
          z += a[r * 16 + i] * W[i * O + o];
        b[r * 16 + o] = ref_apply(net->act[l], z);
      }
    memcpy(a, b, sizeof a);
    off += I * O + (net->bias[l] ? O : 0);
  }
  double s = 0;
  size_t out = net->dims[net->n_layers];
  for (size_t r = 0; r < rows; r++)
    for (size_t o = 0; o < out; o++)
      s += a[r * 16 + o] * dy[r * out + o];
  return s + penalty;
}

static dn_model *make_model(const ref_net *net, double l2) {
  dn_model *m = dn_model_new();
  assert_non_null(m);
  for (size_t l = 0; l < net->n_layers; l++)
    assert_ok(
        dn_model_add(m, dn_dense(net->dims[l + 1], .activation = ref_name(net->act[l]),
                                 .input_dim = l == 0 ? net->dims[0] : 0, .no_bias = !net->bias[l],
                                 .kernel_l2 = l2, .bias_initializer = "random_uniform")));
  return m;
}

/* Checks analytic gradients (weights and inputs) against central differences of ref_loss. */
static void check_gradients(const ref_net *net, size_t rows, double l2, unsigned seed) {
  dn_model *m = make_model(net, l2);
  assert_ok(dn_model_set_seed(m, seed));
  size_t P = dn_model_count_params(m), I = net->dims[0], O = net->dims[net->n_layers];
  float *wf = malloc(P * sizeof *wf), *g = malloc(P * sizeof *g);
  double *w = malloc(P * sizeof *w);
  float xf[64 * 8], dyf[64 * 8], y[64 * 8], dx[64 * 8];
  double x[64 * 8], dy[64 * 8];
  assert_ok(dn_model_get_weights(m, wf, P));
  for (size_t k = 0; k < P; k++)
    w[k] = wf[k];
  srand(seed);
  for (size_t k = 0; k < rows * I; k++)
    x[k] = xf[k] = (float)(rand() % 2001 - 1000) / 700.0f;
  for (size_t k = 0; k < rows * O; k++)
    dy[k] = dyf[k] = (float)(rand() % 2001 - 1000) / 1000.0f;
  assert_ok(dn_model_forward(m, dn_tensor_2d(xf, rows, I), false, dn_tensor_2d(y, rows, O)));
  assert_ok(dn_model_backward_input(m, dn_tensor_2d(dyf, rows, O), dn_tensor_2d(dx, rows, I)));
  assert_ok(dn_model_get_gradients(m, g, P));

  const double h = 1e-6;
  double max_g = 0;
  for (size_t k = 0; k < P; k++) {
    double keep = w[k];
    w[k] = keep + h;
    double hi = ref_loss(net, w, x, rows, dy, l2);
    w[k] = keep - h;
    double lo = ref_loss(net, w, x, rows, dy, l2);
    w[k] = keep;
    double num = (hi - lo) / (2 * h);
    dn_assert_close_at(g[k], num, 2e-5, 2e-4, "dL/dw", k, __FILE__, __LINE__);
    max_g = fmax(max_g, fabs(num));
  }
  for (size_t k = 0; k < rows * I; k++) {
    double keep = x[k];
    x[k] = keep + h;
    double hi = ref_loss(net, w, x, rows, dy, l2);
    x[k] = keep - h;
    double lo = ref_loss(net, w, x, rows, dy, l2);
    x[k] = keep;
    dn_assert_close_at(dx[k], (hi - lo) / (2 * h), 2e-5, 2e-4, "dL/dx", k, __FILE__, __LINE__);
  }
  assert_true(max_g > 1e-3); /* guard: the gradient is not trivially zero */
  /* The public gradient check agrees (float32 finite differences, eps 1e-2 for smooth nets). */
  dn_gradient_check_report rep;
  assert_ok(dn_model_gradient_check(m, dn_tensor_2d(xf, rows, I), dn_tensor_2d(dyf, rows, O), &rep,
                                    .epsilon = 1e-2));
  assert_int_equal(rep.checked, dn_model_count_trainable_params(m) + rows * I);
  bool kinks = false;
  for (size_t l = 0; l < net->n_layers; l++)
    kinks |= net->act[l] == ACT_RELU || net->act[l] == ACT_ELU;
  if (!kinks)
    assert_true(rep.max_rel_error < 1e-2);
  free(wf);
  free(g);
  free(w);
  dn_model_free(m);
}

static void test_gradients_smooth(void **state) {
  (void)state;
  ref_net a = {3, {3, 5, 4, 2}, {ACT_TANH, ACT_SIGMOID, ACT_LINEAR}, {true, true, true}};
  check_gradients(&a, 1, 0.0, 1);
  check_gradients(&a, 7, 0.0, 2);
  ref_net b = {2, {4, 6, 3}, {ACT_SOFTPLUS, ACT_TANH}, {false, true}};
  check_gradients(&b, 5, 0.0, 3);
  check_gradients(&b, 5, 0.05, 4); /* with an L2 kernel penalty */
}

static void test_gradients_relu_elu(void **state) {
  (void)state;
  ref_net a = {3, {2, 4, 3, 1}, {ACT_RELU, ACT_RELU, ACT_LINEAR}, {true, true, true}};
  check_gradients(&a, 1, 0.0, 5);
  check_gradients(&a, 9, 0.0, 6);
  ref_net b = {2, {3, 8, 2}, {ACT_ELU, ACT_LINEAR}, {true, false}};
  check_gradients(&b, 6, 0.0, 7);
}

/* The lesson network with known weights: outputs worked out by hand. */
static void test_lesson_known_outputs(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_dense(3, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  assert_int_equal(dn_model_count_params(m), 31);
  float w[31];
  /* kernel 2x4 */
  const float k1[8] = {1, -1, 0.5f, 2, -2, 1, 0.5f, -1};
  const float b1[4] = {0, 0.5f, -1, 1};
  const float k2[12] = {1, 0, -1, 0.5f, 1, 0, -1, 2, 1, 0, 0, 1};
  const float b2[3] = {0.25f, -0.5f, 0};
  const float k3[3] = {2, -1, 0.5f};
  const float b3[1] = {0.1f};
  memcpy(w, k1, sizeof k1);
  memcpy(w + 8, b1, sizeof b1);
  memcpy(w + 12, k2, sizeof k2);
  memcpy(w + 24, b2, sizeof b2);
  memcpy(w + 27, k3, sizeof k3);
  memcpy(w + 30, b3, sizeof b3);
  assert_ok(dn_model_set_weights(m, w, 31));
  const float x[4] = {1, 2, -1, 0.5f};
  float y[2];
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 2, 2), false, dn_tensor_2d(y, 2, 1)));
  /* Row (1,2): z1 = [1-4, -1+2+0.5, 0.5+1-1, 2-2+1] = [-3, 1.5, 0.5, 1] -> relu [0,1.5,0.5,1]
   * z2 = [0*1+1.5*0.5+0.5*(-1)+1*0 +0.25, 0*0+1.5*1+0.5*2+1*0 -0.5, 0*(-1)+1.5*0+0.5*1+1*1]
   *    = [0.5, 2.0, 1.5] -> relu same; y = 2*0.5 - 2 + 0.75 + 0.1 = -0.15
   * Row (-1,0.5): z1 = [-1-1, 1+0.5+0.5, -0.5+0.5-1, -2-0.5+1] = [-2, 2, -1, -1.5]
   *    -> [0, 2, 0, 0]; z2 = [2*0.5+0.25, 2*1-0.5, 0] = [1.25, 1.5, 0]; y = 2.5-1.5+0+0.1 = 1.1 */
  assert_close(y[0], -0.15, 1e-6, 1e-6);
  assert_close(y[1], 1.1, 1e-6, 1e-6);
  dn_model_free(m);
}

static void test_regularizers(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(2, .input_dim = 2, .kernel_regularizer = "l1",
                                       .bias_regularizer = "l2", .bias_initializer = "ones"));
  assert_non_null(m);
  float w[6] = {1, -2, 0, 3, 1, -1};
  assert_ok(dn_model_set_weights(m, w, 6));
  /* 0.01 * (1+2+0+3) + 0.01 * (1+1) = 0.08 */
  assert_close(dn_model_regularization_loss(m), 0.08, 1e-9, 1e-6);
  float x[2] = {0, 0}, y[2], dy[2] = {0, 0}, g[6];
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 1, 2), true, dn_tensor_2d(y, 1, 2)));
  assert_ok(dn_model_backward(m, dn_tensor_2d(dy, 1, 2)));

  assert_ok(dn_model_get_gradients(m, g, 6));
  const float expect[6] = {0.01f, -0.01f, 0, 0.01f, 0.02f, -0.02f}; /* l1 sign(w), 2 l2 w */
  assert_close_array(g, expect, 6, 1e-9, 1e-6);
  /* A factor overrides the string default. */
  dn_model *m2 =
      dn_sequential(dn_dense(1, .input_dim = 1, .kernel_regularizer = "l2", .kernel_l2 = 0.5));
  float w2[2] = {2, 0};
  assert_ok(dn_model_set_weights(m2, w2, 2));
  assert_close(dn_model_regularization_loss(m2), 2.0, 1e-9, 1e-9);
  dn_model_free(m2);
  dn_model_free(m);
  assert_null(dn_dense(1, .kernel_regularizer = "l3"));
  assert_non_null(strstr(dn_last_error(), "l3"));
  assert_null(dn_dense(1, .kernel_l2 = -1));
}

static void test_no_bias_and_initializers(void **state) {
  (void)state;
  dn_model *m =
      dn_sequential(dn_dense(3, .input_dim = 4, .no_bias = true, .kernel_initializer = "constant",
                             .kernel_init = {.value = 0.25}));
  assert_non_null(m);
  assert_int_equal(dn_model_count_params(m), 12);
  float w[12];
  assert_ok(dn_model_get_weights(m, w, 12));
  for (int i = 0; i < 12; i++)
    assert_close(w[i], 0.25, 0, 0);
  dn_model_free(m);
  /* Default glorot_uniform: |w| <= sqrt(6 / (fan_in + fan_out)), bias zeros. */
  m = dn_sequential(dn_dense(30, .input_dim = 20));
  float *all = malloc(dn_model_count_params(m) * sizeof *all);
  assert_ok(dn_model_get_weights(m, all, 630));
  double limit = sqrt(6.0 / 50.0), maxabs = 0;
  for (int i = 0; i < 600; i++)
    maxabs = fmax(maxabs, fabs(all[i]));
  assert_true(maxabs <= limit && maxabs > 0.8 * limit);
  for (int i = 600; i < 630; i++)
    assert_true(all[i] == 0.0f);
  free(all);
  dn_model_free(m);
  assert_null(dn_dense(2, .kernel_initializer = "glorot_uniformish"));
  assert_non_null(strstr(dn_last_error(), "glorot_uniformish"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lesson_known_outputs),     cmocka_unit_test(test_gradients_smooth),
      cmocka_unit_test(test_gradients_relu_elu),       cmocka_unit_test(test_regularizers),
      cmocka_unit_test(test_no_bias_and_initializers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
