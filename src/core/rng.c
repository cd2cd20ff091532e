/* rng.c -- xoshiro256** seeded through splitmix64; uniform, integer, normal draws. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

void dn_rng_seed(dn_rng *rng, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03u);
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&x);
}

uint64_t dn_rng_next(dn_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float dn_rng_uniform(dn_rng *rng) {
  return (float)(dn_rng_next(rng) >> 40) * 0x1p-24f;
}

double dn_rng_uniform_double(dn_rng *rng) {
  return (double)(dn_rng_next(rng) >> 11) * 0x1p-53;
}

uint64_t dn_rng_below(dn_rng *rng, uint64_t n) {
  if (n <= 1)
    return 0;
  /* Rejection sampling on the top of the range keeps it unbiased: draws at or above
   * limit = UINT64_MAX - UINT64_MAX % n are redrawn. limit > UINT64_MAX - n, so the division
   * that gives it is only needed for the rare draw above that (one in 2^64 / n). */
  uint64_t r = dn_rng_next(rng);
  if (r > UINT64_MAX - n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    while (r >= limit)
      r = dn_rng_next(rng);
  }
  return r % n;
}

double dn_rng_normal(dn_rng *rng) {
  double u1 = 1.0 - dn_rng_uniform_double(rng); /* (0, 1]: log is finite */
  double u2 = dn_rng_uniform_double(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
