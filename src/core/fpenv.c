/* fpenv.c -- flush-to-zero / denormals-are-zero around training calls (see fpenv.h). */
#include "core/fpenv.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define DN_FP_MXCSR 1
#define DN_FTZ_DAZ 0x8040u /* FTZ (bit 15) | DAZ (bit 6) */
#endif

dn_fp_state dn_fp_current(void) {
#ifdef DN_FP_MXCSR
  return (dn_fp_state){_mm_getcsr()};
#else
  return (dn_fp_state){0};
#endif
}

dn_fp_state dn_fp_adopt(dn_fp_state state) {
  dn_fp_state old = dn_fp_current();
#ifdef DN_FP_MXCSR
  if (old.csr != state.csr)
    _mm_setcsr(state.csr);
#endif
  return old;
}

dn_fp_state dn_fp_enter(void) {
  dn_fp_state old = dn_fp_current();
#ifdef DN_FP_MXCSR
  if ((old.csr & DN_FTZ_DAZ) != DN_FTZ_DAZ)
    _mm_setcsr(old.csr | DN_FTZ_DAZ);
#endif
  return old;
}

void dn_fp_leave(dn_fp_state saved) {
  dn_fp_adopt(saved);
}
