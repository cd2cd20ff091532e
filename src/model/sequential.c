/* sequential.c -- the Sequential container: layers in order, shape inference, the one
 * parameter block, the workspace, and the forward and backward passes over a batch. */
#include "model/sequential.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fpenv.h"
#include "core/names.h"
#include "core/status.h"
#include "kernels/kernels.h"

/* ---- lifecycle ---------------------------------------------------------- */

static void seed_streams(dn_model *model, uint64_t seed) {
  model->seed = seed;
  dn_rng_seed(&model->rng_init, seed, DN_STREAM_INIT);
  dn_rng_seed(&model->rng_shuffle, seed, DN_STREAM_SHUFFLE);
  dn_rng_seed(&model->rng_dropout, seed, DN_STREAM_DROPOUT);
}

dn_model *dn_model_new(void) {
  dn_model *model = dn_calloc(1, sizeof *model);
  if (model == NULL)
    return NULL;
  seed_streams(model, DN_DEFAULT_SEED);
  return model;
}

static void free_workspace(dn_model *model) {
  if (model->outs != NULL)
    for (size_t i = 0; i < model->n_layers; i++)
      dn_free(model->outs[i]);
  dn_free(model->outs);
  dn_free(model->dbuf[0]);
  dn_free(model->dbuf[1]);
  dn_free(model->xbuf);
  dn_free(model->chain);
  model->chain = NULL;
  model->outs = NULL;
  model->dbuf[0] = model->dbuf[1] = model->xbuf = NULL;
  model->ws_rows = 0;
  model->fwd_rows = 0;
  model->fwd_x = NULL;
}

void dn_model_free(dn_model *model) {
  if (model == NULL)
    return;
  if (model->train != NULL && model->train_free != NULL)
    model->train_free(model->train);
  free_workspace(model);
  for (size_t i = 0; i < model->n_layers; i++) {
    model->layers[i]->in_model = false;
    dn_layer_free(model->layers[i]);
  }
  dn_free(model->layers);
  dn_free(model->names);
  dn_free(model->params);
  dn_free(model->grads);
  dn_free(model->vars);
  dn_free(model);
}

bool dn_seq_is_built(const dn_model *model) {
  /* input_dim is set exactly when the chain from the first layer is built (add, build) */
  return model->n_layers > 0 && model->input_dim != 0 && model->layers[model->n_layers - 1]->built;
}

const dn_layer *dn_seq_inference_only(const dn_model *model) {
  for (size_t i = 0; model != NULL && i < model->n_layers; i++)
    if (model->layers[i]->ops->inference_only)
      return model->layers[i];
  return NULL;
}

dn_status dn_seq_require_trainable(const dn_model *model, const char *fn) {
  const dn_layer *l = dn_seq_inference_only(model);
  if (l == NULL)
    return DN_OK;
  return dn_fail(DN_ERR_STATE,
                 "%s: the model is quantized (layer '%s' is %s, int8, inference only): it cannot "
                 "be trained; train the float model and call dn_model_quantize again",
                 fn, l->name, l->ops->type);
}

/* Moves every built layer's parameters into one new block (all or nothing). */
static dn_status rebuild_block(dn_model *model, dn_layer *extra) {
  size_t total = 0, n_vars = 0, count = model->n_layers + (extra != NULL);
  for (size_t i = 0; i < count; i++) {
    dn_layer *l = i < model->n_layers ? model->layers[i] : extra;
    if (total > SIZE_MAX / sizeof(float) - l->n_params)
      return dn_fail(DN_ERR_SHAPE, "model has too many parameters");
    total += l->n_params;
    n_vars += l->n_vars;
  }
  float *params = dn_calloc(total ? total : 1, sizeof(float));
  float *grads = dn_calloc(total ? total : 1, sizeof(float));
  dn_var *vars = dn_calloc(n_vars ? n_vars : 1, sizeof(dn_var));
  if (params == NULL || grads == NULL || vars == NULL) {
    dn_free(params);
    dn_free(grads);
    dn_free(vars);
    return DN_ERR_NOMEM;
  }
  size_t off = 0, v = 0;
  for (size_t i = 0; i < count; i++) {
    dn_layer *l = i < model->n_layers ? model->layers[i] : extra;
    if (!l->built)
      continue;
    dn_layer_bind(l, params + off, grads + off);
    l->weights_version = &model->weights_version;
    for (size_t k = 0; k < l->n_vars; k++) {
      vars[v] = l->vars[k];
      vars[v++].offset += off;
    }
    off += l->n_params;
  }
  dn_free(model->params);
  dn_free(model->grads);
  dn_free(model->vars);
  model->params = params;
  model->grads = grads;
  model->vars = vars;
  model->n_params = total;
  model->n_vars = v;
  dn_seq_sync_trainable(model);
  return DN_OK;
}

void dn_seq_sync_trainable(dn_model *model) {
  size_t v = 0;
  for (size_t i = 0; i < model->n_layers; i++) {
    dn_layer *l = model->layers[i];
    l->train_frozen = l->frozen || model->frozen;
    for (size_t k = 0; l->built && k < l->n_vars && v < model->n_vars; k++)
      model->vars[v++].trainable = l->vars[k].trainable && !l->train_frozen;
  }
}

bool dn_seq_trainable_changed(const dn_model *model) {
  for (size_t i = 0; i < model->n_layers; i++)
    if (model->layers[i]->train_frozen != (model->layers[i]->frozen || model->frozen))
      return true;
  return false;
}

dn_status dn_model_set_trainable(dn_model *model, bool trainable) {
  if (model == NULL)
    return dn_fail(DN_ERR_ARG, "dn_model_set_trainable: model is NULL");
  model->frozen = !trainable;
  for (size_t i = 0; i < model->n_layers; i++)
    model->layers[i]->frozen = !trainable;
  return DN_OK;
}

bool dn_model_trainable(const dn_model *model) {
  return model != NULL && !model->frozen;
}

/* ---- names ---------------------------------------------------------------- */

static size_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (; *s != '\0'; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return (size_t)h;
}

/* The model's layer named `name`, or NULL. */
static const dn_layer *find_name(const dn_model *model, const char *name) {
  if (model->names_cap == 0)
    return NULL;
  size_t mask = model->names_cap - 1;
  for (size_t i = name_hash(name) & mask; model->names[i] != NULL; i = (i + 1) & mask)
    if (strcmp(model->names[i]->name, name) == 0)
      return model->names[i];
  return NULL;
}

static void insert_name(dn_layer **slots, size_t cap, dn_layer *layer) {
  size_t i = name_hash(layer->name) & (cap - 1);
  while (slots[i] != NULL)
    i = (i + 1) & (cap - 1);
  slots[i] = layer;
}

/* Makes the name index hold `count` names at most half full (a new table, all or nothing). */
static dn_status reserve_names(dn_model *model, size_t count) {
  if (count <= model->names_cap / 2)
    return DN_OK;
  size_t cap = model->names_cap ? model->names_cap : 16;
  while (count > cap / 2)
    cap *= 2;
  dn_layer **slots = dn_calloc(cap, sizeof *slots);
  if (slots == NULL)
    return DN_ERR_NOMEM;
  for (size_t i = 0; i < model->n_layers; i++)
    insert_name(slots, cap, model->layers[i]);
  dn_free(model->names);
  model->names = slots;
  model->names_cap = cap;
  return DN_OK;
}

/* The model's next automatic name for a layer of this kind: the stem ("dense") if free, else
 * stem_k ("dense_1", ...) for the lowest free k. The kind's counter remembers where the last
 * search ended (every lower suffix was taken then, and only dn_model_pop, which resets the
 * counters, removes names), so adding n layers costs O(n) lookups in all, not O(n^2) names
 * compared per layer. */
static void auto_name(dn_model *model, dn_layer *layer) {
  const char *base = layer->ops->base_name;
  struct dn_auto_count *count = NULL;
  for (size_t i = 0; i < sizeof model->auto_counts / sizeof *model->auto_counts; i++) {
    struct dn_auto_count *c = &model->auto_counts[i];
    if (c->base == NULL)
      c->base = base; /* a new kind: starts at 0 */
    if (strcmp(c->base, base) == 0) {
      count = c;
      break;
    }
  }
  for (size_t k = count ? count->next : 0;; k++) { /* (more kinds than entries: from 0) */
    char name[DN_LAYER_NAME_CAP];
    if (k == 0)
      snprintf(name, sizeof name, "%s", base);
    else
      snprintf(name, sizeof name, "%s_%zu", base, k);
    if (find_name(model, name) == NULL) {
      memcpy(layer->name, name, sizeof name);
      if (count != NULL)
        count->next = k; /* not k + 1: this layer may still fail to join */
      return;
    }
  }
}

/* Builds the not-yet-built layers from index `from` on, given the input width of
 * layer `from`, drawing their random initial values in order. Used by add and build. */
static dn_status build_chain(dn_model *model, size_t from, size_t width) {
  size_t i;
  for (i = from; i < model->n_layers; i++) {
    dn_layer *l = model->layers[i];
    dn_status st = dn_layer_build(l, width);
    if (st != DN_OK)
      return st;
    width = l->output_dim;
  }
  return DN_OK;
}

dn_status dn_model_add(dn_model *model, dn_layer *layer) {
  if (layer == NULL)
    return dn_fail(DN_ERR_ARG, "dn_model_add: layer is NULL");
  if (layer->in_model)
    return dn_fail(DN_ERR_ARG, "dn_model_add: layer '%s' already belongs to a model", layer->name);
  if (model == NULL) {
    dn_layer_free(layer);
    return dn_fail(DN_ERR_ARG, "dn_model_add: model is NULL");
  }
  dn_status st = DN_OK;
  if (layer->name[0] != '\0') {
    if (find_name(model, layer->name) != NULL)
      st = dn_fail(DN_ERR_ARG, "the model already has a layer named '%s'", layer->name);
  } else {
    auto_name(model, layer);
  }
  /* The width this layer will see: the model's input or the previous output. */
  size_t width = 0;
  if (st == DN_OK && model->n_layers == 0) {
    width = layer->input_dim;
  } else if (st == DN_OK) {
    dn_layer *prev = model->layers[model->n_layers - 1];
    width = prev->built ? prev->output_dim : 0;
    if (layer->input_dim != 0 && width != 0 && layer->input_dim != width)
      st = dn_fail(DN_ERR_SHAPE,
                   "layer '%s' was given input_dim %zu but the previous layer outputs %zu",
                   layer->name, layer->input_dim, width);
  }
  dn_rng saved_rng = model->rng_init;
  if (st == DN_OK && width != 0 && !layer->built)
    st = dn_layer_build(layer, width);
  if (st == DN_OK && layer->built && layer->ops->init_random) /* into the layer's own storage */
    st = layer->ops->init_random(layer, &model->rng_init);
  if (st == DN_OK && model->n_layers == model->layers_cap) {
    size_t cap = model->layers_cap ? 2 * model->layers_cap : 8;
    dn_layer **grown = dn_calloc(cap, sizeof *grown);
    if (grown == NULL) {
      st = DN_ERR_NOMEM; /* dn_calloc set the message */
    } else {
      if (model->n_layers)
        memcpy(grown, model->layers, model->n_layers * sizeof *grown);
      dn_free(model->layers);
      model->layers = grown;
      model->layers_cap = cap;
    }
  }
  if (st == DN_OK)
    st = reserve_names(model, model->n_layers + 1);
  if (st == DN_OK && layer->built)
    st = rebuild_block(model, layer);
  if (st != DN_OK) {
    model->rng_init = saved_rng;
    dn_error_context("dn_model_add");
    dn_layer_free(layer);
    return st;
  }
  free_workspace(model);
  if (model->n_layers == 0)
    model->input_dim = layer->built ? layer->input_dim : 0;
  layer->in_model = true;
  model->layers[model->n_layers++] = layer;
  insert_name(model->names, model->names_cap, layer);
  return DN_OK;
}

dn_model *dn_sequential_with(size_t count, dn_layer *const *layers) {
  if (layers == NULL || count == 0)
    return dn_fail_null(DN_ERR_ARG, "dn_sequential: no layers given");
  /* A NULL entry is a constructor that failed: keep its message, free the rest. */
  for (size_t i = 0; i < count; i++)
    if (layers[i] == NULL) {
      dn_error_state err;
      dn_error_save(&err);
      for (size_t j = 0; j < count; j++)
        dn_layer_free(layers[j]);
      dn_error_restore(&err);
      if (err.message[0] == '\0')
        return dn_fail_null(DN_ERR_ARG, "dn_sequential: layer %zu is NULL", i);
      dn_error_context("dn_sequential");
      return NULL;
    }
  dn_model *model = dn_model_new();
  if (model == NULL) {
    for (size_t j = 0; j < count; j++)
      dn_layer_free(layers[j]);
    return NULL;
  }
  for (size_t i = 0; i < count; i++)
    if (dn_model_add(model, layers[i]) != DN_OK) {
      for (size_t j = i + 1; j < count; j++)
        dn_layer_free(layers[j]);
      dn_model_free(model);
      dn_error_context("dn_sequential");
      return NULL;
    }
  return model;
}

/* A layer back to unbuilt: its own storage released (a bound layer's is the model block's), its
 * widths and variables forgotten (the input width came from the call that built it). */
static void unbuild_layer(dn_layer *l) {
  if (!l->bound) {
    dn_free(l->params);
    dn_free(l->grads);
  }
  l->params = l->grads = NULL;
  l->bound = false;
  l->built = false;
  l->output_dim = 0;
  l->n_params = 0;
  l->n_vars = 0;
  l->input_dim = 0;
}

/* Builds an unbuilt model (with layers) for `input_dim`: all or nothing, messages without
 * the caller's name. */
static dn_status build_model(dn_model *model, size_t input_dim) {
  dn_rng saved_rng = model->rng_init;
  dn_seq_weights_written(model);
  dn_status st = build_chain(model, 0, input_dim);
  for (size_t i = 0; st == DN_OK && i < model->n_layers; i++)
    if (model->layers[i]->ops->init_random)
      st = model->layers[i]->ops->init_random(model->layers[i], &model->rng_init);
  if (st == DN_OK)
    st = rebuild_block(model, NULL);
  if (st != DN_OK) {
    /* Undo: layers go back to unbuilt (their own storage is released). */
    for (size_t i = 0; i < model->n_layers; i++)
      if (model->layers[i]->built && !model->layers[i]->bound)
        unbuild_layer(model->layers[i]);
    model->rng_init = saved_rng;
    return st;
  }
  model->input_dim = input_dim;
  free_workspace(model);
  return DN_OK;
}

dn_status dn_model_build(dn_model *model, size_t input_dim) {
  DN_CHECK_NOT_NULL(model, "dn_model_build");
  DN_CHECK_ARG(input_dim > 0, "dn_model_build", "input_dim must be > 0");
  if (model->input_dim != 0) {
    if (model->input_dim != input_dim)
      return dn_fail(DN_ERR_STATE, "dn_model_build: the model already has input_dim %zu, not %zu",
                     model->input_dim, input_dim);
    return DN_OK;
  }
  if (model->n_layers == 0)
    return dn_fail(DN_ERR_STATE, "dn_model_build: the model has no layers");
  dn_status st = build_model(model, input_dim);
  if (st != DN_OK)
    dn_error_context("dn_model_build");
  return st;
}

dn_status dn_model_set_seed(dn_model *model, uint64_t seed) {
  DN_CHECK_NOT_NULL(model, "dn_model_set_seed");
  dn_seq_weights_written(model);
  float *saved = NULL;
  if (model->n_params > 0) {
    saved = dn_alloc(model->n_params * sizeof *saved);
    if (saved == NULL)
      return DN_ERR_NOMEM;
    memcpy(saved, model->params, model->n_params * sizeof *saved);
  }
  dn_model tmp_rngs = *model;
  seed_streams(model, seed);
  for (size_t i = 0; i < model->n_layers; i++) {
    dn_layer *l = model->layers[i];
    if (l->built && l->ops->init_random && l->ops->init_random(l, &model->rng_init) != DN_OK) {
      memcpy(model->params, saved, model->n_params * sizeof *saved);
      model->seed = tmp_rngs.seed;
      model->rng_init = tmp_rngs.rng_init;
      model->rng_shuffle = tmp_rngs.rng_shuffle;
      model->rng_dropout = tmp_rngs.rng_dropout;
      dn_free(saved);
      dn_error_context("dn_model_set_seed");
      return dn_last_status();
    }
  }
  dn_free(saved);
  return DN_OK;
}

size_t dn_model_input_dim(const dn_model *model) {
  return model ? model->input_dim : 0;
}

size_t dn_model_output_dim(const dn_model *model) {
  if (model == NULL || !dn_seq_is_built(model))
    return 0;
  return model->layers[model->n_layers - 1]->output_dim;
}

size_t dn_model_layer_count(const dn_model *model) {
  return model ? model->n_layers : 0;
}

dn_layer *dn_model_layer(const dn_model *model, size_t index) {
  if (model == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_model_layer: model is NULL");
  if (index >= model->n_layers)
    return dn_fail_null(DN_ERR_ARG, "dn_model_layer: index %zu out of range (%zu layers)", index,
                        model->n_layers);
  return model->layers[index];
}

dn_layer *dn_model_layer_at(const dn_model *model, ptrdiff_t index) {
  if (model == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_model_layer_at: model is NULL");
  size_t n = model->n_layers;
  /* Python's rule: -n .. n-1, negative from the end (n <= PTRDIFF_MAX: layers are pointers) */
  if (index >= (ptrdiff_t)n || index < -(ptrdiff_t)n)
    return dn_fail_null(DN_ERR_ARG,
                        "dn_model_layer_at: index %td out of range (%zu layer%s: %td to %td)",
                        index, n, dn_plural(n), -(ptrdiff_t)n, (ptrdiff_t)n - 1);
  return model->layers[index < 0 ? (size_t)((ptrdiff_t)n + index) : (size_t)index];
}

dn_layer *dn_model_get_layer(const dn_model *model, const char *name) {
  static const char fn[] = "dn_model_get_layer";
  if (model == NULL || name == NULL)
    return dn_fail_null(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "name");
  const dn_layer *found = find_name(model, name);
  if (found != NULL)
    return (dn_layer *)(uintptr_t)found; /* the model's own layer: its caller may change it */
  /* Keras: "No such layer: x. Existing layers are: [...]" */
  char names[256] = "";
  size_t len = 0;
  for (size_t i = 0; i < model->n_layers && len < sizeof names; i++) {
    int w =
        snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", model->layers[i]->name);
    len += w > 0 ? (size_t)w : 0;
  }
  return dn_fail_null(DN_ERR_ARG, "%s: no layer named '%s' (the model's layers: %s)", fn, name,
                      model->n_layers ? names : "none");
}

dn_status dn_model_pop(dn_model *model) {
  static const char fn[] = "dn_model_pop";
  DN_CHECK_NOT_NULL(model, "dn_model_pop");
  if (model->n_layers == 0)
    return dn_fail(DN_ERR_STATE, "%s: the model has no layers", fn);
  dn_layer *last = model->layers[model->n_layers - 1];
  if (model->n_layers == 1)
    return dn_fail(DN_ERR_STATE,
                   "%s: layer '%s' is the model's only layer and a model keeps at least one "
                   "(free the model instead)",
                   fn, last->name);
  free_workspace(model); /* over every layer's buffers, before the count drops */
  model->n_layers--;
  /* A built layer's weights are the tail of the block (the block holds the built layers in
   * order): the block keeps its storage, the count drops. */
  if (last->built) {
    model->n_params -= last->n_params;
    model->n_vars -= last->n_vars;
  }
  /* The name index without the name (rehashed in place: deleting from open addressing would
   * break the probe chains of the names after it). */
  memset(model->names, 0, model->names_cap * sizeof *model->names);
  for (size_t i = 0; i < model->n_layers; i++)
    insert_name(model->names, model->names_cap, model->layers[i]);
  for (size_t i = 0; i < sizeof model->auto_counts / sizeof *model->auto_counts; i++)
    model->auto_counts[i].next = 0; /* the freed name may be the lowest free one again */
  model->layers[model->n_layers] = NULL;
  last->in_model = false;
  if (last->bound) { /* its storage is the model block's: not freed with it */
    last->bound = false;
    last->params = last->grads = NULL;
  }
  dn_layer_free(last);
  return DN_OK;
}

/* A new model with `model`'s layers made again from their configurations (dn_layer_clone), in
 * order, seeded with model's seed, so each built layer draws fresh initial weights as it joins
 * (as in dn_sequential); not compiled. A layer the original holds built where a fresh one would
 * not be (a standalone adapted Normalization after unbuilt layers) is built for the same width
 * first. NULL with the error prefixed `fn`. */
static dn_model *clone_structure(const dn_model *model, const char *fn) {
  dn_model *copy = dn_model_new();
  if (copy == NULL) {
    dn_error_context(fn);
    return NULL;
  }
  seed_streams(copy, model->seed);
  memcpy(copy->auto_counts, model->auto_counts, sizeof copy->auto_counts);
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    dn_layer *c = dn_layer_clone(l);
    dn_status st = c != NULL ? DN_OK : dn_last_status();
    if (st == DN_OK && l->built && !c->built && (st = dn_layer_build(c, l->input_dim)) != DN_OK)
      dn_layer_free(c);
    if (st == DN_OK)
      st = dn_model_add(copy, c); /* takes c, also on failure */
    if (st != DN_OK) {
      dn_error_state err;
      dn_error_save(&err);
      dn_model_free(copy);
      dn_error_restore(&err);
      dn_error_context(fn);
      return NULL;
    }
  }
  copy->frozen = model->frozen; /* Keras: Sequential(new_layers, trainable=model.trainable) */
  dn_seq_sync_trainable(copy);
  return copy;
}

dn_model *dn_model_clone(const dn_model *model) {
  if (model == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_model_clone: model is NULL");
  return clone_structure(model, "dn_model_clone");
}

dn_model *dn_model_copy(const dn_model *model) {
  if (model == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_model_copy: model is NULL");
  dn_model *copy = clone_structure(model, "dn_model_copy");
  if (copy == NULL)
    return NULL;
  if (copy->n_params != model->n_params || copy->input_dim != model->input_dim) {
    dn_model_free(copy); /* a layer kind whose clone differs: a bug, not the caller's */
    return dn_fail_null(DN_ERR_STATE,
                        "dn_model_copy: the copy has %zu parameters and input width %zu, the "
                        "model %zu and %zu",
                        copy->n_params, copy->input_dim, model->n_params, model->input_dim);
  }
  if (model->n_params > 0)
    memcpy(copy->params, model->params, model->n_params * sizeof *copy->params);
  copy->rng_init = model->rng_init;
  copy->rng_shuffle = model->rng_shuffle;
  copy->rng_dropout = model->rng_dropout;
  return copy;
}

/* ---- shape checks -------------------------------------------------------- */

dn_status dn_seq_require_built(const dn_model *model, const char *fn) {
  if (model == NULL)
    return dn_fail(DN_ERR_ARG, "%s: model is NULL", fn);
  if (model->n_layers == 0)
    return dn_fail(DN_ERR_STATE, "%s: the model has no layers", fn);
  if (!dn_seq_is_built(model))
    return dn_fail(DN_ERR_STATE,
                   "%s: the model has no input shape yet (give the first layer .input_dim, call "
                   "dn_model_build, or pass data to fit, predict or forward first)",
                   fn);
  return DN_OK;
}

/* rows x the widest width must be a count of values that can exist. */
static dn_status check_rows(const char *fn, const char *arg, size_t rows, size_t widest) {
  if (widest != 0 && rows > DN_MAX_ELEMENTS / widest)
    return dn_fail(DN_ERR_SHAPE,
                   "%s: %s has %zu rows; at the model's widest layer (%zu wide) that is more than "
                   "the %zu values an array can hold",
                   fn, arg, rows, widest, (size_t)DN_MAX_ELEMENTS);
  return DN_OK;
}

dn_status dn_seq_check_input(const dn_model *model, const char *fn, const char *arg, size_t rows,
                             size_t cols, size_t *output_dim) {
  if (model->n_layers == 0)
    return dn_fail(DN_ERR_STATE, "%s: the model has no layers", fn);
  size_t widest = cols;
  if (dn_seq_is_built(model)) {
    if (cols != model->input_dim)
      return dn_fail(DN_ERR_SHAPE, "%s: %s has %zu column%s but the model's input width is %zu", fn,
                     arg, cols, dn_plural(cols), model->input_dim);
    for (size_t i = 0; i < model->n_layers; i++)
      if (model->layers[i]->output_dim > widest)
        widest = model->layers[i]->output_dim;
    *output_dim = model->layers[model->n_layers - 1]->output_dim;
    return check_rows(fn, arg, rows, widest);
  }
  /* Unbuilt: follow the width through the layers as building would, on copies. */
  size_t width = cols;
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    if (l->input_dim != 0 && l->input_dim != width)
      return dn_fail(DN_ERR_SHAPE,
                     "%s: %s has %zu column%s, so layer '%s' (%s) would receive %zu inputs, but "
                     "it takes %zu",
                     fn, arg, cols, dn_plural(cols), l->name, l->ops->type, width, l->input_dim);
    if (l->built) {
      width = l->output_dim;
    } else {
      dn_layer draft; /* dn_layer_plan only declares the shapes (layer.h) */
      if (dn_layer_plan(l, width, &draft) != DN_OK) {
        dn_error_context(fn);
        return dn_last_status();
      }
      width = draft.output_dim;
    }
    widest = width > widest ? width : widest;
  }
  *output_dim = width;
  return check_rows(fn, arg, rows, widest);
}

dn_status dn_seq_build_for(dn_model *model, const char *fn, size_t cols, dn_seq_build *record) {
  if (record != NULL)
    *record = (dn_seq_build){0};
  if (dn_seq_is_built(model))
    return DN_OK;
  dn_rng before = model->rng_init;
  dn_status st = build_model(model, cols);
  if (st != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  if (record != NULL)
    *record = (dn_seq_build){.built = true, .rng_init = before};
  return DN_OK;
}

void dn_seq_build_undo(dn_model *model, dn_seq_build *record) {
  if (record == NULL || !record->built)
    return;
  free_workspace(model);
  for (size_t i = 0; i < model->n_layers; i++)
    unbuild_layer(model->layers[i]);
  dn_free(model->params);
  dn_free(model->grads);
  dn_free(model->vars);
  model->params = model->grads = NULL;
  model->vars = NULL;
  model->n_params = model->n_vars = 0;
  model->input_dim = 0;
  model->rng_init = record->rng_init;
  *record = (dn_seq_build){0};
}

dn_status dn_seq_check_output(const char *fn, const char *arg, const dn_matrix *m, size_t rows,
                              const char *rows_of, size_t cols, const char *cols_of) {
  if (m->cols != cols)
    return dn_fail(DN_ERR_SHAPE, "%s: %s has %zu column%s but %s is %zu", fn, arg, m->cols,
                   dn_plural(m->cols), cols_of, cols);
  if (m->rows < rows)
    return dn_fail(DN_ERR_SHAPE, "%s: %s has %zu row%s but %s has %zu", fn, arg, m->rows,
                   dn_plural(m->rows), rows_of, rows);
  return DN_OK;
}

/* ---- workspace and passes ----------------------------------------------- */

/* Whether every layer is a Dense layer with a fused activation (a chain of small steps). */
static bool chainable(const dn_model *model) {
  dn_dense_step step;
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    if (l->ops->dense_step == NULL || !l->ops->dense_step(l, &step))
      return false;
  }
  return true;
}

/* Fills chain with the layers' steps writing into outs; sets model->chain_width. */
static void fill_chain(dn_model *model, dn_dense_step *chain, float **outs) {
  size_t width = model->input_dim;
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    l->ops->dense_step(l, &chain[i]);
    chain[i].Y = outs[i];
    if (l->output_dim > width)
      width = l->output_dim;
  }
  model->chain_width = width;
}

dn_status dn_seq_reserve(dn_model *model, size_t rows) {
  if (rows <= model->ws_rows)
    return DN_OK;
  size_t width = model->input_dim, n = model->n_layers, cells;
  for (size_t i = 0; i < n; i++)
    if (model->layers[i]->output_dim > width)
      width = model->layers[i]->output_dim;
  if (!dn_mul_size(rows, width, &cells, "workspace") ||
      !dn_mul_size(cells, sizeof(float), &cells, "workspace"))
    return DN_ERR_SHAPE;
  float **outs = dn_calloc(n, sizeof *outs);
  float *d0 = dn_alloc(cells), *d1 = dn_alloc(cells);
  float *xb = dn_alloc(rows * model->input_dim * sizeof(float));
  bool chained = chainable(model);
  dn_dense_step *chain = chained ? dn_alloc(n * sizeof *chain) : NULL;
  bool ok = outs && d0 && d1 && xb && (chain != NULL || !chained);
  for (size_t i = 0; ok && i < n; i++)
    ok = (outs[i] = dn_alloc(rows * model->layers[i]->output_dim * sizeof(float))) != NULL;
  for (size_t i = 0; ok && i < n; i++)
    ok = model->layers[i]->ops->reserve == NULL ||
         model->layers[i]->ops->reserve(model->layers[i], rows) == DN_OK;
  if (!ok) {
    for (size_t i = 0; outs && i < n; i++)
      dn_free(outs[i]);
    dn_free(outs);
    dn_free(d0);
    dn_free(d1);
    dn_free(xb);
    dn_free(chain);
    return dn_last_status() != DN_OK ? dn_last_status() : DN_ERR_NOMEM;
  }
  if (chain != NULL)
    fill_chain(model, chain, outs);
  free_workspace(model);
  model->outs = outs;
  model->dbuf[0] = d0;
  model->dbuf[1] = d1;
  model->xbuf = xb;
  model->chain = chain;
  model->ws_rows = rows;
  model->max_width = width;
  return DN_OK;
}

const float *dn_seq_forward(dn_model *model, const float *x, size_t rows, bool training) {
  if (dn_seq_require_built(model, "forward") != DN_OK || dn_seq_reserve(model, rows) != DN_OK)
    return NULL;
  const float *in = x;
  if (model->chain != NULL &&
      dn_dense_chain_forward(model->chain, model->n_layers, model->chain_width, x, rows)) {
    in = model->outs[model->n_layers - 1];
  } else {
    for (size_t i = 0; i < model->n_layers; i++) {
      dn_layer *l = model->layers[i];
      dn_matrix vy = {model->outs[i], rows, l->output_dim};
      dn_matrix vx = dn_matrix_view(in, rows, l->input_dim);
      l->ops->forward(l, &vy, &vx, training, &model->rng_dropout);
      in = model->outs[i];
    }
  }
  model->fwd_x = x;
  model->fwd_rows = rows;
  model->fwd_training = training;
  return in;
}

bool dn_seq_predict(dn_model *model, const float *x, size_t rows, float *y) {
  size_t last = model->n_layers - 1, out = model->layers[last]->output_dim;
  /* The last layer writes the caller's rows directly, unless y overlaps x (in-place predict). */
  uintptr_t x0 = (uintptr_t)x, x1 = (uintptr_t)(x + rows * model->input_dim);
  uintptr_t y0 = (uintptr_t)y, y1 = (uintptr_t)(y + rows * out);
  if (model->chain != NULL && rows <= model->ws_rows && (y1 <= x0 || x1 <= y0)) {
    model->chain[last].Y = y;
    bool done = dn_dense_chain_forward(model->chain, model->n_layers, model->chain_width, x, rows);
    model->chain[last].Y = model->outs[last];
    if (done) {
      model->fwd_rows = 0;
      model->fwd_x = NULL;
      return true;
    }
  }
  const float *pred = dn_seq_forward(model, x, rows, false);
  if (pred == NULL)
    return false;
  memmove(y, pred, rows * out * sizeof *y);
  return true;
}

dn_status dn_seq_backward(dn_model *model, const float *dy, size_t rows, float *dx) {
  if (model->fwd_rows == 0 || model->fwd_rows != rows)
    return dn_fail(DN_ERR_STATE, "backward: needs a forward pass of the same %zu rows first", rows);
  size_t n = model->n_layers, cur = 0;
  memcpy(model->dbuf[0], dy, rows * model->layers[n - 1]->output_dim * sizeof(float));
  for (size_t i = n; i-- > 0;) {
    dn_layer *l = model->layers[i];
    const float *in = i == 0 ? model->fwd_x : model->outs[i - 1];
    float *din = i == 0 ? dx : model->dbuf[1 - cur];
    dn_matrix vdx = {din, rows, l->input_dim}, vdy = {model->dbuf[cur], rows, l->output_dim};
    dn_matrix vx = dn_matrix_view(in, rows, l->input_dim);
    dn_matrix vy = {model->outs[i], rows, l->output_dim};
    l->grad_state = DN_GRADS_UNCHECKED;
    l->ops->backward(l, &vdx, &vdy, &vx, &vy);
    cur = 1 - cur;
  }
  for (size_t i = 0; i < n; i++)
    if (model->layers[i]->ops->penalty)
      model->layers[i]->ops->penalty(model->layers[i], true);
  return DN_OK;
}

double dn_seq_penalty(const dn_model *model) {
  double p = 0.0;
  for (size_t i = 0; i < model->n_layers; i++)
    if (model->layers[i]->built && model->layers[i]->ops->penalty)
      p += model->layers[i]->ops->penalty(model->layers[i], false);
  return p;
}

double dn_model_regularization_loss(const dn_model *model) {
  return model ? dn_seq_penalty(model) : 0.0;
}

dn_status dn_seq_prepare_pass(dn_model *model, const char *fn, dn_tensor x, dn_tensor y,
                              size_t batch_size, dn_matrix *mx, dn_matrix *my,
                              dn_seq_build *built) {
  *built = (dn_seq_build){0};
  if (model == NULL)
    return dn_fail(DN_ERR_ARG, "%s: model is NULL", fn);
  size_t out = 0;
  dn_status st = dn_tensor_matrix(x, fn, "x", 2, mx);
  if (st == DN_OK)
    st = dn_seq_check_input(model, fn, "x", mx->rows, mx->cols, &out);
  if (st == DN_OK)
    st = dn_tensor_matrix(y, fn, "y", 2, my);
  if (st == DN_OK)
    st = dn_seq_check_output(fn, "y", my, mx->rows, "x", out, "the model's output width");
  if (st == DN_OK)
    st = dn_seq_build_for(model, fn, mx->cols, built);
  size_t rows = batch_size != 0 && batch_size < mx->rows ? batch_size : mx->rows;
  if (st == DN_OK && (st = dn_seq_reserve(model, rows)) != DN_OK) {
    dn_error_context(fn);
    dn_seq_build_undo(model, built);
  }
  return st;
}

dn_status dn_model_forward(dn_model *model, dn_tensor x, bool training, dn_tensor y) {
  static const char fn[] = "dn_model_forward";
  dn_matrix mx, my;
  dn_seq_build built;
  dn_status st = training ? dn_seq_require_trainable(model, fn) : DN_OK;
  if (st == DN_OK)
    st = dn_seq_prepare_pass(model, fn, x, y, 0, &mx, &my, &built);
  if (st != DN_OK)
    return st;
  size_t out = my.cols;
  memcpy(model->xbuf, mx.data, mx.rows * mx.cols * sizeof(float));
  dn_fp_state fp = dn_fp_enter(); /* FTZ/DAZ for the pass, the caller's state after */
  const float *pred = dn_seq_forward(model, model->xbuf, mx.rows, training);
  dn_fp_leave(fp);
  memcpy(my.data, pred, mx.rows * out * sizeof(float));
  return DN_OK;
}

/* Shared by dn_model_backward and dn_model_backward_input (dx NULL for the former). */
static dn_status backward_public(const char *fn, dn_model *model, dn_tensor dy,
                                 const dn_tensor *dx) {
  dn_matrix mdy, mdx = {0};
  dn_status st = dn_seq_require_built(model, fn);
  if (st == DN_OK)
    st = dn_seq_require_trainable(model, fn);
  if (st == DN_OK)
    st = dn_tensor_matrix(dy, fn, "dy", 2, &mdy);
  size_t out = st == DN_OK ? dn_model_output_dim(model) : 0;
  if (st == DN_OK && mdy.cols != out)
    st = dn_fail(DN_ERR_SHAPE, "%s: dy has %zu column%s but the model's output width is %zu", fn,
                 mdy.cols, dn_plural(mdy.cols), out);
  if (st == DN_OK && (model->fwd_rows == 0 || model->fwd_x != model->xbuf))
    st = dn_fail(DN_ERR_STATE,
                 "%s: needs a dn_model_forward first, with no other pass (fit, evaluate, predict, "
                 "gradient check) and no add or build since",
                 fn);
  if (st == DN_OK && mdy.rows != model->fwd_rows)
    st = dn_fail(DN_ERR_SHAPE, "%s: dy has %zu row%s but the last dn_model_forward had %zu", fn,
                 mdy.rows, dn_plural(mdy.rows), model->fwd_rows);
  if (st == DN_OK && dx != NULL)
    st = dn_tensor_matrix(*dx, fn, "dx", 2, &mdx);
  if (st == DN_OK && dx != NULL)
    st = dn_seq_check_output(fn, "dx", &mdx, mdy.rows, "dy", model->input_dim,
                             "the model's input width");
  if (st != DN_OK)
    return st;
  dn_fp_state fp = dn_fp_enter(); /* FTZ/DAZ for the pass, the caller's state after */
  st = dn_seq_backward(model, mdy.data, mdy.rows, dx != NULL ? mdx.data : NULL);
  dn_fp_leave(fp);
  return st;
}

dn_status dn_model_backward_input(dn_model *model, dn_tensor dy, dn_tensor dx) {
  return backward_public("dn_model_backward_input", model, dy, &dx);
}

dn_status dn_model_backward(dn_model *model, dn_tensor dy) {
  return backward_public("dn_model_backward", model, dy, NULL);
}

/* ---- weights ------------------------------------------------------------ */

size_t dn_model_count_params(const dn_model *model) {
  return model ? model->n_params : 0;
}

size_t dn_model_count_trainable_params(const dn_model *model) {
  size_t n = 0;
  for (size_t i = 0; model != NULL && !model->frozen && i < model->n_layers; i++)
    if (model->layers[i]->built)
      n += dn_layer_trainable_params(model->layers[i]);
  return n;
}

static dn_status check_weights(const char *fn, const dn_model *model, const float *buf, size_t n) {
  if (model == NULL || buf == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "buffer");
  if (n != model->n_params)
    return dn_fail(DN_ERR_SHAPE, "%s: the model has %zu parameters, the buffer %zu", fn,
                   model->n_params, n);
  return DN_OK;
}

dn_status dn_model_get_weights(const dn_model *model, float *out, size_t n) {
  dn_status st = check_weights("dn_model_get_weights", model, out, n);
  if (st == DN_OK && n > 0)
    memcpy(out, model->params, n * sizeof *out);
  return st;
}

void dn_seq_weights_written(dn_model *model) {
  model->weights_version++;
}

dn_status dn_model_set_weights(dn_model *model, const float *in, size_t n) {
  dn_status st = check_weights("dn_model_set_weights", model, in, n);
  if (st == DN_OK && n > 0) {
    memcpy(model->params, in, n * sizeof *in);
    dn_seq_weights_written(model);
  }
  return st;
}

dn_status dn_model_get_gradients(const dn_model *model, float *out, size_t n) {
  dn_status st = check_weights("dn_model_get_gradients", model, out, n);
  if (st != DN_OK)
    return st;
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    const size_t base = (size_t)(l->params - model->params);
    for (size_t k = 0; l->built && k < l->n_vars; k++) {
      const dn_var *var = &l->vars[k];
      if (dn_seq_var_trainable(model, l, var))
        memcpy(out + base + var->offset, l->grads + var->offset, var->size * sizeof *out);
      else
        memset(out + base + var->offset, 0, var->size * sizeof *out);
    }
  }
  return DN_OK;
}

dn_status dn_model_get_trainable_gradients(const dn_model *model, float *out, size_t n) {
  static const char fn[] = "dn_model_get_trainable_gradients";
  if (model == NULL || out == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "buffer");
  const size_t want = dn_model_count_trainable_params(model);
  if (n != want)
    return dn_fail(DN_ERR_SHAPE, "%s: the model has %zu trainable parameters, the buffer %zu", fn,
                   want, n);
  size_t at = 0;
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    for (size_t k = 0; l->built && k < l->n_vars; k++) {
      const dn_var *var = &l->vars[k];
      if (!dn_seq_var_trainable(model, l, var))
        continue;
      memcpy(out + at, l->grads + var->offset, var->size * sizeof *out);
      at += var->size;
    }
  }
  return DN_OK;
}
