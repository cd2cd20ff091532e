/* densenet-export.c -- command-line tool: a saved model as standalone C99 source for a device.
 *
 *   densenet-export MODEL NAME [--dir DIR]
 *
 * MODEL is a native file written by dn_model_save (docs/model-format.md); Keras files (.keras
 * archives, .h5 models) are read when the tool is built with the Keras interchange library
 * (DENSENET_HAVE_KERAS), as densenet-predict does. Writes DIR/NAME.h and DIR/NAME.c (DIR
 * defaults to the current directory) with dn_model_export_c: NAME_predict(x, y) for one row and
 * NAME_predict_batch(x, rows, y), which predict what dn_predict predicts on the portable backend
 * bit for bit when compiled with -ffp-contract=off (docs/deploy.md). On success one line on
 * stdout names the files. Errors go to stderr on one line; the exit status is 0 on success, 1 on
 * an error (nothing is written), 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "densenet.h"

#include "tool_model.h"

static const char USAGE[] =
    "usage: densenet-export MODEL NAME [--dir DIR]\n"
    "Writes DIR/NAME.h and DIR/NAME.c: the model as dependency-free C99 with\n"
    "NAME_predict(x, y) and NAME_predict_batch(x, rows, y). NAME must be a C identifier.\n"
    "Compile NAME.c with -ffp-contract=off (and -lm) for dn_predict's exact outputs.\n"
#ifdef DENSENET_HAVE_KERAS
    "MODEL is a native model file (from dn_model_save) or a Keras file: a .keras archive or a\n"
    "legacy .h5 model.\n"
#else
    "MODEL is a native model file (from dn_model_save); this build reads no Keras files (.keras /\n"
    ".h5 need the Keras interchange library: configure with -DDENSENET_KERAS=ON).\n"
#endif
    "  --dir DIR   the folder to write to (default: the current directory); it must exist\n";

int main(int argc, char **argv) {
  const char *model_path = NULL, *name = NULL, *dir = ".";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (a[0] == '-') {
      fprintf(stderr, "densenet-export: unknown option or missing value: %s\n%s", a, USAGE);
      return 2;
    } else if (model_path == NULL) {
      model_path = a;
    } else if (name == NULL) {
      name = a;
    } else {
      fprintf(stderr, "densenet-export: unexpected argument: %s\n%s", a, USAGE);
      return 2;
    }
  }
  if (model_path == NULL || name == NULL) {
    fputs(USAGE, stderr);
    return 2;
  }
  if (dir[0] == '\0')
    dir = ".";
  dn_model *model = load_model(model_path);
  if (model == NULL) {
    fprintf(stderr, "densenet-export: %s\n", dn_last_error());
    return 1;
  }
  int rc = 0;
  if (dn_model_export_c(model, dir, name) != DN_OK) {
    fprintf(stderr, "densenet-export: %s\n", dn_last_error());
    rc = 1;
  } else {
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    printf("wrote %s%s%s.h and %s%s%s.c (%zu inputs, %zu outputs)\n", dir, sep, name, dir, sep,
           name, dn_model_input_dim(model), dn_model_output_dim(model));
  }
  dn_model_free(model);
  return rc;
}
