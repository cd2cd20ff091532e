/* history.h -- internal: recording fit's per-epoch logs into a dn_history (Keras's History). */
#ifndef DN_HISTORY_H
#define DN_HISTORY_H

#include <stddef.h>

#include "densenet.h"

struct dn_history {
  size_t length, cap; /* epochs recorded / room for */
  size_t n_keys, keys_cap;
  char **keys;     /* in first-logged order */
  double **values; /* values[k][i]: key k at entry i (NaN when not logged that epoch) */
  size_t *epochs;  /* epoch index of entry i */
};

/* An empty history with room for `epochs` entries (0 is fine). */
dn_history *dn_history_new(size_t epochs);
/* Appends one epoch's logs (new keys get NaN for earlier entries). Allocates only for a
 * key not seen before or past the initial room. */
dn_status dn_history_record(dn_history *history, size_t epoch, const dn_logs *logs);

#endif
