/* optimizer.h -- internal: Keras 3 optimizers as flat loops over the parameter block. */
#ifndef DN_OPTIMIZER_H
#define DN_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "densenet.h"
#include "layers/layer.h"

typedef enum dn_opt_kind {
  DN_OPT_SGD,
  DN_OPT_ADAM,
  DN_OPT_ADAMW,
  DN_OPT_RMSPROP,
  DN_OPT_ADAGRAD,
  DN_OPT_ADADELTA,
  DN_OPT_ADAMAX,
  DN_OPT_NADAM,
  DN_OPT_LION,
} dn_opt_kind;

struct dn_optimizer {
  dn_opt_kind kind;
  const char *name;             /* canonical Keras name: "adam" */
  dn_optimizer_options options; /* defaults resolved (DN_ZERO -> 0) */
  double *boundaries, *values;  /* owned copies for a piecewise schedule */
  double learning_rate;         /* current constant rate (no schedule) */
  uint64_t iterations;
  double nadam_u_product; /* Nadam's running momentum product */
  /* Slot variables mirroring the parameter block: slot k of parameter i is
   * slots[k * n_params + i]. Allocated by dn_optimizer_prepare. */
  float *slots;
  size_t n_slots, n_params;
};

/* Slots per parameter for this optimizer's settings (Adam 2, amsgrad 3, ...). */
size_t dn_optimizer_slot_count(const dn_optimizer *opt);
/* Sizes the slots for n_params parameters (zeroed, iterations 0) unless they
 * already have that size. The only allocation an optimizer makes after creation. */
dn_status dn_optimizer_prepare(dn_optimizer *opt, size_t n_params);
/* Zeroes the slots and iterations (fresh state). */
void dn_optimizer_reset(dn_optimizer *opt);
/* One step over the trainable variables of vars (offsets into w and g):
 * clip (g may be modified in place), decoupled weight decay, update rule,
 * iterations += 1. Non-trainable variables are untouched. No allocation. */
dn_status dn_optimizer_step(dn_optimizer *opt, float *w, float *g, const dn_var *vars,
                            size_t n_vars);
/* The learning rate at the current iteration (schedule or constant). */
double dn_optimizer_current_lr(const dn_optimizer *opt);
/* How many variables Keras counts for this optimizer (its "Optimizer params" in
 * model.summary()): 0 before its first step (Keras builds it then); else the iteration
 * counter, the learning rate unless a schedule drives it, Nadam's momentum product, and one
 * slot per trainable parameter per slot kind. trainable_params: the model's trainable count. */
size_t dn_optimizer_variable_count(const dn_optimizer *opt, size_t trainable_params);

#endif
