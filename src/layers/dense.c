/* dense.c -- the Dense layer: Y = act(X . W + b), W is I x O (Keras kernel layout).
 *
 * Letters: N rows of the batch, I inputs, O units.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "layers/activation.h"
#include "core/alloc.h"
#include "layers/initializer.h"
#include "kernels/kernels.h"
#include "layers/layer.h"
#include "core/status.h"

typedef struct dense {
  size_t units;
  const dn_act *act;
  bool fused, relu; /* act runs fused into the products (linear or relu); relu among those */
  bool use_bias;
  const char *kernel_init, *bias_init; /* canonical names (static strings) */
  dn_init_args kernel_args, bias_args;
  double kernel_l1, kernel_l2, bias_l1, bias_l2;
  float *z;     /* pre-activation cache, N x O (NULL for a fused layer) */
  size_t z_cap; /* floats */
} dense;

static dense *impl_of(const dn_layer *layer) {
  return (dense *)layer->impl;
}

static dn_status dense_build(dn_layer *layer, size_t I) {
  dense *d = impl_of(layer);
  size_t O = d->units, kernel;
  if (!dn_mul_size(I, O, &kernel, "Dense kernel"))
    return DN_ERR_SHAPE;
  if (d->use_bias && kernel > SIZE_MAX - O)
    return dn_fail(DN_ERR_SHAPE, "Dense: %zu x %zu kernel is too large", I, O);
  layer->output_dim = O;
  layer->vars[0] = (dn_var){"kernel", 0, kernel, I, O, true};
  layer->n_vars = 1;
  layer->n_params = kernel;
  if (d->use_bias) {
    layer->vars[1] = (dn_var){"bias", kernel, O, 1, O, true};
    layer->n_vars = 2;
    layer->n_params += O;
  }
  return DN_OK;
}

static dn_status dense_init_random(dn_layer *layer, dn_rng *rng) {
  dense *d = impl_of(layer);
  size_t I = layer->input_dim, O = layer->output_dim;
  dn_status st = dn_init_fill(d->kernel_init, &d->kernel_args, layer->params, I * O, I, O, rng);
  if (st == DN_OK && d->use_bias)
    st = dn_init_fill(d->bias_init, &d->bias_args, layer->params + I * O, O, O, O, rng);
  return st;
}

static dn_status dense_reserve(dn_layer *layer, size_t rows) {
  dense *d = impl_of(layer);
  if (d->fused)
    return DN_OK;
  return dn_grow_floats(&d->z, &d->z_cap, rows, layer->output_dim, "Dense workspace");
}

/* Y = act(X . W + b): X is N x I, Y is N x O. */
static void dense_forward(dn_layer *layer, const dn_matrix *y, const dn_matrix *x, bool training,
                          dn_rng *rng) {
  (void)training;
  (void)rng;
  DN_LAYER_ASSERT_FORWARD(layer, y, x);
  dense *d = impl_of(layer);
  size_t N = x->rows, I = x->cols, O = y->cols;
  const float *X = x->data;
  float *Y = y->data;
  const float *W = layer->params;
  if (d->fused) {
    dn_dense_forward_fused(Y, X, W, d->use_bias ? W + I * O : NULL, N, I, O, d->relu);
    return;
  }
  float *Z = d->z; /* other activations: product, bias, then the activation table's row */
  dn_gemm(false, false, N, O, I, 1.0f, X, I, W, O, 0.0f, Z, O);
  if (d->use_bias)
    dn_bias_add(Z, W + I * O, N, O);
  d->act->forward(Y, Z, N, O);
}

/* From dY (N x O, reused as dZ): dW = X^T . dZ, db = colsum(dZ), dX = dZ . W^T. */
static void dense_backward(dn_layer *layer, const dn_matrix *dx, const dn_matrix *dy,
                           const dn_matrix *x, const dn_matrix *y) {
  DN_LAYER_ASSERT_BACKWARD(layer, dx, dy, x, y);
  dense *d = impl_of(layer);
  size_t N = x->rows, I = x->cols, O = y->cols;
  const float *X = x->data, *Y = y->data;
  float *dX = dx->data, *dY = dy->data;
  const float *W = layer->params;
  float *dW = layer->grads;
  if (d->fused) {
    bool beyond = false;
    dn_dense_backward_fused(dX, dW, d->use_bias ? dW + I * O : NULL, dY, X, W, Y, N, I, O, d->relu,
                            &beyond);
    layer->grad_state = beyond ? DN_GRADS_BEYOND : DN_GRADS_WITHIN;
    return;
  }
  d->act->backward(dY, dY, d->z, Y, N, O);
  dn_gemm(true, false, I, O, N, 1.0f, X, I, dY, O, 0.0f, dW, O);
  if (d->use_bias)
    dn_col_sum(dW + I * O, dY, N, O);
  if (dX != NULL)
    dn_gemm(false, true, N, I, O, 1.0f, dY, O, W, O, 0.0f, dX, I);
}

/* l1 * sum|w| + l2 * sum w^2 over w[0..n); adds l1 * sign(w) + 2 l2 w to g. */
static double l1l2(const float *w, float *g, size_t n, double l1, double l2) {
  if (l1 == 0.0 && l2 == 0.0)
    return 0.0;
  double s1 = 0.0, s2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    s1 += fabs((double)w[i]);
    s2 += (double)w[i] * w[i];
    if (g != NULL) {
      float sign = (float)((w[i] > 0.0f) - (w[i] < 0.0f));
      g[i] += (float)l1 * sign + 2.0f * (float)l2 * w[i];
    }
  }
  return l1 * s1 + l2 * s2;
}

static double dense_penalty(dn_layer *layer, bool add_gradient) {
  dense *d = impl_of(layer);
  if (add_gradient &&
      (d->kernel_l1 != 0.0 || d->kernel_l2 != 0.0 || d->bias_l1 != 0.0 || d->bias_l2 != 0.0))
    layer->grad_state = DN_GRADS_UNCHECKED; /* the penalty's gradient is added below */
  size_t k = layer->input_dim * layer->output_dim;
  double p = l1l2(layer->params, add_gradient ? layer->grads : NULL, k, d->kernel_l1, d->kernel_l2);
  if (d->use_bias)
    p += l1l2(layer->params + k, add_gradient ? layer->grads + k : NULL, layer->output_dim,
              d->bias_l1, d->bias_l2);
  return p;
}

static void dense_get_config(const dn_layer *layer, dn_layer_config *c) {
  const dense *d = impl_of(layer);
  c->units = d->units;
  c->activation = d->act->name;
  c->use_bias = d->use_bias;
  c->kernel_initializer = d->kernel_init;
  c->bias_initializer = d->bias_init;
  c->kernel_init = d->kernel_args;
  c->bias_init = d->bias_args;
  c->kernel_l1 = d->kernel_l1;
  c->kernel_l2 = d->kernel_l2;
  c->bias_l1 = d->bias_l1;
  c->bias_l2 = d->bias_l2;
}

static void dense_free_impl(dn_layer *layer) {
  dense *d = impl_of(layer);
  if (d != NULL)
    dn_free(d->z);
  dn_free(d);
  layer->impl = NULL;
}

static bool dense_step(const dn_layer *layer, dn_dense_step *step) {
  const dense *d = impl_of(layer);
  size_t I = layer->input_dim, O = layer->output_dim;
  if (!d->fused)
    return false;
  *step = (dn_dense_step){layer->params, d->use_bias ? layer->params + I * O : NULL, I, O, d->relu,
                          NULL};
  return true;
}

static dn_layer *dense_from_config(const dn_layer_config *c) {
  return dn_dense_with((dn_dense_options){.units = c->units,
                                          .activation = c->activation,
                                          .input_dim = c->input_dim,
                                          .no_bias = !c->use_bias,
                                          .kernel_initializer = c->kernel_initializer,
                                          .kernel_init = c->kernel_init,
                                          .bias_initializer = c->bias_initializer,
                                          .bias_init = c->bias_init,
                                          .kernel_l1 = c->kernel_l1,
                                          .kernel_l2 = c->kernel_l2,
                                          .bias_l1 = c->bias_l1,
                                          .bias_l2 = c->bias_l2,
                                          .name = c->name});
}

const dn_layer_ops dn_dense_ops = {
    .type = "Dense",
    .base_name = "dense",
    .config_fields = DN_CFG_UNITS | DN_CFG_ACTIVATION | DN_CFG_USE_BIAS |
                     DN_CFG_KERNEL_INITIALIZER | DN_CFG_BIAS_INITIALIZER |
                     DN_CFG_KERNEL_REGULARIZER | DN_CFG_BIAS_REGULARIZER,
    .from_config = dense_from_config,
    .build = dense_build,
    .init_random = dense_init_random,
    .reserve = dense_reserve,
    .forward = dense_forward,
    .backward = dense_backward,
    .penalty = dense_penalty,
    .get_config = dense_get_config,
    .free_impl = dense_free_impl,
    .dense_step = dense_step,
};

/* Keras regularizer strings: "l1" -> L1(0.01), "l2" -> L2(0.01), "l1_l2" -> L1L2(0, 0).
 * Explicit non-zero factors override the string's defaults. */
static dn_status resolve_regularizer(const char *what, const char *name, double l1, double l2,
                                     double *out_l1, double *out_l2) {
  double d1 = 0.0, d2 = 0.0;
  if (name == NULL) {
  } else if (strcmp(name, "l1") == 0 || strcmp(name, "L1") == 0) {
    d1 = 0.01;
  } else if (strcmp(name, "l2") == 0 || strcmp(name, "L2") == 0) {
    d2 = 0.01;
  } else if (strcmp(name, "l1_l2") != 0 && strcmp(name, "L1L2") != 0) {
    return dn_fail(DN_ERR_ARG, "dn_dense: unknown %s regularizer '%s' (l1, l2, l1_l2)", what, name);
  }
  if (!(l1 >= 0.0) || !(l2 >= 0.0) || isinf(l1) || isinf(l2))
    return dn_fail(DN_ERR_ARG, "dn_dense: %s regularization factors must be finite and >= 0", what);
  *out_l1 = l1 != 0.0 ? l1 : d1;
  *out_l2 = l2 != 0.0 ? l2 : d2;
  return DN_OK;
}

dn_layer *dn_dense_with(dn_dense_options o) {
  if (o.units == 0)
    return dn_fail_null(DN_ERR_ARG, "dn_dense: units must be a positive integer, got 0");
  const dn_act *act = dn_act_find(o.activation);
  if (act == NULL) {
    dn_error_context("dn_dense");
    return NULL;
  }
  const char *kinit = dn_init_resolve(o.kernel_initializer, "glorot_uniform");
  const char *binit = kinit ? dn_init_resolve(o.bias_initializer, "zeros") : NULL;
  if (kinit == NULL || binit == NULL) {
    dn_error_context("dn_dense");
    return NULL;
  }
  /* Linear and relu run fused into the GEMM (kernels.h) and need no Z cache:
   * relu'(z) is read from the output (y > 0 exactly when z > 0). */
  bool relu = strcmp(act->name, "relu") == 0;
  dense d = {.units = o.units,
             .act = act,
             .fused = relu || dn_act_is_linear(act),
             .relu = relu,
             .use_bias = !o.no_bias,
             .kernel_init = kinit,
             .bias_init = binit,
             .kernel_args = o.kernel_init,
             .bias_args = o.bias_init};
  if (resolve_regularizer("kernel", o.kernel_regularizer, o.kernel_l1, o.kernel_l2, &d.kernel_l1,
                          &d.kernel_l2) != DN_OK ||
      resolve_regularizer("bias", o.bias_regularizer, o.bias_l1, o.bias_l2, &d.bias_l1,
                          &d.bias_l2) != DN_OK)
    return NULL;
  /* Validate initializer arguments now (on a one-element probe) so bad args fail here. */
  float probe;
  dn_rng r;
  dn_rng_seed(&r, 0, 0);
  if (dn_init_fill(kinit, &d.kernel_args, &probe, 1, 1, 1, &r) != DN_OK ||
      dn_init_fill(binit, &d.bias_args, &probe, 1, 1, 1, &r) != DN_OK) {
    dn_error_context("dn_dense");
    return NULL;
  }
  dense *impl = dn_alloc(sizeof *impl);
  if (impl == NULL)
    return NULL;
  *impl = d;
  return dn_layer_new(&dn_dense_ops, impl, o.name, o.input_dim);
}
