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

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
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

/* Whether `word` occurs in `text` as a whole word: not inside a longer name or number ("y" is
 * not found in "validation_y", "3" not in "30"). */
static inline bool dn_has_word(const char *text, const char *word) {
  size_t n = strlen(word);
  if (n == 0)
    return false;
  for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
    bool starts = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    bool ends = !(isalnum((unsigned char)p[n]) || p[n] == '_');
    if (starts && ends)
      return true;
  }
  return false;
}

/* The last error names the call, the argument and both numbers as whole words (the shape
 * messages' contract: "dn_fit: x has 30 columns but the model's input width is 31"); status is
 * what the call returned, and dn_last_status() must agree. */
static inline void dn_assert_named_error_at(dn_status got, dn_status want, const char *fn,
                                            const char *arg, size_t a, size_t b, bool numbers,
                                            const char *call, const char *file, int line) {
  const char *msg = dn_last_error();
  if (got != want || dn_last_status() != want) {
    print_error("%s: returned %s, last status %s, expected %s (message: %s)\n", call,
                dn_status_string(got), dn_status_string(dn_last_status()), dn_status_string(want),
                msg);
    _fail(file, line);
  }
  char na[32], nb[32];
  snprintf(na, sizeof na, "%zu", a);
  snprintf(nb, sizeof nb, "%zu", b);
  if (!dn_has_word(msg, fn) || !dn_has_word(msg, arg) ||
      (numbers && (!dn_has_word(msg, na) || !dn_has_word(msg, nb)))) {
    if (numbers)
      print_error("%s: message '%s' should name %s, %s, %s and %s\n", call, msg, fn, arg, na, nb);
    else
      print_error("%s: message '%s' should name %s and %s\n", call, msg, fn, arg);
    _fail(file, line);
  }
}

/* The call (a dn_status expression) fails with DN_ERR_SHAPE and a message naming fn, arg and the
 * numbers a and b. */
#define assert_shape_error(call, fn, arg, a, b)                                                    \
  dn_assert_named_error_at((call), DN_ERR_SHAPE, (fn), (arg), (size_t)(a), (size_t)(b), true,      \
                           #call, __FILE__, __LINE__)

/* The call fails with `status` and a message naming fn and arg. */
#define assert_named_error(call, status, fn, arg)                                                  \
  dn_assert_named_error_at((call), (status), (fn), (arg), 0, 0, false, #call, __FILE__, __LINE__)

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

/* A model's dn_model_summary text, NUL-terminated: free it. */
static inline char *dn_test_summary_of(const dn_model *m) {
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_ok(dn_model_summary(m, f));
  char *text = dn_test_read_stream(f, NULL);
  fclose(f);
  return text;
}

/* Exit code ctest reads as "skipped" (SKIP_RETURN_CODE). */
/* A model's weights (dn_model_get_weights), malloc'ed: free them. */
static inline float *dn_test_weights_of(const dn_model *m) {
  size_t n = dn_model_count_params(m);
  float *w = malloc((n ? n : 1) * sizeof *w);
  assert_non_null(w);
  assert_ok(dn_model_get_weights(m, w, n));
  return w;
}

/* Two models hold bit-identical weights. */
static inline void dn_test_assert_same_weights(const dn_model *a, const dn_model *b) {
  size_t n = dn_model_count_params(a);
  assert_int_equal(n, dn_model_count_params(b));
  float *wa = dn_test_weights_of(a), *wb = dn_test_weights_of(b);
  assert_memory_equal(wa, wb, n * sizeof *wa);
  free(wa);
  free(wb);
}

#define DN_TEST_SKIP 77

#endif
