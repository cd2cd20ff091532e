/* metric.c -- the table of Keras 3 metrics, kept as running sample-weighted means over an epoch.
 *
 * Rows x cols: every batch is `rows` samples; a prediction row has P = pred_cols
 * values, a target row T = target_cols (T = P, or T = 1 for class indices).
 *
 * Function-style metrics (mae, mse, mape, the accuracies) follow Keras's
 * MeanMetricWrapper: a per-sample value v_i (a mean over the columns) and
 * result = sum(w_i * v_i) / sum(w_i) over everything since the reset.
 * RootMeanSquaredError is the square root of that running mean of squares.
 * R2Score keeps per-column weighted sums, as Keras does.
 *
 * Deviation from Keras: with no weight seen (nothing added, or all weights 0)
 * the result is NaN; Keras's Mean returns 0 there (divide_no_nan).
 */
#include "training/metric.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/names.h"
#include "core/status.h"

/* keras.config.epsilon() as the float32 Keras computes with. */
#define DN_METRIC_EPSILON ((double)1e-7f)
#define DN_BINARY_THRESHOLD 0.5f

typedef enum dn_metric_kind {
  DN_METRIC_MEAN,    /* running weighted mean of a per-sample value */
  DN_METRIC_RMSE,    /* sqrt of the running mean of per-sample mean squares */
  DN_METRIC_R2,      /* R2Score from per-column sums */
  DN_METRIC_RESOLVE, /* "accuracy": picks a concrete row from the shapes */
} dn_metric_kind;

typedef enum dn_metric_target {
  DN_TARGET_SAME,  /* targets have as many columns as the predictions */
  DN_TARGET_INDEX, /* targets are one column of class indices */
} dn_metric_target;

#define DN_METRIC_MAX_NAMES 5

struct dn_metric_def {
  const char *names[DN_METRIC_MAX_NAMES]; /* Keras function name first, then aliases */
  bool any_case;                          /* matched case-insensitively (as Keras's "accuracy") */
  int direction;                          /* +1 larger is better, -1 smaller is better */
  dn_metric_kind kind;
  dn_metric_target target;
  /* The per-sample value of one prediction row p and its target row t. */
  double (*sample)(const float *p, const float *t, size_t cols);
};

/* ---- per-sample values ---- */

static double sample_mae(const float *p, const float *t, size_t cols) {
  double s = 0.0;
  for (size_t j = 0; j < cols; j++)
    s += fabs((double)t[j] - (double)p[j]);
  return s / (double)cols;
}

static double sample_mse(const float *p, const float *t, size_t cols) {
  double s = 0.0;
  for (size_t j = 0; j < cols; j++) {
    double e = (double)t[j] - (double)p[j];
    s += e * e;
  }
  return s / (double)cols;
}

static double sample_mape(const float *p, const float *t, size_t cols) {
  double s = 0.0;
  for (size_t j = 0; j < cols; j++) {
    double d = fabs((double)t[j]);
    s += fabs((double)t[j] - (double)p[j]) / (d > DN_METRIC_EPSILON ? d : DN_METRIC_EPSILON);
  }
  return 100.0 * s / (double)cols;
}

static double sample_binary_accuracy(const float *p, const float *t, size_t cols) {
  size_t hits = 0;
  for (size_t j = 0; j < cols; j++) {
    float label = p[j] > DN_BINARY_THRESHOLD ? 1.0f : 0.0f; /* strictly above */
    hits += (t[j] == label);
  }
  return (double)hits / (double)cols;
}

/* First index of the largest value (numpy's argmax on ties). */
static size_t argmax(const float *v, size_t n) {
  size_t best = 0;
  for (size_t j = 1; j < n; j++)
    if (v[j] > v[best])
      best = j;
  return best;
}

static double sample_categorical_accuracy(const float *p, const float *t, size_t cols) {
  return argmax(p, cols) == argmax(t, cols) ? 1.0 : 0.0;
}

static double sample_sparse_categorical_accuracy(const float *p, const float *t, size_t cols) {
  return (float)argmax(p, cols) == t[0] ? 1.0 : 0.0; /* Keras casts the argmax to y_true's type */
}

/* ---- the table ---- */

/* clang-format off */
static const dn_metric_def metric_table[] = {
  /* {names: Keras function name, aliases, class name},
   *  any_case, direction, kind, target, per-sample value */
  {{"mean_absolute_error", "mae", "MAE", "MeanAbsoluteError"},
   false, -1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_mae},
  {{"mean_squared_error", "mse", "MSE", "MeanSquaredError"},
   false, -1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_mse},
  /* "rmse" is ours: Keras 3 has no such alias */
  {{"root_mean_squared_error", "rmse", "RootMeanSquaredError"},
   false, -1, DN_METRIC_RMSE, DN_TARGET_SAME, sample_mse},
  {{"mean_absolute_percentage_error", "mape", "MAPE", "MeanAbsolutePercentageError"},
   false, -1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_mape},
  {{"r2_score", "R2Score"},
   false, +1, DN_METRIC_R2, DN_TARGET_SAME, NULL},
  {{"binary_accuracy", "BinaryAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_binary_accuracy},
  {{"categorical_accuracy", "CategoricalAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_categorical_accuracy},
  {{"sparse_categorical_accuracy", "SparseCategoricalAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_INDEX, sample_sparse_categorical_accuracy},
  /* resolved from the shapes to one of the three rows above, as Keras does */
  {{"accuracy", "acc"},
   true, +1, DN_METRIC_RESOLVE, DN_TARGET_SAME, NULL},
};
/* clang-format on */

#define DN_METRIC_COUNT (sizeof metric_table / sizeof metric_table[0])

static const dn_metric_def *find_def(const char *name) {
  for (size_t i = 0; i < DN_METRIC_COUNT; i++) {
    const dn_metric_def *d = &metric_table[i];
    for (int k = 0; k < DN_METRIC_MAX_NAMES && d->names[k] != NULL; k++) {
      if (d->any_case ? dn_same_ignoring_case(name, d->names[k]) : strcmp(name, d->names[k]) == 0)
        return d;
    }
  }
  return NULL;
}

/* Keras's compile_utils.get_metric for "accuracy"/"acc": last dim of y_pred 1
 * -> binary; y_true last dim 1 and y_pred last dim > 1 -> sparse; else categorical. */
static const dn_metric_def *resolve_accuracy(size_t pred_cols, size_t target_cols) {
  if (pred_cols == 1)
    return find_def("binary_accuracy");
  if (target_cols == 1)
    return find_def("sparse_categorical_accuracy");
  return find_def("categorical_accuracy");
}

/* Every accepted name in table order, for the unknown-name message. */
static const char *metric_name_at(const void *unused, size_t index) {
  (void)unused;
  for (size_t i = 0; i < DN_METRIC_COUNT; i++)
    for (int k = 0; k < DN_METRIC_MAX_NAMES && metric_table[i].names[k] != NULL; k++, index--)
      if (index == 0)
        return metric_table[i].names[k];
  return "";
}

dn_status dn_metric_check_name(const char *name) {
  if (name != NULL && strcmp(name, "loss") == 0)
    return dn_fail(DN_ERR_ARG, "unknown metric 'loss' (the loss is always logged; it is not a "
                               "metric)");
  if (name != NULL && find_def(name) != NULL)
    return DN_OK;
  size_t count = 0;
  for (size_t i = 0; i < DN_METRIC_COUNT; i++)
    for (int k = 0; k < DN_METRIC_MAX_NAMES && metric_table[i].names[k] != NULL; k++)
      count++;
  return dn_fail_unknown_name("metric", name ? name : "(null)", metric_name_at, NULL, count);
}

/* ---- lifecycle ---- */

/* R2Score's accumulators, 4 per column plus one flag, each column shifted by
 * its first target value for accuracy (the same formula, less cancellation). */
#define R2_SHIFT 0
#define R2_SUM 1      /* sum w (y - K) */
#define R2_SQUARES 2  /* sum w (y - K)^2 */
#define R2_RESIDUAL 3 /* sum w (y - p)^2 */
#define R2_SLOTS 4

dn_status dn_metric_init(dn_metric *metric, const char *name, size_t pred_cols,
                         size_t target_cols) {
  DN_CHECK_NOT_NULL(metric, "dn_metric_init");
  DN_CHECK_NOT_NULL(name, "dn_metric_init");
  const dn_metric_def *def = find_def(name);
  if (def == NULL) {
    dn_metric_check_name(name);
    dn_error_context("dn_metric_init");
    return DN_ERR_ARG;
  }
  if (strlen(name) >= sizeof metric->name) /* no table name is this long */
    return dn_fail(DN_ERR_ARG, "dn_metric_init: metric name '%s' is too long", name);
  if (pred_cols == 0 || target_cols == 0)
    return dn_fail(DN_ERR_ARG,
                   "dn_metric_init: metric '%s' needs pred_cols and target_cols > 0 (got %zu "
                   "and %zu)",
                   name, pred_cols, target_cols);
  if (def->kind == DN_METRIC_RESOLVE)
    def = resolve_accuracy(pred_cols, target_cols);
  if (def->target == DN_TARGET_SAME && target_cols != pred_cols)
    return dn_fail(DN_ERR_SHAPE,
                   "dn_metric_init: metric '%s' (%s) needs targets with as many columns as the "
                   "predictions (%zu), got %zu",
                   name, def->names[0], pred_cols, target_cols);
  if (def->target == DN_TARGET_INDEX && target_cols != 1)
    return dn_fail(DN_ERR_SHAPE,
                   "dn_metric_init: metric '%s' (%s) needs targets of 1 column of class "
                   "indices, got %zu columns",
                   name, def->names[0], target_cols);

  double *acc = NULL;
  size_t acc_len = 0;
  if (def->kind == DN_METRIC_R2) {
    if (!dn_mul_size(pred_cols, R2_SLOTS, &acc_len, "dn_metric_init") || acc_len == SIZE_MAX)
      return dn_fail(DN_ERR_SHAPE, "dn_metric_init: r2_score over %zu columns is too large",
                     pred_cols);
    acc_len += 1; /* the "shift chosen" flag */
    acc = dn_calloc(acc_len, sizeof(double));
    if (acc == NULL)
      return dn_fail(DN_ERR_NOMEM, "dn_metric_init: out of memory for metric '%s' (%zu columns)",
                     name, pred_cols);
  }

  dn_metric out = {0};
  out.def = def;
  memcpy(out.name, name, strlen(name) + 1);
  out.pred_cols = pred_cols;
  out.target_cols = target_cols;
  out.acc = acc;
  out.acc_len = acc_len;
  *metric = out;
  return DN_OK;
}

void dn_metric_reset(dn_metric *metric) {
  if (metric == NULL)
    return;
  metric->sum = 0.0;
  metric->count = 0.0;
  for (size_t i = 0; i < metric->acc_len; i++)
    metric->acc[i] = 0.0;
}

void dn_metric_free(dn_metric *metric) {
  if (metric == NULL)
    return;
  dn_free(metric->acc);
  *metric = (dn_metric){0};
}

/* ---- accumulation ---- */

static void r2_update(dn_metric *m, const float *pred, const float *target, size_t rows,
                      const float *sample_weight) {
  size_t P = m->pred_cols;
  double *shift = m->acc + R2_SHIFT * P, *sum = m->acc + R2_SUM * P;
  double *squares = m->acc + R2_SQUARES * P, *residual = m->acc + R2_RESIDUAL * P;
  double *shift_set = m->acc + R2_SLOTS * P;
  if (*shift_set == 0.0) {
    for (size_t j = 0; j < P; j++)
      shift[j] = (double)target[j];
    *shift_set = 1.0;
  }
  double wsum = 0.0;
  for (size_t i = 0; i < rows; i++) {
    double w = sample_weight ? (double)sample_weight[i] : 1.0;
    const float *p = pred + i * P, *t = target + i * P;
    for (size_t j = 0; j < P; j++) {
      double d = (double)t[j] - shift[j];
      double e = (double)t[j] - (double)p[j];
      sum[j] += w * d;
      squares[j] += w * d * d;
      residual[j] += w * e * e;
    }
    wsum += w;
  }
  m->count += wsum;
}

void dn_metric_update(dn_metric *metric, const float *pred, const float *target, size_t rows,
                      const float *sample_weight) {
  if (metric == NULL || metric->def == NULL || pred == NULL || target == NULL || rows == 0)
    return;
  const dn_metric_def *def = metric->def;
  if (def->kind == DN_METRIC_R2) {
    r2_update(metric, pred, target, rows, sample_weight);
    return;
  }
  size_t P = metric->pred_cols, T = metric->target_cols;
  double sum = 0.0, count = 0.0;
  for (size_t i = 0; i < rows; i++) {
    double w = sample_weight ? (double)sample_weight[i] : 1.0;
    sum += w * def->sample(pred + i * P, target + i * T, P);
    count += w;
  }
  metric->sum += sum;
  metric->count += count;
}

/* Keras R2Score.result with class_aggregation "uniform_average", num_regressors 0:
 * per column 1 - SS_res / SS_tot (an infinite score counts as 0), averaged. */
static double r2_result(const dn_metric *m) {
  size_t P = m->pred_cols;
  const double *sum = m->acc + R2_SUM * P, *squares = m->acc + R2_SQUARES * P;
  const double *residual = m->acc + R2_RESIDUAL * P;
  double total = 0.0;
  for (size_t j = 0; j < P; j++) {
    double ss_tot = squares[j] - sum[j] * (sum[j] / m->count);
    double score = 1.0 - residual[j] / ss_tot;
    if (isinf(score))
      score = 0.0;
    total += score;
  }
  return total / (double)P;
}

double dn_metric_result(const dn_metric *metric) {
  if (metric == NULL || metric->def == NULL || metric->count == 0.0)
    return NAN;
  switch (metric->def->kind) {
  case DN_METRIC_RMSE: return sqrt(metric->sum / metric->count);
  case DN_METRIC_R2: return r2_result(metric);
  case DN_METRIC_MEAN:
  case DN_METRIC_RESOLVE: break;
  }
  return metric->sum / metric->count;
}

int dn_metric_name_direction(const char *name) {
  if (name == NULL)
    return 0;
  if (strcmp(name, "loss") == 0)
    return -1;
  const dn_metric_def *def = find_def(name);
  return def ? def->direction : 0;
}
