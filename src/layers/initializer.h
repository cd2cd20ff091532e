/* initializer.h -- internal: the table of Keras 3 initializers. */
#ifndef DN_INITIALIZER_H
#define DN_INITIALIZER_H

#include <stddef.h>

#include "densenet.h"
#include "core/rng.h"

/* The canonical Keras snake_case name of an initializer or alias
 * ("uniform" -> "random_uniform"); NULL -> `fallback`. Unknown names:
 * NULL with DN_ERR_ARG "unknown initializer 'foo'". */
const char *dn_init_resolve(const char *name, const char *fallback);

/* Fills w[0..n) with initializer `name` (canonical or alias) for a variable
 * with the given fans (a Dense kernel in x out: fan_in = in, fan_out = out;
 * a bias of n values: fan_in = fan_out = n), drawing from rng. args may be
 * NULL (all defaults). DN_ERR_ARG for an unknown name or bad args
 * (e.g. minval > maxval, stddev < 0). */
dn_status dn_init_fill(const char *name, const dn_init_args *args, float *w, size_t n,
                       size_t fan_in, size_t fan_out, dn_rng *rng);

/* The arguments as Keras reads them (args may be NULL): RandomUniform's minval/maxval both
 * unset -> -0.05/0.05 (else as given), RandomNormal/TruncatedNormal's stddev unset -> 0.05,
 * DN_ZERO -> 0. */
dn_init_args dn_init_keras_args(const dn_init_args *args);

#endif
