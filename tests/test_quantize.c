/* test_quantize.c -- int8 post-training quantization (dn_model_quantize, QuantizedDense): the
 * quantized weights and one prediction worked out by hand, the AVX2 int8 product against the
 * portable one bit for bit, predictions near the float model's on random data, the file round
 * trip and the refused calls. */
#define _POSIX_C_SOURCE 200809L
#include "dn_test.h"

#include <unistd.h>

#include "core/cpu.h"
#include "kernels/qgemm.h"

/* Dense(2, relu) on 2 inputs, then Dense(1): weights chosen so that every quantized value is
 * away from a rounding tie. */
static dn_model *tiny_model(void) {
  dn_model *m = dn_sequential(dn_dense(2, .activation = "relu", .input_dim = 2), dn_dense(1));
  const float w[] = {1.27f, -0.25f, 0.5f, 1.0f, 0.1f, -0.2f, 1.0f, -2.54f, 0.5f};
  assert_int_equal(dn_model_set_weights(m, w, 9), DN_OK);
  return m;
}

static void test_by_hand(void **state) {
  (void)state;
  dn_model *m = tiny_model();
  const float cal[] = {-1.27f, 0.0f, 0.0f, 2.54f};
  dn_model *q = dn_model_quantize(m, dn_tensor_2d(cal, 2, 2), .min_inputs = 1);
  assert_non_null(q);
  /* layer 0: column 0 max 1.27 -> scale 0.01, q = 127, 50; column 1 max 1.0 -> scale 1/127,
   * q = round(-31.75) = -32, 127. Input range [-1.27, 2.54] -> scale 3.81 / 127 = 0.03, zero
   * point round(1.27 / 0.03 = 42.33) = 42. Layer 1's input (relu of layer 0 on the two rows):
   * (0, 0.1175) and (1.37, 2.34) -> [0, 2.34], scale 2.34 / 127, zero point 0; its kernel
   * (1, -2.54): scale 0.02, q = 50, -127. */
  const float expect[] = {127,   -32, 50, 127,  0.1f, -0.2f, 0.01f,       1.0f / 127,
                          0.03f, 42,  50, -127, 0.5f, 0.02f, 2.34f / 127, 0};
  assert_int_equal(dn_model_count_params(q), 16);
  float got[16];
  assert_int_equal(dn_model_get_weights(q, got, 16), DN_OK);
  assert_close_array(got, expect, 16, 0.0, 1e-6);
  /* x = (0.3, 0.6): q = 52, 62, minus the zero point 10, 20. Column 0: 10 * 127 + 20 * 50 = 2270
   * -> 2270 * 0.03 * 0.01 + 0.1 = 0.781; column 1: 10 * -32 + 20 * 127 = 2220 -> 2220 * 0.03 /
   * 127 - 0.2 = 0.3244094. Layer 1: round(0.781 / 0.0184252 = 42.39) = 42, round(17.61) = 18;
   * 42 * 50 - 18 * 127 = -186 -> -186 * 0.0184252 * 0.02 + 0.5 = 0.4314583 (float model:
   * 0.4555). */
  const float x[] = {0.3f, 0.6f};
  float y[1];
  assert_int_equal(dn_predict(q, dn_tensor_2d(x, 1, 2), dn_tensor_2d(y, 1, 1)), DN_OK);
  assert_close(y[0], 0.4314583, 2e-6, 0.0);
  dn_model_free(q);
  dn_model_free(m);
}

/* BatchNormalization (then a Dropout) before a Dense layer is folded into it: BN y = a x + c with
 * a = gamma / sqrt(var + eps), c = beta - mean a; gamma (2, 1), beta (0.5, -1), mean (1, 0),
 * var (3, 0.999), eps 0.001: a = (2 / sqrt(3.001) = 1.1545081, 1), c = (-0.6545081, -1). Dense
 * kernel (1, 2), bias 0.25 -> W' = (1.1545081, 2), b' = 0.25 - 0.6545081 - 2 = -2.4045081;
 * kernel scale 2 / 127, q = round(73.31) = 73, 127. The input is the BN's: calibrated on
 * [-1, 2.54] -> scale 3.54 / 127, zero point round(35.88) = 36. */
static void test_batch_norm_folded(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_batch_normalization(.input_dim = 2), dn_dropout(0.5), dn_dense(1));
  const float w[] = {2, 1, 0.5f, -1, 1, 0, 3, 0.999f, 1, 2, 0.25f};
  assert_int_equal(dn_model_set_weights(m, w, 11), DN_OK);
  const float cal[] = {-1.0f, 0.0f, 0.0f, 2.54f};
  dn_model *q = dn_model_quantize(m, dn_tensor_2d(cal, 2, 2), .min_inputs = 1);
  assert_non_null(q);
  assert_int_equal(dn_model_layer_count(q), 2);
  assert_string_equal(dn_layer_type(dn_model_layer(q, 0)), "Dropout");
  assert_string_equal(dn_layer_type(dn_model_layer(q, 1)), "QuantizedDense");
  const float expect[] = {73, 127, -2.4045081f, 2.0f / 127, 3.54f / 127, 36};
  float got[6];
  assert_int_equal(dn_model_count_params(q), 6);
  assert_int_equal(dn_model_get_weights(q, got, 6), DN_OK);
  assert_close_array(got, expect, 6, 0.0, 1e-6);
  /* x = (0.3, 0.6): q = round(10.76) = 11, round(21.53) = 22 (after the zero point);
   * 11 * 73 + 22 * 127 = 3597 -> 3597 * (3.54 / 127) * (2 / 127) - 2.4045081 = -0.8255659
   * (the float model: -0.8581557). */
  const float x[] = {0.3f, 0.6f};
  float y[1];
  assert_int_equal(dn_predict(q, dn_tensor_2d(x, 1, 2), dn_tensor_2d(y, 1, 1)), DN_OK);
  assert_close(y[0], -0.8255659, 2e-6, 0.0);
  assert_int_equal(dn_predict(m, dn_tensor_2d(x, 1, 2), dn_tensor_2d(y, 1, 1)), DN_OK);
  assert_close(y[0], -0.8581557, 2e-6, 0.0);
  dn_model_free(q);
  dn_model_free(m);
}

enum { ID_W = 20 };

/* A QuantizedDense layer of ID_W units on ID_W inputs, with `activation`, set to an identity
 * kernel (kernel scale 1), input scale 1 and zero point 0, and bias b (NULL: none given, 0):
 * its output is activation(clamp(round(x), 0, 127) + b). */
static dn_model *identity_qdense(const char *activation, const float *b) {
  dn_model *m = dn_sequential(dn_dense(ID_W, .activation = activation, .input_dim = ID_W));
  float cal[ID_W] = {0}, w[ID_W * ID_W + 2 * ID_W + 2] = {0};
  cal[0] = 1.0f;
  dn_model *q = dn_model_quantize(m, dn_tensor_2d(cal, 1, ID_W), .min_inputs = 1);
  dn_model_free(m);
  assert_non_null(q);
  assert_int_equal(dn_model_count_params(q), ID_W * ID_W + 2 * ID_W + 2);
  for (size_t k = 0; k < ID_W; k++) {
    w[k * ID_W + k] = 1.0f;                       /* kernel: identity */
    w[ID_W * ID_W + k] = b != NULL ? b[k] : 0.0f; /* bias */
    w[ID_W * ID_W + ID_W + k] = 1.0f;             /* kernel_scale */
  }
  w[ID_W * ID_W + 2 * ID_W] = 1.0f; /* input scale 1, zero point 0 */
  assert_int_equal(dn_model_set_weights(q, w, ID_W * ID_W + 2 * ID_W + 2), DN_OK);
  return q;
}

/* The input quantization of a QuantizedDense layer set to scale 1, zero point 0 with an identity
 * kernel (scale 1, no bias): y[k] = clamp(round(x[k]), 0, 127), ties to even, NaN -> 0. 20
 * inputs: 16 take the vector path (SSE2), the last 4 the scalar one; each value is tried in
 * both. */
static void test_input_rounding(void **state) {
  (void)state;
  enum { W = ID_W };
  dn_model *q = identity_qdense("linear", NULL);
  const float v[] = {0.5f,  1.5f,  2.5f,  -3.0f, 126.5f,   127.5f,    1e9f, NAN,
                     3.49f, 64.5f, -0.5f, 0.0f,  INFINITY, -INFINITY, 7.5f, 99.51f};
  const float want[] = {0, 2, 2, 0, 126, 127, 127, 0, 3, 64, 0, 0, 127, 0, 8, 100};
  for (size_t shift = 0; shift < 16; shift += 4) {
    float x[W], y[W];
    for (size_t k = 0; k < W; k++)
      x[k] = v[(k + shift) % 16];
    assert_int_equal(dn_predict(q, dn_tensor_2d(x, 1, W), dn_tensor_2d(y, 1, W)), DN_OK);
    for (size_t k = 0; k < W; k++)
      if (y[k] != want[(k + shift) % 16])
        fail_msg("input %zu = %g: quantized to %g, want %g", k, (double)x[k], (double)y[k],
                 (double)want[(k + shift) % 16]);
  }
  dn_model_free(q);
}

/* relu after the int8 product, on the values only a bias can bring (zero input, identity kernel:
 * the output is relu(bias)): +0 for negatives, -0 and -Inf, NaN kept, positives and +Inf kept;
 * 20 outputs, so the vector loop and its tail both see each value. */
static void test_relu_edges(void **state) {
  (void)state;
  enum { W = ID_W };
  const float b[] = {-INFINITY, NAN, -1.0f, 0.5f, -0.0f, INFINITY, 0.0f, -1e-30f, 3.0f, -7.0f};
  float bias[W];
  for (size_t k = 0; k < W; k++)
    bias[k] = b[k % 10];
  dn_model *q = identity_qdense("relu", bias);
  float x[W] = {0}, y[W];
  assert_int_equal(dn_predict(q, dn_tensor_2d(x, 1, W), dn_tensor_2d(y, 1, W)), DN_OK);
  for (size_t k = 0; k < W; k++) {
    float v = b[k % 10];
    if (isnan(v))
      assert_true(isnan(y[k]));
    else if (v > 0.0f)
      assert_memory_equal(&y[k], &v, sizeof v);
    else if (y[k] != 0.0f || signbit(y[k]))
      fail_msg("output %zu: relu(%g) gave %g, want +0", k, (double)v, (double)y[k]);
  }
  dn_model_free(q);
}

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static void test_avx2_equals_portable(void **state) {
  (void)state;
  if (dn_cpu_level_hardware() < DN_CPU_AVX2)
    skip();
  uint32_t s = 7;
  const size_t shapes[][3] = {{1, 1, 1},   {3, 5, 9},   {4, 8, 8},
                              {7, 13, 17}, {9, 64, 24}, {33, 130, 40}};
  for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
    size_t N = shapes[t][0], K = shapes[t][1], O = shapes[t][2];
    size_t Kp = dn_qgemm_kpad(K), Op = dn_qgemm_opad(O);
    int8_t *W = malloc(K * O), *Wp = malloc(Kp * Op);
    uint8_t *X = calloc(N * Kp, 1);
    int32_t *C1 = malloc(N * Op * 4), *C2 = malloc(N * Op * 4);
    for (size_t i = 0; i < K * O; i++) /* extremes included: -127 and 127 */
      W[i] = (int8_t)(i % 11 == 0 ? (i % 2 ? 127 : -127) : (int)(lcg(&s) % 255) - 127);
    for (size_t n = 0; n < N; n++)
      for (size_t k = 0; k < K; k++)
        X[n * Kp + k] = (uint8_t)(k % 7 == 0 ? 127 : lcg(&s) % 128);
    dn_qgemm_pack(Wp, W, K, O);
    dn_qgemm_for(DN_CPU_PORTABLE)(C1, X, Wp, N, Kp, Op);
    dn_qgemm_for(DN_CPU_AVX2)(C2, X, Wp, N, Kp, Op);
    assert_memory_equal(C1, C2, N * Op * 4);
    for (size_t n = 0; n < N; n++) /* and the portable sums are the plain ones */
      for (size_t o = 0; o < O; o++) {
        int32_t ref = 0;
        for (size_t k = 0; k < K; k++)
          ref += X[n * Kp + k] * W[k * O + o];
        assert_int_equal(C1[n * Op + o], ref);
      }
    free(W), free(Wp), free(X), free(C1), free(C2);
  }
}

/* The W4 shape, smaller: 8 -> 64 relu -> 64 relu -> 64 relu -> 1, seeded glorot weights. */
static dn_model *random_net(void) {
  dn_model *m = dn_sequential(dn_dense(64, .activation = "relu", .input_dim = 8),
                              dn_dense(64, .activation = "relu"),
                              dn_dense(64, .activation = "tanh"), dn_dense(1));
  dn_model_set_seed(m, 42);
  return m;
}

static float *random_rows(size_t rows, size_t cols, uint32_t seed) {
  float *x = malloc(rows * cols * sizeof *x);
  for (size_t i = 0; i < rows * cols; i++)
    x[i] = (float)(lcg(&seed) % 20001) / 10000.0f - 1.0f;
  return x;
}

static void test_random_close(void **state) {
  (void)state;
  dn_model *m = random_net();
  float *cal = random_rows(512, 8, 1), *x = random_rows(300, 8, 2);
  dn_model *q = dn_model_quantize(m, dn_tensor_2d(cal, 512, 8), .min_inputs = 1);
  assert_non_null(q);
  float yf[300], yq[300], yb[300];
  assert_int_equal(dn_predict(m, dn_tensor_2d(x, 300, 8), dn_tensor_2d(yf, 300, 1)), DN_OK);
  assert_int_equal(dn_predict(q, dn_tensor_2d(x, 300, 8), dn_tensor_2d(yq, 300, 1)), DN_OK);
  double range = 0.0, err = 0.0;
  for (size_t i = 0; i < 300; i++) {
    range = fmax(range, fabs(yf[i]));
    err = fmax(err, fabs(yq[i] - yf[i]));
  }
  print_message("int8 vs fp32: max |error| %g, max |y| %g\n", err, range);
  /* docs/int8.md: measured 4.2 % of the largest output here (7-bit activations, 4 layers) */
  assert_true(err <= 0.06 * range);
  /* one row at a time gives the same bits as the batch (the products are exact) */
  for (size_t i = 0; i < 300; i += 37) {
    assert_int_equal(dn_predict_on_batch(q, dn_tensor_2d(x + 8 * i, 1, 8), dn_tensor_2d(yb, 1, 1)),
                     DN_OK);
    assert_memory_equal(&yb[0], &yq[i], sizeof(float));
  }
  /* save and load: the same weights and the same predictions, bit for bit */
  char path[] = "/tmp/dn_quantize_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(dn_model_save(q, path), DN_OK);
  dn_model *l = dn_model_load(path);
  remove(path);
  assert_non_null(l);
  size_t n = dn_model_count_params(q);
  assert_int_equal(dn_model_count_params(l), n);
  float *w1 = malloc(n * sizeof *w1), *w2 = malloc(n * sizeof *w2);
  dn_model_get_weights(q, w1, n);
  dn_model_get_weights(l, w2, n);
  assert_memory_equal(w1, w2, n * sizeof *w1);
  assert_int_equal(dn_predict(l, dn_tensor_2d(x, 300, 8), dn_tensor_2d(yb, 300, 1)), DN_OK);
  assert_memory_equal(yb, yq, sizeof yq);
  free(w1), free(w2), free(cal), free(x);
  dn_model_free(l);
  dn_model_free(q);
  dn_model_free(m);
}

/* The default min_inputs: the 8-input first layer stays a float Dense layer with the model's
 * own weights, the 64-input ones become QuantizedDense; the first layer's output is then the
 * float model's bit for bit. */
static void test_narrow_layer_stays_float(void **state) {
  (void)state;
  dn_model *m = random_net();
  float *cal = random_rows(512, 8, 1), *x = random_rows(50, 8, 3);
  dn_model *q = dn_model_quantize(m, dn_tensor_2d(cal, 512, 8));
  assert_non_null(q);
  assert_string_equal(dn_layer_type(dn_model_layer(q, 0)), "Dense");
  for (size_t i = 1; i < 4; i++)
    assert_string_equal(dn_layer_type(dn_model_layer(q, i)), "QuantizedDense");
  size_t n0 = dn_layer_count_params(dn_model_layer(m, 0));
  assert_int_equal(dn_layer_count_params(dn_model_layer(q, 0)), n0);
  float *wm = malloc(dn_model_count_params(m) * sizeof *wm);
  float *wq = malloc(dn_model_count_params(q) * sizeof *wq);
  dn_model_get_weights(m, wm, dn_model_count_params(m));
  dn_model_get_weights(q, wq, dn_model_count_params(q));
  assert_memory_equal(wm, wq, n0 * sizeof *wm); /* the first layer's weights come first */
  /* the float model cut after its first layer against the quantized one cut the same way */
  dn_model *mf = dn_model_copy(m), *qf = dn_model_copy(q);
  assert_true(mf != NULL && qf != NULL);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(dn_model_pop(mf), DN_OK);
    assert_int_equal(dn_model_pop(qf), DN_OK);
  }
  float ym[50 * 64], yq[50 * 64];
  assert_int_equal(dn_predict(mf, dn_tensor_2d(x, 50, 8), dn_tensor_2d(ym, 50, 64)), DN_OK);
  assert_int_equal(dn_predict(qf, dn_tensor_2d(x, 50, 8), dn_tensor_2d(yq, 50, 64)), DN_OK);
  assert_memory_equal(ym, yq, sizeof ym);
  free(wm), free(wq), free(cal), free(x);
  dn_model_free(mf);
  dn_model_free(qf);
  dn_model_free(q);
  dn_model_free(m);
}

/* The int8 forward split over two threads (300 rows x 64 x 64: above the threading threshold)
 * gives the one-thread bits. */
static void test_threads_same_bits(void **state) {
  (void)state;
  assert_int_equal(dn_set_threads(2), DN_OK);
  if (dn_threads() < 2) {
    assert_int_equal(dn_set_threads(0), DN_OK);
    print_message("serial build: one thread, nothing to compare\n");
    skip();
  }
  dn_model *m = random_net();
  float *cal = random_rows(512, 8, 1), *x = random_rows(300, 8, 4);
  dn_model *q = dn_model_quantize(m, dn_tensor_2d(cal, 512, 8), .min_inputs = 1);
  assert_non_null(q);
  float y2[300], y1[300];
  assert_int_equal(dn_predict(q, dn_tensor_2d(x, 300, 8), dn_tensor_2d(y2, 300, 1)), DN_OK);
  assert_int_equal(dn_set_threads(1), DN_OK);
  assert_int_equal(dn_predict(q, dn_tensor_2d(x, 300, 8), dn_tensor_2d(y1, 300, 1)), DN_OK);
  assert_int_equal(dn_set_threads(0), DN_OK);
  assert_memory_equal(y1, y2, sizeof y1);
  free(cal), free(x);
  dn_model_free(q);
  dn_model_free(m);
}

static void test_refused(void **state) {
  (void)state;
  dn_model *m = tiny_model();
  const float cal[] = {-1.27f, 0.0f, 0.0f, 2.54f}, bad[] = {NAN, 0.0f};
  float w[9], y[2];
  dn_model_get_weights(m, w, 9);
  dn_model *q = dn_model_quantize(m, dn_tensor_2d(cal, 2, 2), .min_inputs = 1);
  assert_non_null(q);
  assert_status_msg(dn_compile(q, .optimizer = "adam", .loss = "mse"), DN_ERR_STATE, "quantized");
  assert_status_msg(dn_model_forward(q, dn_tensor_2d(cal, 2, 2), true, dn_tensor_2d(y, 2, 1)),
                    DN_ERR_STATE, "inference only");
  assert_int_equal(dn_model_forward(q, dn_tensor_2d(cal, 2, 2), false, dn_tensor_2d(y, 2, 1)),
                   DN_OK);
  assert_status_msg(dn_model_backward(q, dn_tensor_2d(y, 2, 1)), DN_ERR_STATE, "quantized");
  assert_null(dn_model_quantize(q, dn_tensor_2d(cal, 2, 2), .min_inputs = 1));
  assert_int_equal(dn_last_status(), DN_ERR_STATE);
  assert_null(dn_model_quantize(m, dn_tensor_2d(cal, 1, 4)));
  assert_int_equal(dn_last_status(), DN_ERR_SHAPE);
  assert_null(dn_model_quantize(m, dn_tensor_2d(bad, 1, 2)));
  assert_int_equal(dn_last_status(), DN_ERR_NUMERIC);
  assert_null(dn_model_quantize(NULL, dn_tensor_2d(cal, 2, 2)));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  /* the default min_inputs (32) leaves this 2-input net nothing to quantize */
  assert_null(dn_model_quantize(m, dn_tensor_2d(cal, 2, 2)));
  assert_status_msg(dn_last_status(), DN_ERR_ARG, "no Dense layer has 32 or more inputs");
  dn_model *unbuilt = dn_sequential(dn_dense(1));
  assert_null(dn_model_quantize(unbuilt, dn_tensor_2d(cal, 2, 2)));
  assert_int_equal(dn_last_status(), DN_ERR_STATE);
  float after[9]; /* the float model is unchanged */
  dn_model_get_weights(m, after, 9);
  assert_memory_equal(w, after, sizeof w);
  dn_model_free(unbuilt);
  dn_model_free(q);
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_by_hand),           cmocka_unit_test(test_narrow_layer_stays_float),
      cmocka_unit_test(test_batch_norm_folded), cmocka_unit_test(test_input_rounding),
      cmocka_unit_test(test_threads_same_bits), cmocka_unit_test(test_avx2_equals_portable),
      cmocka_unit_test(test_random_close),      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_relu_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
