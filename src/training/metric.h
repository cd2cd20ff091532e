/* metric.h -- internal: Keras 3 metrics over an epoch: running (sample-weighted) means and the
 * stateful classification metrics (confusion counts accumulated across batches). */
#ifndef DN_METRIC_H
#define DN_METRIC_H

#include <stdbool.h>
#include <stddef.h>

#include "densenet.h"

typedef struct dn_metric_def dn_metric_def; /* a row of metric.c's table */

#define DN_METRIC_NAME_CAP 48 /* a logged name, terminator included */

/* A metric's Keras constructor arguments, parsed from "name(key=value, ...)". */
typedef struct dn_metric_params {
  double threshold;      /* Precision/Recall `thresholds`, F-scores' `threshold` (NAN: None) */
  size_t top_k;          /* Precision/Recall top_k (0: None) */
  long class_id;         /* Precision/Recall class_id (-1: None) */
  size_t k;              /* the top-k accuracies' k */
  size_t num_thresholds; /* AUC */
  int curve;             /* AUC: 0 ROC, 1 PR */
  int summation;         /* AUC: 0 interpolation, 1 minoring, 2 majoring */
  bool from_logits;      /* AUC */
  int average;           /* F-scores: 0 None, 1 micro, 2 macro, 3 weighted */
  double beta;           /* FBetaScore */
} dn_metric_params;

typedef struct dn_metric {
  const dn_metric_def *def;
  char name[DN_METRIC_NAME_CAP]; /* the name as logged: the name given ("mae", "auc"), or name= */
  char val_name[DN_METRIC_NAME_CAP + 4]; /* "val_" + name */
  dn_metric_params params;
  size_t pred_cols, target_cols;
  double sum, count; /* running totals (count: the weight of the rows seen) */
  double *acc;       /* accumulators when a metric needs them (r2_score, AUC, F-scores) */
  size_t acc_len;
  size_t n_values; /* values the metric logs: 1, or the classes of an F-score with average None */
  char (*value_names)[DN_METRIC_NAME_CAP + 28]; /* n_values > 1: "f1_score[k]", then "val_..." */
} dn_metric;

/* Sets up metric `name` -- a spec: a name of the table, optionally with Keras constructor
 * arguments, "auc(curve=PR, num_thresholds=100)" -- for predictions with pred_cols columns and
 * targets with target_cols columns ("accuracy"/"acc" resolved from them as Keras does). Allocates
 * here only. Unknown name or a bad argument: DN_ERR_ARG naming it; widths that do not fit:
 * DN_ERR_SHAPE. */
dn_status dn_metric_init(dn_metric *metric, const char *name, size_t pred_cols, size_t target_cols);
/* DN_OK for a valid spec; otherwise DN_ERR_ARG with "unknown metric 'foo' (...)", a hint or the
 * names (names.h), or the bad argument. "loss" is not a metric. */
dn_status dn_metric_check_name(const char *spec);
/* The name a valid spec is logged under (its name= argument, else the name before "(") into
 * out (cap bytes, at least DN_METRIC_NAME_CAP). */
void dn_metric_log_name(const char *spec, char *out, size_t cap);
/* For the Keras files: the Keras class name of spec's metric ("AUC" for "auc(curve=PR)"), or
 * NULL for a spec that does not parse. */
const char *dn_metric_class_name(const char *spec);
/* Calls each(ctx, key, value) for every "key=value" of spec's argument list, in order (none for
 * a bare name); stops at the first status that is not DN_OK and returns it. DN_ERR_ARG for a
 * spec that does not parse. */
typedef dn_status (*dn_metric_arg_fn)(void *ctx, const char *key, const char *value);
dn_status dn_metric_spec_args(const char *spec, dn_metric_arg_fn each, void *ctx);
/* Starts a new epoch (no allocation). */
void dn_metric_reset(dn_metric *metric);
/* Adds a batch (no allocation). sample_weight may be NULL. */
void dn_metric_update(dn_metric *metric, const float *pred, const float *target, size_t rows,
                      const float *sample_weight);
/* The value over everything added since the reset (NaN if nothing was); for a metric of
 * several values, their mean. */
double dn_metric_result(const dn_metric *metric);
/* Value k (< n_values) and the name it is logged under (val: the "val_" name). */
double dn_metric_value(const dn_metric *metric, size_t k);
const char *dn_metric_value_name(const dn_metric *metric, size_t k, bool val);
void dn_metric_free(dn_metric *metric);
/* True if a larger value is better (accuracies, r2_score, AUC, ...), for monitor mode "auto";
 * a per-class name "f1_score[2]" is its metric's. */
int dn_metric_name_direction(const char *name); /* +1 max, -1 min, 0 unknown */

#endif
