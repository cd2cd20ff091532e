/* onnx_io.h -- internal to libdensenet_onnx: the activations as ONNX node patterns, shared by
 * the writer (onnx_save.c emits a pattern) and the reader (onnx_load.c matches one), so both
 * directions use the same operators by construction.
 *
 * A pattern is a short list of nodes; each node's inputs are the activation's input (DN_OX),
 * the output of an earlier node of the pattern (its index) or a scalar float constant of the
 * pattern (DN_OC(n)). The last node's output is the activation's output. Attributes are float
 * or int; each has ONNX's default for when a file leaves it out.
 */
#ifndef DN_ONNX_IO_H
#define DN_ONNX_IO_H

#include <stddef.h>
#include <stdint.h>

#define DN_OX (-1)
#define DN_OC(n) (32 + (n))
#define DN_ONNX_MAX_STEPS 9

typedef struct dn_onnx_attr {
  const char *name; /* NULL: none */
  char kind;        /* 'f' float, 'i' int */
  double value;     /* what the pattern needs */
  double dflt;      /* ONNX's default when the attribute is absent */
} dn_onnx_attr;

typedef struct dn_onnx_step {
  const char *op;
  int8_t n_in;
  int8_t in[3];
  dn_onnx_attr attr[2];
} dn_onnx_step;

typedef struct dn_onnx_pattern {
  const char *activation; /* the library's (Keras) name */
  int min_opset, max_opset;
  uint8_t n_steps;
  dn_onnx_step steps[DN_ONNX_MAX_STEPS];
  uint8_t n_consts;
  float consts[4];
  unsigned char import_only; /* a second form the reader accepts (torch's), never written */
} dn_onnx_pattern;

extern const dn_onnx_pattern dn_onnx_patterns[];
extern const size_t dn_onnx_pattern_count;

/* The pattern dn_onnx_save writes for `activation` at `opset`; NULL for linear (nothing). */
const dn_onnx_pattern *dn_onnx_pattern_for(const char *activation, int opset);

#endif
