/* sequential.h -- internal: the model container (layers, parameter block, workspace). */
#ifndef DN_SEQUENTIAL_H
#define DN_SEQUENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "densenet.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "layers/layer.h"

struct dn_train; /* compiled state, owned by train.c */

struct dn_model {
  dn_layer **layers;
  size_t n_layers, layers_cap;
  size_t input_dim; /* 0 until known */
  /* The layers' names for lookups in O(1): open addressing over names_cap slots (a power of
   * two, at most half full; NULL = empty). */
  dn_layer **names;
  size_t names_cap;
  /* Automatic naming (auto_name): per layer kind, the lowest suffix not known to be taken
   * (0 for the bare stem). Only dn_model_pop removes a name, and it resets the counters to 0;
   * otherwise the lowest free suffix only grows. */
  struct dn_auto_count {
    const char *base; /* the kind's base_name, NULL for an unused entry */
    size_t next;
  } auto_counts[8];

  /* One aligned block of parameters (get_weights order) and its gradients. */
  float *params, *grads;
  size_t n_params;
  /* Every layer's variables, offsets into the model block. Their `trainable` is the training
   * set: the variable's kind and not frozen as of the last dn_seq_sync_trainable (the layers'
   * train_frozen), what the optimizer, its state and the files' optimizer variables follow. */
  dn_var *vars;
  size_t n_vars;
  bool frozen; /* Keras's model.trainable = False (dn_model_set_trainable) */

  /* Workspace for batches of up to ws_rows rows: outs[i] is layer i's output
   * (ws_rows x output_dim); dbuf[0..1] ping-pong backward buffers
   * (ws_rows x max width); xbuf a copy of the last public forward's input. */
  size_t ws_rows;
  float **outs;
  float *dbuf[2];
  float *xbuf;
  size_t max_width;
  /* The layers as a chain of small Dense steps (kernels.h), writing into outs;
   * NULL unless every layer is a Dense layer with a fused activation.
   * chain_width: the widest input or output among them. */
  struct dn_dense_step *chain;
  size_t chain_width;
  const float *fwd_x; /* input of the last forward (xbuf or a train-owned batch) */
  size_t fwd_rows;    /* rows of the last forward, 0 = none */
  bool fwd_training;

  uint64_t seed;
  dn_rng rng_init, rng_shuffle, rng_dropout;
  /* Counts the writes of the weights other than an optimizer step's (dn_seq_weights_written),
   * so that the optimizer knows when to look at them again. */
  uint64_t weights_version;

  bool stop_training;
  struct dn_train *train;                /* NULL until compiled */
  void (*train_free)(struct dn_train *); /* set by train.c */
};

/* Makes the workspace hold batches of `rows` rows (grows only). */
dn_status dn_seq_reserve(dn_model *model, size_t rows);
/* Forward over rows rows of x (kept by pointer: x must stay valid until the
 * matching backward). Returns the output (the last layer's workspace buffer),
 * or NULL with the error set (no input shape, rows over capacity). */
const float *dn_seq_forward(dn_model *model, const float *x, size_t rows, bool training);
/* Inference over rows rows of x into y (rows x output_dim; y may overlap x):
 * dn_seq_forward without training, whose last layer writes straight into y
 * where it can. No backward may follow (it needs a forward). NULL-free
 * arguments; false with the error set as dn_seq_forward. */
bool dn_seq_predict(dn_model *model, const float *x, size_t rows, float *y);
/* Backward from dy (rows x output_dim, copied first; dy is not written) after
 * dn_seq_forward with the same rows. Overwrites model->grads, adds the
 * regularizer gradients; writes dL/dx into dx if dx != NULL. */
dn_status dn_seq_backward(dn_model *model, const float *dy, size_t rows, float *dx);
/* Sum of the layers' regularization penalties (no gradient). */
double dn_seq_penalty(const dn_model *model);
/* True once every layer is built (the model has an input shape). */
bool dn_seq_is_built(const dn_model *model);

/* The one check that a model has an input shape, for calls that cannot take it from data:
 * DN_ERR_ARG for a NULL model, DN_ERR_STATE for no layers or no input shape yet, each message
 * starting with `fn`. */
dn_status dn_seq_require_built(const dn_model *model, const char *fn);
/* Whether data of `rows` x `cols` (argument `arg` of call `fn`, "x") fits the model, changing
 * nothing: DN_ERR_STATE if it has no layers; DN_ERR_SHAPE if it is built for another width
 * ("fn: x has 30 columns but the model's input width is 31") or, unbuilt, a layer cannot take
 * the width that reaches it, or if `rows` rows of the model's widest layer (its activations
 * for these rows, which forward, backward and the outputs hold) are more values than can exist
 * (DN_MAX_ELEMENTS), so no size computed from them overflows. On success *output_dim is the
 * output width the model has, or will have once built for `cols` (so targets can be checked
 * before building). */
dn_status dn_seq_check_input(const dn_model *model, const char *fn, const char *arg, size_t rows,
                             size_t cols, size_t *output_dim);
/* What dn_seq_build_for did, for a call that fails later to undo it (dn_seq_build_undo). */
typedef struct dn_seq_build {
  bool built;      /* this call built the model */
  dn_rng rng_init; /* the init stream before it drew the weights */
} dn_seq_build;
/* Builds an unbuilt model for `cols` input columns, as Keras builds on its first batch (a no-op
 * when built). Call it after every check of the call passed (dn_seq_check_input). Errors as
 * dn_model_build, prefixed with `fn`; the model stays unbuilt on failure. *record (may be
 * NULL) says whether it built. */
dn_status dn_seq_build_for(dn_model *model, const char *fn, size_t cols, dn_seq_build *record);
/* Undoes the build a record says this call made (a no-op otherwise), for a call that fails
 * after building before it changed anything else (an allocation, a callback): the layers go
 * back to unbuilt, the parameter block and workspace are released, the init stream rewound,
 * so a later call builds the same weights. *record is cleared. */
void dn_seq_build_undo(dn_model *model, dn_seq_build *record);
/* The checks and setup of a call that runs x through the model into y (predict, forward):
 * x's width against the model's input width, y's width and rows, the build of an unbuilt
 * model from x and a workspace for batches of batch_size rows (0: all of x). On success *mx
 * and *my are x and y read as matrices and *built says whether the call built the model; on
 * failure nothing has changed. Messages start with `fn`. */
dn_status dn_seq_prepare_pass(dn_model *model, const char *fn, dn_tensor x, dn_tensor y,
                              size_t batch_size, dn_matrix *mx, dn_matrix *my, dn_seq_build *built);
/* The check of an output tensor read as matrix m (argument `arg` of `fn`): DN_ERR_SHAPE unless
 * it has exactly `cols` columns (`cols_of` names that width: "the model's output width") and
 * at least `rows` rows (`rows_of` names whose: "x"). */
dn_status dn_seq_check_output(const char *fn, const char *arg, const dn_matrix *m, size_t rows,
                              const char *rows_of, size_t cols, const char *cols_of);

/* Whether variable `var` of `layer` (a layer of the model) is trainable now: its kind, and
 * neither the layer nor the model frozen (Keras's model.trainable_weights). */
static inline bool dn_seq_var_trainable(const dn_model *model, const dn_layer *layer,
                                        const dn_var *var) {
  return var->trainable && !layer->frozen && !model->frozen;
}
/* Makes the training set (model->vars' trainable flags, the layers' train_frozen) follow the
 * flags now: at compile and whenever the parameter block is rebuilt (build, add, pop). The
 * caller resets what depended on the old set (compile starts a fresh optimizer state). */
void dn_seq_sync_trainable(dn_model *model);
/* Whether a flag changed since the last dn_seq_sync_trainable (the training set is not the
 * trainable weights now). */
bool dn_seq_trainable_changed(const dn_model *model);

/* The first layer of the model that only predicts (an int8 QuantizedDense, dn_model_quantize),
 * or NULL: the training calls refuse a model that has one. */
const dn_layer *dn_seq_inference_only(const dn_model *model);
/* DN_ERR_STATE with a message starting with `fn` if the model only predicts, else DN_OK. */
dn_status dn_seq_require_trainable(const dn_model *model, const char *fn);

/* Records that something other than an optimizer step wrote the model's weights (set, load,
 * re-seed, build): every such write calls it (the optimizer's overflow guard relies on it). */
void dn_seq_weights_written(dn_model *model);

#endif
