/* keras_save.c -- dn_keras_save: a model as a .keras archive (metadata.json, config.json,
 * model.weights.h5, in that order, stored uncompressed), as Keras 3.16's saving_lib writes one. */
#define _POSIX_C_SOURCE 200809L /* strnlen, localtime_r */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "densenet_keras.h"
#include "io/file.h"
#include "keras/keras_io.h"
#include "model/sequential.h"
#include "training/callbacks.h"
#include "core/status.h"

dn_status dn_keras_json_text(cJSON *j, const char *name, const char *fn, dn_keras_blob *out) {
  char *text = cJSON_PrintUnformatted(j);
  if (text == NULL)
    return dn_fail(DN_ERR_NOMEM, "%s: out of memory writing %s", fn, name);
  size_t n = strlen(text), extra = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < n; i++) {
    char c = text[i];
    if (in_string) {
      escaped = !escaped && c == '\\';
      in_string = escaped || c != '"';
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == ':') {
      extra++;
    }
  }
  out->name = name;
  out->data = dn_alloc(n + extra + 1);
  if (out->data == NULL) {
    cJSON_free(text);
    return DN_ERR_NOMEM;
  }
  size_t k = 0;
  in_string = escaped = false;
  for (size_t i = 0; i < n; i++) {
    char c = text[i];
    out->data[k++] = (unsigned char)c;
    if (in_string) {
      escaped = !escaped && c == '\\';
      in_string = escaped || c != '"';
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == ':') {
      out->data[k++] = ' ';
    }
  }
  out->data[k] = '\0';
  out->size = k;
  cJSON_free(text);
  return DN_OK;
}

dn_status dn_keras_h5_save_file(const dn_model *model, const char *path, dn_keras_h5_filler fill,
                                const char *fn) {
  dn_keras_h5_quiet q;
  dn_keras_h5_quiet_begin(&q);
  unsigned char *bytes = NULL;
  size_t size = 0;
  hid_t h5 = dn_keras_h5_create_image(fn);
  dn_status st = h5 < 0 ? dn_last_status() : fill(model, h5, fn);
  if (st == DN_OK)
    st = dn_keras_h5_image_bytes(h5, fn, &bytes, &size);
  if (h5 >= 0)
    H5Fclose(h5);
  dn_keras_h5_quiet_end(&q);
  if (st == DN_OK)
    st = dn_file_write_atomic(path, bytes, size, fn);
  dn_free(bytes);
  return st;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

dn_status dn_keras_save(const dn_model *model, const char *path) {
  const char *fn = "dn_keras_save";
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "path");
  dn_keras_register();
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5"))
    return dn_keras_legacy_save(model, path, fn);
  if (!ends_with(path, ".keras"))
    return dn_fail(DN_ERR_ARG, "%s: '%s' must end in .keras, .h5 or .hdf5", fn, path);
  dn_keras_json_begin();
  cJSON *config = dn_keras_model_to_json(model, fn);
  if (config == NULL)
    return dn_last_status();
  if (dn_keras_json_failed()) { /* a member cJSON could not add, unseen by its caller */
    cJSON_Delete(config);
    return dn_fail(DN_ERR_NOMEM, "%s: out of memory writing config.json", fn);
  }
  dn_keras_blob m[3] = {
      {"metadata.json", NULL, 0}, {"config.json", NULL, 0}, {"model.weights.h5", NULL, 0}};
  dn_status st = dn_keras_json_text(config, "config.json", fn, &m[1]);
  cJSON_Delete(config);
  if (st == DN_OK) {
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL ||
        strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", &tm) == 0)
      snprintf(date, sizeof date, "1970-01-01@00:00:00");
    cJSON *meta = cJSON_CreateObject();
    if (meta == NULL ||
        cJSON_AddStringToObject(meta, "keras_version", DN_KERAS_LAYOUT_VERSION) == NULL ||
        cJSON_AddStringToObject(meta, "date_saved", date) == NULL)
      st = dn_fail(DN_ERR_NOMEM, "%s: out of memory writing metadata.json", fn);
    if (st == DN_OK)
      st = dn_keras_json_text(meta, "metadata.json", fn, &m[0]);
    cJSON_Delete(meta);
    if (st == DN_OK && dn_keras_json_failed())
      st = dn_fail(DN_ERR_NOMEM, "%s: out of memory writing metadata.json", fn);
  }
  dn_keras_h5_quiet q;
  dn_keras_h5_quiet_begin(&q);
  if (st == DN_OK) {
    hid_t h5 = dn_keras_h5_create_image(fn);
    if (h5 < 0) {
      st = dn_last_status();
    } else {
      st = dn_keras_state_write(model, h5, fn);
      if (st == DN_OK)
        st = dn_keras_h5_image_bytes(h5, fn, &m[2].data, &m[2].size);
      H5Fclose(h5);
    }
  }
  dn_keras_h5_quiet_end(&q);
  if (st == DN_OK)
    st = dn_keras_zip_write(path, fn, m, 3);
  for (size_t i = 0; i < 3; i++)
    dn_keras_blob_free(&m[i]);
  /* an allocation deep inside says only "out of memory allocating N bytes" */
  if (st == DN_ERR_NOMEM && strncmp(dn_last_error(), fn, strlen(fn)) != 0)
    dn_error_context(fn);
  return st;
}

dn_status dn_keras_save_weights(const dn_model *model, const char *path) {
  const char *fn = "dn_keras_save_weights";
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "path");
  dn_keras_register();
  if (!ends_with(path, ".weights.h5"))
    return dn_fail(DN_ERR_ARG, "%s: '%s' must end in .weights.h5", fn, path);
  if (dn_seq_require_built(model, fn) != DN_OK)
    return dn_last_status();
  return dn_keras_h5_save_file(model, path, dn_keras_state_write, fn);
}

/* ModelCheckpoint's writer for Keras paths (training/callbacks.h). */
static dn_status checkpoint_writer(const dn_model *model, const char *path, bool weights_only) {
  return weights_only ? dn_keras_save_weights(model, path) : dn_keras_save(model, path);
}

void dn_keras_register(void) {
  dn_checkpoint_set_keras_writer(checkpoint_writer);
}
