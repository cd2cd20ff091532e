/* concrete.c -- the Keras lesson's exercise: predict the compressive strength of concrete from
 * its mix with three wide ReLU layers, trained with Adam on the mean absolute error.
 *
 *   model = keras.Sequential([
 *       layers.Normalization(),                      # adapted on the training rows
 *       layers.Dense(512, activation='relu', input_shape=[8]),
 *       layers.Dense(512, activation='relu'),
 *       layers.Dense(512, activation='relu'),
 *       layers.Dense(1),
 *   ])
 *   model.compile(optimizer='adam', loss='mae')
 *   early_stopping = EarlyStopping(min_delta=0.001, patience=20, restore_best_weights=True)
 *   history = model.fit(X_train, y_train, validation_data=(X_valid, y_valid),
 *                       batch_size=32, epochs=100, callbacks=[early_stopping])
 *
 * Usage: concrete [--epochs N] [--seed S] [--out DIR] [--data DIR] [--synthetic] [concrete.csv]
 * By default it trains on the shipped examples/data/concrete.csv (or the installed copy); only
 * with --synthetic, or when that file is nowhere to be found, does it generate a synthetic
 * concrete-like data set (and say so). The CSV is the UCI
 * "Concrete Compressive Strength" layout: Cement, BlastFurnaceSlag, FlyAsh, Water,
 * Superplasticizer, CoarseAggregate, FineAggregate, Age, CompressiveStrength.
 * --protocol / --protocol-all run the fixed accuracy protocol on the real file instead.
 */
#include <math.h>
#include <stdio.h>

#include "common.h"

#define PROGRAM "concrete"
#define N_FEATURES 8
#define SYNTHETIC_ROWS 1030

/* What --help says. */
static const char ABOUT[] =
    "Predicts concrete compressive strength (MPa) from the 8 mix columns "
    "with 3 x Dense(512, relu).\nData: the shipped concrete.csv (a synthetic "
    "stand-in only with --synthetic or when it is absent). CSV layout: "
    "UCI Concrete (Cement, ..., Age, CompressiveStrength).";

static const char *const FEATURES[] = {
    "Cement",          "BlastFurnaceSlag", "FlyAsh", "Water", "Superplasticizer",
    "CoarseAggregate", "FineAggregate",    "Age",    NULL};
static const char *const TARGET[] = {"CompressiveStrength", NULL};

/* A synthetic stand-in for the UCI data: mixes drawn over the real columns' ranges, and a
 * strength that follows the classic rules of concrete (Abrams' law: strength falls
 * exponentially with the water-to-binder ratio; it grows with age like t / (4 + 0.85 t); slag
 * and fly ash count as partial binder; superplasticizer helps a little), plus noise of 3 MPa.
 * Fills x (rows x 8) and y (rows). */
static void synthetic_concrete(uint64_t seed, float *x, float *y, size_t rows) {
  static const double ages[] = {1, 3, 7, 14, 28, 28, 28, 56, 90, 180, 365};
  dn_ex_rng rng;
  dn_ex_rng_seed(&rng, seed);
  for (size_t r = 0; r < rows; r++) {
    double cement = dn_ex_uniform(&rng, 102, 540);
    double slag = dn_ex_uniform(&rng, 0, 1) < 0.5 ? 0 : dn_ex_uniform(&rng, 0, 360);
    double fly_ash = dn_ex_uniform(&rng, 0, 1) < 0.55 ? 0 : dn_ex_uniform(&rng, 24, 200);
    double water = dn_ex_uniform(&rng, 122, 247);
    double plasticizer = dn_ex_uniform(&rng, 0, 1) < 0.4 ? 0 : dn_ex_uniform(&rng, 1.7, 32);
    double coarse = dn_ex_uniform(&rng, 801, 1145);
    double fine = dn_ex_uniform(&rng, 594, 993);
    double age = ages[(size_t)dn_ex_uniform(&rng, 0, sizeof ages / sizeof ages[0])];
    double binder = cement + 0.8 * slag + 0.5 * fly_ash;
    double strength_28 = 110.0 * exp(-1.9 * water / binder);
    double strength =
        strength_28 * age / (4.0 + 0.85 * age) + 0.25 * plasticizer + 3.0 * dn_ex_normal(&rng);
    const double row[N_FEATURES] = {cement, slag, fly_ash, water, plasticizer, coarse, fine, age};
    for (size_t j = 0; j < N_FEATURES; j++)
      x[r * N_FEATURES + j] = (float)row[j];
    y[r] = (float)(strength < 2.0 ? 2.0 : strength);
  }
}

int main(int argc, char **argv) {
  dn_ex_args args;
  int code = dn_ex_start(PROGRAM, argc, argv, ABOUT, 100, "concrete", &args);
  if (code >= 0)
    return code; /* --help, a usage error, or the --protocol run */
  dn_ex_flush_denormals();

  /* 1. The data: the CSV's 8 mix columns and the strength (or synthetic mixes), split 80/20
   * into training and validation rows. */
  const dn_ex_data data = {.features = FEATURES,
                           .target = TARGET,
                           .n_columns = N_FEATURES,
                           .layout = "concrete",
                           .noun = "concrete mixes",
                           .synthesize = synthetic_concrete,
                           .synthetic_rows = SYNTHETIC_ROWS,
                           .synthetic = "concrete-like",
                           .synthetic_noun = "mixes",
                           .synthetic_how =
                               "generated from Abrams' law plus noise, not real measurements",
                           .file = "concrete.csv"};
  dn_dataset train = {0}, valid = {0};
  if (!dn_ex_load_and_split(PROGRAM, &data, &args, &train, &valid))
    return 1;

  /* 2. The model: inputs standardized by a Normalization layer (adapted to the training rows
   * only), three wide ReLU layers, and one linear output unit for the strength. */
  dn_layer *norm = dn_normalization(.input_dim = N_FEATURES);
  dn_model *model =
      dn_sequential(norm, dn_dense(512, .activation = "relu"), dn_dense(512, .activation = "relu"),
                    dn_dense(512, .activation = "relu"), dn_dense(1));
  code = 1;
  dn_history *history = NULL;
  if (!dn_ex_seed_and_adapt(PROGRAM, model, args.seed, norm, &train))
    goto done;
  if (dn_compile(model, .optimizer = "adam", .loss = "mae") != DN_OK) {
    dn_ex_fail(PROGRAM, "preparing the model");
    goto done;
  }
  dn_model_summary(model, stdout);

  /* 3. Training: stop when the validation loss has not improved by 0.001 for 20 epochs, and
   * keep the best weights seen. */
  dn_callback *callbacks[] = {
      dn_early_stopping(.min_delta = 0.001, .patience = 20, .restore_best_weights = true), NULL};
  history = dn_fit(model, train.x, train.y, .epochs = args.epochs, .batch_size = 32,
                   .validation_x = valid.x, .validation_y = valid.y, .callbacks = callbacks,
                   .verbose = args.quiet ? DN_VERBOSE_SILENT : DN_VERBOSE_AUTO);
  if (history == NULL) {
    dn_ex_fail(PROGRAM, "training");
    goto done;
  }

  /* 4. How good is it? The validation MAE in MPa, next to guessing the mean strength. */
  double train_mae = dn_ex_mae(model, train.x, train.y);
  double valid_mae = dn_ex_mae(model, valid.x, valid.y);
  double baseline = dn_ex_mean_baseline_mae(train.y, valid.y);
  /* restore_best_weights: at the end of training the best epoch's weights come back. */
  size_t epochs_run = dn_history_length(history);
  printf("\n%s %zu epochs; the weights of the best epoch (by val_loss) were restored.\n",
         epochs_run < args.epochs ? "Early stopping ended training after" : "Trained all",
         epochs_run);
  printf("training MAE:   %.2f MPa\n", train_mae);
  printf("validation MAE: %.2f MPa (predicting the mean strength: %.2f MPa)\n", valid_mae,
         baseline);

  /* The same model with int8 products (no Keras counterpart: post-training quantization,
   * calibrated on the training rows), for small devices; docs/int8.md. */
  if (!dn_ex_report_int8(PROGRAM, model, train.x, valid.x, valid.y, valid_mae, "MPa"))
    goto done;

  /* 5. The learning curves, and the trained model. */
  const dn_plot_history_svg_options plot = {.history = history,
                                            .title = "Concrete: mean absolute error per epoch",
                                            .x_label = "epoch",
                                            .y_label = "MAE (MPa)"};
  if (!dn_ex_write_learning_curves(PROGRAM, &args, "concrete_learning_curves.svg", plot))
    goto done;
  char path[4096];
  if (dn_ex_out_path(args.out_dir, "concrete.dnn", path, sizeof path) == NULL)
    goto done;
  if (dn_model_save(model, path) != DN_OK) {
    dn_ex_fail(PROGRAM, "saving the model");
    goto done;
  }
  printf("model saved: %s\n", path);

  /* keras.models.load_model: the file holds everything needed to predict again. */
  dn_model *loaded = dn_model_load(path);
  if (loaded == NULL) {
    dn_ex_fail(PROGRAM, "loading the saved model");
    goto done;
  }
  double reloaded_mae = dn_ex_mae(loaded, valid.x, valid.y);
  dn_model_free(loaded);
  printf("reloaded model: validation MAE %.2f MPa (%s)\n", reloaded_mae,
         reloaded_mae == valid_mae ? "the same predictions" : "DIFFERENT from the trained model");
  code = 0;
done:
  dn_history_free(history);
  dn_model_free(model);
  dn_dataset_free(&train);
  dn_dataset_free(&valid);
  return code;
}
