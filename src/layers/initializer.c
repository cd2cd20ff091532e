/* initializer.c -- the Keras 3 weight initializers as one table: name, aliases, parameters, draw.
 *
 * Every "*_uniform"/"*_normal" fan-based initializer is Keras's VarianceScaling(scale, mode,
 * distribution) [keras/src/initializers/random_initializers.py]:
 *   n = max(1, fan_in) | max(1, fan_out) | max(1, (fan_in + fan_out) / 2)  (mode fan_in|out|avg)
 *   uniform:           U(-limit, limit), limit = sqrt(3 * scale / n)
 *   truncated_normal:  N(0, sd) with sd = sqrt(scale / n) / 0.87962566103423978 and every sample
 *                      outside +-2 sd redrawn (0.8796... is the standard deviation of a standard
 *                      normal truncated to [-2, 2], so the samples' variance is scale / n).
 * Values are drawn from the caller's dn_rng only, one element after another in index order, so a
 * seed fixes the weights bit for bit. Limits and standard deviations are computed in double.
 */
#include "layers/initializer.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/options.h"
#include "core/status.h"

/* Standard deviation of N(0, 1) truncated to [-2, 2] (Keras's constant). */
#define TRUNCATED_STDDEV 0.87962566103423978
/* Keras RandomUniform/RandomNormal/TruncatedNormal defaults. */
#define DEFAULT_HALF_RANGE 0.05
#define DEFAULT_STDDEV 0.05

typedef enum fan_mode { FAN_NONE, FAN_IN, FAN_OUT, FAN_AVG } fan_mode;

/* What one fill draws: uniform [a, b), normal (mean a, sd b), or the constant a. */
typedef struct init_params {
  double a, b;
} init_params;

typedef struct init_row init_row;
/* Validates args and works out the draw's parameters; writes nothing else. */
typedef dn_status (*init_setup_fn)(const init_row *row, const dn_init_args *args, double fan_in,
                                   double fan_out, init_params *p);
/* One value (rng is NULL for the constant draw). */
typedef float (*init_draw_fn)(dn_rng *rng, const init_params *p);

#define MAX_ALIASES 4

struct init_row {
  const char *name; /* Keras snake_case name (canonical) */
  double scale;     /* VarianceScaling scale, or the fixed constant */
  fan_mode mode;
  init_setup_fn setup;
  init_draw_fn draw;
  const char *aliases[MAX_ALIASES]; /* Keras class name and short aliases */
};

/* ---- draws ---------------------------------------------------------------------------------- */

static float draw_uniform(dn_rng *rng, const init_params *p) {
  return (float)(p->a + (p->b - p->a) * (double)dn_rng_uniform(rng));
}

static float draw_normal(dn_rng *rng, const init_params *p) {
  return (float)(p->a + p->b * dn_rng_normal(rng));
}

static float draw_truncated(dn_rng *rng, const init_params *p) {
  double z;
  do
    z = dn_rng_normal(rng);
  while (fabs(z) > 2.0); /* P(redraw) ~ 4.6% */
  return (float)(p->a + p->b * z);
}

static float draw_constant(dn_rng *rng, const init_params *p) {
  (void)rng;
  return (float)p->a;
}

/* A double that converts to a finite float. */
static bool float_finite(double x) {
  return isfinite(x) && fabs(x) <= (double)FLT_MAX;
}

/* ---- setups --------------------------------------------------------------------------------- */

static double fan_count(fan_mode mode, double fan_in, double fan_out) {
  double n = mode == FAN_IN ? fan_in : mode == FAN_OUT ? fan_out : (fan_in + fan_out) / 2.0;
  return n < 1.0 ? 1.0 : n;
}

static dn_status setup_vs_uniform(const init_row *row, const dn_init_args *args, double fan_in,
                                  double fan_out, init_params *p) {
  (void)args;
  double limit = sqrt(3.0 * row->scale / fan_count(row->mode, fan_in, fan_out));
  p->a = -limit;
  p->b = limit;
  return DN_OK;
}

static dn_status setup_vs_normal(const init_row *row, const dn_init_args *args, double fan_in,
                                 double fan_out, init_params *p) {
  (void)args;
  p->a = 0.0;
  p->b = sqrt(row->scale / fan_count(row->mode, fan_in, fan_out)) / TRUNCATED_STDDEV;
  return DN_OK;
}

dn_init_args dn_init_keras_args(const dn_init_args *args) {
  dn_init_args a = args != NULL ? *args : (dn_init_args){0};
  /* Both plain zeros mean "Keras default"; DN_ZERO in either asks for an explicit 0. */
  if (dn_option_is_default(a.minval) && dn_option_is_default(a.maxval)) {
    a.minval = -DEFAULT_HALF_RANGE;
    a.maxval = DEFAULT_HALF_RANGE;
  }
  a.stddev = dn_option_or_default(a.stddev, DEFAULT_STDDEV);
  return a;
}

static dn_status setup_uniform(const init_row *row, const dn_init_args *args, double fan_in,
                               double fan_out, init_params *p) {
  (void)fan_in;
  (void)fan_out;
  dn_init_args a = dn_init_keras_args(args);
  double lo = a.minval, hi = a.maxval;
  if (!float_finite(lo) || !float_finite(hi))
    return dn_fail(DN_ERR_ARG, "%s: minval (%g) and maxval (%g) must be finite", row->name, lo, hi);
  if (lo > hi)
    return dn_fail(DN_ERR_ARG, "%s: minval (%g) > maxval (%g)", row->name, lo, hi);
  p->a = lo;
  p->b = hi;
  return DN_OK;
}

/* random_normal and truncated_normal: mean (default 0), stddev (0 -> 0.05, DN_ZERO -> 0). */
static dn_status setup_normal(const init_row *row, const dn_init_args *args, double fan_in,
                              double fan_out, init_params *p) {
  (void)fan_in;
  (void)fan_out;
  double sd = dn_init_keras_args(args).stddev;
  if (!float_finite(args->mean))
    return dn_fail(DN_ERR_ARG, "%s: mean (%g) must be finite", row->name, args->mean);
  if (!(sd >= 0.0) || !float_finite(sd))
    return dn_fail(DN_ERR_ARG, "%s: stddev (%g) must be finite and >= 0", row->name, sd);
  p->a = args->mean;
  p->b = sd;
  return DN_OK;
}

static dn_status setup_fixed(const init_row *row, const dn_init_args *args, double fan_in,
                             double fan_out, init_params *p) {
  (void)args;
  (void)fan_in;
  (void)fan_out;
  p->a = row->scale;
  return DN_OK;
}

static dn_status setup_constant(const init_row *row, const dn_init_args *args, double fan_in,
                                double fan_out, init_params *p) {
  (void)fan_in;
  (void)fan_out;
  if (!float_finite(args->value))
    return dn_fail(DN_ERR_ARG, "%s: value (%g) must be finite", row->name, args->value);
  p->a = args->value;
  return DN_OK;
}

/* ---- the table ------------------------------------------------------------------------------ */

/* Keras's string lookup accepts the class name, its snake_case form and a few short aliases
 * [keras/src/initializers/__init__.py]. variance_scaling with its defaults (scale 1, fan_in,
 * truncated_normal) is exactly lecun_normal. */
/* clang-format off */
static const init_row init_table[] = {
  /* name              scale mode      setup             draw            aliases */
  {"glorot_uniform",   1.0, FAN_AVG,  setup_vs_uniform, draw_uniform,   {"GlorotUniform"}},
  {"glorot_normal",    1.0, FAN_AVG,  setup_vs_normal,  draw_truncated, {"GlorotNormal"}},
  {"he_uniform",       2.0, FAN_IN,   setup_vs_uniform, draw_uniform,   {"HeUniform"}},
  {"he_normal",        2.0, FAN_IN,   setup_vs_normal,  draw_truncated, {"HeNormal"}},
  {"lecun_uniform",    1.0, FAN_IN,   setup_vs_uniform, draw_uniform,   {"LecunUniform"}},
  {"lecun_normal",     1.0, FAN_IN,   setup_vs_normal,  draw_truncated,
   {"LecunNormal", "VarianceScaling", "variance_scaling"}},
  {"random_uniform",   0.0, FAN_NONE, setup_uniform,    draw_uniform,
   {"RandomUniform", "uniform"}},
  {"random_normal",    0.0, FAN_NONE, setup_normal,     draw_normal,    {"RandomNormal", "normal"}},
  {"truncated_normal", 0.0, FAN_NONE, setup_normal,     draw_truncated, {"TruncatedNormal"}},
  {"zeros",            0.0, FAN_NONE, setup_fixed,      draw_constant,  {"Zeros", "zero"}},
  {"ones",             1.0, FAN_NONE, setup_fixed,      draw_constant,  {"Ones", "one"}},
  {"constant",         0.0, FAN_NONE, setup_constant,   draw_constant,  {"Constant"}},
};
/* clang-format on */

/* Names Keras accepts that this library does not implement (DN_ERR_UNSUPPORTED). */
static const char *const unsupported_names[] = {
    "orthogonal", "Orthogonal", "OrthogonalInitializer", "orthogonal_initializer",
    "identity",   "Identity",   "IdentityInitializer",   "identity_initializer",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const init_row *find_row(const char *name) {
  for (size_t i = 0; i < COUNT(init_table); i++) {
    const init_row *row = &init_table[i];
    if (strcmp(row->name, name) == 0)
      return row;
    for (size_t k = 0; k < MAX_ALIASES && row->aliases[k] != NULL; k++)
      if (strcmp(row->aliases[k], name) == 0)
        return row;
  }
  return NULL;
}

/* The row for `name`, or NULL with the status set (unknown or unsupported). */
static const init_row *lookup(const char *name) {
  const init_row *row = find_row(name);
  if (row != NULL)
    return row;
  for (size_t i = 0; i < COUNT(unsupported_names); i++)
    if (strcmp(unsupported_names[i], name) == 0)
      return dn_fail_null(DN_ERR_UNSUPPORTED, "initializer '%s' is not supported", name);
  return dn_fail_null(DN_ERR_ARG,
                      "unknown initializer '%s' (expected glorot_uniform, glorot_normal, "
                      "he_uniform, he_normal, lecun_uniform, lecun_normal, random_uniform, "
                      "random_normal, truncated_normal, zeros, ones or constant)",
                      name);
}

const char *dn_init_resolve(const char *name, const char *fallback) {
  if (name == NULL)
    return fallback;
  const init_row *row = lookup(name);
  return row != NULL ? row->name : NULL;
}

dn_status dn_init_fill(const char *name, const dn_init_args *args, float *w, size_t n,
                       size_t fan_in, size_t fan_out, dn_rng *rng) {
  if (name == NULL)
    return dn_fail(DN_ERR_ARG, "initializer name is NULL");
  const init_row *row = lookup(name);
  if (row == NULL)
    return dn_last_status();
  if (w == NULL && n > 0)
    return dn_fail(DN_ERR_ARG, "%s: output array is NULL", row->name);
  bool random = row->draw != draw_constant;
  if (random && rng == NULL)
    return dn_fail(DN_ERR_ARG, "%s: rng is NULL", row->name);

  static const dn_init_args defaults = {0};
  init_params p = {0.0, 0.0};
  dn_status s =
      row->setup(row, args != NULL ? args : &defaults, (double)fan_in, (double)fan_out, &p);
  if (s != DN_OK)
    return s;
  for (size_t i = 0; i < n; i++)
    w[i] = row->draw(rng, &p);
  return DN_OK;
}
