/* metric.c -- the table of Keras 3 metrics, kept over an epoch: running sample-weighted means
 * and the stateful classification metrics.
 *
 * Rows x cols: every batch is `rows` samples; a prediction row has P = pred_cols
 * values, a target row T = target_cols (T = P, or T = 1 for class indices).
 *
 * Function-style metrics (mae, mse, mape, the accuracies) follow Keras's
 * MeanMetricWrapper: a per-sample value v_i (a mean over the columns) and
 * result = sum(w_i * v_i) / sum(w_i) over everything since the reset.
 * RootMeanSquaredError is the square root of that running mean of squares.
 * R2Score keeps per-column weighted sums, as Keras does.
 * Precision, Recall, AUC and the F-scores keep confusion counts summed over every batch since
 * the reset (keras/src/metrics/confusion_metrics.py, f_score_metrics.py, metrics_utils.py), so
 * an epoch's value is the value over all its rows, not a mean of batch values.
 * A spec "auc(curve=PR, name=pr_auc)" gives a metric Keras's constructor arguments (parsed by
 * parse_spec below; each row of the table lists the arguments it takes).
 *
 * Deviation from Keras: with no weight seen (nothing added, or all weights 0)
 * the result is NaN; Keras's Mean returns 0 there (divide_no_nan).
 */
#include "training/metric.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/names.h"
#include "core/status.h"

/* keras.config.epsilon() as the float32 Keras computes with. */
#define DN_METRIC_EPSILON ((double)1e-7f)
#define DN_BINARY_THRESHOLD 0.5f
#define DN_NEG_INF (-1e10f) /* metrics_utils.NEG_INF: Precision/Recall's threshold with top_k */

typedef enum dn_metric_kind {
  DN_METRIC_MEAN,      /* running weighted mean of a per-sample value */
  DN_METRIC_RMSE,      /* sqrt of the running mean of per-sample mean squares */
  DN_METRIC_R2,        /* R2Score from per-column sums */
  DN_METRIC_RESOLVE,   /* "accuracy": picks a concrete row from the shapes */
  DN_METRIC_PRECISION, /* confusion counts at one threshold */
  DN_METRIC_RECALL,
  DN_METRIC_AUC,   /* bucketed confusion counts at num_thresholds thresholds */
  DN_METRIC_FBETA, /* per-class (or micro) tp, fp, fn and support */
} dn_metric_kind;

typedef enum dn_metric_target {
  DN_TARGET_SAME,  /* targets have as many columns as the predictions */
  DN_TARGET_INDEX, /* targets are one column of class indices */
} dn_metric_target;

/* The constructor arguments a spec may give (dn_metric_def.args). */
enum {
  ARG_NAME = 1 << 0,
  ARG_THRESHOLDS = 1 << 1, /* Precision/Recall: one threshold in [0, 1] */
  ARG_TOP_K = 1 << 2,
  ARG_CLASS_ID = 1 << 3,
  ARG_NUM_THRESHOLDS = 1 << 4,
  ARG_CURVE = 1 << 5,
  ARG_SUMMATION = 1 << 6,
  ARG_FROM_LOGITS = 1 << 7,
  ARG_AVERAGE = 1 << 8,
  ARG_THRESHOLD = 1 << 9, /* F-scores: None or in (0, 1] */
  ARG_BETA = 1 << 10,
  ARG_K = 1 << 11,
};

static const struct {
  const char *key;
  unsigned bit;
} arg_keys[] = {
    {"name", ARG_NAME},
    {"thresholds", ARG_THRESHOLDS},
    {"top_k", ARG_TOP_K},
    {"class_id", ARG_CLASS_ID},
    {"num_thresholds", ARG_NUM_THRESHOLDS},
    {"curve", ARG_CURVE},
    {"summation_method", ARG_SUMMATION},
    {"from_logits", ARG_FROM_LOGITS},
    {"average", ARG_AVERAGE},
    {"threshold", ARG_THRESHOLD},
    {"beta", ARG_BETA},
    {"k", ARG_K},
};
#define DN_ARG_KEYS (sizeof arg_keys / sizeof arg_keys[0])

#define DN_METRIC_MAX_NAMES 5

struct dn_metric_def {
  const char *names[DN_METRIC_MAX_NAMES]; /* Keras function name first, then aliases */
  bool any_case;                          /* matched case-insensitively (as Keras's "accuracy") */
  int direction;                          /* +1 larger is better, -1 smaller is better */
  dn_metric_kind kind;
  dn_metric_target target;
  /* The per-sample value of one prediction row p and its target row t. */
  double (*sample)(const float *p, const float *t, size_t cols, const dn_metric_params *params);
  unsigned args; /* the arguments a spec may give, besides name */
};

/* ---- per-sample values ---- */

static double sample_mae(const float *p, const float *t, size_t cols,
                         const dn_metric_params *params) {
  (void)params;
  double s = 0.0;
  for (size_t j = 0; j < cols; j++)
    s += fabs((double)t[j] - (double)p[j]);
  return s / (double)cols;
}

static double sample_mse(const float *p, const float *t, size_t cols,
                         const dn_metric_params *params) {
  (void)params;
  double s = 0.0;
  for (size_t j = 0; j < cols; j++) {
    double e = (double)t[j] - (double)p[j];
    s += e * e;
  }
  return s / (double)cols;
}

static double sample_mape(const float *p, const float *t, size_t cols,
                          const dn_metric_params *params) {
  (void)params;
  double s = 0.0;
  for (size_t j = 0; j < cols; j++) {
    double d = fabs((double)t[j]);
    s += fabs((double)t[j] - (double)p[j]) / (d > DN_METRIC_EPSILON ? d : DN_METRIC_EPSILON);
  }
  return 100.0 * s / (double)cols;
}

static double sample_binary_accuracy(const float *p, const float *t, size_t cols,
                                     const dn_metric_params *params) {
  (void)params;
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

static double sample_categorical_accuracy(const float *p, const float *t, size_t cols,
                                          const dn_metric_params *params) {
  (void)params;
  return argmax(p, cols) == argmax(t, cols) ? 1.0 : 0.0;
}

static double sample_sparse_categorical_accuracy(const float *p, const float *t, size_t cols,
                                                 const dn_metric_params *params) {
  (void)params;
  return (float)argmax(p, cols) == t[0] ? 1.0 : 0.0; /* Keras casts the argmax to y_true's type */
}

/* keras.ops.in_top_k: class c is in the top k when fewer than k predictions are strictly
 * larger than its own (ties at the boundary count as in); a NaN at c never is. */
static bool in_top_k(const float *p, size_t cols, size_t c, size_t k) {
  if (isnan(p[c]))
    return false;
  size_t larger = 0;
  for (size_t j = 0; j < cols; j++)
    larger += p[j] > p[c];
  return larger < k;
}

static double sample_top_k_categorical_accuracy(const float *p, const float *t, size_t cols,
                                                const dn_metric_params *params) {
  return in_top_k(p, cols, argmax(t, cols), params->k) ? 1.0 : 0.0;
}

static double sample_sparse_top_k_categorical_accuracy(const float *p, const float *t, size_t cols,
                                                       const dn_metric_params *params) {
  double c = (double)t[0]; /* Keras casts y_true to int32 (truncation) */
  if (!(c > -1.0 && c < (double)cols))
    return 0.0; /* not a class: never in the top k */
  return in_top_k(p, cols, (size_t)c, params->k) ? 1.0 : 0.0;
}

/* ---- the table ---- */

#define CONFUSION_ARGS (ARG_THRESHOLDS | ARG_TOP_K | ARG_CLASS_ID)
#define AUC_ARGS (ARG_NUM_THRESHOLDS | ARG_CURVE | ARG_SUMMATION | ARG_FROM_LOGITS)

/* clang-format off */
static const dn_metric_def metric_table[] = {
  /* {names: Keras function name, aliases, class name},
   *  any_case, direction, kind, target, per-sample value, arguments */
  {{"mean_absolute_error", "mae", "MAE", "MeanAbsoluteError"},
   false, -1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_mae, 0},
  {{"mean_squared_error", "mse", "MSE", "MeanSquaredError"},
   false, -1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_mse, 0},
  /* "rmse" is ours: Keras 3 has no such alias */
  {{"root_mean_squared_error", "rmse", "RootMeanSquaredError"},
   false, -1, DN_METRIC_RMSE, DN_TARGET_SAME, sample_mse, 0},
  {{"mean_absolute_percentage_error", "mape", "MAPE", "MeanAbsolutePercentageError"},
   false, -1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_mape, 0},
  {{"r2_score", "R2Score"},
   false, +1, DN_METRIC_R2, DN_TARGET_SAME, NULL, 0},
  {{"binary_accuracy", "BinaryAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_binary_accuracy, 0},
  {{"categorical_accuracy", "CategoricalAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_categorical_accuracy, 0},
  {{"sparse_categorical_accuracy", "SparseCategoricalAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_INDEX, sample_sparse_categorical_accuracy, 0},
  /* resolved from the shapes to one of the three rows above, as Keras does */
  {{"accuracy", "acc"},
   true, +1, DN_METRIC_RESOLVE, DN_TARGET_SAME, NULL, 0},
  {{"top_k_categorical_accuracy", "TopKCategoricalAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_SAME, sample_top_k_categorical_accuracy, ARG_K},
  {{"sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy"},
   false, +1, DN_METRIC_MEAN, DN_TARGET_INDEX, sample_sparse_top_k_categorical_accuracy, ARG_K},
  {{"precision", "Precision"},
   false, +1, DN_METRIC_PRECISION, DN_TARGET_SAME, NULL, CONFUSION_ARGS},
  {{"recall", "Recall"},
   false, +1, DN_METRIC_RECALL, DN_TARGET_SAME, NULL, CONFUSION_ARGS},
  {{"auc", "AUC"},
   false, +1, DN_METRIC_AUC, DN_TARGET_SAME, NULL, AUC_ARGS},
  {{"f1_score", "F1Score"},
   false, +1, DN_METRIC_FBETA, DN_TARGET_SAME, NULL, ARG_AVERAGE | ARG_THRESHOLD},
  /* "fbeta_score" (FBetaScore's default name) is ours; Keras's string is "f_beta_score" */
  {{"f_beta_score", "fbeta_score", "FBetaScore"},
   false, +1, DN_METRIC_FBETA, DN_TARGET_SAME, NULL, ARG_AVERAGE | ARG_THRESHOLD | ARG_BETA},
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

static dn_status unknown_metric(const char *name) {
  if (strcmp(name, "loss") == 0)
    return dn_fail(DN_ERR_ARG, "unknown metric 'loss' (the loss is always logged; it is not a "
                               "metric)");
  size_t count = 0;
  for (size_t i = 0; i < DN_METRIC_COUNT; i++)
    for (int k = 0; k < DN_METRIC_MAX_NAMES && metric_table[i].names[k] != NULL; k++)
      count++;
  return dn_fail_unknown_name("metric", name, metric_name_at, NULL, count);
}

/* ---- specs: "name" or "name(key=value, ...)" ---- */

static bool is_none(const char *v) {
  return strcmp(v, "None") == 0 || strcmp(v, "none") == 0;
}

static bool parse_real(const char *v, double *out) {
  char *end = NULL;
  double d = strtod(v, &end);
  if (end == v || *end != '\0' || !isfinite(d))
    return false;
  *out = d;
  return true;
}

static bool parse_count(const char *v, size_t *out) {
  if (*v < '0' || *v > '9')
    return false;
  size_t n = 0;
  for (; *v >= '0' && *v <= '9'; v++) {
    if (n > (SIZE_MAX - 9) / 10)
      return false;
    n = n * 10 + (size_t)(*v - '0');
  }
  *out = n;
  return *v == '\0';
}

/* Sets one argument; DN_ERR_ARG naming the metric, the key and the value when it is bad. */
static dn_status set_arg(const char *spec, unsigned bit, const char *key, const char *v,
                         dn_metric_params *p, char *log_name) {
  size_t n = 0;
  double d = 0.0;
  bool ok = true;
  const char *want = "";
  switch (bit) {
  case ARG_NAME:
    ok = *v != '\0' && strlen(v) < DN_METRIC_NAME_CAP;
    want = "a name of 1 to 47 characters";
    if (ok)
      memcpy(log_name, v, strlen(v) + 1);
    break;
  case ARG_THRESHOLDS:
    ok = is_none(v) || (parse_real(v, &d) && d >= 0 && d <= 1);
    want = "one threshold in [0, 1] or None";
    if (ok && !is_none(v))
      p->threshold = d;
    break;
  case ARG_TOP_K:
    ok = is_none(v) || (parse_count(v, &n) && n >= 1);
    want = "an integer >= 1 or None";
    p->top_k = ok && !is_none(v) ? n : 0;
    break;
  case ARG_CLASS_ID:
    ok = is_none(v) || (parse_count(v, &n) && n < (size_t)LONG_MAX);
    want = "an integer >= 0 or None";
    p->class_id = ok && !is_none(v) ? (long)n : -1;
    break;
  case ARG_NUM_THRESHOLDS:
    ok = parse_count(v, &n) && n > 1 && n <= 1000000;
    want = "an integer > 1 (at most 1000000)";
    p->num_thresholds = n;
    break;
  case ARG_CURVE:
    ok = strcmp(v, "ROC") == 0 || strcmp(v, "roc") == 0 || strcmp(v, "PR") == 0 ||
         strcmp(v, "pr") == 0;
    want = "ROC or PR";
    p->curve = v[0] == 'P' || v[0] == 'p';
    break;
  case ARG_SUMMATION: /* Keras: "interpolation" or "Interpolation", likewise the others */
    ok = (v[0] == 'i' || v[0] == 'I') && strcmp(v + 1, "nterpolation") == 0;
    ok = ok || ((v[0] == 'm' || v[0] == 'M') &&
                (strcmp(v + 1, "inoring") == 0 || strcmp(v + 1, "ajoring") == 0));
    want = "interpolation, minoring or majoring";
    p->summation = ok && v[1] == 'n' ? 0 : ok && v[1] == 'i' ? 1 : 2;
    break;
  case ARG_FROM_LOGITS:
    ok = strcmp(v, "True") == 0 || strcmp(v, "true") == 0 || strcmp(v, "False") == 0 ||
         strcmp(v, "false") == 0;
    want = "True or False";
    p->from_logits = v[0] == 'T' || v[0] == 't';
    break;
  case ARG_AVERAGE:
    ok = is_none(v) || strcmp(v, "micro") == 0 || strcmp(v, "macro") == 0 ||
         strcmp(v, "weighted") == 0;
    want = "None, micro, macro or weighted";
    p->average = is_none(v) ? 0 : v[1] == 'i' ? 1 : v[1] == 'a' ? 2 : 3;
    break;
  case ARG_THRESHOLD:
    ok = is_none(v) || (parse_real(v, &d) && d > 0 && d <= 1);
    want = "None or a number with 0 < threshold <= 1";
    p->threshold = ok && !is_none(v) ? d : NAN;
    break;
  case ARG_BETA:
    ok = parse_real(v, &d) && d > 0;
    want = "a number > 0";
    p->beta = d;
    break;
  case ARG_K:
    ok = parse_count(v, &n) && n >= 1;
    want = "an integer >= 1";
    p->k = n;
    break;
  default: break;
  }
  if (!ok)
    return dn_fail(DN_ERR_ARG, "metric '%s': %s must be %s, got '%s'", spec, key, want, v);
  return DN_OK;
}

static const char *skip_space(const char *s) {
  while (*s == ' ')
    s++;
  return s;
}

/* The next "key=value" of a spec's argument list at *s (after '(' or a ','): the key (not
 * terminated) and the value (quotes removed); *closed once the ')' is read. */
static dn_status next_arg(const char *spec, const char **sp, bool *closed, const char **key_out,
                          size_t *key_len_out, char value[DN_METRIC_NAME_CAP]) {
  const char *s = *sp, *key = s;
  while ((*s >= 'a' && *s <= 'z') || *s == '_')
    s++;
  size_t key_len = (size_t)(s - key);
  s = skip_space(s);
  if (key_len == 0 || *s != '=')
    return dn_fail(DN_ERR_ARG, "metric '%s': expected key=value at '%s' (e.g. \"auc(curve=PR)\")",
                   spec, key);
  s = skip_space(s + 1);
  char quote = (*s == '\'' || *s == '"') ? *s++ : '\0';
  size_t len = 0;
  while (*s != '\0' && (quote ? *s != quote : (*s != ',' && *s != ')')) &&
         len + 1 < DN_METRIC_NAME_CAP)
    value[len++] = *s++;
  if (quote && *s == quote)
    s++;
  while (!quote && len > 0 && value[len - 1] == ' ')
    len--;
  value[len] = '\0';
  s = skip_space(s);
  if (*s == '\0')
    return dn_fail(DN_ERR_ARG, "metric '%s': missing ')'", spec);
  if (*s != ',' && *s != ')')
    return dn_fail(DN_ERR_ARG, "metric '%s': expected ',' or ')' after %.*s=%s", spec, (int)key_len,
                   key, value);
  *closed = *s == ')';
  *sp = skip_space(s + 1);
  *key_out = key;
  *key_len_out = key_len;
  return DN_OK;
}

/* Parses spec into its table row, its arguments and the name it is logged under
 * (DN_METRIC_NAME_CAP bytes). Errors: DN_ERR_ARG naming what is wrong. */
static dn_status parse_spec(const char *spec, const dn_metric_def **def_out, dn_metric_params *p,
                            char *log_name) {
  const char *open = strchr(spec, '(');
  size_t base_len = open ? (size_t)(open - spec) : strlen(spec);
  while (open && base_len > 0 && spec[base_len - 1] == ' ')
    base_len--;
  char base[DN_METRIC_NAME_CAP];
  if (base_len >= sizeof base)
    return dn_fail(DN_ERR_ARG, "metric name '%.*s' is too long (at most %d characters)",
                   (int)base_len, spec, DN_METRIC_NAME_CAP - 1);
  memcpy(base, spec, base_len);
  base[base_len] = '\0';
  const dn_metric_def *def = find_def(base);
  if (def == NULL)
    return unknown_metric(base);
  *p = (dn_metric_params){.threshold = def->kind == DN_METRIC_FBETA ? NAN : 0.5,
                          .class_id = -1,
                          .k = 5,
                          .num_thresholds = 200,
                          .beta = 1.0};
  memcpy(log_name, base, base_len + 1);
  *def_out = def;
  if (open == NULL)
    return DN_OK;
  unsigned seen = 0;
  const char *s = skip_space(open + 1);
  bool closed = *s == ')';
  if (closed)
    s++;
  while (!closed) {
    const char *key;
    size_t key_len;
    char value[DN_METRIC_NAME_CAP];
    dn_status lexed = next_arg(spec, &s, &closed, &key, &key_len, value);
    if (lexed != DN_OK)
      return lexed;
    unsigned bit = 0;
    for (size_t i = 0; i < DN_ARG_KEYS && bit == 0; i++)
      if (strlen(arg_keys[i].key) == key_len && strncmp(arg_keys[i].key, key, key_len) == 0)
        bit = arg_keys[i].bit;
    if (bit == 0 || !((def->args | ARG_NAME) & bit)) {
      char takes[160] = "name";
      for (size_t i = 0; i < DN_ARG_KEYS; i++)
        if (def->args & arg_keys[i].bit)
          snprintf(takes + strlen(takes), sizeof takes - strlen(takes), ", %s", arg_keys[i].key);
      return dn_fail(DN_ERR_ARG, "metric '%s': %s takes no argument '%.*s' (it takes %s)", spec,
                     def->names[0], (int)key_len, key, takes);
    }
    if (seen & bit)
      return dn_fail(DN_ERR_ARG, "metric '%s': argument '%.*s' is given twice", spec, (int)key_len,
                     key);
    seen |= bit;
    char key_z[24];
    snprintf(key_z, sizeof key_z, "%.*s", (int)key_len, key);
    dn_status st = set_arg(spec, bit, key_z, value, p, log_name);
    if (st != DN_OK)
      return st;
    if (!closed && *s == '\0')
      return dn_fail(DN_ERR_ARG, "metric '%s': missing ')'", spec);
  }
  if (*s != '\0')
    return dn_fail(DN_ERR_ARG, "metric '%s': text after the closing ')'", spec);
  /* Keras's Precision/Recall: with top_k and no thresholds, the threshold is NEG_INF */
  if ((def->kind == DN_METRIC_PRECISION || def->kind == DN_METRIC_RECALL) && p->top_k != 0 &&
      !(seen & ARG_THRESHOLDS))
    p->threshold = DN_NEG_INF;
  return DN_OK;
}

dn_status dn_metric_check_name(const char *spec) {
  if (spec == NULL)
    return unknown_metric("(null)");
  const dn_metric_def *def;
  dn_metric_params p;
  char log_name[DN_METRIC_NAME_CAP];
  return parse_spec(spec, &def, &p, log_name);
}

const char *dn_metric_class_name(const char *spec) {
  const dn_metric_def *def;
  dn_metric_params p;
  char log_name[DN_METRIC_NAME_CAP];
  if (spec == NULL || parse_spec(spec, &def, &p, log_name) != DN_OK)
    return NULL;
  int last = 0;
  while (last + 1 < DN_METRIC_MAX_NAMES && def->names[last + 1] != NULL)
    last++;
  return def->names[last]; /* the class name ends each row's list */
}

dn_status dn_metric_spec_args(const char *spec, dn_metric_arg_fn each, void *ctx) {
  dn_status st = dn_metric_check_name(spec);
  const char *open = st == DN_OK ? strchr(spec, '(') : NULL;
  if (open == NULL)
    return st;
  const char *s = skip_space(open + 1);
  bool closed = *s == ')';
  while (!closed && st == DN_OK) {
    const char *key;
    size_t key_len;
    char value[DN_METRIC_NAME_CAP], key_z[24];
    if ((st = next_arg(spec, &s, &closed, &key, &key_len, value)) == DN_OK) {
      snprintf(key_z, sizeof key_z, "%.*s", (int)key_len, key);
      st = each(ctx, key_z, value);
    }
  }
  return st;
}

void dn_metric_log_name(const char *spec, char *out, size_t cap) {
  const dn_metric_def *def;
  dn_metric_params p;
  char log_name[DN_METRIC_NAME_CAP] = "";
  if (spec == NULL || parse_spec(spec, &def, &p, log_name) != DN_OK)
    snprintf(log_name, sizeof log_name, "%s", spec ? spec : "");
  snprintf(out, cap, "%s", log_name);
}

/* ---- lifecycle ---- */

/* R2Score's accumulators, 4 per column plus one flag, each column shifted by
 * its first target value for accuracy (the same formula, less cancellation). */
#define R2_SHIFT 0
#define R2_SUM 1      /* sum w (y - K) */
#define R2_SQUARES 2  /* sum w (y - K)^2 */
#define R2_RESIDUAL 3 /* sum w (y - p)^2 */
#define R2_SLOTS 4

/* Confusion counts of Precision/Recall (acc[0..3]). */
#define CM_TP 0
#define CM_FP 1
#define CM_TN 2
#define CM_FN 3

/* The F-scores' accumulators: 4 blocks of S (classes, or 1 for micro) values. */
#define FB_TP 0
#define FB_FP 1
#define FB_FN 2
#define FB_SUPPORT 3

/* How many doubles metric `def` accumulates for these widths (0: none). */
static dn_status acc_size(const dn_metric_def *def, const dn_metric_params *p, size_t pred_cols,
                          size_t *len) {
  size_t per = 0, blocks = 0, extra = 0;
  switch (def->kind) {
  case DN_METRIC_R2: per = pred_cols, blocks = R2_SLOTS, extra = 1; break; /* + the shift flag */
  case DN_METRIC_PRECISION:
  case DN_METRIC_RECALL: per = 1, blocks = 4; break;
  case DN_METRIC_AUC: per = p->num_thresholds, blocks = 2; break; /* positive, negative buckets */
  case DN_METRIC_FBETA: per = p->average == 1 ? 1 : pred_cols, blocks = 4; break;
  default: break;
  }
  if (!dn_mul_size(per, blocks, len, "dn_metric_init") || *len > SIZE_MAX - extra)
    return dn_fail(DN_ERR_SHAPE, "dn_metric_init: %s over %zu columns is too large", def->names[0],
                   pred_cols);
  *len += extra;
  return DN_OK;
}

/* The widths a metric's arguments need (class_id, top_k within the output width). */
static dn_status check_widths(const char *spec, const dn_metric_def *def, const dn_metric_params *p,
                              size_t pred_cols, size_t target_cols) {
  if (def->target == DN_TARGET_SAME && target_cols != pred_cols)
    return dn_fail(DN_ERR_SHAPE,
                   "dn_metric_init: metric '%s' (%s) needs targets with as many columns as the "
                   "predictions (%zu), got %zu",
                   spec, def->names[0], pred_cols, target_cols);
  if (def->target == DN_TARGET_INDEX && target_cols != 1)
    return dn_fail(DN_ERR_SHAPE,
                   "dn_metric_init: metric '%s' (%s) needs targets of 1 column of class "
                   "indices, got %zu columns",
                   spec, def->names[0], target_cols);
  if (p->class_id >= 0 && (size_t)p->class_id >= pred_cols)
    return dn_fail(DN_ERR_SHAPE,
                   "dn_metric_init: metric '%s': class_id %ld is not a column of the %zu "
                   "predictions",
                   spec, p->class_id, pred_cols);
  if (p->top_k > pred_cols)
    return dn_fail(DN_ERR_SHAPE,
                   "dn_metric_init: metric '%s': top_k %zu is more than the %zu prediction "
                   "columns",
                   spec, p->top_k, pred_cols);
  return DN_OK;
}

/* An F-score with average None logs one value per class: "name[k]" and "val_name[k]". */
static dn_status name_values(dn_metric *m) {
  m->n_values = 1;
  if (m->def->kind != DN_METRIC_FBETA || m->params.average != 0)
    return DN_OK;
  m->n_values = m->pred_cols; /* also for one class: "f1_score[0]" */
  m->value_names = dn_calloc(2 * m->n_values, sizeof *m->value_names);
  if (m->value_names == NULL)
    return dn_fail(DN_ERR_NOMEM, "dn_metric_init: out of memory for the names of '%s'", m->name);
  for (size_t k = 0; k < m->n_values; k++) {
    snprintf(m->value_names[k], sizeof m->value_names[k], "%s[%zu]", m->name, k);
    snprintf(m->value_names[m->n_values + k], sizeof m->value_names[k], "val_%s[%zu]", m->name, k);
  }
  return DN_OK;
}

dn_status dn_metric_init(dn_metric *metric, const char *name, size_t pred_cols,
                         size_t target_cols) {
  DN_CHECK_NOT_NULL(metric, "dn_metric_init");
  DN_CHECK_NOT_NULL(name, "dn_metric_init");
  dn_metric out = {0};
  if (parse_spec(name, &out.def, &out.params, out.name) != DN_OK) {
    dn_error_context("dn_metric_init");
    return DN_ERR_ARG;
  }
  if (pred_cols == 0 || target_cols == 0)
    return dn_fail(DN_ERR_ARG,
                   "dn_metric_init: metric '%s' needs pred_cols and target_cols > 0 (got %zu "
                   "and %zu)",
                   name, pred_cols, target_cols);
  if (out.def->kind == DN_METRIC_RESOLVE)
    out.def = resolve_accuracy(pred_cols, target_cols);
  dn_status st = check_widths(name, out.def, &out.params, pred_cols, target_cols);
  if (st == DN_OK)
    st = acc_size(out.def, &out.params, pred_cols, &out.acc_len);
  if (st != DN_OK)
    return st;
  if (out.acc_len != 0 && (out.acc = dn_calloc(out.acc_len, sizeof(double))) == NULL)
    return dn_fail(DN_ERR_NOMEM, "dn_metric_init: out of memory for metric '%s' (%zu columns)",
                   name, pred_cols);
  snprintf(out.val_name, sizeof out.val_name, "val_%s", out.name);
  out.pred_cols = pred_cols;
  out.target_cols = target_cols;
  if ((st = name_values(&out)) != DN_OK) {
    dn_free(out.acc);
    return st;
  }
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
  dn_free(metric->value_names);
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

/* metrics_utils._filter_top_k: column c survives when it is among the k largest of its row,
 * ties going to the lower index (top_k's stable order). */
static bool kept_by_top_k(const float *p, size_t cols, size_t c, size_t k) {
  size_t before = 0;
  for (size_t j = 0; j < cols; j++)
    before += p[j] > p[c] || (j < c && p[j] == p[c]);
  return before < k;
}

/* Precision/Recall: every (row, column) -- or column class_id only -- is one binary decision,
 * positive when the (top_k-filtered) prediction is > threshold, in float32 as Keras compares. */
static void confusion_update(dn_metric *m, const float *pred, const float *target, size_t rows,
                             const float *sample_weight) {
  const dn_metric_params *p = &m->params;
  size_t P = m->pred_cols;
  size_t first = p->class_id >= 0 ? (size_t)p->class_id : 0;
  size_t last = p->class_id >= 0 ? first + 1 : P;
  float threshold = (float)p->threshold;
  double *acc = m->acc;
  for (size_t i = 0; i < rows; i++) {
    double w = sample_weight ? (double)sample_weight[i] : 1.0;
    const float *pr = pred + i * P, *t = target + i * P;
    for (size_t j = first; j < last; j++) {
      float v = p->top_k == 0 || kept_by_top_k(pr, P, j, p->top_k) ? pr[j] : DN_NEG_INF;
      bool positive = v > threshold, label = t[j] != 0.0f;
      acc[label ? (positive ? CM_TP : CM_FN) : (positive ? CM_FP : CM_TN)] += w;
    }
    m->count += w;
  }
}

/* AUC, Keras's evenly-spaced path (_update_confusion_matrix_variables_optimized): thresholds
 * {-eps, 1/(T-1), ..., (T-2)/(T-1), 1+eps}; a prediction clipped to [0, 1] lands in bucket
 * max(ceil(p * (T-1)) - 1, 0) (float32) and counts as above every threshold up to its bucket. */
static void auc_update(dn_metric *m, const float *pred, const float *target, size_t rows,
                       const float *sample_weight) {
  size_t T = m->params.num_thresholds, P = m->pred_cols;
  double *positive = m->acc, *negative = m->acc + T;
  float scale = (float)(T - 1);
  for (size_t i = 0; i < rows; i++) {
    double w = sample_weight ? (double)sample_weight[i] : 1.0;
    for (size_t j = 0; j < P; j++) {
      float x = pred[i * P + j];
      if (m->params.from_logits)
        x = 1.0f / (1.0f + expf(-x));
      x = x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
      float b = ceilf(x * scale) - 1.0f;
      size_t bucket = b > 0.0f ? (size_t)b : 0; /* NaN too: bucket 0 */
      if (target[i * P + j] != 0.0f)
        positive[bucket] += w;
      else
        negative[bucket] += w;
    }
    m->count += w;
  }
}

/* FBetaScore.update_state: a row's predictions are 1 where > threshold, or (threshold None)
 * where equal to the row's maximum and |p| > 1e-9; the targets are taken as they are. */
static void fbeta_update(dn_metric *m, const float *pred, const float *target, size_t rows,
                         const float *sample_weight) {
  size_t P = m->pred_cols, S = m->params.average == 1 ? 1 : P;
  double *acc = m->acc;
  bool by_max = isnan(m->params.threshold);
  float threshold = (float)m->params.threshold;
  for (size_t i = 0; i < rows; i++) {
    double w = sample_weight ? (double)sample_weight[i] : 1.0;
    const float *pr = pred + i * P, *t = target + i * P;
    float top = pr[0];
    for (size_t j = 1; by_max && j < P; j++)
      top = pr[j] > top ? pr[j] : top;
    for (size_t j = 0; j < P; j++) {
      bool on = by_max ? (pr[j] >= top && fabsf(pr[j]) > 1e-9f) : pr[j] > threshold;
      double y = (double)t[j], yp = on ? 1.0 : 0.0;
      size_t s = S == 1 ? 0 : j;
      acc[FB_TP * S + s] += w * (yp * y);
      acc[FB_FP * S + s] += w * (yp * (1.0 - y));
      acc[FB_FN * S + s] += w * ((1.0 - yp) * y);
      acc[FB_SUPPORT * S + s] += w * y;
    }
    m->count += w;
  }
}

void dn_metric_update(dn_metric *metric, const float *pred, const float *target, size_t rows,
                      const float *sample_weight) {
  if (metric == NULL || metric->def == NULL || pred == NULL || target == NULL || rows == 0)
    return;
  const dn_metric_def *def = metric->def;
  switch (def->kind) {
  case DN_METRIC_R2: r2_update(metric, pred, target, rows, sample_weight); return;
  case DN_METRIC_PRECISION:
  case DN_METRIC_RECALL: confusion_update(metric, pred, target, rows, sample_weight); return;
  case DN_METRIC_AUC: auc_update(metric, pred, target, rows, sample_weight); return;
  case DN_METRIC_FBETA: fbeta_update(metric, pred, target, rows, sample_weight); return;
  case DN_METRIC_MEAN:
  case DN_METRIC_RMSE:
  case DN_METRIC_RESOLVE: break;
  }
  size_t P = metric->pred_cols, T = metric->target_cols;
  double sum = 0.0, count = 0.0;
  for (size_t i = 0; i < rows; i++) {
    double w = sample_weight ? (double)sample_weight[i] : 1.0;
    sum += w * def->sample(pred + i * P, target + i * T, P, &metric->params);
    count += w;
  }
  metric->sum += sum;
  metric->count += count;
}

/* ---- results ---- */

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

/* keras.ops.divide_no_nan. */
static double divide_no_nan(double a, double b) {
  return b == 0.0 ? 0.0 : a / b;
}

/* Confusion counts at threshold index i of the AUC buckets. */
typedef struct auc_point {
  double tp, fp, tn, fn;
} auc_point;

/* AUC.result: ROC or PR by `summation_method`, or interpolate_pr_auc for PR + interpolation.
 * The counts at threshold i are the buckets from i up; walked from threshold 0 upward. */
static double auc_result(const dn_metric *m) {
  size_t T = m->params.num_thresholds;
  const double *positive = m->acc, *negative = m->acc + T;
  double pos_total = 0.0, neg_total = 0.0;
  for (size_t b = 0; b < T; b++) {
    pos_total += positive[b];
    neg_total += negative[b];
  }
  auc_point a = {pos_total, neg_total, 0.0, 0.0}; /* threshold 0 (-eps): everything positive */
  double area = 0.0;
  bool pr = m->params.curve == 1;
  for (size_t i = 0; i + 1 < T; i++) {
    auc_point b = a; /* threshold i + 1 drops bucket i */
    b.tp -= positive[i];
    b.fp -= negative[i];
    b.fn = pos_total - b.tp;
    b.tn = neg_total - b.fp;
    if (pr && m->params.summation == 0) { /* Davis & Goadrich, as interpolate_pr_auc */
      double dtp = a.tp - b.tp, p_a = a.tp + a.fp, p_b = b.tp + b.fp;
      double slope = divide_no_nan(dtp, fmax(p_a - p_b, 0.0));
      double intercept = b.tp - slope * p_b;
      double ratio = p_a > 0 && p_b > 0 ? divide_no_nan(p_a, fmax(p_b, 0.0)) : 1.0;
      area += divide_no_nan(slope * (dtp + intercept * log(ratio)), fmax(b.tp + b.fn, 0.0));
    } else {
      double xa, xb, ya, yb;
      if (pr) { /* x = recall, y = precision */
        xa = divide_no_nan(a.tp, a.tp + a.fn), xb = divide_no_nan(b.tp, b.tp + b.fn);
        ya = divide_no_nan(a.tp, a.tp + a.fp), yb = divide_no_nan(b.tp, b.tp + b.fp);
      } else { /* x = false positive rate, y = recall */
        xa = divide_no_nan(a.fp, a.fp + a.tn), xb = divide_no_nan(b.fp, b.fp + b.tn);
        ya = divide_no_nan(a.tp, a.tp + a.fn), yb = divide_no_nan(b.tp, b.tp + b.fn);
      }
      double height = m->params.summation == 0   ? (ya + yb) / 2.0
                      : m->params.summation == 1 ? fmin(ya, yb)
                                                 : fmax(ya, yb);
      area += (xa - xb) * height;
    }
    a = b;
  }
  return area;
}

/* FBetaScore.result for class (or micro block) s. */
static double fbeta_of(const dn_metric *m, size_t S, size_t s) {
  const double *acc = m->acc, eps = DN_METRIC_EPSILON, b2 = m->params.beta * m->params.beta;
  double tp = acc[FB_TP * S + s];
  double precision = tp / (tp + acc[FB_FP * S + s] + eps);
  double recall = tp / (tp + acc[FB_FN * S + s] + eps);
  return precision * recall / (b2 * precision + recall + eps) * (1.0 + b2);
}

static double fbeta_result(const dn_metric *m) {
  size_t S = m->params.average == 1 ? 1 : m->pred_cols;
  if (m->params.average == 3) { /* weighted by support */
    double support = 0.0, total = 0.0;
    for (size_t s = 0; s < S; s++)
      support += m->acc[FB_SUPPORT * S + s];
    for (size_t s = 0; s < S; s++)
      total += fbeta_of(m, S, s) * (m->acc[FB_SUPPORT * S + s] / (support + DN_METRIC_EPSILON));
    return total;
  }
  double total = 0.0; /* micro (S = 1), macro, or the mean of average None's values */
  for (size_t s = 0; s < S; s++)
    total += fbeta_of(m, S, s);
  return total / (double)S;
}

double dn_metric_result(const dn_metric *metric) {
  if (metric == NULL || metric->def == NULL || metric->count == 0.0)
    return NAN;
  const double *acc = metric->acc;
  switch (metric->def->kind) {
  case DN_METRIC_RMSE: return sqrt(metric->sum / metric->count);
  case DN_METRIC_R2: return r2_result(metric);
  case DN_METRIC_PRECISION: return divide_no_nan(acc[CM_TP], acc[CM_TP] + acc[CM_FP]);
  case DN_METRIC_RECALL: return divide_no_nan(acc[CM_TP], acc[CM_TP] + acc[CM_FN]);
  case DN_METRIC_AUC: return auc_result(metric);
  case DN_METRIC_FBETA: return fbeta_result(metric);
  case DN_METRIC_MEAN:
  case DN_METRIC_RESOLVE: break;
  }
  return metric->sum / metric->count;
}

double dn_metric_value(const dn_metric *metric, size_t k) {
  if (metric == NULL || k >= metric->n_values)
    return NAN;
  if (metric->value_names == NULL)
    return dn_metric_result(metric);
  if (metric->count == 0.0)
    return NAN;
  return fbeta_of(metric, metric->pred_cols, k);
}

const char *dn_metric_value_name(const dn_metric *metric, size_t k, bool val) {
  if (metric == NULL || k >= metric->n_values)
    return NULL;
  if (metric->value_names == NULL)
    return val ? metric->val_name : metric->name;
  return metric->value_names[(val ? metric->n_values : 0) + k];
}

int dn_metric_name_direction(const char *name) {
  if (name == NULL)
    return 0;
  if (strcmp(name, "loss") == 0)
    return -1;
  const dn_metric_def *def = find_def(name);
  const char *bracket = strchr(name, '[');
  size_t len = bracket ? (size_t)(bracket - name) : 0;
  if (def == NULL && len > 0 && len < DN_METRIC_NAME_CAP) { /* "f1_score[2]" */
    char base[DN_METRIC_NAME_CAP];
    memcpy(base, name, len);
    base[len] = '\0';
    def = find_def(base);
  }
  return def ? def->direction : 0;
}
