/* gemm.c -- what the SGEMM backends share: the per-thread packing workspace.
 *
 * The workspace is one block per thread, grown on demand through dn_alloc and
 * kept for the next call (so a training step allocates nothing after the
 * first); a pthread key frees it when its thread exits. */
#include "kernels/gemm.h"

#include <pthread.h>
#include <stdint.h>

#include "core/alloc.h"

typedef struct workspace {
  float *buf;
  size_t cap; /* floats */
} workspace;

static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static pthread_key_t ws_key;
static bool ws_key_ok;

static void ws_destroy(void *p) {
  workspace *w = p;
  dn_free(w->buf);
  dn_free(w);
}

static void ws_make_key(void) {
  ws_key_ok = pthread_key_create(&ws_key, ws_destroy) == 0;
}

float *dn_gemm_workspace(size_t floats) {
  if (pthread_once(&ws_once, ws_make_key) != 0 || !ws_key_ok)
    return NULL;
  workspace *w = pthread_getspecific(ws_key);
  if (w != NULL && w->cap >= floats)
    return w->buf;
  if (floats > SIZE_MAX / sizeof(float))
    return NULL;
  if (w == NULL) {
    w = dn_calloc(1, sizeof *w);
    if (w == NULL)
      return NULL;
    if (pthread_setspecific(ws_key, w) != 0) {
      dn_free(w);
      return NULL;
    }
  }
  float *buf = dn_alloc(floats * sizeof(float));
  if (buf == NULL)
    return NULL;
  dn_free(w->buf);
  w->buf = buf;
  w->cap = floats;
  return buf;
}
