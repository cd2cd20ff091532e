/* source.c -- dn_source: the caller's batch callbacks behind one small object (the protocol is
 * in densenet.h, "Data that streams"). */
#include "core/source.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/tensor.h"

dn_source *dn_source_with(dn_source_options o) {
  if (o.next == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_source: next is NULL (the callback that fills a batch)");
  if (o.x_cols == 0)
    return dn_fail_null(DN_ERR_ARG, "dn_source: x_cols is 0 (a batch needs at least one column)");
  if (o.x_cols > PTRDIFF_MAX / sizeof(float) || o.y_cols > PTRDIFF_MAX / sizeof(float))
    return dn_fail_null(DN_ERR_ARG, "dn_source: x_cols %zu or y_cols %zu is too large", o.x_cols,
                        o.y_cols);
  dn_source *s = dn_calloc(1, sizeof *s);
  if (s == NULL) {
    dn_error_context("dn_source");
    return NULL;
  }
  s->o = o;
  return s;
}

void dn_source_free(dn_source *source) {
  if (source == NULL)
    return;
  if (source->o.free_state != NULL)
    source->o.free_state(source->o.state);
  dn_free(source);
}

dn_status dn_source_shape(const dn_source *source, size_t *x_cols, size_t *y_cols, size_t *steps) {
  DN_CHECK_NOT_NULL(source, "dn_source_shape");
  if (x_cols != NULL)
    *x_cols = source->o.x_cols;
  if (y_cols != NULL)
    *y_cols = source->o.y_cols;
  if (steps != NULL)
    *steps = source->o.steps;
  return DN_OK;
}

dn_status dn_source_pull(dn_source *s, float *x, float *y, size_t cap, size_t *rows) {
  dn_tensor tx = dn_tensor_2d(x, cap, s->o.x_cols);
  dn_tensor ty = s->o.y_cols != 0 ? dn_tensor_2d(y, cap, s->o.y_cols) : (dn_tensor){0};
  /* A clean slate, so a message the callback leaves (through a library call) can be told from
   * an older one. */
  dn_error_restore(&(dn_error_state){DN_OK, ""});
  *rows = 0;
  s->dirty = true;
  dn_status st = s->o.next(s->o.state, tx, ty, rows);
  if (st != DN_OK) {
    if (dn_last_status() != st || dn_last_error()[0] == '\0')
      dn_fail(st, "the source's next callback returned %s", dn_status_string(st));
    return st;
  }
  if (*rows > cap)
    return dn_fail(DN_ERR_ARG,
                   "the source's next callback reports %zu rows, more than the capacity %zu", *rows,
                   cap);
  return DN_OK;
}

dn_status dn_source_begin_pass(dn_source *s, const char *fn) {
  if (!s->dirty)
    return DN_OK;
  if (s->o.reset == NULL)
    return dn_fail(DN_ERR_STATE,
                   "%s: the source was read already and has no reset callback, so it cannot "
                   "start another pass",
                   fn);
  dn_error_restore(&(dn_error_state){DN_OK, ""});
  dn_status st = s->o.reset(s->o.state);
  if (st != DN_OK) {
    if (dn_last_status() != st || dn_last_error()[0] == '\0')
      dn_fail(st, "the source's reset callback returned %s", dn_status_string(st));
    dn_error_context(fn);
    return st;
  }
  s->dirty = false;
  return DN_OK;
}

dn_status dn_source_reset(dn_source *source) {
  DN_CHECK_NOT_NULL(source, "dn_source_reset");
  return dn_source_begin_pass(source, "dn_source_reset");
}

dn_status dn_source_next(dn_source *source, dn_tensor x, dn_tensor y, size_t *rows) {
#define fn "dn_source_next"
  DN_CHECK_NOT_NULL(source, fn);
  DN_CHECK_NOT_NULL(rows, fn);
  dn_matrix mx, my = {0};
  dn_status st = dn_tensor_matrix(x, fn, "x", 2, &mx);
  if (st != DN_OK)
    return st;
  if (mx.cols != source->o.x_cols || mx.rows == 0)
    return dn_fail(DN_ERR_SHAPE, "%s: x is %zu x %zu but the source gives rows of %zu columns", fn,
                   mx.rows, mx.cols, source->o.x_cols);
  if (source->o.y_cols != 0) {
    if ((st = dn_tensor_matrix(y, fn, "y", 2, &my)) != DN_OK)
      return st;
    if (my.cols != source->o.y_cols || my.rows != mx.rows)
      return dn_fail(DN_ERR_SHAPE, "%s: y is %zu x %zu but the source gives %zu x %zu", fn, my.rows,
                     my.cols, mx.rows, source->o.y_cols);
  }
  if ((st = dn_source_pull(source, mx.data, my.data, mx.rows, rows)) != DN_OK)
    dn_error_context(fn);
  return st;
#undef fn
}
