/* export_c.c -- dn_model_export_c: a built model as a dependency-free C99 pair name.h / name.c.
 *
 * The generated code computes what dn_predict computes on the portable backend, bit for bit:
 * the same operations in the same order, which this file copies from the library's forward pass.
 *   Dense: each output is a sum over k = 0..I-1 of x[k] * W[k][o] started from 0.0f, in the order
 *     the portable GEMM (kernels/gemm_template.h) takes for the layer's shape, whatever the rows
 *     of the product: one sequential sum (up to 256 inputs); 16 interleaved partial sums
 *     reduced pairwise (its matrix-vector `dot` for one unit and 32 or more inputs); or
 *     sequential sums over blocks of 256 terms added as they finish (more than 256 inputs).
 *     Then the bias (a small fused layer adds 0.0f where it has none, as the small kernel
 *     does), then relu inline or the activation as the table in layers/activation.c writes it.
 *   Activation: the table's scalar function (double ones evaluated in double, rounded once).
 *   Normalization: (x - mean) / s or mean + x * s, s = max(sqrtf(variance), 1e-7) computed
 *     here and stored (sqrtf is correctly rounded, so the stored constant is what the layer
 *     computes).
 *   BatchNormalization (inference): gamma * ((x - mean) * inv) + beta with
 *     inv = (float)(1 / sqrt(variance + epsilon)) computed here in double, as the layer does.
 *   Dropout: nothing.
 * Every multiply and add is its own rounding: the generated file says to compile it with
 * -ffp-contract=off (a compiler contracting a * b + c into an FMA would change the last bit).
 * Constants are written as C99 hexadecimal floating literals, which are exact.
 */
#define _POSIX_C_SOURCE 200809L /* access */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"
#include "io/file.h"
#include "layers/layer.h"
#include "model/sequential.h"

static const char FN[] = "dn_model_export_c";

/* The portable backend's constants (gemm_portable.c, gemm_template.h, gemm.h) that decide a
 * Dense layer's summation order. */
#define PORTABLE_SMALL_WIDTH 8
#define PORTABLE_KC 256

/* ---- a text buffer: measured on a first pass, written on the second -------------------- */

typedef struct out {
  char *buf; /* NULL while measuring */
  size_t len, cap;
} out;

static void put(out *o, const char *fmt, ...) DN_PRINTF(2, 3);
static void put(out *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *at = o->buf != NULL ? o->buf + o->len : NULL;
  size_t room = o->buf != NULL ? o->cap - o->len : 0;
  int n = vsnprintf(at, room, fmt, ap);
  va_end(ap);
  if (n > 0)
    o->len += (size_t)n;
}

/* One float as an exact C99 literal: hexadecimal, with the f suffix. */
static void put_float(out *o, float v) {
  put(o, "%af", (double)v);
}

/* A named static const float array (values must be finite: checked before). */
static void put_array(out *o, const char *name, const float *v, size_t n) {
  put(o, "static const float %s[%zu] = {", name, n);
  for (size_t i = 0; i < n; i++) {
    put(o, i % 6 == 0 ? "\n    " : " ");
    put_float(o, v[i]);
    put(o, i + 1 < n ? "," : "\n");
  }
  put(o, "};\n");
}

/* ---- activations: the scalar functions of layers/activation.c as C99 source ------------- */

typedef enum { ACT_LINEAR, ACT_FLOAT, ACT_DOUBLE, ACT_ROW } act_kind;

typedef struct act_src {
  const char *name;
  act_kind kind;
  const char *needs; /* another row's name whose source must come first, or NULL */
  const char *src;   /* defines `static float|double <name>_f(float|double x)` (ACT_ROW: a row
                        function <name>_row(float *y, size_t n), in place) */
} act_src;

static const act_src ACTS[] = {
    {"linear", ACT_LINEAR, NULL, ""},
    {"relu", ACT_FLOAT, NULL, "static float relu_f(float x) { return x <= 0.0f ? 0.0f : x; }\n"},
    {"leaky_relu", ACT_FLOAT, NULL,
     "static float leaky_relu_f(float x) { return x > 0.0f ? x : 0.2f * x; }\n"},
    {"relu6", ACT_FLOAT, NULL,
     "static float relu6_f(float x) { return x <= 0.0f ? 0.0f : (x >= 6.0f ? 6.0f : x); }\n"},
    {"elu", ACT_DOUBLE, NULL,
     "static double elu_f(double x) { return x >= 0.0 ? x : 1.0 * expm1(x); }\n"},
    {"selu", ACT_DOUBLE, NULL,
     "static double selu_f(double x) {\n"
     "  return 1.0507009873554804934193349852946 *\n"
     "         (x >= 0.0 ? x : 1.6732632423543772848170429916717 * expm1(x));\n"
     "}\n"},
    {"celu", ACT_DOUBLE, NULL,
     "static double celu_f(double x) { return x >= 0.0 ? x : 1.0 * expm1(x / 1.0); }\n"},
    {"gelu", ACT_DOUBLE, NULL,
     "static double gelu_f(double x) {\n"
     "  return 0.5 * x * erfc(-x * 0.70710678118654752440084436210485);\n"
     "}\n"},
    {"sigmoid", ACT_DOUBLE, NULL,
     "static double sigmoid_f(double x) {\n"
     "  double e = exp(-fabs(x));\n"
     "  double r = 1.0 / (1.0 + e);\n"
     "  return x >= 0.0 ? r : e * r;\n"
     "}\n"},
    {"hard_sigmoid", ACT_FLOAT, NULL,
     "static float hard_sigmoid_f(float x) {\n"
     "  float t = x / 6.0f + 0.5f;\n"
     "  return t <= 0.0f ? 0.0f : (t >= 1.0f ? 1.0f : t);\n"
     "}\n"},
    {"log_sigmoid", ACT_DOUBLE, NULL,
     "static double log_sigmoid_f(double x) { return fmin(x, 0.0) - log1p(exp(-fabs(x))); }\n"},
    {"tanh", ACT_DOUBLE, NULL, "static double tanh_f(double x) { return tanh(x); }\n"},
    {"hard_tanh", ACT_FLOAT, NULL,
     "static float hard_tanh_f(float x) { return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x); }\n"},
    {"softplus", ACT_DOUBLE, NULL,
     "static double softplus_f(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }\n"},
    {"softsign", ACT_FLOAT, NULL,
     "static float softsign_f(float x) { return x / (1.0f + fabsf(x)); }\n"},
    {"silu", ACT_DOUBLE, "sigmoid",
     "static double silu_f(double x) { return x * sigmoid_f(x); }\n"},
    {"hard_silu", ACT_FLOAT, "hard_sigmoid",
     "static float hard_silu_f(float x) { return x * hard_sigmoid_f(x); }\n"},
    {"mish", ACT_DOUBLE, NULL,
     "static double mish_f(double x) {\n"
     "  double n, u;\n"
     "  if (x > 40.0)\n"
     "    return x;\n"
     "  n = exp(x);\n"
     "  u = n * (n + 2.0);\n"
     "  return x * u / (u + 2.0);\n"
     "}\n"},
    {"exponential", ACT_DOUBLE, NULL, "static double exponential_f(double x) { return exp(x); }\n"},
    {"softmax", ACT_ROW, NULL,
     "static void softmax_row(float *y, size_t n) {\n"
     "  double m = -INFINITY, sum = 0.0, inv;\n"
     "  size_t j;\n"
     "  for (j = 0; j < n; j++)\n"
     "    if (y[j] > m)\n"
     "      m = y[j];\n"
     "  for (j = 0; j < n; j++) {\n"
     "    double e = exp((double)y[j] - m);\n"
     "    y[j] = (float)e;\n"
     "    sum += e;\n"
     "  }\n"
     "  inv = 1.0 / sum;\n"
     "  for (j = 0; j < n; j++)\n"
     "    y[j] = (float)((double)y[j] * inv);\n"
     "}\n"},
    {"log_softmax", ACT_ROW, NULL,
     "static void log_softmax_row(float *y, size_t n) {\n"
     "  double m = -INFINITY, sum = 0.0, shift;\n"
     "  size_t j;\n"
     "  for (j = 0; j < n; j++)\n"
     "    if (y[j] > m)\n"
     "      m = y[j];\n"
     "  for (j = 0; j < n; j++)\n"
     "    sum += exp((double)y[j] - m);\n"
     "  shift = m + log(sum);\n"
     "  for (j = 0; j < n; j++)\n"
     "    y[j] = (float)((double)y[j] - shift);\n"
     "}\n"},
    {"tanh_shrink", ACT_DOUBLE, NULL,
     "static double tanh_shrink_f(double x) { return x - tanh(x); }\n"},
    {"soft_shrink", ACT_FLOAT, NULL,
     "static float soft_shrink_f(float x) {\n"
     "  float inner = fabsf(x) <= 0.5f ? 0.0f : x;\n"
     "  return x > 0.5f ? x - 0.5f : (x < -0.5f ? x + 0.5f : inner);\n"
     "}\n"},
    {"hard_shrink", ACT_FLOAT, NULL,
     "static float hard_shrink_f(float x) { return fabsf(x) <= 0.5f ? 0.0f : x; }\n"},
    {"squareplus", ACT_DOUBLE, NULL,
     "static double squareplus_f(double x) {\n"
     "  double r = sqrt(x * x + 4.0);\n"
     "  return x >= 0.0 ? 0.5 * (x + r) : 0.5 * 4.0 / (r - x);\n"
     "}\n"},
    {"sparse_sigmoid", ACT_FLOAT, NULL,
     "static float sparse_sigmoid_f(float x) {\n"
     "  return x <= -1.0f ? 0.0f : (x >= 1.0f ? 1.0f : 0.5f * (x + 1.0f));\n"
     "}\n"},
    {"sparse_plus", ACT_FLOAT, NULL,
     "static float sparse_plus_f(float x) {\n"
     "  return x <= -1.0f ? 0.0f : (x >= 1.0f ? x : 0.25f * (x + 1.0f) * (x + 1.0f));\n"
     "}\n"},
};
#define N_ACTS (sizeof ACTS / sizeof ACTS[0])

static int act_index(const char *name) {
  for (size_t i = 0; i < N_ACTS; i++)
    if (strcmp(ACTS[i].name, name) == 0)
      return (int)i;
  return -1;
}

/* ---- the plan: what each layer computes, checked before anything is written -------------- */

typedef enum { SUM_SEQ, SUM_LANES, SUM_BLOCKED } sum_order;

typedef enum { L_DENSE, L_ACT, L_DROPOUT, L_NORM, L_BN } layer_kind;

typedef struct plan_layer {
  layer_kind kind;
  const dn_layer *layer;
  dn_layer_config cfg;
  int act;        /* ACTS index (Dense, Activation) */
  bool fused;     /* Dense: linear or relu, run fused into the product */
  bool small;     /* Dense: the portable small-layer kernel (fused, I and O <= 8) */
  sum_order sums; /* Dense: the order of the sums (the same for every batch) */
  float *c0, *c1; /* Normalization: mean, s; BatchNormalization: mean, inv (owned) */
} plan_layer;

/* The order the portable GEMM's sums take for an N-column product summing K terms: the same
 * for every number of rows M and every path (gemm_template.h, "Batch invariance"). */
static sum_order portable_order(size_t N, size_t K) {
  if (N == 1)
    return K < 32 ? SUM_SEQ : SUM_LANES;           /* gemv: dot */
  return K <= PORTABLE_KC ? SUM_SEQ : SUM_BLOCKED; /* tiny, direct, packed: blocks of KC */
}

static dn_status check_finite(const plan_layer *p, const char *what, const float *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return dn_fail(DN_ERR_NUMERIC,
                     "%s: layer '%s' (%s): %s[%zu] is %s, which a C constant cannot hold", FN,
                     p->layer->name, p->cfg.type, what, i, isnan(v[i]) ? "NaN" : "infinite");
  return DN_OK;
}

static const float *var_of(const dn_layer *l, const char *name) {
  for (size_t i = 0; i < l->n_vars; i++)
    if (strcmp(l->vars[i].name, name) == 0)
      return l->params + l->vars[i].offset;
  return NULL;
}

static dn_status plan_one(const dn_layer *l, plan_layer *p) {
  memset(p, 0, sizeof *p);
  p->layer = l;
  dn_layer_get_config(l, &p->cfg);
  const char *type = p->cfg.type;
  size_t I = l->input_dim, O = l->output_dim;
  if (strcmp(type, "Dense") == 0 || strcmp(type, "Activation") == 0) {
    p->kind = type[0] == 'D' ? L_DENSE : L_ACT;
    p->act = act_index(p->cfg.activation);
    if (p->act < 0)
      return dn_fail(DN_ERR_UNSUPPORTED, "%s: layer '%s' (%s): activation '%s' has no C form", FN,
                     l->name, type, p->cfg.activation);
    if (p->kind == L_ACT)
      return DN_OK;
    p->fused = ACTS[p->act].kind == ACT_LINEAR || strcmp(p->cfg.activation, "relu") == 0;
    p->small = p->fused && I <= PORTABLE_SMALL_WIDTH && O <= PORTABLE_SMALL_WIDTH;
    p->sums = p->small ? SUM_SEQ : portable_order(O, I);
    dn_status st = check_finite(p, "kernel", l->params, I * O);
    if (st == DN_OK && p->cfg.use_bias)
      st = check_finite(p, "bias", l->params + I * O, O);
    return st;
  }
  if (strcmp(type, "Dropout") == 0) {
    p->kind = L_DROPOUT;
    return DN_OK;
  }
  if (strcmp(type, "Normalization") != 0 && strcmp(type, "BatchNormalization") != 0)
    return dn_fail(DN_ERR_UNSUPPORTED, "%s: layer '%s' (%s) has no C form", FN, l->name, type);
  p->c0 = dn_alloc(O * sizeof(float));
  p->c1 = dn_alloc(O * sizeof(float));
  if (p->c0 == NULL || p->c1 == NULL)
    return DN_ERR_NOMEM;
  if (type[0] == 'N') { /* normalization.c: scale_of */
    p->kind = L_NORM;
    const float *mean = l->params, *var = l->params + O;
    for (size_t j = 0; j < O; j++) {
      float s = sqrtf(var[j]);
      p->c0[j] = mean[j];
      p->c1[j] = s > (float)1e-7 ? s : (float)1e-7;
    }
    dn_status st = check_finite(p, "mean", p->c0, O);
    return st != DN_OK ? st : check_finite(p, "max(sqrt(variance), 1e-7)", p->c1, O);
  }
  p->kind = L_BN; /* batch_norm.c, bn_forward at inference */
  const float *mean = var_of(l, "moving_mean"), *var = var_of(l, "moving_variance");
  const float *gamma = var_of(l, "gamma"), *beta = var_of(l, "beta");
  for (size_t j = 0; j < O; j++) {
    p->c0[j] = (float)(double)mean[j];
    p->c1[j] = (float)(1.0 / sqrt((double)var[j] + p->cfg.epsilon));
  }
  dn_status st = check_finite(p, "moving_mean", p->c0, O);
  if (st == DN_OK)
    st = check_finite(p, "1/sqrt(moving_variance + epsilon)", p->c1, O);
  if (st == DN_OK && gamma != NULL)
    st = check_finite(p, "gamma", gamma, O);
  if (st == DN_OK && beta != NULL)
    st = check_finite(p, "beta", beta, O);
  return st;
}

/* ---- generation -------------------------------------------------------------------------- */

typedef struct gen {
  const dn_model *model;
  const char *name;
  char upper[64];
  plan_layer *plan;
  size_t n;
  bool uses_math, uses_lanes;
} gen;

static void put_comment_header(out *o, const gen *g, const char *file) {
  const dn_model *m = g->model;
  put(o,
      "/* %s.%s -- generated by libdensenet %s (dn_model_export_c); do not edit.\n"
      " *\n"
      " * A Sequential model of %zu inputs and %zu outputs, %zu parameters:\n",
      g->name, file, dn_version(), m->input_dim, m->layers[m->n_layers - 1]->output_dim,
      m->n_params);
  for (size_t i = 0; i < g->n; i++) {
    const plan_layer *p = &g->plan[i];
    const dn_layer *l = p->layer;
    put(o, " *   %-24s %-18s %zu -> %zu", l->name, p->cfg.type, l->input_dim, l->output_dim);
    if (p->kind == L_DENSE || p->kind == L_ACT)
      put(o, ", %s", p->cfg.activation);
    if (p->kind == L_DENSE && !p->cfg.use_bias)
      put(o, ", no bias");
    if (p->kind == L_DROPOUT)
      put(o, " (nothing at inference)");
    if (p->kind == L_BN)
      put(o, " (inference form)");
    put(o, "\n");
  }
  put(o,
      " *\n"
      " * %s_predict(x, y) computes one row: x holds %s_INPUT_DIM floats, y receives\n"
      " * %s_OUTPUT_DIM. %s_predict_batch(x, rows, y) computes `rows` rows stored one after\n"
      " * the other. Neither allocates; both are reentrant (the work space is on the stack).\n"
      " * C99, no dependencies beyond <math.h> for the activations that need it (link with -lm).\n"
      " *\n"
      " * Compile the .c file with -ffp-contract=off (GCC, Clang): every product and sum rounds\n"
      " * on its own, in the order of libdensenet's portable backend, so the outputs equal\n"
      " * dn_predict's with DN_CPU=portable bit for bit. A compiler that fuses a multiply and an\n"
      " * add into one FMA instruction (GCC's default in GNU mode on an FMA-capable -march) may\n"
      " * change the last bit. libdensenet's AVX2 and AVX-512 backends use FMA, so against those\n"
      " * the outputs agree to rounding, not bit for bit.\n"
      " */\n",
      g->name, g->upper, g->upper, g->name);
}

static void gen_header(out *o, const gen *g) {
  put_comment_header(o, g, "h");
  put(o,
      "#ifndef %s_H_INCLUDED\n#define %s_H_INCLUDED\n\n#include <stddef.h>\n\n"
      "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n",
      g->upper, g->upper);
  put(o, "#define %s_INPUT_DIM %zu\n#define %s_OUTPUT_DIM %zu\n\n", g->upper, g->model->input_dim,
      g->upper, g->model->layers[g->model->n_layers - 1]->output_dim);
  put(o,
      "/* One row: y[0..%s_OUTPUT_DIM) from x[0..%s_INPUT_DIM). */\n"
      "void %s_predict(const float *x, float *y);\n"
      "/* `rows` rows: x is rows x %s_INPUT_DIM, y rows x %s_OUTPUT_DIM (row-major, not\n"
      " * overlapping x). */\n"
      "void %s_predict_batch(const float *x, size_t rows, float *y);\n\n",
      g->upper, g->upper, g->name, g->upper, g->upper, g->name);
  put(o, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* The source of an activation row and what it needs first, once each. */
static void put_act(out *o, int a, bool *done) {
  if (done[a])
    return;
  done[a] = true;
  if (ACTS[a].needs != NULL)
    put_act(o, act_index(ACTS[a].needs), done);
  put(o, "%s\n", ACTS[a].src);
}

/* Applies activation a to y[0..n) in place. */
static void put_apply_act(out *o, int a, size_t n) {
  const act_src *s = &ACTS[a];
  if (s->kind == ACT_ROW)
    put(o, "  %s_row(y, %zu);\n", s->name, n);
  else if (s->kind == ACT_DOUBLE)
    put(o, "  for (o = 0; o < %zu; o++)\n    y[o] = (float)%s_f((double)y[o]);\n", n, s->name);
  else if (s->kind == ACT_FLOAT)
    put(o, "  for (o = 0; o < %zu; o++)\n    y[o] = %s_f(y[o]);\n", n, s->name);
}

/* A Dense layer's sums into y[0..O) in one order. */
static void put_sums(out *o, size_t i, size_t I, size_t O, sum_order s, const char *indent) {
  if (s == SUM_SEQ) {
    put(o,
        "%sfor (o = 0; o < %zu; o++)\n%s  y[o] = 0.0f;\n"
        "%sfor (k = 0; k < %zu; k++) {\n"
        "%s  const float a = x[k], *w = kernel%zu + k * %zu;\n"
        "%s  for (o = 0; o < %zu; o++)\n%s    y[o] += a * w[o];\n%s}\n",
        indent, O, indent, indent, I, indent, i, O, indent, O, indent, indent);
  } else if (s == SUM_LANES) {
    put(o, "%sy[0] = dot_lanes(x, kernel%zu, %zu);\n", indent, i, I);
  } else {
    put(o,
        "%sfor (o = 0; o < %zu; o++) {\n"
        "%s  float c = 0.0f;\n"
        "%s  size_t k0;\n"
        "%s  for (k0 = 0; k0 < %zu; k0 += %d) {\n"
        "%s    size_t k1 = k0 + %d < %zu ? k0 + %d : %zu;\n"
        "%s    float t = 0.0f;\n"
        "%s    for (k = k0; k < k1; k++)\n"
        "%s      t += x[k] * kernel%zu[k * %zu + o];\n"
        "%s    c = k0 == 0 ? t : t + c;\n"
        "%s  }\n"
        "%s  y[o] = c;\n"
        "%s}\n",
        indent, O, indent, indent, indent, I, PORTABLE_KC, indent, PORTABLE_KC, I, PORTABLE_KC, I,
        indent, indent, indent, i, O, indent, indent, indent, indent);
  }
}

static void gen_dense(out *o, const gen *g, size_t i) {
  const plan_layer *p = &g->plan[i];
  size_t I = p->layer->input_dim, O = p->layer->output_dim;
  put(o, "static void layer%zu(const float *x, float *y) {\n  size_t k, o;\n", i);
  put_sums(o, i, I, O, p->sums, "  ");
  if (p->sums == SUM_LANES)
    put(o, "  (void)k;\n");
  bool relu = p->fused && ACTS[p->act].kind != ACT_LINEAR;
  char bias[40] = "";
  if (p->cfg.use_bias)
    snprintf(bias, sizeof bias, " + bias%zu[o]", i);
  if (p->small) /* the small kernel: t = z + (b or 0.0f), then relu */
    put(o, "  for (o = 0; o < %zu; o++) {\n    float t = y[o]%s;\n    y[o] = %s;\n  }\n", O,
        p->cfg.use_bias ? bias : " + 0.0f", relu ? "t <= 0.0f ? 0.0f : t" : "t");
  else if (p->cfg.use_bias || relu) /* the tile epilogue, or dn_bias_add */
    put(o, "  for (o = 0; o < %zu; o++) {\n    float t = y[o]%s;\n    y[o] = %s;\n  }\n", O, bias,
        relu ? "t <= 0.0f ? 0.0f : t" : "t");
  if (!p->fused)
    put_apply_act(o, p->act, O);
  put(o, "}\n\n");
}

static void gen_source(out *o, const gen *g) {
  put_comment_header(o, g, "c");
  put(o, "#include \"%s.h\"\n\n", g->name);
  if (g->uses_math)
    put(o, "#include <math.h>\n\n");
  /* constants */
  for (size_t i = 0; i < g->n; i++) {
    const plan_layer *p = &g->plan[i];
    const dn_layer *l = p->layer;
    size_t I = l->input_dim, O = l->output_dim;
    char nm[48];
    if (p->kind == L_DENSE) {
      put(o, "/* layer %zu, %s: kernel %zu x %zu (row k holds input k's weights)%s */\n", i,
          l->name, I, O, p->cfg.use_bias ? ", bias" : "");
      snprintf(nm, sizeof nm, "kernel%zu", i);
      put_array(o, nm, l->params, I * O);
      if (p->cfg.use_bias) {
        snprintf(nm, sizeof nm, "bias%zu", i);
        put_array(o, nm, l->params + I * O, O);
      }
    } else if (p->kind == L_NORM || p->kind == L_BN) {
      put(o, "/* layer %zu, %s: %s */\n", i, l->name,
          p->kind == L_NORM ? "mean, scale = max(sqrt(variance), 1e-7)"
                            : "moving mean, inv = 1/sqrt(moving variance + epsilon), gamma, beta");
      snprintf(nm, sizeof nm, "mean%zu", i);
      put_array(o, nm, p->c0, O);
      snprintf(nm, sizeof nm, "scale%zu", i);
      put_array(o, nm, p->c1, O);
      const float *gamma = var_of(l, "gamma"), *beta = var_of(l, "beta");
      if (p->kind == L_BN && gamma != NULL) {
        snprintf(nm, sizeof nm, "gamma%zu", i);
        put_array(o, nm, gamma, O);
      }
      if (p->kind == L_BN && beta != NULL) {
        snprintf(nm, sizeof nm, "beta%zu", i);
        put_array(o, nm, beta, O);
      }
    }
  }
  put(o, "\n");
  /* activations */
  bool done[N_ACTS] = {false};
  done[0] = true;
  for (size_t i = 0; i < g->n; i++) {
    const plan_layer *p = &g->plan[i];
    if (p->kind == L_ACT || (p->kind == L_DENSE && !p->fused))
      put_act(o, p->act, done);
  }
  if (g->uses_lanes)
    put(o, "/* The portable backend's dot product of 32 or more terms: 16 interleaved sums,\n"
           " * reduced pairwise. */\n"
           "static float dot_lanes(const float *a, const float *b, size_t n) {\n"
           "  float s[16] = {0.0f};\n"
           "  size_t k = 0;\n"
           "  int l, w;\n"
           "  for (; k + 16 <= n; k += 16)\n"
           "    for (l = 0; l < 16; l++)\n"
           "      s[l] += a[k + l] * b[k + l];\n"
           "  for (l = 0; k < n; k++, l++)\n"
           "    s[l] += a[k] * b[k];\n"
           "  for (w = 8; w > 0; w /= 2)\n"
           "    for (l = 0; l < w; l++)\n"
           "      s[l] += s[l + w];\n"
           "  return s[0];\n"
           "}\n\n");
  /* layer functions */
  size_t width = 1;
  for (size_t i = 0; i < g->n; i++) {
    const plan_layer *p = &g->plan[i];
    size_t O = p->layer->output_dim;
    if (p->kind == L_DROPOUT)
      continue;
    width = O > width ? O : width;
    if (p->kind == L_DENSE) {
      gen_dense(o, g, i);
      continue;
    }
    put(o, "static void layer%zu(const float *x, float *y) {\n  size_t o;\n", i);
    if (p->kind == L_ACT) {
      const act_src *s = &ACTS[p->act];
      if (s->kind == ACT_ROW || s->kind == ACT_LINEAR)
        put(o, "  for (o = 0; o < %zu; o++)\n    y[o] = x[o];\n", O);
      if (s->kind == ACT_DOUBLE)
        put(o, "  for (o = 0; o < %zu; o++)\n    y[o] = (float)%s_f((double)x[o]);\n", O, s->name);
      else if (s->kind == ACT_FLOAT)
        put(o, "  for (o = 0; o < %zu; o++)\n    y[o] = %s_f(x[o]);\n", O, s->name);
      else if (s->kind == ACT_ROW)
        put_apply_act(o, p->act, O);
    } else if (p->kind == L_NORM) {
      if (p->cfg.invert)
        put(o, "  for (o = 0; o < %zu; o++)\n    y[o] = mean%zu[o] + x[o] * scale%zu[o];\n", O, i,
            i);
      else
        put(o, "  for (o = 0; o < %zu; o++)\n    y[o] = (x[o] - mean%zu[o]) / scale%zu[o];\n", O, i,
            i);
    } else { /* L_BN */
      bool gamma = var_of(p->layer, "gamma") != NULL, beta = var_of(p->layer, "beta") != NULL;
      put(o, "  for (o = 0; o < %zu; o++) {\n    float xh = (x[o] - mean%zu[o]) * scale%zu[o];\n",
          O, i, i);
      if (gamma)
        put(o, "    y[o] = gamma%zu[o] * xh + ", i);
      else
        put(o, "    y[o] = 1.0f * xh + ");
      if (beta)
        put(o, "beta%zu[o];\n  }\n", i);
      else
        put(o, "0.0f;\n  }\n");
    }
    put(o, "}\n\n");
  }
  /* the row */
  put(o, "/* One row. */\n"
         "static void run_row(const float *x, float *y) {\n");
  size_t last = g->n;
  for (size_t i = 0; i < g->n; i++)
    if (g->plan[i].kind != L_DROPOUT)
      last = i;
  if (last == g->n) {
    put(o, "  size_t o;\n  for (o = 0; o < %zu; o++)\n    y[o] = x[o];\n}\n\n",
        g->model->input_dim);
  } else {
    put(o, "  float a[%zu], b[%zu];\n", width, width);
    const char *in = "x";
    int cur = 0;
    for (size_t i = 0; i < g->n; i++) {
      const plan_layer *p = &g->plan[i];
      if (p->kind == L_DROPOUT)
        continue;
      const char *dst = i == last ? "y" : (cur == 0 ? "a" : "b");
      put(o, "  layer%zu(%s, %s);\n", i, in, dst);
      in = dst;
      cur = 1 - cur;
    }
    put(o, "  (void)a;\n  (void)b;\n}\n\n");
  }
  size_t I = g->model->input_dim, O = g->model->layers[g->model->n_layers - 1]->output_dim;
  put(o,
      "void %s_predict(const float *x, float *y) {\n  run_row(x, y);\n}\n\n"
      "void %s_predict_batch(const float *x, size_t rows, float *y) {\n"
      "  size_t r;\n"
      "  for (r = 0; r < rows; r++) /* a row's output does not depend on the batch */\n"
      "    run_row(x + r * %zu, y + r * %zu);\n"
      "}\n",
      g->name, g->name, I, O);
}

/* ---- the entry point ---------------------------------------------------------------------- */

static const char *const C_KEYWORDS[] = {
    "auto",    "break",  "case",     "char",    "const",         "continue",     "default",
    "do",      "double", "else",     "enum",    "extern",        "float",        "for",
    "goto",    "if",     "inline",   "int",     "long",          "register",     "restrict",
    "return",  "short",  "signed",   "sizeof",  "static",        "struct",       "switch",
    "typedef", "union",  "unsigned", "void",    "volatile",      "while",        "bool",
    "true",    "false",  "alignas",  "alignof", "static_assert", "thread_local", "asm",
};

/* The longest name: name_predict_batch must stay within the 63 characters C99 compilers
 * distinguish in an identifier. */
#define EXPORT_NAME_MAX 48

static dn_status check_name(const char *name) {
  size_t n = strlen(name);
  bool ok = n > 0 && n <= EXPORT_NAME_MAX && (isalpha((unsigned char)name[0]) || name[0] == '_');
  for (size_t i = 1; ok && i < n; i++)
    ok = isalnum((unsigned char)name[i]) || name[i] == '_';
  if (!ok)
    return dn_fail(DN_ERR_ARG,
                   "%s: name '%s' is not a C identifier of 1 to %d letters, digits and "
                   "underscores starting with a letter or underscore",
                   FN, name, EXPORT_NAME_MAX);
  if (name[0] == '_' && (name[1] == '_' || isupper((unsigned char)name[1])))
    return dn_fail(DN_ERR_ARG, "%s: name '%s' is reserved in C (it starts with _ and %s)", FN, name,
                   name[1] == '_' ? "another _" : "a capital letter");
  for (size_t i = 0; i < sizeof C_KEYWORDS / sizeof C_KEYWORDS[0]; i++)
    if (strcmp(name, C_KEYWORDS[i]) == 0)
      return dn_fail(DN_ERR_ARG, "%s: name '%s' is a C keyword", FN, name);
  return DN_OK;
}

static dn_status check_dir(const char *dir) {
  struct stat sb;
  char why[128];
  if (stat(dir, &sb) != 0)
    return dn_fail(DN_ERR_IO, "%s: directory '%s': %s", FN, dir,
                   dn_errno_text(errno, why, sizeof why));
  if (!S_ISDIR(sb.st_mode))
    return dn_fail(DN_ERR_IO, "%s: '%s' is not a directory (it is %s)", FN, dir,
                   dn_file_type_text(sb.st_mode));
  if (access(dir, W_OK | X_OK) != 0)
    return dn_fail(DN_ERR_IO, "%s: directory '%s' is not writable: %s", FN, dir,
                   dn_errno_text(errno, why, sizeof why));
  return DN_OK;
}

/* Generates one file into a new buffer (*text, dn_free it), measuring first. */
static dn_status render(const gen *g, bool header, char **text, size_t *len) {
  out o = {NULL, 0, 0};
  if (header)
    gen_header(&o, g);
  else
    gen_source(&o, g);
  size_t cap = o.len + 1;
  o = (out){dn_alloc(cap), 0, cap};
  if (o.buf == NULL)
    return DN_ERR_NOMEM;
  if (header)
    gen_header(&o, g);
  else
    gen_source(&o, g);
  *text = o.buf;
  *len = o.len;
  return DN_OK;
}

static char *join_path(const char *dir, const char *name, const char *ext) {
  size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
  char *path = dn_alloc(n);
  if (path != NULL)
    snprintf(path, n, "%s%s%s%s", dir, dir[0] != 0 && dir[strlen(dir) - 1] != '/' ? "/" : "", name,
             ext);
  return path;
}

dn_status dn_model_export_c(const dn_model *model, const char *dir, const char *name) {
  if (model == NULL || dir == NULL || name == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", FN,
                   model == NULL ? "model"
                   : dir == NULL ? "dir"
                                 : "name");
  dn_status st = check_name(name);
  if (st != DN_OK)
    return st;
  if ((st = dn_seq_require_built(model, FN)) != DN_OK)
    return st;
  if (dir[0] == 0)
    dir = ".";
  if ((st = check_dir(dir)) != DN_OK)
    return st;
  gen g = {.model = model, .name = name, .n = model->n_layers};
  for (size_t i = 0; name[i] != 0; i++)
    g.upper[i] = (char)toupper((unsigned char)name[i]);
  g.plan = dn_calloc(g.n, sizeof *g.plan);
  if (g.plan == NULL)
    return DN_ERR_NOMEM;
  for (size_t i = 0; i < g.n && st == DN_OK; i++) {
    plan_layer *p = &g.plan[i];
    st = plan_one(model->layers[i], p);
    if (p->kind == L_ACT || (p->kind == L_DENSE && !p->fused))
      g.uses_math |= ACTS[p->act].kind == ACT_DOUBLE || ACTS[p->act].kind == ACT_ROW ||
                     strstr(ACTS[p->act].src, "fabsf") != NULL;
    if (p->kind == L_DENSE)
      g.uses_lanes |= p->sums == SUM_LANES;
  }
  char *h = NULL, *c = NULL, *hpath = join_path(dir, name, ".h"),
       *cpath = join_path(dir, name, ".c");
  size_t hlen = 0, clen = 0;
  if (st == DN_OK && (hpath == NULL || cpath == NULL))
    st = DN_ERR_NOMEM;
  if (st == DN_OK)
    st = render(&g, true, &h, &hlen);
  if (st == DN_OK)
    st = render(&g, false, &c, &clen);
  if (st == DN_OK)
    st = dn_file_write_atomic(hpath, h, hlen, FN);
  if (st == DN_OK && (st = dn_file_write_atomic(cpath, c, clen, FN)) != DN_OK)
    remove(hpath); /* nothing half-written: the pair goes together */
  for (size_t i = 0; i < g.n; i++) {
    dn_free(g.plan[i].c0);
    dn_free(g.plan[i].c1);
  }
  dn_free(g.plan);
  dn_free(h);
  dn_free(c);
  dn_free(hpath);
  dn_free(cpath);
  return st;
}
