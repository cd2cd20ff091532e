/* test_kernels.c -- every GEMM backend (reference, portable, AVX2, AVX-512, CBLAS when built)
 * against an exact double-precision product on odd shapes, all four transpose forms, alpha/beta
 * variants and padded leading dimensions; the fused dense forward/backward; the dispatcher.
 *
 * Tolerance: a float sum of K products, in any order, is within K*u*sum|a*b| of the exact sum
 * (u = 2^-24, the standard bound gamma_K ~ K*u); scaling by alpha and adding beta*C cost two
 * more roundings of at most u each. So every element must satisfy
 *   |C - exact| <= (K + 3) * u * (|alpha| * sum_k |a_ik b_kj| + |beta * c_ij|) + tiny,
 * a bound that holds for every summation order and catches any wrong or missing term. */
#include "dn_test.h"

#include <stdlib.h>

#include "core/cpu.h"
#include "core/fpenv.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

#define U_ROUND (1.0 / 16777216.0)

static const char *const all_backends[] = {"reference", "portable", "avx2", "avx512", "cblas"};

static uint64_t rng_state = 0x1234567;
static float urand(void) { /* in [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(rng_state >> 40) / 8388608.0 - 1.0);
}

typedef struct {
  size_t M, N, K;
} shape;

/* Mixed odd shapes: each path (N == 1, small direct loops, packed with edge tiles, several
 * K blocks, several M and N cache blocks) in every form. */
static const shape shapes[] = {
    {1, 1, 1},     {3, 7, 17},    {17, 3, 7},    {7, 17, 3},   {1, 65, 17},   {65, 1, 17},
    {17, 1, 65},   {513, 1, 7},   {1, 513, 3},   {65, 65, 65}, {17, 513, 65}, {513, 17, 65},
    {33, 40, 513}, {129, 33, 7},  {136, 40, 70}, {3, 1030, 5}, {7, 3, 513},   {16, 32, 8},
    {256, 1, 512}, {64, 1030, 9}, {40, 70, 1},   {100, 9, 4},  {200, 10, 128}};

/* A stored matrix of rows x cols with leading dimension ld >= cols; the padding holds NaN so
 * that reading it poisons the result. */
static float *make_matrix(size_t rows, size_t cols, size_t ld) {
  float *m = malloc((rows * ld + 1) * sizeof *m);
  assert_non_null(m);
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < ld; j++)
      m[i * ld + j] = j < cols ? urand() : NAN;
  return m;
}

/* Checks C (M x N, ldc) against alpha*op(A)op(B) + beta*C0 computed exactly in double. */
static void check_product(const char *backend, bool ta, bool tb, shape s, float alpha, float beta,
                          const float *A, size_t lda, const float *B, size_t ldb, const float *C0,
                          const float *C, size_t ldc) {
  for (size_t i = 0; i < s.M; i++) {
    for (size_t j = 0; j < s.N; j++) {
      double sum = 0.0, mag = 0.0;
      for (size_t k = 0; k < s.K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        sum += a * b;
        mag += fabs(a * b);
      }
      double c0 = beta == 0.0f ? 0.0 : C0[i * ldc + j];
      double exact = alpha * sum + beta * c0;
      double tol = (double)(s.K + 3) * U_ROUND * (fabs(alpha) * mag + fabs(beta * c0)) + 1e-30;
      double got = C[i * ldc + j];
      if (!(fabs(got - exact) <= tol)) {
        print_error("%s %c%c M=%zu N=%zu K=%zu alpha=%g beta=%g: C[%zu][%zu] = %.9g, exact "
                    "%.9g (tol %.3g)\n",
                    backend, ta ? 'T' : 'N', tb ? 'T' : 'N', s.M, s.N, s.K, alpha, beta, i, j, got,
                    exact, tol);
        fail();
      }
    }
    for (size_t j = s.N; j < ldc; j++) /* the padding of C is never written */
      assert_int_equal(memcmp(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float)), 0);
  }
}

static void run_case(const char *backend, bool ta, bool tb, shape s, float alpha, float beta,
                     size_t pad) {
  size_t arows = ta ? s.K : s.M, acols = ta ? s.M : s.K;
  size_t brows = tb ? s.N : s.K, bcols = tb ? s.K : s.N;
  size_t lda = acols + pad, ldb = bcols + 2 * pad, ldc = s.N + pad;
  float *A = make_matrix(arows, acols, lda), *B = make_matrix(brows, bcols, ldb);
  float *C0 = make_matrix(s.M, s.N, ldc), *C = malloc(s.M * ldc * sizeof *C);
  assert_non_null(C);
  memcpy(C, C0, s.M * ldc * sizeof *C);
  if (beta == 0.0f) /* beta == 0 must not read C: poison it */
    for (size_t i = 0; i < s.M; i++)
      for (size_t j = 0; j < s.N; j++)
        C[i * ldc + j] = NAN;
  dn_gemm(ta, tb, s.M, s.N, s.K, alpha, A, lda, B, ldb, beta, C, ldc);
  check_product(backend, ta, tb, s, alpha, beta, A, lda, B, ldb, C0, C, ldc);
  free(A);
  free(B);
  free(C0);
  free(C);
}

/* Runs fn once per backend this CPU and build support, with that backend forced. */
static int for_each_backend(void (*fn)(const char *backend)) {
  int ran = 0;
  for (size_t b = 0; b < sizeof all_backends / sizeof *all_backends; b++) {
    if (!dn_kernels_set_backend(all_backends[b]))
      continue;
    assert_string_equal(dn_kernels_backend(), all_backends[b]);
    fn(all_backends[b]);
    ran++;
  }
  assert_true(dn_kernels_set_backend(NULL));
  return ran;
}

static void all_forms(const char *backend) {
  for (size_t q = 0; q < sizeof shapes / sizeof *shapes; q++)
    for (int f = 0; f < 4; f++)
      run_case(backend, f & 1, f & 2, shapes[q], 1.0f, 0.0f, 0);
}

static void test_forms_odd_shapes(void **state) {
  (void)state;
  /* reference and portable always run */
  assert_true(for_each_backend(all_forms) >= 2);
}

static void scaled(const char *backend) {
  static const float ab[][2] = {{0.5f, 0.0f}, {1.0f, 1.0f}, {-1.5f, 0.25f},
                                {0.0f, 2.0f}, {0.0f, 0.0f}, {2.0f, -1.0f}};
  static const shape some[] = {{17, 65, 7}, {40, 33, 260}, {3, 1, 17}, {129, 33, 30}};
  for (size_t a = 0; a < sizeof ab / sizeof *ab; a++)
    for (size_t q = 0; q < sizeof some / sizeof *some; q++)
      for (int f = 0; f < 3; f++) /* NN, TN, NT: the dense net's forms */
        run_case(backend, f == 1, f == 2, some[q], ab[a][0], ab[a][1], 0);
}

static void test_alpha_beta(void **state) {
  (void)state;
  for_each_backend(scaled);
}

static void padded(const char *backend) {
  static const shape some[] = {{7, 17, 3},     {65, 65, 65}, {17, 513, 65},
                               {129, 33, 300}, {65, 1, 17},  {64, 1030, 9}};
  for (size_t q = 0; q < sizeof some / sizeof *some; q++)
    for (int f = 0; f < 4; f++) {
      run_case(backend, f & 1, f & 2, some[q], 1.0f, 0.0f, 5);
      run_case(backend, f & 1, f & 2, some[q], 0.75f, -0.5f, 3);
    }
}

static void test_leading_dimensions(void **state) {
  (void)state;
  for_each_backend(padded);
}

/* ---- fused dense passes against a double-precision dense layer ----------- */

static void fused(const char *backend) {
  /* M = N rows, N = O, K = I. The small-layer paths take I, O <= 8 (portable, avx2) or 16
   * (avx512): the first rows sit on and just past those edges. */
  static const shape some[] = {{1, 4, 2},    {32, 3, 4},   {24, 2, 3},    {7, 1, 5},   {5, 8, 8},
                               {33, 9, 8},   {7, 8, 9},    {40, 16, 16},  {3, 17, 16}, {9, 16, 17},
                               {48, 200, 8}, {65, 1, 513}, {17, 65, 300}, {129, 33, 7}};
  for (size_t q = 0; q < sizeof some / sizeof *some; q++)
    for (int relu = 0; relu < 2; relu++)
      for (int with_bias = 0; with_bias < 2; with_bias++) {
        bool want_dx = relu == with_bias; /* dX NULL (a first layer) on half the cases */
        size_t N = some[q].M, O = some[q].N, I = some[q].K;
        float *X = make_matrix(N, I, I), *W = make_matrix(I, O, O), *b = make_matrix(1, O, O);
        float *Y = make_matrix(N, O, O), *dY = make_matrix(N, O, O);
        float *dY0 = malloc(N * O * sizeof *dY0), *dW = malloc(I * O * sizeof *dW);
        float *db = malloc(O * sizeof *db), *dX = malloc(N * I * sizeof *dX);
        assert_true(dY0 && dW && db && dX);
        memcpy(dY0, dY, N * O * sizeof *dY);
        const float *bias = with_bias ? b : NULL;
        dn_dense_forward_fused(Y, X, W, bias, N, I, O, relu);
        size_t active = 0;
        for (size_t n = 0; n < N; n++)
          for (size_t o = 0; o < O; o++) {
            double z = 0.0, mag = 0.0;
            for (size_t i = 0; i < I; i++) {
              z += (double)X[n * I + i] * W[i * O + o];
              mag += fabs((double)X[n * I + i] * W[i * O + o]);
            }
            if (bias) {
              z += b[o];
              mag += fabs(b[o]);
            }
            double y = relu && z <= 0.0 ? 0.0 : z;
            double tol = (double)(I + 3) * U_ROUND * mag + 1e-30;
            if (!(fabs(Y[n * O + o] - y) <= tol)) {
              print_error("%s fused forward N=%zu I=%zu O=%zu relu=%d bias=%d: Y[%zu][%zu] = "
                          "%.9g, expected %.9g\n",
                          backend, N, I, O, relu, with_bias, n, o, Y[n * O + o], y);
              fail();
            }
            active += Y[n * O + o] > 0.0f;
          }
        if (relu && N * O > 8 && !(active > 0 && active < N * O)) { /* the mask masks something */
          print_error("%s N=%zu I=%zu O=%zu bias=%d: %zu of %zu active\n", backend, N, I, O,
                      with_bias, active, N * O);
          fail();
        }
        bool nonfinite = false;
        dn_dense_backward_fused(want_dx ? dX : NULL, dW, bias ? db : NULL, dY, X, W, Y, N, I, O,
                                relu, &nonfinite);
        assert_false(nonfinite);
        /* dZ = dY * relu'(z), exact in float (dY itself is scratch now); then the products. */
        float *dZ = dY0;
        for (size_t k = 0; k < N * O; k++)
          dZ[k] = relu ? (Y[k] > 0.0f ? dY0[k] : 0.0f) : dY0[k];
        for (size_t o = 0; bias && o < O; o++) {
          double s = 0.0, mag = 0.0;
          for (size_t n = 0; n < N; n++) {
            s += dZ[n * O + o];
            mag += fabs(dZ[n * O + o]);
          }
          assert_close(db[o], s, (double)(N + 1) * U_ROUND * mag + 1e-30, 0.0);
        }
        for (size_t i = 0; i < I; i++)
          for (size_t o = 0; o < O; o++) {
            double s = 0.0, mag = 0.0;
            for (size_t n = 0; n < N; n++) {
              s += (double)X[n * I + i] * dZ[n * O + o];
              mag += fabs((double)X[n * I + i] * dZ[n * O + o]);
            }
            assert_close(dW[i * O + o], s, (double)(N + 3) * U_ROUND * mag + 1e-30, 0.0);
          }
        for (size_t n = 0; want_dx && n < N; n++)
          for (size_t i = 0; i < I; i++) {
            double s = 0.0, mag = 0.0;
            for (size_t o = 0; o < O; o++) {
              s += (double)dZ[n * O + o] * W[i * O + o];
              mag += fabs((double)dZ[n * O + o] * W[i * O + o]);
            }
            assert_close(dX[n * I + i], s, (double)(O + 3) * U_ROUND * mag + 1e-30, 0.0);
          }
        free(X);
        free(W);
        free(b);
        free(Y);
        free(dY);
        free(dY0);
        free(dW);
        free(db);
        free(dX);
      }
}

static void test_fused_dense(void **state) {
  (void)state;
  for_each_backend(fused);
}

/* The backward's flag for gradients beyond DN_GRAD_LIMIT (2^60), Inf or NaN: an Inf in X makes
 * Inf or NaN in a row of dW (an Inf in dY, in db too), 2^64 in X makes a row of dW beyond the
 * limit while 2^48 keeps every element within it (N * 2^48 <= 2^56), and the flag says so, on the
 * small path, the unpacked paths and the packed path (split over threads in OpenMP builds). */
static void nonfinite_flag(const char *backend) {
  static const shape some[] = {{5, 2, 3}, {40, 33, 7}, {40, 33, 70}, {256, 128, 128}};
  for (size_t q = 0; q < sizeof some / sizeof *some; q++)
    for (int where = 0; where < 5; where++) { /* nowhere, Inf in X, in dY, 2^64 in X, 2^48 */
      size_t N = some[q].M, O = some[q].N, I = some[q].K;
      float *X = make_matrix(N, I, I), *W = make_matrix(I, O, O), *dY = make_matrix(N, O, O);
      float *Y = make_matrix(N, O, O), *dW = malloc(I * O * sizeof *dW), *db = malloc(O * 4);
      assert_true(dW && db);
      if (where == 1)
        X[(N / 2) * I + I / 2] = INFINITY;
      if (where == 2)
        dY[(N / 3) * O + O / 3] = -INFINITY;
      if (where == 3 || where == 4)
        X[(N / 2) * I + I / 2] = where == 3 ? 0x1p64f : 0x1p48f;
      bool nonfinite = false;
      dn_dense_backward_fused(NULL, dW, db, dY, X, W, Y, N, I, O, false, &nonfinite);
      bool any = false;
      for (size_t i = 0; i < I * O; i++)
        any |= !(fabsf(dW[i]) <= DN_GRAD_LIMIT);
      for (size_t o = 0; o < O; o++)
        any |= !(fabsf(db[o]) <= DN_GRAD_LIMIT);
      assert_int_equal(any, where != 0 && where != 4); /* the data really is (or is not) beyond */
      if (nonfinite != any) {
        print_error("%s N=%zu I=%zu O=%zu inf in %d: flag %d\n", backend, N, I, O, where,
                    nonfinite);
        fail();
      }
      free(X);
      free(W);
      free(dY);
      free(Y);
      free(dW);
      free(db);
    }
}

static void test_nonfinite_flag(void **state) {
  (void)state;
  for_each_backend(nonfinite_flag);
}

/* A chain of small layers equals the layers run one by one (the same sums in the same order:
 * bit for bit), over row counts on and off the chain kernels' four-row blocks; a chain wider
 * than the backend's small kernels is refused. */
static void chain(const char *backend) {
  static const size_t nets[][5] = {{3, 8, 5, 2}, {16, 16, 16, 16}, {1, 4, 3, 1}, {2, 9, 5, 1}};
  static const size_t rows[] = {1, 6, 7, 37};
  for (size_t q = 0; q < sizeof nets / sizeof *nets; q++)
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
      size_t N = rows[r], L = 3, width = 0;
      dn_dense_step steps[3];
      float *X = make_matrix(N, nets[q][0], nets[q][0]), *params[3], *one[3], *chained[3];
      for (size_t l = 0; l < L; l++) {
        size_t I = nets[q][l], O = nets[q][l + 1];
        width = I > width ? I : width;
        width = O > width ? O : width;
        params[l] = make_matrix(I + 1, O, O); /* kernel rows, then the bias row */
        one[l] = malloc(N * O * sizeof(float));
        chained[l] = malloc(N * O * sizeof(float));
        assert_true(one[l] && chained[l]);
        steps[l] =
            (dn_dense_step){params[l], l == 1 ? NULL : params[l] + I * O, I, O, l < 2, chained[l]};
        dn_dense_forward_fused(one[l], l == 0 ? X : one[l - 1], params[l], steps[l].b, N, I, O,
                               steps[l].relu);
      }
      bool done = dn_dense_chain_forward(steps, L, width, X, N);
      size_t most = strcmp(backend, "reference") == 0 ? 0 : strcmp(backend, "avx512") == 0 ? 16 : 8;
      bool expect = width <= most;
      assert_int_equal(done, expect);
      for (size_t l = 0; done && l < L; l++)
        if (memcmp(one[l], chained[l], N * nets[q][l + 1] * sizeof(float)) != 0) {
          print_error("%s net %zu rows %zu: layer %zu differs from the layer-by-layer pass\n",
                      backend, q, N, l);
          fail();
        }
      free(X);
      for (size_t l = 0; l < L; l++) {
        free(params[l]);
        free(one[l]);
        free(chained[l]);
      }
    }
}

static void test_chain_equals_layers(void **state) {
  (void)state;
  for_each_backend(chain);
}

/* relu of NaN stays NaN (as the activation table's relu); -0 and 0 give 0. */
static void relu_special(const char *backend) {
  (void)backend;
  enum { N = 20, I = 1, O = 40 }; /* O >= 32 and N >= 16: the packed path too */
  static float X[N * I], W[I * O], Y[N * O];
  for (size_t n = 0; n < N; n++)
    X[n] = (float)n - 10.0f;
  for (size_t o = 0; o < O; o++)
    W[o] = o == 3 ? NAN : (o == 5 ? 0.0f : 1.0f);
  dn_dense_forward_fused(Y, X, W, NULL, N, I, O, true);
  for (size_t n = 0; n < N; n++) {
    assert_true(isnan(Y[n * O + 3]));
    assert_true(Y[n * O + 5] == 0.0f);
    assert_true(Y[n * O + 0] == (X[n] > 0.0f ? X[n] : 0.0f));
  }
}

static void test_relu_nan_and_zero(void **state) {
  (void)state;
  for_each_backend(relu_special);
}

/* ---- the dispatcher ------------------------------------------------------ */

static void test_dispatcher(void **state) {
  (void)state;
  assert_true(dn_kernels_set_backend(NULL));
  const char *chosen = dn_kernels_backend();
  dn_cpu_level hw = dn_cpu_level_hardware(), usable = dn_cpu_level_get();
  assert_true(usable <= hw);
  if (strcmp(chosen, "cblas") != 0) /* the automatic choice is the best usable level */
    assert_string_equal(chosen, dn_cpu_level_name(usable));
  if (getenv("DN_CPU") == NULL)
    assert_int_equal(usable, hw);
  /* levels above the usable one are refused, and refusing changes nothing */
  if (usable < DN_CPU_AVX512) {
    assert_false(dn_kernels_set_backend("avx512"));
    assert_string_equal(dn_kernels_backend(), chosen);
  }
  assert_false(dn_kernels_set_backend("sse9"));
  assert_false(dn_kernels_set_backend(""));
  assert_string_equal(dn_kernels_backend(), chosen);
  /* what the hardware claims, the process can execute: a tiny product on that backend */
  assert_true(dn_kernels_set_backend(dn_cpu_level_name(usable)));
  float a[64 * 64], b[64 * 64], c[64 * 64];
  for (size_t i = 0; i < 64 * 64; i++) {
    a[i] = 1.0f;
    b[i] = 0.5f;
  }
  dn_gemm(false, false, 64, 64, 64, 1.0f, a, 64, b, 64, 0.0f, c, 64);
  for (size_t i = 0; i < 64 * 64; i++)
    assert_true(c[i] == 32.0f);
  assert_true(dn_kernels_set_backend(NULL));
}

/* ---- small vector kernels ------------------------------------------------- */

static void test_vector_kernels(void **state) {
  (void)state;
  float y[3] = {1, 2, 3}, x[3] = {4, 5, 6}, out[2];
  dn_vec_axpy(y, 2.0f, x, 3);
  assert_true(y[0] == 9.0f && y[1] == 12.0f && y[2] == 15.0f);
  dn_vec_scale(y, 0.5f, 3);
  assert_true(y[0] == 4.5f && y[2] == 7.5f);
  dn_vec_mul(y, y, x, 3);
  assert_true(y[0] == 18.0f && y[1] == 30.0f && y[2] == 45.0f);
  assert_close(dn_vec_sumsq(x, 3), 77.0, 0.0, 0.0);
  float m[6] = {1, 2, 3, 4, 5, 6}, b[2] = {10, 20};
  dn_col_sum(out, m, 3, 2);
  assert_true(out[0] == 9.0f && out[1] == 12.0f);
  dn_bias_add(m, b, 3, 2);
  assert_true(m[0] == 11.0f && m[5] == 26.0f);
}

/* ---- threads: output ownership gives the same bits on 1 and 2 threads ----- */

typedef struct {
  const char *name;
  dn_gemm_backend_fn fn;
  dn_cpu_level needs;
} native;

static const native natives[] = {
    {"portable", dn_gemm_portable, DN_CPU_PORTABLE},
#ifdef DN_HAVE_X86_KERNELS
    {"avx2", dn_gemm_avx2, DN_CPU_AVX2},
    {"avx512", dn_gemm_avx512, DN_CPU_AVX512},
#endif
};

static void test_threads_bit_identical(void **state) {
  (void)state;
  /* above the threading threshold: the blocked path's team (several NC-wide column blocks and
   * KC-deep K blocks, rows off the unit grid), the blocked path in column slabs (too few rows
   * for a team: 16 x 2048 x 512), the direct path in column slabs (M = 8 on the vector
   * backends) and in rows (N = 7), the matrix-vector path; each with beta 0 and 0.5 */
  static const shape some[] = {{140, 100, 160}, {1030, 65, 32}, {300, 1, 7000},  {129, 200, 100},
                               {256, 520, 8},   {8, 520, 256},  {77, 1100, 600}, {2000, 40, 300},
                               {16, 2048, 512}, {3000, 7, 40}};
#ifndef _OPENMP
  print_message("(built without OpenMP: 2 threads run as 1)\n");
#endif
  for (size_t b = 0; b < sizeof natives / sizeof *natives; b++) {
    if (natives[b].needs > dn_cpu_level_get())
      continue;
    for (size_t q = 0; q < sizeof some / sizeof *some; q++)
      for (int f = 0; f < 6; f++) {
        bool ta = f % 3 == 1, tb = f % 3 == 2;
        shape sh = some[q];
        size_t lda = ta ? sh.M : sh.K, ldb = tb ? sh.K : sh.N;
        float *A = make_matrix(ta ? sh.K : sh.M, lda, lda);
        float *B = make_matrix(tb ? sh.N : sh.K, ldb, ldb), *bias = make_matrix(1, sh.N, sh.N);
        float *C1 = make_matrix(sh.M, sh.N, sh.N), *C2 = malloc(sh.M * sh.N * sizeof *C2);
        assert_true(C2);
        memcpy(C2, C1, sh.M * sh.N * sizeof *C2);
        float beta = f < 3 ? 0.0f : 0.5f;
        dn_gemm_args g = {ta,  tb,  sh.M, sh.N, sh.K, 1.0f,        beta, A,   B,
                          lda, ldb, C1,   sh.N, bias, DN_EPI_RELU, 1,    NULL};
        natives[b].fn(&g);
        g.C = C2;
        g.threads = 2;
        natives[b].fn(&g);
        if (memcmp(C1, C2, sh.M * sh.N * sizeof *C1) != 0) {
          print_error("%s form %d beta %g M=%zu N=%zu K=%zu: 1 and 2 threads differ\n",
                      natives[b].name, f % 3, (double)beta, sh.M, sh.N, sh.K);
          fail();
        }
        size_t nonzero = 0;
        for (size_t i = 0; i < sh.M * sh.N; i++)
          nonzero += C1[i] != 0.0f;
        assert_true(nonzero > 0);
        free(A);
        free(B);
        free(bias);
        free(C1);
        free(C2);
      }
  }
}

/* Denormal inputs flush to zero on every thread while dn_fp_enter is in force. */
static void test_ftz_reaches_workers(void **state) {
  (void)state;
#ifdef DN_HAVE_X86_KERNELS
  enum { M = 256, N = 512, K = 64 };
  float *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B), *C = malloc(M * N * 4);
  assert_true(A && B && C);
  for (size_t i = 0; i < M * K; i++)
    A[i] = 1e-39f; /* denormal */
  for (size_t i = 0; i < K * N; i++)
    B[i] = 1.0f;
  /* the native kernels' workers (a CBLAS library's own threads do not inherit the state) */
  assert_true(dn_kernels_set_backend(dn_cpu_level_name(dn_cpu_level_get())));
  dn_fp_state saved = dn_fp_enter();
  volatile float small = 1e-20f;
  bool honoured = small * small == 0.0f; /* 1e-40 flushed? (valgrind ignores FTZ/DAZ) */
  dn_gemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
  dn_fp_leave(saved);
  if (!honoured) {
    print_message("denormals-are-zero is not honoured here (valgrind?): skipped\n");
    free(A);
    free(B);
    free(C);
    dn_kernels_set_backend(NULL);
    skip();
  }
  for (size_t i = 0; i < M * N; i++)
    assert_true(C[i] == 0.0f); /* DAZ: the denormal inputs read as zero on all threads */
  dn_gemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
  if ((saved.csr & 0x8040u) == 0) /* the caller's state (no DAZ) is back */
    for (size_t i = 0; i < M * N; i++)
      assert_true(C[i] > 0.0f);
  assert_true(dn_kernels_set_backend(NULL));
  free(A);
  free(B);
  free(C);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forms_odd_shapes),    cmocka_unit_test(test_alpha_beta),
      cmocka_unit_test(test_leading_dimensions),  cmocka_unit_test(test_fused_dense),
      cmocka_unit_test(test_chain_equals_layers), cmocka_unit_test(test_nonfinite_flag),
      cmocka_unit_test(test_relu_nan_and_zero),   cmocka_unit_test(test_dispatcher),
      cmocka_unit_test(test_vector_kernels),      cmocka_unit_test(test_threads_bit_identical),
      cmocka_unit_test(test_ftz_reaches_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
