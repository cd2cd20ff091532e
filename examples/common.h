/* common.h -- what the example programs share: their command line (--epochs, --seed, --out,
 * --protocol, ...), a small seeded random generator for synthetic data, output paths, error
 * reporting, accuracy numbers, and the fixed accuracy protocol of
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

/* The folder holding the project's shared files (data/, bench/), set by the build. */
#ifndef DN_EXAMPLES_SHARED_DIR
#define DN_EXAMPLES_SHARED_DIR "../shared"
#endif

/* ---- command line ------------------------------------------------------------------------ */

typedef struct dn_ex_args {
  size_t epochs;          /* --epochs N (the example's default when not given) */
  bool epochs_given;      /* --epochs appeared */
  uint64_t seed;          /* --seed S */
  bool seed_given;        /* --seed appeared */
  const char *out_dir;    /* --out DIR (default ".") */
  const char *csv;        /* the optional positional CSV path, or NULL */
  bool protocol;          /* --protocol: the ACCURACY.md protocol for --seed (default 0) */
  bool protocol_all;      /* --protocol-all: the protocol for seeds 0..4, and the median */
  const char *splits_dir; /* --splits DIR (default <shared>/bench/splits) */
  bool quiet;             /* --quiet: no per-epoch progress lines */
} dn_ex_args;

/* Parses argv into *args (defaults: epochs = default_epochs, seed 0, out "."). `about` is the
 * example's one-paragraph description for --help. Returns -1 to continue, else the exit code
 * main should return (0 after --help, 2 after a usage error, both already printed). */
int dn_ex_parse_args(int argc, char **argv, const char *about, size_t default_epochs,
                     dn_ex_args *args);

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

/* Mean absolute error of the model's predictions on rows of x against y (one target), in
 * double. Returns NaN (after dn_ex_fail's message) when prediction fails. */
double dn_ex_mae(dn_model *model, const float *x, const float *y, size_t rows);

/* MAE of always predicting the mean of train_y, on y (the "no model" baseline). */
double dn_ex_mean_baseline_mae(const float *train_y, size_t train_rows, const float *y,
                               size_t rows);

/* Does a file exist (readable)? */
bool dn_ex_file_exists(const char *path);

/* Sets the CPU's flush-to-zero and denormals-are-zero modes on x86 (a no-op elsewhere), as
 * TensorFlow's CPU threads run: Adam's moments of weights that never receive a gradient decay
 * into the denormal range, where each operation costs ~100 cycles. */
void dn_ex_flush_denormals(void);

/* Seconds on a monotonic clock. */
double dn_ex_now(void);

/* ---- the accuracy protocol (ACCURACY.md) ------------------------------------------------- */

typedef struct dn_ex_protocol {
  const char *name;     /* split file stem: "concrete", "winequality-red", "auto-mpg" */
  const char *file;     /* data file name in <shared>/data */
  size_t target_column; /* 0-based CSV column of the target */
  int onehot_column;    /* 0-based column one-hot encoded into onehot_levels columns, or -1 */
  size_t onehot_levels; /* values 1..onehot_levels */
  size_t epochs, batch_size;
  const char *unit; /* target unit for the printout ("MPa") */
} dn_ex_protocol;

/* Runs the protocol for args->seed (args->protocol) or seeds 0..4 (args->protocol_all) on
 * args->csv (default <shared>/data/<file>), printing per-seed validation MAE (final, last-10
 * average, best and its epoch) and, for several seeds, the medians. An explicit --epochs
 * replaces the protocol's epoch count (for quick checks only; the run says so).
 * Returns the exit code. */
int dn_ex_run_protocol(const char *program, const dn_ex_protocol *protocol, const dn_ex_args *args);

#endif /* DN_EXAMPLES_COMMON_H */
