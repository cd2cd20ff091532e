/* gemm.h -- internal: the SGEMM backends behind the seam of kernels.h.
 *
 * Letters: C is M x N, K the summed dimension, row-major. op(A) is M x K
 * (A stored K x M when trans_a), op(B) is K x N (B stored N x K when trans_b).
 *
 * One backend = one instantiation of gemm_template.h compiled for one
 * instruction set (portable C, AVX2+FMA, AVX-512). Each computes
 *   C = act(alpha * op(A) . op(B) + beta * C + bias)
 * where bias (length N, may be NULL) and act (linear or relu) form the fused
 * epilogue, applied to each tile right after its last product. beta == 0 never
 * reads C. Every backend sums each element in the same k order whatever the
 * thread count, so results do not depend on how the work was split.
 */
#ifndef DN_GEMM_H
#define DN_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/cpu.h"

/* Keeps a helper out of line (the packing routines: clearer profiles, smaller loops). */
#ifdef __GNUC__
#define DN_NOINLINE __attribute__((noinline))
#else
#define DN_NOINLINE
#endif

/* Epilogue activations the kernels fuse (others run as a separate pass). */
typedef enum dn_epi_act { DN_EPI_LINEAR = 0, DN_EPI_RELU = 1 } dn_epi_act;

typedef struct dn_gemm_args {
  bool trans_a, trans_b;
  size_t M, N, K;
  float alpha, beta;
  const float *A, *B;
  size_t lda, ldb;
  float *C;
  size_t ldc;
  const float *bias; /* length N, added after the product; NULL for none */
  dn_epi_act act;
  int threads;  /* upper bound on worker threads (1 = this thread only) */
  bool *beyond; /* not NULL: set to true if an element written to C is beyond DN_GRAD_LIMIT */
} dn_gemm_args;

typedef void (*dn_gemm_backend_fn)(const dn_gemm_args *g);

/* The instantiations. The AVX ones exist only on x86 with GCC/Clang; callers
 * must check dn_cpu_level() first. */
void dn_gemm_portable(const dn_gemm_args *g);
/* The elementwise half of the fused dense backward (see dn_dense_backward_fused):
 * dY *= (Y > 0) when relu, db = column sums of dY (db NULL: none), over N rows
 * of O columns, rows ld floats apart (ld > O: a slice of wider rows). */
typedef void (*dn_relu_colsum_fn)(float *dY, const float *Y, float *db, size_t N, size_t O,
                                  size_t ld, bool relu);
void dn_relu_colsum_portable(float *dY, const float *Y, float *db, size_t N, size_t O, size_t ld,
                             bool relu);
/* Dense layers with I and O both at most the backend's small width (8 or 16):
 * the same contracts as dn_dense_forward_fused / dn_dense_backward_fused, one
 * pass per row with whole rows in registers, never threaded. */
typedef void (*dn_dense_small_forward_fn)(float *Y, const float *X, const float *W, const float *b,
                                          size_t N, size_t I, size_t O, bool relu);
typedef void (*dn_dense_small_backward_fn)(float *dX, float *dW, float *db, float *dY,
                                           const float *X, const float *W, const float *Y, size_t N,
                                           size_t I, size_t O, bool relu);
/* A chain of such layers (dn_dense_chain_forward in kernels.h); NULL in a
 * backend that has none: the layers then run one after the other. */
struct dn_dense_step;
typedef void (*dn_dense_chain_forward_fn)(const struct dn_dense_step *steps, size_t n,
                                          const float *X, size_t N);
#define DN_SMALL_WIDTH_PORTABLE 8
#define DN_SMALL_WIDTH_AVX2 8
#define DN_SMALL_WIDTH_AVX512 16
void dn_dense_small_forward_portable(float *Y, const float *X, const float *W, const float *b,
                                     size_t N, size_t I, size_t O, bool relu);
void dn_dense_small_backward_portable(float *dX, float *dW, float *db, float *dY, const float *X,
                                      const float *W, const float *Y, size_t N, size_t I, size_t O,
                                      bool relu);
#ifdef DN_HAVE_X86_KERNELS
void dn_gemm_avx2(const dn_gemm_args *g);
void dn_gemm_avx512(const dn_gemm_args *g);
void dn_relu_colsum_avx2(float *dY, const float *Y, float *db, size_t N, size_t O, size_t ld,
                         bool relu);
void dn_relu_colsum_avx512(float *dY, const float *Y, float *db, size_t N, size_t O, size_t ld,
                           bool relu);
void dn_dense_small_forward_avx2(float *Y, const float *X, const float *W, const float *b, size_t N,
                                 size_t I, size_t O, bool relu);
void dn_dense_chain_forward_avx2(const struct dn_dense_step *steps, size_t n, const float *X,
                                 size_t N);
void dn_dense_small_backward_avx2(float *dX, float *dW, float *db, float *dY, const float *X,
                                  const float *W, const float *Y, size_t N, size_t I, size_t O,
                                  bool relu);
void dn_dense_small_forward_avx512(float *Y, const float *X, const float *W, const float *b,
                                   size_t N, size_t I, size_t O, bool relu);
void dn_dense_chain_forward_avx512(const struct dn_dense_step *steps, size_t n, const float *X,
                                   size_t N);
void dn_dense_small_backward_avx512(float *dX, float *dW, float *db, float *dY, const float *X,
                                    const float *W, const float *Y, size_t N, size_t I, size_t O,
                                    bool relu);
#endif

/* Per-thread packing workspace of at least `floats` floats (64-byte aligned),
 * grown on demand and reused; freed when the thread exits. NULL if it cannot
 * be grown (callers then take a path that needs no workspace). */
float *dn_gemm_workspace(size_t floats);

/* One micro-tile's finishing step, shared by the instantiations:
 *   t = alpha * acc; if (load) t += beta * C; if (bias) t += bias[j]; act(t) -> C
 * (separate multiply and add, no FMA, so full and edge tiles round alike). */
typedef struct dn_tile_op {
  float alpha, beta;
  bool load;
  const float *bias; /* at the tile's first column, or NULL */
  dn_epi_act act;
  bool *flag; /* not NULL: set to true if a finished element is beyond DN_GRAD_LIMIT (or NaN) */
} dn_tile_op;

#endif
