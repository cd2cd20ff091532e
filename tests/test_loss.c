/* test_loss.c -- the Keras 3 losses of loss.c: values by hand and against an independent double
 * implementation of the Keras formulas, gradients against central finite differences of that
 * implementation, sample weights, clipping edges, options, lookup and errors. */
#include "dn_test.h"

#include <stdbool.h>

#include "core/alloc.h"
#include "training/loss.h"

/* Keras clips float32 tensors: epsilon 1e-7 and 1 - 1e-7 as float32 holds them. */
#define EPS32 1.00000001168609742e-07 /* (float)1e-7 */
#define HI32 0.99999988079071044922   /* (float)(1 - 1e-7) = 1 - 2^-23 */

/* ---- an independent double implementation, written after the Keras source ------------------- */

typedef struct ref_opts {
  double delta, ls;
  bool logits;
  bool hinge_convert; /* set by ref_loss */
} ref_opts;

typedef double (*ref_row_fn)(const double *p, const double *t, size_t C, const ref_opts *o);

static double clipd(double x, double lo, double hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

static double mean_of(const double *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  return s / (double)n;
}

#define MAXC 8

static double ref_mse(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double v[MAXC];
  for (size_t j = 0; j < C; j++)
    v[j] = (t[j] - p[j]) * (t[j] - p[j]);
  return mean_of(v, C);
}

static double ref_mae(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double v[MAXC];
  for (size_t j = 0; j < C; j++)
    v[j] = fabs(t[j] - p[j]);
  return mean_of(v, C);
}

static double ref_mape(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double v[MAXC];
  for (size_t j = 0; j < C; j++)
    v[j] = fabs((t[j] - p[j]) / fmax(fabs(t[j]), EPS32));
  return 100.0 * mean_of(v, C);
}

static double ref_msle(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double v[MAXC];
  for (size_t j = 0; j < C; j++) {
    double d = log(fmax(p[j], EPS32) + 1.0) - log(fmax(t[j], EPS32) + 1.0);
    v[j] = d * d;
  }
  return mean_of(v, C);
}

static double ref_huber(const double *p, const double *t, size_t C, const ref_opts *o) {
  double v[MAXC];
  for (size_t j = 0; j < C; j++) {
    double e = p[j] - t[j];
    v[j] = fabs(e) <= o->delta ? 0.5 * e * e : o->delta * fabs(e) - 0.5 * o->delta * o->delta;
  }
  return mean_of(v, C);
}

static double ref_log_cosh(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double v[MAXC];
  for (size_t j = 0; j < C; j++)
    v[j] = log(cosh(p[j] - t[j]));
  return mean_of(v, C);
}

static double ref_bce(const double *p, const double *t, size_t C, const ref_opts *o) {
  double v[MAXC];
  for (size_t j = 0; j < C; j++) {
    double tt = t[j] * (1.0 - o->ls) + 0.5 * o->ls;
    double q = o->logits ? 1.0 / (1.0 + exp(-p[j])) : clipd(p[j], EPS32, HI32);
    v[j] = -(tt * log(q) + (1.0 - tt) * log(1.0 - q));
  }
  return mean_of(v, C);
}

static double ref_cce(const double *p, const double *t, size_t C, const ref_opts *o) {
  double logq[MAXC], s = 0, loss = 0;
  for (size_t j = 0; j < C; j++)
    s += o->logits ? exp(p[j]) : p[j];
  for (size_t j = 0; j < C; j++)
    logq[j] = o->logits ? log(exp(p[j]) / s) : log(clipd(p[j] / s, EPS32, HI32));
  for (size_t j = 0; j < C; j++)
    loss -= (t[j] * (1.0 - o->ls) + o->ls / (double)C) * logq[j];
  return loss;
}

static double ref_scce(const double *p, const double *t, size_t C, const ref_opts *o) {
  double onehot[MAXC] = {0};
  onehot[(size_t)t[0]] = 1.0;
  return ref_cce(p, onehot, C, o);
}

static double ref_hinge(const double *p, const double *t, size_t C, const ref_opts *o) {
  double v[MAXC];
  for (size_t j = 0; j < C; j++) {
    double y = o->hinge_convert ? 2.0 * t[j] - 1.0 : t[j];
    v[j] = fmax(1.0 - y * p[j], 0.0);
  }
  return mean_of(v, C);
}

static double ref_squared_hinge(const double *p, const double *t, size_t C, const ref_opts *o) {
  double v[MAXC];
  for (size_t j = 0; j < C; j++) {
    double y = o->hinge_convert ? 2.0 * t[j] - 1.0 : t[j];
    v[j] = fmax(1.0 - y * p[j], 0.0) * fmax(1.0 - y * p[j], 0.0);
  }
  return mean_of(v, C);
}

static double ref_kld(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double s = 0;
  for (size_t j = 0; j < C; j++) {
    double tc = clipd(t[j], EPS32, 1.0), pc = clipd(p[j], EPS32, 1.0);
    s += tc * log(tc / pc);
  }
  return s;
}

static double ref_poisson(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double v[MAXC];
  for (size_t j = 0; j < C; j++)
    v[j] = p[j] - t[j] * log(p[j] + EPS32);
  return mean_of(v, C);
}

/* keras.ops.normalize(x, order=2): x * minimum(rsqrt(sum(x^2)), 1 / epsilon). */
static void ref_l2_normalize(double *out, const double *x, size_t C) {
  double ss = 0;
  for (size_t j = 0; j < C; j++)
    ss += x[j] * x[j];
  double inv = fmin(1.0 / sqrt(ss), 1.0 / 1e-7);
  for (size_t j = 0; j < C; j++)
    out[j] = x[j] * inv;
}

static double ref_cosine(const double *p, const double *t, size_t C, const ref_opts *o) {
  (void)o;
  double a[MAXC], b[MAXC], s = 0;
  ref_l2_normalize(a, t, C);
  ref_l2_normalize(b, p, C);
  for (size_t j = 0; j < C; j++)
    s += a[j] * b[j];
  return -s;
}

static const struct {
  const char *name;
  ref_row_fn fn;
  bool sparse, hinge;
} refs[] = {
    {"mean_squared_error", ref_mse, false, false},
    {"mean_absolute_error", ref_mae, false, false},
    {"mean_absolute_percentage_error", ref_mape, false, false},
    {"mean_squared_logarithmic_error", ref_msle, false, false},
    {"huber", ref_huber, false, false},
    {"log_cosh", ref_log_cosh, false, false},
    {"binary_crossentropy", ref_bce, false, false},
    {"categorical_crossentropy", ref_cce, false, false},
    {"sparse_categorical_crossentropy", ref_scce, true, false},
    {"hinge", ref_hinge, false, true},
    {"squared_hinge", ref_squared_hinge, false, true},
    {"kl_divergence", ref_kld, false, false},
    {"poisson", ref_poisson, false, false},
    {"cosine_similarity", ref_cosine, false, false},
};
#define NREFS (sizeof refs / sizeof refs[0])

/* sum_over_batch_size: sum of w * row loss, over the number of rows. */
static double ref_loss(size_t k, const double *p, const double *t, size_t N, size_t C,
                       const float *sw, ref_opts o) {
  size_t tc = refs[k].sparse ? 1 : C;
  o.hinge_convert = refs[k].hinge;
  for (size_t i = 0; i < N * tc && o.hinge_convert; i++)
    o.hinge_convert = t[i] == 0.0 || t[i] == 1.0;
  double s = 0;
  for (size_t r = 0; r < N; r++)
    s += (sw ? sw[r] : 1.0) * refs[k].fn(p + r * C, t + r * tc, C, &o);
  return s / (double)N;
}

static size_t ref_index(const char *name) {
  for (size_t k = 0; k < NREFS; k++)
    if (strcmp(refs[k].name, name) == 0)
      return k;
  fail_msg("no reference for %s", name);
  return 0;
}

/* ---- the comparison harness ------------------------------------------------------------------ */

typedef struct loss_case {
  const char *name;
  dn_loss_params params;
  const float *p, *t;
  size_t N, C;
} loss_case;

static dn_loss_params defaults(void) {
  return (dn_loss_params){1.0, false, 0.0};
}

/* Library value and gradient vs the reference value and central differences of the reference
 * (h = 1e-6, in double), with and without sample weights; the gradient must not be all zero. */
static void check_against_reference(const loss_case *c) {
  const dn_loss *loss = dn_loss_find(c->name);
  assert_non_null(loss);
  size_t k = ref_index(loss->name);
  size_t tcols = loss->sparse ? 1 : c->C;
  double p[64], t[64];
  float grad[64];
  assert_true(c->N * c->C <= 64);
  for (size_t i = 0; i < c->N * c->C; i++)
    p[i] = c->p[i];
  for (size_t i = 0; i < c->N * tcols; i++)
    t[i] = c->t[i];
  ref_opts o = {c->params.huber_delta, c->params.label_smoothing, c->params.from_logits, false};
  const float weights[12] = {0.5f,  2.0f, 1.25f, 0.0f, 3.0f, 1.0f,
                             0.75f, 1.5f, 0.25f, 2.5f, 1.0f, 0.5f};
  for (int weighted = 0; weighted < 2; weighted++) {
    const float *sw = weighted ? weights : NULL;
    double value = NAN;
    assert_ok(loss->eval(&value, grad, c->p, c->t, c->N, c->C, sw, &c->params));
    double expect = ref_loss(k, p, t, c->N, c->C, sw, o);
    if (!dn_close(value, expect, 1e-12, 1e-10))
      fail_msg("%s (weighted %d): value %.15g, reference %.15g", c->name, weighted, value, expect);
    double value_only = NAN;
    assert_ok(loss->eval(&value_only, NULL, c->p, c->t, c->N, c->C, sw, &c->params));
    assert_true(value_only == value);
    double gmax = 0;
    for (size_t i = 0; i < c->N * c->C; i++) {
      const double h = 1e-6;
      double keep = p[i];
      p[i] = keep + h;
      double up = ref_loss(k, p, t, c->N, c->C, sw, o);
      p[i] = keep - h;
      double down = ref_loss(k, p, t, c->N, c->C, sw, o);
      p[i] = keep;
      double fd = (up - down) / (2 * h);
      if (!dn_close(grad[i], fd, 1e-7, 2e-5))
        fail_msg("%s (weighted %d): grad[%zu] = %.9g, finite difference %.9g", c->name, weighted, i,
                 (double)grad[i], fd);
      gmax = fmax(gmax, fabs(grad[i]));
    }
    if (!(gmax > 1e-3))
      fail_msg("%s: gradient is (nearly) zero everywhere", c->name);
  }
}

/* 3 x 4 test data, chosen away from every kink (|p - t| not near 0 or the huber delta, hinge
 * margins not near 0, probabilities inside the clip). */
static const float reg_p[12] = {0.3f,  -1.2f, 2.5f, 0.9f,  -0.4f, 1.7f,
                                -2.2f, 0.1f,  1.1f, -0.8f, 0.6f,  3.0f};
static const float reg_t[12] = {1.0f,  -0.5f, 0.4f, 0.2f, 0.8f,  1.2f,
                                -0.3f, -0.6f, 2.9f, 0.1f, -0.9f, 1.4f};
static const float pos_p[12] = {0.3f, 1.2f, 2.5f, 0.9f, 0.4f, 1.7f,
                                2.2f, 0.1f, 1.1f, 0.8f, 0.6f, 3.0f};
static const float pos_t[12] = {1.0f, 0.0f, 0.4f, 2.0f, 0.8f, 1.2f,
                                3.0f, 0.0f, 2.9f, 0.1f, 0.9f, 1.4f};
static const float prob_p[12] = {0.3f,  0.8f, 0.55f, 0.1f,  0.95f, 0.4f,
                                 0.65f, 0.2f, 0.7f,  0.05f, 0.5f,  0.85f};
static const float bin_t[12] = {0.0f, 1.0f, 1.0f, 0.0f, 1.0f, 0.0f,
                                0.3f, 0.0f, 1.0f, 0.0f, 0.7f, 1.0f};
static const float cat_p[12] = {0.2f, 0.5f, 0.1f,  0.4f,  1.0f, 0.3f,
                                0.6f, 0.1f, 0.05f, 0.05f, 0.7f, 0.2f};
static const float cat_t[12] = {0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f,
                                1.0f, 0.0f, 0.2f, 0.3f, 0.5f, 0.0f};
static const float multi_t[12] = {1.0f, 1.0f, 0.0f, 0.0f, 0.5f, 0.0f, /* rows not summing to 1 */
                                  0.0f, 0.0f, 0.0f, 0.0f, 0.2f, 0.3f};
static const float sparse_t[3] = {1.0f, 2.0f, 0.0f};
static const float hinge_t[12] = {0.0f, 1.0f, 1.0f, 0.0f, 1.0f, 0.0f,
                                  0.0f, 1.0f, 1.0f, 1.0f, 0.0f, 0.0f};
static const float signed_t[12] = {-1.0f, 1.0f,  -1.0f, 1.0f,  0.5f, -0.5f,
                                   1.0f,  -1.0f, 2.0f,  -1.0f, 1.0f, 1.0f};
static const float kld_t[12] = {0.1f,  0.5f,  0.3f, 0.1f, 0.25f, 0.25f,
                                0.25f, 0.25f, 0.0f, 1.0f, 0.0f,  0.0f};

static void test_every_loss_matches_reference(void **state) {
  (void)state;
  dn_loss_params d = defaults(), logits = defaults(), ls = defaults(), ls_logits = defaults(),
                 delta = defaults();
  logits.from_logits = true;
  ls.label_smoothing = 0.2;
  ls_logits.label_smoothing = 0.1;
  ls_logits.from_logits = true;
  delta.huber_delta = 0.8;
  const loss_case cases[] = {
      {"mse", d, reg_p, reg_t, 3, 4},
      {"mae", d, reg_p, reg_t, 3, 4},
      {"mape", d, reg_p, reg_t, 3, 4},
      {"msle", d, pos_p, pos_t, 3, 4},
      {"huber", d, reg_p, reg_t, 3, 4},
      {"huber", delta, reg_p, reg_t, 3, 4},
      {"log_cosh", d, reg_p, reg_t, 3, 4},
      {"bce", d, prob_p, bin_t, 3, 4},
      {"bce", ls, prob_p, bin_t, 3, 4},
      {"bce", logits, reg_p, bin_t, 3, 4},
      {"bce", ls_logits, reg_p, bin_t, 3, 4},
      {"categorical_crossentropy", d, cat_p, cat_t, 3, 4},
      {"categorical_crossentropy", ls, cat_p, cat_t, 3, 4},
      {"categorical_crossentropy", logits, reg_p, cat_t, 3, 4},
      {"categorical_crossentropy", ls_logits, reg_p, cat_t, 3, 4},
      {"categorical_crossentropy", d, cat_p, multi_t, 3, 4},
      {"categorical_crossentropy", ls_logits, reg_p, multi_t, 3, 4},
      {"sparse_categorical_crossentropy", d, cat_p, sparse_t, 3, 4},
      {"sparse_categorical_crossentropy", logits, reg_p, sparse_t, 3, 4},
      {"hinge", d, reg_p, hinge_t, 3, 4},
      {"hinge", d, reg_p, signed_t, 3, 4}, /* non-binary labels: used as they are */
      {"squared_hinge", d, reg_p, hinge_t, 3, 4},
      {"squared_hinge", d, reg_p, signed_t, 3, 4},
      {"kld", d, prob_p, kld_t, 3, 4},
      {"poisson", d, pos_p, pos_t, 3, 4},
      {"cosine_similarity", d, reg_p, reg_t, 3, 4},
      {"mse", d, reg_p, reg_t, 12, 1}, /* a single column */
      {"cosine_similarity", d, reg_p, reg_t, 2, 6},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_against_reference(&cases[i]);
}

/* ---- hand-computed values -----------------------------------------------------------------------
 */

static double eval_value(const char *name, const float *p, const float *t, size_t N, size_t C,
                         const float *sw, const dn_loss_params *params, float *grad) {
  const dn_loss *loss = dn_loss_find(name);
  assert_non_null(loss);
  double v = NAN;
  assert_ok(loss->eval(&v, grad, p, t, N, C, sw, params));
  return v;
}

static void test_regression_by_hand(void **state) {
  (void)state;
  dn_loss_params d = defaults();
  float g[4];
  /* p = [[1,2],[3,4]], t = [[0,2],[1,1]]: e = [[1,0],[2,3]].
   * mse rows (1+0)/2 = 0.5, (4+9)/2 = 6.5 -> 3.5; dL/dp = 2e/(C N) = e/2.
   * mae rows (1+0)/2 = 0.5, (2+3)/2 = 2.5 -> 1.5; dL/dp = sign(e)/4, sign(0) = 0. */
  const float p[4] = {1, 2, 3, 4}, t[4] = {0, 2, 1, 1};
  assert_close(eval_value("mse", p, t, 2, 2, NULL, &d, g), 3.5, 1e-12, 0);
  const float g_mse[4] = {0.5f, 0.0f, 1.0f, 1.5f};
  assert_close_array(g, g_mse, 4, 0, 0);
  assert_close(eval_value("mae", p, t, 2, 2, NULL, &d, g), 1.5, 1e-12, 0);
  const float g_mae[4] = {0.25f, 0.0f, 0.25f, 0.25f};
  assert_close_array(g, g_mae, 4, 0, 0);

  /* Sample weights multiply the row losses and the sum is divided by N, not by sum(w):
   * w = [2, 0.5]: (2 * 0.5 + 0.5 * 6.5) / 2 = 2.125; gradient rows scaled by w. */
  const float w[2] = {2.0f, 0.5f};
  assert_close(eval_value("mse", p, t, 2, 2, w, &d, g), 2.125, 1e-12, 0);
  const float g_w[4] = {1.0f, 0.0f, 0.5f, 0.75f};
  assert_close_array(g, g_w, 4, 0, 0);

  /* Keras docstring: huber([[0,1],[0,0]], [[0.6,0.4],[0.4,0.6]]) = 0.155:
   * 0.5 e^2 = [0.18, 0.18], [0.08, 0.18]; row means 0.18, 0.13. dL/dp = e / 4. */
  const float ht[4] = {0, 1, 0, 0}, hp[4] = {0.6f, 0.4f, 0.4f, 0.6f};
  assert_close(eval_value("huber", hp, ht, 2, 2, NULL, &d, g), 0.155, 1e-7, 0);
  const float g_h[4] = {0.15f, -0.15f, 0.1f, 0.15f};
  assert_close_array(g, g_h, 4, 1e-7, 0);
  /* delta = 0.5, e = 2: 0.5 * 2 - 0.5 * 0.25 = 0.875, gradient delta = 0.5. */
  dn_loss_params half = {0.5, false, 0.0};
  const float e2p[1] = {3.0f}, e2t[1] = {1.0f};
  assert_close(eval_value("huber", e2p, e2t, 1, 1, NULL, &half, g), 0.875, 1e-12, 0);
  assert_close(g[0], 0.5, 0, 0);

  /* Keras docstring: log_cosh([[0,1],[0,0]], [[1,1],[0,0]]) = 0.108:
   * log(cosh(1)) = 0.433781, row means 0.216891, 0 -> 0.108445; dL/dp = tanh(e)/4. */
  const float lp[4] = {1, 1, 0, 0};
  assert_close(eval_value("log_cosh", lp, ht, 2, 2, NULL, &d, g), log(cosh(1.0)) / 4, 1e-12, 0);
  assert_close(g[0], tanh(1.0) / 4, 1e-8, 0);
  assert_close(g[1], 0.0, 0, 0);

  /* mape: t = [2, -4], p = [1, -5]: |1|/2 = 0.5, |1|/4 = 0.25 -> 100 * 0.375 = 37.5;
   * dL/dp = 100 sign(p - t) / |t| / 2 = [-25, -12.5]. */
  const float mt[2] = {2, -4}, mp[2] = {1, -5};
  assert_close(eval_value("mape", mp, mt, 1, 2, NULL, &d, g), 37.5, 1e-12, 0);
  assert_close(g[0], -25.0, 0, 0);
  assert_close(g[1], -12.5, 0, 0);
  /* t = 0 divides by epsilon: p = 1e-6 -> 100 * 1e-6 / 1.00000001e-7 = 999.99999. */
  const float zt[1] = {0}, zp[1] = {1e-6f};
  assert_close(eval_value("mape", zp, zt, 1, 1, NULL, &d, g), 100.0 * (double)1e-6f / EPS32, 0,
               1e-12);

  /* msle: t = 1, p = 3: (log 4 - log 2)^2 = (ln 2)^2 = 0.480453; dL/dp = 2 ln2 / 4.
   * p = -1 is replaced by epsilon: (log(1 + eps) - log 2)^2 with zero gradient. */
  const float st[2] = {1, 1}, sp[2] = {3, -1};
  double v = eval_value("msle", sp, st, 2, 1, NULL, &d, g);
  double second = pow(log1p(EPS32) - log(2.0), 2);
  assert_close(v, (log(2.0) * log(2.0) + second) / 2, 1e-12, 0);
  assert_close(g[0], 2 * log(2.0) / 4 / 2, 1e-8, 0);
  assert_close(g[1], 0.0, 0, 0);

  /* poisson: t = [1, 2], p = [1, 1]: mean(1 - log(1 + eps), 1 - 2 log(1 + eps)) = 0.99999985;
   * dL/dp = (1 - t/(p + eps))/2 = [~0, -0.5]. */
  const float pt[2] = {1, 2}, pp[2] = {1, 1};
  assert_close(eval_value("poisson", pp, pt, 1, 2, NULL, &d, g), 1 - 1.5 * log1p(EPS32), 1e-12, 0);
  assert_close(g[0], (1 - 1 / (1 + EPS32)) / 2, 1e-12, 0);
  assert_close(g[1], -0.5, 1e-6, 0);

  /* Keras docstring: cosine_similarity([[0,1],[1,1],[1,1]], [[1,0],[1,1],[-1,-1]]) =
   * [-0, -1, 1] -> mean 0. Row 1's gradient: -(a - (a.b) b)/||p|| / N = -[0, 1]/3. */
  const float ct[6] = {0, 1, 1, 1, 1, 1}, cp[6] = {1, 0, 1, 1, -1, -1};
  float g6[6];
  assert_close(eval_value("cosine_similarity", cp, ct, 3, 2, NULL, &d, g6), 0.0, 1e-7, 0);
  assert_close(g6[0], 0.0, 1e-9, 0);
  assert_close(g6[1], -1.0 / 3, 1e-7, 0);
  assert_close(g6[2], 0.0, 1e-7, 0); /* a = b: no gradient along the sphere */
  assert_close(g6[3], 0.0, 1e-7, 0);
}

static void test_cosine_zero_vector(void **state) {
  (void)state;
  dn_loss_params d = defaults();
  /* A zero prediction: loss 0; l2_normalize's 1/||p|| is capped at 1/eps = 1e7, so autodiff
   * gives dL/dp = -1e7 * t/||t||. t = [3, 4]: -1e7 * [0.6, 0.8]. A zero target: 0 and 0. */
  const float t[2] = {3, 4}, zero[2] = {0, 0};
  float g[2];
  assert_close(eval_value("cosine_similarity", zero, t, 1, 2, NULL, &d, g), 0.0, 0, 0);
  assert_close(g[0], -6e6, 0, 1e-7);
  assert_close(g[1], -8e6, 0, 1e-7);
  assert_close(eval_value("cosine_similarity", t, zero, 1, 2, NULL, &d, g), 0.0, 0, 0);
  assert_close(g[0], 0.0, 0, 0);
  assert_close(g[1], 0.0, 0, 0);
  /* A tiny prediction, ||p|| = 5e-8 < eps: p is scaled by the cap, b = 1e7 p = [0.3, 0.4],
   * so with t = [1, 0] the loss is -0.3 (not -0.6) and the gradient is -1e7 * a = [-1e7, 0]
   * (the cap is constant: no projection term). */
  const float tiny[2] = {3e-8f, 4e-8f}, e1[2] = {1, 0};
  assert_close(eval_value("cosine_similarity", tiny, e1, 1, 2, NULL, &d, g), -0.3, 1e-7, 0);
  assert_close(g[0], -1e7, 0, 1e-7);
  assert_close(g[1], 0.0, 0, 0);
}

static void test_hinge_by_hand(void **state) {
  (void)state;
  dn_loss_params d = defaults();
  float g[4];
  /* t = [0, 1] is binary -> y = [-1, 1]; p = [0.3, 0.8]: max(1.3, 0), max(0.2, 0) -> 0.75.
   * dL/dp = -y/2 where the margin is positive: [0.5, -0.5]. */
  const float t[2] = {0, 1}, p[2] = {0.3f, 0.8f};
  assert_close(eval_value("hinge", p, t, 1, 2, NULL, &d, g), 0.75, 1e-7, 0);
  assert_close(g[0], 0.5, 0, 0);
  assert_close(g[1], -0.5, 0, 0);
  /* squared: (1.69 + 0.04)/2 = 0.865; dL/dp = -2 y h / 2 = [1.3, -0.2]. */
  assert_close(eval_value("squared_hinge", p, t, 1, 2, NULL, &d, g), 0.865, 1e-7, 0);
  assert_close(g[0], 1.3, 1e-7, 0);
  assert_close(g[1], -0.2, 1e-7, 0);
  /* Labels already in {-1, 1}: unchanged. t = [-1, 1], p = [0.3, 2]: (1.3 + 0)/2 = 0.65,
   * gradient [0.5, 0] (margin -1 < 0). */
  const float ty[2] = {-1, 1}, py[2] = {0.3f, 2.0f};
  assert_close(eval_value("hinge", py, ty, 1, 2, NULL, &d, g), 0.65, 1e-7, 0);
  assert_close(g[0], 0.5, 0, 0);
  assert_close(g[1], 0.0, 0, 0);
  /* Keras converts only when every label of the batch is 0 or 1: with t = [[0, 1], [-1, 1]]
   * the 0 stays 0 -> row 1 = (1 + 0.2)/2 = 0.6, row 2 = (1.3 + 0)/2 -> (0.6 + 0.65)/2. */
  const float tm[4] = {0, 1, -1, 1}, pm[4] = {0.3f, 0.8f, 0.3f, 2.0f};
  assert_close(eval_value("hinge", pm, tm, 2, 2, NULL, &d, g), 0.625, 1e-7, 0);
  assert_close(g[0], 0.0, 0, 0); /* y = 0 */
  /* At the hinge (margin exactly 0) the derivative taken is 0, like sign(0) = 0. */
  const float t1[1] = {1}, p1[1] = {1};
  assert_close(eval_value("hinge", p1, t1, 1, 1, NULL, &d, g), 0.0, 0, 0);
  assert_close(g[0], 0.0, 0, 0);
  /* Non-binary {0.5, 1}: used as they are: max(1 - 0.5, 0) = 0.5, max(0, 0) = 0 -> 0.25. */
  const float th[2] = {0.5f, 1}, ph[2] = {1, 1};
  assert_close(eval_value("hinge", ph, th, 1, 2, NULL, &d, g), 0.25, 1e-12, 0);
}

static void test_crossentropy_by_hand(void **state) {
  (void)state;
  dn_loss_params d = defaults();
  float g[12];
  /* Keras docstring: binary_crossentropy([[0,1],[0,0]], [[0.6,0.4],[0.4,0.6]]) = [0.916, 0.714]:
   * row 1 = -log 0.4 = 0.916291, row 2 = (-log 0.6 - log 0.4)/2 = 0.713975. */
  const float bt[4] = {0, 1, 0, 0}, bp[4] = {0.6f, 0.4f, 0.4f, 0.6f};
  double v = eval_value("binary_crossentropy", bp, bt, 2, 2, NULL, &d, g);
  assert_close(v, (-log(0.4) + (-log(0.6) - log(0.4)) / 2) / 2, 1e-7, 0);
  /* dL/dp = (-t/p + (1-t)/(1-p)) / (C N): row 1 = [1/0.4, -1/0.4]/4 = [0.625, -0.625]. */
  assert_close(g[0], 0.625, 1e-6, 0);
  assert_close(g[1], -0.625, 1e-6, 0);
  assert_close(g[2], 1 / 0.6 / 4, 1e-6, 0);
  assert_close(g[3], 1 / 0.4 / 4, 1e-6, 0);

  /* Keras docstring: categorical_crossentropy([[0,1,0],[0,0,1]], [[0.05,0.95,0],[0.1,0.8,0.1]])
   * = [0.0513, 2.303]: -log 0.95 = 0.051293, -log 0.1 = 2.302585. */
  const float ct[6] = {0, 1, 0, 0, 0, 1}, cp[6] = {0.05f, 0.95f, 0, 0.1f, 0.8f, 0.1f};
  v = eval_value("categorical_crossentropy", cp, ct, 2, 3, NULL, &d, g);
  assert_close(v, (-log(0.95) - log(0.1)) / 2, 1e-7, 0);
  /* Rows summing to 1: dL/dp_j = (-t_j/p_j + 1)/N (the renormalisation adds sum t = 1):
   * row 1 = [0.5, 0.5 - 1/1.9, 0.5], row 2's last entry 0.5 - 1/(0.1 * 2) = -4.5. */
  assert_close(g[0], 0.5, 1e-6, 0);
  assert_close(g[1], 0.5 - 1 / 1.9, 1e-6, 0);
  assert_close(g[2], 0.5, 1e-6, 0);
  assert_close(g[5], 0.5 - 5.0, 1e-5, 0);
  /* The same by class index (Keras docstring: sparse_categorical_crossentropy([1, 2], ...)). */
  const float si[2] = {1, 2};
  float gs[6];
  assert_close(eval_value("sparse_categorical_crossentropy", cp, si, 2, 3, NULL, &d, gs), v, 1e-12,
               0);
  assert_close_array(gs, g, 6, 1e-7, 0);

  /* keras.utils.to_categorical docstring: cce(eye(4), b) = [0.10536 0.82807 0.1011 1.77196];
   * rows 2 and 3 of b sum to 1.03 and 1.04: -log(0.45/1.03) = 0.82807 shows the renormalisation. */
  const float eye[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  const float b[16] = {.9f,  .04f, .03f, .03f, .3f,  .45f, .15f, .13f,
                       .04f, .01f, .94f, .05f, .12f, .21f, .5f,  .17f};
  v = eval_value("categorical_crossentropy", b, eye, 4, 4, NULL, &d, NULL);
  assert_close(v, (0.10536 + 0.82807 + 0.1011 + 1.77196) / 4, 2e-5, 0);
  assert_close(v, (-log(0.9) - log(0.45 / 1.03) - log(0.94 / 1.04) - log(0.17)) / 4, 1e-6, 0);

  /* kl_divergence: t = [0.5, 0.5], p = [0.25, 0.75]: 0.5 log 2 + 0.5 log(2/3) = 0.143841
   * (a sum over the row, not a mean); dL/dp = -t/p = [-2, -2/3]. */
  const float kt[2] = {0.5f, 0.5f}, kp[2] = {0.25f, 0.75f};
  assert_close(eval_value("kld", kp, kt, 1, 2, NULL, &d, g), 0.5 * log(2.0) + 0.5 * log(2.0 / 3),
               1e-12, 0);
  assert_close(g[0], -2.0, 1e-7, 0);
  assert_close(g[1], -2.0 / 3, 1e-7, 0);
}

static void test_logits_gradients_by_hand(void **state) {
  (void)state;
  dn_loss_params lg = {1.0, true, 0.0};
  float g[6];
  /* BCE from logits: dL/dx = (sigmoid(x) - t)/(C N). */
  const float x[4] = {-1.5f, 0.25f, 2.0f, -0.5f}, t[4] = {1, 0, 1, 0};
  eval_value("bce", x, t, 2, 2, NULL, &lg, g);
  for (int i = 0; i < 4; i++)
    assert_close(g[i], (1 / (1 + exp(-(double)x[i])) - t[i]) / 4, 1e-8, 1e-6);
  /* CCE from logits: dL/dx = (softmax(x) - t)/N. x = [1, 2, 3]: softmax = e^x / sum. */
  const float cx[3] = {1, 2, 3}, ct[3] = {0, 0, 1};
  double z = exp(1.0) + exp(2.0) + exp(3.0);
  double v = eval_value("categorical_crossentropy", cx, ct, 1, 3, NULL, &lg, g);
  assert_close(v, log(z) - 3.0, 1e-12, 0);
  assert_close(g[0], exp(1.0) / z, 1e-7, 0);
  assert_close(g[1], exp(2.0) / z, 1e-7, 0);
  assert_close(g[2], exp(3.0) / z - 1, 1e-7, 0);
}

/* ---- clipping edges
 * ------------------------------------------------------------------------------ */

static void test_crossentropy_clipping(void **state) {
  (void)state;
  dn_loss_params d = defaults();
  float g[4];
  const double top = -log(EPS32);       /* 16.1180956: p = eps  */
  const double bottom = -log(1 - HI32); /* 23 ln 2 = 15.9423851: p = 1 - eps (float32) */
  assert_close(bottom, 23 * log(2.0), 1e-12, 0);
  /* BCE: p = 0 with t = 1, p = 1 with t = 0, p = 1e-9 with t = 1: finite, clipped, no gradient. */
  const float p[3] = {0.0f, 1.0f, 1e-9f}, t[3] = {1, 0, 1};
  double v = eval_value("bce", p, t, 1, 3, NULL, &d, g);
  assert_true(isfinite(v));
  assert_close(v, (top + bottom + top) / 3, 1e-9, 0);
  for (int i = 0; i < 3; i++)
    assert_close(g[i], 0.0, 0, 0);
  /* Right on the target: p = 1 with t = 1 costs -log(1 - 2^-23) ~ 1.19e-7, no gradient. */
  const float one[1] = {1}, tone[1] = {1};
  assert_close(eval_value("bce", one, tone, 1, 1, NULL, &d, g), -log(HI32), 1e-15, 0);
  assert_close(g[0], 0.0, 0, 0);

  /* CCE: p = [0, 1] with t = [1, 0]: q_0 = 0 clipped -> -log(eps); zero gradient. */
  const float cp[2] = {0, 1}, ct[2] = {1, 0};
  assert_close(eval_value("categorical_crossentropy", cp, ct, 1, 2, NULL, &d, g), top, 1e-9, 0);
  assert_close(g[0], 0.0, 0, 0);
  assert_close(g[1], 0.0, 0, 0);
  const float cp9[2] = {1e-9f, 1}, si[1] = {0};
  assert_close(eval_value("categorical_crossentropy", cp9, ct, 1, 2, NULL, &d, g), top, 1e-9, 0);
  assert_close(g[0], 0.0, 0, 0);
  assert_close(g[1], 0.0, 0, 0);
  assert_close(eval_value("sparse_categorical_crossentropy", cp, si, 1, 2, NULL, &d, g), top, 1e-9,
               0);
  assert_close(g[0], 0.0, 0, 0);
  assert_close(g[1], 0.0, 0, 0);
  /* A confident correct row: q = 1 clipped to 1 - eps, loss ~1.19e-7, zero gradient. */
  const float cp1[2] = {1, 0};
  assert_close(eval_value("categorical_crossentropy", cp1, ct, 1, 2, NULL, &d, g), -log(HI32),
               1e-15, 0);
  assert_close(g[0], 0.0, 0, 0);
  assert_close(g[1], 0.0, 0, 0);

  /* KLD: p = 0 with t = 1 -> 1 * log(1/eps); p = 1.5 is clipped to 1 (t = 0 -> eps log eps). */
  const float kp[2] = {0, 1.5f}, kt[2] = {1, 0};
  double kv = eval_value("kld", kp, kt, 1, 2, NULL, &d, g);
  assert_close(kv, top + EPS32 * log(EPS32 / 1.0), 1e-9, 0);
  assert_close(g[0], 0.0, 0, 0);
  assert_close(g[1], 0.0, 0, 0);
}

static void test_from_logits_matches_probabilities(void **state) {
  (void)state;
  dn_loss_params prob = defaults(), lg = defaults();
  lg.from_logits = true;
  /* Moderate logits, and the probabilities computed from them in float. */
  const float x[6] = {-1.5f, 0.25f, 2.0f, -0.5f, 1.0f, 0.0f};
  const float bt[6] = {1, 0, 1, 0, 0.4f, 1};
  float sig[6], soft[6];
  for (int i = 0; i < 6; i++)
    sig[i] = (float)(1 / (1 + exp(-(double)x[i])));
  for (int r = 0; r < 2; r++) {
    double z = 0;
    for (int j = 0; j < 3; j++)
      z += exp((double)x[3 * r + j]);
    for (int j = 0; j < 3; j++)
      soft[3 * r + j] = (float)(exp((double)x[3 * r + j]) / z);
  }
  double a = eval_value("bce", x, bt, 2, 3, NULL, &lg, NULL);
  double b = eval_value("bce", sig, bt, 2, 3, NULL, &prob, NULL);
  assert_close(a, b, 0, 1e-6);
  const float ct[6] = {0, 1, 0, 0.2f, 0.3f, 0.5f}, si[2] = {2, 0};
  a = eval_value("categorical_crossentropy", x, ct, 2, 3, NULL, &lg, NULL);
  b = eval_value("categorical_crossentropy", soft, ct, 2, 3, NULL, &prob, NULL);
  assert_close(a, b, 0, 1e-6);
  a = eval_value("sparse_categorical_crossentropy", x, si, 2, 3, NULL, &lg, NULL);
  b = eval_value("sparse_categorical_crossentropy", soft, si, 2, 3, NULL, &prob, NULL);
  assert_close(a, b, 0, 1e-6);
  /* With smoothing too. */
  lg.label_smoothing = prob.label_smoothing = 0.3;
  a = eval_value("bce", x, bt, 2, 3, NULL, &lg, NULL);
  b = eval_value("bce", sig, bt, 2, 3, NULL, &prob, NULL);
  assert_close(a, b, 0, 1e-6);
  a = eval_value("categorical_crossentropy", x, ct, 2, 3, NULL, &lg, NULL);
  b = eval_value("categorical_crossentropy", soft, ct, 2, 3, NULL, &prob, NULL);
  assert_close(a, b, 0, 1e-6);
  /* Large logits stay finite and unclipped: x = 40, t = 0 costs softplus(40) = 40. */
  const float big[1] = {40}, zero[1] = {0};
  lg.label_smoothing = 0;
  float g[1];
  assert_close(eval_value("bce", big, zero, 1, 1, NULL, &lg, g), 40.0, 1e-12, 0);
  assert_close(g[0], 1.0, 1e-7, 0);
}

static void test_label_smoothing_values(void **state) {
  (void)state;
  dn_loss_params ls = {1.0, false, 0.2};
  /* BCE, ls = 0.2: t = 1 -> 0.9; p = 0.9: -(0.9 log 0.9 + 0.1 log 0.1) = 0.325083. */
  const float p[1] = {0.9f}, t[1] = {1};
  double v = eval_value("bce", p, t, 1, 1, NULL, &ls, NULL);
  assert_close(v, -(0.9 * log((double)0.9f) + 0.1 * log(1 - (double)0.9f)), 1e-12, 0);
  assert_close(v, 0.325083, 1e-6, 0);
  /* CCE, ls = 0.3, C = 3: t = [0, 1, 0] -> [0.1, 0.8, 0.1]; p = [0.2, 0.5, 0.3]:
   * -(0.1 log 0.2 + 0.8 log 0.5 + 0.1 log 0.3) = 0.835859. */
  ls.label_smoothing = 0.3;
  const float cp[3] = {0.2f, 0.5f, 0.3f}, ct[3] = {0, 1, 0};
  v = eval_value("categorical_crossentropy", cp, ct, 1, 3, NULL, &ls, NULL);
  assert_close(v, 0.835859, 1e-6, 0);
  /* ls = 1: every target is uniform. BCE with p = 0.9 -> -(0.5 log 0.9 + 0.5 log 0.1). */
  ls.label_smoothing = 1.0;
  v = eval_value("bce", p, t, 1, 1, NULL, &ls, NULL);
  assert_close(v, -(0.5 * log((double)0.9f) + 0.5 * log(1 - (double)0.9f)), 1e-12, 0);
}

static void test_sparse_agrees_with_categorical(void **state) {
  (void)state;
  /* 5 rows x 4 classes of positive scores (not normalised) and of logits. */
  float p[20], x[20], onehot[20] = {0}, idx[5];
  for (int i = 0; i < 20; i++) {
    p[i] = 0.05f + (float)((i * 7) % 11) / 10.0f;
    x[i] = (float)((i * 5) % 9) / 3.0f - 1.5f;
  }
  for (int r = 0; r < 5; r++) {
    idx[r] = (float)((r * 3) % 4);
    onehot[4 * r + (int)idx[r]] = 1;
  }
  const float w[5] = {1, 0.5f, 2, 0, 1.5f};
  for (int logits = 0; logits < 2; logits++) {
    dn_loss_params prm = {1.0, logits != 0, 0.0};
    const float *in = logits ? x : p;
    float gc[20], gs[20];
    double vc = eval_value("categorical_crossentropy", in, onehot, 5, 4, w, &prm, gc);
    double vs = eval_value("sparse_categorical_crossentropy", in, idx, 5, 4, w, &prm, gs);
    assert_close(vs, vc, 1e-12, 1e-12);
    assert_close_array(gs, gc, 20, 1e-7, 1e-6);
  }
}

/* ---- options, lookup and errors -----------------------------------------------------------------
 */

static void test_sparse_bad_index(void **state) {
  (void)state;
  const dn_loss *scce = dn_loss_find("sparse_categorical_crossentropy");
  assert_non_null(scce);
  assert_true(scce->sparse);
  const float p[6] = {0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.8f};
  float g[6] = {7, 7, 7, 7, 7, 7};
  double v = 42;
  const float out_of_range[2] = {0, 3}, fraction[2] = {1.5f, 0}, negative[2] = {-1, 0};
  const float not_a_number[2] = {0, NAN};
  assert_status_msg(scce->eval(&v, g, p, out_of_range, 2, 3, NULL, NULL), DN_ERR_ARG, "row 1");
  assert_status_msg(scce->eval(&v, g, p, out_of_range, 2, 3, NULL, NULL), DN_ERR_ARG, "[0, 3)");
  assert_status_msg(scce->eval(&v, g, p, fraction, 2, 3, NULL, NULL), DN_ERR_ARG, "row 0");
  assert_status_msg(scce->eval(&v, g, p, negative, 2, 3, NULL, NULL), DN_ERR_ARG, "row 0");
  assert_status_msg(scce->eval(&v, g, p, not_a_number, 2, 3, NULL, NULL), DN_ERR_ARG, "row 1");
  assert_true(v == 42); /* nothing written */
  for (int i = 0; i < 6; i++)
    assert_true(g[i] == 7);
}

static void test_option_errors(void **state) {
  (void)state;
  const float p[2] = {0.4f, 0.6f}, t[2] = {0, 1};
  float g[2] = {7, 7};
  double v = 42;
  const dn_loss *huber = dn_loss_find("huber"), *bce = dn_loss_find("bce");
  const dn_loss *cce = dn_loss_find("categorical_crossentropy");
  const dn_loss *mse = dn_loss_find("mse"), *scce = dn_loss_find("scce");
  dn_loss_params bad = {DN_ZERO, false, 0.0};
  assert_status_msg(huber->eval(&v, g, p, t, 1, 2, NULL, &bad), DN_ERR_ARG, "huber_delta");
  assert_status_msg(dn_loss_check_params(huber, &bad), DN_ERR_ARG, "huber_delta must be > 0");
  bad.huber_delta = -1;
  assert_status_msg(huber->eval(&v, g, p, t, 1, 2, NULL, &bad), DN_ERR_ARG, "got -1");
  bad.huber_delta = INFINITY;
  assert_status_msg(dn_loss_check_params(huber, &bad), DN_ERR_ARG, "huber_delta");
  /* +0.0 (an unset field) is Keras's default 1.0; elsewhere huber_delta is not looked at. */
  /* e = [3, -3]: 1 * 3 - 0.5 = 2.5 with delta 1. */
  dn_loss_params unset = {0.0, false, 0.0}, one = {1.0, false, 0.0};
  const float hp[2] = {3, -2}, ht[2] = {0, 1};
  double a, b;
  assert_ok(huber->eval(&a, NULL, hp, ht, 1, 2, NULL, &unset));
  assert_close(a, 2.5, 0, 0);
  assert_ok(huber->eval(&b, NULL, hp, ht, 1, 2, NULL, &one));
  assert_true(a == b);
  assert_ok(huber->eval(&b, NULL, hp, ht, 1, 2, NULL, NULL));
  assert_true(a == b);
  assert_ok(dn_loss_check_params(mse, &bad));

  const double smoothing[3] = {1.5, -0.1, NAN};
  for (int i = 0; i < 3; i++) {
    dn_loss_params ls = {1.0, false, smoothing[i]};
    assert_status_msg(bce->eval(&v, g, p, t, 1, 2, NULL, &ls), DN_ERR_ARG,
                      "label_smoothing must be in [0, 1]");
    assert_status_msg(cce->eval(&v, g, p, t, 1, 2, NULL, &ls), DN_ERR_ARG,
                      "categorical_crossentropy");
    assert_status_msg(dn_loss_check_params(bce, &ls), DN_ERR_ARG, "label_smoothing");
  }
  dn_loss_params ls_ok = {1.0, false, 1.0};
  assert_ok(dn_loss_check_params(bce, &ls_ok));
  ls_ok.label_smoothing = DN_ZERO;
  assert_ok(dn_loss_check_params(cce, &ls_ok));
  /* Options a loss does not take (Keras would reject the keyword). */
  dn_loss_params logits = {1.0, true, 0.0}, smooth = {1.0, false, 0.1};
  assert_status_msg(mse->eval(&v, g, p, t, 1, 2, NULL, &logits), DN_ERR_ARG,
                    "mean_squared_error' takes no from_logits");
  assert_status_msg(mse->eval(&v, g, p, t, 1, 2, NULL, &smooth), DN_ERR_ARG,
                    "takes no label_smoothing");
  const float si[1] = {1};
  assert_status_msg(scce->eval(&v, g, p, si, 1, 2, NULL, &smooth), DN_ERR_ARG,
                    "sparse_categorical_crossentropy' takes no label_smoothing");
  assert_ok(dn_loss_check_params(scce, &logits));
  assert_status_msg(dn_loss_check_params(NULL, NULL), DN_ERR_ARG, "not a loss");
  /* Bad pointers and sizes. */
  assert_status_msg(mse->eval(&v, g, NULL, t, 1, 2, NULL, NULL), DN_ERR_ARG, "pred is NULL");
  assert_status_msg(mse->eval(&v, g, p, NULL, 1, 2, NULL, NULL), DN_ERR_ARG, "target is NULL");
  assert_status_msg(mse->eval(NULL, g, p, t, 1, 2, NULL, NULL), DN_ERR_ARG, "loss is NULL");
  assert_status_msg(mse->eval(&v, g, p, t, 0, 2, NULL, NULL), DN_ERR_ARG, "0 rows x 2 columns");
  assert_status_msg(mse->eval(&v, g, p, t, 1, 0, NULL, NULL), DN_ERR_ARG, "empty batch");
  assert_true(v == 42);
  assert_true(g[0] == 7 && g[1] == 7);
}

static void test_lookup(void **state) {
  (void)state;
  static const char *const names[][5] = {
      {"mean_squared_error", "mse", "MSE", "MeanSquaredError", NULL},
      {"mean_absolute_error", "mae", "MAE", "MeanAbsoluteError", NULL},
      {"mean_absolute_percentage_error", "mape", "MAPE", "MeanAbsolutePercentageError", NULL},
      {"mean_squared_logarithmic_error", "msle", "MSLE", "MeanSquaredLogarithmicError", NULL},
      {"huber", "Huber", NULL},
      {"log_cosh", "logcosh", "LogCosh", NULL},
      {"binary_crossentropy", "bce", "BCE", "BinaryCrossentropy", NULL},
      {"categorical_crossentropy", "cce", "CategoricalCrossentropy", NULL},
      {"sparse_categorical_crossentropy", "scce", "SparseCategoricalCrossentropy", NULL},
      {"hinge", "Hinge", NULL},
      {"squared_hinge", "SquaredHinge", NULL},
      {"kl_divergence", "kld", "KLD", "KLDivergence", NULL},
      {"poisson", "Poisson", NULL},
      {"cosine_similarity", "CosineSimilarity", NULL},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const dn_loss *canon = dn_loss_find(names[i][0]);
    assert_non_null(canon);
    assert_string_equal(canon->name, names[i][0]);
    assert_non_null(canon->eval);
    assert_int_equal(canon->sparse, strcmp(names[i][0], "sparse_categorical_crossentropy") == 0);
    for (size_t j = 1; names[i][j] != NULL; j++)
      assert_ptr_equal(dn_loss_find(names[i][j]), canon);
  }
  assert_null(dn_loss_find("foo"));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  /* 0.2 adds to "unknown loss 'foo'" what the activations say: a hint, else the names. */
  const char *unknown = "unknown loss 'foo' (Keras names: mean_squared_error mse ";
  assert_int_equal(strncmp(dn_last_error(), unknown, strlen(unknown)), 0);
  assert_non_null(strstr(dn_last_error(), " cosine_similarity crossentropy ce)"));
  assert_null(dn_loss_find("Mse")); /* names are case-sensitive, as in Keras */
  assert_non_null(strstr(dn_last_error(), "'Mse'"));
  assert_non_null(strstr(dn_last_error(), "did you mean 'mse'?"));
  assert_null(dn_loss_find("hubber"));
  assert_non_null(strstr(dn_last_error(), "did you mean 'huber'?"));
  assert_null(dn_loss_find("categorical_hinge")); /* not implemented */
  assert_null(dn_loss_find(NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
}

/* Keras 3's "crossentropy" (compile_utils.get_loss) stands for the cross-entropy the targets
 * call for, resolved at the first call with data: binary for an output of 1 column, sparse for
 * 1-column targets (class indices) and a wider output, categorical otherwise. */
static void test_crossentropy_resolves_from_the_shapes(void **state) {
  (void)state;
  const dn_loss *ce = dn_loss_find("crossentropy");
  assert_non_null(ce);
  assert_ptr_equal(dn_loss_find("ce"), ce);
  assert_true(ce->from_targets);
  const dn_loss *bce = dn_loss_find("binary_crossentropy"),
                *cce = dn_loss_find("categorical_crossentropy"),
                *scce = dn_loss_find("sparse_categorical_crossentropy");
  assert_false(bce->from_targets || cce->from_targets || scce->from_targets);
  assert_ptr_equal(dn_loss_resolve(ce, 1, 1), bce);
  assert_ptr_equal(dn_loss_resolve(ce, 3, 1), scce);
  assert_ptr_equal(dn_loss_resolve(ce, 3, 3), cce);
  assert_ptr_equal(dn_loss_resolve(ce, 2, 2), cce);
  /* Any other loss is itself, whatever the shapes. */
  assert_ptr_equal(dn_loss_resolve(bce, 3, 1), bce);
  assert_ptr_equal(dn_loss_resolve(scce, 1, 1), scce);
  /* Unresolved, it computes nothing. */
  double loss = 0;
  float g[2], pred[2] = {0.5f, 0.5f}, target[2] = {1, 0};
  assert_status_msg(ce->eval(&loss, g, pred, target, 1, 2, NULL, NULL), DN_ERR_STATE,
                    "not resolved");
}

static void test_eval_does_not_allocate(void **state) {
  (void)state;
  static const char *const all[] = {
      "mse", "mae",  "mape",  "msle",          "huber", "log_cosh", "bce",
      "cce", "scce", "hinge", "squared_hinge", "kld",   "poisson",  "cosine_similarity"};
  float g[12];
  size_t before = dn_alloc_count();
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    const dn_loss *loss = dn_loss_find(all[i]);
    double v;
    assert_ok(loss->eval(&v, g, prob_p, loss->sparse ? sparse_t : bin_t, 3, 4, NULL, NULL));
  }
  assert_int_equal(dn_alloc_count(), before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_loss_matches_reference),
      cmocka_unit_test(test_regression_by_hand),
      cmocka_unit_test(test_cosine_zero_vector),
      cmocka_unit_test(test_hinge_by_hand),
      cmocka_unit_test(test_crossentropy_by_hand),
      cmocka_unit_test(test_logits_gradients_by_hand),
      cmocka_unit_test(test_crossentropy_clipping),
      cmocka_unit_test(test_from_logits_matches_probabilities),
      cmocka_unit_test(test_label_smoothing_values),
      cmocka_unit_test(test_sparse_agrees_with_categorical),
      cmocka_unit_test(test_sparse_bad_index),
      cmocka_unit_test(test_option_errors),
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_crossentropy_resolves_from_the_shapes),
      cmocka_unit_test(test_eval_does_not_allocate),

  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
