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

#include <math.h>
#include <string.h>

#include "core/alloc.h"
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

typedef void (*update_fn)(dn_optimizer *opt, float lr, float *w, const float *g, const dn_var *vars,
                          size_t n_vars);

typedef struct opt_row {
  const char *name; /* Keras name, lower case */
  dn_opt_kind kind;
  unsigned has;
  double learning_rate; /* Keras defaults */
  double beta_2;
  double rho;
  double weight_decay; /* 0 = None */
  size_t (*slot_count)(const dn_optimizer_options *o);
  update_fn update;
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

static float *slot(dn_optimizer *opt, size_t k) {
  return opt->slots + k * opt->n_params;
}

/* Loops over the elements of the trainable variables: i is the index into w, g and each slot. */
#define FOR_TRAINABLE(vars, n_vars, i)                                                             \
  for (size_t v_ = 0; v_ < (n_vars); v_++)                                                         \
    if ((vars)[v_].trainable)                                                                      \
      for (size_t i = (vars)[v_].offset, e_ = i + (vars)[v_].size; i < e_; i++)

/* ---------------------------------------------------------------------------
 * Update rules (keras/src/optimizers/<name>.py update_step)
 * ------------------------------------------------------------------------- */

static double step_t(const dn_optimizer *opt) {
  return (double)opt->iterations + 1.0;
}

static void update_sgd(dn_optimizer *opt, float lr, float *w, const float *g, const dn_var *vars,
                       size_t n_vars) {
  if (opt->options.momentum == 0.0) {
    FOR_TRAINABLE(vars, n_vars, i) {
      w[i] -= g[i] * lr;
    }
    return;
  }
  const float mu = (float)opt->options.momentum;
  float *m = slot(opt, 0);
  if (opt->options.nesterov) {
    FOR_TRAINABLE(vars, n_vars, i) {
      m[i] = m[i] * mu - g[i] * lr;
      w[i] += m[i] * mu - g[i] * lr;
    }
  } else {
    FOR_TRAINABLE(vars, n_vars, i) {
      m[i] = m[i] * mu - g[i] * lr;
      w[i] += m[i];
    }
  }
}

/* Adam and AdamW (AdamW's decay happened before, in the common step). */
static void update_adam(dn_optimizer *opt, float lr, float *w, const float *g, const dn_var *vars,
                        size_t n_vars) {
  const dn_optimizer_options *o = &opt->options;
  const double t = step_t(opt);
  const float alpha =
      (float)((double)lr * sqrt(1.0 - pow(o->beta_2, t)) / (1.0 - pow(o->beta_1, t)));
  const float c1 = (float)(1.0 - o->beta_1), c2 = (float)(1.0 - o->beta_2);
  const float eps = (float)o->epsilon;
  float *m = slot(opt, 0), *v = slot(opt, 1), *v_hat = o->amsgrad ? slot(opt, 2) : NULL;
  FOR_TRAINABLE(vars, n_vars, i) {
    m[i] += (g[i] - m[i]) * c1;
    v[i] += (g[i] * g[i] - v[i]) * c2;
    float vi = v[i];
    if (v_hat != NULL) {
      if (vi > v_hat[i])
        v_hat[i] = vi;
      vi = v_hat[i];
    }
    w[i] -= (m[i] * alpha) / (sqrtf(vi) + eps);
  }
}

static void update_rmsprop(dn_optimizer *opt, float lr, float *w, const float *g,
                           const dn_var *vars, size_t n_vars) {
  const dn_optimizer_options *o = &opt->options;
  const float rho = (float)o->rho, c = (float)(1.0 - o->rho), eps = (float)o->epsilon;
  const float mu = (float)o->momentum;
  size_t k = 0;
  float *vel = slot(opt, k++);
  float *mom = o->momentum > 0.0 ? slot(opt, k++) : NULL;
  float *avg = o->centered ? slot(opt, k++) : NULL;
  FOR_TRAINABLE(vars, n_vars, i) {
    vel[i] = rho * vel[i] + c * (g[i] * g[i]);
    float denominator;
    if (avg != NULL) {
      avg[i] = rho * avg[i] + c * g[i];
      denominator = vel[i] - avg[i] * avg[i] + eps;
    } else {
      denominator = vel[i] + eps;
    }
    const float increment = (lr * g[i]) / sqrtf(denominator);
    if (mom != NULL) {
      mom[i] = mu * mom[i] + increment;
      w[i] -= mom[i];
    } else {
      w[i] -= increment;
    }
  }
}

static void update_adagrad(dn_optimizer *opt, float lr, float *w, const float *g,
                           const dn_var *vars, size_t n_vars) {
  const float eps = (float)opt->options.epsilon;
  float *acc = slot(opt, 0);
  FOR_TRAINABLE(vars, n_vars, i) {
    acc[i] += g[i] * g[i];
    w[i] -= (lr * g[i]) / sqrtf(acc[i] + eps);
  }
}

static void update_adadelta(dn_optimizer *opt, float lr, float *w, const float *g,
                            const dn_var *vars, size_t n_vars) {
  const dn_optimizer_options *o = &opt->options;
  const float rho = (float)o->rho, c = (float)(1.0 - o->rho), eps = (float)o->epsilon;
  float *acc_grad = slot(opt, 0), *acc_delta = slot(opt, 1);
  FOR_TRAINABLE(vars, n_vars, i) {
    acc_grad[i] = rho * acc_grad[i] + c * (g[i] * g[i]);
    const float delta = -((sqrtf(acc_delta[i] + eps) * g[i]) / sqrtf(acc_grad[i] + eps));
    acc_delta[i] = rho * acc_delta[i] + c * (delta * delta);
    w[i] += lr * delta;
  }
}

static void update_adamax(dn_optimizer *opt, float lr, float *w, const float *g, const dn_var *vars,
                          size_t n_vars) {
  const dn_optimizer_options *o = &opt->options;
  const float correction = (float)(1.0 - pow(o->beta_1, step_t(opt)));
  const float c1 = (float)(1.0 - o->beta_1), beta_2 = (float)o->beta_2;
  const float eps = (float)o->epsilon;
  float *m = slot(opt, 0), *u = slot(opt, 1);
  FOR_TRAINABLE(vars, n_vars, i) {
    m[i] += (g[i] - m[i]) * c1;
    const float decayed = beta_2 * u[i], magnitude = fabsf(g[i]);
    u[i] = decayed > magnitude ? decayed : magnitude;
    w[i] -= (lr * m[i]) / (correction * (u[i] + eps));
  }
}

/* Keras keeps the momentum product as a variable and multiplies it by this
 * step's mu_t before the variables are updated, so both denominators use the
 * new product. */
static double nadam_u(const dn_optimizer_options *o, double t) {
  return o->beta_1 * (1.0 - 0.5 * pow(0.96, t));
}

/* opt->nadam_u_product already holds this step's product (dn_optimizer_step). */
static void update_nadam(dn_optimizer *opt, float lr, float *w, const float *g, const dn_var *vars,
                         size_t n_vars) {
  const dn_optimizer_options *o = &opt->options;
  const double t = step_t(opt);
  const double u_t = nadam_u(o, t), u_t_1 = nadam_u(o, t + 1.0);
  const double product_t = opt->nadam_u_product, product_t_1 = product_t * u_t_1;
  const float fu_t_1 = (float)u_t_1, f1_u_t = (float)(1.0 - u_t);
  const float d_t_1 = (float)(1.0 - product_t_1), d_t = (float)(1.0 - product_t);
  const float v_correction = (float)(1.0 - pow(o->beta_2, t));
  const float c1 = (float)(1.0 - o->beta_1), c2 = (float)(1.0 - o->beta_2);
  const float eps = (float)o->epsilon;
  float *m = slot(opt, 0), *v = slot(opt, 1);
  FOR_TRAINABLE(vars, n_vars, i) {
    m[i] += (g[i] - m[i]) * c1;
    v[i] += (g[i] * g[i] - v[i]) * c2;
    const float m_hat = (fu_t_1 * m[i]) / d_t_1 + (f1_u_t * g[i]) / d_t;
    const float v_hat = v[i] / v_correction;
    w[i] -= (m_hat * lr) / (sqrtf(v_hat) + eps);
  }
}

static void update_lion(dn_optimizer *opt, float lr, float *w, const float *g, const dn_var *vars,
                        size_t n_vars) {
  const dn_optimizer_options *o = &opt->options;
  const float b1 = (float)o->beta_1, c1 = (float)(1.0 - o->beta_1);
  const float b2 = (float)o->beta_2, c2 = (float)(1.0 - o->beta_2);
  float *m = slot(opt, 0);
  FOR_TRAINABLE(vars, n_vars, i) {
    const float d = m[i] * b1 + g[i] * c1;
    const float sign = d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : d; /* sign(0) = 0, NaN stays */
    w[i] -= lr * sign;
    m[i] = m[i] * b2 + g[i] * c2;
  }
}

static const opt_row OPTIMIZERS[] = {
    {"sgd", DN_OPT_SGD, HAS_MOMENTUM, 0.01, 0, 0, 0, slots_sgd, update_sgd},
    {"adam", DN_OPT_ADAM, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0, slots_adam, update_adam},
    {"adamw", DN_OPT_ADAMW, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0.004, slots_adam,
     update_adam},
    {"rmsprop", DN_OPT_RMSPROP, HAS_EPSILON | HAS_MOMENTUM | HAS_RHO, 0.001, 0, 0.9, 0,
     slots_rmsprop, update_rmsprop},
    {"adagrad", DN_OPT_ADAGRAD, HAS_EPSILON | HAS_ACCUMULATOR, 0.001, 0, 0, 0, slots_one,
     update_adagrad},
    {"adadelta", DN_OPT_ADADELTA, HAS_EPSILON | HAS_RHO, 0.001, 0, 0.95, 0, slots_two,
     update_adadelta},
    {"adamax", DN_OPT_ADAMAX, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0, slots_two,
     update_adamax},
    {"nadam", DN_OPT_NADAM, HAS_BETAS | HAS_EPSILON, 0.001, 0.999, 0, 0, slots_two, update_nadam},
    {"lion", DN_OPT_LION, HAS_LION_BETAS, 0.001, 0.99, 0, 0, slots_one, update_lion},
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

/* Big models update on every thread: the rules are elementwise, so each
 * weight gets the same float operations whichever thread runs it. */
#define DN_UPDATE_GRAIN ((size_t)1 << 15)

typedef struct update_job {
  dn_optimizer *opt;
  float lr;
  float *w;
  const float *g;
  const dn_var *vars;
  size_t n_vars;
  update_fn update;
} update_job;

/* The update rule on the trainable elements inside [lo, hi). */
static void update_part(void *ctx, size_t lo, size_t hi) {
  const update_job *j = ctx;
  dn_var part;
  for (size_t v = 0; v < j->n_vars; v++)
    if (dn_var_trainable_within(&j->vars[v], lo, hi, &part))
      j->update(j->opt, j->lr, j->w, j->g, &part, 1);
}

dn_status dn_optimizer_step(dn_optimizer *opt, float *w, float *g, const dn_var *vars,
                            size_t n_vars) {
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
  clip_gradients(o, g, vars, n_vars);
  if (o->weight_decay > 0.0) {
    const float wd = (float)o->weight_decay;
    FOR_TRAINABLE(vars, n_vars, i) {
      w[i] = w[i] - w[i] * wd * lr;
    }
  }
  if (opt->kind == DN_OPT_NADAM)
    opt->nadam_u_product *= nadam_u(o, step_t(opt));
  update_job job = {opt, lr, w, g, vars, n_vars, row_of(opt)->update};
  if (opt->n_params < 2 * DN_UPDATE_GRAIN)
    job.update(opt, lr, w, g, vars, n_vars);
  else
    dn_parallel_ranges(opt->n_params, DN_UPDATE_GRAIN, update_part, &job);
  opt->iterations++;
  return DN_OK;
}
