/* keras_config.c -- reading config.json: a Keras Sequential object (Keras 3's config.json or a
 * legacy model_config) into a model's layers. (Writing: keras_config_write.c.)
 *
 * Reading is strict where it matters: every key of a layer's config is either understood,
 * harmless (listed per layer kind), or null/false; anything else is DN_ERR_UNSUPPORTED naming the
 * layer and the key, so a model is never silently loaded as something else.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "layers/initializer.h"
#include "keras/keras_io.h"
#include "layers/registry.h"
#include "model/sequential.h"
#include "core/status.h"

/* ---- cJSON's allocator hooks ------------------------------------------------ */

static _Thread_local bool json_alloc_failed;

static void *json_malloc(size_t size) {
  void *p = dn_alloc(size);
  if (p == NULL)
    json_alloc_failed = true;
  return p;
}

static void json_free(void *ptr) {
  dn_free(ptr);
}

static void install_json_hooks(void) {
  cJSON_Hooks hooks = {json_malloc, json_free};
  cJSON_InitHooks(&hooks);
}

void dn_keras_json_begin(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install_json_hooks);
  json_alloc_failed = false;
}

bool dn_keras_json_failed(void) {
  return json_alloc_failed;
}

bool dn_keras_json_add(cJSON *object, const char *key, cJSON *item) {
  if (item == NULL)
    return false;
  if (!cJSON_AddItemToObject(object, key, item)) {
    cJSON_Delete(item);
    return false;
  }
  return true;
}

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

#define LC(field) offsetof(dn_layer_config, field)

const dn_keras_field dn_keras_fields[] = {
    {DN_CFG_UNITS, "units", DN_KERAS_COUNT, LC(units), 0, 0.0},
    {DN_CFG_ACTIVATION, "activation", DN_KERAS_ACTIVATION, LC(activation), 0, 0.0},
    {DN_CFG_USE_BIAS, "use_bias", DN_KERAS_BOOL, LC(use_bias), 0, 1.0},
    {DN_CFG_KERNEL_INITIALIZER, "kernel_initializer", DN_KERAS_INITIALIZER, LC(kernel_initializer),
     LC(kernel_init), 0.0},
    {DN_CFG_BIAS_INITIALIZER, "bias_initializer", DN_KERAS_INITIALIZER, LC(bias_initializer),
     LC(bias_init), 0.0},
    {DN_CFG_KERNEL_REGULARIZER, "kernel_regularizer", DN_KERAS_REGULARIZER, LC(kernel_l1),
     LC(kernel_l2), 0.0},
    {DN_CFG_BIAS_REGULARIZER, "bias_regularizer", DN_KERAS_REGULARIZER, LC(bias_l1), LC(bias_l2),
     0.0},
    {DN_CFG_RATE, "rate", DN_KERAS_FRACTION, LC(rate), 0, 0.0},
    {DN_CFG_MOMENTUM, "momentum", DN_KERAS_NUMBER, LC(momentum), 0, 0.99},
    {DN_CFG_EPSILON, "epsilon", DN_KERAS_NUMBER, LC(epsilon), 0, 1e-3},
    {DN_CFG_CENTER, "center", DN_KERAS_BOOL, LC(center), 0, 1.0},
    {DN_CFG_SCALE, "scale", DN_KERAS_BOOL, LC(scale), 0, 1.0},
    {DN_CFG_INVERT, "invert", DN_KERAS_BOOL, LC(invert), 0, 0.0},
};
const size_t dn_keras_n_fields = sizeof dn_keras_fields / sizeof dn_keras_fields[0];

unsigned dn_keras_field_bits(void) {
  unsigned bits = 0;
  for (size_t i = 0; i < dn_keras_n_fields; i++)
    bits |= dn_keras_fields[i].bit;
  return bits;
}

/* The keys Keras 3.16 writes beside a class's fields, in its order (a key's type defaults to
 * DN_KERAS_EXTRA_NULL). */
static const struct {
  const char *cls;
  dn_keras_extra extras[16];
} layer_extras[] = {
    {"Dense",
     {{.key = "kernel_constraint"},
      {.key = "bias_constraint"},
      {.key = "quantization_config"},
      {.key = "lora_alpha", .type = DN_KERAS_EXTRA_IGNORED, .unwritten = true}}},
    {"Dropout", {{.key = "seed", .type = DN_KERAS_EXTRA_IGNORED}, {.key = "noise_shape"}}},
    {"BatchNormalization",
     {{.key = "axis", .type = DN_KERAS_EXTRA_AXIS},
      {.key = "beta_initializer", .type = DN_KERAS_EXTRA_INITIALIZER, .init = "zeros"},
      {.key = "gamma_initializer", .type = DN_KERAS_EXTRA_INITIALIZER, .init = "ones"},
      {.key = "moving_mean_initializer", .type = DN_KERAS_EXTRA_INITIALIZER, .init = "zeros"},
      {.key = "moving_variance_initializer", .type = DN_KERAS_EXTRA_INITIALIZER, .init = "ones"},
      {.key = "beta_regularizer"},
      {.key = "gamma_regularizer"},
      {.key = "beta_constraint"},
      {.key = "gamma_constraint"},
      {.key = "synchronized", .type = DN_KERAS_EXTRA_FALSE},
      {.key = "renorm", .type = DN_KERAS_EXTRA_FALSE},
      {.key = "renorm_clipping"},
      {.key = "renorm_momentum", .type = DN_KERAS_EXTRA_IGNORED, .value = 0.99, .numeric = true}}},
    {"Normalization",
     {{.key = "axis", .type = DN_KERAS_EXTRA_AXIS, .list = true},
      {.key = "mean"},
      {.key = "variance"}}},
};

const dn_keras_extra *dn_keras_extras_of(const char *cls) {
  static const dn_keras_extra none[1] = {{.key = NULL}};
  for (size_t i = 0; i < sizeof layer_extras / sizeof layer_extras[0]; i++)
    if (strcmp(layer_extras[i].cls, cls) == 0)
      return layer_extras[i].extras;
  return none;
}

static const char *const common_keys[] = {"name",        "trainable", "dtype", "batch_input_shape",
                                          "batch_shape", "input_dim", NULL};

static bool in_list(const char *const *list, const char *key) {
  for (size_t i = 0; list[i] != NULL; i++)
    if (strcmp(list[i], key) == 0)
      return true;
  return false;
}

/* A key the reader handles for this kind: one of its fields, or an extra it checks or ignores. */
static bool known_key(const dn_layer_ops *kind, const dn_keras_extra *extras, const char *key) {
  for (size_t i = 0; i < dn_keras_n_fields; i++)
    if ((kind->config_fields & dn_keras_fields[i].bit) && strcmp(dn_keras_fields[i].key, key) == 0)
      return true;
  for (const dn_keras_extra *x = extras; x->key != NULL; x++)
    if (x->type != DN_KERAS_EXTRA_NULL && x->type != DN_KERAS_EXTRA_FALSE &&
        strcmp(x->key, key) == 0)
      return true;
  return false;
}

/* Every key is known, or null or false (a feature left off). */
static dn_status check_keys(const ctx *c, const dn_layer_ops *kind, const dn_keras_extra *extras,
                            const cJSON *cfg) {
  const cJSON *item;
  cJSON_ArrayForEach(item, cfg) {
    if (in_list(common_keys, item->string) || known_key(kind, extras, item->string))
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
static dn_status check_axis(const ctx *c, const cJSON *cfg, const char *key) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  if (v == NULL)
    return DN_OK;
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
    v = cJSON_GetArrayItem(v, 0);
  if (!cJSON_IsNumber(v) || (v->valuedouble != -1.0 && v->valuedouble != 1.0))
    return unsupported(c, key, "only the last axis (-1) is supported");
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

/* Checks the extras of the given kind: the axis (axis true) or the others. */
static dn_status check_extras(const ctx *c, const dn_keras_extra *extras, const cJSON *cfg,
                              bool axis) {
  dn_status st = DN_OK;
  for (const dn_keras_extra *x = extras; x->key != NULL && st == DN_OK; x++) {
    if (axis && x->type == DN_KERAS_EXTRA_AXIS)
      st = check_axis(c, cfg, x->key);
    else if (!axis && x->type == DN_KERAS_EXTRA_INITIALIZER)
      st = check_default_init(c, cfg, x->key, x->init);
  }
  return st;
}

/* One config field into lc, from its key (absent: the field's default). */
static dn_status read_field(const ctx *c, const dn_keras_field *f, const cJSON *cfg,
                            dn_layer_config *lc) {
  char *at = (char *)lc + f->offset, *at2 = (char *)lc + f->offset2;
  const cJSON *v = dn_keras_json_get(cfg, f->key);
  switch (f->type) {
  case DN_KERAS_COUNT: return get_count(c, v, f->key, (size_t)1 << 24, (size_t *)(void *)at);
  case DN_KERAS_ACTIVATION:
    if (!dn_keras_json_is_null(v) && !cJSON_IsString(v))
      return unsupported(c, f->key, "only activations by name are supported");
    *(const char **)(void *)at = dn_keras_json_is_null(v) ? "linear" : v->valuestring;
    return DN_OK;
  case DN_KERAS_BOOL:
    *(bool *)(void *)at = f->default_value != 0.0;
    return get_bool(c, cfg, f->key, (bool *)(void *)at);
  case DN_KERAS_NUMBER:
    *(double *)(void *)at = f->default_value;
    return get_number(c, cfg, f->key, (double *)(void *)at);
  case DN_KERAS_FRACTION: {
    double *x = (double *)(void *)at;
    *x = -1.0;
    dn_status st = get_number(c, cfg, f->key, x);
    if (st == DN_OK && !(*x >= 0.0 && *x <= 1.0))
      st = bad(c, f->key, "is missing or not in [0, 1]");
    return st;
  }
  case DN_KERAS_INITIALIZER:
    return read_initializer(c, cfg, f->key, (const char **)(void *)at, (dn_init_args *)(void *)at2);
  case DN_KERAS_REGULARIZER:
    return read_regularizer(c, cfg, f->key, (double *)(void *)at, (double *)(void *)at2);
  }
  return DN_OK;
}

/* Fills lc from a layer's config (lc->type and name set by the caller): the kind's fields in
 * Keras's order, with the class's axis checked before them and its other extras after. */
static dn_status read_layer(const ctx *c, const dn_layer_ops *kind, const cJSON *cfg,
                            dn_layer_config *lc) {
  const dn_keras_extra *extras = dn_keras_extras_of(kind->type);
  dn_status st = check_keys(c, kind, extras, cfg);
  if (st == DN_OK)
    st = check_dtype(c, dn_keras_json_get(cfg, "dtype"));
  bool trainable = true;
  if (st == DN_OK)
    st = get_bool(c, cfg, "trainable", &trainable);
  lc->frozen = !trainable;
  if (st == DN_OK)
    st = check_extras(c, extras, cfg, true);
  for (size_t i = 0; i < dn_keras_n_fields && st == DN_OK; i++)
    if (kind->config_fields & dn_keras_fields[i].bit)
      st = read_field(c, &dn_keras_fields[i], cfg, lc);
  if (st == DN_OK)
    st = check_extras(c, extras, cfg, false);
  /* A 0 read (momentum, epsilon) is an explicit 0: dn_layer_from_config takes it so. */
  return st;
}

/* A layer of the config could not be made or added: the error, naming the layer, with an
 * argument the library refuses reported as a setting it does not support. */
static dn_status layer_failed(const char *fn, size_t i, const dn_layer_config *lc) {
  dn_status st = dn_last_status();
  dn_error_context(fn);
  if (st == DN_ERR_ARG)
    st = dn_fail(DN_ERR_UNSUPPORTED, "%s (layer %zu '%s')", dn_last_error(), i,
                 lc->name ? lc->name : lc->type);
  return st;
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
    const dn_layer_ops *kind = dn_layer_kind(lcls->valuestring);
    if (kind == NULL || (kind->config_fields & ~dn_keras_field_bits()) != 0) {
      char names[128];
      st = dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: config.json layer %zu ('%s'): layer class '%s' is not supported "
                   "(supported: %s)",
                   fn, (size_t)i, c.name, lcls->valuestring,
                   dn_layer_kind_names(names, sizeof names));
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
    lc->type = kind->type;
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
  /* The layers, unbuilt (nothing allocated for weights yet); then the model's size, bounded by
   * what the weights can hold, before anything is built. */
  dn_layer **made = st == DN_OK ? dn_calloc(count, sizeof *made) : NULL;
  if (st == DN_OK && made == NULL)
    st = dn_last_status();
  for (size_t i = 0; st == DN_OK && i < count; i++)
    if ((made[i] = dn_layer_from_config(&lcs[i])) == NULL)
      st = layer_failed(fn, i, &lcs[i]);
  size_t total = 0, width = input_dim;
  for (size_t i = 0; st == DN_OK && i < count; i++) {
    dn_layer plan;
    if (dn_layer_plan(made[i], width, &plan) != DN_OK || plan.n_params > max_params ||
        total + plan.n_params > max_params)
      st = dn_fail(DN_ERR_FORMAT,
                   "%s: layer %zu ('%s') needs more weights than the weights file holds", fn, i,
                   lcs[i].name ? lcs[i].name : lcs[i].type);
    total += plan.n_params;
    width = plan.output_dim;
  }
  dn_model *model = NULL;
  if (st == DN_OK)
    model = dn_model_new();
  if (st == DN_OK && model == NULL)
    st = dn_last_status();
  if (model != NULL)
    model->frozen = !trainable; /* Keras: Sequential(trainable=...); the layers keep theirs */
  for (size_t i = 0; st == DN_OK && i < count; i++) {
    if (i == 0)
      made[i]->input_dim = input_dim;
    st = dn_model_add(model, made[i]); /* takes the layer, also on failure */
    made[i] = NULL;
    if (st != DN_OK)
      st = layer_failed(fn, i, &lcs[i]);
  }
  for (size_t i = 0; made != NULL && i < count; i++)
    dn_layer_free(made[i]);
  dn_free(made);
  dn_free(lcs);
  if (st != DN_OK) {
    dn_model_free(model);
    return NULL;
  }
  return model;
}
