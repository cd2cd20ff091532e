/* model_file.h -- internal: the native model file (docs/model-format.md): the byte-level
 * constants, the shared record tables, and the in-memory encoder/decoder entry points the fuzz
 * harness and tests use.
 *
 * Files, lowest first: model_file.c (the shared format: CRC-32, the record tables, the schedule
 * names; it calls neither of the others), model_file_write.c (encoding, and dn_model_save /
 * dn_model_save_weights), model_file_read.c (decoding, and dn_model_load /
 * dn_model_load_weights). Files are written and read through io/file.h, which also has the
 * test hook that makes a save fail at a chosen stage.
 */
#ifndef DN_MODEL_FILE_H
#define DN_MODEL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "densenet.h"
#include "io/file.h"

/* ---- layout ------------------------------------------------------------------------------- */

#define DN_MF_MAGIC                                                                                \
  "\x89"                                                                                           \
  "DNN\r\n\x1a\n"
#define DN_MF_MAGIC_LEN 8
#define DN_MF_VERSION 2       /* written when a layer or the model is frozen */
#define DN_MF_VERSION_PLAIN 1 /* written otherwise, so older readers read those files */
/* Version 2 adds: ARCH's bool model trainable after the layer count, and the optional layer
 * record key "trainable" (written only for a frozen layer; absent = true). */
#define DN_MF_FIELD_TRAINABLE (1u << 31) /* the layer table's bit of that key */
#define DN_MF_KIND_MODEL 1
#define DN_MF_KIND_WEIGHTS 2
#define DN_MF_HEADER_LEN 24       /* magic, version, kind, section count, file length */
#define DN_MF_CRC_LEN 4           /* CRC-32 of every byte before it, at the end of the file */
#define DN_MF_SECTION_HEAD_LEN 12 /* tag (4 ASCII bytes), body length (u64) */
#define DN_MF_STR_MAX 63          /* longest string (names, keys) in bytes */
#define DN_MF_MAX_LAYERS 4096
#define DN_MF_MAX_METRICS 64

/* Value types of a record entry. */
enum {
  DN_MF_T_U64 = 1,
  DN_MF_T_F64 = 2,
  DN_MF_T_BOOL = 3,
  DN_MF_T_STR = 4,
  DN_MF_T_F64_ARRAY = 5,
  DN_MF_T_STR_ARRAY = 6,
};

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF) of
 * n bytes, continuing from `crc` (start with 0). crc32("123456789") = 0xCBF43926. */
uint32_t dn_crc32(uint32_t crc, const void *data, size_t n);

/* ---- records: a layer's config and the compile settings, as (Keras name, type, value) ----- */

/* An array value: the writer reads `src` (count doubles or strings); the reader records where
 * the validated items start in the buffer (`pos`) and how many there are. */
typedef struct dn_mf_array {
  size_t count;
  size_t pos;
  const void *src;
} dn_mf_array;

/* Every field of a layer config, flattened for the record table. */
typedef struct dn_mf_layer_fields {
  char name[DN_MF_STR_MAX + 1];
  char activation[DN_MF_STR_MAX + 1];
  char kernel_initializer[DN_MF_STR_MAX + 1];
  char bias_initializer[DN_MF_STR_MAX + 1];
  uint64_t input_dim, units;
  double kernel_value, kernel_minval, kernel_maxval, kernel_mean, kernel_stddev;
  double bias_value, bias_minval, bias_maxval, bias_mean, bias_stddev;
  double kernel_l1, kernel_l2, bias_l1, bias_l2;
  double rate, momentum, epsilon;
  bool use_bias, center, scale, invert;
  bool trainable; /* Keras's layer.trainable (version 2) */
} dn_mf_layer_fields;

/* The compile settings and the optimizer's resolved options. */
typedef struct dn_mf_compile_fields {
  char loss[DN_MF_STR_MAX + 1];
  double huber_delta, label_smoothing;
  bool from_logits;
  dn_mf_array metrics;
  char optimizer[DN_MF_STR_MAX + 1];
  double learning_rate, beta_1, beta_2, epsilon, momentum, rho, initial_accumulator_value;
  double weight_decay, clipnorm, clipvalue, global_clipnorm;
  bool amsgrad, nesterov, centered;
  char schedule[DN_MF_STR_MAX + 1]; /* Keras class name, or "None" */
  double initial_learning_rate, decay_steps, decay_rate, alpha, warmup_target, warmup_steps;
  bool staircase;
  dn_mf_array boundaries, values;
} dn_mf_compile_fields;

/* One entry of a record table: Keras name, value type, where it lives in the fields struct,
 * and the bit that selects it: in the layer table the config field it stores (DN_CFG_*,
 * layers/layer.h; a layer record holds the entries of its kind's config_fields and
 * DN_CFG_COMMON, dn_mf_layer_keys_of), in the compile table 1. */
typedef struct dn_mf_key {
  const char *key;
  int type;
  size_t offset;
  unsigned field;
} dn_mf_key;

/* The entries of dn_mf_layer_keys that a layer of Keras class `type` records: the DN_CFG_*
 * bits of its kind, with DN_CFG_COMMON; 0 if the class is not a layer kind here. */
unsigned dn_mf_layer_keys_of(const char *type);

/* Keras class names of the learning-rate schedules ("None" for a constant rate): the name of
 * a dn_schedule_kind (NULL if unknown), and back (false if unknown). */
const char *dn_mf_schedule_name(int kind);
bool dn_mf_schedule_kind(const char *name, int *kind);

extern const dn_mf_key dn_mf_layer_keys[];
extern const size_t dn_mf_n_layer_keys;
extern const dn_mf_key dn_mf_compile_keys[];
extern const size_t dn_mf_n_compile_keys;

/* ---- encoding and decoding (memory) ------------------------------------------------------- */

/* Encodes the model (kind DN_MF_KIND_MODEL; with the optimizer state if include_optimizer and
 * the model is compiled) or only its weights (DN_MF_KIND_WEIGHTS) into a new buffer *out of
 * *len bytes (dn_free it). `fn` names the public function in messages. */
dn_status dn_mf_encode(const dn_model *model, int kind, bool include_optimizer, const char *fn,
                       uint8_t **out, size_t *len);

/* dn_model_load on a buffer; `name` stands for the file in messages. */
dn_model *dn_mf_decode_model(const uint8_t *buf, size_t len, const char *name);
/* dn_model_load_weights on a buffer (a weights file or a model file's weights). */
dn_status dn_mf_decode_weights(dn_model *model, const uint8_t *buf, size_t len, const char *name);

/* ---- files (model_file_write.c) ----------------------------------------------------------- */

/* model.save(path, include_optimizer=...): dn_model_save with the optimizer state optional. */
dn_status dn_model_save_ex(const dn_model *model, const char *path, bool include_optimizer);

#endif
