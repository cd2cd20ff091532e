/* cpu.h -- internal: which SIMD level this CPU (and the OS) supports, found
 * once at first use and read-only afterwards.
 *
 * The environment variable DN_CPU=portable|avx2|avx512, read once at that
 * first use, caps the level (for valgrind, which cannot run AVX-512, and for
 * testing); it never raises it above what the CPU supports. */
#ifndef DN_CPU_H
#define DN_CPU_H

/* Compilers and CPUs for which the library builds code with x86 target attributes (run only
 * when dn_cpu_level_get() allows). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define DN_HAVE_X86_KERNELS 1
#endif

typedef enum dn_cpu_level { DN_CPU_PORTABLE = 0, DN_CPU_AVX2 = 1, DN_CPU_AVX512 = 2 } dn_cpu_level;

/* The usable level: the CPU's, capped by DN_CPU. */
dn_cpu_level dn_cpu_level_get(void);
/* What the hardware and OS support, ignoring DN_CPU. */
dn_cpu_level dn_cpu_level_hardware(void);
/* "portable", "avx2" or "avx512". */
const char *dn_cpu_level_name(dn_cpu_level level);

#endif
