/* registry.c -- the table of layer kinds: one row per kind, naming the dn_<kind>_ops its file
 * defines. Nothing here calls a kind by name: rows are reached through their ops. */
#include "layers/registry.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"

/* The kinds, in the order messages list them: one row each. */
#define DN_LAYER_KINDS(X)                                                                          \
  X(dense)                                                                                         \
  X(activation)                                                                                    \
  X(dropout)                                                                                       \
  X(batch_normalization)                                                                           \
  X(normalization)                                                                                 \
  X(quantized_dense)

#define DN_DECLARE_KIND(kind) extern const dn_layer_ops dn_##kind##_ops;
DN_LAYER_KINDS(DN_DECLARE_KIND)
#define DN_KIND_ROW(kind) &dn_##kind##_ops,
static const dn_layer_ops *const kinds[] = {DN_LAYER_KINDS(DN_KIND_ROW)};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

const dn_layer_ops *dn_layer_kind(const char *type) {
  for (size_t i = 0; type != NULL && i < N_KINDS; i++)
    if (strcmp(kinds[i]->type, type) == 0)
      return kinds[i];
  return NULL;
}

const char *dn_layer_kind_names(char *buf, size_t cap) {
  size_t len = 0;
  if (cap > 0)
    buf[0] = '\0';
  for (size_t i = 0; i < N_KINDS && len < cap; i++) {
    int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", kinds[i]->type);
    len += n > 0 ? (size_t)n : 0;
  }
  return buf;
}

dn_layer *dn_layer_from_config(const dn_layer_config *config) {
  if (config == NULL || config->type == NULL)
    return dn_fail_null(DN_ERR_ARG, "layer config: no layer type");
  const dn_layer_ops *kind = dn_layer_kind(config->type);
  if (kind == NULL) {
    char names[128];
    return dn_fail_null(DN_ERR_UNSUPPORTED, "layer type '%s' is not supported (%s)", config->type,
                        dn_layer_kind_names(names, sizeof names));
  }
  dn_layer_config c = *config;
  if (c.name != NULL && c.name[0] == '\0')
    c.name = NULL; /* an automatic name */
  dn_layer *layer = kind->from_config(&c);
  if (layer != NULL)
    layer->frozen = config->frozen; /* no constructor takes it */
  return layer;
}
