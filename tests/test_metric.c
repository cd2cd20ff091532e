/* test_metric.c -- tests of the metric table: hand-computed running means, weights, r2, accuracy
 * resolution, reset, and bad names and shapes. */
#include "dn_test.h"

#include "core/alloc.h"
#include "training/metric.h"

#define TOL 1e-12

/* Runs `name` over two batches (rows1 then rows2 samples) and returns the
 * result after each through r1, r2. Checks that updates do not allocate. */
static void two_batches(const char *name, size_t pc, size_t tc, const float *p1, const float *t1,
                        const float *w1, size_t rows1, const float *p2, const float *t2,
                        const float *w2, size_t rows2, double *r1, double *r2) {
  dn_metric m;
  assert_ok(dn_metric_init(&m, name, pc, tc));
  assert_string_equal(m.name, name);
  size_t allocs = dn_alloc_count();
  assert_true(isnan(dn_metric_result(&m)));
  dn_metric_update(&m, p1, t1, rows1, w1);
  *r1 = dn_metric_result(&m);
  dn_metric_update(&m, p2, t2, rows2, w2);
  *r2 = dn_metric_result(&m);
  dn_metric_reset(&m);
  assert_int_equal(dn_alloc_count(), allocs);
  dn_metric_free(&m);
}

/* Shared regression data: batch 1 has 2 rows, batch 2 has 3, two columns. */
static const float P1[] = {1, 2, 3, 4};
static const float T1[] = {0, 2, 5, 1};
static const float P2[] = {0, 0, 1, 1, 2, -2};
static const float T2[] = {1, 1, 1, 1, 0, 0};

static void test_mae(void **state) {
  (void)state;
  /* per-sample |t - p| means: batch 1: (1+0)/2 = 0.5, (2+3)/2 = 2.5;
   * batch 2: (1+1)/2 = 1, 0, (2+2)/2 = 2 */
  double r1, r2;
  two_batches("mae", 2, 2, P1, T1, NULL, 2, P2, T2, NULL, 3, &r1, &r2);
  assert_close(r1, 1.5, TOL, 0);
  assert_close(r2, 6.0 / 5.0, TOL, 0);
  two_batches("mean_absolute_error", 2, 2, P1, T1, NULL, 2, P2, T2, NULL, 3, &r1, &r2);
  assert_close(r2, 1.2, TOL, 0);

  /* weights: batch 1 (2, 0.5), batch 2 (1, 0, 3):
   * (2*0.5 + 0.5*2.5 + 1*1 + 0*0 + 3*2) / (2 + 0.5 + 1 + 0 + 3) = 9.25 / 6.5 */
  const float w1[] = {2.0f, 0.5f}, w2[] = {1.0f, 0.0f, 3.0f};
  two_batches("mae", 2, 2, P1, T1, w1, 2, P2, T2, w2, 3, &r1, &r2);
  assert_close(r1, 2.25 / 2.5, TOL, 0);
  assert_close(r2, 9.25 / 6.5, TOL, 0);

  /* Keras's docstring: [[0,1],[0,0]] vs [[1,1],[0,0]] -> 0.25, weighted [1,0] -> 0.5 */
  const float kt[] = {0, 1, 0, 0}, kp[] = {1, 1, 0, 0}, kw[] = {1, 0};
  dn_metric m;
  assert_ok(dn_metric_init(&m, "MeanAbsoluteError", 2, 2));
  dn_metric_update(&m, kp, kt, 2, NULL);
  assert_close(dn_metric_result(&m), 0.25, TOL, 0);
  dn_metric_reset(&m);
  dn_metric_update(&m, kp, kt, 2, kw);
  assert_close(dn_metric_result(&m), 0.5, TOL, 0);
  dn_metric_free(&m);
}

static void test_mse_and_rmse(void **state) {
  (void)state;
  /* per-sample mean squares: batch 1: (1+0)/2 = 0.5, (4+9)/2 = 6.5;
   * batch 2: (1+1)/2 = 1, 0, (4+4)/2 = 4; total 12 over 5 samples */
  double r1, r2;
  two_batches("mse", 2, 2, P1, T1, NULL, 2, P2, T2, NULL, 3, &r1, &r2);
  assert_close(r1, 3.5, TOL, 0);
  assert_close(r2, 2.4, TOL, 0);
  two_batches("mean_squared_error", 2, 2, P1, T1, NULL, 2, P2, T2, NULL, 3, &r1, &r2);
  assert_close(r2, 2.4, TOL, 0);

  /* rmse is sqrt of the mean of squares over all 5 samples, not a mean of
   * per-batch rmse ((sqrt(3.5) + sqrt(5/3)) / 2 = 1.5809) nor sqrt of the
   * mean of per-batch mse (sqrt((3.5 + 5/3) / 2) = 1.6073) */
  two_batches("rmse", 2, 2, P1, T1, NULL, 2, P2, T2, NULL, 3, &r1, &r2);
  assert_close(r1, sqrt(3.5), TOL, 0);
  assert_close(r2, sqrt(2.4), TOL, 0);
  assert_true(fabs(r2 - (sqrt(3.5) + sqrt(5.0 / 3.0)) / 2) > 1e-2);
  assert_true(fabs(r2 - sqrt((3.5 + 5.0 / 3.0) / 2)) > 1e-2);
  two_batches("root_mean_squared_error", 2, 2, P1, T1, NULL, 2, P2, T2, NULL, 3, &r1, &r2);
  assert_close(r2, sqrt(2.4), TOL, 0);

  /* weighted: (2*0.5 + 0.5*6.5 + 1*1 + 0 + 3*4) / 6.5 = 17.25 / 6.5 */
  const float w1[] = {2.0f, 0.5f}, w2[] = {1.0f, 0.0f, 3.0f};
  two_batches("mse", 2, 2, P1, T1, w1, 2, P2, T2, w2, 3, &r1, &r2);
  assert_close(r2, 17.25 / 6.5, TOL, 0);
  two_batches("RootMeanSquaredError", 2, 2, P1, T1, w1, 2, P2, T2, w2, 3, &r1, &r2);
  assert_close(r2, sqrt(17.25 / 6.5), TOL, 0);

  /* Keras's docstring for RootMeanSquaredError: 0.5, weighted [1,0] -> 0.70710677 */
  const float kt[] = {0, 1, 0, 0}, kp[] = {1, 1, 0, 0}, kw[] = {1, 0};
  two_batches("rmse", 2, 2, kp, kt, NULL, 2, kp, kt, kw, 0, &r1, &r2);
  assert_close(r1, 0.5, TOL, 0);
  two_batches("rmse", 2, 2, kp, kt, kw, 2, kp, kt, NULL, 0, &r1, &r2);
  assert_close(r1, sqrt(0.5), TOL, 0);
}

static void test_mape(void **state) {
  (void)state;
  /* batch 1: |1-2|/2 = 0.5, |2-4|/4 = 0.5 -> 50; |3+5|/5 = 1.6, |4-2|/2 = 1 -> 130
   * batch 2: |0-1|/1 = 1, |0.5+0.25|/0.25 = 3 -> 200 */
  const float p1[] = {1, 2, 3, 4}, t1[] = {2, 4, -5, 2};
  const float p2[] = {0, 0.5f}, t2[] = {1, -0.25f};
  double r1, r2;
  two_batches("mape", 2, 2, p1, t1, NULL, 2, p2, t2, NULL, 1, &r1, &r2);
  assert_close(r1, 90.0, TOL, 0);
  assert_close(r2, 380.0 / 3.0, TOL, 0);
  const float w1[] = {1.0f, 3.0f}, w2[] = {0.5f};
  two_batches("mean_absolute_percentage_error", 2, 2, p1, t1, w1, 2, p2, t2, w2, 1, &r1, &r2);
  assert_close(r2, (50.0 + 390.0 + 100.0) / 4.5, TOL, 0);

  /* a zero target divides by epsilon = 1e-7 (Keras's docstring: 250000000.0,
   * and 500000000.0 weighted [1, 0]) */
  const float kt[] = {0, 1, 0, 0}, kp[] = {1, 1, 0, 0}, kw[] = {1, 0};
  two_batches("MAPE", 2, 2, kp, kt, NULL, 2, kp, kt, kw, 2, &r1, &r2);
  assert_close(r1, 2.5e8, 0, 1e-6);
  assert_close(r2, (2 * 2.5e8 + 5e8) / 3, 0, 1e-6);
}

static void test_binary_accuracy(void **state) {
  (void)state;
  /* batch 1: 0.5 -> 0 (miss, strict threshold), 0.51 -> 1 (hit), 0.2 -> 0 (hit),
   * 0.9 -> 1 vs 0 (miss); batch 2: 0.5 -> 0 vs 0 (hit), 0.49 -> 0 (hit) */
  const float p1[] = {0.5f, 0.51f, 0.2f, 0.9f}, t1[] = {1, 1, 0, 0};
  const float p2[] = {0.5f, 0.49f}, t2[] = {0, 0};
  double r1, r2;
  two_batches("binary_accuracy", 1, 1, p1, t1, NULL, 4, p2, t2, NULL, 2, &r1, &r2);
  assert_close(r1, 0.5, TOL, 0);
  assert_close(r2, 4.0 / 6.0, TOL, 0);

  /* exactly 0.5 is not above the threshold; the next float up is */
  const float half[] = {0.5f}, one[] = {1.0f}, zero[] = {0.0f};
  const float above[] = {nextafterf(0.5f, 1.0f)};
  two_batches("binary_accuracy", 1, 1, half, one, NULL, 1, half, zero, NULL, 1, &r1, &r2);
  assert_close(r1, 0.0, TOL, 0);
  assert_close(r2, 0.5, TOL, 0);
  two_batches("binary_accuracy", 1, 1, above, one, NULL, 1, above, zero, NULL, 1, &r1, &r2);
  assert_close(r1, 1.0, TOL, 0);
  assert_close(r2, 0.5, TOL, 0);

  /* several columns: the per-sample value is the fraction of matching columns,
   * row 1: labels 1 0 1 vs 1 1 1 -> 2/3, row 2: labels 0 1 0 vs 0 1 0 -> 1 */
  const float pm[] = {0.7f, 0.2f, 0.6f, 0.1f, 0.9f, 0.4f}, tm[] = {1, 1, 1, 0, 1, 0};
  const float wm[] = {1.0f, 2.0f};
  two_batches("BinaryAccuracy", 3, 3, pm, tm, NULL, 2, pm, tm, wm, 2, &r1, &r2);
  assert_close(r1, (2.0 / 3.0 + 1.0) / 2.0, TOL, 0);
  assert_close(r2, (2.0 / 3.0 + 1.0 + 2.0 / 3.0 + 2.0) / 5.0, TOL, 0);

  /* Keras's docstring: 0.75, and 0.5 weighted [1, 0, 0, 1] */
  const float kt[] = {1, 1, 0, 0}, kp[] = {0.98f, 1, 0, 0.6f}, kw[] = {1, 0, 0, 1};
  two_batches("binary_accuracy", 1, 1, kp, kt, NULL, 4, kp, kt, kw, 0, &r1, &r2);
  assert_close(r1, 0.75, TOL, 0);
  two_batches("binary_accuracy", 1, 1, kp, kt, kw, 4, kp, kt, NULL, 0, &r1, &r2);
  assert_close(r1, 0.5, TOL, 0);
}

/* Categorical data: batch 1 hit, tie (argmax 0 vs 1) miss; batch 2 hit,
 * three-way tie (argmax 0 vs 0) hit, miss: 3 of 5. */
static const float CP1[] = {0.1f, 0.6f, 0.3f, 0.5f, 0.5f, 0.0f};
static const float CT1[] = {0, 1, 0, 0, 1, 0};
static const float CS1[] = {1, 1};
static const float CP2[] = {0.2f, 0.2f, 0.6f, 0.3f, 0.3f, 0.3f, 0.9f, 0.05f, 0.05f};
static const float CT2[] = {0, 0, 1, 1, 0, 0, 0, 0, 1};
static const float CS2[] = {2, 0, 2};

static void test_categorical_accuracy(void **state) {
  (void)state;
  double r1, r2;
  two_batches("categorical_accuracy", 3, 3, CP1, CT1, NULL, 2, CP2, CT2, NULL, 3, &r1, &r2);
  assert_close(r1, 0.5, TOL, 0);
  assert_close(r2, 0.6, TOL, 0);
  const float w1[] = {0.25f, 4.0f}, w2[] = {1.0f, 2.0f, 0.5f};
  two_batches("categorical_accuracy", 3, 3, CP1, CT1, w1, 2, CP2, CT2, w2, 3, &r1, &r2);
  assert_close(r1, 0.25 / 4.25, TOL, 0);
  assert_close(r2, 3.25 / 7.75, TOL, 0);

  /* Keras's docstring: 0.5, and 0.3 weighted [0.7, 0.3] */
  const float kt[] = {0, 0, 1, 0, 1, 0}, kp[] = {0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0};
  const float kw[] = {0.7f, 0.3f};
  two_batches("CategoricalAccuracy", 3, 3, kp, kt, NULL, 2, kp, kt, kw, 2, &r1, &r2);
  assert_close(r1, 0.5, TOL, 0);
  assert_close(r2, (1.0 + 0.3) / 3.0, 1e-7, 0); /* 2 unweighted rows + weights 0.7, 0.3 */
}

static void test_sparse_categorical_accuracy(void **state) {
  (void)state;
  double r1, r2;
  two_batches("sparse_categorical_accuracy", 3, 1, CP1, CS1, NULL, 2, CP2, CS2, NULL, 3, &r1, &r2);
  assert_close(r1, 0.5, TOL, 0);
  assert_close(r2, 0.6, TOL, 0);
  /* a non-integer label matches no class */
  const float frac[] = {1.5f};
  two_batches("sparse_categorical_accuracy", 3, 1, CP1, frac, NULL, 1, CP1, CS1, NULL, 1, &r1, &r2);
  assert_close(r1, 0.0, TOL, 0);
  assert_close(r2, 0.5, TOL, 0);

  /* Keras's docstring: [[2],[1]] -> 0.5, weighted [0.7, 0.3] -> 0.3 */
  const float kt[] = {2, 1}, kp[] = {0.1f, 0.6f, 0.3f, 0.05f, 0.95f, 0}, kw[] = {0.7f, 0.3f};
  two_batches("SparseCategoricalAccuracy", 3, 1, kp, kt, kw, 2, kp, kt, NULL, 0, &r1, &r2);
  assert_close(r1, 0.3, 1e-7, 0);
  two_batches("sparse_categorical_accuracy", 3, 1, kp, kt, NULL, 2, kp, kt, NULL, 0, &r1, &r2);
  assert_close(r1, 0.5, TOL, 0);
}

static void test_accuracy_resolution(void **state) {
  (void)state;
  dn_metric m;
  /* pred last dim 1 -> binary: 0.2 vs 1 misses (categorical would always hit) */
  const float p1[] = {0.2f}, t1[] = {1.0f};
  assert_ok(dn_metric_init(&m, "accuracy", 1, 1));
  assert_string_equal(m.name, "accuracy");
  dn_metric_update(&m, p1, t1, 1, NULL);
  assert_close(dn_metric_result(&m), 0.0, TOL, 0);
  dn_metric_free(&m);

  /* target 1 column, pred > 1 -> sparse: class index 1 is the argmax */
  const float p3[] = {0.1f, 0.6f, 0.3f}, idx[] = {1.0f};
  assert_ok(dn_metric_init(&m, "acc", 3, 1));
  assert_string_equal(m.name, "acc");
  dn_metric_update(&m, p3, idx, 1, NULL);
  assert_close(dn_metric_result(&m), 1.0, TOL, 0);
  dn_metric_free(&m);

  /* same columns, > 1 -> categorical: argmax 1 == argmax 1 (binary would give 2/3) */
  const float q3[] = {0.6f, 0.7f, 0.1f}, onehot[] = {0, 1, 0};
  assert_ok(dn_metric_init(&m, "Accuracy", 3, 3)); /* Keras lower-cases this name */
  assert_string_equal(m.name, "Accuracy");
  dn_metric_update(&m, q3, onehot, 1, NULL);
  assert_close(dn_metric_result(&m), 1.0, TOL, 0);
  dn_metric_free(&m);

  /* pred 1 column with a 3-column target fits none */
  memset(&m, 0x3C, sizeof m);
  dn_metric before = m;
  assert_status_msg(dn_metric_init(&m, "accuracy", 1, 3), DN_ERR_SHAPE, "binary_accuracy");
  assert_status_msg(dn_metric_init(&m, "accuracy", 3, 2), DN_ERR_SHAPE, "categorical_accuracy");
  assert_memory_equal(&m, &before, sizeof m);
}

/* Two-pass weighted R2 in double, per column, uniform average. */
static double r2_reference(const float *p, const float *t, const float *w, size_t rows,
                           size_t cols) {
  double avg = 0.0;
  for (size_t j = 0; j < cols; j++) {
    double sw = 0.0, swy = 0.0;
    for (size_t i = 0; i < rows; i++) {
      sw += w[i];
      swy += w[i] * t[i * cols + j];
    }
    double mean = swy / sw, ss_tot = 0.0, ss_res = 0.0;
    for (size_t i = 0; i < rows; i++) {
      double d = t[i * cols + j] - mean, e = t[i * cols + j] - p[i * cols + j];
      ss_tot += w[i] * d * d;
      ss_res += w[i] * e * e;
    }
    avg += 1.0 - ss_res / ss_tot;
  }
  return avg / (double)cols;
}

static void test_r2_score(void **state) {
  (void)state;
  enum { C = 3, N1 = 4, N2 = 7, N = N1 + N2 };
  float p[N * C], t[N * C], w[N], ones[N];
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < C; j++) {
      t[i * C + j] = (float)(sin(1.3 * i + 0.7 * j) * (j + 1) + 10.0 * j);
      p[i * C + j] = t[i * C + j] + (float)(0.3 * cos(2.1 * i - j) * (j + 1));
    }
    w[i] = 0.25f + (float)(i % 3);
    ones[i] = 1.0f;
  }
  double r1, r2;
  two_batches("r2_score", C, C, p, t, NULL, N1, p + N1 * C, t + N1 * C, NULL, N2, &r1, &r2);
  double want1 = r2_reference(p, t, ones, N1, C), want = r2_reference(p, t, ones, N, C);
  assert_close(r1, want1, 1e-12, 1e-12);
  assert_close(r2, want, 1e-12, 1e-12);
  assert_true(want > 0.5 && want < 1.0); /* a meaningful, non-trivial value */
  /* over everything seen, not an average of per-batch scores */
  double want2 = r2_reference(p + N1 * C, t + N1 * C, ones, N2, C);
  assert_true(fabs(r2 - (want1 + want2) / 2) > 1e-3);

  two_batches("R2Score", C, C, p, t, w, N1, p + N1 * C, t + N1 * C, w + N1, N2, &r1, &r2);
  assert_close(r2, r2_reference(p, t, w, N, C), 1e-12, 1e-12);
  assert_true(fabs(r2 - want) > 1e-4); /* the weights matter */

  /* Keras's docstring: [[1],[4],[3]] vs [[2],[4],[4]] -> 0.57142854 (= 4/7) */
  const float kt[] = {1, 4, 3}, kp[] = {2, 4, 4};
  two_batches("r2_score", 1, 1, kp, kt, NULL, 2, kp + 2, kt + 2, NULL, 1, &r1, &r2);
  assert_close(r2, 4.0 / 7.0, 1e-12, 0);
}

static void test_r2_constant_column(void **state) {
  (void)state;
  /* column 0 varies (r2 = 1 - 2/(42/9) = 4/7); column 1 is constant 0.1:
   * SS_tot = 0 and SS_res > 0 gives -inf, which Keras counts as 0 */
  const float t[] = {1, 0.1f, 4, 0.1f, 3, 0.1f}, p[] = {2, 0.3f, 4, 0.1f, 4, 0.1f};
  double r1, r2;
  two_batches("r2_score", 2, 2, p, t, NULL, 1, p + 2, t + 2, NULL, 2, &r1, &r2);
  assert_close(r2, (4.0 / 7.0 + 0.0) / 2.0, 1e-12, 0);
  /* a constant column far from 0 with uneven weights: SS_tot must come out
   * exactly 0 (a naive sum of squares leaves rounding noise, and a huge
   * negative score instead of the 0 that exact arithmetic and Keras's inf rule give) */
  enum { R = 11 };
  float tc[R * 2], pc[R * 2], wc[R];
  for (int i = 0; i < R; i++) {
    tc[2 * i] = (float)i;
    pc[2 * i] = (float)i + (i % 2 ? 0.5f : -0.25f);
    tc[2 * i + 1] = 1000.1f;
    pc[2 * i + 1] = 1000.1f + 0.5f;
    wc[i] = 0.3f + 0.7f * (float)i;
  }
  float t0[R], p0[R];
  for (int i = 0; i < R; i++) {
    t0[i] = tc[2 * i];
    p0[i] = pc[2 * i];
  }
  double want0 = r2_reference(p0, t0, wc, R, 1);
  two_batches("r2_score", 2, 2, pc, tc, wc, 3, pc + 6, tc + 6, wc + 3, R - 3, &r1, &r2);
  assert_close(r2, want0 / 2.0, 1e-12, 1e-12);

  /* a constant column predicted exactly: 1 - 0/0 is NaN, and so is the mean */
  const float pe[] = {2, 0.1f, 4, 0.1f, 4, 0.1f};
  two_batches("r2_score", 2, 2, pe, t, NULL, 3, pe, t, NULL, 0, &r1, &r2);
  assert_true(isnan(r1));
}

static void test_reset_and_empty(void **state) {
  (void)state;
  const char *names[] = {"mae", "mse", "rmse", "mape", "r2_score", "binary_accuracy"};
  const float p[] = {0.9f, 0.2f, 0.4f}, t[] = {1.0f, 0.0f, 1.0f}, zero_w[] = {0, 0, 0};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    dn_metric m;
    assert_ok(dn_metric_init(&m, names[k], 1, 1));
    size_t allocs = dn_alloc_count();
    assert_true(isnan(dn_metric_result(&m)));
    dn_metric_update(&m, p, t, 3, zero_w); /* no weight: still nothing to average */
    assert_true(isnan(dn_metric_result(&m)));
    dn_metric_update(&m, p, t, 3, NULL);
    double full = dn_metric_result(&m);
    assert_false(isnan(full));
    dn_metric_reset(&m);
    assert_true(isnan(dn_metric_result(&m)));
    /* after a reset only the new data counts */
    dn_metric_update(&m, p, t, 3, NULL);
    assert_close(dn_metric_result(&m), full, 1e-12, 1e-12);
    dn_metric_update(&m, p, t, 0, NULL); /* an empty batch changes nothing */
    assert_close(dn_metric_result(&m), full, 1e-12, 1e-12);
    assert_int_equal(dn_alloc_count(), allocs);
    dn_metric_free(&m);
    assert_null(m.def);
    assert_true(isnan(dn_metric_result(&m)));
  }
  /* binary accuracy over these: 0.9 hit, 0.2 hit, 0.4 vs 1 miss */
  dn_metric m;
  assert_ok(dn_metric_init(&m, "binary_accuracy", 1, 1));
  dn_metric_update(&m, p, t, 3, NULL);
  dn_metric_reset(&m);
  dn_metric_update(&m, p, t, 3, NULL);
  assert_close(dn_metric_result(&m), 2.0 / 3.0, TOL, 0);
  dn_metric_free(&m);
  dn_metric_free(&m); /* twice is harmless */
  dn_metric_free(NULL);
  dn_metric_reset(NULL);
  dn_metric_update(NULL, p, t, 3, NULL);
  assert_true(isnan(dn_metric_result(NULL)));
}

static void test_bad_init(void **state) {
  (void)state;
  dn_metric m;
  memset(&m, 0x7E, sizeof m);
  dn_metric before = m;
  size_t allocs = dn_alloc_count();
  assert_status_msg(dn_metric_init(&m, "foo", 1, 1), DN_ERR_ARG, "unknown metric 'foo'");
  assert_status_msg(dn_metric_init(&m, "foo", 1, 1), DN_ERR_ARG, "mean_absolute_error");
  assert_status_msg(dn_metric_init(&m, "val_mae", 1, 1), DN_ERR_ARG, "'val_mae'");
  assert_status_msg(dn_metric_init(&m, "Mae", 1, 1), DN_ERR_ARG, "'Mae'"); /* case matters */
  assert_status_msg(dn_metric_init(&m, "", 1, 1), DN_ERR_ARG, "unknown metric ''");
  assert_status_msg(dn_metric_init(&m, NULL, 1, 1), DN_ERR_ARG, "name is NULL");
  assert_status_msg(dn_metric_init(NULL, "mae", 1, 1), DN_ERR_ARG, "metric is NULL");
  assert_status_msg(dn_metric_init(&m, "mae", 0, 1), DN_ERR_ARG, "got 0 and 1");
  assert_status_msg(dn_metric_init(&m, "accuracy", 3, 0), DN_ERR_ARG, "> 0");
  assert_status_msg(dn_metric_init(&m, "mae", 3, 2), DN_ERR_SHAPE,
                    "metric 'mae' (mean_absolute_error) needs targets with as many columns as "
                    "the predictions (3), got 2");
  assert_status_msg(dn_metric_init(&m, "r2_score", 2, 1), DN_ERR_SHAPE, "r2_score");
  assert_status_msg(dn_metric_init(&m, "sparse_categorical_accuracy", 3, 3), DN_ERR_SHAPE,
                    "1 column of class indices, got 3");
  assert_memory_equal(&m, &before, sizeof m);
  assert_int_equal(dn_alloc_count(), allocs);
}

static void test_direction(void **state) {
  (void)state;
  const char *up[] = {"accuracy",
                      "acc",
                      "Accuracy",
                      "binary_accuracy",
                      "categorical_accuracy",
                      "sparse_categorical_accuracy",
                      "r2_score",
                      "R2Score"};
  const char *down[] = {"loss",
                        "mae",
                        "mean_absolute_error",
                        "mse",
                        "MSE",
                        "rmse",
                        "root_mean_squared_error",
                        "mape",
                        "mean_absolute_percentage_error"};
  for (size_t i = 0; i < sizeof up / sizeof up[0]; i++)
    assert_int_equal(dn_metric_name_direction(up[i]), 1);
  for (size_t i = 0; i < sizeof down / sizeof down[0]; i++)
    assert_int_equal(dn_metric_name_direction(down[i]), -1);
  assert_int_equal(dn_metric_name_direction("foo"), 0);
  assert_int_equal(dn_metric_name_direction("val_loss"), 0); /* callers strip "val_" */
  assert_int_equal(dn_metric_name_direction(""), 0);
  assert_int_equal(dn_metric_name_direction(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mae),
      cmocka_unit_test(test_mse_and_rmse),
      cmocka_unit_test(test_mape),
      cmocka_unit_test(test_binary_accuracy),
      cmocka_unit_test(test_categorical_accuracy),
      cmocka_unit_test(test_sparse_categorical_accuracy),
      cmocka_unit_test(test_accuracy_resolution),
      cmocka_unit_test(test_r2_score),
      cmocka_unit_test(test_r2_constant_column),
      cmocka_unit_test(test_reset_and_empty),
      cmocka_unit_test(test_bad_init),
      cmocka_unit_test(test_direction),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
