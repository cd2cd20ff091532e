/* rng.h -- internal: a small seeded PRNG (xoshiro256**, seeded by splitmix64). */
#ifndef DN_RNG_H
#define DN_RNG_H

#include <stdint.h>

typedef struct dn_rng {
  uint64_t s[4];
} dn_rng;

/* Independent streams of one model seed. */
enum { DN_STREAM_INIT = 1, DN_STREAM_SHUFFLE = 2, DN_STREAM_DROPOUT = 3, DN_STREAM_SPLIT = 4 };

/* Seeds `rng` from (seed, stream): the same pair gives the same sequence. */
void dn_rng_seed(dn_rng *rng, uint64_t seed, uint64_t stream);
uint64_t dn_rng_next(dn_rng *rng);
/* Uniform in [0, 1): 24 random bits (float) / 53 random bits (double). */
float dn_rng_uniform(dn_rng *rng);
double dn_rng_uniform_double(dn_rng *rng);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint64_t dn_rng_below(dn_rng *rng, uint64_t n);
/* Standard normal N(0, 1) (Box-Muller; two uniforms per draw, no cache). */
double dn_rng_normal(dn_rng *rng);

#endif
