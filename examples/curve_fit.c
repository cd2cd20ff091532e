/* curve_fit.c -- the lesson's point about activation functions, in one picture: a wavy curve
 * fitted three ways.
 *
 *   linear  = keras.Sequential([layers.Dense(1, input_shape=[1])])
 *   stacked = keras.Sequential([layers.Dense(32, input_shape=[1]), layers.Dense(1)])
 *   relu    = keras.Sequential([layers.Dense(32, activation='relu', input_shape=[1]),
 *                               layers.Dense(32, activation='relu'),
 *                               layers.Dense(1)])
 *   each: compile(optimizer=Adam(learning_rate=0.01), loss='mae'); fit(x, y, epochs=200)
 *
 * A Dense layer without an activation computes x W + b, a straight line; two of them in a row
 * compute (x W1 + b1) W2 + b2 = x (W1 W2) + (b1 W2 + b2), still a straight line, however wide.
 * Only with a non-linear activation between the layers (ReLU: max(0, z)) can the network bend,
 * and a ReLU stack draws the curve as many short straight pieces.
 *
 * Usage: curve_fit [--epochs N] [--seed S] [--out DIR]
 * Writes <out>/curve_fit.svg: the data points and the three fitted curves, and prints each
 * model's MAE. The data are synthetic: y = sin(1.5 x) + x/4 + noise, x in [-3, 3].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define PROGRAM "curve_fit"
#define ROWS 240
#define GRID 301
#define N_MODELS 3

/* What --help says. */
static const char ABOUT[] = "Fits y = sin(1.5x) + x/4 + noise with a Dense(1), two Dense "
                            "layers without activation, and a ReLU stack,\nand draws the "
                            "three fits in <out>/curve_fit.svg (no data file; --protocol does "
                            "not apply).";

/* Trains one model on (x, y) and writes its predictions at the grid points into curve. Returns
 * the MAE on the data, or NaN after an error message. Takes ownership of the model. */
static double fit_and_draw(dn_model *model, const char *name, const dn_ex_args *args, dn_tensor x,
                           dn_tensor y, dn_tensor grid, dn_tensor curve) {
  double mae = NAN;
  dn_history *history = NULL;
  if (model == NULL) {
    dn_ex_fail(PROGRAM, name);
    return NAN;
  }
  if (dn_model_set_seed(model, args->seed) != DN_OK ||
      dn_compile(model, .optimizer_object = dn_adam(.learning_rate = 0.01), .loss = "mae") !=
          DN_OK) {
    dn_ex_fail(PROGRAM, name);
    goto done;
  }
  printf("\n== %s (%zu parameters)\n", name, dn_model_count_params(model));
  history = dn_fit(model, x, y, .epochs = args->epochs,
                   .verbose = args->quiet ? DN_VERBOSE_SILENT : DN_VERBOSE_LINES);
  if (history == NULL || dn_predict(model, grid, curve) != DN_OK) {
    dn_ex_fail(PROGRAM, name);
    goto done;
  }
  mae = dn_ex_mae(model, x, y);
done:
  dn_history_free(history);
  dn_model_free(model);
  return mae;
}

int main(int argc, char **argv) {
  dn_ex_args args;
  int code = dn_ex_start(PROGRAM, argc, argv, ABOUT, 200, NULL, &args);
  if (code >= 0)
    return code; /* --help, a usage error, or options that need real data */

  /* The data: 240 noisy points of the curve, and a fine grid to draw the fits on. */
  static float x[ROWS], y[ROWS], grid[GRID], curves[N_MODELS][GRID];
  dn_ex_rng rng;
  dn_ex_rng_seed(&rng, args.seed);
  for (size_t i = 0; i < ROWS; i++) {
    double v = dn_ex_uniform(&rng, -3, 3);
    x[i] = (float)v;
    y[i] = (float)(sin(1.5 * v) + 0.25 * v + 0.1 * dn_ex_normal(&rng));
  }
  for (size_t i = 0; i < GRID; i++)
    grid[i] = (float)(-3.0 + 6.0 * (double)i / (GRID - 1));

  /* The three models. */
  const char *names[N_MODELS] = {"one Dense(1) layer", "Dense(32) -> Dense(1), no activation",
                                 "ReLU stack: Dense(32, relu) -> Dense(32, relu) -> Dense(1)"};
  dn_model *models[N_MODELS] = {
      dn_sequential(dn_dense(1, .input_dim = 1)),
      dn_sequential(dn_dense(32, .input_dim = 1), dn_dense(1)),
      dn_sequential(dn_dense(32, .activation = "relu", .input_dim = 1),
                    dn_dense(32, .activation = "relu"), dn_dense(1)),
  };
  double mae[N_MODELS];
  bool ok = true;
  for (size_t m = 0; m < N_MODELS; m++) {
    mae[m] = ok ? fit_and_draw(models[m], names[m], &args, dn_tensor_2d(x, ROWS, 1),
                               dn_tensor_2d(y, ROWS, 1), dn_tensor_2d(grid, GRID, 1),
                               dn_tensor_2d(curves[m], GRID, 1))
                : NAN;
    if (!ok)
      dn_model_free(models[m]);
    ok = ok && !isnan(mae[m]);
  }
  if (!ok)
    return 1;

  printf("\nMAE on the data (noise alone gives about 0.08):\n");
  for (size_t m = 0; m < N_MODELS; m++)
    printf("  %-58s %.3f\n", names[m], mae[m]);

  /* The picture. */
  const dn_plot_series series[] = {
      {.label = "data", .x = x, .y = y, .n = ROWS, .points = true},
      {.label = "Dense(1)", .x = grid, .y = curves[0], .n = GRID},
      {.label = "Dense -> Dense (no activation)", .x = grid, .y = curves[1], .n = GRID},
      {.label = "ReLU stack", .x = grid, .y = curves[2], .n = GRID},
  };
  const dn_plot_svg_options plot = {.series = series,
                                    .n_series = 4,
                                    .title = "Without an activation, stacked layers stay a line",
                                    .x_label = "x",
                                    .y_label = "y"};
  return dn_ex_write_plot(PROGRAM, &args, "curve_fit.svg", plot) ? 0 : 1;
}
