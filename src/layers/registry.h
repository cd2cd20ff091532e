/* registry.h -- internal: the table of layer kinds, by Keras class name. The native model
 * file and the Keras interchange both rebuild layers through it and read from it which config
 * fields a kind has, so a new layer kind is its own file (defining its dn_layer_ops) plus one
 * row in registry.c. */
#ifndef DN_REGISTRY_H
#define DN_REGISTRY_H

#include <stddef.h>

#include "layers/layer.h"

/* The kind whose Keras class name is `type` ("Dense"), or NULL (no error is set). */
const dn_layer_ops *dn_layer_kind(const char *type);

/* The class names of every kind, ", "-separated ("Dense, Activation, ..."), for messages:
 * written into buf (cap bytes, cut short if it is too small). Returns buf. */
const char *dn_layer_kind_names(char *buf, size_t cap);

/* A new unbuilt layer from a config (its kind from config->type, input_dim as in the config,
 * an empty name as none), or NULL with the constructor's error, or DN_ERR_ARG (no type) /
 * DN_ERR_UNSUPPORTED (a type that is not a kind here). */
dn_layer *dn_layer_from_config(const dn_layer_config *config);

#endif
