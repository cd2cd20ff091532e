/* activation.c -- the table of Keras 3 activations (forward and backward) and
 * the lookup of a row by its Keras name.
 *
 * Shapes: every kernel takes an N x C row-major matrix (N rows, C columns).
 * Elementwise rows treat it as N*C independent values; softmax and
 * log_softmax work along each row (Keras axis=-1).
 *
 * Precision: each elementwise function is one pair of scalar functions
 * (value f, derivative f'). Smooth ones run in double and round once to
 * float; stable forms are used where the naive one overflows or cancels:
 * sigmoid from e^-|x|, softplus = max(x,0) + log1p(e^-|x|) (Keras's
 * logaddexp(x, 0)), gelu = x/2 erfc(-x/sqrt2), elu/celu with expm1,
 * tanh' = 1/cosh^2, mish from n = e^x. Piecewise-linear ones (relu family,
 * hard_*, shrinks, sparse_*, softsign) run in float, which is exact or is
 * Keras's own float32 arithmetic, branch-free so the loops vectorize.
 * Elementwise backward passes read only x (not y), so they are as accurate
 * as the forward pass; softmax and log_softmax backward read only y.
 *
 * Derivatives at kinks follow the Keras TensorFlow/JAX backends' autodiff
 * (their registered gradients), noted at each function:
 *   relu'(0) = 0; relu6'(0) = relu6'(6) = 0; leaky_relu'(0) = slope (TF);
 *   elu/selu'(0) = the x >= 0 branch; hard_sigmoid'(+-3) = 0 (relu6(x+3)/6);
 *   hard_tanh'(+-1) = 1 (clip_by_value passes the boundary); shrinks' = 0
 *   at +-threshold; sparse_sigmoid'(+-1) = 0.
 *
 * In place: forward may run with y == x and backward with dx == dy; every
 * value is read before its slot is written and row sums come first. */
#include "layers/activation.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/names.h"
#include "core/status.h"

/* ---- elementwise scalar functions -------------------------------------- */

/* c ? a : b as a bit mask, not a branch. Piecewise functions use it so their
 * loops have no data-dependent branches (random signs would mispredict) and
 * vectorize: under the default -ftrapping-math GCC will not turn a ternary
 * whose arms compute into a blend. Measured here at -O3: relu backward 7.7
 * -> under 1 ns per value. */
static inline float pick(int c, float a, float b) {
  uint32_t ua, ub, m = (uint32_t)0 - (uint32_t)(c != 0);
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  ua = (ua & m) | (ub & ~m);
  memcpy(&a, &ua, sizeof a);
  return a;
}

/* The same select for doubles. */
static inline double pick_d(int c, double a, double b) {
  uint64_t ua, ub, m = (uint64_t)0 - (uint64_t)(c != 0);
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  ua = (ua & m) | (ub & ~m);
  memcpy(&a, &ua, sizeof a);
  return a;
}

/* 1/(1 + e^-x) from e = e^-|x| <= 1, so nothing overflows; no branch. */
static double sigmoid_d(double x) {
  double e = exp(-fabs(x));
  double r = 1.0 / (1.0 + e);
  return pick_d(x >= 0.0, r, e * r);
}

/* log(1 + e^x) = logaddexp(x, 0), finite for every finite x. */
static double softplus_d(double x) {
  return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

/* sech^2(x) = 1/cosh^2(x): exact where 1 - tanh^2 would round to 0. */
static double sech2_d(double x) {
  double c = cosh(x);
  return 1.0 / (c * c);
}

/* relu: keeps x only where x > 0 (NaN passes through); relu'(0) = 0. */
static float relu_f(float x) {
  return pick(x <= 0.0f, 0.0f, x);
}
static float relu_df(float x) {
  return pick(x > 0.0f, 1.0f, 0.0f);
}

/* leaky_relu, activation default negative_slope = 0.2 (the LeakyReLU layer's
 * 0.3 is not this row), multiplied in float32 as Keras does.
 * Derivative at 0: the slope, as TF's LeakyReluGrad (x > 0 ? 1 : slope). */
#define DN_LEAKY_SLOPE 0.2f
static float leaky_relu_f(float x) {
  return pick(x > 0.0f, x, DN_LEAKY_SLOPE * x);
}
static float leaky_relu_df(float x) {
  return pick(x > 0.0f, 1.0f, DN_LEAKY_SLOPE);
}

/* relu6 = min(max(x, 0), 6); derivative 1 only on the open (0, 6). */
static float relu6_f(float x) {
  return pick(x <= 0.0f, 0.0f, pick(x >= 6.0f, 6.0f, x));
}
static float relu6_df(float x) {
  return pick((x > 0.0f) & (x < 6.0f), 1.0f, 0.0f);
}

/* elu, alpha = 1: x if x >= 0 else alpha*(e^x - 1); f'(0) = 1. */
#define DN_ELU_ALPHA 1.0
static double elu_f(double x) {
  return x >= 0.0 ? x : DN_ELU_ALPHA * expm1(x);
}
static double elu_df(double x) {
  return x >= 0.0 ? 1.0 : DN_ELU_ALPHA * exp(x);
}

/* selu = scale * elu(x, alpha) with Keras's constants. */
#define DN_SELU_ALPHA 1.6732632423543772848170429916717
#define DN_SELU_SCALE 1.0507009873554804934193349852946
static double selu_f(double x) {
  return DN_SELU_SCALE * (x >= 0.0 ? x : DN_SELU_ALPHA * expm1(x));
}
static double selu_df(double x) {
  return DN_SELU_SCALE * (x >= 0.0 ? 1.0 : DN_SELU_ALPHA * exp(x));
}

/* celu, alpha = 1: max(x,0) + alpha*expm1(min(x,0)/alpha); C^1 at 0. */
#define DN_CELU_ALPHA 1.0
static double celu_f(double x) {
  return x >= 0.0 ? x : DN_CELU_ALPHA * expm1(x / DN_CELU_ALPHA);
}
static double celu_df(double x) {
  return x >= 0.0 ? 1.0 : exp(x / DN_CELU_ALPHA);
}

/* gelu, Keras activation default approximate=False: x * Phi(x) with the
 * exact normal CDF Phi(x) = erfc(-x/sqrt2)/2 (no cancellation for x << 0). */
#define DN_SQRT1_2 0.70710678118654752440084436210485
#define DN_INV_SQRT_2PI 0.39894228040143267793994605993438
static double gelu_f(double x) {
  return 0.5 * x * erfc(-x * DN_SQRT1_2);
}
static double gelu_df(double x) {
  return 0.5 * erfc(-x * DN_SQRT1_2) + x * DN_INV_SQRT_2PI * exp(-0.5 * x * x);
}

/* sigmoid; s'(x) = s(x) s(-x), which keeps its tiny tails. */
static double sigmoid_f(double x) {
  return sigmoid_d(x);
}
static double sigmoid_df(double x) {
  double e = exp(-fabs(x)), r = 1.0 / (1.0 + e);
  return e * r * r; /* = s(x) s(-x), symmetric in x */
}

/* hard_sigmoid (Keras 3): x/6 + 1/2 clipped to [0, 1] (Keras 2's 0.2x + 0.5
 * is gone). Derivative 1/6 on the open (-3, 3): both backends build it as
 * relu6(x + 3)/6, whose gradient is 0 at the ends. */
static float hard_sigmoid_f(float x) {
  float t = x / 6.0f + 0.5f;
  return pick(t <= 0.0f, 0.0f, pick(t >= 1.0f, 1.0f, t));
}
static float hard_sigmoid_df(float x) {
  return pick((x > -3.0f) & (x < 3.0f), 1.0f / 6.0f, 0.0f);
}

/* hard_silu = x * hard_sigmoid(x); product rule with the derivative above
 * gives 0 at x = -3 and 1 at x = 3. */
static float hard_silu_f(float x) {
  return x * hard_sigmoid_f(x);
}
static float hard_silu_df(float x) {
  return hard_sigmoid_f(x) + x * hard_sigmoid_df(x);
}

/* log_sigmoid = -softplus(-x); derivative sigmoid(-x). */
static double log_sigmoid_f(double x) {
  return fmin(x, 0.0) - log1p(exp(-fabs(x)));
}
static double log_sigmoid_df(double x) {
  return sigmoid_d(-x);
}

static double tanh_f(double x) {
  return tanh(x);
}
static double tanh_df(double x) {
  return sech2_d(x);
}

/* hard_tanh = clip(x, -1, 1); derivative 1 on the closed [-1, 1] (TF's
 * clip_by_value and JAX's where(x > 1, ..., where(x < -1, ...)) both pass
 * the gradient at the bounds). */
static float hard_tanh_f(float x) {
  return pick(x < -1.0f, -1.0f, pick(x > 1.0f, 1.0f, x));
}
static float hard_tanh_df(float x) {
  return pick((x >= -1.0f) & (x <= 1.0f), 1.0f, 0.0f);
}

/* softplus = logaddexp(x, 0); derivative sigmoid(x). */
static double softplus_f(double x) {
  return softplus_d(x);
}
static double softplus_df(double x) {
  return sigmoid_d(x);
}

/* softsign = x / (1 + |x|); derivative 1 / (1 + |x|)^2. */
static float softsign_f(float x) {
  return x / (1.0f + fabsf(x));
}
static float softsign_df(float x) {
  float d = 1.0f + fabsf(x);
  return 1.0f / (d * d);
}

/* silu (alias swish) = x * sigmoid(x); derivative s + x s (1 - s). */
static double silu_f(double x) {
  return x * sigmoid_d(x);
}
static double silu_df(double x) {
  double e = exp(-fabs(x)), r = 1.0 / (1.0 + e);
  double s = pick_d(x >= 0.0, r, e * r);
  return s + x * e * r * r; /* e r^2 = s(x) s(-x) */
}

/* mish = x * tanh(softplus(x)). With n = e^x and u = n(n + 2):
 * tanh(softplus(x)) = u / (u + 2), sech^2(softplus(x)) = 4(u + 1)/(u + 2)^2,
 * so mish' = tanh(sp) + x sech^2(sp) sigmoid(x) needs one exp. Past x = 40
 * tanh(sp) is 1 in double (and n^2 would overflow for large x). */
static double mish_f(double x) {
  if (x > 40.0)
    return x;
  double n = exp(x), u = n * (n + 2.0);
  return x * u / (u + 2.0);
}
static double mish_df(double x) {
  if (x > 40.0)
    return 1.0;
  double n = exp(x), u = n * (n + 2.0), v = u + 2.0;
  return u / v + x * 4.0 * (u + 1.0) / (v * v) * (n / (1.0 + n));
}

/* exponential = e^x (overflows to +inf past ~88.7, as float32 Keras). */
static double exponential_f(double x) {
  return exp(x);
}
static double exponential_df(double x) {
  return exp(x);
}

/* tanh_shrink = x - tanh(x); derivative tanh^2(x). */
static double tanh_shrink_f(double x) {
  return x - tanh(x);
}
static double tanh_shrink_df(double x) {
  double t = tanh(x);
  return t * t;
}

/* soft_shrink / hard_shrink, Keras default threshold 0.5; derivative 0 on
 * the closed [-0.5, 0.5]. */
#define DN_SHRINK_THRESHOLD 0.5f
static float soft_shrink_f(float x) {
  float inner = pick(fabsf(x) <= DN_SHRINK_THRESHOLD, 0.0f, x); /* NaN passes */
  return pick(x > DN_SHRINK_THRESHOLD, x - DN_SHRINK_THRESHOLD,
              pick(x < -DN_SHRINK_THRESHOLD, x + DN_SHRINK_THRESHOLD, inner));
}
static float shrink_df(float x) {
  return pick(fabsf(x) > DN_SHRINK_THRESHOLD, 1.0f, 0.0f);
}
#define soft_shrink_df shrink_df
#define hard_shrink_df shrink_df
static float hard_shrink_f(float x) {
  return pick(fabsf(x) <= DN_SHRINK_THRESHOLD, 0.0f, x); /* NaN passes */
}

/* squareplus, Keras default b = 4: (x + sqrt(x^2 + b)) / 2. For x < 0 the
 * equal form b / (2 (sqrt(x^2 + b) - x)) avoids cancellation. */
#define DN_SQUAREPLUS_B 4.0
static double squareplus_f(double x) {
  double r = sqrt(x * x + DN_SQUAREPLUS_B);
  return x >= 0.0 ? 0.5 * (x + r) : 0.5 * DN_SQUAREPLUS_B / (r - x);
}
static double squareplus_df(double x) {
  return 0.5 * (1.0 + x / sqrt(x * x + DN_SQUAREPLUS_B));
}

/* sparse_sigmoid: 0 for x <= -1, (x + 1)/2 on (-1, 1), 1 for x >= 1;
 * derivative 1/2 on the open (-1, 1). */
static float sparse_sigmoid_f(float x) {
  return pick(x <= -1.0f, 0.0f, pick(x >= 1.0f, 1.0f, 0.5f * (x + 1.0f)));
}
static float sparse_sigmoid_df(float x) {
  return pick((x > -1.0f) & (x < 1.0f), 0.5f, 0.0f);
}

/* sparse_plus: 0 for x <= -1, (x + 1)^2/4 on (-1, 1), x for x >= 1;
 * its derivative is sparse_sigmoid (continuous). */
static float sparse_plus_f(float x) {
  return pick(x <= -1.0f, 0.0f, pick(x >= 1.0f, x, 0.25f * (x + 1.0f) * (x + 1.0f)));
}
static float sparse_plus_df(float x) {
  return sparse_sigmoid_f(x);
}

/* ---- elementwise kernels from the scalar pairs ------------------------- */

/* Y = f(X) and dX = dY * f'(X), each N x C; y may be x, dx may be dy. */
#define DN_ELEMENTWISE(NAME)                                                                       \
  static void NAME##_forward(float *y, const float *x, size_t rows, size_t cols) {                 \
    size_t n = rows * cols;                                                                        \
    for (size_t i = 0; i < n; i++)                                                                 \
      y[i] = (float)NAME##_f((double)x[i]);                                                        \
  }                                                                                                \
  static void NAME##_backward(float *dx, const float *dy, const float *x, const float *y,          \
                              size_t rows, size_t cols) {                                          \
    (void)y;                                                                                       \
    size_t n = rows * cols;                                                                        \
    for (size_t i = 0; i < n; i++)                                                                 \
      dx[i] = (float)((double)dy[i] * NAME##_df((double)x[i]));                                    \
  }

/* The same for the piecewise-linear rows, whose float arithmetic is exact or
 * is Keras's own float32 arithmetic; kept in float so the loops vectorize. */
#define DN_ELEMENTWISE_FLOAT(NAME)                                                                 \
  static void NAME##_forward(float *y, const float *x, size_t rows, size_t cols) {                 \
    size_t n = rows * cols;                                                                        \
    for (size_t i = 0; i < n; i++)                                                                 \
      y[i] = NAME##_f(x[i]);                                                                       \
  }                                                                                                \
  static void NAME##_backward(float *dx, const float *dy, const float *x, const float *y,          \
                              size_t rows, size_t cols) {                                          \
    (void)y;                                                                                       \
    size_t n = rows * cols;                                                                        \
    for (size_t i = 0; i < n; i++)                                                                 \
      dx[i] = dy[i] * NAME##_df(x[i]);                                                             \
  }

DN_ELEMENTWISE_FLOAT(relu)
DN_ELEMENTWISE_FLOAT(leaky_relu)
DN_ELEMENTWISE_FLOAT(relu6)
DN_ELEMENTWISE(elu)
DN_ELEMENTWISE(selu)
DN_ELEMENTWISE(celu)
DN_ELEMENTWISE(gelu)
DN_ELEMENTWISE(sigmoid)
DN_ELEMENTWISE_FLOAT(hard_sigmoid)
DN_ELEMENTWISE_FLOAT(hard_silu)
DN_ELEMENTWISE(log_sigmoid)
DN_ELEMENTWISE(tanh)
DN_ELEMENTWISE_FLOAT(hard_tanh)
DN_ELEMENTWISE(softplus)
DN_ELEMENTWISE_FLOAT(softsign)
DN_ELEMENTWISE(silu)
DN_ELEMENTWISE(mish)
DN_ELEMENTWISE(exponential)
DN_ELEMENTWISE(tanh_shrink)
DN_ELEMENTWISE_FLOAT(soft_shrink)
DN_ELEMENTWISE_FLOAT(hard_shrink)
DN_ELEMENTWISE(squareplus)
DN_ELEMENTWISE_FLOAT(sparse_sigmoid)
DN_ELEMENTWISE_FLOAT(sparse_plus)

/* linear copies (nothing to do in place). */
static void linear_forward(float *y, const float *x, size_t rows, size_t cols) {
  if (y != x && rows * cols > 0)
    memcpy(y, x, rows * cols * sizeof *y);
}
static void linear_backward(float *dx, const float *dy, const float *x, const float *y, size_t rows,
                            size_t cols) {
  (void)x;
  (void)y;
  if (dx != dy && rows * cols > 0)
    memcpy(dx, dy, rows * cols * sizeof *dx);
}

/* ---- row-wise kernels (axis = -1) --------------------------------------- */

/* Largest value of a row; NaNs are skipped here and propagate through exp. */
static double row_max(const float *x, size_t cols) {
  double m = -INFINITY;
  for (size_t j = 0; j < cols; j++)
    if (x[j] > m)
      m = x[j];
  return m;
}

/* Y[r] = exp(X[r] - max) / sum exp(X[r] - max), sums in double. */
static void softmax_forward(float *y, const float *x, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    double m = row_max(xr, cols);
    double sum = 0.0;
    for (size_t j = 0; j < cols; j++) {
      double e = exp((double)xr[j] - m);
      yr[j] = (float)e;
      sum += e;
    }
    double inv = 1.0 / sum;
    for (size_t j = 0; j < cols; j++)
      yr[j] = (float)((double)yr[j] * inv);
  }
}

/* dX[r]_i = Y[r]_i (dY[r]_i - sum_j dY[r]_j Y[r]_j). */
static void softmax_backward(float *dx, const float *dy, const float *x, const float *y,
                             size_t rows, size_t cols) {
  (void)x;
  for (size_t r = 0; r < rows; r++) {
    const float *dyr = dy + r * cols;
    const float *yr = y + r * cols;
    float *dxr = dx + r * cols;
    double dot = 0.0;
    for (size_t j = 0; j < cols; j++)
      dot += (double)dyr[j] * (double)yr[j];
    for (size_t j = 0; j < cols; j++)
      dxr[j] = (float)((double)yr[j] * ((double)dyr[j] - dot));
  }
}

/* Y[r] = X[r] - max - log sum exp(X[r] - max). */
static void log_softmax_forward(float *y, const float *x, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    double m = row_max(xr, cols);
    double sum = 0.0;
    for (size_t j = 0; j < cols; j++)
      sum += exp((double)xr[j] - m);
    double shift = m + log(sum);
    for (size_t j = 0; j < cols; j++)
      yr[j] = (float)((double)xr[j] - shift);
  }
}

/* dX[r]_i = dY[r]_i - softmax_i * sum_j dY[r]_j, with softmax_i = exp(Y[r]_i). */
static void log_softmax_backward(float *dx, const float *dy, const float *x, const float *y,
                                 size_t rows, size_t cols) {
  (void)x;
  for (size_t r = 0; r < rows; r++) {
    const float *dyr = dy + r * cols;
    const float *yr = y + r * cols;
    float *dxr = dx + r * cols;
    double total = 0.0;
    for (size_t j = 0; j < cols; j++)
      total += dyr[j];
    for (size_t j = 0; j < cols; j++)
      dxr[j] = (float)((double)dyr[j] - exp((double)yr[j]) * total);
  }
}

/* ---- the table and the lookup ------------------------------------------- */

#define DN_ROW(NAME)                                                                               \
  { #NAME, NAME##_forward, NAME##_backward }

/* Row 0 is linear (what NULL gives). Keras 3's ALL_OBJECTS_DICT names. */
static const dn_act dn_act_table[] = {
    DN_ROW(linear),      DN_ROW(relu),           DN_ROW(leaky_relu),  DN_ROW(relu6),
    DN_ROW(elu),         DN_ROW(selu),           DN_ROW(celu),        DN_ROW(gelu),
    DN_ROW(sigmoid),     DN_ROW(hard_sigmoid),   DN_ROW(log_sigmoid), DN_ROW(tanh),
    DN_ROW(hard_tanh),   DN_ROW(softplus),       DN_ROW(softsign),    DN_ROW(silu),
    DN_ROW(hard_silu),   DN_ROW(mish),           DN_ROW(exponential), DN_ROW(softmax),
    DN_ROW(log_softmax), DN_ROW(tanh_shrink),    DN_ROW(soft_shrink), DN_ROW(hard_shrink),
    DN_ROW(squareplus),  DN_ROW(sparse_sigmoid), DN_ROW(sparse_plus),
};
#define DN_ACT_COUNT (sizeof dn_act_table / sizeof dn_act_table[0])

/* Keras's extra string aliases. */
static const struct {
  const char *alias, *name;
} dn_act_aliases[] = {{"swish", "silu"}, {"hard_swish", "hard_silu"}};

/* Keras names this table does not provide: they change the output width
 * (glu halves it, crelu doubles it), need a sort per row (sparsemax), or
 * have required arguments (threshold). */
static const char *const dn_act_unsupported[] = {"glu", "crelu", "sparsemax", "threshold"};

#define DN_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const dn_act *find_exact(const char *name) {
  for (size_t i = 0; i < DN_ACT_COUNT; i++)
    if (strcmp(dn_act_table[i].name, name) == 0)
      return &dn_act_table[i];
  for (size_t i = 0; i < DN_COUNT_OF(dn_act_aliases); i++)
    if (strcmp(dn_act_aliases[i].alias, name) == 0)
      return find_exact(dn_act_aliases[i].name);
  return NULL;
}

/* The table's names then the aliases, for the unknown-name message. */
static const char *act_name_at(const void *table, size_t i) {
  (void)table;
  return i < DN_ACT_COUNT ? dn_act_table[i].name : dn_act_aliases[i - DN_ACT_COUNT].alias;
}

const dn_act *dn_act_find(const char *name) {
  if (name == NULL)
    return &dn_act_table[0];
  const dn_act *act = find_exact(name);
  if (act != NULL)
    return act;
  for (size_t i = 0; i < DN_COUNT_OF(dn_act_unsupported); i++)
    if (strcmp(dn_act_unsupported[i], name) == 0)
      return dn_fail_null(DN_ERR_UNSUPPORTED,
                          "activation '%s' is a Keras activation this library does not provide",
                          name);
  dn_fail_unknown_name("activation", name, act_name_at, NULL,
                       DN_ACT_COUNT + DN_COUNT_OF(dn_act_aliases));
  return NULL;
}

bool dn_act_is_linear(const dn_act *act) {
  return act == NULL || act == &dn_act_table[0];
}
