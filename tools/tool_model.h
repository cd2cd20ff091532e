/* tool_model.h -- what densenet-predict and densenet-export share: loading the model a user
 * names, a native file or (built with the Keras interchange library, DENSENET_HAVE_KERAS) a
 * .keras archive or a legacy .h5 model, told apart by their first bytes, or (built with the ONNX
 * library, DENSENET_HAVE_ONNX) an ONNX model, told by its name ending in .onnx (protobuf has no
 * magic bytes). Included once per tool.
 */
#ifndef DN_TOOL_MODEL_H
#define DN_TOOL_MODEL_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "densenet.h"

#ifdef DENSENET_HAVE_KERAS
#include "densenet_keras.h"
#endif
#ifdef DENSENET_HAVE_ONNX
#include "densenet_onnx.h"
#endif

/* The Keras hook: a zip archive (.keras) or an HDF5 file (legacy .h5) goes to the Keras loader
 * when the tool is built with it; everything else to the native loader, whose message says
 * what a file that is neither is. Only a regular file is sniffed (opening a FIFO would block):
 * the native loader refuses anything else, naming what it is. dn_keras_load parses in its
 * helper process with the default limits (densenet_keras.h): a file that crashes HDF5 is an
 * error message, not a crash here. */
static dn_model *load_model(const char *path) {
#ifdef DENSENET_HAVE_ONNX
  size_t len = strlen(path);
  if (len > 5 && strcmp(path + len - 5, ".onnx") == 0)
    return dn_onnx_load(path);
#endif
#ifdef DENSENET_HAVE_KERAS
  unsigned char head[8] = {0};
  struct stat sb;
  FILE *f = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? fopen(path, "rb") : NULL;
  if (f != NULL) {
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if ((got >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) ||
        (got == 8 && memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0))
      return dn_keras_load(path);
  }
#endif
  return dn_model_load(path);
}

#endif
