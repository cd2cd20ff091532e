/* progress.h -- internal: fit's progress display in Keras's format (keras/src/utils/progbar.py
 * and callbacks/progbar_logger.py). */
#ifndef DN_PROGRESS_H
#define DN_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "densenet.h"

typedef struct dn_progress {
  FILE *out;
  dn_verbose mode; /* resolved: SILENT, BAR or LINES */
  bool tty;        /* colours only on a terminal */
  size_t epochs, steps;
  double (*clock)(void); /* seconds; monotonic (tests may substitute a fake) */
  double interval;       /* 0.05 s between redraws */
  /* Per-epoch state (Keras builds a new Progbar every epoch). */
  double start, last_update, after_first;
  bool have_first;
  size_t seen, prev_width;
  size_t n, cap; /* display order and running averages of the values */
  const char **keys;
  double *sum, *count;
} dn_progress;

/* AUTO resolves to BAR when isatty(fileno(out)), else LINES. max_keys bounds the number of
 * distinct values shown. DN_ERR_ARG for a verbose value outside the enum. */
dn_status dn_progress_init(dn_progress *p, FILE *out, dn_verbose verbose, size_t epochs,
                           size_t steps, size_t max_keys);
void dn_progress_free(dn_progress *p);
/* "Epoch e/E" (when E > 1) and a fresh bar. */
void dn_progress_epoch_begin(dn_progress *p, size_t epoch);
/* Takes the batch's logs (in sorted key order: the order the epoch's last line keeps); BAR also
 * redraws, at most every interval. */
void dn_progress_batch_end(dn_progress *p, size_t batch, const dn_logs *logs);
/* The final line of the epoch with the epoch's logs (val_ values included): the batches' keys
 * first, then the epoch's new ones in their order. */
void dn_progress_epoch_end(dn_progress *p, const dn_logs *logs);

#endif
