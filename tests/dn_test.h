/* dn_test.h -- shared helpers for the cmocka tests: tolerant float comparison
 * that prints both values and the index, and status/message assertions. */
#ifndef DN_TEST_H
#define DN_TEST_H

/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "densenet.h"

/* |actual - expected| <= abs_tol + rel_tol * |expected|, NaN equal only to NaN. */
static inline int dn_close(double actual, double expected, double abs_tol, double rel_tol) {
  if (isnan(expected))
    return isnan(actual);
  if (isinf(expected))
    return actual == expected;
  return fabs(actual - expected) <= abs_tol + rel_tol * fabs(expected);
}

static inline void dn_assert_close_at(double actual, double expected, double abs_tol,
                                      double rel_tol, const char *what, size_t index,
                                      const char *file, int line) {
  if (!dn_close(actual, expected, abs_tol, rel_tol)) {
    print_error("%s[%zu]: got %.9g, expected %.9g (abs tol %g, rel tol %g)\n", what, index,
                actual, expected, abs_tol, rel_tol);
    _fail(file, line);
  }
}

#define assert_close(actual, expected, abs_tol, rel_tol)                                          \
  dn_assert_close_at((double)(actual), (double)(expected), (abs_tol), (rel_tol), #actual, 0,      \
                     __FILE__, __LINE__)

#define assert_close_array(actual, expected, n, abs_tol, rel_tol)                                 \
  do {                                                                                           \
    for (size_t dn_i_ = 0; dn_i_ < (size_t)(n); dn_i_++)                                         \
      dn_assert_close_at((double)(actual)[dn_i_], (double)(expected)[dn_i_], (abs_tol),          \
                         (rel_tol), #actual, dn_i_, __FILE__, __LINE__);                         \
  } while (0)

/* The call returns `expected` and leaves a message containing `needle`. */
#define assert_status_msg(call, expected, needle)                                                 \
  do {                                                                                           \
    dn_status dn_s_ = (call);                                                                    \
    if (dn_s_ != (expected)) {                                                                   \
      print_error("%s: got %s, expected %s (message: %s)\n", #call, dn_status_string(dn_s_),     \
                  dn_status_string(expected), dn_last_error());                                  \
      _fail(__FILE__, __LINE__);                                                                 \
    }                                                                                            \
    if (strstr(dn_last_error(), (needle)) == NULL) {                                             \
      print_error("%s: message '%s' lacks '%s'\n", #call, dn_last_error(), (needle));            \
      _fail(__FILE__, __LINE__);                                                                 \
    }                                                                                            \
  } while (0)

#define assert_ok(call)                                                                           \
  do {                                                                                           \
    dn_status dn_s_ = (call);                                                                    \
    if (dn_s_ != DN_OK) {                                                                        \
      print_error("%s failed: %s (%s)\n", #call, dn_status_string(dn_s_), dn_last_error());     \
      _fail(__FILE__, __LINE__);                                                                 \
    }                                                                                            \
  } while (0)

/* Exit code ctest reads as "skipped" (SKIP_RETURN_CODE). */
#define DN_TEST_SKIP 77

#endif
