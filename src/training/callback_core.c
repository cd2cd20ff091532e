/* callback_core.c -- the callback machinery fit drives: the mutable epoch logs, hook
 * dispatch, callback lifetime, the monitor logic shared by EarlyStopping, ReduceLROnPlateau
 * and ModelCheckpoint (keras/src/callbacks/monitor_callback.py), and Python-repr number
 * formatting for the CSV writers. */
#include "training/callbacks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "training/metric.h"
#include "core/status.h"

/* ---- logs ------------------------------------------------------------------ */

dn_status dn_logbook_init(dn_logbook *book, size_t cap) {
  *book = (dn_logbook){0};
  book->names = dn_calloc(cap ? cap : 1, sizeof *book->names);
  book->values = dn_calloc(cap ? cap : 1, sizeof *book->values);
  if (book->names == NULL || book->values == NULL) {
    dn_logbook_free(book);
    return DN_ERR_NOMEM;
  }
  book->cap = cap;
  return DN_OK;
}

void dn_logbook_free(dn_logbook *book) {
  dn_free(book->names);
  dn_free(book->values);
  *book = (dn_logbook){0};
}

void dn_logbook_clear(dn_logbook *book) {
  book->count = 0;
}

dn_status dn_logbook_set(dn_logbook *book, const char *name, double value) {
  for (size_t i = 0; i < book->count; i++)
    if (strcmp(book->names[i], name) == 0) {
      book->values[i] = value;
      return DN_OK;
    }
  if (book->count == book->cap)
    return dn_fail(DN_ERR_STATE, "logs: no room for '%s' (%zu entries)", name, book->cap);
  book->names[book->count] = name;
  book->values[book->count++] = value;
  return DN_OK;
}

void dn_logbook_sort(dn_logbook *book) {
  for (size_t i = 1; i < book->count; i++) { /* insertion sort: a handful of keys */
    const char *name = book->names[i];
    double value = book->values[i];
    size_t j = i;
    for (; j > 0 && strcmp(book->names[j - 1], name) > 0; j--) {
      book->names[j] = book->names[j - 1];
      book->values[j] = book->values[j - 1];
    }
    book->names[j] = name;
    book->values[j] = value;
  }
}

dn_logs dn_logbook_view(const dn_logbook *book) {
  return (dn_logs){book->count, book->names, book->values};
}

long dn_logs_find(const dn_logs *logs, const char *name) {
  for (size_t i = 0; logs != NULL && name != NULL && i < logs->count; i++)
    if (strcmp(logs->names[i], name) == 0)
      return (long)i;
  return -1;
}

double dn_logs_get(const dn_logs *logs, const char *name) {
  long i = dn_logs_find(logs, name);
  return i < 0 ? NAN : logs->values[i];
}

/* Python's repr(float): the shortest round-tripping digits, fixed notation for decimal
 * exponents in [-4, 16), else d.ddde+XX. */
void dn_format_repr(char *buf, size_t cap, double v) {
  if (isnan(v)) {
    snprintf(buf, cap, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, cap, v < 0 ? "-inf" : "inf");
    return;
  }
  char e[40];
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec - 1, v);
    if (strtod(e, NULL) == v)
      break;
  }
  snprintf(e, sizeof e, "%.*e", prec - 1, v);
  /* e = [-]d[.ddd]e[+-]XX: collect the digits and the exponent. */
  const char *p = e;
  bool neg = *p == '-';
  if (neg)
    p++;
  char digits[24];
  size_t nd = 0;
  for (; *p != 'e'; p++)
    if (*p != '.')
      digits[nd++] = *p;
  digits[nd] = '\0';
  int exp10 = atoi(p + 1);
  char out[64];
  size_t k = 0;
  if (neg)
    out[k++] = '-';
  if (exp10 >= -4 && exp10 < 16) {
    if (exp10 < 0) {
      out[k++] = '0';
      out[k++] = '.';
      for (int z = 0; z < -exp10 - 1; z++)
        out[k++] = '0';
      for (size_t i = 0; i < nd; i++)
        out[k++] = digits[i];
    } else {
      size_t int_digits = (size_t)exp10 + 1;
      for (size_t i = 0; i < int_digits; i++)
        out[k++] = i < nd ? digits[i] : '0';
      out[k++] = '.';
      if (nd > int_digits)
        for (size_t i = int_digits; i < nd; i++)
          out[k++] = digits[i];
      else
        out[k++] = '0';
    }
    out[k] = '\0';
  } else {
    out[k++] = digits[0];
    if (nd > 1) {
      out[k++] = '.';
      for (size_t i = 1; i < nd; i++)
        out[k++] = digits[i];
    }
    out[k] = '\0';
    snprintf(out + k, sizeof out - k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
  }
  snprintf(buf, cap, "%s", out);
}

/* ---- dispatch -------------------------------------------------------------- */

dn_callback *dn_callback_new(const dn_callback_ops *ops, void *impl) {
  dn_callback *cb = dn_calloc(1, sizeof *cb);
  if (cb == NULL) {
    if (ops->free_impl)
      ops->free_impl(impl);
    else
      dn_free(impl);
    return NULL;
  }
  cb->ops = ops;
  cb->impl = impl;
  return cb;
}

void dn_callback_free(dn_callback *callback) {
  if (callback == NULL)
    return;
  if (callback->ops->release)
    callback->ops->release(callback);
  if (callback->ops->free_impl)
    callback->ops->free_impl(callback->impl);
  else
    dn_free(callback->impl);
  dn_free(callback);
}

dn_status dn_cb_prepare(dn_callback *cb, dn_cb_ctx *ctx) {
  return cb->ops->prepare ? cb->ops->prepare(cb, ctx) : DN_OK;
}
dn_status dn_cb_train_begin(dn_callback *cb, dn_cb_ctx *ctx) {
  return cb->ops->train_begin ? cb->ops->train_begin(cb, ctx) : DN_OK;
}
dn_status dn_cb_epoch_begin(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch) {
  return cb->ops->epoch_begin ? cb->ops->epoch_begin(cb, ctx, epoch) : DN_OK;
}
dn_status dn_cb_batch_begin(dn_callback *cb, dn_cb_ctx *ctx, size_t batch) {
  return cb->ops->batch_begin ? cb->ops->batch_begin(cb, ctx, batch) : DN_OK;
}
dn_status dn_cb_batch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t batch, const dn_logs *logs) {
  return cb->ops->batch_end ? cb->ops->batch_end(cb, ctx, batch, logs) : DN_OK;
}
dn_status dn_cb_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *logs) {
  return cb->ops->epoch_end ? cb->ops->epoch_end(cb, ctx, epoch, logs) : DN_OK;
}
dn_status dn_cb_train_end(dn_callback *cb, dn_cb_ctx *ctx, const dn_logs *logs) {
  return cb->ops->train_end ? cb->ops->train_end(cb, ctx, logs) : DN_OK;
}
void dn_cb_release(dn_callback *cb) {
  if (cb->ops->release)
    cb->ops->release(cb);
}

/* ---- monitor ---------------------------------------------------------------- */

dn_status dn_monitor_init(dn_monitor *m, const char *fn, const char *name, dn_mode mode,
                          double min_delta) {
  if (name == NULL)
    name = "val_loss";
  if (name[0] == '\0')
    return dn_fail(DN_ERR_ARG, "%s: monitor is empty", fn);
  if (strlen(name) >= DN_MONITOR_NAME_CAP)
    return dn_fail(DN_ERR_ARG, "%s: monitor name '%s' is too long", fn, name);
  if (mode != DN_MODE_AUTO && mode != DN_MODE_MIN && mode != DN_MODE_MAX)
    return dn_fail(DN_ERR_ARG, "%s: mode %d is not DN_MODE_AUTO, DN_MODE_MIN or DN_MODE_MAX", fn,
                   (int)mode);
  if (isnan(min_delta))
    return dn_fail(DN_ERR_ARG, "%s: min_delta is NaN", fn);
  *m = (dn_monitor){.mode = mode, .min_delta = fabs(min_delta)};
  snprintf(m->name, sizeof m->name, "%s", name);
  return DN_OK;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

dn_status dn_monitor_resolve(dn_monitor *m, const char *type) {
  if (m->mode == DN_MODE_MIN) {
    m->less = true;
  } else if (m->mode == DN_MODE_MAX) {
    m->less = false;
  } else {
    const char *base = strncmp(m->name, "val_", 4) == 0 ? m->name + 4 : m->name;
    int dir = ends_with(base, "loss") ? -1 : dn_metric_name_direction(base);
    if (dir == 0)
      return dn_fail(DN_ERR_ARG,
                     "dn_fit: %s cannot tell whether monitor '%s' should be minimized or "
                     "maximized; pass .mode = DN_MODE_MIN or DN_MODE_MAX",
                     type, m->name);
    m->less = dir < 0;
  }
  m->delta = m->less ? -m->min_delta : m->min_delta;
  return DN_OK;
}

bool dn_monitor_improves(const dn_monitor *m, double current, bool has_reference,
                         double reference) {
  if (!has_reference) /* Keras: a None reference is always beaten (even by NaN) */
    return true;
  return m->less ? current - m->delta < reference : current - m->delta > reference;
}

void dn_cb_warn(const dn_cb_ctx *ctx, const char *text) {
  if (ctx->verbose == DN_VERBOSE_SILENT || ctx->out == NULL)
    return;
  fprintf(ctx->out, "%sUserWarning: %s\n", ctx->verbose == DN_VERBOSE_BAR ? "\n" : "", text);
}
