/* red_wine.c -- the Keras lesson on dropout and batch normalization: rate red wines (quality
 * 3..8) from 11 physicochemical measurements with three wide ReLU layers, each followed by
 * Dropout and BatchNormalization.
 *
 *   model = keras.Sequential([
 *       layers.Normalization(),                      # adapted on the training rows
 *       layers.Dense(512, activation='relu', input_shape=[11]),
 *       layers.Dropout(0.3), layers.BatchNormalization(),
 *       layers.Dense(512, activation='relu'),
 *       layers.Dropout(0.3), layers.BatchNormalization(),
 *       layers.Dense(512, activation='relu'),
 *       layers.Dropout(0.3), layers.BatchNormalization(),
 *       layers.Dense(1),
 *   ])
 *   model.compile(optimizer='adam', loss='mae')
 *   history = model.fit(X_train, y_train, validation_data=(X_valid, y_valid),
 *                       batch_size=256, epochs=100)
 *
 * Usage: red_wine [--epochs N] [--seed S] [--out DIR] [--data DIR] [--synthetic]
 *                 [winequality-red.csv]
 * The CSV is the UCI "Wine Quality" red subset, comma-separated: fixed acidity, volatile
 * acidity, citric acid, residual sugar, chlorides, free sulfur dioxide, total sulfur dioxide,
 * density, pH, sulphates, alcohol, quality. (The UCI download is ';'-separated: replace the
 * semicolons by commas first.) By default it trains on the shipped examples/data copy; only with
 * --synthetic, or when that file is nowhere to be found, does it generate a synthetic wine-like
 * data set (and say so). --protocol / --protocol-all run the fixed accuracy protocol on the real
 * file instead. (The lesson uses 1024 units; 512 keeps the default run short.)
 */
#include <math.h>
#include <stdio.h>

#include "common.h"

#define PROGRAM "red_wine"
#define N_FEATURES 11
#define SYNTHETIC_ROWS 1599

/* What --help says. */
static const char ABOUT[] = "Predicts red wine quality (3..8) from 11 measurements with 3 x "
                            "Dense(512, relu) + Dropout + BatchNormalization.\nData: the "
                            "shipped winequality-red.csv (a synthetic stand-in only with "
                            "--synthetic or when it is absent). CSV layout: UCI winequality-red, "
                            "comma-separated, target 'quality'.";

static const char *const TARGET[] = {"quality", NULL};

/* A synthetic stand-in: the 11 columns drawn around the real data's means and spreads, and a
 * quality (an integer 3..8) that rises with alcohol and sulphates and falls with volatile
 * acidity, as in the real wines, plus a taster's noise. Fills x (rows x 11) and y. */
static void synthetic_wine(uint64_t seed, float *x, float *y, size_t rows) {
  static const double mean[N_FEATURES] = {8.32, 0.528,  0.271, 2.54,  0.0875, 15.9,
                                          46.5, 0.9967, 3.31,  0.658, 10.42};
  static const double spread[N_FEATURES] = {1.74, 0.179,  0.195, 1.41,  0.047, 10.5,
                                            32.9, 0.0019, 0.154, 0.170, 1.07};
  dn_ex_rng rng;
  dn_ex_rng_seed(&rng, seed);
  for (size_t r = 0; r < rows; r++) {
    double z[N_FEATURES];
    for (size_t j = 0; j < N_FEATURES; j++) {
      z[j] = dn_ex_normal(&rng);
      double v = mean[j] + spread[j] * z[j];
      x[r * N_FEATURES + j] = (float)(v < 0 ? 0 : v);
    }
    double score = 5.64 + 0.35 * z[10] - 0.22 * z[1] + 0.17 * z[9] - 0.1 * z[6] +
                   0.08 * tanh(z[8] * z[0]) + 0.55 * dn_ex_normal(&rng);
    double quality = round(score);
    y[r] = (float)(quality < 3 ? 3 : quality > 8 ? 8 : quality);
  }
}

int main(int argc, char **argv) {
  dn_ex_args args;
  int code = dn_ex_start(PROGRAM, argc, argv, ABOUT, 100, "winequality-red", &args);
  if (code >= 0)
    return code; /* --help, a usage error, or the --protocol run */
  dn_ex_flush_denormals();

  /* 1. The data: every column but quality is an input; 80% of the wines train, 20% validate. */
  const dn_ex_data data = {.target = TARGET,
                           .n_columns = N_FEATURES,
                           .layout = "red-wine",
                           .noun = "wines",
                           .synthesize = synthetic_wine,
                           .synthetic_rows = SYNTHETIC_ROWS,
                           .synthetic = "wine-like",
                           .synthetic_noun = "wines",
                           .synthetic_how = "generated, not real measurements",
                           .file = "winequality-red.csv"};
  dn_dataset train = {0}, valid = {0};
  if (!dn_ex_load_and_split(PROGRAM, &data, &args, &train, &valid))
    return 1;

  /* 2. The model. Dropout(0.3) zeroes 30% of the previous layer's outputs at each training
   * step (a different 30% each time), so no unit can rely on a few others; BatchNormalization
   * re-centres and re-scales each batch, which steadies training. Both act only in training. */
  dn_layer *norm = dn_normalization(.input_dim = N_FEATURES);
  dn_model *model = dn_sequential(
      norm, dn_dense(512, .activation = "relu"), dn_dropout(0.3), dn_batch_normalization(),
      dn_dense(512, .activation = "relu"), dn_dropout(0.3), dn_batch_normalization(),
      dn_dense(512, .activation = "relu"), dn_dropout(0.3), dn_batch_normalization(), dn_dense(1));
  code = 1;
  dn_history *history = NULL;
  if (!dn_ex_seed_and_adapt(PROGRAM, model, args.seed, norm, &train))
    goto done;
  if (dn_compile(model, .optimizer = "adam", .loss = "mae") != DN_OK) {
    dn_ex_fail(PROGRAM, "preparing the model");
    goto done;
  }
  dn_model_summary(model, stdout);

  /* 3. Training in batches of 256. */
  history = dn_fit(model, train.x, train.y, .epochs = args.epochs, .batch_size = 256,
                   .validation_x = valid.x, .validation_y = valid.y,
                   .verbose = args.quiet ? DN_VERBOSE_SILENT : DN_VERBOSE_AUTO);
  if (history == NULL) {
    dn_ex_fail(PROGRAM, "training");
    goto done;
  }

  /* 4. The validation MAE in quality points, next to guessing the mean quality. */
  double valid_mae = dn_ex_mae(model, valid.x, valid.y);
  double baseline = dn_ex_mean_baseline_mae(train.y, valid.y);
  printf("\nvalidation MAE: %.3f quality points (predicting the mean quality: %.3f)\n", valid_mae,
         baseline);

  /* The same model with int8 products (post-training quantization, calibrated on the training
   * rows; docs/int8.md). */
  if (!dn_ex_report_int8(PROGRAM, model, train.x, valid.x, valid.y, valid_mae, "quality points"))
    goto done;

  /* 5. The learning curves. */
  const dn_plot_history_svg_options plot = {.history = history,
                                            .title = "Red wine: mean absolute error per epoch",
                                            .x_label = "epoch",
                                            .y_label = "MAE (quality points)"};
  if (dn_ex_write_learning_curves(PROGRAM, &args, "red_wine_learning_curves.svg", plot))
    code = 0;
done:
  dn_history_free(history);
  dn_model_free(model);
  dn_dataset_free(&train);
  dn_dataset_free(&valid);
  return code;
}
