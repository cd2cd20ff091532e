/* qdense.h -- internal: the int8 Dense layer (Keras class name "QuantizedDense"), made by
 * dn_model_quantize (model/quantize.c) and by the file readers from its config.
 *
 * Variables (floats, all non-trainable, in this order): kernel I x O (integers in -127..127),
 * bias O (when use_bias), kernel_scale O (per output column), input_quantization 2 (the input's
 * scale and zero point). A row runs as: q = clamp(round(x / scale) + zero_point, 0, 127) per
 * input, acc = sum (q - zero_point) * kernel (int32, exact), y = act(acc * (scale *
 * kernel_scale) + bias) in float. Values a file or dn_model_set_weights puts in the kernel are
 * read rounded to the nearest integer and clamped to -127..127, the zero point to 0..127.
 */
#ifndef DN_QDENSE_H
#define DN_QDENSE_H

#include <stdbool.h>
#include <stddef.h>

#include "layers/layer.h"

extern const dn_layer_ops dn_quantized_dense_ops;

/* A new unbuilt QuantizedDense layer (activation by Keras name), or NULL with DN_ERR_ARG (units
 * 0, an unknown activation) or DN_ERR_NOMEM. name NULL for an automatic one. */
dn_layer *dn_qdense_new(const char *name, size_t units, const char *activation, bool use_bias,
                        size_t input_dim);

/* The input quantization of a range [lo, hi] (0 is made part of it): *scale and *zero_point
 * (an integer in 0..127) such that lo..hi maps onto 0..127. */
void dn_qdense_input_range(float lo, float hi, float *scale, float *zero_point);

#endif
