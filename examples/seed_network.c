/* seed_network.c -- the Keras lesson's first deep network, trained: two inputs, two small
 * hidden ReLU layers and one linear output, fitted to a bumpy two-input surface.
 *
 *   model = keras.Sequential([
 *       layers.Dense(4, activation='relu', input_shape=[2]),
 *       layers.Dense(3, activation='relu'),
 *       layers.Dense(1),
 *   ])
 *   model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss='mae')
 *   model.fit(X_train, y_train, validation_split=0.2, batch_size=32, epochs=100)
 *
 * Usage: seed_network [--epochs N] [--seed S] [--out DIR]
 * The data are synthetic (1000 points of y = sin(x1) + x2^2 / 2 plus a little noise, x1 and x2
 * uniform in [-2, 2]). Seven ReLU units can only draw a surface made of flat pieces, so the fit
 * is rough -- but far better than predicting the mean. --out receives the fitted curve along
 * one line through the surface (seed_network_slice.svg).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define PROGRAM "seed_network"
#define ROWS 1000
#define SLICE 101

/* What --help says. */
static const char ABOUT[] = "Trains the lesson's 2 -> Dense(4, relu) -> Dense(3, relu) -> "
                            "Dense(1) network (31 parameters) on a synthetic surface\n"
                            "y = sin(x1) + x2^2/2 (no data file; --protocol does not apply).";

static double surface(double x1, double x2) {
  return sin(x1) + 0.5 * x2 * x2;
}

int main(int argc, char **argv) {
  dn_ex_args args;
  int code = dn_ex_start(PROGRAM, argc, argv, ABOUT, 100, NULL, &args);
  if (code >= 0)
    return code; /* --help, a usage error, or options that need real data */

  /* 1. The data: 1000 random points of the surface, with noise of 0.05. */
  float *x = malloc(ROWS * 2 * sizeof *x), *y = malloc(ROWS * sizeof *y);
  if (x == NULL || y == NULL) {
    free(x);
    free(y);
    return 1;
  }
  dn_ex_rng rng;
  dn_ex_rng_seed(&rng, args.seed);
  for (size_t r = 0; r < ROWS; r++) {
    double x1 = dn_ex_uniform(&rng, -2, 2), x2 = dn_ex_uniform(&rng, -2, 2);
    x[2 * r] = (float)x1;
    x[2 * r + 1] = (float)x2;
    y[r] = (float)(surface(x1, x2) + 0.05 * dn_ex_normal(&rng));
  }
  /* The arrays as the model sees them: 1000 rows of 2 inputs, 1000 rows of 1 target. */
  dn_tensor xs = dn_tensor_2d(x, ROWS, 2), ys = dn_tensor_2d(y, ROWS, 1);

  /* 2. The network: exactly the lesson's. Dense(4) has 2 x 4 weights + 4 biases = 12
   * parameters, Dense(3) 4 x 3 + 3 = 15, Dense(1) 3 + 1 = 4: 31 in all. */
  dn_model *model = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                                  dn_dense(3, .activation = "relu"), dn_dense(1));
  dn_history *history = NULL;
  code = 1;
  if (!dn_ex_seed_and_adapt(PROGRAM, model, args.seed, NULL, NULL))
    goto done;
  /* A small network learns faster with a larger step than Adam's default 0.001. */
  if (dn_compile(model, .optimizer_object = dn_adam(.learning_rate = 0.01), .loss = "mae") !=
      DN_OK) {
    dn_ex_fail(PROGRAM, "preparing the model");
    goto done;
  }
  dn_model_summary(model, stdout);

  /* 3. Training: the last 20% of the rows are held out for validation. */
  history = dn_fit(model, xs, ys, .epochs = args.epochs, .validation_split = 0.2,
                   .verbose = args.quiet ? DN_VERBOSE_SILENT : DN_VERBOSE_AUTO);
  if (history == NULL) {
    dn_ex_fail(PROGRAM, "training");
    goto done;
  }

  /* 4. How well does it fit? The rows fit trained on, and the last 20% it held out. */
  size_t n_train = (size_t)floor(ROWS * 0.8), n_val = ROWS - n_train;
  dn_tensor train_x = dn_tensor_slice_rows(xs, 0, n_train),
            train_y = dn_tensor_slice_rows(ys, 0, n_train);
  dn_tensor val_x = dn_tensor_slice_rows(xs, n_train, n_val),
            val_y = dn_tensor_slice_rows(ys, n_train, n_val);
  double train_mae = dn_ex_mae(model, train_x, train_y);
  double val_mae = dn_ex_mae(model, val_x, val_y);
  double baseline = dn_ex_mean_baseline_mae(train_y, val_y);
  printf("\ntraining MAE:   %.3f\n", train_mae);
  printf("validation MAE: %.3f (predicting the mean: %.3f, so the network removes %.0f%% of "
         "that error)\n",
         val_mae, baseline, 100.0 * (1.0 - val_mae / baseline));
  if (val_mae > 0.9 * baseline)
    printf("(No better than the mean: with only 4 and 3 ReLU units, a bad start can leave every "
           "unit of a layer at 0 for all inputs -- \"dead\" -- and then no gradient flows. Try "
           "another --seed.)\n");

  /* 5. A picture: the surface and the network along the line x1 = x2. */
  float line_x[SLICE * 2], t[SLICE], truth[SLICE], fitted[SLICE];
  for (size_t i = 0; i < SLICE; i++) {
    t[i] = (float)(-2.0 + 4.0 * (double)i / (SLICE - 1));
    line_x[2 * i] = line_x[2 * i + 1] = t[i];
    truth[i] = (float)surface(t[i], t[i]);
  }
  if (dn_predict(model, dn_tensor_2d(line_x, SLICE, 2), dn_tensor_2d(fitted, SLICE, 1)) != DN_OK) {
    dn_ex_fail(PROGRAM, "predicting");
    goto done;
  }
  const dn_plot_series series[] = {
      {.label = "surface y = sin(t) + t^2/2", .x = t, .y = truth, .n = SLICE},
      {.label = "network (31 parameters)", .x = t, .y = fitted, .n = SLICE}};
  const dn_plot_svg_options plot = {.series = series,
                                    .n_series = 2,
                                    .title = "seed_network along the line x1 = x2 = t",
                                    .x_label = "t",
                                    .y_label = "y"};
  if (dn_ex_write_plot(PROGRAM, &args, "seed_network_slice.svg", plot))
    code = 0;
done:
  dn_history_free(history);
  dn_model_free(model);
  free(x);
  free(y);
  return code;
}
