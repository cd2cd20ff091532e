/* alloc.h -- internal: the one allocation seam (64-byte aligned, hookable). */
#ifndef DN_ALLOC_H
#define DN_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "densenet.h"

#define DN_ALIGN 64

/* 64-byte aligned storage of `bytes` bytes (0 is treated as 1). On failure
 * returns NULL with DN_ERR_NOMEM set. Every allocation in the library goes
 * through these three. */
void *dn_alloc(size_t bytes);
/* Zeroed storage for n * size bytes; overflow is DN_ERR_NOMEM. */
void *dn_calloc(size_t n, size_t size);
void dn_free(void *ptr);

/* A copy of a string (NULL for NULL), or NULL with DN_ERR_NOMEM. */
char *dn_strdup(const char *s);

/* *out = a * b, false (and DN_ERR_SHAPE set, naming `what`) on overflow. */
bool dn_mul_size(size_t a, size_t b, size_t *out, const char *what);

/* Makes *buf (capacity *cap floats) hold at least rows x cols floats: the scratch growth of the
 * layers' and the trainer's caches. Grows only; a grown buffer is a new block (the old contents
 * are not kept) and *cap becomes rows x cols. DN_ERR_SHAPE (naming `what`) if the size
 * overflows, DN_ERR_NOMEM; on failure *buf and *cap are unchanged. */
dn_status dn_grow_floats(float **buf, size_t *cap, size_t rows, size_t cols, const char *what);

/* Number of allocations made so far (for tests of the steady state). */
size_t dn_alloc_count(void);

#endif
