/* train_check.c -- the ctest of densenet-train: trains on the shipped data (examples/data/
 * concrete.csv for regression, ionosphere.csv for classification) in a scratch folder, loads the
 * model it writes, checks that densenet-predict's output is dn_predict's (text for text) and
 * that the Normalization layer was adapted on the training rows only; then the error exits:
 * usage errors (2), data and runtime errors (1), each one line on stderr, with no output file
 * left behind and an existing one unchanged.
 *   train_check TRAIN_TOOL PREDICT_TOOL WORKDIR DATADIR
 * Ends with "N passed, M failed"; the exit status is 0 only if every check passed (77, skipped,
 * when DATADIR lacks the two files).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "densenet.h"
#include "tool_check.h"

static const char *train_tool, *predict_tool, *data_dir;

static char *data(const char *name) {
  return join(data_dir, name);
}

static int run(const char *args) {
  return run_tool(train_tool, args, true);
}

static bool output_has(const char *needle) {
  char *out = read_text(path("stdout.txt"));
  bool ok = out && strstr(out, needle) != NULL;
  if (!ok)
    fprintf(stderr, "stdout lacks '%s'\n", needle);
  free(out);
  return ok;
}

/* Loads `csv` with `target` as the target column and compares densenet-predict's output on it
 * with dn_predict's values printed the same way (%.9g). */
static void check_predict(dn_model *m, const char *model_file, const char *csv, const char *target,
                          const char *what) {
  dn_dataset d = {0};
  if (dn_csv_load(csv, &d, .target_names = (const char *const[]){target, NULL}) != DN_OK) {
    check(0, dn_last_error());
    return;
  }
  size_t rows = dn_tensor_rows(d.x), out = dn_model_output_dim(m);
  float *y = calloc(rows * out, sizeof *y);
  size_t cap = rows * out * 20 + 256, len = 0;
  char *want = malloc(cap);
  if (y == NULL || want == NULL || dn_predict(m, d.x, dn_tensor_2d(y, rows, out)) != DN_OK) {
    check(0, "dn_predict on the data");
  } else {
    if (out == 1) /* the --target name heads the column */
      len += (size_t)snprintf(want, cap, "%s\n", target);
    else /* several outputs: pred_0, pred_1, ... */
      for (size_t j = 0; j < out; j++)
        len += (size_t)snprintf(want + len, cap - len, "%spred_%zu%s", j ? "," : "", j,
                                j + 1 < out ? "" : "\n");
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < out; j++)
        len += (size_t)snprintf(want + len, cap - len, "%.9g%s", (double)y[i * out + j],
                                j + 1 < out ? "," : "\n");
    char args[4096];
    if (out > 1) /* the target names one column; several outputs take the default header */
      snprintf(args, sizeof args, "'%s' '%s' --features $(head -1 '%s' | cut -d, -f1-%zu)",
               model_file, csv, csv, dn_model_input_dim(m));
    else
      snprintf(args, sizeof args, "'%s' '%s' --target %s", model_file, csv, target);
    char msg[256];
    snprintf(msg, sizeof msg, "%s: densenet-predict exits 0", what);
    check(run_tool(predict_tool, args, true) == 0, msg);
    char *got = read_text(path("stdout.txt"));
    snprintf(msg, sizeof msg, "%s: densenet-predict writes dn_predict's values", what);
    check(got && strcmp(got, want) == 0, msg);
    free(got);
  }
  free(want);
  free(y);
  dn_dataset_free(&d);
}

/* Loads a model file the tool wrote: its layers and widths. */
static dn_model *load_checked(const char *file, size_t in, size_t out, const char *what) {
  dn_model *m = dn_model_load(file);
  char msg[256];
  snprintf(msg, sizeof msg, "%s: the model loads", what);
  check(m != NULL, msg);
  if (m == NULL) {
    fprintf(stderr, "%s\n", dn_last_error());
    return NULL;
  }
  snprintf(msg, sizeof msg, "%s: Normalization first, %zu inputs, %zu outputs", what, in, out);
  check(strcmp(dn_layer_type(dn_model_layer(m, 0)), "Normalization") == 0 &&
            dn_model_input_dim(m) == in && dn_model_output_dim(m) == out,
        msg);
  return m;
}

/* The Normalization mean (the first `cols` weights) equals the column means of the first
 * `train_rows` rows of x (computed in double, as adapt does), and differs from the mean over
 * every row. */
static void check_adapted_on(dn_model *m, dn_tensor x, size_t train_rows) {
  size_t cols = dn_tensor_cols(x), rows = dn_tensor_rows(x), n = dn_model_count_params(m);
  float *w = malloc(n * sizeof *w);
  if (w == NULL || dn_model_get_weights(m, w, n) != DN_OK) {
    check(0, "get the weights");
    free(w);
    return;
  }
  bool equal = true, differs = false;
  for (size_t j = 0; j < cols; j++) {
    double s = 0, all = 0;
    for (size_t i = 0; i < rows; i++) {
      all += x.data[i * cols + j];
      if (i < train_rows)
        s += x.data[i * cols + j];
    }
    equal &= w[j] == (float)(s / (double)train_rows);
    differs |= w[j] != (float)(all / (double)rows);
  }
  check(equal, "Normalization's mean is the mean of the training rows");
  check(differs, "... which is not the mean of every row (validation rows left out)");
  free(w);
}

static bool same_file(const char *a, const char *b) {
  char *x = read_text(a), *y = read_text(b);
  struct stat sa, sb;
  bool ok = x && y && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_size == sb.st_size &&
            memcmp(x, y, (size_t)sa.st_size) == 0;
  free(x);
  free(y);
  return ok;
}

/* A failing run: the exit status, one line on stderr holding `needle`, and no file at `out`. */
static void check_fails(const char *args, int rc, const char *needle, const char *what) {
  char msg[512];
  remove(path("none.dnn"));
  int got = run(args);
  snprintf(msg, sizeof msg, "%s: exits %d (got %d)", what, rc, got);
  check(got == rc, msg);
  snprintf(msg, sizeof msg, "%s: one line on stderr naming the problem", what);
  check(stderr_one_line("densenet-train: ", needle), msg);
  snprintf(msg, sizeof msg, "%s: no model file written", what);
  check(!file_exists(path("none.dnn")), msg);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s TRAIN_TOOL PREDICT_TOOL WORKDIR DATADIR\n", argv[0]);
    return 2;
  }
  train_tool = argv[1];
  predict_tool = argv[2];
  dir = argv[3];
  data_dir = argv[4];
  if (!file_exists(data("concrete.csv")) || !file_exists(data("ionosphere.csv"))) {
    printf("SKIP: %s lacks concrete.csv or ionosphere.csv (shipped in examples/data/)\n", data_dir);
    return 77;
  }
  char cmd[2048], args[4096];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
  if (system(cmd) != 0)
    return 1;

  /* ---- regression on concrete: Keras's validation_split rows (the last 206 of 1030) ---- */
  snprintf(args, sizeof args,
           "'%s' --loss mae --layers 16,8 --epochs 3 --validation-last --seed 7 --verbose 2 "
           "--curve '%s' --out '%s'",
           data("concrete.csv"), path("concrete.svg"), path("concrete.dnn"));
  check(run(args) == 0, "concrete: exits 0");
  check(output_has("Epoch 3/3") && output_has(" - loss: ") && output_has(" - val_loss: "),
        "concrete: Keras's progress lines (verbose 2)");
  check(output_has("Total params: ") && output_has("normalization (Normalization)"),
        "concrete: the model summary");
  check(output_has("824 training and 206 validation rows"), "concrete: the split is reported");
  check(output_has("validation (206 rows): loss "), "concrete: the validation loss is reported");
  char *svg = read_text(path("concrete.svg"));
  check(svg && strstr(svg, "<svg") && strstr(svg, "val_loss") && strstr(svg, "</svg>"),
        "concrete: the learning curve SVG holds loss and val_loss");
  free(svg);
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'tmp'", dir);
  check(system(cmd) != 0, "concrete: no temporary file left");
  dn_model *m = load_checked(path("concrete.dnn"), 8, 1, "concrete");
  dn_dataset d = {0};
  if (m != NULL &&
      dn_csv_load(data("concrete.csv"), &d,
                  .target_names = (const char *const[]){"CompressiveStrength", NULL}) == DN_OK) {
    check_adapted_on(m, d.x, 824);
    check(dn_model_count_params(m) == 8 * 2 + 1 + 8 * 16 + 16 + 16 * 8 + 8 + 8 + 1,
          "concrete: --layers 16,8 gives Dense(16), Dense(8), Dense(1)");
  }
  dn_dataset_free(&d);
  if (m != NULL)
    check_predict(m, path("concrete.dnn"), data("concrete.csv"), "CompressiveStrength", "concrete");
  dn_model_free(m);

  /* The same seed gives the same model file, byte for byte; the default shuffled split too. */
  snprintf(args, sizeof args,
           "'%s' --loss mae --layers 16,8 --epochs 3 --validation-last --seed 7 --verbose 0 "
           "--out '%s'",
           data("concrete.csv"), path("concrete2.dnn"));
  check(run(args) == 0 && same_file(path("concrete.dnn"), path("concrete2.dnn")),
        "concrete: the same seed writes the same model file");
  snprintf(args, sizeof args,
           "'%s' --target CompressiveStrength --layers 8 --epochs 2 --verbose 0 --out '%s'",
           data("concrete.csv"), path("shuffled.dnn"));
  check(run(args) == 0 && output_has("validation (206 rows)"),
        "concrete: the default split holds out 206 random rows");
  m = load_checked(path("shuffled.dnn"), 8, 1, "concrete, shuffled split");
  dn_model_free(m);

  /* ---- classification on ionosphere ---- */
  snprintf(args, sizeof args,
           "'%s' --target Class --loss binary_crossentropy --layers 4,4 --epochs 40 "
           "--patience 5 --seed 3 --verbose 1 --curve '%s' --out '%s'",
           data("ionosphere.csv"), path("ion.svg"), path("ion.dnn"));
  check(run(args) == 0, "ionosphere: exits 0");
  check(output_has("binary_accuracy: ") && output_has("val_binary_accuracy: "),
        "ionosphere: the progress reports the accuracy");
  check(output_has("validation (70 rows): loss ") && output_has(", binary_accuracy 0."),
        "ionosphere: the final validation accuracy");
  char *err = read_text(path("stderr.txt"));
  check(err && strstr(err, "note: 1 feature column is constant on the training rows") &&
            strstr(err, "feature 2 of 34"),
        "ionosphere: the constant column V2 is noted");
  free(err);
  svg = read_text(path("ion.svg"));
  check(svg && strstr(svg, "val_binary_accuracy"), "ionosphere: the curve holds the accuracy");
  free(svg);
  m = load_checked(path("ion.dnn"), 34, 1, "ionosphere");
  if (m != NULL) {
    size_t last = dn_model_layer_count(m) - 1;
    check(dn_model_layer_count(m) == 4 &&
              strcmp(dn_layer_type(dn_model_layer(m, last)), "Dense") == 0,
          "ionosphere: Normalization, Dense(4), Dense(4), Dense(1)");
    float x[34] = {0}, y = -1;
    check(dn_predict(m, dn_tensor_2d(x, 1, 34), dn_tensor_2d(&y, 1, 1)) == DN_OK && y > 0 && y < 1,
          "ionosphere: the sigmoid output is a probability");
    check_predict(m, path("ion.dnn"), data("ionosphere.csv"), "Class", "ionosphere");
  }
  dn_model_free(m);
  snprintf(args, sizeof args,
           "'%s' --loss sparse_categorical_crossentropy --layers 8 --epochs 5 --verbose 0 "
           "--out '%s'",
           data("ionosphere.csv"), path("ion2.dnn"));
  check(run(args) == 0 && output_has("sparse_categorical_accuracy 0."),
        "ionosphere, sparse labels (the last column by default): exits 0 with the accuracy");
  m = load_checked(path("ion2.dnn"), 34, 2, "ionosphere, two classes");
  if (m != NULL) {
    float x[34] = {0}, y[2] = {0};
    check(dn_predict(m, dn_tensor_2d(x, 1, 34), dn_tensor_2d(y, 1, 2)) == DN_OK &&
              fabsf(y[0] + y[1] - 1) < 1e-6f,
          "ionosphere: the softmax outputs sum to 1");
    check_predict(m, path("ion2.dnn"), data("ionosphere.csv"), "Class", "ionosphere, 2 classes");
  }
  dn_model_free(m);

  /* ---- help and version ---- */
  check(run("--help") == 0 && output_has("usage: densenet-train") &&
            output_has("--validation-split") && output_has("--patience"),
        "--help exits 0 with the usage");
  check(run("--version") == 0 && output_has("densenet-train (libdensenet) "),
        "--version exits 0 with the version");

  /* ---- usage errors: exit 2 ---- */
  char none[1024];
  snprintf(none, sizeof none, "%s", path("none.dnn"));
  char concrete[1024];
  snprintf(concrete, sizeof concrete, "%s", data("concrete.csv"));
  struct {
    const char *extra, *needle;
  } usage[] = {
      {"--epochs 0", "--epochs needs a whole number"},
      {"--epochs 1x", "--epochs needs a whole number"},
      {"--layers 4,,4", "--layers needs widths"},
      {"--validation-split 1", "--validation-split needs a number in [0, 1)"},
      {"--learning-rate -1", "--learning-rate needs a positive number"},
      {"--verbose 3", "--verbose needs auto, 0, 1 or 2"},
      {"--loss maex", "unknown loss 'maex'"},
      {"--activation relux", "unknown activation 'relux'"},
      {"--output-activation sigmoidx", "unknown activation 'sigmoidx'"},
      {"--optimizer adamx", "unknown optimizer 'adamx'"},
      {"--loss categorical_crossentropy", "sparse_categorical_crossentropy"},
      {"--validation-split 0 --patience 3", "--patience needs a validation split"},
      {"--frobnicate", "unknown option '--frobnicate'"},
      {"extra.csv", "unexpected argument 'extra.csv'"},
  };
  for (size_t i = 0; i < sizeof usage / sizeof *usage; i++) {
    snprintf(args, sizeof args, "'%s' --out '%s' %s", concrete, none, usage[i].extra);
    check_fails(args, 2, usage[i].needle, usage[i].extra);
  }
  snprintf(args, sizeof args, "'%s'", concrete);
  check_fails(args, 2, "no --out FILE given", "no --out");
  snprintf(args, sizeof args, "--out '%s'", none);
  check_fails(args, 2, "no CSV file given", "no CSV");
  snprintf(args, sizeof args, "'%s' --out", concrete);
  check_fails(args, 2, "--out needs a value", "--out without a value");
  snprintf(args, sizeof args, "'%s' --out '%s' --curve '%s'", concrete, none, none);
  check_fails(args, 2, "name the same file", "--curve = --out");

  /* ---- data errors: exit 1, the file and the numbers named ---- */
  snprintf(args, sizeof args, "'%s' --out '%s' --loss binary_crossentropy", concrete, none);
  check_fails(args, 1,
              "--loss binary_crossentropy needs a target of 0 and 1, but 1030 of 1030 rows",
              "bce on a real-valued target");
  write_text(path("classes.csv"), "a,b,label\n1,2,0\n3,4,1\n5,6,2.5\n7,8,1\n9,1,0\n");
  snprintf(args, sizeof args, "'%s' --out '%s' --loss scce --validation-split 0",
           path("classes.csv"), none);
  check_fails(args, 1,
              "but 1 of 5 rows of the last column hold other values (the first on line 4: "
              "2.5; the values run from 0 to 2.5)",
              "scce on a fractional label");
  write_text(path("letters.csv"), "a,b,label\n1,2,g\n3,4,b\n");
  snprintf(args, sizeof args, "'%s' --out '%s'", path("letters.csv"), none);
  check_fails(args, 1,
              "line 2, column 3 (\"label\"): malformed number \"g\" (the CSV must hold "
              "numbers only: encode class labels as 0, 1, ...",
              "a text target");
  write_text(path("ragged.csv"), "a,b,y\n1,2,3\n4,5\n");
  snprintf(args, sizeof args, "'%s' --out '%s'", path("ragged.csv"), none);
  check_fails(args, 1, "line 3", "a ragged row");
  write_text(path("empty.csv"), "");
  snprintf(args, sizeof args, "'%s' --out '%s'", path("empty.csv"), none);
  check_fails(args, 1, "cannot read the CSV", "an empty file");
  write_text(path("one.csv"), "y\n1\n2\n3\n");
  snprintf(args, sizeof args, "'%s' --out '%s'", path("one.csv"), none);
  check_fails(args, 1, "has 1 column; it needs at least one feature and the target",
              "a single column");
  write_text(path("tiny.csv"), "a,y\n1,2\n3,4\n");
  snprintf(args, sizeof args, "'%s' --out '%s' --validation-split 0.1", path("tiny.csv"), none);
  check_fails(args, 1, "--validation-split 0.1 of 2 rows leaves 2 training and 0 validation",
              "a split without validation rows");
  snprintf(args, sizeof args, "'%s' --out '%s' --target Nope", concrete, none);
  check_fails(args, 1, "no column named \"Nope\"", "an unknown --target");
  snprintf(args, sizeof args, "'%s' --out '%s'", path("missing.csv"), none);
  check_fails(args, 1, "missing.csv", "a missing CSV");
  snprintf(args, sizeof args, "/dev/zero --out '%s'", none);
  check_fails(args, 1, "is not a regular file", "a device as the CSV");
  snprintf(args, sizeof args, "'%s' --out '%s'", concrete, path("no_dir/m.dnn"));
  check_fails(args, 1, "the folder", "--out in a missing folder");
  check(!file_exists(path("no_dir")), "--out in a missing folder: nothing created");
  snprintf(args, sizeof args, "'%s' --out '%s' --curve '%s'", concrete, none, path("no_dir/c.svg"));
  check_fails(args, 1, "--curve", "--curve in a missing folder");
  snprintf(args, sizeof args, "'%s' --out '%s'", concrete, dir);
  check_fails(args, 1, "is a directory", "--out naming a folder");
  /* A failure in training (the loss overflows) writes neither the model nor the curve. */
  snprintf(args, sizeof args,
           "'%s' --out '%s' --curve '%s' --optimizer sgd --learning-rate 1e30 --epochs 5 "
           "--verbose 0",
           concrete, none, path("none.svg"));
  check_fails(args, 1, "training failed", "a diverging fit");
  check(!file_exists(path("none.svg")), "a diverging fit: no curve written");
  /* An existing model file is left unchanged by a failing run. */
  write_text(path("keep.dnn"), "an earlier model\n");
  snprintf(args, sizeof args, "'%s' --out '%s' --loss binary_crossentropy --curve '%s'", concrete,
           path("keep.dnn"), path("keep.svg"));
  check(run(args) == 1, "a failing run over an existing model exits 1");
  char *kept = read_text(path("keep.dnn"));
  check(kept && strcmp(kept, "an earlier model\n") == 0, "... and leaves the file unchanged");
  free(kept);
  check(!file_exists(path("keep.svg")), "... and writes no curve");

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
