/*
 * densenet_keras.h -- Keras interchange for libdensenet (optional library libdensenet_keras,
 * CMake target densenet::keras, pkg-config densenet-keras; needs HDF5, libzip and cJSON).
 *
 * Reads the files Keras 3 writes -- a .keras archive (zip of metadata.json, config.json and
 * model.weights.h5), a .weights.h5 weights file, a legacy Keras 2 style .h5 full model -- for a
 * Sequential stack of Dense, Activation, Dropout, BatchNormalization and Normalization layers,
 * and writes a model as a .keras archive, a .weights.h5 file or a legacy .h5 full model laid
 * out as Keras 3.16 writes them, which keras.saving.load_model reads. Errors follow densenet.h: a
 * status (or NULL) and a message from dn_last_error() naming the member, HDF5 path or config key
 * that was wrong. Files are treated as untrusted: every size and shape is checked before use.
 *
 * Isolation. HDF5 (1.10) is not safe on hostile input: a crafted file can crash it, make it
 * spin for minutes or allocate gigabytes. So by default dn_keras_load and dn_keras_load_weights
 * parse the file in a child process, the helper executable densenet-keras-parse (installed in
 * <libexecdir>/densenet/), started with posix_spawn and limited in address space and CPU time,
 * with a wall-clock limit enforced by this process. The helper hands the result back in the
 * native model format, read by the native loader (which is fuzzed), so a crash, a hang or an
 * allocation past the limit in HDF5 becomes DN_ERR_FORMAT naming what happened ("the HDF5
 * library crashed on this file (signal 11)", "... took more than 30 s", "... needed more than
 * 1024 MiB"), with the calling process alive and the caller's model unchanged. The price is a
 * process start per load: about 15 ms on a small model, against 1-2 ms in-process
 * (docs/keras-interchange.md). For files you trust, .in_process = true parses in this process
 * (as 0.2.0 did).
 * The helper is found at: options.parser, else $DN_KERAS_PARSER, else the build tree's helper
 * (if it still exists), else the installed one; none found or not startable: DN_ERR_IO naming
 * the paths tried (no silent fallback to in-process parsing).
 */
#ifndef DENSENET_KERAS_H
#define DENSENET_KERAS_H

#include "densenet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* keras.saving.load_model(path) for a .keras archive or a legacy Keras 2 style .h5 full model
 * (told apart by their contents): a new model owned by the caller (dn_model_free), with its
 * architecture, weights (BatchNormalization moving statistics and Normalization mean/variance
 * included), and -- when the file has a compile/training config -- compiled with its loss,
 * metrics and optimizer (a learning_rate that is a Keras ExponentialDecay, InverseTimeDecay,
 * PiecewiseConstantDecay or CosineDecay becomes that dn_schedule), whose state (iterations,
 * learning rate, slot variables, Nadam's u_product) is restored
 * when the file holds it. Layer names are kept.
 * NULL on failure: DN_ERR_ARG (path NULL), DN_ERR_IO (cannot read), DN_ERR_FORMAT (not a Keras
 * file, a missing member, malformed JSON, a dataset whose shape or type does not match the
 * architecture, ...), DN_ERR_UNSUPPORTED (a layer class, option, dtype or optimizer state this
 * library does not have, named in the message), DN_ERR_NOMEM. */
dn_model *dn_keras_load(const char *path);

/* model.load_weights(path): the weights of a Keras 3 .weights.h5 file (or of the
 * model.weights.h5 inside a .keras archive) into a model with the same architecture, matched by
 * position (layers/dense, layers/dense_1, ... as Keras names them). If the model is compiled
 * and the file holds optimizer variables for a matching optimizer, its state is loaded too.
 * A legacy Keras 2 style .h5 gives its layer weights (no optimizer state), its layers that have
 * weights paired in order with the model's, as Keras's legacy loader does.
 * Every dataset is checked before anything changes: on failure the model is unchanged.
 * DN_ERR_ARG (NULL), DN_ERR_STATE (model not built), DN_ERR_IO, DN_ERR_FORMAT (shapes or
 * variable counts that do not match, naming the layer and path), DN_ERR_UNSUPPORTED. */
dn_status dn_keras_load_weights(dn_model *model, const char *path);

/* How a Keras file is parsed (dn_keras_load_with, dn_keras_load_weights_with). A zeroed struct
 * means the defaults, which dn_keras_load and dn_keras_load_weights use. */
typedef struct dn_keras_options {
  /* Parse in this process, without the helper: only for trusted files (a hostile file can
   * crash or hang the process inside HDF5). */
  bool in_process;
  /* The helper's address-space limit in MiB; 0: 1024 + 4 x the file's size (in MiB, rounded
   * up). Raise it for models of hundreds of MB. Not enforced in AddressSanitizer builds. */
  size_t memory_limit_mib;
  /* The helper's CPU-time limit and this process's wall-clock limit on it, in seconds; 0: 30. */
  unsigned time_limit_s;
  /* The helper executable; NULL: $DN_KERAS_PARSER, else the built-in paths (above). */
  const char *parser;
} dn_keras_options;

/* dn_keras_load and dn_keras_load_weights with options. Besides their errors: DN_ERR_FORMAT
 * when the helper crashed, ran past a limit, exited without a result or wrote a malformed one
 * (the message says which); DN_ERR_IO when the helper cannot be found or started (naming the
 * path). */
dn_model *dn_keras_load_with(const char *path, dn_keras_options options);
dn_status dn_keras_load_weights_with(dn_model *model, const char *path, dn_keras_options options);

/* model.save(path): path ending in ".keras" writes a .keras archive: metadata.json,
 * config.json (the Sequential config with an InputLayer, each layer's Keras config and
 * build_config, and compile_config when compiled) and model.weights.h5 (layers/<path>/vars/<i>,
 * optimizer/vars/<i> with iteration, learning_rate and the slot variables), members stored
 * uncompressed. A path ending in ".h5" or ".hdf5" writes the legacy Keras 2 style full-model
 * HDF5 file as Keras 3's model.save("x.h5") does (legacy_h5_format): root attributes
 * keras_version, backend ("numpy"), model_config and, when compiled, training_config (loss,
 * metrics, optimizer_config); model_weights/<layer>/sequential/<layer>/<var> with the
 * layer_names and weight_names attributes (an empty float64 weight_names for a layer without
 * weights, as Keras writes it); optimizer_weights (<opt>/iteration, <opt>/learning_rate, the
 * slots in Keras's order, Nadam's <opt>/u_product last) when compiled. Both load back with
 * dn_keras_load bit for bit (weights and optimizer state, so training continues as it would
 * have) and with keras.saving.load_model.
 * The file is written to a temporary file beside `path` and renamed over it, so a failed save
 * leaves an existing file intact. DN_ERR_ARG (NULL, another extension), DN_ERR_STATE (model has
 * no input shape), DN_ERR_UNSUPPORTED (a layer without a Keras config writer, an optimizer
 * whose state has no Keras layout), DN_ERR_IO, DN_ERR_NOMEM. A learning-rate schedule is
 * written as Keras's serialized schedule (then there is no learning_rate variable, as in
 * Keras), Nadam's state with Keras's u_product. */
dn_status dn_keras_save(const dn_model *model, const char *path);

/* model.save_weights(path): a Keras 3 .weights.h5 file (path must end in ".weights.h5"), the
 * layout of the model.weights.h5 inside a .keras archive: layer variables and, when compiled,
 * the optimizer variables (as Keras writes them). Written atomically like dn_keras_save; read
 * back with dn_keras_load_weights. DN_ERR_ARG, DN_ERR_STATE, DN_ERR_UNSUPPORTED, DN_ERR_IO,
 * DN_ERR_NOMEM as dn_keras_save. */
dn_status dn_keras_save_weights(const dn_model *model, const char *path);

/* Lets the core's ModelCheckpoint (dn_model_checkpoint) write Keras files: with it, a filepath
 * ending in ".keras", ".h5" or ".hdf5" is saved with dn_keras_save, and with save_weights_only
 * one ending in ".weights.h5" with dn_keras_save_weights (Keras 3's ModelCheckpoint rules);
 * without it such a checkpoint fails when fit starts with DN_ERR_UNSUPPORTED naming this call.
 * Every dn_keras_load*, dn_keras_save* call registers implicitly, but a program that uses only
 * the core and ModelCheckpoint("x.keras") must call it once (in a static link nothing else
 * pulls the Keras library in). Idempotent and thread-safe. */
void dn_keras_register(void);

#ifdef __cplusplus
}
#endif

#endif /* DENSENET_KERAS_H */
