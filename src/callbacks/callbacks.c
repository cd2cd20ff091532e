/* callbacks.c -- Keras 3's EarlyStopping, ReduceLROnPlateau, LearningRateScheduler,
 * TerminateOnNaN and LambdaCallback (keras/src/callbacks/). The machinery they plug into is
 * in callback_core.c; CSVLogger and ModelCheckpoint, which write files, in callback_files.c.
 *
 * A monitored value missing from the logs skips that epoch with Keras's warning, printed once per
 * fit (Python shows a warning once per place) on fit's progress stream unless fit is silent.
 */
#include "training/callbacks.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "model/sequential.h"
#include "core/status.h"

/* The optimizer's learning rate as Keras's callbacks read it: optimizer.learning_rate is a
 * float32 variable, so float(...) gives the float32 value widened to double (0.001 reads as
 * 0.0010000000474974513). Schedules receive and logs record this value. */
static double lr_as_keras_reads(const dn_optimizer *opt) {
  return (double)(float)dn_optimizer_learning_rate(opt);
}

/* The monitored value, or false when it is not in the logs: then Keras's warning, once per fit
 * (*warned), `before` + the monitor's name + `after` + the logged names joined by ',' + `end`. */
static bool monitored(const dn_monitor *m, const dn_logs *logs, double *value, const dn_cb_ctx *ctx,
                      bool *warned, const char *before, const char *after, const char *end) {
  long i = dn_logs_find(logs, m->name);
  if (i >= 0) {
    *value = logs->values[i];
    return true;
  }
  if (*warned)
    return false;
  *warned = true;
  char text[1024];
  int n = snprintf(text, sizeof text, "%s`%s`%s", before, m->name, after);
  for (size_t k = 0; k < logs->count && n >= 0 && (size_t)n < sizeof text; k++)
    n += snprintf(text + n, sizeof text - (size_t)n, "%s%s", k ? "," : "", logs->names[k]);
  if (n >= 0 && (size_t)n < sizeof text)
    snprintf(text + n, sizeof text - (size_t)n, "%s", end);
  dn_cb_warn(ctx, text);
  return false;
}

/* ---- EarlyStopping ------------------------------------------------------------ */

typedef struct early_stopping {
  dn_early_stopping_options o;
  dn_monitor monitor;
  size_t patience; /* resolved: 0 and DN_ZERO_COUNT both mean 0 */
  size_t wait, stopped_epoch, best_epoch;
  bool has_best, has_best_weights, warned;
  double best;
  float *best_weights;
  size_t n_weights;
} early_stopping;

static dn_status es_prepare(dn_callback *cb, dn_cb_ctx *ctx) {
  early_stopping *es = cb->impl;
  dn_status st = dn_monitor_resolve(&es->monitor, "EarlyStopping");
  if (st != DN_OK || !es->o.restore_best_weights)
    return st;
  size_t n = dn_model_count_params(ctx->model);
  if (es->best_weights == NULL || es->n_weights != n) {
    dn_free(es->best_weights);
    es->best_weights = dn_alloc(n * sizeof(float));
    es->n_weights = es->best_weights ? n : 0;
    if (es->best_weights == NULL)
      return DN_ERR_NOMEM;
  }
  return DN_OK;
}

static dn_status es_train_begin(dn_callback *cb, dn_cb_ctx *ctx) {
  (void)ctx;
  early_stopping *es = cb->impl;
  es->wait = es->stopped_epoch = es->best_epoch = 0;
  es->has_best = es->has_best_weights = es->warned = false;
  return DN_OK;
}

static dn_status es_save_weights(early_stopping *es, dn_cb_ctx *ctx, size_t epoch) {
  es->best_epoch = epoch;
  es->has_best_weights = true;
  return dn_model_get_weights(ctx->model, es->best_weights, es->n_weights);
}

static dn_status es_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *book) {
  early_stopping *es = cb->impl;
  dn_logs logs = dn_logbook_view(book);
  double current;
  /* keras/src/callbacks/early_stopping.py, get_monitor_value */
  if (!monitored(&es->monitor, &logs, &current, ctx, &es->warned,
                 "Early stopping conditioned on metric ",
                 " which is not available. Available metrics are: ", "") ||
      epoch < es->o.start_from_epoch)
    return DN_OK;
  dn_status st = DN_OK;
  if (es->o.restore_best_weights && !es->has_best_weights)
    st = es_save_weights(es, ctx, epoch);
  es->wait++;
  if (dn_monitor_improves(&es->monitor, current, es->has_best, es->best)) {
    es->best = current;
    es->has_best = true;
    es->best_epoch = epoch;
    if (es->o.restore_best_weights)
      st = es_save_weights(es, ctx, epoch);
    /* Restart the wait only when the baseline is beaten too. */
    if (!es->o.use_baseline || dn_monitor_improves(&es->monitor, current, true, es->o.baseline))
      es->wait = 0;
    return st;
  }
  if (es->wait >= es->patience && epoch > 0) {
    es->stopped_epoch = epoch;
    ctx->model->stop_training = true;
  }
  return st;
}

static dn_status es_train_end(dn_callback *cb, dn_cb_ctx *ctx, const dn_logs *logs) {
  (void)logs;
  early_stopping *es = cb->impl;
  if (es->stopped_epoch > 0 && es->o.verbose)
    fprintf(ctx->out, "Epoch %zu: early stopping\n", es->stopped_epoch + 1);
  if (es->o.restore_best_weights && es->has_best_weights) {
    if (es->o.verbose)
      fprintf(ctx->out, "Restoring model weights from the end of the best epoch: %zu.\n",
              es->best_epoch + 1);
    return dn_model_set_weights(ctx->model, es->best_weights, es->n_weights);
  }
  return DN_OK;
}

static void es_release(dn_callback *cb) {
  early_stopping *es = cb->impl;
  dn_free(es->best_weights);
  es->best_weights = NULL;
  es->n_weights = 0;
}

static const dn_callback_ops early_stopping_ops = {
    .type = "EarlyStopping",
    .prepare = es_prepare,
    .train_begin = es_train_begin,
    .epoch_end = es_epoch_end,
    .train_end = es_train_end,
    .release = es_release,
};

dn_callback *dn_early_stopping_with(dn_early_stopping_options o) {
  const char *fn = "dn_early_stopping";
  dn_monitor m;
  if (dn_monitor_init(&m, fn, o.monitor, o.mode, o.min_delta) != DN_OK)
    return NULL;
  if (o.use_baseline && isnan(o.baseline))
    return dn_fail_null(DN_ERR_ARG, "%s: baseline is NaN", fn);
  if (o.patience < DN_ZERO_COUNT)
    return dn_fail_null(DN_ERR_ARG, "%s: patience must be >= 0 (DN_ZERO_COUNT for 0), got %d", fn,
                        o.patience);
  size_t start_from_epoch;
  if (!dn_size_count_or_default(o.start_from_epoch, 0, &start_from_epoch))
    return dn_fail_null(DN_ERR_ARG,
                        "%s: start_from_epoch is %zu, a negative number converted to size_t", fn,
                        o.start_from_epoch);
  early_stopping *es = dn_calloc(1, sizeof *es);
  if (es == NULL)
    return NULL;
  es->o = o;
  es->o.start_from_epoch = start_from_epoch; /* 0 or DN_ZERO_COUNT: from the first epoch */
  es->o.monitor = NULL; /* the monitor keeps its own copy */
  es->monitor = m;
  es->patience = (size_t)dn_count_or_default(o.patience, 0);
  return dn_callback_new(&early_stopping_ops, es);
}

/* ---- ReduceLROnPlateau --------------------------------------------------------- */

typedef struct reduce_lr {
  dn_monitor monitor; /* Keras: auto = max if the name contains "acc", else min */
  double factor, min_delta, min_lr;
  size_t patience, cooldown;
  bool verbose, warned;
  size_t wait, cooldown_counter;
  double best;
} reduce_lr;

static dn_status rl_train_begin(dn_callback *cb, dn_cb_ctx *ctx) {
  (void)ctx;
  reduce_lr *r = cb->impl;
  r->wait = r->cooldown_counter = 0;
  r->warned = false;
  r->best = r->monitor.less ? INFINITY : -INFINITY;
  return DN_OK;
}

static dn_status rl_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *book) {
  reduce_lr *r = cb->impl;
  dn_optimizer *opt = dn_model_optimizer(ctx->model);
  double lr = lr_as_keras_reads(opt);
  dn_status st = dn_logbook_set(book, "learning_rate", lr);
  if (st != DN_OK)
    return st;
  dn_logs logs = dn_logbook_view(book);
  double current;
  /* keras/src/callbacks/reduce_lr_on_plateau.py, on_epoch_end */
  if (!monitored(&r->monitor, &logs, &current, ctx, &r->warned,
                 "Learning rate reduction is conditioned on metric ",
                 " which is not available. Available metrics are: ", "."))
    return DN_OK;
  if (r->cooldown_counter > 0) {
    r->cooldown_counter--;
    r->wait = 0;
  }
  bool better =
      r->monitor.less ? current < r->best - r->min_delta : current > r->best + r->min_delta;
  if (better) {
    r->best = current;
    r->wait = 0;
  } else if (r->cooldown_counter == 0) {
    r->wait++;
    if (r->wait >= r->patience && lr > (double)(float)r->min_lr) {
      double new_lr = lr * r->factor;
      if (new_lr < r->min_lr)
        new_lr = r->min_lr;
      if ((st = dn_optimizer_set_learning_rate(opt, new_lr)) != DN_OK) {
        dn_error_context("dn_fit: ReduceLROnPlateau");
        return st;
      }
      if (r->verbose) {
        char rep[40];
        dn_format_repr(rep, sizeof rep, new_lr);
        fprintf(ctx->out, "\nEpoch %zu: ReduceLROnPlateau reducing learning rate to %s.\n",
                epoch + 1, rep);
      }
      r->cooldown_counter = r->cooldown;
      r->wait = 0;
    }
  }
  return DN_OK;
}

static const dn_callback_ops reduce_lr_ops = {
    .type = "ReduceLROnPlateau",
    .train_begin = rl_train_begin,
    .epoch_end = rl_epoch_end,
};

dn_callback *dn_reduce_lr_on_plateau_with(dn_reduce_lr_on_plateau_options o) {
  const char *fn = "dn_reduce_lr_on_plateau";
  dn_monitor m;
  if (dn_monitor_init(&m, fn, o.monitor, o.mode, 0.0) != DN_OK)
    return NULL;
  double factor = dn_option_or_default(o.factor, 0.1);
  if (!(factor >= 0 && factor < 1))
    return dn_fail_null(DN_ERR_ARG, "%s: factor must be in [0, 1), got %g", fn, o.factor);
  if (o.patience < DN_ZERO_COUNT)
    return dn_fail_null(DN_ERR_ARG, "%s: patience must be >= 0 (DN_ZERO_COUNT for 0), got %d", fn,
                        o.patience);
  double min_delta = dn_option_or_default(o.min_delta, 1e-4);
  if (!isfinite(min_delta))
    return dn_fail_null(DN_ERR_ARG, "%s: min_delta must be finite, got %g", fn, o.min_delta);
  if (!(o.min_lr >= 0) || !isfinite(o.min_lr))
    return dn_fail_null(DN_ERR_ARG, "%s: min_lr must be >= 0, got %g", fn, o.min_lr);
  size_t cooldown;
  if (!dn_size_count_or_default(o.cooldown, 0, &cooldown))
    return dn_fail_null(DN_ERR_ARG, "%s: cooldown is %zu, a negative number converted to size_t",
                        fn, o.cooldown);
  reduce_lr *r = dn_calloc(1, sizeof *r);
  if (r == NULL)
    return NULL;
  r->monitor = m;
  /* Keras's ReduceLROnPlateau has its own auto rule: maximize iff the name contains "acc". */
  r->monitor.less = o.mode == DN_MODE_MIN || (o.mode == DN_MODE_AUTO && !strstr(m.name, "acc"));
  r->factor = factor;
  r->patience = (size_t)dn_count_or_default(o.patience, 10);
  r->min_delta = min_delta;
  r->cooldown = cooldown; /* 0 or DN_ZERO_COUNT: none */
  r->min_lr = o.min_lr;
  r->verbose = o.verbose;
  return dn_callback_new(&reduce_lr_ops, r);
}

/* ---- LearningRateScheduler ------------------------------------------------------- */

typedef struct lr_scheduler {
  dn_lr_schedule_fn schedule;
  void *user;
} lr_scheduler;

static dn_status ls_epoch_begin(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch) {
  lr_scheduler *s = cb->impl;
  dn_optimizer *opt = dn_model_optimizer(ctx->model);
  double lr = s->schedule(epoch, lr_as_keras_reads(opt), s->user);
  if (!isfinite(lr) || lr < 0)
    return dn_fail(DN_ERR_NUMERIC,
                   "dn_fit: LearningRateScheduler: the schedule returned %g at epoch %zu", lr,
                   epoch);
  dn_status st = dn_optimizer_set_learning_rate(opt, lr);
  if (st != DN_OK)
    dn_error_context("dn_fit: LearningRateScheduler");
  return st;
}

static dn_status ls_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *book) {
  (void)cb;
  (void)epoch;
  return dn_logbook_set(book, "learning_rate", lr_as_keras_reads(dn_model_optimizer(ctx->model)));
}

static const dn_callback_ops lr_scheduler_ops = {
    .type = "LearningRateScheduler",
    .epoch_begin = ls_epoch_begin,
    .epoch_end = ls_epoch_end,
};

dn_callback *dn_learning_rate_scheduler(dn_lr_schedule_fn schedule, void *user) {
  if (schedule == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_learning_rate_scheduler: schedule is NULL");
  lr_scheduler *s = dn_calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->schedule = schedule;
  s->user = user;
  return dn_callback_new(&lr_scheduler_ops, s);
}

/* ---- TerminateOnNaN ---------------------------------------------------------------- */

static dn_status tn_batch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t batch, const dn_logs *logs) {
  (void)cb;
  long i = dn_logs_find(logs, "loss");
  if (i >= 0 && !isfinite(logs->values[i])) {
    fprintf(ctx->out, "Batch %zu: Invalid loss, terminating training\n", batch);
    ctx->model->stop_training = true;
  }
  return DN_OK;
}

static const dn_callback_ops terminate_on_nan_ops = {
    .type = "TerminateOnNaN",
    .batch_end = tn_batch_end,
};

bool dn_cb_is_terminate_on_nan(const dn_callback *cb) {
  return cb->ops == &terminate_on_nan_ops;
}

dn_callback *dn_terminate_on_nan(void) {
  int *unused = dn_calloc(1, sizeof *unused);
  if (unused == NULL)
    return NULL;
  return dn_callback_new(&terminate_on_nan_ops, unused);
}

/* ---- LambdaCallback ----------------------------------------------------------------- */

static const dn_logs no_logs = {0, NULL, NULL};

static dn_status lc_train_begin(dn_callback *cb, dn_cb_ctx *ctx) {
  dn_lambda_callback_options *o = cb->impl;
  if (o->on_train_begin)
    o->on_train_begin(ctx->model, 0, &no_logs, o->user);
  return DN_OK;
}
static dn_status lc_epoch_begin(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch) {
  dn_lambda_callback_options *o = cb->impl;
  if (o->on_epoch_begin)
    o->on_epoch_begin(ctx->model, epoch, &no_logs, o->user);
  return DN_OK;
}
static dn_status lc_batch_begin(dn_callback *cb, dn_cb_ctx *ctx, size_t batch) {
  dn_lambda_callback_options *o = cb->impl;
  if (o->on_batch_begin)
    o->on_batch_begin(ctx->model, batch, &no_logs, o->user);
  return DN_OK;
}
static dn_status lc_batch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t batch, const dn_logs *logs) {
  dn_lambda_callback_options *o = cb->impl;
  if (o->on_batch_end)
    o->on_batch_end(ctx->model, batch, logs, o->user);
  return DN_OK;
}
static dn_status lc_epoch_end(dn_callback *cb, dn_cb_ctx *ctx, size_t epoch, dn_logbook *book) {
  dn_lambda_callback_options *o = cb->impl;
  dn_logs logs = dn_logbook_view(book);
  if (o->on_epoch_end)
    o->on_epoch_end(ctx->model, epoch, &logs, o->user);
  return DN_OK;
}
static dn_status lc_train_end(dn_callback *cb, dn_cb_ctx *ctx, const dn_logs *logs) {
  dn_lambda_callback_options *o = cb->impl;
  if (o->on_train_end)
    o->on_train_end(ctx->model, 0, logs, o->user);
  return DN_OK;
}

static const dn_callback_ops lambda_ops = {
    .type = "LambdaCallback",
    .train_begin = lc_train_begin,
    .epoch_begin = lc_epoch_begin,
    .batch_begin = lc_batch_begin,
    .batch_end = lc_batch_end,
    .epoch_end = lc_epoch_end,
    .train_end = lc_train_end,
};

dn_callback *dn_lambda_callback_with(dn_lambda_callback_options options) {
  dn_lambda_callback_options *o = dn_alloc(sizeof *o);
  if (o == NULL)
    return NULL;
  *o = options;
  return dn_callback_new(&lambda_ops, o);
}
