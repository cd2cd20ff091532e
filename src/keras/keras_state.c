/* keras_state.c -- the Keras 3 weights layout (model.weights.h5 / .weights.h5) for a model:
 *
 *   vars/                        the Sequential's own (empty) group, attr name = "sequential"
 *   layers/<path>/vars/<i>       layer variables in the layer's order; <path> is the snake-case
 *                                class name with a per-class counter (dense, dense_1, ...),
 *                                group attr name = the layer's name
 *   optimizer/vars/<i>           0 iteration (int), 1 learning_rate (float32 scalar), then the
 *                                slot variables as dn_keras_opt_state_layout orders them
 *
 * Shapes: a Dense kernel is (in, out), other vectors (n,), Normalization's count a scalar.
 * Reading checks every dataset against the model before anything is changed.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "keras/keras_io.h"
#include "training/optimizer.h"
#include "model/sequential.h"
#include "core/status.h"
#include "training/train.h"

#define PATH_CAP 256

void dn_keras_layer_path(const dn_model *model, size_t layer, char *path, size_t cap) {
  const char *base = model->layers[layer]->ops->base_name;
  size_t seen = 0;
  for (size_t i = 0; i < layer; i++)
    if (strcmp(model->layers[i]->ops->base_name, base) == 0)
      seen++;
  if (seen == 0)
    snprintf(path, cap, "layers/%s", base);
  else
    snprintf(path, cap, "layers/%s_%zu", base, seen);
}

size_t dn_keras_var_dims(const dn_var *var, size_t dims[2]) {
  if (strcmp(var->name, "kernel") == 0) {
    dims[0] = var->rows;
    dims[1] = var->cols;
    return 2;
  }
  if (strcmp(var->name, "count") == 0)
    return 0;
  dims[0] = var->size;
  return 1;
}

dn_status dn_keras_alloc_slots(const dn_model *model, size_t per_var, const char *fn, float **out) {
  size_t total;
  if (!dn_mul_size(per_var, model->n_params, &total, fn))
    return DN_ERR_SHAPE;
  *out = dn_calloc(total ? total : 1, sizeof **out);
  return *out != NULL ? DN_OK : DN_ERR_NOMEM;
}

static size_t n_trainable_vars(const dn_model *model) {
  size_t n = 0;
  for (size_t v = 0; v < model->n_vars; v++)
    n += model->vars[v].trainable ? 1 : 0;
  return n;
}

/* The t-th trainable variable of the model (t < n_trainable_vars). */
static const dn_var *trainable_var(const dn_model *model, size_t t) {
  for (size_t v = 0, i = 0; v < model->n_vars; v++)
    if (model->vars[v].trainable && i++ == t)
      return &model->vars[v];
  return NULL;
}

#define DN_KERAS_NADAM_REPLAY_MAX ((uint64_t)1 << 24)
double dn_keras_nadam_u_product(const dn_optimizer *opt, uint64_t iterations, float stored) {
  double product = 1.0;
  if (iterations > DN_KERAS_NADAM_REPLAY_MAX)
    return (double)stored;
  /* optimizer.c's step: product *= u_t, t = 1, 2, ... */
  for (uint64_t t = 1; t <= iterations && product != 0.0; t++)
    product *= dn_optimizer_nadam_u(&opt->options, (double)t);
  return (float)product == stored ? product : (double)stored;
}

dn_status dn_keras_opt_commit(dn_model *model, uint64_t iterations, bool has_lr, double lr,
                              const float *slots, const double *u_product, const char *fn) {
  dn_optimizer *opt = model->train->optimizer;
  dn_status st = dn_optimizer_prepare(opt, model->n_params);
  if (st != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  if (has_lr && opt->options.schedule.kind == DN_SCHEDULE_CONSTANT)
    opt->learning_rate = lr;
  if (slots != NULL && opt->n_slots > 0)
    memcpy(opt->slots, slots, opt->n_slots * model->n_params * sizeof(float));
  dn_optimizer_forget_bounds(opt);
  opt->iterations = iterations;
  if (opt->kind == DN_OPT_NADAM) /* no u_product in the file: Keras's initial 1 */
    opt->nadam_u_product = u_product != NULL ? *u_product : 1.0;
  return DN_OK;
}

/* Reads optimizer/vars into a fresh slot block (ours) and commits it: 0 iteration, 1
 * learning_rate unless a schedule drives the rate, the slots, Nadam's u_product last. */
static dn_status read_optimizer(dn_model *model, hid_t file, const char *fn) {
  const char *where = "optimizer";
  dn_optimizer *opt = model->train->optimizer;
  size_t count = 0;
  dn_status st = dn_keras_h5_child_count(file, "optimizer/vars", fn, &count);
  if (st != DN_OK)
    return st;
  dn_keras_opt_layout layout;
  bool exchangeable = dn_keras_opt_state_layout(opt, &layout);
  size_t per_var = layout.n_slots;
  size_t nt = n_trainable_vars(model);
  bool has_lr = opt->options.schedule.kind == DN_SCHEDULE_CONSTANT;
  size_t head = 1 + (has_lr ? 1 : 0), tail = layout.u_product ? 1 : 0;
  /* An optimizer Keras never built holds only iteration (and learning_rate). */
  bool built = count > head;
  if (count < head || (built && (!exchangeable || count != head + per_var * nt + tail))) {
    if (!exchangeable && built)
      return dn_fail(DN_ERR_UNSUPPORTED,
                     "%s: optimizer '%s': importing its Keras state is not supported", fn,
                     opt->name);
    return dn_fail(DN_ERR_FORMAT,
                   "%s: optimizer/vars holds %zu variables; the compiled optimizer '%s' needs "
                   "%zu + %zu x %zu trainable variables%s",
                   fn, count, opt->name, head, per_var, nt, tail ? " + 1 (u_product)" : "");
  }
  long long it = 0;
  float lr = 0.0f, u_product = 1.0f;
  double product = 1.0;
  size_t none[1] = {0};
  if ((st = dn_keras_h5_read_scalar_int(file, "optimizer/vars/0", fn, where, &it)) != DN_OK ||
      (has_lr &&
       (st = dn_keras_h5_read(file, "optimizer/vars/1", 0, none, false, &lr, fn, where)) != DN_OK))
    return st;
  if (it < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: optimizer/vars/0: negative iteration count %lld", fn, it);
  if (has_lr && (!(lr >= 0.0f) || lr > 1e6f))
    return dn_fail(DN_ERR_FORMAT, "%s: optimizer/vars/1: learning rate %g is not usable", fn,
                   (double)lr);
  char path[PATH_CAP];
  if (built && tail) {
    snprintf(path, sizeof path, "optimizer/vars/%zu", count - 1);
    if ((st = dn_keras_h5_read(file, path, 0, none, false, &u_product, fn, where)) != DN_OK)
      return st;
    if (!(u_product >= 0.0f && u_product <= 1.0f))
      return dn_fail(DN_ERR_FORMAT, "%s: %s: Nadam's u_product %g is outside [0, 1]", fn, path,
                     (double)u_product);
    product = dn_keras_nadam_u_product(opt, (uint64_t)it, u_product);
  }
  float *slots = NULL;
  if (built && per_var > 0) {
    dn_status as = dn_keras_alloc_slots(model, per_var, fn, &slots);
    if (as != DN_OK)
      return as;
    for (size_t j = 0; j < per_var * nt && st == DN_OK; j++) {
      size_t k, t;
      dn_keras_opt_position(&layout, nt, j, &k, &t);
      const dn_var *var = trainable_var(model, t);
      size_t dims[2];
      size_t rank = dn_keras_var_dims(var, dims);
      snprintf(path, sizeof path, "optimizer/vars/%zu", j + head);
      st = dn_keras_h5_read(file, path, rank, dims, false,
                            slots + k * model->n_params + var->offset, fn, where);
    }
  }
  if (st == DN_OK)
    st = dn_keras_opt_commit(model, (uint64_t)it, has_lr, (double)lr, built ? slots : NULL,
                             built && tail ? &product : NULL, fn);
  dn_free(slots);
  return st;
}

dn_status dn_keras_state_read(dn_model *model, hid_t file, bool load_optimizer, const char *fn) {
  if (!dn_keras_h5_is_group(file, "layers") && model->n_params > 0)
    return dn_fail(DN_ERR_FORMAT, "%s: the weights file has no 'layers' group", fn);
  float *w = dn_alloc((model->n_params ? model->n_params : 1) * sizeof *w);
  if (w == NULL)
    return DN_ERR_NOMEM;
  dn_status st = DN_OK;
  for (size_t l = 0; l < model->n_layers && st == DN_OK; l++) {
    const dn_layer *layer = model->layers[l];
    char group[PATH_CAP], where[PATH_CAP + 80];
    dn_keras_layer_path(model, l, group, sizeof group);
    snprintf(where, sizeof where, "layer '%s' (%s)", layer->name, layer->ops->type);
    char vars[PATH_CAP + 8];
    snprintf(vars, sizeof vars, "%s/vars", group);
    size_t count = 0;
    if (!dn_keras_h5_is_group(file, vars)) {
      if (layer->n_vars > 0)
        st = dn_fail(DN_ERR_FORMAT, "%s: %s: HDF5 group '%s' is missing", fn, where, vars);
      continue;
    }
    if ((st = dn_keras_h5_child_count(file, vars, fn, &count)) != DN_OK)
      break;
    if (count != layer->n_vars) {
      st = dn_fail(DN_ERR_FORMAT, "%s: %s: '%s' holds %zu variables, the layer has %zu", fn, where,
                   vars, count, layer->n_vars);
      break;
    }
    size_t base = (size_t)(layer->params - model->params);
    for (size_t v = 0; v < layer->n_vars && st == DN_OK; v++) {
      const dn_var *var = &layer->vars[v];
      size_t dims[2];
      size_t rank = dn_keras_var_dims(var, dims);
      char path[PATH_CAP + 32];
      snprintf(path, sizeof path, "%s/%zu", vars, v);
      bool integer = rank == 0; /* Normalization's count is an integer counter in Keras */
      st = dn_keras_h5_read(file, path, rank, dims, integer, w + base + var->offset, fn, where);
    }
  }
  if (st == DN_OK && load_optimizer && model->train != NULL &&
      dn_keras_h5_is_group(file, "optimizer/vars")) {
    /* the optimizer first (it can still fail), then the weights (cannot fail any more) */
    st = read_optimizer(model, file, fn);
  }
  if (st == DN_OK)
    st = dn_model_set_weights(model, w, model->n_params);
  dn_free(w);
  return st;
}

dn_status dn_keras_opt_export_layout(const dn_optimizer *opt, dn_keras_opt_layout *layout,
                                     const char *fn) {
  if (!dn_keras_opt_state_layout(opt, layout) && opt->slots != NULL)
    return dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: optimizer '%s': exporting its state in Keras's layout is not supported", fn,
                   opt->name);
  return DN_OK;
}

dn_status dn_keras_state_write(const dn_model *model, hid_t file, const char *fn) {
  dn_status st = dn_keras_h5_make_group(file, "vars", "sequential", fn);
  for (size_t l = 0; l < model->n_layers && st == DN_OK; l++) {
    const dn_layer *layer = model->layers[l];
    char group[PATH_CAP], vars[PATH_CAP + 8];
    dn_keras_layer_path(model, l, group, sizeof group);
    snprintf(vars, sizeof vars, "%s/vars", group);
    st = dn_keras_h5_make_group(file, vars, layer->name, fn);
    for (size_t v = 0; v < layer->n_vars && st == DN_OK; v++) {
      const dn_var *var = &layer->vars[v];
      size_t dims[2];
      size_t rank = dn_keras_var_dims(var, dims);
      char path[PATH_CAP + 32];
      snprintf(path, sizeof path, "%s/%zu", vars, v);
      st = dn_keras_h5_write(file, path, rank, dims, layer->params + var->offset, rank == 0, fn);
    }
  }
  if (st != DN_OK || model->train == NULL)
    return st;
  const dn_optimizer *opt = model->train->optimizer;
  dn_keras_opt_layout layout;
  if ((st = dn_keras_opt_export_layout(opt, &layout, fn)) != DN_OK)
    return st;
  st = dn_keras_h5_make_group(file, "optimizer/vars", opt->name, fn);
  if (st == DN_OK)
    st = dn_keras_h5_write_scalar_int(file, "optimizer/vars/0", (long long)opt->iterations, fn);
  /* a schedule is no variable in Keras: then the slots follow the iteration counter */
  size_t head = 1;
  float lr = (float)dn_optimizer_current_lr(opt);
  if (st == DN_OK && opt->options.schedule.kind == DN_SCHEDULE_CONSTANT) {
    st = dn_keras_h5_write(file, "optimizer/vars/1", 0, NULL, &lr, false, fn);
    head = 2;
  }
  /* Never stepped: Keras's unbuilt optimizer also stores just these. So does a model whose
   * trainability changed since compile: its slots are for the compiled set, which the file's
   * config no longer describes (Keras would skip such optimizer variables when loading). */
  if (st != DN_OK || opt->slots == NULL || opt->n_params != model->n_params ||
      dn_seq_trainable_changed(model))
    return st;
  size_t nt = n_trainable_vars(model);
  char path[PATH_CAP];
  if (layout.u_product) {
    float u = (float)opt->nadam_u_product;
    snprintf(path, sizeof path, "optimizer/vars/%zu", head + layout.n_slots * nt);
    st = dn_keras_h5_write(file, path, 0, NULL, &u, false, fn);
  }
  for (size_t j = 0; j < layout.n_slots * nt && st == DN_OK; j++) {
    size_t k, t;
    dn_keras_opt_position(&layout, nt, j, &k, &t);
    const dn_var *var = trainable_var(model, t);
    size_t dims[2];
    size_t rank = dn_keras_var_dims(var, dims);
    snprintf(path, sizeof path, "optimizer/vars/%zu", j + head);
    st = dn_keras_h5_write(file, path, rank, dims, opt->slots + k * model->n_params + var->offset,
                           false, fn);
  }
  return st;
}
