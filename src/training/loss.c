/* loss.c -- the Keras 3 losses, value and gradient, as one table looked up by name.
 *
 * Dimension letters: N rows (the batch), C columns (the last axis).
 *
 * Each loss is a row kernel: it returns one row's loss (Keras's per-sample value: a mean over
 * the last axis, or a sum for categorical/sparse cross-entropy, KL divergence and cosine
 * similarity) and, when asked, writes that row's gradient scaled by `gs` = weight / N. The
 * driver applies Keras's "sum_over_batch_size" reduction: sum of weight * row loss, over N
 * (not over the sum of the weights). Everything is computed in double from the float inputs.
 *
 * Clipping follows the Keras source (keras/src/losses/losses.py, backend/{numpy,jax}/nn.py):
 * the clip bounds are keras.config.epsilon() = 1e-7 and 1 - 1e-7 as float32 holds them
 * (1.00000001e-7 and 0.99999988), so a prediction of exactly 1 with target 0 costs
 * -log(2^-23) = 15.94, as in Keras's float32 graph. The gradient is what autodiff through the
 * clip gives: zero where the clip is active (strictly outside the bounds), the plain derivative
 * where the value lies inside or on a bound. |x| has derivative sign(x), sign(0) = 0; max(m, 0)
 * (hinge) has derivative 0 at m = 0.
 *
 * binary_crossentropy with from_logits uses the stable log-sigmoid form of the JAX and
 * TensorFlow backends (Keras's numpy backend instead clips sigmoid(x), which differs only
 * for |x| > ~16). Without from_logits, probabilities are always clipped, as the numpy and JAX
 * backends do (TensorFlow's backend would reuse a sigmoid layer's logits instead).
 */
#include "training/loss.h"

#include <math.h>
#include <string.h>

#include "core/names.h"
#include "core/options.h"
#include "core/status.h"

/* keras.config.epsilon() and 1 - epsilon as float32 (Keras clips float32 tensors). */
static const float clip_lo_f = 1e-7f;
static const float clip_hi_f = 1.0f - 1e-7f;
/* Cosine similarity's l2_normalize caps 1/||x|| at 1/epsilon. */
#define COSINE_MAX_INV_NORM 1e7

enum {
  OPT_LOGITS = 1u,    /* takes from_logits */
  OPT_SMOOTHING = 2u, /* takes label_smoothing */
  OPT_DELTA = 4u,     /* takes huber_delta */
  OPT_HINGE = 8u,     /* targets all in {0, 1} are read as {-1, 1} */
};

typedef struct loss_ctx {
  double delta;       /* huber */
  double smoothing;   /* cross-entropies */
  bool from_logits;   /* cross-entropies */
  bool hinge_convert; /* hinge: the whole target is binary, use 2t - 1 */
  double lo, hi;      /* probability clip bounds */
} loss_ctx;

/* One row: returns the row loss; if g != NULL writes g[0..C) = gs * d(row loss)/dp.
 * t has C entries, or one class index for the sparse loss. */
typedef double (*row_fn)(float *g, const float *p, const float *t, size_t C, double gs,
                         const loss_ctx *ctx);

typedef struct loss_entry {
  dn_loss loss; /* canonical name, sparse, eval (first member) */
  row_fn row;
  unsigned options;
  const char *aliases[4]; /* other names accepted, NULL-terminated */
} loss_entry;

/* ---- small numeric helpers ---------------------------------------------------------------- */

static double sign_of(double x) {
  return (double)((x > 0) - (x < 0));
}

static double softplus(double x) {
  return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double sigmoid(double x) {
  if (x >= 0)
    return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

/* clip(x, lo, hi); *pass = 1 where the gradient flows through (x within [lo, hi], or NaN). */
static double clip(double x, double lo, double hi, double *pass) {
  *pass = 1.0;
  if (x < lo) {
    *pass = 0.0;
    return lo;
  }
  if (x > hi) {
    *pass = 0.0;
    return hi;
  }
  return x;
}

/* ---- regression losses (mean over the last axis) ------------------------------------------ */

static double row_mse(float *g, const float *p, const float *t, size_t C, double gs,
                      const loss_ctx *ctx) {
  (void)ctx;
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double e = (double)p[j] - t[j];
    sum += e * e;
    if (g)
      g[j] = (float)(gs * 2.0 * e / (double)C);
  }
  return sum / (double)C;
}

static double row_mae(float *g, const float *p, const float *t, size_t C, double gs,
                      const loss_ctx *ctx) {
  (void)ctx;
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double e = (double)p[j] - t[j];
    sum += fabs(e);
    if (g)
      g[j] = (float)(gs * sign_of(e) / (double)C);
  }
  return sum / (double)C;
}

/* 100 * mean(|t - p| / max(|t|, eps)) */
static double row_mape(float *g, const float *p, const float *t, size_t C, double gs,
                       const loss_ctx *ctx) {
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double den = fmax(fabs((double)t[j]), ctx->lo);
    double e = (double)p[j] - t[j];
    sum += fabs(e) / den;
    if (g)
      g[j] = (float)(gs * 100.0 * sign_of(e) / den / (double)C);
  }
  return 100.0 * sum / (double)C;
}

/* mean((log(max(p, eps) + 1) - log(max(t, eps) + 1))^2) */
static double row_msle(float *g, const float *p, const float *t, size_t C, double gs,
                       const loss_ctx *ctx) {
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double pass = p[j] >= ctx->lo ? 1.0 : 0.0;
    double pm = fmax((double)p[j], ctx->lo);
    double d = log1p(pm) - log1p(fmax((double)t[j], ctx->lo));
    sum += d * d;
    if (g)
      g[j] = (float)(gs * pass * 2.0 * d / (pm + 1.0) / (double)C);
  }
  return sum / (double)C;
}

/* e = p - t: 0.5 e^2 where |e| <= delta, delta |e| - 0.5 delta^2 elsewhere; mean. */
static double row_huber(float *g, const float *p, const float *t, size_t C, double gs,
                        const loss_ctx *ctx) {
  double d = ctx->delta, sum = 0;
  for (size_t j = 0; j < C; j++) {
    double e = (double)p[j] - t[j], ae = fabs(e);
    double de;
    if (ae <= d) {
      sum += 0.5 * e * e;
      de = e;
    } else {
      sum += d * ae - 0.5 * d * d;
      de = d * sign_of(e);
    }
    if (g)
      g[j] = (float)(gs * de / (double)C);
  }
  return sum / (double)C;
}

/* log(cosh(e)) = e + softplus(-2e) - log 2, e = p - t; derivative tanh(e). */
static double row_log_cosh(float *g, const float *p, const float *t, size_t C, double gs,
                           const loss_ctx *ctx) {
  (void)ctx;
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double e = (double)p[j] - t[j];
    sum += e + softplus(-2.0 * e) - log(2.0);
    if (g)
      g[j] = (float)(gs * tanh(e) / (double)C);
  }
  return sum / (double)C;
}

/* ---- probabilistic losses ------------------------------------------------------------------ */

/* mean of -(t log p + (1 - t) log(1 - p)), t smoothed towards 0.5. */
static double row_bce(float *g, const float *p, const float *t, size_t C, double gs,
                      const loss_ctx *ctx) {
  double ls = ctx->smoothing, sum = 0;
  for (size_t j = 0; j < C; j++) {
    double tt = t[j] * (1.0 - ls) + 0.5 * ls;
    double l, d;
    if (ctx->from_logits) {
      double x = p[j];
      l = tt * softplus(-x) + (1.0 - tt) * softplus(x); /* -t logsig(x) - (1-t) logsig(-x) */
      d = sigmoid(x) - tt;
    } else {
      double pass, q = clip(p[j], ctx->lo, ctx->hi, &pass);
      l = -(tt * log(q) + (1.0 - tt) * log(1.0 - q));
      d = pass * (-tt / q + (1.0 - tt) / (1.0 - q));
    }
    sum += l;
    if (g)
      g[j] = (float)(gs * d / (double)C);
  }
  return sum / (double)C;
}

/* The sum over the row of -t log q: q = log_softmax(x) with logits, otherwise q = clip(p / sum
 * p). With q = p / s the chain rule gives dL/dp_j = (dL/dq_j - sum_k dL/dq_k q_k) / s. */
static double row_cce(float *g, const float *p, const float *t, size_t C, double gs,
                      const loss_ctx *ctx) {
  double ls = ctx->smoothing, off = ls / (double)C, loss = 0;
  if (ctx->from_logits) {
    double m = p[0], z = 0, tsum = 0;
    for (size_t j = 1; j < C; j++)
      m = fmax(m, (double)p[j]);
    for (size_t j = 0; j < C; j++)
      z += exp((double)p[j] - m);
    double lse = m + log(z);
    for (size_t j = 0; j < C; j++) {
      double tt = t[j] * (1.0 - ls) + off;
      loss -= tt * ((double)p[j] - lse);
      tsum += tt;
    }
    if (g)
      for (size_t j = 0; j < C; j++) {
        double tt = t[j] * (1.0 - ls) + off;
        g[j] = (float)(gs * (exp((double)p[j] - lse) * tsum - tt));
      }
    return loss;
  }
  double s = 0, dot = 0;
  for (size_t j = 0; j < C; j++)
    s += p[j];
  for (size_t j = 0; j < C; j++) {
    double tt = t[j] * (1.0 - ls) + off;
    double pass, q = clip(p[j] / s, ctx->lo, ctx->hi, &pass);
    loss -= tt * log(q);
    dot += pass * (-tt / q) * (p[j] / s);
  }
  if (g)
    for (size_t j = 0; j < C; j++) {
      double tt = t[j] * (1.0 - ls) + off;
      double pass, q = clip(p[j] / s, ctx->lo, ctx->hi, &pass);
      g[j] = (float)(gs * (pass * (-tt / q) - dot) / s);
    }
  return loss;
}

/* Categorical cross-entropy against the one-hot of class k = t[0] (validated beforehand). */
static double row_scce(float *g, const float *p, const float *t, size_t C, double gs,
                       const loss_ctx *ctx) {
  size_t k = (size_t)t[0];
  if (ctx->from_logits) {
    double m = p[0], z = 0;
    for (size_t j = 1; j < C; j++)
      m = fmax(m, (double)p[j]);
    for (size_t j = 0; j < C; j++)
      z += exp((double)p[j] - m);
    double lse = m + log(z);
    if (g)
      for (size_t j = 0; j < C; j++)
        g[j] = (float)(gs * (exp((double)p[j] - lse) - (j == k ? 1.0 : 0.0)));
    return lse - p[k];
  }
  double s = 0;
  for (size_t j = 0; j < C; j++)
    s += p[j];
  double qk = p[k] / s, pass, q = clip(qk, ctx->lo, ctx->hi, &pass);
  double dq = pass * (-1.0 / q); /* dL/dq_k; the other dL/dq_j are 0 */
  if (g)
    for (size_t j = 0; j < C; j++)
      g[j] = (float)(gs * ((j == k ? dq : 0.0) - dq * qk) / s);
  return -log(q);
}

/* sum of t log(t / p), both clipped to [eps, 1]. */
static double row_kld(float *g, const float *p, const float *t, size_t C, double gs,
                      const loss_ctx *ctx) {
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double unused, pass;
    double tc = clip(t[j], ctx->lo, 1.0, &unused);
    double pc = clip(p[j], ctx->lo, 1.0, &pass);
    sum += tc * log(tc / pc);
    if (g)
      g[j] = (float)(gs * pass * (-tc / pc));
  }
  return sum;
}

/* mean(p - t log(p + eps)) */
static double row_poisson(float *g, const float *p, const float *t, size_t C, double gs,
                          const loss_ctx *ctx) {
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double pe = (double)p[j] + ctx->lo;
    sum += (double)p[j] - t[j] * log(pe);
    if (g)
      g[j] = (float)(gs * (1.0 - t[j] / pe) / (double)C);
  }
  return sum / (double)C;
}

/* -sum(a * b), a = t * min(1/||t||, 1/eps), b = p * r, r = min(1/||p||, 1/eps).
 * db_i/dp_j = r (delta_ij - b_i b_j) while the cap is off, r delta_ij when it is on. */
static double row_cosine(float *g, const float *p, const float *t, size_t C, double gs,
                         const loss_ctx *ctx) {
  (void)ctx;
  double pp = 0, tt = 0, pt = 0;
  for (size_t j = 0; j < C; j++) {
    pp += (double)p[j] * p[j];
    tt += (double)t[j] * t[j];
    pt += (double)p[j] * t[j];
  }
  double rp = 1.0 / sqrt(pp), rt = 1.0 / sqrt(tt);
  bool capped = !(rp < COSINE_MAX_INV_NORM);
  rp = fmin(rp, COSINE_MAX_INV_NORM);
  rt = fmin(rt, COSINE_MAX_INV_NORM);
  double ab = pt * rp * rt;
  if (g)
    for (size_t j = 0; j < C; j++) {
      double a = t[j] * rt, b = p[j] * rp;
      g[j] = (float)(gs * -rp * (capped ? a : a - ab * b));
    }
  return -ab;
}

/* ---- hinge losses (mean over the last axis) ----------------------------------------------- */

static double row_hinge(float *g, const float *p, const float *t, size_t C, double gs,
                        const loss_ctx *ctx) {
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double y = ctx->hinge_convert ? 2.0 * t[j] - 1.0 : (double)t[j];
    double m = 1.0 - y * p[j];
    sum += fmax(m, 0.0);
    if (g)
      g[j] = (float)(gs * (m > 0 ? -y : 0.0) / (double)C);
  }
  return sum / (double)C;
}

static double row_squared_hinge(float *g, const float *p, const float *t, size_t C, double gs,
                                const loss_ctx *ctx) {
  double sum = 0;
  for (size_t j = 0; j < C; j++) {
    double y = ctx->hinge_convert ? 2.0 * t[j] - 1.0 : (double)t[j];
    double h = fmax(1.0 - y * p[j], 0.0);
    sum += h * h;
    if (g)
      g[j] = (float)(gs * -2.0 * y * h / (double)C);
  }
  return sum / (double)C;
}

/* ---- the table ------------------------------------------------------------------------------ */

enum {
  LOSS_MSE,
  LOSS_MAE,
  LOSS_MAPE,
  LOSS_MSLE,
  LOSS_HUBER,
  LOSS_LOG_COSH,
  LOSS_BCE,
  LOSS_CCE,
  LOSS_SCCE,
  LOSS_HINGE,
  LOSS_SQUARED_HINGE,
  LOSS_KLD,
  LOSS_POISSON,
  LOSS_COSINE,
  LOSS_CE,
  LOSS_COUNT
};

static const loss_entry table[LOSS_COUNT];

static dn_status run(const loss_entry *e, double *loss, float *grad, const float *pred,
                     const float *target, size_t rows, size_t cols, const float *sample_weight,
                     const dn_loss_params *params);

#define DEFINE_EVAL(fn, id)                                                                        \
  static dn_status fn(double *loss, float *grad, const float *pred, const float *target,           \
                      size_t rows, size_t cols, const float *sample_weight,                        \
                      const dn_loss_params *params) {                                              \
    return run(&table[id], loss, grad, pred, target, rows, cols, sample_weight, params);           \
  }

DEFINE_EVAL(eval_mse, LOSS_MSE)
DEFINE_EVAL(eval_mae, LOSS_MAE)
DEFINE_EVAL(eval_mape, LOSS_MAPE)
DEFINE_EVAL(eval_msle, LOSS_MSLE)
DEFINE_EVAL(eval_huber, LOSS_HUBER)
DEFINE_EVAL(eval_log_cosh, LOSS_LOG_COSH)
DEFINE_EVAL(eval_bce, LOSS_BCE)
DEFINE_EVAL(eval_cce, LOSS_CCE)
DEFINE_EVAL(eval_scce, LOSS_SCCE)
DEFINE_EVAL(eval_hinge, LOSS_HINGE)
DEFINE_EVAL(eval_squared_hinge, LOSS_SQUARED_HINGE)
DEFINE_EVAL(eval_kld, LOSS_KLD)
DEFINE_EVAL(eval_poisson, LOSS_POISSON)
DEFINE_EVAL(eval_cosine, LOSS_COSINE)

/* "crossentropy" has no formula of its own: train.c swaps in the loss it resolves to before
 * the first batch (dn_loss_resolve). */
static dn_status eval_ce(double *loss, float *grad, const float *pred, const float *target,
                         size_t rows, size_t cols, const float *sample_weight,
                         const dn_loss_params *params) {
  (void)loss, (void)grad, (void)pred, (void)target, (void)rows, (void)cols, (void)sample_weight;
  (void)params;
  return dn_fail(DN_ERR_STATE, "loss 'crossentropy' is not resolved from the targets yet");
}

/* Names: the Keras 3 function name, its class name and the aliases of keras.losses.get
 * (keras/src/losses/__init__.py). "logcosh" is a Keras legacy alias; "cce" and "scce" are not
 * Keras names at all (libdensenet extras). */
static const loss_entry table[LOSS_COUNT] = {
    [LOSS_MSE] = {{"mean_squared_error", false, eval_mse},
                  row_mse,
                  0,
                  {"mse", "MSE", "MeanSquaredError", NULL}},
    [LOSS_MAE] = {{"mean_absolute_error", false, eval_mae},
                  row_mae,
                  0,
                  {"mae", "MAE", "MeanAbsoluteError", NULL}},
    [LOSS_MAPE] = {{"mean_absolute_percentage_error", false, eval_mape},
                   row_mape,
                   0,
                   {"mape", "MAPE", "MeanAbsolutePercentageError", NULL}},
    [LOSS_MSLE] = {{"mean_squared_logarithmic_error", false, eval_msle},
                   row_msle,
                   0,
                   {"msle", "MSLE", "MeanSquaredLogarithmicError", NULL}},
    [LOSS_HUBER] = {{"huber", false, eval_huber}, row_huber, OPT_DELTA, {"Huber", NULL}},
    [LOSS_LOG_COSH] = {{"log_cosh", false, eval_log_cosh},
                       row_log_cosh,
                       0,
                       {"logcosh", "LogCosh", NULL}},
    [LOSS_BCE] = {{"binary_crossentropy", false, eval_bce},
                  row_bce,
                  OPT_LOGITS | OPT_SMOOTHING,
                  {"bce", "BCE", "BinaryCrossentropy", NULL}},
    [LOSS_CCE] = {{"categorical_crossentropy", false, eval_cce},
                  row_cce,
                  OPT_LOGITS | OPT_SMOOTHING,
                  {"cce", "CategoricalCrossentropy", NULL}},
    [LOSS_SCCE] = {{"sparse_categorical_crossentropy", true, eval_scce},
                   row_scce,
                   OPT_LOGITS,
                   {"scce", "SparseCategoricalCrossentropy", NULL}},
    [LOSS_HINGE] = {{"hinge", false, eval_hinge}, row_hinge, OPT_HINGE, {"Hinge", NULL}},
    [LOSS_SQUARED_HINGE] = {{"squared_hinge", false, eval_squared_hinge},
                            row_squared_hinge,
                            OPT_HINGE,
                            {"SquaredHinge", NULL}},
    [LOSS_KLD] = {{"kl_divergence", false, eval_kld},
                  row_kld,
                  0,
                  {"kld", "KLD", "KLDivergence", NULL}},
    [LOSS_POISSON] = {{"poisson", false, eval_poisson}, row_poisson, 0, {"Poisson", NULL}},
    [LOSS_COSINE] = {{"cosine_similarity", false, eval_cosine},
                     row_cosine,
                     0,
                     {"CosineSimilarity", NULL}},
    /* Keras 3's compile_utils.get_loss resolves it from the shapes at the first batch */
    [LOSS_CE] = {{"crossentropy", false, eval_ce, true},
                 NULL,
                 OPT_LOGITS | OPT_SMOOTHING,
                 {"ce", NULL}},
};

/* ---- lookup, option checks and the reduction ----------------------------------------------- */

/* Every accepted name in table order: each loss's name, then its aliases. */
static const char *loss_name_at(const void *unused, size_t index) {
  (void)unused;
  for (size_t i = 0; i < LOSS_COUNT; i++) {
    if (index == 0)
      return table[i].loss.name;
    index--;
    for (const char *const *a = table[i].aliases; *a != NULL; a++, index--)
      if (index == 0)
        return *a;
  }
  return "";
}

static size_t loss_name_count(void) {
  size_t n = 0;
  for (size_t i = 0; i < LOSS_COUNT; i++)
    for (const char *const *a = table[i].aliases; *a != NULL; a++)
      n++;
  return n + LOSS_COUNT;
}

const dn_loss *dn_loss_find(const char *name) {
  if (name == NULL)
    return dn_fail_null(DN_ERR_ARG, "loss name is NULL");
  for (size_t i = 0; i < LOSS_COUNT; i++) {
    if (strcmp(name, table[i].loss.name) == 0)
      return &table[i].loss;
    for (const char *const *a = table[i].aliases; *a != NULL; a++)
      if (strcmp(name, *a) == 0)
        return &table[i].loss;
  }
  dn_fail_unknown_name("loss", name, loss_name_at, NULL, loss_name_count());
  return NULL;
}

const dn_loss *dn_loss_resolve(const dn_loss *loss, size_t output_cols, size_t target_cols) {
  if (!loss->from_targets)
    return loss;
  if (output_cols == 1)
    return &table[LOSS_BCE].loss;
  return target_cols == 1 ? &table[LOSS_SCCE].loss : &table[LOSS_CCE].loss;
}

/* Resolves params (NULL = Keras defaults) into ctx, rejecting bad values and options the loss
 * does not take. */
static dn_status resolve(const loss_entry *e, const dn_loss_params *params, loss_ctx *ctx) {
  const char *name = e->loss.name;
  dn_loss_params def = {1.0, false, 0.0};
  if (params == NULL)
    params = &def;
  *ctx = (loss_ctx){1.0, 0.0, false, false, (double)clip_lo_f, (double)clip_hi_f};
  if (e->options & OPT_DELTA) {
    double d = dn_option_or_default(params->huber_delta, 1.0);
    if (!(d > 0) || !isfinite(d))
      return dn_fail(DN_ERR_ARG, "loss '%s': huber_delta must be > 0, got %g", name, d);
    ctx->delta = d;
  }
  if (params->from_logits && !(e->options & OPT_LOGITS))
    return dn_fail(DN_ERR_ARG, "loss '%s' takes no from_logits option", name);
  ctx->from_logits = params->from_logits;
  double ls = params->label_smoothing;
  if (e->options & OPT_SMOOTHING) {
    if (!(ls >= 0 && ls <= 1))
      return dn_fail(DN_ERR_ARG, "loss '%s': label_smoothing must be in [0, 1], got %g", name, ls);
    ctx->smoothing = ls == 0 ? 0.0 : ls;
  } else if (ls != 0) {
    return dn_fail(DN_ERR_ARG, "loss '%s' takes no label_smoothing option (got %g)", name, ls);
  }
  return DN_OK;
}

/* The table entry of a loss, or NULL for a pointer that is not one of the table's. */
static const loss_entry *entry_of(const dn_loss *loss) {
  for (size_t i = 0; i < LOSS_COUNT; i++)
    if (loss == &table[i].loss)
      return &table[i];
  return NULL;
}

bool dn_loss_takes_huber_delta(const dn_loss *loss) {
  const loss_entry *e = entry_of(loss);
  return e != NULL && (e->options & OPT_DELTA) != 0;
}

dn_status dn_loss_check_params(const dn_loss *loss, const dn_loss_params *params) {
  const loss_entry *e = entry_of(loss);
  if (e == NULL)
    return dn_fail(DN_ERR_ARG, "dn_loss_check_params: not a loss of the table");
  loss_ctx ctx;
  return resolve(e, params, &ctx);
}

static dn_status run(const loss_entry *e, double *loss, float *grad, const float *pred,
                     const float *target, size_t rows, size_t cols, const float *sample_weight,
                     const dn_loss_params *params) {
  const char *name = e->loss.name;
  if (loss == NULL || pred == NULL || target == NULL)
    return dn_fail(DN_ERR_ARG, "loss '%s': %s is NULL", name,
                   loss == NULL   ? "loss"
                   : pred == NULL ? "pred"
                                  : "target");
  if (rows == 0 || cols == 0)
    return dn_fail(DN_ERR_ARG, "loss '%s': empty batch (%zu rows x %zu columns)", name, rows, cols);
  loss_ctx ctx;
  dn_status st = resolve(e, params, &ctx);
  if (st != DN_OK)
    return st;
  size_t tcols = e->loss.sparse ? 1 : cols;
  if (e->loss.sparse)
    for (size_t r = 0; r < rows; r++) {
      double v = target[r];
      if (!(v >= 0 && v < (double)cols && v == floor(v)))
        return dn_fail(DN_ERR_ARG, "loss '%s': row %zu: target %g is not a class index in [0, %zu)",
                       name, r, v, cols);
    }
  if (e->options & OPT_HINGE) { /* Keras converts only if every label is 0 or 1 */
    ctx.hinge_convert = true;
    for (size_t r = 0; r < rows && ctx.hinge_convert; r++)
      for (size_t j = 0; j < cols; j++) {
        float v = target[r * cols + j];
        if (v != 0.0f && v != 1.0f) {
          ctx.hinge_convert = false;
          break;
        }
      }
  }
  double total = 0;
  for (size_t r = 0; r < rows; r++) {
    double w = sample_weight ? (double)sample_weight[r] : 1.0;
    double l = e->row(grad ? grad + r * cols : NULL, pred + r * cols, target + r * tcols, cols,
                      w / (double)rows, &ctx);
    total += w * l;
  }
  *loss = total / (double)rows;
  return DN_OK;
}
