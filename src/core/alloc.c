/* alloc.c -- aligned allocation through an optional user hook. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */

#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static void *default_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  void *p = NULL;
  if (posix_memalign(&p, alignment, size) != 0)
    return NULL;
  return p;
}

static void default_free(void *ptr, void *ctx) {
  (void)ctx;
  free(ptr);
}

/* Installed before any other call (documented), so plain statics suffice. */
static dn_allocator hook = {default_alloc, default_free, NULL};
static _Thread_local size_t alloc_calls;

dn_status dn_set_allocator(const dn_allocator *allocator) {
  if (allocator == NULL) {
    hook = (dn_allocator){default_alloc, default_free, NULL};
    return DN_OK;
  }
  if (allocator->alloc == NULL || allocator->free == NULL)
    return dn_fail(DN_ERR_ARG, "dn_set_allocator: alloc and free must both be set");
  hook = *allocator;
  return DN_OK;
}

void *dn_alloc(size_t bytes) {
  if (bytes == 0)
    bytes = 1;
  if (bytes > SIZE_MAX - DN_ALIGN)
    return dn_fail_null(DN_ERR_NOMEM, "allocation of %zu bytes is too large", bytes);
  size_t rounded = (bytes + DN_ALIGN - 1) / DN_ALIGN * DN_ALIGN;
  alloc_calls++;
  void *p = hook.alloc(rounded, DN_ALIGN, hook.ctx);
  if (p == NULL)
    return dn_fail_null(DN_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
  return p;
}

void *dn_calloc(size_t n, size_t size) {
  size_t bytes;
  if (size != 0 && n > SIZE_MAX / size)
    return dn_fail_null(DN_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
  bytes = n * size;
  void *p = dn_alloc(bytes);
  if (p != NULL)
    memset(p, 0, bytes);
  return p;
}

void dn_free(void *ptr) {
  if (ptr != NULL)
    hook.free(ptr, hook.ctx);
}

char *dn_strdup(const char *s) {
  if (s == NULL)
    return NULL;
  size_t n = strlen(s) + 1;
  char *p = dn_alloc(n);
  if (p != NULL)
    memcpy(p, s, n);
  return p;
}

bool dn_mul_size(size_t a, size_t b, size_t *out, const char *what) {
  if (b != 0 && a > SIZE_MAX / b) {
    dn_fail(DN_ERR_SHAPE, "%s: size %zu x %zu overflows", what, a, b);
    return false;
  }
  *out = a * b;
  return true;
}

dn_status dn_grow_floats(float **buf, size_t *cap, size_t rows, size_t cols, const char *what) {
  size_t n, bytes;
  if (!dn_mul_size(rows, cols, &n, what) || !dn_mul_size(n, sizeof(float), &bytes, what))
    return DN_ERR_SHAPE;
  if (n <= *cap && *buf != NULL)
    return DN_OK;
  float *p = dn_alloc(bytes);
  if (p == NULL)
    return DN_ERR_NOMEM;
  dn_free(*buf);
  *buf = p;
  *cap = n;
  return DN_OK;
}

size_t dn_alloc_count(void) {
  return alloc_calls;
}
