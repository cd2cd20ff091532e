/* test_initializer.c -- the Keras 3 initializers: the distribution of every one against Keras's
 * closed forms, fans, draw order and determinism, names and aliases, and bad input. */
#include "dn_test.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "layers/initializer.h"
#include "core/rng.h"

/* Large-sample checks: 200000 values of a 300 x 200 kernel (the count need not be the fans'
 * product: the fans are what the formulas read). Bounds are 5 standard errors. */
#define N_BIG 200000
#define FAN_IN 300
#define FAN_OUT 200
#define SE_BOUND 5.0

/* Standard deviation of N(0,1) truncated to [-2, 2] (Keras's constant). Worked out here from
 * the truncated-normal variance 1 - 2 * 2 phi(2) / (1 - erfc(sqrt 2)) to check the literal. */
#define KERAS_TRUNC 0.87962566103423978

/* (PI and friends are POSIX, not C11.) */
#define PI 3.14159265358979323846
#define SQRT2 1.41421356237309504880
#define SQRT1_2 0.70710678118654752440

static float *fill_new(const char *name, const dn_init_args *args, size_t n, size_t fan_in,
                       size_t fan_out, uint64_t seed) {
  float *w = malloc(n * sizeof *w);
  assert_non_null(w);
  dn_rng rng;
  dn_rng_seed(&rng, seed, DN_STREAM_INIT);
  assert_ok(dn_init_fill(name, args, w, n, fan_in, fan_out, &rng));
  return w;
}

typedef struct sample_stats {
  double mean, var, m4; /* var and m4 are central moments (divided by n) */
  double min, max;
} sample_stats;

static sample_stats stats_of(const float *w, size_t n) {
  sample_stats s = {0.0, 0.0, 0.0, INFINITY, -INFINITY};
  for (size_t i = 0; i < n; i++) {
    s.mean += w[i];
    s.min = w[i] < s.min ? w[i] : s.min;
    s.max = w[i] > s.max ? w[i] : s.max;
  }
  s.mean /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double d = w[i] - s.mean;
    s.var += d * d;
    s.m4 += d * d * d * d;
  }
  s.var /= (double)n;
  s.m4 /= (double)n;
  return s;
}

/* U(lo, hi): every value in [lo, hi], the ends reached, mean (lo+hi)/2, variance (hi-lo)^2/12
 * (standard error of the sample variance sqrt((mu4 - sigma^4)/n), mu4 = (hi-lo)^4/80). */
static void check_uniform(const float *w, size_t n, double lo, double hi) {
  sample_stats s = stats_of(w, n);
  double width = hi - lo, var = width * width / 12.0;
  assert_true(s.min >= (double)(float)lo);
  assert_true(s.max <= (double)(float)hi);
  assert_true(s.min < lo + 1e-3 * width && s.max > hi - 1e-3 * width);
  assert_close(s.mean, (lo + hi) / 2.0, SE_BOUND * sqrt(var / (double)n), 0.0);
  double mu4 = pow(width, 4) / 80.0;
  assert_close(s.var, var, SE_BOUND * sqrt((mu4 - var * var) / (double)n), 0.0);
}

/* N(mean, sd) truncated at +-2 sd: every value within it, tails reached, mean, the variance
 * (0.8796 sd)^2, and P(|x - mean| > sd) = (erfc(1/sqrt2) - erfc(sqrt2)) / (1 - erfc(sqrt2)).
 * The variance's standard error is estimated from the sample's own fourth moment. */
static void check_truncated(const float *w, size_t n, double mean, double sd) {
  sample_stats s = stats_of(w, n);
  assert_true(s.min >= (double)(float)(mean - 2.0 * sd));
  assert_true(s.max <= (double)(float)(mean + 2.0 * sd));
  assert_true(s.min < mean - 1.95 * sd && s.max > mean + 1.95 * sd);
  double var = KERAS_TRUNC * KERAS_TRUNC * sd * sd;
  assert_close(s.mean, mean, SE_BOUND * sqrt(var / (double)n), 0.0);
  assert_close(s.var, var, SE_BOUND * sqrt((s.m4 - s.var * s.var) / (double)n), 0.0);
  size_t beyond = 0;
  for (size_t i = 0; i < n; i++)
    beyond += fabs(w[i] - mean) > sd;
  double p = (erfc(SQRT1_2) - erfc(SQRT2)) / (1.0 - erfc(SQRT2));
  assert_close((double)beyond / (double)n, p, SE_BOUND * sqrt(p * (1.0 - p) / (double)n), 0.0);
}

/* N(mean, sd), untruncated: mean, variance (SE sqrt(2/n) sd^2), P(|x - mean| > 2 sd). */
static void check_normal(const float *w, size_t n, double mean, double sd) {
  sample_stats s = stats_of(w, n);
  assert_close(s.mean, mean, SE_BOUND * sd / sqrt((double)n), 0.0);
  assert_close(s.var, sd * sd, SE_BOUND * sd * sd * sqrt(2.0 / (double)n), 0.0);
  size_t beyond = 0;
  for (size_t i = 0; i < n; i++)
    beyond += fabs(w[i] - mean) > 2.0 * sd;
  double p = erfc(SQRT2);
  assert_close((double)beyond / (double)n, p, SE_BOUND * sqrt(p * (1.0 - p) / (double)n), 0.0);
}

/* ---- the constant itself --------------------------------------------------------------------- */

/* 0.8796... is the standard deviation of N(0,1) restricted to [-2, 2]:
 * var = 1 - 2 * 2 phi(2) / P(|z| <= 2). */
static void test_truncation_constant(void **state) {
  (void)state;
  double phi2 = exp(-2.0) / sqrt(2.0 * PI);
  double var = 1.0 - 4.0 * phi2 / (1.0 - erfc(SQRT2));
  assert_close(sqrt(var), KERAS_TRUNC, 1e-15, 0.0);
}

/* ---- the fan-based initializers (Keras closed forms, Dense kernel fan_in x fan_out) -------- */

static void test_glorot_uniform(void **state) {
  (void)state;
  float *w = fill_new("glorot_uniform", NULL, N_BIG, FAN_IN, FAN_OUT, 1);
  double limit = sqrt(6.0 / (FAN_IN + FAN_OUT));
  check_uniform(w, N_BIG, -limit, limit);
  free(w);
}

static void test_he_uniform(void **state) {
  (void)state;
  float *w = fill_new("he_uniform", NULL, N_BIG, FAN_IN, FAN_OUT, 2);
  double limit = sqrt(6.0 / FAN_IN);
  check_uniform(w, N_BIG, -limit, limit);
  free(w);
}

static void test_lecun_uniform(void **state) {
  (void)state;
  float *w = fill_new("lecun_uniform", NULL, N_BIG, FAN_IN, FAN_OUT, 3);
  double limit = sqrt(3.0 / FAN_IN);
  check_uniform(w, N_BIG, -limit, limit);
  free(w);
}

/* The normal ones: Keras's target stddev sigma (after truncation) is sqrt(scale/n); the
 * pre-truncation stddev is sigma / 0.8796, so the sample variance must be sigma^2. */
static void test_glorot_normal(void **state) {
  (void)state;
  float *w = fill_new("glorot_normal", NULL, N_BIG, FAN_IN, FAN_OUT, 4);
  double sigma = sqrt(2.0 / (FAN_IN + FAN_OUT));
  check_truncated(w, N_BIG, 0.0, sigma / KERAS_TRUNC);
  assert_close(stats_of(w, N_BIG).var, sigma * sigma, 0.01 * sigma * sigma, 0.0);
  free(w);
}

static void test_he_normal(void **state) {
  (void)state;
  float *w = fill_new("he_normal", NULL, N_BIG, FAN_IN, FAN_OUT, 5);
  double sigma = sqrt(2.0 / FAN_IN);
  check_truncated(w, N_BIG, 0.0, sigma / KERAS_TRUNC);
  assert_close(stats_of(w, N_BIG).var, sigma * sigma, 0.01 * sigma * sigma, 0.0);
  free(w);
}

static void test_lecun_normal(void **state) {
  (void)state;
  float *w = fill_new("lecun_normal", NULL, N_BIG, FAN_IN, FAN_OUT, 6);
  double sigma = sqrt(1.0 / FAN_IN);
  check_truncated(w, N_BIG, 0.0, sigma / KERAS_TRUNC);
  assert_close(stats_of(w, N_BIG).var, sigma * sigma, 0.01 * sigma * sigma, 0.0);
  free(w);
}

/* fan_in and fan_out are used as given: fan_out-only changes move glorot, not he/lecun. */
static void test_fan_modes(void **state) {
  (void)state;
  enum { N = 50000 };
  float *w = fill_new("glorot_uniform", NULL, N, 10, 1000, 7);
  double limit = sqrt(6.0 / 1010.0);
  check_uniform(w, N, -limit, limit);
  free(w);
  w = fill_new("he_uniform", NULL, N, 10, 1000, 8);
  limit = sqrt(6.0 / 10.0);
  check_uniform(w, N, -limit, limit);
  free(w);
  w = fill_new("lecun_normal", NULL, N, 1000, 10, 9);
  check_truncated(w, N, 0.0, sqrt(1.0 / 1000.0) / KERAS_TRUNC);
  free(w);
}

/* A 1-D variable of n values (a bias): Keras's compute_fans gives fan_in = fan_out = n, so
 * glorot's fan_avg is n: limit sqrt(3/n). */
static void test_fans_of_1d_shape(void **state) {
  (void)state;
  enum { N = 100000, LEN = 64 };
  float *w = fill_new("glorot_uniform", NULL, N, LEN, LEN, 10);
  double limit = sqrt(3.0 / LEN);
  check_uniform(w, N, -limit, limit);
  free(w);
  w = fill_new("glorot_normal", NULL, N, LEN, LEN, 11);
  check_truncated(w, N, 0.0, sqrt(1.0 / LEN) / KERAS_TRUNC);
  free(w);
}

/* n = max(1, fan): a zero fan behaves as 1; fan_avg is a real-valued mean ((0+1)/2 -> 1). */
static void test_fans_clamped_to_one(void **state) {
  (void)state;
  enum { N = 50000 };
  float *w = fill_new("he_uniform", NULL, N, 0, 0, 12);
  check_uniform(w, N, -sqrt(6.0), sqrt(6.0));
  free(w);
  w = fill_new("glorot_uniform", NULL, N, 1, 0, 13);
  check_uniform(w, N, -sqrt(3.0), sqrt(3.0));
  free(w);
}

/* The exact values, in index order, from the caller's rng: glorot_uniform with fans 3 x 4 is
 * U(-sqrt(6/7), sqrt(6/7)) (fan_avg 3.5, not 3); afterwards the rng has advanced exactly one
 * draw per value. */
static void test_draw_order_and_exact_values(void **state) {
  (void)state;
  enum { N = 12 };
  float w[N];
  dn_rng rng, mirror;
  dn_rng_seed(&rng, 77, DN_STREAM_INIT);
  dn_rng_seed(&mirror, 77, DN_STREAM_INIT);
  assert_ok(dn_init_fill("glorot_uniform", NULL, w, N, 3, 4, &rng));
  double limit = sqrt(6.0 / 7.0);
  for (size_t i = 0; i < N; i++) {
    double expected = -limit + 2.0 * limit * (double)dn_rng_uniform(&mirror);
    dn_assert_close_at(w[i], expected, 0.0, 2.0 * FLT_EPSILON, "w", i, __FILE__, __LINE__);
  }
  assert_memory_equal(rng.s, mirror.s, sizeof rng.s);

  /* he_normal with fan_in 5: sd sqrt(2/5)/0.8796, normals beyond +-2 redrawn. */
  assert_ok(dn_init_fill("he_normal", NULL, w, N, 5, 9, &rng));
  double sd = sqrt(2.0 / 5.0) / KERAS_TRUNC;
  for (size_t i = 0; i < N; i++) {
    double z;
    do
      z = dn_rng_normal(&mirror);
    while (fabs(z) > 2.0);
    dn_assert_close_at(w[i], sd * z, 0.0, 2.0 * FLT_EPSILON, "w", i, __FILE__, __LINE__);
  }
  assert_memory_equal(rng.s, mirror.s, sizeof rng.s);

  /* The parametrised ones use their arguments exactly. */
  dn_init_args args = {.minval = 1.0, .maxval = 3.0};
  assert_ok(dn_init_fill("random_uniform", &args, w, N, 5, 9, &rng));
  for (size_t i = 0; i < N; i++) {
    double expected = 1.0 + 2.0 * (double)dn_rng_uniform(&mirror);
    dn_assert_close_at(w[i], expected, 0.0, 2.0 * FLT_EPSILON, "w", i, __FILE__, __LINE__);
  }
  args = (dn_init_args){.mean = 3.0, .stddev = 2.0};
  assert_ok(dn_init_fill("random_normal", &args, w, N, 5, 9, &rng));
  for (size_t i = 0; i < N; i++) {
    double expected = 3.0 + 2.0 * dn_rng_normal(&mirror);
    dn_assert_close_at(w[i], expected, 1e-6, 2.0 * FLT_EPSILON, "w", i, __FILE__, __LINE__);
  }
  args = (dn_init_args){.mean = -1.0, .stddev = 0.5};
  assert_ok(dn_init_fill("truncated_normal", &args, w, N, 5, 9, &rng));
  for (size_t i = 0; i < N; i++) {
    double z;
    do
      z = dn_rng_normal(&mirror);
    while (fabs(z) > 2.0);
    dn_assert_close_at(w[i], -1.0 + 0.5 * z, 1e-6, 2.0 * FLT_EPSILON, "w", i, __FILE__, __LINE__);
  }
  assert_memory_equal(rng.s, mirror.s, sizeof rng.s);
}

/* Redraws happen: over many values, the truncated draw consumes ~1/0.9545 normals per value. */
static void test_truncation_redraws(void **state) {
  (void)state;
  enum { N = 20000 };
  float *w = malloc(N * sizeof *w);
  assert_non_null(w);
  dn_rng rng, mirror;
  dn_rng_seed(&rng, 78, DN_STREAM_INIT);
  dn_rng_seed(&mirror, 78, DN_STREAM_INIT);
  assert_ok(dn_init_fill("truncated_normal", NULL, w, N, 1, 1, &rng));
  size_t normals = 0;
  while (memcmp(mirror.s, rng.s, sizeof rng.s) != 0) {
    (void)dn_rng_normal(&mirror);
    normals++;
    assert_true(normals < 2 * N);
  }
  double p_keep = 1.0 - erfc(SQRT2);
  double redraws = (double)(normals - N);
  double expected = N * (1.0 - p_keep) / p_keep; /* geometric: mean (1-p)/p per value */
  assert_close(redraws, expected, SE_BOUND * sqrt(N * (1.0 - p_keep)) / p_keep, 0.0);
  free(w);
}

/* ---- the parametrised ones ---------------------------------------------------------------- */

static void test_random_uniform_default(void **state) {
  (void)state;
  float *w = fill_new("random_uniform", NULL, N_BIG, FAN_IN, FAN_OUT, 20);
  check_uniform(w, N_BIG, -0.05, 0.05);
  free(w);
}

static void test_random_uniform_args(void **state) {
  (void)state;
  dn_init_args args = {.minval = 1.0, .maxval = 3.0};
  float *w = fill_new("random_uniform", &args, N_BIG, FAN_IN, FAN_OUT, 21);
  check_uniform(w, N_BIG, 1.0, 3.0);
  free(w);
  /* One bound zero, the other not: both given explicitly. */
  args = (dn_init_args){.minval = 0.0, .maxval = 2.0};
  w = fill_new("random_uniform", &args, 50000, 1, 1, 22);
  check_uniform(w, 50000, 0.0, 2.0);
  free(w);
  args = (dn_init_args){.minval = -0.5, .maxval = 0.0};
  w = fill_new("random_uniform", &args, 50000, 1, 1, 23);
  check_uniform(w, 50000, -0.5, 0.0);
  free(w);
}

static void test_random_normal(void **state) {
  (void)state;
  float *w = fill_new("random_normal", NULL, N_BIG, FAN_IN, FAN_OUT, 24);
  check_normal(w, N_BIG, 0.0, 0.05);
  free(w);
  dn_init_args args = {.mean = 3.0, .stddev = 2.0};
  w = fill_new("random_normal", &args, N_BIG, FAN_IN, FAN_OUT, 25);
  check_normal(w, N_BIG, 3.0, 2.0);
  free(w);
}

/* Keras's TruncatedNormal stddev is that of the normal before truncation: the sample's stddev
 * is 0.8796 * stddev. */
static void test_truncated_normal(void **state) {
  (void)state;
  float *w = fill_new("truncated_normal", NULL, N_BIG, FAN_IN, FAN_OUT, 26);
  check_truncated(w, N_BIG, 0.0, 0.05);
  free(w);
  dn_init_args args = {.mean = -1.0, .stddev = 0.5};
  w = fill_new("truncated_normal", &args, N_BIG, FAN_IN, FAN_OUT, 27);
  check_truncated(w, N_BIG, -1.0, 0.5);
  free(w);
}

/* DN_ZERO asks for an explicit zero where 0 would mean the Keras default. */
static void test_explicit_zero_args(void **state) {
  (void)state;
  enum { N = 1000 };
  dn_init_args args = {.mean = 0.75, .stddev = DN_ZERO};
  const char *normals[] = {"random_normal", "truncated_normal"};
  for (size_t k = 0; k < 2; k++) {
    float *w = fill_new(normals[k], &args, N, 1, 1, 28);
    for (size_t i = 0; i < N; i++)
      assert_true(w[i] == 0.75f);
    free(w);
  }
  args = (dn_init_args){.minval = DN_ZERO, .maxval = DN_ZERO};
  float *w = fill_new("random_uniform", &args, N, 1, 1, 29);
  for (size_t i = 0; i < N; i++)
    assert_true(w[i] == 0.0f);
  free(w);
  args = (dn_init_args){.minval = 2.5, .maxval = 2.5};
  w = fill_new("random_uniform", &args, N, 1, 1, 30);
  for (size_t i = 0; i < N; i++)
    assert_true(w[i] == 2.5f);
  free(w);
}

/* NULL args and all-zero args are the same defaults. */
static void test_null_args_are_defaults(void **state) {
  (void)state;
  enum { N = 500 };
  static const dn_init_args zero_args;
  const char *names[] = {"random_uniform", "random_normal", "truncated_normal", "constant"};
  for (size_t k = 0; k < 4; k++) {
    float *a = fill_new(names[k], NULL, N, 7, 9, 31);
    float *b = fill_new(names[k], &zero_args, N, 7, 9, 31);
    assert_memory_equal(a, b, N * sizeof *a);
    free(a);
    free(b);
  }
}

static void test_constants(void **state) {
  (void)state;
  enum { N = 257 };
  float w[N];
  dn_rng rng, before;
  dn_rng_seed(&rng, 32, DN_STREAM_INIT);
  before = rng;

  for (size_t i = 0; i < N; i++)
    w[i] = 9.0f;
  assert_ok(dn_init_fill("zeros", NULL, w, N, 3, 4, &rng));
  for (size_t i = 0; i < N; i++)
    assert_true(w[i] == 0.0f && !signbit(w[i]));

  assert_ok(dn_init_fill("ones", NULL, w, N, 3, 4, &rng));
  for (size_t i = 0; i < N; i++)
    assert_true(w[i] == 1.0f);

  dn_init_args args = {.value = 2.5};
  assert_ok(dn_init_fill("constant", &args, w, N, 3, 4, &rng));
  for (size_t i = 0; i < N; i++)
    assert_true(w[i] == 2.5f);
  args.value = -1e-3;
  assert_ok(dn_init_fill("constant", &args, w, N, 3, 4, &rng));
  for (size_t i = 0; i < N; i++)
    assert_true(w[i] == (float)-1e-3);
  assert_ok(dn_init_fill("constant", NULL, w, N, 3, 4, &rng)); /* Keras Constant(value=0.0) */
  for (size_t i = 0; i < N; i++)
    assert_true(w[i] == 0.0f);

  /* Constants draw nothing, so they need no rng. */
  assert_memory_equal(rng.s, before.s, sizeof rng.s);
  assert_ok(dn_init_fill("ones", NULL, w, N, 3, 4, NULL));
  assert_true(w[0] == 1.0f && w[N - 1] == 1.0f);
  /* n = 0 writes nothing. */
  assert_ok(dn_init_fill("glorot_uniform", NULL, w, 0, 3, 4, &rng));
  assert_memory_equal(rng.s, before.s, sizeof rng.s);
}

/* ---- determinism ---------------------------------------------------------------------------- */

static const char *const random_names[] = {
    "glorot_uniform", "glorot_normal",  "he_uniform",    "he_normal",        "lecun_uniform",
    "lecun_normal",   "random_uniform", "random_normal", "truncated_normal",
};
#define N_RANDOM (sizeof random_names / sizeof random_names[0])

static void test_determinism(void **state) {
  (void)state;
  enum { N = 4096 };
  for (size_t k = 0; k < N_RANDOM; k++) {
    float *a = fill_new(random_names[k], NULL, N, 30, 20, 1234);
    float *b = fill_new(random_names[k], NULL, N, 30, 20, 1234);
    float *c = fill_new(random_names[k], NULL, N, 30, 20, 1235);
    assert_memory_equal(a, b, N * sizeof *a);
    size_t same = 0;
    for (size_t i = 0; i < N; i++)
      same += a[i] == c[i];
    if (same > 2) {
      print_error("%s: %zu of %d values equal across seeds\n", random_names[k], same, N);
      fail();
    }
    free(a);
    free(b);
    free(c);
  }
}

/* ---- names --------------------------------------------------------------------------------- */

static void test_resolve_names(void **state) {
  (void)state;
  static const char *const pairs[][2] = {
      {"glorot_uniform", "glorot_uniform"},
      {"GlorotUniform", "glorot_uniform"},
      {"glorot_normal", "glorot_normal"},
      {"GlorotNormal", "glorot_normal"},
      {"he_uniform", "he_uniform"},
      {"HeUniform", "he_uniform"},
      {"he_normal", "he_normal"},
      {"HeNormal", "he_normal"},
      {"lecun_uniform", "lecun_uniform"},
      {"LecunUniform", "lecun_uniform"},
      {"lecun_normal", "lecun_normal"},
      {"LecunNormal", "lecun_normal"},
      {"VarianceScaling", "lecun_normal"}, /* defaults: scale 1, fan_in, truncated_normal */
      {"variance_scaling", "lecun_normal"},
      {"random_uniform", "random_uniform"},
      {"RandomUniform", "random_uniform"},
      {"uniform", "random_uniform"},
      {"random_normal", "random_normal"},
      {"RandomNormal", "random_normal"},
      {"normal", "random_normal"},
      {"truncated_normal", "truncated_normal"},
      {"TruncatedNormal", "truncated_normal"},
      {"zeros", "zeros"},
      {"Zeros", "zeros"},
      {"zero", "zeros"},
      {"ones", "ones"},
      {"Ones", "ones"},
      {"one", "ones"},
      {"constant", "constant"},
      {"Constant", "constant"},
  };
  for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
    const char *got = dn_init_resolve(pairs[k][0], NULL);
    if (got == NULL || strcmp(got, pairs[k][1]) != 0) {
      print_error("%s resolved to %s, expected %s\n", pairs[k][0], got ? got : "NULL", pairs[k][1]);
      fail();
    }
  }
  assert_string_equal(dn_init_resolve(NULL, "glorot_uniform"), "glorot_uniform");
  assert_null(dn_init_resolve(NULL, NULL));
}

/* An alias fills exactly what its canonical name fills. */
static void test_aliases_fill_the_same(void **state) {
  (void)state;
  enum { N = 1000 };
  static const char *const pairs[][2] = {
      {"uniform", "random_uniform"},       {"normal", "random_normal"}, {"HeNormal", "he_normal"},
      {"VarianceScaling", "lecun_normal"}, {"zero", "zeros"},           {"one", "ones"},
  };
  for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
    float *a = fill_new(pairs[k][0], NULL, N, 8, 6, 40);
    float *b = fill_new(pairs[k][1], NULL, N, 8, 6, 40);
    assert_memory_equal(a, b, N * sizeof *a);
    free(a);
    free(b);
  }
}

static void test_unknown_names(void **state) {
  (void)state;
  static const char *const bad[] = {
      "glorot_unifrom", "GLOROT_UNIFORM", "Glorot_Uniform", "xavier", "", "he_normal "};
  float w[4] = {7.0f, 7.0f, 7.0f, 7.0f};
  const float orig[4] = {7.0f, 7.0f, 7.0f, 7.0f};
  dn_rng rng, before;
  dn_rng_seed(&rng, 41, DN_STREAM_INIT);
  before = rng;
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", bad[k]);
    assert_null(dn_init_resolve(bad[k], "zeros"));
    assert_int_equal(dn_last_status(), DN_ERR_ARG);
    assert_non_null(strstr(dn_last_error(), "unknown initializer"));
    assert_non_null(strstr(dn_last_error(), quoted));
    assert_status_msg(dn_init_fill(bad[k], NULL, w, 4, 2, 2, &rng), DN_ERR_ARG, quoted);
    assert_memory_equal(w, orig, sizeof w);
    assert_memory_equal(rng.s, before.s, sizeof rng.s);
  }
  assert_status_msg(dn_init_fill(NULL, NULL, w, 4, 2, 2, &rng), DN_ERR_ARG, "NULL");
  assert_memory_equal(w, orig, sizeof w);
}

/* Keras initializers this library does not implement are DN_ERR_UNSUPPORTED, not unknown. */
static void test_unsupported_names(void **state) {
  (void)state;
  float w[4] = {7.0f, 7.0f, 7.0f, 7.0f};
  const float orig[4] = {7.0f, 7.0f, 7.0f, 7.0f};
  dn_rng rng;
  dn_rng_seed(&rng, 42, DN_STREAM_INIT);
  static const char *const names[] = {"orthogonal", "Orthogonal", "identity", "Identity"};
  for (size_t k = 0; k < 4; k++) {
    assert_null(dn_init_resolve(names[k], NULL));
    assert_int_equal(dn_last_status(), DN_ERR_UNSUPPORTED);
    assert_status_msg(dn_init_fill(names[k], NULL, w, 4, 2, 2, &rng), DN_ERR_UNSUPPORTED, names[k]);
    assert_memory_equal(w, orig, sizeof w);
  }
}

/* Bad arguments: the status, a message naming what was wrong, output and rng untouched. */
static void test_bad_args(void **state) {
  (void)state;
  enum { N = 16 };
  float w[N], orig[N];
  for (size_t i = 0; i < N; i++)
    w[i] = orig[i] = (float)i + 0.5f;
  dn_rng rng, before;
  dn_rng_seed(&rng, 43, DN_STREAM_INIT);
  before = rng;

  dn_init_args args = {.minval = 1.0, .maxval = -1.0};
  assert_status_msg(dn_init_fill("random_uniform", &args, w, N, 2, 2, &rng), DN_ERR_ARG,
                    "minval (1) > maxval (-1)");
  assert_status_msg(dn_init_fill("uniform", &args, w, N, 2, 2, &rng), DN_ERR_ARG, "minval");
  args = (dn_init_args){.minval = 0.0, .maxval = INFINITY};
  assert_status_msg(dn_init_fill("random_uniform", &args, w, N, 2, 2, &rng), DN_ERR_ARG, "finite");
  args = (dn_init_args){.stddev = -0.1};
  assert_status_msg(dn_init_fill("random_normal", &args, w, N, 2, 2, &rng), DN_ERR_ARG,
                    "stddev (-0.1)");
  assert_status_msg(dn_init_fill("truncated_normal", &args, w, N, 2, 2, &rng), DN_ERR_ARG,
                    "stddev");
  args = (dn_init_args){.stddev = NAN};
  assert_status_msg(dn_init_fill("random_normal", &args, w, N, 2, 2, &rng), DN_ERR_ARG, "stddev");
  args = (dn_init_args){.mean = NAN, .stddev = 1.0};
  assert_status_msg(dn_init_fill("truncated_normal", &args, w, N, 2, 2, &rng), DN_ERR_ARG, "mean");
  args = (dn_init_args){.value = INFINITY};
  assert_status_msg(dn_init_fill("constant", &args, w, N, 2, 2, &rng), DN_ERR_ARG, "value");
  args = (dn_init_args){.value = 1e300}; /* finite in double, not in float */
  assert_status_msg(dn_init_fill("constant", &args, w, N, 2, 2, &rng), DN_ERR_ARG, "value");
  assert_memory_equal(w, orig, sizeof w);
  assert_memory_equal(rng.s, before.s, sizeof rng.s);

  assert_status_msg(dn_init_fill("he_normal", NULL, NULL, N, 2, 2, &rng), DN_ERR_ARG, "NULL");
  assert_status_msg(dn_init_fill("he_normal", NULL, w, N, 2, 2, NULL), DN_ERR_ARG, "rng");
  assert_memory_equal(w, orig, sizeof w);
  assert_memory_equal(rng.s, before.s, sizeof rng.s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_truncation_constant),
      cmocka_unit_test(test_glorot_uniform),
      cmocka_unit_test(test_he_uniform),
      cmocka_unit_test(test_lecun_uniform),
      cmocka_unit_test(test_glorot_normal),
      cmocka_unit_test(test_he_normal),
      cmocka_unit_test(test_lecun_normal),
      cmocka_unit_test(test_fan_modes),
      cmocka_unit_test(test_fans_of_1d_shape),
      cmocka_unit_test(test_fans_clamped_to_one),
      cmocka_unit_test(test_draw_order_and_exact_values),
      cmocka_unit_test(test_truncation_redraws),
      cmocka_unit_test(test_random_uniform_default),
      cmocka_unit_test(test_random_uniform_args),
      cmocka_unit_test(test_random_normal),
      cmocka_unit_test(test_truncated_normal),
      cmocka_unit_test(test_explicit_zero_args),
      cmocka_unit_test(test_null_args_are_defaults),
      cmocka_unit_test(test_constants),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_resolve_names),
      cmocka_unit_test(test_aliases_fill_the_same),
      cmocka_unit_test(test_unknown_names),
      cmocka_unit_test(test_unsupported_names),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
