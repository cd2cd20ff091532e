/* keras_io.h -- internal: the pieces of the optional Keras interchange target (libdensenet_keras)
 * and how they talk to each other.
 *
 *   keras_archive.c  the .keras zip (members in and out, through libzip)
 *   keras_h5.c       HDF5 access: checked reads of one variable, writing groups/datasets/attrs,
 *                    files in memory (through the serial HDF5 C library)
 *   keras_config.c   config.json -> model architecture (through cJSON)
 *   keras_config_write.c  model architecture -> config.json
 *   keras_compile.c  compile_config <-> loss, metrics, optimizer (by Keras class and config)
 *   keras_state.c    the Keras 3 weights layout: layers/<path>/vars/<i>, optimizer/vars/<i>
 *   keras_legacy.c   the Keras 2 style full-model .h5 (model_config, model_weights/...)
 *   keras_legacy_write.c  writing that file (dn_keras_save to a .h5 path)
 *   keras_load.c     parsing in this process (dn_keras_load_in_process, ..._weights_in_process)
 *   keras_isolate.c  dn_keras_load[_weights][_with]: the parse in the helper process, its limits
 *                    and its result read back through the native loader
 *   keras_parse_main.c  the helper executable densenet-keras-parse (not in the library)
 *   keras_save.c     dn_keras_save, dn_keras_save_weights, dn_keras_register
 *
 * Every function reports failures through dn_fail with messages that start with `fn` (the
 * public function) and name the member, HDF5 path or JSON key that was wrong.
 */
#ifndef DN_KERAS_IO_H
#define DN_KERAS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hdf5.h>

#include "densenet.h"
#include "layers/layer.h"

/* ---- keras_archive.c ------------------------------------------------------ */

/* One member of a .keras archive: name and bytes (owned, dn_alloc'd). */
typedef struct dn_keras_blob {
  const char *name;
  unsigned char *data;
  size_t size;
} dn_keras_blob;

/* Reads the named members of the zip at `path` into blobs[i] (names set by the caller; data is
 * NUL-terminated for JSON use). A member listed with optional[i] true may be absent (data NULL).
 * DN_ERR_IO if the file cannot be opened, DN_ERR_FORMAT for a bad zip or a missing member. */
dn_status dn_keras_zip_read(const char *path, const char *fn, dn_keras_blob *blobs,
                            const bool *optional, size_t n);
/* Writes a zip (members stored, uncompressed, in order) at `path`, crash-safe (io/file.h). */
dn_status dn_keras_zip_write(const char *path, const char *fn, const dn_keras_blob *blobs,
                             size_t n);
void dn_keras_blob_free(dn_keras_blob *blob);

/* The Keras version whose layout the writers follow (metadata.json's keras_version, the legacy
 * .h5's keras_version attributes). */
#define DN_KERAS_LAYOUT_VERSION "3.16.0"

/* ---- keras_h5.c ----------------------------------------------------------- */

/* HDF5's automatic error printing is switched off while a dn_keras_* call runs (the library must
 * not print): begin saves the current handler, end restores it. */
typedef struct dn_keras_h5_quiet {
  H5E_auto2_t func;
  void *data;
} dn_keras_h5_quiet;
void dn_keras_h5_quiet_begin(dn_keras_h5_quiet *q);
void dn_keras_h5_quiet_end(const dn_keras_h5_quiet *q);

/* Opens an HDF5 file read-only from a file path or from bytes in memory (copied by HDF5).
 * Returns a file id >= 0, or -1 with DN_ERR_IO/DN_ERR_FORMAT set. `what` names it in messages. */
hid_t dn_keras_h5_open_file(const char *path, const char *fn);
hid_t dn_keras_h5_open_image(const void *data, size_t size, const char *fn, const char *what);
/* A new empty HDF5 file in memory (core driver, no backing store), or -1. */
hid_t dn_keras_h5_create_image(const char *fn);
/* Flushes `file` and copies its bytes into *data (dn_alloc'd) / *size. Does not close it. */
dn_status dn_keras_h5_image_bytes(hid_t file, const char *fn, unsigned char **data, size_t *size);

/* True if `path` names an existing group / dataset / any link under `file`. */
bool dn_keras_h5_is_group(hid_t file, const char *path);
bool dn_keras_h5_is_dataset(hid_t file, const char *path);
/* Number of links in group `path` (DN_ERR_FORMAT if it is not a group). */
dn_status dn_keras_h5_child_count(hid_t file, const char *path, const char *fn, size_t *count);

/* The dataset at `path` must have exactly `rank` dims equal to dims[0..rank) and be float32
 * (integer: any integer type, as Keras's int32/int64 counters); its values are read into out
 * (converted to float). DN_ERR_FORMAT naming `where` + path otherwise. */
dn_status dn_keras_h5_read(hid_t file, const char *path, size_t rank, const size_t *dims,
                           bool integer, float *out, const char *fn, const char *where);
/* A scalar integer dataset (Keras's optimizer iteration counter). */
dn_status dn_keras_h5_read_scalar_int(hid_t file, const char *path, const char *fn,
                                      const char *where, long long *out);
dn_status dn_keras_h5_write_scalar_int(hid_t file, const char *path, long long value,
                                       const char *fn);
/* Shape of the dataset at `path`: *rank (<= 4) and dims. DN_ERR_FORMAT if missing. */
dn_status dn_keras_h5_shape(hid_t file, const char *path, size_t *rank, size_t dims[4],
                            const char *fn, const char *where);

/* Reads a string attribute (variable or fixed length, scalar) or a 1-d string array attribute.
 * *out is a dn_alloc'd NUL-terminated copy (for arrays: *count strings in one block of pointers
 * and bytes, free with dn_free). */
dn_status dn_keras_h5_attr_string(hid_t obj, const char *name, const char *fn, const char *where,
                                  char **out);
dn_status dn_keras_h5_attr_strings(hid_t obj, const char *name, const char *fn, const char *where,
                                   char ***out, size_t *count);

/* Writing: a group (with its parents) carrying a scalar UTF-8 string attribute `name` when
 * name_attr != NULL; a float32 (or int32 when as_int32) dataset of the given shape. */
dn_status dn_keras_h5_make_group(hid_t file, const char *path, const char *name_attr,
                                 const char *fn);
dn_status dn_keras_h5_write(hid_t file, const char *path, size_t rank, const size_t *dims,
                            const float *values, bool as_int32, const char *fn);

/* A variable-length string attribute `name` of obj (an open group or file): one string
 * (list false) or a 1-d list of `count` (an empty list is written as Keras writes [], an empty
 * float64 array), UTF-8 or ASCII as h5py stores a Python str or bytes. `where` names obj. */
dn_status dn_keras_h5_attr_write(hid_t obj, const char *name, const char *const *strings,
                                 size_t count, bool list, bool utf8, const char *fn,
                                 const char *where);

/* ---- keras_config.c, keras_config_write.c ---------------------------------- */

/* A model (uncompiled, built, initial weights) from the Sequential object of config.json (or a
 * legacy model_config), refusing (before allocating) one with more than max_params weights (the
 * most the weights file can hold). NULL with DN_ERR_FORMAT (malformed) or DN_ERR_UNSUPPORTED (a
 * layer kind, option or dtype this library does not have), naming the layer and the key. */
dn_model *dn_keras_model_from_json(const cJSON *model, const char *fn, size_t max_params);
/* The Sequential object of config.json for `model` (NULL + DN_ERR_NOMEM/UNSUPPORTED). */
cJSON *dn_keras_model_to_json(const dn_model *model, const char *fn);

/* A layer's Keras config, driven by the layer registry (layers/registry.h): a kind's config
 * fields (its DN_CFG_* bits) are read and written through dn_keras_fields, under their Keras
 * keys; the keys Keras has beside them (constraints, axis, ...) come from the class's
 * dn_keras_layer_extras row, if it has one. Both tables are keras_config.c's. */
typedef enum dn_keras_field_type {
  DN_KERAS_COUNT,       /* size_t: a positive integer, required */
  DN_KERAS_ACTIVATION,  /* const char *: an activation by name; null or absent: "linear" */
  DN_KERAS_BOOL,        /* bool; absent: the default */
  DN_KERAS_NUMBER,      /* double; absent: the default */
  DN_KERAS_FRACTION,    /* double in [0, 1], required */
  DN_KERAS_INITIALIZER, /* const char * (canonical name) at offset, dn_init_args at offset2 */
  DN_KERAS_REGULARIZER, /* double l1 at offset, double l2 at offset2 */
} dn_keras_field_type;

typedef struct dn_keras_field {
  unsigned bit;    /* the DN_CFG_* field */
  const char *key; /* its Keras config key */
  dn_keras_field_type type;
  size_t offset, offset2; /* where it lives in dn_layer_config */
  double default_value;   /* DN_KERAS_BOOL (0 or 1) and DN_KERAS_NUMBER */
} dn_keras_field;
/* In the order Keras writes them. */
extern const dn_keras_field dn_keras_fields[];
extern const size_t dn_keras_n_fields;

/* A key of a class's Keras config that is no dn_layer_config field: how it is written and how
 * a value read is checked. Every key a reader does not know must be null or false. */
typedef enum dn_keras_extra_type {
  DN_KERAS_EXTRA_NULL = 0, /* written null; read: must be null or false */
  DN_KERAS_EXTRA_FALSE,    /* written false; read: must be null or false */
  DN_KERAS_EXTRA_IGNORED,  /* written null, or `value` if numeric, or not (unwritten); read: any */
  DN_KERAS_EXTRA_AXIS,     /* written -1 (list: [-1]) before the fields; read: the last axis */
  DN_KERAS_EXTRA_INITIALIZER, /* written as initializer `init`; read: must be that initializer */
} dn_keras_extra_type;

typedef struct dn_keras_extra {
  const char *key;
  dn_keras_extra_type type;
  const char *init; /* DN_KERAS_EXTRA_INITIALIZER: its canonical name */
  double value;     /* DN_KERAS_EXTRA_IGNORED and numeric: the number written */
  bool numeric, unwritten;
  bool list; /* DN_KERAS_EXTRA_AXIS: written as a one-element list */
} dn_keras_extra;

/* The extra keys of Keras class `cls`, in writing order, ending at a NULL key (none for a
 * class without a row). */
const dn_keras_extra *dn_keras_extras_of(const char *cls);
/* The union of dn_keras_fields' bits: the config fields Keras files can carry. */
unsigned dn_keras_field_bits(void);

/* Keras initializer classes and our names (keras_config.c's table). kind: 0 variance scaling
 * (config seed, input_axes, output_axes), 1 RandomUniform (minval, maxval, seed), 2 normal
 * (mean, stddev, seed), 3 no config, 4 Constant (value). */
typedef struct dn_keras_init_class {
  const char *keras;
  const char *name;
  int kind;
} dn_keras_init_class;
const dn_keras_init_class *dn_keras_init_by_name(const char *name); /* NULL if unknown */

/* cJSON's allocations go through the library's allocator (dn_alloc / dn_free, so a dn_allocator
 * hook sees them): dn_keras_json_begin installs cJSON's hooks once per process (pthread_once,
 * thread-safe) and clears this thread's record of a failed cJSON allocation; every path calls it
 * before its first cJSON call (dn_keras_save, dn_keras_zip_read, the legacy .h5 loader).
 * dn_keras_json_failed tells whether a cJSON allocation on this thread failed since then (cJSON's
 * builders return NULL that callers may not see, e.g. cJSON_AddStringToObject's result). */
void dn_keras_json_begin(void);
bool dn_keras_json_failed(void);
/* cJSON_AddItemToObject that frees `item` when it cannot be added (cJSON's own leaves it to the
 * caller when copying the key fails); false then (and for a NULL item). */
bool dn_keras_json_add(cJSON *object, const char *key, cJSON *item);

/* JSON helpers shared by the config pieces. */
const cJSON *dn_keras_json_get(const cJSON *obj, const char *key); /* NULL if absent */
bool dn_keras_json_is_null(const cJSON *v);                        /* absent or null */

/* ---- keras_compile.c ------------------------------------------------------- */

/* Compiles `model` from a Keras optimizer (serialized object or name string), loss (string or
 * serialized object) and metrics (null or a list). where names the JSON origin for messages. */
dn_status dn_keras_compile_from_json(dn_model *model, const cJSON *optimizer, const cJSON *loss,
                                     const cJSON *metrics, const char *fn, const char *where);
/* compile_config for a compiled model (NULL + error). */
cJSON *dn_keras_compile_to_json(const dn_model *model, const char *fn);
/* How Keras lays out an optimizer's slot variables after iteration and learning_rate: groups of
 * slots, each group interleaved per trainable variable (model order), the groups one after the
 * other (Adam: [momentum, velocity] interleaved, then velocity_hat if amsgrad; RMSprop: all
 * velocities, then all momentums, then all average gradients). Our slot k is Keras's slot k.
 * names[k] / aliases[k]: the variable's name suffix in Keras 3 / tf.keras 2 legacy files. */
typedef struct dn_keras_opt_layout {
  size_t n_slots;
  size_t n_groups;
  size_t group_size[3];
  const char *names[3];
  const char *aliases[3];
  bool u_product; /* Nadam: a scalar u_product (the momentum product) after the slots */
} dn_keras_opt_layout;
/* False (layout zeroed) if this optimizer's state is not exchanged. */
bool dn_keras_opt_state_layout(const dn_optimizer *opt, dn_keras_opt_layout *layout);
/* For the Keras slot variable at position j (0-based, after the two scalars): our slot k and the
 * trainable variable t. */
void dn_keras_opt_position(const dn_keras_opt_layout *layout, size_t n_trainable, size_t j,
                           size_t *k, size_t *t);

/* ---- keras_state.c ---------------------------------------------------------- */

/* Keras 3 h5 path of each layer ("layers/dense", "layers/dense_1", ...: snake-case class name
 * with a per-class counter), written into path (cap bytes). */
void dn_keras_layer_path(const dn_model *model, size_t layer, char *path, size_t cap);
/* Number of dims Keras gives variable `var` ("kernel" 2, "count" 0, others 1) and the dims. */
size_t dn_keras_var_dims(const dn_var *var, size_t dims[2]);

/* Reads every layer variable (and, when the model is compiled and load_optimizer is true, the
 * optimizer variables if the file has them) from a Keras 3 weights file, checking every shape,
 * then commits all at once. */
dn_status dn_keras_state_read(dn_model *model, hid_t file, bool load_optimizer, const char *fn);
/* The optimizer's Keras slot layout for writing its state: DN_ERR_UNSUPPORTED (naming `fn`)
 * when it has state (slots) but no Keras layout; an optimizer without slots is fine. */
dn_status dn_keras_opt_export_layout(const dn_optimizer *opt, dn_keras_opt_layout *layout,
                                     const char *fn);
/* Writes the Keras 3 weights layout of `model` into the (new) file. */
dn_status dn_keras_state_write(const dn_model *model, hid_t file, const char *fn);

/* Copies optimizer state into a compiled model's optimizer: iterations, the learning rate (if
 * has_lr) and, if slots != NULL, a whole slot block in our layout (slot k of parameter i at
 * slots[k * n_params + i], n_slots = the optimizer's slot count); for Nadam the momentum
 * product from the file's u_product (NULL: Keras's initial 1). */
dn_status dn_keras_opt_commit(dn_model *model, uint64_t iterations, bool has_lr, double lr,
                              const float *slots, const double *u_product, const char *fn);
/* Nadam's momentum product after `iterations` steps from a file's float32 u_product: the product
 * recomputed in double exactly as the optimizer's steps accumulate it (so a saved and loaded
 * model continues bit for bit as in memory) when it rounds to the file's value, else the file's
 * value (a state this library's steps would not have produced). */
double dn_keras_nadam_u_product(const dn_optimizer *opt, uint64_t iterations, float stored);

/* ---- keras_save.c, keras_legacy_write.c ---------------------------------------------- */

/* The JSON text of j with Python's json.dumps separators (", " and ": ", as Keras writes it)
 * into out (name set to `name`, data NUL-terminated): cJSON's compact output with a space
 * added after every ',' and ':' outside strings. */
dn_status dn_keras_json_text(cJSON *j, const char *name, const char *fn, dn_keras_blob *out);
/* Fills a new in-memory HDF5 file with fill(model, file, fn) and writes its bytes to `path`
 * atomically (io/file.h), HDF5's error printing off meanwhile. */
typedef dn_status (*dn_keras_h5_filler)(const dn_model *model, hid_t file, const char *fn);
dn_status dn_keras_h5_save_file(const dn_model *model, const char *path, dn_keras_h5_filler fill,
                                const char *fn);
/* dn_keras_save for a .h5 / .hdf5 path: the Keras 2 style full-model file (keras_legacy_write.c).
 */
dn_status dn_keras_legacy_save(const dn_model *model, const char *path, const char *fn);

/* ---- keras_legacy.c ---------------------------------------------------------- */

/* A model from a Keras 2 style full-model HDF5 file (already open), of at most max_params
 * weights. */
dn_model *dn_keras_legacy_load(hid_t file, const char *fn, size_t max_params);
/* The layer weights (no optimizer state) of a legacy file into a built model, all checked
 * before the model changes. */
dn_status dn_keras_legacy_read_weights(dn_model *model, hid_t file, const char *fn);

/* ---- keras_load.c, keras_isolate.c -------------------------------------------------- */

/* dn_keras_load / dn_keras_load_weights parsing in the calling process (HDF5 and all): what
 * the public calls do with .in_process, and what the helper runs. Messages name the public
 * functions. */
dn_model *dn_keras_load_in_process(const char *path);
dn_status dn_keras_load_weights_in_process(dn_model *model, const char *path);

/* The helper's protocol. Invocation:
 *   densenet-keras-parse DN_KERAS_PARSE_VERSION load|weights PATH MEMORY_MIB TIME_S
 * with, for "weights", the model (dn_mf_encode, DN_MF_KIND_MODEL with its optimizer state) on
 * standard input. It sets its limits (RLIMIT_AS to MEMORY_MIB, RLIMIT_CPU to TIME_S), parses
 * PATH in-process and writes one record on standard output, then exits 0:
 *   magic (8 bytes) DN_KERAS_PARSE_MAGIC, i32 status, u32 flags, u64 message length,
 *   u64 payload length (host byte order: parent and child are the same machine), the message
 *   (the child's dn_last_error() when status != DN_OK), the payload (status DN_OK: the model,
 *   dn_mf_encode DN_MF_KIND_MODEL with its optimizer state). */
#define DN_KERAS_PARSE_VERSION "1"
#define DN_KERAS_PARSE_MAGIC "DNKPARS1"
#define DN_KERAS_PARSE_HEAD_LEN 32
#define DN_KERAS_PARSE_MSG_MAX 4096
/* flags: for "weights", the file changed the optimizer state (commit it as well) */
#define DN_KERAS_PARSE_OPTIMIZER 1u

/* The 8 bytes every HDF5 file starts with (a Keras .h5 / .weights.h5). */
#define DN_KERAS_HDF5_SIGNATURE_LEN 8
static const unsigned char dn_keras_hdf5_signature[DN_KERAS_HDF5_SIGNATURE_LEN] = {
    0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* Zeroed optimizer slots for per_var slot planes of the model's parameters (the Keras
 * optimizer-state readers): DN_ERR_SHAPE if the size overflows, DN_ERR_NOMEM. */
dn_status dn_keras_alloc_slots(const dn_model *model, size_t per_var, const char *fn, float **out);

#endif
