/* test_freeze.c -- freezing and fine-tuning (Keras's layer.trainable / model.trainable): frozen
 * layers get no update and no optimizer state, a frozen BatchNormalization runs in inference
 * mode in training, the summary's counts, the gradient arrays and the gradient check follow,
 * the compile caveat, and the flag through dn_model_clone and dn_model_save / dn_model_load. */
#define _POSIX_C_SOURCE 200809L

#include "dn_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "model/sequential.h"
#include "training/optimizer.h"
#include "training/train.h"

#define ROWS 64

/* The Keras lesson's network: 2 -> 4 relu -> 3 relu -> 1 (8 + 4, 12 + 3, 3 + 1 weights). */
static dn_model *lesson(void) {
  return dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                       dn_dense(3, .activation = "relu"), dn_dense(1));
}

static void make_data(float *x, float *y, size_t rows) {
  for (size_t r = 0; r < rows; r++) {
    x[2 * r] = (float)((double)((r * 37) % 64) / 32.0 - 1.0);
    x[2 * r + 1] = (float)((double)((r * 11) % 64) / 32.0 - 1.0);
    y[r] = x[2 * r] * x[2 * r + 1] + 0.5f * x[2 * r];
  }
}

static void fit_silent(dn_model *m, const float *x, const float *y, size_t epochs) {
  dn_history *h = dn_fit(m, dn_tensor_2d(x, ROWS, 2), dn_tensor_2d(y, ROWS, 1), .epochs = epochs,
                         .batch_size = 16, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
}

static void assert_contains(const char *text, const char *needle) {
  if (strstr(text, needle) == NULL)
    fail_msg("'%s' not found in:\n%s", needle, text);
}

/* A frozen first layer is bit-identical after fit; the other layers change. The optimizer holds
 * state for the 19 trainable weights only: Adam's Keras variables are iteration, learning_rate
 * and 2 x 19 slots (40), and the slot entries of the frozen weights are never written. */
static void test_frozen_first_layer_is_not_updated(void **state) {
  (void)state;
  float x[2 * ROWS], y[ROWS];
  make_data(x, y, ROWS);
  dn_model *m = lesson();
  assert_non_null(m);
  dn_layer *first = dn_model_layer(m, 0);
  assert_true(dn_layer_trainable(first));
  assert_ok(dn_layer_set_trainable(first, false));
  assert_false(dn_layer_trainable(first));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  float *before = dn_test_weights_of(m);
  fit_silent(m, x, y, 3);
  float *after = dn_test_weights_of(m);
  assert_memory_equal(before, after, 12 * sizeof(float)); /* kernel 2x4 and bias 4 */
  /* The other two layers trained: most of their weights moved (the second layer's unit 1 is a
   * dead ReLU here, so its kernel column 13, 16, 19, 22, its bias 25 and the head's weight 28
   * from it get zero gradients, trainable or not). */
  size_t moved = 0;
  for (size_t i = 12; i < 31; i++)
    moved += before[i] != after[i];
  assert_int_equal(moved, 19 - 6);

  const dn_optimizer *opt = dn_model_optimizer(m);
  assert_int_equal(dn_optimizer_iterations(opt), 12);
  assert_int_equal(dn_optimizer_variable_count(opt, 19), 40);
  for (size_t k = 0; k < opt->n_slots; k++)
    for (size_t i = 0; i < 12; i++)
      assert_true(opt->slots[k * opt->n_params + i] == 0.0f);
  char *text = dn_test_summary_of(m);
  assert_contains(text, "Total params: 71 (284.00 B)"); /* 31 weights + 40 optimizer variables */
  assert_contains(text, "Trainable params: 19 (76.00 B)");
  assert_contains(text, "Non-trainable params: 12 (48.00 B)");
  assert_contains(text, "Optimizer params: 40 (160.00 B)");
  free(text);

  /* The same run with the layer trainable moves it (the freeze is what kept it). */
  dn_model *free_model = lesson();
  assert_ok(dn_compile(free_model, .optimizer = "adam", .loss = "mse"));
  fit_silent(free_model, x, y, 3);
  float *trained = dn_test_weights_of(free_model);
  for (size_t i = 0; i < 12; i++)
    assert_true(trained[i] != before[i]);
  free(trained);
  dn_model_free(free_model);
  free(before);
  free(after);
  dn_model_free(m);
}

/* Every optimizer leaves a frozen layer alone (each rule, with weight decay and clipping). */
static void test_every_optimizer_skips_frozen(void **state) {
  (void)state;
  static const char *const names[] = {"sgd",      "adam",   "adamw", "rmsprop", "adagrad",
                                      "adadelta", "adamax", "nadam", "lion"};
  float x[2 * ROWS], y[ROWS];
  make_data(x, y, ROWS);
  for (size_t n = 0; n < sizeof names / sizeof *names; n++) {
    dn_model *m = lesson();
    assert_ok(dn_layer_set_trainable(dn_model_layer(m, 1), false));
    assert_ok(dn_compile(m,
                         .optimizer_object = dn_optimizer_with((dn_optimizer_options){
                             .name = names[n], .learning_rate = 0.05, .global_clipnorm = 1.0}),
                         .loss = "mse"));
    float *before = dn_test_weights_of(m);
    fit_silent(m, x, y, 2);
    float *after = dn_test_weights_of(m);
    assert_memory_equal(before + 12, after + 12, 15 * sizeof(float)); /* the middle layer */
    assert_true(before[0] != after[0] || before[1] != after[1]);
    assert_true(before[27] != after[27] || before[29] != after[29]);
    free(before);
    free(after);
    dn_model_free(m);
  }
}

/* A frozen BatchNormalization runs in inference mode in training: the training forward pass
 * equals the inference output bit for bit, train_on_batch's loss equals evaluate's, and its four
 * weights (moving statistics included) are unchanged after fit while the Dense layer trains. */
static void test_frozen_batch_norm_uses_moving_statistics(void **state) {
  (void)state;
  float x[2 * ROWS], y[ROWS];
  make_data(x, y, ROWS);
  dn_model *m = dn_sequential(dn_dense(3, .input_dim = 2), dn_batch_normalization(), dn_dense(1));
  assert_non_null(m);
  dn_layer *bn = dn_model_layer(m, 1);
  /* Moving statistics far from a batch's, so batch mode would differ visibly. */
  const float gamma[3] = {1.5f, 0.5f, 2.0f}, beta[3] = {0.1f, -0.2f, 0.3f};
  const float mean[3] = {0.25f, -0.5f, 1.0f}, var[3] = {4.0f, 0.25f, 2.0f};
  assert_ok(dn_layer_set_weights(bn,
                                 (dn_tensor[]){dn_tensor_1d(gamma, 3), dn_tensor_1d(beta, 3),
                                               dn_tensor_1d(mean, 3), dn_tensor_1d(var, 3)},
                                 4));
  assert_ok(dn_layer_set_trainable(bn, false));
  float infer[ROWS], train[ROWS];
  assert_ok(dn_predict(m, dn_tensor_2d(x, ROWS, 2), dn_tensor_2d(infer, ROWS, 1)));
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, ROWS, 2), true, dn_tensor_2d(train, ROWS, 1)));
  assert_memory_equal(infer, train, sizeof infer);
  /* Trainable, the same forward pass uses the batch's statistics: a different output. */
  assert_ok(dn_layer_set_trainable(bn, true));
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, ROWS, 2), true, dn_tensor_2d(train, ROWS, 1)));
  assert_true(memcmp(infer, train, sizeof infer) != 0);
  assert_ok(dn_layer_set_weights(bn,
                                 (dn_tensor[]){dn_tensor_1d(gamma, 3), dn_tensor_1d(beta, 3),
                                               dn_tensor_1d(mean, 3), dn_tensor_1d(var, 3)},
                                 4)); /* that pass moved the statistics: put them back */
  assert_ok(dn_layer_set_trainable(bn, false));

  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mse"));
  float eval_loss, batch_loss;
  assert_ok(dn_evaluate(m, dn_tensor_2d(x, 16, 2), dn_tensor_2d(y, 16, 1), &eval_loss));
  assert_ok(dn_train_on_batch(m, dn_tensor_2d(x, 16, 2), dn_tensor_2d(y, 16, 1), &batch_loss));
  assert_true(eval_loss == batch_loss);
  float *w0 = dn_test_weights_of(m);
  fit_silent(m, x, y, 2);
  float *w1 = dn_test_weights_of(m);
  assert_memory_equal(w0 + 9, w1 + 9, 12 * sizeof(float)); /* gamma, beta, mean, variance */
  assert_true(w0[0] != w1[0] && w0[21] != w1[21]);         /* the Dense layers trained */
  float got[3];
  assert_ok(dn_layer_get_weight(bn, 2, dn_tensor_1d(got, 3)));
  assert_memory_equal(got, mean, sizeof got);
  free(w0);
  free(w1);
  dn_model_free(m);
}

/* The counts: a frozen layer's weights are non-trainable, BN's moving statistics always are;
 * a frozen model has none trainable until it is set trainable again, as in Keras. */
static void test_counts_and_weight_info(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(4, .input_dim = 2), dn_batch_normalization(), dn_dense(1));
  assert_non_null(m);
  assert_int_equal(dn_model_count_params(m), 12 + 16 + 5);
  assert_int_equal(dn_model_count_trainable_params(m), 12 + 8 + 5);
  dn_layer *bn = dn_model_layer(m, 1), *head = dn_model_layer(m, 2);
  assert_ok(dn_layer_set_trainable(bn, false));
  assert_int_equal(dn_model_count_trainable_params(m), 17);
  dn_weight_info info;
  assert_ok(dn_layer_weight_info(bn, 0, &info)); /* gamma: not trainable while frozen */
  assert_false(info.trainable);
  assert_ok(dn_layer_set_trainable(bn, true));
  assert_ok(dn_layer_weight_info(bn, 0, &info));
  assert_true(info.trainable);
  assert_ok(dn_layer_weight_info(bn, 2, &info)); /* moving_mean: never */
  assert_false(info.trainable);

  assert_true(dn_model_trainable(m));
  assert_ok(dn_model_set_trainable(m, false));
  assert_false(dn_model_trainable(m));
  assert_false(dn_layer_trainable(head));
  assert_int_equal(dn_model_count_trainable_params(m), 0);
  assert_ok(dn_layer_set_trainable(head, true)); /* the model stays frozen */
  assert_int_equal(dn_model_count_trainable_params(m), 0);
  char *text = dn_test_summary_of(m);
  assert_contains(text, "Trainable params: 0 (0.00 B)");
  assert_contains(text, "Non-trainable params: 33 (132.00 B)");
  free(text);
  assert_ok(dn_model_set_trainable(m, true));
  assert_int_equal(dn_model_count_trainable_params(m), 25);

  assert_status_msg(dn_layer_set_trainable(NULL, false), DN_ERR_ARG, "dn_layer_set_trainable");
  assert_status_msg(dn_model_set_trainable(NULL, false), DN_ERR_ARG, "dn_model_set_trainable");
  assert_false(dn_layer_trainable(NULL));
  assert_false(dn_model_trainable(NULL));
  dn_model_free(m);
}

/* The gradient arrays: dn_model_get_gradients keeps the weights' layout with 0 at the frozen
 * layer; dn_model_get_trainable_gradients is model.trainable_weights' gradients in order; the
 * gradient check covers the trainable weights only. */
static void test_gradients_cover_trainable_weights(void **state) {
  (void)state;
  float x[2 * 8], y[8], dy[8], out[8];
  make_data(x, y, 8);
  for (size_t i = 0; i < 8; i++)
    dy[i] = 0.25f * (float)i - 1.0f;
  /* tanh: smooth, so the finite differences are accurate everywhere (ReLU has kinks) */
  dn_model *m = dn_sequential(dn_dense(4, .activation = "tanh", .input_dim = 2),
                              dn_dense(3, .activation = "tanh"), dn_dense(1));
  assert_ok(dn_model_forward(m, dn_tensor_2d(x, 8, 2), false, dn_tensor_2d(out, 8, 1)));
  assert_ok(dn_model_backward(m, dn_tensor_2d(dy, 8, 1)));
  float all[31], frozen_view[31], trainable[15];
  assert_ok(dn_model_get_gradients(m, all, 31));
  assert_ok(dn_layer_set_trainable(dn_model_layer(m, 1), false)); /* weights 12 .. 26 */
  assert_int_equal(dn_model_count_trainable_params(m), 16);
  assert_ok(dn_model_get_gradients(m, frozen_view, 31));
  assert_memory_equal(frozen_view, all, 12 * sizeof(float));
  bool had = false; /* the middle layer had gradients, now shown as 0 */
  for (size_t i = 12; i < 27; i++) {
    assert_true(frozen_view[i] == 0.0f);
    had = had || all[i] != 0.0f;
  }
  assert_true(had);
  assert_memory_equal(frozen_view + 27, all + 27, 4 * sizeof(float));

  float t[16];
  assert_ok(dn_model_get_trainable_gradients(m, t, 16));
  assert_memory_equal(t, all, 12 * sizeof(float));          /* first kernel, bias */
  assert_memory_equal(t + 12, all + 27, 4 * sizeof(float)); /* head kernel (3), bias (1) */
  assert_status_msg(dn_model_get_trainable_gradients(m, trainable, 15), DN_ERR_SHAPE,
                    "16 trainable parameters");
  assert_status_msg(dn_model_get_trainable_gradients(NULL, t, 16), DN_ERR_ARG, "model");

  dn_gradient_check_report report;
  assert_ok(dn_model_gradient_check(m, dn_tensor_2d(x, 8, 2), dn_tensor_2d(dy, 8, 1), &report,
                                    .epsilon = 1e-2));
  assert_int_equal(report.checked, 16 + 8 * 2); /* the trainable weights and the inputs */
  assert_true(report.max_rel_error < 1e-2);
  dn_model_free(m);
}

/* Keras's caveat: a change after compile takes effect at the next compile. Until then training
 * goes on as compiled; recompiling freezes. */
static void test_change_takes_effect_at_compile(void **state) {
  (void)state;
  float x[2 * ROWS], y[ROWS];
  make_data(x, y, ROWS);
  dn_model *m = lesson();
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  fit_silent(m, x, y, 1);
  assert_ok(dn_layer_set_trainable(dn_model_layer(m, 0), false));
  assert_int_equal(dn_model_count_trainable_params(m), 19); /* counts follow at once */
  float *w0 = dn_test_weights_of(m);
  fit_silent(m, x, y, 1);
  float *w1 = dn_test_weights_of(m);
  assert_true(w0[0] != w1[0]); /* still trained as compiled */
  char *text = dn_test_summary_of(m);  /* the optimizer is still the one built for 31 */
  assert_contains(text, "Optimizer params: 64 (256.00 B)");
  free(text);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  fit_silent(m, x, y, 1);
  float *w2 = dn_test_weights_of(m);
  assert_memory_equal(w1, w2, 12 * sizeof(float));
  assert_true(w1[30] != w2[30]);
  text = dn_test_summary_of(m);
  assert_contains(text, "Optimizer params: 40 (160.00 B)");
  free(text);
  free(w0);
  free(w1);
  free(w2);
  dn_model_free(m);
}

/* dn_model_clone and dn_model_copy keep the flags (Keras's clone_model keeps `trainable`). */
static void test_clone_keeps_flags(void **state) {
  (void)state;
  dn_model *m = lesson();
  assert_ok(dn_layer_set_trainable(dn_model_layer(m, 2), false));
  dn_model *c = dn_model_clone(m), *d = dn_model_copy(m);
  assert_non_null(c);
  assert_non_null(d);
  assert_true(dn_layer_trainable(dn_model_layer(c, 0)));
  assert_false(dn_layer_trainable(dn_model_layer(c, 2)));
  assert_false(dn_layer_trainable(dn_model_layer(d, 2)));
  assert_int_equal(dn_model_count_trainable_params(c), 27);
  dn_model_free(c);
  dn_model_free(d);
  assert_ok(dn_model_set_trainable(m, false));
  c = dn_model_clone(m);
  assert_false(dn_model_trainable(c));
  assert_int_equal(dn_model_count_trainable_params(c), 0);
  dn_model_free(c);
  dn_model_free(m);
}

/* Save -> load -> resume: the loaded model is frozen where the saved one was, resumes with the
 * same trajectory (same weights as the model that was not saved), and keeps the layer frozen.
 * A file of a model with nothing frozen stays format version 1 (older readers read it); one
 * with a frozen layer is version 2. */
static void test_save_load_resume_keeps_frozen(void **state) {
  (void)state;
  float x[2 * ROWS], y[ROWS];
  make_data(x, y, ROWS);
  char path[] = "/tmp/dn_freeze_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);

  dn_model *plain = lesson();
  assert_ok(dn_model_save(plain, path));
  size_t len;
  char *bytes = dn_test_read_file(path, &len);
  assert_int_equal(bytes[8], 1);
  free(bytes);
  dn_model_free(plain);

  dn_model *m = lesson();
  assert_ok(dn_layer_set_trainable(dn_model_layer(m, 0), false));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  fit_silent(m, x, y, 1);
  assert_ok(dn_model_save(m, path));
  bytes = dn_test_read_file(path, &len);
  assert_int_equal(bytes[8], 2);
  free(bytes);
  dn_model *r = dn_model_load(path);
  assert_non_null(r);
  assert_false(dn_layer_trainable(dn_model_layer(r, 0)));
  assert_true(dn_layer_trainable(dn_model_layer(r, 1)));
  assert_true(dn_model_trainable(r));
  assert_int_equal(dn_model_count_trainable_params(r), 19);
  float *frozen = dn_test_weights_of(r);
  fit_silent(m, x, y, 2);
  fit_silent(r, x, y, 2);
  dn_test_assert_same_weights(m, r);
  float *after = dn_test_weights_of(r);
  assert_memory_equal(frozen, after, 12 * sizeof(float));
  free(frozen);
  free(after);
  dn_model_free(r);

  /* A frozen model round-trips too. */
  assert_ok(dn_model_set_trainable(m, false));
  assert_ok(dn_layer_set_trainable(dn_model_layer(m, 2), true));
  assert_ok(dn_model_save(m, path));
  r = dn_model_load(path);
  assert_non_null(r);
  assert_false(dn_model_trainable(r));
  assert_true(dn_layer_trainable(dn_model_layer(r, 2)));
  assert_false(dn_layer_trainable(dn_model_layer(r, 1)));
  assert_int_equal(dn_model_count_trainable_params(r), 0);
  dn_model_free(r);
  dn_model_free(m);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frozen_first_layer_is_not_updated),
      cmocka_unit_test(test_every_optimizer_skips_frozen),
      cmocka_unit_test(test_frozen_batch_norm_uses_moving_statistics),
      cmocka_unit_test(test_counts_and_weight_info),
      cmocka_unit_test(test_gradients_cover_trainable_weights),
      cmocka_unit_test(test_change_takes_effect_at_compile),
      cmocka_unit_test(test_clone_keeps_flags),
      cmocka_unit_test(test_save_load_resume_keeps_frozen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
