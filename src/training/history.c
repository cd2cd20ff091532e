/* history.c -- dn_history: per-epoch values of every logged key (Keras's History callback,
 * keras/src/callbacks/history.py) and its CSV export. */
#include "training/history.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "training/callbacks.h"
#include "core/status.h"

dn_history *dn_history_new(size_t epochs) {
  dn_history *h = dn_calloc(1, sizeof *h);
  if (h == NULL)
    return NULL;
  h->cap = epochs ? epochs : 1;
  h->epochs = dn_calloc(h->cap, sizeof *h->epochs);
  if (h->epochs == NULL) {
    dn_free(h);
    return NULL;
  }
  return h;
}

void dn_history_free(dn_history *history) {
  if (history == NULL)
    return;
  for (size_t k = 0; k < history->n_keys; k++) {
    dn_free(history->keys[k]);
    dn_free(history->values[k]);
  }
  dn_free(history->keys);
  dn_free(history->values);
  dn_free(history->epochs);
  dn_free(history);
}

/* Grows every per-entry array to `cap` entries (all or nothing). */
static dn_status grow_entries(dn_history *h, size_t cap) {
  size_t *epochs = dn_calloc(cap, sizeof *epochs);
  double **values = dn_calloc(h->n_keys ? h->n_keys : 1, sizeof *values);
  bool ok = epochs != NULL && values != NULL;
  for (size_t k = 0; ok && k < h->n_keys; k++)
    ok = (values[k] = dn_calloc(cap, sizeof **values)) != NULL;
  if (!ok) {
    for (size_t k = 0; values != NULL && k < h->n_keys; k++)
      dn_free(values[k]);
    dn_free(values);
    dn_free(epochs);
    return DN_ERR_NOMEM;
  }
  memcpy(epochs, h->epochs, h->length * sizeof *epochs);
  dn_free(h->epochs);
  h->epochs = epochs;
  for (size_t k = 0; k < h->n_keys; k++) {
    memcpy(values[k], h->values[k], h->length * sizeof **values);
    dn_free(h->values[k]);
    h->values[k] = values[k];
  }
  dn_free(values);
  h->cap = cap;
  return DN_OK;
}

static long find_key(const dn_history *h, const char *key) {
  for (size_t k = 0; k < h->n_keys; k++)
    if (strcmp(h->keys[k], key) == 0)
      return (long)k;
  return -1;
}

static dn_status add_key(dn_history *h, const char *key) {
  if (h->n_keys == h->keys_cap) {
    size_t cap = h->keys_cap ? 2 * h->keys_cap : 8;
    char **keys = dn_calloc(cap, sizeof *keys);
    double **values = dn_calloc(cap, sizeof *values);
    if (keys == NULL || values == NULL) {
      dn_free(keys);
      dn_free(values);
      return DN_ERR_NOMEM;
    }
    if (h->n_keys) {
      memcpy(keys, h->keys, h->n_keys * sizeof *keys);
      memcpy(values, h->values, h->n_keys * sizeof *values);
    }
    dn_free(h->keys);
    dn_free(h->values);
    h->keys = keys;
    h->values = values;
    h->keys_cap = cap;
  }
  char *name = dn_strdup(key);
  double *vals = dn_alloc(h->cap * sizeof *vals);
  if (name == NULL || vals == NULL) {
    dn_free(name);
    dn_free(vals);
    return DN_ERR_NOMEM;
  }
  for (size_t i = 0; i < h->cap; i++)
    vals[i] = NAN;
  h->keys[h->n_keys] = name;
  h->values[h->n_keys++] = vals;
  return DN_OK;
}

dn_status dn_history_record(dn_history *h, size_t epoch, const dn_logs *logs) {
  dn_status st;
  if (h->length == h->cap && (st = grow_entries(h, 2 * h->cap)) != DN_OK)
    return st;
  for (size_t i = 0; i < logs->count; i++)
    if (find_key(h, logs->names[i]) < 0 && (st = add_key(h, logs->names[i])) != DN_OK)
      return st;
  for (size_t k = 0; k < h->n_keys; k++) {
    long i = dn_logs_find(logs, h->keys[k]);
    h->values[k][h->length] = i < 0 ? NAN : logs->values[i];
  }
  h->epochs[h->length++] = epoch;
  return DN_OK;
}

size_t dn_history_length(const dn_history *history) {
  return history ? history->length : 0;
}

size_t dn_history_key_count(const dn_history *history) {
  return history ? history->n_keys : 0;
}

const char *dn_history_key(const dn_history *history, size_t index) {
  if (history == NULL || index >= history->n_keys)
    return NULL;
  return history->keys[index];
}

const double *dn_history_values(const dn_history *history, const char *key) {
  if (history == NULL || key == NULL)
    return NULL;
  long k = find_key(history, key);
  return k < 0 ? NULL : history->values[k];
}

size_t dn_history_epoch(const dn_history *history, size_t index) {
  if (history == NULL || index >= history->length)
    return 0;
  return history->epochs[index];
}

dn_status dn_history_write_csv(const dn_history *history, const char *path) {
  const char *fn = "dn_history_write_csv";
  if (history == NULL)
    return dn_fail(DN_ERR_ARG, "%s: history is NULL", fn);
  if (path == NULL)
    return dn_fail(DN_ERR_ARG, "%s: path is NULL", fn);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
  fputs("epoch", f);
  for (size_t k = 0; k < history->n_keys; k++)
    fprintf(f, ",%s", history->keys[k]);
  fputc('\n', f);
  for (size_t i = 0; i < history->length; i++) {
    fprintf(f, "%zu", history->epochs[i]);
    for (size_t k = 0; k < history->n_keys; k++) {
      char rep[40];
      dn_format_repr(rep, sizeof rep, history->values[k][i]);
      fprintf(f, ",%s", rep);
    }
    fputc('\n', f);
  }
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad)
    return dn_fail(DN_ERR_IO, "%s: cannot write '%s'", fn, path);
  return DN_OK;
}
