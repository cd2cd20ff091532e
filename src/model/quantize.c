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

/* The QuantizedDense weights of Dense layer `l` into `q` (built for the same shapes). */
static void quantize_dense(const dn_layer *l, dn_layer *q, bool use_bias, float lo, float hi) {
  size_t I = l->input_dim, O = l->output_dim;
  const float *W = l->params;
  float *P = q->params, *scale = P + I * O + (use_bias ? O : 0);
  for (size_t o = 0; o < O; o++) {
    float m = 0.0f;
    for (size_t k = 0; k < I; k++)
      m = fabsf(W[k * O + o]) > m ? fabsf(W[k * O + o]) : m;
    scale[o] = m > 0.0f ? m / 127.0f : 1.0f;
    for (size_t k = 0; k < I; k++)
      P[k * O + o] = nearbyintf(W[k * O + o] / scale[o]);
  }
  if (use_bias)
    memcpy(P + I * O, W + I * O, O * sizeof(float));
  dn_qdense_input_range(lo, hi, &scale[O], &scale[O + 1]);
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
  dn_model *q = st == DN_OK ? dn_model_new() : NULL;
  const dn_layer_ops *dense = dn_layer_kind("Dense");
  for (size_t i = 0; q != NULL && i < L; i++) {
    const dn_layer *l = model->layers[i];
    size_t in = i == 0 ? model->input_dim : 0;
    dn_layer *nl;
    if (l->ops == dense) {
      dn_layer_config c = {0};
      dn_layer_get_config(l, &c);
      nl = dn_qdense_new(l->name, c.units, c.activation, c.use_bias, in);
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
  for (size_t i = 0; q != NULL && i < L; i++) {
    const dn_layer *l = model->layers[i];
    dn_layer *nl = q->layers[i];
    if (l->ops == dense) {
      dn_layer_config c = {0};
      dn_layer_get_config(l, &c);
      quantize_dense(l, nl, c.use_bias, lo[i], hi[i]);
    } else {
      memcpy(nl->params, l->params, l->n_params * sizeof(float));
    }
  }
  dn_free(lo);
  if (q != NULL) {
    q->seed = model->seed;
    dn_seq_weights_written(q);
  }
  return q;
}
