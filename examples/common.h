/* common.h -- what the example programs share: their command line (--epochs, --seed, --out,
 * --protocol, ...), a small seeded random generator for synthetic data, loading and splitting a
 * data set, the steps around model.compile, the plots, output paths, error reporting, accuracy
 * numbers, and the fixed accuracy protocol of
 * ../shared/bench/ACCURACY.md (split files, double-precision standardisation, three
 * Dense(512, relu) layers, Keras Adam, MAE, fixed epochs and batch size).
 *
 * Not part of the library: the examples link examples/common.c next to their own file.
 */
#ifndef DN_EXAMPLES_COMMON_H
#define DN_EXAMPLES_COMMON_H

#include <densenet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The folder holding the project's shared files (bench/splits for the accuracy protocol), set
 * by the build. */
#ifndef DN_EXAMPLES_SHARED_DIR
#define DN_EXAMPLES_SHARED_DIR "../shared"
#endif
/* Where the real data sets are: the shipped copy (examples/data in the source tree) and the
 * installed one (<prefix>/share/densenet/data), set by the build. */
#ifndef DN_EXAMPLES_DATA_DIR
#define DN_EXAMPLES_DATA_DIR "examples/data"
#endif
#ifndef DN_EXAMPLES_INSTALLED_DATA_DIR
#define DN_EXAMPLES_INSTALLED_DATA_DIR "/usr/local/share/densenet/data"
#endif

/* ---- command line ------------------------------------------------------------------------ */

typedef struct dn_ex_args {
  size_t epochs;          /* --epochs N (the example's default when not given) */
  bool epochs_given;      /* --epochs appeared */
  uint64_t seed;          /* --seed S */
  bool seed_given;        /* --seed appeared */
  const char *out_dir;    /* --out DIR (default ".") */
  const char *csv;        /* the optional positional CSV path, or NULL */
  const char *data_dir;   /* --data DIR: the folder of the real data sets, or NULL */
  bool synthetic;         /* --synthetic: the synthetic stand-in even when the file is there */
  bool protocol;          /* --protocol: the ACCURACY.md protocol for --seed (default 0) */
  bool protocol_all;      /* --protocol-all: the protocol for seeds 0..4, and the median */
  const char *splits_dir; /* --splits DIR (default <shared>/bench/splits) */
  bool quiet;             /* --quiet: no per-epoch progress lines */
  const char *invoked;    /* argv[0], the program as the user called it */
} dn_ex_args;

/* The start of every example's main (`program` names it in messages): parses argv into *args
 * (defaults: epochs = default_epochs, seed 0, out ".") and handles what ends the run before the
 * lesson begins: --help (printing `about`, the example's description), a usage error, and the
 * options about real data. With `protocol` (a data set's name, see dn_ex_run_protocol),
 * --protocol and --protocol-all run the accuracy protocol; with NULL (the examples that make their
 * own data), a data file, --data, --synthetic or either option is refused. Returns -1 to go on
 * with the lesson, else the exit code main should return (0 after --help, 2 after a usage error,
 * the protocol's code). */
int dn_ex_start(const char *program, int argc, char **argv, const char *about,
                size_t default_epochs, const char *protocol, dn_ex_args *args);

/* dn_ex_start without running a protocol, for an example with a --protocol of its own:
 * protocol_help is the --help text of its protocol options (NULL: an example that makes its own
 * data, which refuses the data options). Same return values. */
int dn_ex_parse(const char *program, int argc, char **argv, const char *about,
                size_t default_epochs, const char *protocol_help, dn_ex_args *args);

/* ---- small helpers ----------------------------------------------------------------------- */

/* A seeded splitmix64 generator: the same synthetic data on every platform. */
typedef struct dn_ex_rng {
  uint64_t state;
} dn_ex_rng;
void dn_ex_rng_seed(dn_ex_rng *rng, uint64_t seed);
double dn_ex_uniform(dn_ex_rng *rng, double lo, double hi); /* [lo, hi) */
double dn_ex_normal(dn_ex_rng *rng);                        /* N(0, 1), Box-Muller */

/* Writes "<out_dir>/<file>" into buf (creating out_dir if it does not exist). Returns buf, or
 * NULL (with a message on stderr) when the path does not fit or the folder cannot be made. */
char *dn_ex_out_path(const char *out_dir, const char *file, char *buf, size_t cap);

/* Prints "<program>: <what>: <dn_last_error()>" to stderr and returns 1 (an exit code). */
int dn_ex_fail(const char *program, const char *what);

/* Mean absolute error of the model's predictions for x against y (rows x 1, one target), in
 * double. Returns NaN (after dn_ex_fail's message) when prediction fails. */
double dn_ex_mae(dn_model *model, dn_tensor x, dn_tensor y);

/* Post-training int8 (dn_model_quantize, docs/int8.md): quantizes `model` calibrated on the
 * training rows and prints the int8 model's validation MAE beside the fp32 one, `fp32_mae`, as
 * "int8 model: validation MAE <x> <unit> (fp32 <y>; int8 <d> % higher|lower)". false after a
 * message. */
bool dn_ex_report_int8(const char *program, dn_model *model, dn_tensor train_x, dn_tensor valid_x,
                       dn_tensor valid_y, double fp32_mae, const char *unit);

/* MAE of always predicting the mean of train_y, on y (the "no model" baseline). */
double dn_ex_mean_baseline_mae(dn_tensor train_y, dn_tensor y);

/* Does a file exist (readable)? */
bool dn_ex_file_exists(const char *path);

/* Where dn_ex_data_path found a data file. */
typedef enum dn_ex_where {
  DN_EX_DATA_FOUND,  /* its path is in buf */
  DN_EX_DATA_ABSENT, /* in none of the default folders (the caller says so) */
  DN_EX_DATA_ERROR,  /* not where the user said, or a path too long (a message was printed) */
} dn_ex_where;

/* Finds the real data file `file` ("concrete.csv"): the CSV path given on the command line;
 * else <DIR>/<file> for --data DIR or, without it, the environment's DENSENET_DATA=DIR (an error
 * when the file is not there); else the shipped copy (DN_EXAMPLES_DATA_DIR) or the installed one
 * (DN_EXAMPLES_INSTALLED_DATA_DIR), whichever exists first. Writes the path into buf (cap
 * bytes). */
dn_ex_where dn_ex_data_path(const char *program, const dn_ex_args *args, const char *file,
                            char *buf, size_t cap);
/* dn_ex_data_path for a program that needs the real file: false after a message when it is not
 * found (also in none of the default folders). */
bool dn_ex_require_data(const char *program, const dn_ex_args *args, const char *file, char *buf,
                        size_t cap);

/* Sets the CPU's flush-to-zero and denormals-are-zero modes on x86 (a no-op elsewhere), as
 * TensorFlow's CPU threads run: Adam's moments of weights that never receive a gradient decay
 * into the denormal range, where each operation costs ~100 cycles. */
void dn_ex_flush_denormals(void);

/* Seconds on a monotonic clock. */
double dn_ex_now(void);

/* ---- the steps of the lesson's workflow that are the same in every example ---------------- */

/* Where an example's rows come from: the UCI CSV file (found by dn_ex_data_path) or, with
 * --synthetic or when the file is nowhere to be found, a synthetic stand-in that the example
 * generates (and the run says so). */
typedef struct dn_ex_data {
  const char *const *features; /* CSV input columns in order; NULL: every column but the target */
  const char *const *target;   /* the CSV target column, e.g. {"quality", NULL} */
  size_t n_columns;            /* input columns read (from the CSV and from synthesize) */
  const char *layout;          /* the layout's name, for "the red-wine layout has 11" */
  const char *noun;            /* what a row is: "Loaded 1599 wines from ..." */
  /* The stand-in: synthetic_rows rows from synthesize(seed, x, y, rows), announced as "a
   * SYNTHETIC <synthetic> data set of <rows> <synthetic_noun> (<synthetic_how>)", with the hint
   * to pass the real <file>. */
  void (*synthesize)(uint64_t seed, float *x, float *y, size_t rows);
  size_t synthetic_rows;
  const char *synthetic, *synthetic_noun, *synthetic_how;
  const char *file; /* the real data file's name, "concrete.csv" */
  /* Optional: turns a row's n_columns values into its n_inputs model inputs (one-hot encoding);
   * returns false (after a message) for data it cannot encode. */
  bool (*encode)(const float *columns, size_t rows, float *inputs);
  size_t n_inputs;
} dn_ex_data;

/* The data, as X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.2): loads
 * the real file (or generates the stand-in with args->seed), prints where the rows came from,
 * encodes them, and splits them at random (args->seed): 80% train the model, the held-out 20%
 * measure it. Returns false after a message (main then exits with 1); on success the caller
 * frees *train and *valid with dn_dataset_free. */
bool dn_ex_load_and_split(const char *program, const dn_ex_data *data, const dn_ex_args *args,
                          dn_dataset *train, dn_dataset *valid);

/* What comes between keras.Sequential([...]) and model.compile(): reports a model that could not
 * be built ("building the model"), seeds it (initial weights, shuffling, dropout masks), and --
 * when norm is not NULL -- adapts that Normalization layer to the training rows
 * (Normalization.adapt: each column's mean and variance). Returns false after a message. */
bool dn_ex_seed_and_adapt(const char *program, dn_model *model, uint64_t seed, dn_layer *norm,
                          const dn_dataset *train);

/* Plots the learning curves plot.history holds (loss and val_loss per epoch, as
 * dn_plot_history_svg draws them with plot's options) into <out>/<file> and prints
 * "learning curves: <path>". Returns false after a message. */
bool dn_ex_write_learning_curves(const char *program, const dn_ex_args *args, const char *file,
                                 dn_plot_history_svg_options plot);

/* Draws plot's series (dn_plot_svg with plot's options) into <out>/<file> and prints
 * "plot: <path>". Returns false after a message. */
bool dn_ex_write_plot(const char *program, const dn_ex_args *args, const char *file,
                      dn_plot_svg_options plot);

/* ---- the accuracy protocol (ACCURACY.md) ------------------------------------------------- */

/* Runs the protocol of the data set `name` ("concrete", "winequality-red" or "auto-mpg": the
 * split files' stems; the table of their settings is in common.c) for args->seed
 * (args->protocol) or seeds 0..4 (args->protocol_all) on the real file (dn_ex_data_path),
 * printing per-seed validation MAE (final, last-10 average, best and
 * its epoch) and, for several seeds, the medians. An explicit --epochs replaces the protocol's
 * epoch count (for quick checks only; the run says so). Returns the exit code. */
int dn_ex_run_protocol(const char *program, const char *name, const dn_ex_args *args);

#endif /* DN_EXAMPLES_COMMON_H */
