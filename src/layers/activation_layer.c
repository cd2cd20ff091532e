/* activation_layer.c -- keras.layers.Activation: an activation as a layer of its own. */
#include "layers/activation.h"
#include "core/alloc.h"
#include "layers/layer.h"
#include "core/status.h"

static dn_status act_build(dn_layer *layer, size_t input_dim) {
  layer->output_dim = input_dim;
  layer->n_params = 0;
  layer->n_vars = 0;
  return DN_OK;
}

static void act_forward(dn_layer *layer, float *y, const float *x, size_t rows, bool training,
                        dn_rng *rng) {
  (void)training;
  (void)rng;
  const dn_act *act = layer->impl;
  act->forward(y, x, rows, layer->output_dim);
}

static void act_backward(dn_layer *layer, float *dx, float *dy, const float *x, const float *y,
                         size_t rows) {
  const dn_act *act = layer->impl;
  if (dx != NULL)
    act->backward(dx, dy, x, y, rows, layer->output_dim);
}

static void act_get_config(const dn_layer *layer, dn_layer_config *c) {
  c->activation = ((const dn_act *)layer->impl)->name;
}

static dn_layer *act_from_config(const dn_layer_config *c) {
  return dn_activation_with((dn_activation_options){
      .activation = c->activation, .input_dim = c->input_dim, .name = c->name});
}

const dn_layer_ops dn_activation_ops = {
    .type = "Activation",
    .base_name = "activation",
    .config_fields = DN_CFG_ACTIVATION,
    .from_config = act_from_config,
    .build = act_build,
    .forward = act_forward,
    .backward = act_backward,
    .get_config = act_get_config,
};

dn_layer *dn_activation_with(dn_activation_options o) {
  if (o.activation == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_activation: activation name is NULL");
  const dn_act *act = dn_act_find(o.activation);
  if (act == NULL) {
    dn_error_context("dn_activation");
    return NULL;
  }
  /* The table row is static: the layer borrows it (free_impl stays NULL). */
  return dn_layer_new(&dn_activation_ops, (void *)act, o.name, o.input_dim);
}
