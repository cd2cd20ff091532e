/* test_metric_class.c -- the classification metrics (Precision, Recall, AUC, F1Score /
 * FBetaScore, the top-k accuracies) against Keras 3's docstring values, hand-worked edge
 * cases and a numpy implementation of Keras's formulas (tests/metric_class_fixture.py), over
 * several batches and one; their specs ("auc(curve=PR)"), and their logging through fit. */
#include "dn_test.h"

#include "core/alloc.h"
#include "training/metric.h"

#include "metric_class_fixture.h"

#define TOL 1e-12

/* The values of `spec` over rows rows fed in batches of `batch` rows (no allocation in
 * update or result), into out (n_values of them). */
static size_t run(const char *spec, const float *p, const float *t, size_t cols, size_t tcols,
                  size_t rows, size_t batch, const float *w, double *out) {
  dn_metric m;
  assert_ok(dn_metric_init(&m, spec, cols, tcols));
  size_t allocs = dn_alloc_count();
  for (size_t at = 0; at < rows; at += batch) {
    size_t n = rows - at < batch ? rows - at : batch;
    dn_metric_update(&m, p + at * cols, t + at * tcols, n, w ? w + at : NULL);
  }
  for (size_t k = 0; k < m.n_values; k++)
    out[k] = dn_metric_value(&m, k);
  assert_int_equal(dn_alloc_count(), allocs);
  size_t n_values = m.n_values;
  dn_metric_free(&m);
  return n_values;
}

static double one(const char *spec, const float *p, const float *t, size_t cols, size_t rows,
                  const float *w) {
  double v[8];
  assert_int_equal(run(spec, p, t, cols, cols, rows, rows, w, v), 1);
  return v[0];
}

/* Every fixture case, in batches of 5 rows, of 1 row and all at once. */
static void test_numpy_cross_check(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof FX_CASES / sizeof FX_CASES[0]; c++) {
    const fx_case *x = &FX_CASES[c];
    size_t batches[] = {5, 1, FX_N};
    for (size_t b = 0; b < 3; b++) {
      double v[8];
      size_t n = run(x->spec, x->pred, x->target, x->cols, x->tcols, FX_N, batches[b], NULL, v);
      if (n != x->n_values)
        fail_msg("%s: %zu values, expected %zu", x->spec, n, x->n_values);
      for (size_t k = 0; k < n; k++)
        if (!(fabs(v[k] - x->values[k]) <= TOL))
          fail_msg("%s (batches of %zu) value %zu: %.17g, numpy %.17g", x->spec, batches[b], k,
                   v[k], x->values[k]);
    }
  }
}

/* The examples of Keras 3's docstrings. */
static void test_keras_docstrings(void **state) {
  (void)state;
  const float t[] = {0, 1, 1, 1}, p[] = {1, 0, 1, 1}, w[] = {0, 0, 1, 0};
  /* Precision()/Recall(): one column per row */
  assert_close(one("precision", p, t, 1, 4, NULL), 2.0 / 3.0, TOL, 0);
  assert_close(one("precision", p, t, 1, 4, w), 1.0, TOL, 0);
  assert_close(one("recall", p, t, 1, 4, NULL), 2.0 / 3.0, TOL, 0);
  assert_close(one("recall", p, t, 1, 4, w), 1.0, TOL, 0);
  /* Precision(top_k=2): one row [1, 0, 1, 1]: ties go to the lower index (0 and 2) -> 0.5 */
  const float t4[] = {0, 0, 1, 1}, p4[] = {1, 0, 1, 1};
  assert_close(one("precision(top_k=2)", p4, t4, 4, 1, NULL), 0.5, TOL, 0);
  /* Recall(class_id=2) on [[0,0,1,1]] vs ... : column 2 only: label 1, pred 1 -> 1 */
  assert_close(one("recall(class_id=2)", p4, t4, 4, 1, NULL), 1.0, TOL, 0);
  /* AUC(num_thresholds=3): thresholds {-eps, 0.5, 1+eps}; 0.5 is not above 0.5 */
  const float at[] = {0, 0, 1, 1}, ap[] = {0, 0.5f, 0.3f, 0.9f}, aw[] = {1, 0, 0, 1};
  assert_close(one("auc(num_thresholds=3)", ap, at, 1, 4, NULL), 0.75, TOL, 0);
  assert_close(one("auc(num_thresholds=3)", ap, at, 1, 4, aw), 1.0, TOL, 0);
  /* F1Score(threshold=0.5) -> [0.5, 0.8, 0.6666667] (float32 in Keras; here in double with
   * the same epsilon: 2pr/(p + r + eps) with p, r = tp / (tp + fx + eps)) */
  const float ft[] = {1, 1, 1, 1, 0, 0, 1, 1, 0};
  const float fp[] = {0.2f, 0.6f, 0.7f, 0.2f, 0.6f, 0.6f, 0.6f, 0.8f, 0.0f};
  double f[3];
  assert_int_equal(run("F1Score(threshold=0.5)", fp, ft, 3, 3, 3, 3, NULL, f), 3);
  const double e = (double)1e-7f;
  double p0 = 1 / (1 + e), r0 = 1 / (3 + e), p1 = 2 / (3 + e), r1 = 2 / (2 + e);
  double p2 = 1 / (2 + e), r2 = 1 / (1 + e);
  assert_close(f[0], 2 * p0 * r0 / (p0 + r0 + e), TOL, 0);
  assert_close(f[1], 2 * p1 * r1 / (p1 + r1 + e), TOL, 0);
  assert_close(f[2], 2 * p2 * r2 / (p2 + r2 + e), TOL, 0);
  assert_close(f[0], 0.5, 1e-6, 0);
  assert_close(f[1], 0.8, 1e-6, 0);
  assert_close(f[2], 2.0 / 3.0, 1e-6, 0);
  /* TopKCategoricalAccuracy(k=1) / SparseTopKCategoricalAccuracy(k=1) -> 0.5 */
  const float kt[] = {0, 0, 1, 0, 1, 0}, kp[] = {0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0};
  const float ks[] = {2, 1};
  assert_close(one("top_k_categorical_accuracy(k=1)", kp, kt, 3, 2, NULL), 0.5, TOL, 0);
  double v;
  run("sparse_top_k_categorical_accuracy(k=1)", kp, ks, 3, 1, 2, 2, NULL, &v);
  assert_close(v, 0.5, TOL, 0);
}

/* No positives, all-equal scores, ties at a threshold. */
static void test_edge_cases(void **state) {
  (void)state;
  const float zeros[] = {0, 0, 0, 0}, low[] = {0.1f, 0.2f, 0.3f, 0.4f};
  /* no positive label and no positive prediction: 0/0 is 0 in Keras (divide_no_nan) */
  assert_close(one("precision", low, zeros, 1, 4, NULL), 0.0, 0, 0);
  assert_close(one("recall", low, zeros, 1, 4, NULL), 0.0, 0, 0);
  /* no positive label: ROC's recall is 0 everywhere -> 0; PR likewise */
  assert_close(one("auc", low, zeros, 1, 4, NULL), 0.0, 0, 0);
  assert_close(one("auc(curve=PR)", low, zeros, 1, 4, NULL), 0.0, 0, 0);
  /* F1 with no true positives: 0 (epsilon in every denominator) */
  assert_close(one("f1_score(threshold=0.5, average=macro)", low, zeros, 1, 4, NULL), 0.0, 0, 0);
  /* all scores equal: the ROC curve jumps from (1, 1) to (0, 0) in one step -> 0.5 */
  const float same[] = {0.5f, 0.5f, 0.5f, 0.5f}, mixed[] = {0, 1, 0, 1};
  assert_close(one("auc", same, mixed, 1, 4, NULL), 0.5, TOL, 0);
  /* PR, interpolated: precision is 0.5 from recall 0 to 1 -> 0.5 */
  assert_close(one("auc(curve=PR)", same, mixed, 1, 4, NULL), 0.5, TOL, 0);
  /* minoring / majoring bound it: the step's lower height 0, upper 1 */
  assert_close(one("auc(summation_method=minoring)", same, mixed, 1, 4, NULL), 0.0, TOL, 0);
  assert_close(one("auc(summation_method=majoring)", same, mixed, 1, 4, NULL), 1.0, TOL, 0);
  /* a prediction equal to the threshold is not above it */
  assert_close(one("precision", same, mixed, 1, 4, NULL), 0.0, 0, 0);
  assert_close(one("recall(thresholds=0.4)", same, mixed, 1, 4, NULL), 1.0, 0, 0);
  /* F1 with threshold None: every column equal to the row's maximum counts (ties), unless 0 */
  const float tie_p[] = {0.5f, 0.5f, 0.0f, 0, 0, 0}, tie_t[] = {1, 0, 0, 0, 0, 1};
  double f[3];
  run("f1_score", tie_p, tie_t, 3, 3, 2, 2, NULL, f);
  const double e = (double)1e-7f;
  double p0 = 1 / (1 + e), r0 = 1 / (1 + e);
  assert_close(f[0], 2 * p0 * r0 / (p0 + r0 + e), TOL, 0);
  assert_close(f[1], 0.0, 0, 0);
  assert_close(f[2], 0.0, 0, 0);
  /* in_top_k: ties at the boundary are in (no prediction strictly larger) */
  const float tk_p[] = {0.3f, 0.3f, 0.3f}, tk_t[] = {0, 0, 1};
  assert_close(one("top_k_categorical_accuracy(k=1)", tk_p, tk_t, 3, 1, NULL), 1.0, 0, 0);
  /* Precision(top_k=1) on the same row keeps column 0 only (lower index first) */
  assert_close(one("precision(top_k=1)", tk_p, tk_t, 3, 1, NULL), 0.0, 0, 0);
  assert_close(one("recall(top_k=3)", tk_p, tk_t, 3, 1, NULL), 1.0, 0, 0);
  /* a sparse label out of range is never in the top k */
  const float bad[] = {7};
  double v;
  run("sparse_top_k_categorical_accuracy", tk_p, bad, 3, 1, 1, 1, NULL, &v);
  assert_close(v, 0.0, 0, 0);
  /* nothing added: NaN, as every metric of the library */
  dn_metric m;
  assert_ok(dn_metric_init(&m, "auc", 1, 1));
  assert_true(isnan(dn_metric_result(&m)));
  dn_metric_free(&m);
}

/* Reset starts a new epoch; the result is the value over all rows since, not a batch mean. */
static void test_epoch_not_batch_mean(void **state) {
  (void)state;
  /* batch 1: tp 1, fp 0 (precision 1); batch 2: tp 1, fp 3 (precision 0.25): epoch 2/5 */
  const float p[] = {0.9f, 0.9f, 0.9f, 0.9f, 0.9f}, t[] = {1, 1, 0, 0, 0};
  dn_metric m;
  assert_ok(dn_metric_init(&m, "precision", 1, 1));
  dn_metric_update(&m, p, t, 1, NULL);
  assert_close(dn_metric_result(&m), 1.0, 0, 0);
  dn_metric_update(&m, p + 1, t + 1, 4, NULL);
  assert_close(dn_metric_result(&m), 0.4, TOL, 0);
  dn_metric_reset(&m);
  dn_metric_update(&m, p + 1, t + 1, 4, NULL);
  assert_close(dn_metric_result(&m), 0.25, TOL, 0);
  dn_metric_free(&m);
}

static void test_specs(void **state) {
  (void)state;
  char name[DN_METRIC_NAME_CAP];
  dn_metric_log_name("auc(curve=PR)", name, sizeof name);
  assert_string_equal(name, "auc");
  assert_ok(dn_metric_check_name("AUC( curve = 'PR' , name = \"pr_auc\" )"));
  dn_metric_log_name("AUC( curve = 'PR' , name = \"pr_auc\" )", name, sizeof name);
  assert_string_equal(name, "pr_auc");
  assert_ok(dn_metric_check_name("precision()"));
  assert_ok(dn_metric_check_name("mae(name=abs_err)"));
  assert_ok(dn_metric_check_name("f1_score(average=None, threshold=None)"));
  assert_status_msg(dn_metric_check_name("auc(curve=XY)"), DN_ERR_ARG, "curve must be ROC or PR");
  assert_status_msg(dn_metric_check_name("auc(top_k=2)"), DN_ERR_ARG,
                    "auc takes no argument 'top_k' (it takes name, num_thresholds, curve");
  assert_status_msg(dn_metric_check_name("auc(num_thresholds=1)"), DN_ERR_ARG, "num_thresholds");
  assert_status_msg(dn_metric_check_name("precision(thresholds=1.5)"), DN_ERR_ARG, "[0, 1]");
  assert_status_msg(dn_metric_check_name("f1_score(threshold=0)"), DN_ERR_ARG,
                    "0 < threshold <= 1");
  assert_status_msg(dn_metric_check_name("f1_score(average=samples)"), DN_ERR_ARG,
                    "None, micro, macro or weighted");
  assert_status_msg(dn_metric_check_name("fbeta_score(beta=0)"), DN_ERR_ARG, "beta");
  assert_status_msg(dn_metric_check_name("f1_score(beta=2)"), DN_ERR_ARG, "no argument 'beta'");
  assert_status_msg(dn_metric_check_name("auc(curve=PR"), DN_ERR_ARG, "missing ')'");
  assert_status_msg(dn_metric_check_name("auc(curve=PR) x"), DN_ERR_ARG, "after the closing");
  assert_status_msg(dn_metric_check_name("auc(curve=PR, curve=ROC)"), DN_ERR_ARG, "twice");
  assert_status_msg(dn_metric_check_name("auc(PR)"), DN_ERR_ARG, "key=value");
  assert_status_msg(dn_metric_check_name("aucc(curve=PR)"), DN_ERR_ARG, "unknown metric 'aucc'");
  assert_status_msg(dn_metric_check_name("top_k_categorical_accuracy(k=0)"), DN_ERR_ARG,
                    "k must be an integer >= 1");
  /* widths: class_id and top_k within the output, targets as wide as the predictions */
  dn_metric m;
  assert_status_msg(dn_metric_init(&m, "precision(class_id=3)", 3, 3), DN_ERR_SHAPE, "class_id 3");
  assert_status_msg(dn_metric_init(&m, "recall(top_k=4)", 3, 3), DN_ERR_SHAPE, "top_k 4");
  assert_status_msg(dn_metric_init(&m, "auc", 3, 1), DN_ERR_SHAPE, "as many columns");
  assert_status_msg(dn_metric_init(&m, "sparse_top_k_categorical_accuracy", 3, 3), DN_ERR_SHAPE,
                    "1 column of class indices");
  /* per-class names */
  assert_ok(dn_metric_init(&m, "f1_score(name=f1)", 3, 3));
  assert_int_equal(m.n_values, 3);
  assert_string_equal(dn_metric_value_name(&m, 2, false), "f1[2]");
  assert_string_equal(dn_metric_value_name(&m, 0, true), "val_f1[0]");
  assert_null(dn_metric_value_name(&m, 3, false));
  dn_metric_free(&m);
  assert_ok(dn_metric_init(&m, "f1_score(average=micro)", 3, 3));
  assert_int_equal(m.n_values, 1);
  assert_string_equal(dn_metric_value_name(&m, 0, true), "val_f1_score");
  dn_metric_free(&m);
  /* directions for monitor mode "auto" */
  assert_int_equal(dn_metric_name_direction("auc"), 1);
  assert_int_equal(dn_metric_name_direction("precision"), 1);
  assert_int_equal(dn_metric_name_direction("f1_score[2]"), 1);
  assert_int_equal(dn_metric_name_direction("sparse_top_k_categorical_accuracy"), 1);
}

/* Through compile / fit / evaluate: Keras's names in the history, per-class F1 keys, the epoch's
 * val_auc equal to the value over all validation rows (evaluate after fit, same weights), and
 * EarlyStopping on "val_auc" in mode auto. */
static void test_fit_logging(void **state) {
  (void)state;
  enum { N = 40 };
  float x[N * 2], y[N];
  for (size_t i = 0; i < N; i++) {
    x[2 * i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    x[2 * i + 1] = (float)((i * 5) % 13) / 13.0f - 0.5f;
    y[i] = x[2 * i] + 0.3f * x[2 * i + 1] > 0.05f ? 1.0f : 0.0f;
  }
  dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                              dn_dense(1, .activation = "sigmoid"));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "binary_crossentropy",
                       .metrics = (const char *[]){"auc", "precision", "recall(thresholds=0.3)",
                                                   "f1_score(threshold=0.5)",
                                                   "auc(curve=PR, name=pr_auc)", NULL}));
  /* a built model sets its metrics up at compile: "auc(curve=PR, name=pr_auc)" as logged */
  assert_int_equal(dn_model_metrics_count(m), 6);
  assert_string_equal(dn_model_metric_name(m, 4), "f1_score[0]");
  assert_string_equal(dn_model_metric_name(m, 5), "pr_auc");
  dn_history *h = dn_fit(
      m, dn_tensor_2d(x, N, 2), dn_tensor_2d(y, N, 1), .epochs = 3, .batch_size = 7,
      .validation_split = 0.25, .verbose = DN_VERBOSE_SILENT,
      .callbacks = (dn_callback *[]){dn_early_stopping(.monitor = "val_auc", .patience = 5), NULL});
  assert_non_null(h);
  const char *keys[] = {"loss",          "auc",        "precision",       "recall",
                        "f1_score[0]",   "pr_auc",     "val_loss",        "val_auc",
                        "val_precision", "val_recall", "val_f1_score[0]", "val_pr_auc"};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
    if (dn_history_values(h, keys[k]) == NULL)
      fail_msg("history lacks '%s'", keys[k]);
  /* set up for the output width: a value per class of the F1 score (one class here) */
  assert_int_equal(dn_model_metrics_count(m), 6);
  assert_string_equal(dn_model_metric_name(m, 1), "auc");
  assert_string_equal(dn_model_metric_name(m, 4), "f1_score[0]");
  assert_string_equal(dn_model_metric_name(m, 5), "pr_auc");
  assert_null(dn_model_metric_name(m, 6));
  size_t last = dn_history_length(h) - 1;
  double v[6];
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x + 30 * 2, 10, 2), dn_tensor_2d(y + 30, 10, 1), v,
                                6, .batch_size = 3));
  assert_close(v[1], dn_history_values(h, "val_auc")[last], 1e-15, 0);
  assert_close(v[2], dn_history_values(h, "val_precision")[last], 1e-15, 0);
  assert_close(v[4], dn_history_values(h, "val_f1_score[0]")[last], 1e-15, 0);
  assert_close(v[5], dn_history_values(h, "val_pr_auc")[last], 1e-15, 0);
  /* and the same over one batch */
  double w[6];
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x + 30 * 2, 10, 2), dn_tensor_2d(y + 30, 10, 1), w,
                                6, .batch_size = 10));
  for (size_t k = 1; k < 6; k++)
    assert_close(w[k], v[k], 1e-15, 0);
  dn_history_free(h);
  dn_model_free(m);

  /* an unbuilt model names each metric once until its first data call */
  m = dn_sequential(dn_dense(3, .activation = "softmax"));
  assert_ok(dn_compile(m, .loss = "categorical_crossentropy",
                       .metrics = (const char *[]){"f1_score", "auc(name=a)", NULL}));
  assert_int_equal(dn_model_metrics_count(m), 3);
  assert_string_equal(dn_model_metric_name(m, 1), "f1_score");
  assert_string_equal(dn_model_metric_name(m, 2), "a");
  float x3[4] = {1, 2, 3, 4}, y3[6] = {1, 0, 0, 0, 0, 1};
  assert_ok(dn_evaluate_metrics(m, dn_tensor_2d(x3, 2, 2), dn_tensor_2d(y3, 2, 3), v, 6));
  assert_int_equal(dn_model_metrics_count(m), 5);
  assert_string_equal(dn_model_metric_name(m, 3), "f1_score[2]");
  assert_string_equal(dn_model_metric_name(m, 4), "a");
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numpy_cross_check),
      cmocka_unit_test(test_keras_docstrings),
      cmocka_unit_test(test_edge_cases),
      cmocka_unit_test(test_epoch_not_batch_mean),
      cmocka_unit_test(test_specs),
      cmocka_unit_test(test_fit_logging),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
