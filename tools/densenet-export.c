/* densenet-export.c -- command-line tool: a saved model as standalone C99 source for a device.
 *
 *   densenet-export MODEL NAME [--dir DIR]
 *   densenet-export MODEL --onnx FILE [--opset N]
 *
 * MODEL is a native file written by dn_model_save (docs/model-format.md); Keras files (.keras
 * archives, .h5 models) are read when the tool is built with the Keras interchange library
 * (DENSENET_HAVE_KERAS), as densenet-predict does. Writes DIR/NAME.h and DIR/NAME.c (DIR
 * defaults to the current directory) with dn_model_export_c: NAME_predict(x, y) for one row and
 * NAME_predict_batch(x, rows, y), which predict what dn_predict predicts on the portable backend
 * bit for bit when compiled with -ffp-contract=off (docs/deploy.md). On success one line on
 * stdout names the files. With --onnx (a build with the ONNX library, DENSENET_HAVE_ONNX) it
 * writes FILE with dn_onnx_save_with instead (or as well, when NAME is given too); ONNX models
 * (*.onnx) are read as MODEL there. Errors go to stderr on one line; the exit status is 0 on
 * success, 1 on an error (nothing is written), 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <stdlib.h>

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
    "  --dir DIR   the folder to write to (default: the current directory); it must exist\n"
#ifdef DENSENET_HAVE_ONNX
    "  --onnx FILE write the model as an ONNX file instead (NAME then optional); MODEL may be\n"
    "              an .onnx file too\n"
    "  --opset N   the ONNX opset to write (13 to 21; default 17)\n";
#else
    "  --onnx FILE needs the ONNX library (configure with -DDENSENET_ONNX=ON); not in this build\n";
#endif

int main(int argc, char **argv) {
  const char *model_path = NULL, *name = NULL, *dir = ".", *onnx = NULL;
  long opset = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (strcmp(a, "--onnx") == 0 && i + 1 < argc) {
      onnx = argv[++i];
    } else if (strcmp(a, "--opset") == 0 && i + 1 < argc) {
      char *end = NULL;
      opset = strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || opset < 1 || opset > 1000) {
        fprintf(stderr, "densenet-export: --opset takes a number, not '%s'\n%s", argv[i], USAGE);
        return 2;
      }
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
  if (model_path == NULL || (name == NULL && onnx == NULL)) {
    fputs(USAGE, stderr);
    return 2;
  }
#ifndef DENSENET_HAVE_ONNX
  if (onnx != NULL || opset != 0) {
    fprintf(stderr, "densenet-export: --onnx needs the ONNX library: this build has none "
                    "(configure with -DDENSENET_ONNX=ON)\n");
    return 1;
  }
#endif
  if (dir[0] == '\0')
    dir = ".";
  dn_model *model = load_model(model_path);
  if (model == NULL) {
    fprintf(stderr, "densenet-export: %s\n", dn_last_error());
    return 1;
  }
  int rc = 0;
#ifdef DENSENET_HAVE_ONNX
  if (onnx != NULL) {
    if (dn_onnx_save_with(model, onnx, (dn_onnx_options){.opset = (int)opset}) != DN_OK) {
      fprintf(stderr, "densenet-export: %s\n", dn_last_error());
      dn_model_free(model);
      return 1;
    }
    printf("wrote %s (%zu inputs, %zu outputs)\n", onnx, dn_model_input_dim(model),
           dn_model_output_dim(model));
  }
#endif
  if (name == NULL) {
    dn_model_free(model);
    return 0;
  }
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
