/* fuzz_model_load.c -- libFuzzer harness for the native model loader (src/io/model_file_read.c).
 *
 * Each input is decoded three ways: as given (so the header, length and checksum checks are
 * fuzzed), with its length field and CRC-32 repaired (so the fuzzer reaches the section and
 * record parsers behind the checksum), and as weights into a fixed model. Invariants checked:
 *   - a failure is DN_ERR_FORMAT or DN_ERR_NOMEM with a message that gives a byte offset;
 *   - a failed dn_model_load_weights leaves the model's weights unchanged;
 *   - a model that loads can be encoded, that encoding decodes, and encoding is then stable;
 *   - a loaded model with small widths predicts without error.
 * Build: clang -fsanitize=fuzzer,address,undefined with the library sources (.ci/fuzz.d/model.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "densenet.h"
#include "io/model_file.h"
#include "model/sequential.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(const char *what) {
  dn_status st = dn_last_status();
  if ((st != DN_ERR_FORMAT && st != DN_ERR_NOMEM) ||
      (st == DN_ERR_FORMAT && strstr(dn_last_error(), "byte offset") == NULL)) {
    fprintf(stderr, "%s: unexpected failure %s: %s\n", what, dn_status_string(st), dn_last_error());
    abort();
  }
}

static void exercise(dn_model *m) {
  uint8_t *a = NULL, *b = NULL;
  size_t la = 0, lb = 0;
  if (dn_mf_encode(m, DN_MF_KIND_MODEL, true, "fuzz", &a, &la) != DN_OK) {
    if (dn_last_status() == DN_ERR_NOMEM)
      return;
    fprintf(stderr, "a loaded model does not encode: %s\n", dn_last_error());
    abort();
  }
  dn_model *again = dn_mf_decode_model(a, la, "re-encoded");
  if (again == NULL) {
    fprintf(stderr, "a re-encoded model does not load: %s\n", dn_last_error());
    abort();
  }
  if (dn_mf_encode(again, DN_MF_KIND_MODEL, true, "fuzz", &b, &lb) != DN_OK || la != lb ||
      memcmp(a, b, la) != 0) {
    fprintf(stderr, "encoding is not stable across a round trip\n");
    abort();
  }
  dn_free(a);
  dn_free(b);
  dn_model_free(again);

  /* Predict one row when every width is small (huge widths are legal but need memory). */
  size_t in = dn_model_input_dim(m), out = dn_model_output_dim(m);
  bool small = in > 0 && in <= 64 && out > 0 && out <= 64;
  for (size_t i = 0; small && i < m->n_layers; i++)
    small = m->layers[i]->output_dim <= 64;
  if (small) {
    float x[64] = {0}, y[64];
    for (size_t i = 0; i < in; i++)
      x[i] = (float)i - 1.5f;
    if (dn_predict(m, dn_tensor_2d(x, 1, in), dn_tensor_2d(y, 1, out)) != DN_OK &&
        dn_last_status() != DN_ERR_NOMEM) {
      fprintf(stderr, "a loaded model does not predict: %s\n", dn_last_error());
      abort();
    }
  }
}

static dn_model *target(void) {
  static dn_model *model;
  if (model == NULL)
    model = dn_sequential(dn_dense(2, .input_dim = 2), dn_batch_normalization(), dn_dropout(0.5));
  return model;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dn_model *m = dn_mf_decode_model(data, size, "fuzz");
  if (m == NULL)
    check_failure("as given");
  else {
    exercise(m);
    dn_model_free(m);
  }

  if (size >= DN_MF_HEADER_LEN + DN_MF_CRC_LEN && size < (1u << 20)) {
    uint8_t *copy = malloc(size);
    if (copy == NULL)
      return 0;
    memcpy(copy, data, size);
    for (int i = 0; i < 8; i++)
      copy[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    uint32_t crc = dn_crc32(0, copy, size - DN_MF_CRC_LEN);
    for (int i = 0; i < 4; i++)
      copy[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    m = dn_mf_decode_model(copy, size, "repaired");
    if (m == NULL)
      check_failure("repaired");
    else {
      exercise(m);
      dn_model_free(m);
    }

    dn_model *t = target();
    if (t != NULL) {
      float before[16], after[16];
      size_t n = dn_model_count_params(t);
      if (n > 16)
        abort();
      dn_model_get_weights(t, before, n);
      if (dn_mf_decode_weights(t, copy, size, "weights") != DN_OK) {
        check_failure("weights");
        dn_model_get_weights(t, after, n);
        if (memcmp(before, after, n * sizeof(float)) != 0) {
          fprintf(stderr, "a failed load_weights changed the model\n");
          abort();
        }
      }
    }
    free(copy);
  }
  return 0;
}
