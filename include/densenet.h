/*
 * densenet.h -- libdensenet, the Keras Sequential workflow for plain C.
 *
 * This header is the whole public API and its manual. Keras 3 is the reference for every name,
 * default and formula; docs/keras-differences.md lists every deliberate difference.
 *
 * Data crosses the API as tensors (dn_tensor): row-major float32 data with its shape, usually a
 * borrowed view of the caller's array made with dn_tensor_2d(data, rows, cols). x is
 * rows x input_dim, y is rows x output_dim (for the sparse_categorical_* losses and metrics,
 * rows x 1 holding class indices as floats); a rank-1 tensor of n elements reads as n x 1. Every
 * data call checks each width against the model and the row counts against each other, and an
 * output tensor's shape is its capacity, so a mistake is a DN_ERR_SHAPE naming the call, the
 * argument and both numbers, never a read past an array. Handles (dn_model, dn_layer,
 * dn_optimizer, dn_callback, dn_history) are opaque.
 *
 * Options are structs with designated initializers standing in for Keras's keyword arguments:
 * dn_dense(4, .activation = "relu", .input_dim = 2), passed by value. A macro's positional
 * arguments come first, in the order the Keras call takes them (model, x, y, ...); a macro
 * without positional arguments also takes an empty list (dn_batch_normalization()). Arrays
 * are given as compound literals: .metrics = (const char *[]){"mae", "mse", NULL}. The zero
 * value of every field is the Keras default. Booleans whose Keras default is true are spelled
 * negatively (.no_bias, .no_shuffle). A float field whose Keras default is non-zero takes DN_ZERO
 * for "exactly 0"; an integer count field likewise takes DN_ZERO_COUNT. Every macro has a plain
 * function twin taking the options struct (dn_dense_with, dn_compile_with, dn_fit_with, ...) for
 * C++ and language bindings.
 *
 * Reading the comments below: "Keras:" names the Keras 3 equivalent; "Errors:" lists every
 * status the function can return besides DN_OK (a function returning a pointer returns NULL
 * and sets dn_last_status()). Pointers are borrowed for the call unless the comment says the
 * callee takes them; returned strings and arrays are "borrowed": owned by the object they came
 * from, valid while it lives and is unchanged.
 * Every failure sets the thread-local dn_last_status() and a dn_last_error() message naming the
 * function and what was wrong ("dn_dense: unknown activation 'relux' ..."); a failed call leaves
 * the caller's objects unchanged, except where a comment says otherwise (fit after its first
 * step). The library never exits, aborts or prints, except dn_model_summary, fit's progress
 * display and callback messages, to a stream the caller chooses.
 *
 * Speed and threads: the products run on cache-blocked AVX-512, AVX2+FMA or portable kernels
 * chosen from the CPU at the first call (the environment variable DN_CPU=avx2 or portable caps
 * the choice); nets whose layers are all at most 16 (AVX-512) or 8 units wide take kernels that
 * carry each row through the whole net in registers. Threads are on by default (the library is
 * built with OpenMP when the compiler has it; -DDENSENET_OPENMP=OFF builds it serial): large
 * products and the optimizer update use up to dn_threads() threads (OMP_NUM_THREADS, else the
 * cores the process may run on; dn_set_threads changes it), small ones stay on the calling
 * thread, and the work is split so that every number is computed the same way whatever the
 * thread count: the same seed gives bit-identical results on 1 or 2 threads. Training calls
 * (dn_fit, dn_train_on_batch, dn_model_forward and dn_model_backward) run with flush-to-zero and
 * denormals-are-zero on, on every worker too, and restore the caller's floating-point state before
 * they return. After the first batch, training and prediction steps allocate nothing.
 *
 * Contents (each a "=====" section below):
 *   Version .................. dn_version
 *   Status and errors ........ dn_status, dn_last_error, dn_set_allocator, DN_ZERO
 *   Threads .................. dn_set_threads, dn_threads
 *   Option macro machinery ... DN_OPTIONS_ (not API)
 *   Tensors .................. dn_tensor, dn_tensor_2d, dn_tensor_new, dn_tensor_rows, ...
 *   Layers and activations ... dn_dense, dn_activation, dn_dropout, dn_batch_normalization,
 *                              dn_normalization (+ dn_normalization_adapt), dn_layer_*
 *   Model lifecycle .......... dn_sequential, dn_model_add, dn_model_build, dn_model_free,
 *                              dn_model_get_layer, dn_model_pop, dn_model_clone, dn_model_copy, ...
 *   Weights and gradients .... dn_model_count_params, dn_model_get_weights, ...
 *   Hand-driven passes ....... dn_model_forward, dn_model_backward, dn_model_gradient_check
 *   Optimizers and schedules . dn_adam, dn_sgd, ..., dn_exponential_decay, ...
 *   Compile, fit, evaluate ... dn_compile, dn_fit, dn_train_on_batch, dn_evaluate, dn_predict
 *   History .................. dn_history_*
 *   Callbacks ................ dn_early_stopping, dn_reduce_lr_on_plateau, dn_model_checkpoint, ...
 *   Persistence .............. dn_model_save, dn_model_load, dn_model_save_weights, ...,
 *                              dn_model_export_c
 *   Data ..................... dn_dataset, dn_csv_load, dn_train_test_split, dn_to_categorical
 *   Data that streams ........ dn_source, dn_csv_source, dn_fit_source, dn_evaluate_source,
 *                              dn_predict_source, dn_normalization_adapt_source
 *   Plots .................... dn_plot_svg, dn_plot_history_svg
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
#define DN_VERSION_MINOR 2
#define DN_VERSION_PATCH 0
#define DN_VERSION_STRING "0.2.0"

/* The library's version string, DN_VERSION_STRING of the build linked in ("0.2.0"). */
const char *dn_version(void);

/* ======================================================================
 * Status and errors
 * ====================================================================== */

typedef enum dn_status {
  DN_OK = 0,
  DN_ERR_ARG,         /* a bad argument: NULL, zero size, unknown name, value out of range */
  DN_ERR_SHAPE,       /* sizes that do not fit together, or whose product overflows */
  DN_ERR_NOMEM,       /* an allocation failed */
  DN_ERR_STATE,       /* the object is not in the state the call needs (fit before compile) */
  DN_ERR_IO,          /* a file could not be opened, read or written */
  DN_ERR_FORMAT,      /* a file's contents are malformed */
  DN_ERR_NUMERIC,     /* a NaN or Inf where a finite value is needed */
  DN_ERR_UNSUPPORTED, /* valid in Keras, not (yet) supported here */
} dn_status;

/* A constant English name for a status: "DN_ERR_SHAPE: shape mismatch"; an unknown value gives
 * "DN_ERR_?: unknown status". Never NULL. */
const char *dn_status_string(dn_status status);

/* The message of the last failure on this thread ("" if none). Read it after a call reports
 * failure: successful calls do not clear it. The pointer stays valid; its text changes. */
const char *dn_last_error(void);

/* The status of the last failure on this thread (DN_OK if none). */
dn_status dn_last_status(void);

/* Allocator hook (none in Keras): every allocation the library makes goes through it. alloc must
 * return storage aligned to `alignment` (a power of two, at least 64) or NULL; ctx is passed
 * back. Install it before any other call, as it is process-wide and not synchronized; NULL
 * restores posix_memalign/free. The struct is copied. Errors: DN_ERR_ARG (a function missing). */
typedef struct dn_allocator {
  void *(*alloc)(size_t size, size_t alignment, void *ctx);
  void (*free)(void *ptr, void *ctx);
  void *ctx;
} dn_allocator;
dn_status dn_set_allocator(const dn_allocator *allocator);

/* "Exactly zero" for a float option whose Keras default is non-zero (negative zero, told apart
 * by its sign bit). */
#define DN_ZERO (-0.0)
/* "Exactly zero" for a count option whose Keras default is non-zero. In a size_t field it arrives
 * as SIZE_MAX; each such field says what it means there (0, or DN_ERR_ARG where 0 is no valid
 * value), and any other value above PTRDIFF_MAX, which only another negative number can give,
 * is DN_ERR_ARG naming the field. */
#define DN_ZERO_COUNT (-1)

/* ======================================================================
 * Threads
 * ====================================================================== */

/* The most threads dn_set_threads accepts. */
#define DN_MAX_THREADS 1024

/* Sets how many threads every later call in the process may use for its large products and
 * optimizer updates (none in Keras; TensorFlow's set_intra_op_parallelism_threads). n = 0
 * restores the default: omp_get_max_threads() of the calling thread, which is OMP_NUM_THREADS
 * when set, else the number of cores the process may run on (its CPU affinity mask). Products
 * too small to gain stay on the calling thread whatever the count, and results are bit-identical
 * on any count. A build without OpenMP (-DDENSENET_OPENMP=OFF, or a compiler without it) runs
 * on one thread: the call succeeds and dn_threads() stays 1. Safe from any thread; a call
 * already running may finish on the old count (with the same results).
 * Errors: DN_ERR_ARG (n < 0 or n > DN_MAX_THREADS). */
dn_status dn_set_threads(int n);

/* The thread count the library's calls use now: the count dn_set_threads set, else the default
 * above; 1 in a build without OpenMP. */
int dn_threads(void);

/* ======================================================================
 * Option macro machinery (not API: the DN_PP_* and DN_OPTIONS_* names may change)
 *
 * A macro whose options are all keywords, such as dn_batch_normalization(), takes an empty
 * list or designated arguments. DN_OPTIONS_(fn, type, ...) expands to fn((type){0}) for an
 * empty list and to fn((type){__VA_ARGS__}) otherwise, so no initializer list is empty ({} is
 * not C11) and no field is initialized twice (-Wpedantic, -Woverride-init stay quiet).
 * The emptiness test is Jens Gustedt's ISEMPTY, applied to the first argument only: designated
 * arguments start with '.', so the list is empty exactly when its first argument is, and that
 * argument has no top-level comma. The caller's arguments are never counted, so there is no
 * limit on them, and commas inside braces, which split macro arguments, are harmless:
 * .mean = (const float[]){0.5f, 1, 2} passes through as written.
 * Limit (Gustedt's): a probe appends "()" to the first argument, so that argument must not
 * end with the name of a function-like macro (.on_epoch_end = f, where f is also such a macro,
 * may fail to compile); put another option first or write (f).
 * ====================================================================== */

#define DN_PP_CAT_(a, b) DN_PP_CAT_I_(a, b)
#define DN_PP_CAT_I_(a, b) a##b
#define DN_PP_CAT5_(a, b, c, d, e) a##b##c##d##e
/* The first argument (empty for an empty list); the ~ keeps "..." non-empty, as C11 asks. */
#define DN_PP_FIRST_(...) DN_PP_FIRST_I_(__VA_ARGS__, ~)
#define DN_PP_FIRST_I_(first, ...) first
/* 1 if the arguments hold a top-level comma (2 to 15 arguments), 0 for one argument. */
#define DN_PP_HAS_COMMA_(...)                                                                      \
  DN_PP_ARG16_(__VA_ARGS__, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ~)
#define DN_PP_ARG16_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, ...) a16
/* A comma when followed by parentheses. */
#define DN_PP_COMMA_IF_CALLED_(...) ,
/* 1 if x (one macro argument) is empty, else 0. Four probes, each 1 if it makes a comma: x;
 * DN_PP_COMMA_IF_CALLED_ x (x begins with parentheses); x () (x ends with a function-like
 * macro's name); DN_PP_COMMA_IF_CALLED_ x (). Only an empty x gives 0, 0, 0, 1. */
#define DN_PP_ISEMPTY_(x)                                                                          \
  DN_PP_ISEMPTY_I_(DN_PP_HAS_COMMA_(x), DN_PP_HAS_COMMA_(DN_PP_COMMA_IF_CALLED_ x),                \
                   DN_PP_HAS_COMMA_(x()), DN_PP_HAS_COMMA_(DN_PP_COMMA_IF_CALLED_ x()))
#define DN_PP_ISEMPTY_I_(a, b, c, d) DN_PP_HAS_COMMA_(DN_PP_CAT5_(DN_PP_EMPTY_CASE_, a, b, c, d))
#define DN_PP_EMPTY_CASE_0001 ,
/* Takes no arguments: a list with an empty first argument but more after it (a stray leading
 * comma) stops the build here instead of being dropped. */
#define DN_PP_LEADING_COMMA_()

#define DN_OPTIONS_(fn, type, ...)                                                                 \
  DN_PP_CAT_(DN_OPTIONS_CASE_, DN_PP_ISEMPTY_(DN_PP_FIRST_(__VA_ARGS__)))(fn, type, __VA_ARGS__)
#define DN_OPTIONS_CASE_0(fn, type, ...) fn((type){__VA_ARGS__})
#define DN_OPTIONS_CASE_1(fn, type, ...) fn((type){0}) DN_PP_LEADING_COMMA_(__VA_ARGS__)

/* ======================================================================
 * Tensors
 *
 * The type every data call takes: row-major float32 data with its shape (rank 1 to 4). A view
 * borrows the caller's array (dn_tensor_2d): it is a few words passed by value, allocates
 * nothing, and the library never writes through a view it was given as an input. An owning
 * tensor (dn_tensor_new, dn_dataset) holds 64-byte aligned storage of its own, released with
 * dn_tensor_free; copies of the struct share that storage, so free it once. The zero struct
 * (rank 0, data NULL) is "no tensor", which optional arguments (validation data, sample
 * weights) take to mean none. Data calls read a tensor as a matrix: rows = shape[0], columns =
 * the product of the other dims (1 for rank 1); they accept rank 1 and 2.
 * ====================================================================== */

#define DN_TENSOR_MAX_RANK 4

typedef struct dn_tensor {
  float *data;                      /* row-major elements; NULL for no tensor */
  size_t shape[DN_TENSOR_MAX_RANK]; /* shape[0 .. rank-1]; the rest 0 */
  int rank;                         /* 1 .. DN_TENSOR_MAX_RANK; 0 for no tensor */
  bool owner;                       /* storage allocated by the library (dn_tensor_free) */
} dn_tensor;

/* The view constructors only record the pointer; they never read the data, so an output view
 * over an array not yet written (float y[4]; dn_predict(m, x, dn_tensor_2d(y, 1, 4))) must not
 * draw gcc's -Wmaybe-uninitialized, which a const pointer argument would otherwise trigger. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 10
#define DN_VIEW_NO_ACCESS_ __attribute__((access(none, 1)))
#else
#define DN_VIEW_NO_ACCESS_
#endif

/* Keras/numpy: a (rows, cols) array over `data`, borrowed (never copied or freed). Accepts const
 * data without a cast: calls that take the view as an input never write through it. A NULL data
 * or a zero dim makes a tensor every data call rejects with DN_ERR_ARG / DN_ERR_SHAPE. */
DN_VIEW_NO_ACCESS_ dn_tensor dn_tensor_2d(const float *data, size_t rows, size_t cols);
/* A (n,) vector view over `data` (sample weights, sparse labels, a single-output target). */
DN_VIEW_NO_ACCESS_ dn_tensor dn_tensor_1d(const float *data, size_t n);
/* A view of any rank (1 .. DN_TENSOR_MAX_RANK) and shape (rank dims copied). An out-of-range
 * rank or a NULL shape gives the zero tensor. */
DN_VIEW_NO_ACCESS_ dn_tensor dn_tensor_view(const float *data, int rank, const size_t *shape);

/* Speed note (none of this changes what the calls do). A dn_tensor is six words, which the C
 * ABI passes in memory; a struct written field by field and then copied into the argument area
 * stalls the copy on the stores it just made (about 5 ns per view on the CPUs measured), which
 * is as long as a whole single-row prediction of a small net. So for C callers the header
 * builds views inline and dn_predict_on_batch hands its views on by address; each function
 * above and below still exists under its own name (for bindings, C++ casts and function
 * pointers: write (dn_tensor_2d)(...) to call it directly). */
DN_VIEW_NO_ACCESS_ static inline dn_tensor dn_tensor_2d_inline(const float *data, size_t rows,
                                                               size_t cols) {
  /* never written through when given as an input */
  dn_tensor t = {(float *)(uintptr_t)data, {rows, cols, 0, 0}, 2, false};
  return t;
}
DN_VIEW_NO_ACCESS_ static inline dn_tensor dn_tensor_1d_inline(const float *data, size_t n) {
  dn_tensor t = {(float *)(uintptr_t)data, {n, 0, 0, 0}, 1, false};
  return t;
}
#define dn_tensor_2d(data, rows, cols) dn_tensor_2d_inline(data, rows, cols)
#define dn_tensor_1d(data, n) dn_tensor_1d_inline(data, n)
/* numpy.zeros(shape): a new owning tensor of zeros in *out (rank 1 .. DN_TENSOR_MAX_RANK, every
 * dim > 0). Errors: DN_ERR_ARG (NULL out or shape), DN_ERR_SHAPE (rank, a zero dim, a size that
 * overflows), DN_ERR_NOMEM; *out is left unchanged on failure. */
dn_status dn_tensor_new(dn_tensor *out, int rank, const size_t *shape);
/* dn_tensor_new for a rows x cols matrix. */
dn_status dn_tensor_new_2d(dn_tensor *out, size_t rows, size_t cols);
/* Releases an owning tensor's storage (a view's data is the caller's and is left alone) and
 * zeroes *t. NULL is a no-op. */
void dn_tensor_free(dn_tensor *t);
/* The number of elements (0 for no tensor or a size that overflows: more than PTRDIFF_MAX bytes,
 * C's limit on an object), the size of `axis`
 * (negative counts from the end; 0 out of range), and the matrix reading: rows = shape[0],
 * cols = the product of the other dims (1 for rank 1; 0 for no tensor). */
size_t dn_tensor_size(dn_tensor t);
size_t dn_tensor_dim(dn_tensor t, int axis);
size_t dn_tensor_rows(dn_tensor t);
size_t dn_tensor_cols(dn_tensor t);
/* numpy t[first:first + count]: a view of `count` rows starting at row `first` (same other
 * dims, same storage, not owning). Out of range: the zero tensor. */
dn_tensor dn_tensor_slice_rows(dn_tensor t, size_t first, size_t count);

/* A batch source (data that streams, larger than memory): see "Data that streams" below. */
typedef struct dn_source dn_source;

/* ======================================================================
 * Layers and activations
 *
 * A layer is owned by the caller from its constructor until it is given to dn_sequential or
 * dn_model_add (which take it, also on failure). Constructors return NULL on failure.
 * ====================================================================== */

typedef struct dn_layer dn_layer;
typedef struct dn_model dn_model;

/* Arguments of the parametrised initializers. Zero fields take Keras's defaults:
 * random_uniform minval/maxval both 0 -> -0.05/0.05 (DN_ZERO in either for an explicit 0);
 * random_normal/truncated_normal mean 0, stddev 0 -> 0.05 (DN_ZERO for 0); constant value 0.
 * Values must be finite, minval <= maxval, stddev >= 0. */
typedef struct dn_init_args {
  double value;  /* constant */
  double minval; /* random_uniform */
  double maxval;
  double mean; /* random_normal, truncated_normal */
  double stddev;
} dn_init_args;

/* Keras: layers.Dense(units, activation=None, use_bias=True, kernel_initializer=
 *   "glorot_uniform", bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None).
 * y = activation(x . kernel + bias), kernel input_dim x units, bias units.
 * activation (NULL = linear; case-sensitive Keras names): linear relu leaky_relu relu6 elu selu
 *   celu gelu sigmoid hard_sigmoid log_sigmoid tanh hard_tanh softplus softsign silu (swish)
 *   hard_silu (hard_swish) mish exponential softmax log_softmax tanh_shrink soft_shrink
 *   hard_shrink squareplus sparse_sigmoid sparse_plus, with Keras's default parameters.
 *   glu, crelu, sparsemax and threshold are DN_ERR_UNSUPPORTED.
 * kernel_initializer / bias_initializer (NULL = glorot_uniform / zeros), with their arguments in
 *   kernel_init / bias_init: glorot_uniform glorot_normal he_uniform he_normal lecun_uniform
 *   lecun_normal random_uniform random_normal truncated_normal zeros ones constant; also the
 *   class names (GlorotUniform, ...), uniform, normal, zero, one and variance_scaling (its
 *   defaults = lecun_normal). orthogonal and identity are DN_ERR_UNSUPPORTED.
 * kernel_regularizer / bias_regularizer: "l1" (0.01), "l2" (0.01), "l1_l2" (0, 0), or set the
 *   factors (finite, >= 0) directly; a non-zero factor overrides the string's default. The
 *   penalty l1*sum|w| + l2*sum w^2 (no 1/2) is added to the batch loss.
 * input_dim: the first layer's input width (Keras input_shape=(n,)); 0 = from the model.
 * name: at most 63 bytes, unique in the model; NULL = "dense", "dense_1", ... (counted per
 *   model, not per process as in Keras).
 * Deviation: Keras's use_bias=False is .no_bias = true; smooth activations are computed in
 * double and rounded once to float.
 * Strings are copied or resolved now.
 * Errors: DN_ERR_ARG (units 0, unknown name, bad initializer args or regularizer factors, name
 *   too long), DN_ERR_UNSUPPORTED, DN_ERR_NOMEM. */
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
dn_layer *dn_dense_with(dn_dense_options options);
#define dn_dense(...) dn_dense_with((dn_dense_options){.units = __VA_ARGS__})

/* Keras: layers.Activation(activation): applies an activation (the names of Dense) elementwise
 * (softmax/log_softmax per row). Errors: DN_ERR_ARG (NULL or unknown name, name too long),
 * DN_ERR_UNSUPPORTED, DN_ERR_NOMEM. */
typedef struct dn_activation_options {
  const char *activation;
  size_t input_dim;
  const char *name;
} dn_activation_options;
dn_layer *dn_activation_with(dn_activation_options options);
#define dn_activation(...) dn_activation_with((dn_activation_options){.activation = __VA_ARGS__})

/* Keras: layers.Dropout(rate): inverted dropout, active only in training: each value is kept
 * with probability 1 - rate and scaled by 1/(1 - rate) (rate 1 drops all). Masks come from the
 * model's seeded dropout stream. Errors: DN_ERR_ARG (rate outside [0, 1] or NaN, name too long),
 * DN_ERR_NOMEM. */
typedef struct dn_dropout_options {
  double rate;
  size_t input_dim;
  const char *name;
} dn_dropout_options;
dn_layer *dn_dropout_with(dn_dropout_options options);
#define dn_dropout(...) dn_dropout_with((dn_dropout_options){.rate = __VA_ARGS__})

/* Keras: layers.BatchNormalization(momentum=0.99, epsilon=1e-3, center=True, scale=True).
 * Weights: gamma, beta (trainable; absent with no_scale / no_center), moving_mean,
 * moving_variance (non-trainable). Training normalizes with the batch mean and biased variance
 * and moves the moving statistics; inference uses the moving statistics.
 * Errors: DN_ERR_ARG (momentum outside [0, 1], epsilon < 0 or not finite, name too long),
 * DN_ERR_NOMEM. */
typedef struct dn_batch_normalization_options {
  size_t input_dim;
  double momentum; /* 0 -> 0.99; DN_ZERO for 0 */
  double epsilon;  /* 0 -> 1e-3; DN_ZERO for 0 */
  bool no_center;  /* Keras center=False: no beta */
  bool no_scale;   /* Keras scale=False: no gamma */
  const char *name;
} dn_batch_normalization_options;
dn_layer *dn_batch_normalization_with(dn_batch_normalization_options options);
#define dn_batch_normalization(...)                                                                \
  DN_OPTIONS_(dn_batch_normalization_with, dn_batch_normalization_options, __VA_ARGS__)

/* Keras: layers.Normalization(mean=None, variance=None, invert=False):
 * y = (x - mean) / max(sqrt(variance), 1e-7) (invert: y = mean + x * that). Weights
 * (non-trainable, Keras's order): mean, variance, count. Set them with dn_normalization_adapt
 * or pass mean and variance (input_dim floats each, copied; input_dim required).
 * Errors: DN_ERR_ARG (only one of mean/variance, no input_dim with them, a non-finite mean or a
 * negative or non-finite variance, name too long), DN_ERR_NOMEM. */
typedef struct dn_normalization_options {
  size_t input_dim;
  const float *mean;
  const float *variance;
  bool invert;
  const char *name;
} dn_normalization_options;
dn_layer *dn_normalization_with(dn_normalization_options options);
#define dn_normalization(...)                                                                      \
  DN_OPTIONS_(dn_normalization_with, dn_normalization_options, __VA_ARGS__)

/* Keras: Normalization.adapt(x): sets mean and population variance per feature from x
 * (rows x features, computed in double). The layer may be standalone or in a model (a
 * borrowed dn_model_layer pointer); an unbuilt layer takes its input width from x, as Keras
 * does. count stays 0, as Keras leaves it for in-memory data.
 * Errors: DN_ERR_ARG (NULL layer, no tensor, not a Normalization layer), DN_ERR_SHAPE (x's width
 * differs from the layer's input width, rank above 2), DN_ERR_NUMERIC (a NaN or Inf in x);
 * nothing is changed on failure. */
dn_status dn_normalization_adapt(dn_layer *layer, dn_tensor x);
/* Normalization.adapt(dataset): the same from every row of one pass of a batch source (its x;
 * y is read and ignored), in batches of batch_size rows (0 -> 32), with memory bounded by one
 * batch: a streaming mean and population variance per feature in double (Chan et al.'s
 * pairwise update of count, mean and sum of squared deviations per batch, as Keras's batched
 * adapt does), equal to dn_normalization_adapt on the same rows within float rounding. The
 * source is reset first if it was read before (dn_source_reset). count stays 0.
 * Errors: as dn_normalization_adapt (the width is the source's x_cols; a NaN or Inf names the
 * batch and row), DN_ERR_ARG (NULL source), DN_ERR_STATE (a source that gave no rows), a
 * failing source's status (its message kept), DN_ERR_NOMEM; nothing is changed on failure. */
dn_status dn_normalization_adapt_source(dn_layer *layer, dn_source *source, size_t batch_size);

/* Frees a layer that was never given to a model. NULL, or a layer a model owns, is ignored. */
void dn_layer_free(dn_layer *layer);

/* Facts about a layer (Keras: layer.name, type(layer).__name__, layer.units / the last dim of
 * layer.output.shape, layer.count_params(), the last dim of layer.input.shape, layer.activation):
 * its name ("dense_1"; "" until named by a model), its Keras class ("Dense"), output width and
 * parameter count (0 until built), input width (0 until known), and the canonical Keras name of
 * a Dense or Activation layer's activation ("relu"; "linear" for none; NULL for kinds without
 * one). Borrowed strings; NULL/0 for a NULL layer. */
const char *dn_layer_name(const dn_layer *layer);
const char *dn_layer_type(const dn_layer *layer);
size_t dn_layer_output_dim(const dn_layer *layer);
size_t dn_layer_count_params(const dn_layer *layer);
size_t dn_layer_input_dim(const dn_layer *layer);
const char *dn_layer_activation(const dn_layer *layer);

/* A layer's weights are its Keras variables in get_weights() order: Dense kernel, bias (absent
 * with no_bias); BatchNormalization gamma, beta (absent with no_scale / no_center), moving_mean,
 * moving_variance; Normalization mean, variance, count; none for Activation and Dropout. They
 * exist once the layer is built (its input width known); in a model, a layer's weights are its
 * slice of dn_model_get_weights' layout, in the same order. Each one crosses the API as a tensor
 * of exactly its Keras shape: rank 2 (input_dim, units) for a kernel, rank 1 (n) for every other
 * weight. Deviation: Normalization's count, a scalar (shape ()) in Keras, is a rank-1 (1) tensor.
 * Setting a weight of a compiled model keeps the optimizer's state, as Keras does. */

/* Keras: len(layer.weights): the number of weights (0 until built, or for NULL). */
size_t dn_layer_weight_count(const dn_layer *layer);

/* Keras: layer.weights[index].name, .shape and .trainable, into *info. name is borrowed
 * ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "mean", "variance",
 * "count"); shape[rank..] are 0. Example: allocate a weight with
 * dn_tensor_new(&t, info.rank, info.shape).
 * Errors: DN_ERR_ARG (NULL, index out of range), DN_ERR_STATE (the layer is not built). */
typedef struct dn_weight_info {
  const char *name;
  int rank;                         /* 2 for a kernel, 1 otherwise */
  size_t shape[DN_TENSOR_MAX_RANK]; /* (input_dim, units) or (n) */
  size_t size;                      /* elements */
  bool trainable; /* false for moving statistics, Normalization's, a frozen layer's */
} dn_weight_info;
dn_status dn_layer_weight_info(const dn_layer *layer, size_t index, dn_weight_info *info);

/* Keras: layer.get_weights()[index] / one weight of layer.set_weights(...) (variable.assign):
 * copies weight `index` into `out` / from `value`, which must have exactly the weight's shape
 * (dn_layer_get_weight(dense, 0, dn_tensor_2d(kernel, 2, 4)) for a 2-input, 4-unit kernel).
 * value is only read; it may be any tensor of that shape.
 * Errors: DN_ERR_ARG (NULL layer, no tensor, index out of range), DN_ERR_STATE (the layer is not
 * built), DN_ERR_SHAPE (the tensor's shape differs; both shapes named); nothing is copied. */
dn_status dn_layer_get_weight(const dn_layer *layer, size_t index, dn_tensor out);
dn_status dn_layer_set_weight(dn_layer *layer, size_t index, dn_tensor value);

/* Keras: layer.get_weights() / layer.set_weights(weights): every weight at once, out[k] /
 * values[k] for weight k, n = dn_layer_weight_count tensors each of its weight's exact shape.
 * Example: dn_layer_set_weights(dense, (dn_tensor[]){dn_tensor_2d(k, 2, 4), dn_tensor_1d(b, 4)},
 * 2). Every tensor is checked before anything is copied (Keras assigns one by one).
 * Errors: DN_ERR_ARG (NULL layer, NULL array with n > 0, no tensor), DN_ERR_STATE (not built),
 * DN_ERR_SHAPE (n differs from the weight count, a tensor's shape differs); nothing is copied. */
dn_status dn_layer_get_weights(const dn_layer *layer, const dn_tensor *out, size_t n);
dn_status dn_layer_set_weights(dn_layer *layer, const dn_tensor *values, size_t n);

/* Keras: layer.trainable = trainable / layer.trainable (freezing, for fine-tuning). A frozen
 * layer's weights get no update from any optimizer, and the optimizer keeps no state for them
 * (Keras builds slots only for model.trainable_weights: the summary's "Optimizer params" and the
 * optimizer variables in .keras / .h5 files count the trainable weights only). Its trainable
 * weights count as non-trainable (dn_layer_weight_info, dn_model_count_trainable_params,
 * dn_model_summary) at once, as in Keras. A frozen BatchNormalization runs in inference mode
 * also in training (fit, train_on_batch, dn_model_forward with training = true): it normalizes
 * with its moving statistics and does not update them, as Keras 3 does. The flag is saved by
 * dn_model_save and the Keras files (`trainable` in each layer's config). A layer is trainable
 * when made; dn_model_clone and dn_model_copy keep the flag.
 * Keras's caveat holds: what training does follows the flags as they were at the last dn_compile
 * (for a model built after compiling, at its build), so call dn_compile again after changing
 * them (Keras: "recompile your model after you make any changes to the trainable attribute").
 * Until then training goes on as compiled (nothing is corrupted: the optimizer's state is sized
 * for the compiled set), except that a BatchNormalization layer follows its flag at once, as
 * Keras's layer call does. dn_compile starts a fresh optimizer state, as Keras's does.
 * dn_layer_trainable is false for NULL. Errors: DN_ERR_ARG (NULL layer). */
dn_status dn_layer_set_trainable(dn_layer *layer, bool trainable);
bool dn_layer_trainable(const dn_layer *layer);

/* ======================================================================
 * Model lifecycle
 * ====================================================================== */

/* Keras: keras.Sequential([layers...]). Takes every layer, also on failure: a NULL entry (a
 * failed constructor) makes the call fail with that constructor's status and message, prefixed
 * "dn_sequential: ", and frees the other layers. Layers are named and their initial weights
 * drawn here, in order, from the model's seed. The macro counts its arguments.
 * Returns a new model owned by the caller (dn_model_free), or NULL.
 * Errors: DN_ERR_ARG (no layers, a NULL layer, a duplicate name), DN_ERR_SHAPE (a layer's
 * input_dim differs from the previous output), a failed constructor's status, DN_ERR_NOMEM. */
dn_model *dn_sequential_with(size_t count, dn_layer *const *layers);
/* A leading NULL, skipped, keeps the array non-empty for dn_sequential() (count 0). */
#define dn_sequential(...)                                                                         \
  dn_sequential_with(sizeof((dn_layer *[]){NULL, __VA_ARGS__}) / sizeof(dn_layer *) - 1,           \
                     (dn_layer *[]){NULL, __VA_ARGS__} + 1)

/* Keras: keras.Sequential(). An empty model to fill with dn_model_add; NULL on DN_ERR_NOMEM. */
dn_model *dn_model_new(void);

/* Keras: model.add(layer). Takes the layer, also on failure, except a layer that already
 * belongs to a model (DN_ERR_ARG, left with its model). The layer is built and its weights
 * drawn now if its input width is known. Adding weights to a compiled model resets its
 * optimizer state.
 * Errors: DN_ERR_ARG (NULL, owned layer, duplicate name), DN_ERR_SHAPE (input_dim differs from
 * the previous output, or too large), DN_ERR_NOMEM. */
dn_status dn_model_add(dn_model *model, dn_layer *layer);

/* Keras: model.build((None, input_dim)): gives the model its input width when its first layer
 * had no input_dim; builds the layers and draws their weights. The same width again is a no-op.
 * Errors: DN_ERR_ARG (NULL, input_dim 0), DN_ERR_STATE (a different width already, no layers),
 * DN_ERR_SHAPE (too large), DN_ERR_NOMEM; on failure the layers stay unbuilt. */
dn_status dn_model_build(dn_model *model, size_t input_dim);

/* Frees the model with its layers and its compiled optimizer. NULL is a no-op. Borrowed
 * pointers from it (layers, optimizer, names) become invalid. */
void dn_model_free(dn_model *model);

/* Input and output widths (0 until the model has an input shape, or for NULL). */
size_t dn_model_input_dim(const dn_model *model);
size_t dn_model_output_dim(const dn_model *model);

/* Keras: len(model.layers) and model.get_layer(index=i). The count (0 for NULL), and layer
 * `index` (0-based), or NULL with DN_ERR_ARG (NULL model, index out of range).
 * A layer pointer from these calls and the two below is borrowed from the model: the caller may
 * read and change the layer through it (dn_layer_set_weights) and never frees it. It stays valid
 * until that layer is removed (dn_model_pop) or the model freed; adding layers does not move it. */
size_t dn_model_layer_count(const dn_model *model);
dn_layer *dn_model_layer(const dn_model *model, size_t index);
/* Keras: model.layers[index], with Python's negative indices: -1 is the last layer, -count the
 * first (Keras's get_layer(index=) takes no negative index; dn_model_layer is that call).
 * Errors: DN_ERR_ARG (NULL model, index outside -count .. count-1). */
dn_layer *dn_model_layer_at(const dn_model *model, ptrdiff_t index);
/* Keras: model.get_layer(name=name): the layer named `name` (case-sensitive), found in O(1).
 * Errors: DN_ERR_ARG (NULL, no such layer; the message lists the model's layer names, as
 * Keras's "No such layer" error does). */
dn_layer *dn_model_get_layer(const dn_model *model, const char *name);

/* Keras: model.pop(): removes and frees the last layer; its name becomes free again. The model
 * keeps its other layers' weights, its input width, seed and random streams. A compiled model
 * stays compiled with the same loss, metrics and optimizer settings, as in Keras (metrics follow
 * the new output width at the next call with data); when the removed layer had weights, the
 * optimizer's state (slots, iterations) starts over at the next training call, as after adding
 * weights with dn_model_add. Pointers to the removed layer become invalid.
 * Deviation: the layer is freed, not returned; popping a model's only layer is refused (Keras 3
 * leaves an empty model).
 * Errors: DN_ERR_ARG (NULL), DN_ERR_STATE (no layers, or only one); nothing changes on failure. */
dn_status dn_model_pop(dn_model *model);

/* Keras: keras.models.clone_model(model): a new model owned by the caller with the same
 * architecture (each layer made again from its configuration: same kinds, names, options and
 * initializers) and fresh weights, drawn from the model's seed (dn_model_set_seed, or
 * DN_DEFAULT_SEED): the same weights as a model built from the same layers with that seed, and
 * the shuffle and dropout streams start from that seed too. An adapted Normalization layer goes
 * back to the mean and variance given to its constructor (0 and 1 without), as in Keras.
 * Not compiled (Keras's clone is uncompiled). An unbuilt model gives an unbuilt clone.
 * Errors: DN_ERR_ARG (NULL), DN_ERR_NOMEM, or a layer constructor's status; NULL is returned. */
dn_model *dn_model_clone(const dn_model *model);

/* A deep copy with weights (Keras idiom: clone_model(model) then set_weights(
 * model.get_weights())): dn_model_clone plus every weight (BatchNormalization's moving statistics
 * and Normalization's adapted state included) and the model's random streams as they are now, so
 * the copy predicts exactly as the model does and, compiled and trained the same way, follows
 * the same trajectory. The copy shares nothing with the model: training one leaves the other
 * unchanged. Not compiled: the compile settings and the optimizer's state are not copied (compile
 * it; to carry an optimizer's state, dn_model_save and dn_model_load).
 * Errors: as dn_model_clone. */
dn_model *dn_model_copy(const dn_model *model);

/* Post-training int8 quantization (no Keras counterpart; docs/int8.md): a new model owned by the
 * caller that predicts like `model` with int8 products. Each Dense layer with at least
 * min_inputs inputs (below) becomes a QuantizedDense layer of the same name: its kernel symmetric
 * int8 per output column (scale = max|w| / 127), its input quantized per tensor to 0..127 with a
 * zero point, from the min and max that input takes over the rows of x (the calibration rows: give
 * training rows), its sums exact in int32, its bias, scale and activation applied in float after
 * them; the output is float. Other layers (Normalization, BatchNormalization, Activation, Dropout)
 * are copied and run in float, except a BatchNormalization right before a quantized layer
 * (Dropout layers may stand between): it is folded into that layer's kernel and bias. The
 * quantized model predicts through dn_predict, dn_predict_on_batch and dn_model_forward (training
 * false), saves and loads with dn_model_save and dn_model_load (its
 * weights, all non-trainable, are per QuantizedDense layer: kernel (the int8 values as floats),
 * bias, kernel_scale, input_quantization = {scale, zero point}); dn_compile, and so every
 * training call, refuses it with DN_ERR_STATE. `model` is not changed (its workspace may grow,
 * as in a predict). Portable C and AVX2 paths, chosen at run time, give identical results.
 * Errors: DN_ERR_ARG (NULL model), DN_ERR_STATE (an unbuilt or already quantized model),
 * DN_ERR_SHAPE (x's width, no rows), DN_ERR_NUMERIC (a layer input that is not finite on x),
 * DN_ERR_ARG (no Dense layer has min_inputs inputs: nothing to quantize), DN_ERR_NOMEM; NULL is
 * returned. */
#define DN_QUANTIZE_MIN_INPUTS 32
typedef struct dn_quantize_options {
  dn_model *model;
  dn_tensor x; /* the calibration rows, rows x input width */
  /* Dense layers with fewer inputs stay float (0: DN_QUANTIZE_MIN_INPUTS; 1: every Dense layer).
   * A narrow layer costs little either way, and its few rounded inputs do not average out: on the
   * concrete lesson the 8-input first layer in int8 made the validation MAE 5.4 % worse, in
   * float 0.23 % (docs/int8.md). */
  size_t min_inputs;
} dn_quantize_options;
dn_model *dn_model_quantize_with(dn_quantize_options options);
#define dn_model_quantize(...) dn_model_quantize_with((dn_quantize_options){.model = __VA_ARGS__})

/* Keras: keras.utils.set_random_seed, for this model only: re-draws the Dense layers' initial
 * weights (other layers keep theirs) and resets the shuffle and dropout streams from `seed`.
 * Call it before training (trained weights are replaced). Without a call a model uses
 * DN_DEFAULT_SEED, so runs are reproducible. Deviation: the streams are not numpy's.
 * Errors: DN_ERR_ARG (NULL), DN_ERR_NOMEM. */
#define DN_DEFAULT_SEED 1337u
dn_status dn_model_set_seed(dn_model *model, uint64_t seed);

/* Keras: model.trainable = trainable / model.trainable. Setting it sets every layer's flag
 * (dn_layer_set_trainable) and the model's own: a model set non-trainable has no trainable
 * weights even if a layer is made trainable again afterwards (Keras's model.trainable_weights is
 * empty while model.trainable is False), until the model is set trainable again. Saved in the
 * files as Keras saves it; the compile caveat of dn_layer_set_trainable applies. The getter is
 * false for NULL. Errors: DN_ERR_ARG (NULL model). */
dn_status dn_model_set_trainable(dn_model *model, bool trainable);
bool dn_model_trainable(const dn_model *model);

/* Keras: model.summary(): the table (layer name and type, output shape, param count), then
 * total, trainable, non-trainable and (once a training call built it) optimizer params, to
 * `out`. Errors: DN_ERR_ARG (NULL), DN_ERR_IO (write error on out). */
dn_status dn_model_summary(const dn_model *model, FILE *out);

/* ======================================================================
 * Weights and gradients, in Keras get_weights() order flattened: layer by layer, Dense kernel
 * (input_dim x units, row-major) then bias; BatchNormalization gamma, beta, moving_mean,
 * moving_variance; Normalization mean, variance, count. Non-trainable entries are included;
 * their gradients are 0.
 * ====================================================================== */

/* Keras: model.count_params() and the trainable part of it, len(model.trainable_weights)
 * elements (0 for NULL or before the model has an input shape): frozen layers' weights are
 * not trainable (dn_layer_set_trainable). */
size_t dn_model_count_params(const dn_model *model);
size_t dn_model_count_trainable_params(const dn_model *model);

/* Keras: model.get_weights() / set_weights(). Copy exactly n = dn_model_count_params floats
 * out of / into the model (`in` is copied). Errors: DN_ERR_ARG (NULL), DN_ERR_SHAPE (n differs;
 * nothing copied). */
dn_status dn_model_get_weights(const dn_model *model, float *out, size_t n);
dn_status dn_model_set_weights(dn_model *model, const float *in, size_t n);

/* The gradients of the last backward pass (same layout and n; none in Keras): the entries of
 * weights that are not trainable now (moving statistics, Normalization's state, frozen layers'
 * weights: dn_layer_set_trainable) are 0. Errors: DN_ERR_ARG (NULL), DN_ERR_SHAPE (n differs). */
dn_status dn_model_get_gradients(const dn_model *model, float *out, size_t n);

/* Keras: tape.gradient(loss, model.trainable_weights), flattened: the gradients of the last
 * backward pass of the trainable weights only, in model.trainable_weights order (layer by layer,
 * each layer's trainable weights in get_weights order: Dense kernel then bias, BatchNormalization
 * gamma then beta; frozen layers and non-trainable weights skipped), n =
 * dn_model_count_trainable_params floats. Errors: DN_ERR_ARG (NULL), DN_ERR_SHAPE (n differs). */
dn_status dn_model_get_trainable_gradients(const dn_model *model, float *out, size_t n);

/* ======================================================================
 * Hand-driven passes (for custom training loops)
 * ====================================================================== */

/* Keras: y = model(x, training=training). Forward pass over x (rows x input_dim) into y
 * (at least x's rows, output_dim columns; extra rows are left alone). training=true makes
 * Dropout drop (drawing from the dropout stream) and BatchNormalization use and update batch
 * statistics. x is copied, so it may be reused before dn_model_backward. An unbuilt model takes
 * its input width from x (Keras builds on the first call).
 * Errors: DN_ERR_ARG (NULL model, no tensor), DN_ERR_STATE (no layers), DN_ERR_SHAPE (x's width,
 * y's width or rows, rank above 2, sizes overflow), DN_ERR_NOMEM. */
dn_status dn_model_forward(dn_model *model, dn_tensor x, bool training, dn_tensor y);

/* Keras: tape.gradient. Backward pass from dL/dy (rows x output_dim) through the last
 * dn_model_forward, which must have had the same rows, with no other pass (fit, evaluate,
 * predict, *_on_batch, gradient check) and no add/build since. Overwrites the parameter
 * gradients, then adds the regularizer gradients.
 * Errors: DN_ERR_ARG (NULL model, no tensor), DN_ERR_STATE (no input shape, no matching
 * forward), DN_ERR_SHAPE (dy's width, or rows other than the forward's). */
dn_status dn_model_backward(dn_model *model, dn_tensor dy);

/* As dn_model_backward, and also writes dL/dx (dy's rows x input_dim at least) into dx.
 * Errors: as dn_model_backward, and DN_ERR_SHAPE (dx's width or rows). */
dn_status dn_model_backward_input(dn_model *model, dn_tensor dy, dn_tensor dx);

/* Keras: optimizer.apply(gradients): one step of the compiled optimizer with the current
 * gradients (clipping, if set, rewrites the stored gradients in place). The first step allocates
 * the optimizer's slots. Errors: DN_ERR_ARG (NULL), DN_ERR_STATE (not compiled, no input shape),
 * DN_ERR_NUMERIC (a trainable gradient is NaN or Inf, or the update would make a weight or a
 * slot NaN or Inf: nothing is applied, no step counted; clipping may have rewritten the
 * gradients), DN_ERR_NOMEM. */
dn_status dn_model_apply_gradients(dn_model *model);

/* Keras: sum(model.losses): the kernel/bias regularizer penalties at the current weights
 * (0 for NULL). */
double dn_model_regularization_loss(const dn_model *model);

/* Gradient check (none in Keras): compares the backward pass for the scalar
 * L = sum(y * dy) + regularization with central finite differences over every trainable
 * parameter (frozen layers' weights are not: dn_layer_set_trainable) and every input (x: rows x
 * input_dim, dy: rows x output_dim), in inference mode (or training mode with .training = true),
 * with step .epsilon (0 -> 1e-3); random draws are replayed so Dropout masks match. Weights and
 * random streams are left as they were; the stored gradients become those of this pass, and a later
 * dn_model_backward needs a new dn_model_forward. Example: dn_model_gradient_check(model, x, dy,
 * &report, .training = true). Errors: DN_ERR_ARG (NULL model/report, no tensor, epsilon outside [0,
 * 1]), DN_ERR_STATE (no input shape), DN_ERR_SHAPE (a width, unequal rows), DN_ERR_NOMEM. */
typedef struct dn_gradient_check_report {
  double max_rel_error; /* |a - n| / max(|a| + |n|, 1e-8) at the worst entry */
  double max_abs_error;
  bool worst_is_input; /* the worst entry is an input (else a parameter) */
  size_t worst_index;  /* its index in the weights layout, or in x */
  double analytic, numeric;
  size_t checked; /* number of entries compared */
} dn_gradient_check_report;
typedef struct dn_gradient_check_options {
  dn_model *model;
  dn_tensor x;
  dn_tensor dy;
  dn_gradient_check_report *report;
  double epsilon; /* finite-difference step, 0 -> 1e-3 */
  bool training;
} dn_gradient_check_options;
dn_status dn_model_gradient_check_with(dn_gradient_check_options options);
#define dn_model_gradient_check(...)                                                               \
  dn_model_gradient_check_with((dn_gradient_check_options){.model = __VA_ARGS__})

/* ======================================================================
 * Training: optimizers and learning-rate schedules
 * ====================================================================== */

typedef struct dn_optimizer dn_optimizer;

typedef enum dn_schedule_kind {
  DN_SCHEDULE_CONSTANT = 0,
  DN_SCHEDULE_EXPONENTIAL_DECAY,  /* lr0 * rate^(step/decay_steps) (floor if staircase) */
  DN_SCHEDULE_INVERSE_TIME_DECAY, /* lr0 / (1 + rate * step/decay_steps) (floor if staircase) */
  DN_SCHEDULE_PIECEWISE_CONSTANT, /* values[i] while step <= boundaries[i], then the last */
  DN_SCHEDULE_COSINE_DECAY,       /* Keras CosineDecay with optional linear warmup */
} dn_schedule_kind;

/* Keras: keras.optimizers.schedules.*, evaluated at every optimizer step (step = iterations).
 * initial_learning_rate >= 0 and decay_steps > 0 (not for piecewise), decay_rate >= 0, alpha in
 * [0, 1], all finite. Piecewise: n_boundaries >= 1 strictly increasing boundaries and
 * n_boundaries + 1 values >= 0, copied when the optimizer is created. */
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
  double warmup_target; /* CosineDecay: 0 = no warmup; DN_ZERO = warm up to exactly 0 */
  double warmup_steps;
} dn_schedule;
#define dn_exponential_decay(...)                                                                  \
  ((dn_schedule){.kind = DN_SCHEDULE_EXPONENTIAL_DECAY, __VA_ARGS__})
#define dn_inverse_time_decay(...)                                                                 \
  ((dn_schedule){.kind = DN_SCHEDULE_INVERSE_TIME_DECAY, __VA_ARGS__})
#define dn_piecewise_constant_decay(...)                                                           \
  ((dn_schedule){.kind = DN_SCHEDULE_PIECEWISE_CONSTANT, __VA_ARGS__})
#define dn_cosine_decay(...) ((dn_schedule){.kind = DN_SCHEDULE_COSINE_DECAY, __VA_ARGS__})

/* Keras: keras.optimizers.SGD(...), Adam(...), ... Options of every optimizer; fields an
 * optimizer does not have are ignored. Zero fields take that optimizer's Keras default (DN_ZERO
 * for an explicit 0): learning_rate sgd 0.01, others 0.001; beta_1 0.9; beta_2 0.999 (lion
 * 0.99); epsilon 1e-7; rho rmsprop 0.9, adadelta 0.95; momentum 0 (sgd, rmsprop);
 * initial_accumulator_value 0.1 (adagrad); weight_decay adamw 0.004, others none. amsgrad: adam,
 * adamw; nesterov: sgd; centered: rmsprop. At most one of clipnorm, clipvalue, global_clipnorm.
 * name (case-insensitive): sgd adam adamw rmsprop adagrad adadelta adamax nadam lion.
 * Returns a new optimizer owned by the caller until given to dn_compile, or NULL.
 * Deviation: negative clip values, weight decay or accumulator values, rho or momentum outside
 * [0, 1] and non-finite values are rejected (Keras accepts some silently); scalar factors are
 * computed in double.
 * Errors: DN_ERR_ARG (NULL or unknown name, an option or schedule out of range, two clip
 * options), DN_ERR_NOMEM. */
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

/* Frees an optimizer never given to dn_compile. NULL is a no-op. */
void dn_optimizer_free(dn_optimizer *optimizer);

/* Keras: optimizer.learning_rate: the rate the next step uses (a schedule's value at the
 * current iteration). NaN with DN_ERR_ARG for NULL. */
double dn_optimizer_learning_rate(const dn_optimizer *optimizer);
/* Keras: optimizer.iterations: the steps taken (0 for NULL). */
uint64_t dn_optimizer_iterations(const dn_optimizer *optimizer);
/* Keras: optimizer.learning_rate = value. Errors: DN_ERR_ARG (NULL, negative or non-finite),
 * DN_ERR_STATE (a schedule drives the rate, as in Keras). */
dn_status dn_optimizer_set_learning_rate(dn_optimizer *optimizer, double learning_rate);
/* Keras: model.optimizer: borrowed, or NULL before compile (or for NULL). */
dn_optimizer *dn_model_optimizer(const dn_model *model);

/* ======================================================================
 * Training: compile, fit, evaluate, predict
 * ====================================================================== */

/* Keras: model.compile(optimizer="rmsprop", loss=..., metrics=[...]). Compiling again replaces
 * the optimizer and resets its state; a failed compile keeps the previous one.
 * loss (required; Keras names, their short aliases and class names): mean_squared_error (mse),
 *   mean_absolute_error (mae), mean_absolute_percentage_error (mape),
 *   mean_squared_logarithmic_error (msle), huber, log_cosh (logcosh), binary_crossentropy
 *   (bce), categorical_crossentropy (cce), sparse_categorical_crossentropy (scce), hinge,
 *   squared_hinge, kl_divergence (kld), poisson, cosine_similarity; and crossentropy (ce),
 *   resolved at the first call with data from y as Keras does: binary_crossentropy for an
 *   output width of 1, sparse_categorical_crossentropy for a wider output with y of one column
 *   (or rank 1), categorical_crossentropy otherwise.
 * loss options: huber_delta (huber; 0 -> 1.0, must be > 0); from_logits (the three
 *   cross-entropies); label_smoothing (binary/categorical cross-entropy, in [0, 1]). Setting
 *   one for a loss without it is DN_ERR_ARG. Hinge losses read {0, 1} targets as {-1, 1}.
 * metrics (NULL-terminated, logged under the name given): mae mse rmse mape r2_score
 *   binary_accuracy categorical_accuracy sparse_categorical_accuracy accuracy (acc; resolved
 *   from the widths as Keras does), the long names of the first four
 *   (mean_absolute_error, ..., root_mean_squared_error), the classification metrics below,
 *   and class names (Precision, AUC, F1Score, ...). Not sample-weighted.
 *   Keras constructor arguments are written after the name, "name(key=value, ...)" (values
 *   may be quoted; at most 59 characters in all); every metric takes name=, which sets the
 *   logged name ("val_" + it for validation), as Keras's name=:
 *     precision, recall (Keras Precision(), Recall(): thresholds=0.5 (one value in [0, 1]),
 *       top_k=None, class_id=None; every (row, column) is a decision, positive when the
 *       prediction is > the threshold; 0 when the denominator is 0, as Keras)
 *       "precision(top_k=2)"  is  keras.metrics.Precision(top_k=2)
 *     auc (Keras AUC(): num_thresholds=200, curve=ROC|PR,
 *       summation_method=interpolation|minoring|majoring, from_logits=False; Keras's evenly
 *       spaced thresholds with -epsilon and 1+epsilon at the ends, PR interpolated as Keras's
 *       interpolate_pr_auc; columns flattened as multi_label=False)
 *       "auc(curve=PR, name=pr_auc)"  is  keras.metrics.AUC(curve="PR", name="pr_auc")
 *     f1_score, f_beta_score / fbeta_score (Keras F1Score(), FBetaScore(): average=None|micro|
 *       macro|weighted, threshold=None (the row's maximum) or in (0, 1], beta=1.0)
 *       "f1_score(average=macro, threshold=0.5)"
 *       With average=None (the default) the score has one value per class, logged as
 *       "f1_score[0]", "f1_score[1]", ... (and "val_f1_score[k]"): the history, progress
 *       display, CSV logger, dn_evaluate_metrics and dn_model_metric_name show one entry per
 *       class (Keras logs one array under "f1_score"), once the metrics know the output width
 *       (at compile for a built model, else at the first call with data).
 *     top_k_categorical_accuracy, sparse_top_k_categorical_accuracy (k=5; a class is in the
 *       top k when fewer than k predictions are larger, ties included, as keras.ops.in_top_k)
 *   These keep counts over the epoch: an epoch's value is the value over all its rows.
 *   Monitors ("val_auc", "val_f1_score[1]") know their direction; a metric renamed with name=
 *   needs an explicit mode.
 * optimizer: a name for dn_optimizer_with with its defaults (NULL = "rmsprop"), or
 *   optimizer_object, which the model takes from this call on (also on failure) and which must
 *   not belong to another model.
 * Deviation: cce, scce, logcosh and rmse are extra names; binary cross-entropy clips to
 * [1e-7, 1 - 1e-7] (Keras's JAX/numpy backends); hinge gradients are 0 at the kink.
 * Errors: DN_ERR_ARG (NULL model, missing or unknown loss/metric/optimizer name, a bad loss
 * option), DN_ERR_SHAPE (a metric that does not fit the output and target widths),
 * DN_ERR_NOMEM. */
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

/* Keras verbose: AUTO = a progress bar on a terminal, a line per epoch otherwise. */
typedef enum dn_verbose {
  DN_VERBOSE_AUTO = 0,
  DN_VERBOSE_SILENT,
  DN_VERBOSE_BAR,
  DN_VERBOSE_LINES,
} dn_verbose;

typedef struct dn_callback dn_callback;
typedef struct dn_history dn_history;

/* The shape rules of every call below that takes x and y: x is rows x input_dim and y rows x
 * output_dim (or rows x 1 of class indices for the sparse_categorical_* losses), each of rank 1
 * or 2, with equal rows; a model without an input width yet takes it from x (Keras builds the
 * model on its first batch). Optional tensors (validation data, sample weights) are "no tensor"
 * when left zero; sample weights are rows x 1 (or rank 1). A mismatch is DN_ERR_SHAPE naming
 * the call, the argument and both numbers ("dn_fit: x has 30 columns but the model's input
 * width is 31"), before anything changes. Sizes: a tensor's bytes must fit in PTRDIFF_MAX and
 * end inside the address space, and x's rows times the model's widest layer must be a number
 * of floats that fits too, so no size the library computes overflows (DN_ERR_SHAPE otherwise,
 * before any data is read). A view's array itself is not visible: a shape within these limits
 * is trusted to describe memory the caller owns. */

/* Keras: model.fit(x, y, batch_size=32, epochs=1, verbose="auto", callbacks=None,
 *   validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
 *   sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_batch_size=None,
 *   validation_freq=1). Example: dn_fit(model, x, y, .epochs = 10, .validation_split = 0.2).
 * validation_split in [0, 1) takes the last fraction of the rows (floor of the training part),
 * before shuffling; both parts must be non-empty. validation_x/y override it. Epochs run from
 * initial_epoch to epochs. seed != 0 re-seeds the shuffle and dropout streams first (weights
 * are untouched). callbacks: a NULL-terminated list; fit takes each callback, also on failure,
 * and frees it before it returns (never dn_callback_free one afterwards).
 * Returns a history owned by the caller (dn_history_free), or NULL. A failure before the first
 * step leaves the model unchanged; a later one keeps the steps already taken.
 * Deviation: a NaN or Inf batch loss (as a float: 1e60 is Inf) stops fit with DN_ERR_NUMERIC
 * without applying that step (Keras trains on); with dn_terminate_on_nan() it stops and returns
 * the history, as Keras, also without applying that step. A NaN or Inf gradient, or an optimizer
 * update whose exact result does not fit in a float (a weight or a slot would be Inf or NaN)
 * stops fit with DN_ERR_NUMERIC in any case; nothing of that step is written. (Where Keras's
 * float32 arithmetic overflows on the way to a result that fits, e.g. Adam's g * g for
 * |g| > 1.8e19, that element is computed in double: docs/keras-differences.md.)
 * class_weight: a row whose class is not an index into the table (NaN/Inf, a negative or too
 *   large rounded value, an index past the table's end) is DN_ERR_ARG naming the row and the
 *   class, before anything changes (Keras weighs a class missing from its dict by 1.0: give it
 *   1.0 here); with sample_weight also given it is DN_ERR_ARG (Keras 3's ValueError). The
 *   rows' weights are made once, at fit's start.
 * validation_freq n: validation runs after epochs n, 2n, ... (1-based, Keras's
 *   `epoch % validation_freq == 0`); other epochs log no val_ values, so the history holds NaN
 *   there and a callback monitoring val_loss sees it missing (Keras's warning). Keras's list form
 *   (validate after the listed epochs) is not supported.
 * steps_per_epoch S (Keras 3's EpochIterator on arrays): an epoch is S batches drawn from a
 *   pass over the training rows that carries on across epochs; a pass (shuffled afresh) starts
 *   when the previous one is used up. When a pass runs out before S batches the epoch ends
 *   there with Keras's warning "Your input ran out of data; interrupting training. ..." on the
 *   progress stream (unless silent); the display's step count stays S, as Keras's. With
 *   batch_size 0, the batch is ceil(rows / S) rows (Keras's ArrayDataAdapter), so one pass
 *   is S batches or fewer; validation then uses batches of 32 (validation_batch_size or
 *   the batch_size given, as Keras).
 * Errors: DN_ERR_ARG (NULL model, no x or y tensor, bad validation options, labels that are not
 * class indices, class_weight as above, validation_freq or steps_per_epoch DN_ZERO_COUNT, a
 * callback with an unknown monitor direction, batch_size DN_ZERO_COUNT, a count
 * above PTRDIFF_MAX), DN_ERR_STATE (not compiled, no
 * layers), DN_ERR_SHAPE (the shape rules above), DN_ERR_NUMERIC, DN_ERR_IO (CSVLogger,
 * ModelCheckpoint), DN_ERR_NOMEM, or the status of a failing callback. */
typedef struct dn_fit_options {
  dn_model *model;
  dn_tensor x;
  dn_tensor y;
  size_t epochs;     /* 0 -> 1; DN_ZERO_COUNT: none (an empty history, as Keras's epochs=0) */
  size_t batch_size; /* 0 -> 32; more than the rows: one batch; DN_ZERO_COUNT: DN_ERR_ARG */
  double validation_split;
  dn_tensor validation_x; /* Keras validation_data=(x, y): both or neither */
  dn_tensor validation_y;
  bool no_shuffle;
  dn_tensor sample_weight; /* rows x 1, or no tensor */
  size_t initial_epoch;    /* 0 or DN_ZERO_COUNT: the first */
  dn_verbose verbose;
  FILE *out; /* progress and verbose callbacks' stream, NULL = stdout */
  uint64_t seed;
  dn_callback *const *callbacks;
  /* Keras class_weight={c: w, ...} as a table: entry c (rank 1, or k x 1) weighs the training
   * rows of class c; no tensor = none. A row's class: its class index (sparse labels), the
   * argmax of a row of several columns (first on ties), or a single column's value rounded half
   * to even (Keras's np.round). Not together with sample_weight: DN_ERR_ARG, as Keras 3
   * refuses the pair (multiply the class weights into sample_weight). Validation data is never
   * class-weighted.
   * Example: const float cw[] = {0.5f, 3.0f}; ... .class_weight = dn_tensor_1d(cw, 2). */
  dn_tensor class_weight;
  size_t validation_freq;       /* 0 -> 1: validate after every n-th epoch (1-based, Keras's int) */
  size_t steps_per_epoch;       /* 0 -> None (a pass over the rows); else see above */
  size_t validation_batch_size; /* 0 -> batch_size (32 when batch_size is 0) */
} dn_fit_options;
dn_history *dn_fit_with(dn_fit_options options);
#define dn_fit(...) dn_fit_with((dn_fit_options){.model = __VA_ARGS__})

/* Keras: model.train_on_batch(x, y): one optimizer step on these rows; *loss (may be NULL)
 * receives the batch loss including regularization.
 * Errors: DN_ERR_ARG (NULL model, no tensor, bad class indices), DN_ERR_STATE (not compiled, no
 * layers), DN_ERR_SHAPE, DN_ERR_NUMERIC (a loss that is NaN/Inf as a float, a NaN/Inf gradient, or
 * an optimizer update that would make a weight or a slot NaN/Inf: the step is not applied and
 * nothing changes), DN_ERR_NOMEM. */
dn_status dn_train_on_batch(dn_model *model, dn_tensor x, dn_tensor y, float *loss);
/* Keras: model.test_on_batch(x, y): the loss in inference mode, no update; loss may be NULL.
 * Errors: as dn_train_on_batch, without DN_ERR_NUMERIC (a NaN or Inf loss is returned). */
dn_status dn_test_on_batch(dn_model *model, dn_tensor x, dn_tensor y, float *loss);
/* Keras: model.predict_on_batch(x) into y (at least x's rows, output_dim columns; extra rows are
 * left alone); no compile needed; y may be x's own storage (predicting in place) when it is
 * wide enough.
 * Errors: DN_ERR_ARG (NULL model, no tensor), DN_ERR_STATE (no layers), DN_ERR_SHAPE,
 * DN_ERR_NOMEM. */
dn_status dn_predict_on_batch(dn_model *model, dn_tensor x, dn_tensor y);
/* dn_predict_on_batch with the views passed by address (the "speed note" under Tensors); what
 * the dn_predict_on_batch macro calls. x and y must not be NULL (DN_ERR_ARG). */
dn_status dn_predict_on_batch_ref(dn_model *model, const dn_tensor *x, const dn_tensor *y);
static inline dn_status dn_predict_on_batch_inline(dn_model *model, dn_tensor x, dn_tensor y) {
  return dn_predict_on_batch_ref(model, &x, &y);
}
#define dn_predict_on_batch(model, x, y) dn_predict_on_batch_inline(model, x, y)

/* Keras: model.evaluate(x, y, verbose=0) in batches of 32: the mean loss over the rows
 * (regularization included, as Keras reports it) into *loss; prints nothing (dn_evaluate_metrics
 * has Keras's progress bar). Errors: as dn_test_on_batch, and DN_ERR_ARG (loss NULL). */
dn_status dn_evaluate(dn_model *model, dn_tensor x, dn_tensor y, float *loss);

/* Keras: model.evaluate(x, y, batch_size=..., verbose="auto", sample_weight=...) returning the
 * loss then each compiled metric, in compile order: writes min(values_capacity,
 * dn_model_metrics_count) values.
 * Example: dn_evaluate_metrics(model, x, y, values, 3, .batch_size = 64).
 * verbose: Keras's progress display, as fit draws an epoch (AUTO: a bar on a terminal, else
 * the line), without an "Epoch" line: BAR "3/3 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.1234
 * - mae: 0.2345" (running values while it runs, the results at the end), LINES
 * "3/3 - 0s - 2ms/step - loss: 0.1234 - mae: 0.2345"; DN_VERBOSE_SILENT prints nothing.
 * Errors: as dn_evaluate, and DN_ERR_ARG (values NULL, values_capacity 0, batch_size
 * DN_ZERO_COUNT or above PTRDIFF_MAX, verbose not a dn_verbose value). */
typedef struct dn_evaluate_metrics_options {
  dn_model *model;
  dn_tensor x;
  dn_tensor y;
  double *values;
  size_t values_capacity;
  size_t batch_size;       /* 0 -> 32; DN_ZERO_COUNT: DN_ERR_ARG */
  dn_tensor sample_weight; /* rows x 1, or no tensor */
  dn_verbose verbose;      /* AUTO (Keras's "auto"), SILENT, BAR, LINES */
  FILE *out;               /* the progress display's stream, NULL = stdout */
} dn_evaluate_metrics_options;
dn_status dn_evaluate_metrics_with(dn_evaluate_metrics_options options);
#define dn_evaluate_metrics(...)                                                                   \
  dn_evaluate_metrics_with((dn_evaluate_metrics_options){.model = __VA_ARGS__})

/* Keras: model.metrics_names: "loss", then the metrics as named in compile. The count is
 * 1 + number of metric values (0 before compile): one per metric, or one per class for an F-score
 * with average None ("f1_score[0]", ...); a name is borrowed, NULL out of range. */
size_t dn_model_metrics_count(const dn_model *model);
const char *dn_model_metric_name(const dn_model *model, size_t index);

/* Keras: model.predict(x, verbose=0) in batches of 32 into y (as dn_predict_on_batch); no
 * compile needed; prints nothing (dn_model_predict has Keras's progress bar).
 * Errors: as dn_predict_on_batch. */
dn_status dn_predict(dn_model *model, dn_tensor x, dn_tensor y);

/* Keras: model.predict(x, batch_size=32, verbose="auto") into y: dn_predict with options.
 * Example: dn_model_predict(model, x, y, .batch_size = 256, .verbose = DN_VERBOSE_LINES).
 * verbose: as dn_evaluate_metrics, without values: BAR "3/3 ━━━━━━━━━━━━━━━━━━━━ 0s 1ms/step",
 * LINES "3/3 - 0s - 1ms/step".
 * Errors: as dn_predict_on_batch, and DN_ERR_ARG (batch_size DN_ZERO_COUNT or above
 * PTRDIFF_MAX, verbose not a dn_verbose value). */
typedef struct dn_model_predict_options {
  dn_model *model;
  dn_tensor x;
  dn_tensor y;
  size_t batch_size;  /* 0 -> 32; DN_ZERO_COUNT: DN_ERR_ARG */
  dn_verbose verbose; /* AUTO (Keras's "auto"), SILENT, BAR, LINES */
  FILE *out;          /* the progress display's stream, NULL = stdout */
} dn_model_predict_options;
dn_status dn_model_predict_with(dn_model_predict_options options);
#define dn_model_predict(...)                                                                      \
  dn_model_predict_with((dn_model_predict_options){.model = __VA_ARGS__})

/* ======================================================================
 * Data that streams: batch sources (Keras: fit / evaluate / predict on a PyDataset or a
 * generator). docs/streaming.md has the protocol in full and an example.
 * ====================================================================== */

/* A source hands out the rows of one pass over its data, a batch at a time, through the
 * caller's callbacks. The library asks for a batch by giving views over its own buffers:
 *   next(state, x, y, &rows): write up to dn_tensor_rows(x) rows (the capacity: the call's
 *     batch_size) into x (capacity x x_cols) and the same rows' targets into y (capacity x
 *     y_cols; the zero "no tensor" when y_cols is 0), and set *rows to the number written.
 *     *rows = 0 says the pass has ended (the data is exhausted). Return DN_OK, or a failure
 *     status, which the calling function returns (with the message the callback left through a
 *     library call, else one naming the status), after the rows already used. A batch shorter
 *     than the capacity is trained on as it is (make every batch but the last full for results
 *     equal to the in-memory call's).
 *   reset(state): optional; start the next pass from the beginning (the next epoch, the next
 *     evaluate). Called only for a source that has been read since it was made or last reset,
 *     before a pass starts (so a fresh source is never reset). Without it a source can be
 *     read once: a second pass fails with DN_ERR_STATE.
 *   free_state(state): optional; called by dn_source_free.
 * steps: batches per pass if known, else 0 (unknown: a pass ends when next gives 0 rows; fit
 *   learns the count from the first epoch for its progress display). With steps known, a pass
 *   ends after that many batches (next is not asked again) or earlier at 0 rows.
 * Example: dn_source *s = dn_source(my_next, .state = &reader, .x_cols = 8, .y_cols = 1,
 *   .reset = my_rewind).
 * The library calls the callbacks from the calling thread only, never two at once. A source is
 * borrowed by the calls that read it (the caller frees it with dn_source_free) and must not be
 * read by two calls at the same time.
 * Errors: DN_ERR_ARG (next NULL, x_cols 0), DN_ERR_NOMEM; NULL is returned and nothing is
 * called (free_state included). */
typedef struct dn_source_options {
  dn_status (*next)(void *state, dn_tensor x, dn_tensor y, size_t *rows);
  void *state; /* handed to the callbacks, never read by the library */
  size_t x_cols;
  size_t y_cols; /* 0: no targets (a source for predict only) */
  size_t steps;  /* batches per pass, 0 = unknown */
  dn_status (*reset)(void *state);
  void (*free_state)(void *state);
} dn_source_options;
dn_source *dn_source_with(dn_source_options options);
#define dn_source(...) dn_source_with((dn_source_options){.next = __VA_ARGS__})
/* Calls free_state (if any) and frees the source. NULL is a no-op. */
void dn_source_free(dn_source *source);
/* The source's widths and steps per pass (0 = unknown); any pointer may be NULL. A CSV source
 * reports the columns it chose. Errors: DN_ERR_ARG (NULL source). */
dn_status dn_source_shape(const dn_source *source, size_t *x_cols, size_t *y_cols, size_t *steps);
/* Reads the next batch by hand, as the library does: x is capacity x x_cols, y capacity x
 * y_cols (no tensor when y_cols is 0), *rows receives the rows written (0 at the end of the
 * pass). Errors: DN_ERR_ARG (NULL source or rows, a next that reports more rows than the
 * capacity), DN_ERR_SHAPE (x or y not of the source's width or not of equal rows, no rows), or
 * the callback's status. */
dn_status dn_source_next(dn_source *source, dn_tensor x, dn_tensor y, size_t *rows);
/* Starts a new pass: calls reset if the source has been read since it was made or last reset
 * (else nothing). Errors: DN_ERR_ARG (NULL), DN_ERR_STATE (read, and no reset callback), or the
 * callback's status. */
dn_status dn_source_reset(dn_source *source);

/* Keras: model.fit(dataset, epochs=..., validation_data=dataset) on a source: as dn_fit, with
 * these differences. Every epoch is one pass over the source (reset between epochs, as above);
 * batches are what next gives, at most batch_size rows (0 -> 32); the order is the source's
 * (no shuffling here: a CSV source shuffles with its buffer); validation comes from a second
 * source of the same widths, evaluated at the end of every epoch in batches of batch_size
 * (validation_split does not apply to a stream, as in Keras); no sample weights. Class indices
 * are checked in every batch (DN_ERR_ARG naming the epoch, batch and row). Callbacks, history,
 * progress display (steps from the source, or counted in the first epoch), seed, initial_epoch
 * and the numerical-safety rules are dn_fit's. The buffers are allocated before the first step;
 * the steps allocate nothing. With a source that gives the rows of x in order in batches of
 * batch_size, the weights are bit-identical to dn_fit(..., .no_shuffle = true) on x.
 * Failure: as dn_fit, a failure before the first step leaves the model unchanged and a later
 * one (a source that fails mid-epoch included) keeps the steps already taken; NULL is
 * returned, the status and message are the source's, prefixed with "dn_fit_source: epoch E,
 * batch B: " (batch 0-based).
 * Errors: as dn_fit, and DN_ERR_ARG (NULL source, a source without targets, a validation
 * source of other widths), DN_ERR_STATE (an epoch with no rows, a second epoch from a source
 * without reset), or a failing source's status. */
typedef struct dn_fit_source_options {
  dn_model *model;
  dn_source *source;
  size_t epochs;     /* 0 -> 1; DN_ZERO_COUNT: none */
  size_t batch_size; /* the capacity handed to next: 0 -> 32; DN_ZERO_COUNT: DN_ERR_ARG */
  dn_source *validation_source; /* optional; borrowed */
  size_t initial_epoch;
  dn_verbose verbose;
  FILE *out;
  uint64_t seed;
  dn_callback *const *callbacks; /* taken, as dn_fit takes them */
} dn_fit_source_options;
dn_history *dn_fit_source_with(dn_fit_source_options options);
#define dn_fit_source(...) dn_fit_source_with((dn_fit_source_options){.model = __VA_ARGS__})

/* Keras: model.evaluate(dataset): the loss then each compiled metric over one pass of the
 * source (reset first if it was read before), as dn_evaluate_metrics computes them on the same
 * rows in the same batches. Example: dn_evaluate_source(model, src, values, 2, .batch_size = 64).
 * Errors: as dn_evaluate_metrics, and DN_ERR_ARG (NULL source, a source without targets),
 * DN_ERR_STATE (a pass with no rows, a second pass without reset), or a failing source's
 * status (the model's weights are never changed). */
typedef struct dn_evaluate_source_options {
  dn_model *model;
  dn_source *source;
  double *values;
  size_t values_capacity;
  size_t batch_size; /* 0 -> 32; DN_ZERO_COUNT: DN_ERR_ARG */
} dn_evaluate_source_options;
dn_status dn_evaluate_source_with(dn_evaluate_source_options options);
#define dn_evaluate_source(...)                                                                    \
  dn_evaluate_source_with((dn_evaluate_source_options){.model = __VA_ARGS__})

/* Keras: model.predict(dataset): the predictions for one pass of the source (reset first if it
 * was read before; its y is read and ignored), in order, into the rows of y (rows x output_dim
 * at least); *rows (may be NULL) receives the number of rows predicted. No compile needed.
 * Example: dn_predict_source(model, src, dn_tensor_2d(out, cap, 1), &n).
 * Errors: as dn_predict, and DN_ERR_ARG (NULL source), DN_ERR_SHAPE (the source gives more rows
 * than y holds: the rows before are written), or a failing source's status. */
typedef struct dn_predict_source_options {
  dn_model *model;
  dn_source *source;
  dn_tensor y;
  size_t *rows;
  size_t batch_size; /* 0 -> 32; DN_ZERO_COUNT: DN_ERR_ARG */
} dn_predict_source_options;
dn_status dn_predict_source_with(dn_predict_source_options options);
#define dn_predict_source(...)                                                                     \
  dn_predict_source_with((dn_predict_source_options){.model = __VA_ARGS__})

/* ======================================================================
 * Training: history
 * ====================================================================== */

/* Keras: history.history / history.epoch: per epoch, every logged value ("loss", metrics, their
 * "val_" twins, "learning_rate" when a callback logs it; NaN where an epoch lacks a key).
 * Length = epochs run; keys in first-logged order; values: dn_history_length doubles
 * (borrowed) or NULL if `key` was not logged; epoch: the 0-based epoch index of entry i
 * (counting initial_epoch). NULL history or index out of range: 0 / NULL. */
size_t dn_history_length(const dn_history *history);
size_t dn_history_key_count(const dn_history *history);
const char *dn_history_key(const dn_history *history, size_t index);
const double *dn_history_values(const dn_history *history, const char *key);
size_t dn_history_epoch(const dn_history *history, size_t index);
/* Writes "epoch,<keys...>" and one row per epoch (values as Python's repr) to `path`.
 * Errors: DN_ERR_ARG (NULL), DN_ERR_IO. */
dn_status dn_history_write_csv(const dn_history *history, const char *path);
/* NULL is a no-op. */
void dn_history_free(dn_history *history);

/* ======================================================================
 * Training: callbacks
 *
 * Constructors return a callback owned by the caller until handed to dn_fit, which frees it
 * before it returns; or NULL (DN_ERR_ARG for a bad option, DN_ERR_NOMEM). A monitored value
 * missing from the logs is skipped for that epoch; EarlyStopping and ReduceLROnPlateau print
 * Keras's UserWarning about it once per fit on the progress stream (not when silent).
 * ====================================================================== */

/* The logs a callback receives: parallel arrays of names and values (borrowed for the call). */
typedef struct dn_logs {
  size_t count;
  const char *const *names;
  const double *values;
} dn_logs;
/* The value logged under `name`; NaN if absent or either argument is NULL. */
double dn_logs_get(const dn_logs *logs, const char *name);

/* Keras monitor modes. In AUTO mode EarlyStopping and ModelCheckpoint maximize accuracies and
 * r2_score and minimize losses and errors; a monitor they cannot place fails fit (DN_ERR_ARG). */
typedef enum dn_mode { DN_MODE_AUTO = 0, DN_MODE_MIN, DN_MODE_MAX } dn_mode;

/* Keras: callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=0, mode="auto",
 *   baseline=None, restore_best_weights=False, start_from_epoch=0, verbose=0).
 * monitor: NULL = "val_loss", at most 63 bytes. Deviation: baseline=x is .use_baseline = true,
 * .baseline = x. Errors: DN_ERR_ARG (empty monitor, bad mode, NaN min_delta or baseline,
 * patience < DN_ZERO_COUNT, start_from_epoch above PTRDIFF_MAX other than DN_ZERO_COUNT). */
typedef struct dn_early_stopping_options {
  const char *monitor;
  double min_delta;
  int patience; /* 0 or DN_ZERO_COUNT: stop at the first epoch without improvement */
  dn_mode mode;
  bool use_baseline;
  double baseline;
  bool restore_best_weights;
  size_t start_from_epoch; /* 0 or DN_ZERO_COUNT: from the first epoch */
  bool verbose;
} dn_early_stopping_options;
dn_callback *dn_early_stopping_with(dn_early_stopping_options options);
#define dn_early_stopping(...)                                                                     \
  DN_OPTIONS_(dn_early_stopping_with, dn_early_stopping_options, __VA_ARGS__)

/* Keras: callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10, mode="auto",
 *   min_delta=1e-4, cooldown=0, min_lr=0, verbose=0). In AUTO mode a monitor containing "acc"
 * is maximized, as Keras. Errors: DN_ERR_ARG (factor outside [0, 1), patience < DN_ZERO_COUNT,
 * non-finite min_delta, negative min_lr, bad monitor or mode, cooldown above PTRDIFF_MAX other
 * than DN_ZERO_COUNT). */
typedef struct dn_reduce_lr_on_plateau_options {
  const char *monitor;
  double factor; /* 0 -> 0.1; DN_ZERO for 0 */
  int patience;  /* 0 -> 10; DN_ZERO_COUNT for 0 */
  dn_mode mode;
  double min_delta; /* 0 -> 1e-4; DN_ZERO for 0 */
  size_t cooldown;  /* 0 or DN_ZERO_COUNT: none */
  double min_lr;
  bool verbose;
} dn_reduce_lr_on_plateau_options;
dn_callback *dn_reduce_lr_on_plateau_with(dn_reduce_lr_on_plateau_options options);
#define dn_reduce_lr_on_plateau(...)                                                               \
  DN_OPTIONS_(dn_reduce_lr_on_plateau_with, dn_reduce_lr_on_plateau_options, __VA_ARGS__)

/* Keras: callbacks.LearningRateScheduler(schedule): at each epoch begin, schedule(epoch, lr,
 * user) returns the new rate (logged as "learning_rate"). During fit, a NaN or negative rate is
 * DN_ERR_NUMERIC and an optimizer driven by a dn_schedule is DN_ERR_STATE.
 * Errors: DN_ERR_ARG (schedule NULL). */
typedef double (*dn_lr_schedule_fn)(size_t epoch, double learning_rate, void *user);
dn_callback *dn_learning_rate_scheduler(dn_lr_schedule_fn schedule, void *user);

/* Keras: callbacks.TerminateOnNaN(): stop (and return the history) when a batch loss is NaN or
 * Inf. Errors: DN_ERR_NOMEM. */
dn_callback *dn_terminate_on_nan(void);

/* Keras: callbacks.CSVLogger(filename, separator=",", append=False): a row per epoch, as
 * Keras's csv module writes it. The file is opened when fit begins (DN_ERR_IO then).
 * Errors: DN_ERR_ARG (NULL or empty filename, a quote or line break as separator). */
typedef struct dn_csv_logger_options {
  const char *filename;
  char separator; /* 0 -> ',' */
  bool append;
} dn_csv_logger_options;
dn_callback *dn_csv_logger_with(dn_csv_logger_options options);
#define dn_csv_logger(...) dn_csv_logger_with((dn_csv_logger_options){.filename = __VA_ARGS__})

/* Keras: callbacks.ModelCheckpoint(filepath, monitor="val_loss", save_best_only=False,
 *   save_weights_only=False, mode="auto", verbose=0): dn_model_save (or dn_model_save_weights)
 * at each epoch end, creating missing directories. filepath may hold "{epoch}" (1-based) and
 * logged names with Python format specs ("{epoch:02d}", "{val_loss:.2f}").
 * A path ending in ".keras" or ".h5" / ".hdf5" (with save_weights_only: ".weights.h5") is
 * written as that Keras file by libdensenet_keras (densenet_keras.h: dn_keras_register); any
 * other path in the native format (a deviation: Keras refuses them).
 * Errors: DN_ERR_ARG (NULL or empty filepath, bad template, bad monitor or mode,
 * save_weights_only with a .keras or other .h5 path); DN_ERR_UNSUPPORTED from dn_fit at its start
 * for a Keras path without the Keras library registered; during fit, a failed save stops it
 * with that status. */
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

/* Keras: callbacks.LambdaCallback: C functions (each may be NULL) called at train, epoch and
 * batch begin and end. `index` is the epoch (epoch hooks), the batch (batch hooks) or 0; logs
 * are empty at begin hooks. A hook may call dn_model_stop_training. */
typedef void (*dn_callback_fn)(dn_model *model, size_t index, const dn_logs *logs, void *user);
typedef struct dn_lambda_callback_options {
  dn_callback_fn on_train_begin, on_train_end;
  dn_callback_fn on_epoch_begin, on_epoch_end;
  dn_callback_fn on_batch_begin, on_batch_end;
  void *user;
} dn_lambda_callback_options;
dn_callback *dn_lambda_callback_with(dn_lambda_callback_options options);
#define dn_lambda_callback(...)                                                                    \
  DN_OPTIONS_(dn_lambda_callback_with, dn_lambda_callback_options, __VA_ARGS__)

/* Keras: model.stop_training = True: fit stops after the current batch's callbacks. NULL is a
 * no-op. */
void dn_model_stop_training(dn_model *model);

/* Frees a callback never handed to dn_fit. NULL is a no-op. Never call it on a callback given
 * to fit (even a failed fit): fit owns it and frees it before it returns. */
void dn_callback_free(dn_callback *callback);

/* ======================================================================
 * Persistence (native format, docs/model-format.md)
 * ====================================================================== */

/* Keras: model.save(path): architecture, weights, layer state, compile settings, optimizer
 * state and random streams, so training resumes bit for bit; written atomically (temporary
 * file, fsync, rename). Deviation: the native format, any path (.keras: densenet_keras.h).
 * Errors: DN_ERR_ARG (NULL, empty path), DN_ERR_IO (with the path and the system's reason),
 * DN_ERR_UNSUPPORTED (more layers, metrics or longer names than the format holds),
 * DN_ERR_NOMEM. */
dn_status dn_model_save(const dn_model *model, const char *path);
/* Keras: keras.saving.load_model(path) for the native format: a new model owned by the caller,
 * or NULL. Sizes read from the file are checked before use.
 * Errors: DN_ERR_ARG (NULL), DN_ERR_IO, DN_ERR_FORMAT (what is wrong and its byte offset),
 * DN_ERR_UNSUPPORTED, DN_ERR_NOMEM. */
dn_model *dn_model_load(const char *path);
/* Keras: model.save_weights(path) / load_weights(path): weights only (every layer, in the
 * weights layout), into a model of the same structure; loading changes nothing unless all of
 * the file fits. Errors: as dn_model_save / dn_model_load, and DN_ERR_FORMAT for a file whose
 * layers or sizes differ from the model's. */
dn_status dn_model_save_weights(const dn_model *model, const char *path);
dn_status dn_model_load_weights(dn_model *model, const char *path);
/* A built model as standalone C99 source for a device (none in Keras; keras2c's idea): writes
 * `dir/name.h` and `dir/name.c`, which declare and define
 *   void name_predict(const float *x, float *y);                   (one row)
 *   void name_predict_batch(const float *x, size_t rows, float *y); (rows x input_dim -> output)
 * and the macros NAME_INPUT_DIM / NAME_OUTPUT_DIM (NAME upper-cased). The weights are
 * `static const float` arrays in exact hexadecimal literals; no allocation, no dependency beyond
 * <math.h> for the activations that need it. Compiled with -ffp-contract=off, the functions
 * return what dn_predict returns on the portable backend (DN_CPU=portable) bit for bit; against
 * the AVX2 / AVX-512 backends (which use FMA) they agree to rounding (docs/deploy.md).
 * Every layer kind and activation is exported (Dropout as nothing, BatchNormalization in its
 * inference form). Both files are written or neither.
 * Errors: DN_ERR_ARG (NULL; name not a C identifier of at most 48 characters, or reserved),
 * DN_ERR_STATE (no layers, or no input width yet), DN_ERR_IO (dir missing, not a directory or
 * not writable, with the reason), DN_ERR_NUMERIC (a weight is NaN or infinite), DN_ERR_NOMEM. */
dn_status dn_model_export_c(const dn_model *model, const char *dir, const char *name);

/* ======================================================================
 * Data: CSV loading and splitting (none in Keras; pandas/sklearn stand-ins)
 * ====================================================================== */

/* A loaded data set: x is rows x n_features, y rows x n_targets (no tensor, rank 0, when there
 * are no targets), both owning tensors released by dn_dataset_free, ready for the data calls:
 * dn_fit(model, data.x, data.y, .epochs = 10). */
typedef struct dn_dataset {
  dn_tensor x;
  dn_tensor y;
  size_t dropped_rows; /* rows skipped with drop_invalid_rows */
} dn_dataset;

/* pandas.read_csv stand-in: reads `path` into *out, which is cleared first (free an earlier
 * content before). Example: dn_csv_load("wine.csv", &data, .target_names = (const char *[]){
 * "quality", NULL}).
 * Column choice: by header name (NULL-terminated lists) or by 0-based index (arrays of n_*
 * indices), not both. Targets default to none; features to every column that is not a target.
 * Numbers are parsed locale-independently ("nan", "inf" are errors); RFC 4180 quoting.
 * Limits (hostile or endless input ends as an error, with memory bounded by them): only a
 * regular file is read unless allow_stream is set, which also admits a FIFO, a character device
 * or a socket (a pipe from another process, "/dev/stdin"); at most max_file_bytes bytes are read
 * (0 = DN_CSV_MAX_FILE_BYTES, 1 GiB; a regular file larger than that is refused before reading)
 * and a record holds at most max_record_bytes bytes, not counting its line break (0 =
 * DN_CSV_MAX_RECORD_BYTES, 1 MiB). Memory stays within a small multiple of the two limits
 * (the current record, the header and the output arrays).
 * Errors name the file, line and column: DN_ERR_ARG (NULL path or out, conflicting options,
 * unknown column name or index, no feature left), DN_ERR_IO (cannot open or read; not a regular
 * file without allow_stream; a directory), DN_ERR_FORMAT (bad cell, ragged row, no data rows, a
 * record or a file over its limit, naming the limit), DN_ERR_NOMEM. A limit is never a dropped
 * row: drop_invalid_rows does not skip it. */
#define DN_CSV_MAX_RECORD_BYTES ((size_t)1 << 20)
#define DN_CSV_MAX_FILE_BYTES ((uint64_t)1 << 30)
typedef struct dn_csv_load_options {
  const char *path;
  dn_dataset *out;
  const char *const *feature_names;
  const char *const *target_names;
  const size_t *feature_columns;
  size_t n_feature_columns;
  const size_t *target_columns;
  size_t n_target_columns;
  char delimiter;          /* 0 -> ',' */
  bool no_header;          /* the first row is data (columns by index only) */
  bool drop_invalid_rows;  /* skip malformed/ragged/empty-cell rows, count them */
  bool allow_stream;       /* also read a FIFO, character device or socket (see Limits) */
  size_t max_record_bytes; /* 0 -> DN_CSV_MAX_RECORD_BYTES (1 MiB) */
  uint64_t max_file_bytes; /* 0 -> DN_CSV_MAX_FILE_BYTES (1 GiB) */
} dn_csv_load_options;
dn_status dn_csv_load_with(dn_csv_load_options options);
#define dn_csv_load(...) dn_csv_load_with((dn_csv_load_options){.path = __VA_ARGS__})
/* A batch source over a CSV file of any size (Keras: a tf.data pipeline of
 * make_csv_dataset / CsvDataset + shuffle(buffer_size)), for dn_fit_source and the other
 * source calls. Columns, parsing and errors are dn_csv_load's (the same options; messages name
 * "dn_csv_source" where dn_csv_load's name "dn_csv_load"), checked as the rows are read: the
 * header and the column choice when the source is made, a bad row when the pass reaches it
 * (next then fails with DN_ERR_FORMAT and its file, line and column). x_cols is the number of
 * feature columns, y_cols the number of targets (0 without targets).
 * Shuffling (on by default): a buffer of shuffle_buffer rows (0 -> DN_CSV_SHUFFLE_BUFFER)
 * is filled from the file; each row handed out is drawn uniformly from the buffer and its place
 * taken by the file's next row; at the end of the file the buffer drains in random order. A
 * buffer holding the whole file gives a uniform shuffle of it; smaller ones shuffle locally,
 * as tf.data's shuffle does. The draws come from a stream seeded by `seed` (the same seed, the
 * same orders, pass after pass); each pass (epoch) draws a new order. no_shuffle hands the rows
 * out in file order (no buffer).
 * Memory: the 64 KiB read buffer, the current record (at most max_record_bytes) and the shuffle
 * buffer (shuffle_buffer x (x_cols + y_cols) floats), whatever the file's size. There is no
 * file-size limit unless max_file_bytes is set. Reset (the next pass) seeks back to the first
 * data row, so the path must be a regular file.
 * Errors (NULL returned): as dn_csv_load's at open, header and column choice, DN_ERR_ARG (NULL
 * path), DN_ERR_NOMEM. */
#define DN_CSV_SHUFFLE_BUFFER ((size_t)1024)
typedef struct dn_csv_source_options {
  const char *path;
  const char *const *feature_names;
  const char *const *target_names;
  const size_t *feature_columns;
  size_t n_feature_columns;
  const size_t *target_columns;
  size_t n_target_columns;
  char delimiter;
  bool no_header;
  bool drop_invalid_rows; /* skipped rows are counted: dn_csv_source_dropped_rows */
  size_t max_record_bytes;
  uint64_t max_file_bytes; /* 0: no limit */
  size_t shuffle_buffer;   /* rows; 0 -> DN_CSV_SHUFFLE_BUFFER */
  bool no_shuffle;
  uint64_t seed;
} dn_csv_source_options;
dn_source *dn_csv_source_with(dn_csv_source_options options);
#define dn_csv_source(...) dn_csv_source_with((dn_csv_source_options){.path = __VA_ARGS__})
/* Rows skipped with drop_invalid_rows in the current pass so far (0 for a source that is not a
 * CSV source, or NULL). */
size_t dn_csv_source_dropped_rows(const dn_source *source);
/* Keras: keras.utils.to_categorical(x, num_classes=None): class indices -> one-hot rows, in a new
 * owning tensor *out (dn_tensor_free). The result's shape is labels' shape, less a last axis of
 * 1 (rank > 1), plus num_classes: (n,) or (n, 1) -> (n, num_classes). num_classes 0 is Keras's
 * None: the largest label + 1. Example: dn_to_categorical(dn_tensor_2d(idx, n, 1), 10, &y).
 * Errors: DN_ERR_ARG (NULL out; labels no tensor or empty; a label that is not an integer in
 * [0, num_classes), naming its element and value -- Keras would wrap a negative one), DN_ERR_SHAPE
 * (the result would pass rank 4), DN_ERR_NOMEM; *out is left unchanged on failure. */
dn_status dn_to_categorical(dn_tensor labels, size_t num_classes, dn_tensor *out);
/* sklearn's train_test_split: seeded shuffle-split into two new data sets (overwritten without
 * freeing): test gets round(rows * test_fraction) rows, clamped so each side has at least one.
 * Errors: DN_ERR_ARG (NULL, train == test, an output aliasing data, no features, test_fraction
 * outside (0, 1), fewer than 2 rows), DN_ERR_SHAPE, DN_ERR_NOMEM. */
dn_status dn_train_test_split(const dn_dataset *data, double test_fraction, uint64_t seed,
                              dn_dataset *train, dn_dataset *test);
/* Frees x and y and zeroes the struct (not the struct itself). NULL is a no-op. */
void dn_dataset_free(dn_dataset *data);

/* ======================================================================
 * Plots (SVG, no dependencies; matplotlib stand-ins)
 * ====================================================================== */

typedef struct dn_plot_series {
  const char *label; /* legend text, or NULL */
  const float *x;    /* NULL -> 0, 1, 2, ... */
  const float *y;
  size_t n;
  bool points; /* scatter markers instead of a line */
} dn_plot_series;
/* An x/y chart of n_series series with axes, ticks, labels and a legend, written to `path`
 * (removed again if writing fails). Non-finite points are left out. Example:
 * dn_plot_svg("fit.svg", series, 2, .title = "Fit", .x_label = "x").
 * Errors: DN_ERR_ARG (NULL path/series, n_series 0, a series with n 0 or y NULL, a size out of
 * range), DN_ERR_IO. */
typedef struct dn_plot_svg_options {
  const char *path;
  const dn_plot_series *series;
  size_t n_series;
  const char *title;
  const char *x_label;
  const char *y_label;
  size_t width, height; /* 0 -> 720 x 440 */
} dn_plot_svg_options;
dn_status dn_plot_svg_with(dn_plot_svg_options options);
#define dn_plot_svg(...) dn_plot_svg_with((dn_plot_svg_options){.path = __VA_ARGS__})
/* Learning curves: the given history keys per epoch (NULL-terminated; NULL -> "loss" and, when
 * logged, "val_loss"), x labelled "epoch" from 1. Example:
 * dn_plot_history_svg(history, "loss.svg", .keys = (const char *[]){"mae", "val_mae", NULL}).
 * Errors: as dn_plot_svg, and DN_ERR_ARG (NULL history, no epochs, empty key list, a key not
 * logged), DN_ERR_SHAPE, DN_ERR_NOMEM. */
typedef struct dn_plot_history_svg_options {
  const dn_history *history;
  const char *path;
  const char *const *keys;
  const char *title;
  const char *x_label; /* NULL -> "epoch" */
  const char *y_label;
  size_t width, height; /* 0 -> 720 x 440 */
} dn_plot_history_svg_options;
dn_status dn_plot_history_svg_with(dn_plot_history_svg_options options);
#define dn_plot_history_svg(...)                                                                   \
  dn_plot_history_svg_with((dn_plot_history_svg_options){.history = __VA_ARGS__})

#ifdef __cplusplus
}
#endif

#endif /* DENSENET_H */
