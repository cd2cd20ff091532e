/* densenet-predict.c -- command-line tool: load a saved model, read a CSV of inputs, write the
 * model's predictions as CSV. The way to deploy a trained model without writing C.
 *
 *   densenet-predict MODEL CSV [--out FILE] [--features A,B,...] [--target T,...]
 *                    [--delimiter C] [--no-header]
 *
 * MODEL is a native file written by dn_model_save (docs/model-format.md); Keras files (.keras
 * archives, .h5 models) are read when the tool is built with the Keras interchange library
 * (DENSENET_HAVE_KERAS: see load_model in tool_model.h), and the usage text says which this build
 * reads. Columns: by default every column of the CSV is a feature, in file order. --features names
 * the feature columns (in the order the model expects them); --target names target columns, which
 * are then not features (unless --features says otherwise) and give the output header.
 * Output: a header row (the --target names, or pred_0, pred_1, ...) and one row per input row,
 * each value printed with 9 significant digits (enough to read back the exact float32), to
 * stdout or to --out FILE. CSV may be "-" (standard input) or a pipe (a FIFO, a shell's <(...));
 * other special files (/dev/zero, devices) are refused, and the CSV limits of dn_csv_load
 * (1 MiB per record, 1 GiB in all) bound what a stream can make the tool read. The model must be
 * a regular file. Errors go to stderr; the exit status is 0 on success, 1 on an error,
 * 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L /* S_ISSOCK */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "densenet.h"

#include "tool_model.h"

static const char USAGE[] =
    "usage: densenet-predict MODEL CSV [--out FILE] [--features A,B,...] [--target T,...]\n"
    "                        [--delimiter C] [--no-header]\n"
    "Writes the predictions of MODEL for every row of CSV. MODEL is a native model file (from\n"
#ifdef DENSENET_HAVE_KERAS
    "dn_model_save) or a Keras file: a .keras archive or a legacy .h5 model.\n"
#else
    "dn_model_save); this build reads no Keras files (.keras / .h5 need the Keras interchange\n"
    "library: configure with -DDENSENET_KERAS=ON).\n"
#endif
    "CSV may be - (standard input) or a pipe; at most 1 MiB per row and 1 GiB in all.\n"
    "  --out FILE       write to FILE instead of standard output\n"
    "  --features LIST  comma-separated feature columns, in the model's input order\n"
    "                   (default: every column that is not a --target, in file order)\n"
    "  --target LIST    target columns: excluded from the features, names of the output columns\n"
    "                   (default header: pred_0, pred_1, ...)\n"
    "  --delimiter C    field separator (default ',')\n"
    "  --no-header      the CSV has no header row (all columns are features)\n";

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "densenet-predict: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  return 1;
}

/* Splits "a,b,c" into a NULL-terminated list (one allocation holding pointers and text). */
static const char **split_list(const char *text, size_t *count) {
  size_t n = 1, len = strlen(text);
  for (size_t i = 0; i < len; i++)
    n += text[i] == ',';
  char **list = malloc((n + 1) * sizeof *list + len + 1);
  if (list == NULL)
    return NULL;
  char *copy = (char *)(list + n + 1);
  memcpy(copy, text, len + 1);
  size_t k = 0;
  list[k++] = copy;
  for (char *p = copy; *p; p++)
    if (*p == ',') {
      *p = '\0';
      list[k++] = p + 1;
    }
  list[k] = NULL;
  *count = n;
  return (const char **)list;
}

static int write_predictions(FILE *out, const float *y, size_t rows, size_t cols,
                             const char *const *names) {
  for (size_t j = 0; j < cols; j++) {
    if (names != NULL)
      fprintf(out, "%s%s", j ? "," : "", names[j]);
    else
      fprintf(out, "%spred_%zu", j ? "," : "", j);
  }
  fputc('\n', out);
  for (size_t i = 0; i < rows; i++) {
    for (size_t j = 0; j < cols; j++)
      fprintf(out, "%s%.9g", j ? "," : "", (double)y[i * cols + j]);
    fputc('\n', out);
  }
  return ferror(out) ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *csv_path = NULL, *out_path = NULL;
  const char *features_arg = NULL, *target_arg = NULL;
  char delimiter = 0;
  bool no_header = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if (strcmp(a, "--out") == 0 && has_value) {
      out_path = argv[++i];
    } else if (strcmp(a, "--features") == 0 && has_value) {
      features_arg = argv[++i];
    } else if (strcmp(a, "--target") == 0 && has_value) {
      target_arg = argv[++i];
    } else if (strcmp(a, "--delimiter") == 0 && has_value && strlen(argv[i + 1]) == 1) {
      delimiter = argv[++i][0];
    } else if (strcmp(a, "--no-header") == 0) {
      no_header = true;
    } else if (a[0] == '-' && a[1] != '\0') { /* ("-" alone is standard input) */
      fprintf(stderr, "densenet-predict: unknown option or missing value: %s\n%s", a, USAGE);
      return 2;
    } else if (model_path == NULL) {
      model_path = a;
    } else if (csv_path == NULL) {
      csv_path = a;
    } else {
      fprintf(stderr, "densenet-predict: unexpected argument: %s\n%s", a, USAGE);
      return 2;
    }
  }
  if (model_path == NULL || csv_path == NULL) {
    fputs(USAGE, stderr);
    return 2;
  }
  if (no_header && (features_arg || target_arg)) {
    fprintf(stderr, "densenet-predict: --features and --target name header columns; they "
                    "cannot be used with --no-header\n");
    return 2;
  }

  const char **features = NULL, **targets = NULL;
  size_t n_feature_names = 0, n_target_names = 0;
  if ((features_arg && (features = split_list(features_arg, &n_feature_names)) == NULL) ||
      (target_arg && (targets = split_list(target_arg, &n_target_names)) == NULL))
    return fail("out of memory", NULL);

  int rc = 1;
  dn_dataset data = {0};
  float *y = NULL;
  dn_model *model = load_model(model_path);
  if (model == NULL) {
    fail("cannot load the model", dn_last_error());
    goto done;
  }
  size_t in = dn_model_input_dim(model), out_dim = dn_model_output_dim(model);
  if (in == 0 || out_dim == 0) {
    fail("the model has no input shape (it was saved before being built)", model_path);
    goto done;
  }
  if (targets != NULL && n_target_names != out_dim) {
    fprintf(stderr, "densenet-predict: the model has %zu outputs but --target names %zu columns\n",
            out_dim, n_target_names);
    goto done;
  }
  /* "-" and pipes are streams the user asked for; devices such as /dev/zero are not. */
  struct stat sb;
  bool stdin_csv = strcmp(csv_path, "-") == 0;
  bool stream =
      stdin_csv || (stat(csv_path, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)));
  if (dn_csv_load(stdin_csv ? "/dev/stdin" : csv_path, &data, .feature_names = features,
                  .target_names = targets, .delimiter = delimiter, .no_header = no_header,
                  .allow_stream = stream) != DN_OK) {
    fail("cannot read the CSV", dn_last_error());
    goto done;
  }
  size_t rows = dn_tensor_rows(data.x), cols = dn_tensor_cols(data.x);
  if (cols != in) {
    fprintf(stderr,
            "densenet-predict: the model takes %zu features but %s gives %zu (choose the columns "
            "with --features/--target)\n",
            in, csv_path, cols);
    goto done;
  }
  if (rows > 0) {
    if (rows > (size_t)-1 / sizeof(float) / out_dim ||
        (y = malloc(rows * out_dim * sizeof *y)) == NULL) {
      fail("out of memory", NULL);
      goto done;
    }
    if (dn_predict(model, data.x, dn_tensor_2d(y, rows, out_dim)) != DN_OK) {
      fail("prediction failed", dn_last_error());
      goto done;
    }
  }
  FILE *out = stdout;
  if (out_path != NULL && (out = fopen(out_path, "w")) == NULL) {
    fprintf(stderr, "densenet-predict: cannot create the output file '%s': %s\n", out_path,
            strerror(errno));
    goto done;
  }
  int werr = write_predictions(out, y, rows, out_dim, targets);
  if (out != stdout)
    werr |= fclose(out) != 0;
  else
    werr |= fflush(out) != 0;
  if (werr) {
    fail("writing the predictions failed", out_path ? out_path : "standard output");
    goto done;
  }
  rc = 0;
done:
  free(y);
  dn_dataset_free(&data);
  dn_model_free(model);
  free(features);
  free(targets);
  return rc;
}
