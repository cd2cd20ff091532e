/* keras_legacy_write.c -- dn_keras_save to a .h5 / .hdf5 path: the Keras 2 style full-model
 * HDF5 file that Keras 3's legacy_h5_format.save_model_to_hdf5 writes (model.save("x.h5")),
 * laid out as the genuine ../shared/data/keras/mlp_legacy.h5 (tests/keras/check_legacy_h5.py
 * compares them):
 *
 *   /  attrs keras_version, backend (UTF-8 strings), model_config and, when compiled,
 *      training_config (JSON, ASCII strings)
 *   /model_weights  attrs layer_names (every layer), backend, keras_version (ASCII strings);
 *      /model_weights/<layer>  attr weight_names: "sequential/<layer>/<var>" per variable, an
 *      empty float64 array for a layer without variables; the datasets at those paths
 *      /model_weights/top_level_model_weights  attr weight_names empty (float64)
 *   /optimizer_weights  attr weight_names "<opt>/iteration", "<opt>/learning_rate" (no variable
 *      for a schedule), "<opt>/sequential_<layer>_<var>_<slot>" in Keras's order, Nadam's
 *      "<opt>/u_product" last; the datasets at those paths (when compiled)
 *
 * model_config is config.json's Sequential with the legacy serialization of the model and its
 * layers ({"class_name", "config"} only, no shared_object_id); training_config is compile_config
 * with the optimizer as "optimizer_config" {"class_name", "config"} last, serialized losses and
 * metrics likewise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "keras/keras_io.h"
#include "model/sequential.h"
#include "training/optimizer.h"
#include "training/train.h"

#define PATH_CAP 512

/* Keras's legacy serialization of an object: class_name and config, no module,
 * registered_name or build_config. */
static void legacy_object(cJSON *o) {
  if (!cJSON_IsObject(o))
    return;
  cJSON_DeleteItemFromObjectCaseSensitive(o, "module");
  cJSON_DeleteItemFromObjectCaseSensitive(o, "registered_name");
  cJSON_DeleteItemFromObjectCaseSensitive(o, "build_config");
}

/* Keras's legacy get_config has no shared objects: every "shared_object_id" goes. */
static void drop_shared_ids(cJSON *j) {
  if (cJSON_IsObject(j))
    cJSON_DeleteItemFromObjectCaseSensitive(j, "shared_object_id");
  cJSON *c;
  cJSON_ArrayForEach(c, j) drop_shared_ids(c);
}

/* config.json's object -> model_config and (when compiled) training_config, as JSON texts. */
static dn_status legacy_configs(const dn_model *model, const char *fn, dn_keras_blob *mc,
                                dn_keras_blob *tc) {
  cJSON *root = dn_keras_model_to_json(model, fn);
  if (root == NULL)
    return dn_last_status();
  cJSON *cc = cJSON_DetachItemFromObjectCaseSensitive(root, "compile_config");
  legacy_object(root);
  drop_shared_ids(root);
  cJSON *layer;
  cJSON_ArrayForEach(layer, dn_keras_json_get(dn_keras_json_get(root, "config"), "layers"))
      legacy_object(layer);
  dn_status st = DN_OK;
  if (cc != NULL) {
    cJSON *opt = cJSON_DetachItemFromObjectCaseSensitive(cc, "optimizer");
    legacy_object(opt);
    legacy_object(cJSON_GetObjectItemCaseSensitive(cc, "loss"));
    cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(cc, "metrics")) legacy_object(m);
    if (opt == NULL || !dn_keras_json_add(cc, "optimizer_config", opt))
      st = dn_fail(DN_ERR_NOMEM, "%s: out of memory writing training_config", fn);
  }
  if (st == DN_OK && dn_keras_json_failed())
    st = dn_fail(DN_ERR_NOMEM, "%s: out of memory writing model_config", fn);
  if (st == DN_OK)
    st = dn_keras_json_text(root, "model_config", fn, mc);
  if (st == DN_OK && cc != NULL)
    st = dn_keras_json_text(cc, "training_config", fn, tc);
  cJSON_Delete(root);
  cJSON_Delete(cc);
  return st;
}

/* A weight name list: n strings of at most PATH_CAP bytes in one block. */
typedef struct name_list {
  char (*text)[PATH_CAP];
  const char **ptr;
  size_t n;
} name_list;

static dn_status names_alloc(name_list *l, size_t cap) {
  l->n = 0;
  l->text = dn_calloc(cap ? cap : 1, sizeof *l->text);
  l->ptr = dn_calloc(cap ? cap : 1, sizeof *l->ptr);
  return l->text != NULL && l->ptr != NULL ? DN_OK : DN_ERR_NOMEM;
}

static void names_free(name_list *l) {
  dn_free(l->text);
  dn_free(l->ptr);
}

/* Appends the concatenation of the strings given (ending at NULL), cut to PATH_CAP - 1 bytes. */
static const char *names_add(name_list *l, ...) {
  char *s = l->text[l->n];
  size_t k = 0;
  va_list ap;
  va_start(ap, l);
  for (const char *p = va_arg(ap, const char *); p != NULL; p = va_arg(ap, const char *))
    for (; *p != '\0' && k + 1 < PATH_CAP; p++)
      s[k++] = *p;
  va_end(ap);
  s[k] = '\0';
  l->ptr[l->n++] = s;
  return s;
}

static dn_status write_group_names(hid_t file, const char *group, const name_list *l, bool list,
                                   const char *fn) {
  hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
  if (g < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot open HDF5 group '%s'", fn, group);
  dn_status st = dn_keras_h5_attr_write(g, "weight_names", l->ptr, l->n, list, false, fn, group);
  H5Gclose(g);
  return st;
}

/* /model_weights: the attributes, a group per layer and top_level_model_weights. */
static dn_status write_model_weights(const dn_model *model, hid_t file, const char *fn) {
  dn_status st = dn_keras_h5_make_group(file, "model_weights", NULL, fn);
  if (st != DN_OK)
    return st;
  name_list names;
  if ((st = names_alloc(&names, model->n_layers)) != DN_OK) {
    names_free(&names);
    return st;
  }
  for (size_t l = 0; l < model->n_layers; l++)
    names_add(&names, model->layers[l]->name, (char *)NULL);
  hid_t mw = H5Gopen2(file, "model_weights", H5P_DEFAULT);
  if (mw < 0)
    st = dn_fail(DN_ERR_IO, "%s: cannot open HDF5 group 'model_weights'", fn);
  const char *numpy = "numpy", *version = DN_KERAS_LAYOUT_VERSION;
  if (st == DN_OK)
    st = dn_keras_h5_attr_write(mw, "layer_names", names.ptr, names.n, true, false, fn,
                                "model_weights");
  if (st == DN_OK)
    st = dn_keras_h5_attr_write(mw, "backend", &numpy, 1, false, false, fn, "model_weights");
  if (st == DN_OK)
    st =
        dn_keras_h5_attr_write(mw, "keras_version", &version, 1, false, false, fn, "model_weights");
  if (mw >= 0)
    H5Gclose(mw);
  names_free(&names);
  for (size_t l = 0; l < model->n_layers && st == DN_OK; l++) {
    const dn_layer *layer = model->layers[l];
    char group[PATH_CAP];
    snprintf(group, sizeof group, "model_weights/%s", layer->name);
    if ((st = dn_keras_h5_make_group(file, group, NULL, fn)) != DN_OK ||
        (st = names_alloc(&names, layer->n_vars)) != DN_OK) {
      names_free(&names);
      break;
    }
    for (size_t v = 0; v < layer->n_vars && st == DN_OK; v++) {
      const dn_var *var = &layer->vars[v];
      const char *name =
          names_add(&names, "sequential/", layer->name, "/", var->name, (char *)NULL);
      char path[2 * PATH_CAP];
      snprintf(path, sizeof path, "%s/%s", group, name);
      size_t dims[2];
      size_t rank = dn_keras_var_dims(var, dims);
      st = dn_keras_h5_write(file, path, rank, dims, layer->params + var->offset, rank == 0, fn);
    }
    if (st == DN_OK)
      st = write_group_names(file, group, &names, true, fn);
    names_free(&names);
  }
  if (st == DN_OK)
    st = dn_keras_h5_make_group(file, "model_weights/top_level_model_weights", NULL, fn);
  if (st == DN_OK) {
    name_list none = {0};
    st = write_group_names(file, "model_weights/top_level_model_weights", &none, true, fn);
  }
  return st;
}

/* The layer holding model variable `var` (by its offset into the model's block). */
static const dn_layer *layer_of(const dn_model *model, const dn_var *var) {
  for (size_t l = 0; l < model->n_layers; l++) {
    const dn_layer *layer = model->layers[l];
    size_t base = (size_t)(layer->params - model->params);
    if (var->offset >= base && var->offset < base + layer->n_params)
      return layer;
  }
  return model->layers[0];
}

/* /optimizer_weights of a compiled model, in the order of Keras's optimizer.variables. */
static dn_status write_optimizer_weights(const dn_model *model, hid_t file, const char *fn) {
  const dn_optimizer *opt = model->train->optimizer;
  dn_keras_opt_layout layout;
  dn_status st = dn_keras_opt_export_layout(opt, &layout, fn);
  if (st != DN_OK)
    return st;
  size_t nt = 0;
  for (size_t v = 0; v < model->n_vars; v++)
    nt += model->vars[v].trainable ? 1 : 0;
  const dn_var **trainable = dn_calloc(nt ? nt : 1, sizeof *trainable);
  if (trainable == NULL)
    return DN_ERR_NOMEM;
  for (size_t v = 0, t = 0; v < model->n_vars; v++)
    if (model->vars[v].trainable)
      trainable[t++] = &model->vars[v];
  bool built = opt->slots != NULL && opt->n_params == model->n_params;
  size_t cap = 3 + (built ? layout.n_slots * nt : 0);
  name_list names;
  st = names_alloc(&names, cap);
  char path[2 * PATH_CAP];
  if (st == DN_OK) {
    const char *name = names_add(&names, opt->name, "/iteration", (char *)NULL);
    snprintf(path, sizeof path, "optimizer_weights/%s", name);
    st = dn_keras_h5_write_scalar_int(file, path, (long long)opt->iterations, fn);
  }
  if (st == DN_OK && opt->options.schedule.kind == DN_SCHEDULE_CONSTANT) {
    float lr = (float)dn_optimizer_current_lr(opt);
    const char *name = names_add(&names, opt->name, "/learning_rate", (char *)NULL);
    snprintf(path, sizeof path, "optimizer_weights/%s", name);
    st = dn_keras_h5_write(file, path, 0, NULL, &lr, false, fn);
  }
  for (size_t j = 0; built && j < layout.n_slots * nt && st == DN_OK; j++) {
    size_t k, t;
    dn_keras_opt_position(&layout, nt, j, &k, &t);
    const dn_var *var = trainable[t];
    const char *name = names_add(&names, opt->name, "/sequential_", layer_of(model, var)->name, "_",
                                 var->name, "_", layout.names[k], (char *)NULL);
    snprintf(path, sizeof path, "optimizer_weights/%s", name);
    size_t dims[2];
    size_t rank = dn_keras_var_dims(var, dims);
    st = dn_keras_h5_write(file, path, rank, dims, opt->slots + k * model->n_params + var->offset,
                           false, fn);
  }
  if (st == DN_OK && built && layout.u_product) {
    float u = (float)opt->nadam_u_product;
    const char *name = names_add(&names, opt->name, "/u_product", (char *)NULL);
    snprintf(path, sizeof path, "optimizer_weights/%s", name);
    st = dn_keras_h5_write(file, path, 0, NULL, &u, false, fn);
  }
  if (st == DN_OK)
    st = write_group_names(file, "optimizer_weights", &names, true, fn);
  names_free(&names);
  dn_free(trainable);
  return st;
}

static dn_status write_root(const dn_model *model, hid_t file, const char *fn) {
  dn_keras_blob mc = {0}, tc = {0};
  dn_status st = legacy_configs(model, fn, &mc, &tc);
  hid_t root = st == DN_OK ? H5Gopen2(file, "/", H5P_DEFAULT) : -1;
  if (st == DN_OK && root < 0)
    st = dn_fail(DN_ERR_IO, "%s: cannot open the HDF5 root group", fn);
  const char *numpy = "numpy", *version = DN_KERAS_LAYOUT_VERSION;
  const char *mtext = (const char *)mc.data, *ttext = (const char *)tc.data;
  if (st == DN_OK)
    st = dn_keras_h5_attr_write(root, "backend", &numpy, 1, false, true, fn, "the root");
  if (st == DN_OK)
    st = dn_keras_h5_attr_write(root, "keras_version", &version, 1, false, true, fn, "the root");
  if (st == DN_OK)
    st = dn_keras_h5_attr_write(root, "model_config", &mtext, 1, false, false, fn, "the root");
  if (st == DN_OK && ttext != NULL)
    st = dn_keras_h5_attr_write(root, "training_config", &ttext, 1, false, false, fn, "the root");
  if (root >= 0)
    H5Gclose(root);
  dn_keras_blob_free(&mc);
  dn_keras_blob_free(&tc);
  return st;
}

static dn_status fill_legacy(const dn_model *model, hid_t h5, const char *fn) {
  dn_status st = write_root(model, h5, fn);
  if (st == DN_OK)
    st = write_model_weights(model, h5, fn);
  if (st == DN_OK && model->train != NULL)
    st = write_optimizer_weights(model, h5, fn);
  return st;
}

dn_status dn_keras_legacy_save(const dn_model *model, const char *path, const char *fn) {
  dn_keras_json_begin();
  return dn_keras_h5_save_file(model, path, fill_legacy, fn);
}
