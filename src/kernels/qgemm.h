/* qgemm.h -- internal: the int8 product of the quantized Dense layer (int8.md).
 *
 * C (N x Op, int32) = X (N x Kp, uint8 in 0..127) . W (Kp x Op, int8 in -127..127), exact in
 * int32 for Kp <= DN_QGEMM_MAX_K. W is packed once (dn_qgemm_pack): Op = O rounded up to 8 and
 * Kp = K rounded up to 4, zeros in the padding; block b of 8 columns holds, for each group q of 4
 * inputs, 32 bytes: column c's 4 weights W[4q..4q+3][8b+c] at bytes 4c..4c+3. The AVX2 path
 * multiplies with vpmaddubsw (u8 x s8 pairs summed into int16: 2 * 127 * 127 = 32258 never
 * saturates, which is why activations use 0..127) and vpmaddwd; the portable path loops over
 * the same layout. Integer sums are exact, so both give the same C bit for bit.
 */
#ifndef DN_QGEMM_H
#define DN_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"

/* The largest K whose sums of 127 * 127 products (and their zero-point corrections) fit int32. */
#define DN_QGEMM_MAX_K ((size_t)INT32_MAX / (127 * 127))

static inline size_t dn_qgemm_kpad(size_t k) {
  return (k + 3) / 4 * 4;
}
static inline size_t dn_qgemm_opad(size_t o) {
  return (o + 7) / 8 * 8;
}

typedef void (*dn_qgemm_fn)(int32_t *C, const uint8_t *X, const int8_t *Wp, size_t N, size_t Kp,
                            size_t Op);

/* Packs W (K x O row-major, Keras kernel layout) into Wp (Kp x Op bytes, the layout above). */
void dn_qgemm_pack(int8_t *Wp, const int8_t *W, size_t K, size_t O);
/* The product on the fastest path this CPU has (dn_cpu_level_get). */
void dn_qgemm(int32_t *C, const uint8_t *X, const int8_t *Wp, size_t N, size_t Kp, size_t Op);
/* The path for a level (a lower one where the level's is not built): for tests and benches. */
dn_qgemm_fn dn_qgemm_for(dn_cpu_level level);

#endif
