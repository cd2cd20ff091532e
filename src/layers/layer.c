/* layer.c -- the parts of the layer interface shared by every layer kind. */
#include "layers/layer.h"

#include <string.h>

#include "core/alloc.h"
#include "core/names.h"
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
  *config = (dn_layer_config){.type = layer->ops->type,
                              .name = layer->name,
                              .input_dim = layer->input_dim,
                              .frozen = layer->frozen};
  if (layer->ops->get_config)
    layer->ops->get_config(layer, config);
}

dn_layer *dn_layer_clone(const dn_layer *layer) {
  dn_layer *copy;
  if (layer->ops->clone != NULL) {
    copy = layer->ops->clone(layer);
  } else {
    dn_layer_config config;
    dn_layer_get_config(layer, &config);
    copy = layer->ops->from_config(&config);
  }
  /* Attributes every kind has that its constructor does not take (Keras's `trainable`) are
   * copied here (ops->clone does not see them). */
  if (copy != NULL)
    copy->frozen = layer->frozen;
  return copy;
}

size_t dn_layer_trainable_params(const dn_layer *layer) {
  size_t n = 0;
  for (size_t i = 0; !layer->frozen && i < layer->n_vars; i++)
    if (layer->vars[i].trainable)
      n += layer->vars[i].size;
  return n;
}

dn_status dn_layer_set_trainable(dn_layer *layer, bool trainable) {
  if (layer == NULL)
    return dn_fail(DN_ERR_ARG, "dn_layer_set_trainable: layer is NULL");
  layer->frozen = !trainable;
  return DN_OK;
}

bool dn_layer_trainable(const dn_layer *layer) {
  return layer != NULL && !layer->frozen;
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

size_t dn_layer_input_dim(const dn_layer *layer) {
  return layer ? layer->input_dim : 0;
}

const char *dn_layer_activation(const dn_layer *layer) {
  if (layer == NULL)
    return NULL;
  dn_layer_config config;
  dn_layer_get_config(layer, &config);
  return config.activation;
}

/* ---- weights, one Keras variable at a time ----------------------------------------------- */

/* Keras's shape of a variable: a kernel is (rows, cols); every other one a vector (size,). */
static int var_shape(const dn_var *var, size_t shape[DN_TENSOR_MAX_RANK]) {
  memset(shape, 0, DN_TENSOR_MAX_RANK * sizeof *shape);
  if (strcmp(var->name, "kernel") == 0) {
    shape[0] = var->rows;
    shape[1] = var->cols;
    return 2;
  }
  shape[0] = var->size;
  return 1;
}

size_t dn_layer_weight_count(const dn_layer *layer) {
  return layer != NULL && layer->built ? layer->n_vars : 0;
}

/* The checks every weight call makes: a layer (DN_ERR_ARG), built (DN_ERR_STATE). */
static dn_status require_weights(const dn_layer *layer, const char *fn) {
  if (layer == NULL)
    return dn_fail(DN_ERR_ARG, "%s: layer is NULL", fn);
  if (!layer->built)
    return dn_fail(DN_ERR_STATE,
                   "%s: layer '%s' (%s) is not built yet, so it has no weights (its input width "
                   "is unknown: give .input_dim, call dn_model_build, or pass data to the model)",
                   fn, layer->name, layer->ops->type);
  return DN_OK;
}

/* Variable `index` of a built layer (DN_ERR_ARG out of range). */
static dn_status weight_at(const dn_layer *layer, size_t index, const char *fn,
                           const dn_var **var) {
  dn_status st = require_weights(layer, fn);
  if (st == DN_OK && index >= layer->n_vars)
    st = dn_fail(DN_ERR_ARG, "%s: index %zu is out of range: layer '%s' (%s) has %zu weight%s", fn,
                 index, layer->name, layer->ops->type, layer->n_vars, dn_plural(layer->n_vars));
  if (st == DN_OK)
    *var = &layer->vars[index];
  return st;
}

/* DN_ERR_ARG / DN_ERR_SHAPE unless tensor `t` (argument `arg` of `fn`) has exactly the shape of
 * the layer's variable `index`. */
static dn_status check_weight_tensor(const dn_layer *layer, size_t index, dn_tensor t,
                                     const char *fn, const char *arg) {
  const dn_var *var = &layer->vars[index];
  size_t shape[DN_TENSOR_MAX_RANK];
  int rank = var_shape(var, shape);
  if (t.data == NULL || t.rank < 1 || t.rank > DN_TENSOR_MAX_RANK)
    return dn_fail(DN_ERR_ARG, "%s: %s is no tensor (weight %zu of layer '%s' is its %s)", fn, arg,
                   index, layer->name, var->name);
  bool same = t.rank == rank;
  for (int d = 0; same && d < rank; d++)
    same = t.shape[d] == shape[d];
  if (!same) {
    char got[64], want[64];
    return dn_fail(DN_ERR_SHAPE, "%s: %s has shape %s but weight %zu of layer '%s' (its %s) has %s",
                   fn, arg, dn_shape_text(got, sizeof got, t.rank, t.shape), index, layer->name,
                   var->name, dn_shape_text(want, sizeof want, rank, shape));
  }
  return DN_OK;
}

dn_status dn_layer_weight_info(const dn_layer *layer, size_t index, dn_weight_info *info) {
  static const char fn[] = "dn_layer_weight_info";
  const dn_var *var = NULL;
  dn_status st = info == NULL ? dn_fail(DN_ERR_ARG, "%s: info is NULL", fn)
                              : weight_at(layer, index, fn, &var);
  if (st != DN_OK)
    return st;
  *info = (dn_weight_info){
      .name = var->name, .size = var->size, .trainable = var->trainable && !layer->frozen};
  info->rank = var_shape(var, info->shape);
  return DN_OK;
}

/* Copies weight `index` between the layer and tensor t (checked first): into the layer if
 * `set`. The layer's storage is written through its params pointer, also from a const layer. */
static dn_status transfer_weight(const dn_layer *layer, size_t index, dn_tensor t, bool set,
                                 const char *fn) {
  const dn_var *var = NULL;
  dn_status st = weight_at(layer, index, fn, &var);
  if (st == DN_OK)
    st = check_weight_tensor(layer, index, t, fn, set ? "value" : "out");
  if (st == DN_OK && set) {
    memmove(layer->params + var->offset, t.data, var->size * sizeof(float));
    if (layer->weights_version != NULL)
      ++*layer->weights_version;
  } else if (st == DN_OK)
    memcpy(t.data, layer->params + var->offset, var->size * sizeof(float));
  return st;
}

dn_status dn_layer_get_weight(const dn_layer *layer, size_t index, dn_tensor out) {
  return transfer_weight(layer, index, out, false, "dn_layer_get_weight");
}

dn_status dn_layer_set_weight(dn_layer *layer, size_t index, dn_tensor value) {
  return transfer_weight(layer, index, value, true, "dn_layer_set_weight");
}

/* The checks of the all-at-once calls: n tensors, one per weight, each of its weight's shape
 * (arg "out" or "values", each named with its index). */
static dn_status check_weight_list(const dn_layer *layer, const dn_tensor *list, size_t n,
                                   const char *fn, const char *arg) {
  dn_status st = require_weights(layer, fn);
  if (st == DN_OK && n != layer->n_vars) {
    char names[128] = "";
    for (size_t k = 0, len = 0; k < layer->n_vars && len < sizeof names; k++) {
      int w = snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "", layer->vars[k].name);
      len += w > 0 ? (size_t)w : 0;
    }
    st = dn_fail(DN_ERR_SHAPE, "%s: %zu tensor%s given but layer '%s' (%s) has %zu weight%s%s%s%s",
                 fn, n, dn_plural(n), layer->name, layer->ops->type, layer->n_vars,
                 dn_plural(layer->n_vars), layer->n_vars ? " (" : "", names,
                 layer->n_vars ? ")" : "");
  }
  if (st == DN_OK && n > 0 && list == NULL)
    st = dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, arg);
  for (size_t k = 0; st == DN_OK && k < n; k++) {
    char name[32];
    snprintf(name, sizeof name, "%s[%zu]", arg, k);
    st = check_weight_tensor(layer, k, list[k], fn, name);
  }
  return st;
}

/* Every weight between the layer and list[0..n) (all checked first): into the layer if `set`. */
static dn_status transfer_weights(const dn_layer *layer, const dn_tensor *list, size_t n, bool set,
                                  const char *fn) {
  dn_status st = check_weight_list(layer, list, n, fn, set ? "values" : "out");
  for (size_t k = 0; st == DN_OK && k < n; k++) {
    float *w = layer->params + layer->vars[k].offset;
    size_t bytes = layer->vars[k].size * sizeof(float);
    if (set)
      memmove(w, list[k].data, bytes);
    else
      memcpy(list[k].data, w, bytes);
  }
  if (st == DN_OK && set && layer->weights_version != NULL)
    ++*layer->weights_version;
  return st;
}

dn_status dn_layer_get_weights(const dn_layer *layer, const dn_tensor *out, size_t n) {
  return transfer_weights(layer, out, n, false, "dn_layer_get_weights");
}

dn_status dn_layer_set_weights(dn_layer *layer, const dn_tensor *values, size_t n) {
  return transfer_weights(layer, values, n, true, "dn_layer_set_weights");
}
