/* status.h -- internal: setting the thread-local status and message. */
#ifndef DN_STATUS_H
#define DN_STATUS_H

#include "densenet.h"

#if defined(__GNUC__)
#define DN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DN_PRINTF(f, a)
#endif

/* Records `status` and a printf-style message as this thread's last error and
 * returns `status`, so a failure path reads: return dn_fail(DN_ERR_ARG, "...").
 * Messages start with the public function's name: "dn_dense: units must be > 0". */
dn_status dn_fail(dn_status status, const char *fmt, ...) DN_PRINTF(2, 3);

/* The same, for functions that signal failure with NULL. */
void *dn_fail_null(dn_status status, const char *fmt, ...) DN_PRINTF(2, 3);

/* Prefixes the current message with "<context>: " (keeps the status). */
void dn_error_context(const char *context);

/* The text of errno value err, written into buf (cap bytes) as strerror_r does, so messages can
 * give the OS's reason from any thread. Returns buf. */
const char *dn_errno_text(int err, char *buf, size_t cap);

/* Saves and restores the last error (for cleanup paths that may fail too). */
typedef struct dn_error_state {
  dn_status status;
  char message[512];
} dn_error_state;
void dn_error_save(dn_error_state *state);
void dn_error_restore(const dn_error_state *state);

/* Argument checks that set a message naming the function and the argument. */
#define DN_CHECK_ARG(cond, fn, ...)                                                                \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      return dn_fail(DN_ERR_ARG, fn ": " __VA_ARGS__);                                             \
  } while (0)
#define DN_CHECK_NOT_NULL(ptr, fn)                                                                 \
  do {                                                                                             \
    if ((ptr) == NULL)                                                                             \
      return dn_fail(DN_ERR_ARG, fn ": " #ptr " is NULL");                                         \
  } while (0)

#endif
