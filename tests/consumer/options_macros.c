/* options_macros.c -- a compile-only guard (run.sh builds it with -std=c11 -Wall -Wextra
 * -Wpedantic -Woverride-init -Werror, by gcc and clang) that every options macro of the
 * installed <densenet.h> expands to strict C11 without warnings: each one empty where its
 * Keras call has no required argument, and with arguments, among them compound literals whose
 * commas inside braces split the macro arguments. Nothing here runs; it is never linked. */
#include <densenet.h>

#include <stddef.h>

int options_macros_compile(dn_model *model, dn_tensor x, dn_tensor y);

typedef struct counter {
  size_t calls, last;
} counter;

static void on_event(dn_model *model, size_t index, const dn_logs *logs, void *user) {
  (void)model, (void)logs;
  ((counter *)user)->calls++;
  ((counter *)user)->last = index;
}

static dn_status source_next(void *state, dn_tensor x, dn_tensor y, size_t *rows) {
  (void)state, (void)x, (void)y;
  *rows = 0;
  return DN_OK;
}
static dn_status source_reset(void *state) {
  (void)state;
  return DN_OK;
}
static void source_free(void *state) {
  (void)state;
}

/* The header's machinery itself (DN_OPTIONS_, not API; the header's macros are its users),
 * with more designated arguments than any options struct of the header has fields. */
typedef struct wide_options {
  int f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20;
  const int *list;
} wide_options;
static int wide_with(wide_options options) {
  return options.f1 + options.f20 + (options.list != NULL ? options.list[0] : 0);
}
#define wide(...) DN_OPTIONS_(wide_with, wide_options, __VA_ARGS__)

int options_macros_compile(dn_model *model, dn_tensor x, dn_tensor y) {
  static const float mean[20] = {0};
  static const float ys[3] = {1, 2, 3};
  int sum = wide() + wide(.f1 = 1) + wide(.list = (const int[]){1, 2, 3}, .f2 = 2);
  sum += wide(.f1 = 1, .f2 = 2, .f3 = 3, .f4 = 4, .f5 = 5, .f6 = 6, .f7 = 7, .f8 = 8, .f9 = 9,
              .f10 = 10, .f11 = 11, .f12 = 12, .f13 = 13, .f14 = 14, .f15 = 15, .f16 = 16,
              .f17 = 17, .f18 = 18, .f19 = 19, .f20 = 20, .list = (const int[]){1, 2, 3, 4});

  /* Layers. dn_dense, dn_activation and dn_dropout have a required first argument. */
  dn_layer *layers[] = {
      dn_dense(4),
      dn_dense(4, .activation = "relu", .input_dim = 2, .no_bias = false,
               .kernel_initializer = "random_uniform", .kernel_init = {.minval = -1, .maxval = 1},
               .bias_initializer = "constant", .bias_init.value = 0.5, .kernel_regularizer = "l2",
               .kernel_l1 = 0.01, .kernel_l2 = 0.02, .bias_regularizer = "l1", .bias_l1 = 0.03,
               .bias_l2 = DN_ZERO, .name = "dense_all"),
      dn_activation("relu"),
      dn_activation("tanh", .input_dim = 3, .name = "act"),
      dn_dropout(0.5),
      dn_dropout(0.25, .input_dim = 3, .name = "drop"),
      dn_batch_normalization(),
      dn_batch_normalization(/* all defaults */),
      dn_batch_normalization(.momentum = 0.9),
      dn_batch_normalization(.input_dim = 3, .momentum = 0.9, .epsilon = DN_ZERO, .no_center = true,
                             .no_scale = true, .name = "bn"),
      dn_normalization(),
      dn_normalization(.input_dim = 3),
      dn_normalization(.input_dim = 20, .mean = mean, .variance = mean, .invert = true,
                       .name = "norm"),
      /* Commas inside braces in the first argument and after it: each array is 20 arguments
       * to the preprocessor. */
      dn_normalization(.mean = (const float[]){1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                               11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
                       .variance = (const float[]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                   1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                       .input_dim = 20),
  };

  dn_model *built[] = {
      dn_sequential(),
      dn_sequential(dn_dense(1, .input_dim = 2)),
      dn_sequential(dn_normalization(.input_dim = 2, .mean = (const float[]){0.5f, 1},
                                     .variance = (const float[]){2, 3}),
                    dn_dense(4, .activation = "relu"), dn_batch_normalization(), dn_dropout(0.1),
                    layers[0], dn_dense(1)),
  };

  /* Optimizers and schedules: the name and kind come from the macro, so every option may be
   * given, and none is required. */
  dn_optimizer *optimizers[] = {
      dn_sgd(),
      dn_sgd(.learning_rate = 0.1, .momentum = 0.9, .nesterov = true, .clipnorm = 1),
      dn_adam(),
      dn_adam(.learning_rate = 1e-2, .beta_1 = 0.8, .beta_2 = DN_ZERO, .epsilon = 1e-8,
              .amsgrad = true, .clipvalue = 0.5,
              .schedule = dn_cosine_decay(.initial_learning_rate = 1e-2, .decay_steps = 100,
                                          .alpha = 0.1, .warmup_target = 1e-1, .warmup_steps = 10)),
      dn_adamw(),
      dn_adamw(.weight_decay = 0.01, .global_clipnorm = 1),
      dn_rmsprop(),
      dn_rmsprop(.rho = 0.8, .momentum = 0.1, .centered = true),
      dn_adagrad(),
      dn_adagrad(.initial_accumulator_value = DN_ZERO,
                 .schedule =
                     dn_piecewise_constant_decay(.boundaries = (const double[]){10, 20, 30},
                                                 .values = (const double[]){1e-2, 5e-3, 1e-3, 1e-4},
                                                 .n_boundaries = 3)),
      dn_adadelta(),
      dn_adadelta(.rho = 0.9,
                  .schedule = dn_exponential_decay(.initial_learning_rate = 1, .decay_steps = 10,
                                                   .decay_rate = 0.9, .staircase = true)),
      dn_adamax(),
      dn_adamax(.schedule = dn_inverse_time_decay(.initial_learning_rate = 1, .decay_steps = 10,
                                                  .decay_rate = 0.5)),
      dn_nadam(),
      dn_nadam(.learning_rate = 2e-3),
      dn_lion(),
      dn_lion(.beta_1 = 0.95, .beta_2 = 0.98, .schedule = dn_cosine_decay()),
  };
  dn_schedule schedules[] = {dn_exponential_decay(), dn_inverse_time_decay(),
                             dn_piecewise_constant_decay(), dn_cosine_decay()};

  dn_status status = dn_compile(model, .loss = "mse");
  status |= dn_compile(model, .optimizer = "adam", .loss = "huber",
                       .metrics = (const char *[]){"mae", "mse", "rmse", NULL}, .huber_delta = 2);
  status |= dn_compile(model, .optimizer_object = dn_adam(.learning_rate = 1e-3),
                       .loss = "binary_crossentropy", .metrics = (const char *[]){"accuracy", NULL},
                       .from_logits = true, .label_smoothing = 0.1);

  /* Callbacks: EarlyStopping, ReduceLROnPlateau and LambdaCallback have no required
   * argument; ModelCheckpoint and CSVLogger take a path first. */
  counter ctx = {0, 0};
  dn_callback *callbacks[] = {
      dn_early_stopping(),
      dn_early_stopping(.patience = 3),
      dn_early_stopping(.monitor = "loss", .min_delta = 1e-3, .patience = DN_ZERO_COUNT,
                        .mode = DN_MODE_MIN, .use_baseline = true, .baseline = 0.5,
                        .restore_best_weights = true, .start_from_epoch = 2, .verbose = true),
      dn_reduce_lr_on_plateau(),
      dn_reduce_lr_on_plateau(.factor = 0.5),
      dn_reduce_lr_on_plateau(.monitor = "val_mae", .factor = DN_ZERO, .patience = 2,
                              .mode = DN_MODE_MAX, .min_delta = DN_ZERO, .cooldown = 1,
                              .min_lr = 1e-6, .verbose = true),
      dn_lambda_callback(),
      dn_lambda_callback(.on_epoch_end = on_event, .user = &ctx),
      /* A compound literal with commas in the first argument. */
      dn_lambda_callback(.user = &(counter){1, 2}, .on_batch_end = on_event),
      dn_lambda_callback(.on_train_begin = on_event, .on_train_end = on_event,
                         .on_epoch_begin = on_event, .on_epoch_end = on_event,
                         .on_batch_begin = on_event, .on_batch_end = NULL, .user = &ctx),
      dn_model_checkpoint("model-{epoch:02d}.dn"),
      dn_model_checkpoint("best.dn", .monitor = "val_loss", .save_best_only = true,
                          .save_weights_only = true, .mode = DN_MODE_AUTO, .verbose = true),
      dn_csv_logger("log.csv"),
      dn_csv_logger("log.tsv", .separator = '\t', .append = true),
  };

  static const float class_weight[] = {1.0f, 2.0f};
  dn_history *histories[] = {
      dn_fit(model, x, y),
      dn_fit(model, x, y, .epochs = 10, .batch_size = 16, .validation_split = 0.2,
             .validation_x = x, .validation_y = y, .no_shuffle = true, .sample_weight = x,
             .initial_epoch = 1, .verbose = DN_VERBOSE_SILENT, .out = NULL, .seed = 42,
             .class_weight = dn_tensor_1d(class_weight, 2), .validation_freq = 2,
             .steps_per_epoch = 5, .validation_batch_size = 64,
             .callbacks =
                 (dn_callback *[]){dn_early_stopping(.patience = 2),
                                   dn_lambda_callback(.on_epoch_end = on_event, .user = &ctx),
                                   dn_reduce_lr_on_plateau(), NULL}),
  };

  double values[3];
  status |= dn_evaluate_metrics(model, x, y, values, 3);
  status |= dn_evaluate_metrics(model, x, y, values, 3, .batch_size = 64, .sample_weight = x,
                                .verbose = DN_VERBOSE_LINES, .out = NULL);
  float predictions[4];
  status |= dn_model_predict(model, x, dn_tensor_2d(predictions, 1, 4));
  status |= dn_model_predict(model, x, dn_tensor_2d(predictions, 1, 4), .batch_size = 8,
                             .verbose = DN_VERBOSE_SILENT, .out = NULL);

  dn_gradient_check_report report;
  status |= dn_model_gradient_check(model, x, y, &report);
  status |= dn_model_gradient_check(model, x, y, &report, .epsilon = 1e-4, .training = true);

  dn_dataset data;
  status |= dn_csv_load("data.csv", &data);
  status |= dn_csv_load("wine.csv", &data, .target_names = (const char *[]){"quality", NULL},
                        .delimiter = ';', .drop_invalid_rows = true);
  status |= dn_csv_load("plain.csv", &data, .feature_columns = (const size_t[]){0, 1, 2},
                        .n_feature_columns = 3, .target_columns = (const size_t[]){3},
                        .n_target_columns = 1, .no_header = true);
  status |= dn_csv_load("names.csv", &data, .feature_names = (const char *[]){"a", "b", NULL});

  dn_source *sources[] = {
      dn_source(source_next),
      dn_source(source_next, .state = &ctx, .x_cols = 2, .y_cols = 1, .steps = 4,
                .reset = source_reset, .free_state = source_free),
      dn_csv_source("data.csv"),
      dn_csv_source("wine.csv", .feature_names = (const char *[]){"a", NULL},
                    .target_names = (const char *[]){"quality", NULL}, .delimiter = ';',
                    .drop_invalid_rows = true, .max_record_bytes = 4096, .max_file_bytes = 1 << 20,
                    .shuffle_buffer = 64, .seed = 7),
      dn_csv_source("plain.csv", .feature_columns = (const size_t[]){0, 1, 2},
                    .n_feature_columns = 3, .target_columns = (const size_t[]){3},
                    .n_target_columns = 1, .no_header = true, .no_shuffle = true),
  };
  dn_history *streamed[] = {
      dn_fit_source(model, sources[1]),
      dn_fit_source(model, sources[1], .epochs = 3, .batch_size = 8,
                    .validation_source = sources[2], .initial_epoch = 1,
                    .verbose = DN_VERBOSE_SILENT, .out = NULL, .seed = 3,
                    .callbacks = (dn_callback *[]){dn_early_stopping(), NULL}),
  };
  size_t predicted = 0;
  status |= dn_evaluate_source(model, sources[1], values, 3);
  status |= dn_evaluate_source(model, sources[1], values, 3, .batch_size = 64);
  status |= dn_predict_source(model, sources[1], y);
  status |= dn_predict_source(model, sources[1], y, .rows = &predicted, .batch_size = 2);
  status |= dn_normalization_adapt_source(layers[0], sources[1], 0);
  sum += (streamed[0] != NULL) + (int)predicted + (int)dn_csv_source_dropped_rows(sources[3]);
  for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
    dn_source_free(sources[i]);

  dn_model *quantized = dn_model_quantize(model, x);
  sum += quantized != NULL;
  dn_model_free(quantized);

  status |= dn_plot_svg("one.svg", &(dn_plot_series){.y = ys, .n = 3}, 1);
  status |= dn_plot_svg(
      "two.svg",
      (const dn_plot_series[]){{.label = "a", .y = ys, .n = 3},
                               {.label = "b", .x = ys, .y = ys, .n = 3, .points = true}},
      2, .title = "Fit", .x_label = "x", .y_label = "y", .width = 800, .height = 600);
  status |= dn_plot_history_svg(histories[0], "loss.svg");
  status |= dn_plot_history_svg(histories[1], "mae.svg",
                                .keys = (const char *[]){"mae", "val_mae", NULL}, .title = "MAE",
                                .x_label = "epoch", .y_label = "mae", .width = 640, .height = 480);

  return sum + (int)status + (layers[0] != NULL) + (built[0] != NULL) + (optimizers[0] != NULL) +
         (schedules[0].kind == DN_SCHEDULE_EXPONENTIAL_DECAY) + (callbacks[0] != NULL);
}

/* An output view over an array not yet written must compile quietly: the view constructors
 * never read their data (gcc's -Wmaybe-uninitialized at -O2 would flag a const pointer). */
float uninitialized_output(dn_model *model, const float *x);
float uninitialized_output(dn_model *model, const float *x) {
  float y[4];
  float w[3];
  if (dn_predict(model, dn_tensor_2d(x, 1, 2), dn_tensor_2d(y, 1, 4)) != DN_OK ||
      dn_predict_on_batch(model, dn_tensor_1d(x, 2), dn_tensor_1d(w, 3)) != DN_OK)
    return 0.0f;
  return y[0] + w[0];
}
