/* names.h -- internal: the one message for a name missing from a table of Keras names
 * (activations, losses, metrics): a hint at the name meant, else the list of names. */
#ifndef DN_NAMES_H
#define DN_NAMES_H

#include <stddef.h>

#include "densenet.h"

/* The name at `index` (< count) of a caller's table, so each table keeps its own layout. */
typedef const char *(*dn_name_at)(const void *table, size_t index);

/* Sets DN_ERR_ARG with "unknown <kind> '<name>' (...)" and returns it. The parenthesis is
 * "names are case-sensitive: did you mean 'relu'?" for the same letters in another case; else
 * "did you mean 'mse'? " for a name one or two letters off, then "Keras names: a b c" (the
 * names starting with a lower-case letter: function names and short aliases, not class
 * names). The caller adds its function's name with dn_error_context or its own prefix. */
dn_status dn_fail_unknown_name(const char *kind, const char *name, dn_name_at at, const void *table,
                               size_t count);

/* "s" unless n is 1: "1 column", "30 columns" in messages. */
static inline const char *dn_plural(size_t n) {
  return n == 1 ? "" : "s";
}

/* a and b equal up to ASCII case. */
int dn_same_ignoring_case(const char *a, const char *b);

#endif
