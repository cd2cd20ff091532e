/* test_activation.c -- the activation table: every Keras 3 formula against an
 * independent double reimplementation, derivatives against analytic forms
 * and central finite differences, row-wise softmax/log_softmax, in-place
 * runs, name lookup (aliases, case, unknown names) and the Keras 3 gotchas. */
#include "dn_test.h"

#include <float.h>
#include <stdlib.h>

#include "layers/activation.h"

/* ---- independent double references (written from the Keras docs) ------- */

#define SELU_A 1.6732632423543772848170429916717
#define SELU_S 1.0507009873554804934193349852946
#define PI 3.14159265358979323846264338327950

static double r_linear(double x) {
  return x;
}
static double d_linear(double x) {
  (void)x;
  return 1.0;
}
static double r_relu(double x) {
  return x > 0 ? x : 0;
}
static double d_relu(double x) {
  return x > 0 ? 1 : 0;
}
static double r_leaky(double x) {
  return x >= 0 ? x : 0.2 * x;
}
static double d_leaky(double x) {
  return x > 0 ? 1 : 0.2;
}
static double r_relu6(double x) {
  return fmin(fmax(x, 0), 6);
}
static double d_relu6(double x) {
  return (x > 0 && x < 6) ? 1 : 0;
}
static double r_elu(double x) {
  return x > 0 ? x : exp(x) - 1;
}
static double d_elu(double x) {
  return x >= 0 ? 1 : exp(x);
}
static double r_selu(double x) {
  return x > 0 ? SELU_S * x : SELU_S * SELU_A * (exp(x) - 1);
}
static double d_selu(double x) {
  return x >= 0 ? SELU_S : SELU_S * SELU_A * exp(x);
}
static double r_celu(double x) {
  return fmax(x, 0) + fmin(0, exp(x) - 1);
}
static double d_celu(double x) {
  return x >= 0 ? 1 : exp(x);
}
static double r_gelu(double x) {
  return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}
static double d_gelu(double x) {
  return 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-x * x / 2) / sqrt(2 * PI);
}
static double r_sigmoid(double x) {
  return 1 / (1 + exp(-x));
}
static double d_sigmoid(double x) {
  double e = exp(-x);
  return e / ((1 + e) * (1 + e));
}
static double r_hard_sigmoid(double x) {
  return fmax(0, fmin(1, (x + 3) / 6));
}
static double d_hard_sigmoid(double x) {
  return (x > -3 && x < 3) ? 1.0 / 6 : 0;
}
static double r_log_sigmoid(double x) {
  return -log1p(exp(-x));
}
static double d_log_sigmoid(double x) {
  return 1 / (1 + exp(x));
}
static double r_tanh(double x) {
  double e = exp(2 * x);
  return isinf(e) ? 1.0 : (e - 1) / (e + 1);
}
static double d_tanh(double x) {
  double c = exp(x) + exp(-x);
  return 4 / (c * c);
}
static double r_hard_tanh(double x) {
  return fmax(-1, fmin(1, x));
}
static double d_hard_tanh(double x) {
  return (x >= -1 && x <= 1) ? 1 : 0;
}
static double r_softplus(double x) {
  return log1p(exp(x));
}
static double d_softplus(double x) {
  return 1 / (1 + exp(-x));
}
static double r_softsign(double x) {
  return x / (1 + fabs(x));
}
static double d_softsign(double x) {
  return 1 / ((1 + fabs(x)) * (1 + fabs(x)));
}
static double r_silu(double x) {
  return x / (1 + exp(-x));
}
static double d_silu(double x) {
  double e = exp(-x);
  return (1 + e + x * e) / ((1 + e) * (1 + e));
}
static double r_hard_silu(double x) {
  return x <= -3 ? 0 : (x >= 3 ? x : x * (x + 3) / 6);
}
static double d_hard_silu(double x) {
  return x <= -3 ? 0 : (x >= 3 ? 1 : (2 * x + 3) / 6);
}
static double r_mish(double x) {
  return x * tanh(log1p(exp(x)));
}
/* mish'(x) = e^x w / d^2 with w = 4(x+1) + 4e^2x + e^3x + e^x(4x+6), d = 2e^x + e^2x + 2. */
static double d_mish(double x) {
  double e = exp(x);
  double w = 4 * (x + 1) + 4 * e * e + e * e * e + e * (4 * x + 6);
  double d = 2 * e + e * e + 2;
  return e * w / (d * d);
}
static double r_exp(double x) {
  return exp(x);
}
static double r_tanh_shrink(double x) {
  return x - tanh(x);
}
static double d_tanh_shrink(double x) {
  return 1 - d_tanh(x);
}
static double r_soft_shrink(double x) {
  return x > 0.5 ? x - 0.5 : (x < -0.5 ? x + 0.5 : 0);
}
static double d_shrink(double x) {
  return fabs(x) > 0.5 ? 1 : 0;
}
static double r_hard_shrink(double x) {
  return fabs(x) > 0.5 ? x : 0;
}
static double r_squareplus(double x) {
  return (x + sqrt(x * x + 4)) / 2;
}
static double d_squareplus(double x) {
  return 0.5 + 0.5 * x / sqrt(x * x + 4);
}
static double r_sparse_sigmoid(double x) {
  return fmax(0, fmin(1, (x + 1) / 2));
}
static double d_sparse_sigmoid(double x) {
  return (x > -1 && x < 1) ? 0.5 : 0;
}
static double r_sparse_plus(double x) {
  return x <= -1 ? 0 : (x >= 1 ? x : (x + 1) * (x + 1) / 4);
}

typedef struct ref_act {
  const char *name;
  double (*f)(double);
  double (*df)(double);
  size_t nkinks;
  double kinks[2]; /* where f is not differentiable: no finite differences there */
} ref_act;

static const ref_act REFS[] = {
    {"linear", r_linear, d_linear, 0, {0}},
    {"relu", r_relu, d_relu, 1, {0}},
    {"leaky_relu", r_leaky, d_leaky, 1, {0}},
    {"relu6", r_relu6, d_relu6, 2, {0, 6}},
    {"elu", r_elu, d_elu, 0, {0}},
    {"selu", r_selu, d_selu, 1, {0}},
    {"celu", r_celu, d_celu, 0, {0}},
    {"gelu", r_gelu, d_gelu, 0, {0}},
    {"sigmoid", r_sigmoid, d_sigmoid, 0, {0}},
    {"hard_sigmoid", r_hard_sigmoid, d_hard_sigmoid, 2, {-3, 3}},
    {"log_sigmoid", r_log_sigmoid, d_log_sigmoid, 0, {0}},
    {"tanh", r_tanh, d_tanh, 0, {0}},
    {"hard_tanh", r_hard_tanh, d_hard_tanh, 2, {-1, 1}},
    {"softplus", r_softplus, d_softplus, 0, {0}},
    {"softsign", r_softsign, d_softsign, 0, {0}},
    {"silu", r_silu, d_silu, 0, {0}},
    {"hard_silu", r_hard_silu, d_hard_silu, 2, {-3, 3}},
    {"mish", r_mish, d_mish, 0, {0}},
    {"exponential", r_exp, r_exp, 0, {0}},
    {"tanh_shrink", r_tanh_shrink, d_tanh_shrink, 0, {0}},
    {"soft_shrink", r_soft_shrink, d_shrink, 2, {-0.5, 0.5}},
    {"hard_shrink", r_hard_shrink, d_shrink, 2, {-0.5, 0.5}},
    {"squareplus", r_squareplus, d_squareplus, 0, {0}},
    {"sparse_sigmoid", r_sparse_sigmoid, d_sparse_sigmoid, 2, {-1, 1}},
    /* C^1 at +-1, but f'' jumps there so a central difference is off by h/8 */
    {"sparse_plus", r_sparse_plus, r_sparse_sigmoid, 2, {-1, 1}},
};
#define NREFS (sizeof REFS / sizeof REFS[0])

/* Negatives, zero, the kinks and just beside them, large magnitudes. */
static const double GRID[] = {-100, -40,  -20,   -6.5, -6,   -3.5, -3,  -2.9, -1.5, -1,  -0.75,
                              -0.5, -0.3, -1e-3, 0,    1e-3, 0.3,  0.5, 0.75, 1,    1.5, 2.9,
                              3,    3.5,  5.9,   6,    6.1,  10,   20,  40,   100};
#define NGRID (sizeof GRID / sizeof GRID[0])

/* Forward values are compared after rounding the reference to float. */
#define VAL_ABS 1e-38
#define VAL_REL 2e-6

static const dn_act *must_find(const char *name) {
  const dn_act *act = dn_act_find(name);
  if (act == NULL) {
    print_error("dn_act_find(\"%s\") failed: %s\n", name, dn_last_error());
    fail();
  }
  return act;
}

static int near_kink(const ref_act *r, double x, double h) {
  for (size_t k = 0; k < r->nkinks; k++)
    if (fabs(x - r->kinks[k]) <= 2 * h)
      return 1;
  return 0;
}

/* ---- elementwise rows --------------------------------------------------- */

static void test_forward_values(void **state) {
  (void)state;
  float x[NGRID], y[NGRID];
  for (size_t i = 0; i < NGRID; i++)
    x[i] = (float)GRID[i];
  for (size_t a = 0; a < NREFS; a++) {
    const ref_act *r = &REFS[a];
    const dn_act *act = must_find(r->name);
    assert_string_equal(act->name, r->name);
    act->forward(y, x, 1, NGRID);
    for (size_t i = 0; i < NGRID; i++) {
      double want = (double)(float)r->f((double)x[i]);
      if (!dn_close(y[i], want, VAL_ABS, VAL_REL)) {
        print_error("%s(%g) = %.9g, expected %.9g\n", r->name, (double)x[i], (double)y[i], want);
        fail();
      }
    }
  }
}

/* Backward against the analytic reference derivative, with a non-trivial dy. */
static void test_backward_analytic(void **state) {
  (void)state;
  float x[NGRID], y[NGRID], dy[NGRID], dx[NGRID];
  for (size_t i = 0; i < NGRID; i++) {
    x[i] = (float)GRID[i];
    dy[i] = 0.75f + 0.125f * (float)(i % 5) - (i % 3 == 0 ? 1.5f : 0.0f);
  }
  for (size_t a = 0; a < NREFS; a++) {
    const ref_act *r = &REFS[a];
    const dn_act *act = must_find(r->name);
    act->forward(y, x, NGRID, 1); /* as a column: rows * cols values either way */
    act->backward(dx, dy, x, y, NGRID, 1);
    size_t nonzero = 0;
    for (size_t i = 0; i < NGRID; i++) {
      double want = (double)(float)((double)dy[i] * r->df((double)x[i]));
      if (!dn_close(dx[i], want, VAL_ABS, VAL_REL)) {
        print_error("%s'(%g) * %g = %.9g, expected %.9g\n", r->name, (double)x[i], (double)dy[i],
                    (double)dx[i], want);
        fail();
      }
      if (fabs(dx[i]) > 1e-3)
        nonzero++;
    }
    if (nonzero < 3) { /* guard: a gradient of zeros would pass too easily */
      print_error("%s: only %zu non-trivial derivatives on the grid\n", r->name, nonzero);
      fail();
    }
  }
}

/* Backward against central differences of the double reference (away from
 * kinks), so the analytic reference derivatives are themselves checked. */
static void test_backward_finite_differences(void **state) {
  (void)state;
  float x[NGRID], y[NGRID], ones[NGRID], dx[NGRID];
  for (size_t i = 0; i < NGRID; i++) {
    x[i] = (float)GRID[i];
    ones[i] = 1.0f;
  }
  for (size_t a = 0; a < NREFS; a++) {
    const ref_act *r = &REFS[a];
    const dn_act *act = must_find(r->name);
    act->forward(y, x, 1, NGRID);
    act->backward(dx, ones, x, y, 1, NGRID);
    size_t checked = 0, nonzero = 0;
    for (size_t i = 0; i < NGRID; i++) {
      double xi = (double)x[i];
      double h = 1e-6 * fmax(1.0, fabs(xi));
      if (near_kink(r, xi, h) || !isfinite((float)r->f(xi + h)) || !isfinite(dx[i]))
        continue;
      double fd = (r->f(xi + h) - r->f(xi - h)) / (2 * h);
      if (!dn_close(dx[i], fd, 1e-8, 1e-5)) {
        print_error("%s'(%g): backward %.9g, finite difference %.9g\n", r->name, xi, (double)dx[i],
                    fd);
        fail();
      }
      checked++;
      if (fabs(fd) > 1e-3)
        nonzero++;
    }
    if (checked < NGRID / 2 || nonzero < 3) {
      print_error("%s: %zu points checked, %zu non-trivial\n", r->name, checked, nonzero);
      fail();
    }
  }
}

/* The library's own float forward differentiated numerically agrees with its
 * backward (closes the loop without the references). */
static void test_backward_matches_own_forward(void **state) {
  (void)state;
  static const double pts[] = {-4.2, -2.2, -1.3, -0.7, -0.2, 0.15, 0.6, 1.2, 2.3, 4.4, 7.5};
  enum { NP = sizeof pts / sizeof pts[0] };
  const float h = 1.0f / 128; /* exact in float, so x +- h is exact too */
  for (size_t a = 0; a < NREFS; a++) {
    const ref_act *r = &REFS[a];
    const dn_act *act = must_find(r->name);
    float x[NP], xp[NP], xm[NP], y[NP], yp[NP], ym[NP], ones[NP], dx[NP];
    for (size_t i = 0; i < NP; i++) {
      x[i] = (float)pts[i];
      xp[i] = x[i] + h;
      xm[i] = x[i] - h;
      ones[i] = 1.0f;
    }
    act->forward(y, x, 1, NP);
    act->forward(yp, xp, 1, NP);
    act->forward(ym, xm, 1, NP);
    act->backward(dx, ones, x, y, 1, NP);
    for (size_t i = 0; i < NP; i++) {
      if (near_kink(r, x[i], h))
        continue;
      double fd = ((double)yp[i] - (double)ym[i]) / (2.0 * h);
      /* truncation h^2/6 f''' plus float rounding of y / h */
      if (!dn_close(dx[i], fd, 2e-3, 2e-3)) {
        print_error("%s'(%g): backward %.9g, float finite difference %.9g\n", r->name, (double)x[i],
                    (double)dx[i], fd);
        fail();
      }
    }
  }
}

/* Explicit derivative conventions at the kinks (see activation.c). */
static void test_kink_conventions(void **state) {
  (void)state;
  static const struct {
    const char *name;
    float x, dfdx;
  } cases[] = {
      {"relu", 0.0f, 0.0f},          {"relu6", 0.0f, 0.0f},
      {"relu6", 6.0f, 0.0f},         {"relu6", 5.5f, 1.0f},
      {"leaky_relu", 0.0f, 0.2f},    {"elu", 0.0f, 1.0f},
      {"selu", 0.0f, (float)SELU_S}, {"hard_sigmoid", 3.0f, 0.0f},
      {"hard_sigmoid", -3.0f, 0.0f}, {"hard_sigmoid", 2.9f, 1.0f / 6},
      {"hard_tanh", 1.0f, 1.0f},     {"hard_tanh", -1.0f, 1.0f},
      {"hard_tanh", 1.5f, 0.0f},     {"hard_silu", 3.0f, 1.0f},
      {"hard_silu", -3.0f, 0.0f},    {"soft_shrink", 0.5f, 0.0f},
      {"hard_shrink", -0.5f, 0.0f},  {"sparse_sigmoid", 1.0f, 0.0f},
      {"sparse_plus", -1.0f, 0.0f},  {"sparse_plus", 1.0f, 1.0f},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const dn_act *act = must_find(cases[c].name);
    float x = cases[c].x, y, dy = 1.0f, dx;
    act->forward(&y, &x, 1, 1);
    act->backward(&dx, &dy, &x, &y, 1, 1);
    if (!dn_close(dx, cases[c].dfdx, 1e-7, 1e-6)) {
      print_error("%s'(%g) = %.9g, expected %.9g\n", cases[c].name, (double)x, (double)dx,
                  (double)cases[c].dfdx);
      fail();
    }
  }
}

/* Large inputs give finite values wherever Keras's are finite, and the tails
 * keep their magnitude (no cancellation to 0 or overflow to NaN). */
static void test_large_inputs_finite(void **state) {
  (void)state;
  float x[] = {-1e4f, -100.0f, -88.0f, 88.0f, 100.0f, 1e4f, 3e38f, -3e38f};
  enum { N = sizeof x / sizeof x[0] };
  float y[N], dx[N], dy[N];
  for (size_t i = 0; i < N; i++)
    dy[i] = 1.0f;
  for (size_t a = 0; a < NREFS; a++) {
    if (strcmp(REFS[a].name, "exponential") == 0)
      continue; /* e^x overflows in float32 Keras as well */
    const dn_act *act = must_find(REFS[a].name);
    act->forward(y, x, 1, N);
    act->backward(dx, dy, x, y, 1, N);
    for (size_t i = 0; i < N; i++) {
      if (!isfinite(y[i]) || !isfinite(dx[i])) {
        print_error("%s(%g) = %g, derivative %g: not finite\n", REFS[a].name, (double)x[i],
                    (double)y[i], (double)dx[i]);
        fail();
      }
    }
  }
  const dn_act *softplus = must_find("softplus");
  float v = 100.0f, out;
  softplus->forward(&out, &v, 1, 1);
  assert_true(out == 100.0f);
  const dn_act *sigmoid = must_find("sigmoid");
  v = -100.0f;
  sigmoid->forward(&out, &v, 1, 1);
  assert_close(out, exp(-100.0), 1e-46, 0.05); /* 3.72e-44, a float subnormal, not 0 */
  assert_true(out > 0.0f);
  v = 100.0f;
  sigmoid->forward(&out, &v, 1, 1);
  assert_true(out == 1.0f);
  const dn_act *silu = must_find("silu"), *mish = must_find("mish");
  v = 100.0f;
  silu->forward(&out, &v, 1, 1);
  assert_true(out == 100.0f);
  mish->forward(&out, &v, 1, 1);
  assert_true(out == 100.0f);
  v = -100.0f;
  silu->forward(&out, &v, 1, 1);
  assert_close(out, -100.0 * exp(-100.0), 1e-45, 0.01);
  mish->forward(&out, &v, 1, 1);
  assert_close(out, -100.0 * exp(-100.0), 1e-45, 0.01);
  const dn_act *log_sigmoid = must_find("log_sigmoid");
  log_sigmoid->forward(&out, &v, 1, 1);
  assert_true(out == -100.0f);
  const dn_act *gelu = must_find("gelu");
  v = -8.0f; /* 1 + erf(-8/sqrt2) cancels to 0 in float; erfc keeps it */
  gelu->forward(&out, &v, 1, 1);
  assert_close(out, -4.0 * erfc(8.0 / sqrt(2.0)), 0, 1e-5);
  assert_true(out < 0.0f);
}

/* NaN goes through every elementwise row (as in Keras), so a diverging fit
 * can be detected downstream. */
static void test_nan_propagates(void **state) {
  (void)state;
  float x = NAN, y = 0.0f;
  for (size_t a = 0; a < NREFS; a++) {
    must_find(REFS[a].name)->forward(&y, &x, 1, 1);
    if (!isnan(y)) {
      print_error("%s(NaN) = %g, expected NaN\n", REFS[a].name, (double)y);
      fail();
    }
  }
}

/* ---- Keras 3 gotchas and documented examples ---------------------------- */

static void test_keras3_gotchas(void **state) {
  (void)state;
  float x, y;
  /* hard_sigmoid is x/6 + 0.5 in Keras 3 (Keras 2: 0.2x + 0.5 = 0.7 here) */
  x = 1.0f;
  must_find("hard_sigmoid")->forward(&y, &x, 1, 1);
  assert_true(y == 0.6666667f);
  /* activation "leaky_relu" has slope 0.2 (the LeakyReLU layer's is 0.3) */
  x = -1.0f;
  must_find("leaky_relu")->forward(&y, &x, 1, 1);
  assert_true(y == -0.2f);
  /* gelu defaults to the exact erf form (tanh approximation: 0.841192) */
  x = 1.0f;
  must_find("gelu")->forward(&y, &x, 1, 1);
  assert_close(y, 0.8413447, 0, 1e-7);
  assert_true(fabs(y - 0.841192) > 1e-4);
  /* relu keeps x only where x > 0 */
  float xs[] = {-10, -5, 0, 5, 10}, ys[5];
  const float relu_want[] = {0, 0, 0, 5, 10};
  must_find("relu")->forward(ys, xs, 1, 5);
  assert_memory_equal(ys, relu_want, sizeof ys);
}

static void check_example(const char *name, const float *x, const float *want, size_t n) {
  float y[8];
  must_find(name)->forward(y, x, 1, n);
  for (size_t i = 0; i < n; i++)
    if (!dn_close(y[i], want[i], 1e-7, 1e-6)) {
      print_error("%s(%g) = %.9g, Keras docs say %.9g\n", name, (double)x[i], (double)y[i],
                  (double)want[i]);
      fail();
    }
}

/* Values printed in the Keras 3 docs' examples. */
static void test_keras_doc_examples(void **state) {
  (void)state;
  const float m101[] = {-1, 0, 1};
  check_example("celu", m101, (const float[]){-0.63212056f, 0, 1}, 3);
  check_example("soft_shrink", m101, (const float[]){-0.5f, 0, 0.5f}, 3);
  check_example("sparse_plus", m101, (const float[]){0, 0.25f, 1}, 3);
  check_example("hard_shrink", (const float[]){-0.5f, 0, 1}, (const float[]){0, 0, 1}, 3);
  check_example("sparse_sigmoid", (const float[]){-6, 1, 0, 1, 6},
                (const float[]){0, 1, 0.5f, 1, 1}, 5);
  check_example("hard_sigmoid", (const float[]){-3, -1, 0, 1, 3},
                (const float[]){0, 1.0f / 3, 0.5f, 2.0f / 3, 1}, 5);
  check_example("relu6", (const float[]){-1, 3, 6, 7}, (const float[]){0, 3, 6, 6}, 4);
  check_example("hard_tanh", (const float[]){-2, -0.5f, 2}, (const float[]){-1, -0.5f, 1}, 3);
  check_example("hard_silu", (const float[]){-4, -1, 1, 4},
                (const float[]){0, -1.0f / 3, 2.0f / 3, 4}, 4);
  check_example("selu", (const float[]){1}, (const float[]){1.0507010f}, 1);
}

/* ---- softmax and log_softmax (rows, axis -1) --------------------------- */

enum { SR = 3, SC = 5 };
static const float SX[SR * SC] = {
    1,    2,    3,    4,      5,       /* plain */
    1000, 1001, 999,  -1000,  1000.5f, /* needs the max subtracted */
    -3,   0.5f, 0.5f, -1e-3f, 2,       /* ties */
};
static const float SDY[SR * SC] = {0.3f, -1.2f, 0.7f,  2.0f, -0.4f, 1.1f, -0.6f, 0.25f,
                                   0.9f, -2.0f, -0.8f, 0.5f, 1.5f,  0.1f, -0.3f};

/* Row r of the double softmax of x into p. */
static void ref_softmax_row(const double *x, size_t cols, double *p) {
  double m = x[0];
  for (size_t j = 1; j < cols; j++)
    m = fmax(m, x[j]);
  double s = 0;
  for (size_t j = 0; j < cols; j++)
    s += exp(x[j] - m);
  for (size_t j = 0; j < cols; j++)
    p[j] = exp(x[j] - m) / s;
}

/* Row of the double log_softmax: x - max - log sum exp(x - max), which stays
 * finite where log(softmax) would underflow to -inf. */
static void ref_log_softmax_row(const double *x, size_t cols, double *lp) {
  double m = x[0];
  for (size_t j = 1; j < cols; j++)
    m = fmax(m, x[j]);
  double s = 0;
  for (size_t j = 0; j < cols; j++)
    s += exp(x[j] - m);
  for (size_t j = 0; j < cols; j++)
    lp[j] = x[j] - m - log(s);
}

/* L = sum_ij dy_ij * f(x)_ij over the whole matrix, f softmax or log_softmax. */
static double ref_loss(const double *x, int log_form) {
  double total = 0;
  for (size_t r = 0; r < SR; r++) {
    double p[SC];
    if (log_form)
      ref_log_softmax_row(x + r * SC, SC, p);
    else
      ref_softmax_row(x + r * SC, SC, p);
    for (size_t j = 0; j < SC; j++)
      total += (double)SDY[r * SC + j] * p[j];
  }
  return total;
}

static void check_softmax_like(const char *name, int log_form) {
  const dn_act *act = must_find(name);
  float y[SR * SC], dx[SR * SC];
  act->forward(y, SX, SR, SC);
  for (size_t r = 0; r < SR; r++) {
    double xr[SC], p[SC], lp[SC], sum = 0;
    for (size_t j = 0; j < SC; j++)
      xr[j] = SX[r * SC + j];
    ref_softmax_row(xr, SC, p);
    ref_log_softmax_row(xr, SC, lp);
    for (size_t j = 0; j < SC; j++) {
      double want = log_form ? lp[j] : p[j];
      if (!dn_close(y[r * SC + j], want, 1e-7, 2e-6)) {
        print_error("%s row %zu col %zu: %.9g, expected %.9g\n", name, r, j, (double)y[r * SC + j],
                    want);
        fail();
      }
      sum += log_form ? exp((double)y[r * SC + j]) : (double)y[r * SC + j];
    }
    assert_close(sum, 1.0, 1e-6, 0); /* each row is a distribution */
  }
  /* backward against an explicit Jacobian in double: J_ij = p_i (delta_ij - p_j)
   * (softmax) or delta_ij - p_j (log_softmax); dx_j = sum_i dy_i J_ij. */
  act->backward(dx, SDY, SX, y, SR, SC);
  for (size_t r = 0; r < SR; r++) {
    double xr[SC], p[SC];
    for (size_t j = 0; j < SC; j++)
      xr[j] = SX[r * SC + j];
    ref_softmax_row(xr, SC, p);
    for (size_t j = 0; j < SC; j++) {
      double want = 0;
      for (size_t i = 0; i < SC; i++) {
        double jac = log_form ? (i == j) - p[j] : p[i] * ((i == j) - p[j]);
        want += (double)SDY[r * SC + i] * jac;
      }
      assert_close(dx[r * SC + j], want, 1e-6, 1e-5);
    }
  }
  /* backward against central differences of L = sum(dy * f(x)) */
  double xd[SR * SC];
  for (size_t k = 0; k < SR * SC; k++)
    xd[k] = SX[k];
  size_t nonzero = 0;
  for (size_t k = 0; k < SR * SC; k++) {
    double keep = xd[k], h = 1e-5;
    xd[k] = keep + h;
    double lp = ref_loss(xd, log_form);
    xd[k] = keep - h;
    double lm = ref_loss(xd, log_form);
    xd[k] = keep;
    double fd = (lp - lm) / (2 * h);
    if (!dn_close(dx[k], fd, 1e-5, 1e-4)) {
      print_error("%s d/dx[%zu]: backward %.9g, finite difference %.9g\n", name, k, (double)dx[k],
                  fd);
      fail();
    }
    if (fabs(fd) > 1e-3)
      nonzero++;
  }
  assert_true(nonzero >= 6);
}

static void test_softmax(void **state) {
  (void)state;
  check_softmax_like("softmax", 0);
}

static void test_log_softmax(void **state) {
  (void)state;
  check_softmax_like("log_softmax", 1);
}

/* One column: softmax is 1, log_softmax 0, and both gradients vanish. */
static void test_softmax_single_column(void **state) {
  (void)state;
  const float x[3] = {-5, 0, 7}, dy[3] = {1, -2, 3};
  float y[3], dx[3];
  const dn_act *sm = must_find("softmax"), *lsm = must_find("log_softmax");
  sm->forward(y, x, 3, 1);
  for (size_t i = 0; i < 3; i++)
    assert_true(y[i] == 1.0f);
  sm->backward(dx, dy, x, y, 3, 1);
  for (size_t i = 0; i < 3; i++)
    assert_close(dx[i], 0, 1e-7, 0);
  lsm->forward(y, x, 3, 1);
  for (size_t i = 0; i < 3; i++)
    assert_true(y[i] == 0.0f);
  lsm->backward(dx, dy, x, y, 3, 1);
  for (size_t i = 0; i < 3; i++)
    assert_close(dx[i], 0, 1e-7, 0);
}

/* softmax works per row: permuting the rows permutes the result. */
static void test_softmax_rows_independent(void **state) {
  (void)state;
  const dn_act *sm = must_find("softmax");
  float y[SR * SC], one[SC];
  sm->forward(y, SX, SR, SC);
  for (size_t r = 0; r < SR; r++) {
    sm->forward(one, SX + r * SC, 1, SC);
    assert_memory_equal(one, y + r * SC, sizeof one);
  }
}

/* ---- in place ----------------------------------------------------------- */

static void check_in_place(const char *name, const float *x, size_t rows, size_t cols) {
  const dn_act *act = must_find(name);
  size_t n = rows * cols;
  float *y = malloc(n * sizeof *y), *buf = malloc(n * sizeof *buf);
  float *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);
  assert_non_null(y);
  assert_non_null(buf);
  assert_non_null(dy);
  assert_non_null(dx);
  for (size_t i = 0; i < n; i++)
    dy[i] = 0.5f - 0.25f * (float)(i % 7);
  act->forward(y, x, rows, cols);
  memcpy(buf, x, n * sizeof *buf);
  act->forward(buf, buf, rows, cols);
  if (memcmp(buf, y, n * sizeof *y) != 0) {
    print_error("%s: in-place forward differs\n", name);
    fail();
  }
  act->backward(dx, dy, x, y, rows, cols);
  memcpy(buf, dy, n * sizeof *buf);
  act->backward(buf, buf, x, y, rows, cols);
  if (memcmp(buf, dx, n * sizeof *dx) != 0) {
    print_error("%s: in-place backward differs\n", name);
    fail();
  }
  free(y);
  free(buf);
  free(dy);
  free(dx);
}

static void test_in_place(void **state) {
  (void)state;
  float x[4 * 6];
  for (size_t i = 0; i < 4 * 6; i++)
    x[i] = (float)GRID[(i * 7) % NGRID] * 0.5f;
  for (size_t a = 0; a < NREFS; a++)
    check_in_place(REFS[a].name, x, 4, 6);
  check_in_place("softmax", SX, SR, SC);
  check_in_place("log_softmax", SX, SR, SC);
}

/* Empty matrices are a no-op for every row (no read, no write). */
static void test_empty(void **state) {
  (void)state;
  float sentinel = 42.0f;
  for (size_t a = 0; a < NREFS; a++) {
    const dn_act *act = must_find(REFS[a].name);
    act->forward(&sentinel, &sentinel, 0, 3);
    act->backward(&sentinel, &sentinel, &sentinel, &sentinel, 3, 0);
  }
  must_find("softmax")->forward(&sentinel, &sentinel, 2, 0);
  must_find("log_softmax")->backward(&sentinel, &sentinel, &sentinel, &sentinel, 0, 2);
  assert_true(sentinel == 42.0f);
}

/* ---- lookup ------------------------------------------------------------- */

static void test_lookup(void **state) {
  (void)state;
  const dn_act *lin = must_find("linear");
  assert_ptr_equal(dn_act_find(NULL), lin);
  assert_true(dn_act_is_linear(lin));
  assert_true(dn_act_is_linear(dn_act_find(NULL)));
  assert_false(dn_act_is_linear(must_find("relu")));
  assert_false(dn_act_is_linear(must_find("softmax")));
  /* aliases resolve to the canonical rows */
  assert_ptr_equal(must_find("swish"), must_find("silu"));
  assert_string_equal(must_find("swish")->name, "silu");
  assert_ptr_equal(must_find("hard_swish"), must_find("hard_silu"));
  assert_string_equal(must_find("hard_swish")->name, "hard_silu");
  /* every name the public header lists */
  static const char *const documented[] = {
      "linear",   "relu",     "leaky_relu",   "elu",         "selu",       "celu",
      "gelu",     "sigmoid",  "hard_sigmoid", "log_sigmoid", "tanh",       "hard_tanh",
      "softplus", "softsign", "silu",         "swish",       "hard_silu",  "hard_swish",
      "relu6",    "mish",     "exponential",  "softmax",     "log_softmax"};
  for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++) {
    const dn_act *act = must_find(documented[i]);
    assert_non_null(act->forward);
    assert_non_null(act->backward);
  }
  assert_string_equal(must_find("softmax")->name, "softmax");
  assert_string_equal(must_find("log_softmax")->name, "log_softmax");
}

static void test_unknown_names(void **state) {
  (void)state;
  assert_null(dn_act_find("sigmoidd"));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "unknown activation 'sigmoidd'"));
  assert_non_null(strstr(dn_last_error(), "relu")); /* lists valid names */
  assert_non_null(strstr(dn_last_error(), "log_softmax"));
  assert_non_null(strstr(dn_last_error(), "hard_swish")); /* aliases too */

  assert_null(dn_act_find(""));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "unknown activation ''"));

  /* case-sensitive as in Keras, with a hint */
  assert_null(dn_act_find("ReLU"));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "'ReLU'"));
  assert_non_null(strstr(dn_last_error(), "did you mean 'relu'"));
  assert_null(dn_act_find("Swish"));
  assert_non_null(strstr(dn_last_error(), "did you mean 'swish'"));

  /* a very long name is cut, not overflowing the message */
  char longname[600];
  memset(longname, 'q', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_null(dn_act_find(longname));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "unknown activation 'qqqq"));

  /* Keras names that this table does not provide say so */
  static const char *const unsupported[] = {"glu", "crelu", "sparsemax", "threshold"};
  for (size_t i = 0; i < 4; i++) {
    assert_null(dn_act_find(unsupported[i]));
    assert_int_equal(dn_last_status(), DN_ERR_UNSUPPORTED);
    assert_non_null(strstr(dn_last_error(), unsupported[i]));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_values),
      cmocka_unit_test(test_backward_analytic),
      cmocka_unit_test(test_backward_finite_differences),
      cmocka_unit_test(test_backward_matches_own_forward),
      cmocka_unit_test(test_kink_conventions),
      cmocka_unit_test(test_large_inputs_finite),
      cmocka_unit_test(test_nan_propagates),
      cmocka_unit_test(test_keras3_gotchas),
      cmocka_unit_test(test_keras_doc_examples),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_log_softmax),
      cmocka_unit_test(test_softmax_single_column),
      cmocka_unit_test(test_softmax_rows_independent),
      cmocka_unit_test(test_in_place),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_unknown_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
