/* train.c -- compile, the batch steps, evaluate, predict and the *_on_batch calls
 * (Keras's Trainer apart from fit, which is in fit.c). */
#include "training/train.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fpenv.h"
#include "kernels/parallel.h"
#include "kernels/kernels.h"
#include "core/status.h"

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

/* Sets the metrics up for the model's output width (all or nothing). */
static dn_status init_metrics(dn_model *model, const char *fn) {
  struct dn_train *t = model->train;
  size_t cols = dn_model_output_dim(model);
  if (t->metrics_cols == cols)
    return DN_OK;
  dn_metric *fresh = dn_calloc(t->n_metrics ? t->n_metrics : 1, sizeof *fresh);
  if (fresh == NULL)
    return DN_ERR_NOMEM;
  size_t tcols = dn_train_target_cols(model);
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
  free_metrics(t);
  dn_free(t->metrics);
  t->metrics = fresh;
  t->metrics_cols = cols;
  for (size_t i = 0; i < t->n_metrics; i++)
    snprintf(t->val_names[i], DN_TRAIN_NAME_CAP, "val_%s", fresh[i].name);
  return DN_OK;
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
    /* "loss" has a direction (for monitors) but is not a metric. */
    if (strcmp(m, "loss") == 0 || dn_metric_name_direction(m) == 0)
      return dn_fail(DN_ERR_ARG, "dn_compile: unknown metric '%s'", m);
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
    snprintf(t->metric_req[i], DN_TRAIN_NAME_CAP, "%s", o.metrics[i]);
    snprintf(t->val_names[i], DN_TRAIN_NAME_CAP, "val_%s", o.metrics[i]);
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
  /* Metrics need the output width: set them up now if the model has it. */
  dn_model *model = o.model;
  struct dn_train *old = model->train;
  model->train = t;
  if (dn_seq_is_built(model) && (st = init_metrics(model, "dn_compile")) != DN_OK) {
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
  dn_optimizer_reset(t->optimizer);
  model->train_free = dn_train_free;
  model->stop_training = false;
  return DN_OK;
}

/* ---- shared setup --------------------------------------------------------- */

dn_status dn_train_ready(dn_model *model, const char *fn) {
  if (model == NULL)
    return dn_fail(DN_ERR_ARG, "%s: model is NULL", fn);
  if (model->train == NULL)
    return dn_fail(DN_ERR_STATE, "%s: the model is not compiled (call dn_compile first)", fn);
  if (!dn_seq_is_built(model))
    return dn_fail(DN_ERR_STATE,
                   "%s: the model has no input shape yet (give the first layer .input_dim "
                   "or call dn_model_build)",
                   fn);
  dn_status st = init_metrics(model, fn);
  if (st == DN_OK && (st = dn_optimizer_prepare(model->train->optimizer, model->n_params)) != DN_OK)
    dn_error_context(fn);
  return st;
}

static dn_status grow(float **buf, size_t rows, size_t cols) {
  size_t n;
  if (!dn_mul_size(rows, cols ? cols : 1, &n, "batch buffer") ||
      !dn_mul_size(n, sizeof(float), &n, "batch buffer"))
    return DN_ERR_SHAPE;
  float *p = dn_alloc(n);
  if (p == NULL)
    return DN_ERR_NOMEM;
  dn_free(*buf);
  *buf = p;
  return DN_OK;
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
  for (size_t v = 0; v < model->n_vars; v++)
    frozen += model->vars[v].trainable ? 0 : model->vars[v].size;
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

dn_status dn_train_check_labels(const dn_model *model, const char *fn, const char *what,
                                const float *y, size_t rows) {
  if (!model->train->loss->sparse)
    return DN_OK;
  size_t classes = dn_model_output_dim(model);
  for (size_t r = 0; r < rows; r++) {
    double v = y[r];
    if (!(v >= 0 && v < (double)classes && v == floor(v)))
      return dn_fail(DN_ERR_ARG, "%s: %s row %zu holds %g, not a class index in [0, %zu) (loss %s)",
                     fn, what, r, v, classes, model->train->loss->name);
  }
  return DN_OK;
}

void dn_train_reset_metrics(struct dn_train *train) {
  for (size_t i = 0; train->metrics_cols != 0 && i < train->n_metrics; i++)
    dn_metric_reset(&train->metrics[i]);
}

typedef struct finite_job {
  const dn_layer *layer;
  atomic_bool bad;
} finite_job;

/* Sets job->bad if a trainable gradient element of the layer in [lo, hi) is Inf or NaN. */
static void find_nonfinite(void *ctx, size_t lo, size_t hi) {
  finite_job *job = ctx;
  const dn_layer *l = job->layer;
  bool bad = false;
  dn_var part;
  for (size_t v = 0; v < l->n_vars; v++)
    if (dn_var_trainable_within(&l->vars[v], lo, hi, &part))
      bad |= dn_vec_nonfinite(l->grads + part.offset, part.size);
  if (bad)
    atomic_store_explicit(&job->bad, true, memory_order_relaxed);
}

bool dn_train_grads_finite(const dn_model *model, bool after_backward) {
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    if (after_backward && l->grad_state == DN_GRADS_FINITE)
      continue; /* checked as its backward wrote them */
    finite_job job = {l, false};
    dn_parallel_ranges(l->n_params, (size_t)1 << 16, find_nonfinite, &job);
    if (atomic_load_explicit(&job.bad, memory_order_relaxed))
      return false;
  }
  return true;
}

/* ---- steps ---------------------------------------------------------------- */

static void update_metrics(struct dn_train *t, const float *pred, const float *y, size_t n) {
  /* Keras: metrics given to compile() are not sample-weighted. */
  for (size_t i = 0; i < t->n_metrics; i++)
    dn_metric_update(&t->metrics[i], pred, y, n, NULL);
}

/* Copies the non-trainable weights into (save) or back from (!save) t->frozen. */
static void copy_frozen(dn_model *model, bool save) {
  float *buf = model->train->frozen;
  size_t k = 0;
  for (size_t v = 0; v < model->n_vars; v++) {
    const dn_var *var = &model->vars[v];
    if (var->trainable)
      continue;
    float *w = model->params + var->offset;
    if (save)
      memcpy(buf + k, w, var->size * sizeof *w);
    else
      memcpy(w, buf + k, var->size * sizeof *w);
    k += var->size;
  }
}

static dn_status train_step(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t n, bool update, double *loss, bool *bad_gradient);

/* Every training step (fit's and train_on_batch's) runs with flush-to-zero / denormals-are-zero
 * (Adam's moments of idle units decay into denormals, ~100x slower to compute); the caller's
 * floating-point state is restored after (fpenv.h). */
dn_status dn_train_step(dn_model *model, const float *x, const float *y, const float *sw, size_t n,
                        bool update, double *loss, bool *bad_gradient) {
  dn_fp_state fp = dn_fp_enter();
  dn_status st = train_step(model, x, y, sw, n, update, loss, bad_gradient);
  dn_fp_leave(fp);
  return st;
}

static dn_status train_step(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t n, bool update, double *loss, bool *bad_gradient) {
  struct dn_train *t = model->train;
  size_t out = dn_model_output_dim(model);
  *bad_gradient = false;
  copy_frozen(model, true);
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
  if (!isfinite(*loss)) {
    copy_frozen(model, false); /* the refused step leaves the moving statistics alone too */
    return DN_ERR_NUMERIC;
  }
  if ((st = dn_seq_backward(model, t->grad, n, NULL)) != DN_OK)
    return st;
  if (!dn_train_grads_finite(model, true)) {
    copy_frozen(model, false);
    *bad_gradient = true;
    return DN_ERR_NUMERIC;
  }
  return dn_optimizer_step(t->optimizer, model->params, model->grads, model->vars, model->n_vars);
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

dn_status dn_train_evaluate(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t rows, size_t batch_size, double *loss) {
  size_t in = model->input_dim, tcols = dn_train_target_cols(model);
  double sum = 0.0;
  dn_train_reset_metrics(model->train);
  for (size_t start = 0; start < rows; start += batch_size) {
    size_t n = rows - start < batch_size ? rows - start : batch_size;
    double l = 0.0;
    dn_status st =
        test_batch(model, x + start * in, y + start * tcols, sw ? sw + start : NULL, n, &l);
    if (st != DN_OK)
      return st;
    sum += l * (double)n;
  }
  *loss = sum / (double)rows;
  return DN_OK;
}

/* ---- public entry points ---------------------------------------------------- */

static dn_status check_xy(const char *fn, const float *x, const float *y, size_t rows) {
  if (x == NULL)
    return dn_fail(DN_ERR_ARG, "%s: x is NULL", fn);
  if (y == NULL)
    return dn_fail(DN_ERR_ARG, "%s: y is NULL", fn);
  if (rows == 0)
    return dn_fail(DN_ERR_ARG, "%s: rows is 0 (no data)", fn);
  return DN_OK;
}

dn_status dn_evaluate_with(dn_evaluate_options o) {
  const char *fn = "dn_evaluate";
  dn_status st = dn_train_ready(o.model, fn);
  if (st == DN_OK)
    st = check_xy(fn, o.x, o.y, o.rows);
  if (st == DN_OK && o.values == NULL)
    st = dn_fail(DN_ERR_ARG, "%s: values is NULL", fn);
  if (st == DN_OK && o.values_capacity == 0)
    st = dn_fail(DN_ERR_ARG, "%s: values_capacity is 0 (the loss needs one value)", fn);
  if (st == DN_OK)
    st = dn_train_check_labels(o.model, fn, "y", o.y, o.rows);
  size_t bs = o.batch_size ? o.batch_size : DN_EVAL_BATCH;
  if (st == DN_OK)
    st = dn_seq_reserve(o.model, bs < o.rows ? bs : o.rows);
  if (st != DN_OK)
    return st;
  double loss;
  if ((st = dn_train_evaluate(o.model, o.x, o.y, o.sample_weight, o.rows, bs, &loss)) != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  struct dn_train *t = o.model->train;
  o.values[0] = loss;
  for (size_t i = 0; i < t->n_metrics && i + 1 < o.values_capacity; i++)
    o.values[i + 1] = dn_metric_result(&t->metrics[i]);
  return DN_OK;
}

dn_status dn_evaluate(dn_model *model, const float *x, const float *y, size_t rows, float *loss) {
  double v[1];
  if (loss == NULL)
    return dn_fail(DN_ERR_ARG, "dn_evaluate: loss is NULL");
  dn_status st = dn_evaluate_with((dn_evaluate_options){
      .model = model, .x = x, .y = y, .rows = rows, .values = v, .values_capacity = 1});
  if (st == DN_OK)
    *loss = (float)v[0];
  return st;
}

size_t dn_model_metrics_count(const dn_model *model) {
  return model && model->train ? 1 + model->train->n_metrics : 0;
}

const char *dn_model_metric_name(const dn_model *model, size_t index) {
  if (model == NULL || model->train == NULL || index > model->train->n_metrics)
    return NULL;
  if (index == 0)
    return "loss";
  const struct dn_train *t = model->train;
  return t->metrics_cols != 0 ? t->metrics[index - 1].name : t->metric_req[index - 1];
}

static dn_status check_predict(const char *fn, dn_model *model, const float *x, size_t rows,
                               const float *y, size_t y_capacity) {
  if (model == NULL)
    return dn_fail(DN_ERR_ARG, "%s: model is NULL", fn);
  if (!dn_seq_is_built(model))
    return dn_fail(DN_ERR_STATE,
                   "%s: the model has no input shape yet (give the first layer .input_dim "
                   "or call dn_model_build)",
                   fn);
  if (x == NULL)
    return dn_fail(DN_ERR_ARG, "%s: x is NULL", fn);
  if (y == NULL)
    return dn_fail(DN_ERR_ARG, "%s: y is NULL", fn);
  if (rows == 0)
    return dn_fail(DN_ERR_ARG, "%s: rows is 0 (no data)", fn);
  size_t need;
  if (!dn_mul_size(rows, dn_model_output_dim(model), &need, fn))
    return DN_ERR_SHAPE;
  if (y_capacity < need)
    return dn_fail(DN_ERR_SHAPE, "%s: y holds %zu floats, %zu rows x %zu outputs need %zu", fn,
                   y_capacity, rows, dn_model_output_dim(model), need);
  return DN_OK;
}

static dn_status predict_batches(const char *fn, dn_model *model, const float *x, size_t rows,
                                 float *y, size_t y_capacity, size_t batch_size) {
  dn_status st = check_predict(fn, model, x, rows, y, y_capacity);
  size_t first = batch_size < rows ? batch_size : rows;
  if (st == DN_OK && first > model->ws_rows)
    st = dn_seq_reserve(model, first);
  if (st != DN_OK)
    return st;
  size_t in = model->input_dim, out = dn_model_output_dim(model);
  for (size_t start = 0; start < rows; start += batch_size) {
    size_t n = rows - start < batch_size ? rows - start : batch_size;
    if (!dn_seq_predict(model, x + start * in, n, y + start * out)) {
      dn_error_context(fn);
      return dn_last_status();
    }
  }
  return DN_OK;
}

dn_status dn_predict(dn_model *model, const float *x, size_t rows, float *y, size_t y_capacity) {
  return predict_batches("dn_predict", model, x, rows, y, y_capacity, DN_EVAL_BATCH);
}

/* The checks every *_on_batch call with targets makes before touching the model. */
static dn_status check_batch_call(const char *fn, dn_model *model, const float *x, const float *y,
                                  size_t rows) {
  dn_status st = dn_train_ready(model, fn);
  if (st == DN_OK)
    st = check_xy(fn, x, y, rows);
  if (st == DN_OK)
    st = dn_train_check_labels(model, fn, "y", y, rows);
  return st;
}

dn_status dn_predict_on_batch(dn_model *model, const float *x, size_t rows, float *y,
                              size_t y_capacity) {
  /* A small Dense net serving a row at a time: check_predict's checks, in short, for a model
   * whose workspace (made by an earlier call) already holds these rows. */
  if (model != NULL && x != NULL && y != NULL && rows != 0 && rows <= model->ws_rows &&
      model->chain != NULL && y_capacity / rows >= model->chain[model->n_layers - 1].O &&
      dn_seq_predict(model, x, rows, y))
    return DN_OK;
  return predict_batches("dn_predict_on_batch", model, x, rows, y, y_capacity, rows ? rows : 1);
}

dn_status dn_test_on_batch(dn_model *model, const float *x, const float *y, size_t rows,
                           float *loss) {
  const char *fn = "dn_test_on_batch";
  dn_status st = check_batch_call(fn, model, x, y, rows);
  if (st == DN_OK)
    st = dn_seq_reserve(model, rows);
  if (st != DN_OK)
    return st;
  double l;
  if ((st = dn_train_evaluate(model, x, y, NULL, rows, rows, &l)) != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  if (loss != NULL)
    *loss = (float)l;
  return DN_OK;
}

dn_status dn_train_on_batch(dn_model *model, const float *x, const float *y, size_t rows,
                            float *loss) {
  const char *fn = "dn_train_on_batch";
  dn_status st = check_batch_call(fn, model, x, y, rows);
  if (st == DN_OK)
    st = dn_train_reserve(model, rows, 0);
  if (st != DN_OK)
    return st;
  double l = NAN;
  bool bad_gradient;
  dn_train_reset_metrics(model->train);
  st = dn_train_step(model, x, y, NULL, rows, true, &l, &bad_gradient);
  if (st == DN_ERR_NUMERIC)
    return dn_fail(st, "%s: the %s is %s; the step was not applied", fn,
                   bad_gradient ? "gradient" : "loss", bad_gradient ? "not finite" : "NaN or Inf");
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
  if (!dn_seq_is_built(model))
    return dn_fail(DN_ERR_STATE, "%s: the model has no input shape yet", fn);
  dn_status st = dn_optimizer_prepare(model->train->optimizer, model->n_params);
  if (st != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  if (!dn_train_grads_finite(model, false))
    return dn_fail(DN_ERR_NUMERIC, "%s: a gradient is NaN or Inf; nothing was applied", fn);
  st = dn_optimizer_step(model->train->optimizer, model->params, model->grads, model->vars,
                         model->n_vars);
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
