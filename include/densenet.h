/*
 * densenet.h -- libdensenet, the Keras Sequential workflow for plain C.
 *
 * One header is the whole public API. Data crosses it as row-major float
 * arrays plus a row count: x is rows x input_dim, y is rows x output_dim
 * (for sparse_categorical_* losses y is rows x 1 holding class indices).
 * Outputs are written into caller buffers whose capacity (in floats) is
 * passed in. Handles (dn_model, dn_layer, dn_optimizer, dn_callback,
 * dn_history) are opaque.
 *
 * Options are structs with designated initializers standing in for Keras's
 * keyword arguments:  dn_dense(4, .activation = "relu", .input_dim = 2).
 * The zero value of every field is the Keras default. Booleans whose Keras
 * default is true are spelled negatively (.no_bias, .no_shuffle). A float
 * field whose Keras default is non-zero takes DN_ZERO to mean "exactly 0";
 * an integer count field likewise takes DN_ZERO_COUNT.
 *
 * Errors: every function that can fail returns a dn_status (or NULL) and
 * sets a thread-local status and message, read with dn_last_status() and
 * dn_last_error(). A failed call leaves the caller's objects unchanged.
 * The library never exits, aborts or prints, except dn_model_summary and
 * fit's progress display, both to a stream the caller chooses.
 *
 * Every macro has a plain function twin taking the options struct
 * (dn_dense_with, dn_compile_with, dn_fit_with, ...) for C++ and bindings.
 */
#ifndef DENSENET_H
#define DENSENET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Version
 * ====================================================================== */

#define DN_VERSION_MAJOR 0
#define DN_VERSION_MINOR 1
#define DN_VERSION_PATCH 0
#define DN_VERSION_STRING "0.1.0"

/* The library's version string, e.g. "0.1.0". */
const char *dn_version(void);

/* ======================================================================
 * Status and errors
 * ====================================================================== */

typedef enum dn_status {
  DN_OK = 0,
  DN_ERR_ARG,         /* a bad argument: NULL, zero size, unknown name, out of range */
  DN_ERR_SHAPE,       /* sizes that do not fit together */
  DN_ERR_NOMEM,       /* an allocation failed */
  DN_ERR_STATE,       /* the call needs a state the object is not in (e.g. fit before compile) */
  DN_ERR_IO,          /* a file could not be opened, read or written */
  DN_ERR_FORMAT,      /* a file's contents are malformed */
  DN_ERR_NUMERIC,     /* a NaN or Inf loss or value */
  DN_ERR_UNSUPPORTED, /* valid in Keras, not (yet) supported here */
} dn_status;

/* A constant English name for a status ("DN_ERR_SHAPE: shape mismatch"). */
const char *dn_status_string(dn_status status);

/* The message of the last failure on this thread ("" if none). The pointer
 * stays valid until the next failing call on this thread. */
const char *dn_last_error(void);

/* The status of the last failure on this thread (DN_OK if none). */
dn_status dn_last_status(void);

/* Allocator hook: every allocation the library makes goes through it. The
 * alloc function must return storage aligned to `alignment` (a power of two,
 * at least 64) or NULL. Install it before any other call; NULL restores the
 * default (posix aligned allocation). Returns DN_ERR_ARG if a function is
 * missing. */
typedef struct dn_allocator {
  void *(*alloc)(size_t size, size_t alignment, void *ctx);
  void (*free)(void *ptr, void *ctx);
  void *ctx;
} dn_allocator;
dn_status dn_set_allocator(const dn_allocator *allocator);

/* "Exactly zero" for a float option whose Keras default is non-zero
 * (negative zero, told apart by its sign bit). */
#define DN_ZERO (-0.0)
/* "Exactly zero" for a count option whose Keras default is non-zero. */
#define DN_ZERO_COUNT (-1)

/* ======================================================================
 * Layers and activations
 * ====================================================================== */

typedef struct dn_layer dn_layer;
typedef struct dn_model dn_model;

/* Arguments of a parametrised initializer (Keras RandomUniform, RandomNormal,
 * TruncatedNormal, Constant). Zero fields take Keras's defaults:
 * minval/maxval both 0 -> -0.05/0.05; stddev 0 -> 0.05; mean 0; value 0. */
typedef struct dn_init_args {
  double value;  /* constant */
  double minval; /* random_uniform */
  double maxval;
  double mean; /* random_normal, truncated_normal */
  double stddev;
} dn_init_args;

/* keras.layers.Dense(units, activation=None, use_bias=True,
 *   kernel_initializer="glorot_uniform", bias_initializer="zeros",
 *   kernel_regularizer=None, bias_regularizer=None).
 * activation: a Keras activation name ("relu", "sigmoid", ...; NULL = linear):
 *   linear relu leaky_relu elu selu celu gelu sigmoid hard_sigmoid
 *   log_sigmoid tanh hard_tanh softplus softsign silu swish hard_silu
 *   hard_swish relu6 mish exponential softmax log_softmax.
 * initializers: glorot_uniform glorot_normal he_uniform he_normal
 *   lecun_uniform lecun_normal random_uniform random_normal truncated_normal
 *   zeros ones constant (and Keras's aliases uniform normal zero one).
 * regularizers: "l1", "l2", "l1_l2" (Keras defaults 0.01 / 0.01 / 0,0), or
 *   the factors directly; a non-zero factor overrides the string's default.
 *   Penalties are l1*sum|w| + l2*sum w^2 (no 1/2), added to the batch loss.
 * input_dim: only on the first layer (Keras input_shape=[n]).
 * Deviation: Keras's use_bias=False is spelled .no_bias = true. */
typedef struct dn_dense_options {
  size_t units;
  const char *activation;
  size_t input_dim;
  bool no_bias;
  const char *kernel_initializer;
  dn_init_args kernel_init;
  const char *bias_initializer;
  dn_init_args bias_init;
  const char *kernel_regularizer;
  double kernel_l1, kernel_l2;
  const char *bias_regularizer;
  double bias_l1, bias_l2;
  const char *name; /* NULL = automatic ("dense", "dense_1", ...) */
} dn_dense_options;
/* Returns a new layer owned by the caller until added to a model, or NULL
 * (DN_ERR_ARG for units 0 or an unknown name, naming it). */
dn_layer *dn_dense_with(dn_dense_options options);
#define dn_dense(...) dn_dense_with((dn_dense_options){.units = __VA_ARGS__})

/* keras.layers.Activation(activation): applies an activation by name. */
typedef struct dn_activation_options {
  const char *activation;
  size_t input_dim;
  const char *name;
} dn_activation_options;
dn_layer *dn_activation_with(dn_activation_options options);
#define dn_activation(...) dn_activation_with((dn_activation_options){.activation = __VA_ARGS__})

/* keras.layers.Dropout(rate): inverted dropout, active only in training
 * (kept values scaled by 1/(1-rate)); rate in [0, 1]. Masks are drawn from
 * the model's seeded dropout stream. */
typedef struct dn_dropout_options {
  double rate;
  size_t input_dim;
  const char *name;
} dn_dropout_options;
dn_layer *dn_dropout_with(dn_dropout_options options);
#define dn_dropout(...) dn_dropout_with((dn_dropout_options){.rate = __VA_ARGS__})

/* keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3, center=True,
 * scale=True). Weights: gamma, beta (trainable), moving_mean,
 * moving_variance (non-trainable). Training uses the biased batch variance;
 * inference uses the moving statistics. */
typedef struct dn_batch_normalization_options {
  int dn_unused; /* leave unset: lets the macro take an empty argument list */
  size_t input_dim;
  double momentum; /* 0 -> 0.99; DN_ZERO for 0 */
  double epsilon;  /* 0 -> 1e-3 */
  bool no_center;  /* Keras center=False: no beta */
  bool no_scale;   /* Keras scale=False: no gamma */
  const char *name;
} dn_batch_normalization_options;
dn_layer *dn_batch_normalization_with(dn_batch_normalization_options options);
#define dn_batch_normalization(...)                                                                \
  dn_batch_normalization_with((dn_batch_normalization_options){.dn_unused = 0, __VA_ARGS__})

/* keras.layers.Normalization(mean=None, variance=None, invert=False):
 * y = (x - mean) / max(sqrt(variance), 1e-7). Weights (non-trainable):
 * mean, variance, count (Keras's order). Set them with dn_normalization_adapt
 * or by passing mean and variance (input_dim floats each, copied). */
typedef struct dn_normalization_options {
  int dn_unused; /* leave unset */
  size_t input_dim;
  const float *mean;
  const float *variance;
  bool invert;
  const char *name;
} dn_normalization_options;
dn_layer *dn_normalization_with(dn_normalization_options options);
#define dn_normalization(...)                                                                      \
  dn_normalization_with((dn_normalization_options){.dn_unused = 0, __VA_ARGS__})

/* Normalization.adapt(x): per-feature mean and population variance of x
 * (rows x input_dim, computed in double). The layer needs its input_dim
 * (given, or from the model it sits in). */
dn_status dn_normalization_adapt(dn_layer *layer, const float *x, size_t rows);

/* Frees a layer that was never added to a model. NULL is a no-op. */
void dn_layer_free(dn_layer *layer);

/* Read-only facts about a layer (borrowed strings, valid while the layer lives). */
const char *dn_layer_name(const dn_layer *layer);    /* "dense_1" */
const char *dn_layer_type(const dn_layer *layer);    /* Keras class: "Dense" */
size_t dn_layer_output_dim(const dn_layer *layer);   /* 0 until built */
size_t dn_layer_count_params(const dn_layer *layer); /* 0 until built */

/* ======================================================================
 * Model lifecycle
 * ====================================================================== */

/* keras.Sequential([...]). Takes ownership of every layer, also on failure
 * (a NULL layer in the list, e.g. from a failed dn_dense, makes the whole
 * call fail with the message of that layer's failure, freeing the others).
 * Layer names and initial weights are assigned here, in order. */
dn_model *dn_sequential_with(size_t count, dn_layer *const *layers);
#define dn_sequential(...)                                                                         \
  dn_sequential_with(sizeof((dn_layer *[]){__VA_ARGS__}) / sizeof(dn_layer *),                     \
                     (dn_layer *[]){__VA_ARGS__})

/* An empty Sequential model, to fill with dn_model_add. */
dn_model *dn_model_new(void);

/* model.add(layer). Takes ownership of the layer, also on failure. */
dn_status dn_model_add(dn_model *model, dn_layer *layer);

/* model.build((None, input_dim)): gives a model whose first layer had no
 * input_dim its input shape. DN_ERR_STATE if it already has one that differs. */
dn_status dn_model_build(dn_model *model, size_t input_dim);

/* Frees the model, its layers, optimizer and callbacks. NULL is a no-op. */
void dn_model_free(dn_model *model);

/* Input and output widths (0 until the model has an input shape). */
size_t dn_model_input_dim(const dn_model *model);
size_t dn_model_output_dim(const dn_model *model);

/* Layers, in order; dn_model_layer returns a borrowed pointer or NULL. */
size_t dn_model_layer_count(const dn_model *model);
dn_layer *dn_model_layer(const dn_model *model, size_t index);

/* keras.utils.set_random_seed for one model: re-draws the initial weights
 * and resets the shuffle and dropout streams from `seed`. With no call a
 * model uses seed DN_DEFAULT_SEED, so runs are reproducible. */
#define DN_DEFAULT_SEED 1337u
dn_status dn_model_set_seed(dn_model *model, uint64_t seed);

/* model.summary(): Keras's table (layer name and type, output shape, param
 * count; totals, trainable, non-trainable, optimizer params) to `out`. */
dn_status dn_model_summary(const dn_model *model, FILE *out);

/* ======================================================================
 * Weights and gradients, in Keras get_weights() order flattened: layer by
 * layer, Dense kernel (in x out, row-major) then bias; BatchNormalization
 * gamma, beta, moving_mean, moving_variance; Normalization mean, variance,
 * count. Non-trainable entries are included; their gradients are 0.
 * ====================================================================== */

size_t dn_model_count_params(const dn_model *model);
size_t dn_model_count_trainable_params(const dn_model *model);
/* Copy out / in exactly n = dn_model_count_params floats (DN_ERR_SHAPE otherwise). */
dn_status dn_model_get_weights(const dn_model *model, float *out, size_t n);
dn_status dn_model_set_weights(dn_model *model, const float *in, size_t n);
/* The gradients of the last dn_model_backward (same layout as the weights). */
dn_status dn_model_get_gradients(const dn_model *model, float *out, size_t n);

/* ======================================================================
 * Hand-driven passes
 * ====================================================================== */

/* model(x, training=...): y = forward pass over `rows` rows. y must hold
 * rows * output_dim floats (y_capacity). training=true makes Dropout drop and
 * BatchNormalization use (and update) batch statistics. */
dn_status dn_model_forward(dn_model *model, const float *x, size_t rows, bool training, float *y,
                           size_t y_capacity);

/* Backward pass from dL/dy (rows x output_dim) after a forward of the same
 * rows. Overwrites the parameter gradients (then adds the regularizer
 * gradients). DN_ERR_STATE without a preceding forward of `rows` rows. */
dn_status dn_model_backward(dn_model *model, const float *dy, size_t rows);

/* As dn_model_backward, and also writes dL/dx (rows x input_dim) into dx. */
dn_status dn_model_backward_input(dn_model *model, const float *dy, size_t rows, float *dx,
                                  size_t dx_capacity);

/* One step of the compiled optimizer with the current gradients
 * (optimizer.apply(gradients)). DN_ERR_STATE before dn_compile. */
dn_status dn_model_apply_gradients(dn_model *model);

/* The sum of the kernel/bias regularizer penalties at the current weights. */
double dn_model_regularization_loss(const dn_model *model);

/* Gradient check (not in Keras): compares the backward pass for the scalar
 * L = sum(y * dy) with central finite differences over every trainable
 * parameter and every input, in the given mode (random draws are replayed so
 * Dropout masks are identical). The model's weights are left as they were. */
typedef struct dn_gradient_check_options {
  double epsilon; /* finite-difference step, 0 -> 1e-3 */
  bool training;
} dn_gradient_check_options;
typedef struct dn_gradient_check_report {
  double max_rel_error; /* |a - n| / max(|a| + |n|, 1e-8) at the worst entry */
  double max_abs_error;
  bool worst_is_input; /* the worst entry is an input (else a parameter) */
  size_t worst_index;  /* its index in the weights layout, or in x */
  double analytic, numeric;
  size_t checked; /* number of entries compared */
} dn_gradient_check_report;
dn_status dn_model_gradient_check(dn_model *model, const float *x, const float *dy, size_t rows,
                                  const dn_gradient_check_options *options,
                                  dn_gradient_check_report *report);

/* ======================================================================
 * Optimizers and learning-rate schedules
 * ====================================================================== */

typedef struct dn_optimizer dn_optimizer;

typedef enum dn_schedule_kind {
  DN_SCHEDULE_CONSTANT = 0,
  DN_SCHEDULE_EXPONENTIAL_DECAY,  /* lr0 * rate^(step/decay_steps) (floor if staircase) */
  DN_SCHEDULE_INVERSE_TIME_DECAY, /* lr0 / (1 + rate * step/decay_steps) (floor if staircase) */
  DN_SCHEDULE_PIECEWISE_CONSTANT, /* values[i] while step <= boundaries[i] */
  DN_SCHEDULE_COSINE_DECAY,       /* Keras CosineDecay with optional linear warmup */
} dn_schedule_kind;

/* A learning-rate schedule evaluated at every optimizer step (Keras
 * keras.optimizers.schedules.*). boundaries/values are copied when the
 * optimizer is created (n_boundaries boundaries, n_boundaries + 1 values). */
typedef struct dn_schedule {
  dn_schedule_kind kind;
  double initial_learning_rate;
  double decay_steps;
  double decay_rate;
  bool staircase;
  const double *boundaries;
  const double *values;
  size_t n_boundaries;
  double alpha;         /* CosineDecay floor fraction, default 0 */
  double warmup_target; /* CosineDecay: 0 = no warmup */
  double warmup_steps;
} dn_schedule;
#define dn_exponential_decay(...)                                                                  \
  ((dn_schedule){.kind = DN_SCHEDULE_EXPONENTIAL_DECAY, __VA_ARGS__})
#define dn_inverse_time_decay(...)                                                                 \
  ((dn_schedule){.kind = DN_SCHEDULE_INVERSE_TIME_DECAY, __VA_ARGS__})
#define dn_piecewise_constant_decay(...)                                                           \
  ((dn_schedule){.kind = DN_SCHEDULE_PIECEWISE_CONSTANT, __VA_ARGS__})
#define dn_cosine_decay(...) ((dn_schedule){.kind = DN_SCHEDULE_COSINE_DECAY, __VA_ARGS__})

/* Options of every Keras optimizer; fields an optimizer does not have are
 * ignored. Zero fields take that optimizer's Keras default (DN_ZERO for an
 * explicit 0): learning_rate (sgd 0.01, others 0.001), beta_1 0.9, beta_2
 * 0.999 (lion 0.99), epsilon 1e-7, rho (rmsprop 0.9, adadelta 0.95),
 * initial_accumulator_value 0.1, weight_decay (adamw 0.004, others none).
 * At most one of clipnorm, clipvalue, global_clipnorm may be set. */
typedef struct dn_optimizer_options {
  const char *name; /* sgd adam adamw rmsprop adagrad adadelta adamax nadam lion */
  double learning_rate;
  dn_schedule schedule; /* kind != CONSTANT replaces learning_rate */
  double beta_1, beta_2, epsilon;
  bool amsgrad;
  double momentum;
  bool nesterov;
  double rho;
  bool centered;
  double initial_accumulator_value;
  double weight_decay;
  double clipnorm, clipvalue, global_clipnorm;
} dn_optimizer_options;
/* Returns a new optimizer owned by the caller until given to dn_compile, or
 * NULL (DN_ERR_ARG: unknown name, negative rate, two clip options, ...). */
dn_optimizer *dn_optimizer_with(dn_optimizer_options options);
#define dn_sgd(...) dn_optimizer_with((dn_optimizer_options){.name = "sgd", __VA_ARGS__})
#define dn_adam(...) dn_optimizer_with((dn_optimizer_options){.name = "adam", __VA_ARGS__})
#define dn_adamw(...) dn_optimizer_with((dn_optimizer_options){.name = "adamw", __VA_ARGS__})
#define dn_rmsprop(...) dn_optimizer_with((dn_optimizer_options){.name = "rmsprop", __VA_ARGS__})
#define dn_adagrad(...) dn_optimizer_with((dn_optimizer_options){.name = "adagrad", __VA_ARGS__})
#define dn_adadelta(...) dn_optimizer_with((dn_optimizer_options){.name = "adadelta", __VA_ARGS__})
#define dn_adamax(...) dn_optimizer_with((dn_optimizer_options){.name = "adamax", __VA_ARGS__})
#define dn_nadam(...) dn_optimizer_with((dn_optimizer_options){.name = "nadam", __VA_ARGS__})
#define dn_lion(...) dn_optimizer_with((dn_optimizer_options){.name = "lion", __VA_ARGS__})

void dn_optimizer_free(dn_optimizer *optimizer);
/* The learning rate the next step will use (the schedule's value at the
 * current iteration), the number of steps taken, and a way to set a constant
 * rate (DN_ERR_STATE when a schedule drives it, as Keras). */
double dn_optimizer_learning_rate(const dn_optimizer *optimizer);
uint64_t dn_optimizer_iterations(const dn_optimizer *optimizer);
dn_status dn_optimizer_set_learning_rate(dn_optimizer *optimizer, double learning_rate);
/* The compiled optimizer of a model (borrowed), or NULL before compile. */
dn_optimizer *dn_model_optimizer(const dn_model *model);

/* ======================================================================
 * Training: compile, fit, evaluate, predict
 * ====================================================================== */

/* model.compile(optimizer="rmsprop", loss=..., metrics=[...]).
 * loss (required): mean_squared_error/mse/MSE, mean_absolute_error/mae/MAE,
 *   mean_absolute_percentage_error/mape, mean_squared_logarithmic_error/msle,
 *   huber, log_cosh, binary_crossentropy/bce, categorical_crossentropy,
 *   sparse_categorical_crossentropy, hinge, squared_hinge,
 *   kl_divergence/kld, poisson, cosine_similarity.
 * metrics (NULL-terminated): mae mse rmse mape r2_score binary_accuracy
 *   categorical_accuracy sparse_categorical_accuracy accuracy/acc, and the
 *   long Keras names of the first four.
 * optimizer_object, if given, is owned by the model from this call on (also
 * on failure) and replaces `optimizer`. Compiling again replaces the
 * optimizer and resets its state. */
typedef struct dn_compile_options {
  dn_model *model;
  const char *optimizer;
  dn_optimizer *optimizer_object;
  const char *loss;
  const char *const *metrics;
  double huber_delta;     /* 0 -> 1.0 */
  bool from_logits;       /* cross-entropies */
  double label_smoothing; /* binary/categorical cross-entropy */
} dn_compile_options;
dn_status dn_compile_with(dn_compile_options options);
#define dn_compile(...) dn_compile_with((dn_compile_options){.model = __VA_ARGS__})

/* Keras verbose: AUTO = a bar on a terminal, a line per epoch otherwise. */
typedef enum dn_verbose {
  DN_VERBOSE_AUTO = 0,
  DN_VERBOSE_SILENT,
  DN_VERBOSE_BAR,
  DN_VERBOSE_LINES,
} dn_verbose;

typedef struct dn_callback dn_callback;
typedef struct dn_history dn_history;

/* model.fit(x, y, batch_size=32, epochs=1, verbose="auto", callbacks=None,
 *   validation_split=0.0, validation_data=None, shuffle=True, sample_weight=None,
 *   initial_epoch=0).
 * validation_split takes the last fraction of the rows, before shuffling;
 * validation_x/y (validation_rows rows) override it. seed != 0 re-seeds the
 * shuffle and dropout streams first (weights are untouched). callbacks is a
 * NULL-terminated list; the model takes ownership of each callback.
 * Returns a history owned by the caller (dn_history_free), or NULL:
 * DN_ERR_STATE before compile, DN_ERR_ARG/DN_ERR_SHAPE for bad data, and
 * DN_ERR_NUMERIC when a batch loss is NaN or Inf (that step is not applied;
 * with TerminateOnNaN training stops and the history is returned instead). */
typedef struct dn_fit_options {
  dn_model *model;
  const float *x;
  const float *y;
  size_t rows;
  size_t epochs;     /* 0 -> 1 */
  size_t batch_size; /* 0 -> 32 */
  double validation_split;
  const float *validation_x;
  const float *validation_y;
  size_t validation_rows;
  bool no_shuffle;
  const float *sample_weight; /* rows floats, or NULL */
  size_t initial_epoch;
  dn_verbose verbose;
  FILE *out; /* progress stream, NULL = stdout */
  uint64_t seed;
  dn_callback *const *callbacks;
} dn_fit_options;
dn_history *dn_fit_with(dn_fit_options options);
#define dn_fit(...) dn_fit_with((dn_fit_options){.model = __VA_ARGS__})

/* model.train_on_batch(x, y): one optimizer step on these rows; *loss (may
 * be NULL) receives the batch loss including regularization. */
dn_status dn_train_on_batch(dn_model *model, const float *x, const float *y, size_t rows,
                            float *loss);
/* model.test_on_batch(x, y): the loss in inference mode, no update. */
dn_status dn_test_on_batch(dn_model *model, const float *x, const float *y, size_t rows,
                           float *loss);
/* model.predict_on_batch(x). */
dn_status dn_predict_on_batch(dn_model *model, const float *x, size_t rows, float *y,
                              size_t y_capacity);

/* model.evaluate(x, y) in batches of 32: the mean loss (regularization
 * included, as Keras reports it). */
dn_status dn_evaluate(dn_model *model, const float *x, const float *y, size_t rows, float *loss);

/* model.evaluate(x, y, batch_size=..., sample_weight=...) returning the loss
 * then each compiled metric, in compile order, into values[0..capacity). */
typedef struct dn_evaluate_options {
  dn_model *model;
  const float *x;
  const float *y;
  size_t rows;
  size_t batch_size; /* 0 -> 32 */
  const float *sample_weight;
  double *values;
  size_t values_capacity;
} dn_evaluate_options;
dn_status dn_evaluate_with(dn_evaluate_options options);
#define dn_evaluate_ex(...) dn_evaluate_with((dn_evaluate_options){.model = __VA_ARGS__})

/* Names of the values dn_evaluate_with writes: "loss", then the metrics'
 * Keras names; count is 1 + number of metrics. Borrowed strings. */
size_t dn_model_metrics_count(const dn_model *model);
const char *dn_model_metric_name(const dn_model *model, size_t index);

/* model.predict(x) in batches of 32; y holds rows * output_dim floats. */
dn_status dn_predict(dn_model *model, const float *x, size_t rows, float *y, size_t y_capacity);

/* ======================================================================
 * History
 * ====================================================================== */

/* history.history: per epoch, every logged value ("loss", metrics, their
 * "val_" twins, "learning_rate" when a callback logs it). */
size_t dn_history_length(const dn_history *history); /* epochs run */
size_t dn_history_key_count(const dn_history *history);
const char *dn_history_key(const dn_history *history, size_t index);
/* dn_history_length values for `key` (borrowed), or NULL if not logged. */
const double *dn_history_values(const dn_history *history, const char *key);
/* The epoch index (0-based, counting initial_epoch) of entry i. */
size_t dn_history_epoch(const dn_history *history, size_t index);
/* Writes "epoch,<keys...>" and one row per epoch. */
dn_status dn_history_write_csv(const dn_history *history, const char *path);
void dn_history_free(dn_history *history);

/* ======================================================================
 * Callbacks
 * ====================================================================== */

/* The logs a callback receives: parallel arrays of names and values. */
typedef struct dn_logs {
  size_t count;
  const char *const *names;
  const double *values;
} dn_logs;
/* The value logged under `name`, or NaN. */
double dn_logs_get(const dn_logs *logs, const char *name);

/* Keras monitor modes. */
typedef enum dn_mode { DN_MODE_AUTO = 0, DN_MODE_MIN, DN_MODE_MAX } dn_mode;

/* keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=0,
 *   mode="auto", baseline=None, restore_best_weights=False, start_from_epoch=0). */
typedef struct dn_early_stopping_options {
  int dn_unused; /* leave unset */
  const char *monitor;
  double min_delta;
  size_t patience;
  dn_mode mode;
  bool use_baseline;
  double baseline;
  bool restore_best_weights;
  size_t start_from_epoch;
  bool verbose;
} dn_early_stopping_options;
dn_callback *dn_early_stopping_with(dn_early_stopping_options options);
#define dn_early_stopping(...)                                                                     \
  dn_early_stopping_with((dn_early_stopping_options){.dn_unused = 0, __VA_ARGS__})

/* keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1,
 *   patience=10, mode="auto", min_delta=1e-4, cooldown=0, min_lr=0). */
typedef struct dn_reduce_lr_options {
  int dn_unused; /* leave unset */
  const char *monitor;
  double factor; /* 0 -> 0.1 */
  int patience;  /* 0 -> 10; DN_ZERO_COUNT for 0 */
  dn_mode mode;
  double min_delta; /* 0 -> 1e-4; DN_ZERO for 0 */
  size_t cooldown;
  double min_lr;
  bool verbose;
} dn_reduce_lr_options;
dn_callback *dn_reduce_lr_on_plateau_with(dn_reduce_lr_options options);
#define dn_reduce_lr_on_plateau(...)                                                               \
  dn_reduce_lr_on_plateau_with((dn_reduce_lr_options){.dn_unused = 0, __VA_ARGS__})

/* keras.callbacks.LearningRateScheduler(schedule): schedule(epoch, lr, user)
 * at each epoch begin returns the new rate. */
typedef double (*dn_lr_schedule_fn)(size_t epoch, double learning_rate, void *user);
dn_callback *dn_learning_rate_scheduler(dn_lr_schedule_fn schedule, void *user);

/* keras.callbacks.TerminateOnNaN(): stop when a batch loss is NaN or Inf. */
dn_callback *dn_terminate_on_nan(void);

/* keras.callbacks.CSVLogger(filename, separator=",", append=False). */
typedef struct dn_csv_logger_options {
  const char *filename;
  char separator; /* 0 -> ',' */
  bool append;
} dn_csv_logger_options;
dn_callback *dn_csv_logger_with(dn_csv_logger_options options);
#define dn_csv_logger(...) dn_csv_logger_with((dn_csv_logger_options){.filename = __VA_ARGS__})

/* keras.callbacks.ModelCheckpoint(filepath, monitor="val_loss",
 *   save_best_only=False, save_weights_only=False, mode="auto"). filepath may
 * hold "{epoch}" (1-based, printf-style width allowed: "{epoch:02d}"). */
typedef struct dn_model_checkpoint_options {
  const char *filepath;
  const char *monitor;
  bool save_best_only;
  bool save_weights_only;
  dn_mode mode;
  bool verbose;
} dn_model_checkpoint_options;
dn_callback *dn_model_checkpoint_with(dn_model_checkpoint_options options);
#define dn_model_checkpoint(...)                                                                   \
  dn_model_checkpoint_with((dn_model_checkpoint_options){.filepath = __VA_ARGS__})

/* keras.callbacks.LambdaCallback: C functions at train/epoch/batch begin and
 * end. `index` is the epoch (epoch hooks) or batch (batch hooks) index; logs
 * may be empty at begin hooks. Call dn_model_stop_training to stop. */
typedef void (*dn_callback_fn)(dn_model *model, size_t index, const dn_logs *logs, void *user);
typedef struct dn_lambda_options {
  int dn_unused; /* leave unset */
  dn_callback_fn on_train_begin, on_train_end;
  dn_callback_fn on_epoch_begin, on_epoch_end;
  dn_callback_fn on_batch_begin, on_batch_end;
  void *user;
} dn_lambda_options;
dn_callback *dn_lambda_callback_with(dn_lambda_options options);
#define dn_lambda_callback(...)                                                                    \
  dn_lambda_callback_with((dn_lambda_options){.dn_unused = 0, __VA_ARGS__})

/* model.stop_training = True: fit stops after the current batch's callbacks. */
void dn_model_stop_training(dn_model *model);

/* Frees a callback never handed to fit. NULL is a no-op. */
void dn_callback_free(dn_callback *callback);

/* ======================================================================
 * Persistence (native format, docs/model-format.md)
 * ====================================================================== */

/* model.save(path): architecture, weights, layer state, compile settings and
 * optimizer state, written atomically (temporary file, fsync, rename). */
dn_status dn_model_save(const dn_model *model, const char *path);
/* keras.saving.load_model(path) for the native format: a new model owned by
 * the caller, or NULL (DN_ERR_IO, DN_ERR_FORMAT with what and where). */
dn_model *dn_model_load(const char *path);
/* model.save_weights / load_weights: weights only, into a matching model. */
dn_status dn_model_save_weights(const dn_model *model, const char *path);
dn_status dn_model_load_weights(dn_model *model, const char *path);

/* ======================================================================
 * Data: CSV loading and splitting
 * ====================================================================== */

/* A loaded data set: x is rows x n_features, y rows x n_targets, row-major,
 * owned by the struct (free with dn_dataset_free). */
typedef struct dn_dataset {
  size_t rows;
  size_t n_features;
  size_t n_targets;
  float *x;
  float *y;
  size_t dropped_rows; /* rows skipped with drop_invalid_rows */
} dn_dataset;

/* Column choice: by header name (NULL-terminated lists) or by 0-based index
 * (arrays of n_* indices). Features default to every column that is not a
 * target. Numbers are parsed locale-independently. */
typedef struct dn_csv_options {
  const char *const *feature_names;
  const char *const *target_names;
  const size_t *feature_columns;
  size_t n_feature_columns;
  const size_t *target_columns;
  size_t n_target_columns;
  char delimiter;         /* 0 -> ',' */
  bool no_header;         /* the first row is data (columns by index only) */
  bool drop_invalid_rows; /* skip malformed/ragged/empty-cell rows, count them */
} dn_csv_options;
/* Reads `path` into *out (cleared first). Errors name the file, line and
 * column: DN_ERR_IO, DN_ERR_FORMAT, DN_ERR_ARG (unknown column), DN_ERR_NOMEM. */
dn_status dn_csv_load(const char *path, const dn_csv_options *options, dn_dataset *out);
/* Seeded shuffle-split into train and test (test gets round(rows*fraction)
 * rows, at least one of each). Both outputs are new data sets. */
dn_status dn_train_test_split(const dn_dataset *data, double test_fraction, uint64_t seed,
                              dn_dataset *train, dn_dataset *test);
void dn_dataset_free(dn_dataset *data);

/* ======================================================================
 * Plots (SVG, no dependencies)
 * ====================================================================== */

typedef struct dn_plot_series {
  const char *label;
  const float *x; /* NULL -> 0, 1, 2, ... */
  const float *y;
  size_t n;
  bool points; /* scatter markers instead of a line */
} dn_plot_series;
typedef struct dn_plot_options {
  const char *title;
  const char *x_label;
  const char *y_label;
  size_t width, height; /* 0 -> 720 x 440 */
} dn_plot_options;
/* An x/y chart of one or more series with axes, ticks, labels and a legend. */
dn_status dn_plot_svg(const char *path, const dn_plot_series *series, size_t n_series,
                      const dn_plot_options *options);
/* Learning curves: the given history keys per epoch (NULL-terminated; NULL
 * -> "loss" and, when logged, "val_loss"). */
dn_status dn_plot_history_svg(const dn_history *history, const char *path, const char *const *keys,
                              const dn_plot_options *options);

#ifdef __cplusplus
}
#endif

#endif /* DENSENET_H */
