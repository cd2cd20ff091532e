/* model_file_write.c -- encoding a model (or its weights) into the native file's bytes
 * (docs/model-format.md), and dn_model_save / dn_model_save_weights, which write them through
 * the crash-safe writer (io/file.h). Every number is written byte by byte, little-endian,
 * whatever the host; the file is measured in a first pass and written in a second.
 */
#include <string.h>

#include "core/alloc.h"
#include "io/model_file.h"
#include "training/optimizer.h"
#include "model/sequential.h"
#include "core/status.h"
#include "training/train.h"

/* A byte sink: with buf == NULL it only counts. */
typedef struct writer {
  uint8_t *buf;
  size_t pos;
} writer;

static void put_bytes(writer *w, const void *src, size_t n) {
  if (w->buf != NULL && n > 0)
    memcpy(w->buf + w->pos, src, n);
  w->pos += n;
}

static void put_uint(writer *w, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) {
    if (w->buf != NULL)
      w->buf[w->pos] = (uint8_t)(v >> (8 * i));
    w->pos++;
  }
}

static void put_u8(writer *w, unsigned v) {
  put_uint(w, v, 1);
}
static void put_u16(writer *w, size_t v) {
  put_uint(w, v, 2);
}
static void put_u32(writer *w, uint64_t v) {
  put_uint(w, v, 4);
}
static void put_u64(writer *w, uint64_t v) {
  put_uint(w, v, 8);
}

static void put_f64(writer *w, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  put_u64(w, bits);
}

static void put_f32s(writer *w, const float *v, size_t n) {
  if (w->buf != NULL)
    for (size_t i = 0; i < n; i++) {
      uint32_t bits;
      memcpy(&bits, &v[i], sizeof bits);
      uint8_t *p = w->buf + w->pos + 4 * i;
      p[0] = (uint8_t)bits;
      p[1] = (uint8_t)(bits >> 8);
      p[2] = (uint8_t)(bits >> 16);
      p[3] = (uint8_t)(bits >> 24);
    }
  w->pos += 4 * n;
}

/* Strings are checked by the caller to hold at most DN_MF_STR_MAX bytes. */
static void put_str(writer *w, const char *s) {
  size_t n = s ? strlen(s) : 0;
  put_u16(w, n);
  put_bytes(w, s, n);
}

/* Starts a section: tag and a length placeholder; returns where the length goes. */
static size_t begin_section(writer *w, const char tag[4]) {
  put_bytes(w, tag, 4);
  size_t at = w->pos;
  put_u64(w, 0);
  return at;
}

static void end_section(writer *w, size_t at) {
  if (w->buf != NULL) {
    writer patch = {w->buf, at};
    put_u64(&patch, (uint64_t)(w->pos - at - 8));
  }
}

/* Copies a string into a record field; false if it is too long for the format. */
static bool set_str(char dst[DN_MF_STR_MAX + 1], const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n > DN_MF_STR_MAX)
    return false;
  if (n > 0)
    memcpy(dst, src, n);
  dst[n] = '\0';
  return true;
}

/* A record: u16 entry count, then per entry u8 type, key, value (the table's entries that
 * have a field bit in `selected`, in table order). */
static void put_record(writer *w, const dn_mf_key *keys, size_t n_keys, unsigned selected,
                       const void *fields) {
  const char *base = fields;
  size_t count = 0;
  for (size_t i = 0; i < n_keys; i++)
    count += (keys[i].field & selected) != 0;
  put_u16(w, count);
  for (size_t i = 0; i < n_keys; i++) {
    const dn_mf_key *k = &keys[i];
    if (!(k->field & selected))
      continue;
    const char *p = base + k->offset;
    put_u8(w, (unsigned)k->type);
    put_str(w, k->key);
    switch (k->type) {
    case DN_MF_T_U64: {
      uint64_t v;
      memcpy(&v, p, sizeof v);
      put_u64(w, v);
      break;
    }
    case DN_MF_T_F64: {
      double v;
      memcpy(&v, p, sizeof v);
      put_f64(w, v);
      break;
    }
    case DN_MF_T_BOOL: {
      bool v;
      memcpy(&v, p, sizeof v);
      put_u8(w, v ? 1u : 0u);
      break;
    }
    case DN_MF_T_STR: put_str(w, p); break;
    case DN_MF_T_F64_ARRAY: {
      dn_mf_array a;
      memcpy(&a, p, sizeof a);
      put_u32(w, a.count);
      for (size_t j = 0; j < a.count; j++)
        put_f64(w, ((const double *)a.src)[j]);
      break;
    }
    case DN_MF_T_STR_ARRAY: {
      dn_mf_array a;
      memcpy(&a, p, sizeof a);
      put_u32(w, a.count);
      for (size_t j = 0; j < a.count; j++)
        put_str(w, ((const char *const *)a.src)[j]);
      break;
    }
    default: break;
    }
  }
}

static dn_status layer_fields(const dn_layer *layer, dn_mf_layer_fields *f, const char *fn) {
  dn_layer_config c;
  dn_layer_get_config(layer, &c);
  *f = (dn_mf_layer_fields){0};
  if (!set_str(f->name, c.name) || !set_str(f->activation, c.activation) ||
      !set_str(f->kernel_initializer, c.kernel_initializer) ||
      !set_str(f->bias_initializer, c.bias_initializer))
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: layer '%s' has a name longer than %d bytes", fn,
                   layer->name, DN_MF_STR_MAX);
  f->input_dim = c.input_dim;
  f->units = c.units;
  f->kernel_value = c.kernel_init.value;
  f->kernel_minval = c.kernel_init.minval;
  f->kernel_maxval = c.kernel_init.maxval;
  f->kernel_mean = c.kernel_init.mean;
  f->kernel_stddev = c.kernel_init.stddev;
  f->bias_value = c.bias_init.value;
  f->bias_minval = c.bias_init.minval;
  f->bias_maxval = c.bias_init.maxval;
  f->bias_mean = c.bias_init.mean;
  f->bias_stddev = c.bias_init.stddev;
  f->kernel_l1 = c.kernel_l1;
  f->kernel_l2 = c.kernel_l2;
  f->bias_l1 = c.bias_l1;
  f->bias_l2 = c.bias_l2;
  f->rate = c.rate;
  f->momentum = c.momentum;
  f->epsilon = c.epsilon;
  f->use_bias = c.use_bias;
  f->center = c.center;
  f->scale = c.scale;
  f->invert = c.invert;
  f->trainable = !layer->frozen;
  return DN_OK;
}

static dn_status compile_fields(const struct dn_train *t, dn_mf_compile_fields *f,
                                const char **metric_names, const char *fn) {
  const dn_optimizer *opt = t->optimizer;
  const dn_optimizer_options *o = &opt->options;
  *f = (dn_mf_compile_fields){0};
  set_str(f->loss, t->loss->name);
  f->huber_delta = t->loss_params.huber_delta;
  f->from_logits = t->loss_params.from_logits;
  f->label_smoothing = t->loss_params.label_smoothing;
  for (size_t i = 0; i < t->n_metrics; i++)
    metric_names[i] = t->metric_req[i];
  f->metrics = (dn_mf_array){.count = t->n_metrics, .src = metric_names};
  set_str(f->optimizer, opt->name);
  f->learning_rate = o->learning_rate;
  f->beta_1 = o->beta_1;
  f->beta_2 = o->beta_2;
  f->epsilon = o->epsilon;
  f->momentum = o->momentum;
  f->rho = o->rho;
  f->initial_accumulator_value = o->initial_accumulator_value;
  f->weight_decay = o->weight_decay;
  f->clipnorm = o->clipnorm;
  f->clipvalue = o->clipvalue;
  f->global_clipnorm = o->global_clipnorm;
  f->amsgrad = o->amsgrad;
  f->nesterov = o->nesterov;
  f->centered = o->centered;
  const dn_schedule *s = &o->schedule;
  const char *sname = dn_mf_schedule_name(s->kind);
  if (sname == NULL)
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: unknown learning-rate schedule kind %d", fn,
                   (int)s->kind);
  set_str(f->schedule, sname);
  f->initial_learning_rate = s->initial_learning_rate;
  f->decay_steps = s->decay_steps;
  f->decay_rate = s->decay_rate;
  f->staircase = s->staircase;
  f->alpha = s->alpha;
  f->warmup_target = s->warmup_target;
  f->warmup_steps = s->warmup_steps;
  size_t nb = s->kind == DN_SCHEDULE_PIECEWISE_CONSTANT ? s->n_boundaries : 0;
  f->boundaries = (dn_mf_array){.count = nb, .src = s->boundaries};
  f->values = (dn_mf_array){.count = nb ? nb + 1 : 0, .src = s->values};
  return DN_OK;
}

/* The WGHT section body: per layer its class, name and variables with their floats. */
static void put_weights(writer *w, const dn_model *model) {
  put_u32(w, model->n_layers);
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    put_str(w, l->ops->type);
    put_str(w, l->name);
    size_t n_vars = l->built ? l->n_vars : 0;
    put_u16(w, n_vars);
    for (size_t k = 0; k < n_vars; k++) {
      const dn_var *v = &l->vars[k];
      put_str(w, v->name);
      put_u64(w, v->rows);
      put_u64(w, v->cols);
      put_u8(w, v->trainable ? 1u : 0u);
      put_f32s(w, l->params + v->offset, v->size);
    }
  }
}

static void put_rng(writer *w, const dn_rng *r) {
  for (int i = 0; i < 4; i++)
    put_u64(w, r->s[i]);
}

/* One pass over the model: sizes only when w->buf is NULL. */
static void put_file(writer *w, const dn_model *model, int kind, bool include_optimizer,
                     const dn_mf_layer_fields *fields, const dn_mf_compile_fields *cf) {
  const struct dn_train *t = model->train;
  bool comp = kind == DN_MF_KIND_MODEL && t != NULL;
  const dn_optimizer *opt = comp ? t->optimizer : NULL;
  bool state = comp && include_optimizer;
  unsigned sections = kind == DN_MF_KIND_MODEL ? 3u + comp + state : 1u;

  /* Version 2 only when a flag needs it: every other file stays readable by older readers. */
  bool frozen = kind == DN_MF_KIND_MODEL && model->frozen;
  for (size_t i = 0; kind == DN_MF_KIND_MODEL && i < model->n_layers; i++)
    frozen = frozen || model->layers[i]->frozen;
  put_bytes(w, DN_MF_MAGIC, DN_MF_MAGIC_LEN);
  put_u16(w, frozen ? DN_MF_VERSION : DN_MF_VERSION_PLAIN);
  put_u16(w, (size_t)kind);
  put_u32(w, sections);
  size_t length_at = w->pos;
  put_u64(w, 0);

  if (kind == DN_MF_KIND_MODEL) {
    size_t at = begin_section(w, "ARCH");
    put_u32(w, model->n_layers);
    if (frozen)
      put_u8(w, model->frozen ? 0u : 1u); /* the model's trainable */
    for (size_t i = 0; i < model->n_layers; i++) {
      const char *type = model->layers[i]->ops->type;
      unsigned keys = dn_mf_layer_keys_of(type);
      put_str(w, type);
      put_record(w, dn_mf_layer_keys, dn_mf_n_layer_keys,
                 keys | (model->layers[i]->frozen ? DN_MF_FIELD_TRAINABLE : 0u), &fields[i]);
    }
    end_section(w, at);
  }
  size_t at = begin_section(w, "WGHT");
  put_weights(w, model);
  end_section(w, at);
  if (kind == DN_MF_KIND_MODEL) {
    at = begin_section(w, "RNGS");
    put_u64(w, model->seed);
    put_rng(w, &model->rng_init);
    put_rng(w, &model->rng_shuffle);
    put_rng(w, &model->rng_dropout);
    end_section(w, at);
  }
  if (comp) {
    at = begin_section(w, "COMP");
    put_record(w, dn_mf_compile_keys, dn_mf_n_compile_keys, 1u, cf);
    end_section(w, at);
  }
  if (state) {
    /* Slots sized for another parameter count would be reset by the next step anyway. An
     * optimizer without slots (plain SGD) still records the parameter count it was prepared
     * for, or the next step would reset its iterations. */
    bool has_slots = opt->n_params == model->n_params && (opt->slots != NULL || opt->n_slots == 0);
    size_t n_params = has_slots ? opt->n_params : 0;
    at = begin_section(w, "OPTS");
    put_u64(w, opt->iterations);
    put_f64(w, opt->learning_rate);
    put_f64(w, opt->nadam_u_product);
    put_u32(w, opt->n_slots);
    put_u64(w, n_params);
    if (has_slots)
      put_f32s(w, opt->slots, opt->n_slots * n_params);
    end_section(w, at);
  }
  if (w->buf != NULL) {
    writer patch = {w->buf, length_at};
    put_u64(&patch, (uint64_t)(w->pos + DN_MF_CRC_LEN));
    put_u32(w, dn_crc32(0, w->buf, w->pos));
  } else {
    w->pos += DN_MF_CRC_LEN;
  }
}

dn_status dn_mf_encode(const dn_model *model, int kind, bool include_optimizer, const char *fn,
                       uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (model->n_layers > DN_MF_MAX_LAYERS)
    return dn_fail(DN_ERR_UNSUPPORTED,
                   "%s: the model has %zu layers; the file format holds at "
                   "most %d",
                   fn, model->n_layers, DN_MF_MAX_LAYERS);
  const struct dn_train *t = kind == DN_MF_KIND_MODEL ? model->train : NULL;
  if (t != NULL && t->n_metrics > DN_MF_MAX_METRICS)
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: %zu metrics; the file format holds at most %d", fn,
                   t->n_metrics, DN_MF_MAX_METRICS);
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    for (size_t k = 0; l->built && k < l->n_vars; k++)
      if (strlen(l->vars[k].name) > DN_MF_STR_MAX)
        return dn_fail(DN_ERR_UNSUPPORTED, "%s: variable name too long", fn);
    if (strlen(l->name) > DN_MF_STR_MAX)
      return dn_fail(DN_ERR_UNSUPPORTED, "%s: layer name '%s' longer than %d bytes", fn, l->name,
                     DN_MF_STR_MAX);
  }
  dn_mf_layer_fields *fields = NULL;
  const char *metric_names[DN_MF_MAX_METRICS];
  dn_mf_compile_fields cf = {0};
  dn_status st = DN_OK;
  if (kind == DN_MF_KIND_MODEL) {
    fields = dn_calloc(model->n_layers ? model->n_layers : 1, sizeof *fields);
    if (fields == NULL)
      return DN_ERR_NOMEM;
    for (size_t i = 0; st == DN_OK && i < model->n_layers; i++)
      st = layer_fields(model->layers[i], &fields[i], fn);
    if (st == DN_OK && t != NULL)
      st = compile_fields(t, &cf, metric_names, fn);
    for (size_t i = 0; st == DN_OK && t != NULL && i < t->n_metrics; i++)
      if (strlen(metric_names[i]) > DN_MF_STR_MAX)
        st = dn_fail(DN_ERR_UNSUPPORTED, "%s: metric name too long", fn);
  }
  if (st == DN_OK) {
    writer measure = {NULL, 0};
    put_file(&measure, model, kind, include_optimizer, fields, &cf);
    uint8_t *buf = dn_alloc(measure.pos);
    if (buf == NULL) {
      st = DN_ERR_NOMEM;
    } else {
      writer w = {buf, 0};
      put_file(&w, model, kind, include_optimizer, fields, &cf);
      *out = buf;
      *len = w.pos;
    }
  }
  dn_free(fields);
  return st;
}

/* ---- saving ------------------------------------------------------------------------------- */

static dn_status save_kind(const dn_model *model, const char *path, int kind, bool optimizer,
                           const char *fn) {
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "path");
  if (path[0] == '\0')
    return dn_fail(DN_ERR_ARG, "%s: path is empty", fn);
  uint8_t *buf = NULL;
  size_t len = 0;
  dn_status st = dn_mf_encode(model, kind, optimizer, fn, &buf, &len);
  if (st == DN_OK)
    st = dn_file_write_atomic(path, buf, len, fn);
  dn_free(buf);
  return st;
}

dn_status dn_model_save_ex(const dn_model *model, const char *path, bool include_optimizer) {
  return save_kind(model, path, DN_MF_KIND_MODEL, include_optimizer, "dn_model_save");
}

dn_status dn_model_save(const dn_model *model, const char *path) {
  return save_kind(model, path, DN_MF_KIND_MODEL, true, "dn_model_save");
}

dn_status dn_model_save_weights(const dn_model *model, const char *path) {
  return save_kind(model, path, DN_MF_KIND_WEIGHTS, false, "dn_model_save_weights");
}
