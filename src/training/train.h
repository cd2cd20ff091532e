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
#include "core/source.h"
#include "core/tensor.h"
#include "model/sequential.h"
#include "training/callbacks.h"
#include "training/loss.h"
#include "training/metric.h"
#include "training/optimizer.h"
#include "training/progress.h"

#define DN_TRAIN_NAME_CAP 64

/* Why a training step was refused (DN_ERR_NUMERIC). */
typedef enum dn_step_fault {
  DN_STEP_FINE,     /* not refused */
  DN_STEP_LOSS,     /* the loss is NaN or Inf as a float */
  DN_STEP_GRADIENT, /* a gradient is NaN or Inf */
  DN_STEP_UPDATE,   /* the optimizer's update would make a weight or a slot Inf or NaN */
} dn_step_fault;

struct dn_train {
  const dn_loss *loss;
  dn_loss_params loss_params;
  dn_optimizer *optimizer;  /* owned */
  uint64_t weights_version; /* the model's weights_version at the optimizer's last step */
  size_t n_metrics;
  char (*metric_req)[DN_TRAIN_NAME_CAP]; /* names as given to compile */
  char (*val_names)[DN_TRAIN_NAME_CAP];  /* "val_" + logged metric names */
  dn_metric *metrics;                    /* initialized when metrics_cols != 0 */
  size_t metrics_cols, metrics_tcols;    /* output and target widths they were set up for */
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
  const struct dn_train_hooks *hooks; /* set for the duration of a distributed fit, else NULL */
};

/* The seam a distributed fit (src/mpi/) fills; the core calls it at fixed points, every
 * process in the same order, so each hook may be a collective operation. A NULL hooks pointer
 * (dn_fit) runs none of this. Each hook gets the process's own status and returns the status
 * every process agrees on (the first failure's, the same on all); a hook never fails alone. */
typedef struct dn_train_hooks {
  void *ctx;
  bool no_files; /* callbacks write no files in this process (dn_cb_ctx.no_files) */
  /* After fit's checks and allocations (local: their status): the local batch of rows this
   * process trains on per step (*batch, from the global batch in), the steps of an epoch
   * (*steps, the same on every process; a step past this process's rows trains on 0 rows;
   * 0 for a source: unknown), and whether any process validates (*validate). On entry *steps
   * and *validate hold this process's own (a source's steps, 0 if unknown; rows is SIZE_MAX
   * for a source). */
  dn_status (*plan)(void *ctx, dn_model *model, dn_status local, size_t rows, size_t vrows,
                    size_t *batch, size_t *steps, bool *validate);
  /* The epoch's shuffle of perm[0..rows) (instead of fit's Fisher-Yates on rng_shuffle). */
  void (*shuffle)(void *ctx, dn_model *model, size_t *perm, size_t rows);
  /* A source fit only: after this process pulled its batch of n rows (n = 0: its source has
   * ended for the epoch, or local failed), before the batch's callbacks. Returns the agreed
   * status and sets *more: whether any process has rows (else the epoch ends on all). A
   * failure before a step's first agreement (an epoch's begin callbacks, a source's reset)
   * is reported here too (with reduce_grads for arrays). */
  dn_status (*pulled)(void *ctx, dn_status local, size_t n, bool *more);
  /* Before a training step's forward pass. */
  void (*step_begin)(void *ctx, dn_model *model);
  /* After the backward pass of n rows (or a local failure: local != DN_OK, *fault its kind),
   * before the gradient check and the optimizer step: sums model->grads across processes.
   * Returns the agreed status and sets *fault to the agreed fault. */
  dn_status (*reduce_grads)(void *ctx, dn_model *model, size_t n, dn_status local,
                            dn_step_fault *fault);
  /* An epoch's (or validation's) totals: the loss sum (loss x rows), the rows, and the compiled
   * metrics' running states, summed across processes in place. */
  dn_status (*reduce_totals)(void *ctx, dn_model *model, dn_status local, double *loss_sum,
                             double *rows);
  /* After a batch's or an epoch's callbacks: the agreed status, and *stop (model->stop_training)
   * true on every process if it is on any. */
  dn_status (*agree)(void *ctx, dn_status local, bool *stop);
} dn_train_hooks;

/* dn_fit with hooks (NULL: exactly dn_fit). Owns the callbacks as dn_fit does. */
dn_history *dn_fit_hooked(dn_fit_options options, const dn_train_hooks *hooks);
/* dn_fit_source with hooks (NULL: exactly dn_fit_source); the source must not be NULL with
 * hooks (the caller checks it in its own agreement). */
dn_history *dn_fit_source_hooked(dn_fit_source_options options, const dn_train_hooks *hooks);

void dn_train_free(struct dn_train *train);

/* What a call with data learnt from its x, y and sample weights, all checked: the matrices,
 * the output width, the loss the call uses ("crossentropy" resolved from y) and y's width for
 * it (1 for sparse labels, else the output width). */
typedef struct dn_xy {
  dn_matrix x, y;
  const float *sw; /* rows floats, or NULL for no sample weights */
  size_t out, tcols;
  const dn_loss *loss;
} dn_xy;

/* Every check a call with x and y makes, changing nothing: model (DN_ERR_ARG), compiled and
 * with layers (DN_ERR_STATE), the tensors (dn_tensor_matrix), x's width against the model
 * (an unbuilt model takes it), the loss resolved from y ("crossentropy"; label_smoothing on a
 * sparse resolution is DN_ERR_ARG), y's width, equal rows, sample_weight (no tensor, or one
 * column of x's rows), class indices for a sparse loss (DN_ERR_ARG naming the row). Messages
 * start with `fn` and name the argument and both numbers. */
dn_status dn_train_check_xy(dn_model *model, const char *fn, dn_tensor x, dn_tensor y,
                            dn_tensor sample_weight, dn_xy *d);
/* The same checks for a second pair (fit's validation data, named x_name / y_name) against
 * the first pair's widths and loss; sample weights none. */
dn_status dn_train_check_pair(const char *fn, const char *x_name, const char *y_name, dn_tensor x,
                              dn_tensor y, const dn_xy *first, dn_xy *d);
/* What dn_train_setup changed, for dn_train_setup_undo. */
typedef struct dn_train_undo {
  dn_seq_build build;
  const dn_loss *loss; /* the compiled loss before (an unresolved crossentropy) */
} dn_train_undo;
/* After every check of the call passed: builds an unbuilt model for x's width, fixes the
 * resolved loss, sets up the metrics for the output width and sizes the optimizer's slots:
 * the setup every call with targets makes. Messages start with `fn`. */
/* A batch_size option: 0 -> keras_default, DN_ZERO_COUNT or a converted negative number ->
 * DN_ERR_ARG naming fn (Keras refuses a batch of 0 rows). */
dn_status dn_train_batch_size(const char *fn, size_t value, size_t keras_default, size_t *out);
dn_status dn_train_setup(dn_model *model, const char *fn, const dn_xy *d, dn_train_undo *undo);
/* Puts back what dn_train_setup changed that a caller can see (the model's build, an unresolved
 * "crossentropy"), for a call that fails before its first step. */
void dn_train_setup_undo(dn_model *model, dn_train_undo *undo);
/* Columns of y for this model's loss (1 for sparse labels, else output_dim); the loss must be
 * resolved (dn_train_setup). */
size_t dn_train_target_cols(const dn_model *model);
/* Grows the batch buffers and the model workspace to `rows` rows, and the
 * shuffle order to perm_rows entries (0 = not needed). */
dn_status dn_train_reserve(dn_model *model, size_t rows, size_t perm_rows);

/* "loss is NaN or Inf", ...: the fault for a message. */
const char *dn_step_fault_text(dn_step_fault fault);

/* One training step on n rows (x, y, sw may be NULL; x must stay valid through the
 * step): forward in training mode, loss + regularization into *loss, metrics updated
 * (if update_metrics), backward, optimizer step. If the loss (as the float a caller gets), a
 * gradient or a result of the optimizer's update is NaN/Inf, the step is not applied --
 * nothing is written: weights, optimizer slots and iterations keep their values and the
 * non-trainable weights the forward pass moved are put back -- and DN_ERR_NUMERIC is returned
 * (*loss holds the value, as a float would hold it for a bad loss; *fault tells which). Needs
 * dn_train_reserve first. */
dn_status dn_train_step(dn_model *model, const float *x, const float *y, const float *sw, size_t n,
                        bool update_metrics, double *loss, dn_step_fault *fault);

/* The progress display of an evaluate or a predict (Keras's ProgbarLogger outside fit): one
 * "epoch" of batches without an "Epoch" line; the logbook holds a batch's values. */
typedef struct dn_pass_display {
  dn_progress progress;
  dn_logbook book;
} dn_pass_display;

/* Evaluation in inference mode over rows rows in batches: resets the metrics, returns the
 * sample-count-weighted mean of the batch losses (regularization included) in *loss;
 * the metrics then hold their results. display (NULL for none) is drawn after each batch
 * (the running loss and the metrics so far) and at the end. */
dn_status dn_train_evaluate(dn_model *model, const float *x, const float *y, const float *sw,
                            size_t rows, size_t batch_size, double *loss, dn_pass_display *display);

/* loss then the metrics' values (their training names, or val_ names) into book. */
dn_status dn_train_log_values(dn_logbook *book, const struct dn_train *t, double loss, bool val);

/* Batch sources (core/source.h). The checks and setup dn_train_check_xy makes, for a source:
 * its widths against the model (messages name x and y, as for tensors), the loss resolved from
 * y_cols; DN_ERR_ARG for NULL or a source without targets. d's data pointers are NULL. */
dn_status dn_train_check_source(dn_model *model, const char *fn, dn_source *source, dn_xy *d);
/* Class indices in a batch's y for a sparse loss (DN_ERR_ARG: "y: row R holds ..."; the caller
 * adds its context). */
dn_status dn_train_check_labels(const dn_model *model, const float *y, size_t rows);
/* dn_train_evaluate over one pass of a source (reset first if read) in batches of at most
 * batch_size rows, through the batch buffers (dn_train_reserve(model, batch_size, 0) first).
 * Errors name fn and the batch; a pass with no rows is DN_ERR_STATE, unless rows_out is given:
 * it then receives the pass's rows (0 allowed: *loss 0). */
dn_status dn_train_evaluate_source(dn_model *model, dn_source *source, const char *fn,
                                   size_t batch_size, double *loss, size_t *rows_out);

/* Reset / read the compiled metrics. */
void dn_train_reset_metrics(struct dn_train *train);

/* True if every trainable gradient is finite; *bound then holds a bound on their magnitudes
 * for dn_optimizer_step (DN_GRAD_LIMIT, or the largest one if one is beyond that).
 * after_backward: the gradients are those dn_seq_backward just wrote, so the layers that
 * checked them on the way (grad_state) are not scanned again; otherwise (gradients set by the
 * caller) every layer is scanned. */
bool dn_train_grads_finite(const dn_model *model, bool after_backward, float *bound);

#endif
