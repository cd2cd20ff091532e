/* keras_config_write.c -- writing config.json: a model as the Sequential object Keras 3.16
 * serialises (module / class_name / config / registered_name, build_config, compile_config),
 * with the InputLayer first and each layer's full Keras config.
 */
#include <math.h>
#include <string.h>

#include "keras/keras_io.h"
#include "layers/initializer.h"
#include "model/sequential.h"
#include "core/status.h"

#define DN_KERAS_SHARED_ID 140000000000001.0 /* stand-in for Python's id() of the policy */

static cJSON *keras_object(const char *module, const char *cls, cJSON *config) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL || config == NULL) {
    cJSON_Delete(o);
    cJSON_Delete(config);
    return NULL;
  }
  cJSON_AddStringToObject(o, "module", module);
  cJSON_AddStringToObject(o, "class_name", cls);
  dn_keras_json_add(o, "config", config);
  cJSON_AddNullToObject(o, "registered_name");
  return o;
}

static cJSON *dtype_policy(bool shared) {
  cJSON *cfg = cJSON_CreateObject();
  if (cfg != NULL)
    cJSON_AddStringToObject(cfg, "name", "float32");
  cJSON *o = keras_object("keras", "DTypePolicy", cfg);
  if (o != NULL && shared)
    cJSON_AddNumberToObject(o, "shared_object_id", DN_KERAS_SHARED_ID);
  return o;
}

static cJSON *shape_list(bool null_batch, size_t batch, size_t dim) {
  cJSON *a = cJSON_CreateArray();
  if (a != NULL) {
    cJSON_AddItemToArray(a, null_batch ? cJSON_CreateNull() : cJSON_CreateNumber((double)batch));
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)dim));
  }
  return a;
}

static cJSON *build_config(size_t dim) {
  cJSON *o = cJSON_CreateObject();
  if (o != NULL)
    dn_keras_json_add(o, "input_shape", shape_list(true, 0, dim));
  return o;
}

static cJSON *initializer_json(const char *name, const dn_init_args *args) {
  const dn_keras_init_class *ic = dn_keras_init_by_name(name ? name : "zeros");
  if (ic == NULL)
    return NULL;
  cJSON *cfg = cJSON_CreateObject();
  if (cfg == NULL)
    return NULL;
  dn_init_args a = dn_init_keras_args(args);
  switch (ic->kind) {
  case 0:
    cJSON_AddNullToObject(cfg, "seed");
    cJSON_AddNullToObject(cfg, "input_axes");
    cJSON_AddNullToObject(cfg, "output_axes");
    break;
  case 1:
    cJSON_AddNumberToObject(cfg, "minval", a.minval);
    cJSON_AddNumberToObject(cfg, "maxval", a.maxval);
    cJSON_AddNullToObject(cfg, "seed");
    break;
  case 2:
    cJSON_AddNumberToObject(cfg, "mean", a.mean);
    cJSON_AddNumberToObject(cfg, "stddev", a.stddev);
    cJSON_AddNullToObject(cfg, "seed");
    break;
  case 4: cJSON_AddNumberToObject(cfg, "value", a.value); break;
  default: break;
  }
  return keras_object("keras.initializers", ic->keras, cfg);
}

static cJSON *regularizer_json(double l1, double l2) {
  if (l1 == 0.0 && l2 == 0.0)
    return cJSON_CreateNull();
  cJSON *cfg = cJSON_CreateObject();
  if (cfg == NULL)
    return NULL;
  if (l1 != 0.0)
    cJSON_AddNumberToObject(cfg, "l1", l1);
  if (l2 != 0.0)
    cJSON_AddNumberToObject(cfg, "l2", l2);
  return keras_object("keras.regularizers",
                      l1 != 0.0 && l2 != 0.0 ? "L1L2"
                      : l1 != 0.0            ? "L1"
                                             : "L2",
                      cfg);
}

/* One config field of c under its Keras key. */
static void add_field(cJSON *cfg, const dn_keras_field *f, const dn_layer_config *c) {
  const char *at = (const char *)c + f->offset, *at2 = (const char *)c + f->offset2;
  switch (f->type) {
  case DN_KERAS_COUNT:
    cJSON_AddNumberToObject(cfg, f->key, (double)*(const size_t *)(const void *)at);
    break;
  case DN_KERAS_ACTIVATION: {
    const char *name = *(const char *const *)(const void *)at;
    cJSON_AddStringToObject(cfg, f->key, name ? name : "linear");
    break;
  }
  case DN_KERAS_BOOL: cJSON_AddBoolToObject(cfg, f->key, *(const bool *)(const void *)at); break;
  case DN_KERAS_NUMBER:
  case DN_KERAS_FRACTION:
    cJSON_AddNumberToObject(cfg, f->key, *(const double *)(const void *)at);
    break;
  case DN_KERAS_INITIALIZER:
    dn_keras_json_add(cfg, f->key,
                      initializer_json(*(const char *const *)(const void *)at,
                                       (const dn_init_args *)(const void *)at2));
    break;
  case DN_KERAS_REGULARIZER:
    dn_keras_json_add(
        cfg, f->key,
        regularizer_json(*(const double *)(const void *)at, *(const double *)(const void *)at2));
    break;
  }
}

/* One extra key of a class (axis: only the axis; else every other). */
static void add_extras(cJSON *cfg, const dn_keras_extra *extras, bool axis) {
  static const dn_init_args none = {0};
  for (const dn_keras_extra *x = extras; x->key != NULL; x++) {
    if (axis != (x->type == DN_KERAS_EXTRA_AXIS))
      continue;
    switch (x->type) {
    case DN_KERAS_EXTRA_NULL: cJSON_AddNullToObject(cfg, x->key); break;
    case DN_KERAS_EXTRA_FALSE: cJSON_AddFalseToObject(cfg, x->key); break;
    case DN_KERAS_EXTRA_IGNORED:
      if (x->numeric)
        cJSON_AddNumberToObject(cfg, x->key, x->value);
      else if (!x->unwritten)
        cJSON_AddNullToObject(cfg, x->key);
      break;
    case DN_KERAS_EXTRA_AXIS:
      if (x->list) {
        cJSON *list = cJSON_CreateArray();
        if (list != NULL)
          cJSON_AddItemToArray(list, cJSON_CreateNumber(-1));
        dn_keras_json_add(cfg, x->key, list);
      } else {
        cJSON_AddNumberToObject(cfg, x->key, -1);
      }
      break;
    case DN_KERAS_EXTRA_INITIALIZER:
      dn_keras_json_add(cfg, x->key, initializer_json(x->init, &none));
      break;
    }
  }
}

/* A layer's Keras object: name, trainable, dtype, then its class's axis, its kind's config
 * fields and its class's other keys, as Keras orders them; a build_config for a layer with
 * variables (as Keras writes one for the layers that build weights). */
static cJSON *layer_json(const dn_layer *layer, bool shared_dtype) {
  dn_layer_config c;
  dn_layer_get_config(layer, &c);
  unsigned fields = layer->ops->config_fields;
  if ((fields & ~dn_keras_field_bits()) != 0)
    return dn_fail_null(DN_ERR_UNSUPPORTED, "layer type '%s' has no Keras config writer", c.type);
  cJSON *cfg = cJSON_CreateObject();
  if (cfg == NULL)
    return NULL;
  cJSON_AddStringToObject(cfg, "name", layer->name);
  cJSON_AddBoolToObject(cfg, "trainable", !layer->frozen);
  dn_keras_json_add(cfg, "dtype", dtype_policy(shared_dtype));
  const dn_keras_extra *extras = dn_keras_extras_of(c.type);
  add_extras(cfg, extras, true);
  for (size_t i = 0; i < dn_keras_n_fields; i++)
    if (fields & dn_keras_fields[i].bit)
      add_field(cfg, &dn_keras_fields[i], &c);
  add_extras(cfg, extras, false);
  cJSON *o = keras_object("keras.layers", c.type, cfg);
  if (o != NULL && layer->n_vars > 0)
    dn_keras_json_add(o, "build_config", build_config(layer->input_dim));
  return o;
}

cJSON *dn_keras_model_to_json(const dn_model *model, const char *fn) {
  if (dn_seq_require_built(model, fn) != DN_OK)
    return NULL;
  size_t D = model->input_dim;
  cJSON *layers = cJSON_CreateArray();
  cJSON *in_cfg = cJSON_CreateObject();
  if (layers == NULL || in_cfg == NULL) {
    cJSON_Delete(layers);
    cJSON_Delete(in_cfg);
    return dn_fail_null(DN_ERR_NOMEM, "%s: out of memory writing config.json", fn);
  }
  dn_keras_json_add(in_cfg, "batch_shape", shape_list(true, 0, D));
  cJSON_AddStringToObject(in_cfg, "dtype", "float32");
  cJSON_AddFalseToObject(in_cfg, "sparse");
  cJSON_AddFalseToObject(in_cfg, "ragged");
  cJSON_AddStringToObject(in_cfg, "name", "input_layer");
  cJSON_AddFalseToObject(in_cfg, "optional");
  cJSON_AddItemToArray(layers, keras_object("keras.layers", "InputLayer", in_cfg));
  for (size_t i = 0; i < model->n_layers; i++) {
    cJSON *l = layer_json(model->layers[i], i > 0);
    if (l == NULL) {
      cJSON_Delete(layers);
      if (dn_last_status() == DN_ERR_UNSUPPORTED) {
        dn_error_context(fn);
        return NULL;
      }
      return dn_fail_null(DN_ERR_NOMEM, "%s: out of memory writing config.json", fn);
    }
    cJSON_AddItemToArray(layers, l);
  }
  cJSON *cfg = cJSON_CreateObject();
  if (cfg == NULL) {
    cJSON_Delete(layers);
    return dn_fail_null(DN_ERR_NOMEM, "%s: out of memory writing config.json", fn);
  }
  cJSON_AddStringToObject(cfg, "name", "sequential");
  cJSON_AddBoolToObject(cfg, "trainable", !model->frozen);
  dn_keras_json_add(cfg, "dtype", dtype_policy(model->n_layers > 1));
  dn_keras_json_add(cfg, "layers", layers);
  dn_keras_json_add(cfg, "build_input_shape", shape_list(true, 0, D));
  cJSON *root = keras_object("keras", "Sequential", cfg);
  if (root == NULL)
    return dn_fail_null(DN_ERR_NOMEM, "%s: out of memory writing config.json", fn);
  dn_keras_json_add(root, "build_config", build_config(D));
  if (model->train != NULL) {
    cJSON *cc = dn_keras_compile_to_json(model, fn);
    if (cc == NULL) {
      cJSON_Delete(root);
      return NULL;
    }
    dn_keras_json_add(root, "compile_config", cc);
  }
  return root;
}
