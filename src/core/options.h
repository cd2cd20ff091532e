/* options.h -- internal: the one reading of densenet.h's "zero means the Keras default" option
 * fields. A float option is 0 for "Keras's default" and DN_ZERO (-0.0, told apart by its sign
 * bit) for "exactly 0"; an int count option is 0 for the default and DN_ZERO_COUNT for 0.
 * Every constructor resolves its options through these, and every reader of a file (where a
 * stored 0 means exactly 0) turns values back into options through dn_option_exact. */
#ifndef DN_OPTIONS_H
#define DN_OPTIONS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "densenet.h"

/* True for a plain 0 (the field was left unset); false for DN_ZERO and every other value. */
static inline bool dn_option_is_default(double value) {
  return value == 0.0 && !signbit(value);
}

/* The value an option stands for: keras_default for 0, +0.0 for DN_ZERO, else value itself. */
static inline double dn_option_or_default(double value, double keras_default) {
  if (value == 0.0)
    return signbit(value) ? 0.0 : keras_default;
  return value;
}

/* The option value that asks for exactly `value` (DN_ZERO for 0): how a file's settings are
 * handed back to a constructor. */
static inline double dn_option_exact(double value) {
  return value == 0.0 ? DN_ZERO : value;
}

/* dn_option_or_default for an int count: keras_default for 0, 0 for DN_ZERO_COUNT. */
static inline int dn_count_or_default(int value, int keras_default) {
  return value == 0 ? keras_default : value == DN_ZERO_COUNT ? 0 : value;
}

/* A size_t count option, where DN_ZERO_COUNT (an int -1) arrives as SIZE_MAX: *out becomes
 * keras_default for 0 and 0 for DN_ZERO_COUNT. False for any other value above PTRDIFF_MAX,
 * which can only be another negative number converted (counts of epochs, rows or steps that
 * large cannot be meant); the caller refuses it with DN_ERR_ARG naming the field. */
static inline bool dn_size_count_or_default(size_t value, size_t keras_default, size_t *out) {
  if (value == (size_t)DN_ZERO_COUNT)
    *out = 0;
  else if (value > (size_t)PTRDIFF_MAX)
    return false;
  else
    *out = value == 0 ? keras_default : value;
  return true;
}

#endif
