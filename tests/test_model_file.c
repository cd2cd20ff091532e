/* test_model_file.c -- the native model file: bit-for-bit round trips (weights, predictions,
 * configs, summary, compile settings, optimizer and RNG state), resume after a checkpoint,
 * weights-only files, every corruption class (truncation, flipped bits/bytes with and without
 * a repaired checksum, bad version, sizes, counts, keys), crash-safe saving with a simulated
 * failure at each stage, I/O errors and NULL arguments. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dn_test.h"

#include "layers/layer.h"
#include "io/model_file.h"
#include "training/optimizer.h"
#include "model/sequential.h"
#include "training/train.h"

static char g_dir[64];

static const char *path_in(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", g_dir, name);
  return buf;
}

static void write_bytes(const char *path, const uint8_t *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the length field and the trailing CRC so the structure parser sees the edit. */
static void repair(uint8_t *buf, size_t len) {
  put_le64(buf + 16, len);
  put_le32(buf + len - 4, dn_crc32(0, buf, len - 4));
}

static size_t find(const uint8_t *buf, size_t len, const char *needle, size_t from) {
  size_t n = strlen(needle);
  for (size_t i = from; i + n <= len; i++)
    if (memcmp(buf + i, needle, n) == 0)
      return i;
  fail_msg("'%s' not found in the file", needle);
  return 0;
}

/* The offset just after the key string `key` (u16 length + bytes) of a record entry. */
static size_t value_of(const uint8_t *buf, size_t len, const char *key) {
  char probe[80];
  size_t n = strlen(key);
  probe[0] = (char)n;
  probe[1] = 0;
  memcpy(probe + 2, key, n);
  for (size_t i = 0; i + n + 2 <= len; i++)
    if (memcmp(buf + i, probe, n + 2) == 0)
      return i + n + 2;
  fail_msg("key '%s' not found", key);
  return 0;
}

static void assert_str_eq_or_null(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    assert_true(a == b || (a ? a[0] == 0 : b[0] == 0));
  else
    assert_string_equal(a, b);
}

static void assert_same_configs(const dn_model *a, const dn_model *b) {
  assert_int_equal(dn_model_layer_count(a), dn_model_layer_count(b));
  assert_int_equal(dn_model_input_dim(a), dn_model_input_dim(b));
  for (size_t i = 0; i < dn_model_layer_count(a); i++) {
    dn_layer_config x, y;
    dn_layer_get_config(dn_model_layer(a, i), &x);
    dn_layer_get_config(dn_model_layer(b, i), &y);
    assert_string_equal(x.type, y.type);
    assert_string_equal(x.name, y.name);
    assert_int_equal(x.input_dim, y.input_dim);
    assert_int_equal(x.units, y.units);
    assert_str_eq_or_null(x.activation, y.activation);
    assert_int_equal(x.use_bias, y.use_bias);
    assert_str_eq_or_null(x.kernel_initializer, y.kernel_initializer);
    assert_str_eq_or_null(x.bias_initializer, y.bias_initializer);
    assert_memory_equal(&x.kernel_init, &y.kernel_init, sizeof x.kernel_init);
    assert_memory_equal(&x.bias_init, &y.bias_init, sizeof x.bias_init);
    assert_true(x.kernel_l1 == y.kernel_l1 && x.kernel_l2 == y.kernel_l2);
    assert_true(x.bias_l1 == y.bias_l1 && x.bias_l2 == y.bias_l2);
    assert_true(x.rate == y.rate && x.momentum == y.momentum && x.epsilon == y.epsilon);
    assert_true(x.center == y.center && x.scale == y.scale && x.invert == y.invert);
  }
  char *sa = dn_test_summary_of(a), *sb = dn_test_summary_of(b);
  assert_string_equal(sa, sb);
  free(sa);
  free(sb);
}

static void assert_same_rng(const dn_model *a, const dn_model *b) {
  assert_true(a->seed == b->seed);
  assert_memory_equal(&a->rng_init, &b->rng_init, sizeof a->rng_init);
  assert_memory_equal(&a->rng_shuffle, &b->rng_shuffle, sizeof a->rng_shuffle);
  assert_memory_equal(&a->rng_dropout, &b->rng_dropout, sizeof a->rng_dropout);
}

/* Bitwise equality of the resolved optimizer options (schedule arrays by value). */
static void assert_same_optimizer(const dn_optimizer *a, const dn_optimizer *b, bool state) {
  assert_int_equal(a->kind, b->kind);
  assert_string_equal(a->name, b->name);
  dn_optimizer_options x = a->options, y = b->options;
  assert_int_equal(x.schedule.n_boundaries, y.schedule.n_boundaries);
  size_t nb = x.schedule.n_boundaries;
  if (nb > 0) {
    assert_memory_equal(x.schedule.boundaries, y.schedule.boundaries, nb * sizeof(double));
    assert_memory_equal(x.schedule.values, y.schedule.values, (nb + 1) * sizeof(double));
  }
  x.schedule.boundaries = y.schedule.boundaries = NULL;
  x.schedule.values = y.schedule.values = NULL;
  x.name = y.name = NULL;
  assert_memory_equal(&x.learning_rate, &y.learning_rate, sizeof(double));
  const dn_schedule *u = &x.schedule, *v = &y.schedule; /* field by field: padding differs */
  assert_int_equal(u->kind, v->kind);
  assert_int_equal(u->staircase, v->staircase);
  double us[] = {u->initial_learning_rate, u->decay_steps, u->decay_rate, u->alpha,
                 u->warmup_target,         u->warmup_steps};
  double vs[] = {v->initial_learning_rate, v->decay_steps, v->decay_rate, v->alpha,
                 v->warmup_target,         v->warmup_steps};
  assert_memory_equal(us, vs, sizeof us);
  double xs[] = {
      x.beta_1,       x.beta_2,   x.epsilon,   x.momentum,       x.rho, x.initial_accumulator_value,
      x.weight_decay, x.clipnorm, x.clipvalue, x.global_clipnorm};
  double ys[] = {
      y.beta_1,       y.beta_2,   y.epsilon,   y.momentum,       y.rho, y.initial_accumulator_value,
      y.weight_decay, y.clipnorm, y.clipvalue, y.global_clipnorm};
  assert_memory_equal(xs, ys, sizeof xs);
  assert_true(x.amsgrad == y.amsgrad && x.nesterov == y.nesterov && x.centered == y.centered);
  assert_int_equal(a->n_slots, b->n_slots);
  if (state) {
    assert_true(a->iterations == b->iterations);
    assert_memory_equal(&a->learning_rate, &b->learning_rate, sizeof(double));
    assert_memory_equal(&a->nadam_u_product, &b->nadam_u_product, sizeof(double));
    assert_int_equal(a->n_params, b->n_params);
    if (a->n_params > 0)
      assert_memory_equal(a->slots, b->slots, a->n_slots * a->n_params * sizeof(float));
  }
}

/* Data: 40 rows of 3 features, 2 targets; X and Y view `rows` rows of them from `p`. */
#define ROWS 40
static float g_x[ROWS * 3], g_y[ROWS * 2];
#define X(p, rows) dn_tensor_2d((p), (rows), 3)
#define Y(p, rows) dn_tensor_2d((p), (rows), 2)

static void make_data(void) {
  for (size_t i = 0; i < ROWS; i++) {
    float a = (float)i / ROWS, b = (float)((i * 7) % 11) / 11.0f, c = (float)((i * 3) % 5) - 2.0f;
    g_x[3 * i] = a * 4.0f + 10.0f;
    g_x[3 * i + 1] = b;
    g_x[3 * i + 2] = c;
    g_y[2 * i] = a - 0.5f * b + 0.1f * c;
    g_y[2 * i + 1] = a * b;
  }
}

/* Every layer kind, non-default options, adapted Normalization, trained a few steps. */
static dn_model *rich_model(const char *optimizer_name) {
  dn_layer *norm = dn_normalization(.input_dim = 3);
  assert_non_null(norm);
  assert_ok(dn_normalization_adapt(norm, dn_tensor_2d(g_x, ROWS, 3)));
  dn_model *m = dn_sequential(
      norm,
      dn_dense(5, .activation = "relu", .kernel_initializer = "random_uniform",
               .kernel_init = {.minval = -0.3, .maxval = 0.4}, .kernel_regularizer = "l2",
               .bias_l1 = 0.001, .name = "hidden"),
      dn_batch_normalization(.momentum = 0.9, .epsilon = 1e-2), dn_dropout(0.25),
      dn_activation("tanh"), dn_dense(2, .no_bias = true, .bias_initializer = "ones"));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, 42));
  dn_optimizer *opt = dn_optimizer_with((dn_optimizer_options){.name = optimizer_name,
                                                               .learning_rate = 0.01,
                                                               .beta_2 = 0.99,
                                                               .amsgrad = true,
                                                               .clipnorm = 1.5});
  assert_non_null(opt);
  assert_ok(dn_compile(m, .optimizer_object = opt, .loss = "huber", .huber_delta = 0.5,
                       .metrics = (const char *[]){"mae", "mean_squared_error", NULL}));
  for (int s = 0; s < 3; s++)
    assert_ok(dn_train_on_batch(m, X(g_x + 3 * (8 * s), 8), Y(g_y + 2 * (8 * s), 8), NULL));
  return m;
}

static dn_model *save_load(const dn_model *m, const char *name) {
  char p[128];
  path_in(p, sizeof p, name);
  assert_ok(dn_model_save(m, p));
  dn_model *back = dn_model_load(p);
  if (back == NULL)
    fail_msg("dn_model_load: %s", dn_last_error());
  return back;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_crc32_known_values(void **state) {
  (void)state;
  assert_int_equal(dn_crc32(0, "123456789", 9), 0xCBF43926u);
  assert_int_equal(dn_crc32(0, "", 0), 0u);
  assert_int_equal(dn_crc32(0, "a", 1), 0xE8B7BE43u);
  /* Incremental = whole. */
  uint32_t part = dn_crc32(dn_crc32(0, "12345", 5), "6789", 4);
  assert_int_equal(part, 0xCBF43926u);
}

static void test_round_trip_everything(void **state) {
  (void)state;
  dn_model *m = rich_model("adam");
  dn_model *back = save_load(m, "rich.dnn");
  dn_test_assert_same_weights(m, back);
  assert_same_configs(m, back);
  assert_same_rng(m, back);
  /* Compile settings. */
  assert_non_null(back->train);
  assert_string_equal(back->train->loss->name, "huber");
  assert_true(back->train->loss_params.huber_delta == 0.5);
  assert_int_equal(dn_model_metrics_count(back), 3);
  assert_string_equal(dn_model_metric_name(back, 1), dn_model_metric_name(m, 1));
  assert_string_equal(dn_model_metric_name(back, 2), dn_model_metric_name(m, 2));
  assert_same_optimizer(m->train->optimizer, back->train->optimizer, true);
  assert_true(back->train->optimizer->iterations == 3);
  /* Predictions, bit for bit. */
  float pa[ROWS * 2], pb[ROWS * 2];
  assert_ok(dn_predict(m, X(g_x, ROWS), Y(pa, ROWS)));
  assert_ok(dn_predict(back, X(g_x, ROWS), Y(pb, ROWS)));
  assert_memory_equal(pa, pb, sizeof pa);
  /* Training goes on identically (dropout masks, BN statistics, Adam slots). */
  for (int s = 0; s < 2; s++) {
    assert_ok(dn_train_on_batch(m, X(g_x + 8, 16), Y(g_y + 16, 16), NULL));
    assert_ok(dn_train_on_batch(back, X(g_x + 8, 16), Y(g_y + 16, 16), NULL));
  }
  dn_test_assert_same_weights(m, back);
  /* Evaluate gives the same loss and metrics. */
  double va[3], vb[3];
  assert_ok(dn_evaluate_metrics(m, X(g_x, ROWS), Y(g_y, ROWS), .values = va, .values_capacity = 3));
  assert_ok(
      dn_evaluate_metrics(back, X(g_x, ROWS), Y(g_y, ROWS), .values = vb, .values_capacity = 3));
  assert_memory_equal(va, vb, sizeof va);
  dn_model_free(m);
  dn_model_free(back);
}

static void test_round_trip_every_optimizer(void **state) {
  (void)state;
  const char *names[] = {"sgd",      "adam",   "adamw", "rmsprop", "adagrad",
                         "adadelta", "adamax", "nadam", "lion"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    dn_model *m = rich_model(names[i]);
    dn_model *back = save_load(m, "opt.dnn");
    assert_same_optimizer(m->train->optimizer, back->train->optimizer, true);
    assert_ok(dn_train_on_batch(m, X(g_x, 16), Y(g_y, 16), NULL));
    assert_ok(dn_train_on_batch(back, X(g_x, 16), Y(g_y, 16), NULL));
    dn_test_assert_same_weights(m, back);
    dn_model_free(m);
    dn_model_free(back);
  }
}

static void test_round_trip_schedules_and_explicit_zeros(void **state) {
  (void)state;
  const double bounds[] = {2, 5}, values[] = {0.01, 0.001, 0.0001};
  dn_optimizer_options cases[] = {
      {.name = "rmsprop",
       .rho = DN_ZERO,
       .momentum = 0.5,
       .schedule =
           dn_piecewise_constant_decay(.boundaries = bounds, .values = values, .n_boundaries = 2)},
      {.name = "sgd",
       .learning_rate = DN_ZERO,
       .momentum = 0.9,
       .nesterov = true,
       .global_clipnorm = 2.0},
      {.name = "adam",
       .beta_1 = DN_ZERO,
       .schedule = dn_cosine_decay(.initial_learning_rate = 0.1, .decay_steps = 10, .alpha = 0.1,
                                   .warmup_target = DN_ZERO, .warmup_steps = 3)},
      {.name = "adagrad",
       .initial_accumulator_value = DN_ZERO,
       .clipvalue = 0.5,
       .schedule = dn_exponential_decay(.initial_learning_rate = 0.2, .decay_steps = 3,
                                        .decay_rate = 0.5, .staircase = true)},
      {.name = "adamw",
       .weight_decay = DN_ZERO,
       .schedule = dn_inverse_time_decay(.initial_learning_rate = 0.2, .decay_steps = 3,
                                         .decay_rate = 0.5)},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dn_model *m = dn_sequential(dn_dense(2, .input_dim = 3));
    assert_non_null(m);
    dn_optimizer *opt = dn_optimizer_with(cases[i]);
    assert_non_null(opt);
    assert_ok(dn_compile(m, .optimizer_object = opt, .loss = "mse"));
    for (int s = 0; s < 4; s++)
      assert_ok(dn_train_on_batch(m, X(g_x, 8), Y(g_y, 8), NULL));
    dn_model *back = save_load(m, "sched.dnn");
    assert_same_optimizer(m->train->optimizer, back->train->optimizer, true);
    assert_true(dn_optimizer_learning_rate(dn_model_optimizer(m)) ==
                dn_optimizer_learning_rate(dn_model_optimizer(back)));
    for (int s = 0; s < 3; s++) {
      if (dn_train_on_batch(m, X(g_x + 3, 8), Y(g_y + 2, 8), NULL) != DN_OK)
        fail_msg("case %zu step %d: %s", i, s, dn_last_error());
      assert_ok(dn_train_on_batch(back, X(g_x + 3, 8), Y(g_y + 2, 8), NULL));
    }
    dn_test_assert_same_weights(m, back);
    dn_model_free(m);
    dn_model_free(back);
  }
}

static void test_changed_learning_rate_and_losses(void **state) {
  (void)state;
  /* A learning rate set after compile (ReduceLROnPlateau does this) is state, kept. */
  dn_model *m = dn_sequential(dn_dense(2, .activation = "softmax", .input_dim = 3));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "categorical_crossentropy",
                       .label_smoothing = 0.1, .from_logits = false,
                       .metrics = (const char *[]){"accuracy", NULL}));
  assert_ok(dn_train_on_batch(m, X(g_x, 8), Y(g_y, 8), NULL));
  assert_ok(dn_optimizer_set_learning_rate(dn_model_optimizer(m), 0.123));
  dn_model *back = save_load(m, "lr.dnn");
  assert_true(dn_optimizer_learning_rate(dn_model_optimizer(back)) == 0.123);
  assert_string_equal(back->train->loss->name, "categorical_crossentropy");
  assert_true(back->train->loss_params.label_smoothing == 0.1);
  assert_string_equal(dn_model_metric_name(back, 1), "accuracy");
  dn_model_free(m);
  dn_model_free(back);

  m = dn_sequential(dn_dense(3, .input_dim = 3));
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "sparse_categorical_crossentropy",
                       .from_logits = true));
  back = save_load(m, "logits.dnn");
  assert_true(back->train->loss_params.from_logits);
  assert_true(back->train->loss->sparse);
  dn_model_free(m);
  dn_model_free(back);
}

static void test_without_optimizer_state(void **state) {
  (void)state;
  char p[128];
  dn_model *m = rich_model("adam");
  assert_ok(dn_model_save_ex(m, path_in(p, sizeof p, "noopt.dnn"), false));
  dn_model *back = dn_model_load(p);
  assert_non_null(back);
  dn_test_assert_same_weights(m, back);
  assert_non_null(dn_model_optimizer(back)); /* compiled, fresh state */
  assert_same_optimizer(m->train->optimizer, back->train->optimizer, false);
  assert_true(dn_optimizer_iterations(dn_model_optimizer(back)) == 0);
  dn_model_free(m);
  dn_model_free(back);
}

static void test_uncompiled_and_unbuilt(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(4, .activation = "sigmoid", .input_dim = 2), dn_dense(1));
  dn_model *back = save_load(m, "plain.dnn");
  assert_null(dn_model_optimizer(back));
  dn_test_assert_same_weights(m, back);
  assert_same_configs(m, back);
  dn_model_free(m);
  dn_model_free(back);

  /* No input shape yet: the configs survive, the model can still be built. */
  m = dn_sequential(dn_dense(4, .name = "first"), dn_dropout(0.5), dn_dense(1));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mae"));
  back = save_load(m, "unbuilt.dnn");
  assert_non_null(dn_model_optimizer(back));
  assert_int_equal(dn_model_layer_count(back), 3);
  assert_int_equal(dn_model_count_params(back), 0);
  assert_string_equal(dn_layer_name(dn_model_layer(back, 0)), "first");
  assert_ok(dn_model_build(back, 3));
  assert_int_equal(dn_model_count_params(back), 3 * 4 + 4 + 4 + 1);
  assert_ok(dn_train_on_batch(back, X(g_x, 4), dn_tensor_2d(g_y, 4, 1), NULL)); /* 1 target */
  dn_model_free(m);
  dn_model_free(back);

  /* An empty model. */
  m = dn_model_new();
  back = save_load(m, "empty.dnn");
  assert_int_equal(dn_model_layer_count(back), 0);
  dn_model_free(m);
  dn_model_free(back);
}

static void test_resume_from_checkpoint(void **state) {
  (void)state;
  char pattern[128], ckpt[128];
  path_in(pattern, sizeof pattern, "ckpt-{epoch:02d}.dnn");
  path_in(ckpt, sizeof ckpt, "ckpt-02.dnn");
  /* Uninterrupted: 4 epochs. */
  dn_model *a = rich_model("nadam");
  dn_history *h = dn_fit(a, X(g_x, ROWS), Y(g_y, ROWS), .epochs = 4, .batch_size = 8,
                         .validation_split = 0.2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  /* Interrupted: 2 epochs with a checkpoint each epoch, then a new process loads epoch 2. */
  dn_model *b = rich_model("nadam");
  dn_callback *cb = dn_model_checkpoint(pattern, .monitor = "val_loss");
  assert_non_null(cb);
  h = dn_fit(b, X(g_x, ROWS), Y(g_y, ROWS), .epochs = 2, .batch_size = 8, .validation_split = 0.2,
             .verbose = DN_VERBOSE_SILENT, .callbacks = (dn_callback *[]){cb, NULL});
  if (h == NULL)
    fail_msg("fit with ModelCheckpoint: %s", dn_last_error());
  dn_history_free(h);
  dn_model_free(b);
  dn_model *c = dn_model_load(ckpt);
  if (c == NULL)
    fail_msg("loading the checkpoint: %s", dn_last_error());
  h = dn_fit(c, X(g_x, ROWS), Y(g_y, ROWS), .epochs = 4, .initial_epoch = 2, .batch_size = 8,
             .validation_split = 0.2, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  dn_test_assert_same_weights(a, c);
  assert_same_optimizer(a->train->optimizer, c->train->optimizer, true);
  assert_same_rng(a, c);
  dn_model_free(a);
  dn_model_free(c);
}

static void test_checkpoint_weights_only(void **state) {
  (void)state;
  char p[128];
  dn_model *m = rich_model("adam");
  dn_callback *cb = dn_model_checkpoint(path_in(p, sizeof p, "w.ckpt"), .save_weights_only = true);
  dn_history *h = dn_fit(m, X(g_x, ROWS), Y(g_y, ROWS), .epochs = 1, .verbose = DN_VERBOSE_SILENT,
                         .callbacks = (dn_callback *[]){cb, NULL});
  if (h == NULL)
    fail_msg("fit: %s", dn_last_error());
  dn_history_free(h);
  dn_model *fresh = rich_model("adam");
  assert_ok(dn_model_load_weights(fresh, p));
  dn_test_assert_same_weights(m, fresh);
  dn_model_free(m);
  dn_model_free(fresh);
}

static void test_weights_only_files(void **state) {
  (void)state;
  char p[128], full[128];
  dn_model *m = rich_model("sgd");
  assert_ok(dn_model_save_weights(m, path_in(p, sizeof p, "m.weights")));
  assert_ok(dn_model_save(m, path_in(full, sizeof full, "m.dnn")));

  /* Into a model of the same structure with other weights and other layer names. */
  dn_layer *norm = dn_normalization(.input_dim = 3, .name = "n");
  dn_model *other =
      dn_sequential(norm, dn_dense(5, .activation = "relu"), dn_batch_normalization(),
                    dn_dropout(0.1), dn_activation("relu"), dn_dense(2, .no_bias = true));
  assert_non_null(other);
  assert_ok(dn_model_set_seed(other, 7));
  assert_ok(dn_model_load_weights(other, p));
  dn_test_assert_same_weights(m, other);
  /* A model file's weights load too. */
  assert_ok(dn_model_set_seed(other, 8));
  assert_ok(dn_model_load_weights(other, full));
  dn_test_assert_same_weights(m, other);
  /* dn_model_load refuses a weights-only file. */
  assert_null(dn_model_load(p));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  assert_non_null(strstr(dn_last_error(), "dn_model_load_weights"));

  /* Mismatches leave the model unchanged. */
  dn_model *wrong_units =
      dn_sequential(dn_normalization(.input_dim = 3), dn_dense(6), dn_batch_normalization(),
                    dn_dropout(0.1), dn_activation("relu"), dn_dense(2, .no_bias = true));
  float *before = dn_test_weights_of(wrong_units);
  assert_status_msg(dn_model_load_weights(wrong_units, p), DN_ERR_FORMAT, "shape 3 x 5");
  float *after = dn_test_weights_of(wrong_units);
  assert_memory_equal(before, after, dn_model_count_params(wrong_units) * sizeof(float));
  free(before);
  free(after);
  dn_model *wrong_kind =
      dn_sequential(dn_normalization(.input_dim = 3), dn_dense(5), dn_dropout(0.1), dn_dropout(0.1),
                    dn_activation("relu"), dn_dense(2, .no_bias = true));
  assert_status_msg(dn_model_load_weights(wrong_kind, p), DN_ERR_FORMAT,
                    "'BatchNormalization' layer, the model a 'Dropout'");
  dn_model *wrong_count = dn_sequential(dn_dense(2, .input_dim = 3));
  assert_status_msg(dn_model_load_weights(wrong_count, p), DN_ERR_FORMAT, "6 layers");
  dn_model *no_bias_mismatch =
      dn_sequential(dn_normalization(.input_dim = 3), dn_dense(5), dn_batch_normalization(),
                    dn_dropout(0.1), dn_activation("relu"), dn_dense(2));
  assert_status_msg(dn_model_load_weights(no_bias_mismatch, p), DN_ERR_FORMAT, "1 variables");
  dn_model *unbuilt =
      dn_sequential(dn_normalization(), dn_dense(5), dn_batch_normalization(), dn_dropout(0.1),
                    dn_activation("relu"), dn_dense(2, .no_bias = true));
  assert_status_msg(dn_model_load_weights(unbuilt, p), DN_ERR_FORMAT, "is the model built?");
  /* A truncated weights file. */
  size_t len;
  uint8_t *bytes = (uint8_t *)dn_test_read_file(p, &len);
  for (size_t cut = 0; cut < len; cut += 7) {
    assert_int_equal(dn_mf_decode_weights(other, bytes, cut, "cut"), DN_ERR_FORMAT);
    assert_non_null(strstr(dn_last_error(), "byte offset"));
  }
  dn_test_assert_same_weights(m, other);
  free(bytes);
  dn_model_free(m);
  dn_model_free(other);
  dn_model_free(wrong_units);
  dn_model_free(wrong_kind);
  dn_model_free(wrong_count);
  dn_model_free(no_bias_mismatch);
  dn_model_free(unbuilt);
}

/* A small compiled model's file, for the exhaustive corruption tests. */
static uint8_t *small_file(size_t *len, bool compiled) {
  char p[128];
  dn_model *m =
      dn_sequential(dn_dense(2, .input_dim = 2), dn_batch_normalization(), dn_dropout(0.5));
  assert_non_null(m);
  if (compiled) {
    assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse",
                         .metrics = (const char *[]){"mae", NULL}));
    assert_ok(dn_train_on_batch(m, dn_tensor_2d(g_x, 4, 2), Y(g_y, 4), NULL)); /* 2 inputs */
  }
  assert_ok(dn_model_save(m, path_in(p, sizeof p, "small.dnn")));
  dn_model_free(m);
  return (uint8_t *)dn_test_read_file(p, len);
}

static void expect_format_error(const uint8_t *buf, size_t len, const char *what, size_t at) {
  dn_model *m = dn_mf_decode_model(buf, len, "corrupt");
  if (m != NULL)
    fail_msg("%s at %zu: the corrupt file loaded", what, at);
  if (dn_last_status() != DN_ERR_FORMAT || strstr(dn_last_error(), "byte offset") == NULL)
    fail_msg("%s at %zu: %s / %s", what, at, dn_status_string(dn_last_status()), dn_last_error());
}

static void test_truncated_at_every_offset(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = small_file(&len, true);
  dn_model *ok = dn_mf_decode_model(buf, len, "whole");
  assert_non_null(ok);
  dn_model_free(ok);
  for (size_t cut = 0; cut < len; cut++)
    expect_format_error(buf, cut, "truncated", cut);
  /* Through the file path too, at a few lengths. */
  char p[128];
  path_in(p, sizeof p, "cut.dnn");
  size_t cuts[] = {0, 5, 23, 24, 40, len / 2, len - 5, len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    write_bytes(p, buf, cuts[i]);
    assert_null(dn_model_load(p));
    assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
    assert_non_null(strstr(dn_last_error(), p));
  }
  /* Trailing bytes. */
  uint8_t *longer = malloc(len + 3);
  memcpy(longer, buf, len);
  memset(longer + len, 0, 3);
  expect_format_error(longer, len + 3, "trailing", len);
  assert_non_null(strstr(dn_last_error(), "added after its end"));
  free(longer);
  free(buf);
}

static void test_every_flipped_byte_and_bit(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = small_file(&len, true);
  for (size_t i = 0; i < len; i++) {
    buf[i] ^= 0xFF;
    expect_format_error(buf, len, "flipped byte", i);
    buf[i] ^= 0xFF;
  }
  free(buf);
  /* Every single bit of an uncompiled model's file. */
  buf = small_file(&len, false);
  for (size_t i = 0; i < len; i++)
    for (int bit = 0; bit < 8; bit++) {
      buf[i] ^= (uint8_t)(1u << bit);
      expect_format_error(buf, len, "flipped bit", i * 8 + (size_t)bit);
      buf[i] ^= (uint8_t)(1u << bit);
    }
  free(buf);
}

/* With the checksum repaired, each edit reaches the parser: it must load or fail cleanly,
 * and a model that loads must be usable. */
static void test_structural_corruption_with_repaired_checksum(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = small_file(&len, true);
  uint8_t *copy = malloc(len);
  size_t loaded = 0, failed = 0;
  const uint8_t deltas[] = {0xFF, 0x01, 0x80};
  for (size_t d = 0; d < sizeof deltas; d++)
    for (size_t i = 0; i < len - 4; i++) {
      memcpy(copy, buf, len);
      copy[i] ^= deltas[d];
      repair(copy, len);
      if (i >= 16 && i < 24)
        continue; /* the length field is rewritten by repair */
      dn_model *m = dn_mf_decode_model(copy, len, "edited");
      if (m == NULL) {
        failed++;
        if (dn_last_status() != DN_ERR_FORMAT || strstr(dn_last_error(), "byte offset") == NULL)
          fail_msg("edit at %zu: %s / %s", i, dn_status_string(dn_last_status()), dn_last_error());
      } else {
        loaded++;
        float y[4];
        dn_status st = dn_predict(m, dn_tensor_2d(g_x, dn_model_input_dim(m) == 2 ? 2 : 0, 2),
                                  dn_tensor_2d(y, 2, 2));
        (void)st; /* any status; it must not crash */
        dn_model_free(m);
      }
    }
  /* Float bits load (they are data); structure edits fail. */
  assert_true(loaded > 0);
  assert_true(failed > loaded);
  free(copy);
  free(buf);
}

static void test_specific_corruptions(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = small_file(&len, true);
  uint8_t *c = malloc(len + 64);

  /* Bad version. */
  memcpy(c, buf, len);
  c[8] = 3;
  repair(c, len);
  expect_format_error(c, len, "version", 8);
  assert_non_null(strstr(dn_last_error(), "format version 3 is not supported"));
  assert_non_null(strstr(dn_last_error(), "byte offset 8"));

  /* Wrong magic; Keras files are recognised in the message. */
  memcpy(c, "PK\x03\x04", 4);
  expect_format_error(c, len, "zip", 0);
  assert_non_null(strstr(dn_last_error(), "zip archive"));
  memcpy(c, "\x89HDF\r\n\x1a\n", 8);
  expect_format_error(c, len, "hdf5", 0);
  assert_non_null(strstr(dn_last_error(), "HDF5"));

  /* Checksum. */
  memcpy(c, buf, len);
  c[len - 1] ^= 1;
  expect_format_error(c, len, "crc", len - 4);
  assert_non_null(strstr(dn_last_error(), "checksum mismatch"));

  /* Unknown kind, bad section count. */
  memcpy(c, buf, len);
  c[10] = 9;
  repair(c, len);
  expect_format_error(c, len, "kind", 10);
  assert_non_null(strstr(dn_last_error(), "file kind 9"));
  memcpy(c, buf, len);
  c[12] = 6;
  repair(c, len);
  expect_format_error(c, len, "sections", 12);

  /* Section length larger than the file, and smaller than its contents. */
  memcpy(c, buf, len);
  put_le64(c + 28, 1ull << 40);
  repair(c, len);
  expect_format_error(c, len, "section size", 28);
  assert_non_null(strstr(dn_last_error(), "claims 1099511627776 bytes"));
  memcpy(c, buf, len);
  uint64_t arch = 0;
  for (int i = 7; i >= 0; i--)
    arch = arch << 8 | c[28 + i];
  put_le64(c + 28, arch - 1);
  repair(c, len);
  expect_format_error(c, len, "section size", 28);

  /* Absurd counts: layers, record entries, units (must not be allocated: ASan would abort). */
  memcpy(c, buf, len);
  put_le32(c + 36, 0xFFFFFFFFu);
  repair(c, len);
  expect_format_error(c, len, "layer count", 36);
  assert_non_null(strstr(dn_last_error(), "at most 4096"));
  memcpy(c, buf, len);
  put_le32(c + 36, 2);
  repair(c, len);
  expect_format_error(c, len, "layer count", 36);
  assert_non_null(strstr(dn_last_error(), "has 2 layers but the weights section 3"));
  memcpy(c, buf, len);
  put_le64(c + value_of(c, len, "units"), 1ull << 40);
  repair(c, len);
  expect_format_error(c, len, "units", 0);
  memcpy(c, buf, len);
  put_le64(c + value_of(c, len, "input_dim"), 1ull << 61);
  repair(c, len);
  expect_format_error(c, len, "input_dim", 0);
  /* Found by the fuzzer: a Normalization constructor given a width allocates at once, so a
   * huge input_dim must be checked against the weights before the layer is made. */
  {
    char p[128];
    dn_model *nm = dn_sequential(dn_normalization(.input_dim = 2), dn_dense(1));
    assert_ok(dn_model_save(nm, path_in(p, sizeof p, "norm.dnn")));
    dn_model_free(nm);
    size_t nlen;
    uint8_t *nb = (uint8_t *)dn_test_read_file(p, &nlen);
    put_le64(nb + value_of(nb, nlen, "input_dim"), 1ull << 37);
    repair(nb, nlen);
    expect_format_error(nb, nlen, "normalization input_dim", 0);
    assert_non_null(strstr(dn_last_error(), "137438953472"));
    free(nb);
  }
  memcpy(c, buf, len);
  put_le64(c + value_of(c, len, "units"), 0);
  repair(c, len);
  expect_format_error(c, len, "units 0", 0);
  assert_non_null(strstr(dn_last_error(), "units"));

  /* Unknown key, unknown class, unknown activation, bad bool, duplicate name. */
  memcpy(c, buf, len);
  memcpy(c + find(c, len, "units", 0), "unitz", 5);
  repair(c, len);
  expect_format_error(c, len, "key", 0);
  assert_non_null(strstr(dn_last_error(), "unknown key 'unitz'"));
  memcpy(c, buf, len);
  memcpy(c + find(c, len, "Dense", 0), "Conv1", 5);
  repair(c, len);
  expect_format_error(c, len, "class", 0);
  assert_non_null(strstr(dn_last_error(), "unknown layer class 'Conv1'"));
  memcpy(c, buf, len);
  memcpy(c + find(c, len, "linear", 0), "lineax", 6);
  repair(c, len);
  expect_format_error(c, len, "activation", 0);
  assert_non_null(strstr(dn_last_error(), "lineax"));
  memcpy(c, buf, len);
  c[value_of(c, len, "use_bias")] = 7;
  repair(c, len);
  expect_format_error(c, len, "bool", 0);
  assert_non_null(strstr(dn_last_error(), "must be 0 or 1"));
  memcpy(c, buf, len);
  c[find(c, len, "\x07\0dropout", 0) + 4] = 0;
  repair(c, len);
  expect_format_error(c, len, "NUL in name", 0);
  assert_non_null(strstr(dn_last_error(), "NUL byte"));

  /* Unknown loss and optimizer names; a string longer than allowed. */
  memcpy(c, buf, len);
  size_t lv = value_of(c, len, "loss");
  memcpy(c + lv + 2, "msx", 3);
  repair(c, len);
  expect_format_error(c, len, "loss", 0);
  assert_non_null(strstr(dn_last_error(), "msx"));
  memcpy(c, buf, len);
  size_t ov = value_of(c, len, "optimizer");
  memcpy(c + ov + 2, "adaX", 4);
  repair(c, len);
  expect_format_error(c, len, "optimizer", 0);
  assert_non_null(strstr(dn_last_error(), "adaX"));
  memcpy(c, buf, len);
  c[ov] = 200;
  repair(c, len);
  expect_format_error(c, len, "string length", 0);
  assert_non_null(strstr(dn_last_error(), "200 bytes long"));

  /* Optimizer state that does not fit the optimizer. */
  memcpy(c, buf, len);
  size_t opts = find(c, len, "OPTS", 0);
  put_le32(c + opts + 12 + 24, 3);
  repair(c, len);
  expect_format_error(c, len, "slots", opts);
  assert_non_null(strstr(dn_last_error(), "does not fit adam"));
  memcpy(c, buf, len);
  put_le64(c + opts + 12 + 28, 1ull << 50);
  repair(c, len);
  expect_format_error(c, len, "slot params", opts);

  /* A section out of order. */
  memcpy(c, buf, len);
  memcpy(c + find(c, len, "RNGS", 0), "RNGX", 4);
  repair(c, len);
  expect_format_error(c, len, "section tag", 0);
  assert_non_null(strstr(dn_last_error(), "should be 'RNGS', found 'RNGX'"));
  free(c);
  free(buf);

  /* Two layers with one name. */
  char p[128];
  dn_model *m =
      dn_sequential(dn_dense(2, .input_dim = 2, .name = "aaaa"), dn_dense(1, .name = "bbbb"));
  assert_ok(dn_model_save(m, path_in(p, sizeof p, "dup.dnn")));
  dn_model_free(m);
  buf = (uint8_t *)dn_test_read_file(p, &len);
  for (size_t at = 0; at + 4 <= len; at++)
    if (memcmp(buf + at, "bbbb", 4) == 0)
      memcpy(buf + at, "aaaa", 4);
  repair(buf, len);
  expect_format_error(buf, len, "duplicate name", 0);
  assert_non_null(strstr(dn_last_error(), "already has a layer named 'aaaa'"));
  free(buf);
}

static bool temp_files_left(void) {
  DIR *d = opendir(g_dir);
  assert_non_null(d);
  bool found = false;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp") != NULL)
      found = true;
  closedir(d);
  return found;
}

static void test_interrupted_save_keeps_old_file(void **state) {
  (void)state;
  char p[128];
  path_in(p, sizeof p, "precious.dnn");
  dn_model *old_model = rich_model("adam");
  assert_ok(dn_model_save(old_model, p));
  dn_model *new_model = dn_sequential(dn_dense(1, .input_dim = 3));
  const int stages[] = {DN_MF_FAIL_OPEN, DN_MF_FAIL_WRITE, DN_MF_FAIL_SYNC, DN_MF_FAIL_RENAME};
  for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
    dn_mf_set_fail_stage(stages[i]);
    dn_status st = dn_model_save(new_model, p);
    dn_status stw = dn_model_save_weights(new_model, p);
    dn_mf_set_fail_stage(DN_MF_FAIL_NONE);
    assert_int_equal(st, DN_ERR_IO);
    assert_int_equal(stw, DN_ERR_IO);
    assert_non_null(strstr(dn_last_error(), p));
    assert_false(temp_files_left());
    dn_model *back = dn_model_load(p);
    if (back == NULL)
      fail_msg("stage %d: the old file does not load: %s", stages[i], dn_last_error());
    dn_test_assert_same_weights(old_model, back);
    dn_model_free(back);
  }
  /* Without the hook the save goes through. */
  assert_ok(dn_model_save(new_model, p));
  dn_model *back = dn_model_load(p);
  assert_non_null(back);
  dn_test_assert_same_weights(new_model, back);
  dn_model_free(back);
  dn_model_free(old_model);
  dn_model_free(new_model);
}

/* Concurrent saves to one path: every save is atomic, so the file is always one whole model. */
typedef struct saver {
  dn_model *model;
  const char *path;
  int failures;
} saver;

static void *save_repeatedly(void *arg) {
  saver *s = arg;
  for (int i = 0; i < 8; i++) {
    /* The failure hook is per thread: the failing thread must not disturb the others. */
    dn_mf_set_fail_stage(s->failures && i % 2 ? DN_MF_FAIL_RENAME : DN_MF_FAIL_NONE);
    dn_status st = dn_model_save(s->model, s->path);
    if (st != (s->failures && i % 2 ? DN_ERR_IO : DN_OK))
      s->failures = -1;
  }
  dn_mf_set_fail_stage(DN_MF_FAIL_NONE);
  return NULL;
}

static void test_concurrent_saves(void **state) {
  (void)state;
  char p[128];
  path_in(p, sizeof p, "shared.dnn");
  saver s[3];
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    s[i] = (saver){dn_sequential(dn_dense((size_t)i + 1, .input_dim = 2)), p, i == 2};
    assert_non_null(s[i].model);
  }
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&th[i], NULL, save_repeatedly, &s[i]), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  for (int i = 0; i < 3; i++)
    assert_int_not_equal(s[i].failures, -1);
  dn_model *back = dn_model_load(p);
  if (back == NULL)
    fail_msg("after concurrent saves: %s", dn_last_error());
  size_t units = dn_model_output_dim(back);
  assert_true(units >= 1 && units <= 3);
  dn_test_assert_same_weights(s[units - 1].model, back);
  assert_false(temp_files_left());
  dn_model_free(back);
  for (int i = 0; i < 3; i++)
    dn_model_free(s[i].model);
}

/* /dev/zero and a FIFO are refused at once, naming what they are (0.2.0 said "No such file or
 * directory" for /dev/zero, an errno left from before; a FIFO blocked in open()). */
static void test_special_files(void **state) {
  (void)state;
  char fifo[128];
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
  assert_non_null(m);
  const char *paths[2] = {"/dev/zero", path_in(fifo, sizeof fifo, "model.fifo")};
  const char *kinds[2] = {"(it is a character device)", "(it is a FIFO)"};
  bool have[2] = {access("/dev/zero", R_OK) == 0, mkfifo(fifo, 0600) == 0};
  for (int i = 0; i < 2; i++) {
    if (!have[i]) {
      print_message("  %s unavailable: skipped\n", paths[i]);
      continue;
    }
    errno = ENOENT; /* a stale errno must not reach the message */
    assert_null(dn_model_load(paths[i]));
    assert_int_equal(dn_last_status(), DN_ERR_IO);
    assert_non_null(strstr(dn_last_error(), "is not a regular file"));
    assert_non_null(strstr(dn_last_error(), kinds[i]));
    assert_non_null(strstr(dn_last_error(), paths[i]));
    assert_null(strstr(dn_last_error(), "No such file"));
    assert_status_msg(dn_model_load_weights(m, paths[i]), DN_ERR_IO, kinds[i]);
    assert_non_null(strstr(dn_last_error(), "dn_model_load_weights"));
  }
  if (have[1])
    unlink(fifo);
  dn_model_free(m);
}

static void test_io_errors(void **state) {
  (void)state;
  char p[128];
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
  assert_status_msg(dn_model_save(m, "/nonexistent-dn-dir/m.dnn"), DN_ERR_IO,
                    "cannot create a temporary file in '/nonexistent-dn-dir'");
  /* A parent that is a file. */
  path_in(p, sizeof p, "plainfile");
  write_bytes(p, (const uint8_t *)"x", 1);
  char under[160];
  snprintf(under, sizeof under, "%s/m.dnn", p);
  assert_status_msg(dn_model_save(m, under), DN_ERR_IO, "cannot create");
  /* The target is a directory: the rename fails, nothing is left behind. */
  path_in(p, sizeof p, "adir");
  assert_int_equal(mkdir(p, 0755), 0);
  assert_status_msg(dn_model_save(m, p), DN_ERR_IO, "rename");
  assert_false(temp_files_left());
  assert_null(dn_model_load(p));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), "is a directory"));
  assert_int_equal(rmdir(p), 0);
  /* A path ending in '/'. */
  assert_status_msg(dn_model_save(m, "/tmp/"), DN_ERR_IO, "names a directory");
  /* A directory nobody may create files in, root included (sysfs), and one made read-only
   * (root ignores permission bits, so that one only as another user). */
  assert_status_msg(dn_model_save(m, "/sys/dn-model.dnn"), DN_ERR_IO,
                    "cannot create a temporary file in '/sys'");
  if (geteuid() != 0) {
    path_in(p, sizeof p, "ro");
    assert_int_equal(mkdir(p, 0555), 0);
    snprintf(under, sizeof under, "%s/m.dnn", p);
    assert_status_msg(dn_model_save(m, under), DN_ERR_IO, "Permission denied");
    assert_int_equal(rmdir(p), 0);
  }
  /* Missing files. */
  assert_null(dn_model_load("/nonexistent-dn-dir/m.dnn"));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), "No such file"));
  assert_status_msg(dn_model_load_weights(m, "/nonexistent-dn-dir/m.dnn"), DN_ERR_IO,
                    "cannot open");
  /* Relative paths work (the temporary file goes to the current directory). */
  char cwd[256];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(g_dir), 0);
  assert_ok(dn_model_save(m, "relative.dnn"));
  dn_model *back = dn_model_load("relative.dnn");
  assert_non_null(back);
  dn_model_free(back);
  assert_int_equal(chdir(cwd), 0);
  dn_model_free(m);
}

static void test_null_arguments(void **state) {
  (void)state;
  char p[128];
  path_in(p, sizeof p, "null.dnn");
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
  assert_status_msg(dn_model_save(NULL, p), DN_ERR_ARG, "dn_model_save: model is NULL");
  assert_status_msg(dn_model_save(m, NULL), DN_ERR_ARG, "dn_model_save: path is NULL");
  assert_status_msg(dn_model_save(m, ""), DN_ERR_ARG, "path is empty");
  assert_status_msg(dn_model_save_weights(NULL, p), DN_ERR_ARG, "dn_model_save_weights");
  assert_status_msg(dn_model_save_weights(m, NULL), DN_ERR_ARG, "path is NULL");
  assert_null(dn_model_load(NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_status_msg(dn_model_load_weights(NULL, p), DN_ERR_ARG, "model is NULL");
  assert_status_msg(dn_model_load_weights(m, NULL), DN_ERR_ARG, "path is NULL");
  assert_null(dn_mf_decode_model(NULL, 0, NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  dn_model_free(m);
}

static void test_file_layout(void **state) {
  (void)state;
  /* The header fields are where docs/model-format.md puts them. */
  size_t len;
  uint8_t *b = small_file(&len, true);
  assert_memory_equal(b,
                      "\x89"
                      "DNN\r\n\x1a\n",
                      8);
  assert_int_equal(b[8] | b[9] << 8, 1);
  assert_int_equal(b[10] | b[11] << 8, 1);
  assert_int_equal(b[12], 5); /* ARCH WGHT RNGS COMP OPTS */
  uint64_t declared = 0;
  for (int i = 7; i >= 0; i--)
    declared = declared << 8 | b[16 + i];
  assert_int_equal(declared, len);
  assert_memory_equal(b + 24, "ARCH", 4);
  uint32_t crc = (uint32_t)b[len - 4] | (uint32_t)b[len - 3] << 8 | (uint32_t)b[len - 2] << 16 |
                 (uint32_t)b[len - 1] << 24;
  assert_int_equal(crc, dn_crc32(0, b, len - 4));
  /* Saving is deterministic: the same model gives the same bytes. */
  size_t len2;
  uint8_t *b2 = small_file(&len2, true);
  assert_int_equal(len, len2);
  assert_memory_equal(b, b2, len);
  free(b);
  free(b2);
}

static int setup(void **state) {
  (void)state;
  make_data();
  snprintf(g_dir, sizeof g_dir, "/tmp/dn-model-file-XXXXXX");
  return mkdtemp(g_dir) == NULL ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  DIR *d = opendir(g_dir);
  if (d != NULL) {
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL)
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
      }
    closedir(d);
  }
  rmdir(g_dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32_known_values),
      cmocka_unit_test(test_round_trip_everything),
      cmocka_unit_test(test_round_trip_every_optimizer),
      cmocka_unit_test(test_round_trip_schedules_and_explicit_zeros),
      cmocka_unit_test(test_changed_learning_rate_and_losses),
      cmocka_unit_test(test_without_optimizer_state),
      cmocka_unit_test(test_uncompiled_and_unbuilt),
      cmocka_unit_test(test_resume_from_checkpoint),
      cmocka_unit_test(test_checkpoint_weights_only),
      cmocka_unit_test(test_weights_only_files),
      cmocka_unit_test(test_truncated_at_every_offset),
      cmocka_unit_test(test_every_flipped_byte_and_bit),
      cmocka_unit_test(test_structural_corruption_with_repaired_checksum),
      cmocka_unit_test(test_specific_corruptions),
      cmocka_unit_test(test_interrupted_save_keeps_old_file),
      cmocka_unit_test(test_concurrent_saves),
      cmocka_unit_test(test_io_errors),
      cmocka_unit_test(test_special_files),
      cmocka_unit_test(test_null_arguments),
      cmocka_unit_test(test_file_layout),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
