/* model_file_read.c -- decoding the native model file (docs/model-format.md) from memory, and
 * dn_model_load / dn_model_load_weights, which read the file whole (io/file.h) and decode it,
 * treating every byte as untrusted: each read is bounds-checked against its section, every
 * count is checked against the bytes left before anything is allocated for it, a layer's
 * parameter count is checked against the weights the file holds before the layer allocates
 * them, and the model is built fresh and handed out only when everything succeeded.
 * Failures are DN_ERR_FORMAT with what was wrong and its byte offset.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/options.h"
#include "io/model_file.h"
#include "training/optimizer.h"
#include "model/sequential.h"
#include "core/status.h"
#include "layers/registry.h"
#include "training/train.h"

/* A bounds-checked cursor over one section of the buffer; the first failure sticks. */
typedef struct reader {
  const uint8_t *buf;
  size_t pos, end;
  const char *fn, *name, *section;
  dn_status st;
  size_t version; /* the file's format version */
} reader;

static void rd_fail_status(reader *r, dn_status status, size_t at, const char *fmt, ...)
    DN_PRINTF(4, 5);
static void rd_fail_status(reader *r, dn_status status, size_t at, const char *fmt, ...) {
  if (r->st != DN_OK)
    return;
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  r->st = dn_fail(status, "%s: '%s': byte offset %zu: %s", r->fn, r->name, at, what);
}

#define rd_fail(r, at, ...) rd_fail_status((r), DN_ERR_FORMAT, (at), __VA_ARGS__)

/* A library call made while decoding failed: keep its message (and NOMEM) as the reason. */
static void rd_fail_call(reader *r, size_t at, const char *context) {
  char saved[256];
  snprintf(saved, sizeof saved, "%s", dn_last_error());
  dn_status s = dn_last_status() == DN_ERR_NOMEM ? DN_ERR_NOMEM : DN_ERR_FORMAT;
  rd_fail_status(r, s, at, "%s: %s", context, saved);
}

static bool need(reader *r, size_t n, const char *what) {
  if (r->st != DN_OK)
    return false;
  if (n > r->end - r->pos) {
    rd_fail(r, r->pos, "%s needs %zu bytes but section '%s' has %zu left (it ends at byte %zu)",
            what, n, r->section, r->end - r->pos, r->end);
    return false;
  }
  return true;
}

static uint64_t get_uint(reader *r, int bytes, const char *what) {
  if (!need(r, (size_t)bytes, what))
    return 0;
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (uint64_t)r->buf[r->pos + (size_t)i] << (8 * i);
  r->pos += (size_t)bytes;
  return v;
}

static unsigned get_u8(reader *r, const char *what) {
  return (unsigned)get_uint(r, 1, what);
}
static size_t get_u16(reader *r, const char *what) {
  return (size_t)get_uint(r, 2, what);
}
static size_t get_u32(reader *r, const char *what) {
  return (size_t)get_uint(r, 4, what);
}
static uint64_t get_u64(reader *r, const char *what) {
  return get_uint(r, 8, what);
}

static double get_f64(reader *r, const char *what) {
  uint64_t bits = get_u64(r, what);
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

static bool get_bool(reader *r, const char *what) {
  size_t at = r->pos;
  unsigned v = get_u8(r, what);
  if (v > 1)
    rd_fail(r, at, "%s must be 0 or 1, not %u", what, v);
  return v == 1;
}

/* A string of at most DN_MF_STR_MAX bytes without NUL, into dst (or skipped if dst NULL). */
static void get_str(reader *r, char *dst, const char *what) {
  size_t at = r->pos;
  size_t n = get_u16(r, what);
  if (r->st == DN_OK && n > DN_MF_STR_MAX)
    rd_fail(r, at, "%s is %zu bytes long; at most %d are allowed", what, n, DN_MF_STR_MAX);
  if (!need(r, n, what))
    return;
  if (memchr(r->buf + r->pos, '\0', n) != NULL) {
    rd_fail(r, r->pos, "%s contains a NUL byte", what);
    return;
  }
  if (dst != NULL) {
    memcpy(dst, r->buf + r->pos, n);
    dst[n] = '\0';
  }
  r->pos += n;
}

/* Skips n floats (checked against the section) and returns where they start. */
static size_t skip_floats(reader *r, uint64_t n, const char *what) {
  size_t at = r->pos;
  if (r->st != DN_OK)
    return at;
  if (n > (r->end - r->pos) / 4) {
    rd_fail(r, at, "%s: %llu floats (%llu bytes) do not fit in the %zu bytes left of section '%s'",
            what, (unsigned long long)n, (unsigned long long)n * 4ull, r->end - r->pos, r->section);
    return at;
  }
  r->pos += (size_t)n * 4;
  return at;
}

static void copy_floats(float *dst, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                    (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
    memcpy(&dst[i], &bits, sizeof bits);
  }
}

/* ---- records ------------------------------------------------------------------------------ */

static const char *type_name(unsigned type) {
  static const char *names[] = {"?", "u64", "f64", "bool", "string", "f64 array", "string array"};
  return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

/* Reads a record into `fields`: every key whose field bit is in `selected` exactly once,
 * nothing else. */
static void get_record(reader *r, const dn_mf_key *keys, size_t n_keys, unsigned selected,
                       unsigned optional, void *fields, const char *what) {
  char *base = fields;
  uint64_t seen = 0; /* tables have at most 64 keys */
  size_t count = get_u16(r, "record entry count");
  for (size_t e = 0; e < count && r->st == DN_OK; e++) {
    size_t at = r->pos;
    unsigned type = get_u8(r, "entry type");
    char key[DN_MF_STR_MAX + 1] = "";
    get_str(r, key, "entry key");
    if (r->st != DN_OK)
      return;
    size_t i = 0;
    while (i < n_keys && strcmp(keys[i].key, key) != 0)
      i++;
    if (i == n_keys || !(keys[i].field & selected)) {
      rd_fail(r, at, "%s: unknown key '%s'", what, key);
      return;
    }
    const dn_mf_key *k = &keys[i];
    if (seen & (1ull << i)) {
      rd_fail(r, at, "%s: key '%s' appears twice", what, key);
      return;
    }
    seen |= 1ull << i;
    if ((int)type != k->type) {
      rd_fail(r, at, "%s: key '%s' holds a %s (type %u), expected a %s", what, key, type_name(type),
              type, type_name((unsigned)k->type));
      return;
    }
    char *p = base + k->offset;
    switch (k->type) {
    case DN_MF_T_U64: {
      uint64_t v = get_u64(r, key);
      memcpy(p, &v, sizeof v);
      break;
    }
    case DN_MF_T_F64: {
      double v = get_f64(r, key);
      memcpy(p, &v, sizeof v);
      break;
    }
    case DN_MF_T_BOOL: {
      bool v = get_bool(r, key);
      memcpy(p, &v, sizeof v);
      break;
    }
    case DN_MF_T_STR: get_str(r, p, key); break;
    case DN_MF_T_F64_ARRAY: {
      dn_mf_array a = {.count = get_u32(r, key)};
      if (r->st == DN_OK && a.count > (r->end - r->pos) / 8)
        rd_fail(r, r->pos, "%s: '%s' claims %zu numbers but section '%s' has %zu bytes left", what,
                key, a.count, r->section, r->end - r->pos);
      a.pos = r->pos;
      if (r->st == DN_OK)
        r->pos += a.count * 8;
      memcpy(p, &a, sizeof a);
      break;
    }
    case DN_MF_T_STR_ARRAY: {
      size_t cat = r->pos;
      dn_mf_array a = {.count = get_u32(r, key)};
      if (r->st == DN_OK && a.count > DN_MF_MAX_METRICS)
        rd_fail(r, cat, "%s: '%s' has %zu names; at most %d are allowed", what, key, a.count,
                DN_MF_MAX_METRICS);
      a.pos = r->pos;
      for (size_t j = 0; j < a.count && r->st == DN_OK; j++)
        get_str(r, NULL, key);
      memcpy(p, &a, sizeof a);
      break;
    }
    default: break;
    }
  }
  for (size_t i = 0; i < n_keys && r->st == DN_OK; i++)
    if ((keys[i].field & selected & ~optional) && !(seen & (1ull << i)))
      rd_fail(r, r->pos, "%s: key '%s' is missing", what, keys[i].key);
}

/* ---- header and sections ------------------------------------------------------------------ */

typedef struct span {
  size_t start, end; /* body bytes */
} span;

#define MAX_SECTIONS 5
static const char *const MODEL_SECTIONS[MAX_SECTIONS] = {"ARCH", "WGHT", "RNGS", "COMP", "OPTS"};

/* Checks the header, length and checksum, and the section table: sections[i] are the bodies
 * in the order the kind prescribes. Returns the kind (0 after a failure). */
static int read_header(reader *r, size_t len, span sections[MAX_SECTIONS], size_t *n_sections) {
  const uint8_t *b = r->buf;
  r->pos = 0;
  r->end = len;
  r->section = "header";
  if (len < DN_MF_HEADER_LEN + DN_MF_CRC_LEN) {
    rd_fail(r, len, "the file is %zu bytes, shorter than the smallest model file (%d bytes)", len,
            DN_MF_HEADER_LEN + DN_MF_CRC_LEN);
    return 0;
  }
  if (memcmp(b, DN_MF_MAGIC, DN_MF_MAGIC_LEN) != 0) {
    const char *hint = memcmp(b, "PK\x03\x04", 4) == 0          ? " (it looks like a zip archive, "
                                                                  "e.g. a Keras .keras file)"
                       : memcmp(b, "\x89HDF\r\n\x1a\n", 8) == 0 ? " (it looks like an HDF5 "
                                                                  "file, e.g. a Keras .h5 file)"
                                                                : "";
    rd_fail(r, 0, "not a libdensenet model file: wrong magic bytes%s", hint);
    return 0;
  }
  r->pos = DN_MF_MAGIC_LEN;
  size_t version = get_u16(r, "format version");
  if (version < DN_MF_VERSION_PLAIN || version > DN_MF_VERSION) {
    rd_fail(r, 8, "format version %zu is not supported (this library reads versions %d to %d)",
            version, DN_MF_VERSION_PLAIN, DN_MF_VERSION);
    return 0;
  }
  r->version = version;
  size_t kind = get_u16(r, "file kind");
  if (kind != DN_MF_KIND_MODEL && kind != DN_MF_KIND_WEIGHTS) {
    rd_fail(r, 10, "file kind %zu is unknown (1 = model, 2 = weights)", kind);
    return 0;
  }
  size_t count = get_u32(r, "section count");
  uint64_t declared = get_u64(r, "file length");
  if (declared != len) {
    rd_fail(r, 16, "the header says the file is %llu bytes but it is %zu bytes (%s)",
            (unsigned long long)declared, len,
            declared > len ? "truncated" : "bytes were added after its end");
    return 0;
  }
  uint32_t stored = (uint32_t)b[len - 4] | (uint32_t)b[len - 3] << 8 | (uint32_t)b[len - 2] << 16 |
                    (uint32_t)b[len - 1] << 24;
  uint32_t computed = dn_crc32(0, b, len - DN_MF_CRC_LEN);
  if (stored != computed) {
    rd_fail(r, len - DN_MF_CRC_LEN,
            "checksum mismatch (stored CRC-32 0x%08x, computed 0x%08x): the file is corrupted",
            stored, computed);
    return 0;
  }
  size_t lo = kind == DN_MF_KIND_MODEL ? 3 : 1, hi = kind == DN_MF_KIND_MODEL ? 5 : 1;
  if (count < lo || count > hi) {
    rd_fail(r, 12, "a %s file has %zu to %zu sections, this one says %zu",
            kind == DN_MF_KIND_MODEL ? "model" : "weights", lo, hi, count);
    return 0;
  }
  r->end = len - DN_MF_CRC_LEN;
  r->section = "section table";
  for (size_t i = 0; i < count; i++) {
    const char *want = kind == DN_MF_KIND_MODEL ? MODEL_SECTIONS[i] : "WGHT";
    size_t at = r->pos;
    if (!need(r, DN_MF_SECTION_HEAD_LEN, "a section header"))
      return 0;
    char tag[5];
    for (int j = 0; j < 4; j++) {
      uint8_t c = b[r->pos + (size_t)j];
      tag[j] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    tag[4] = '\0';
    if (memcmp(b + r->pos, want, 4) != 0) {
      rd_fail(r, at, "section %zu should be '%s', found '%s'", i, want, tag);
      return 0;
    }
    r->pos += 4;
    uint64_t size = get_u64(r, "section length");
    if (r->st == DN_OK && size > r->end - r->pos) {
      rd_fail(r, at + 4, "section '%s' claims %llu bytes but only %zu remain before the checksum",
              want, (unsigned long long)size, r->end - r->pos);
      return 0;
    }
    sections[i] = (span){r->pos, r->pos + (size_t)size};
    r->pos += (size_t)size;
  }
  if (r->st == DN_OK && r->pos != r->end)
    rd_fail(r, r->pos, "%zu unexpected bytes after the last section", r->end - r->pos);
  *n_sections = count;
  return r->st == DN_OK ? (int)kind : 0;
}

static void enter(reader *r, span s, const char *section) {
  r->pos = s.start;
  r->end = s.end;
  r->section = section;
}

static void leave(reader *r) {
  if (r->st == DN_OK && r->pos != r->end)
    rd_fail(r, r->pos, "section '%s' has %zu unused bytes at its end", r->section, r->end - r->pos);
}

/* ---- weights ------------------------------------------------------------------------------ */

/* Reads one layer's WGHT entry and checks it against the given class and variables (the
 * name too, if expect_name is not NULL). With params != NULL copies the floats there. */
static void get_layer_weights(reader *r, size_t index, const char *type, const char *expect_name,
                              const dn_var *vars, size_t n_vars, float *params) {
  char class_name[DN_MF_STR_MAX + 1] = "", name[DN_MF_STR_MAX + 1] = "";
  size_t at = r->pos;
  get_str(r, class_name, "layer class");
  get_str(r, name, "layer name");
  size_t count = get_u16(r, "variable count");
  if (r->st != DN_OK)
    return;
  if (strcmp(class_name, type) != 0) {
    rd_fail(r, at, "layer %zu: the file has weights of a '%s' layer, the model a '%s' layer", index,
            class_name, type);
    return;
  }
  if (expect_name != NULL && strcmp(name, expect_name) != 0) {
    rd_fail(r, at, "layer %zu: weights are for layer '%s' but the architecture names it '%s'",
            index, name, expect_name);
    return;
  }
  if (count != n_vars) {
    rd_fail(r, at, "layer %zu ('%s'): the file has %zu variables, the model's layer %zu%s", index,
            name, count, n_vars, n_vars == 0 ? " (is the model built?)" : "");
    return;
  }
  for (size_t k = 0; k < count && r->st == DN_OK; k++) {
    char var[DN_MF_STR_MAX + 1] = "";
    size_t vat = r->pos;
    get_str(r, var, "variable name");
    uint64_t rows = get_u64(r, "variable rows"), cols = get_u64(r, "variable columns");
    bool trainable = get_bool(r, "variable trainable flag");
    if (r->st != DN_OK)
      return;
    const dn_var *v = &vars[k];
    if (strcmp(var, v->name) != 0 || rows != v->rows || cols != v->cols ||
        trainable != v->trainable) {
      rd_fail(r, vat,
              "layer %zu ('%s') variable %zu: the file has '%s' of shape %llu x %llu%s, the "
              "model '%s' of shape %zu x %zu%s",
              index, name, k, var, (unsigned long long)rows, (unsigned long long)cols,
              trainable ? "" : " (non-trainable)", v->name, v->rows, v->cols,
              v->trainable ? "" : " (non-trainable)");
      return;
    }
    size_t data = skip_floats(r, v->size, var);
    if (r->st == DN_OK && params != NULL)
      copy_floats(params + v->offset, r->buf + data, v->size);
  }
}

/* ---- the model ---------------------------------------------------------------------------- */

static const char *or_null(const char *s) {
  return s[0] ? s : NULL;
}

static void config_of(const dn_mf_layer_fields *f, const char *type, dn_layer_config *c) {
  *c = (dn_layer_config){
      .type = type,
      .name = f->name,
      .input_dim = (size_t)f->input_dim,
      .units = (size_t)f->units,
      .activation = or_null(f->activation),
      .use_bias = f->use_bias,
      .kernel_initializer = or_null(f->kernel_initializer),
      .bias_initializer = or_null(f->bias_initializer),
      .kernel_init = {f->kernel_value, f->kernel_minval, f->kernel_maxval, f->kernel_mean,
                      f->kernel_stddev},
      .bias_init = {f->bias_value, f->bias_minval, f->bias_maxval, f->bias_mean, f->bias_stddev},
      .kernel_l1 = f->kernel_l1,
      .kernel_l2 = f->kernel_l2,
      .bias_l1 = f->bias_l1,
      .bias_l2 = f->bias_l2,
      .rate = f->rate,
      .momentum = f->momentum,
      .epsilon = f->epsilon,
      .center = f->center,
      .scale = f->scale,
      .invert = f->invert,
  };
}

/* Layer i: its ARCH record (from ra) and its weights (from rw), added to the model. */
static void get_layer(reader *ra, reader *rw, dn_model *model, size_t i) {
  size_t at = ra->pos;
  char class_name[DN_MF_STR_MAX + 1] = "";
  get_str(ra, class_name, "layer class");
  if (ra->st != DN_OK)
    return;
  unsigned keys = dn_mf_layer_keys_of(class_name);
  if (keys == 0) {
    char names[128];
    rd_fail(ra, at, "layer %zu: unknown layer class '%s' (%s)", i, class_name,
            dn_layer_kind_names(names, sizeof names));
    return;
  }
  dn_mf_layer_fields f = {0};
  char what[96];
  snprintf(what, sizeof what, "layer %zu (%s)", i, class_name);
  f.trainable = true; /* absent: trainable (version 1 files have no such key) */
  const unsigned optional = ra->version >= 2 ? DN_MF_FIELD_TRAINABLE : 0u;
  get_record(ra, dn_mf_layer_keys, dn_mf_n_layer_keys, keys | optional, optional, &f, what);
  if (ra->st != DN_OK)
    return;
  dn_layer_config c;
  config_of(&f, class_name, &c);
  /* Made without its width (a constructor may build, and so allocate, when given one): the
   * width is set below, once the file's weights are known to fit it. */
  size_t input_dim = c.input_dim;
  c.input_dim = 0;
  dn_layer *layer = dn_layer_from_config(&c);
  if (layer == NULL) {
    rd_fail_call(ra, at, what);
    return;
  }
  /* The width it will be built for; declare (without allocating) what it would hold and check
   * that against the file's weights before the model allocates anything for it. */
  size_t width =
      i == 0 ? input_dim : (model->layers[i - 1]->built ? model->layers[i - 1]->output_dim : 0);
  if (width != 0) {
    dn_layer plan;
    if (input_dim != 0 && input_dim != width) {
      rd_fail(ra, at, "%s: input_dim %zu but the previous layer outputs %zu", what, input_dim,
              width);
    } else if (dn_layer_plan(layer, width, &plan) != DN_OK) {
      rd_fail_call(ra, at, what);
    } else {
      reader probe = *rw;
      get_layer_weights(&probe, i, class_name, f.name, plan.vars, plan.n_vars, NULL);
      if (probe.st != DN_OK)
        ra->st = probe.st; /* the message is set */
    }
  }
  if (ra->st != DN_OK) {
    dn_layer_free(layer);
    return;
  }
  layer->input_dim = input_dim;
  layer->frozen = !f.trainable;
  if (dn_model_add(model, layer) != DN_OK) { /* takes the layer, also on failure */
    rd_fail_call(ra, at, what);
    return;
  }
  dn_layer *l = model->layers[i];
  get_layer_weights(rw, i, class_name, f.name, l->vars, l->built ? l->n_vars : 0, l->params);
  ra->st = rw->st;
}

static void get_rng(reader *r, dn_rng *rng) {
  for (int i = 0; i < 4; i++)
    rng->s[i] = get_u64(r, "random stream state");
}

/* Reads the COMP section and compiles the model with it. */
static void get_compile(reader *r, dn_model *model) {
  size_t at = r->pos;
  dn_mf_compile_fields f = {0};
  get_record(r, dn_mf_compile_keys, dn_mf_n_compile_keys, 1u, 0u, &f, "compile settings");
  if (r->st != DN_OK)
    return;
  int kind = 0;
  if (!dn_mf_schedule_kind(f.schedule, &kind)) {
    rd_fail(r, at, "unknown learning-rate schedule '%s'", f.schedule);
    return;
  }
  size_t nb = f.boundaries.count;
  bool piecewise = kind == DN_SCHEDULE_PIECEWISE_CONSTANT;
  if (piecewise ? f.values.count != nb + 1 : (nb != 0 || f.values.count != 0)) {
    rd_fail(r, at, "schedule '%s' has %zu boundaries and %zu values", f.schedule, nb,
            f.values.count);
    return;
  }
  /* The metric names were validated by get_record; copy them out. */
  char names[DN_MF_MAX_METRICS][DN_MF_STR_MAX + 1];
  const char *metrics[DN_MF_MAX_METRICS + 1];
  reader m = *r;
  m.pos = f.metrics.pos;
  for (size_t i = 0; i < f.metrics.count; i++) {
    get_str(&m, names[i], "metric name");
    metrics[i] = names[i];
  }
  metrics[f.metrics.count] = NULL;
  double *arrays = NULL;
  if (piecewise) {
    arrays = dn_calloc(2 * nb + 1, sizeof *arrays); /* the file holds these 8-byte numbers */
    if (arrays == NULL) {
      rd_fail_call(r, at, "schedule");
      return;
    }
    reader a = *r;
    a.pos = f.boundaries.pos;
    for (size_t i = 0; i < nb; i++)
      arrays[i] = get_f64(&a, "boundary");
    a.pos = f.values.pos;
    for (size_t i = 0; i <= nb; i++)
      arrays[nb + i] = get_f64(&a, "value");
  }
  /* The saved options are resolved: a saved 0 means exactly 0. */
  dn_optimizer *opt = dn_optimizer_with((dn_optimizer_options){
      .name = f.optimizer,
      .learning_rate = dn_option_exact(f.learning_rate),
      .schedule = {.kind = (dn_schedule_kind)kind,
                   .initial_learning_rate = f.initial_learning_rate,
                   .decay_steps = f.decay_steps,
                   .decay_rate = f.decay_rate,
                   .staircase = f.staircase,
                   .boundaries = arrays,
                   .values = arrays ? arrays + nb : NULL,
                   .n_boundaries = nb,
                   .alpha = f.alpha,
                   .warmup_target = f.warmup_target,
                   .warmup_steps = f.warmup_steps},
      .beta_1 = dn_option_exact(f.beta_1),
      .beta_2 = dn_option_exact(f.beta_2),
      .epsilon = dn_option_exact(f.epsilon),
      .amsgrad = f.amsgrad,
      .momentum = dn_option_exact(f.momentum),
      .nesterov = f.nesterov,
      .rho = dn_option_exact(f.rho),
      .centered = f.centered,
      .initial_accumulator_value = dn_option_exact(f.initial_accumulator_value),
      .weight_decay = dn_option_exact(f.weight_decay),
      .clipnorm = f.clipnorm,
      .clipvalue = f.clipvalue,
      .global_clipnorm = f.global_clipnorm,
  });
  dn_free(arrays);
  if (opt == NULL) {
    rd_fail_call(r, at, "optimizer");
    return;
  }
  if (dn_compile_with((dn_compile_options){.model = model,
                                           .optimizer_object = opt, /* taken, also on failure */
                                           .loss = f.loss,
                                           .metrics = metrics,
                                           .huber_delta = f.huber_delta,
                                           .from_logits = f.from_logits,
                                           .label_smoothing = f.label_smoothing}) != DN_OK)
    rd_fail_call(r, at, "compile settings");
}

/* Reads the OPTS section into the compiled optimizer. */
static void get_optimizer_state(reader *r, dn_model *model) {
  dn_optimizer *opt = model->train->optimizer;
  uint64_t iterations = get_u64(r, "iterations");
  size_t lr_at = r->pos;
  double lr = get_f64(r, "learning rate");
  double u_product = get_f64(r, "nadam momentum product");
  size_t slots_at = r->pos;
  size_t n_slots = get_u32(r, "slot count");
  uint64_t n_params = get_u64(r, "slot parameter count");
  if (r->st != DN_OK)
    return;
  if (!(lr >= 0.0) || isinf(lr) || !isfinite(u_product)) {
    rd_fail(r, lr_at, "the optimizer's learning rate %g or momentum product %g is not valid", lr,
            u_product);
    return;
  }
  if (n_slots != opt->n_slots || (n_params != 0 && n_params != model->n_params)) {
    rd_fail(r, slots_at,
            "optimizer state of %zu slots x %llu parameters does not fit %s with %zu slots x %zu "
            "parameters",
            n_slots, (unsigned long long)n_params, opt->name, opt->n_slots, model->n_params);
    return;
  }
  size_t data = skip_floats(r, (uint64_t)n_slots * n_params, "optimizer slots");
  if (r->st != DN_OK)
    return;
  if (n_params > 0) {
    if (dn_optimizer_prepare(opt, (size_t)n_params) != DN_OK) {
      rd_fail_call(r, slots_at, "optimizer slots");
      return;
    }
    copy_floats(opt->slots, r->buf + data, n_slots * (size_t)n_params);
    dn_optimizer_forget_bounds(opt);
  }
  opt->iterations = iterations;
  opt->learning_rate = lr;
  opt->nadam_u_product = u_product;
}

dn_model *dn_mf_decode_model(const uint8_t *buf, size_t len, const char *name) {
  reader r = {.buf = buf, .fn = "dn_model_load", .name = name ? name : "<memory>"};
  if (buf == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_model_load: buffer is NULL");
  span sec[MAX_SECTIONS];
  size_t n_sec = 0;
  int kind = read_header(&r, len, sec, &n_sec);
  if (kind == 0)
    return NULL;
  if (kind != DN_MF_KIND_MODEL) {
    rd_fail(&r, 10,
            "this is a weights-only file: load it into a model with "
            "dn_model_load_weights");
    return NULL;
  }
  dn_model *model = dn_model_new();
  if (model == NULL)
    return NULL;
  reader ra = r, rw = r;
  enter(&ra, sec[0], "ARCH");
  enter(&rw, sec[1], "WGHT");
  size_t n_at = ra.pos;
  size_t n = get_u32(&ra, "layer count"), nw = get_u32(&rw, "layer count");
  if (ra.st == DN_OK && rw.st != DN_OK)
    ra.st = rw.st;
  if (ra.st == DN_OK && n > DN_MF_MAX_LAYERS)
    rd_fail(&ra, n_at, "%zu layers; at most %d are allowed", n, DN_MF_MAX_LAYERS);
  if (ra.st == DN_OK && n != nw)
    rd_fail(&ra, n_at, "the architecture has %zu layers but the weights section %zu", n, nw);
  if (ra.st == DN_OK && ra.version >= 2)
    model->frozen = !get_bool(&ra, "model trainable flag");
  for (size_t i = 0; i < n && ra.st == DN_OK; i++)
    get_layer(&ra, &rw, model, i);
  leave(&ra);
  if (ra.st == DN_OK) {
    leave(&rw);
    ra.st = rw.st;
  }
  reader rr = ra;
  if (rr.st == DN_OK) {
    enter(&rr, sec[2], "RNGS");
    uint64_t seed = get_u64(&rr, "seed");
    dn_rng init, shuffle, dropout;
    get_rng(&rr, &init);
    get_rng(&rr, &shuffle);
    get_rng(&rr, &dropout);
    leave(&rr);
    if (rr.st == DN_OK) {
      model->seed = seed;
      model->rng_init = init;
      model->rng_shuffle = shuffle;
      model->rng_dropout = dropout;
    }
  }
  if (rr.st == DN_OK && n_sec > 3) {
    enter(&rr, sec[3], "COMP");
    get_compile(&rr, model);
    leave(&rr);
  }
  if (rr.st == DN_OK && n_sec > 4) {
    enter(&rr, sec[4], "OPTS");
    get_optimizer_state(&rr, model);
    leave(&rr);
  }
  if (rr.st != DN_OK) {
    dn_error_state err;
    dn_error_save(&err);
    dn_model_free(model);
    dn_error_restore(&err);
    return NULL;
  }
  return model;
}

dn_status dn_mf_decode_weights(dn_model *model, const uint8_t *buf, size_t len, const char *name) {
  reader r = {.buf = buf, .fn = "dn_model_load_weights", .name = name ? name : "<memory>"};
  if (model == NULL || buf == NULL)
    return dn_fail(DN_ERR_ARG, "dn_model_load_weights: %s is NULL",
                   model == NULL ? "model" : "buffer");
  span sec[MAX_SECTIONS];
  size_t n_sec = 0;
  int kind = read_header(&r, len, sec, &n_sec);
  if (kind == 0)
    return r.st;
  span w = kind == DN_MF_KIND_MODEL ? sec[1] : sec[0];
  /* Two passes: check everything, then copy; the model changes only if all of it fits. */
  for (int pass = 0; pass < 2 && r.st == DN_OK; pass++) {
    enter(&r, w, "WGHT");
    size_t at = r.pos;
    size_t n = get_u32(&r, "layer count");
    if (r.st == DN_OK && n != model->n_layers)
      rd_fail(&r, at, "the file has weights for %zu layers, the model has %zu layers", n,
              model->n_layers);
    for (size_t i = 0; i < n && r.st == DN_OK; i++) {
      dn_layer *l = model->layers[i];
      get_layer_weights(&r, i, l->ops->type, NULL, l->vars, l->built ? l->n_vars : 0,
                        pass == 1 ? l->params : NULL);
    }
    leave(&r);
  }
  if (r.st == DN_OK)
    dn_seq_weights_written(model);
  return r.st;
}

/* ---- loading ------------------------------------------------------------------------------ */

dn_model *dn_model_load(const char *path) {
  if (path == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_model_load: path is NULL");
  uint8_t *buf = NULL;
  size_t len = 0;
  if (dn_file_read_whole(path, "dn_model_load", "a model file", &buf, &len) != DN_OK)
    return NULL;
  dn_model *model = dn_mf_decode_model(buf, len, path);
  dn_free(buf);
  return model;
}

dn_status dn_model_load_weights(dn_model *model, const char *path) {
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "dn_model_load_weights: %s is NULL",
                   model == NULL ? "model" : "path");
  uint8_t *buf = NULL;
  size_t len = 0;
  dn_status st = dn_file_read_whole(path, "dn_model_load_weights", "a model file", &buf, &len);
  if (st == DN_OK)
    st = dn_mf_decode_weights(model, buf, len, path);
  dn_free(buf);
  return st;
}
