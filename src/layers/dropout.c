/* dropout.c -- keras.layers.Dropout: inverted dropout, active only in training. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "layers/layer.h"
#include "core/status.h"

typedef struct dropout {
  double rate;
  float *mask;     /* rows x width: 0 or 1/(1-rate), from the last training forward */
  size_t mask_cap; /* floats */
  bool masked;     /* the last forward dropped (training and rate > 0) */
} dropout;

static dn_status dropout_build(dn_layer *layer, size_t input_dim) {
  layer->output_dim = input_dim;
  layer->n_params = 0;
  layer->n_vars = 0;
  return DN_OK;
}

static dn_status dropout_reserve(dn_layer *layer, size_t rows) {
  dropout *d = layer->impl;
  return dn_grow_floats(&d->mask, &d->mask_cap, rows, layer->output_dim, "Dropout mask");
}

/* Keeps each value with probability 1 - rate, scaled by 1/(1 - rate); rate 1 drops all. */
static void dropout_forward(dn_layer *layer, const dn_matrix *y, const dn_matrix *x, bool training,
                            dn_rng *rng) {
  DN_LAYER_ASSERT_FORWARD(layer, y, x);
  dropout *d = layer->impl;
  size_t n = x->rows * x->cols;
  const float *X = x->data;
  float *Y = y->data;
  d->masked = training && d->rate > 0.0;
  if (!d->masked) {
    memcpy(Y, X, n * sizeof *Y);
    return;
  }
  float scale = d->rate < 1.0 ? (float)(1.0 / (1.0 - d->rate)) : 0.0f;
  float rate = (float)d->rate;
  for (size_t i = 0; i < n; i++) {
    d->mask[i] = dn_rng_uniform(rng) >= rate ? scale : 0.0f;
    Y[i] = X[i] * d->mask[i];
  }
}

static void dropout_backward(dn_layer *layer, const dn_matrix *dx, const dn_matrix *dy,
                             const dn_matrix *x, const dn_matrix *y) {
  (void)x;
  (void)y;
  DN_LAYER_ASSERT_BACKWARD(layer, dx, dy, x, y);
  dropout *d = layer->impl;
  size_t n = dy->rows * dy->cols;
  float *dX = dx->data;
  const float *dY = dy->data;
  if (dX == NULL)
    return;
  if (d->masked)
    for (size_t i = 0; i < n; i++)
      dX[i] = dY[i] * d->mask[i];
  else
    memcpy(dX, dY, n * sizeof *dX);
}

static void dropout_get_config(const dn_layer *layer, dn_layer_config *c) {
  c->rate = ((const dropout *)layer->impl)->rate;
}

static void dropout_free_impl(dn_layer *layer) {
  dropout *d = layer->impl;
  if (d != NULL)
    dn_free(d->mask);
  dn_free(d);
  layer->impl = NULL;
}

static dn_layer *dropout_from_config(const dn_layer_config *c) {
  return dn_dropout_with(
      (dn_dropout_options){.rate = c->rate, .input_dim = c->input_dim, .name = c->name});
}

const dn_layer_ops dn_dropout_ops = {
    .type = "Dropout",
    .base_name = "dropout",
    .config_fields = DN_CFG_RATE,
    .from_config = dropout_from_config,
    .build = dropout_build,
    .reserve = dropout_reserve,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .get_config = dropout_get_config,
    .free_impl = dropout_free_impl,
};

dn_layer *dn_dropout_with(dn_dropout_options o) {
  if (!(o.rate >= 0.0 && o.rate <= 1.0))
    return dn_fail_null(DN_ERR_ARG, "dn_dropout: rate must be in [0, 1], got %g", o.rate);
  dropout *d = dn_calloc(1, sizeof *d);
  if (d == NULL)
    return NULL;
  d->rate = o.rate;
  return dn_layer_new(&dn_dropout_ops, d, o.name, o.input_dim);
}
