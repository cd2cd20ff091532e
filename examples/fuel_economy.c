/* fuel_economy.c -- the Keras lesson on stochastic gradient descent: predict a car's fuel
 * economy (miles per gallon) from its engine and body, with the car's region of origin
 * one-hot encoded.
 *
 *   X = auto_mpg.drop('mpg'); y = auto_mpg['mpg']
 *   X = one_hot(X, 'origin')                         # origin 1/2/3 -> three 0/1 columns
 *   model = keras.Sequential([
 *       layers.Normalization(),                      # adapted on the training rows
 *       layers.Dense(128, activation='relu', input_shape=[9]),
 *       layers.Dense(128, activation='relu'),
 *       layers.Dense(64, activation='relu'),
 *       layers.Dense(1),
 *   ])
 *   model.compile(optimizer='adam', loss='mae')
 *   history = model.fit(X_train, y_train, validation_data=(X_valid, y_valid),
 *                       batch_size=128, epochs=200)
 *
 * Usage: fuel_economy [--epochs N] [--seed S] [--out DIR] [--data DIR] [--synthetic]
 *                     [auto-mpg.csv]
 * The CSV is the UCI "Auto MPG" data with a header row: mpg, cylinders, displacement,
 * horsepower, weight, acceleration, model_year, origin (the car name dropped, the rows whose
 * horsepower is '?' removed). The lesson also log-transforms mpg; here mpg stays in miles per
 * gallon so the MAE reads directly. By default it trains on the shipped examples/data copy;
 * only with --synthetic, or when that file is nowhere to be found, does it generate a synthetic
 * car data set (and say so). --protocol / --protocol-all run the fixed accuracy protocol on the
 * real file instead.
 */
#include <math.h>
#include <stdio.h>

#include "common.h"

#define PROGRAM "fuel_economy"
#define N_NUMERIC 6                      /* cylinders .. model_year */
#define N_ORIGINS 3                      /* origin 1 (USA), 2 (Europe), 3 (Japan) */
#define N_INPUTS (N_NUMERIC + N_ORIGINS) /* after one-hot encoding */
#define SYNTHETIC_ROWS 392

/* What --help says. */
static const char ABOUT[] = "Predicts fuel economy (mpg) from 6 car measurements and the one-hot "
                            "encoded origin.\nData: the shipped auto-mpg.csv (a synthetic stand-in "
                            "only with --synthetic or when it is absent). CSV layout: "
                            "UCI Auto MPG with a header (mpg first, origin 1/2/3).";

static const char *const COLUMNS[] = {"cylinders",    "displacement", "horsepower", "weight",
                                      "acceleration", "model_year",   "origin",     NULL};
static const char *const TARGET[] = {"mpg", NULL};

/* A synthetic stand-in: cars whose size follows their cylinder count and origin, and whose
 * mileage falls with weight and rises with the model year, plus noise. Fills raw (rows x 7,
 * the CSV's columns after mpg) and mpg. */
static void synthetic_cars(uint64_t seed, float *raw, float *mpg, size_t rows) {
  dn_ex_rng rng;
  dn_ex_rng_seed(&rng, seed);
  for (size_t r = 0; r < rows; r++) {
    double u = dn_ex_uniform(&rng, 0, 1);
    int origin = u < 0.62 ? 1 : u < 0.79 ? 2 : 3;
    double c = dn_ex_uniform(&rng, 0, 1);
    int cylinders = origin == 1 ? (c < 0.3 ? 4 : c < 0.55 ? 6 : 8) : (c < 0.85 ? 4 : 6);
    double displacement = cylinders * dn_ex_uniform(&rng, 22, 50);
    double horsepower = 25 + 0.4 * displacement + 8 * dn_ex_normal(&rng);
    double weight = 1400 + 6.5 * displacement + 180 * dn_ex_normal(&rng);
    double acceleration = 21 - horsepower / 22 + 1.2 * dn_ex_normal(&rng);
    double year = floor(dn_ex_uniform(&rng, 70, 83));
    double m = 68 * exp(-0.00036 * weight) + 0.7 * (year - 76) + 1.5 * (origin == 3) +
               2 * dn_ex_normal(&rng);
    const double row[N_NUMERIC + 1] = {cylinders,    displacement, horsepower, weight,
                                       acceleration, year,         origin};
    for (size_t j = 0; j <= N_NUMERIC; j++)
      raw[r * (N_NUMERIC + 1) + j] = (float)row[j];
    mpg[r] = (float)(m < 9 ? 9 : m);
  }
}

/* One-hot encoding: the 6 numeric columns as they are, then origin k as three 0/1 columns
 * (origin_1, origin_2, origin_3). Returns false for an origin outside 1..3. */
static bool one_hot_origin(const float *raw, size_t rows, float *x) {
  for (size_t r = 0; r < rows; r++) {
    const float *in = raw + r * (N_NUMERIC + 1);
    float *out = x + r * N_INPUTS;
    for (size_t j = 0; j < N_NUMERIC; j++)
      out[j] = in[j];
    float origin = in[N_NUMERIC];
    if (origin != 1.0f && origin != 2.0f && origin != 3.0f) {
      fprintf(stderr, "%s: row %zu has origin %g; expected 1, 2 or 3\n", PROGRAM, r + 1,
              (double)origin);
      return false;
    }
    for (int k = 1; k <= N_ORIGINS; k++)
      out[N_NUMERIC + k - 1] = origin == (float)k ? 1.0f : 0.0f;
  }
  return true;
}

int main(int argc, char **argv) {
  dn_ex_args args;
  int code = dn_ex_start(PROGRAM, argc, argv, ABOUT, 200, "auto-mpg", &args);
  if (code >= 0)
    return code; /* --help, a usage error, or the --protocol run */
  dn_ex_flush_denormals();

  /* 1. The data: the seven columns after mpg, then origin one-hot encoded (one_hot_origin);
   * 80% of the cars train, 20% validate. */
  const dn_ex_data data = {.features = COLUMNS,
                           .target = TARGET,
                           .n_columns = N_NUMERIC + 1,
                           .layout = "Auto MPG",
                           .noun = "cars",
                           .synthesize = synthetic_cars,
                           .synthetic_rows = SYNTHETIC_ROWS,
                           .synthetic = "car",
                           .synthetic_noun = "cars",
                           .synthetic_how = "generated, not real measurements",
                           .file = "auto-mpg.csv",
                           .encode = one_hot_origin,
                           .n_inputs = N_INPUTS};
  dn_dataset train = {0}, valid = {0};
  if (!dn_ex_load_and_split(PROGRAM, &data, &args, &train, &valid))
    return 1;

  /* 2. The model: standardized inputs, three ReLU layers narrowing 128 -> 128 -> 64, one
   * linear output for mpg. */
  dn_layer *norm = dn_normalization(.input_dim = N_INPUTS);
  dn_model *model =
      dn_sequential(norm, dn_dense(128, .activation = "relu"), dn_dense(128, .activation = "relu"),
                    dn_dense(64, .activation = "relu"), dn_dense(1));
  code = 1;
  dn_history *history = NULL;
  if (!dn_ex_seed_and_adapt(PROGRAM, model, args.seed, norm, &train))
    goto done;
  if (dn_compile(model, .optimizer = "adam", .loss = "mae") != DN_OK) {
    dn_ex_fail(PROGRAM, "preparing the model");
    goto done;
  }
  dn_model_summary(model, stdout);

  /* 3. Stochastic gradient descent in minibatches of 128 cars. */
  history = dn_fit(model, train.x, train.y, .epochs = args.epochs, .batch_size = 128,
                   .validation_x = valid.x, .validation_y = valid.y,
                   .verbose = args.quiet ? DN_VERBOSE_SILENT : DN_VERBOSE_AUTO);
  if (history == NULL) {
    dn_ex_fail(PROGRAM, "training");
    goto done;
  }

  /* 4. The validation MAE in mpg, next to guessing the mean mpg. */
  double valid_mae = dn_ex_mae(model, valid.x, valid.y);
  double baseline = dn_ex_mean_baseline_mae(train.y, valid.y);
  printf("\nvalidation MAE: %.2f mpg (predicting the mean mpg: %.2f)\n", valid_mae, baseline);

  /* The same model with int8 products (post-training quantization, calibrated on the training
   * rows; docs/int8.md). */
  if (!dn_ex_report_int8(PROGRAM, model, train.x, valid.x, valid.y, valid_mae, "mpg"))
    goto done;

  /* 5. The learning curves. */
  const dn_plot_history_svg_options plot = {.history = history,
                                            .title = "Fuel economy: mean absolute error per epoch",
                                            .x_label = "epoch",
                                            .y_label = "MAE (mpg)"};
  if (dn_ex_write_learning_curves(PROGRAM, &args, "fuel_economy_learning_curves.svg", plot))
    code = 0;
done:
  dn_history_free(history);
  dn_model_free(model);
  dn_dataset_free(&train);
  dn_dataset_free(&valid);
  return code;
}
