/* batch_norm.c -- keras.layers.BatchNormalization over the feature axis.
 *
 * Letters: N rows, D features. Training: y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta
 * with the biased batch variance, and the moving statistics follow
 * moving = moving * momentum + batch * (1 - momentum). Inference uses the moving statistics, and
 * so does training while the layer is frozen (Keras 3: trainable=False runs in inference mode).
 * Weights (Keras order): gamma, beta (trainable), moving_mean, moving_variance.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "layers/layer.h"
#include "core/status.h"

typedef struct batch_norm {
  double momentum, epsilon;
  bool center, scale;
  float *xhat;              /* N x D normalised input of the last forward */
  float *inv;               /* D: 1/sqrt(var + eps) used by the last forward */
  size_t xhat_cap, inv_cap; /* floats */
  bool training;            /* the last forward used batch statistics */
} batch_norm;

/* Offsets of the four vectors in the layer's params (gamma/beta may be absent). */
typedef struct {
  float *gamma, *beta, *mean, *var;
} bn_views;

static bn_views views(const dn_layer *layer, float *base) {
  const batch_norm *b = layer->impl;
  size_t D = layer->output_dim, off = 0;
  bn_views v = {0};
  if (b->scale) {
    v.gamma = base + off;
    off += D;
  }
  if (b->center) {
    v.beta = base + off;
    off += D;
  }
  v.mean = base + off;
  v.var = base + off + D;
  return v;
}

static dn_status bn_build(dn_layer *layer, size_t D) {
  batch_norm *b = layer->impl;
  size_t n = 0, k = 0, total;
  if (!dn_mul_size(D, 4, &total, "BatchNormalization") ||
      !dn_mul_size(total, sizeof(float), &total, "BatchNormalization"))
    return DN_ERR_SHAPE;
  layer->output_dim = D;
  if (b->scale) {
    layer->vars[k++] = (dn_var){"gamma", n, D, 1, D, true};
    n += D;
  }
  if (b->center) {
    layer->vars[k++] = (dn_var){"beta", n, D, 1, D, true};
    n += D;
  }
  layer->vars[k++] = (dn_var){"moving_mean", n, D, 1, D, false};
  n += D;
  layer->vars[k++] = (dn_var){"moving_variance", n, D, 1, D, false};
  n += D;
  layer->n_vars = k;
  layer->n_params = n;
  return DN_OK;
}

static void bn_init_fixed(dn_layer *layer) {
  size_t D = layer->output_dim;
  bn_views v = views(layer, layer->params);
  for (size_t j = 0; j < D; j++) {
    if (v.gamma)
      v.gamma[j] = 1.0f;
    if (v.beta)
      v.beta[j] = 0.0f;
    v.mean[j] = 0.0f;
    v.var[j] = 1.0f;
  }
}

static dn_status bn_reserve(dn_layer *layer, size_t rows) {
  batch_norm *b = layer->impl;
  const char *what = "BatchNormalization workspace";
  dn_status st = dn_grow_floats(&b->xhat, &b->xhat_cap, rows, layer->output_dim, what);
  return st != DN_OK ? st : dn_grow_floats(&b->inv, &b->inv_cap, 1, layer->output_dim, what);
}

static void bn_forward(dn_layer *layer, const dn_matrix *y, const dn_matrix *x, bool training,
                       dn_rng *rng) {
  (void)rng;
  DN_LAYER_ASSERT_FORWARD(layer, y, x);
  batch_norm *b = layer->impl;
  size_t N = x->rows, D = x->cols;
  const float *X = x->data;
  float *Y = y->data;
  bn_views v = views(layer, layer->params);
  training = training && !layer->frozen; /* Keras 3: a frozen BN runs in inference mode */
  b->training = training;
  for (size_t j = 0; j < D; j++) {
    double mean, var;
    if (training) {
      double s = 0.0, ss = 0.0;
      for (size_t n = 0; n < N; n++)
        s += X[n * D + j];
      mean = s / (double)N;
      for (size_t n = 0; n < N; n++) {
        double d = X[n * D + j] - mean;
        ss += d * d;
      }
      var = ss / (double)N;
      float m = (float)b->momentum;
      v.mean[j] = v.mean[j] * m + (float)mean * (1.0f - m);
      v.var[j] = v.var[j] * m + (float)var * (1.0f - m);
    } else {
      mean = v.mean[j];
      var = v.var[j];
    }
    float inv = (float)(1.0 / sqrt(var + b->epsilon));
    float g = v.gamma ? v.gamma[j] : 1.0f, be = v.beta ? v.beta[j] : 0.0f;
    float mu = (float)mean;
    b->inv[j] = inv;
    for (size_t n = 0; n < N; n++) {
      float xh = (X[n * D + j] - mu) * inv;
      b->xhat[n * D + j] = xh;
      Y[n * D + j] = g * xh + be;
    }
  }
}

/* dgamma = sum dy*xhat, dbeta = sum dy. Training: dx = inv/N * (N*g*dy - sum(g*dy) -
 * xhat * sum(g*dy*xhat)); inference: dx = g * inv * dy. Moving statistics get 0. */
static void bn_backward(dn_layer *layer, const dn_matrix *dx, const dn_matrix *dy,
                        const dn_matrix *x, const dn_matrix *y) {
  (void)x;
  (void)y;
  DN_LAYER_ASSERT_BACKWARD(layer, dx, dy, x, y);
  batch_norm *b = layer->impl;
  size_t N = dy->rows, D = dy->cols;
  float *dX = dx->data;
  const float *dY = dy->data;
  bn_views v = views(layer, layer->params), g = views(layer, layer->grads);
  for (size_t j = 0; j < D; j++) {
    double sdy = 0.0, sdyx = 0.0;
    for (size_t n = 0; n < N; n++) {
      sdy += dY[n * D + j];
      sdyx += (double)dY[n * D + j] * b->xhat[n * D + j];
    }
    if (g.gamma)
      g.gamma[j] = (float)sdyx;
    if (g.beta)
      g.beta[j] = (float)sdy;
    g.mean[j] = 0.0f;
    g.var[j] = 0.0f;
    if (dX == NULL)
      continue;
    float gam = v.gamma ? v.gamma[j] : 1.0f, inv = b->inv[j];
    if (b->training) {
      float a = gam * inv, m1 = (float)(sdy / (double)N), m2 = (float)(sdyx / (double)N);
      for (size_t n = 0; n < N; n++)
        dX[n * D + j] = a * (dY[n * D + j] - m1 - b->xhat[n * D + j] * m2);
    } else {
      for (size_t n = 0; n < N; n++)
        dX[n * D + j] = gam * inv * dY[n * D + j];
    }
  }
}

static void bn_get_config(const dn_layer *layer, dn_layer_config *c) {
  const batch_norm *b = layer->impl;
  c->momentum = b->momentum;
  c->epsilon = b->epsilon;
  c->center = b->center;
  c->scale = b->scale;
}

static void bn_free_impl(dn_layer *layer) {
  batch_norm *b = layer->impl;
  if (b != NULL) {
    dn_free(b->xhat);
    dn_free(b->inv);
  }
  dn_free(b);
  layer->impl = NULL;
}

/* A config's values are resolved: a 0 there is an explicit 0. */
static dn_layer *bn_from_config(const dn_layer_config *c) {
  return dn_batch_normalization_with(
      (dn_batch_normalization_options){.input_dim = c->input_dim,
                                       .momentum = dn_option_exact(c->momentum),
                                       .epsilon = dn_option_exact(c->epsilon),
                                       .no_center = !c->center,
                                       .no_scale = !c->scale,
                                       .name = c->name});
}

const dn_layer_ops dn_batch_normalization_ops = {
    .type = "BatchNormalization",
    .base_name = "batch_normalization",
    .config_fields = DN_CFG_MOMENTUM | DN_CFG_EPSILON | DN_CFG_CENTER | DN_CFG_SCALE,
    .from_config = bn_from_config,
    .build = bn_build,
    .init_fixed = bn_init_fixed,
    .reserve = bn_reserve,
    .forward = bn_forward,
    .backward = bn_backward,
    .get_config = bn_get_config,
    .free_impl = bn_free_impl,
};

dn_layer *dn_batch_normalization_with(dn_batch_normalization_options o) {
  double momentum = dn_option_or_default(o.momentum, 0.99);
  double epsilon = dn_option_or_default(o.epsilon, 1e-3);
  if (!(momentum >= 0.0 && momentum <= 1.0))
    return dn_fail_null(DN_ERR_ARG, "dn_batch_normalization: momentum must be in [0, 1], got %g",
                        momentum);
  if (!(epsilon >= 0.0) || isinf(epsilon))
    return dn_fail_null(DN_ERR_ARG, "dn_batch_normalization: epsilon must be >= 0, got %g",
                        epsilon);
  batch_norm *b = dn_calloc(1, sizeof *b);
  if (b == NULL)
    return NULL;
  *b = (batch_norm){
      .momentum = momentum, .epsilon = epsilon, .center = !o.no_center, .scale = !o.no_scale};
  return dn_layer_new(&dn_batch_normalization_ops, b, o.name, o.input_dim);
}
