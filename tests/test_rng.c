/* test_rng.c -- the seeded PRNG: known values (published vectors and an independent
 * reimplementation), determinism per (seed, stream), and the moments of every draw. */
#include "dn_test.h"

#include <stdint.h>

#include "core/rng.h"

/* ---- an independent reimplementation of what rng.c documents ---------------------------------
 * splitmix64 (Steele, Lea, Flood 2014) run from x = seed ^ (stream * 0xD1B54A32D192ED03) gives the
 * four state words of xoshiro256** (Blackman, Vigna 2018). */

static uint64_t ref_splitmix64(uint64_t *x) {
  *x += UINT64_C(0x9E3779B97F4A7C15);
  uint64_t z = *x;
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static uint64_t ref_rotl(uint64_t x, unsigned k) {
  return (x << k) | (x >> (64u - k));
}

typedef struct ref_rng {
  uint64_t s[4];
} ref_rng;

static void ref_seed(ref_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * UINT64_C(0xD1B54A32D192ED03));
  for (int i = 0; i < 4; i++)
    r->s[i] = ref_splitmix64(&x);
}

static uint64_t ref_next(ref_rng *r) {
  uint64_t *s = r->s;
  const uint64_t out = ref_rotl(s[1] * 5u, 7) * 9u;
  const uint64_t t = s[1] << 17;
  uint64_t n0 = s[0] ^ s[3] ^ s[1]; /* s0 ^= s3 (after s3 ^= s1) */
  uint64_t n1 = s[1] ^ s[2] ^ s[0]; /* s1 ^= s2 (after s2 ^= s0) */
  uint64_t n2 = s[2] ^ s[0] ^ t;    /* s2 ^= s0, then ^= t */
  uint64_t n3 = ref_rotl(s[3] ^ s[1], 45);
  s[0] = n0;
  s[1] = n1;
  s[2] = n2;
  s[3] = n3;
  return out;
}

/* ---- known values ---------------------------------------------------------------------------- */

/* splitmix64 from x = 0: the widely published first outputs; with seed 0, stream 0 they are
 * the initial state words. */
static void test_seed_state_known_values(void **state) {
  (void)state;
  dn_rng rng;
  dn_rng_seed(&rng, 0, 0);
  assert_int_equal(rng.s[0], UINT64_C(0xe220a8397b1dcdaf));
  assert_int_equal(rng.s[1], UINT64_C(0x6e789e6aa1b965f4));
  assert_int_equal(rng.s[2], UINT64_C(0x06c45d188009454f));
  assert_int_equal(rng.s[3], UINT64_C(0xf88bb8a8724c81ec));
}

/* xoshiro256** from the state {1, 2, 3, 4}: the reference vector used by rand_xoshiro's tests. */
static void test_next_published_vector(void **state) {
  (void)state;
  static const uint64_t expected[10] = {
      UINT64_C(11520),
      UINT64_C(0),
      UINT64_C(1509978240),
      UINT64_C(1215971899390074240),
      UINT64_C(1216172134540287360),
      UINT64_C(607988272756665600),
      UINT64_C(16172922978634559625),
      UINT64_C(8476171486693032832),
      UINT64_C(10595114339597558777),
      UINT64_C(2904607092377533576),
  };
  dn_rng rng = {{1, 2, 3, 4}};
  for (int i = 0; i < 10; i++)
    assert_int_equal(dn_rng_next(&rng), expected[i]);
}

/* Seeded outputs worked out with a third implementation (Python, arbitrary-precision integers
 * masked to 64 bits) for (seed 42, stream DN_STREAM_INIT) and (0, 0). */
static void test_seeded_known_values(void **state) {
  (void)state;
  dn_rng rng;
  dn_rng_seed(&rng, 42, DN_STREAM_INIT);
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0x0030425e2a3dc334));
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0x057e19f0156c8a6b));
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0x8c5c18f37d24dfd8));
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0x08788a1a2c75e2c4));
  dn_rng_seed(&rng, 0, 0);
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0x99ec5f36cb75f2b4));
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0xbf6e1f784956452a));
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0x1a5f849d4933e6e0));
  assert_int_equal(dn_rng_next(&rng), UINT64_C(0x6aa594f1262d2d2c));
}

/* Every draw, bit for bit, against the reimplementation over several (seed, stream) pairs. */
static void test_matches_reference_implementation(void **state) {
  (void)state;
  static const uint64_t seeds[][2] = {{0, 0},
                                      {1, DN_STREAM_INIT},
                                      {42, DN_STREAM_SHUFFLE},
                                      {UINT64_MAX, DN_STREAM_DROPOUT},
                                      {UINT64_C(0x123456789abcdef0), DN_STREAM_SPLIT}};
  for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
    dn_rng rng;
    ref_rng ref;
    dn_rng_seed(&rng, seeds[k][0], seeds[k][1]);
    ref_seed(&ref, seeds[k][0], seeds[k][1]);
    for (int i = 0; i < 4; i++)
      assert_int_equal(rng.s[i], ref.s[i]);
    for (int i = 0; i < 1000; i++)
      assert_int_equal(dn_rng_next(&rng), ref_next(&ref));
    /* float: top 24 bits / 2^24; double: top 53 bits / 2^53. */
    for (int i = 0; i < 100; i++) {
      float u = dn_rng_uniform(&rng);
      float want = (float)(ref_next(&ref) >> 40) / 16777216.0f;
      assert_memory_equal(&u, &want, sizeof u);
      double d = dn_rng_uniform_double(&rng);
      double dwant = (double)(ref_next(&ref) >> 11) / 9007199254740992.0;
      assert_memory_equal(&d, &dwant, sizeof d);
    }
    /* Box-Muller: sqrt(-2 ln(1 - u1)) cos(2 pi u2), u1 and u2 53-bit uniforms. */
    for (int i = 0; i < 100; i++) {
      double z = dn_rng_normal(&rng);
      double u1 = (double)(ref_next(&ref) >> 11) / 9007199254740992.0;
      double u2 = (double)(ref_next(&ref) >> 11) / 9007199254740992.0;
      double want = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * 3.14159265358979323846 * u2);
      assert_memory_equal(&z, &want, sizeof z);
    }
  }
}

/* ---- determinism ----------------------------------------------------------------------------- */

static void test_same_seed_same_sequence(void **state) {
  (void)state;
  dn_rng a, b;
  dn_rng_seed(&a, 2024, DN_STREAM_SHUFFLE);
  dn_rng_seed(&b, 2024, DN_STREAM_SHUFFLE);
  for (int i = 0; i < 10000; i++)
    assert_int_equal(dn_rng_next(&a), dn_rng_next(&b));
  /* Re-seeding restarts the sequence. */
  dn_rng_seed(&a, 2024, DN_STREAM_SHUFFLE);
  dn_rng_seed(&b, 2024, DN_STREAM_SHUFFLE);
  for (int i = 0; i < 100; i++) {
    double za = dn_rng_normal(&a), zb = dn_rng_normal(&b);
    assert_memory_equal(&za, &zb, sizeof za);
  }
}

/* Count of equal outputs at equal positions over 1000 draws (expected ~0 for unrelated). */
static int coincidences(uint64_t seed_a, uint64_t stream_a, uint64_t seed_b, uint64_t stream_b) {
  dn_rng a, b;
  dn_rng_seed(&a, seed_a, stream_a);
  dn_rng_seed(&b, seed_b, stream_b);
  int same = 0;
  for (int i = 0; i < 1000; i++)
    same += dn_rng_next(&a) == dn_rng_next(&b);
  return same;
}

static void test_streams_and_seeds_differ(void **state) {
  (void)state;
  const uint64_t streams[] = {0, DN_STREAM_INIT, DN_STREAM_SHUFFLE, DN_STREAM_DROPOUT,
                              DN_STREAM_SPLIT};
  for (size_t i = 0; i < 5; i++)
    for (size_t j = i + 1; j < 5; j++)
      assert_int_equal(coincidences(7, streams[i], 7, streams[j]), 0);
  assert_int_equal(coincidences(7, DN_STREAM_INIT, 8, DN_STREAM_INIT), 0);
  assert_int_equal(coincidences(0, DN_STREAM_INIT, 1, DN_STREAM_INIT), 0);
  /* Also the sequence is not shifted: stream 2's first output is not among stream 1's first. */
  dn_rng a, b;
  dn_rng_seed(&a, 7, DN_STREAM_INIT);
  dn_rng_seed(&b, 7, DN_STREAM_SHUFFLE);
  uint64_t first_b = dn_rng_next(&b);
  for (int i = 0; i < 1000; i++)
    assert_true(dn_rng_next(&a) != first_b);
}

/* ---- moments --------------------------------------------------------------------------------- */

#define N_DRAWS (1 << 20)

/* Uniform [0,1): mean 1/2 (SE sqrt(1/12/N) = 2.8e-4), variance 1/12 (SE sqrt(1/180/N) =
 * 7.3e-5); bounds are 5 standard errors. */
static void test_uniform_float_moments(void **state) {
  (void)state;
  dn_rng rng;
  dn_rng_seed(&rng, 11, DN_STREAM_INIT);
  double sum = 0.0, sum2 = 0.0;
  float lo = 1.0f, hi = 0.0f;
  for (int i = 0; i < N_DRAWS; i++) {
    float u = dn_rng_uniform(&rng);
    assert_true(u >= 0.0f && u < 1.0f);
    lo = u < lo ? u : lo;
    hi = u > hi ? u : hi;
    sum += u;
    sum2 += (double)u * u;
  }
  double mean = sum / N_DRAWS, var = sum2 / N_DRAWS - mean * mean;
  assert_close(mean, 0.5, 5.0 * sqrt(1.0 / 12.0 / N_DRAWS), 0.0);
  assert_close(var, 1.0 / 12.0, 5.0 * sqrt(1.0 / 180.0 / N_DRAWS), 0.0);
  assert_true(lo < 1e-5f && hi > 1.0f - 1e-5f); /* the range is covered */
}

static void test_uniform_double_moments(void **state) {
  (void)state;
  dn_rng rng;
  dn_rng_seed(&rng, 12, DN_STREAM_DROPOUT);
  double sum = 0.0, sum2 = 0.0;
  int below_2_24 = 0; /* values finer than float's grid show the 53 bits are used */
  for (int i = 0; i < N_DRAWS; i++) {
    double u = dn_rng_uniform_double(&rng);
    assert_true(u >= 0.0 && u < 1.0);
    below_2_24 += u * 16777216.0 != floor(u * 16777216.0);
    sum += u;
    sum2 += u * u;
  }
  double mean = sum / N_DRAWS, var = sum2 / N_DRAWS - mean * mean;
  assert_close(mean, 0.5, 5.0 * sqrt(1.0 / 12.0 / N_DRAWS), 0.0);
  assert_close(var, 1.0 / 12.0, 5.0 * sqrt(1.0 / 180.0 / N_DRAWS), 0.0);
  assert_true(below_2_24 > N_DRAWS - 10);
}

/* The extremes of the conversions: all-ones bits stay below 1, zero bits give 0. */
static void test_uniform_extremes(void **state) {
  (void)state;
  /* A state whose next output is 0: {1,2,3,4} gives 11520 then 0 (published vector). */
  dn_rng rng = {{1, 2, 3, 4}};
  (void)dn_rng_next(&rng);
  assert_true(dn_rng_uniform(&rng) == 0.0f);
  rng = (dn_rng){{1, 2, 3, 4}};
  (void)dn_rng_next(&rng);
  assert_true(dn_rng_uniform_double(&rng) == 0.0);
  /* dn_rng_normal with u1 = 0 must stay finite (it uses 1 - u1 in (0, 1]). */
  rng = (dn_rng){{1, 2, 3, 4}};
  (void)dn_rng_next(&rng);
  assert_true(isfinite(dn_rng_normal(&rng)));
  /* The largest conversions: (2^24 - 1) / 2^24 and (2^53 - 1) / 2^53 are < 1 exactly. */
  assert_true((float)(UINT64_MAX >> 40) * 0x1p-24f < 1.0f);
  assert_true((double)(UINT64_MAX >> 11) * 0x1p-53 < 1.0);
}

/* Chi-square of 7 buckets over 70000 draws, 6 degrees of freedom: P(chi2 > 38.26) = 1e-6
 * (closed form for even dof: Q(x) = e^(-x/2) (1 + x/2 + (x/2)^2 / 2)). */
static void test_below_chi_square(void **state) {
  (void)state;
  enum { BUCKETS = 7, DRAWS = 70000 };
  dn_rng rng;
  dn_rng_seed(&rng, 99, DN_STREAM_SHUFFLE);
  long count[BUCKETS] = {0};
  for (int i = 0; i < DRAWS; i++) {
    uint64_t k = dn_rng_below(&rng, BUCKETS);
    assert_true(k < BUCKETS);
    count[k]++;
  }
  double expected = (double)DRAWS / BUCKETS, chi2 = 0.0;
  for (int k = 0; k < BUCKETS; k++)
    chi2 += (count[k] - expected) * (count[k] - expected) / expected;
  if (!(chi2 < 38.26)) {
    print_error("chi-square %g over 7 buckets\n", chi2);
    fail();
  }
  /* The chi-square must also not be implausibly small (P(chi2 < 0.3) ~ 5e-4 at 6 dof):
   * a counter instead of a generator would give 0. */
  assert_true(chi2 > 0.3);
}

static void test_below_edges(void **state) {
  (void)state;
  dn_rng rng;
  dn_rng_seed(&rng, 5, DN_STREAM_SPLIT);
  for (int i = 0; i < 100; i++)
    assert_int_equal(dn_rng_below(&rng, 1), 0);
  for (int i = 0; i < 1000; i++)
    assert_true(dn_rng_below(&rng, 2) < 2);
  for (int i = 0; i < 1000; i++)
    assert_true(dn_rng_below(&rng, UINT64_MAX) < UINT64_MAX);
  /* n = 3 * 2^62: without rejection r % n would put half of the draws below 2^62; unbiased
   * is a third (SE sqrt(2/9/N) = 1.5e-3 at N = 100000; bound 5 SE). */
  const uint64_t n = UINT64_C(3) << 62;
  int low = 0;
  const int draws = 100000;
  for (int i = 0; i < draws; i++) {
    uint64_t k = dn_rng_below(&rng, n);
    assert_true(k < n);
    low += k < (UINT64_C(1) << 62);
  }
  assert_close((double)low / draws, 1.0 / 3.0, 5.0 * sqrt(2.0 / 9.0 / draws), 0.0);
}

/* N(0,1): mean 0 (SE 1/sqrt(N)), variance 1 (SE sqrt(2/N)), fourth moment 3 (SE sqrt(96/N)),
 * P(|z| > 2) = erfc(sqrt 2) = 0.0455 (binomial SE); bounds are 5 SE. */
static void test_normal_moments(void **state) {
  (void)state;
  dn_rng rng;
  dn_rng_seed(&rng, 13, DN_STREAM_INIT);
  double sum = 0.0, sum2 = 0.0, sum4 = 0.0;
  long tail = 0;
  for (int i = 0; i < N_DRAWS; i++) {
    double z = dn_rng_normal(&rng);
    assert_true(isfinite(z));
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
    tail += fabs(z) > 2.0;
  }
  double mean = sum / N_DRAWS, m2 = sum2 / N_DRAWS, m4 = sum4 / N_DRAWS;
  assert_close(mean, 0.0, 5.0 / sqrt(N_DRAWS), 0.0);
  assert_close(m2, 1.0, 5.0 * sqrt(2.0 / N_DRAWS), 0.0);
  assert_close(m4, 3.0, 5.0 * sqrt(96.0 / N_DRAWS), 0.0);
  double p = erfc(sqrt(2.0));
  assert_close((double)tail / N_DRAWS, p, 5.0 * sqrt(p * (1.0 - p) / N_DRAWS), 0.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seed_state_known_values),
      cmocka_unit_test(test_next_published_vector),
      cmocka_unit_test(test_seeded_known_values),
      cmocka_unit_test(test_matches_reference_implementation),
      cmocka_unit_test(test_same_seed_same_sequence),
      cmocka_unit_test(test_streams_and_seeds_differ),
      cmocka_unit_test(test_uniform_float_moments),
      cmocka_unit_test(test_uniform_double_moments),
      cmocka_unit_test(test_uniform_extremes),
      cmocka_unit_test(test_below_chi_square),
      cmocka_unit_test(test_below_edges),
      cmocka_unit_test(test_normal_moments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
