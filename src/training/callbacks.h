/* callbacks.h -- internal: the callback interface fit drives (Keras's Callback hooks), the
 * mutable epoch logs callbacks may add to, and the monitor logic EarlyStopping,
 * ReduceLROnPlateau and ModelCheckpoint share.
 *
 * Hook order inside fit (as Keras's CallbackList): user callbacks in list order, then the
 * history, then the progress display. Every hook returns a status; a failing hook stops fit
 * with that status.
 */
#ifndef DN_CALLBACKS_H
#define DN_CALLBACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "densenet.h"

/* Logs callbacks can add to (LearningRateScheduler and ReduceLROnPlateau add
 * "learning_rate" at epoch end). names point at strings that outlive the fit
 * (the compiled state's names or literals). */
typedef struct dn_logbook {
  size_t count, cap;
  const char **names;
  double *values;
} dn_logbook;

dn_status dn_logbook_init(dn_logbook *book, size_t cap);
void dn_logbook_free(dn_logbook *book);
void dn_logbook_clear(dn_logbook *book);
/* Replaces the value of `name` or appends it (no allocation; DN_ERR_STATE when full). */
dn_status dn_logbook_set(dn_logbook *book, const char *name, double value);
/* Sorts the entries by name (byte order), as Keras's CallbackList sorts the batch logs
 * (_pythonify_logs iterates sorted(logs.items())). No allocation. */
void dn_logbook_sort(dn_logbook *book);
/* A read-only view of the current entries. */
dn_logs dn_logbook_view(const dn_logbook *book);
/* The index of `name` in logs, or -1. */
long dn_logs_find(const dn_logs *logs, const char *name);

/* What a callback sees of the run (Keras's callback.model and callback.params). */
typedef struct dn_cb_ctx {
  dn_model *model;
  FILE *out;     /* where verbose callback messages go (fit's progress stream) */
  size_t epochs; /* fit's epochs (the final epoch index + 1) */
  size_t steps;  /* batches per epoch */
  /* fit's display, resolved (SILENT, BAR or LINES): callbacks' warnings, as Keras prints them,
   * go to `out` unless it is SILENT (dn_cb_warn) */
  dn_verbose verbose;
  /* A distributed fit's process other than rank 0: callbacks write no files (CSVLogger,
   * ModelCheckpoint) */
  bool no_files;
} dn_cb_ctx;

/* A Keras warning (Python's "UserWarning: <text>") on fit's progress stream, unless fit is
 * silent; on a new line if the bar is drawn. */
void dn_cb_warn(const dn_cb_ctx *ctx, const char *text);

typedef struct dn_callback_ops {
  const char *type; /* Keras class name: "EarlyStopping" */
  /* Before anything changes: validate against the model (monitor direction) and
   * allocate per-fit buffers. May be NULL. */
  dn_status (*prepare)(dn_callback *cb, dn_cb_ctx *ctx);
  dn_status (*train_begin)(dn_callback *cb, dn_cb_ctx *ctx);
  dn_status (*epoch_begin)(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch);
  dn_status (*batch_begin)(dn_callback *cb, dn_cb_ctx *ctx, size_t batch);
  dn_status (*batch_end)(dn_callback *cb, dn_cb_ctx *ctx, size_t batch, const dn_logs *logs);
  dn_status (*epoch_end)(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *logs);
  dn_status (*train_end)(dn_callback *cb, dn_cb_ctx *ctx, const dn_logs *logs);
  /* After train_end, or when fit fails: close files, free per-fit buffers. May be NULL. */
  void (*release)(dn_callback *cb);
  void (*free_impl)(void *impl);
} dn_callback_ops;

struct dn_callback {
  const dn_callback_ops *ops;
  void *impl;
};

/* A callback around impl (taken: freed through ops->free_impl on failure). */
dn_callback *dn_callback_new(const dn_callback_ops *ops, void *impl);

/* Hook dispatch (a NULL hook is a no-op returning DN_OK). */
dn_status dn_cb_prepare(dn_callback *cb, dn_cb_ctx *ctx);
dn_status dn_cb_train_begin(dn_callback *cb, dn_cb_ctx *ctx);
dn_status dn_cb_epoch_begin(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch);
dn_status dn_cb_batch_begin(dn_callback *cb, dn_cb_ctx *ctx, size_t batch);
dn_status dn_cb_batch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t batch, const dn_logs *logs);
dn_status dn_cb_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *logs);
dn_status dn_cb_train_end(dn_callback *cb, dn_cb_ctx *ctx, const dn_logs *logs);
void dn_cb_release(dn_callback *cb);
/* True for a TerminateOnNaN callback (fit then stops instead of failing on a NaN loss). */
bool dn_cb_is_terminate_on_nan(const dn_callback *cb);

/* Keras's MonitorCallback: which logged value, which direction, and min_delta. */
#define DN_MONITOR_NAME_CAP 64
typedef struct dn_monitor {
  char name[DN_MONITOR_NAME_CAP];
  dn_mode mode;
  double min_delta; /* |min_delta| as given */
  bool less;        /* resolved direction: smaller is better */
  double delta;     /* signed as Keras: -|min_delta| for min, +|min_delta| for max */
} dn_monitor;

/* Copies the name (NULL -> "val_loss") and mode; DN_ERR_ARG naming `fn` for a bad mode,
 * a NaN min_delta or a name too long. */
dn_status dn_monitor_init(dn_monitor *m, const char *fn, const char *name, dn_mode mode,
                          double min_delta);
/* Resolves mode "auto" as Keras: min if the name without "val_" is "loss" (or ends in
 * "loss"), else the metric's direction; DN_ERR_ARG naming `type` if undecidable. */
dn_status dn_monitor_resolve(dn_monitor *m, const char *type);
/* Keras's _is_improvement: monitor_op(current - delta, reference); `has_reference` false
 * (Keras's None) is always an improvement; otherwise NaN never is. */
bool dn_monitor_improves(const dn_monitor *m, double current, bool has_reference, double reference);

/* ModelCheckpoint's file name: the template with {epoch} (1-based) and logged values
 * ({val_loss:.2f}) filled in, Python format-spec style. */
dn_status dn_checkpoint_expand(const char *tpl, size_t epoch, const dn_logs *logs, char *out,
                               size_t cap);

/* ModelCheckpoint's hook for Keras files: the Keras library (libdensenet_keras) registers a
 * writer for paths ending in .keras, .h5 or .hdf5 (dn_keras_register); without one such a path
 * is refused when fit starts. The core never depends on the Keras library. */
typedef dn_status (*dn_checkpoint_keras_writer)(const dn_model *model, const char *path,
                                                bool weights_only);
void dn_checkpoint_set_keras_writer(dn_checkpoint_keras_writer writer);

/* Writes `v` as Python's repr(float) does ("0.1", "1e-05", "123.0", "nan"): the shortest
 * digits that read back to v. */
void dn_format_repr(char *buf, size_t cap, double v);

#endif
