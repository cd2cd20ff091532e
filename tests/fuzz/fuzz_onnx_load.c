/* fuzz_onnx_load.c -- libFuzzer harness for the ONNX reader (src/onnx/onnx_load.c, through
 * protobuf-c's parser of the generated onnx.pb-c.c).
 *
 * Each input is given to dn_onnx_load_buffer. Invariants checked:
 *   - a failure is DN_ERR_FORMAT, DN_ERR_UNSUPPORTED or DN_ERR_NOMEM, with a message;
 *   - a model that loads has a known input width and predicts one row without error when its
 *     widths are small.
 * Build: clang -fsanitize=fuzzer,address,undefined with the library sources (.ci/fuzz.d/onnx.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "densenet.h"
#include "densenet_onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dn_model *m = dn_onnx_load_buffer(data, size);
  if (m == NULL) {
    dn_status st = dn_last_status();
    if ((st != DN_ERR_FORMAT && st != DN_ERR_UNSUPPORTED && st != DN_ERR_NOMEM) ||
        dn_last_error()[0] == '\0') {
      fprintf(stderr, "unexpected failure %s: %s\n", dn_status_string(st), dn_last_error());
      abort();
    }
    return 0;
  }
  size_t in = dn_model_input_dim(m), out = dn_model_output_dim(m);
  if (in == 0 || out == 0) {
    fprintf(stderr, "a loaded model without widths (%zu, %zu)\n", in, out);
    abort();
  }
  if (in <= 4096 && out <= 4096) {
    float *x = calloc(in, sizeof *x), *y = calloc(out, sizeof *y);
    if (x && y && dn_predict(m, dn_tensor_2d(x, 1, in), dn_tensor_2d(y, 1, out)) != DN_OK &&
        dn_last_status() != DN_ERR_NOMEM) {
      fprintf(stderr, "a loaded model does not predict: %s\n", dn_last_error());
      abort();
    }
    free(x);
    free(y);
  }
  dn_model_free(m);
  return 0;
}
