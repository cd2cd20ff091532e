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
  /* What the overflow guard knows of the trainable weights and slots (optimizer.c): their
   * largest magnitudes as float bits without the sign, and which slots hold a value with the
   * sign bit; valid while bounds_known. */
  bool bounds_known;
  uint32_t bound_w, bound_slot[3];
  unsigned negative;
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
 * iterations += 1. Non-trainable variables are untouched. No allocation.
 * g_bound: at least the largest |g| of a trainable element, as the caller knows it (the
 * backward pass's check), or Inf if unknown (then the step scans the gradients).
 * A step whose arithmetic would store an Inf or NaN in a weight or a slot is refused with
 * DN_ERR_NUMERIC before anything is written (weights, slots, iterations unchanged). */
dn_status dn_optimizer_step(dn_optimizer *opt, float *w, float *g, const dn_var *vars,
                            size_t n_vars, float g_bound);
/* Tells the optimizer that something else wrote the weights or the slots it steps (a load,
 * dn_model_set_weights, ...): its next step looks at them again instead of trusting the
 * magnitudes its last update tracked. */
void dn_optimizer_forget_bounds(dn_optimizer *opt);
/* The learning rate at the current iteration (schedule or constant). */
double dn_optimizer_current_lr(const dn_optimizer *opt);
/* Nadam's momentum factor at step t: beta_1 * (1 - 0.5 * 0.96^t) (Keras's u_t), which the step
 * multiplies into nadam_u_product; the Keras state import replays the product with it. */
double dn_optimizer_nadam_u(const dn_optimizer_options *o, double t);
/* How many variables Keras counts for this optimizer (its "Optimizer params" in
 * model.summary()): 0 before its first step (Keras builds it then); else the iteration
 * counter, the learning rate unless a schedule drives it, Nadam's momentum product, and one
 * slot per trainable parameter per slot kind. trainable_params: the model's trainable count. */
size_t dn_optimizer_variable_count(const dn_optimizer *opt, size_t trainable_params);

#endif
