/* keras_compile.c -- compile_config <-> a compiled model: the optimizer by Keras class and config,
 * the loss by name or serialized class, the metrics by name; and which optimizers' slot
 * variables can be exchanged with Keras's optimizer/vars layout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "keras/keras_io.h"
#include "training/optimizer.h"
#include "model/sequential.h"
#include "core/options.h"
#include "core/status.h"
#include "training/metric.h"
#include "training/train.h"

/* ---- tables ------------------------------------------------------------------------ */

enum {
  F_BETAS = 1,     /* beta_1, beta_2 */
  F_EPSILON = 2,   /* epsilon */
  F_AMSGRAD = 4,   /* amsgrad */
  F_MOMENTUM = 8,  /* momentum */
  F_NESTEROV = 16, /* nesterov */
  F_RHO = 32,      /* rho */
  F_CENTERED = 64, /* centered */
  F_ACCUM = 128,   /* initial_accumulator_value */
};

typedef struct opt_class {
  const char *name;  /* ours */
  const char *keras; /* class */
  unsigned fields;   /* the class's own config keys, in Keras's order below */
} opt_class;

static const opt_class opt_classes[] = {
    {"sgd", "SGD", F_MOMENTUM | F_NESTEROV},
    {"adam", "Adam", F_BETAS | F_EPSILON | F_AMSGRAD},
    {"adamw", "AdamW", F_BETAS | F_EPSILON | F_AMSGRAD},
    {"rmsprop", "RMSprop", F_RHO | F_MOMENTUM | F_EPSILON | F_CENTERED},
    {"adagrad", "Adagrad", F_ACCUM | F_EPSILON},
    {"adadelta", "Adadelta", F_RHO | F_EPSILON},
    {"adamax", "Adamax", F_BETAS | F_EPSILON},
    {"nadam", "Nadam", F_BETAS | F_EPSILON},
    {"lion", "Lion", F_BETAS},
};
#define N_OPT (sizeof opt_classes / sizeof opt_classes[0])

typedef struct loss_class {
  const char *name;  /* our canonical name */
  const char *keras; /* class */
} loss_class;

static const loss_class loss_classes[] = {
    {"mean_squared_error", "MeanSquaredError"},
    {"mean_absolute_error", "MeanAbsoluteError"},
    {"mean_absolute_percentage_error", "MeanAbsolutePercentageError"},
    {"mean_squared_logarithmic_error", "MeanSquaredLogarithmicError"},
    {"huber", "Huber"},
    {"log_cosh", "LogCosh"},
    {"binary_crossentropy", "BinaryCrossentropy"},
    {"categorical_crossentropy", "CategoricalCrossentropy"},
    {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"},
    {"hinge", "Hinge"},
    {"squared_hinge", "SquaredHinge"},
    {"kl_divergence", "KLDivergence"},
    {"poisson", "Poisson"},
    {"cosine_similarity", "CosineSimilarity"},
};
#define N_LOSS (sizeof loss_classes / sizeof loss_classes[0])

bool dn_keras_opt_state_layout(const dn_optimizer *opt, dn_keras_opt_layout *l) {
  *l = (dn_keras_opt_layout){0};
  const dn_optimizer_options *o = &opt->options;
  switch (opt->kind) {
  case DN_OPT_SGD: /* momentum only when momentum != 0 */
    if (opt->n_slots == 1)
      *l = (dn_keras_opt_layout){1, 1, {1}, {"momentum"}, {"momentum"}, false};
    break;
  case DN_OPT_ADAM: /* Keras 3.16 files: momentum, velocity interleaved per variable */
  case DN_OPT_ADAMW:
    *l = (dn_keras_opt_layout){2, 1, {2}, {"momentum", "velocity"}, {"m", "v"}, false};
    if (o->amsgrad) {
      l->n_slots = 3;
      l->n_groups = 2;
      l->group_size[1] = 1;
      l->names[2] = "velocity_hat";
      l->aliases[2] = "vhat";
    }
    break;
  case DN_OPT_RMSPROP: /* separate loops: velocities, momentums, average gradients */
    l->n_slots = 0;
    l->names[l->n_slots] = "velocity";
    l->aliases[l->n_slots++] = "rms";
    if (o->momentum > 0.0) {
      l->names[l->n_slots] = "momentum";
      l->aliases[l->n_slots++] = "momentum";
    }
    if (o->centered) {
      l->names[l->n_slots] = "average_gradient";
      l->aliases[l->n_slots++] = "mg";
    }
    l->n_groups = l->n_slots;
    for (size_t g = 0; g < l->n_groups; g++)
      l->group_size[g] = 1;
    break;
  case DN_OPT_ADAGRAD:
    *l = (dn_keras_opt_layout){1, 1, {1}, {"accumulator"}, {"accumulator"}, false};
    break;
  case DN_OPT_ADADELTA:
    *l = (dn_keras_opt_layout){
        2,    1, {2}, {"accumulated_grad", "accumulated_delta_var"}, {"accum_grad", "accum_var"},
        false};
    break;
  case DN_OPT_NADAM: /* Keras 3.16: momentum, velocity interleaved, then u_product */
    *l = (dn_keras_opt_layout){2, 1, {2}, {"momentum", "velocity"}, {"m", "v"}, true};
    break;
  case DN_OPT_ADAMAX:
    *l = (dn_keras_opt_layout){2, 1, {2}, {"momentum", "norm"}, {"m", "v"}, false};
    break;
  case DN_OPT_LION: *l = (dn_keras_opt_layout){1, 1, {1}, {"momentum"}, {"m"}, false}; break;
  default: return false;
  }
  return l->n_slots == opt->n_slots;
}

void dn_keras_opt_position(const dn_keras_opt_layout *l, size_t n_trainable, size_t j, size_t *k,
                           size_t *t) {
  size_t base = 0;
  for (size_t g = 0; g < l->n_groups; g++) {
    size_t span = l->group_size[g] * n_trainable;
    if (j < span) {
      *t = j / l->group_size[g];
      *k = base + j % l->group_size[g];
      return;
    }
    j -= span;
    base += l->group_size[g];
  }
  *k = *t = 0; /* not reached for j < n_slots * n_trainable */
}

/* ---- reading --------------------------------------------------------------------------- */

static dn_status opt_number(const cJSON *cfg, const char *key, double *out, const char *fn,
                            const char *where) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  if (dn_keras_json_is_null(v))
    return DN_OK;
  if (cJSON_IsObject(v))
    return dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: %s: optimizer '%s' given as a %s object is not "
                   "supported (learning-rate schedules are not imported)",
                   fn, where, key,
                   cJSON_IsString(dn_keras_json_get(v, "class_name"))
                       ? dn_keras_json_get(v, "class_name")->valuestring
                       : "serialized");
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return dn_fail(DN_ERR_FORMAT, "%s: %s: optimizer '%s' is not a number", fn, where, key);
  *out = dn_option_exact(v->valuedouble); /* 0 from a file means exactly 0 */
  return DN_OK;
}

/* ---- learning-rate schedules (keras.optimizers.schedules) ------------------------------ */

typedef struct schedule_class {
  dn_schedule_kind kind;
  const char *keras; /* class */
  const char *name;  /* Keras's default `name` */
} schedule_class;

static const schedule_class schedule_classes[] = {
    {DN_SCHEDULE_EXPONENTIAL_DECAY, "ExponentialDecay", "ExponentialDecay"},
    {DN_SCHEDULE_INVERSE_TIME_DECAY, "InverseTimeDecay", "InverseTimeDecay"},
    {DN_SCHEDULE_PIECEWISE_CONSTANT, "PiecewiseConstantDecay", "PiecewiseConstant"},
    {DN_SCHEDULE_COSINE_DECAY, "CosineDecay", "CosineDecay"},
};
#define N_SCHEDULE (sizeof schedule_classes / sizeof schedule_classes[0])
#define DN_KERAS_MAX_BOUNDARIES 4096

/* A required (or, with def non-NULL, optional) finite number of a schedule's config. */
static dn_status schedule_number(const cJSON *cfg, const char *key, const double *def, double *out,
                                 const char *fn, const char *where, const char *cls) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  if (def != NULL && dn_keras_json_is_null(v)) {
    *out = *def;
    return DN_OK;
  }
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return dn_fail(DN_ERR_FORMAT, "%s: %s: %s '%s' is %s", fn, where, cls, key,
                   v == NULL ? "missing" : "not a finite number");
  *out = v->valuedouble;
  return DN_OK;
}

/* A list of numbers of a schedule's config, into a new dn_alloc'd array (*n entries). */
static dn_status schedule_list(const cJSON *cfg, const char *key, double **out, size_t *n,
                               const char *fn, const char *where) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  int len = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
  if (len < 1 || len > DN_KERAS_MAX_BOUNDARIES + 1)
    return dn_fail(DN_ERR_FORMAT,
                   "%s: %s: PiecewiseConstantDecay '%s' is not a list of 1 to %d numbers", fn,
                   where, key, DN_KERAS_MAX_BOUNDARIES + 1);
  *out = dn_alloc((size_t)len * sizeof **out);
  if (*out == NULL)
    return DN_ERR_NOMEM;
  *n = (size_t)len;
  for (int i = 0; i < len; i++) {
    const cJSON *x = cJSON_GetArrayItem(v, i);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
      return dn_fail(DN_ERR_FORMAT, "%s: %s: PiecewiseConstantDecay '%s'[%d] is not a number", fn,
                     where, key, i);
    (*out)[i] = x->valuedouble;
  }
  return DN_OK;
}

/* A serialized schedule ({"module": "keras.optimizers.schedules", "class_name": ..., "config":
 * {...}}) into *s; a piecewise schedule's lists are dn_alloc'd into *bounds and *vals (the
 * caller frees them after dn_optimizer_with has copied them). */
static dn_status schedule_from_json(const cJSON *v, dn_schedule *s, double **bounds, double **vals,
                                    const char *fn, const char *where) {
  const cJSON *cls = dn_keras_json_get(v, "class_name");
  const cJSON *cfg = dn_keras_json_get(v, "config");
  const cJSON *module = dn_keras_json_get(v, "module");
  const schedule_class *sc = NULL;
  for (size_t i = 0; cJSON_IsString(cls) && i < N_SCHEDULE && sc == NULL; i++)
    if (strcmp(schedule_classes[i].keras, cls->valuestring) == 0)
      sc = &schedule_classes[i];
  if (sc == NULL ||
      (module != NULL &&
       !(cJSON_IsString(module) && strcmp(module->valuestring, "keras.optimizers.schedules") == 0)))
    return dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: %s: learning-rate schedule '%s' is not supported (ExponentialDecay, "
                   "InverseTimeDecay, PiecewiseConstantDecay, CosineDecay)",
                   fn, where, cJSON_IsString(cls) ? cls->valuestring : "(no class_name)");
  if (!cJSON_IsObject(cfg))
    return dn_fail(DN_ERR_FORMAT, "%s: %s: %s has no config object", fn, where, sc->keras);
  *s = (dn_schedule){.kind = sc->kind};
  const char *k = sc->keras;
  const double zero = 0.0;
  dn_status st = DN_OK;
  const cJSON *item;
  cJSON_ArrayForEach(item, cfg) {
    static const char *const known[] = {"name",
                                        "initial_learning_rate",
                                        "decay_steps",
                                        "decay_rate",
                                        "staircase",
                                        "boundaries",
                                        "values",
                                        "alpha",
                                        "warmup_target",
                                        "warmup_steps",
                                        NULL};
    bool ok = false;
    for (size_t i = 0; known[i] != NULL && !ok; i++)
      ok = strcmp(known[i], item->string) == 0;
    if (!ok)
      return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: %s option '%s' is not supported", fn, where, k,
                     item->string);
  }
  switch (sc->kind) {
  case DN_SCHEDULE_EXPONENTIAL_DECAY:
  case DN_SCHEDULE_INVERSE_TIME_DECAY: {
    const cJSON *stair = dn_keras_json_get(cfg, "staircase");
    if ((st = schedule_number(cfg, "initial_learning_rate", NULL, &s->initial_learning_rate, fn,
                              where, k)) != DN_OK ||
        (st = schedule_number(cfg, "decay_steps", NULL, &s->decay_steps, fn, where, k)) != DN_OK ||
        (st = schedule_number(cfg, "decay_rate", NULL, &s->decay_rate, fn, where, k)) != DN_OK)
      return st;
    if (!dn_keras_json_is_null(stair) && !cJSON_IsBool(stair))
      return dn_fail(DN_ERR_FORMAT, "%s: %s: %s 'staircase' is not true/false", fn, where, k);
    s->staircase = cJSON_IsTrue(stair);
    break;
  }
  case DN_SCHEDULE_PIECEWISE_CONSTANT: {
    size_t nb = 0, nv = 0;
    if ((st = schedule_list(cfg, "boundaries", bounds, &nb, fn, where)) != DN_OK ||
        (st = schedule_list(cfg, "values", vals, &nv, fn, where)) != DN_OK)
      return st;
    if (nv != nb + 1)
      return dn_fail(DN_ERR_FORMAT,
                     "%s: %s: PiecewiseConstantDecay has %zu boundaries and %zu "
                     "values (needs one value more)",
                     fn, where, nb, nv);
    s->boundaries = *bounds;
    s->values = *vals;
    s->n_boundaries = nb;
    break;
  }
  case DN_SCHEDULE_COSINE_DECAY: {
    const cJSON *target = dn_keras_json_get(cfg, "warmup_target");
    if ((st = schedule_number(cfg, "initial_learning_rate", NULL, &s->initial_learning_rate, fn,
                              where, k)) != DN_OK ||
        (st = schedule_number(cfg, "decay_steps", NULL, &s->decay_steps, fn, where, k)) != DN_OK ||
        (st = schedule_number(cfg, "alpha", &zero, &s->alpha, fn, where, k)) != DN_OK ||
        (st = schedule_number(cfg, "warmup_steps", &zero, &s->warmup_steps, fn, where, k)) != DN_OK)
      return st;
    if (!dn_keras_json_is_null(target)) { /* null: no warmup (our 0); a number, even 0: warmup */
      if ((st = schedule_number(cfg, "warmup_target", NULL, &s->warmup_target, fn, where, k)) !=
          DN_OK)
        return st;
      s->warmup_target = dn_option_exact(s->warmup_target);
    }
    break;
  }
  case DN_SCHEDULE_CONSTANT:
  default: break;
  }
  return DN_OK;
}

/* The serialized Keras object of a schedule (NULL when out of memory). */
static cJSON *schedule_to_json(const dn_schedule *s) {
  const schedule_class *sc = NULL;
  for (size_t i = 0; i < N_SCHEDULE && sc == NULL; i++)
    if (schedule_classes[i].kind == s->kind)
      sc = &schedule_classes[i];
  cJSON *o = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
  if (sc == NULL || o == NULL || cfg == NULL) {
    cJSON_Delete(o);
    cJSON_Delete(cfg);
    return NULL;
  }
  switch (s->kind) {
  case DN_SCHEDULE_EXPONENTIAL_DECAY:
  case DN_SCHEDULE_INVERSE_TIME_DECAY:
    cJSON_AddNumberToObject(cfg, "initial_learning_rate", s->initial_learning_rate);
    cJSON_AddNumberToObject(cfg, "decay_steps", s->decay_steps);
    cJSON_AddNumberToObject(cfg, "decay_rate", s->decay_rate);
    cJSON_AddBoolToObject(cfg, "staircase", s->staircase);
    cJSON_AddStringToObject(cfg, "name", sc->name);
    break;
  case DN_SCHEDULE_PIECEWISE_CONSTANT:
    dn_keras_json_add(cfg, "boundaries",
                      cJSON_CreateDoubleArray(s->boundaries, (int)s->n_boundaries));
    dn_keras_json_add(cfg, "values", cJSON_CreateDoubleArray(s->values, (int)s->n_boundaries + 1));
    cJSON_AddStringToObject(cfg, "name", sc->name);
    break;
  case DN_SCHEDULE_COSINE_DECAY:
    cJSON_AddNumberToObject(cfg, "initial_learning_rate", s->initial_learning_rate);
    cJSON_AddNumberToObject(cfg, "decay_steps", s->decay_steps);
    cJSON_AddNumberToObject(cfg, "alpha", s->alpha);
    cJSON_AddStringToObject(cfg, "name", sc->name);
    if (dn_option_is_default(s->warmup_target))
      cJSON_AddNullToObject(cfg, "warmup_target");
    else
      cJSON_AddNumberToObject(cfg, "warmup_target", s->warmup_target + 0.0); /* DN_ZERO -> 0 */
    cJSON_AddNumberToObject(cfg, "warmup_steps", s->warmup_steps);
    break;
  case DN_SCHEDULE_CONSTANT:
  default: break;
  }
  cJSON_AddStringToObject(o, "module", "keras.optimizers.schedules");
  cJSON_AddStringToObject(o, "class_name", sc->keras);
  dn_keras_json_add(o, "config", cfg);
  cJSON_AddNullToObject(o, "registered_name");
  return o;
}

static dn_status opt_bool(const cJSON *cfg, const char *key, bool *out, const char *fn,
                          const char *where) {
  const cJSON *v = dn_keras_json_get(cfg, key);
  if (dn_keras_json_is_null(v))
    return DN_OK;
  if (!cJSON_IsBool(v))
    return dn_fail(DN_ERR_FORMAT, "%s: %s: optimizer '%s' is not true/false", fn, where, key);
  *out = cJSON_IsTrue(v);
  return DN_OK;
}

static const char *const opt_common_keys[] = {"name",
                                              "learning_rate",
                                              "lr",
                                              "weight_decay",
                                              "clipnorm",
                                              "global_clipnorm",
                                              "clipvalue",
                                              "use_ema",
                                              "ema_momentum",
                                              "ema_overwrite_frequency",
                                              "is_legacy_optimizer",
                                              "jit_compile",
                                              NULL};

static bool key_known(const char *key, unsigned fields) {
  for (size_t i = 0; opt_common_keys[i] != NULL; i++)
    if (strcmp(opt_common_keys[i], key) == 0)
      return true;
  static const struct {
    unsigned flag;
    const char *key;
  } own[] = {
      {F_BETAS, "beta_1"},    {F_BETAS, "beta_2"},      {F_EPSILON, "epsilon"},
      {F_AMSGRAD, "amsgrad"}, {F_MOMENTUM, "momentum"}, {F_NESTEROV, "nesterov"},
      {F_RHO, "rho"},         {F_CENTERED, "centered"}, {F_ACCUM, "initial_accumulator_value"}};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if ((fields & own[i].flag) && strcmp(own[i].key, key) == 0)
      return true;
  return false;
}

static dn_optimizer *optimizer_from_json(const cJSON *v, const char *fn, const char *where) {
  const char *cls = NULL;
  const cJSON *cfg = NULL;
  if (cJSON_IsString(v)) {
    cls = v->valuestring;
  } else if (cJSON_IsObject(v) && cJSON_IsString(dn_keras_json_get(v, "class_name"))) {
    cls = dn_keras_json_get(v, "class_name")->valuestring;
    cfg = dn_keras_json_get(v, "config");
    if (cfg != NULL && !cJSON_IsObject(cfg))
      return dn_fail_null(DN_ERR_FORMAT, "%s: %s: the optimizer config is not an object", fn,
                          where);
  } else {
    return dn_fail_null(DN_ERR_FORMAT, "%s: %s: 'optimizer' is not a name or serialized object", fn,
                        where);
  }
  const opt_class *oc = NULL;
  for (size_t i = 0; i < N_OPT && oc == NULL; i++)
    if (strcmp(opt_classes[i].keras, cls) == 0 || strcmp(opt_classes[i].name, cls) == 0)
      oc = &opt_classes[i];
  if (oc == NULL)
    return dn_fail_null(DN_ERR_UNSUPPORTED, "%s: %s: optimizer '%s' is not supported", fn, where,
                        cls);
  const cJSON *item;
  cJSON_ArrayForEach(item, cfg) {
    const char *k = item->string;
    if (key_known(k, oc->fields))
      continue;
    if (dn_keras_json_is_null(item) || cJSON_IsFalse(item) ||
        (strcmp(k, "decay") == 0 && cJSON_IsNumber(item) && item->valuedouble == 0.0))
      continue;
    return dn_fail_null(DN_ERR_UNSUPPORTED, "%s: %s: %s option '%s' is not supported", fn, where,
                        oc->keras, k);
  }
  dn_optimizer_options o = {.name = oc->name};
  bool use_ema = false;
  const char *lr_key = dn_keras_json_get(cfg, "learning_rate") ? "learning_rate" : "lr";
  const cJSON *lr = dn_keras_json_get(cfg, lr_key);
  double *bounds = NULL, *vals = NULL;
  dn_status sst = cJSON_IsObject(lr)
                      ? schedule_from_json(lr, &o.schedule, &bounds, &vals, fn, where)
                      : opt_number(cfg, lr_key, &o.learning_rate, fn, where);
  if (sst != DN_OK || opt_number(cfg, "weight_decay", &o.weight_decay, fn, where) != DN_OK ||
      opt_number(cfg, "clipnorm", &o.clipnorm, fn, where) != DN_OK ||
      opt_number(cfg, "global_clipnorm", &o.global_clipnorm, fn, where) != DN_OK ||
      opt_number(cfg, "clipvalue", &o.clipvalue, fn, where) != DN_OK ||
      opt_number(cfg, "beta_1", &o.beta_1, fn, where) != DN_OK ||
      opt_number(cfg, "beta_2", &o.beta_2, fn, where) != DN_OK ||
      opt_number(cfg, "epsilon", &o.epsilon, fn, where) != DN_OK ||
      opt_number(cfg, "momentum", &o.momentum, fn, where) != DN_OK ||
      opt_number(cfg, "rho", &o.rho, fn, where) != DN_OK ||
      opt_number(cfg, "initial_accumulator_value", &o.initial_accumulator_value, fn, where) !=
          DN_OK ||
      opt_bool(cfg, "amsgrad", &o.amsgrad, fn, where) != DN_OK ||
      opt_bool(cfg, "nesterov", &o.nesterov, fn, where) != DN_OK ||
      opt_bool(cfg, "centered", &o.centered, fn, where) != DN_OK ||
      opt_bool(cfg, "use_ema", &use_ema, fn, where) != DN_OK || use_ema) {
    dn_free(bounds);
    dn_free(vals);
    if (use_ema)
      dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: %s option 'use_ema' is not supported", fn, where,
              oc->keras);
    return NULL;
  }
  /* An explicit clip of 0 is not a clip here (DN_ZERO would read as "set"). */
  if (o.clipnorm == 0.0)
    o.clipnorm = 0.0;
  if (o.clipvalue == 0.0)
    o.clipvalue = 0.0;
  if (o.global_clipnorm == 0.0)
    o.global_clipnorm = 0.0;
  if (o.momentum == 0.0)
    o.momentum = 0.0;
  dn_optimizer *opt = dn_optimizer_with(o); /* copies a piecewise schedule's lists */
  dn_free(bounds);
  dn_free(vals);
  if (opt == NULL) {
    dn_error_context(where);
    dn_error_context(fn);
    /* a value from the file that dn_optimizer_with refuses (e.g. momentum 5) is no bad argument
     * of the caller's: like dn_compile_with's refusals below, the file is not supported */
    if (dn_last_status() == DN_ERR_ARG)
      dn_fail(DN_ERR_UNSUPPORTED, "%s", dn_last_error());
  }
  return opt;
}

static dn_status loss_from_json(const cJSON *v, const char *fn, const char *where,
                                dn_compile_options *o) {
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    /* Keras 3's legacy writer stores string losses as their function path. */
    const char *dot = strrchr(s, '.');
    if (strncmp(s, "keras.", 6) == 0 && dot != NULL)
      s = dot + 1;
    o->loss = s;
    return DN_OK;
  }
  const cJSON *cls = dn_keras_json_get(v, "class_name");
  const cJSON *cfg = dn_keras_json_get(v, "config");
  if (!cJSON_IsString(cls))
    return dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: %s: this 'loss' is not supported (only one loss by name or class)", fn,
                   where);
  const loss_class *lc = NULL;
  for (size_t i = 0; i < N_LOSS && lc == NULL; i++)
    if (strcmp(loss_classes[i].keras, cls->valuestring) == 0)
      lc = &loss_classes[i];
  if (lc == NULL)
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: loss class '%s' is not supported", fn, where,
                   cls->valuestring);
  o->loss = lc->name;
  const cJSON *item;
  cJSON_ArrayForEach(item, cfg) {
    const char *k = item->string;
    if (strcmp(k, "name") == 0 || strcmp(k, "dtype") == 0 || dn_keras_json_is_null(item))
      continue;
    if (strcmp(k, "reduction") == 0 && cJSON_IsString(item) &&
        (strcmp(item->valuestring, "sum_over_batch_size") == 0 ||
         strcmp(item->valuestring, "auto") == 0))
      continue;
    if (strcmp(k, "axis") == 0 && cJSON_IsNumber(item) && item->valuedouble == -1.0)
      continue;
    if (strcmp(k, "from_logits") == 0 && cJSON_IsBool(item)) {
      o->from_logits = cJSON_IsTrue(item);
      continue;
    }
    if ((strcmp(k, "label_smoothing") == 0 || strcmp(k, "delta") == 0) && cJSON_IsNumber(item) &&
        isfinite(item->valuedouble)) {
      if (k[0] == 'l')
        o->label_smoothing = item->valuedouble;
      else
        o->huber_delta = dn_option_exact(item->valuedouble);
      continue;
    }
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: %s option '%s' is not supported", fn, where,
                   lc->keras, k);
  }
  return DN_OK;
}

#define DN_KERAS_MAX_METRICS 16

/* A serialized Keras metric object ({"class_name": "AUC", "config": {"curve": "PR", "name":
 * "pr_auc", ...}}) as the library's spec "AUC(curve=PR, name=pr_auc)" in spec: the config's
 * numbers, strings and true values become arguments; null, false and a dtype are Keras's
 * defaults and left out; a one-element list is its element (Precision's thresholds). Whatever
 * the library's metric does not take is DN_ERR_UNSUPPORTED naming it. */
static dn_status metric_from_json(const cJSON *m, char spec[DN_TRAIN_NAME_CAP], const char *fn,
                                  const char *where, int index) {
  const cJSON *cls = dn_keras_json_get(m, "class_name"), *cfg = dn_keras_json_get(m, "config");
  if (!cJSON_IsString(cls) || !cJSON_IsObject(cfg))
    return dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: %s: metric %d is neither a name nor a Keras metric object", fn, where,
                   index);
  size_t len = (size_t)snprintf(spec, DN_TRAIN_NAME_CAP, "%s(", cls->valuestring);
  bool first = true;
  for (const cJSON *e = cfg->child; e != NULL && len < DN_TRAIN_NAME_CAP; e = e->next) {
    const cJSON *v = e;
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
      v = cJSON_GetArrayItem(v, 0);
    char value[64];
    if (strcmp(e->string, "dtype") == 0 || cJSON_IsNull(v) || cJSON_IsFalse(v))
      continue;
    if (cJSON_IsTrue(v))
      snprintf(value, sizeof value, "True");
    else if (cJSON_IsNumber(v))
      snprintf(value, sizeof value, "%.17g", v->valuedouble);
    else if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof value &&
             strpbrk(v->valuestring, ",)'\"") == NULL)
      snprintf(value, sizeof value, "%s", v->valuestring);
    else
      return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: metric %d (%s): its '%s' is not supported", fn,
                     where, index, cls->valuestring, e->string);
    len += (size_t)snprintf(spec + len, DN_TRAIN_NAME_CAP - len, "%s%s=%s", first ? "" : ", ",
                            e->string, value);
    first = false;
  }
  if (len + 2 > DN_TRAIN_NAME_CAP)
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: metric %d (%s): its config is too long", fn, where,
                   index, cls->valuestring);
  memcpy(spec + len, ")", 2);
  if (dn_metric_check_name(spec) != DN_OK)
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: metric %d: %s", fn, where, index, dn_last_error());
  return DN_OK;
}

/* One "key=value" of a spec into a Keras metric config: numbers as numbers, True/False as
 * booleans, None as null, the rest as strings (Keras's constructors take these types). */
static dn_status metric_arg_to_json(void *ctx, const char *key, const char *value) {
  cJSON *cfg = ctx, *item;
  char *end = NULL;
  double d = strtod(value, &end);
  if (strcmp(value, "True") == 0 || strcmp(value, "true") == 0)
    item = cJSON_CreateTrue();
  else if (strcmp(value, "False") == 0 || strcmp(value, "false") == 0)
    item = cJSON_CreateFalse();
  else if (strcmp(value, "None") == 0 || strcmp(value, "none") == 0)
    item = cJSON_CreateNull();
  else if (end != value && *end == '\0')
    item = cJSON_CreateNumber(d);
  else
    item = cJSON_CreateString(value);
  return dn_keras_json_add(cfg, key, item) ? DN_OK : DN_ERR_NOMEM;
}

/* A metric for compile_config: its name as given, or, with arguments, Keras's serialized
 * object ({"module": "keras.metrics", "class_name": "AUC", "config": {...}}), which Keras's
 * deserialize_keras_object turns back into AUC(curve="PR", ...). */
static cJSON *metric_to_json(const char *spec) {
  const char *cls = strchr(spec, '(') ? dn_metric_class_name(spec) : NULL;
  if (cls == NULL)
    return cJSON_CreateString(spec);
  cJSON *obj = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
  char name[DN_TRAIN_NAME_CAP];
  dn_metric_log_name(spec, name, sizeof name);
  bool ok = obj != NULL && cfg != NULL && cJSON_AddStringToObject(obj, "module", "keras.metrics") &&
            cJSON_AddStringToObject(obj, "class_name", cls) &&
            cJSON_AddStringToObject(cfg, "dtype", "float32") &&
            dn_metric_spec_args(spec, metric_arg_to_json, cfg) == DN_OK;
  /* the name it is logged under, unless the spec's name= put it there */
  if (ok && cJSON_GetObjectItemCaseSensitive(cfg, "name") == NULL)
    ok = cJSON_AddStringToObject(cfg, "name", name) != NULL;
  if (ok && dn_keras_json_add(obj, "config", cfg) && cJSON_AddNullToObject(obj, "registered_name"))
    return obj;
  if (!ok)
    cJSON_Delete(cfg);
  cJSON_Delete(obj);
  return NULL;
}

dn_status dn_keras_compile_from_json(dn_model *model, const cJSON *optimizer, const cJSON *loss,
                                     const cJSON *metrics, const char *fn, const char *where) {
  if (dn_keras_json_is_null(loss))
    return DN_OK; /* compiled without a loss: nothing we can compile */
  dn_compile_options o = {.model = model};
  dn_status st = loss_from_json(loss, fn, where, &o);
  if (st != DN_OK)
    return st;
  const char *names[DN_KERAS_MAX_METRICS + 1] = {0};
  char specs[DN_KERAS_MAX_METRICS][DN_TRAIN_NAME_CAP];
  if (!dn_keras_json_is_null(metrics)) {
    if (!cJSON_IsArray(metrics))
      return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: 'metrics' must be a list of names", fn, where);
    int n = cJSON_GetArraySize(metrics);
    if (n > DN_KERAS_MAX_METRICS)
      return dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: %d metrics (at most %d)", fn, where, n,
                     DN_KERAS_MAX_METRICS);
    for (int i = 0; i < n; i++) {
      const cJSON *m = cJSON_GetArrayItem(metrics, i);
      if (cJSON_IsString(m)) {
        names[i] = m->valuestring;
        continue;
      }
      if ((st = metric_from_json(m, specs[i], fn, where, i)) != DN_OK)
        return st;
      names[i] = specs[i];
    }
    o.metrics = names;
  }
  if (dn_keras_json_is_null(optimizer)) {
    o.optimizer = "rmsprop";
  } else {
    o.optimizer_object = optimizer_from_json(optimizer, fn, where);
    if (o.optimizer_object == NULL)
      return dn_last_status();
  }
  st = dn_compile_with(o); /* owns optimizer_object from here on */
  if (st != DN_OK) {
    dn_error_context(where);
    dn_error_context(fn);
    if (st == DN_ERR_ARG)
      st = dn_fail(DN_ERR_UNSUPPORTED, "%s", dn_last_error());
  }
  return st;
}

/* ---- writing ------------------------------------------------------------------------------ */

static void add_opt_value(cJSON *cfg, const char *key, double v) {
  cJSON_AddNumberToObject(cfg, key, v);
}

static void add_null_or(cJSON *cfg, const char *key, double v) {
  if (v == 0.0)
    cJSON_AddNullToObject(cfg, key);
  else
    cJSON_AddNumberToObject(cfg, key, v);
}

cJSON *dn_keras_compile_to_json(const dn_model *model, const char *fn) {
  const struct dn_train *t = model->train;
  const dn_optimizer *opt = t->optimizer;
  const dn_optimizer_options *r = &opt->options;
  const opt_class *oc = NULL;
  for (size_t i = 0; i < N_OPT && oc == NULL; i++)
    if (strcmp(opt_classes[i].name, opt->name) == 0)
      oc = &opt_classes[i];
  if (oc == NULL)
    return dn_fail_null(DN_ERR_UNSUPPORTED, "%s: optimizer '%s' has no Keras class", fn, opt->name);
  cJSON *cfg = cJSON_CreateObject(), *cc = cJSON_CreateObject(), *oj = cJSON_CreateObject();
  if (cfg == NULL || cc == NULL || oj == NULL) {
    cJSON_Delete(cfg);
    cJSON_Delete(cc);
    cJSON_Delete(oj);
    return dn_fail_null(DN_ERR_NOMEM, "%s: out of memory writing compile_config", fn);
  }
  cJSON_AddStringToObject(cfg, "name", opt->name);
  if (r->schedule.kind != DN_SCHEDULE_CONSTANT) /* the serialized schedule */
    dn_keras_json_add(cfg, "learning_rate", schedule_to_json(&r->schedule));
  else /* Keras keeps the rate in a float32 variable and reports that value. */
    add_opt_value(cfg, "learning_rate", (double)(float)opt->learning_rate);
  add_null_or(cfg, "weight_decay", r->weight_decay);
  add_null_or(cfg, "clipnorm", r->clipnorm);
  add_null_or(cfg, "global_clipnorm", r->global_clipnorm);
  add_null_or(cfg, "clipvalue", r->clipvalue);
  cJSON_AddFalseToObject(cfg, "use_ema");
  add_opt_value(cfg, "ema_momentum", 0.99);
  cJSON_AddNullToObject(cfg, "ema_overwrite_frequency");
  cJSON_AddNullToObject(cfg, "loss_scale_factor");
  cJSON_AddNullToObject(cfg, "gradient_accumulation_steps");
  unsigned f = oc->fields;
  if (f & F_ACCUM)
    add_opt_value(cfg, "initial_accumulator_value", r->initial_accumulator_value);
  if (f & F_RHO)
    add_opt_value(cfg, "rho", r->rho);
  if (f & F_MOMENTUM)
    add_opt_value(cfg, "momentum", r->momentum);
  if (f & F_NESTEROV)
    cJSON_AddBoolToObject(cfg, "nesterov", r->nesterov);
  if (f & F_BETAS) {
    add_opt_value(cfg, "beta_1", r->beta_1);
    add_opt_value(cfg, "beta_2", r->beta_2);
  }
  if (f & F_EPSILON)
    add_opt_value(cfg, "epsilon", r->epsilon);
  if (f & F_CENTERED)
    cJSON_AddBoolToObject(cfg, "centered", r->centered);
  if (f & F_AMSGRAD)
    cJSON_AddBoolToObject(cfg, "amsgrad", r->amsgrad);
  cJSON_AddStringToObject(oj, "module", "keras.optimizers");
  cJSON_AddStringToObject(oj, "class_name", oc->keras);
  dn_keras_json_add(oj, "config", cfg);
  cJSON_AddNullToObject(oj, "registered_name");
  dn_keras_json_add(cc, "optimizer", oj);

  const dn_loss_params *lp = &t->loss_params;
  double delta = dn_option_or_default(lp->huber_delta, 1.0);
  bool plain = !lp->from_logits && lp->label_smoothing == 0.0 && delta == 1.0;
  const loss_class *lc = NULL;
  for (size_t i = 0; i < N_LOSS && lc == NULL; i++)
    if (strcmp(loss_classes[i].name, t->loss->name) == 0)
      lc = &loss_classes[i];
  if (plain || lc == NULL) {
    cJSON_AddStringToObject(cc, "loss", t->loss->name);
  } else {
    cJSON *lcfg = cJSON_CreateObject(), *lj = cJSON_CreateObject();
    if (lcfg != NULL && lj != NULL) {
      cJSON_AddStringToObject(lcfg, "name", t->loss->name);
      cJSON_AddStringToObject(lcfg, "reduction", "sum_over_batch_size");
      if (strcmp(lc->name, "huber") == 0)
        add_opt_value(lcfg, "delta", delta);
      else {
        cJSON_AddBoolToObject(lcfg, "from_logits", lp->from_logits);
        if (lp->label_smoothing != 0.0)
          add_opt_value(lcfg, "label_smoothing", lp->label_smoothing);
      }
      cJSON_AddStringToObject(lj, "module", "keras.losses");
      cJSON_AddStringToObject(lj, "class_name", lc->keras);
      dn_keras_json_add(lj, "config", lcfg);
      cJSON_AddNullToObject(lj, "registered_name");
      dn_keras_json_add(cc, "loss", lj);
    } else {
      cJSON_Delete(lcfg);
      cJSON_Delete(lj);
    }
  }
  cJSON_AddNullToObject(cc, "loss_weights");
  if (t->n_metrics == 0) {
    cJSON_AddNullToObject(cc, "metrics");
  } else {
    cJSON *m = cJSON_CreateArray();
    for (size_t i = 0; m != NULL && i < t->n_metrics; i++) {
      cJSON *item = metric_to_json(t->metric_req[i]); /* NULL only when out of memory, which
                                                          the allocator hook reports */
      if (item != NULL && !cJSON_AddItemToArray(m, item))
        cJSON_Delete(item);
    }
    dn_keras_json_add(cc, "metrics", m);
  }
  cJSON_AddNullToObject(cc, "weighted_metrics");
  cJSON_AddFalseToObject(cc, "run_eagerly");
  cJSON_AddNumberToObject(cc, "steps_per_execution", 1);
  cJSON_AddTrueToObject(cc, "jit_compile");
  return cc;
}
