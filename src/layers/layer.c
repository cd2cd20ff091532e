/* layer.c -- the parts of the layer interface shared by every layer kind. */
#include "layers/layer.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

dn_layer *dn_layer_new(const dn_layer_ops *ops, void *impl, const char *name, size_t input_dim) {
  if (name != NULL && strlen(name) >= DN_LAYER_NAME_CAP) {
    dn_layer tmp = {.ops = ops, .impl = impl};
    if (ops->free_impl)
      ops->free_impl(&tmp);
    return dn_fail_null(DN_ERR_ARG, "dn_%s: layer name '%.32s...' is longer than %d characters",
                        ops->base_name, name, DN_LAYER_NAME_CAP - 1);
  }
  dn_layer *layer = dn_calloc(1, sizeof *layer);
  if (layer == NULL) {
    dn_layer tmp = {.ops = ops, .impl = impl};
    if (ops->free_impl)
      ops->free_impl(&tmp);
    return NULL;
  }
  layer->ops = ops;
  layer->impl = impl;
  layer->input_dim = input_dim;
  if (name != NULL)
    memcpy(layer->name, name, strlen(name) + 1);
  return layer;
}

/* The width checks of building for input_dim; then, for an unbuilt layer, ops->build on
 * *layer (which only declares: output_dim, vars, n_params). */
static dn_status declare(dn_layer *layer, size_t input_dim) {
  if (layer->built) {
    if (layer->input_dim != input_dim)
      return dn_fail(DN_ERR_SHAPE, "layer '%s' (%s) expects %zu inputs, got %zu", layer->name,
                     layer->ops->type, layer->input_dim, input_dim);
    return DN_OK;
  }
  if (input_dim == 0)
    return dn_fail(DN_ERR_SHAPE, "layer '%s' (%s): input width must be > 0", layer->name,
                   layer->ops->type);
  if (layer->input_dim != 0 && layer->input_dim != input_dim)
    return dn_fail(DN_ERR_SHAPE, "layer '%s' (%s) was given input_dim %zu but receives %zu",
                   layer->name, layer->ops->type, layer->input_dim, input_dim);
  /* A width no row can have (DN_ZERO_COUNT given as a width arrives as SIZE_MAX). */
  if (input_dim > DN_MAX_WIDTH)
    return dn_fail(DN_ERR_SHAPE, "layer '%s' (%s): input width %zu is above the limit %zu",
                   layer->name, layer->ops->type, input_dim, (size_t)DN_MAX_WIDTH);
  dn_status st = layer->ops->build(layer, input_dim);
  if (st == DN_OK && layer->output_dim > DN_MAX_WIDTH)
    return dn_fail(DN_ERR_SHAPE, "layer '%s' (%s): output width %zu is above the limit %zu",
                   layer->name, layer->ops->type, layer->output_dim, (size_t)DN_MAX_WIDTH);
  return st;
}

dn_status dn_layer_plan(const dn_layer *layer, size_t input_dim, dn_layer *plan) {
  *plan = *layer;
  dn_status st = declare(plan, input_dim);
  plan->input_dim = input_dim;
  plan->params = plan->grads = NULL;
  return st;
}

dn_status dn_layer_build(dn_layer *layer, size_t input_dim) {
  if (layer->built)
    return declare(layer, input_dim);
  dn_layer saved = *layer;
  dn_status st = declare(layer, input_dim);
  if (st != DN_OK) {
    *layer = saved;
    return st;
  }
  float *params = dn_calloc(layer->n_params ? layer->n_params : 1, sizeof(float));
  float *grads = dn_calloc(layer->n_params ? layer->n_params : 1, sizeof(float));
  if (params == NULL || grads == NULL) {
    dn_free(params);
    dn_free(grads);
    *layer = saved;
    return DN_ERR_NOMEM;
  }
  layer->input_dim = input_dim;
  layer->params = params;
  layer->grads = grads;
  layer->bound = false;
  layer->built = true;
  if (layer->ops->init_fixed)
    layer->ops->init_fixed(layer);
  return DN_OK;
}

void dn_layer_bind(dn_layer *layer, float *params, float *grads) {
  if (layer->n_params > 0) {
    memmove(params, layer->params, layer->n_params * sizeof *params);
    memmove(grads, layer->grads, layer->n_params * sizeof *grads);
  }
  if (!layer->bound) {
    dn_free(layer->params);
    dn_free(layer->grads);
  }
  layer->params = params;
  layer->grads = grads;
  layer->bound = true;
}

void dn_layer_get_config(const dn_layer *layer, dn_layer_config *config) {
  *config = (dn_layer_config){
      .type = layer->ops->type, .name = layer->name, .input_dim = layer->input_dim};
  if (layer->ops->get_config)
    layer->ops->get_config(layer, config);
}

size_t dn_layer_trainable_params(const dn_layer *layer) {
  size_t n = 0;
  for (size_t i = 0; i < layer->n_vars; i++)
    if (layer->vars[i].trainable)
      n += layer->vars[i].size;
  return n;
}

void dn_layer_free(dn_layer *layer) {
  if (layer == NULL || layer->in_model) /* a model's layer is freed with the model */
    return;
  if (layer->ops->free_impl)
    layer->ops->free_impl(layer);
  if (!layer->bound) {
    dn_free(layer->params);
    dn_free(layer->grads);
  }
  dn_free(layer);
}

const char *dn_layer_name(const dn_layer *layer) {
  return layer ? layer->name : NULL;
}

const char *dn_layer_type(const dn_layer *layer) {
  return layer ? layer->ops->type : NULL;
}

size_t dn_layer_output_dim(const dn_layer *layer) {
  return layer ? layer->output_dim : 0;
}

size_t dn_layer_count_params(const dn_layer *layer) {
  return layer ? layer->n_params : 0;
}
