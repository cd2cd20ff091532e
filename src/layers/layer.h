/* layer.h -- internal: the interface every layer implements.
 *
 * A layer is built once its input width is known (ops->build sets
 * output_dim, n_params and the variables). Its parameters live in the
 * model's one contiguous block: until the layer joins a model it holds them
 * in storage of its own (so Normalization can be adapted before being
 * added); dn_layer_bind moves them into the model's block.
 */
#ifndef DN_LAYER_H
#define DN_LAYER_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "densenet.h"
#include "core/rng.h"
#include "core/tensor.h"

struct dn_dense_step; /* kernels.h */

/* One Keras variable of a layer, in get_weights order. */
typedef struct dn_var {
  const char *name; /* Keras variable name: "kernel", "bias", "gamma", "moving_mean", ... */
  size_t offset;    /* in floats, from the start of the layer's (or model's) params */
  size_t size;
  size_t rows, cols; /* shape: kernel I x O; a vector is 1 x n (Keras shape (n,)) */
  bool trainable;
} dn_var;

/* The trainable part of var inside the flat range [lo, hi) (for work split over ranges):
 * false if there is none, else true with var's offset and size cut to it in *part. */
static inline bool dn_var_trainable_within(const dn_var *var, size_t lo, size_t hi, dn_var *part) {
  size_t begin = var->offset > lo ? var->offset : lo;
  size_t end = var->offset + var->size < hi ? var->offset + var->size : hi;
  if (!var->trainable || begin >= end)
    return false;
  *part = *var;
  part->offset = begin;
  part->size = end - begin;
  return true;
}

#define DN_MAX_LAYER_VARS 4
#define DN_LAYER_NAME_CAP 64

/* Everything that defines a layer's architecture, by Keras names: what
 * persistence writes and reads back (dn_layer_from_config, layers/registry.h,
 * rebuilds the layer from it). Fields a layer kind does not have stay zero;
 * values are resolved (a 0 means exactly 0, not "the default"). Strings are
 * static (canonical names) or point into the layer, valid while it lives. */
typedef struct dn_layer_config {
  const char *type; /* Keras class: Dense, Activation, Dropout, BatchNormalization, Normalization */
  const char *name;
  size_t input_dim; /* the layer's input width (0 while unknown) */
  size_t units;
  const char *activation; /* canonical Keras name ("linear" for none) */
  bool use_bias;
  const char *kernel_initializer, *bias_initializer;
  dn_init_args kernel_init, bias_init;
  double kernel_l1, kernel_l2, bias_l1, bias_l2;
  double rate;              /* Dropout */
  double momentum, epsilon; /* BatchNormalization */
  bool center, scale;
  bool invert; /* Normalization */
  /* Keras's trainable = False: every kind has it (no DN_CFG bit; the files store it apart) */
  bool frozen;
} dn_layer_config;

/* The fields of dn_layer_config a layer kind has, as bits (dn_layer_ops.config_fields): the
 * file formats read and write a kind's fields and no others. Each bit is one Keras config key
 * (an initializer's bit covers its name and its arguments, a regularizer's its l1 and l2). */
enum {
  DN_CFG_COMMON = 1u << 0, /* name and input_dim: every kind has them (listed by no kind) */
  DN_CFG_UNITS = 1u << 1,
  DN_CFG_ACTIVATION = 1u << 2,
  DN_CFG_USE_BIAS = 1u << 3,
  DN_CFG_KERNEL_INITIALIZER = 1u << 4,
  DN_CFG_BIAS_INITIALIZER = 1u << 5,
  DN_CFG_KERNEL_REGULARIZER = 1u << 6,
  DN_CFG_BIAS_REGULARIZER = 1u << 7,
  DN_CFG_RATE = 1u << 8,
  DN_CFG_MOMENTUM = 1u << 9,
  DN_CFG_EPSILON = 1u << 10,
  DN_CFG_CENTER = 1u << 11,
  DN_CFG_SCALE = 1u << 12,
  DN_CFG_INVERT = 1u << 13,
};

/* A layer kind: its Keras class, its config and its behaviour. Each kind's file defines one
 * (dn_dense_ops, ...); layers/registry.c lists them. */
typedef struct dn_layer_ops {
  const char *type;       /* Keras class name: "Dense" */
  const char *base_name;  /* auto-name stem: "dense" -> dense, dense_1, ... */
  unsigned config_fields; /* the DN_CFG_* fields of dn_layer_config the kind has */
  bool inference_only;    /* predicts only: a model holding one refuses training (QuantizedDense) */
  /* A new unbuilt layer from a config of this kind (name NULL for an automatic one), as the
   * kind's public constructor makes it; NULL with the constructor's error. */
  dn_layer *(*from_config)(const dn_layer_config *config);
  /* A new unbuilt layer configured as `layer`, including constructor values its config does not
   * hold (Normalization's mean and variance); NULL with the constructor's error. May be NULL:
   * dn_layer_clone then makes the layer from its config. */
  dn_layer *(*clone)(const dn_layer *layer);
  /* Given input_dim (> 0), sets layer->output_dim, layer->vars/n_vars and
   * layer->n_params (declaring only: dn_layer_build then allocates the
   * storage and calls init_fixed). DN_ERR_SHAPE if the width does not fit. */
  dn_status (*build)(dn_layer *layer, size_t input_dim);
  /* Writes the non-random initial values (may be NULL). */
  void (*init_fixed)(dn_layer *layer);
  /* Draws the random initial values from rng (may be NULL). Called when the
   * layer joins a model and again by dn_model_set_seed. */
  dn_status (*init_random)(dn_layer *layer, dn_rng *rng);
  /* Makes room for batches of up to `rows` rows in layer-private caches (may be NULL). */
  dn_status (*reserve)(dn_layer *layer, size_t rows);
  /* y = f(x) over views: x is rows x input_dim (only read), y the same rows x output_dim, not
   * overlapping x. training selects Dropout/BN behaviour; rng is the model's dropout stream.
   * Views come by const pointer, not by value: GCC copies a by-value 24-byte view twice on
   * the stack (measured on a 1-row pass: ~7 ns per layer call by value, ~1 ns by pointer). */
  void (*forward)(dn_layer *layer, const dn_matrix *y, const dn_matrix *x, bool training,
                  dn_rng *rng);
  /* From dy = dL/dy (rows x output_dim, may be overwritten as scratch): overwrites
   * layer->grads with dL/dparams and, unless dx->data is NULL (no input gradient wanted),
   * writes dL/dx (rows x input_dim). x and y are the forward pass's input and output (only
   * read). May set layer->grad_state when it checked its gradients on the way. */
  void (*backward)(dn_layer *layer, const dn_matrix *dx, const dn_matrix *dy, const dn_matrix *x,
                   const dn_matrix *y);
  /* Regularization penalty at the current weights; if add_gradient, adds its
   * gradient into layer->grads, and resets layer->grad_state if that changed
   * them (may be NULL = no penalty). */
  double (*penalty)(dn_layer *layer, bool add_gradient);
  /* Fills *config (every field a layer kind has). */
  void (*get_config)(const dn_layer *layer, dn_layer_config *config);
  /* Frees layer->impl's contents and impl itself (may be NULL). */
  void (*free_impl)(dn_layer *layer);
  /* A Dense layer whose activation is fused into its products describes itself
   * as one step of a chain of small layers (kernels.h; Y is left to the caller)
   * and returns true; false, or NULL, for every other layer. */
  bool (*dense_step)(const dn_layer *layer, struct dn_dense_step *step);
} dn_layer_ops;

/* Debug builds check that a pass's views fit the layer: x rows x input_dim, y and dy the same
 * rows x output_dim, dx (when wanted) x's shape. Compiled out under NDEBUG (Release): the hot
 * paths pay nothing. A failure is a bug in the library, not a caller's mistake (the data calls
 * check shapes, with messages, before any pass). */
#define DN_LAYER_ASSERT_FORWARD(layer, y, x)                                                       \
  assert((x)->cols == (layer)->input_dim && (y)->cols == (layer)->output_dim &&                    \
         (y)->rows == (x)->rows)
#define DN_LAYER_ASSERT_BACKWARD(layer, dx, dy, x, y)                                              \
  assert((x)->cols == (layer)->input_dim && (y)->cols == (layer)->output_dim &&                    \
         (y)->rows == (x)->rows && (dy)->rows == (y)->rows && (dy)->cols == (y)->cols &&           \
         ((dx)->data == NULL || ((dx)->rows == (x)->rows && (dx)->cols == (x)->cols)))

/* What the last backward learnt of the layer's gradients as it wrote them. */
typedef enum dn_grad_state {
  DN_GRADS_UNCHECKED = 0, /* nothing: the gradients must be scanned to know */
  DN_GRADS_WITHIN,        /* every trainable gradient element is within DN_GRAD_LIMIT */
  DN_GRADS_BEYOND,        /* one of them is beyond it, Inf or NaN */
} dn_grad_state;

struct dn_layer {
  const dn_layer_ops *ops;
  char name[DN_LAYER_NAME_CAP]; /* "" until named */
  size_t input_dim;             /* given or inferred; 0 until known */
  size_t output_dim;            /* 0 until built */
  bool built;
  size_t n_params; /* floats, get_weights order */
  dn_var vars[DN_MAX_LAYER_VARS];
  size_t n_vars;
  float *params; /* n_params floats: own storage, or a view into the model block */
  float *grads;
  bool bound; /* params/grads are views into a model's block */
  /* The model's count of weight writes (dn_seq_weights_written) while bound, else NULL: a
   * layer's own setters count theirs there. */
  uint64_t *weights_version;
  bool in_model;
  /* Keras's layer.trainable = False (dn_layer_set_trainable): the layer's trainable variables
   * count as non-trainable (each dn_var keeps `trainable` as the kind of variable it is: BN's
   * moving statistics are never trainable). Training follows train_frozen instead: this flag
   * (or the model's) as of the model's last compile or parameter-block rebuild
   * (dn_seq_sync_trainable), as Keras's fit follows trainable as of the last compile. */
  bool frozen;
  bool train_frozen;
  dn_grad_state grad_state; /* set by backward (sequential.c resets it first) */
  void *impl;
};

/* Allocates a layer with the given ops and impl (taking ownership of impl:
 * on failure impl is freed through ops->free_impl). NULL on DN_ERR_NOMEM. */
dn_layer *dn_layer_new(const dn_layer_ops *ops, void *impl, const char *name, size_t input_dim);
/* Builds for input_dim (ops->build, then own zeroed param/grad storage, then
 * ops->init_fixed). DN_ERR_SHAPE if the layer was built for another width. */
dn_status dn_layer_build(dn_layer *layer, size_t input_dim);
/* Points params/grads at the model's block (copying current values in and
 * releasing own storage). */
void dn_layer_bind(dn_layer *layer, float *params, float *grads);
/* What building `layer` for input_dim would declare (output_dim, variables, n_params), into
 * *plan, without allocating or changing the layer: for checking sizes from a file before
 * anything is allocated. *plan is a copy that owns nothing: never free it or run it.
 * DN_ERR_SHAPE as dn_layer_build. */
dn_status dn_layer_plan(const dn_layer *layer, size_t input_dim, dn_layer *plan);
/* The config of a layer. */
void dn_layer_get_config(const dn_layer *layer, dn_layer_config *config);
/* Keras: layer.__class__.from_config(layer.get_config()) (what clone_model does per layer): a new
 * unbuilt layer of the same kind, name and configuration, with its own input_dim set to the
 * layer's input width (0 while unknown); no weights are copied. NULL with the constructor's
 * error. */
dn_layer *dn_layer_clone(const dn_layer *layer);
/* Count of trainable floats. */
size_t dn_layer_trainable_params(const dn_layer *layer);

#endif
