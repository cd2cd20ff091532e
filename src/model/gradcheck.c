/* gradcheck.c -- dn_model_gradient_check: the backward pass against central finite
 * differences, over every trainable parameter and every input. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/names.h"
#include "core/status.h"
#include "model/sequential.h"

/* L = sum(y * dy) + penalty for the current weights and x, replaying the same
 * random draws (dropout masks) every time. */
static double scalar_loss(dn_model *model, const float *x, const float *dy, size_t rows,
                          bool training, const dn_rng *replay) {
  model->rng_dropout = *replay;
  const float *y = dn_seq_forward(model, x, rows, training);
  size_t n = rows * dn_model_output_dim(model);
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)y[i] * dy[i];
  return s + dn_seq_penalty(model);
}

static void consider(dn_gradient_check_report *r, double analytic, double numeric, bool input,
                     size_t index) {
  double abs_err = fabs(analytic - numeric);
  double denom = fabs(analytic) + fabs(numeric);
  double rel = abs_err / (denom > 1e-8 ? denom : 1e-8);
  if (abs_err > r->max_abs_error)
    r->max_abs_error = abs_err;
  if (r->checked == 0 || rel > r->max_rel_error) {
    r->max_rel_error = rel;
    r->worst_is_input = input;
    r->worst_index = index;
    r->analytic = analytic;
    r->numeric = numeric;
  }
  r->checked++;
}

dn_status dn_model_gradient_check_with(dn_gradient_check_options o) {
  static const char fn[] = "dn_model_gradient_check";
  dn_model *model = o.model;
  dn_status st = dn_seq_require_built(model, fn);
  if (st != DN_OK)
    return st;
  if (o.report == NULL)
    return dn_fail(DN_ERR_ARG, "%s: report is NULL", fn);
  dn_matrix mx, mdy;
  if ((st = dn_tensor_matrix(o.x, fn, "x", 2, &mx)) != DN_OK ||
      (st = dn_tensor_matrix(o.dy, fn, "dy", 2, &mdy)) != DN_OK)
    return st;
  size_t in_dim = model->input_dim, out = 0;
  if ((st = dn_seq_check_input(model, fn, "x", mx.rows, mx.cols, &out)) != DN_OK)
    return st;
  if (mdy.cols != out)
    return dn_fail(DN_ERR_SHAPE, "%s: dy has %zu column%s but the model's output width is %zu", fn,
                   mdy.cols, dn_plural(mdy.cols), out);
  if (mdy.rows != mx.rows)
    return dn_fail(DN_ERR_SHAPE, "%s: x has %zu rows but dy has %zu", fn, mx.rows, mdy.rows);
  if (!(o.epsilon >= 0.0 && o.epsilon <= 1.0))
    return dn_fail(DN_ERR_ARG, "%s: epsilon must be in [0, 1] (0 = 1e-3), got %g", fn, o.epsilon);
  double eps = o.epsilon > 0.0 ? o.epsilon : 1e-3;
  bool training = o.training;
  dn_gradient_check_report *report = o.report;
  const float *x = mx.data, *dy = mdy.data;
  size_t rows = mx.rows, n_x = rows * in_dim, n_p = model->n_params;
  if ((st = dn_seq_reserve(model, rows)) != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  float *xs = dn_alloc(n_x * sizeof *xs), *dx = dn_alloc(n_x * sizeof *dx);
  float *saved = dn_alloc((n_p ? n_p : 1) * sizeof *saved);
  float *grads = dn_alloc((n_p ? n_p : 1) * sizeof *grads);
  if (xs == NULL || dx == NULL || saved == NULL || grads == NULL) {
    dn_free(xs);
    dn_free(dx);
    dn_free(saved);
    dn_free(grads);
    dn_error_context(fn);
    return DN_ERR_NOMEM;
  }
  memcpy(xs, x, n_x * sizeof *xs);
  if (n_p)
    memcpy(saved, model->params, n_p * sizeof *saved);
  dn_rng replay = model->rng_dropout;

  /* Analytic gradients. */
  model->rng_dropout = replay;
  dn_seq_forward(model, xs, rows, training);
  dn_seq_backward(model, dy, rows, dx);
  if (n_p)
    memcpy(grads, model->grads, n_p * sizeof *grads);

  *report = (dn_gradient_check_report){0};
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    const size_t base = l->built ? (size_t)(l->params - model->params) : 0;
    for (size_t v = 0; l->built && v < l->n_vars; v++) {
      const dn_var *var = &l->vars[v];
      if (!dn_seq_var_trainable(model, l, var))
        continue;
      for (size_t k = base + var->offset; k < base + var->offset + var->size; k++) {
        float w = saved[k];
        memcpy(model->params, saved, n_p * sizeof *saved); /* BN moving stats move in training */
        model->params[k] = (float)(w + eps);
        double hi = scalar_loss(model, xs, dy, rows, training, &replay);
        model->params[k] = (float)(w - eps);
        double lo = scalar_loss(model, xs, dy, rows, training, &replay);
        double step = (double)(float)(w + eps) - (double)(float)(w - eps);
        consider(report, grads[k], (hi - lo) / step, false, k);
      }
    }
  }
  if (n_p)
    memcpy(model->params, saved, n_p * sizeof *saved);
  for (size_t k = 0; k < n_x; k++) {
    float xv = xs[k];
    xs[k] = (float)(xv + eps);
    double hi = scalar_loss(model, xs, dy, rows, training, &replay);
    xs[k] = (float)(xv - eps);
    double lo = scalar_loss(model, xs, dy, rows, training, &replay);
    double step = (double)(float)(xv + eps) - (double)(float)(xv - eps);
    xs[k] = xv;
    consider(report, dx[k], (hi - lo) / step, true, k);
  }
  /* Leave the model as it was: weights, gradients of the unperturbed pass, streams. */
  if (n_p) {
    memcpy(model->params, saved, n_p * sizeof *saved);
    dn_seq_weights_written(model);
    memcpy(model->grads, grads, n_p * sizeof *grads);
  }
  model->rng_dropout = replay;
  model->fwd_rows = 0;
  model->fwd_x = NULL;
  dn_free(xs);
  dn_free(dx);
  dn_free(saved);
  dn_free(grads);
  return DN_OK;
}
