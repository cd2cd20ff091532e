/* cpu.c -- run-time detection of the SIMD level (cpuid + xgetbv through the
 * compiler's __builtin_cpu_supports), capped by the DN_CPU environment variable.
 *
 * The result is computed at first use and cached in an atomic: racing first
 * calls compute the same value, so no lock is needed and the cache is
 * read-only afterwards. */
#include "core/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {"portable", "avx2", "avx512"};

const char *dn_cpu_level_name(dn_cpu_level level) {
  return level_names[level];
}

dn_cpu_level dn_cpu_level_hardware(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  /* __builtin_cpu_supports also checks that the OS saves the wider registers (xgetbv). */
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma"))
    return DN_CPU_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return DN_CPU_AVX2;
#endif
  return DN_CPU_PORTABLE;
}

/* 0 = not yet computed, else level + 1. */
static atomic_int cached;

dn_cpu_level dn_cpu_level_get(void) {
  int c = atomic_load_explicit(&cached, memory_order_relaxed);
  if (c != 0)
    return (dn_cpu_level)(c - 1);
  dn_cpu_level level = dn_cpu_level_hardware();
  const char *env = getenv("DN_CPU");
  if (env != NULL) {
    for (int i = 0; i < (int)(sizeof level_names / sizeof *level_names); i++)
      if (strcmp(env, level_names[i]) == 0 && (dn_cpu_level)i < level)
        level = (dn_cpu_level)i;
  }
  atomic_store_explicit(&cached, (int)level + 1, memory_order_relaxed);
  return level;
}
