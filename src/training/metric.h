/* metric.h -- internal: Keras 3 metrics as running (sample-weighted) means over an epoch. */
#ifndef DN_METRIC_H
#define DN_METRIC_H

#include <stddef.h>

#include "densenet.h"

typedef struct dn_metric_def dn_metric_def; /* a row of metric.c's table */

typedef struct dn_metric {
  const dn_metric_def *def;
  char name[48]; /* the name as logged: the name the user gave ("mae", "accuracy") */
  size_t pred_cols, target_cols;
  double sum, count; /* running totals */
  double *acc;       /* per-column accumulators when a metric needs them (r2_score) */
  size_t acc_len;
} dn_metric;

/* Sets up metric `name` for predictions with pred_cols columns and targets
 * with target_cols columns ("accuracy"/"acc" resolved from them as Keras
 * does). Allocates here only. Unknown name: DN_ERR_ARG naming it. */
dn_status dn_metric_init(dn_metric *metric, const char *name, size_t pred_cols, size_t target_cols);
/* DN_OK for a metric name of the table; otherwise DN_ERR_ARG with "unknown metric 'foo' (...)",
 * a hint or the names (names.h). "loss" is not a metric. */
dn_status dn_metric_check_name(const char *name);
/* Starts a new epoch (no allocation). */
void dn_metric_reset(dn_metric *metric);
/* Adds a batch (no allocation). sample_weight may be NULL. */
void dn_metric_update(dn_metric *metric, const float *pred, const float *target, size_t rows,
                      const float *sample_weight);
/* The value over everything added since the reset (NaN if nothing was). */
double dn_metric_result(const dn_metric *metric);
void dn_metric_free(dn_metric *metric);
/* True if a larger value is better (accuracies, r2_score), for monitor mode "auto". */
int dn_metric_name_direction(const char *name); /* +1 max, -1 min, 0 unknown */

#endif
