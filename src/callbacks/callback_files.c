/* callback_files.c -- the callbacks that write files: Keras 3's CSVLogger
 * (keras/src/callbacks/csv_logger.py) and ModelCheckpoint (model_checkpoint.py).
 *
 * CSVLogger writes what Keras's csv module writes: a header "epoch" + the sorted log keys
 * taken from the first epoch, one row per epoch, floats as Python's repr, "NA" for a key
 * missing from a later epoch, rows ended by "\r\n" (Python csv's excel dialect).
 *
 * ModelCheckpoint calls dn_model_save / dn_model_save_weights (src/io/), or for a path that
 * ends in .keras, .h5 or .hdf5 the Keras library's writer registered through
 * dn_checkpoint_set_keras_writer (dn_keras_register): a .keras archive, a legacy .h5 full model,
 * or with save_weights_only a .weights.h5 file. Without a writer such a path is refused when
 * fit starts (DN_ERR_UNSUPPORTED), never written in the native format.
 * Deviation: other paths write the native format (Keras refuses them). Only save_freq="epoch"
 * exists, and no initial_value_threshold.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "training/callbacks.h"
#include "model/sequential.h"
#include "core/status.h"

/* ---- CSVLogger ----------------------------------------------------------------- */

typedef struct csv_logger {
  char *filename;
  char sep;
  bool append;
  FILE *file;
  bool write_header;
  char **keys; /* sorted, from the first epoch's logs */
  size_t n_keys;
} csv_logger;

static void csv_free_keys(csv_logger *c) {
  for (size_t i = 0; i < c->n_keys; i++)
    dn_free(c->keys[i]);
  dn_free(c->keys);
  c->keys = NULL;
  c->n_keys = 0;
}

static void csv_release(dn_callback *cb) {
  csv_logger *c = cb->impl;
  if (c->file != NULL)
    fclose(c->file);
  c->file = NULL;
  csv_free_keys(c);
}

static void csv_free_impl(void *impl) {
  csv_logger *c = impl;
  if (c == NULL)
    return;
  if (c->file != NULL)
    fclose(c->file);
  csv_free_keys(c);
  dn_free(c->filename);
  dn_free(c);
}

static dn_status csv_train_begin(dn_callback *cb, dn_cb_ctx *ctx) {
  csv_logger *c = cb->impl;
  csv_release(cb);
  if (ctx->no_files) /* a distributed fit's rank other than 0: no file, no rows */
    return DN_OK;
  c->write_header = true;
  if (c->append) {
    FILE *old = fopen(c->filename, "r");
    if (old != NULL) {
      /* Keras: append_header = not len(f.readline()), so only an empty file gets a header
       * (a file starting with a blank line has a first line "\n" of length 1). */
      c->write_header = fgetc(old) == EOF;
      fclose(old);
    }
  }
  c->file = fopen(c->filename, c->append ? "a" : "w");
  if (c->file == NULL)
    return dn_fail(DN_ERR_IO, "dn_fit: CSVLogger cannot open '%s': %s", c->filename,
                   strerror(errno));
  return DN_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A field as Python's csv writes it (QUOTE_MINIMAL). */
static void csv_field(FILE *f, const char *s, char sep) {
  bool quote = strchr(s, sep) || strchr(s, '"') || strchr(s, '\r') || strchr(s, '\n');
  if (!quote) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static dn_status csv_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *book) {
  (void)ctx;
  csv_logger *c = cb->impl;
  if (c->file == NULL)
    return DN_OK;
  if (c->keys == NULL) {
    c->keys = dn_calloc(book->count ? book->count : 1, sizeof *c->keys);
    if (c->keys == NULL)
      return DN_ERR_NOMEM;
    for (size_t i = 0; i < book->count; i++) {
      if ((c->keys[i] = dn_strdup(book->names[i])) == NULL) {
        c->n_keys = i;
        csv_free_keys(c);
        return DN_ERR_NOMEM;
      }
    }
    c->n_keys = book->count;
    qsort(c->keys, c->n_keys, sizeof *c->keys, cmp_str);
    if (c->write_header) {
      fputs("epoch", c->file);
      for (size_t i = 0; i < c->n_keys; i++) {
        fputc(c->sep, c->file);
        csv_field(c->file, c->keys[i], c->sep);
      }
      fputs("\r\n", c->file);
    }
  }
  dn_logs logs = dn_logbook_view(book);
  fprintf(c->file, "%zu", epoch);
  for (size_t i = 0; i < c->n_keys; i++) {
    long k = dn_logs_find(&logs, c->keys[i]);
    char rep[40] = "NA";
    if (k >= 0)
      dn_format_repr(rep, sizeof rep, logs.values[k]);
    fputc(c->sep, c->file);
    fputs(rep, c->file);
  }
  fputs("\r\n", c->file);
  if (fflush(c->file) != 0 || ferror(c->file))
    return dn_fail(DN_ERR_IO, "dn_fit: CSVLogger cannot write '%s': %s", c->filename,
                   strerror(errno));
  return DN_OK;
}

static dn_status csv_train_end(dn_callback *cb, dn_cb_ctx *ctx, const dn_logs *logs) {
  (void)ctx;
  (void)logs;
  csv_logger *c = cb->impl;
  int bad = c->file != NULL && fclose(c->file) != 0;
  c->file = NULL;
  csv_free_keys(c);
  if (bad)
    return dn_fail(DN_ERR_IO, "dn_fit: CSVLogger cannot close '%s'", c->filename);
  return DN_OK;
}

static const dn_callback_ops csv_logger_ops = {
    .type = "CSVLogger",
    .train_begin = csv_train_begin,
    .epoch_end = csv_epoch_end,
    .train_end = csv_train_end,
    .release = csv_release,
    .free_impl = csv_free_impl,
};

dn_callback *dn_csv_logger_with(dn_csv_logger_options o) {
  if (o.filename == NULL || o.filename[0] == '\0')
    return dn_fail_null(DN_ERR_ARG, "dn_csv_logger: filename is %s", o.filename ? "empty" : "NULL");
  if (o.separator == '"' || o.separator == '\r' || o.separator == '\n')
    return dn_fail_null(DN_ERR_ARG, "dn_csv_logger: separator cannot be a quote or line break");
  csv_logger *c = dn_calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->filename = dn_strdup(o.filename);
  if (c->filename == NULL) {
    dn_free(c);
    return NULL;
  }
  c->sep = o.separator ? o.separator : ',';
  c->append = o.append;
  return dn_callback_new(&csv_logger_ops, c);
}

/* ---- filepath templates ---------------------------------------------------------- */

/* A Python format spec subset: [sign][0][width][.precision][type]. */
typedef struct fmt_spec {
  char sign; /* 0, '+', '-', ' ' */
  bool zero;
  int width, precision; /* -1 = none */
  char type;            /* 0 or one of d f F e E g G */
} fmt_spec;

static bool parse_spec(const char *s, size_t n, fmt_spec *f) {
  *f = (fmt_spec){0, false, -1, -1, 0};
  size_t i = 0;
  if (i < n && (s[i] == '+' || s[i] == '-' || s[i] == ' '))
    f->sign = s[i++];
  if (i < n && s[i] == '0') {
    f->zero = true;
    i++;
  }
  if (i < n && s[i] >= '0' && s[i] <= '9') {
    f->width = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && f->width <= 200)
      f->width = f->width * 10 + (s[i++] - '0');
  }
  if (i < n && s[i] == '.') {
    i++;
    if (i == n || s[i] < '0' || s[i] > '9')
      return false;
    f->precision = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && f->precision <= 50)
      f->precision = f->precision * 10 + (s[i++] - '0');
  }
  if (i < n && strchr("dfFeEgG", s[i]) != NULL)
    f->type = s[i++];
  return i == n && f->width <= 200 && f->precision <= 50; /* (also stops the digit loops) */
}

/* One value as Python's format(v, spec) for the supported subset: digits from a literal
 * printf format, then the sign and the padding (zeros after the sign, else spaces before). */
static void format_number(char *out, size_t cap, const fmt_spec *f, double v, bool integer) {
  char digits[96];
  int prec = f->precision >= 0 ? f->precision : 6;
  double a = fabs(v);
  if (integer) {
    snprintf(digits, sizeof digits, "%.0f", a);
  } else {
    switch (f->type) {
    case 'f': snprintf(digits, sizeof digits, "%.*f", prec, a); break;
    case 'F': snprintf(digits, sizeof digits, "%.*F", prec, a); break;
    case 'e': snprintf(digits, sizeof digits, "%.*e", prec, a); break;
    case 'E': snprintf(digits, sizeof digits, "%.*E", prec, a); break;
    case 'G': snprintf(digits, sizeof digits, "%.*G", prec, a); break;
    default: snprintf(digits, sizeof digits, "%.*g", prec, a); break;
    }
  }
  char sign[2] = {0, 0};
  if (signbit(v) && !isnan(v))
    sign[0] = '-';
  else if (f->sign == '+' || f->sign == ' ')
    sign[0] = f->sign;
  size_t len = strlen(sign) + strlen(digits);
  size_t pad = f->width > 0 && (size_t)f->width > len ? (size_t)f->width - len : 0;
  char zeros[256], spaces[256];
  memset(zeros, '0', pad);
  memset(spaces, ' ', pad);
  zeros[f->zero ? pad : 0] = '\0';
  spaces[f->zero ? 0 : pad] = '\0';
  snprintf(out, cap, "%s%s%s%s", spaces, sign, zeros, digits);
}

/* Walks the template; with out == NULL only checks its syntax. Fields: {epoch} (1-based)
 * and any logged name. */
static dn_status expand_path(const char *tpl, size_t epoch, const dn_logs *logs, char *out,
                             size_t cap) {
  size_t k = 0;
  for (const char *p = tpl; *p; p++) {
    char piece[640];
    size_t plen = 0;
    if ((*p == '{' && p[1] == '{') || (*p == '}' && p[1] == '}')) {
      piece[plen++] = *p++;
    } else if (*p == '}') {
      return dn_fail(DN_ERR_ARG, "ModelCheckpoint: filepath '%s' has a single '}'", tpl);
    } else if (*p == '{') {
      const char *end = strchr(p, '}');
      if (end == NULL)
        return dn_fail(DN_ERR_ARG, "ModelCheckpoint: filepath '%s' has an unclosed '{'", tpl);
      const char *colon = memchr(p, ':', (size_t)(end - p));
      size_t name_len = (size_t)((colon ? colon : end) - p - 1);
      char name[DN_MONITOR_NAME_CAP];
      if (name_len == 0 || name_len >= sizeof name)
        return dn_fail(DN_ERR_ARG, "ModelCheckpoint: filepath '%s' has a bad field name", tpl);
      memcpy(name, p + 1, name_len);
      name[name_len] = '\0';
      fmt_spec f;
      if (!parse_spec(colon ? colon + 1 : end, colon ? (size_t)(end - colon - 1) : 0, &f))
        return dn_fail(DN_ERR_ARG, "ModelCheckpoint: filepath '%s': bad format spec for '%s'", tpl,
                       name);
      bool is_epoch = strcmp(name, "epoch") == 0;
      if (!is_epoch && f.type == 'd')
        return dn_fail(DN_ERR_ARG, "ModelCheckpoint: filepath '%s': '%s' is a float, not 'd'", tpl,
                       name);
      p = end;
      if (out == NULL)
        continue;
      bool integer = is_epoch && (f.type == 0 || f.type == 'd');
      double v = (double)(epoch + 1);
      if (!is_epoch) {
        long i = dn_logs_find(logs, name);
        if (i < 0)
          return dn_fail(DN_ERR_ARG,
                         "dn_fit: ModelCheckpoint filepath '%s' uses '{%s}', which is not in "
                         "the logs",
                         tpl, name);
        v = logs->values[i];
      }
      if (!integer && f.type == 0 && f.precision < 0 && f.width < 0 && f.sign == 0)
        dn_format_repr(piece, sizeof piece, v); /* Python's str(float) */
      else
        format_number(piece, sizeof piece, &f, v, integer);
      plen = strlen(piece);
      if (plen >= sizeof piece)
        plen = sizeof piece - 1;
    } else {
      piece[plen++] = *p;
    }
    if (out == NULL)
      continue;
    if (k + plen >= cap)
      return dn_fail(DN_ERR_ARG, "dn_fit: ModelCheckpoint path from '%s' is too long", tpl);
    memcpy(out + k, piece, plen);
    k += plen;
  }
  if (out != NULL)
    out[k] = '\0';
  return DN_OK;
}

/* mkdir -p of the directory part of path (Keras creates it). */
static dn_status make_parent_dirs(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == NULL || slash == dir)
    return DN_OK;
  *slash = '\0';
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
      return dn_fail(DN_ERR_IO, "dn_fit: ModelCheckpoint cannot create '%s': %s", dir,
                     strerror(errno));
    *p = '/';
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return dn_fail(DN_ERR_IO, "dn_fit: ModelCheckpoint cannot create '%s': %s", dir,
                   strerror(errno));
  return DN_OK;
}

/* ---- ModelCheckpoint -------------------------------------------------------------- */

static _Atomic(dn_checkpoint_keras_writer) keras_writer;

void dn_checkpoint_set_keras_writer(dn_checkpoint_keras_writer writer) {
  atomic_store(&keras_writer, writer);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A path Keras's ModelCheckpoint takes: .keras or .h5 (.hdf5) for the model, .weights.h5 for
 * its weights. */
static bool keras_path(const char *path) {
  return ends_with(path, ".keras") || ends_with(path, ".h5") || ends_with(path, ".hdf5");
}

typedef struct checkpoint {
  char *filepath;
  bool keras; /* the path is a Keras file's: written through keras_writer */
  dn_monitor monitor;
  bool save_best_only, weights_only, verbose;
  /* Keras's MonitorCallback: best starts as initial_value_threshold (None) and becomes +inf
   * (min) or -inf (max) when the monitor is set up, once per callback; it is kept across
   * fits. So the first value must beat inf (a NaN never does) and the message says
   * "improved from inf". */
  bool has_best;
  double best;
} checkpoint;

static void checkpoint_free_impl(void *impl) {
  checkpoint *c = impl;
  if (c != NULL)
    dn_free(c->filepath);
  dn_free(c);
}

static dn_status ck_prepare(dn_callback *cb, dn_cb_ctx *ctx) {
  (void)ctx;
  checkpoint *c = cb->impl;
  if (c->keras && atomic_load(&keras_writer) == NULL)
    return dn_fail(DN_ERR_UNSUPPORTED,
                   "dn_fit: ModelCheckpoint: '%s' names a Keras file, which needs the Keras "
                   "library: link libdensenet_keras (densenet::keras) and call dn_keras_register() "
                   "before fit, or use another extension for the native format",
                   c->filepath);
  dn_status st = dn_monitor_resolve(&c->monitor, "ModelCheckpoint");
  if (st == DN_OK && !c->has_best) {
    c->best = c->monitor.less ? INFINITY : -INFINITY;
    c->has_best = true;
  }
  return st;
}

static dn_status ck_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *book) {
  checkpoint *c = cb->impl;
  /* a distributed fit's rank other than 0 keeps the best value but writes and prints nothing */
  const bool verbose = c->verbose && !ctx->no_files;
  dn_logs logs = dn_logbook_view(book);
  char path[4096];
  dn_status st = expand_path(c->filepath, epoch, &logs, path, sizeof path);
  if (st != DN_OK)
    return st;
  if (c->save_best_only) {
    long i = dn_logs_find(&logs, c->monitor.name);
    if (i >= 0) { /* Keras saves anyway (with a warning) when the value is missing */
      double current = logs.values[i];
      char best[40];
      snprintf(best, sizeof best, "%.5f", c->best); /* "inf" as Python's f"{inf:.5f}" */
      if (!dn_monitor_improves(&c->monitor, current, true, c->best)) {
        if (verbose)
          fprintf(ctx->out, "\nEpoch %zu: %s did not improve from %s\n", epoch + 1, c->monitor.name,
                  best);
        return DN_OK;
      }
      if (verbose)
        fprintf(ctx->out, "\nEpoch %zu: %s improved from %s to %.5f, saving model to %s\n",
                epoch + 1, c->monitor.name, best, current, path);
      c->best = current;
      c->has_best = true;
    }
  } else if (verbose) {
    fprintf(ctx->out, "\nEpoch %zu: saving model to %s\n", epoch + 1, path);
  }
  if (ctx->no_files)
    return DN_OK;
  if ((st = make_parent_dirs(path)) != DN_OK)
    return st;
  dn_checkpoint_keras_writer writer = atomic_load(&keras_writer);
  if (c->keras && writer != NULL)
    st = writer(ctx->model, path, c->weights_only);
  else if (c->keras)
    st = dn_fail(DN_ERR_UNSUPPORTED, "no Keras writer registered for '%s'", path);
  else
    st =
        c->weights_only ? dn_model_save_weights(ctx->model, path) : dn_model_save(ctx->model, path);
  if (st != DN_OK) {
    dn_error_context("dn_fit: ModelCheckpoint");
    return st;
  }
  if (verbose)
    fprintf(ctx->out, "\nEpoch %zu: finished saving model to %s\n", epoch + 1, path);
  return DN_OK;
}

static const dn_callback_ops checkpoint_ops = {
    .type = "ModelCheckpoint",
    .prepare = ck_prepare,
    .epoch_end = ck_epoch_end,
    .free_impl = checkpoint_free_impl,
};

dn_callback *dn_model_checkpoint_with(dn_model_checkpoint_options o) {
  const char *fn = "dn_model_checkpoint";
  if (o.filepath == NULL || o.filepath[0] == '\0')
    return dn_fail_null(DN_ERR_ARG, "%s: filepath is %s", fn, o.filepath ? "empty" : "NULL");
  if (expand_path(o.filepath, 0, NULL, NULL, 0) != DN_OK) {
    dn_error_context(fn);
    return NULL;
  }
  bool keras = keras_path(o.filepath);
  if (keras && o.save_weights_only && !ends_with(o.filepath, ".weights.h5"))
    return dn_fail_null(DN_ERR_ARG,
                        "%s: with save_weights_only a Keras path must end in .weights.h5, not "
                        "'%s' (as Keras's ModelCheckpoint requires)",
                        fn, o.filepath);
  dn_monitor m;
  if (dn_monitor_init(&m, fn, o.monitor, o.mode, 0.0) != DN_OK)
    return NULL;
  checkpoint *c = dn_calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  if ((c->filepath = dn_strdup(o.filepath)) == NULL) {
    dn_free(c);
    return NULL;
  }
  c->monitor = m;
  c->keras = keras;
  c->save_best_only = o.save_best_only;
  c->weights_only = o.save_weights_only;
  c->verbose = o.verbose;
  return dn_callback_new(&checkpoint_ops, c);
}

dn_status dn_checkpoint_expand(const char *tpl, size_t epoch, const dn_logs *logs, char *out,
                               size_t cap) {
  return expand_path(tpl, epoch, logs, out, cap);
}
