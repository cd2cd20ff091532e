/* normalization.c -- keras.layers.Normalization: per-feature standardisation with adapt().
 *
 * y = (x - mean) / max(sqrt(variance), 1e-7)   (invert: y = mean + x * max(sqrt(variance), 1e-7))
 * Weights (Keras order, all non-trainable): mean (D), variance (D), count (1). As in Keras,
 * adapt() on an in-memory array leaves count at 0.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "core/source.h"
#include "layers/layer.h"
#include "core/status.h"
#include "core/tensor.h"

#define DN_NORM_EPSILON 1e-7 /* keras.config.epsilon() */

typedef struct normalization {
  bool invert;
  float *init_mean, *init_var; /* copies of the constructor's values, or NULL */
} normalization;

static dn_status norm_build(dn_layer *layer, size_t D) {
  size_t bytes;
  if (!dn_mul_size(D, 2 * sizeof(float), &bytes, "Normalization") || bytes > SIZE_MAX / 2)
    return DN_ERR_SHAPE;
  layer->output_dim = D;
  layer->vars[0] = (dn_var){"mean", 0, D, 1, D, false};
  layer->vars[1] = (dn_var){"variance", D, D, 1, D, false};
  layer->vars[2] = (dn_var){"count", 2 * D, 1, 1, 1, false};
  layer->n_vars = 3;
  layer->n_params = 2 * D + 1;
  return DN_OK;
}

static void norm_init_fixed(dn_layer *layer) {
  normalization *z = layer->impl;
  size_t D = layer->output_dim;
  for (size_t j = 0; j < D; j++) {
    layer->params[j] = z->init_mean ? z->init_mean[j] : 0.0f;
    layer->params[D + j] = z->init_var ? z->init_var[j] : 1.0f;
  }
  layer->params[2 * D] = 0.0f;
}

static float scale_of(float variance) {
  float s = sqrtf(variance);
  return s > (float)DN_NORM_EPSILON ? s : (float)DN_NORM_EPSILON;
}

static void norm_forward(dn_layer *layer, const dn_matrix *y, const dn_matrix *x, bool training,
                         dn_rng *rng) {
  (void)training;
  (void)rng;
  DN_LAYER_ASSERT_FORWARD(layer, y, x);
  normalization *z = layer->impl;
  size_t N = x->rows, D = x->cols;
  const float *X = x->data;
  float *Y = y->data;
  const float *mean = layer->params, *var = layer->params + D;
  for (size_t j = 0; j < D; j++) {
    float s = scale_of(var[j]), m = mean[j];
    for (size_t n = 0; n < N; n++)
      Y[n * D + j] = z->invert ? m + X[n * D + j] * s : (X[n * D + j] - m) / s;
  }
}

static void norm_backward(dn_layer *layer, const dn_matrix *dx, const dn_matrix *dy,
                          const dn_matrix *x, const dn_matrix *y) {
  (void)x;
  (void)y;
  DN_LAYER_ASSERT_BACKWARD(layer, dx, dy, x, y);
  normalization *z = layer->impl;
  size_t N = dy->rows, D = dy->cols;
  float *dX = dx->data;
  const float *dY = dy->data;
  memset(layer->grads, 0, layer->n_params * sizeof *layer->grads);
  if (dX == NULL)
    return;
  const float *var = layer->params + D;
  for (size_t j = 0; j < D; j++) {
    float s = scale_of(var[j]);
    for (size_t n = 0; n < N; n++)
      dX[n * D + j] = z->invert ? dY[n * D + j] * s : dY[n * D + j] / s;
  }
}

static void norm_get_config(const dn_layer *layer, dn_layer_config *c) {
  c->invert = ((const normalization *)layer->impl)->invert;
}

static void norm_free_impl(dn_layer *layer) {
  normalization *z = layer->impl;
  if (z != NULL) {
    dn_free(z->init_mean);
    dn_free(z->init_var);
  }
  dn_free(z);
  layer->impl = NULL;
}

static dn_layer *norm_from_config(const dn_layer_config *c) {
  return dn_normalization_with(
      (dn_normalization_options){.input_dim = c->input_dim, .invert = c->invert, .name = c->name});
}

/* The config and the constructor's mean and variance (Keras's config holds them too). */
static dn_layer *norm_clone(const dn_layer *layer) {
  const normalization *z = layer->impl;
  return dn_normalization_with((dn_normalization_options){.input_dim = layer->input_dim,
                                                          .mean = z->init_mean,
                                                          .variance = z->init_var,
                                                          .invert = z->invert,
                                                          .name = layer->name});
}

const dn_layer_ops dn_normalization_ops = {
    .type = "Normalization",
    .base_name = "normalization",
    .config_fields = DN_CFG_INVERT,
    .from_config = norm_from_config,
    .clone = norm_clone,
    .build = norm_build,
    .init_fixed = norm_init_fixed,
    .forward = norm_forward,
    .backward = norm_backward,
    .get_config = norm_get_config,
    .free_impl = norm_free_impl,
};

static float *copy_floats(const float *src, size_t n) {
  float *dst = dn_alloc(n * sizeof *dst);
  if (dst != NULL)
    memcpy(dst, src, n * sizeof *dst);
  return dst;
}

dn_layer *dn_normalization_with(dn_normalization_options o) {
  if ((o.mean == NULL) != (o.variance == NULL))
    return dn_fail_null(DN_ERR_ARG, "dn_normalization: give both mean and variance, or neither");
  if (o.mean != NULL && o.input_dim == 0)
    return dn_fail_null(DN_ERR_ARG,
                        "dn_normalization: mean and variance need input_dim (their length)");
  for (size_t j = 0; o.variance != NULL && j < o.input_dim; j++)
    if (!(o.variance[j] >= 0.0f) || !isfinite(o.mean[j]) || isinf(o.variance[j]))
      return dn_fail_null(DN_ERR_ARG,
                          "dn_normalization: feature %zu has mean %g, variance %g (need finite, "
                          "variance >= 0)",
                          j, (double)o.mean[j], (double)o.variance[j]);
  normalization *z = dn_calloc(1, sizeof *z);
  if (z == NULL)
    return NULL;
  z->invert = o.invert;
  if (o.mean != NULL) {
    z->init_mean = copy_floats(o.mean, o.input_dim);
    z->init_var = copy_floats(o.variance, o.input_dim);
    if (z->init_mean == NULL || z->init_var == NULL) {
      dn_free(z->init_mean);
      dn_free(z->init_var);
      dn_free(z);
      return NULL;
    }
  }
  dn_layer *layer = dn_layer_new(&dn_normalization_ops, z, o.name, o.input_dim);
  /* With a known width, build now so adapt() works before the layer joins a model. */
  if (layer != NULL && o.input_dim != 0 && dn_layer_build(layer, o.input_dim) != DN_OK) {
    dn_layer_free(layer);
    return NULL;
  }
  return layer;
}

dn_status dn_normalization_adapt(dn_layer *layer, dn_tensor x) {
  static const char fn[] = "dn_normalization_adapt";
  if (layer == NULL)
    return dn_fail(DN_ERR_ARG, "%s: layer is NULL", fn);
  if (layer->ops != &dn_normalization_ops)
    return dn_fail(DN_ERR_ARG, "%s: layer '%s' is a %s, not a Normalization layer", fn, layer->name,
                   layer->ops->type);
  dn_matrix m;
  dn_status st = dn_tensor_matrix(x, fn, "x", 2, &m);
  if (st != DN_OK)
    return st;
  if (layer->built && m.cols != layer->output_dim)
    return dn_fail(DN_ERR_SHAPE, "%s: x has %zu columns but the layer's input width is %zu", fn,
                   m.cols, layer->output_dim);
  /* An unbuilt layer in a model gets its width from the model (building it alone would leave
   * the model's parameter block behind); a standalone one takes x's, as Keras's adapt builds. */
  if (!layer->built && layer->in_model)
    return dn_fail(DN_ERR_STATE,
                   "%s: the layer's input width is unknown (build the model first, or adapt the "
                   "layer before adding it)",
                   fn);
  size_t rows = m.rows, D = m.cols, cells = rows * D;
  const float *xs = m.data;
  for (size_t k = 0; k < cells; k++)
    if (!isfinite(xs[k]))
      return dn_fail(DN_ERR_NUMERIC, "%s: x[%zu][%zu] is not finite", fn, k / D, k % D);
  if (!layer->built && (st = dn_layer_build(layer, D)) != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  /* Two passes in double: mean, then the population variance (numpy var, ddof 0). */
  for (size_t j = 0; j < D; j++) {
    double s = 0.0, ss = 0.0;
    for (size_t n = 0; n < rows; n++)
      s += xs[n * D + j];
    double mean = s / (double)rows;
    for (size_t n = 0; n < rows; n++) {
      double d = xs[n * D + j] - mean;
      ss += d * d;
    }
    layer->params[j] = (float)mean;
    layer->params[D + j] = (float)(ss / (double)rows);
  }
  return DN_OK;
}

/* ---- adapt from a batch source ---- */

typedef struct moments {
  double count;
  double *mean, *m2; /* per feature: running mean, sum of squared deviations from it */
} moments;

/* Merges one batch (n rows of D features) into m: the batch's own mean and squared deviations
 * in two passes, then Chan et al.'s pairwise update (exact in exact arithmetic; stable, as the
 * deviations are taken from means, never as sums of squares minus a square). */
static void merge_batch(moments *m, const float *x, size_t n, size_t D) {
  double nb = (double)n, total = m->count + nb;
  for (size_t j = 0; j < D; j++) {
    double s = 0.0, ss = 0.0;
    for (size_t r = 0; r < n; r++)
      s += x[r * D + j];
    double mb = s / nb;
    for (size_t r = 0; r < n; r++) {
      double d = x[r * D + j] - mb;
      ss += d * d;
    }
    double delta = mb - m->mean[j];
    m->mean[j] += delta * (nb / total);
    m->m2[j] += ss + delta * delta * (m->count * nb / total);
  }
  m->count = total;
}

/* Reads every batch of one pass into m (x, y: scratch of bs rows). */
static dn_status adapt_pass(dn_source *src, size_t bs, float *x, float *y, moments *m) {
  static const char fn[] = "dn_normalization_adapt_source";
  size_t D = src->o.x_cols;
  dn_status st = dn_source_begin_pass(src, fn);
  for (size_t b = 0; st == DN_OK && (src->o.steps == 0 || b < src->o.steps); b++) {
    size_t n = 0;
    if ((st = dn_source_pull(src, x, y, bs, &n)) != DN_OK) {
      char where[48];
      snprintf(where, sizeof where, "batch %zu", b);
      dn_error_context(where);
      dn_error_context(fn);
      return st;
    }
    if (n == 0)
      break;
    for (size_t k = 0; k < n * D; k++)
      if (!isfinite(x[k]))
        return dn_fail(DN_ERR_NUMERIC, "%s: batch %zu, x[%zu][%zu] is not finite", fn, b, k / D,
                       k % D);
    merge_batch(m, x, n, D);
  }
  if (st == DN_OK && m->count == 0)
    st = dn_fail(DN_ERR_STATE, "%s: the source gave no rows", fn);
  return st;
}

dn_status dn_normalization_adapt_source(dn_layer *layer, dn_source *source, size_t batch_size) {
  static const char fn[] = "dn_normalization_adapt_source";
  if (layer == NULL)
    return dn_fail(DN_ERR_ARG, "%s: layer is NULL", fn);
  if (source == NULL)
    return dn_fail(DN_ERR_ARG, "%s: source is NULL", fn);
  if (layer->ops != &dn_normalization_ops)
    return dn_fail(DN_ERR_ARG, "%s: layer '%s' is a %s, not a Normalization layer", fn, layer->name,
                   layer->ops->type);
  size_t D = source->o.x_cols, yc = source->o.y_cols, bs;
  if (!dn_size_count_or_default(batch_size, 32, &bs) || bs == 0)
    return dn_fail(DN_ERR_ARG, "%s: batch_size must be >= 1 (0 for 32), got %zu", fn, batch_size);
  if (layer->built && D != layer->output_dim)
    return dn_fail(DN_ERR_SHAPE,
                   "%s: the source's x has %zu columns but the layer's input width is %zu", fn, D,
                   layer->output_dim);
  if (!layer->built && layer->in_model)
    return dn_fail(DN_ERR_STATE,
                   "%s: the layer's input width is unknown (build the model first, or adapt the "
                   "layer before adding it)",
                   fn);
  size_t nx, ny;
  if (!dn_mul_size(bs, D, &nx, "x") || !dn_mul_size(bs, yc, &ny, "y") || nx > SIZE_MAX / 2 - ny)
    return dn_fail(DN_ERR_SHAPE, "%s: a batch of %zu rows of %zu + %zu columns overflows", fn, bs,
                   D, yc);
  float *buf = dn_alloc((nx + ny + 1) * sizeof *buf);
  double *acc = dn_calloc(2 * D, sizeof *acc);
  dn_status st = DN_OK;
  if (buf == NULL || acc == NULL) {
    dn_error_context(fn);
    st = DN_ERR_NOMEM;
  }
  moments m = {0.0, acc, acc ? acc + D : NULL};
  if (st == DN_OK)
    st = adapt_pass(source, bs, buf, yc ? buf + nx : NULL, &m);
  if (st == DN_OK && !layer->built && (st = dn_layer_build(layer, D)) != DN_OK)
    dn_error_context(fn);
  if (st == DN_OK)
    for (size_t j = 0; j < D; j++) {
      layer->params[j] = (float)m.mean[j];
      layer->params[D + j] = (float)(m.m2[j] / m.count);
    }
  dn_free(buf);
  dn_free(acc);
  return st;
}
