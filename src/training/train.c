/* train.c -- compile, the batch steps, evaluate, predict and the *_on_batch calls
 * (Keras's Trainer apart from fit, which is in fit.c). */
#include "training/train.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fpenv.h"
#include "core/names.h"
#include "core/options.h"
#include "core/status.h"
#include "kernels/parallel.h"
#include "kernels/kernels.h"

#define DN_EVAL_BATCH 32

/* ---- compiled state ------------------------------------------------------ */

static void free_metrics(struct dn_train *t) {
  if (t->metrics != NULL && t->metrics_cols != 0)
    for (size_t i = 0; i < t->n_metrics; i++)
      dn_metric_free(&t->metrics[i]);
  t->metrics_cols = 0;
}

void dn_train_free(struct dn_train *train) {
  if (train == NULL)
    return;
  free_metrics(train);
  dn_free(train->metrics);
  dn_free(train->metric_req);
  dn_free(train->val_names);
  dn_optimizer_free(train->optimizer);
  dn_free(train->bx);
  dn_free(train->by);
  dn_free(train->bw);
  dn_free(train->grad);
  dn_free(train->perm);
  dn_free(train->frozen);
  dn_free(train);
}

size_t dn_train_target_cols(const dn_model *model) {
  return model->train->loss->sparse ? 1 : dn_model_output_dim(model);
}

/* New metrics for predictions of `cols` columns and targets of `tcols` (all or nothing), into
 * *out; commit_metrics installs them. */
static dn_status prepare_metrics(const struct dn_train *t, size_t cols, size_t tcols,
                                 const char *fn, dn_metric **out) {
  dn_metric *fresh = dn_calloc(t->n_metrics ? t->n_metrics : 1, sizeof *fresh);
  if (fresh == NULL) {
    dn_error_context(fn);
    return DN_ERR_NOMEM;
  }
  for (size_t i = 0; i < t->n_metrics; i++) {
    dn_status st = dn_metric_init(&fresh[i], t->metric_req[i], cols, tcols);
    if (st != DN_OK) {
      for (size_t j = 0; j < i; j++)
        dn_metric_free(&fresh[j]);
      dn_free(fresh);
      dn_error_context(fn);
      return st;
    }
  }
  *out = fresh;
  return DN_OK;
}

static void commit_metrics(struct dn_train *t, dn_metric *fresh, size_t cols, size_t tcols) {
  free_metrics(t);
  dn_free(t->metrics);
  t->metrics = fresh;
  t->metrics_cols = cols;
  t->metrics_tcols = tcols;
  for (size_t i = 0; i < t->n_metrics; i++)
    snprintf(t->val_names[i], DN_TRAIN_NAME_CAP, "val_%s", fresh[i].name);
}

/* Sets the metrics up for the model's output width (all or nothing). */
static dn_status init_metrics(dn_model *model, const char *fn) {
  struct dn_train *t = model->train;
  size_t cols = dn_model_output_dim(model), tcols = dn_train_target_cols(model);
  if (t->metrics_cols == cols && t->metrics_tcols == tcols)
    return DN_OK;
  dn_metric *fresh = NULL;
  dn_status st = prepare_metrics(t, cols, tcols, fn, &fresh);
  if (st == DN_OK)
    commit_metrics(t, fresh, cols, tcols);
  return st;
}

static dn_status check_compile_args(const dn_compile_options *o, const dn_loss **loss,
                                    size_t *n_metrics) {
  if (o->model == NULL)
    return dn_fail(DN_ERR_ARG, "dn_compile: model is NULL");
  if (o->loss == NULL)
    return dn_fail(DN_ERR_ARG, "dn_compile: loss is required (e.g. .loss = \"mse\")");
  *loss = dn_loss_find(o->loss);
  if (*loss == NULL) {
    dn_error_context("dn_compile");
    return DN_ERR_ARG;
  }
  if (!dn_loss_takes_huber_delta(*loss) && !dn_option_is_default(o->huber_delta))
    return dn_fail(DN_ERR_ARG, "dn_compile: loss '%s' takes no huber_delta option (got %g)",
                   (*loss)->name, o->huber_delta);
  dn_loss_params params = {o->huber_delta, o->from_logits, o->label_smoothing};
  if (dn_loss_check_params(*loss, &params) != DN_OK) {
    dn_error_context("dn_compile");
    return DN_ERR_ARG;
  }
  size_t n = 0;
  for (; o->metrics != NULL && o->metrics[n] != NULL; n++) {
    const char *m = o->metrics[n];
    if (strlen(m) + 4 >= DN_TRAIN_NAME_CAP)
      return dn_fail(DN_ERR_ARG, "dn_compile: metric name '%s' is too long", m);
    if (dn_metric_check_name(m) != DN_OK) { /* "loss" is logged anyway, not a metric */
      dn_error_context("dn_compile");
      return DN_ERR_ARG;
    }
  }
  *n_metrics = n;
  return DN_OK;
}

dn_status dn_compile_with(dn_compile_options o) {
  dn_optimizer *given = o.optimizer_object;
  dn_optimizer *current = o.model && o.model->train ? o.model->train->optimizer : NULL;
  const dn_loss *loss = NULL;
  size_t n_metrics = 0;
  dn_status st = check_compile_args(&o, &loss, &n_metrics);
  if (st == DN_OK)
    st = dn_seq_require_trainable(o.model, "dn_compile");
  if (st != DN_OK) {
    if (given != current) /* owned from the call on, also on failure */
      dn_optimizer_free(given);
    return st;
  }
  struct dn_train *t = dn_calloc(1, sizeof *t);
  if (t != NULL) {
    t->metric_req = dn_calloc(n_metrics ? n_metrics : 1, sizeof *t->metric_req);
    t->val_names = dn_calloc(n_metrics ? n_metrics : 1, sizeof *t->val_names);
  }
  if (t == NULL || t->metric_req == NULL || t->val_names == NULL) {
    dn_train_free(t);
    if (given != current)
      dn_optimizer_free(given);
    return DN_ERR_NOMEM;
  }
  t->loss = loss;
  t->loss_params = (dn_loss_params){o.huber_delta, o.from_logits, o.label_smoothing};
  t->n_metrics = n_metrics;
  for (size_t i = 0; i < n_metrics; i++) {
    char logged[DN_METRIC_NAME_CAP]; /* "auc(curve=PR)" is logged as "auc" */
    dn_metric_log_name(o.metrics[i], logged, sizeof logged);
    snprintf(t->metric_req[i], DN_TRAIN_NAME_CAP, "%s", o.metrics[i]);
    snprintf(t->val_names[i], DN_TRAIN_NAME_CAP, "val_%s", logged);
  }
  if (given != NULL) {
    t->optimizer = given;
  } else {
    const char *name = o.optimizer ? o.optimizer : "rmsprop";
    t->optimizer = dn_optimizer_with((dn_optimizer_options){.name = name});
    if (t->optimizer == NULL) {
      dn_error_context("dn_compile");
      dn_train_free(t);
      return dn_last_status();
    }
  }
  /* Metrics need the output width (and "crossentropy" the targets): set them up now if the
   * model has what they need, else at the first call with data. */
  dn_model *model = o.model;
  struct dn_train *old = model->train;
  model->train = t;
  if (dn_seq_is_built(model) && !loss->from_targets &&
      (st = init_metrics(model, "dn_compile")) != DN_OK) {
    model->train = old;
    if (given != NULL && given == current)
      t->optimizer = NULL; /* still the old state's */
    dn_train_free(t);
    return st;
  }
  if (old != NULL) {
    if (given != NULL && old->optimizer == given)
      old->optimizer = NULL; /* moved into the new state */
    dn_train_free(old);
  }
  dn_seq_sync_trainable(model);     /* Keras: trainability changes take effect at compile */
  dn_optimizer_reset(t->optimizer); /* also makes the overflow guard forget its bounds */
  model->train_free = dn_train_free;
  model->stop_training = false;
  return DN_OK;
}

/* ---- shared setup --------------------------------------------------------- */

/* DN_ERR_ARG (naming fn and the row) if a sparse loss gets a label that is not a class index in
 * [0, classes). */
static dn_status check_labels(const char *fn, const char *what, const dn_loss *loss, size_t classes,
                              const float *y, size_t rows) {
  if (!loss->sparse)
    return DN_OK;
  for (size_t r = 0; r < rows; r++) {
    double v = y[r];
    if (!(v >= 0 && v < (double)classes && v == floor(v)))
      return dn_fail(DN_ERR_ARG, "%s: %s row %zu holds %g, not a class index in [0, %zu) (loss %s)",
                     fn, what, r, v, classes, loss->name);
  }
  return DN_OK;
}

/* y's width for `loss` (resolved) and the model's output width, and x's and y's rows. */
static dn_status check_targets(const char *fn, const char *x_name, const char *y_name,
                               const dn_xy *d) {
  size_t cols = d->y.cols;
  if (d->loss->sparse && cols != 1)
    return dn_fail(DN_ERR_SHAPE,
                   "%s: %s has %zu columns but loss '%s' takes 1 column of class indices (the "
                   "model's output width is %zu)", /* cols != 1 here */
                   fn, y_name, cols, d->loss->name, d->out);
  if (!d->loss->sparse && cols != d->out)
    return dn_fail(DN_ERR_SHAPE, "%s: %s has %zu column%s but the model's output width is %zu%s",
                   fn, y_name, cols, dn_plural(cols), d->out,
                   cols == 1 && strcmp(d->loss->name, "categorical_crossentropy") == 0
                       ? " (class indices need sparse_categorical_crossentropy; "
                         "categorical_crossentropy takes one-hot rows)"
                       : "");
  if (d->x.rows != d->y.rows)
    return dn_fail(DN_ERR_SHAPE, "%s: %s has %zu row%s but %s has %zu", fn, x_name, d->x.rows,
                   dn_plural(d->x.rows), y_name, d->y.rows);
  return check_labels(fn, y_name, d->loss, d->out, d->y.data, d->y.rows);
}

dn_status dn_train_check_xy(dn_model *model, const char *fn, dn_tensor x, dn_tensor y,
                            dn_tensor sample_weight, dn_xy *d) {
  if (model == NULL)
    return dn_fail(DN_ERR_ARG, "%s: model is NULL", fn);
  if (model->train == NULL)
    return dn_fail(DN_ERR_STATE, "%s: the model is not compiled (call dn_compile first)", fn);
  *d = (dn_xy){0};
  dn_status st = dn_tensor_matrix(x, fn, "x", 2, &d->x);
  if (st == DN_OK)
    st = dn_seq_check_input(model, fn, "x", d->x.rows, d->x.cols, &d->out);
  if (st == DN_OK)
    st = dn_tensor_matrix(y, fn, "y", 2, &d->y);
  if (st != DN_OK)
    return st;
  /* Keras 3 resolves "crossentropy" from the shapes at the first batch; then it is fixed. */
  const struct dn_train *t = model->train;
  d->loss = dn_loss_resolve(t->loss, d->out, d->y.cols);
  if (d->loss != t->loss && dn_loss_check_params(d->loss, &t->loss_params) != DN_OK)
    return dn_fail(DN_ERR_ARG,
                   "%s: loss 'crossentropy' resolves to %s for y of %zu column%s and an output "
                   "width of %zu, which takes no label_smoothing (got %g)",
                   fn, d->loss->name, d->y.cols, dn_plural(d->y.cols), d->out,
                   t->loss_params.label_smoothing);
  d->tcols = d->loss->sparse ? 1 : d->out;
  if ((st = check_targets(fn, "x", "y", d)) != DN_OK)
    return st;
  if (dn_tensor_is_none(sample_weight))
    return DN_OK; /* no sample weights */
  dn_matrix sw;
  if ((st = dn_tensor_matrix(sample_weight, fn, "sample_weight", 2, &sw)) != DN_OK)
    return st;
  if (sw.cols != 1)
    return dn_fail(DN_ERR_SHAPE, "%s: sample_weight has %zu columns but takes 1 (a weight per row)",
                   fn, sw.cols);
  if (sw.rows != d->x.rows)
    return dn_fail(DN_ERR_SHAPE, "%s: x has %zu row%s but sample_weight has %zu", fn, d->x.rows,
                   dn_plural(d->x.rows), sw.rows);
  d->sw = sw.data;
  return DN_OK;
}

dn_status dn_train_check_pair(const char *fn, const char *x_name, const char *y_name, dn_tensor x,
                              dn_tensor y, const dn_xy *first, dn_xy *d) {
  *d = (dn_xy){.out = first->out, .tcols = first->tcols, .loss = first->loss};
  dn_status st = dn_tensor_matrix(x, fn, x_name, 2, &d->x);
  if (st == DN_OK && d->x.cols != first->x.cols)
    st = dn_fail(DN_ERR_SHAPE, "%s: %s has %zu column%s but the model's input width is %zu", fn,
                 x_name, d->x.cols, dn_plural(d->x.cols), first->x.cols);
  if (st == DN_OK)
    st = dn_tensor_matrix(y, fn, y_name, 2, &d->y);
  if (st == DN_OK)
    st = check_targets(fn, x_name, y_name, d);
  return st;
}

dn_status dn_train_setup(dn_model *model, const char *fn, const dn_xy *d, dn_train_undo *undo) {
  struct dn_train *t = model->train;
  dn_metric *fresh = NULL;
  dn_status st = DN_OK;
  *undo = (dn_train_undo){.loss = t->loss};
  /* before building: a metric may not fit the shapes */
  if (t->metrics_cols != d->out || t->metrics_tcols != d->tcols)
    st = prepare_metrics(t, d->out, d->tcols, fn, &fresh);
  if (st == DN_OK)
    st = dn_seq_build_for(model, fn, d->x.cols, &undo->build);
  if (st == DN_OK && (st = dn_optimizer_prepare(t->optimizer, model->n_params)) != DN_OK) {
    dn_error_context(fn);
    dn_seq_build_undo(model, &undo->build);
  }
  if (st != DN_OK) {
    for (size_t i = 0; fresh != NULL && i < t->n_metrics; i++)
      dn_metric_free(&fresh[i]);
    dn_free(fresh);
    return st;
  }
  t->loss = d->loss;
  if (fresh != NULL)
    commit_metrics(t, fresh, d->out, d->tcols);
  return DN_OK;
}

void dn_train_setup_undo(dn_model *model, dn_train_undo *undo) {
  dn_seq_build_undo(model, &undo->build);
  model->train->loss = undo->loss;
}

static dn_status grow(float **buf, size_t rows, size_t cols) {
  size_t cap = 0; /* the caller decides when: always a new block */
  return dn_grow_floats(buf, &cap, rows, cols ? cols : 1, "batch buffer");
}

dn_status dn_train_reserve(dn_model *model, size_t rows, size_t perm_rows) {
  struct dn_train *t = model->train;
  dn_status st = dn_seq_reserve(model, rows);
  if (st != DN_OK)
    return st;
  size_t in = model->input_dim, out = dn_model_output_dim(model);
  if (rows > t->buf_rows || in != t->buf_in || out != t->buf_out) {
    /* Grow all four together so buf_rows stays true for each. */
    if ((st = grow(&t->bx, rows, in)) != DN_OK || (st = grow(&t->by, rows, out)) != DN_OK ||
        (st = grow(&t->bw, rows, 1)) != DN_OK || (st = grow(&t->grad, rows, out)) != DN_OK) {
      t->buf_rows = 0; /* some buffers may be the old, smaller size */
      return st;
    }
    t->buf_rows = rows;
    t->buf_in = in;
    t->buf_out = out;
  }
  size_t frozen = 0;
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    for (size_t k = 0; l->built && k < l->n_vars; k++)
      frozen += l->vars[k].trainable ? 0 : l->vars[k].size;
  }
  if (frozen > t->frozen_cap) {
    float *p = dn_alloc(frozen * sizeof *p);
    if (p == NULL)
      return DN_ERR_NOMEM;
    dn_free(t->frozen);
    t->frozen = p;
    t->frozen_cap = frozen;
  }
  if (perm_rows > t->perm_cap) {
    size_t *p = dn_calloc(perm_rows, sizeof *p);
    if (p == NULL)
      return DN_ERR_NOMEM;
    dn_free(t->perm);
    t->perm = p;
    t->perm_cap = perm_rows;
  }
  return DN_OK;
}

void dn_train_reset_metrics(struct dn_train *train) {
  for (size_t i = 0; train->metrics_cols != 0 && i < train->n_metrics; i++)
    dn_metric_reset(&train->metrics[i]);
}

typedef struct limit_job {
  const dn_layer *layer;
  atomic_bool beyond;
} limit_job;

/* Sets job->beyond if a trainable gradient element of the layer in [lo, hi) is beyond
 * DN_GRAD_LIMIT, Inf or NaN. */
static void find_beyond(void *ctx, size_t lo, size_t hi) {
  limit_job *job = ctx;
  const dn_layer *l = job->layer;
  bool beyond = false;
  dn_var part;
  for (size_t v = 0; v < l->n_vars; v++)
    if (dn_var_trainable_within(&l->vars[v], lo, hi, &part))
      beyond |= dn_vec_beyond_limit(l->grads + part.offset, part.size);
  if (beyond)
    atomic_store_explicit(&job->beyond, true, memory_order_relaxed);
}

bool dn_train_grads_finite(const dn_model *model, bool after_backward, float *bound) {
  bool within = true;
  for (size_t i = 0; i < model->n_layers && within; i++) {
    const dn_layer *l = model->layers[i];
    if (l->train_frozen || (after_backward && l->grad_state == DN_GRADS_WITHIN))
      continue; /* not trained, or checked as its backward wrote them */
    limit_job job = {l, false};
    dn_parallel_ranges(l->n_params, (size_t)1 << 16, find_beyond, &job);
    within = !atomic_load_explicit(&job.beyond, memory_order_relaxed);
  }
  *bound = DN_GRAD_LIMIT;
  if (within)
    return true;
  /* Rare: a gradient beyond the limit. The largest magnitude, or false for an Inf or NaN. */
  float most = 0.0f;
  for (size_t v = 0; v < model->n_vars; v++) {
    const dn_var *var = &model->vars[v];
    for (size_t i = 0; var->trainable && i < var->size; i++) {
      const float a = fabsf(model->grads[var->offset + i]);
      if (!(a <= FLT_MAX))
        return false;
      most = a > most ? a : most;
    }
  }
  *bound = most;
  return true;
}

/* The optimizer's step on the model (g_bound as dn_optimizer_step takes it). Weights written
 * since the optimizer's last step (a load, dn_model_set_weights, ...) make it look at them
 * again. */
static dn_status optimizer_step(dn_model *model, float g_bound) {
  struct dn_train *t = model->train;
  if (t->weights_version != model->weights_version) {
    dn_optimizer_forget_bounds(t->optimizer);
    t->weights_version = model->weights_version;
  }
  return dn_optimizer_step(t->optimizer, model->params, model->grads, model->vars, model->n_vars,
                           g_bound);
}

/* ---- steps ---------------------------------------------------------------- */

static void update_metrics(struct dn_train *t, const float *pred, const float *y, size_t n) {
  /* Keras: metrics given to compile() are not sample-weighted. */
  for (size_t i = 0; i < t->n_metrics; i++)
    dn_metric_update(&t->metrics[i], pred, y, n, NULL);
}

/* Copies the non-trainable kinds of weights (what a training forward pass may move: BN's moving
 * statistics; a frozen layer's kernel is no such weight, and no step writes it) into (save) or
 * back from (!save) t->frozen, sized for them by dn_train_reserve. */
static void copy_frozen(dn_model *model, bool save) {
  float *buf = model->train->frozen;
  size_t at = 0;
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    for (size_t k = 0; l->built && k < l->n_vars; k++) {
      const dn_var *var = &l->vars[k];
      if (var->trainable)
        continue;
      float *w = l->params + var->offset;
      if (save)
        memcpy(buf + at, w, var->size * sizeof *w);
      else
        memcpy(w, buf + at, var->size * sizeof *w);
      at += var->size;
    }
  }
}

static dn_status train_step(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t n, bool update, double *loss, dn_step_fault *fault);

const char *dn_step_fault_text(dn_step_fault fault) {
  switch (fault) {
  case DN_STEP_LOSS: return "loss is NaN or Inf";
  case DN_STEP_GRADIENT: return "gradient is NaN or Inf";
  case DN_STEP_UPDATE: return "optimizer's update would make a weight or a slot Inf or NaN";
  case DN_STEP_FINE:
  default: return "step is fine";
  }
}

/* Every training step (fit's and train_on_batch's) runs with flush-to-zero / denormals-are-zero
 * (Adam's moments of idle units decay into denormals, ~100x slower to compute); the caller's
 * floating-point state is restored after (fpenv.h). */
dn_status dn_train_step(dn_model *model, const float *x, const float *y, const float *sw, size_t n,
                        bool update, double *loss, dn_step_fault *fault) {
  dn_fp_state fp = dn_fp_enter();
  dn_status st = train_step(model, x, y, sw, n, update, loss, fault);
  dn_fp_leave(fp);
  return st;
}

/* The step's local part: forward, loss (into *loss), metrics, the loss check, backward. With
 * hooks, a process that has no rows in this step writes zero gradients. */
static dn_status local_pass(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t n, bool update, double *loss, dn_step_fault *fault) {
  struct dn_train *t = model->train;
  size_t out = dn_model_output_dim(model);
  if (n == 0 && t->hooks != NULL) {
    memset(model->grads, 0, model->n_params * sizeof *model->grads);
    *loss = 0.0;
    return DN_OK;
  }
  const float *pred = dn_seq_forward(model, x, n, true);
  if (pred == NULL)
    return dn_last_status();
  double data_loss = 0.0;
  dn_status st = t->loss->eval(&data_loss, t->grad, pred, y, n, out, sw, &t->loss_params);
  if (st != DN_OK)
    return st;
  *loss = data_loss + dn_seq_penalty(model);
  if (update)
    update_metrics(t, pred, y, n);
  /* The caller gets the loss as a float: 1e60 is finite as a double but Inf as a float. */
  if (!isfinite((float)*loss)) {
    *loss = (float)*loss;
    *fault = DN_STEP_LOSS;
    return DN_ERR_NUMERIC;
  }
  return dn_seq_backward(model, t->grad, n, NULL);
}

static dn_status train_step(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t n, bool update, double *loss, dn_step_fault *fault) {
  const dn_train_hooks *h = model->train->hooks;
  *fault = DN_STEP_FINE;
  copy_frozen(model, true);
  if (h != NULL)
    h->step_begin(h->ctx, model);
  dn_status st = local_pass(model, x, y, sw, n, update, loss, fault);
  if (h != NULL) /* every process, whatever its own pass did: sums the gradients, agrees */
    st = h->reduce_grads(h->ctx, model, n, st, fault);
  if (st != DN_OK) {
    if (st == DN_ERR_NUMERIC || h != NULL) /* the refused step leaves the statistics alone too */
      copy_frozen(model, false);
    return st;
  }
  /* The bound comes from the gradients the optimizer gets: with hooks the summed ones, which
   * the layers' backward passes did not check. */
  float g_bound;
  if (!dn_train_grads_finite(model, h == NULL, &g_bound)) {
    copy_frozen(model, false);
    *fault = DN_STEP_GRADIENT;
    return DN_ERR_NUMERIC;
  }
  st = optimizer_step(model, g_bound);
  if (st == DN_ERR_NUMERIC) { /* nothing was written: put back what the forward pass moved */
    copy_frozen(model, false);
    *fault = DN_STEP_UPDATE;
  }
  return st;
}

/* Inference-mode loss of one batch (regularization included); metrics updated. */
static dn_status test_batch(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t n, double *loss) {
  struct dn_train *t = model->train;
  const float *pred = dn_seq_forward(model, x, n, false);
  if (pred == NULL)
    return dn_last_status();
  double data_loss = 0.0;
  dn_status st =
      t->loss->eval(&data_loss, NULL, pred, y, n, dn_model_output_dim(model), sw, &t->loss_params);
  if (st != DN_OK)
    return st;
  *loss = data_loss + dn_seq_penalty(model);
  update_metrics(t, pred, y, n);
  return DN_OK;
}

dn_status dn_train_log_values(dn_logbook *book, const struct dn_train *t, double loss, bool val) {
  dn_status st = dn_logbook_set(book, val ? "val_loss" : "loss", loss);
  for (size_t i = 0; i < t->n_metrics; i++)
    for (size_t k = 0; st == DN_OK && k < t->metrics[i].n_values; k++)
      st = dn_logbook_set(book, dn_metric_value_name(&t->metrics[i], k, val),
                          dn_metric_value(&t->metrics[i], k));
  return st;
}

/* The display's batch draw (end = false: the batch's sorted running values) or its last line. */
static dn_status display_values(dn_pass_display *display, const struct dn_train *t, size_t batch,
                                double loss, bool end) {
  dn_logbook_clear(&display->book);
  dn_status st = dn_train_log_values(&display->book, t, loss, false);
  if (st != DN_OK)
    return st;
  if (!end)
    dn_logbook_sort(&display->book); /* Keras hands batch logs over in sorted key order */
  dn_logs logs = dn_logbook_view(&display->book);
  if (end)
    dn_progress_epoch_end(&display->progress, &logs);
  else
    dn_progress_batch_end(&display->progress, batch, &logs);
  return DN_OK;
}

dn_status dn_train_evaluate(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t rows, size_t batch_size, double *loss,
                            dn_pass_display *display) {
  size_t in = model->input_dim, tcols = dn_train_target_cols(model);
  double sum = 0.0;
  dn_status st = DN_OK;
  dn_train_reset_metrics(model->train);
  if (display)
    dn_progress_epoch_begin(&display->progress, 0);
  for (size_t start = 0, b = 0; start < rows; start += batch_size, b++) {
    size_t n = rows - start < batch_size ? rows - start : batch_size;
    double l = 0.0;
    st = test_batch(model, x + start * in, y + start * tcols, sw ? sw + start : NULL, n, &l);
    if (st != DN_OK)
      return st;
    sum += l * (double)n;
    if (display &&
        (st = display_values(display, model->train, b, sum / (double)(start + n), false)) != DN_OK)
      return st;
  }
  *loss = sum / (double)rows;
  if (display)
    st = display_values(display, model->train, 0, *loss, true);
  return st;
}

/* Sets up the display of an evaluate or a predict of `steps` batches with up to `keys` values
 * (display->progress.mode stays SILENT, drawing nothing, when verbose is). */
static dn_status display_init(dn_pass_display *display, const char *fn, dn_verbose verbose,
                              FILE *out, size_t steps, size_t keys) {
  *display = (dn_pass_display){0};
  if (verbose != DN_VERBOSE_AUTO && verbose != DN_VERBOSE_SILENT && verbose != DN_VERBOSE_BAR &&
      verbose != DN_VERBOSE_LINES)
    return dn_fail(DN_ERR_ARG, "%s: verbose %d is not a dn_verbose value", fn, (int)verbose);
  dn_status st = dn_logbook_init(&display->book, keys);
  if (st == DN_OK)
    st = dn_progress_init(&display->progress, out, verbose, 1, steps, keys);
  if (st != DN_OK) {
    dn_logbook_free(&display->book);
    dn_error_context(fn);
  }
  return st;
}

static void display_free(dn_pass_display *display) {
  dn_logbook_free(&display->book);
  dn_progress_free(&display->progress);
}

dn_status dn_train_check_source(dn_model *model, const char *fn, dn_source *source, dn_xy *d) {
  if (source == NULL)
    return dn_fail(DN_ERR_ARG, "%s: source is NULL", fn);
  size_t xc = source->o.x_cols, yc = source->o.y_cols;
  if (yc == 0)
    return dn_fail(DN_ERR_ARG, "%s: the source has no targets (y_cols is 0)", fn);
  /* One row of zeros (class index 0 is valid) stands for the source's rows in the checks. */
  float *zeros = dn_calloc(xc + yc, sizeof *zeros);
  if (zeros == NULL) {
    dn_error_context(fn);
    return DN_ERR_NOMEM;
  }
  dn_status st = dn_train_check_xy(model, fn, dn_tensor_2d(zeros, 1, xc),
                                   dn_tensor_2d(zeros + xc, 1, yc), (dn_tensor){0}, d);
  dn_free(zeros);
  d->x.data = d->y.data = NULL;
  return st;
}

dn_status dn_train_check_labels(const dn_model *model, const float *y, size_t rows) {
  return check_labels("y", "row", model->train->loss, dn_model_output_dim(model), y, rows);
}

dn_status dn_train_evaluate_source(dn_model *model, dn_source *source, const char *fn,
                                   size_t batch_size, double *loss, size_t *rows_out) {
  struct dn_train *t = model->train;
  dn_status st = dn_source_begin_pass(source, fn);
  if (st != DN_OK)
    return st;
  double sum = 0.0;
  size_t rows = 0, steps = source->o.steps;
  dn_train_reset_metrics(t);
  for (size_t b = 0; steps == 0 || b < steps; b++) {
    size_t n = 0;
    double l = 0.0;
    st = dn_source_pull(source, t->bx, t->by, batch_size, &n);
    if (st == DN_OK && n == 0)
      break;
    if (st == DN_OK)
      st = dn_train_check_labels(model, t->by, n);
    if (st == DN_OK)
      st = test_batch(model, t->bx, t->by, NULL, n, &l);
    if (st != DN_OK) {
      char where[48];
      snprintf(where, sizeof where, "batch %zu", b);
      dn_error_context(where);
      dn_error_context(fn);
      return st;
    }
    sum += l * (double)n;
    rows += n;
  }
  if (rows_out != NULL) { /* the caller judges an empty pass */
    *rows_out = rows;
    *loss = rows > 0 ? sum / (double)rows : 0.0;
    return DN_OK;
  }
  if (rows == 0)
    return dn_fail(DN_ERR_STATE, "%s: the source gave no rows", fn);
  *loss = sum / (double)rows;
  return DN_OK;
}

/* ---- public entry points ---------------------------------------------------- */

/* The loss, then the metrics' values (capacity >= 1). */
static void write_values(const struct dn_train *t, double loss, double *values, size_t capacity) {
  values[0] = loss;
  size_t at = 1; /* a per-class F-score gives one value per class */
  for (size_t i = 0; i < t->n_metrics; i++)
    for (size_t k = 0; k < t->metrics[i].n_values && at < capacity; k++)
      values[at++] = dn_metric_value(&t->metrics[i], k);
}

/* evaluate / evaluate_metrics under the caller's name: the loss, then the metrics. */
static dn_status evaluate(const char *fn, dn_model *model, dn_tensor x, dn_tensor y,
                          dn_tensor sample_weight, size_t batch_size, double *values,
                          size_t capacity, dn_verbose verbose, FILE *out) {
  dn_xy d;
  dn_status st = dn_train_check_xy(model, fn, x, y, sample_weight, &d);
  if (st != DN_OK)
    return st;
  size_t rows = d.x.rows, bs = batch_size ? batch_size : DN_EVAL_BATCH;
  dn_train_undo undo;
  if ((st = dn_train_setup(model, fn, &d, &undo)) != DN_OK)
    return st;
  dn_pass_display display; /* after the setup: the metrics' values are known */
  bool shown = verbose != DN_VERBOSE_SILENT;
  if (shown && (st = display_init(&display, fn, verbose, out, (rows + bs - 1) / bs,
                                  dn_model_metrics_count(model))) != DN_OK) {
    dn_train_setup_undo(model, &undo);
    return st;
  }
  double loss = NAN;
  if ((st = dn_seq_reserve(model, bs < rows ? bs : rows)) == DN_OK)
    st = dn_train_evaluate(model, d.x.data, d.y.data, d.sw, rows, bs, &loss,
                           shown ? &display : NULL);
  if (shown)
    display_free(&display);
  if (st != DN_OK) {
    dn_error_context(fn);
    dn_train_setup_undo(model, &undo);
    return st;
  }
  write_values(model->train, loss, values, capacity);
  return DN_OK;
}

dn_status dn_train_batch_size(const char *fn, size_t value, size_t keras_default, size_t *out) {
  if (!dn_size_count_or_default(value, keras_default, out) || *out == 0)
    return dn_fail(DN_ERR_ARG,
                   "%s: batch_size must be >= 1 (0 for Keras's default of 32), got %s%zu", fn,
                   value == (size_t)DN_ZERO_COUNT ? "DN_ZERO_COUNT, " : "", value);
  return DN_OK;
}

dn_status dn_evaluate_metrics_with(dn_evaluate_metrics_options o) {
  const char *fn = "dn_evaluate_metrics";
  if (o.values == NULL)
    return dn_fail(DN_ERR_ARG, "%s: values is NULL", fn);
  if (o.values_capacity == 0)
    return dn_fail(DN_ERR_ARG, "%s: values_capacity is 0 (the loss needs one value)", fn);
  size_t batch_size;
  dn_status st = dn_train_batch_size(fn, o.batch_size, DN_EVAL_BATCH, &batch_size);
  if (st != DN_OK)
    return st;
  return evaluate(fn, o.model, o.x, o.y, o.sample_weight, batch_size, o.values, o.values_capacity,
                  o.verbose, o.out);
}

dn_status dn_evaluate(dn_model *model, dn_tensor x, dn_tensor y, float *loss) {
  double v[1];
  if (loss == NULL)
    return dn_fail(DN_ERR_ARG, "dn_evaluate: loss is NULL");
  dn_status st =
      evaluate("dn_evaluate", model, x, y, (dn_tensor){0}, 0, v, 1, DN_VERBOSE_SILENT, NULL);
  if (st == DN_OK)
    *loss = (float)v[0];
  return st;
}

dn_status dn_evaluate_source_with(dn_evaluate_source_options o) {
  const char *fn = "dn_evaluate_source";
  if (o.values == NULL)
    return dn_fail(DN_ERR_ARG, "%s: values is NULL", fn);
  if (o.values_capacity == 0)
    return dn_fail(DN_ERR_ARG, "%s: values_capacity is 0 (the loss needs one value)", fn);
  size_t bs;
  dn_xy d;
  dn_train_undo undo;
  dn_status st = dn_train_batch_size(fn, o.batch_size, DN_EVAL_BATCH, &bs);
  if (st != DN_OK || (st = dn_train_check_source(o.model, fn, o.source, &d)) != DN_OK ||
      (st = dn_train_setup(o.model, fn, &d, &undo)) != DN_OK)
    return st;
  double loss = NAN;
  if ((st = dn_train_reserve(o.model, bs, 0)) != DN_OK)
    dn_error_context(fn);
  else
    st = dn_train_evaluate_source(o.model, o.source, fn, bs, &loss, NULL);
  if (st != DN_OK) {
    dn_train_setup_undo(o.model, &undo);
    return st;
  }
  write_values(o.model->train, loss, o.values, o.values_capacity);
  return DN_OK;
}

dn_status dn_predict_source_with(dn_predict_source_options o) {
  const char *fn = "dn_predict_source";
  dn_source *src = o.source;
  if (src == NULL)
    return dn_fail(DN_ERR_ARG, "%s: source is NULL", fn);
  size_t bs, xc = src->o.x_cols, yc = src->o.y_cols, done = 0;
  dn_status st = dn_train_batch_size(fn, o.batch_size, DN_EVAL_BATCH, &bs);
  if (st != DN_OK)
    return st;
  /* Scratch for a batch of the source's x and y (and a row of zeros for the checks). */
  size_t nx, ny;
  if (!dn_mul_size(bs, xc, &nx, "x") || !dn_mul_size(bs, yc, &ny, "y") || nx > SIZE_MAX - ny)
    return dn_fail(DN_ERR_SHAPE, "%s: a batch of %zu rows of %zu + %zu columns overflows", fn, bs,
                   xc, yc);
  float *buf = dn_calloc(nx + ny, sizeof *buf);
  if (buf == NULL) {
    dn_error_context(fn);
    return DN_ERR_NOMEM;
  }
  dn_matrix mx, my;
  dn_seq_build built;
  st = dn_seq_prepare_pass(o.model, fn, dn_tensor_2d(buf, 1, xc), o.y, bs, &mx, &my, &built);
  bool prepared = st == DN_OK;
  if (st == DN_OK && (st = dn_seq_reserve(o.model, bs)) != DN_OK)
    dn_error_context(fn);
  if (st == DN_OK)
    st = dn_source_begin_pass(src, fn);
  for (size_t b = 0; st == DN_OK && (src->o.steps == 0 || b < src->o.steps); b++) {
    size_t n = 0;
    if ((st = dn_source_pull(src, buf, yc ? buf + nx : NULL, bs, &n)) != DN_OK) {
      char where[48];
      snprintf(where, sizeof where, "batch %zu", b);
      dn_error_context(where);
      dn_error_context(fn);
    } else if (n == 0) {
      break;
    } else if (n > my.rows - done) {
      st = dn_fail(DN_ERR_SHAPE, "%s: the source gives more than y's %zu rows (batch %zu)", fn,
                   my.rows, b);
    } else if (!dn_seq_predict(o.model, buf, n, my.data + done * my.cols)) {
      dn_error_context(fn);
      st = dn_last_status();
    } else {
      done += n;
    }
  }
  dn_free(buf);
  if (st != DN_OK && done == 0 && prepared) /* predicting changes no weights */
    dn_seq_build_undo(o.model, &built);
  if (o.rows != NULL)
    *o.rows = done;
  return st;
}

size_t dn_model_metrics_count(const dn_model *model) {
  if (model == NULL || model->train == NULL)
    return 0;
  const struct dn_train *t = model->train;
  size_t n = 1;
  for (size_t i = 0; i < t->n_metrics; i++)
    n += t->metrics_cols != 0 ? t->metrics[i].n_values : 1;
  return n;
}

const char *dn_model_metric_name(const dn_model *model, size_t index) {
  if (model == NULL || model->train == NULL)
    return NULL;
  if (index == 0)
    return "loss";
  const struct dn_train *t = model->train;
  for (size_t i = 0, at = 1; i < t->n_metrics; i++) {
    size_t n = t->metrics_cols != 0 ? t->metrics[i].n_values : 1;
    if (index < at + n) /* before setup: the logged name after "val_" */
      return t->metrics_cols != 0 ? dn_metric_value_name(&t->metrics[i], index - at, false)
                                  : t->val_names[i] + 4;
    at += n;
  }
  return NULL;
}

/* predict / predict_on_batch: checks (an unbuilt model is built from x), then batches of
 * batch_size rows (0 = all at once). y may share x's storage: the batches then run in the
 * order that reads every x row before an output overwrites it (last first when an output row
 * is wider than an input row). */
static dn_status predict_batches(const char *fn, dn_model *model, dn_tensor x, dn_tensor y,
                                 size_t batch_size, dn_pass_display *display) {
  dn_matrix mx, my;
  dn_seq_build built;
  dn_status st = dn_seq_prepare_pass(model, fn, x, y, batch_size, &mx, &my, &built);
  if (st != DN_OK)
    return st;
  size_t rows = mx.rows, in = mx.cols, out = my.cols, bs = batch_size ? batch_size : rows;
  size_t batches = (rows + bs - 1) / bs;
  dn_logs none = {0}; /* Keras's ProgbarLogger shows no values for predict */
  if (display) {
    display->progress.steps = batches;
    dn_progress_epoch_begin(&display->progress, 0);
  }
  uintptr_t x0 = (uintptr_t)mx.data, x1 = (uintptr_t)(mx.data + rows * in);
  uintptr_t y0 = (uintptr_t)my.data, y1 = (uintptr_t)(my.data + rows * out);
  bool last_first = y0 < x1 && x0 < y1 && (out > in || (out == in && y0 > x0));
  for (size_t k = 0; k < batches; k++) {
    size_t b = last_first ? batches - 1 - k : k, start = b * bs;
    size_t n = rows - start < bs ? rows - start : bs;
    if (!dn_seq_predict(model, mx.data + start * in, n, my.data + start * out)) {
      dn_error_context(fn);
      dn_seq_build_undo(model, &built); /* predicting changes no weights: nothing else to undo */
      return dn_last_status();
    }
    if (display)
      dn_progress_batch_end(&display->progress, k, &none);
  }
  if (display)
    dn_progress_epoch_end(&display->progress, &none);
  return DN_OK;
}

dn_status dn_predict(dn_model *model, dn_tensor x, dn_tensor y) {
  return predict_batches("dn_predict", model, x, y, DN_EVAL_BATCH, NULL);
}

dn_status dn_model_predict_with(dn_model_predict_options o) {
  const char *fn = "dn_model_predict";
  size_t batch_size;
  dn_status st = dn_train_batch_size(fn, o.batch_size, DN_EVAL_BATCH, &batch_size);
  if (st != DN_OK || o.verbose == DN_VERBOSE_SILENT)
    return st == DN_OK ? predict_batches(fn, o.model, o.x, o.y, batch_size, NULL) : st;
  dn_pass_display display; /* its step count is set once the rows are known */
  if ((st = display_init(&display, fn, o.verbose, o.out, 1, 1)) != DN_OK)
    return st;
  st = predict_batches(fn, o.model, o.x, o.y, batch_size, &display);
  display_free(&display);
  return st;
}

dn_status dn_predict_on_batch_ref(dn_model *model, const dn_tensor *x, const dn_tensor *y) {
  if (x == NULL || y == NULL)
    return dn_fail(DN_ERR_ARG, "dn_predict_on_batch: %s is NULL", x == NULL ? "x" : "y");
  /* A small Dense net serving a row at a time: predict_batches's checks, in short, for a
   * built model whose workspace (made by an earlier call) already holds these rows. */
  if (model != NULL && model->chain != NULL && x->rank == 2 && y->rank == 2 && x->data != NULL &&
      y->data != NULL && x->shape[1] == model->input_dim && x->shape[0] != 0 &&
      x->shape[0] <= model->ws_rows && y->shape[1] == model->chain[model->n_layers - 1].O &&
      y->shape[0] >= x->shape[0] && dn_seq_predict(model, x->data, x->shape[0], y->data))
    return DN_OK;
  return predict_batches("dn_predict_on_batch", model, *x, *y, 0, NULL);
}

/* The exported by-value entry point (the header's macro of the same name calls the _ref twin). */
dn_status(dn_predict_on_batch)(dn_model *model, dn_tensor x, dn_tensor y) {
  return dn_predict_on_batch_ref(model, &x, &y);
}

dn_status dn_test_on_batch(dn_model *model, dn_tensor x, dn_tensor y, float *loss) {
  const char *fn = "dn_test_on_batch";
  dn_xy d;
  dn_train_undo undo;
  dn_status st = dn_train_check_xy(model, fn, x, y, (dn_tensor){0}, &d);
  if (st != DN_OK || (st = dn_train_setup(model, fn, &d, &undo)) != DN_OK)
    return st;
  double l = NAN;
  if ((st = dn_seq_reserve(model, d.x.rows)) == DN_OK)
    st = dn_train_evaluate(model, d.x.data, d.y.data, NULL, d.x.rows, d.x.rows, &l, NULL);
  if (st != DN_OK) {
    dn_error_context(fn);
    dn_train_setup_undo(model, &undo);
    return st;
  }
  if (loss != NULL)
    *loss = (float)l;
  return DN_OK;
}

dn_status dn_train_on_batch(dn_model *model, dn_tensor x, dn_tensor y, float *loss) {
  const char *fn = "dn_train_on_batch";
  dn_xy d;
  dn_train_undo undo;
  dn_status st = dn_train_check_xy(model, fn, x, y, (dn_tensor){0}, &d);
  if (st != DN_OK || (st = dn_train_setup(model, fn, &d, &undo)) != DN_OK)
    return st;
  if ((st = dn_train_reserve(model, d.x.rows, 0)) != DN_OK) {
    dn_error_context(fn);
    dn_train_setup_undo(model, &undo);
    return st;
  }
  double l = NAN;
  dn_step_fault fault;
  dn_train_reset_metrics(model->train);
  st = dn_train_step(model, d.x.data, d.y.data, NULL, d.x.rows, true, &l, &fault);
  if (st != DN_OK) /* the step was not applied: the model is as before the call */
    dn_train_setup_undo(model, &undo);
  if (st == DN_ERR_NUMERIC)
    return dn_fail(st, "%s: the %s (loss %g); the step was not applied", fn,
                   dn_step_fault_text(fault), l);
  if (st != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  if (loss != NULL)
    *loss = (float)l;
  return DN_OK;
}

dn_status dn_model_apply_gradients(dn_model *model) {
  const char *fn = "dn_model_apply_gradients";
  if (model == NULL)
    return dn_fail(DN_ERR_ARG, "%s: model is NULL", fn);
  if (model->train == NULL)
    return dn_fail(DN_ERR_STATE, "%s: the model is not compiled (call dn_compile first)", fn);
  dn_status st = dn_seq_require_built(model, fn);
  if (st != DN_OK)
    return st;
  st = dn_optimizer_prepare(model->train->optimizer, model->n_params);
  if (st != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  float g_bound;
  if (!dn_train_grads_finite(model, false, &g_bound))
    return dn_fail(DN_ERR_NUMERIC, "%s: a gradient is NaN or Inf; nothing was applied", fn);
  st = optimizer_step(model, g_bound);
  if (st != DN_OK)
    dn_error_context(fn);
  return st;
}

dn_optimizer *dn_model_optimizer(const dn_model *model) {
  return model && model->train ? model->train->optimizer : NULL;
}

void dn_model_stop_training(dn_model *model) {
  if (model != NULL)
    model->stop_training = true;
}
