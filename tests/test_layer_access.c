/* test_layer_access.c -- layers as objects a caller reaches: dn_model_get_layer and
 * dn_model_layer_at, a layer's facts and its weights one at a time or all at once (Keras's
 * get_weights / set_weights, checked against the model's flat layout and hand-computed
 * predictions), dn_model_pop, dn_model_clone and dn_model_copy. */
#include "dn_test.h"

#include <stdlib.h>

/* The Keras lesson's network: 2 -> 4 relu -> 3 relu -> 1. */
static dn_model *lesson(void) {
  return dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                       dn_dense(3, .activation = "relu"), dn_dense(1));
}

static bool same_weights(const dn_model *a, const dn_model *b) {
  float *wa = dn_test_weights_of(a), *wb = dn_test_weights_of(b);
  bool same = memcmp(wa, wb, dn_model_count_params(a) * sizeof *wa) == 0;
  free(wa);
  free(wb);
  return same;
}

/* Deterministic rows for training: x in [-1, 1), y a smooth function of them. */
static void make_data(float *x, float *y, size_t rows) {
  for (size_t r = 0; r < rows; r++) {
    x[2 * r] = (float)((double)((r * 37) % 64) / 32.0 - 1.0);
    x[2 * r + 1] = (float)((double)((r * 11) % 64) / 32.0 - 1.0);
    y[r] = x[2 * r] * x[2 * r + 1] + 0.5f * x[2 * r];
  }
}

/* ---- reaching layers ---------------------------------------------------------------------- */

static void test_get_layer_by_name_and_index(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2), dn_dropout(0.25),
                              dn_dense(3, .name = "head"), dn_activation("softmax"));
  assert_non_null(m);
  dn_layer *first = dn_model_get_layer(m, "dense");
  assert_ptr_equal(first, dn_model_layer(m, 0));
  assert_ptr_equal(first, dn_model_layer_at(m, 0));
  assert_ptr_equal(first, dn_model_layer_at(m, -4));
  assert_ptr_equal(dn_model_get_layer(m, "head"), dn_model_layer_at(m, 2));
  assert_ptr_equal(dn_model_get_layer(m, "activation"), dn_model_layer_at(m, -1));
  assert_ptr_equal(dn_model_get_layer(m, "dropout"), dn_model_layer(m, 1));

  /* The facts Keras has on a layer. */
  assert_string_equal(dn_layer_type(first), "Dense");
  assert_string_equal(dn_layer_activation(first), "relu");
  assert_int_equal(dn_layer_input_dim(first), 2);
  assert_int_equal(dn_layer_output_dim(first), 4);
  assert_int_equal(dn_layer_weight_count(first), 2);
  dn_layer *head = dn_model_get_layer(m, "head");
  assert_string_equal(dn_layer_activation(head), "linear");
  assert_int_equal(dn_layer_input_dim(head), 4);
  assert_string_equal(dn_layer_activation(dn_model_layer_at(m, -1)), "softmax");
  assert_string_equal(dn_layer_type(dn_model_layer_at(m, -1)), "Activation");
  assert_null(dn_layer_activation(dn_model_layer(m, 1))); /* Dropout has none */
  assert_int_equal(dn_layer_weight_count(dn_model_layer(m, 1)), 0);
  assert_null(dn_layer_activation(NULL));
  assert_int_equal(dn_layer_input_dim(NULL), 0);
  assert_int_equal(dn_layer_weight_count(NULL), 0);

  /* Errors name the call and the numbers; the names are listed as Keras lists them. */
  assert_null(dn_model_get_layer(m, "dense_7"));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_model_get_layer: no layer named 'dense_7'"));
  assert_non_null(strstr(dn_last_error(), "dense, dropout, head, activation"));
  assert_null(dn_model_get_layer(m, "Head")); /* case-sensitive */
  assert_null(dn_model_get_layer(m, NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_null(dn_model_get_layer(NULL, "dense"));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_null(dn_model_layer_at(m, 4));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(
      strstr(dn_last_error(), "dn_model_layer_at: index 4 out of range (4 layers: -4 to 3)"));
  assert_null(dn_model_layer_at(m, -5));
  assert_non_null(strstr(dn_last_error(), "index -5 out of range"));
  assert_null(dn_model_layer_at(NULL, 0));
  dn_model *empty = dn_model_new();
  assert_null(dn_model_layer_at(empty, -1));
  assert_non_null(strstr(dn_last_error(), "0 layers"));
  assert_null(dn_model_get_layer(empty, "dense"));
  assert_non_null(strstr(dn_last_error(), "layers: none"));
  dn_model_free(empty);
  dn_model_free(m);
}

/* ---- weights per layer --------------------------------------------------------------------- */

/* Each layer's weights are exactly its slice of dn_model_get_weights, in Keras's order. */
static void test_layer_weights_match_the_flat_layout(void **state) {
  (void)state;
  dn_model *m = lesson();
  assert_non_null(m);
  float *flat = dn_test_weights_of(m);
  /* kernel (in x units) then bias, layer after layer: 8 + 4, 12 + 3, 3 + 1 */
  const size_t ins[] = {2, 4, 3}, units[] = {4, 3, 1};
  size_t off = 0;
  for (size_t i = 0; i < 3; i++) {
    dn_layer *l = dn_model_layer(m, i);
    assert_int_equal(dn_layer_weight_count(l), 2);
    dn_weight_info info;
    assert_ok(dn_layer_weight_info(l, 0, &info));
    assert_string_equal(info.name, "kernel");
    assert_int_equal(info.rank, 2);
    assert_int_equal(info.shape[0], ins[i]);
    assert_int_equal(info.shape[1], units[i]);
    assert_int_equal(info.shape[2], 0);
    assert_int_equal(info.size, ins[i] * units[i]);
    assert_true(info.trainable);
    assert_ok(dn_layer_weight_info(l, 1, &info));
    assert_string_equal(info.name, "bias");
    assert_int_equal(info.rank, 1);
    assert_int_equal(info.shape[0], units[i]);
    assert_int_equal(info.shape[1], 0);

    float kernel[12], bias[4];
    assert_ok(dn_layer_get_weight(l, 0, dn_tensor_2d(kernel, ins[i], units[i])));
    assert_ok(dn_layer_get_weight(l, 1, dn_tensor_1d(bias, units[i])));
    assert_memory_equal(kernel, flat + off, ins[i] * units[i] * sizeof(float));
    off += ins[i] * units[i];
    assert_memory_equal(bias, flat + off, units[i] * sizeof(float));
    off += units[i];

    /* all at once: the same values */
    float kernel2[12], bias2[4];
    assert_ok(dn_layer_get_weights(
        l, (dn_tensor[]){dn_tensor_2d(kernel2, ins[i], units[i]), dn_tensor_1d(bias2, units[i])},
        2));
    assert_memory_equal(kernel2, kernel, ins[i] * units[i] * sizeof(float));
    assert_memory_equal(bias2, bias, units[i] * sizeof(float));
  }
  assert_int_equal(off, dn_model_count_params(m));
  free(flat);
  dn_model_free(m);
}

static void test_batch_norm_and_normalization_weights(void **state) {
  (void)state;
  const float mean[3] = {1, 2, 3}, var[3] = {4, 9, 16};
  dn_model *m = dn_sequential(dn_normalization(.input_dim = 3, .mean = mean, .variance = var),
                              dn_batch_normalization(.no_center = true), dn_dropout(0.5),
                              dn_dense(2, .no_bias = true));
  assert_non_null(m);
  dn_layer *z = dn_model_layer(m, 0), *bn = dn_model_layer(m, 1), *d = dn_model_layer(m, 3);
  /* Normalization: mean, variance, count (Keras's order; count a (1) vector here) */
  const char *znames[] = {"mean", "variance", "count"};
  const size_t zsizes[] = {3, 3, 1};
  assert_int_equal(dn_layer_weight_count(z), 3);
  for (size_t k = 0; k < 3; k++) {
    dn_weight_info info;
    assert_ok(dn_layer_weight_info(z, k, &info));
    assert_string_equal(info.name, znames[k]);
    assert_int_equal(info.rank, 1);
    assert_int_equal(info.shape[0], zsizes[k]);
    assert_false(info.trainable);
  }
  float zm[3], zv[3], zc[1];
  assert_ok(dn_layer_get_weights(
      z, (dn_tensor[]){dn_tensor_1d(zm, 3), dn_tensor_1d(zv, 3), dn_tensor_1d(zc, 1)}, 3));
  assert_memory_equal(zm, mean, sizeof zm);
  assert_memory_equal(zv, var, sizeof zv);
  assert_true(zc[0] == 0.0f);
  /* BatchNormalization without center: gamma, moving_mean, moving_variance */
  const char *bnames[] = {"gamma", "moving_mean", "moving_variance"};
  const bool btrain[] = {true, false, false};
  const float binit[] = {1, 0, 1};
  assert_int_equal(dn_layer_weight_count(bn), 3);
  for (size_t k = 0; k < 3; k++) {
    dn_weight_info info;
    float v[3];
    assert_ok(dn_layer_weight_info(bn, k, &info));
    assert_string_equal(info.name, bnames[k]);
    assert_int_equal(info.trainable, btrain[k]);
    assert_ok(dn_layer_get_weight(bn, k, dn_tensor_1d(v, 3)));
    for (size_t j = 0; j < 3; j++)
      assert_true(v[j] == binit[k]);
  }
  assert_int_equal(dn_layer_weight_count(d), 1); /* no bias */
  assert_int_equal(dn_layer_weight_count(dn_model_layer(m, 2)), 0);

  /* Setting BN's moving statistics and gamma, then predicting in inference mode:
   * y = gamma * (z - mm) / sqrt(mv + 1e-3), z = (x - mean) / sqrt(var). With the Dense kernel
   * picking feature 0 and 2. */
  const float gamma[3] = {2, 1, 1}, mm[3] = {0.5f, 0, 0}, mv[3] = {0.999f, 1, 1};
  assert_ok(dn_layer_set_weights(
      bn, (dn_tensor[]){dn_tensor_1d(gamma, 3), dn_tensor_1d(mm, 3), dn_tensor_1d(mv, 3)}, 3));
  const float kernel[6] = {1, 0, 0, 0, 0, 1};
  assert_ok(dn_layer_set_weight(d, 0, dn_tensor_2d(kernel, 3, 2)));
  const float x[3] = {5, 0, 11}; /* z = (2, -2/3, 2) */
  float y[2];
  assert_ok(dn_predict(m, dn_tensor_2d(x, 1, 3), dn_tensor_2d(y, 1, 2)));
  /* y0 = 2 * (2 - 0.5) / sqrt(1.0) = 3; y1 = 1 * 2 / sqrt(1.001) */
  assert_close(y[0], 3.0, 1e-6, 0);
  assert_close(y[1], 2.0 / sqrt(1.001), 1e-6, 0);
  dn_model_free(m);
}

/* set_weights then predict: the hand-computed output of a 2 -> 2 relu -> 1 net. */
static void test_set_weights_then_predict(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(2, .activation = "relu", .input_dim = 2), dn_dense(1));
  assert_non_null(m);
  const float k1[4] = {1, -1, 2, 0.5f}, b1[2] = {0.5f, -1}, k2[2] = {2, -3}, b2[1] = {0.25f};
  assert_ok(dn_layer_set_weights(dn_model_get_layer(m, "dense"),
                                 (dn_tensor[]){dn_tensor_2d(k1, 2, 2), dn_tensor_1d(b1, 2)}, 2));
  dn_layer *out = dn_model_get_layer(m, "dense_1");
  assert_ok(dn_layer_set_weight(out, 0, dn_tensor_2d(k2, 2, 1)));
  assert_ok(dn_layer_set_weight(out, 1, dn_tensor_1d(b2, 1)));
  /* The flat layout holds them in order. */
  const float expect_flat[9] = {1, -1, 2, 0.5f, 0.5f, -1, 2, -3, 0.25f};
  float *flat = dn_test_weights_of(m);
  assert_memory_equal(flat, expect_flat, sizeof expect_flat);
  free(flat);
  /* x = (1, 2): h = relu(1 + 4 + 0.5, -1 + 1 - 1) = (5.5, 0), y = 11 + 0.25 = 11.25.
   * x = (-1, 1): h = relu(-1 + 2 + 0.5, 1 + 0.5 - 1) = (1.5, 0.5), y = 3 - 1.5 + 0.25 = 1.75. */
  const float x[4] = {1, 2, -1, 1};
  float y[2];
  assert_ok(dn_predict(m, dn_tensor_2d(x, 2, 2), dn_tensor_2d(y, 2, 1)));
  assert_true(y[0] == 11.25f);
  assert_true(y[1] == 1.75f);
  dn_model_free(m);
}

static void test_weight_errors_change_nothing(void **state) {
  (void)state;
  dn_model *m = lesson();
  assert_non_null(m);
  float *before = dn_test_weights_of(m);
  dn_layer *l = dn_model_layer(m, 0); /* kernel 2 x 4, bias 4 */
  float buf[16] = {0};
  for (size_t i = 0; i < 16; i++)
    buf[i] = 100.0f + (float)i;
  assert_status_msg(dn_layer_set_weight(l, 0, dn_tensor_2d(buf, 2, 3)), DN_ERR_SHAPE,
                    "dn_layer_set_weight: value has shape [2 x 3] but weight 0 of layer 'dense' "
                    "(its kernel) has [2 x 4]");
  assert_status_msg(dn_layer_set_weight(l, 0, dn_tensor_2d(buf, 4, 2)), DN_ERR_SHAPE, "[4 x 2]");
  assert_status_msg(dn_layer_set_weight(l, 0, dn_tensor_1d(buf, 8)), DN_ERR_SHAPE, "[8]");
  assert_status_msg(dn_layer_set_weight(l, 1, dn_tensor_2d(buf, 1, 4)), DN_ERR_SHAPE,
                    "value has shape [1 x 4] but weight 1 of layer 'dense' (its bias) has [4]");
  assert_status_msg(dn_layer_set_weight(l, 2, dn_tensor_1d(buf, 4)), DN_ERR_ARG,
                    "dn_layer_set_weight: index 2 is out of range: layer 'dense' (Dense) has 2 "
                    "weights");
  assert_status_msg(dn_layer_set_weight(l, 0, (dn_tensor){0}), DN_ERR_ARG,
                    "dn_layer_set_weight: value is no tensor");
  assert_status_msg(dn_layer_set_weight(NULL, 0, dn_tensor_1d(buf, 4)), DN_ERR_ARG,
                    "layer is NULL");
  /* All at once: checked before anything is copied (the first tensor is right). */
  assert_status_msg(
      dn_layer_set_weights(l, (dn_tensor[]){dn_tensor_2d(buf, 2, 4), dn_tensor_1d(buf, 3)}, 2),
      DN_ERR_SHAPE,
      "dn_layer_set_weights: values[1] has shape [3] but weight 1 of layer 'dense' "
      "(its bias) has [4]");
  assert_status_msg(dn_layer_set_weights(l, (dn_tensor[]){dn_tensor_2d(buf, 2, 4)}, 1),
                    DN_ERR_SHAPE,
                    "dn_layer_set_weights: 1 tensor given but layer 'dense' (Dense) has 2 weights "
                    "(kernel, bias)");
  assert_status_msg(dn_layer_set_weights(l, NULL, 2), DN_ERR_ARG, "values is NULL");
  float *after = dn_test_weights_of(m);
  assert_memory_equal(before, after, dn_model_count_params(m) * sizeof *before);
  free(after);
  free(before);

  /* Output tensors: the same checks, and nothing is written on failure. */
  float out[8];
  for (size_t i = 0; i < 8; i++)
    out[i] = -7.0f;
  assert_status_msg(dn_layer_get_weight(l, 0, dn_tensor_2d(out, 4, 2)), DN_ERR_SHAPE,
                    "dn_layer_get_weight: out has shape [4 x 2]");
  assert_status_msg(dn_layer_get_weights(l, (dn_tensor[]){dn_tensor_2d(out, 2, 4)}, 1),
                    DN_ERR_SHAPE, "1 tensor given");
  for (size_t i = 0; i < 8; i++)
    assert_true(out[i] == -7.0f);
  dn_weight_info info;
  assert_status_msg(dn_layer_weight_info(l, 0, NULL), DN_ERR_ARG, "info is NULL");
  assert_status_msg(dn_layer_weight_info(l, 5, &info), DN_ERR_ARG, "index 5 is out of range");

  /* A layer without weights: n = 0 is the whole list. */
  dn_model *d = dn_sequential(dn_dropout(0.5, .input_dim = 3));
  assert_non_null(d);
  assert_ok(dn_layer_get_weights(dn_model_layer(d, 0), NULL, 0));
  assert_status_msg(dn_layer_get_weight(dn_model_layer(d, 0), 0, dn_tensor_1d(out, 1)), DN_ERR_ARG,
                    "layer 'dropout' (Dropout) has 0 weights");
  dn_model_free(d);

  /* An unbuilt layer has no weights yet: a clear DN_ERR_STATE. */
  dn_model *u = dn_sequential(dn_dense(2));
  assert_non_null(u);
  dn_layer *ul = dn_model_layer(u, 0);
  assert_int_equal(dn_layer_weight_count(ul), 0);
  assert_status_msg(dn_layer_get_weight(ul, 0, dn_tensor_2d(out, 1, 2)), DN_ERR_STATE,
                    "dn_layer_get_weight: layer 'dense' (Dense) is not built yet");
  assert_status_msg(dn_layer_set_weights(ul, NULL, 0), DN_ERR_STATE, "not built yet");
  assert_status_msg(dn_layer_weight_info(ul, 0, &info), DN_ERR_STATE, "not built yet");
  /* Built from data, it has them. */
  assert_ok(dn_model_build(u, 3));
  assert_int_equal(dn_layer_weight_count(ul), 2);
  assert_ok(dn_layer_get_weight(ul, 0, dn_tensor_2d(out, 3, 2)));
  dn_model_free(u);
  dn_model_free(m);
}

/* A layer pointer stays valid when layers are added (the weight block moves under it). */
static void test_handle_survives_add(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(2, .input_dim = 2));
  assert_non_null(m);
  dn_layer *l = dn_model_get_layer(m, "dense");
  const float k[4] = {1, 2, 3, 4};
  assert_ok(dn_layer_set_weight(l, 0, dn_tensor_2d(k, 2, 2)));
  for (int i = 0; i < 20; i++)
    assert_ok(dn_model_add(m, dn_dense(2)));
  float got[4];
  assert_ok(dn_layer_get_weight(l, 0, dn_tensor_2d(got, 2, 2)));
  assert_memory_equal(got, k, sizeof k);
  assert_ptr_equal(l, dn_model_layer(m, 0));
  dn_model_free(m);
}

/* ---- pop ------------------------------------------------------------------------------------ */

static void test_pop_then_predict(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(2, .activation = "relu", .input_dim = 2), dn_dense(1),
                              dn_dense(4, .activation = "sigmoid"));
  assert_non_null(m);
  const float k1[4] = {1, -1, 2, 0.5f}, b1[2] = {0.5f, -1}, k2[2] = {2, -3}, b2[1] = {0.25f};
  assert_ok(dn_layer_set_weights(dn_model_layer(m, 0),
                                 (dn_tensor[]){dn_tensor_2d(k1, 2, 2), dn_tensor_1d(b1, 2)}, 2));
  assert_ok(dn_layer_set_weights(dn_model_layer(m, 1),
                                 (dn_tensor[]){dn_tensor_2d(k2, 2, 1), dn_tensor_1d(b2, 1)}, 2));
  const float x[4] = {1, 2, -1, 1};
  float y4[8];
  assert_ok(dn_predict(m, dn_tensor_2d(x, 2, 2), dn_tensor_2d(y4, 2, 4))); /* workspace made */
  assert_int_equal(dn_model_count_params(m), 17);

  assert_ok(dn_model_pop(m));
  assert_int_equal(dn_model_layer_count(m), 2);
  assert_int_equal(dn_model_output_dim(m), 1);
  assert_int_equal(dn_model_input_dim(m), 2);
  assert_int_equal(dn_model_count_params(m), 9);
  assert_int_equal(dn_model_count_trainable_params(m), 9);
  assert_null(dn_model_get_layer(m, "dense_2"));
  float y[2];
  assert_ok(dn_predict(m, dn_tensor_2d(x, 2, 2), dn_tensor_2d(y, 2, 1)));
  assert_true(y[0] == 11.25f); /* as in test_set_weights_then_predict */
  assert_true(y[1] == 1.75f);
  const float expect_flat[9] = {1, -1, 2, 0.5f, 0.5f, -1, 2, -3, 0.25f};
  float flat[9];
  assert_ok(dn_model_get_weights(m, flat, 9));
  assert_memory_equal(flat, expect_flat, sizeof flat);
  /* The old width is refused with the new one named. */
  assert_status_msg(dn_predict(m, dn_tensor_2d(x, 2, 2), dn_tensor_2d(y4, 2, 4)), DN_ERR_SHAPE,
                    "the model's output width is 1");

  /* The freed name is given again; the new head builds on the new output width. */
  assert_ok(dn_model_add(m, dn_dense(3)));
  assert_string_equal(dn_layer_name(dn_model_layer_at(m, -1)), "dense_2");
  assert_int_equal(dn_layer_input_dim(dn_model_layer_at(m, -1)), 1);
  assert_int_equal(dn_model_count_params(m), 9 + 3 + 3);
  dn_model_free(m);
}

static void test_pop_errors(void **state) {
  (void)state;
  assert_status_msg(dn_model_pop(NULL), DN_ERR_ARG, "dn_model_pop: model is NULL");
  dn_model *empty = dn_model_new();
  assert_status_msg(dn_model_pop(empty), DN_ERR_STATE, "dn_model_pop: the model has no layers");
  dn_model_free(empty);
  dn_model *one = dn_sequential(dn_dense(2, .input_dim = 3));
  assert_non_null(one);
  float *before = dn_test_weights_of(one);
  assert_status_msg(dn_model_pop(one), DN_ERR_STATE,
                    "dn_model_pop: layer 'dense' is the model's only layer");
  assert_int_equal(dn_model_layer_count(one), 1);
  float *after = dn_test_weights_of(one);
  assert_memory_equal(before, after, 8 * sizeof *before);
  free(before);
  free(after);
  dn_model_free(one);
  /* An unbuilt model pops too, and builds afterwards. */
  dn_model *u = dn_sequential(dn_dense(4), dn_dropout(0.5), dn_dense(2));
  assert_non_null(u);
  assert_ok(dn_model_pop(u));
  assert_ok(dn_model_pop(u));
  assert_ok(dn_model_build(u, 3));
  assert_int_equal(dn_model_output_dim(u), 4);
  assert_int_equal(dn_model_count_params(u), 16);
  dn_model_free(u);
}

/* A compiled, trained model: pop the head, add a new one, train on: compile settings stay. */
static void test_pop_compiled_model_trains_on(void **state) {
  (void)state;
  enum { ROWS = 64 };
  float x[2 * ROWS], y[ROWS], y3[3 * ROWS];
  make_data(x, y, ROWS);
  for (size_t r = 0; r < ROWS; r++)
    for (size_t c = 0; c < 3; c++)
      y3[3 * r + c] = y[r] * (float)(c + 1);
  dn_model *m = dn_sequential(dn_dense(8, .activation = "relu", .input_dim = 2), dn_dropout(0.1),
                              dn_dense(1));
  assert_non_null(m);
  assert_ok(
      dn_compile(m, .optimizer = "adam", .loss = "mse", .metrics = (const char *[]){"mae", NULL}));
  dn_history *h = dn_fit(m, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(y, ROWS), .epochs = 2,
                         .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 4);
  float *trunk = dn_test_weights_of(m); /* 24 trunk weights + 9 head */

  assert_ok(dn_model_pop(m)); /* the Dense head: the weight count changes */
  assert_ok(dn_model_pop(m)); /* the Dropout */
  assert_ok(dn_model_add(m, dn_dense(3)));
  assert_non_null(dn_model_optimizer(m)); /* still compiled */
  assert_int_equal(dn_model_metrics_count(m), 2);
  h = dn_fit(m, dn_tensor_2d(x, ROWS, 2), dn_tensor_2d(y3, ROWS, 3), .epochs = 1,
             .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  /* The optimizer started over for the new weights: 2 steps of this fit. */
  assert_int_equal(dn_optimizer_iterations(dn_model_optimizer(m)), 2);
  float *now = dn_test_weights_of(m);
  assert_false(memcmp(now, trunk, 24 * sizeof *now) == 0); /* the trunk trained on */
  free(now);
  free(trunk);
  dn_model_free(m);
}

/* ---- clone and copy ------------------------------------------------------------------------- */

static dn_model *trained_lesson(uint64_t seed, const float *x, const float *y, size_t rows) {
  dn_model *m = lesson();
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, seed));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mae"));
  dn_history *h = dn_fit(m, dn_tensor_2d(x, rows, 2), dn_tensor_1d(y, rows), .epochs = 3,
                         .batch_size = 16, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  return m;
}

static void test_clone_has_fresh_seeded_weights(void **state) {
  (void)state;
  enum { ROWS = 64 };
  float x[2 * ROWS], y[ROWS];
  make_data(x, y, ROWS);
  dn_model *m = trained_lesson(42, x, y, ROWS);
  dn_model *c = dn_model_clone(m);
  assert_non_null(c);
  dn_model *fresh = lesson();
  assert_non_null(fresh);
  assert_ok(dn_model_set_seed(fresh, 42));
  dn_test_assert_same_weights(c, fresh); /* the same draws as a new model with that seed */
  assert_false(same_weights(c, m));      /* not the trained ones */
  /* The same architecture: names, kinds, widths, activations. */
  assert_int_equal(dn_model_layer_count(c), 3);
  for (size_t i = 0; i < 3; i++) {
    const dn_layer *a = dn_model_layer(m, i), *b = dn_model_layer(c, i);
    assert_string_equal(dn_layer_name(a), dn_layer_name(b));
    assert_string_equal(dn_layer_type(a), dn_layer_type(b));
    assert_string_equal(dn_layer_activation(a), dn_layer_activation(b));
    assert_int_equal(dn_layer_output_dim(a), dn_layer_output_dim(b));
  }
  /* Not compiled, as Keras's clone_model. */
  assert_null(dn_model_optimizer(c));
  assert_int_equal(dn_model_metrics_count(c), 0);
  float loss;
  assert_status_msg(dn_train_on_batch(c, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(y, ROWS), &loss),
                    DN_ERR_STATE, "not compiled");
  /* Cloning again gives the same weights; the original is untouched by cloning. */
  dn_model *c2 = dn_model_clone(c);
  assert_non_null(c2);
  dn_test_assert_same_weights(c2, fresh);
  dn_model_free(c2);
  dn_model_free(fresh);
  dn_model_free(c);
  dn_model_free(m);

  assert_null(dn_model_clone(NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_null(dn_model_copy(NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
}

/* Clones of unbuilt models, initializers with arguments and Normalization's constructor values. */
static void test_clone_configurations(void **state) {
  (void)state;
  dn_model *u = dn_sequential(dn_dense(3, .kernel_initializer = "random_uniform",
                                       .kernel_init = {.minval = -2, .maxval = 2}),
                              dn_dense(1, .name = "out", .no_bias = true));
  assert_non_null(u);
  assert_ok(dn_model_set_seed(u, 7));
  dn_model *uc = dn_model_clone(u);
  assert_non_null(uc);
  assert_int_equal(dn_model_input_dim(uc), 0); /* unbuilt as the original */
  assert_ok(dn_model_build(u, 5));
  assert_ok(dn_model_build(uc, 5));
  dn_test_assert_same_weights(uc, u);
  assert_string_equal(dn_layer_name(dn_model_layer(uc, 1)), "out");
  assert_int_equal(dn_layer_weight_count(dn_model_layer(uc, 1)), 1);
  dn_model_free(uc);
  dn_model_free(u);

  const float mean[2] = {1, -1}, var[2] = {4, 0.25f};
  dn_layer *adapted = dn_normalization();
  const float xs[6] = {0, 10, 2, 20, 4, 30};
  assert_ok(dn_normalization_adapt(adapted, dn_tensor_2d(xs, 3, 2)));
  dn_model *n =
      dn_sequential(dn_normalization(.input_dim = 2, .mean = mean, .variance = var), adapted);
  assert_non_null(n);
  dn_model *nc = dn_model_clone(n);
  dn_model *ncopy = dn_model_copy(n);
  assert_non_null(nc);
  assert_non_null(ncopy);
  /* clone: the constructor's mean/variance, and an adapted layer back to 0 and 1 */
  const float expect_clone[10] = {1, -1, 4, 0.25f, 0, 0, 0, 1, 1, 0};
  float w[10];
  assert_ok(dn_model_get_weights(nc, w, 10));
  assert_memory_equal(w, expect_clone, sizeof w);
  /* copy: the adapted statistics too (mean 2, 20; population variance 8/3, 200/3) */
  dn_test_assert_same_weights(ncopy, n);
  assert_ok(dn_model_get_weights(ncopy, w, 10));
  assert_true(w[5] == 2.0f && w[6] == 20.0f);
  dn_model_free(ncopy);
  dn_model_free(nc);
  dn_model_free(n);
}

static void test_copy_predicts_identically_and_is_independent(void **state) {
  (void)state;
  enum { ROWS = 96 };
  float x[2 * ROWS], y[ROWS];
  make_data(x, y, ROWS);
  dn_model *m =
      dn_sequential(dn_dense(8, .activation = "relu", .input_dim = 2), dn_batch_normalization(),
                    dn_dropout(0.2), dn_dense(1, .kernel_regularizer = "l2"));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, 5));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  dn_history *h = dn_fit(m, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(y, ROWS), .epochs = 2,
                         .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);

  dn_model *c = dn_model_copy(m);
  assert_non_null(c);
  dn_test_assert_same_weights(c, m); /* moving statistics included */
  assert_null(dn_model_optimizer(c));
  float pm[ROWS], pc[ROWS];
  assert_ok(dn_predict(m, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(pm, ROWS)));
  assert_ok(dn_predict(c, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(pc, ROWS)));
  assert_memory_equal(pm, pc, sizeof pm);
  assert_true(dn_model_regularization_loss(c) == dn_model_regularization_loss(m));

  /* Training the copy leaves the original bit-identical. */
  float *before = dn_test_weights_of(m);
  assert_ok(dn_compile(c, .optimizer = "adam", .loss = "mse"));
  h = dn_fit(c, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(y, ROWS), .epochs = 2,
             .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  float *after = dn_test_weights_of(m);
  assert_memory_equal(before, after, dn_model_count_params(m) * sizeof *before);
  assert_false(same_weights(c, m));

  /* The random streams were copied: a second copy and the original, compiled afresh and fitted
   * alike (shuffles and dropout masks drawn from the copied streams), stay bit-identical. */
  dn_model *c2 = dn_model_copy(m);
  assert_non_null(c2);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  assert_ok(dn_compile(c2, .optimizer = "adam", .loss = "mse"));
  h = dn_fit(m, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(y, ROWS), .epochs = 2,
             .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  h = dn_fit(c2, dn_tensor_2d(x, ROWS, 2), dn_tensor_1d(y, ROWS), .epochs = 2,
             .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  dn_test_assert_same_weights(c2, m);
  dn_test_assert_same_weights(c, m); /* the first copy, trained the same way from the same state */
  free(after);
  free(before);
  dn_model_free(c2);
  dn_model_free(c);
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_layer_by_name_and_index),
      cmocka_unit_test(test_layer_weights_match_the_flat_layout),
      cmocka_unit_test(test_batch_norm_and_normalization_weights),
      cmocka_unit_test(test_set_weights_then_predict),
      cmocka_unit_test(test_weight_errors_change_nothing),
      cmocka_unit_test(test_handle_survives_add),
      cmocka_unit_test(test_pop_then_predict),
      cmocka_unit_test(test_pop_errors),
      cmocka_unit_test(test_pop_compiled_model_trains_on),
      cmocka_unit_test(test_clone_has_fresh_seeded_weights),
      cmocka_unit_test(test_clone_configurations),
      cmocka_unit_test(test_copy_predicts_identically_and_is_independent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
