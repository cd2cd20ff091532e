/* source.h -- internal: the batch-source object behind dn_source (densenet.h, "Data that
 * streams"). Every reader of a source (fit, evaluate, predict, Normalization's adapt, the MPI
 * fit) goes through dn_source_reset at the start of a pass and dn_source_pull for each batch. */
#ifndef DN_SOURCE_H
#define DN_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "densenet.h"

struct dn_source {
  dn_source_options o; /* as given (callbacks, state, widths, steps) */
  bool dirty;          /* read since it was made or last reset */
};

/* One batch into x (cap x x_cols) and y (cap x y_cols, NULL when y_cols is 0): *rows gets the
 * rows written (0: the pass ended). A failing callback's status is returned with its message,
 * or, when it left none, a message naming the status (the caller adds its context with
 * dn_error_context). A count above cap is DN_ERR_ARG. Allocates nothing. */
dn_status dn_source_pull(dn_source *s, float *x, float *y, size_t cap, size_t *rows);

/* dn_source_reset with messages prefixed by fn. */
dn_status dn_source_begin_pass(dn_source *s, const char *fn);

#endif
