/* train.h -- internal: a model's compiled state (loss, optimizer, metrics, batch buffers)
 * and the batch steps compile/fit/evaluate/predict share.
 *
 * The state hangs on model->train (model->train_free frees it), so sequential.c frees it
 * without knowing it. Buffers grow at setup time only: a training step allocates nothing.
 */
#ifndef DN_TRAIN_H
#define DN_TRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "densenet.h"
#include "training/loss.h"
#include "training/metric.h"
#include "training/optimizer.h"
#include "model/sequential.h"

#define DN_TRAIN_NAME_CAP 64

struct dn_train {
  const dn_loss *loss;
  dn_loss_params loss_params;
  dn_optimizer *optimizer; /* owned */
  size_t n_metrics;
  char (*metric_req)[DN_TRAIN_NAME_CAP]; /* names as given to compile */
  char (*val_names)[DN_TRAIN_NAME_CAP];  /* "val_" + logged metric names */
  dn_metric *metrics;                    /* initialized when metrics_cols != 0 */
  size_t metrics_cols;                   /* output width the metrics were set up for */
  /* Grow-only batch buffers: gathered x, y, sample weights, dL/dpred. */
  float *bx, *by, *bw, *grad;
  size_t buf_rows, buf_in, buf_out; /* sized for these rows and widths */
  size_t *perm;                     /* training row order for shuffling */
  size_t perm_cap;
  /* The non-trainable weights (BatchNormalization's moving statistics, which a training
   * forward pass updates) as they were before the current step, to put back when the step
   * is refused for a NaN/Inf loss or gradient. */
  float *frozen;
  size_t frozen_cap;
};

void dn_train_free(struct dn_train *train);

/* Checks that `model` is compiled and built, sets up the metrics for its output
 * width and sizes the optimizer: the setup every training call makes first.
 * Messages start with `fn`. */
dn_status dn_train_ready(dn_model *model, const char *fn);
/* Columns of y for this model's loss (1 for sparse labels, else output_dim). */
size_t dn_train_target_cols(const dn_model *model);
/* Grows the batch buffers and the model workspace to `rows` rows, and the
 * shuffle order to perm_rows entries (0 = not needed). */
dn_status dn_train_reserve(dn_model *model, size_t rows, size_t perm_rows);
/* DN_ERR_ARG (naming fn and the row) if a sparse loss gets a label that is not a
 * class index in [0, output_dim). */
dn_status dn_train_check_labels(const dn_model *model, const char *fn, const char *what,
                                const float *y, size_t rows);

/* One training step on n rows (x, y, sw may be NULL; x must stay valid through the
 * step): forward in training mode, loss + regularization into *loss, metrics updated
 * (if update_metrics), backward, optimizer step. If the loss or a gradient is NaN/Inf
 * the step is not applied -- the non-trainable weights the forward pass moved are put
 * back too -- and DN_ERR_NUMERIC is returned without a message (*loss holds the value;
 * *bad_gradient tells which). Needs dn_train_reserve first. */
dn_status dn_train_step(dn_model *model, const float *x, const float *y, const float *sw, size_t n,
                        bool update_metrics, double *loss, bool *bad_gradient);

/* Evaluation in inference mode over rows rows in batches: resets the metrics, returns the
 * sample-count-weighted mean of the batch losses (regularization included) in *loss;
 * the metrics then hold their results. */
dn_status dn_train_evaluate(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t rows, size_t batch_size, double *loss);

/* Reset / read the compiled metrics. */
void dn_train_reset_metrics(struct dn_train *train);

/* True if every trainable gradient is finite. after_backward: the gradients are those
 * dn_seq_backward just wrote, so the layers that checked them on the way (grad_state) are not
 * scanned again; otherwise (gradients set by the caller) every layer is scanned. */
bool dn_train_grads_finite(const dn_model *model, bool after_backward);

#endif
