/*
 * densenet_onnx.h -- ONNX interchange for libdensenet (optional library libdensenet_onnx, CMake
 * target densenet::onnx, pkg-config densenet-onnx; needs protobuf-c and the onnx.proto of
 * Debian's libonnx-dev at build time, protobuf-c's runtime library at link time).
 *
 * dn_onnx_save writes a model as an ONNX file (one float input "input" of shape [batch, D] with
 * a dynamic batch dimension, one output "output" of shape [batch, units]) that ONNX Runtime and
 * the ONNX checker accept; dn_onnx_load reads the dense networks other frameworks export
 * (torch.onnx.export of nn.Sequential of Linear and activations) and this library's own files.
 * The operators used each way: docs/onnx.md. Errors follow densenet.h: a status (or NULL) and a
 * message from dn_last_error().
 */
#ifndef DENSENET_ONNX_H
#define DENSENET_ONNX_H

#include "densenet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The opset dn_onnx_save writes when none is asked for. */
#define DN_ONNX_DEFAULT_OPSET 17
/* The opsets dn_onnx_save can write (Gelu is one operator from opset 20, a decomposition below). */
#define DN_ONNX_MIN_OPSET 13
#define DN_ONNX_MAX_OPSET 21

/* How dn_onnx_save_with writes a model; a zeroed struct means the defaults. */
typedef struct dn_onnx_options {
  int opset;               /* 0: DN_ONNX_DEFAULT_OPSET; else DN_ONNX_MIN_OPSET..DN_ONNX_MAX_OPSET */
  const char *input_name;  /* NULL: "input" */
  const char *output_name; /* NULL: "output" */
  bool matmul_add;         /* Dense as MatMul + Add instead of Gemm */
} dn_onnx_options;

/* Writes `model` (built: its input width known) as an ONNX file at `path`, atomically (a
 * temporary file renamed over path). Dense is Gemm (or MatMul + Add), each activation its ONNX
 * operator or an exact composition of primitive ones, Normalization Sub + Div (Mul + Add when
 * inverted), BatchNormalization the inference-mode operator, Dropout nothing. Metadata: producer
 * "libdensenet" with dn_version(). Errors: DN_ERR_ARG (NULL, an opset out of range, an empty
 * name), DN_ERR_STATE (no input width), DN_ERR_IO, DN_ERR_NOMEM. */
dn_status dn_onnx_save(const dn_model *model, const char *path);
dn_status dn_onnx_save_with(const dn_model *model, const char *path, dn_onnx_options options);

/* Reads an ONNX file into a new model (dn_model_free it), ready for dn_predict, or dn_compile
 * and dn_fit. The graph must be a chain from one float input [batch, D] to one output through
 * Gemm (transB 0 or 1, alpha = beta = 1), MatMul + Add, the activations dn_onnx_save writes and
 * torch.onnx.export writes for its activation modules, BatchNormalization (inference),
 * Identity, Dropout and Flatten of a 2-D tensor; constants may be initializers or Constant
 * nodes. NULL on failure: DN_ERR_ARG (path NULL), DN_ERR_IO, DN_ERR_FORMAT (not a protobuf
 * ModelProto, weights missing, of the wrong type or size, shapes that do not chain, ...),
 * DN_ERR_UNSUPPORTED (an operator, attribute or pattern this library has no layer for, naming
 * the node, its operator and its position), DN_ERR_NOMEM. */
dn_model *dn_onnx_load(const char *path);

/* dn_onnx_load from bytes in memory (the file's contents). */
dn_model *dn_onnx_load_buffer(const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
