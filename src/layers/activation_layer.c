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

static void act_forward(dn_layer *layer, const dn_matrix *y, const dn_matrix *x, bool training,
                        dn_rng *rng) {
  (void)training;
  (void)rng;
  DN_LAYER_ASSERT_FORWARD(layer, y, x);
  const dn_act *act = layer->impl;
  act->forward(y->data, x->data, x->rows, x->cols);
}

static void act_backward(dn_layer *layer, const dn_matrix *dx, const dn_matrix *dy,
                         const dn_matrix *x, const dn_matrix *y) {
  DN_LAYER_ASSERT_BACKWARD(layer, dx, dy, x, y);
  const dn_act *act = layer->impl;
  if (dx->data != NULL)
    act->backward(dx->data, dy->data, x->data, y->data, x->rows, x->cols);
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
