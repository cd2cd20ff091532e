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
#include <stdlib.h>
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
    print_error("%s[%zu]: got %.9g, expected %.9g (abs tol %g, rel tol %g)\n", what, index, actual,
                expected, abs_tol, rel_tol);
    _fail(file, line);
  }
}

#define assert_close(actual, expected, abs_tol, rel_tol)                                           \
  dn_assert_close_at((double)(actual), (double)(expected), (abs_tol), (rel_tol), #actual, 0,       \
                     __FILE__, __LINE__)

#define assert_close_array(actual, expected, n, abs_tol, rel_tol)                                  \
  do {                                                                                             \
    for (size_t dn_i_ = 0; dn_i_ < (size_t)(n); dn_i_++)                                           \
      dn_assert_close_at((double)(actual)[dn_i_], (double)(expected)[dn_i_], (abs_tol), (rel_tol), \
                         #actual, dn_i_, __FILE__, __LINE__);                                      \
  } while (0)

/* The call returns `expected` and leaves a message containing `needle`. */
#define assert_status_msg(call, expected, needle)                                                  \
  do {                                                                                             \
    dn_status dn_s_ = (call);                                                                      \
    if (dn_s_ != (expected)) {                                                                     \
      print_error("%s: got %s, expected %s (message: %s)\n", #call, dn_status_string(dn_s_),       \
                  dn_status_string(expected), dn_last_error());                                    \
      _fail(__FILE__, __LINE__);                                                                   \
    }                                                                                              \
    if (strstr(dn_last_error(), (needle)) == NULL) {                                               \
      print_error("%s: message '%s' lacks '%s'\n", #call, dn_last_error(), (needle));              \
      _fail(__FILE__, __LINE__);                                                                   \
    }                                                                                              \
  } while (0)

#define assert_ok(call)                                                                            \
  do {                                                                                             \
    dn_status dn_s_ = (call);                                                                      \
    if (dn_s_ != DN_OK) {                                                                          \
      print_error("%s failed: %s (%s)\n", #call, dn_status_string(dn_s_), dn_last_error());        \
      _fail(__FILE__, __LINE__);                                                                   \
    }                                                                                              \
  } while (0)

/* The whole contents of a stream (flushed, read from the start), NUL-terminated; *len (may
 * be NULL) gets the byte count. The caller frees. */
static inline char *dn_test_read_stream(FILE *f, size_t *len) {
  assert_non_null(f);
  fflush(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  char *s = calloc((size_t)n + 1, 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  if (len != NULL)
    *len = (size_t)n;
  return s;
}

/* The whole contents of a file, as dn_test_read_stream. */
static inline char *dn_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *s = dn_test_read_stream(f, len);
  fclose(f);
  return s;
}

/* Exit code ctest reads as "skipped" (SKIP_RETURN_CODE). */
#define DN_TEST_SKIP 77

#endif
