/* kernels.h -- internal: the math the layers call, behind one GEMM seam.
 *
 * Dimension letters used across the library: N rows of a batch, I inputs,
 * O units (outputs). Matrices are row-major. Only three products occur in a
 * dense net (Keras kernel layout W is I x O):
 *   forward           Y  = X . W      NN: (N x I)(I x O)
 *   weight gradient   dW = X^T . dY   TN: (I x N)(N x O)
 *   input gradient    dX = dY . W^T   NT: (N x O)(O x I)
 */
#ifndef DN_KERNELS_H
#define DN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* The gradient checks (the backward products' `beyond` flag, dn_vec_beyond_limit) report an
 * element whose magnitude exceeds this, or that is Inf or NaN: up to 2^60 the optimizer can
 * prove its step finite without looking at the gradients again (optimizer.c). */
#define DN_GRAD_LIMIT 0x1p60f

/* C = alpha * op(A) . op(B) + beta * C, row-major, CBLAS semantics:
 * op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides of
 * the stored matrices. beta == 0 overwrites C without reading it. */
typedef void (*dn_gemm_fn)(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
                           const float *A, size_t lda, const float *B, size_t ldb, float beta,
                           float *C, size_t ldc);

/* The active GEMM (the fastest backend available on this CPU). */
void dn_gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* The always-built reference every backend is tested against. */
void dn_gemm_reference(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc);
/* Name of the active backend: "avx512", "avx2", "portable" (chosen once from
 * the CPU and DN_CPU, see cpu.h), "cblas" (-DDENSENET_BLAS builds) or
 * "reference". The cblas backend sends the large products to the CBLAS
 * library and keeps the native paths for the skinny ones; a CBLAS library's
 * own threads do not inherit the caller's FTZ/DAZ state (fpenv.h). */
const char *dn_kernels_backend(void);
/* For tests and benchmarks: use the named backend from now on ("reference",
 * "portable", "avx2", "avx512", "cblas"); NULL returns to the automatic
 * choice. False (nothing changed) if the name is unknown or this CPU or build
 * cannot run it. Not thread-safe: call it while no GEMM runs. */
bool dn_kernels_set_backend(const char *name);

/* Dense forward with the bias and activation fused into the product:
 * Y = act(X . W + b). X is N x I, W is I x O, b has O values (NULL: no bias),
 * Y is N x O; relu selects act = relu, else linear. */
void dn_dense_forward_fused(float *Y, const float *X, const float *W, const float *b, size_t N,
                            size_t I, size_t O, bool relu);
/* Dense backward from dY (N x O, scratch: its contents afterwards are
 * unspecified): with relu, dZ = dY * (Y > 0) (relu'(z) from the layer output
 * Y = relu(z)); then db = column sums of dZ (db NULL: none), dW = X^T . dZ
 * (I x O) and, if dX is not NULL, dX = dZ . W^T (N x I). The mask and the bias
 * gradient share one pass over dY. If beyond is not NULL, *beyond is set to
 * true when an element of dW or db is beyond DN_GRAD_LIMIT, Inf or NaN (checked
 * as the products finish, not in a pass of its own) and left alone otherwise. */
void dn_dense_backward_fused(float *dX, float *dW, float *db, float *dY, const float *X,
                             const float *W, const float *Y, size_t N, size_t I, size_t O,
                             bool relu, bool *beyond);

/* One layer of a chain of small Dense layers (dn_dense_chain_forward). */
typedef struct dn_dense_step {
  const float *W, *b; /* the I x O kernel and O biases (b NULL: none) */
  size_t I, O;
  bool relu; /* else linear */
  float *Y;  /* where the layer's N x O output goes */
} dn_dense_step;
/* X (N x steps[0].I) through n Dense layers with steps[l].I == steps[l - 1].O,
 * if `width` (the widest I or O among them) is within what the active
 * backend's small-layer kernels take; layer l's output goes to steps[l].Y.
 * The results equal dn_dense_forward_fused called layer after layer (the
 * native kernels carry each row from layer to layer in registers). False,
 * with nothing done, if the layers are too wide. */
bool dn_dense_chain_forward(const dn_dense_step *steps, size_t n, size_t width, const float *X,
                            size_t N);

/* Y[n][o] += b[o] for an N x O matrix. */
void dn_bias_add(float *Y, const float *b, size_t N, size_t O);
/* out[o] = sum over n of X[n][o] (overwrites out). */
void dn_col_sum(float *out, const float *X, size_t N, size_t O);
/* y[i] = a[i] * b[i]; y may alias a or b. */
void dn_vec_mul(float *y, const float *a, const float *b, size_t n);
/* y[i] = alpha * x[i] + y[i]. */
void dn_vec_axpy(float *y, float alpha, const float *x, size_t n);
/* y[i] = alpha * y[i]. */
void dn_vec_scale(float *y, float alpha, size_t n);
/* sum of squares in double. */
double dn_vec_sumsq(const float *x, size_t n);
/* True if one of x[0..n) is beyond DN_GRAD_LIMIT in magnitude, Inf or NaN. */
bool dn_vec_beyond_limit(const float *x, size_t n);

#endif
