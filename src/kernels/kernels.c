/* kernels.c -- the GEMM seam: the always-built reference, the choice of the
 * active backend (gemm.h), the fused dense forward/backward, and the small
 * vector kernels.
 *
 * Letters: M x N result, K the summed dimension; row-major throughout.
 * The reference loops keep the innermost loop contiguous in memory for each
 * of the three products a dense net needs (see kernels.h).
 */
#include "kernels/kernels.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

#ifdef DENSENET_HAVE_CBLAS
#include <cblas.h>
#undef I /* OpenBLAS's cblas.h pulls in <complex.h>; I is the inputs letter here */
#endif

static void scale_rows(float *C, size_t ldc, size_t M, size_t N, float beta) {
  for (size_t i = 0; i < M; i++) {
    float *c = C + i * ldc;
    if (beta == 0.0f)
      memset(c, 0, N * sizeof *c);
    else if (beta != 1.0f)
      for (size_t j = 0; j < N; j++)
        c[j] *= beta;
  }
}

void dn_gemm_reference(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc) {
  scale_rows(C, ldc, M, N, beta);
  if (!trans_a && !trans_b) { /* NN: C[i,:] += A[i,k] * B[k,:] */
    for (size_t i = 0; i < M; i++)
      for (size_t k = 0; k < K; k++) {
        float a = alpha * A[i * lda + k];
        const float *b = B + k * ldb;
        float *c = C + i * ldc;
        for (size_t j = 0; j < N; j++)
          c[j] += a * b[j];
      }
  } else if (!trans_a && trans_b) { /* NT: C[i,j] += dot(A[i,:], B[j,:]) */
    for (size_t i = 0; i < M; i++)
      for (size_t j = 0; j < N; j++) {
        const float *a = A + i * lda, *b = B + j * ldb;
        float s = 0.0f;
        for (size_t k = 0; k < K; k++)
          s += a[k] * b[k];
        C[i * ldc + j] += alpha * s;
      }
  } else if (trans_a && !trans_b) { /* TN: C[i,:] += A[k,i] * B[k,:] */
    for (size_t k = 0; k < K; k++)
      for (size_t i = 0; i < M; i++) {
        float a = alpha * A[k * lda + i];
        const float *b = B + k * ldb;
        float *c = C + i * ldc;
        for (size_t j = 0; j < N; j++)
          c[j] += a * b[j];
      }
  } else { /* TT: not used by the layers; kept for completeness */
    for (size_t i = 0; i < M; i++)
      for (size_t j = 0; j < N; j++) {
        float s = 0.0f;
        for (size_t k = 0; k < K; k++)
          s += A[k * lda + i] * B[j * ldb + k];
        C[i * ldc + j] += alpha * s;
      }
  }
}

/* ---- backends ------------------------------------------------------------ */

/* C += bias, then relu, over an M x N block (for backends without a fused epilogue). */
static void epilogue_pass(const dn_gemm_args *g) {
  if (g->bias == NULL && g->act == DN_EPI_LINEAR)
    return;
  for (size_t i = 0; i < g->M; i++) {
    float *c = g->C + i * g->ldc;
    for (size_t j = 0; j < g->N; j++) {
      float t = c[j];
      if (g->bias != NULL)
        t = t + g->bias[j];
      if (g->act == DN_EPI_RELU && t <= 0.0f)
        t = 0.0f;
      c[j] = t;
    }
  }
}

/* g->beyond for backends whose products do not check it themselves. */
static void check_result(const dn_gemm_args *g) {
  for (size_t i = 0; g->beyond != NULL && i < g->M; i++)
    if (dn_vec_beyond_limit(g->C + i * g->ldc, g->N))
      *g->beyond = true;
}

static void reference_backend(const dn_gemm_args *g) {
  dn_gemm_reference(g->trans_a, g->trans_b, g->M, g->N, g->K, g->alpha, g->A, g->lda, g->B, g->ldb,
                    g->beta, g->C, g->ldc);
  epilogue_pass(g);
  check_result(g);
}

#ifdef DENSENET_HAVE_CBLAS
/* The best native backend this CPU runs (the fallback of the cblas backend). */
static void native_backend(const dn_gemm_args *g) {
#ifdef DN_HAVE_X86_KERNELS
  dn_cpu_level level = dn_cpu_level_get();
  if (level == DN_CPU_AVX512)
    dn_gemm_avx512(g);
  else if (level == DN_CPU_AVX2)
    dn_gemm_avx2(g);
  else
#endif
    dn_gemm_portable(g);
}

/* CBLAS for the shapes where packing pays; the native paths for skinny ones. */
static void cblas_backend(const dn_gemm_args *g) {
  if (g->M < 16 || g->N < 32 || g->K < 8 || (double)g->M * g->N * g->K < 32768.0) {
    native_backend(g);
    return;
  }
  cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
              g->trans_b ? CblasTrans : CblasNoTrans, (int)g->M, (int)g->N, (int)g->K, g->alpha,
              g->A, (int)g->lda, g->B, (int)g->ldb, g->beta, g->C, (int)g->ldc);
  epilogue_pass(g);
  check_result(g);
}
#endif

typedef struct backend {
  const char *name;
  dn_gemm_backend_fn fn;
  dn_relu_colsum_fn relu_colsum;
  dn_cpu_level needs;
  size_t small_width; /* layers with I and O up to this take small_forward/backward */
  dn_dense_small_forward_fn small_forward;
  dn_dense_small_backward_fn small_backward;
  dn_dense_chain_forward_fn chain_forward; /* NULL: layer after layer */
} backend;

static const backend backends[] = {
    {"reference", reference_backend, dn_relu_colsum_portable, DN_CPU_PORTABLE, 0, NULL, NULL, NULL},
    {"portable", dn_gemm_portable, dn_relu_colsum_portable, DN_CPU_PORTABLE,
     DN_SMALL_WIDTH_PORTABLE, dn_dense_small_forward_portable, dn_dense_small_backward_portable,
     NULL},
#ifdef DN_HAVE_X86_KERNELS
    {"avx2", dn_gemm_avx2, dn_relu_colsum_avx2, DN_CPU_AVX2, DN_SMALL_WIDTH_AVX2,
     dn_dense_small_forward_avx2, dn_dense_small_backward_avx2, dn_dense_chain_forward_avx2},
    {"avx512", dn_gemm_avx512, dn_relu_colsum_avx512, DN_CPU_AVX512, DN_SMALL_WIDTH_AVX512,
     dn_dense_small_forward_avx512, dn_dense_small_backward_avx512, dn_dense_chain_forward_avx512},
#endif
#ifdef DENSENET_HAVE_CBLAS
    {"cblas", cblas_backend, dn_relu_colsum_portable, DN_CPU_PORTABLE, DN_SMALL_WIDTH_PORTABLE,
     dn_dense_small_forward_portable, dn_dense_small_backward_portable, NULL},
#endif
};
enum { n_backends = sizeof backends / sizeof *backends };

/* Index + 1 of the active backend; 0 until the first call chooses one. */
static atomic_int active;

static const backend *active_backend(void) {
  int a = atomic_load_explicit(&active, memory_order_relaxed);
  if (a != 0)
    return &backends[a - 1];
  const char *want = dn_cpu_level_name(dn_cpu_level_get());
#ifdef DENSENET_HAVE_CBLAS
  want = "cblas";
#endif
  for (int i = 0; i < n_backends; i++)
    if (strcmp(backends[i].name, want) == 0)
      a = i + 1;
  if (a == 0)
    a = 2; /* portable */
  atomic_store_explicit(&active, a, memory_order_relaxed);
  return &backends[a - 1];
}

bool dn_kernels_set_backend(const char *name) {
  if (name == NULL) {
    atomic_store_explicit(&active, 0, memory_order_relaxed);
    return true;
  }
  for (int i = 0; i < n_backends; i++)
    if (strcmp(backends[i].name, name) == 0) {
      if (backends[i].needs > dn_cpu_level_get())
        return false;
      atomic_store_explicit(&active, i + 1, memory_order_relaxed);
      return true;
    }
  return false;
}

const char *dn_kernels_backend(void) {
  return active_backend()->name;
}

void dn_gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
  dn_gemm_args g = {trans_a, trans_b, M,   N, K,   alpha, beta,          A,
                    B,       lda,     ldb, C, ldc, NULL,  DN_EPI_LINEAR, dn_max_threads(),
                    NULL};
  active_backend()->fn(&g);
}

/* ---- fused dense passes -------------------------------------------------- */

void dn_dense_forward_fused(float *Y, const float *X, const float *W, const float *b, size_t N,
                            size_t I, size_t O, bool relu) {
  const backend *be = active_backend();
  if (I <= be->small_width && O <= be->small_width) {
    be->small_forward(Y, X, W, b, N, I, O, relu);
    return;
  }
  dn_gemm_args g = {false,
                    false,
                    N,
                    O,
                    I,
                    1.0f,
                    0.0f,
                    X,
                    W,
                    I,
                    O,
                    Y,
                    O,
                    b,
                    relu ? DN_EPI_RELU : DN_EPI_LINEAR,
                    dn_max_threads(),
                    NULL};
  be->fn(&g);
}

typedef struct colsum_job {
  const backend *be;
  float *dY, *db;
  const float *Y;
  size_t N, O;
  bool relu;
} colsum_job;

static void colsum_part(void *ctx, size_t lo, size_t hi) {
  const colsum_job *j = ctx;
  j->be->relu_colsum(j->dY + lo, j->Y + lo, j->db != NULL ? j->db + lo : NULL, j->N, hi - lo, j->O,
                     j->relu);
}

/* The backend's relu_colsum, split by columns over threads for big layers (each column's sum
 * runs in row order on one thread whatever the split). */
static void relu_colsum(const backend *be, float *dY, const float *Y, float *db, size_t N, size_t O,
                        bool relu) {
  colsum_job job = {be, dY, db, Y, N, O, relu};
  if ((double)N * O < 65536.0)
    colsum_part(&job, 0, O);
  else
    dn_parallel_ranges(O, 64, colsum_part, &job);
}

void dn_dense_backward_fused(float *dX, float *dW, float *db, float *dY, const float *X,
                             const float *W, const float *Y, size_t N, size_t I, size_t O,
                             bool relu, bool *beyond) {
  const backend *be = active_backend();
  if (I <= be->small_width && O <= be->small_width) {
    be->small_backward(dX, dW, db, dY, X, W, Y, N, I, O, relu);
    if (beyond != NULL && dn_vec_beyond_limit(dW, I * O)) /* a few hundred floats at most */
      *beyond = true;
  } else {
    if (relu || db != NULL)
      relu_colsum(be, dY, Y, db, N, O, relu);
    dn_gemm_args g = {true,  false, I, O,  N, 1.0f, 0.0f,          X,
                      dY,    I,     O, dW, O, NULL, DN_EPI_LINEAR, dn_max_threads(),
                      beyond};
    be->fn(&g);
    if (dX != NULL)
      dn_gemm(false, true, N, I, O, 1.0f, dY, O, W, O, 0.0f, dX, I);
  }
  if (beyond != NULL && db != NULL && dn_vec_beyond_limit(db, O))
    *beyond = true;
}

bool dn_dense_chain_forward(const dn_dense_step *steps, size_t n, size_t width, const float *X,
                            size_t N) {
  const backend *be = active_backend();
  if (width > be->small_width)
    return false;
  if (be->chain_forward != NULL) {
    be->chain_forward(steps, n, X, N);
    return true;
  }
  for (size_t l = 0; l < n; l++) {
    const dn_dense_step *s = &steps[l];
    be->small_forward(s->Y, l == 0 ? X : steps[l - 1].Y, s->W, s->b, N, s->I, s->O, s->relu);
  }
  return true;
}

void dn_bias_add(float *Y, const float *b, size_t N, size_t O) {
  for (size_t n = 0; n < N; n++) {
    float *y = Y + n * O;
    for (size_t o = 0; o < O; o++)
      y[o] += b[o];
  }
}

void dn_col_sum(float *out, const float *X, size_t N, size_t O) {
  for (size_t o = 0; o < O; o++)
    out[o] = 0.0f;
  for (size_t n = 0; n < N; n++) {
    const float *x = X + n * O;
    for (size_t o = 0; o < O; o++)
      out[o] += x[o];
  }
}

void dn_vec_mul(float *y, const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    y[i] = a[i] * b[i];
}

void dn_vec_axpy(float *y, float alpha, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    y[i] += alpha * x[i];
}

void dn_vec_scale(float *y, float alpha, size_t n) {
  for (size_t i = 0; i < n; i++)
    y[i] *= alpha;
}

double dn_vec_sumsq(const float *x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)x[i] * x[i];
  return s;
}

bool dn_vec_beyond_limit(const float *x, size_t n) {
  /* Compared as bits without the sign (NaN's are above Inf's): an OR over a branch-free test
   * vectorises. */
  const float limit = DN_GRAD_LIMIT;
  int32_t limit_bits;
  memcpy(&limit_bits, &limit, sizeof limit_bits);
  int32_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t u;
    memcpy(&u, x + i, sizeof u);
    bad |= (u & 0x7fffffff) > limit_bits;
  }
  return bad != 0;
}
