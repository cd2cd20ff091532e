/* loss.h -- internal: the table of Keras 3 losses (value and gradient).
 *
 * Reduction is Keras's "sum_over_batch_size": each row's loss (a mean over
 * the last axis, or a sum for the cross-entropies, as Keras defines each),
 * times its sample weight, summed and divided by the number of rows (not by
 * the sum of the weights).
 */
#ifndef DN_LOSS_H
#define DN_LOSS_H

#include <stdbool.h>
#include <stddef.h>

#include "densenet.h"

typedef struct dn_loss_params {
  double huber_delta; /* resolved: 1.0 by default */
  bool from_logits;
  double label_smoothing; /* in [0, 1] */
} dn_loss_params;

typedef struct dn_loss {
  const char *name; /* canonical Keras name: "mean_absolute_error" */
  bool sparse;      /* targets are rows x 1 class indices */
  /* *loss = reduced loss of pred (rows x cols) against target (rows x cols,
   * or rows x 1 if sparse); if grad != NULL, grad = dL/dpred (rows x cols).
   * sample_weight may be NULL; params NULL means the Keras defaults. DN_ERR_ARG
   * (before anything is written) for a bad class index (sparse, naming the
   * row), a bad option (see dn_loss_check_params), a NULL pointer or an empty
   * batch; nothing else fails. No allocation. */
  dn_status (*eval)(double *loss, float *grad, const float *pred, const float *target, size_t rows,
                    size_t cols, const float *sample_weight, const dn_loss_params *params);
  /* "crossentropy": stands for the cross-entropy dn_loss_resolve picks from the targets at the
   * first call with data; its eval only fails (DN_ERR_STATE). */
  bool from_targets;
} dn_loss;

/* Looks a Keras loss name or alias up ("mae", "MAE", "mean_absolute_error").
 * Unknown: NULL with DN_ERR_ARG "unknown loss 'foo' (...)" with a hint or the names (names.h). */
const dn_loss *dn_loss_find(const char *name);

/* The loss a call with data uses: `loss` itself, or for "crossentropy" Keras 3's choice from
 * the shapes (compile_utils.get_loss): binary_crossentropy for an output of 1 column,
 * sparse_categorical_crossentropy for targets of 1 column (class indices; a rank-1 target
 * reads as 1 column) and a wider output, categorical_crossentropy otherwise. */
const dn_loss *dn_loss_resolve(const dn_loss *loss, size_t output_cols, size_t target_cols);

/* The option checks eval makes, for compile to run before any batch:
 * DN_ERR_ARG if huber_delta is not > 0 (huber; +0.0 reads as the default
 * 1.0, DN_ZERO is rejected), label_smoothing is outside [0, 1] (binary and
 * categorical cross-entropy), or from_logits / a non-zero label_smoothing is
 * given to a loss that has no such option. huber_delta is ignored elsewhere
 * (params carry the resolved 1.0 for every loss; compile rejects a huber_delta
 * given to a loss without it, dn_loss_takes_huber_delta). */
dn_status dn_loss_check_params(const dn_loss *loss, const dn_loss_params *params);
/* True for the losses with a huber_delta option (huber). */
bool dn_loss_takes_huber_delta(const dn_loss *loss);

#endif
