/* fpenv.h -- internal: flush-to-zero / denormals-are-zero for the duration of a
 * training call, restoring the caller's floating-point control state after.
 *
 * Why: Adam's moment estimates of units that stop receiving gradient decay
 * into the denormal range, where every operation on them is ~100x slower.
 * TensorFlow's CPU runtime sets the same flags around its kernels.
 *
 * On x86 this is the SSE control register (MXCSR: FTZ bit 15, DAZ bit 6),
 * which is per thread: OpenMP workers adopt the caller's state for the length
 * of a parallel region (dn_fp_adopt) and restore their own after. Elsewhere
 * these functions do nothing. */
#ifndef DN_FPENV_H
#define DN_FPENV_H

typedef struct dn_fp_state {
  unsigned int csr; /* the saved control register (0 where unsupported) */
} dn_fp_state;

/* Saves this thread's state and turns flush-to-zero and denormals-are-zero on. */
dn_fp_state dn_fp_enter(void);
/* Restores a state saved by dn_fp_enter (or dn_fp_adopt). */
void dn_fp_leave(dn_fp_state saved);
/* This thread's current state. */
dn_fp_state dn_fp_current(void);
/* Installs `state` on this thread and returns the one it replaced. */
dn_fp_state dn_fp_adopt(dn_fp_state state);

#endif
