/* quantize.c -- post-training int8 quantization (dn_model_quantize, docs/int8.md): every Dense
 * layer becomes a QuantizedDense (layers/qdense.h), calibrated on the caller's rows; the other
 * layers are copied as they are (they run in float).
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fpenv.h"
#include "core/status.h"
#include "core/tensor.h"
#include "layers/qdense.h"
#include "layers/registry.h"
#include "model/sequential.h"

#define CALIBRATION_BATCH 256

static void range_of(const float *v, size_t n, float *lo, float *hi) {
  for (size_t i = 0; i < n; i++) {
    if (v[i] < *lo || v[i] != v[i])
      *lo = v[i] != v[i] ? NAN : v[i];
    if (v[i] > *hi)
      *hi = v[i];
  }
}

/* The min and max of each layer's input over the rows of x (lo/hi: one per layer). */
static dn_status calibrate(dn_model *model, const dn_matrix *x, float *lo, float *hi) {
  size_t B = x->rows < CALIBRATION_BATCH ? x->rows : CALIBRATION_BATCH, I = x->cols;
  for (size_t i = 0; i < model->n_layers; i++) {
    lo[i] = INFINITY;
    hi[i] = -INFINITY;
  }
  dn_status st = dn_seq_reserve(model, B);
  dn_fp_state fp = dn_fp_enter();
  for (size_t r = 0; st == DN_OK && r < x->rows; r += B) {
    size_t b = x->rows - r < B ? x->rows - r : B;
    const float *in = x->data + r * I;
    if (dn_seq_forward(model, in, b, false) == NULL) {
      st = dn_last_status();
      break;
    }
    for (size_t i = 0; i < model->n_layers; i++) {
      const dn_layer *l = model->layers[i];
      range_of(i == 0 ? in : model->outs[i - 1], b * l->input_dim, &lo[i], &hi[i]);
    }
  }
  dn_fp_leave(fp);
  model->fwd_rows = 0; /* no backward may follow a calibration pass */
  return st;
}

/* The QuantizedDense weights into `q` from a float kernel W (I x O, of Dense layer `l`'s shape)
 * and bias (NULL: none; q has one when use_bias). */
static void quantize_dense(const dn_layer *l, const float *W, const float *bias, dn_layer *q,
                           bool use_bias, float lo, float hi) {
  size_t I = l->input_dim, O = l->output_dim;
  float *P = q->params, *scale = P + I * O + (use_bias ? O : 0);
  for (size_t o = 0; o < O; o++) {
    float m = 0.0f;
    for (size_t k = 0; k < I; k++)
      m = fabsf(W[k * O + o]) > m ? fabsf(W[k * O + o]) : m;
    scale[o] = m > 0.0f ? m / 127.0f : 1.0f;
    for (size_t k = 0; k < I; k++)
      P[k * O + o] = nearbyintf(W[k * O + o] / scale[o]);
  }
  for (size_t o = 0; use_bias && o < O; o++)
    P[I * O + o] = bias != NULL ? bias[o] : 0.0f;
  dn_qdense_input_range(lo, hi, &scale[O], &scale[O + 1]);
}

/* BatchNormalization `bn` (inference: y = a x + c per feature, a = gamma / sqrt(var + eps),
 * c = beta - mean a) folded into the Dense layer `l` after it: W' = diag(a) W and
 * b' = b + c W, in double (acc: O doubles of scratch), into W (I x O) and bias (O). Each
 * feature's a and c are computed once; each b'[o] sums over k in order. */
static void fold_batch_norm(const dn_layer *bn, const dn_layer *l, bool use_bias, float *W,
                            float *bias, double *acc) {
  size_t I = l->input_dim, O = l->output_dim;
  dn_layer_config c = {0};
  dn_layer_get_config(bn, &c);
  const float *p = bn->params, *gamma = c.scale ? p : NULL;
  const float *beta = c.center ? p + (c.scale ? I : 0) : NULL;
  const float *mean = p + (c.scale ? I : 0) + (c.center ? I : 0), *var = mean + I;
  const float *K = l->params;
  for (size_t o = 0; o < O; o++)
    acc[o] = use_bias ? K[I * O + o] : 0.0f;
  for (size_t k = 0; k < I; k++) {
    double a = (gamma ? gamma[k] : 1.0) / sqrt((double)var[k] + c.epsilon);
    double shift = (beta ? beta[k] : 0.0) - (double)mean[k] * a;
    for (size_t o = 0; o < O; o++) {
      W[k * O + o] = (float)(a * K[k * O + o]);
      acc[o] += shift * K[k * O + o];
    }
  }
  for (size_t o = 0; o < O; o++)
    bias[o] = (float)acc[o];
}

dn_model *dn_model_quantize_with(dn_quantize_options o) {
  static const char fn[] = "dn_model_quantize";
  dn_model *model = o.model;
  dn_matrix mx;
  size_t out;
  if (model == NULL)
    return dn_fail_null(DN_ERR_ARG, "%s: model is NULL", fn);
  dn_status st = dn_seq_require_built(model, fn);
  if (st == DN_OK && dn_seq_inference_only(model) != NULL)
    st = dn_fail(DN_ERR_STATE, "%s: the model is quantized already", fn);
  if (st == DN_OK)
    st = dn_tensor_matrix(o.x, fn, "x", 2, &mx);
  if (st == DN_OK)
    st = dn_seq_check_input(model, fn, "x", mx.rows, mx.cols, &out);
  if (st == DN_OK && mx.rows == 0)
    st = dn_fail(DN_ERR_SHAPE, "%s: x has no rows (the calibration needs at least one)", fn);
  if (st != DN_OK)
    return NULL;
  size_t L = model->n_layers;
  float *lo = dn_alloc(2 * L * sizeof *lo), *hi = lo != NULL ? lo + L : NULL;
  if (lo == NULL)
    return NULL;
  st = calibrate(model, &mx, lo, hi);
  for (size_t i = 0; st == DN_OK && i < L; i++)
    if (!isfinite(lo[i]) || !isfinite(hi[i]))
      st = dn_fail(DN_ERR_NUMERIC,
                   "%s: the input of layer '%s' takes non-finite values on the calibration rows "
                   "(min %g, max %g)",
                   fn, model->layers[i]->name, (double)lo[i], (double)hi[i]);
  /* What becomes of each layer: a Dense layer with at least min_inputs inputs becomes int8, a
   * BatchNormalization right before one (Dropout layers between) is folded into it, the others
   * are copied. */
  enum { COPY, INT8, FOLDED };
  size_t min_inputs = o.min_inputs > 0 ? o.min_inputs : DN_QUANTIZE_MIN_INPUTS, n_int8 = 0;
  const dn_layer_ops *dense = dn_layer_kind("Dense"), *bn = dn_layer_kind("BatchNormalization");
  const dn_layer_ops *dropout = dn_layer_kind("Dropout");
  int *fate = st == DN_OK ? dn_calloc(L, sizeof *fate) : NULL;
  size_t *fold_from = fate != NULL ? dn_calloc(L, sizeof *fold_from) : NULL;
  for (size_t i = 0; fold_from != NULL && i < L; i++) {
    const dn_layer *l = model->layers[i];
    if (l->ops != dense || l->input_dim < min_inputs)
      continue;
    fate[i] = INT8;
    fold_from[i] = L; /* none */
    n_int8++;
    size_t j = i;
    while (j > 0 && model->layers[j - 1]->ops == dropout)
      j--;
    if (j > 0 && model->layers[j - 1]->ops == bn) {
      fate[j - 1] = FOLDED;
      fold_from[i] = j - 1;
    }
  }
  if (fold_from != NULL && n_int8 == 0)
    dn_fail(DN_ERR_ARG,
            "%s: no Dense layer has %zu or more inputs (min_inputs), so none would be quantized "
            "(min_inputs = 1 quantizes every Dense layer)",
            fn, min_inputs);
  dn_model *q = fold_from != NULL && n_int8 > 0 ? dn_model_new() : NULL;
  for (size_t i = 0; q != NULL && i < L; i++) {
    const dn_layer *l = model->layers[i];
    size_t in = dn_model_layer_count(q) == 0 ? model->input_dim : 0;
    dn_layer *nl = NULL;
    if (fate[i] == FOLDED)
      continue;
    if (fate[i] == INT8) {
      dn_layer_config c = {0};
      dn_layer_get_config(l, &c);
      nl = dn_qdense_new(l->name, c.units, c.activation, c.use_bias || fold_from[i] < L, in);
    } else {
      nl = dn_layer_clone(l);
    }
    if (nl == NULL || dn_model_add(q, nl) != DN_OK) {
      dn_model_free(q);
      q = NULL;
    }
  }
  if (q != NULL && !dn_seq_is_built(q) && dn_model_build(q, model->input_dim) != DN_OK) {
    dn_model_free(q);
    q = NULL;
  }
  for (size_t i = 0, qi = 0; q != NULL && i < L; i++) {
    const dn_layer *l = model->layers[i];
    if (fate[i] == FOLDED)
      continue;
    dn_layer *nl = q->layers[qi++];
    if (fate[i] == COPY) {
      memcpy(nl->params, l->params, l->n_params * sizeof(float));
      continue;
    }
    dn_layer_config c = {0};
    dn_layer_get_config(l, &c);
    size_t I = l->input_dim, O = l->output_dim;
    if (fold_from[i] == L) {
      quantize_dense(l, l->params, c.use_bias ? l->params + I * O : NULL, nl, c.use_bias, lo[i],
                     hi[i]);
      continue;
    }
    /* the folded Dense layer's input is the BatchNormalization's */
    double *acc = dn_alloc(O * sizeof *acc + (I * O + O) * sizeof(float));
    if (acc == NULL) {
      dn_model_free(q);
      q = NULL;
      break;
    }
    float *W = (float *)(acc + O);
    fold_batch_norm(model->layers[fold_from[i]], l, c.use_bias, W, W + I * O, acc);
    quantize_dense(l, W, W + I * O, nl, true, lo[fold_from[i]], hi[fold_from[i]]);
    dn_free(acc);
  }
  dn_free(fate);
  dn_free(fold_from);
  dn_free(lo);
  if (q != NULL) {
    q->seed = model->seed;
    dn_seq_weights_written(q);
  }
  return q;
}
