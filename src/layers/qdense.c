/* qdense.c -- the int8 Dense layer (qdense.h): quantize the input, int8 product, float output.
 *
 * The float kernel the layer holds in the model's parameter block is packed into int8 (and the
 * per-column multipliers and zero-point corrections computed) at the first forward and again
 * whenever the model's weights were written since (its weights_version) or moved.
 */
#include "layers/qdense.h"

#include <math.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/alloc.h"
#include "core/status.h"
#include "kernels/parallel.h"
#include "kernels/qgemm.h"
#include "layers/activation.h"

typedef struct qdense {
  size_t units;
  const dn_act *act;
  bool relu, linear, use_bias;
  /* The packed state (dn_qgemm_pack) and what it was packed from. */
  int8_t *wp;
  int32_t *corr; /* Op: zero point x the sum of each column's int8 weights (fits int32) */
  float *mult;   /* Op: input scale * kernel scale */
  int32_t zero_point;
  float inv_scale;
  bool packed;
  const float *packed_from;
  uint64_t packed_version;
  /* Scratch for `cap` rows: quantized input (rows x Kp), int32 products (rows x Op), the
   * pre-activation for activations other than relu and linear (rows x O). */
  uint8_t *qx;
  int32_t *acc;
  float *z;
  size_t cap;
} qdense;

static qdense *impl_of(const dn_layer *layer) {
  return (qdense *)layer->impl;
}

static dn_status qdense_build(dn_layer *layer, size_t I) {
  qdense *d = impl_of(layer);
  size_t O = d->units, kernel;
  if (I > DN_QGEMM_MAX_K)
    return dn_fail(DN_ERR_SHAPE, "QuantizedDense: %zu inputs, more than the %zu int32 sums allow",
                   I, DN_QGEMM_MAX_K);
  if (!dn_mul_size(I, O, &kernel, "QuantizedDense kernel"))
    return DN_ERR_SHAPE;
  if (kernel > SIZE_MAX / 2 - 2 * O - 2)
    return dn_fail(DN_ERR_SHAPE, "QuantizedDense: %zu x %zu kernel is too large", I, O);
  size_t off = 0, n = 0;
  layer->output_dim = O;
  layer->vars[n++] = (dn_var){"kernel", off, kernel, I, O, false};
  off += kernel;
  if (d->use_bias) {
    layer->vars[n++] = (dn_var){"bias", off, O, 1, O, false};
    off += O;
  }
  layer->vars[n++] = (dn_var){"kernel_scale", off, O, 1, O, false};
  off += O;
  layer->vars[n++] = (dn_var){"input_quantization", off, 2, 1, 2, false};
  off += 2;
  layer->n_vars = n;
  layer->n_params = off;
  return DN_OK;
}

static void qdense_init_fixed(dn_layer *layer) {
  /* kernel_scale 1 and input scale 1 (zero point 0): a valid layer before any weights are set */
  size_t I = layer->input_dim, O = layer->output_dim;
  float *s = layer->params + I * O + (impl_of(layer)->use_bias ? O : 0);
  for (size_t o = 0; o < O + 1; o++)
    s[o] = 1.0f;
}

static void free_scratch(qdense *d) {
  dn_free(d->qx);
  dn_free(d->acc);
  dn_free(d->z);
  d->qx = NULL;
  d->acc = NULL;
  d->z = NULL;
  d->cap = 0;
}

static dn_status qdense_reserve(dn_layer *layer, size_t rows) {
  qdense *d = impl_of(layer);
  size_t I = layer->input_dim, O = layer->output_dim;
  size_t Kp = dn_qgemm_kpad(I), Op = dn_qgemm_opad(O);
  if (d->wp == NULL) {
    d->wp = dn_alloc(Kp * Op);
    d->corr = dn_alloc(Op * sizeof *d->corr);
    d->mult = dn_alloc(Op * sizeof *d->mult);
    if (d->wp == NULL || d->corr == NULL || d->mult == NULL)
      return DN_ERR_NOMEM; /* freed with the layer */
    d->packed = false;
  }
  if (rows <= d->cap)
    return DN_OK;
  size_t nq, na;
  if (!dn_mul_size(rows, Kp, &nq, "QuantizedDense workspace") ||
      !dn_mul_size(rows, Op, &na, "QuantizedDense workspace") || na > SIZE_MAX / sizeof(int32_t))
    return dn_fail(DN_ERR_SHAPE, "QuantizedDense: a workspace of %zu rows is too large", rows);
  uint8_t *qx = dn_alloc(nq);
  int32_t *acc = dn_alloc(na * sizeof *acc);
  float *z = d->relu || d->linear ? NULL : dn_alloc(rows * O * sizeof *z);
  if (qx == NULL || acc == NULL || (z == NULL && !(d->relu || d->linear))) {
    dn_free(qx);
    dn_free(acc);
    dn_free(z);
    return DN_ERR_NOMEM;
  }
  free_scratch(d);
  d->qx = qx;
  d->acc = acc;
  d->z = z;
  d->cap = rows;
  memset(qx, 0, nq); /* the padding columns stay 0 */
  return DN_OK;
}

/* round to nearest (ties to even, the default rounding mode), clamped to lo..hi; NaN -> 0 */
static int32_t clamp_round(float v, int32_t lo, int32_t hi) {
  if (!(v >= (float)lo))
    return v != v ? 0 : lo;
  if (v >= (float)hi)
    return hi;
  return (int32_t)nearbyintf(v);
}

static void pack(dn_layer *layer) {
  qdense *d = impl_of(layer);
  size_t I = layer->input_dim, O = layer->output_dim, Op = dn_qgemm_opad(O);
  const float *W = layer->params;
  const float *scale = W + I * O + (d->use_bias ? O : 0), *inq = scale + O;
  memset(d->wp, 0, dn_qgemm_kpad(I) * Op);
  size_t KQ = dn_qgemm_kpad(I) / 4;
  float in_scale = inq[0];
  d->zero_point = clamp_round(inq[1], 0, 127);
  d->inv_scale = 1.0f / in_scale;
  for (size_t o = 0; o < Op; o++) {
    int32_t sum = 0;
    for (size_t k = 0; o < O && k < I; k++) {
      int32_t q = clamp_round(W[k * O + o], -127, 127);
      d->wp[((o / 8) * KQ + k / 4) * 32 + (o % 8) * 4 + k % 4] = (int8_t)q; /* dn_qgemm_pack */
      sum += q;
    }
    d->corr[o] = d->zero_point * sum;
    d->mult[o] = o < O ? in_scale * scale[o] : 0.0f;
  }
  d->packed = true;
  d->packed_from = layer->params;
  d->packed_version = layer->weights_version != NULL ? *layer->weights_version : 0;
}

/* q[k] = clamp_round(x[k] * inv + zp, 0, 127) for k < I. With SSE2 four at a time: max with 0
 * turns NaN into 0 as clamp_round does (maxps returns its second operand then), and cvtps2dq
 * rounds to nearest, ties to even, as nearbyintf in the default rounding mode. */
static void quantize_row(uint8_t *restrict q, const float *restrict x, size_t I, float inv,
                         float zp) {
  size_t k = 0;
#ifdef __SSE2__
  const __m128 vinv = _mm_set1_ps(inv), vzp = _mm_set1_ps(zp), lo = _mm_setzero_ps();
  const __m128 hi = _mm_set1_ps(127.0f);
  for (; k + 16 <= I; k += 16) {
    __m128i r[4];
    for (int i = 0; i < 4; i++) {
      __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + k + 4 * i), vinv), vzp);
      r[i] = _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(v, lo), hi));
    }
    __m128i w = _mm_packus_epi16(_mm_packs_epi32(r[0], r[1]), _mm_packs_epi32(r[2], r[3]));
    _mm_storeu_si128((__m128i *)(q + k), w);
  }
#endif
  for (; k < I; k++)
    q[k] = (uint8_t)clamp_round(x[k] * inv + zp, 0, 127);
}

/* A forward goes to the library's threads from a million multiply-adds on (twice the float
 * GEMM's threshold: an int8 multiply-add costs about half), 16 rows at least a thread. */
#define QDENSE_THREAD_MIN_MACS 1048576.0
#define QDENSE_THREAD_MIN_ROWS 16

/* Rows [lo, hi) of a forward: quantize the input, the int8 product, scale, bias and relu. Rows
 * are independent, so any split over threads gives the same bits. */
typedef struct {
  const qdense *d;
  const float *X, *bias;
  float *Z;
  size_t I, O, Kp, Op;
} qrows_job;

static void qrows(void *ctx, size_t lo, size_t hi) {
  const qrows_job *j = ctx;
  const qdense *d = j->d;
  float inv = d->inv_scale, zp = (float)d->zero_point;
  const size_t I = j->I;
  for (size_t n = lo; n < hi; n++)
    quantize_row(d->qx + n * j->Kp, j->X + n * I, I, inv, zp);
  dn_qgemm(d->acc + lo * j->Op, d->qx + lo * j->Kp, d->wp, hi - lo, j->Kp, j->Op);
  /* Scale, bias and relu, in loops the compiler vectorizes: relu keeps the bits of v where v > 0
   * or v is NaN and clears them (+0) elsewhere, as the layer's relu does (no ?: here: gcc does
   * not vectorize that under trapping math). */
  const size_t O = j->O;
  const int32_t *restrict corr = d->corr;
  const float *restrict mult = d->mult, *restrict bias = j->bias;
  for (size_t n = lo; n < hi; n++) {
    const int32_t *restrict a = d->acc + n * j->Op;
    float *restrict zr = j->Z + n * O;
    if (bias != NULL)
      for (size_t o = 0; o < O; o++)
        zr[o] = (float)(a[o] - corr[o]) * mult[o] + bias[o];
    else
      for (size_t o = 0; o < O; o++)
        zr[o] = (float)(a[o] - corr[o]) * mult[o];
    if (d->relu)
      for (size_t o = 0; o < O; o++) {
        uint32_t bits;
        memcpy(&bits, &zr[o], sizeof bits);
        bits &= 0u - (uint32_t)(isgreater(zr[o], 0.0f) | isunordered(zr[o], zr[o]));
        memcpy(&zr[o], &bits, sizeof bits);
      }
  }
}

static void qdense_forward(dn_layer *layer, const dn_matrix *y, const dn_matrix *x, bool training,
                           dn_rng *rng) {
  (void)training;
  (void)rng;
  DN_LAYER_ASSERT_FORWARD(layer, y, x);
  qdense *d = impl_of(layer);
  size_t N = x->rows, I = x->cols, O = y->cols;
  if (!d->packed || d->packed_from != layer->params ||
      d->packed_version != (layer->weights_version != NULL ? *layer->weights_version : 0))
    pack(layer);
  qrows_job job = {d,
                   x->data,
                   d->use_bias ? layer->params + I * O : NULL,
                   d->z != NULL ? d->z : y->data,
                   I,
                   O,
                   dn_qgemm_kpad(I),
                   dn_qgemm_opad(O)};
  if ((double)N * job.Kp * job.Op >= QDENSE_THREAD_MIN_MACS)
    dn_parallel_ranges(N, QDENSE_THREAD_MIN_ROWS, qrows, &job);
  else
    qrows(&job, 0, N);
  if (d->z != NULL)
    d->act->forward(y->data, d->z, N, O);
}

static void qdense_backward(dn_layer *layer, const dn_matrix *dx, const dn_matrix *dy,
                            const dn_matrix *x, const dn_matrix *y) {
  /* never reached: the training calls refuse a quantized model (dn_seq_inference_only) */
  (void)x;
  (void)y;
  (void)dy;
  memset(layer->grads, 0, layer->n_params * sizeof(float));
  if (dx->data != NULL)
    memset(dx->data, 0, dx->rows * dx->cols * sizeof(float));
}

static void qdense_get_config(const dn_layer *layer, dn_layer_config *c) {
  const qdense *d = impl_of(layer);
  c->units = d->units;
  c->activation = d->act->name;
  c->use_bias = d->use_bias;
}

static void qdense_free_impl(dn_layer *layer) {
  qdense *d = impl_of(layer);
  if (d != NULL) {
    free_scratch(d);
    dn_free(d->wp);
    dn_free(d->corr);
    dn_free(d->mult);
  }
  dn_free(d);
  layer->impl = NULL;
}

static dn_layer *qdense_from_config(const dn_layer_config *c) {
  return dn_qdense_new(c->name, c->units, c->activation, c->use_bias, c->input_dim);
}

const dn_layer_ops dn_quantized_dense_ops = {
    .type = "QuantizedDense",
    .base_name = "quantized_dense",
    .config_fields = DN_CFG_UNITS | DN_CFG_ACTIVATION | DN_CFG_USE_BIAS,
    .inference_only = true,
    .from_config = qdense_from_config,
    .build = qdense_build,
    .init_fixed = qdense_init_fixed,
    .reserve = qdense_reserve,
    .forward = qdense_forward,
    .backward = qdense_backward,
    .get_config = qdense_get_config,
    .free_impl = qdense_free_impl,
};

dn_layer *dn_qdense_new(const char *name, size_t units, const char *activation, bool use_bias,
                        size_t input_dim) {
  if (units == 0)
    return dn_fail_null(DN_ERR_ARG, "QuantizedDense: units must be a positive integer, got 0");
  const dn_act *act = dn_act_find(activation);
  if (act == NULL) {
    dn_error_context("QuantizedDense");
    return NULL;
  }
  qdense *impl = dn_calloc(1, sizeof *impl);
  if (impl == NULL)
    return NULL;
  impl->units = units;
  impl->act = act;
  impl->relu = strcmp(act->name, "relu") == 0;
  impl->linear = dn_act_is_linear(act);
  impl->use_bias = use_bias;
  return dn_layer_new(&dn_quantized_dense_ops, impl, name, input_dim);
}

void dn_qdense_input_range(float lo, float hi, float *scale, float *zero_point) {
  lo = lo < 0.0f ? lo : 0.0f;
  hi = hi > 0.0f ? hi : 0.0f;
  float s = (hi - lo) / 127.0f;
  if (!(s > 0.0f) || !isfinite(s)) {
    *scale = 1.0f;
    *zero_point = 0.0f;
    return;
  }
  *scale = s;
  *zero_point = (float)clamp_round(-lo / s, 0, 127);
}
