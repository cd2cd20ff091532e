/* kernels.c -- the GEMM seam (reference backend) and the small vector kernels.
 *
 * Letters: M x N result, K the summed dimension; row-major throughout.
 * The reference loops keep the innermost loop contiguous in memory for each
 * of the three products a dense net needs (see kernels.h).
 */
#include "kernels.h"

#include <string.h>

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

void dn_gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
  dn_gemm_reference(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *dn_kernels_backend(void) {
  return "reference";
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
