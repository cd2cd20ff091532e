/* gemm_template.h -- the SGEMM driver, instantiated once per instruction set.
 *
 * Not a header to include elsewhere: gemm_portable.c, gemm_avx2.c and
 * gemm_avx512.c each define, then include this file:
 *   DN_SUFFIX     name suffix (portable, avx2, avx512); the entry is dn_gemm_<suffix>
 *   DN_TARGET     function attribute selecting the instruction set (may be empty)
 *   DN_MR, DN_NR  the register tile (rows x columns of C)
 *   DN_KC, DN_MC, DN_NC   cache blocks (DN_MC a multiple of DN_MR, DN_NC of DN_NR)
 *   a micro-kernel  static void DN_T(ukernel)(size_t K, const float *Ap, const float *Bp,
 *                                             float *C, size_t ldc, const dn_tile_op *op)
 *     that multiplies an MR x K packed panel of A by a K x NR packed panel of B
 *     and finishes the MR x NR tile of C with op (see dn_tile_op in gemm.h).
 *
 * Letters: C is M x N, K summed; see gemm.h. Three paths, chosen from the
 * shape alone (never from the thread split, so results do not depend on it):
 *   N == 1        matrix-vector: dot products (op(A) rows contiguous) or
 *                 axpy over rows of A (trans_a), no packing;
 *   small M*N*K   tiny or direct loops on the caller's layout, no packing;
 *   otherwise     BLIS-style blocking: pack a KC x NC block of op(B) into
 *                 NR-wide panels and an MC x KC block of op(A) into MR-high
 *                 panels, then run the micro-kernel over the tiles.
 * Threads (OpenMP builds) split C by output ownership: the blocked path as a
 * team that packs each block of B once and hands out units of rows as threads
 * come free (its K blocks in order, a barrier between them), other products in
 * fixed column slabs or rows. Each element's sum runs in the one-thread k order,
 * so the bits do not depend on the thread count.
 *
 * Batch invariance: for op(B) not transposed (every forward product of a dense
 * layer) each element's sum takes the same order on every path, so a row of C
 * depends only on its row of op(A) and on op(B), never on M or the row's place:
 * with N == 1 (every M takes gemv) the `dot` order; otherwise sequential sums
 * over blocks of DN_KC terms, the first block's result stored, each later one
 * added to it (DN_T(block_op)), one DN_MADD per term (a fused multiply-add on the
 * AVX backends, as in their micro-kernels; multiply then add in portable C).
 */

#define DN_CAT2(a, b) a##_##b
#define DN_CAT(a, b) DN_CAT2(a, b)
#define DN_T(name) DN_CAT(name, DN_SUFFIX)

/* Chunk of an accumulator row kept on the stack by the unpacked paths. */
#define DN_CHUNK 256

/* c + a * b: the backend's multiply-add (x86 backends: fmaf, one rounding). Without one,
 * a multiply then an add as two statements (no compiler contracts them into an FMA). */
#ifndef DN_MADD
static inline float DN_T(madd)(float a, float b, float c) {
  float p = a * b;
  return c + p;
}
#define DN_MADD(a, b, c) DN_T(madd)((a), (b), (c))
#endif

static inline size_t DN_T(min)(size_t a, size_t b) {
  return a < b ? a : b;
}

/* The scalar finishing step of dn_tile_op for one element of column j. */
static DN_TARGET inline float DN_T(finish)(float acc, const float *c, const dn_tile_op *op,
                                           size_t j) {
  float t = op->alpha * acc;
  if (op->load)
    t = t + op->beta * *c;
  if (op->bias != NULL)
    t = t + op->bias[j];
  if (op->act == DN_EPI_RELU && t <= 0.0f)
    t = 0.0f;
  if (op->flag != NULL && !(fabsf(t) <= DN_GRAD_LIMIT))
    *op->flag = true;
  return t;
}

/* Dot product: sequential below 32 terms, else in 16 independent lanes reduced
 * pairwise (a fixed order either way, chosen by K alone). */
static DN_TARGET float DN_T(dot)(const float *a, const float *b, size_t K) {
  if (K < 32) {
    float t = 0.0f;
    for (size_t k = 0; k < K; k++)
      t = DN_MADD(a[k], b[k], t);
    return t;
  }
  float s[16] = {0};
  size_t k = 0;
  for (; k + 16 <= K; k += 16)
    for (int l = 0; l < 16; l++)
      s[l] = DN_MADD(a[k + l], b[k + l], s[l]);
  for (int l = 0; k < K; k++, l++)
    s[l] = DN_MADD(a[k], b[k], s[l]);
  for (int w = 8; w > 0; w /= 2)
    for (int l = 0; l < w; l++)
      s[l] += s[l + w];
  return s[0];
}

/* C = alpha * op(A) . op(B) + ... with K == 0 or alpha == 0: only beta, bias, act. */
static DN_TARGET void DN_T(scale_only)(const dn_gemm_args *g, size_t i0, size_t i1) {
  dn_tile_op op = {0.0f, g->beta, g->beta != 0.0f, g->bias, g->act, g->beyond};
  for (size_t i = i0; i < i1; i++) {
    float *c = g->C + i * g->ldc;
    for (size_t j = 0; j < g->N; j++)
      c[j] = DN_T(finish)(0.0f, c + j, &op, j);
  }
}

/* N == 1: C[i] = op(A)[i,:] . op(B)[:,0] for rows i0..i1. */
static DN_TARGET void DN_T(gemv)(const dn_gemm_args *g, size_t i0, size_t i1) {
  dn_tile_op op = {g->alpha, g->beta, g->beta != 0.0f, g->bias, g->act, g->beyond};
  size_t K = g->K, lda = g->lda;
  /* op(B) column: contiguous when B is stored transposed (1 x K) or with ldb == 1. */
  bool bcontig = g->trans_b || g->ldb == 1;
  size_t bstride = bcontig ? 1 : g->ldb;
  if (!g->trans_a) {
    for (size_t i = i0; i < i1; i++) {
      const float *a = g->A + i * lda;
      float s;
      if (bcontig) {
        s = DN_T(dot)(a, g->B, K);
      } else {
        s = 0.0f;
        for (size_t k = 0; k < K; k++)
          s = DN_MADD(a[k], g->B[k * bstride], s);
      }
      g->C[i * g->ldc] = DN_T(finish)(s, g->C + i * g->ldc, &op, 0);
    }
    return;
  }
  /* trans_a: op(A)[i,k] = A[k*lda + i]; accumulate rows of A, a chunk of i at a time. */
  for (size_t ib = i0; ib < i1; ib += DN_CHUNK) {
    size_t w = DN_T(min)(DN_CHUNK, i1 - ib);
    float acc[DN_CHUNK];
    for (size_t t = 0; t < w; t++)
      acc[t] = 0.0f;
    for (size_t k = 0; k < K; k++) {
      float b = g->B[k * bstride];
      const float *a = g->A + k * lda + ib;
      for (size_t t = 0; t < w; t++)
        acc[t] = DN_MADD(a[t], b, acc[t]);
    }
    for (size_t t = 0; t < w; t++)
      g->C[(ib + t) * g->ldc] = DN_T(finish)(acc[t], g->C + (ib + t) * g->ldc, &op, 0);
  }
}

/* How the sum of K block pc..pc+kc finishes C (every path that splits K, so all
 * sum alike): the first block applies beta, later ones add to C; only the last
 * applies the bias (at column 0 of C: offset it), activation and non-finite check. */
static inline dn_tile_op DN_T(block_op)(const dn_gemm_args *g, size_t pc, size_t kc) {
  bool first = pc == 0, last = pc + kc == g->K;
  /* Inf and NaN never turn finite again in a sum: the last block's check is enough. */
  dn_tile_op op = {g->alpha,
                   first ? g->beta : 1.0f,
                   !first || g->beta != 0.0f,
                   last ? g->bias : NULL,
                   last ? g->act : DN_EPI_LINEAR,
                   last ? g->beyond : NULL};
  return op;
}

/* Tiny products (a few thousand multiply-adds, such as a 2-4-3-1 net's layers):
 * one sequential sum per element and K block, no buffers, rows i0..i1. */
static DN_TARGET void DN_T(tiny)(const dn_gemm_args *g, size_t i0, size_t i1) {
  size_t ai = g->trans_a ? 1 : g->lda, ak = g->trans_a ? g->lda : 1;
  size_t bk = g->trans_b ? 1 : g->ldb, bj = g->trans_b ? g->ldb : 1;
  for (size_t i = i0; i < i1; i++) {
    float *c = g->C + i * g->ldc;
    const float *a = g->A + i * ai;
    for (size_t j = 0; j < g->N; j++) {
      const float *b = g->B + j * bj;
      for (size_t pc = 0; pc < g->K; pc += DN_KC) {
        size_t kc = DN_T(min)(DN_KC, g->K - pc);
        dn_tile_op op = DN_T(block_op)(g, pc, kc);
        float t = 0.0f;
        for (size_t k = pc; k < pc + kc; k++)
          t = DN_MADD(a[k * ak], b[k * bk], t);
        c[j] = DN_T(finish)(t, c + j, &op, j);
      }
    }
  }
}

/* Small products straight from the caller's layout, rows i0..i1, columns j0..j1.
 * op(B) with contiguous rows (not transposed, or K == 1): axpy form over rows of
 * op(B), DN_DR rows of C at a time so each chunk of op(B) is read once per group;
 * otherwise one dot product per element. */
#define DN_DR 8
static DN_TARGET void DN_T(direct)(const dn_gemm_args *g, size_t i0, size_t i1, size_t j0,
                                   size_t j1) {
  dn_tile_op op = {g->alpha, g->beta, g->beta != 0.0f, NULL, g->act, g->beyond};
  size_t K = g->K, lda = g->lda, ldb = g->ldb;
  if (g->trans_b && K > 1) { /* C[i,j] = op(A)[i,:] . B[j,:] */
    op.bias = g->bias;
    for (size_t i = i0; i < i1; i++) {
      float *c = g->C + i * g->ldc;
      for (size_t j = j0; j < j1; j++) {
        const float *b = g->B + j * ldb;
        float s;
        if (!g->trans_a) {
          s = DN_T(dot)(g->A + i * lda, b, K);
        } else {
          s = 0.0f;
          for (size_t k = 0; k < K; k++)
            s = DN_MADD(g->A[k * lda + i], b[k], s);
        }
        c[j] = DN_T(finish)(s, c + j, &op, j);
      }
    }
    return;
  }
  /* op(B)[k][j] at B[k*bk + j*bj]; K in the packed path's blocks */
  size_t bk = g->trans_b ? 1 : ldb, bj = g->trans_b ? ldb : 1;
  for (size_t ib = i0; ib < i1; ib += DN_DR) {
    size_t rows = DN_T(min)(DN_DR, i1 - ib);
    for (size_t jb = j0; jb < j1; jb += DN_CHUNK)
      for (size_t pc = 0; pc < K; pc += DN_KC) {
        size_t w = DN_T(min)(DN_CHUNK, j1 - jb), kc = DN_T(min)(DN_KC, K - pc);
        float acc[DN_DR][DN_CHUNK];
        for (size_t r = 0; r < rows; r++)
          for (size_t t = 0; t < w; t++)
            acc[r][t] = 0.0f;
        for (size_t k = pc; k < pc + kc; k++) {
          const float *b = g->B + k * bk + jb * bj;
          for (size_t r = 0; r < rows; r++) {
            size_t i = ib + r;
            float a = g->trans_a ? g->A[k * lda + i] : g->A[i * lda + k];
            float *ac = acc[r];
            if (bj == 1) {
              size_t t = 0;
              for (; t + 16 <= w; t += 16) /* fixed-length blocks vectorise at any -O level */
                for (int l = 0; l < 16; l++)
                  ac[t + l] = DN_MADD(a, b[t + l], ac[t + l]);
              for (; t < w; t++)
                ac[t] = DN_MADD(a, b[t], ac[t]);
            } else {
              for (size_t t = 0; t < w; t++)
                ac[t] = DN_MADD(a, b[t * bj], ac[t]);
            }
          }
        }
        op = DN_T(block_op)(g, pc, kc);
        op.bias = op.bias != NULL ? op.bias + jb : NULL;
        for (size_t r = 0; r < rows; r++) {
          float *c = g->C + (ib + r) * g->ldc + jb;
          for (size_t t = 0; t < w; t++)
            c[t] = DN_T(finish)(acc[r][t], c + t, &op, t);
        }
      }
  }
}

/* kc rows of a row-major matrix (row k at src + k*ld) cut into w-wide panels
 * of their first n columns (panel p at dst[p*kc*w + k*w + c]; columns past n
 * are zero), row by row so the reads stream through memory. Inlined with w a
 * constant (MR or NR): the copies are whole vectors. */
static DN_TARGET inline __attribute__((always_inline)) void
DN_T(pack_rows)(const float *src, size_t ld, size_t kc, size_t n, size_t w, float *dst) {
  size_t full = n / w * w;
  for (size_t k = 0; k < kc; k++) {
    const float *s = src + k * ld;
    for (size_t p = 0; p < full; p += w) {
      float *dk = dst + p * kc + k * w;
      for (size_t c = 0; c < w; c++)
        dk[c] = s[p + c];
    }
    if (full < n) {
      float *dk = dst + full * kc + k * w;
      for (size_t c = 0; c < w; c++)
        dk[c] = full + c < n ? s[full + c] : 0.0f;
    }
  }
}

/* Packs rows i0..i0+mc, columns k0..k0+kc of op(A) into MR-high panels
 * (panel p holds dst[p*kc*MR + k*MR + r]); missing rows are zero. */
static DN_TARGET DN_NOINLINE void DN_T(pack_a)(const dn_gemm_args *g, size_t i0, size_t mc,
                                               size_t k0, size_t kc, float *dst) {
  size_t lda = g->lda;
  if (g->trans_a) { /* row k of A holds column k of op(A) */
    DN_T(pack_rows)(g->A + k0 * lda + i0, lda, kc, mc, DN_MR, dst);
    return;
  }
  for (size_t p = 0; p < mc; p += DN_MR) {
    size_t mr = DN_T(min)(DN_MR, mc - p);
    float *d = dst + p * kc;
#ifdef DN_PACK_A_PAIR /* two full panels of a row-major A at once (vector transposes) */
    if (mc - p >= 2 * DN_MR) {
      DN_PACK_A_PAIR(g->A + (i0 + p) * lda + k0, lda, kc, d, d + DN_MR * kc);
      p += DN_MR;
      continue;
    }
#endif
    for (size_t r = 0; r < mr; r++) {
      const float *s = g->A + (i0 + p + r) * lda + k0;
      for (size_t k = 0; k < kc; k++)
        d[k * DN_MR + r] = s[k];
    }
    for (size_t r = mr; r < DN_MR; r++)
      for (size_t k = 0; k < kc; k++)
        d[k * DN_MR + r] = 0.0f;
  }
}

/* Packs rows k0..k0+kc, columns j0..j0+nc of op(B) into NR-wide panels
 * (panel p holds dst[p*kc*NR + k*NR + c]); missing columns are zero. */
static DN_TARGET DN_NOINLINE void DN_T(pack_b)(const dn_gemm_args *g, size_t k0, size_t kc,
                                               size_t j0, size_t nc, float *dst) {
  size_t ldb = g->ldb;
  if (!g->trans_b) {
    DN_T(pack_rows)(g->B + k0 * ldb + j0, ldb, kc, nc, DN_NR, dst);
    return;
  }
  for (size_t p = 0; p < nc; p += DN_NR) {
    size_t nr = DN_T(min)(DN_NR, nc - p);
    float *d = dst + p * kc;
#ifdef DN_PACK_B_TRANS /* a full panel of a transposed B (vector transposes) */
    if (nr == DN_NR) {
      DN_PACK_B_TRANS(g->B + (j0 + p) * ldb + k0, ldb, kc, d);
      continue;
    }
#endif
    for (size_t c = 0; c < nr; c++) {
      const float *s = g->B + (j0 + p + c) * ldb + k0;
      for (size_t k = 0; k < kc; k++)
        d[k * DN_NR + c] = s[k];
    }
    for (size_t c = nr; c < DN_NR; c++)
      for (size_t k = 0; k < kc; k++)
        d[k * DN_NR + c] = 0.0f;
  }
}

/* Floats of workspace the packed path needs. */
#define DN_WS_FLOATS ((size_t)DN_KC * DN_NC + (size_t)DN_MC * DN_KC)

/* The tiles of rows ic..ic+mc and columns jc..jc+nc of C for the K block
 * pc..pc+kc, from A's rows packed at ap and B's columns packed at bp. Only the
 * last K block applies the bias, activation and non-finite check; the first
 * applies beta, later ones add to C. */
static DN_TARGET void DN_T(tiles)(const dn_gemm_args *g, size_t pc, size_t kc, const float *ap,
                                  const float *bp, size_t ic, size_t mc, size_t jc, size_t nc) {
  const dn_tile_op plain = {1.0f, 0.0f, false, NULL, DN_EPI_LINEAR, NULL};
  dn_tile_op op = DN_T(block_op)(g, pc, kc);
  const float *bias = op.bias;
  size_t ldc = g->ldc;
  /* The MR x KC panel of A stays in L1 while the NR-wide panels of B stream from L2. */
  for (size_t ir = 0; ir < mc; ir += DN_MR) {
    size_t mr = DN_T(min)(DN_MR, mc - ir);
    for (size_t jr = 0; jr < nc; jr += DN_NR) {
      size_t nr = DN_T(min)(DN_NR, nc - jr);
      op.bias = bias != NULL ? bias + jc + jr : NULL;
      const float *b = bp + jr * kc;
      float *c = g->C + (ic + ir) * ldc + jc + jr;
      if (mr == DN_MR && nr == DN_NR) {
        DN_T(ukernel)(kc, ap + ir * kc, b, c, ldc, &op);
      } else {
        float tile[DN_MR * DN_NR];
        DN_T(ukernel)(kc, ap + ir * kc, b, tile, DN_NR, &plain);
        for (size_t r = 0; r < mr; r++)
          for (size_t j = 0; j < nr; j++)
            c[r * ldc + j] = DN_T(finish)(tile[r * DN_NR + j], c + r * ldc + j, &op, j);
      }
    }
  }
}

/* The blocked product for rows i0..i1 and columns j0..j1 of C (i0 a multiple
 * of MR, j0 of NR, so tiles fall on the same grid whatever the split). */
static DN_TARGET void DN_T(packed)(const dn_gemm_args *g, size_t i0, size_t i1, size_t j0,
                                   size_t j1, float *ws) {
  float *bp = ws, *ap = ws + (size_t)DN_KC * DN_NC;
  for (size_t jc = j0; jc < j1; jc += DN_NC) {
    size_t nc = DN_T(min)(DN_NC, j1 - jc);
    for (size_t pc = 0; pc < g->K; pc += DN_KC) {
      size_t kc = DN_T(min)(DN_KC, g->K - pc);
      DN_T(pack_b)(g, pc, kc, jc, nc, bp);
      for (size_t ic = i0; ic < i1; ic += DN_MC) {
        size_t mc = DN_T(min)(DN_MC, i1 - ic);
        DN_T(pack_a)(g, ic, mc, pc, kc, ap);
        DN_T(tiles)(g, pc, kc, ap, bp, ic, mc, jc, nc);
      }
    }
  }
}

#ifdef DENSENET_HAVE_OPENMP
/* The blocked product on a team (every thread of an OpenMP team calls it):
 * each KC x NC block of op(B) is packed once into bp, shared, its NR-wide
 * panels shared out over the threads; then the threads take units of `unit`
 * rows (a multiple of MR) as they come free, so a thread on a slower vCPU
 * takes fewer, pack those rows of op(A) into their own ap and finish them.
 * Every element's sum still runs in the one-thread k order (the K blocks one
 * after the other, a barrier between them), whichever thread does each. */
static DN_TARGET void DN_T(packed_team)(const dn_gemm_args *g, float *bp, float *ap, size_t unit) {
  size_t t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
  size_t units = (g->M + unit - 1) / unit;
  for (size_t jc = 0; jc < g->N; jc += DN_NC) {
    size_t nc = DN_T(min)(DN_NC, g->N - jc), panels = (nc + DN_NR - 1) / DN_NR;
    for (size_t pc = 0; pc < g->K; pc += DN_KC) {
      size_t kc = DN_T(min)(DN_KC, g->K - pc);
      size_t p0 = panels * t / T, p1 = panels * (t + 1) / T;
      if (p0 < p1) {
        size_t j = p0 * DN_NR; /* this thread's first column of the block */
        DN_T(pack_b)(g, pc, kc, jc + j, DN_T(min)(nc, p1 * DN_NR) - j, bp + j * kc);
      }
#pragma omp barrier
      /* (the loop ends in a barrier: bp is refilled only once every thread is done with it) */
#pragma omp for schedule(dynamic, 1)
      for (size_t u = 0; u < units; u++) {
        size_t i0 = u * unit, i1 = DN_T(min)(g->M, i0 + unit);
        for (size_t ic = i0; ic < i1; ic += DN_MC) {
          size_t mc = DN_T(min)(DN_MC, i1 - ic);
          DN_T(pack_a)(g, ic, mc, pc, kc, ap);
          DN_T(tiles)(g, pc, kc, ap, bp, ic, mc, jc, nc);
        }
      }
    }
  }
}
#endif

/* The elementwise half of the fused dense backward: dY *= (Y > 0) when relu,
 * and db = column sums of the result (db NULL: none), in one pass, row order,
 * over O columns of rows ld floats apart. */
DN_TARGET void DN_CAT(dn_relu_colsum, DN_SUFFIX)(float *restrict dY, const float *restrict Y,
                                                 float *restrict db, size_t N, size_t O, size_t ld,
                                                 bool relu) {
  if (db != NULL)
    for (size_t o = 0; o < O; o++)
      db[o] = 0.0f;
  for (size_t n = 0; n < N; n++) {
    float *restrict dy = dY + n * ld;
    const float *restrict y = Y + n * ld;
    if (relu) /* a quiet compare, not a ?: (which gcc does not vectorize with trapping math) */
      for (size_t o = 0; o < O; o++)
        dy[o] *= (float)isgreater(y[o], 0.0f);
    if (db != NULL)
      for (size_t o = 0; o < O; o++)
        db[o] += dy[o];
  }
}

/* ---- Small dense layers: I and O both at most DN_SW -------------------------
 * A layer this narrow (a 2-4-3-1 net's) is a handful of multiply-adds per row:
 * each row of the batch goes through the product, bias and activation
 * (backward: the mask and all three gradients) in one pass. With the
 * backend's vector operations (DN_V...: one vector holds a row, masks select
 * the live lanes) a row stays in a register, also from layer to layer in a
 * chain; without them, in a DN_SW-long local array. Sums run in a fixed order
 * (k, then rows n), whatever N and whichever of the three entry points. */
#ifdef DN_V
/* R rows (R a constant once inlined) from row r on through a chain of small
 * layers, in registers: lane k of one layer's output is broadcast into the
 * next; the rows' independent sums interleave (one row alone waits on its
 * multiply-add chain). Same operations, same order as layer after layer. */
static DN_TARGET inline __attribute__((always_inline)) void
DN_T(chain_rows)(const dn_dense_step *restrict steps, size_t n, const float *X, size_t r, int R) {
  DN_V h[4], z[4];
  for (size_t l = 0; l < n; l++) {
    const dn_dense_step s = steps[l];
    DN_VM mo = DN_VMASK(s.O);
    for (int q = 0; q < R; q++)
      z[q] = DN_VZERO();
    const float *w = s.W;
    for (size_t k = 0; k < s.I; k++, w += s.O) {
      DN_V wk = DN_VLOAD(mo, w);
      for (int q = 0; q < R; q++)
        z[q] =
            DN_VFMA(l == 0 ? DN_VSET1(X[(r + (size_t)q) * s.I + k]) : DN_VLANE(h[q], k), wk, z[q]);
    }
    DN_V bias = s.b != NULL ? DN_VLOAD(mo, s.b) : DN_VZERO();
    for (int q = 0; q < R; q++) {
      z[q] = DN_VADD(z[q], bias);
      if (s.relu)
        z[q] = DN_VRELU(z[q]);
      DN_VSTORE(s.Y + (r + (size_t)q) * s.O, mo, z[q]);
      h[q] = z[q];
    }
  }
}

/* A chain of small layers (dn_dense_chain_forward), four rows at a time. */
DN_TARGET void DN_CAT(dn_dense_chain_forward, DN_SUFFIX)(const dn_dense_step *restrict steps,
                                                         size_t n, const float *X, size_t N) {
  size_t r = 0;
  for (; r + 4 <= N; r += 4)
    DN_T(chain_rows)(steps, n, X, r, 4);
  for (; r < N; r++)
    DN_T(chain_rows)(steps, n, X, r, 1);
}

/* R rows (a constant once inlined) from row n on of the small backward: the
 * mask, then dX per row (independent rows interleave), then the rows' terms
 * added to db and to dW row by row in order (one load and store of each
 * accumulator per R rows). dZ stays in registers: a masked store into dY
 * followed by the masked load of the next row, whose 64 bytes overlap it,
 * would wait for the store to complete. */
static DN_TARGET inline __attribute__((always_inline)) void
DN_T(small_backward_rows)(float *restrict dX, DN_V *restrict gw, DN_V *restrict gb,
                          const float *restrict dY, const float *restrict X,
                          const float *restrict Y, const DN_V *restrict wt, size_t n, size_t I,
                          size_t O, bool relu, int R) {
  DN_VM mo = DN_VMASK(O), mi = DN_VMASK(I);
  DN_V dz[4];
  for (int q = 0; q < R; q++) {
    dz[q] = DN_VLOAD(mo, dY + (n + (size_t)q) * O);
    if (relu) /* dZ = dY * (Y > 0), as dn_relu_colsum */
      dz[q] = DN_VMUL(dz[q], DN_VPOS01(DN_VLOAD(mo, Y + (n + (size_t)q) * O)));
  }
  if (dX != NULL) {
    DN_V dx[4];
    for (int q = 0; q < R; q++)
      dx[q] = DN_VZERO();
    for (size_t o = 0; o < O; o++)
      for (int q = 0; q < R; q++)
        dx[q] = DN_VFMA(DN_VLANE(dz[q], o), wt[o], dx[q]);
    for (int q = 0; q < R; q++)
      DN_VSTORE(dX + (n + (size_t)q) * I, mi, dx[q]);
  }
  DN_V b = *gb;
  for (int q = 0; q < R; q++)
    b = DN_VADD(b, dz[q]);
  *gb = b;
  for (size_t k = 0; k < I; k++) {
    DN_V g = gw[k];
    for (int q = 0; q < R; q++)
      g = DN_VFMA(DN_VSET1(X[(n + (size_t)q) * I + k]), dz[q], g);
    gw[k] = g;
  }
}

/* Y = act(X . W + b) for I, O <= DN_SW (same contract as dn_dense_forward_fused):
 * a chain of one layer. */
DN_TARGET void DN_CAT(dn_dense_small_forward, DN_SUFFIX)(float *restrict Y, const float *restrict X,
                                                         const float *restrict W,
                                                         const float *restrict b, size_t N,
                                                         size_t I, size_t O, bool relu) {
  const dn_dense_step step = {W, b, I, O, relu, Y};
  DN_CAT(dn_dense_chain_forward, DN_SUFFIX)(&step, 1, X, N);
}

/* The fused dense backward for I, O <= DN_SW (same contract as
 * dn_dense_backward_fused): per row, dZ = dY * (Y > 0), then db += dZ,
 * dW += x^T dZ and dX = dZ . W^T; four rows at a time. */
DN_TARGET void DN_CAT(dn_dense_small_backward,
                      DN_SUFFIX)(float *restrict dX, float *restrict dW, float *restrict db,
                                 float *restrict dY, const float *restrict X,
                                 const float *restrict W, const float *restrict Y, size_t N,
                                 size_t I, size_t O, bool relu) {
  DN_VM mo = DN_VMASK(O), mi = DN_VMASK(I);
  DN_V gw[DN_SW], gb = DN_VZERO(), wt[DN_SW];
  for (size_t k = 0; k < I; k++)
    gw[k] = DN_VZERO();
  if (dX != NULL) { /* wt[o] lane k = W[k][o] */
    float t[DN_SW];
    for (size_t o = 0; o < O; o++) {
      for (size_t k = 0; k < DN_SW; k++)
        t[k] = k < I ? W[k * O + o] : 0.0f;
      wt[o] = DN_VLOAD(mi, t);
    }
  }
  size_t n = 0;
  for (; n + 4 <= N; n += 4)
    DN_T(small_backward_rows)(dX, gw, &gb, dY, X, Y, wt, n, I, O, relu, 4);
  for (; n < N; n++)
    DN_T(small_backward_rows)(dX, gw, &gb, dY, X, Y, wt, n, I, O, relu, 1);
  for (size_t k = 0; k < I; k++)
    DN_VSTORE(dW + k * O, mo, gw[k]);
  if (db != NULL)
    DN_VSTORE(db, mo, gb);
}
#else  /* no vector operations: plain loops */
/* Y = act(X . W + b) for I, O <= DN_SW (same contract as dn_dense_forward_fused). */
DN_TARGET void DN_CAT(dn_dense_small_forward, DN_SUFFIX)(float *restrict Y, const float *restrict X,
                                                         const float *restrict W,
                                                         const float *restrict b, size_t N,
                                                         size_t I, size_t O, bool relu) {
  for (size_t n = 0; n < N; n++) {
    const float *x = X + n * I;
    float z[DN_SW] = {0};
    for (size_t k = 0; k < I; k++) {
      const float a = x[k], *w = W + k * O;
      for (size_t o = 0; o < O; o++)
        z[o] = DN_MADD(a, w[o], z[o]);
    }
    float *y = Y + n * O;
    for (size_t o = 0; o < O; o++) { /* the tile epilogue: + bias, then relu */
      float t = z[o] + (b != NULL ? b[o] : 0.0f);
      y[o] = relu && t <= 0.0f ? 0.0f : t;
    }
  }
}

/* The fused dense backward for I, O <= DN_SW (same contract as
 * dn_dense_backward_fused): per row, dZ = dY * (Y > 0) written back, then
 * db += dZ, dW += x^T dZ and dX = dZ . W^T. */
DN_TARGET void DN_CAT(dn_dense_small_backward,
                      DN_SUFFIX)(float *restrict dX, float *restrict dW, float *restrict db,
                                 float *restrict dY, const float *restrict X,
                                 const float *restrict W, const float *restrict Y, size_t N,
                                 size_t I, size_t O, bool relu) {
  float gw[DN_SW][DN_SW] = {{0}}, gb[DN_SW] = {0};
  for (size_t n = 0; n < N; n++) {
    float *dz = dY + n * O;
    if (relu) {
      const float *y = Y + n * O;
      for (size_t o = 0; o < O; o++)
        dz[o] *= y[o] > 0.0f ? 1.0f : 0.0f;
    }
    for (size_t o = 0; o < O; o++)
      gb[o] += dz[o];
    const float *x = X + n * I;
    for (size_t k = 0; k < I; k++) {
      const float a = x[k];
      for (size_t o = 0; o < O; o++)
        gw[k][o] += a * dz[o];
    }
    if (dX != NULL)
      for (size_t k = 0; k < I; k++) {
        const float *w = W + k * O;
        float s = 0.0f;
        for (size_t o = 0; o < O; o++)
          s += dz[o] * w[o];
        dX[n * I + k] = s;
      }
  }
  for (size_t k = 0; k < I; k++)
    for (size_t o = 0; o < O; o++)
      dW[k * O + o] = gw[k][o];
  for (size_t o = 0; db != NULL && o < O; o++)
    db[o] = gb[o];
}
#endif /* DN_V */

/* Which path a shape takes (from the shape only). */
enum { DN_T(path_scale), DN_T(path_tiny), DN_T(path_gemv), DN_T(path_direct), DN_T(path_packed) };

static int DN_T(path_of)(const dn_gemm_args *g) {
  if (g->K == 0 || g->alpha == 0.0f)
    return DN_T(path_scale);
  if (g->N == 1) /* before tiny: every M sums in gemv's order */
    return DN_T(path_gemv);
  if ((double)g->M * g->N * g->K <= 4096.0)
    return DN_T(path_tiny);
  /* Packing pays once the tiles are reused: a few MR rows, and N from 8 up (even a
   * partly filled NR-wide tile beats the unpacked loops). */
  if (g->M < 2 * DN_MR || g->N < 8 || g->K == 1 || (double)g->M * g->N * g->K < 32768.0)
    return DN_T(path_direct);
  return DN_T(path_packed);
}

/* Runs the chosen path on rows i0..i1 / columns j0..j1 of C (the unpacked
 * paths split by rows only: j0..j1 is then the whole width). */
static DN_TARGET void DN_T(run_part)(const dn_gemm_args *g, int path, size_t i0, size_t i1,
                                     size_t j0, size_t j1) {
  if (i0 >= i1 || j0 >= j1)
    return;
  switch (path) {
  case DN_T(path_scale): DN_T(scale_only)(g, i0, i1); break;
  case DN_T(path_tiny): DN_T(tiny)(g, i0, i1); break;
  case DN_T(path_gemv): DN_T(gemv)(g, i0, i1); break;
  case DN_T(path_direct): DN_T(direct)(g, i0, i1, j0, j1); break;
  default: {
    float *ws = dn_gemm_workspace(DN_WS_FLOATS);
    if (ws != NULL)
      DN_T(packed)(g, i0, i1, j0, j1, ws);
    else /* no memory for packing: the loops that need none */
      DN_T(direct)(g, i0, i1, j0, j1);
  }
  }
}

/* Products below this many multiply-adds never use threads (forking costs
 * more than it saves: the N = 1 layers of a dense net stay serial). */
#define DN_THREAD_MIN_MACS 524288.0

void DN_CAT(dn_gemm, DN_SUFFIX)(const dn_gemm_args *g) {
  if (g->M == 0 || g->N == 0)
    return;
  int path = DN_T(path_of)(g);
  int threads = g->threads;
  if ((double)g->M * g->N * g->K < DN_THREAD_MIN_MACS || path == DN_T(path_scale))
    threads = 1;
  /* Output ownership. The blocked path runs as a team (DN_T(packed_team)) when
   * C has rows for at least two units per thread: row units handed out as
   * threads come free. Otherwise, and for the unpacked paths, a static split:
   * whole NR-wide column slabs when there are enough of them (a batch of a few
   * rows into a wide layer; the first layer's weight gradient, M = 8), else
   * MR-high row slabs. Team units: about eight per thread (a thread on a slower
   * vCPU then leaves little undone at the end), a multiple of MR, 2 MR to MC. */
  size_t tn = threads > 1 ? (size_t)threads : 1;
  size_t unit = (g->M / (8 * tn) + DN_MR - 1) / DN_MR * DN_MR;
  unit = unit < 2 * DN_MR ? 2 * DN_MR : unit > DN_MC ? DN_MC : unit;
  size_t cols_units = (g->N + DN_NR - 1) / DN_NR, rows_units = (g->M + DN_MR - 1) / DN_MR;
  bool team = path == DN_T(path_packed) && (g->M + unit - 1) / unit >= 2 * tn;
  bool by_cols =
      !team && (path == DN_T(path_packed) || path == DN_T(path_direct)) && cols_units >= 2 * tn;
  size_t units = by_cols ? cols_units : rows_units; /* the team: rows too */
  if (units < 2)
    threads = 1;
  if (threads <= 1) {
    DN_T(run_part)(g, path, 0, g->M, 0, g->N);
    return;
  }
#ifdef DENSENET_HAVE_OPENMP
  /* The team packs B into the calling thread's workspace (it becomes thread 0). */
  float *shared_b = team ? dn_gemm_workspace(DN_WS_FLOATS) : NULL;
  if (team && shared_b == NULL) /* no memory for packing: the loops that need none */
    path = DN_T(path_direct), team = false;
  bool no_ws = false, any_beyond = false;
  dn_fp_state caller = dn_fp_current();
#pragma omp parallel num_threads(threads) reduction(|| : any_beyond)
  {
    dn_fp_state own = dn_fp_adopt(caller); /* the caller's FTZ/DAZ on every worker */
    size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
    size_t u0 = units * t / n, u1 = units * (t + 1) / n;
    bool bad = false; /* this thread's non-finite check */
    dn_gemm_args mine = *g;
    mine.beyond = g->beyond != NULL ? &bad : NULL;
    if (team) {
      /* Thread 0 gets shared_b again (B, then its A); a worker packs only A. */
      float *ws = dn_gemm_workspace(t == 0 ? DN_WS_FLOATS : (size_t)DN_MC * DN_KC);
      if (ws == NULL) {
#pragma omp atomic write
        no_ws = true;
      }
#pragma omp barrier
      bool fallback;
#pragma omp atomic read
      fallback = no_ws;
      if (!fallback)
        DN_T(packed_team)(&mine, shared_b, t == 0 ? ws + (size_t)DN_KC * DN_NC : ws, unit);
      else if (t == 0) /* a worker had no memory: thread 0 alone, as on one thread */
        DN_T(packed)(&mine, 0, g->M, 0, g->N, shared_b);
    } else if (by_cols) {
      DN_T(run_part)(&mine, path, 0, g->M, u0 * DN_NR, DN_T(min)(g->N, u1 * DN_NR));
    } else {
      DN_T(run_part)(&mine, path, u0 * DN_MR, DN_T(min)(g->M, u1 * DN_MR), 0, g->N);
    }
    any_beyond = bad;
    dn_fp_leave(own);
  }
  if (any_beyond) /* (only set when g->beyond is) */
    *g->beyond = true;
#else
  DN_T(run_part)(g, path, 0, g->M, 0, g->N);
#endif
}
