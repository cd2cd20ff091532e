/* common.c -- the helpers every example program shares: command-line parsing, a seeded random
 * generator for synthetic data, loading and splitting the data, the steps around
 * model.compile, the plots, output paths, accuracy numbers, and the accuracy protocol of
 * ../shared/bench/ACCURACY.md run step by step (see common.h).
 */
#define _POSIX_C_SOURCE 200809L /* getline, mkdir, clock_gettime */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#if defined(__SSE__) || defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define DN_EX_HAVE_MXCSR 1
#endif

/* ---- command line ------------------------------------------------------------------------ */

/* What --protocol means in the three regression examples (dn_ex_start with a protocol name). */
static const char ACCURACY_PROTOCOL_HELP[] =
    "  --protocol      run the fixed accuracy protocol of shared/bench/ACCURACY.md for\n"
    "                  --seed on the real data set, and print the validation MAE\n"
    "  --protocol-all  the same for seeds 0..4, with the median\n"
    "  --splits DIR    folder of the protocol's split files (default " DN_EXAMPLES_SHARED_DIR
    "/bench/splits)\n";

static void print_usage(FILE *to, const char *program, const char *about, size_t epochs,
                        const char *protocol_help) {
  fprintf(to,
          "usage: %s [options]%s\n\n%s\n\n"
          "options:\n"
          "  --epochs N      training epochs (default %zu)\n"
          "  --seed S        random seed for weights, shuffling and splits (default 0)\n"
          "  --out DIR       folder for the SVG plots and saved model (default \".\")\n",
          program, protocol_help ? " [data.csv]" : "", about, epochs);
  if (protocol_help != NULL)
    fprintf(to,
            "  --data DIR      folder of the real data sets (default: $DENSENET_DATA, else the\n"
            "                  shipped copy, %s,\n"
            "                  else the installed one, %s)\n"
            "  --synthetic     train on the synthetic stand-in even when the real file is there\n"
            "%s",
            DN_EXAMPLES_DATA_DIR, DN_EXAMPLES_INSTALLED_DATA_DIR, protocol_help);
  fprintf(to, "  --quiet         no per-epoch progress lines\n"
              "  --help          this text\n");
}

/* Parses a whole non-negative decimal integer; false on anything else. */
static bool parse_count(const char *text, uint64_t *value) {
  if (text == NULL || *text < '0' || *text > '9')
    return false;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *value = (uint64_t)v;
  return true;
}

/* Parses argv into *args. Returns -1 to continue, else the exit code (0 after --help, 2 after a
 * usage error, both already printed). */
static int parse_args(int argc, char **argv, const char *about, size_t default_epochs,
                      const char *protocol_help, dn_ex_args *args) {
  const char *program = argc > 0 ? argv[0] : "example";
  *args = (dn_ex_args){.epochs = default_epochs, .out_dir = ".", .invoked = program};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      print_usage(stdout, program, about, default_epochs, protocol_help);
      return 0;
    } else if (strcmp(a, "--epochs") == 0) {
      if (!parse_count(value, &n) || n == 0) {
        fprintf(stderr, "%s: --epochs needs a positive whole number, got '%s'\n", program,
                value ? value : "");
        return 2;
      }
      args->epochs = (size_t)n;
      args->epochs_given = true;
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (!parse_count(value, &n)) {
        fprintf(stderr, "%s: --seed needs a whole number >= 0, got '%s'\n", program,
                value ? value : "");
        return 2;
      }
      args->seed = n;
      args->seed_given = true;
      i++;
    } else if (strcmp(a, "--out") == 0 || strcmp(a, "--splits") == 0 || strcmp(a, "--data") == 0) {
      if (value == NULL || *value == '\0') {
        fprintf(stderr, "%s: %s needs a folder\n", program, a);
        return 2;
      }
      if (a[2] == 'o')
        args->out_dir = value;
      else if (a[2] == 's')
        args->splits_dir = value;
      else
        args->data_dir = value;
      i++;
    } else if (strcmp(a, "--protocol") == 0) {
      args->protocol = true;
    } else if (strcmp(a, "--protocol-all") == 0) {
      args->protocol_all = true;
    } else if (strcmp(a, "--synthetic") == 0) {
      args->synthetic = true;
    } else if (strcmp(a, "--quiet") == 0) {
      args->quiet = true;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "%s: unknown option '%s' (try --help)\n", program, a);
      return 2;
    } else if (args->csv == NULL) {
      args->csv = a;
    } else {
      fprintf(stderr, "%s: more than one data file given ('%s' and '%s')\n", program, args->csv, a);
      return 2;
    }
  }
  return -1;
}

int dn_ex_parse(const char *program, int argc, char **argv, const char *about,
                size_t default_epochs, const char *protocol_help, dn_ex_args *args) {
  int code = parse_args(argc, argv, about, default_epochs, protocol_help, args);
  if (code >= 0)
    return code;
  bool wants_data = args->protocol || args->protocol_all || args->csv != NULL ||
                    args->data_dir != NULL || args->synthetic || args->splits_dir != NULL;
  if (protocol_help == NULL && wants_data) {
    fprintf(stderr,
            "%s: this example makes its own data; data files, --data, --synthetic and the "
            "protocols are for concrete, red_wine, fuel_economy and ionosphere\n",
            program);
    return 2;
  }
  if (args->synthetic && (args->csv != NULL || args->data_dir != NULL)) {
    fprintf(stderr, "%s: --synthetic makes its own data; it takes no data file or --data\n",
            program);
    return 2;
  }
  return -1;
}

int dn_ex_start(const char *program, int argc, char **argv, const char *about,
                size_t default_epochs, const char *protocol, dn_ex_args *args) {
  int code = dn_ex_parse(program, argc, argv, about, default_epochs,
                         protocol != NULL ? ACCURACY_PROTOCOL_HELP : NULL, args);
  if (code >= 0)
    return code;
  if (protocol != NULL && args->synthetic && (args->protocol || args->protocol_all)) {
    fprintf(stderr, "%s: the accuracy protocol runs on the real data, not --synthetic\n", program);
    return 2;
  }
  if (protocol != NULL && (args->protocol || args->protocol_all))
    return dn_ex_run_protocol(program, protocol, args);
  return -1;
}

/* ---- small helpers ----------------------------------------------------------------------- */

void dn_ex_rng_seed(dn_ex_rng *rng, uint64_t seed) {
  rng->state = seed ^ 0x5851f42d4c957f2dULL;
}

static uint64_t next_u64(dn_ex_rng *rng) { /* splitmix64 */
  uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double dn_ex_uniform(dn_ex_rng *rng, double lo, double hi) {
  double u = (double)(next_u64(rng) >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * u;
}

double dn_ex_normal(dn_ex_rng *rng) {
  double u1 = dn_ex_uniform(rng, 0.0, 1.0), u2 = dn_ex_uniform(rng, 0.0, 1.0);
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

char *dn_ex_out_path(const char *out_dir, const char *file, char *buf, size_t cap) {
  struct stat st;
  if (stat(out_dir, &st) != 0) {
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
      fprintf(stderr, "cannot create the output folder '%s': %s\n", out_dir, strerror(errno));
      return NULL;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    fprintf(stderr, "the output path '%s' is not a folder\n", out_dir);
    return NULL;
  }
  int len = snprintf(buf, cap, "%s/%s", out_dir, file);
  if (len < 0 || (size_t)len >= cap) {
    fprintf(stderr, "the output path '%s/%s' is too long\n", out_dir, file);
    return NULL;
  }
  return buf;
}

int dn_ex_fail(const char *program, const char *what) {
  fprintf(stderr, "%s: %s: %s\n", program, what, dn_last_error());
  return 1;
}

double dn_ex_mae(dn_model *model, dn_tensor x, dn_tensor y) {
  size_t rows = dn_tensor_rows(x);
  float *pred = malloc(rows * sizeof *pred);
  if (pred == NULL) {
    fprintf(stderr, "out of memory for %zu predictions\n", rows);
    return NAN;
  }
  double sum = 0.0;
  if (dn_predict(model, x, dn_tensor_2d(pred, rows, 1)) != DN_OK) {
    dn_ex_fail("predict", "dn_predict failed");
    free(pred);
    return NAN;
  }
  for (size_t i = 0; i < rows; i++)
    sum += fabs((double)pred[i] - (double)y.data[i]);
  free(pred);
  return sum / (double)rows;
}

bool dn_ex_report_int8(const char *program, dn_model *model, dn_tensor train_x, dn_tensor valid_x,
                       dn_tensor valid_y, double fp32_mae, const char *unit) {
  dn_model *q = dn_model_quantize(model, train_x);
  if (q == NULL) {
    dn_ex_fail(program, "quantizing the model to int8");
    return false;
  }
  double int8_mae = dn_ex_mae(q, valid_x, valid_y);
  dn_model_free(q);
  if (isnan(int8_mae))
    return false;
  double drift = 100.0 * (int8_mae - fp32_mae) / fp32_mae;
  printf("int8 model: validation MAE %.3f %s (fp32 %.3f; int8 %.2f %% %s)\n", int8_mae, unit,
         fp32_mae, fabs(drift), drift > 0.0 ? "higher" : "lower");
  return true;
}

double dn_ex_mean_baseline_mae(dn_tensor train_y, dn_tensor y) {
  size_t train_rows = dn_tensor_rows(train_y), rows = dn_tensor_rows(y);
  double mean = 0.0, sum = 0.0;
  for (size_t i = 0; i < train_rows; i++)
    mean += train_y.data[i];
  mean /= (double)train_rows;
  for (size_t i = 0; i < rows; i++)
    sum += fabs((double)y.data[i] - mean);
  return sum / (double)rows;
}

bool dn_ex_file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return false;
  fclose(f);
  return true;
}

/* Writes "<dir>/<file>" into buf; false (after a message) when it does not fit. */
static bool join_path(const char *program, const char *dir, const char *file, char *buf,
                      size_t cap) {
  int len = snprintf(buf, cap, "%s/%s", dir, file);
  if (len < 0 || (size_t)len >= cap) {
    fprintf(stderr, "%s: the path '%s/%s' is too long\n", program, dir, file);
    return false;
  }
  return true;
}

dn_ex_where dn_ex_data_path(const char *program, const dn_ex_args *args, const char *file,
                            char *buf, size_t cap) {
  if (args->csv != NULL) {
    if (strlen(args->csv) >= cap) {
      fprintf(stderr, "%s: the path '%s' is too long\n", program, args->csv);
      return DN_EX_DATA_ERROR;
    }
    memcpy(buf, args->csv, strlen(args->csv) + 1);
    return DN_EX_DATA_FOUND; /* the loader reports a file that is not there */
  }
  /* A folder the user named (--data, else $DENSENET_DATA) must hold the file. */
  const char *chosen = args->data_dir;
  const char *how = "--data";
  if (chosen == NULL) {
    const char *env = getenv("DENSENET_DATA");
    if (env != NULL && *env != '\0') {
      chosen = env;
      how = "DENSENET_DATA";
    }
  }
  if (chosen != NULL) {
    if (!join_path(program, chosen, file, buf, cap))
      return DN_EX_DATA_ERROR;
    if (!dn_ex_file_exists(buf)) {
      fprintf(stderr, "%s: %s is not in the data folder %s names ('%s')\n", program, file, how,
              chosen);
      return DN_EX_DATA_ERROR;
    }
    return DN_EX_DATA_FOUND;
  }
  /* The shipped copy in the source tree, then the installed one. */
  const char *const dirs[] = {DN_EXAMPLES_DATA_DIR, DN_EXAMPLES_INSTALLED_DATA_DIR};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    if (!join_path(program, dirs[i], file, buf, cap))
      return DN_EX_DATA_ERROR;
    if (dn_ex_file_exists(buf))
      return DN_EX_DATA_FOUND;
  }
  return DN_EX_DATA_ABSENT;
}

bool dn_ex_require_data(const char *program, const dn_ex_args *args, const char *file, char *buf,
                        size_t cap) {
  dn_ex_where where = dn_ex_data_path(program, args, file, buf, cap);
  if (where == DN_EX_DATA_ABSENT)
    fprintf(stderr, "%s: %s is in neither %s nor %s; pass its path or --data DIR\n", program, file,
            DN_EXAMPLES_DATA_DIR, DN_EXAMPLES_INSTALLED_DATA_DIR);
  return where == DN_EX_DATA_FOUND;
}

void dn_ex_flush_denormals(void) {
#ifdef DN_EX_HAVE_MXCSR
  _mm_setcsr(_mm_getcsr() | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}

double dn_ex_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the steps of the lesson's workflow ------------------------------------------------------ */

/* Fills *all from the real data file (dn_ex_data_path) or, with --synthetic or when the file is
 * nowhere to be found, with the synthetic stand-in (generated into owning tensors), and prints
 * where the rows came from. */
static bool load_rows(const char *program, const dn_ex_data *d, const dn_ex_args *args,
                      dn_dataset *all) {
  char path[4096];
  dn_ex_where where = args->synthetic ? DN_EX_DATA_ABSENT
                                      : dn_ex_data_path(program, args, d->file, path, sizeof path);
  if (where == DN_EX_DATA_ERROR)
    return false;
  if (where == DN_EX_DATA_FOUND) {
    if (dn_csv_load(path, all, .feature_names = d->features, .target_names = d->target) != DN_OK) {
      dn_ex_fail(program, "loading the data");
      return false;
    }
    size_t n_features = dn_tensor_cols(all->x);
    if (n_features != d->n_columns) { /* possible when features is NULL */
      fprintf(stderr, "%s: %s has %zu input columns besides '%s'; the %s layout has %zu\n", program,
              path, n_features, d->target[0], d->layout, d->n_columns);
      dn_dataset_free(all);
      return false;
    }
    printf("Loaded %zu %s from %s\n", dn_tensor_rows(all->x), d->noun, path);
    return true;
  }
  size_t rows = d->synthetic_rows;
  *all = (dn_dataset){0};
  if (dn_tensor_new_2d(&all->x, rows, d->n_columns) != DN_OK ||
      dn_tensor_new_2d(&all->y, rows, 1) != DN_OK) {
    dn_ex_fail(program, "making the synthetic data");
    dn_dataset_free(all);
    return false;
  }
  d->synthesize(args->seed, all->x.data, all->y.data, rows);
  if (args->synthetic)
    printf("--synthetic: ");
  else
    printf("%s is in neither %s nor %s: ", d->file, DN_EXAMPLES_DATA_DIR,
           DN_EXAMPLES_INSTALLED_DATA_DIR);
  printf("using a SYNTHETIC %s data set of %zu %s (%s).\nFor the real data pass the UCI file "
         "(%s %s) or its folder (--data DIR).\n",
         d->synthetic, rows, d->synthetic_noun, d->synthetic_how, args->invoked, d->file);
  return true;
}

bool dn_ex_load_and_split(const char *program, const dn_ex_data *d, const dn_ex_args *args,
                          dn_dataset *train, dn_dataset *valid) {
  dn_dataset all = {0};
  if (!load_rows(program, d, args, &all))
    return false;
  /* The model's inputs: the columns as they are, or as encode turns them into n_inputs (a new
   * x beside the same y). */
  dn_dataset inputs = all;
  bool encoded = true;
  if (d->encode != NULL) {
    size_t rows = dn_tensor_rows(all.x);
    inputs.x = (dn_tensor){0};
    if (dn_tensor_new_2d(&inputs.x, rows, d->n_inputs) != DN_OK) {
      dn_ex_fail(program, "encoding the data");
      encoded = false;
    } else {
      encoded = d->encode(all.x.data, rows, inputs.x.data);
    }
  }
  dn_status st = encoded ? dn_train_test_split(&inputs, 0.2, args->seed, train, valid) : DN_OK;
  if (d->encode != NULL)
    dn_tensor_free(&inputs.x);
  dn_dataset_free(&all);
  if (!encoded)
    return false;
  if (st != DN_OK) {
    dn_ex_fail(program, "splitting the data");
    return false;
  }
  return true;
}

bool dn_ex_seed_and_adapt(const char *program, dn_model *model, uint64_t seed, dn_layer *norm,
                          const dn_dataset *train) {
  if (model == NULL) {
    dn_ex_fail(program, "building the model");
    return false;
  }
  if (dn_model_set_seed(model, seed) != DN_OK ||
      (norm != NULL && dn_normalization_adapt(norm, train->x) != DN_OK)) {
    dn_ex_fail(program, "preparing the model");
    return false;
  }
  return true;
}

/* After writing `path`: prints "<label>: <path>" when st is DN_OK, else "<program>: writing
 * the <label>: <error>". Returns whether it was written. */
static bool report_written(const char *program, dn_status st, const char *label, const char *path) {
  if (st != DN_OK) {
    fprintf(stderr, "%s: writing the %s: %s\n", program, label, dn_last_error());
    return false;
  }
  printf("%s: %s\n", label, path);
  return true;
}

bool dn_ex_write_learning_curves(const char *program, const dn_ex_args *args, const char *file,
                                 dn_plot_history_svg_options plot) {
  char path[4096];
  if (dn_ex_out_path(args->out_dir, file, path, sizeof path) == NULL)
    return false;
  plot.path = path;
  return report_written(program, dn_plot_history_svg_with(plot), "learning curves", path);
}

bool dn_ex_write_plot(const char *program, const dn_ex_args *args, const char *file,
                      dn_plot_svg_options plot) {
  char path[4096];
  if (dn_ex_out_path(args->out_dir, file, path, sizeof path) == NULL)
    return false;
  plot.path = path;
  return report_written(program, dn_plot_svg_with(plot), "plot", path);
}

/* ---- the accuracy protocol --------------------------------------------------------------- */

/* One data set's protocol settings. */
typedef struct dn_ex_protocol {
  const char *name;     /* split file stem: "concrete", "winequality-red", "auto-mpg" */
  const char *file;     /* data file name in <shared>/data */
  size_t target_column; /* 0-based CSV column of the target */
  int onehot_column;    /* 0-based column one-hot encoded into onehot_levels columns, or -1 */
  size_t onehot_levels; /* values 1..onehot_levels */
  size_t epochs, batch_size;
  const char *unit; /* target unit for the printout ("MPa") */
} dn_ex_protocol;

/* The three data sets of ACCURACY.md, one row each. */
static const dn_ex_protocol PROTOCOLS[] = {
    {.name = "concrete",
     .file = "concrete.csv",
     .target_column = 8,
     .onehot_column = -1,
     .epochs = 200,
     .batch_size = 32,
     .unit = "MPa"},
    {.name = "winequality-red",
     .file = "winequality-red.csv",
     .target_column = 11,
     .onehot_column = -1,
     .epochs = 100,
     .batch_size = 256,
     .unit = "quality points"},
    {.name = "auto-mpg",
     .file = "auto-mpg.csv",
     .target_column = 0,
     .onehot_column = 7,
     .onehot_levels = 3,
     .epochs = 300,
     .batch_size = 32,
     .unit = "mpg"},
};

/* A numeric CSV read into doubles with strtod (ACCURACY.md section 1). */
typedef struct table {
  size_t rows, cols;
  double *cells;
} table;

static bool read_table(const char *path, table *t) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "cannot open '%s': %s\n", path, strerror(errno));
    return false;
  }
  char *line = NULL;
  size_t line_cap = 0, cap = 0;
  ssize_t len;
  *t = (table){0};
  bool ok = true, header = true;
  size_t line_no = 0;
  while (ok && (len = getline(&line, &line_cap, f)) >= 0) {
    line_no++;
    if (header) { /* the column count comes from the header */
      header = false;
      t->cols = 1;
      for (const char *p = line; *p; p++)
        t->cols += *p == ',';
      continue;
    }
    if (len == 0 || line[0] == '\n' || line[0] == '\r')
      continue;
    if ((t->rows + 1) * t->cols > cap) {
      size_t new_cap = cap ? 2 * cap : 1024 * t->cols;
      double *grown = realloc(t->cells, new_cap * sizeof *grown);
      if (grown == NULL) {
        fprintf(stderr, "out of memory reading '%s'\n", path);
        ok = false;
        break;
      }
      t->cells = grown;
      cap = new_cap;
    }
    char *p = line;
    for (size_t c = 0; c < t->cols; c++) {
      char *end = NULL;
      double v = strtod(p, &end);
      char want = c + 1 < t->cols ? ',' : '\0';
      if (end == p ||
          (want == ',' ? *end != ',' : (*end != '\0' && *end != '\n' && *end != '\r'))) {
        fprintf(stderr, "%s:%zu: column %zu is not a number (this mode reads plain numeric CSV)\n",
                path, line_no, c + 1);
        ok = false;
        break;
      }
      t->cells[t->rows * t->cols + c] = v;
      p = end + 1;
    }
    t->rows++;
  }
  free(line);
  fclose(f);
  if (ok && t->rows == 0) {
    fprintf(stderr, "'%s' has no data rows\n", path);
    ok = false;
  }
  if (!ok) {
    free(t->cells);
    *t = (table){0};
  }
  return ok;
}

/* Reads the permutation of line "seed S:" from the split file into perm (n entries). */
static bool read_split(const char *path, uint64_t seed, size_t n, size_t *perm) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "cannot open the split file '%s': %s\n", path, strerror(errno));
    return false;
  }
  char *line = NULL;
  size_t line_cap = 0;
  bool found = false, ok = false;
  char prefix[64];
  snprintf(prefix, sizeof prefix, "seed %llu:", (unsigned long long)seed);
  while (!found && getline(&line, &line_cap, f) >= 0) {
    if (strncmp(line, prefix, strlen(prefix)) != 0)
      continue;
    found = true;
    char *p = line + strlen(prefix);
    size_t count = 0;
    for (;;) {
      char *end = NULL;
      unsigned long long v = strtoull(p, &end, 10);
      if (end == p)
        break;
      if (count == n || v >= n) {
        count = n + 1;
        break;
      }
      perm[count++] = (size_t)v;
      p = end;
    }
    ok = count == n;
    if (!ok)
      fprintf(stderr, "%s: the line for seed %llu is not a permutation of %zu rows\n", path,
              (unsigned long long)seed, n);
  }
  if (!found)
    fprintf(stderr, "%s: no line for seed %llu\n", path, (unsigned long long)seed);
  free(line);
  fclose(f);
  return ok;
}

/* One protocol run's results. */
typedef struct run_result {
  double final_mae, last10_mae, best_mae;
  size_t best_epoch; /* 1-based */
  double seconds;
} run_result;

/* Builds the standardized float inputs and targets for the rows perm[0..n) (ACCURACY.md
 * sections 1 and 3): features are every column but the target and the one-hot column, in
 * order, then the one-hot columns. mean/std come from the first n_train rows of perm. */
static bool build_inputs(const dn_ex_protocol *p, const table *t, const size_t *perm,
                         size_t n_train, size_t n_in, float *x, float *y) {
  size_t n = t->rows;
  double *raw = malloc(n * n_in * sizeof *raw);
  if (raw == NULL)
    return false;
  for (size_t r = 0; r < n; r++) {
    const double *src = t->cells + perm[r] * t->cols;
    double *dst = raw + r * n_in;
    size_t k = 0;
    for (size_t c = 0; c < t->cols; c++)
      if (c != p->target_column && (int)c != p->onehot_column)
        dst[k++] = src[c];
    for (size_t level = 1; level <= p->onehot_levels; level++)
      dst[k++] = src[p->onehot_column] == (double)level ? 1.0 : 0.0;
    y[r] = (float)src[p->target_column];
  }
  for (size_t j = 0; j < n_in; j++) {
    double mean = 0.0, ss = 0.0;
    for (size_t r = 0; r < n_train; r++)
      mean += raw[r * n_in + j];
    mean /= (double)n_train;
    for (size_t r = 0; r < n_train; r++) {
      double d = raw[r * n_in + j] - mean;
      ss += d * d;
    }
    double sd = sqrt(ss / (double)n_train);
    if (sd < 1e-7)
      sd = 1e-7;
    for (size_t r = 0; r < n; r++)
      x[r * n_in + j] = (float)((raw[r * n_in + j] - mean) / sd);
  }
  free(raw);
  return true;
}

static int run_one(const char *program, const dn_ex_protocol *p, const table *t,
                   const char *split_path, uint64_t seed, size_t epochs, bool verbose,
                   run_result *res) {
  size_t n = t->rows, n_train = 4 * n / 5, n_val = n - n_train;
  size_t n_in = t->cols - 1 - (p->onehot_column >= 0 ? 1 : 0) + p->onehot_levels;
  size_t *perm = malloc(n * sizeof *perm);
  float *x = malloc(n * n_in * sizeof *x), *y = malloc(n * sizeof *y);
  int code = 1;
  dn_model *model = NULL;
  dn_history *history = NULL;
  if (perm == NULL || x == NULL || y == NULL) {
    fprintf(stderr, "%s: out of memory\n", program);
    goto done;
  }
  if (!read_split(split_path, seed, n, perm))
    goto done;
  if (!build_inputs(p, t, perm, n_train, n_in, x, y)) {
    fprintf(stderr, "%s: out of memory\n", program);
    goto done;
  }

  /* Section 4: Dense(512, relu) x 3 -> Dense(1); Glorot-uniform kernels, zero biases (the
   * Keras defaults). */
  model = dn_sequential(dn_dense(512, .activation = "relu", .input_dim = n_in),
                        dn_dense(512, .activation = "relu"), dn_dense(512, .activation = "relu"),
                        dn_dense(1));
  if (model == NULL) {
    code = dn_ex_fail(program, "building the model");
    goto done;
  }
  /* Sections 5-6: MAE and Keras Adam (lr 1e-3, betas 0.9/0.999, epsilon 1e-7). */
  if (dn_model_set_seed(model, seed) != DN_OK ||
      dn_compile(model, .optimizer = "adam", .loss = "mae") != DN_OK) {
    code = dn_ex_fail(program, "compiling");
    goto done;
  }
  /* Section 7: fixed epochs and batch size, reshuffled every epoch, last partial batch kept;
   * section 8: the validation rows evaluated after every epoch. */
  dn_tensor all_x = dn_tensor_2d(x, n, n_in), all_y = dn_tensor_2d(y, n, 1);
  dn_tensor train_x = dn_tensor_slice_rows(all_x, 0, n_train),
            train_y = dn_tensor_slice_rows(all_y, 0, n_train);
  dn_tensor valid_x = dn_tensor_slice_rows(all_x, n_train, n_val),
            valid_y = dn_tensor_slice_rows(all_y, n_train, n_val);
  double start = dn_ex_now();
  history = dn_fit(model, train_x, train_y, .epochs = epochs, .batch_size = p->batch_size,
                   .validation_x = valid_x, .validation_y = valid_y,
                   .verbose = verbose ? DN_VERBOSE_LINES : DN_VERBOSE_SILENT);
  res->seconds = dn_ex_now() - start;
  if (history == NULL) {
    code = dn_ex_fail(program, "training");
    goto done;
  }
  /* final: predictions in float32, the mean absolute error in double. */
  res->final_mae = dn_ex_mae(model, valid_x, valid_y);
  const double *val = dn_history_values(history, "val_loss");
  size_t len = dn_history_length(history);
  if (val == NULL || len == 0 || isnan(res->final_mae)) {
    fprintf(stderr, "%s: no validation results\n", program);
    goto done;
  }
  size_t from = len > 10 ? len - 10 : 0;
  res->last10_mae = 0.0;
  for (size_t e = from; e < len; e++)
    res->last10_mae += val[e] / (double)(len - from);
  res->best_mae = val[0];
  res->best_epoch = 1;
  for (size_t e = 1; e < len; e++)
    if (val[e] < res->best_mae) {
      res->best_mae = val[e];
      res->best_epoch = e + 1;
    }
  code = 0;
done:
  dn_history_free(history);
  dn_model_free(model);
  free(perm);
  free(x);
  free(y);
  return code;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int dn_ex_run_protocol(const char *program, const char *name, const dn_ex_args *args) {
  const dn_ex_protocol *p = NULL;
  for (size_t i = 0; i < sizeof PROTOCOLS / sizeof PROTOCOLS[0]; i++)
    if (strcmp(PROTOCOLS[i].name, name) == 0)
      p = &PROTOCOLS[i];
  if (p == NULL) {
    fprintf(stderr, "%s: no accuracy protocol for the data set '%s'\n", program, name);
    return 1;
  }
  char csv[4096], split_path[4096];
  if (!dn_ex_require_data(program, args, p->file, csv, sizeof csv))
    return 1;
  if (args->splits_dir)
    snprintf(split_path, sizeof split_path, "%s/%s.txt", args->splits_dir, p->name);
  else
    snprintf(split_path, sizeof split_path, "%s/bench/splits/%s.txt", DN_EXAMPLES_SHARED_DIR,
             p->name);
  table t;
  if (!read_table(csv, &t))
    return 1;
  if (p->target_column >= t.cols || (p->onehot_column >= 0 && (size_t)p->onehot_column >= t.cols)) {
    fprintf(stderr, "%s: %s has %zu columns; the %s layout needs column %zu as the target\n",
            program, csv, t.cols, p->name, p->target_column + 1);
    free(t.cells);
    return 1;
  }
  size_t epochs = args->epochs_given ? args->epochs : p->epochs;
  printf("Accuracy protocol (shared/bench/ACCURACY.md) on %s: %zu rows, %zu train / %zu "
         "validation, 3 x Dense(512, relu), Adam, MAE, batch %zu, %zu epochs%s\n",
         csv, t.rows, 4 * t.rows / 5, t.rows - 4 * t.rows / 5, p->batch_size, epochs,
         epochs != p->epochs ? " (NOT the protocol's epoch count)" : "");
  fflush(stdout);
  dn_ex_flush_denormals();
  uint64_t first = args->protocol_all ? 0 : args->seed, last = args->protocol_all ? 4 : args->seed;
  double finals[5], last10s[5], bests[5];
  size_t runs = 0;
  int code = 0;
  for (uint64_t s = first; s <= last; s++) {
    run_result r = {0};
    code = run_one(program, p, &t, split_path, s, epochs, !args->protocol_all && !args->quiet, &r);
    if (code != 0)
      break;
    printf("seed %llu: validation MAE %.4f %s (last-10 avg %.4f, best %.4f at epoch %zu), "
           "%.1f s\n",
           (unsigned long long)s, r.final_mae, p->unit, r.last10_mae, r.best_mae, r.best_epoch,
           r.seconds);
    fflush(stdout);
    finals[runs] = r.final_mae;
    last10s[runs] = r.last10_mae;
    bests[runs] = r.best_mae;
    runs++;
  }
  if (code == 0 && runs > 1) {
    double lo = finals[0], hi = finals[0];
    for (size_t i = 1; i < runs; i++) {
      lo = finals[i] < lo ? finals[i] : lo;
      hi = finals[i] > hi ? finals[i] : hi;
    }
    double m_final = median(finals, runs), m_last10 = median(last10s, runs),
           m_best = median(bests, runs);
    printf("median over %zu seeds: validation MAE %.4f %s [%.4f-%.4f] (last-10 avg %.4f, "
           "best %.4f)\n",
           runs, m_final, p->unit, lo, hi, m_last10, m_best);
  }
  free(t.cells);
  return code;
}
