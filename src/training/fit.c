/* fit.c -- model.fit: validation split, per-epoch shuffling, batching, the training loop,
 * validation, callbacks, history and the progress display (Keras 3's Trainer.fit as in
 * keras/src/backend/tensorflow/trainer.py and trainers/data_adapters/).
 *
 * Semantics kept from Keras: validation_split takes the last n - floor(n * (1 - split)) rows
 * before shuffling; the last partial batch is trained on; the epoch loss is the
 * sample-count-weighted mean of the batch losses (regularization included); metrics given to
 * compile are not sample-weighted; val_ values come from an inference-mode pass in batches of
 * batch_size; batch logs hold the running means since the epoch began, keys sorted (as
 * CallbackList._pythonify_logs hands them over), epoch logs loss, metrics, then the val_ ones;
 * callbacks run in list order, then the history, then the progress display;
 * model->stop_training is reset at train begin and checked after every batch and epoch.
 * class_weight becomes per-row weights of the training rows once (never with sample_weight), before
 * the first step; validation_freq skips validation on the other epochs; steps_per_epoch draws
 * an epoch's batches from a pass over the rows that carries on across epochs (Keras 3's
 * EpochIterator: _steps_seen, a fresh iterator when a pass is used up, the "ran out of data"
 * warning when it is used up mid-epoch).
 * Numerical safety (not in Keras): a batch whose loss (as a float), gradient or optimizer update
 * is NaN/Inf is not applied; fit then fails with DN_ERR_NUMERIC, unless a TerminateOnNaN
 * callback is present and the loss is what went bad, in which case training stops and the
 * history is returned.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "core/status.h"
#include "training/callbacks.h"
#include "training/history.h"
#include "training/progress.h"
#include "training/train.h"

#define DN_FIT_BATCH 32

/* The callbacks list's length; DN_ERR_ARG if a callback appears twice (fit frees each once). */
static dn_status count_callbacks(dn_callback *const *cbs, size_t *n) {
  *n = 0;
  while (cbs != NULL && cbs[*n] != NULL)
    (*n)++;
  for (size_t i = 1; i < *n; i++)
    for (size_t j = 0; j < i; j++)
      if (cbs[i] == cbs[j])
        return dn_fail(DN_ERR_ARG,
                       "dn_fit: callbacks[%zu] is callbacks[%zu] again (%s); give each callback "
                       "once",
                       i, j, cbs[i]->ops->type);
  return DN_OK;
}

/* fit owns its callbacks: each is freed once when it returns, whatever happened. */
static void free_callbacks(dn_callback *const *cbs) {
  for (size_t i = 0; cbs != NULL && cbs[i] != NULL; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = cbs[j] == cbs[i];
    if (!seen)
      dn_callback_free(cbs[i]);
  }
}

typedef struct fit_data {
  const char *fn;        /* dn_fit or dn_fit_source */
  dn_source *src, *vsrc; /* dn_fit_source: the training and validation sources */
  const float *x, *y, *sw;
  size_t rows;
  const float *vx, *vy, *vsw;
  size_t vrows;
  size_t batch, epochs, initial_epoch; /* epochs resolved: DN_ZERO_COUNT -> 0 */
  size_t batches;                      /* in a pass over the training rows */
  size_t steps;  /* per epoch: steps_per_epoch, or batches; 0: a source's count, unknown until an
                    epoch ends */
  bool carry_on; /* steps_per_epoch given: passes span epochs */
  size_t val_batch, val_freq;
  const float *cw; /* class_weight's table (n_cw entries), or NULL */
  size_t n_cw;
  bool has_terminate_on_nan;
  bool validate;      /* validation runs (with hooks: on any process) */
  dn_train_undo undo; /* what the setup changed, put back if fit fails before its first step */
} fit_data;

/* The class of training row r for class_weight (Keras's class_weight_to_sample_weights): the
 * argmax of a row of several columns, else the value rounded half to even; false (with *c
 * unset) when that is no index into a table of n entries. */
static bool row_class(const float *y, size_t tcols, size_t r, size_t n, size_t *c) {
  const float *row = y + r * tcols;
  size_t best = 0;
  for (size_t k = 0; k < tcols; k++) {
    if (!isfinite(row[k]))
      return false;
    if (row[k] > row[best])
      best = k;
  }
  if (tcols == 1) {
    double v = nearbyint((double)row[0]); /* the default rounding mode: half to even */
    if (!(v >= 0 && v < (double)n))
      return false;
    best = (size_t)v;
  }
  *c = best;
  return best < n;
}

static dn_status check_class_weight(const char *fn, dn_tensor cw, const dn_xy *xy, size_t rows,
                                    fit_data *d) {
  if (dn_tensor_is_none(cw))
    return DN_OK;
  if (xy->sw != NULL) /* keras/src/trainers/data_adapters: a ValueError */
    return dn_fail(DN_ERR_ARG,
                   "%s: you cannot use class_weight and sample_weight at the same time (as in "
                   "Keras 3); multiply the class weights into sample_weight instead",
                   fn);
  dn_matrix m;
  dn_status st = dn_tensor_matrix(cw, fn, "class_weight", 2, &m);
  if (st != DN_OK)
    return st;
  if (m.cols != 1)
    return dn_fail(DN_ERR_SHAPE,
                   "%s: class_weight has %zu columns but takes 1 (a weight per class)", fn, m.cols);
  for (size_t r = 0; r < rows; r++) {
    size_t c = 0;
    if (!row_class(xy->y.data, xy->tcols, r, m.rows, &c)) {
      const float *row = xy->y.data + r * xy->tcols;
      if (xy->tcols == 1)
        return dn_fail(DN_ERR_ARG,
                       "%s: y row %zu holds %g, which is no class in class_weight's %zu entr%s "
                       "(a class index rounded from it must be in [0, %zu))",
                       fn, r, row[0], m.rows, m.rows == 1 ? "y" : "ies", m.rows);
      size_t k = 0;
      while (k < xy->tcols && isfinite(row[k]))
        k++;
      if (k < xy->tcols)
        return dn_fail(DN_ERR_ARG,
                       "%s: y row %zu column %zu holds %g, so the row has no class "
                       "for class_weight",
                       fn, r, k, row[k]);
      return dn_fail(DN_ERR_ARG,
                     "%s: y row %zu is of class %zu (its argmax) but class_weight has %zu entr%s",
                     fn, r, c, m.rows, m.rows == 1 ? "y" : "ies");
    }
  }
  d->cw = m.data;
  d->n_cw = m.rows;
  return DN_OK;
}

/* dn_fit's x, y, sample weights and validation data. */
static dn_status check_arrays(const dn_fit_options *o, fit_data *d, dn_xy *xy_out) {
  const char *fn = "dn_fit";
  dn_xy xy, val = {0};
  dn_status st = dn_train_check_xy(o->model, fn, o->x, o->y, o->sample_weight, &xy);
  if (st != DN_OK)
    return st;
  bool has_vx = !dn_tensor_is_none(o->validation_x), has_vy = !dn_tensor_is_none(o->validation_y);
  if (has_vx != has_vy)
    return dn_fail(DN_ERR_ARG,
                   "%s: validation_%s is given but validation_%s is not (Keras validation_data "
                   "is a pair)",
                   fn, has_vx ? "x" : "y", has_vx ? "y" : "x");
  if (has_vx && (st = dn_train_check_pair(fn, "validation_x", "validation_y", o->validation_x,
                                          o->validation_y, &xy, &val)) != DN_OK)
    return st;
  double split = o->validation_split;
  if (!(split >= 0 && split < 1))
    return dn_fail(DN_ERR_ARG, "%s: validation_split must be in [0, 1), got %g", fn, split);
  size_t rows = xy.x.rows;
  *d = (fit_data){.fn = fn, .x = xy.x.data, .y = xy.y.data, .sw = xy.sw, .rows = rows};
  if (has_vx) { /* validation_data overrides validation_split */
    d->vx = val.x.data;
    d->vy = val.y.data;
    d->vrows = val.x.rows;
  } else if (split > 0) {
    /* In double, rows above 2^53 round (up, too): keep at most rows, so both parts stay within
     * x. (rows < 2^62 here, so the product converts to size_t without overflow.) */
    double kept = floor((double)rows * (1.0 - split));
    size_t keep = kept < (double)rows ? (size_t)kept : rows;
    if (keep == 0 || keep == rows)
      return dn_fail(DN_ERR_ARG,
                     "%s: validation_split %g of %zu rows leaves %zu training and %zu validation "
                     "rows; both must be > 0",
                     fn, split, rows, keep, rows - keep);
    d->rows = keep;
    d->vx = xy.x.data + keep * xy.x.cols;
    d->vy = xy.y.data + keep * xy.tcols;
    d->vsw = xy.sw ? xy.sw + keep : NULL;
    d->vrows = rows - keep;
  }
  *xy_out = xy;
  return DN_OK;
}

/* dn_fit_source's sources: checked against the model as dn_fit checks x and y. */
static dn_status check_sources(const dn_fit_options *o, fit_data *d, dn_xy *xy) {
  const char *fn = "dn_fit_source";
  dn_status st = dn_train_check_source(o->model, fn, d->src, xy);
  if (st != DN_OK)
    return st;
  dn_source *v = d->vsrc;
  if (v != NULL && (v->o.x_cols != d->src->o.x_cols || v->o.y_cols != d->src->o.y_cols))
    return dn_fail(DN_ERR_ARG,
                   "%s: validation_source gives %zu x and %zu y columns but source gives %zu "
                   "and %zu",
                   fn, v->o.x_cols, v->o.y_cols, d->src->o.x_cols, d->src->o.y_cols);
  d->fn = fn;
  d->rows = SIZE_MAX; /* unknown: the batch size is not clamped to it */
  return DN_OK;
}

/* Every check of fit's arguments, changing nothing; then the setup (building an unbuilt model,
 * fixing a resolved loss, metrics, optimizer slots). */
static dn_status check_fit(const dn_fit_options *o, dn_callback *const *cbs, size_t n_cb,
                           fit_data *d) {
  dn_xy xy;
  dn_status st = d->src != NULL ? check_sources(o, d, &xy) : check_arrays(o, d, &xy);
  if (st != DN_OK)
    return st;
  const char *fn = d->fn;
  /* Keras: epochs=0 trains nothing and returns an empty history (DN_ZERO_COUNT here, as 0 is
   * the default of 1); a zero batch_size is an error in Keras too. */
  if (!dn_size_count_or_default(o->epochs, 1, &d->epochs))
    return dn_fail(DN_ERR_ARG,
                   "%s: epochs is %zu, a negative number converted to size_t (DN_ZERO_COUNT "
                   "asks for 0 epochs)",
                   fn, o->epochs);
  if (!dn_size_count_or_default(o->initial_epoch, 0, &d->initial_epoch))
    return dn_fail(DN_ERR_ARG, "%s: initial_epoch is %zu, a negative number converted to size_t",
                   fn, o->initial_epoch);
  size_t spe, freq;
  if (!dn_size_count_or_default(o->steps_per_epoch, 0, &spe) || (spe == 0 && o->steps_per_epoch))
    return dn_fail(DN_ERR_ARG,
                   "%s: steps_per_epoch is %zu, a negative number converted to size_t (0 is "
                   "Keras's None: a pass over the rows per epoch)",
                   fn, o->steps_per_epoch);
  if (!dn_size_count_or_default(o->validation_freq, 1, &freq) || freq == 0)
    return dn_fail(DN_ERR_ARG,
                   "%s: validation_freq must be >= 1 (0 for Keras's default of 1), got %zu", fn,
                   o->validation_freq);
  d->val_freq = freq;
  /* Keras's ArrayDataAdapter: no batch_size but steps -> ceil(rows / steps) rows a batch. */
  size_t batch_default = spe ? d->rows / spe + (d->rows % spe != 0) : DN_FIT_BATCH;
  if ((st = dn_train_batch_size(fn, o->batch_size, batch_default, &d->batch)) != DN_OK)
    return st;
  /* Validation batches: validation_batch_size, else the batch_size given, else 32. */
  if (!dn_size_count_or_default(o->validation_batch_size, 0, &d->val_batch) ||
      (d->val_batch == 0 && o->validation_batch_size))
    return dn_fail(DN_ERR_ARG,
                   "%s: validation_batch_size must be >= 1 (0 for batch_size's), got %zu", fn,
                   o->validation_batch_size);
  if (d->val_batch == 0)
    (void)dn_train_batch_size(fn, o->batch_size, DN_FIT_BATCH, &d->val_batch); /* checked */
  if (d->batch > d->rows) /* one batch of every row (and no overflow in the step count) */
    d->batch = d->rows;
  if (d->val_batch > d->vrows) /* only for sizing the workspace: one batch either way */
    d->val_batch = d->vrows ? d->vrows : d->batch;
  d->batches = (d->rows + d->batch - 1) / d->batch;
  d->steps = d->src != NULL ? d->src->o.steps : spe ? spe : d->batches;
  d->carry_on = spe != 0;
  d->validate = d->vrows > 0 || d->vsrc != NULL;
  if (o->model->train->hooks != NULL && (spe || o->validation_batch_size))
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s is not supported with data-parallel training", fn,
                   spe ? "steps_per_epoch" : "validation_batch_size");
  if ((st = check_class_weight(fn, o->class_weight, &xy, d->rows, d)) != DN_OK)
    return st;
  for (size_t i = 0; i < n_cb; i++)
    d->has_terminate_on_nan |= dn_cb_is_terminate_on_nan(cbs[i]);
  return dn_train_setup(o->model, fn, &xy, &d->undo);
}

/* Everything a fit allocates, released in one place. */
typedef struct fit_run {
  dn_logbook book, batch_book;
  dn_progress progress;
  dn_history *history;
  dn_callback *const *cbs;
  size_t n_cb;
  dn_cb_ctx ctx;
  float *row_weights; /* class_weight (times sample_weight) per training row, or NULL */
  size_t cursor;      /* batches of the current pass taken (Keras's _steps_seen) */
  bool warned;        /* the "ran out of data" warning was given */
} fit_run;

static void fit_cleanup(fit_run *r, bool keep_history) {
  dn_free(r->row_weights);
  r->row_weights = NULL;
  dn_logbook_free(&r->book);
  dn_logbook_free(&r->batch_book);
  dn_progress_free(&r->progress);
  if (!keep_history) {
    dn_history_free(r->history);
    r->history = NULL;
  }
}

/* dst = the `cols` floats at src. The narrowest rows (a lesson net's 1 to 4 columns) are
 * copied inline: a call to memcpy per row costs more than the row (and compilers turn a plain
 * copy loop back into that call). */
static void copy_row(float *restrict dst, const float *restrict src, size_t cols) {
  switch (cols) {
  case 4: dst[3] = src[3]; /* fall through */
  case 3: dst[2] = src[2]; /* fall through */
  case 2: dst[1] = src[1]; /* fall through */
  case 1: dst[0] = src[0]; break;
  default: memcpy(dst, src, cols * sizeof *dst);
  }
}

static void gather(dn_model *model, const fit_data *d, const size_t *rows, size_t n) {
  struct dn_train *t = model->train;
  size_t in = model->input_dim, tcols = dn_train_target_cols(model);
  for (size_t r = 0; r < n; r++) {
    size_t src = rows[r];
    copy_row(t->bx + r * in, d->x + src * in, in);
    copy_row(t->by + r * tcols, d->y + src * tcols, tcols);
    if (d->sw)
      t->bw[r] = d->sw[src];
  }
}

/* The next batch of a source into the batch buffers (*n = 0: the epoch's data has ended), its
 * class indices checked; errors name the epoch and batch. */
static dn_status pull(dn_model *model, const fit_data *d, size_t epoch, size_t step, size_t *n) {
  struct dn_train *t = model->train;
  dn_status st = dn_source_pull(d->src, t->bx, t->by, d->batch, n);
  if (st == DN_OK && *n > 0)
    st = dn_train_check_labels(model, t->by, *n);
  if (st != DN_OK) {
    char where[64];
    snprintf(where, sizeof where, "epoch %zu, batch %zu", epoch + 1, step);
    dn_error_context(where);
    dn_error_context(d->fn);
  }
  return st;
}

/* A failure before a step's first agreement (an epoch's begin callbacks, a source's reset): with
 * hooks, reported in that agreement, as the step would. */
static dn_status fail_step(dn_model *model, const fit_data *d, dn_status st) {
  const dn_train_hooks *h = model->train->hooks;
  dn_step_fault fault = DN_STEP_FINE;
  bool more = false;
  if (h == NULL)
    return st;
  return d->src != NULL ? h->pulled(h->ctx, st, 0, &more)
                        : h->reduce_grads(h->ctx, model, 0, st, &fault);
}

/* One epoch of training steps; *loss gets the epoch's weighted mean, *steps_run the batches. */
static dn_status train_epoch(dn_model *model, const fit_data *d, fit_run *r, size_t epoch,
                             double *epoch_loss, size_t *steps_run) {
  struct dn_train *t = model->train;
  const dn_train_hooks *h = t->hooks;
  double sum = 0.0;
  size_t seen = 0, step = 0;
  bool ended = false; /* this process's source has ended (with hooks, others' may go on) */
  for (; d->src != NULL ? d->steps == 0 || step < d->steps : step < d->steps; step++) {
    if (d->carry_on && r->cursor >= d->batches) { /* steps_per_epoch: the pass is used up */
      if (!r->warned)
        dn_cb_warn(&r->ctx, "Your input ran out of data; interrupting training. Make sure that "
                            "your dataset or generator can generate at least `steps_per_epoch "
                            "* epochs` batches. You may need to use the `.repeat()` function "
                            "when building your dataset.");
      r->warned = true;
      break;
    }
    dn_status st = DN_OK;
    size_t n = 0;
    if (d->src != NULL) { /* with hooks, an ended source trains on 0 rows while others go on */
      ended = ended || (d->src->o.steps != 0 && step >= d->src->o.steps);
      if (!ended)
        st = pull(model, d, epoch, step, &n);
      ended = ended || n == 0;
      bool more = n > 0;
      if (h != NULL)
        st = h->pulled(h->ctx, st, n, &more);
      if (st != DN_OK)
        return st;
      if (!more)
        break;
    }
    dn_step_fault fault = DN_STEP_FINE;
    for (size_t i = 0; i < r->n_cb && st == DN_OK; i++)
      st = dn_cb_batch_begin(r->cbs[i], &r->ctx, step);
    if (st != DN_OK) /* with hooks, in the step's agreement, as the step would */
      return h != NULL ? h->reduce_grads(h->ctx, model, 0, st, &fault) : st;
    double loss = NAN;
    if (d->src == NULL) {
      size_t start = r->cursor++ * d->batch;
      n = d->rows - start < d->batch ? d->rows - start : d->batch;
      if (start >= d->rows) /* with hooks: this process has no rows left in this epoch */
        n = start = 0;
      gather(model, d, t->perm + start, n);
    }
    st = dn_train_step(model, t->bx, t->by, d->sw ? t->bw : NULL, n, true, &loss, &fault);
    if (st == DN_ERR_NUMERIC && (fault != DN_STEP_LOSS || !d->has_terminate_on_nan))
      return dn_fail(st, "%s: the %s at epoch %zu, batch %zu (loss %g); the step was not applied%s",
                     d->fn, dn_step_fault_text(fault), epoch + 1, step, loss,
                     fault == DN_STEP_LOSS ? " (dn_terminate_on_nan() stops training and keeps "
                                             "the history instead)"
                                           : "");
    if (st != DN_OK && st != DN_ERR_NUMERIC) {
      dn_error_context(d->fn);
      return st;
    }
    sum += loss * (double)n;
    seen += n;
    dn_logbook_clear(&r->batch_book);
    st = dn_train_log_values(&r->batch_book, t, sum / (double)seen, false);
    dn_logbook_sort(&r->batch_book); /* Keras hands batch logs over in sorted key order */
    dn_logs logs = dn_logbook_view(&r->batch_book);
    for (size_t i = 0; i < r->n_cb && st == DN_OK; i++)
      st = dn_cb_batch_end(r->cbs[i], &r->ctx, step, &logs);
    if (st == DN_OK)
      dn_progress_batch_end(&r->progress, step, &logs);
    if (h != NULL) /* the same status and stop decision on every process */
      st = h->agree(h->ctx, st, &model->stop_training);
    if (st != DN_OK)
      return st;
    if (model->stop_training) {
      step++;
      break;
    }
  }
  double rows = (double)seen;
  /* with hooks: the loss and metrics over every process's rows */
  dn_status st = h != NULL ? h->reduce_totals(h->ctx, model, DN_OK, &sum, &rows) : DN_OK;
  if (st == DN_OK && rows == 0.0)
    return dn_fail(DN_ERR_STATE, "%s: epoch %zu: the source gave no rows", d->fn, epoch + 1);
  *epoch_loss = sum / rows;
  *steps_run = step;
  return st;
}

static dn_status run_epochs(dn_model *model, const dn_fit_options *o, fit_data *d, fit_run *r) {
  struct dn_train *t = model->train;
  const dn_train_hooks *h = t->hooks;
  dn_status st;
  for (size_t epoch = d->initial_epoch; epoch < d->epochs; epoch++) {
    dn_train_reset_metrics(t);
    dn_logbook_clear(&r->book);
    st = DN_OK;
    for (size_t i = 0; i < r->n_cb && st == DN_OK; i++)
      st = dn_cb_epoch_begin(r->cbs[i], &r->ctx, epoch);
    if (st == DN_OK && d->src != NULL)
      st = dn_source_begin_pass(d->src, d->fn);
    if (st != DN_OK) /* with hooks, in the first step's agreement, as the step would */
      return fail_step(model, d, st);
    dn_progress_epoch_begin(&r->progress, epoch);
    if (!d->carry_on) /* a pass per epoch; with steps_per_epoch passes span epochs */
      r->cursor = 0;
    const bool fresh = d->src == NULL && r->cursor == 0; /* a new pass over the rows */
    for (size_t i = 0; fresh && i < d->rows; i++)
      t->perm[i] = i;
    if (fresh && !o->no_shuffle && h != NULL)
      h->shuffle(h->ctx, model, t->perm, d->rows);
    else if (fresh && !o->no_shuffle) /* Fisher-Yates from the model's shuffle stream */
      for (size_t i = d->rows - 1; i > 0; i--) {
        size_t j = (size_t)dn_rng_below(&model->rng_shuffle, (uint64_t)i + 1);
        size_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
      }
    double loss = NAN;
    size_t steps_run = 0;
    if ((st = train_epoch(model, d, r, epoch, &loss, &steps_run)) != DN_OK)
      return st;
    if (d->steps == 0 && !model->stop_training) /* a source's count, learnt (Keras too) */
      d->steps = r->ctx.steps = r->progress.steps = steps_run;
    if (r->cursor >= d->batches) /* Keras: a fresh iterator once a pass is used up */
      r->cursor = 0;
    if ((st = dn_train_log_values(&r->book, t, loss, false)) != DN_OK)
      return st;
    if (d->validate && (epoch + 1) % d->val_freq == 0) { /* Keras's _should_eval */
      double vloss = 0.0, vrows = (double)d->vrows;
      dn_train_reset_metrics(t); /* a process without validation rows adds nothing */
      if (d->vsrc != NULL) {
        size_t vr = 0; /* with hooks, a process's empty pass is no error: the total is judged */
        if ((st = dn_train_evaluate_source(model, d->vsrc, "validation", d->val_batch, &vloss,
                                           h != NULL ? &vr : NULL)))
          dn_error_context(d->fn);
        vrows = (double)vr;
      } else if (d->vrows > 0 && (st = dn_train_evaluate(model, d->vx, d->vy, d->vsw, d->vrows,
                                                         d->val_batch, &vloss, NULL))) {
        dn_error_context("validation");
        dn_error_context(d->fn);
      }
      if (h != NULL) { /* over every process's validation rows */
        vloss *= vrows;
        st = h->reduce_totals(h->ctx, model, st, &vloss, &vrows);
        vloss /= vrows;
        if (st == DN_OK && vrows == 0.0)
          st = dn_fail(DN_ERR_STATE, "%s: validation: the sources gave no rows", d->fn);
      }
      if (st != DN_OK || (st = dn_train_log_values(&r->book, t, vloss, true)) != DN_OK)
        return st;
    }
    for (size_t i = 0; i < r->n_cb && st == DN_OK; i++)
      st = dn_cb_epoch_end(r->cbs[i], &r->ctx, epoch, &r->book);
    dn_logs logs = dn_logbook_view(&r->book);
    if (st == DN_OK && (st = dn_history_record(r->history, epoch, &logs)) == DN_OK)
      dn_progress_epoch_end(&r->progress, &logs);
    if (h != NULL) /* the same status and stop decision on every process */
      st = h->agree(h->ctx, st, &model->stop_training);
    if (st != DN_OK)
      return st;
    if (model->stop_training)
      break;
  }
  return DN_OK;
}

static dn_history *fit(dn_fit_options o, size_t n_cb, const dn_train_hooks *h, dn_source *src,
                       dn_source *vsrc) {
  if (o.model == NULL)
    return dn_fail_null(DN_ERR_ARG, "%s: model is NULL", src ? "dn_fit_source" : "dn_fit");
  dn_model *model = o.model;
  fit_data d = {.src = src, .vsrc = vsrc};
  dn_status checked = check_fit(&o, o.callbacks, n_cb, &d);
  if (h != NULL) { /* the local batch and the steps; every process's checks agreed */
    dn_status st =
        h->plan(h->ctx, model, checked, d.rows, d.vrows, &d.batch, &d.steps, &d.validate);
    if (st != DN_OK && checked == DN_OK)
      dn_train_setup_undo(model, &d.undo);
    checked = st;
    d.batches = d.steps; /* a pass per epoch (steps_per_epoch is refused with hooks) */
    d.val_batch = d.batch;
  }
  if (checked != DN_OK)
    return NULL;
  /* A fit that fails before its first step leaves the model as it was: its build (check_fit
   * built an unbuilt model), an unresolved "crossentropy" and its random streams. */
  uint64_t steps_before = dn_optimizer_iterations(model->train->optimizer);
  dn_rng shuffle_before = model->rng_shuffle, dropout_before = model->rng_dropout;

  /* Allocate everything before the first step (check_fit built an unbuilt model). */
  struct dn_train *t = model->train;
  size_t keys = 2 * dn_model_metrics_count(model) + 4; /* loss and metric values, val_ too */
  fit_run r = {.cbs = o.callbacks, .n_cb = n_cb};
  r.ctx = (dn_cb_ctx){model,   o.out ? o.out : stdout, d.epochs,
                      d.steps, DN_VERBOSE_SILENT,      h != NULL && h->no_files};
  size_t widest = d.rows > d.vrows ? d.rows : d.vrows;
  size_t ws = d.batch > d.val_batch ? d.batch : d.val_batch; /* training or validation batch */
  dn_status st = dn_train_reserve(model, d.batch < d.rows ? d.batch : d.rows, src ? 0 : d.rows);
  if (st == DN_OK)
    st = dn_seq_reserve(model, ws < widest ? ws : widest);
  if (st == DN_OK && d.cw != NULL) {
    if ((r.row_weights = dn_alloc(d.rows * sizeof *r.row_weights)) == NULL)
      st = DN_ERR_NOMEM;
    for (size_t i = 0; st == DN_OK && i < d.rows; i++) {
      size_t c = 0;
      (void)row_class(d.y, dn_train_target_cols(model), i, d.n_cw, &c); /* checked */
      r.row_weights[i] = d.cw[c]; /* there is no sample_weight (check_class_weight) */
    }
    d.sw = r.row_weights;
  }
  if (st == DN_OK)
    st = dn_logbook_init(&r.book, keys);
  if (st == DN_OK)
    st = dn_logbook_init(&r.batch_book, keys);
  if (st == DN_OK)
    st = dn_progress_init(&r.progress, r.ctx.out, o.verbose, d.epochs, d.steps, keys);
  r.ctx.verbose = r.progress.mode; /* resolved (callbacks' warnings follow it) */
  /* Room for the epochs to run (at most 1024 up front: early stopping often ends long runs). */
  size_t room = d.epochs > d.initial_epoch ? d.epochs - d.initial_epoch : 0;
  if (st == DN_OK && (r.history = dn_history_new(room < 1024 ? room : 1024)) == NULL)
    st = DN_ERR_NOMEM;
  for (size_t i = 0; st == DN_OK && i < n_cb; i++)
    st = dn_cb_prepare(o.callbacks[i], &r.ctx);
  bool stop = false;
  if (h != NULL)
    st = h->agree(h->ctx, st, &stop);
  if (st != DN_OK) {
    fit_cleanup(&r, false);
    dn_train_setup_undo(model, &d.undo);
    return NULL;
  }

  if (o.seed != 0) {
    dn_rng_seed(&model->rng_shuffle, o.seed, DN_STREAM_SHUFFLE);
    dn_rng_seed(&model->rng_dropout, o.seed, DN_STREAM_DROPOUT);
  }
  model->stop_training = false;
  for (size_t i = 0; st == DN_OK && i < n_cb; i++)
    st = dn_cb_train_begin(o.callbacks[i], &r.ctx);
  if (h != NULL)
    st = h->agree(h->ctx, st, &model->stop_training);
  if (st == DN_OK)
    st = run_epochs(model, &o, &d, &r);
  if (st == DN_OK) {
    dn_logs logs = dn_logbook_view(&r.book);
    for (size_t i = 0; st == DN_OK && i < n_cb; i++)
      st = dn_cb_train_end(o.callbacks[i], &r.ctx, &logs);
    if (h != NULL)
      st = h->agree(h->ctx, st, &stop);
  }
  fit_cleanup(&r, st == DN_OK);
  if (st != DN_OK && dn_optimizer_iterations(t->optimizer) == steps_before) {
    dn_train_setup_undo(model, &d.undo);
    model->rng_shuffle = shuffle_before;
    model->rng_dropout = dropout_before;
  }
  return st == DN_OK ? r.history : NULL;
}

dn_history *dn_fit_hooked(dn_fit_options o, const dn_train_hooks *hooks) {
  size_t n_cb = 0;
  dn_history *history = NULL;
  if (count_callbacks(o.callbacks, &n_cb) == DN_OK) {
    if (hooks != NULL && o.model != NULL && o.model->train != NULL)
      o.model->train->hooks = hooks;
    history = fit(o, n_cb, hooks, NULL, NULL);
    if (hooks != NULL && o.model != NULL && o.model->train != NULL)
      o.model->train->hooks = NULL;
  }
  free_callbacks(o.callbacks); /* fit took them, also on failure */
  return history;
}

dn_history *dn_fit_source_hooked(dn_fit_source_options s, const dn_train_hooks *hooks) {
  size_t n_cb = 0;
  dn_history *history = NULL;
  /* dn_fit's options that apply to a stream; the rest stay at "none". */
  dn_fit_options o = {.model = s.model,
                      .epochs = s.epochs,
                      .batch_size = s.batch_size,
                      .no_shuffle = true,
                      .initial_epoch = s.initial_epoch,
                      .verbose = s.verbose,
                      .out = s.out,
                      .seed = s.seed,
                      .callbacks = s.callbacks};
  if (s.source == NULL)
    dn_fail(DN_ERR_ARG, "dn_fit_source: source is NULL");
  else if (count_callbacks(o.callbacks, &n_cb) == DN_OK) {
    if (hooks != NULL && o.model != NULL && o.model->train != NULL)
      o.model->train->hooks = hooks;
    history = fit(o, n_cb, hooks, s.source, s.validation_source);
    if (hooks != NULL && o.model != NULL && o.model->train != NULL)
      o.model->train->hooks = NULL;
  }
  free_callbacks(o.callbacks); /* fit took them, also on failure */
  return history;
}

dn_history *dn_fit_source_with(dn_fit_source_options s) {
  return dn_fit_source_hooked(s, NULL);
}

dn_history *dn_fit_with(dn_fit_options o) {
  return dn_fit_hooked(o, NULL);
}
