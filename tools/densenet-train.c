/* densenet-train.c -- command-line tool: train a Dense network on any numeric CSV and save it
 * for densenet-predict. The Keras workflow (Normalization adapted on the training rows, Dense
 * layers, compile, fit with a validation split, early stopping, the learning curve) without
 * writing C.
 *
 *   densenet-train DATA.csv --out MODEL [--target NAME] [--layers 64,64] [--activation relu]
 *                  [--output-activation A] [--loss mse] [--optimizer adam] [--learning-rate R]
 *                  [--batch-size 32] [--epochs 100] [--validation-split 0.2] [--validation-last]
 *                  [--patience N] [--seed S] [--verbose auto|0|1|2] [--curve FILE.svg]
 *                  [--delimiter C]
 *
 * The model: Normalization (adapted on the training rows only, so the saved model takes the raw
 * feature columns), Dense(units, activation) per --layers entry, and an output Dense: 1 unit
 * (regression, binary_crossentropy with a sigmoid) or one per class
 * (sparse_categorical_crossentropy with a softmax; the target holds class indices 0 .. k-1).
 * The features are every column but the target, in file order, which is what densenet-predict
 * feeds the model when given --target with the same name.
 * The CSV must be numeric (dn_csv_load); a text target (class names such as g/b) is refused
 * with the line and column: encode the labels as 0, 1, ... first.
 * Validation: a seeded random fraction of the rows (dn_train_test_split), as the course splits
 * its data frames; --validation-last takes the last rows instead, as Keras's validation_split
 * does (the UCI files are ordered, so their last rows are no fair sample). Early stopping
 * (--patience N > 0) watches val_loss and restores the best weights. Outputs are written only after
 * training succeeded: the model with dn_model_save (atomic), the curve through a temporary file
 * renamed into place, so a failure leaves no file and an existing one unchanged. The output folders
 * are checked before training starts. Exit status: 0 on success, 1 on an error (data, training,
 * writing), 2 on a usage error. Every error is one line on stderr starting "densenet-train: ".
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "densenet.h"

#define PROG "densenet-train"
#define MAX_LAYERS 64
#define MAX_CLASSES 65536

static const char USAGE[] =
    "usage: densenet-train DATA.csv --out MODEL [options]\n"
    "Trains a Dense network on the numeric CSV file DATA.csv (a header row, then one row per\n"
    "sample) to predict one column from the others, and saves it to MODEL for densenet-predict.\n"
    "The model starts with a Normalization layer adapted on the training rows, so it takes the\n"
    "raw feature columns: every column but the target, in file order. DATA.csv may be -\n"
    "(standard input) or a pipe.\n"
    "\n"
    "  --out FILE              where to save the model (required; written only on success)\n"
    "  --target NAME           the column to predict (default: the last column)\n"
    "  --layers N,N,...        hidden Dense layer widths (default 64,64; 0 or none: no hidden\n"
    "                          layer, a linear model)\n"
    "  --activation NAME       hidden layers' activation, a Keras name (default relu)\n"
    "  --output-activation A   output activation (default: none (linear) for regression,\n"
    "                          sigmoid for binary_crossentropy, softmax for\n"
    "                          sparse_categorical_crossentropy)\n"
    "  --loss NAME             a Keras loss (default mse). Classification:\n"
    "                          binary_crossentropy (target 0 or 1) or\n"
    "                          sparse_categorical_crossentropy (target 0 .. k-1: k output\n"
    "                          units); the accuracy is reported\n"
    "  --optimizer NAME        sgd adam adamw rmsprop adagrad adadelta adamax nadam lion\n"
    "                          (default adam)\n"
    "  --learning-rate R       the optimizer's learning rate (default: its Keras default)\n"
    "  --batch-size N          rows per step (default 32)\n"
    "  --epochs N              passes over the training rows (default 100)\n"
    "  --validation-split F    hold out the fraction F of the rows, in [0, 1), for val_loss\n"
    "                          and early stopping: rows drawn at random with --seed\n"
    "                          (default 0.2; 0: no validation)\n"
    "  --validation-last       hold out the last rows instead, as Keras's validation_split\n"
    "  --patience N            early stopping: stop after N epochs without a better val_loss\n"
    "                          and keep the best weights (default 0: off)\n"
    "  --seed S                seed of the initial weights, the validation rows and the\n"
    "                          shuffling (default 1337)\n"
    "  --verbose V             progress display as Keras's fit(verbose=): auto (a bar on a\n"
    "                          terminal, a line per epoch otherwise), 0 silent, 1 bar,\n"
    "                          2 a line per epoch (default auto); 0 also drops the summary\n"
    "  --curve FILE.svg        write the learning curves (loss, val_loss and, for\n"
    "                          classification, the accuracies) as SVG\n"
    "  --delimiter C           field separator (default ',')\n"
    "  --help, --version       print this help or the version and exit\n"
    "\n"
    "The CSV must hold numbers only: a text target (class names) is refused; encode the\n"
    "labels as 0, 1, ... first. Exit status: 0 success, 1 error, 2 usage error.\n"
    "Example: densenet-train concrete.csv --loss mae --epochs 200 --patience 20 \\\n"
    "           --curve curve.svg --out concrete.dnn\n"
    "         densenet-predict concrete.dnn new.csv --target CompressiveStrength\n";

/* ---- messages ---------------------------------------------------------------------------- */

/* One line on stderr: "densenet-train: <message>", with a pointer to --help for a usage error
 * (rc 2). Returns rc. */
static int message(int rc, const char *fmt, va_list ap) {
  fputs(PROG ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs(rc == 2 ? " (see " PROG " --help)\n" : "\n", stderr);
  return rc;
}

static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = message(2, fmt, ap);
  va_end(ap);
  return rc;
}

static int runtime_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = message(1, fmt, ap);
  va_end(ap);
  return rc;
}

/* ---- options ----------------------------------------------------------------------------- */

typedef enum task { TASK_REGRESSION, TASK_BINARY, TASK_SPARSE } task;

typedef struct options {
  const char *csv, *out, *target, *curve;
  size_t layers[MAX_LAYERS];
  size_t n_layers;
  const char *activation, *output_activation, *loss, *optimizer;
  double learning_rate; /* 0: the optimizer's default */
  size_t batch_size, epochs, patience;
  double validation_split;
  uint64_t seed;
  bool has_seed, validation_last;
  dn_verbose verbose;
  char delimiter;
  task task;
} options;

static bool parse_size(const char *text, size_t min, size_t max, size_t *out) {
  if (text[0] < '0' || text[0] > '9')
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return false;
  *out = (size_t)v;
  return true;
}

static bool parse_double(const char *text, double *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
    return false;
  *out = v;
  return true;
}

/* "64,64" -> widths; "0" or "" or "none" -> no hidden layer. */
static bool parse_layers(const char *text, options *o) {
  o->n_layers = 0;
  if (text[0] == '\0' || strcmp(text, "0") == 0 || strcmp(text, "none") == 0)
    return true;
  const char *p = text;
  for (;;) {
    char item[32];
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= sizeof item || o->n_layers == MAX_LAYERS)
      return false;
    memcpy(item, p, len);
    item[len] = '\0';
    if (!parse_size(item, 1, 1u << 20, &o->layers[o->n_layers++]))
      return false;
    if (p[len] == '\0')
      return true;
    p += len + 1;
  }
}

/* The loss's task, from its Keras names; -1 for categorical cross-entropy on a column of labels
 * and the ambiguous "crossentropy", which the tool refuses. */
static int loss_task(const char *loss) {
  static const char *const binary[] = {"binary_crossentropy", "bce", "BinaryCrossentropy"};
  static const char *const sparse[] = {"sparse_categorical_crossentropy", "scce",
                                       "SparseCategoricalCrossentropy"};
  static const char *const refused[] = {"categorical_crossentropy", "cce",
                                        "CategoricalCrossentropy", "crossentropy", "ce"};
  for (size_t i = 0; i < 3; i++) {
    if (strcmp(loss, binary[i]) == 0)
      return TASK_BINARY;
    if (strcmp(loss, sparse[i]) == 0)
      return TASK_SPARSE;
  }
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
    if (strcmp(loss, refused[i]) == 0)
      return -1;
  return TASK_REGRESSION;
}

/* Checks the activation, loss and optimizer names by building and compiling a one-unit model:
 * the library's message (with its "did you mean" hint) becomes a usage error. */
static int check_names(const options *o) {
  const char *acts[2] = {o->activation, o->output_activation};
  for (size_t i = 0; i < 2; i++) {
    if (acts[i] == NULL)
      continue;
    dn_layer *l = dn_dense(1, .activation = acts[i]);
    if (l == NULL)
      return usage_error("%s", dn_last_error());
    dn_layer_free(l);
  }
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 1));
  if (m == NULL)
    return runtime_error("%s", dn_last_error());
  dn_status st = dn_compile(m, .optimizer = o->optimizer, .loss = o->loss);
  dn_model_free(m);
  if (st == DN_ERR_NOMEM)
    return runtime_error("%s", dn_last_error());
  return st == DN_OK ? 0 : usage_error("%s", dn_last_error());
}

static int parse_args(int argc, char **argv, options *o) {
  *o = (options){.activation = "relu",
                 .loss = "mse",
                 .optimizer = "adam",
                 .batch_size = 32,
                 .epochs = 100,
                 .validation_split = 0.2,
                 .layers = {64, 64},
                 .n_layers = 2};
  bool no_more_options = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (no_more_options || a[0] != '-' || strcmp(a, "-") == 0) {
      if (o->csv != NULL)
        return usage_error("unexpected argument '%s' (one CSV file only)", a);
      o->csv = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      no_more_options = true;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(USAGE, stdout);
      return -1;
    }
    if (strcmp(a, "--validation-last") == 0) {
      o->validation_last = true;
      continue;
    }
    if (strcmp(a, "--version") == 0) {
      printf(PROG " (libdensenet) %s\n", dn_version());
      return -1;
    }
    /* --name value or --name=value */
    char name[32];
    const char *value = NULL, *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    if (len >= sizeof name)
      return usage_error("unknown option '%s'", a);
    memcpy(name, a, len);
    name[len] = '\0';
    /* Options taking a name or a path, then the others. */
    struct {
      const char *name, **value;
    } texts[] = {{"--out", &o->out},
                 {"--target", &o->target},
                 {"--curve", &o->curve},
                 {"--activation", &o->activation},
                 {"--output-activation", &o->output_activation},
                 {"--loss", &o->loss},
                 {"--optimizer", &o->optimizer}};
    static const char *const others[] = {"--layers", "--learning-rate",    "--batch-size",
                                         "--epochs", "--validation-split", "--patience",
                                         "--seed",   "--verbose",          "--delimiter"};
    const char **text = NULL;
    bool is_known = false;
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++)
      if (strcmp(name, texts[k].name) == 0)
        text = texts[k].value;
    for (size_t k = 0; k < sizeof others / sizeof *others; k++)
      is_known |= strcmp(name, others[k]) == 0;
    if (text == NULL && !is_known)
      return usage_error("unknown option '%s'", a);
    if (eq != NULL)
      value = eq + 1;
    else if (i + 1 < argc)
      value = argv[++i];
    else
      return usage_error("%s needs a value", name);

    if (text != NULL) {
      if (value[0] == '\0')
        return usage_error("%s needs a non-empty value", name);
      *text = value;
    } else if (strcmp(name, "--layers") == 0) {
      if (!parse_layers(value, o))
        return usage_error("--layers needs widths from 1 to 1048576 separated by commas (at "
                           "most %d), got '%s'",
                           MAX_LAYERS, value);
    } else if (strcmp(name, "--learning-rate") == 0) {
      if (!parse_double(value, &o->learning_rate) || !(o->learning_rate > 0))
        return usage_error("--learning-rate needs a positive number, got '%s'", value);
    } else if (strcmp(name, "--batch-size") == 0) {
      if (!parse_size(value, 1, (size_t)PTRDIFF_MAX, &o->batch_size))
        return usage_error("--batch-size needs a whole number >= 1, got '%s'", value);
    } else if (strcmp(name, "--epochs") == 0) {
      if (!parse_size(value, 1, 100000000, &o->epochs))
        return usage_error("--epochs needs a whole number from 1 to 100000000, got '%s'", value);
    } else if (strcmp(name, "--patience") == 0) {
      if (!parse_size(value, 0, INT_MAX, &o->patience))
        return usage_error("--patience needs a whole number >= 0, got '%s'", value);
    } else if (strcmp(name, "--validation-split") == 0) {
      if (!parse_double(value, &o->validation_split) ||
          !(o->validation_split >= 0 && o->validation_split < 1))
        return usage_error("--validation-split needs a number in [0, 1), got '%s'", value);
    } else if (strcmp(name, "--seed") == 0) {
      size_t s;
      if (!parse_size(value, 0, SIZE_MAX, &s))
        return usage_error("--seed needs a whole number >= 0, got '%s'", value);
      o->seed = s;
      o->has_seed = true;
    } else if (strcmp(name, "--verbose") == 0) {
      static const char *const modes[] = {"auto", "0", "1", "2"};
      static const dn_verbose values[] = {DN_VERBOSE_AUTO, DN_VERBOSE_SILENT, DN_VERBOSE_BAR,
                                          DN_VERBOSE_LINES};
      size_t k = 0;
      while (k < 4 && strcmp(value, modes[k]) != 0)
        k++;
      if (k == 4)
        return usage_error("--verbose needs auto, 0, 1 or 2, got '%s'", value);
      o->verbose = values[k];
    } else { /* --delimiter */
      if (strlen(value) != 1 || value[0] == '"' || value[0] == '\n' || value[0] == '\r')
        return usage_error("--delimiter needs one character (not a quote or line break), got "
                           "'%s'",
                           value);
      o->delimiter = value[0];
    }
  }
  if (o->csv == NULL)
    return usage_error("no CSV file given");
  if (o->out == NULL)
    return usage_error("no --out FILE given (where to save the model)");
  if (o->curve != NULL && strcmp(o->curve, o->out) == 0)
    return usage_error("--out and --curve name the same file '%s'", o->out);
  if (o->patience > 0 && o->validation_split == 0)
    return usage_error("--patience needs a validation split (early stopping watches val_loss)");
  int t = loss_task(o->loss);
  if (t < 0)
    return usage_error("--loss %s needs one-hot or resolved targets; for a column of class "
                       "indices use binary_crossentropy (0/1) or "
                       "sparse_categorical_crossentropy (0 .. k-1)",
                       o->loss);
  o->task = (task)t;
  if (o->output_activation == NULL)
    o->output_activation = o->task == TASK_BINARY   ? "sigmoid"
                           : o->task == TASK_SPARSE ? "softmax"
                                                    : NULL;
  return check_names(o);
}

/* ---- output paths ------------------------------------------------------------------------ */

/* Before training: the file's folder exists and is writable, and the path is not a folder. */
static int check_output_path(const char *option, const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return runtime_error("%s '%s' is a directory", option, path);
  size_t len = strlen(path);
  char *dir = malloc(len + 2);
  if (dir == NULL)
    return runtime_error("out of memory");
  memcpy(dir, path, len + 1);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    strcpy(dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  int rc = 0;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    rc = runtime_error("%s '%s': the folder '%s' does not exist", option, path, dir);
  else if (access(dir, W_OK | X_OK) != 0)
    rc = runtime_error("%s '%s': the folder '%s' is not writable: %s", option, path, dir,
                       strerror(errno));
  free(dir);
  return rc;
}

/* ---- data -------------------------------------------------------------------------------- */

/* Loads the CSV into x (features) and y (one target column). */
static int load_data(const options *o, dn_dataset *data) {
  struct stat sb;
  bool stdin_csv = strcmp(o->csv, "-") == 0;
  bool stream = stdin_csv || (stat(o->csv, &sb) == 0 && S_ISFIFO(sb.st_mode));
  const char *path = stdin_csv ? "/dev/stdin" : o->csv;
  dn_status st;
  if (o->target != NULL)
    st = dn_csv_load(path, data, .target_names = (const char *const[]){o->target, NULL},
                     .delimiter = o->delimiter, .allow_stream = stream);
  else
    st = dn_csv_load(path, data, .delimiter = o->delimiter, .allow_stream = stream);
  if (st != DN_OK) {
    const char *msg = dn_last_error();
    bool text_cell = st == DN_ERR_FORMAT && strstr(msg, "malformed number") != NULL;
    return runtime_error("cannot read the CSV: %s%s", msg,
                         text_cell ? " (the CSV must hold numbers only: encode class labels as "
                                     "0, 1, ... and drop text columns)"
                                   : "");
  }
  if (o->target != NULL)
    return 0;
  /* Default target: the last column, split off the loaded features. */
  size_t rows = dn_tensor_rows(data->x), cols = dn_tensor_cols(data->x);
  if (cols < 2)
    return runtime_error("'%s' has %zu column; it needs at least one feature and the target",
                         o->csv, cols);
  dn_dataset split = {0};
  if (dn_tensor_new_2d(&split.x, rows, cols - 1) != DN_OK ||
      dn_tensor_new_2d(&split.y, rows, 1) != DN_OK) {
    dn_dataset_free(&split);
    return runtime_error("%s", dn_last_error());
  }
  for (size_t i = 0; i < rows; i++) {
    memcpy(split.x.data + i * (cols - 1), data->x.data + i * cols, (cols - 1) * sizeof(float));
    split.y.data[i] = data->x.data[i * cols + cols - 1];
  }
  dn_dataset_free(data);
  *data = split;
  return 0;
}

/* Checks that the target fits the loss (with the numbers when it does not) and gives the
 * output width: 1, or the number of classes. */
static int check_target(const options *o, dn_tensor y, size_t *out_units) {
  size_t rows = dn_tensor_rows(y), bad = 0, first_bad = 0;
  float lo = y.data[0], hi = y.data[0];
  for (size_t i = 0; i < rows; i++) {
    float v = y.data[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    bool ok = o->task == TASK_BINARY   ? (v == 0 || v == 1)
              : o->task == TASK_SPARSE ? (v >= 0 && v < MAX_CLASSES && v == floorf(v))
                                       : true;
    if (!ok && bad++ == 0)
      first_bad = i;
  }
  const char *name = o->target ? o->target : "the last column";
  if (bad > 0) {
    /* line numbers count the header as line 1 */
    if (o->task == TASK_BINARY)
      return runtime_error("--loss %s needs a target of 0 and 1, but %zu of %zu rows of %s "
                           "hold other values (the first on line %zu: %.9g; the values run "
                           "from %.9g to %.9g)",
                           o->loss, bad, rows, name, first_bad + 2, (double)y.data[first_bad],
                           (double)lo, (double)hi);
    return runtime_error("--loss %s needs class indices 0, 1, ..., %d, but %zu of %zu rows of %s "
                         "hold other values (the first on line %zu: %.9g; the values run from "
                         "%.9g to %.9g)",
                         o->loss, MAX_CLASSES - 1, bad, rows, name, first_bad + 2,
                         (double)y.data[first_bad], (double)lo, (double)hi);
  }
  *out_units = o->task == TASK_SPARSE ? (size_t)hi + 1 : 1;
  if (o->task == TASK_SPARSE && *out_units < 2)
    return runtime_error("--loss %s needs at least 2 classes, but every row of %s holds %.9g",
                         o->loss, name, (double)hi);
  return 0;
}

/* The training and validation rows: a seeded shuffle-split (dn_train_test_split, round(rows *
 * split) validation rows), or with --validation-last the last rows as Keras's validation_split
 * takes them (floor(rows * (1 - split)) training rows). Without a split every row trains. */
static int split_rows(const options *o, dn_dataset *data, dn_dataset *train, dn_dataset *val) {
  size_t rows = dn_tensor_rows(data->x);
  if (o->validation_split == 0) {
    *train = *data; /* takes the storage */
    *data = (dn_dataset){0};
    return 0;
  }
  size_t keep = rows;
  if (o->validation_last) {
    double kept = floor((double)rows * (1.0 - o->validation_split));
    keep = kept < (double)rows ? (size_t)kept : rows;
  } else {
    double held = round((double)rows * o->validation_split);
    keep = held < (double)rows ? rows - (size_t)held : 0;
  }
  if (keep == 0 || keep == rows)
    return runtime_error("--validation-split %g of %zu rows leaves %zu training and %zu "
                         "validation rows; both must be > 0",
                         o->validation_split, rows, keep, rows - keep);
  if (o->validation_last) {
    *train = (dn_dataset){.x = dn_tensor_slice_rows(data->x, 0, keep),
                          .y = dn_tensor_slice_rows(data->y, 0, keep)};
    *val = (dn_dataset){.x = dn_tensor_slice_rows(data->x, keep, rows - keep),
                        .y = dn_tensor_slice_rows(data->y, keep, rows - keep)};
    return 0; /* views of data's storage (not owners: freeing them is a no-op) */
  }
  if (dn_train_test_split(data, o->validation_split, o->has_seed ? o->seed : DN_DEFAULT_SEED, train,
                          val) != DN_OK)
    return runtime_error("cannot split the rows: %s", dn_last_error());
  return 0;
}

/* ---- the model --------------------------------------------------------------------------- */

static dn_model *make_model(const options *o, size_t features, size_t out_units) {
  dn_model *m = dn_model_new();
  if (m == NULL || dn_model_add(m, dn_normalization(.input_dim = features)) != DN_OK)
    goto fail;
  for (size_t i = 0; i < o->n_layers; i++)
    if (dn_model_add(m, dn_dense(o->layers[i], .activation = o->activation)) != DN_OK)
      goto fail;
  if (dn_model_add(m, dn_dense(out_units, .activation = o->output_activation)) != DN_OK)
    goto fail;
  if (o->has_seed && dn_model_set_seed(m, o->seed) != DN_OK)
    goto fail;
  return m;
fail:
  runtime_error("cannot build the model: %s", dn_last_error());
  dn_model_free(m);
  return NULL;
}

static int compile_model(const options *o, dn_model *m, const char *metric) {
  dn_optimizer *opt = NULL;
  if (o->learning_rate > 0 &&
      (opt = dn_optimizer_with((dn_optimizer_options){.name = o->optimizer,
                                                      .learning_rate = o->learning_rate})) == NULL)
    return usage_error("%s", dn_last_error());
  dn_status st =
      dn_compile(m, .optimizer = opt ? NULL : o->optimizer, .optimizer_object = opt,
                 .loss = o->loss, .metrics = metric ? (const char *const[]){metric, NULL} : NULL);
  return st == DN_OK ? 0 : runtime_error("cannot compile the model: %s", dn_last_error());
}

/* Prints "loss X[, metric Y]" of the model on rows [first, first + count). */
static int report(dn_model *m, dn_tensor x, dn_tensor y, const char *what, const char *metric) {
  double v[2] = {0};
  if (dn_evaluate_metrics(m, x, y, v, 2, .verbose = DN_VERBOSE_SILENT) != DN_OK)
    return runtime_error("cannot evaluate the model: %s", dn_last_error());
  printf("%s (%zu rows): loss %.6g", what, dn_tensor_rows(x), v[0]);
  if (metric)
    printf(", %s %.4f", metric, v[1]);
  putchar('\n');
  return 0;
}

/* Notes a feature that is constant on the training rows: Normalization divides by 1e-7 there,
 * so a different value at prediction time is scaled hugely (the course drops such columns). */
static void note_constant_features(dn_tensor x, size_t train_rows) {
  size_t cols = dn_tensor_cols(x), n = 0, first = 0;
  for (size_t j = 0; j < cols; j++) {
    bool constant = true;
    for (size_t i = 1; i < train_rows && constant; i++)
      constant = x.data[i * cols + j] == x.data[j];
    if (constant && n++ == 0)
      first = j;
  }
  if (n > 0)
    fprintf(stderr,
            PROG ": note: %zu feature column%s constant on the training rows (the first is "
                 "feature %zu of %zu); Normalization maps %s to 0, and any other value there "
                 "to a huge one\n",
            n, n == 1 ? " is" : "s are", first + 1, cols, n == 1 ? "it" : "them");
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  options o;
  int rc = parse_args(argc, argv, &o);
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  if ((rc = check_output_path("--out", o.out)) != 0 ||
      (o.curve && (rc = check_output_path("--curve", o.curve)) != 0))
    return rc;

  dn_dataset data = {0}, train = {0}, val = {0};
  dn_model *m = NULL;
  dn_history *h = NULL;
  char *curve_tmp = NULL;
  rc = 1;
  if (load_data(&o, &data) != 0)
    goto done;
  size_t rows = dn_tensor_rows(data.x), features = dn_tensor_cols(data.x), out_units = 0;
  if (check_target(&o, data.y, &out_units) != 0)
    goto done;
  /* The split fit's validation_split makes: floor(rows * (1 - split)) training rows. */
  if (split_rows(&o, &data, &train, &val) != 0)
    goto done;
  size_t train_rows = dn_tensor_rows(train.x);
  dn_tensor xt = train.x, yt = train.y, xv = val.x, yv = val.y;
  const char *metric = o.task == TASK_BINARY   ? "binary_accuracy"
                       : o.task == TASK_SPARSE ? "sparse_categorical_accuracy"
                                               : NULL;
  if ((m = make_model(&o, features, out_units)) == NULL)
    goto done;
  if (dn_normalization_adapt(dn_model_layer(m, 0), xt) != DN_OK) {
    runtime_error("cannot adapt the Normalization layer: %s", dn_last_error());
    goto done;
  }
  note_constant_features(xt, train_rows);
  int crc = compile_model(&o, m, metric);
  if (crc != 0) {
    rc = crc;
    goto done;
  }
  if (o.verbose != DN_VERBOSE_SILENT) {
    printf("%s: %zu rows, %zu features, target %s; %zu training and %zu validation rows\n", o.csv,
           rows, features, o.target ? o.target : "(the last column)", train_rows,
           rows - train_rows);
    dn_model_summary(m, stdout);
  }
  dn_callback *stop = NULL;
  if (o.patience > 0 && (stop = dn_early_stopping(.patience = (int)o.patience,
                                                  .restore_best_weights = true)) == NULL) {
    runtime_error("%s", dn_last_error());
    goto done;
  }
  fflush(stdout);
  h = dn_fit(m, xt, yt, .epochs = o.epochs, .batch_size = o.batch_size, .validation_x = xv,
             .validation_y = yv, .verbose = o.verbose,
             .callbacks = (dn_callback *const[]){stop, NULL});
  if (h == NULL) {
    runtime_error("training failed: %s", dn_last_error());
    goto done;
  }
  size_t epochs_run = dn_history_length(h);
  const double *val_loss = dn_history_values(h, "val_loss");
  if (val_loss != NULL && epochs_run > 0) {
    size_t best = 0;
    for (size_t e = 1; e < epochs_run; e++)
      best = val_loss[e] < val_loss[best] ? e : best;
    printf("%zu epoch%s run; best val_loss %.6g at epoch %zu%s\n", epochs_run,
           epochs_run == 1 ? "" : "s", val_loss[best], best + 1,
           o.patience > 0 ? " (its weights are kept)" : "");
  }
  if (report(m, xt, yt, "training", metric) != 0 ||
      (xv.data && report(m, xv, yv, "validation", metric) != 0))
    goto done;

  /* Outputs: the curve to a temporary file, then the model (atomic), then the curve's rename. */
  if (o.curve != NULL) {
    size_t len = strlen(o.curve) + 32;
    if ((curve_tmp = malloc(len)) == NULL) {
      runtime_error("out of memory");
      goto done;
    }
    snprintf(curve_tmp, len, "%s.%ld.tmp", o.curve, (long)getpid());
    char val_metric[64] = "";
    if (metric != NULL)
      snprintf(val_metric, sizeof val_metric, "val_%s", metric);
    const char *keys[5] = {"loss"};
    size_t n = 1;
    if (val_loss != NULL)
      keys[n++] = "val_loss";
    if (metric != NULL)
      keys[n++] = metric;
    if (metric != NULL && val_loss != NULL)
      keys[n++] = val_metric;
    char title[256];
    snprintf(title, sizeof title, "densenet-train: %s", o.csv);
    if (dn_plot_history_svg(h, curve_tmp, .keys = keys, .title = title) != DN_OK) {
      runtime_error("cannot write the learning curve: %s", dn_last_error());
      remove(curve_tmp);
      goto done;
    }
  }
  if (dn_model_save(m, o.out) != DN_OK) {
    runtime_error("cannot save the model: %s", dn_last_error());
    if (curve_tmp)
      remove(curve_tmp);
    goto done;
  }
  if (curve_tmp != NULL && rename(curve_tmp, o.curve) != 0) {
    runtime_error("the model is saved to '%s', but the learning curve cannot be renamed to "
                  "'%s': %s",
                  o.out, o.curve, strerror(errno));
    remove(curve_tmp);
    goto done;
  }
  if (o.curve)
    printf("learning curve: %s\n", o.curve);
  printf("model saved: %s (it takes the %zu feature columns in file order: densenet-predict "
         "%s NEW.csv --target %s)\n",
         o.out, features, o.out, o.target ? o.target : "<the last column's name>");
  rc = 0;
done:
  free(curve_tmp);
  dn_history_free(h);
  dn_model_free(m);
  dn_dataset_free(&val);
  dn_dataset_free(&train);
  dn_dataset_free(&data);
  return rc;
}
