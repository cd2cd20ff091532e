/* keras_legacy.c -- the Keras 2 style full-model HDF5 file (Keras 3's legacy_h5_format and
 * tf.keras 2):
 *
 *   /  attrs model_config (JSON), training_config (JSON, optional), keras_version, backend
 *   /model_weights  attr layer_names; /model_weights/<layer> attr weight_names (paths relative
 *                   to that group, e.g. "sequential/dense/kernel" or "dense/kernel:0")
 *   /optimizer_weights  attr weight_names, e.g. "adam/iteration", "adam/learning_rate",
 *                   "adam/sequential_dense_kernel_momentum" (Keras 3) or "Adam/iter:0",
 *                   "Adam/dense/kernel/m:0" (tf.keras 2)
 *
 * Weights are matched to our layers as Keras's legacy loader does (the layers that have weights,
 * in order) and to variables by position, with the variable name checked; optimizer slots are
 * classified by their name's last word and assigned in order to the trainable variables, so both
 * Keras 3's interleaved order and tf.keras's all-momentums-then-all-velocities order map correctly.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "keras/keras_io.h"
#include "training/optimizer.h"
#include "model/sequential.h"
#include "core/status.h"
#include "training/train.h"

#define PATH_CAP 512

/* The variable name inside a weight name: "sequential/dense/kernel" or "dense/kernel:0" ->
 * "kernel" (written into out). */
static void last_word(const char *name, char *out, size_t cap) {
  const char *slash = strrchr(name, '/');
  const char *s = slash ? slash + 1 : name;
  size_t n = strcspn(s, ":");
  if (n >= cap)
    n = cap - 1;
  memcpy(out, s, n);
  out[n] = '\0';
}

/* Reads one file layer's weights (group `group`, its weight_names) into our layer's slice of w. */
static dn_status read_one_layer(const dn_model *model, const dn_layer *layer, hid_t file,
                                const char *group, char **names, size_t count, float *w,
                                const char *fn) {
  char where[PATH_CAP];
  snprintf(where, sizeof where, "layer '%s' (%s)", layer->name, layer->ops->type);
  if (count != layer->n_vars)
    return dn_fail(DN_ERR_FORMAT, "%s: %s: '%s' lists %zu weights, the layer has %zu", fn, where,
                   group, count, layer->n_vars);
  size_t base = (size_t)(layer->params - model->params);
  for (size_t v = 0; v < count; v++) {
    const dn_var *var = &layer->vars[v];
    char word[64], path[PATH_CAP];
    last_word(names[v], word, sizeof word);
    if (strcmp(word, var->name) != 0)
      return dn_fail(DN_ERR_FORMAT, "%s: %s: weight %zu is '%s', expected '%s'", fn, where, v,
                     names[v], var->name);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", group, names[v]) >= sizeof path)
      return dn_fail(DN_ERR_FORMAT, "%s: %s: weight name '%.40s...' is too long", fn, where,
                     names[v]);
    size_t dims[2];
    size_t rank = dn_keras_var_dims(var, dims);
    dn_status st =
        dn_keras_h5_read(file, path, rank, dims, rank == 0, w + base + var->offset, fn, where);
    if (st != DN_OK)
      return st;
  }
  return DN_OK;
}

/* Keras's legacy load_weights: the file's layers that have weights (model_weights attr
 * layer_names, in order) are paired in order with the model's layers that have weights. */
static dn_status read_layer_weights(const dn_model *model, hid_t file, float *w, const char *fn) {
  if (!dn_keras_h5_is_group(file, "model_weights"))
    return dn_fail(DN_ERR_FORMAT, "%s: the file has no 'model_weights' group", fn);
  hid_t mw = H5Gopen2(file, "model_weights", H5P_DEFAULT);
  if (mw < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: HDF5 group 'model_weights' cannot be opened", fn);
  char **layer_names = NULL;
  size_t n_file = 0;
  dn_status st =
      dn_keras_h5_attr_strings(mw, "layer_names", fn, "model_weights", &layer_names, &n_file);
  H5Gclose(mw);
  if (st != DN_OK)
    return st;
  size_t next = 0; /* our next layer to fill */
  for (size_t i = 0; i < n_file && st == DN_OK; i++) {
    char group[PATH_CAP];
    if ((size_t)snprintf(group, sizeof group, "model_weights/%s", layer_names[i]) >= sizeof group ||
        !dn_keras_h5_is_group(file, group)) {
      st = dn_fail(DN_ERR_FORMAT, "%s: model_weights: layer '%.60s' has no group", fn,
                   layer_names[i]);
      break;
    }
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    char **names = NULL;
    size_t count = 0;
    if (g < 0)
      st = dn_fail(DN_ERR_FORMAT, "%s: HDF5 group '%s' cannot be opened", fn, group);
    else
      st = dn_keras_h5_attr_strings(g, "weight_names", fn, group, &names, &count);
    if (g >= 0)
      H5Gclose(g);
    if (st == DN_OK && count > 0) {
      while (next < model->n_layers && model->layers[next]->n_vars == 0)
        next++;
      if (next == model->n_layers)
        st = dn_fail(DN_ERR_FORMAT,
                     "%s: the file has more layers with weights than the model (at '%s')", fn,
                     layer_names[i]);
      else
        st = read_one_layer(model, model->layers[next++], file, group, names, count, w, fn);
    }
    dn_free(names);
  }
  while (st == DN_OK && next < model->n_layers && model->layers[next]->n_vars == 0)
    next++;
  if (st == DN_OK && next < model->n_layers)
    st = dn_fail(DN_ERR_FORMAT, "%s: the file has no weights for layer '%s' (%s)", fn,
                 model->layers[next]->name, model->layers[next]->ops->type);
  dn_free(layer_names);
  return st;
}

dn_status dn_keras_legacy_read_weights(dn_model *model, hid_t file, const char *fn) {
  float *w = dn_alloc((model->n_params ? model->n_params : 1) * sizeof *w);
  if (w == NULL)
    return DN_ERR_NOMEM;
  if (model->n_params > 0)
    memcpy(w, model->params, model->n_params * sizeof *w);
  dn_status st = read_layer_weights(model, file, w, fn);
  if (st == DN_OK)
    st = dn_model_set_weights(model, w, model->n_params);
  dn_free(w);
  return st;
}

/* Which of our slots a legacy optimizer weight is, from its last word: Keras 3 names end in
 * "_<slot name>" ("sequential_dense_kernel_momentum"), tf.keras 2 names are the alias
 * ("m", "v", ...). -1 if it is none of this optimizer's slots. */
static int slot_of(const dn_keras_opt_layout *l, const char *word) {
  size_t wl = strlen(word);
  for (size_t k = 0; k < l->n_slots; k++) {
    if (strcmp(word, l->aliases[k]) == 0 || strcmp(word, l->names[k]) == 0)
      return (int)k;
  }
  /* the longest matching "_<name>" suffix (velocity_hat before velocity) */
  int best = -1;
  size_t best_len = 0;
  for (size_t k = 0; k < l->n_slots; k++) {
    size_t n = strlen(l->names[k]);
    if (wl > n && word[wl - n - 1] == '_' && strcmp(word + wl - n, l->names[k]) == 0 &&
        n > best_len) {
      best = (int)k;
      best_len = n;
    }
  }
  return best;
}

static dn_status read_optimizer_weights(dn_model *model, hid_t file, const char *fn) {
  const char *where = "optimizer_weights";
  dn_optimizer *opt = model->train->optimizer;
  hid_t g = H5Gopen2(file, "optimizer_weights", H5P_DEFAULT);
  if (g < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: HDF5 group 'optimizer_weights' cannot be opened", fn);
  char **names = NULL;
  size_t count = 0;
  dn_status st = dn_keras_h5_attr_strings(g, "weight_names", fn, where, &names, &count);
  H5Gclose(g);
  if (st != DN_OK)
    return st;
  size_t nt = 0;
  dn_keras_opt_layout layout;
  bool exchangeable = dn_keras_opt_state_layout(opt, &layout);
  size_t per_var = layout.n_slots;
  for (size_t v = 0; v < model->n_vars; v++)
    nt += model->vars[v].trainable ? 1 : 0;
  bool has_slots = false;
  long long it = 0;
  float lr = 0.0f;
  bool has_lr = false, has_u_product = false;
  float u_product = 1.0f;
  float *slots = NULL;
  size_t seen[4] = {0};
  for (size_t i = 0; i < count && st == DN_OK; i++) {
    char word[128], path[PATH_CAP];
    last_word(names[i], word, sizeof word);
    if ((size_t)snprintf(path, sizeof path, "optimizer_weights/%s", names[i]) >= sizeof path) {
      st = dn_fail(DN_ERR_FORMAT, "%s: optimizer weight name '%.40s...' is too long", fn, names[i]);
      break;
    }
    size_t none[1] = {0};
    if (strcmp(word, "iteration") == 0 || strcmp(word, "iter") == 0 ||
        strcmp(word, "iterations") == 0) {
      st = dn_keras_h5_read_scalar_int(file, path, fn, where, &it);
      if (st == DN_OK && it < 0)
        st = dn_fail(DN_ERR_FORMAT, "%s: '%s': negative iteration count", fn, path);
      continue;
    }
    if (strcmp(word, "learning_rate") == 0 || strcmp(word, "lr") == 0) {
      st = dn_keras_h5_read(file, path, 0, none, false, &lr, fn, where);
      if (st == DN_OK && (!(lr >= 0.0f) || lr > 1e6f))
        st = dn_fail(DN_ERR_FORMAT, "%s: '%s': learning rate %g is not usable", fn, path,
                     (double)lr);
      has_lr = true;
      continue;
    }
    /* Nadam's momentum product: Keras 3 names it after its unnamed variable ("variable",
     * "variable_3"), tf.keras 2 "momentum_cache", this library "u_product" */
    if (layout.u_product &&
        (strcmp(word, "u_product") == 0 || strcmp(word, "momentum_cache") == 0 ||
         strncmp(word, "variable", 8) == 0)) {
      st = dn_keras_h5_read(file, path, 0, none, false, &u_product, fn, where);
      if (st == DN_OK && !(u_product >= 0.0f && u_product <= 1.0f))
        st = dn_fail(DN_ERR_FORMAT, "%s: '%s': Nadam's u_product %g is outside [0, 1]", fn, path,
                     (double)u_product);
      has_u_product = true;
      continue;
    }
    if (!exchangeable) {
      st = dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: optimizer '%s': importing its Keras state is not "
                   "supported",
                   fn, opt->name);
      break;
    }
    int k = slot_of(&layout, word);
    if (k < 0 || (size_t)k >= per_var) {
      st = dn_fail(DN_ERR_FORMAT, "%s: optimizer weight '%s' does not fit optimizer '%s'", fn,
                   names[i], opt->name);
      break;
    }
    if (seen[k] >= nt) {
      st = dn_fail(DN_ERR_FORMAT, "%s: more '%s' optimizer weights than trainable variables (%zu)",
                   fn, word, nt);
      break;
    }
    if (slots == NULL && (st = dn_keras_alloc_slots(model, per_var, fn, &slots)) != DN_OK)
      break;
    /* the seen[k]-th trainable variable */
    const dn_var *var = NULL;
    for (size_t v = 0, t = 0; v < model->n_vars && var == NULL; v++)
      if (model->vars[v].trainable && t++ == seen[k])
        var = &model->vars[v];
    size_t dims[2];
    size_t rank = dn_keras_var_dims(var, dims);
    st = dn_keras_h5_read(file, path, rank, dims, false,
                          slots + (size_t)k * model->n_params + var->offset, fn, where);
    seen[k]++;
    has_slots = true;
  }
  for (size_t k = 0; st == DN_OK && has_slots && k < per_var; k++)
    if (seen[k] != nt)
      st = dn_fail(DN_ERR_FORMAT,
                   "%s: optimizer_weights holds %zu of slot %zu for %zu trainable variables", fn,
                   seen[k], k, nt);
  double product = 1.0;
  if (st == DN_OK && has_u_product && has_slots)
    product = dn_keras_nadam_u_product(opt, (uint64_t)it, u_product);
  if (st == DN_OK)
    st = dn_keras_opt_commit(model, (uint64_t)it, has_lr, (double)lr, has_slots ? slots : NULL,
                             has_u_product && has_slots ? &product : NULL, fn);
  dn_free(slots);
  dn_free(names);
  return st;
}

dn_model *dn_keras_legacy_load(hid_t file, const char *fn, size_t max_params) {
  char *config = NULL, *training = NULL;
  hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
  if (root < 0)
    return dn_fail_null(DN_ERR_FORMAT, "%s: the HDF5 root group cannot be opened", fn);
  dn_status st = dn_keras_h5_attr_string(root, "model_config", fn, "legacy model file", &config);
  if (st == DN_OK && H5Aexists(root, "training_config") > 0)
    st = dn_keras_h5_attr_string(root, "training_config", fn, "legacy model file", &training);
  H5Gclose(root);
  if (st != DN_OK) {
    dn_free(config);
    return NULL;
  }
  dn_keras_json_begin();
  cJSON *mc = cJSON_Parse(config);
  cJSON *tc = training ? cJSON_Parse(training) : NULL;
  dn_model *model = NULL;
  if ((mc == NULL || (training != NULL && tc == NULL)) && dn_keras_json_failed())
    st = dn_fail(DN_ERR_NOMEM, "%s: out of memory parsing the model's JSON attributes", fn);
  else if (mc == NULL)
    st = dn_fail(DN_ERR_FORMAT, "%s: attribute 'model_config' is not valid JSON", fn);
  else if (training != NULL && tc == NULL)
    st = dn_fail(DN_ERR_FORMAT, "%s: attribute 'training_config' is not valid JSON", fn);
  if (st == DN_OK) {
    model = dn_keras_model_from_json(mc, fn, max_params);
    if (model == NULL)
      st = dn_last_status();
  }
  if (st == DN_OK && tc != NULL)
    st = dn_keras_compile_from_json(model, dn_keras_json_get(tc, "optimizer_config"),
                                    dn_keras_json_get(tc, "loss"), dn_keras_json_get(tc, "metrics"),
                                    fn, "training_config");
  float *w = NULL;
  if (st == DN_OK) {
    w = dn_alloc((model->n_params ? model->n_params : 1) * sizeof *w);
    if (w == NULL)
      st = DN_ERR_NOMEM;
  }
  if (st == DN_OK)
    st = read_layer_weights(model, file, w, fn);
  if (st == DN_OK && model->train != NULL && dn_keras_h5_is_group(file, "optimizer_weights"))
    st = read_optimizer_weights(model, file, fn);
  if (st == DN_OK)
    st = dn_model_set_weights(model, w, model->n_params);
  dn_free(w);
  cJSON_Delete(mc);
  cJSON_Delete(tc);
  dn_free(config);
  dn_free(training);
  if (st != DN_OK) {
    dn_model_free(model);
    return NULL;
  }
  return model;
}
