/* status.c -- status codes, their strings and the thread-local last error. */
#define _POSIX_C_SOURCE 200809L /* strerror_r (the XSI one, returning int) */

#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DN_MESSAGE_CAP 512

static _Thread_local dn_status last_status = DN_OK;
static _Thread_local char last_message[DN_MESSAGE_CAP];

const char *dn_version(void) {
  return DN_VERSION_STRING;
}

const char *dn_status_string(dn_status status) {
  switch (status) {
  case DN_OK: return "DN_OK: success";
  case DN_ERR_ARG: return "DN_ERR_ARG: invalid argument";
  case DN_ERR_SHAPE: return "DN_ERR_SHAPE: shape mismatch";
  case DN_ERR_NOMEM: return "DN_ERR_NOMEM: out of memory";
  case DN_ERR_STATE: return "DN_ERR_STATE: invalid state for this call";
  case DN_ERR_IO: return "DN_ERR_IO: input/output error";
  case DN_ERR_FORMAT: return "DN_ERR_FORMAT: malformed data";
  case DN_ERR_NUMERIC: return "DN_ERR_NUMERIC: NaN or infinite value";
  case DN_ERR_UNSUPPORTED: return "DN_ERR_UNSUPPORTED: not supported";
  }
  return "DN_ERR_?: unknown status";
}

const char *dn_last_error(void) {
  return last_message;
}

dn_status dn_last_status(void) {
  return last_status;
}

DN_PRINTF(2, 0) static void set_message(dn_status status, const char *fmt, va_list ap) {
  char buf[DN_MESSAGE_CAP];
  vsnprintf(buf, sizeof buf, fmt, ap); /* into a copy: args may point at last_message */
  memcpy(last_message, buf, sizeof buf);
  last_status = status;
}

dn_status dn_fail(dn_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(status, fmt, ap);
  va_end(ap);
  return status;
}

void *dn_fail_null(dn_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(status, fmt, ap);
  va_end(ap);
  return NULL;
}

void dn_error_context(const char *context) {
  char buf[2 * DN_MESSAGE_CAP]; /* room for both; the result is cut to the message cap */
  snprintf(buf, sizeof buf, "%s: %s", context, last_message);
  memcpy(last_message, buf, DN_MESSAGE_CAP - 1);
  last_message[DN_MESSAGE_CAP - 1] = '\0';
}

void dn_error_save(dn_error_state *state) {
  state->status = last_status;
  memcpy(state->message, last_message, sizeof state->message);
}

void dn_error_restore(const dn_error_state *state) {
  last_status = state->status;
  memcpy(last_message, state->message, sizeof last_message);
}

const char *dn_errno_text(int err, char *buf, size_t cap) {
  if (strerror_r(err, buf, cap) != 0)
    snprintf(buf, cap, "error %d", err);
  return buf;
}
