/* keras_load.c -- parsing Keras files in this process: a .keras archive or a legacy .h5 full
 * model (told apart by their first bytes) into a new model, and a .weights.h5 (or the weights of a
 * .keras) into a built model. The public dn_keras_load / dn_keras_load_weights
 * (keras_isolate.c) run these in the parser helper (keras_parse_main.c) unless asked to parse
 * in-process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "densenet_keras.h"
#include "keras/keras_io.h"
#include "model/sequential.h"
#include "core/status.h"

typedef enum file_kind { KIND_ZIP, KIND_HDF5 } file_kind;

/* Sniffs the file: a zip starts with "PK\3\4", an HDF5 file with its 8-byte signature. */
static dn_status sniff(const char *path, const char *fn, file_kind *kind, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    char reason[128];
    return dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                   dn_errno_text(errno, reason, sizeof reason));
  }
  unsigned char head[8] = {0};
  size_t n = fread(head, 1, sizeof head, f);
  long end = -1;
  if (fseek(f, 0, SEEK_END) == 0)
    end = ftell(f);
  fclose(f);
  if (end < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot read '%s'", fn, path);
  *size = (size_t)end;
  if (n >= 4 && memcmp(head, "PK\3\4", 4) == 0)
    *kind = KIND_ZIP;
  else if (n == DN_KERAS_HDF5_SIGNATURE_LEN &&
           memcmp(head, dn_keras_hdf5_signature, DN_KERAS_HDF5_SIGNATURE_LEN) == 0)
    *kind = KIND_HDF5;
  else
    return dn_fail(DN_ERR_FORMAT, "%s: '%s' is neither a .keras archive nor an HDF5 file", fn,
                   path);
  return DN_OK;
}

static cJSON *parse_member(const dn_keras_blob *b, const char *fn) {
  cJSON *j = cJSON_ParseWithLength((const char *)b->data, b->size);
  if (j == NULL && dn_keras_json_failed()) /* dn_keras_zip_read began the JSON session */
    return dn_fail_null(DN_ERR_NOMEM, "%s: out of memory parsing member '%s'", fn, b->name);
  if (j == NULL)
    return dn_fail_null(DN_ERR_FORMAT, "%s: member '%s' is not valid JSON (near byte %zu)", fn,
                        b->name, (size_t)(cJSON_GetErrorPtr() - (const char *)b->data));
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return dn_fail_null(DN_ERR_FORMAT, "%s: member '%s' is not a JSON object", fn, b->name);
  }
  return j;
}

static dn_model *load_archive(const char *path, const char *fn) {
  dn_keras_blob m[3] = {
      {"config.json", NULL, 0}, {"model.weights.h5", NULL, 0}, {"metadata.json", NULL, 0}};
  const bool optional[3] = {false, false, true};
  dn_status st = dn_keras_zip_read(path, fn, m, optional, 3);
  if (st != DN_OK)
    return NULL;
  dn_model *model = NULL;
  cJSON *config = parse_member(&m[0], fn), *meta = NULL;
  if (config != NULL && m[2].data != NULL)
    meta = parse_member(&m[2], fn);
  hid_t h5 = -1;
  if (config != NULL && (m[2].data == NULL || meta != NULL))
    h5 = dn_keras_h5_open_image(m[1].data, m[1].size, fn, "member 'model.weights.h5'");
  if (h5 >= 0)
    model = dn_keras_model_from_json(config, fn, m[1].size / sizeof(float));
  if (model != NULL) {
    const cJSON *cc = dn_keras_json_get(config, "compile_config");
    st = DN_OK;
    if (cJSON_IsObject(cc))
      st = dn_keras_compile_from_json(model, dn_keras_json_get(cc, "optimizer"),
                                      dn_keras_json_get(cc, "loss"),
                                      dn_keras_json_get(cc, "metrics"), fn, "compile_config");
    else if (!dn_keras_json_is_null(cc))
      st = dn_fail(DN_ERR_FORMAT, "%s: config.json: 'compile_config' is not an object", fn);
    if (st == DN_OK)
      st = dn_keras_state_read(model, h5, true, fn);
    if (st != DN_OK) {
      dn_model_free(model);
      model = NULL;
    }
  }
  if (h5 >= 0)
    H5Fclose(h5);
  cJSON_Delete(config);
  cJSON_Delete(meta);
  for (size_t i = 0; i < 3; i++)
    dn_keras_blob_free(&m[i]);
  return model;
}

dn_model *dn_keras_load_in_process(const char *path) {
  const char *fn = "dn_keras_load";
  if (path == NULL)
    return dn_fail_null(DN_ERR_ARG, "%s: path is NULL", fn);
  file_kind kind;
  size_t size = 0;
  if (sniff(path, fn, &kind, &size) != DN_OK)
    return NULL;
  dn_keras_h5_quiet q;
  dn_keras_h5_quiet_begin(&q);
  dn_model *model = NULL;
  if (kind == KIND_ZIP) {
    model = load_archive(path, fn);
  } else {
    hid_t h5 = dn_keras_h5_open_file(path, fn);
    if (h5 >= 0) {
      if (dn_keras_h5_is_group(h5, "layers") || dn_keras_h5_is_group(h5, "vars"))
        dn_fail(DN_ERR_FORMAT,
                "%s: '%s' is a weights-only file (.weights.h5): build the model and use "
                "dn_keras_load_weights",
                fn, path);
      else
        model = dn_keras_legacy_load(h5, fn, size / sizeof(float));
      H5Fclose(h5);
    }
  }
  dn_keras_h5_quiet_end(&q);
  return model;
}

dn_status dn_keras_load_weights_in_process(dn_model *model, const char *path) {
  const char *fn = "dn_keras_load_weights";
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "path");
  dn_status st = dn_seq_require_built(model, fn);
  if (st != DN_OK)
    return st;
  file_kind kind;
  size_t size = 0;
  if ((st = sniff(path, fn, &kind, &size)) != DN_OK)
    return st;
  dn_keras_h5_quiet q;
  dn_keras_h5_quiet_begin(&q);
  dn_keras_blob blob = {"model.weights.h5", NULL, 0};
  hid_t h5 = -1;
  if (kind == KIND_ZIP) {
    const bool required = false;
    st = dn_keras_zip_read(path, fn, &blob, &required, 1);
    if (st == DN_OK) {
      h5 = dn_keras_h5_open_image(blob.data, blob.size, fn, "member 'model.weights.h5'");
      if (h5 < 0)
        st = dn_last_status();
    }
  } else {
    h5 = dn_keras_h5_open_file(path, fn);
    if (h5 < 0)
      st = dn_last_status();
  }
  if (st == DN_OK && !dn_keras_h5_is_group(h5, "layers") &&
      dn_keras_h5_is_group(h5, "model_weights"))
    st = dn_keras_legacy_read_weights(model, h5, fn); /* a legacy .h5 model or weights file */
  else if (st == DN_OK)
    st = dn_keras_state_read(model, h5, true, fn);
  if (h5 >= 0)
    H5Fclose(h5);
  dn_keras_blob_free(&blob);
  dn_keras_h5_quiet_end(&q);
  return st;
}
