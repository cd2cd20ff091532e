/* keras_config.c -- reading config.json: a Keras Sequential object (Keras 3's config.json or a
 * legacy model_config) into a model's layers. (Writing: keras_config_write.c.)
 *
 * Reading is strict where it matters: every key of a layer's config is either understood,
 * harmless (listed per layer kind), or null/false; anything else is DN_ERR_UNSUPPORTED naming the
 * layer and the key, so a model is never silently loaded as something else.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "layers/initializer.h"
#include "keras/keras_io.h"
#include "model/sequential.h"
#include "core/status.h"

/* ---- JSON helpers ------------------------------------------------------------ */

const cJSON *dn_keras_json_get(const cJSON *obj, const char *key) {
  return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

bool dn_keras_json_is_null(const cJSON *v) {
  return v == NULL || cJSON_IsNull(v);
}

/* Context of the layer being read, for messages. */
typedef struct ctx {
  const char *fn;
  size_t index;
  const char *cls;
  const char *name;
} ctx;

#define LAYER_FMT "%s: config.json layer %zu (%s '%s')"
#define LAYER_ARGS(c) (c)->fn, (c)->index, (c)->cls, (c)->name ? (c)->name : ""

static dn_status bad(const ctx *c, const char *key, const char *what) {
  return dn_fail(DN_ERR_FORMAT, LAYER_FMT ": '%s' %s", LAYER_ARGS(c), key, what);
}

static dn_status unsupported(const ctx *c, const char *key, const char *what) {
  return dn_fail(DN_ERR_UNSUPPORTED, LAYER_FMT ": %s '%s' is not supported%s%s", LAYER_ARGS(c),
                 c->cls, key, what[0] ? ": " : "", what);
}

static dn_status get_number(const ctx *c, const cJSON *cfg, const char *key, double *out) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  if (v == NULL)
    return DN_OK; /* keep the default */
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return bad(c, key, "is not a number");
  *out = v->valuedouble;
  return DN_OK;
}

static dn_status get_bool(const ctx *c, const cJSON *cfg, const char *key, bool *out) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  if (v == NULL)
    return DN_OK;
  if (!cJSON_IsBool(v))
    return bad(c, key, "is not true/false");
  *out = cJSON_IsTrue(v);
  return DN_OK;
}

/* A positive integer no larger than cap. */
static dn_status get_count(const ctx *c, const cJSON *v, const char *key, size_t cap, size_t *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1.0) || v->valuedouble > (double)cap ||
      floor(v->valuedouble) != v->valuedouble)
    return bad(c, key, "is not a positive integer in range");
  *out = (size_t)v->valuedouble;
  return DN_OK;
}

/* dtype: absent, "float32", or a DTypePolicy / Policy object named float32. */
static dn_status check_dtype(const ctx *c, const cJSON *v) {
  if (dn_keras_json_is_null(v))
    return DN_OK;
  const char *name = NULL;
  if (cJSON_IsString(v)) {
    name = v->valuestring;
  } else if (cJSON_IsObject(v)) {
    const cJSON *cls = dn_keras_json_get(v, "class_name");
    const cJSON *n = dn_keras_json_get(dn_keras_json_get(v, "config"), "name");
    if (!cJSON_IsString(cls) || !cJSON_IsString(n))
      return bad(c, "dtype", "is not a dtype policy");
    if (strcmp(cls->valuestring, "DTypePolicy") != 0 && strcmp(cls->valuestring, "Policy") != 0)
      return unsupported(c, "dtype", cls->valuestring);
    name = n->valuestring;
  } else {
    return bad(c, "dtype", "is not a dtype");
  }
  if (strcmp(name, "float32") != 0)
    return unsupported(c, "dtype", name);
  return DN_OK;
}

/* An input shape [null, n] (the batch dimension may be a number, as after adapt()). */
static dn_status get_shape(const ctx *c, const cJSON *v, const char *key, size_t *dim) {
  if (!cJSON_IsArray(v))
    return bad(c, key, "is not a shape list");
  int n = cJSON_GetArraySize(v);
  if (n != 2)
    return unsupported(c, key, "only inputs of shape (batch, features) are supported");
  const cJSON *b = cJSON_GetArrayItem(v, 0);
  if (!cJSON_IsNull(b) && !cJSON_IsNumber(b))
    return bad(c, key, "has a bad batch dimension");
  return get_count(c, cJSON_GetArrayItem(v, 1), key, (size_t)1 << 24, dim);
}

/* ---- initializers and regularizers by Keras name ------------------------------- */

static const dn_keras_init_class init_classes[] = {
    {"GlorotUniform", "glorot_uniform", 0},
    {"GlorotNormal", "glorot_normal", 0},
    {"HeUniform", "he_uniform", 0},
    {"HeNormal", "he_normal", 0},
    {"LecunUniform", "lecun_uniform", 0},
    {"LecunNormal", "lecun_normal", 0},
    {"RandomUniform", "random_uniform", 1},
    {"RandomNormal", "random_normal", 2},
    {"TruncatedNormal", "truncated_normal", 2},
    {"Zeros", "zeros", 3},
    {"Ones", "ones", 3},
    {"Constant", "constant", 4},
};
#define N_INIT_CLASSES (sizeof init_classes / sizeof init_classes[0])

static const dn_keras_init_class *init_by_keras(const char *keras) {
  for (size_t i = 0; i < N_INIT_CLASSES; i++)
    if (strcmp(init_classes[i].keras, keras) == 0)
      return &init_classes[i];
  return NULL;
}

const dn_keras_init_class *dn_keras_init_by_name(const char *name) {
  for (size_t i = 0; i < N_INIT_CLASSES; i++)
    if (strcmp(init_classes[i].name, name) == 0)
      return &init_classes[i];
  return NULL;
}

static dn_status read_initializer(const ctx *c, const cJSON *cfg, const char *key,
                                  const char **name, dn_init_args *args) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  if (v == NULL)
    return DN_OK;
  if (cJSON_IsString(v)) {
    const char *canon = dn_init_resolve(v->valuestring, NULL);
    if (canon == NULL)
      return unsupported(c, key, v->valuestring);
    *name = canon;
    return DN_OK;
  }
  const cJSON *cls = dn_keras_json_get(v, "class_name");
  if (!cJSON_IsString(cls))
    return bad(c, key, "is not an initializer");
  const dn_keras_init_class *ic = init_by_keras(cls->valuestring);
  if (ic == NULL)
    return unsupported(c, key, cls->valuestring);
  const cJSON *icfg = dn_keras_json_get(v, "config");
  const cJSON *item;
  cJSON_ArrayForEach(item, icfg) {
    const char *k = item->string;
    bool ok = strcmp(k, "seed") == 0 || /* random streams come from the model's seed */
              (ic->kind == 1 && (strcmp(k, "minval") == 0 || strcmp(k, "maxval") == 0)) ||
              (ic->kind == 2 && (strcmp(k, "mean") == 0 || strcmp(k, "stddev") == 0)) ||
              (ic->kind == 4 && strcmp(k, "value") == 0) ||
              (ic->kind == 0 && dn_keras_json_is_null(item) &&
               (strcmp(k, "input_axes") == 0 || strcmp(k, "output_axes") == 0));
    if (!ok)
      return unsupported(c, key, k);
  }
  dn_init_args a = {0};
  double minval = -0.05, maxval = 0.05, mean = 0.0, stddev = 0.05, value = 0.0;
  if (get_number(c, icfg, "minval", &minval) != DN_OK ||
      get_number(c, icfg, "maxval", &maxval) != DN_OK ||
      get_number(c, icfg, "mean", &mean) != DN_OK ||
      get_number(c, icfg, "stddev", &stddev) != DN_OK ||
      get_number(c, icfg, "value", &value) != DN_OK)
    return dn_last_status();
  if (ic->kind == 1) {
    bool zeros = minval == 0.0 && maxval == 0.0; /* plain zeros would mean the defaults */
    a.minval = zeros ? DN_ZERO : minval;
    a.maxval = zeros ? DN_ZERO : maxval;
  } else if (ic->kind == 2) {
    a.mean = mean;
    a.stddev = dn_option_exact(stddev);
  } else if (ic->kind == 4) {
    a.value = value;
  }
  *name = ic->name;
  *args = a;
  return DN_OK;
}

static dn_status read_regularizer(const ctx *c, const cJSON *cfg, const char *key, double *l1,
                                  double *l2) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  *l1 = *l2 = 0.0;
  if (dn_keras_json_is_null(v))
    return DN_OK;
  if (cJSON_IsString(v)) {
    if (strcmp(v->valuestring, "l1") == 0)
      *l1 = 0.01;
    else if (strcmp(v->valuestring, "l2") == 0)
      *l2 = 0.01;
    else if (strcmp(v->valuestring, "l1_l2") != 0)
      return unsupported(c, key, v->valuestring);
    return DN_OK;
  }
  const cJSON *cls = dn_keras_json_get(v, "class_name");
  const cJSON *rcfg = dn_keras_json_get(v, "config");
  if (!cJSON_IsString(cls))
    return bad(c, key, "is not a regularizer");
  const char *k = cls->valuestring;
  bool has1 = strcmp(k, "L1") == 0 || strcmp(k, "L1L2") == 0;
  bool has2 = strcmp(k, "L2") == 0 || strcmp(k, "L1L2") == 0;
  if (!has1 && !has2)
    return unsupported(c, key, k);
  const cJSON *item;
  cJSON_ArrayForEach(item, rcfg) {
    if (!(has1 && strcmp(item->string, "l1") == 0) && !(has2 && strcmp(item->string, "l2") == 0))
      return unsupported(c, key, item->string);
  }
  double a = strcmp(k, "L1L2") == 0 ? 0.0 : 0.01, b = a;
  if (get_number(c, rcfg, "l1", &a) != DN_OK || get_number(c, rcfg, "l2", &b) != DN_OK)
    return dn_last_status();
  if (a < 0.0 || b < 0.0)
    return bad(c, key, "has a negative factor");
  *l1 = has1 ? a : 0.0;
  *l2 = has2 ? b : 0.0;
  return DN_OK;
}

/* ---- layer configs ------------------------------------------------------------- */

/* Keys of a layer config: handled by the reader, or harmless to ignore. Any other key must be
 * null or false. */
typedef struct layer_kind {
  const char *cls;
  const char *keys[24];
} layer_kind;

static const layer_kind layer_kinds[] = {
    {"Dense",
     {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
      "kernel_regularizer", "bias_regularizer", "lora_alpha", NULL}},
    {"Activation", {"activation", NULL}},
    {"Dropout", {"rate", "seed", NULL}},
    {"BatchNormalization",
     {"axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
      "moving_mean_initializer", "moving_variance_initializer", "renorm_momentum", NULL}},
    {"Normalization", {"axis", "invert", NULL}},
};

static const char *const common_keys[] = {"name",        "trainable", "dtype", "batch_input_shape",
                                          "batch_shape", "input_dim", NULL};

static bool in_list(const char *const *list, const char *key) {
  for (size_t i = 0; list[i] != NULL; i++)
    if (strcmp(list[i], key) == 0)
      return true;
  return false;
}

static dn_status check_keys(const ctx *c, const layer_kind *kind, const cJSON *cfg) {
  const cJSON *item;
  cJSON_ArrayForEach(item, cfg) {
    if (in_list(common_keys, item->string) || in_list(kind->keys, item->string))
      continue;
    if (dn_keras_json_is_null(item) || cJSON_IsFalse(item))
      continue;
    if (cJSON_IsNumber(item) && item->valuedouble == 0.0 && strcmp(item->string, "lora_rank") == 0)
      continue;
    return unsupported(c, item->string, "");
  }
  return DN_OK;
}

/* An axis of -1 (or 1, the same axis for 2-d inputs), possibly as a one-element list. */
static dn_status check_axis(const ctx *c, const cJSON *cfg) {
  const cJSON *v = dn_keras_json_get(cfg, "axis");
  if (v == NULL)
    return DN_OK;
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
    v = cJSON_GetArrayItem(v, 0);
  if (!cJSON_IsNumber(v) || (v->valuedouble != -1.0 && v->valuedouble != 1.0))
    return unsupported(c, "axis", "only the last axis (-1) is supported");
  return DN_OK;
}

/* The initializer key must be absent or the given default (the state is read from the file). */
static dn_status check_default_init(const ctx *c, const cJSON *cfg, const char *key,
                                    const char *canonical) {
  const char *name = canonical;
  dn_init_args args = {0};
  dn_status st = read_initializer(c, cfg, key, &name, &args);
  if (st != DN_OK)
    return st;
  if (strcmp(name, canonical) != 0)
    return unsupported(c, key, name);
  return DN_OK;
}

static dn_status read_activation(const ctx *c, const cJSON *cfg, const char **out) {
  const cJSON *v = dn_keras_json_get(cfg, "activation");
  if (dn_keras_json_is_null(v)) {
    *out = "linear";
    return DN_OK;
  }
  if (!cJSON_IsString(v))
    return unsupported(c, "activation", "only activations by name are supported");
  *out = v->valuestring;
  return DN_OK;
}

/* Fills lc from a layer's config (lc->type and name set by the caller). */
static dn_status read_layer(const ctx *c, const layer_kind *kind, const cJSON *cfg,
                            dn_layer_config *lc) {
  dn_status st = check_keys(c, kind, cfg);
  if (st == DN_OK)
    st = check_dtype(c, dn_keras_json_get(cfg, "dtype"));
  bool trainable = true;
  if (st == DN_OK)
    st = get_bool(c, cfg, "trainable", &trainable);
  if (st == DN_OK && !trainable)
    st = unsupported(c, "trainable", "frozen layers (trainable=false)");
  if (st != DN_OK)
    return st;
  const char *t = lc->type;
  if (strcmp(t, "Dense") == 0) {
    const cJSON *u = dn_keras_json_get(cfg, "units");
    lc->use_bias = true;
    if ((st = get_count(c, u, "units", (size_t)1 << 24, &lc->units)) != DN_OK ||
        (st = read_activation(c, cfg, &lc->activation)) != DN_OK ||
        (st = get_bool(c, cfg, "use_bias", &lc->use_bias)) != DN_OK ||
        (st = read_initializer(c, cfg, "kernel_initializer", &lc->kernel_initializer,
                               &lc->kernel_init)) != DN_OK ||
        (st = read_initializer(c, cfg, "bias_initializer", &lc->bias_initializer,
                               &lc->bias_init)) != DN_OK ||
        (st = read_regularizer(c, cfg, "kernel_regularizer", &lc->kernel_l1, &lc->kernel_l2)) !=
            DN_OK ||
        (st = read_regularizer(c, cfg, "bias_regularizer", &lc->bias_l1, &lc->bias_l2)) != DN_OK)
      return st;
  } else if (strcmp(t, "Activation") == 0) {
    return read_activation(c, cfg, &lc->activation);
  } else if (strcmp(t, "Dropout") == 0) {
    lc->rate = -1.0;
    if ((st = get_number(c, cfg, "rate", &lc->rate)) != DN_OK)
      return st;
    if (!(lc->rate >= 0.0 && lc->rate <= 1.0))
      return bad(c, "rate", "is missing or not in [0, 1]");
  } else if (strcmp(t, "BatchNormalization") == 0) {
    lc->momentum = 0.99;
    lc->epsilon = 1e-3;
    lc->center = lc->scale = true;
    if ((st = check_axis(c, cfg)) != DN_OK ||
        (st = get_number(c, cfg, "momentum", &lc->momentum)) != DN_OK ||
        (st = get_number(c, cfg, "epsilon", &lc->epsilon)) != DN_OK ||
        (st = get_bool(c, cfg, "center", &lc->center)) != DN_OK ||
        (st = get_bool(c, cfg, "scale", &lc->scale)) != DN_OK ||
        (st = check_default_init(c, cfg, "beta_initializer", "zeros")) != DN_OK ||
        (st = check_default_init(c, cfg, "gamma_initializer", "ones")) != DN_OK ||
        (st = check_default_init(c, cfg, "moving_mean_initializer", "zeros")) != DN_OK ||
        (st = check_default_init(c, cfg, "moving_variance_initializer", "ones")) != DN_OK)
      return st;
    /* dn_layer_from_config maps 0 to an explicit zero itself */
  } else if (strcmp(t, "Normalization") == 0) {
    if ((st = check_axis(c, cfg)) != DN_OK ||
        (st = get_bool(c, cfg, "invert", &lc->invert)) != DN_OK)
      return st;
  }
  return DN_OK;
}

static const layer_kind *kind_of(const char *cls) {
  for (size_t i = 0; i < sizeof layer_kinds / sizeof layer_kinds[0]; i++)
    if (strcmp(layer_kinds[i].cls, cls) == 0)
      return &layer_kinds[i];
  return NULL;
}

/* Parameter count of a layer config for an input width (0 on overflow: checked by caller). */
static size_t config_params(const dn_layer_config *lc, size_t in, size_t *out_width) {
  *out_width = in;
  if (strcmp(lc->type, "Dense") == 0) {
    *out_width = lc->units;
    size_t k;
    if (!dn_mul_size(in, lc->units, &k, "Dense kernel") || k > SIZE_MAX - lc->units)
      return SIZE_MAX;
    return k + (lc->use_bias ? lc->units : 0);
  }
  if (strcmp(lc->type, "BatchNormalization") == 0)
    return in * (2 + (lc->center ? 1u : 0u) + (lc->scale ? 1u : 0u));
  if (strcmp(lc->type, "Normalization") == 0)
    return 2 * in + 1;
  return 0;
}

dn_model *dn_keras_model_from_json(const cJSON *root, const char *fn, size_t max_params) {
  ctx c0 = {fn, 0, "Sequential", ""};
  if (!cJSON_IsObject(root))
    return dn_fail_null(DN_ERR_FORMAT, "%s: the model config is not a JSON object", fn);
  const cJSON *cls = dn_keras_json_get(root, "class_name");
  if (!cJSON_IsString(cls))
    return dn_fail_null(DN_ERR_FORMAT, "%s: the model config has no class_name", fn);
  if (strcmp(cls->valuestring, "Sequential") != 0)
    return dn_fail_null(DN_ERR_UNSUPPORTED,
                        "%s: model class '%s' is not supported (only Sequential)", fn,
                        cls->valuestring);
  const cJSON *cfg = dn_keras_json_get(root, "config");
  const cJSON *layers = dn_keras_json_get(cfg, "layers");
  if (!cJSON_IsArray(layers))
    return dn_fail_null(DN_ERR_FORMAT, "%s: the Sequential config has no 'layers' list", fn);
  bool trainable = true;
  if (check_dtype(&c0, dn_keras_json_get(cfg, "dtype")) != DN_OK ||
      get_bool(&c0, cfg, "trainable", &trainable) != DN_OK)
    return NULL;
  if (!trainable)
    return dn_fail_null(DN_ERR_UNSUPPORTED, "%s: a frozen model (trainable=false) is not supported",
                        fn);

  /* Input width: InputLayer, else the model's build shapes, else the first layer's. */
  size_t input_dim = 0;
  const cJSON *shape = dn_keras_json_get(cfg, "build_input_shape");
  if (shape == NULL)
    shape = dn_keras_json_get(dn_keras_json_get(root, "build_config"), "input_shape");
  if (!dn_keras_json_is_null(shape) &&
      get_shape(&c0, shape, "build_input_shape", &input_dim) != DN_OK)
    return NULL;

  int n = cJSON_GetArraySize(layers);
  dn_layer_config *lcs = dn_calloc(n > 0 ? (size_t)n : 1, sizeof *lcs);
  if (lcs == NULL)
    return NULL;
  size_t count = 0;
  dn_status st = DN_OK;
  for (int i = 0; i < n && st == DN_OK; i++) {
    const cJSON *layer = cJSON_GetArrayItem(layers, i);
    const cJSON *lcls = dn_keras_json_get(layer, "class_name");
    const cJSON *lcfg = dn_keras_json_get(layer, "config");
    const cJSON *lname = dn_keras_json_get(lcfg, "name");
    ctx c = {fn, (size_t)i, cJSON_IsString(lcls) ? lcls->valuestring : "?",
             cJSON_IsString(lname) ? lname->valuestring : ""};
    if (!cJSON_IsString(lcls) || !cJSON_IsObject(lcfg)) {
      st = dn_fail(DN_ERR_FORMAT, "%s: config.json layer %zu has no class_name/config", fn,
                   (size_t)i);
      break;
    }
    if (lname != NULL && !cJSON_IsString(lname)) {
      st = bad(&c, "name", "is not a string");
      break;
    }
    const cJSON *bshape = dn_keras_json_get(lcfg, "batch_shape");
    if (bshape == NULL)
      bshape = dn_keras_json_get(lcfg, "batch_input_shape");
    if (strcmp(lcls->valuestring, "InputLayer") == 0) {
      if (i != 0) {
        st = unsupported(&c, "InputLayer", "only as the first layer");
        break;
      }
      bool sparse = false, ragged = false;
      if ((st = get_shape(&c, bshape, "batch_shape", &input_dim)) != DN_OK ||
          (st = check_dtype(&c, dn_keras_json_get(lcfg, "dtype"))) != DN_OK ||
          (st = get_bool(&c, lcfg, "sparse", &sparse)) != DN_OK ||
          (st = get_bool(&c, lcfg, "ragged", &ragged)) != DN_OK)
        break;
      if (sparse || ragged)
        st = unsupported(&c, sparse ? "sparse" : "ragged", "");
      continue;
    }
    const layer_kind *kind = kind_of(lcls->valuestring);
    if (kind == NULL) {
      st = dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: config.json layer %zu ('%s'): layer class '%s' is not supported "
                   "(supported: Dense, Activation, Dropout, BatchNormalization, Normalization)",
                   fn, (size_t)i, c.name, lcls->valuestring);
      break;
    }
    if (!dn_keras_json_is_null(bshape) && count == 0 && input_dim == 0 &&
        (st = get_shape(&c, bshape, "batch_input_shape", &input_dim)) != DN_OK)
      break;
    if (count == 0 && input_dim == 0) {
      const cJSON *b = dn_keras_json_get(dn_keras_json_get(layer, "build_config"), "input_shape");
      if (!dn_keras_json_is_null(b) && (st = get_shape(&c, b, "build_config", &input_dim)) != DN_OK)
        break;
    }
    dn_layer_config *lc = &lcs[count];
    lc->type = kind->cls;
    lc->name = c.name[0] ? c.name : NULL;
    if (lc->name != NULL && strlen(lc->name) >= DN_LAYER_NAME_CAP) {
      st = unsupported(&c, "name", "names of 64 characters or more");
      break;
    }
    st = read_layer(&c, kind, lcfg, lc);
    count++;
  }
  if (st == DN_OK && input_dim == 0)
    st = dn_fail(DN_ERR_FORMAT, "%s: the model config gives no input shape (unbuilt model)", fn);
  if (st == DN_OK && count == 0)
    st = dn_fail(DN_ERR_FORMAT, "%s: the model config has no layers", fn);
  /* Bound the model's size by what the weights can hold before building anything. */
  size_t total = 0, width = input_dim;
  for (size_t i = 0; st == DN_OK && i < count; i++) {
    size_t next;
    size_t p = config_params(&lcs[i], width, &next);
    if (p == SIZE_MAX || p > max_params || total + p > max_params)
      st = dn_fail(DN_ERR_FORMAT,
                   "%s: layer %zu ('%s') needs more weights than the weights file holds", fn, i,
                   lcs[i].name ? lcs[i].name : lcs[i].type);
    total += p;
    width = next;
  }
  dn_model *model = NULL;
  if (st == DN_OK)
    model = dn_model_new();
  if (st == DN_OK && model == NULL)
    st = dn_last_status();
  for (size_t i = 0; st == DN_OK && i < count; i++) {
    if (i == 0)
      lcs[i].input_dim = input_dim;
    dn_layer *layer = dn_layer_from_config(&lcs[i]);
    if (layer == NULL) {
      st = dn_last_status();
    } else {
      st = dn_model_add(model, layer);
    }
    if (st != DN_OK) {
      dn_error_context(fn);
      if (st == DN_ERR_ARG)
        st = dn_fail(DN_ERR_UNSUPPORTED, "%s (layer %zu '%s')", dn_last_error(), i,
                     lcs[i].name ? lcs[i].name : lcs[i].type);
    }
  }
  dn_free(lcs);
  if (st != DN_OK) {
    dn_model_free(model);
    return NULL;
  }
  return model;
}
