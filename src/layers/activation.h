/* activation.h -- internal: the table of Keras 3 activations (forward and backward).
 *
 * Every row works on a rows x cols matrix (row-major). Elementwise functions
 * treat it as rows*cols values; softmax and log_softmax work along each row
 * (Keras axis=-1). Both functions may run in place (y == x, dx == dy).
 */
#ifndef DN_ACTIVATION_H
#define DN_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dn_act {
  const char *name; /* canonical Keras name ("silu" for "swish") */
  /* y = f(x) */
  void (*forward)(float *y, const float *x, size_t rows, size_t cols);
  /* dx = dL/dx given dy = dL/dy, the input x and the output y = f(x). */
  void (*backward)(float *dx, const float *dy, const float *x, const float *y, size_t rows,
                   size_t cols);
} dn_act;

/* Looks a name or alias up ("swish" -> silu). NULL or "linear" gives the
 * linear row. Unknown names: NULL with DN_ERR_ARG "unknown activation 'foo'". */
const dn_act *dn_act_find(const char *name);
/* True for the identity (linear) row: callers may skip it. */
bool dn_act_is_linear(const dn_act *act);

#endif
