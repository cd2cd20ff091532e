/* optimizer.c -- the Keras 3 optimizers and learning-rate schedules as flat loops
 * over the trainable slices of the parameter block.
 *
 * Every optimizer is one row of a table (Keras name, defaults, options it has,
 * slot count, update rule). A step mirrors Keras's BaseOptimizer.apply:
 * clip the gradients -> decoupled weight decay w -= w * wd * lr -> the update
 * rule of each trainable variable -> iterations += 1. The learning rate is the
 * schedule's value at the current (0-based) iterations; bias corrections use
 * t = iterations + 1.
 *
 * Precision: parameters, gradients and slots are float32 and the elementwise
 * arithmetic follows Keras's operation order in float32. Per-step scalars
 * (learning rate, bias corrections, Nadam's momentum product, schedule values)
 * are computed in double and rounded to float once, so they carry less
 * rounding than Keras's float32 scalars (a difference of float32 noise only).
 *
 * Stricter than Keras (it would accept these and produce NaN or nonsense):
 * negative clip values, weight_decay, initial_accumulator_value, decay_rate or
 * schedule rates; rho or momentum outside [0, 1]; CosineDecay alpha outside
 * [0, 1]; piecewise boundaries that are not strictly increasing; non-finite
 * values anywhere. All are DN_ERR_ARG.
 */
#include "training/optimizer.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/options.h"
#include "kernels/parallel.h"
#include "core/status.h"

#define FN "dn_optimizer_with"

/* Which options an optimizer has (the others are ignored, as documented). */
enum {
  HAS_BETAS = 1u << 0,      /* beta_1, beta_2 in [0, 1) (Adam family) */
  HAS_LION_BETAS = 1u << 1, /* Lion: beta_1 in (0, 1], beta_2 in [0, 1] */
  HAS_EPSILON = 1u << 2,
  HAS_MOMENTUM = 1u << 3,
  HAS_RHO = 1u << 4,
  HAS_ACCUMULATOR = 1u << 5, /* initial_accumulator_value */
};

/* One step's float constants (only those its rule uses are set). */
typedef struct rule_k {
  float lr, wd, mu, rho, c1, c2, b1, b2, eps;
  bool decay; /* decoupled weight decay w - w * wd * lr before the rule */
  bool momentum, nesterov, amsgrad, centered;
  float alpha;                              /* adam */
  float correction;                         /* adamax */
  float fu_t_1, f1_u_t, d_t_1, d_t, v_corr; /* nadam */
} rule_k;

/* The rules, one element at a time: NAME_f in float (the step), NAME_d in double. */
#define REAL float
#define R(name) name##_f
#define SQRT sqrtf
#define FABS fabsf
#include "training/optimizer_rules.h"
#undef REAL
#undef R
#undef SQRT
#undef FABS
#define REAL double
#define R(name) name##_d
#define SQRT sqrt
#define FABS fabs
#include "training/optimizer_rules.h"
#undef REAL
#undef R
#undef SQRT
#undef FABS

typedef void (*rule_f)(const rule_k *k, float *w, float g, float *a, float *b, float *c);
typedef void (*rule_d)(const rule_k *k, double *w, double g, double *a, double *b, double *c);
/* A rule's loop over n elements; a, b, c are its slot planes (unused ones alias w). most[0..3]
 * holds the largest magnitudes seen so far of w, a, b and c (as float bits without the sign)
 * and takes those of the new values. */
typedef void (*rule_loop)(const rule_k *k, float *w, const float *g, float *a, float *b, float *c,
                          size_t n, int32_t most[4]);

#define MAX_ABS_BITS(p, m)                                                                         \
  do {                                                                                             \
    int32_t u_;                                                                                    \
    memcpy(&u_, (p), sizeof u_);                                                                   \
    u_ &= 0x7fffffff;                                                                              \
    (m) = u_ > (m) ? u_ : (m);                                                                     \
  } while (0)

/* Defines loop_NAME_NS##SUFFIX: NAME_f over n elements of a rule with NS slot planes, with the
 * constants in a local copy so that the compiler sees no store can change them (and vectorizes
 * the loop), tracking the magnitudes of the planes it writes (only those: a plane aliasing w
 * would make the vectorizer's overlap check fail). TARGET: a target attribute or nothing. */
#define RULE_LOOP(NAME, NS, SUFFIX, TARGET)                                                        \
  static TARGET void loop_##NAME##_##NS##SUFFIX(const rule_k *kp, float *w, const float *g,        \
                                                float *a, float *b, float *c, size_t n,            \
                                                int32_t most[4]) {                                 \
    const rule_k k = *kp;                                                                          \
    int32_t mw = most[0], ma = most[1], mb = most[2], mc = most[3];                                \
    for (size_t i = 0; i < n; i++) {                                                               \
      NAME##_f(&k, w + i, g[i], a + i, b + i, c + i);                                              \
      MAX_ABS_BITS(w + i, mw);                                                                     \
      if ((NS) > 0)                                                                                \
        MAX_ABS_BITS(a + i, ma);                                                                   \
      if ((NS) > 1)                                                                                \
        MAX_ABS_BITS(b + i, mb);                                                                   \
      if ((NS) > 2)                                                                                \
        MAX_ABS_BITS(c + i, mc);                                                                   \
    }                                                                                              \
    most[0] = mw, most[1] = ma, most[2] = mb, most[3] = mc;                                        \
  }
#define RULE_LOOPS_AT(NAME, SUFFIX, TARGET)                                                        \
  RULE_LOOP(NAME, 0, SUFFIX, TARGET)                                                               \
  RULE_LOOP(NAME, 1, SUFFIX, TARGET)                                                               \
  RULE_LOOP(NAME, 2, SUFFIX, TARGET)                                                               \
  RULE_LOOP(NAME, 3, SUFFIX, TARGET)

/* Where the CPU has AVX2 (dn_cpu_level_get), the loops run 8 floats wide with a one-instruction
 * maximum for the tracking (SSE2's takes four). The same IEEE operations without FMA (the
 * target adds none and the library compiles without contraction), so the same bits. */
#ifdef DN_HAVE_X86_KERNELS
#define RULE_LOOPS(NAME)                                                                           \
  RULE_LOOPS_AT(NAME, , )                                                                          \
  RULE_LOOPS_AT(NAME, _avx2, __attribute__((target("avx2"))))                                      \
  static const rule_loop loops_##NAME[2][4] = {                                                    \
      {loop_##NAME##_0, loop_##NAME##_1, loop_##NAME##_2, loop_##NAME##_3},                        \
      {loop_##NAME##_0_avx2, loop_##NAME##_1_avx2, loop_##NAME##_2_avx2, loop_##NAME##_3_avx2}};
#else
#define RULE_LOOPS(NAME)                                                                           \
  RULE_LOOPS_AT(NAME, , )                                                                          \
  static const rule_loop loops_##NAME[2][4] = {                                                    \
      {loop_##NAME##_0, loop_##NAME##_1, loop_##NAME##_2, loop_##NAME##_3},                        \
      {loop_##NAME##_0, loop_##NAME##_1, loop_##NAME##_2, loop_##NAME##_3}};
#endif
RULE_LOOPS(sgd)
RULE_LOOPS(adam)
RULE_LOOPS(rmsprop)
RULE_LOOPS(adagrad)
RULE_LOOPS(adadelta)
RULE_LOOPS(adamax)
RULE_LOOPS(nadam)
RULE_LOOPS(lion)

typedef struct opt_row {
  const char *name; /* Keras name, lower case */
  dn_opt_kind kind;
  unsigned has;
  double learning_rate; /* Keras defaults */
  double beta_2;
  double rho;
  double weight_decay; /* 0 = None */
  size_t (*slot_count)(const dn_optimizer_options *o);
  const rule_loop (*loops)[4]; /* [AVX2 or not][slot count] */
  rule_f rule_f;
  rule_d rule_d;
} opt_row;

/* ---------------------------------------------------------------------------
 * Slot counts (the slots follow Keras's variable order: e.g. Adam's momentums,
 * velocities, velocity_hats).
 * ------------------------------------------------------------------------- */

static size_t slots_sgd(const dn_optimizer_options *o) {
  return o->momentum != 0.0 ? 1 : 0;
}
static size_t slots_adam(const dn_optimizer_options *o) {
  return o->amsgrad ? 3 : 2;
}
static size_t slots_rmsprop(const dn_optimizer_options *o) {
  return (size_t)1 + (o->momentum > 0.0 ? 1u : 0u) + (o->centered ? 1u : 0u);
}
static size_t slots_one(const dn_optimizer_options *o) {
  (void)o;
  return 1;
}
static size_t slots_two(const dn_optimizer_options *o) {
  (void)o;
  return 2;
}

/* Loops over the elements of the trainable variables: i is the index into w, g and each slot. */
#define FOR_TRAINABLE(vars, n_vars, i)                                                             \
  for (size_t v_ = 0; v_ < (n_vars); v_++)                                                         \
    if ((vars)[v_].trainable)                                                                      \
      for (size_t i = (vars)[v_].offset, e_ = i + (vars)[v_].size; i < e_; i++)

static double step_t(const dn_optimizer *opt) {
  return (double)opt->iterations + 1.0;
}

/* Keras keeps the momentum product as a variable and multiplies it by this
 * step's mu_t before the variables are updated, so both denominators use the
 * new product. */
double dn_optimizer_nadam_u(const dn_optimizer_options *o, double t) {
  return o->beta_1 * (1.0 - 0.5 * pow(0.96, t));
}

#define RULE(name) loops_##name, name##_f, name##_d

static const opt_row OPTIMIZERS[] = {
    {"sgd", DN_OPT_SGD, HAS_MOMENTUM, 0.01, 0, 0, 0, slots_sgd, RULE(sgd)},
    {"adam", DN_OPT_ADAM, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0, slots_adam, RULE(adam)},
    {"adamw", DN_OPT_ADAMW, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0.004, slots_adam,
     RULE(adam)},
    {"rmsprop", DN_OPT_RMSPROP, HAS_EPSILON | HAS_MOMENTUM | HAS_RHO, 0.001, 0, 0.9, 0,
     slots_rmsprop, RULE(rmsprop)},
    {"adagrad", DN_OPT_ADAGRAD, HAS_EPSILON | HAS_ACCUMULATOR, 0.001, 0, 0, 0, slots_one,
     RULE(adagrad)},
    {"adadelta", DN_OPT_ADADELTA, HAS_EPSILON | HAS_RHO, 0.001, 0, 0.95, 0, slots_two,
     RULE(adadelta)},
    {"adamax", DN_OPT_ADAMAX, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0, slots_two, RULE(adamax)},
    {"nadam", DN_OPT_NADAM, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0, slots_two, RULE(nadam)},
    {"lion", DN_OPT_LION, HAS_LION_BETAS, 0.001, 0.99, 0, 0, slots_one, RULE(lion)},
};
#define N_OPTIMIZERS (sizeof OPTIMIZERS / sizeof OPTIMIZERS[0])

static const opt_row *row_of(const dn_optimizer *opt) {
  return &OPTIMIZERS[opt->kind];
}

/* Keras's optimizers.get is case-insensitive for the built-in names. */
static bool same_name(const char *a, const char *b) {
  for (; *a != '\0' && *b != '\0'; a++, b++) {
    char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
    if (ca != *b)
      return false;
  }
  return *a == *b;
}

/* ---------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------- */

static bool in_range(double x, double lo, double hi) {
  return x >= lo && x <= hi; /* false for NaN */
}

static dn_status check_schedule(const dn_schedule *s) {
  const char *kind = "";
  switch (s->kind) {
  case DN_SCHEDULE_CONSTANT: return DN_OK;
  case DN_SCHEDULE_EXPONENTIAL_DECAY: kind = "ExponentialDecay"; break;
  case DN_SCHEDULE_INVERSE_TIME_DECAY: kind = "InverseTimeDecay"; break;
  case DN_SCHEDULE_COSINE_DECAY: kind = "CosineDecay"; break;
  case DN_SCHEDULE_PIECEWISE_CONSTANT: {
    if (s->n_boundaries == 0 || s->boundaries == NULL || s->values == NULL)
      return dn_fail(DN_ERR_ARG,
                     FN ": PiecewiseConstantDecay needs n_boundaries >= 1 boundaries and "
                        "n_boundaries + 1 values (got n_boundaries %zu, boundaries %s, values %s)",
                     s->n_boundaries, s->boundaries ? "set" : "NULL", s->values ? "set" : "NULL");
    for (size_t i = 0; i < s->n_boundaries; i++) {
      if (!isfinite(s->boundaries[i]))
        return dn_fail(DN_ERR_ARG, FN ": PiecewiseConstantDecay boundaries[%zu] is not finite", i);
      if (i > 0 && !(s->boundaries[i] > s->boundaries[i - 1]))
        return dn_fail(DN_ERR_ARG,
                       FN ": PiecewiseConstantDecay boundaries must be strictly increasing "
                          "(boundaries[%zu] = %g after %g)",
                       i, s->boundaries[i], s->boundaries[i - 1]);
    }
    for (size_t i = 0; i <= s->n_boundaries; i++)
      if (!in_range(s->values[i], 0.0, INFINITY) || isinf(s->values[i]))
        return dn_fail(DN_ERR_ARG,
                       FN ": PiecewiseConstantDecay values[%zu] = %g must be a finite rate >= 0", i,
                       s->values[i]);
    return DN_OK;
  }
  default: return dn_fail(DN_ERR_ARG, FN ": unknown schedule kind %d", (int)s->kind);
  }
  if (!(s->initial_learning_rate >= 0.0) || isinf(s->initial_learning_rate))
    return dn_fail(DN_ERR_ARG, FN ": %s initial_learning_rate = %g must be finite and >= 0", kind,
                   s->initial_learning_rate);
  if (!(s->decay_steps > 0.0) || isinf(s->decay_steps))
    return dn_fail(DN_ERR_ARG, FN ": %s decay_steps = %g must be > 0", kind, s->decay_steps);
  if (s->kind == DN_SCHEDULE_COSINE_DECAY) {
    if (!in_range(s->alpha, 0.0, 1.0))
      return dn_fail(DN_ERR_ARG, FN ": CosineDecay alpha = %g must be in [0, 1]", s->alpha);
    if (!(s->warmup_target >= 0.0) || isinf(s->warmup_target))
      return dn_fail(DN_ERR_ARG, FN ": CosineDecay warmup_target = %g must be finite and >= 0",
                     s->warmup_target);
    if (!(s->warmup_steps >= 0.0) || isinf(s->warmup_steps))
      return dn_fail(DN_ERR_ARG, FN ": CosineDecay warmup_steps = %g must be finite and >= 0",
                     s->warmup_steps);
  } else if (!(s->decay_rate >= 0.0) || isinf(s->decay_rate)) {
    return dn_fail(DN_ERR_ARG, FN ": %s decay_rate = %g must be finite and >= 0", kind,
                   s->decay_rate);
  }
  return DN_OK;
}

/* Resolves defaults into *r and checks every option the optimizer has. */
static dn_status resolve_options(const opt_row *row, const dn_optimizer_options *in,
                                 dn_optimizer_options *r) {
  *r = (dn_optimizer_options){.name = row->name, .schedule = in->schedule};
  const char *name = row->name;

  r->learning_rate = dn_option_or_default(in->learning_rate, row->learning_rate);
  if (!(r->learning_rate >= 0.0) || isinf(r->learning_rate))
    return dn_fail(DN_ERR_ARG, FN ": %s learning_rate = %g must be finite and >= 0", name,
                   in->learning_rate);
  dn_status s = check_schedule(&in->schedule);
  if (s != DN_OK)
    return s;

  if (row->has & (HAS_BETAS | HAS_LION_BETAS)) {
    r->beta_1 = dn_option_or_default(in->beta_1, 0.9);
    r->beta_2 = dn_option_or_default(in->beta_2, row->beta_2);
    if (row->has & HAS_BETAS) {
      if (!in_range(r->beta_1, 0.0, 1.0) || r->beta_1 == 1.0)
        return dn_fail(DN_ERR_ARG, FN ": %s beta_1 = %g must be in [0, 1)", name, r->beta_1);
      if (!in_range(r->beta_2, 0.0, 1.0) || r->beta_2 == 1.0)
        return dn_fail(DN_ERR_ARG, FN ": %s beta_2 = %g must be in [0, 1)", name, r->beta_2);
    } else {
      /* keras/src/optimizers/lion.py: beta_1 in (0, 1] (else it degenerates to SignSGD). */
      if (!in_range(r->beta_1, 0.0, 1.0) || r->beta_1 == 0.0)
        return dn_fail(DN_ERR_ARG, FN ": lion beta_1 = %g must be in (0, 1]", r->beta_1);
      if (!in_range(r->beta_2, 0.0, 1.0))
        return dn_fail(DN_ERR_ARG, FN ": lion beta_2 = %g must be in [0, 1]", r->beta_2);
    }
  }
  if (row->has & HAS_EPSILON) {
    r->epsilon = dn_option_or_default(in->epsilon, 1e-7);
    if (!(r->epsilon >= 0.0) || isinf(r->epsilon))
      return dn_fail(DN_ERR_ARG, FN ": %s epsilon = %g must be finite and >= 0", name, in->epsilon);
  }
  if (row->has & HAS_MOMENTUM) {
    r->momentum = dn_option_or_default(in->momentum, 0.0);
    if (!in_range(r->momentum, 0.0, 1.0))
      return dn_fail(DN_ERR_ARG, FN ": %s momentum = %g must be in [0, 1]", name, in->momentum);
  }
  if (row->has & HAS_RHO) {
    r->rho = dn_option_or_default(in->rho, row->rho);
    if (!in_range(r->rho, 0.0, 1.0))
      return dn_fail(DN_ERR_ARG, FN ": %s rho = %g must be in [0, 1]", name, in->rho);
  }
  if (row->has & HAS_ACCUMULATOR) {
    r->initial_accumulator_value = dn_option_or_default(in->initial_accumulator_value, 0.1);
    if (!(r->initial_accumulator_value >= 0.0) || isinf(r->initial_accumulator_value))
      return dn_fail(DN_ERR_ARG, FN ": %s initial_accumulator_value = %g must be finite and >= 0",
                     name, in->initial_accumulator_value);
  }
  r->amsgrad = row->kind == DN_OPT_ADAM || row->kind == DN_OPT_ADAMW ? in->amsgrad : false;
  r->nesterov = row->kind == DN_OPT_SGD ? in->nesterov : false;
  r->centered = row->kind == DN_OPT_RMSPROP ? in->centered : false;

  r->weight_decay = dn_option_or_default(in->weight_decay, row->weight_decay);
  if (!(r->weight_decay >= 0.0) || isinf(r->weight_decay))
    return dn_fail(DN_ERR_ARG, FN ": %s weight_decay = %g must be finite and >= 0", name,
                   in->weight_decay);

  const double clips[3] = {in->clipnorm, in->clipvalue, in->global_clipnorm};
  const char *clip_names[3] = {"clipnorm", "clipvalue", "global_clipnorm"};
  int n_clips = 0;
  for (int i = 0; i < 3; i++) {
    if (!(clips[i] >= 0.0) || isinf(clips[i]))
      return dn_fail(DN_ERR_ARG, FN ": %s = %g must be finite and > 0 (0 = no clipping)",
                     clip_names[i], clips[i]);
    n_clips += clips[i] > 0.0;
  }
  if (n_clips > 1)
    return dn_fail(DN_ERR_ARG,
                   FN ": only one of clipnorm, clipvalue and global_clipnorm can be set "
                      "(got clipnorm=%g, clipvalue=%g, global_clipnorm=%g)",
                   in->clipnorm, in->clipvalue, in->global_clipnorm);
  r->clipnorm = in->clipnorm > 0.0 ? in->clipnorm : 0.0;
  r->clipvalue = in->clipvalue > 0.0 ? in->clipvalue : 0.0;
  r->global_clipnorm = in->global_clipnorm > 0.0 ? in->global_clipnorm : 0.0;
  /* The schedule is kept as given: its numbers have no defaults, and a
   * CosineDecay warmup_target of DN_ZERO (warm up to exactly 0) stays -0.0 so
   * it differs from 0 (no warmup). */
  return DN_OK;
}

/* ---------------------------------------------------------------------------
 * Lifecycle and accessors
 * ------------------------------------------------------------------------- */

dn_optimizer *dn_optimizer_with(dn_optimizer_options options) {
  if (options.name == NULL)
    return dn_fail_null(DN_ERR_ARG, FN ": name is NULL (sgd adam adamw rmsprop adagrad adadelta "
                                       "adamax nadam lion)");
  const opt_row *row = NULL;
  for (size_t i = 0; i < N_OPTIMIZERS; i++)
    if (same_name(options.name, OPTIMIZERS[i].name))
      row = &OPTIMIZERS[i];
  if (row == NULL)
    return dn_fail_null(DN_ERR_ARG,
                        FN ": unknown optimizer '%s' (sgd adam adamw rmsprop adagrad adadelta "
                           "adamax nadam lion)",
                        options.name);

  dn_optimizer_options resolved;
  if (resolve_options(row, &options, &resolved) != DN_OK)
    return NULL;

  dn_optimizer *opt = dn_calloc(1, sizeof *opt);
  if (opt == NULL)
    return NULL;
  if (resolved.schedule.kind == DN_SCHEDULE_PIECEWISE_CONSTANT) {
    /* The caller's arrays hold n and n + 1 doubles (checked readable above). */
    size_t n = resolved.schedule.n_boundaries;
    opt->boundaries = dn_calloc(n, sizeof(double));
    opt->values = opt->boundaries != NULL ? dn_calloc(n + 1, sizeof(double)) : NULL;
    if (opt->values == NULL) {
      dn_optimizer_free(opt);
      return NULL;
    }
    memcpy(opt->boundaries, options.schedule.boundaries, n * sizeof(double));
    memcpy(opt->values, options.schedule.values, (n + 1) * sizeof(double));
    resolved.schedule.boundaries = opt->boundaries;
    resolved.schedule.values = opt->values;
  } else {
    resolved.schedule.boundaries = NULL;
    resolved.schedule.values = NULL;
    resolved.schedule.n_boundaries = 0;
  }
  opt->kind = row->kind;
  opt->name = row->name;
  opt->options = resolved;
  opt->learning_rate = resolved.learning_rate;
  opt->iterations = 0;
  opt->nadam_u_product = 1.0;
  opt->n_slots = row->slot_count(&resolved);
  return opt;
}

void dn_optimizer_free(dn_optimizer *optimizer) {
  if (optimizer == NULL)
    return;
  dn_free(optimizer->boundaries);
  dn_free(optimizer->values);
  dn_free(optimizer->slots);
  dn_free(optimizer);
}

/* The schedule's value at `step` (keras/src/optimizers/schedules/learning_rate_schedule.py). */
static double schedule_value(const dn_schedule *s, double step) {
  switch (s->kind) {
  case DN_SCHEDULE_EXPONENTIAL_DECAY: {
    double p = step / s->decay_steps;
    if (s->staircase)
      p = floor(p);
    return s->initial_learning_rate * pow(s->decay_rate, p);
  }
  case DN_SCHEDULE_INVERSE_TIME_DECAY: {
    double p = step / s->decay_steps;
    if (s->staircase)
      p = floor(p);
    return s->initial_learning_rate / (1.0 + s->decay_rate * p);
  }
  case DN_SCHEDULE_PIECEWISE_CONSTANT: {
    /* values[i] while step <= boundaries[i]; Keras casts the boundaries to the
     * step's integer type first (truncation). */
    for (size_t i = 0; i < s->n_boundaries; i++)
      if (step <= trunc(s->boundaries[i]))
        return s->values[i];
    return s->values[s->n_boundaries];
  }
  case DN_SCHEDULE_COSINE_DECAY: {
    const bool warmup = !dn_option_is_default(s->warmup_target);
    double from = s->initial_learning_rate;
    if (warmup) {
      step = fmin(step, s->decay_steps + s->warmup_steps);
      if (step < s->warmup_steps) {
        double fraction = step / s->warmup_steps;
        return (s->warmup_target - s->initial_learning_rate) * fraction + s->initial_learning_rate;
      }
      step -= s->warmup_steps;
      from = s->warmup_target + 0.0; /* -0.0 -> 0 */
    } else {
      step = fmin(step, s->decay_steps);
    }
    const double pi = 3.14159265358979323846;
    double cosine = 0.5 * (1.0 + cos(pi * (step / s->decay_steps)));
    return from * ((1.0 - s->alpha) * cosine + s->alpha);
  }
  case DN_SCHEDULE_CONSTANT:
  default: return 0.0;
  }
}

double dn_optimizer_current_lr(const dn_optimizer *opt) {
  if (opt->options.schedule.kind == DN_SCHEDULE_CONSTANT)
    return opt->learning_rate;
  return schedule_value(&opt->options.schedule, (double)opt->iterations);
}

size_t dn_optimizer_variable_count(const dn_optimizer *opt, size_t trainable_params) {
  if (opt == NULL || opt->n_params == 0) /* not built until the first step */
    return 0;
  size_t n = 1 + (opt->options.schedule.kind == DN_SCHEDULE_CONSTANT);
  if (opt->kind == DN_OPT_NADAM)
    n += 1; /* u_product */
  return n + opt->n_slots * trainable_params;
}

double dn_optimizer_learning_rate(const dn_optimizer *optimizer) {
  if (optimizer == NULL) {
    dn_fail(DN_ERR_ARG, "dn_optimizer_learning_rate: optimizer is NULL");
    return NAN;
  }
  return dn_optimizer_current_lr(optimizer);
}

uint64_t dn_optimizer_iterations(const dn_optimizer *optimizer) {
  return optimizer == NULL ? 0 : optimizer->iterations;
}

dn_status dn_optimizer_set_learning_rate(dn_optimizer *optimizer, double learning_rate) {
  DN_CHECK_NOT_NULL(optimizer, "dn_optimizer_set_learning_rate");
  if (optimizer->options.schedule.kind != DN_SCHEDULE_CONSTANT)
    return dn_fail(DN_ERR_STATE,
                   "dn_optimizer_set_learning_rate: this %s optimizer was created with a "
                   "learning-rate schedule, so its learning rate is not settable",
                   optimizer->name);
  if (!(learning_rate >= 0.0) || isinf(learning_rate))
    return dn_fail(DN_ERR_ARG,
                   "dn_optimizer_set_learning_rate: learning_rate = %g must be finite and >= 0",
                   learning_rate);
  optimizer->learning_rate = learning_rate + 0.0; /* -0.0 -> 0 */
  optimizer->options.learning_rate = optimizer->learning_rate;
  return DN_OK;
}

/* ---------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------- */

size_t dn_optimizer_slot_count(const dn_optimizer *opt) {
  return opt->n_slots;
}

void dn_optimizer_reset(dn_optimizer *opt) {
  const size_t n = opt->n_slots * opt->n_params; /* checked by dn_optimizer_prepare */
  if (opt->slots != NULL) {
    if (opt->kind == DN_OPT_ADAGRAD) {
      const float init = (float)opt->options.initial_accumulator_value;
      for (size_t i = 0; i < n; i++)
        opt->slots[i] = init;
    } else {
      memset(opt->slots, 0, n * sizeof(float));
    }
  }
  opt->iterations = 0;
  opt->nadam_u_product = 1.0;
  opt->bounds_known = false;
}

dn_status dn_optimizer_prepare(dn_optimizer *opt, size_t n_params) {
  DN_CHECK_NOT_NULL(opt, "dn_optimizer_prepare");
  const bool needs_block = opt->n_slots > 0 && n_params > 0;
  if (opt->n_params == n_params && (!needs_block || opt->slots != NULL))
    return DN_OK;
  size_t count = 0, bytes = 0;
  if (!dn_mul_size(opt->n_slots, n_params, &count, "dn_optimizer_prepare") ||
      !dn_mul_size(count, sizeof(float), &bytes, "dn_optimizer_prepare"))
    return DN_ERR_SHAPE;
  float *slots = NULL;
  if (count > 0) {
    slots = dn_alloc(bytes);
    if (slots == NULL)
      return DN_ERR_NOMEM;
  }
  dn_free(opt->slots);
  opt->slots = slots;
  opt->n_params = n_params;
  dn_optimizer_reset(opt);
  return DN_OK;
}

/* ---------------------------------------------------------------------------
 * The step
 * ------------------------------------------------------------------------- */

/* keras/src/optimizers/base_optimizer.py _clip_gradients: per-variable clipnorm
 * g * c / max(||g||, c); global_clipnorm scales every gradient by
 * c * min(1/||g||, 1/c) (NaN when the norm is not finite); clipvalue clips
 * elementwise. Norms are summed in double. */
static void clip_gradients(const dn_optimizer_options *o, float *g, const dn_var *vars,
                           size_t n_vars) {
  if (o->clipnorm > 0.0) {
    const float c = (float)o->clipnorm;
    for (size_t v = 0; v < n_vars; v++) {
      if (!vars[v].trainable)
        continue;
      float *gv = g + vars[v].offset;
      double sum = 0.0;
      for (size_t i = 0; i < vars[v].size; i++)
        sum += (double)gv[i] * (double)gv[i];
      const float norm = (float)sqrt(sum);
      const float divisor = norm > c ? norm : c;
      for (size_t i = 0; i < vars[v].size; i++)
        gv[i] = (gv[i] * c) / divisor;
    }
  } else if (o->global_clipnorm > 0.0) {
    double sum = 0.0;
    FOR_TRAINABLE(vars, n_vars, i) {
      sum += (double)g[i] * (double)g[i];
    }
    const double norm = sqrt(sum), c = o->global_clipnorm;
    const double scale = c * fmin(1.0 / norm, 1.0 / c) + (norm - norm);
    const float fscale = (float)scale;
    FOR_TRAINABLE(vars, n_vars, i) {
      g[i] *= fscale;
    }
  } else if (o->clipvalue > 0.0) {
    const float c = (float)o->clipvalue;
    FOR_TRAINABLE(vars, n_vars, i) {
      if (g[i] > c)
        g[i] = c;
      else if (g[i] < -c)
        g[i] = -c;
    }
  }
}

/* Big models update (and are scanned) on every thread: the rules are elementwise, so each
 * weight gets the same float operations whichever thread runs it. */
#define DN_UPDATE_GRAIN ((size_t)1 << 15)

/* One step's constants, from the options, the learning rate and (Nadam) the momentum product
 * including this step's factor. */
static rule_k step_constants(const dn_optimizer *opt, float lr, double u_product) {
  const dn_optimizer_options *o = &opt->options;
  const double t = step_t(opt);
  rule_k k = {.lr = lr, .eps = (float)o->epsilon};
  k.decay = o->weight_decay > 0.0;
  k.wd = (float)o->weight_decay;
  k.b1 = (float)o->beta_1;
  k.b2 = (float)o->beta_2;
  k.c1 = (float)(1.0 - o->beta_1);
  k.c2 = (float)(1.0 - o->beta_2);
  k.mu = (float)o->momentum;
  k.amsgrad = o->amsgrad;
  k.nesterov = o->nesterov;
  k.centered = o->centered;
  switch (opt->kind) {
  case DN_OPT_SGD: k.momentum = o->momentum != 0.0; break;
  case DN_OPT_ADAM:
  case DN_OPT_ADAMW:
    k.alpha = (float)((double)lr * sqrt(1.0 - pow(o->beta_2, t)) / (1.0 - pow(o->beta_1, t)));
    break;
  case DN_OPT_RMSPROP:
  case DN_OPT_ADADELTA:
    k.momentum = o->momentum > 0.0;
    k.rho = (float)o->rho;
    k.c1 = (float)(1.0 - o->rho);
    break;
  case DN_OPT_ADAMAX: k.correction = (float)(1.0 - pow(o->beta_1, t)); break;
  case DN_OPT_NADAM: {
    const double u_t = dn_optimizer_nadam_u(o, t), u_t_1 = dn_optimizer_nadam_u(o, t + 1.0);
    k.fu_t_1 = (float)u_t_1;
    k.f1_u_t = (float)(1.0 - u_t);
    k.d_t_1 = (float)(1.0 - u_product * u_t_1);
    k.d_t = (float)(1.0 - u_product);
    k.v_corr = (float)(1.0 - pow(o->beta_2, t));
    break;
  }
  default: break;
  }
  return k;
}

/* ---------------------------------------------------------------------------
 * The overflow guard. A step whose float arithmetic would leave an Inf or NaN in a weight or
 * a slot is refused before anything is written (Keras would store it). The plain loops above
 * do not check their results, so a step runs them only when it is proven safe beforehand:
 * one pass over the gradients, weights and slots of the trainable variables takes the
 * largest magnitudes (and whether a slot that must stay >= 0 has a sign bit), and the rule's
 * arithmetic bounded from those, in double, stays below FLT_MAX / 4 with every divisor at
 * least FLT_MIN. That holds for every ordinary step, which then gives the bits it always gave.
 * Otherwise (huge gradients, an Inf in a gradient, a centered RMSprop, epsilon 0) the checked
 * path computes each element with the float rule and, where that overflows, with the same
 * rule in double rounded to float (Adam's g * g overflows for |g| > 1.8e19 while the moment
 * (1 - beta_2) * g^2 may still fit), once to check every result and once more to store them.
 * ------------------------------------------------------------------------- */

/* A scan over the trainable elements for what the guard does not know yet: the largest
 * magnitudes of the gradients, the weights and each slot (as float bits without the sign: NaN
 * > Inf > finite, so the maximum also finds those) and which slots have a sign bit set. */
typedef struct scan_job {
  const dn_optimizer *opt;
  const float *w, *g;
  const dn_var *vars;
  size_t n_vars;
  bool state; /* scan the weights and slots too (else the gradients only) */
  _Atomic uint32_t g_bits, w_bits, slot_bits[3];
  atomic_uint negative; /* bit k: slot k holds a value with the sign bit (-0 included) */
} scan_job;

/* *to = max(*to, x), or min with `least`, for threads merging their parts. */
static void atomic_keep(_Atomic uint32_t *to, uint32_t x, bool least) {
  uint32_t old = atomic_load_explicit(to, memory_order_relaxed);
  while ((least ? x < old : x > old) &&
         !atomic_compare_exchange_weak_explicit(to, &old, x, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

static void atomic_max(_Atomic uint32_t *to, uint32_t x) {
  atomic_keep(to, x, false);
}

static int32_t max_abs_bits(const float *x, size_t n, int32_t *sign) {
  int32_t m = 0, s = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t u;
    memcpy(&u, x + i, sizeof u);
    s |= u;
    u &= 0x7fffffff;
    m = u > m ? u : m;
  }
  if (sign != NULL)
    *sign = s < 0;
  return m;
}

static void scan_part(void *ctx, size_t lo, size_t hi) {
  scan_job *j = ctx;
  const size_t np = j->opt->n_params, ns = j->state ? j->opt->n_slots : 0;
  int32_t g = 0, w = 0, slot[3] = {0, 0, 0}, sign = 0;
  unsigned negative = 0;
  dn_var part;
  for (size_t v = 0; v < j->n_vars; v++) {
    if (!dn_var_trainable_within(&j->vars[v], lo, hi, &part))
      continue;
    const size_t at = part.offset, n = part.size;
    int32_t m = max_abs_bits(j->g + at, n, NULL);
    g = m > g ? m : g;
    if (j->state) {
      m = max_abs_bits(j->w + at, n, NULL);
      w = m > w ? m : w;
    }
    for (size_t k = 0; k < ns; k++) {
      m = max_abs_bits(j->opt->slots + k * np + at, n, &sign);
      slot[k] = m > slot[k] ? m : slot[k];
      negative |= (unsigned)sign << k;
    }
  }
  atomic_max(&j->g_bits, (uint32_t)g);
  atomic_max(&j->w_bits, (uint32_t)w);
  for (size_t k = 0; k < 3; k++)
    atomic_max(&j->slot_bits[k], (uint32_t)slot[k]);
  atomic_fetch_or_explicit(&j->negative, negative, memory_order_relaxed);
}

/* What the bounds start from: magnitudes as float bits without the sign; for a centered
 * RMSprop, the smallest denominator vel - avg^2 + eps of the step (NaN if not looked at or
 * not >= FLT_MIN somewhere). */
typedef struct step_scan {
  uint32_t g, w, slot[3];
  unsigned negative;
  float least_denominator;
} step_scan;

/* Centered RMSprop's denominators, computed with the rule's float operations (so they are the
 * ones the step will divide by): a pass over g and two slots, the price of a proof that none
 * is 0 or negative (magnitudes give no lower bound for a difference). */
typedef struct denominator_job {
  const rule_k *k;
  const float *g, *vel, *avg;
  const dn_var *vars;
  size_t n_vars;
  _Atomic uint32_t least; /* float bits of the smallest positive one */
  atomic_bool bad;        /* one is < FLT_MIN or NaN */
} denominator_job;

static void denominator_part(void *ctx, size_t lo, size_t hi) {
  denominator_job *j = ctx;
  const rule_k k = *j->k;
  int32_t least = 0x7f800000; /* Inf */
  bool bad = false;
  dn_var part;
  for (size_t v = 0; v < j->n_vars; v++) {
    if (!dn_var_trainable_within(&j->vars[v], lo, hi, &part))
      continue;
    for (size_t i = part.offset; i < part.offset + part.size; i++) {
      const float g = j->g[i];
      const float vel = k.rho * j->vel[i] + k.c1 * (g * g), avg = k.rho * j->avg[i] + k.c1 * g;
      const float d = vel - avg * avg + k.eps;
      int32_t bits;
      memcpy(&bits, &d, sizeof bits);
      bad |= !(d >= FLT_MIN);
      least = bits < least ? bits : least; /* positive floats order as their bits */
    }
  }
  if (bad)
    atomic_store_explicit(&j->bad, true, memory_order_relaxed);
  atomic_keep(&j->least, (uint32_t)least, true);
}

static float least_denominator(const dn_optimizer *opt, const rule_k *k, const float *g,
                               const dn_var *vars, size_t n_vars, bool threaded) {
  const size_t np = opt->n_params;
  denominator_job j = {k,    g,      opt->slots,  opt->slots + (k->momentum ? 2 : 1) * np,
                       vars, n_vars, 0x7f800000u, false};
  if (threaded)
    dn_parallel_ranges(np, DN_UPDATE_GRAIN, denominator_part, &j);
  else
    denominator_part(&j, 0, np);
  if (atomic_load(&j.bad))
    return NAN;
  const uint32_t bits = atomic_load(&j.least);
  float least;
  memcpy(&least, &bits, sizeof least);
  return least;
}

/* |x| from its bits; Inf for NaN (no bound holds then). */
static double magnitude(uint32_t bits) {
  if (bits > 0x7f800000u)
    return INFINITY;
  float x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

/* Whether every float the rule computes from values within the scan's magnitudes is finite
 * and every divisor at least FLT_MIN (so flush-to-zero cannot make it 0). The bounds follow
 * each rule's operations on the magnitudes; FLT_MAX / 4 leaves room for the float rounding
 * of a dozen operations. */
static bool step_is_bounded(const dn_optimizer *opt, const rule_k *k, const step_scan *scan) {
  const double L = FLT_MAX / 4.0;
  const double G = magnitude(scan->g), lr = k->lr, eps = k->eps;
  const double S0 = magnitude(scan->slot[0]), S1 = magnitude(scan->slot[1]);
  const double S2 = magnitude(scan->slot[2]);
  const unsigned negative = scan->negative;
  double W = magnitude(scan->w);
  if (k->decay)
    W += W * (double)k->wd * lr;
#define BOUNDED(x) ((x) <= L) /* false for NaN */
  if (!BOUNDED(W) || !BOUNDED(G * lr))
    return false;
  double step = 0.0; /* the largest change of a weight */
  switch (opt->kind) {
  case DN_OPT_SGD: {
    step = G * lr;
    if (k->momentum) {
      const double m = S0 * k->mu + step;
      step = k->nesterov ? m * k->mu + step : m;
    }
    break;
  }
  case DN_OPT_ADAM:
  case DN_OPT_ADAMW:
  case DN_OPT_NADAM: {
    const double m = S0 + (G + S0) * k->c1, v = S1 + (G * G + S1) * k->c2;
    if (!BOUNDED(m) || !BOUNDED(G * G + S1) || !BOUNDED(v) || (negative & 2u) ||
        (k->amsgrad && (negative & 4u)) || !(eps >= FLT_MIN) || !BOUNDED(S2))
      return false;
    if (opt->kind != DN_OPT_NADAM) {
      if (!BOUNDED(m * k->alpha))
        return false;
      step = m * k->alpha / eps;
      break;
    }
    if (!(k->d_t_1 >= FLT_MIN) || !(k->d_t >= FLT_MIN) || !(k->v_corr >= FLT_MIN))
      return false;
    const double m_hat = k->fu_t_1 * m / k->d_t_1 + k->f1_u_t * G / k->d_t;
    if (!BOUNDED(m_hat) || !BOUNDED(v / k->v_corr) || !BOUNDED(m_hat * lr))
      return false;
    step = m_hat * lr / eps;
    break;
  }
  case DN_OPT_RMSPROP: {
    /* Centered: vel - avg^2 + eps has no lower bound from magnitudes; its smallest value was
     * computed (scan->least_denominator). */
    const double least = k->centered ? scan->least_denominator : eps;
    const double avg = k->centered ? (k->momentum ? S2 : S1) : 0.0;
    if ((negative & 1u) || !(least >= FLT_MIN) || !BOUNDED(G * G) || !BOUNDED(S0 + G * G) ||
        !BOUNDED(avg + G) || !BOUNDED((avg + G) * (avg + G)))
      return false;
    step = G * lr / sqrt(least);
    if (k->momentum)
      step += S1 * k->mu;
    break;
  }
  case DN_OPT_ADAGRAD:
    if ((negative & 1u) || !(eps >= FLT_MIN) || !BOUNDED(G * G) || !BOUNDED(S0 + G * G))
      return false;
    step = G * lr / sqrt(eps);
    break;
  case DN_OPT_ADADELTA: {
    if ((negative & 3u) || !(eps >= FLT_MIN) || !BOUNDED(G * G) || !BOUNDED(S0 + G * G) ||
        !BOUNDED(S1 + eps) || !BOUNDED(sqrt(S1 + eps) * G))
      return false;
    const double delta = sqrt(S1 + eps) * G / sqrt(eps);
    if (!BOUNDED(delta) || !BOUNDED(S1 + delta * delta))
      return false;
    step = lr * delta;
    break;
  }
  case DN_OPT_ADAMAX: {
    const double m = S0 + (G + S0) * k->c1;
    if ((negative & 2u) || !BOUNDED(m) || !BOUNDED(S1 + G) || !BOUNDED(lr * m) ||
        !(k->correction * eps >= FLT_MIN))
      return false;
    step = lr * m / (k->correction * eps);
    break;
  }
  case DN_OPT_LION:
    if (!BOUNDED(S0 + G) || !BOUNDED(lr))
      return false;
    step = lr;
    break;
  default: return false;
  }
  return BOUNDED(step) && BOUNDED(W + step);
#undef BOUNDED
}

static inline bool finite_float(float x) {
  return fabsf(x) <= FLT_MAX; /* false for Inf and NaN */
}

/* One element on the checked path: weight decay and the float rule, or where a result of
 * those is not finite, both in double rounded to float. False if a result is still Inf or
 * NaN. w and s[0..n_slots) are updated in place. */
static bool checked_element(const opt_row *row, const rule_k *k, size_t n_slots, float *w, float g,
                            float s[3]) {
  float fw = *w, fs[3] = {s[0], s[1], s[2]};
  if (k->decay)
    fw = fw - fw * k->wd * k->lr;
  row->rule_f(k, &fw, g, &fs[0], &fs[1], &fs[2]);
  bool ok = finite_float(fw);
  for (size_t j = 0; j < n_slots; j++)
    ok = ok && finite_float(fs[j]);
  if (!ok) {
    double dw = *w, ds[3] = {s[0], s[1], s[2]};
    if (k->decay)
      dw = dw - dw * k->wd * k->lr;
    row->rule_d(k, &dw, g, &ds[0], &ds[1], &ds[2]);
    fw = (float)dw;
    ok = finite_float(fw);
    for (size_t j = 0; j < n_slots; j++) {
      fs[j] = (float)ds[j];
      ok = ok && finite_float(fs[j]);
    }
  }
  *w = fw;
  for (size_t j = 0; j < n_slots; j++)
    s[j] = fs[j];
  return ok;
}

/* The checked path over the trainable elements: with store false, only checks and on the
 * first element whose result is not finite returns false with its index in *bad; with store
 * true, writes the results. */
static bool checked_pass(dn_optimizer *opt, const rule_k *k, float *w, const float *g,
                         const dn_var *vars, size_t n_vars, bool store, size_t *bad) {
  const opt_row *row = row_of(opt);
  const size_t np = opt->n_params, ns = opt->n_slots;
  FOR_TRAINABLE(vars, n_vars, i) {
    float nw = w[i], s[3] = {0.0f, 0.0f, 0.0f};
    for (size_t j = 0; j < ns; j++)
      s[j] = opt->slots[j * np + i];
    if (!checked_element(row, k, ns, &nw, g[i], s) && !store) {
      *bad = i;
      return false;
    }
    if (store) {
      w[i] = nw;
      for (size_t j = 0; j < ns; j++)
        opt->slots[j * np + i] = s[j];
    }
  }
  return true;
}

/* The refusal's message: the variable and element, the gradient and the weight there. */
static dn_status refuse(const dn_optimizer *opt, const float *w, const float *g, const dn_var *vars,
                        size_t n_vars, size_t i) {
  const dn_var *var = vars;
  for (size_t v = 0; v < n_vars; v++)
    if (vars[v].trainable && i >= vars[v].offset && i - vars[v].offset < vars[v].size)
      var = &vars[v];
  return dn_fail(DN_ERR_NUMERIC,
                 "dn_optimizer_step: the %s update of '%s' element %zu (gradient %g, weight %g) "
                 "would be Inf or NaN; the step was not applied",
                 opt->name, var->name ? var->name : "?", i - var->offset, (double)g[i],
                 (double)w[i]);
}

typedef struct update_job {
  const rule_k *k;
  float *w, *slots;
  const float *g;
  const dn_var *vars;
  size_t n_vars, n_params, n_slots;
  rule_loop loop;
  _Atomic uint32_t most[4]; /* the new values' largest magnitudes: w, slots */
} update_job;

/* The plain rule loop on the trainable elements inside [lo, hi) (weight decay done). */
static void update_range(const update_job *j, size_t lo, size_t hi, int32_t most[4]) {
  dn_var part;
  size_t at = 0, n = 0; /* the run of adjacent trainable elements not yet updated */
  for (size_t v = 0; v <= j->n_vars; v++) {
    const bool more = v < j->n_vars && dn_var_trainable_within(&j->vars[v], lo, hi, &part);
    if (more && n > 0 && part.offset == at + n) {
      n += part.size; /* one loop over adjacent variables (a Dense kernel and bias) */
      continue;
    }
    if (n > 0) {
      float *plane[3];
      for (size_t k = 0; k < 3; k++)
        plane[k] = k < j->n_slots ? j->slots + k * j->n_params + at : j->w + at;
      j->loop(j->k, j->w + at, j->g + at, plane[0], plane[1], plane[2], n, most);
    }
    at = more ? part.offset : 0;
    n = more ? part.size : 0;
  }
}

/* update_range on one thread's share, its magnitudes merged into the job's. */
static void update_part(void *ctx, size_t lo, size_t hi) {
  update_job *j = ctx;
  int32_t most[4] = {0, 0, 0, 0};
  update_range(j, lo, hi, most);
  for (size_t k = 0; k < 4; k++)
    atomic_max(&j->most[k], (uint32_t)most[k]);
}

void dn_optimizer_forget_bounds(dn_optimizer *opt) {
  if (opt != NULL)
    opt->bounds_known = false;
}

dn_status dn_optimizer_step(dn_optimizer *opt, float *w, float *g, const dn_var *vars,
                            size_t n_vars, float g_bound) {
  DN_CHECK_NOT_NULL(opt, "dn_optimizer_step");
  DN_CHECK_NOT_NULL(w, "dn_optimizer_step");
  DN_CHECK_NOT_NULL(g, "dn_optimizer_step");
  if (n_vars > 0 && vars == NULL)
    return dn_fail(DN_ERR_ARG, "dn_optimizer_step: vars is NULL with n_vars = %zu", n_vars);
  size_t trainable = 0;
  for (size_t v = 0; v < n_vars; v++) {
    if (vars[v].offset > opt->n_params || vars[v].size > opt->n_params - vars[v].offset)
      return dn_fail(DN_ERR_SHAPE,
                     "dn_optimizer_step: variable %zu ('%s', offset %zu, size %zu) lies outside "
                     "the %zu parameters the %s optimizer was prepared for",
                     v, vars[v].name ? vars[v].name : "?", vars[v].offset, vars[v].size,
                     opt->n_params, opt->name);
    trainable += vars[v].trainable;
  }
  if (trainable == 0)
    return DN_OK; /* Keras: apply() with no gradients is a no-op */
  if (opt->n_slots > 0 && opt->slots == NULL)
    return dn_fail(DN_ERR_STATE, "dn_optimizer_step: dn_optimizer_prepare was not called");

  const dn_optimizer_options *o = &opt->options;
  const float lr = (float)dn_optimizer_current_lr(opt);
  clip_gradients(o, g, vars, n_vars); /* never makes a gradient larger */
  double u_product = opt->nadam_u_product;
  if (opt->kind == DN_OPT_NADAM)
    u_product *= dn_optimizer_nadam_u(o, step_t(opt));
  const rule_k k = step_constants(opt, lr, u_product);

  /* The magnitudes: the caller's gradient bound and the ones the last update tracked, or a
   * scan for what is not known. */
  const bool threaded = opt->n_params >= 2 * DN_UPDATE_GRAIN;
  step_scan scan = {0};
  const bool g_known = fabsf(g_bound) <= FLT_MAX;
  if (!g_known || !opt->bounds_known) {
    scan_job sj = {opt, w, g, vars, n_vars, !opt->bounds_known, 0, 0, {0, 0, 0}, 0};
    if (threaded)
      dn_parallel_ranges(opt->n_params, DN_UPDATE_GRAIN, scan_part, &sj);
    else
      scan_part(&sj, 0, opt->n_params);
    scan.g = atomic_load(&sj.g_bits);
    if (!opt->bounds_known) {
      opt->bound_w = atomic_load(&sj.w_bits);
      for (size_t s = 0; s < 3; s++)
        opt->bound_slot[s] = atomic_load(&sj.slot_bits[s]);
      opt->negative = atomic_load(&sj.negative);
      opt->bounds_known = true;
    }
  }
  if (g_known)
    memcpy(&scan.g, &g_bound, sizeof scan.g), scan.g &= 0x7fffffffu;
  scan.w = opt->bound_w;
  memcpy(scan.slot, opt->bound_slot, sizeof scan.slot);
  scan.negative = opt->negative;

  scan.least_denominator = NAN;
  if (opt->kind == DN_OPT_RMSPROP && k.centered)
    scan.least_denominator = least_denominator(opt, &k, g, vars, n_vars, threaded);
  if (step_is_bounded(opt, &k, &scan)) {
    if (k.decay) {
      FOR_TRAINABLE(vars, n_vars, i) {
        w[i] = w[i] - w[i] * k.wd * k.lr;
      }
    }
    update_job job = {&k,
                      w,
                      opt->slots,
                      g,
                      vars,
                      n_vars,
                      opt->n_params,
                      opt->n_slots,
                      row_of(opt)->loops[dn_cpu_level_get() >= DN_CPU_AVX2][opt->n_slots],
                      {0, 0, 0, 0}};
    int32_t most[4] = {0, 0, 0, 0};
    if (threaded) {
      dn_parallel_ranges(opt->n_params, DN_UPDATE_GRAIN, update_part, &job);
      for (size_t s = 0; s < 4; s++)
        most[s] = (int32_t)atomic_load(&job.most[s]);
    } else {
      update_range(&job, 0, opt->n_params, most);
    }
    /* Every new value is finite and the slots that were >= 0 still are (each rule keeps
     * them so): the next step starts from these magnitudes. */
    opt->bound_w = (uint32_t)most[0];
    for (size_t s = 0; s < 3; s++)
      opt->bound_slot[s] = (uint32_t)most[s + 1];
  } else {
    size_t bad = 0;
    if (!checked_pass(opt, &k, w, g, vars, n_vars, false, &bad))
      return refuse(opt, w, g, vars, n_vars, bad);
    checked_pass(opt, &k, w, g, vars, n_vars, true, &bad);
    opt->bounds_known = false; /* the next step scans */
  }
  opt->nadam_u_product = u_product;
  opt->iterations++;
  return DN_OK;
}
