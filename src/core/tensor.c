/* tensor.c -- the public tensor type: views, owning tensors, accessors; and the shape checks
 * every data call makes. */
#include "core/tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

const char *dn_shape_text(char *buf, size_t cap, int rank, const size_t *shape) {
  size_t used = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < rank && i < DN_MAX_RANK && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, i ? " x %zu" : "%zu", shape[i]);
  if (used < cap)
    snprintf(buf + used, cap - used, "]");
  return buf;
}

/* The element count of rank dims (rank in 1..DN_MAX_RANK) into *n, silently: -1 - axis for
 * the first zero dim, 1 for a count past DN_MAX_ELEMENTS, 0 when it fits. */
static int shape_count(int rank, const size_t *shape, size_t *n) {
  for (int i = 0; i < rank; i++)
    if (shape[i] == 0)
      return -1 - i;
  *n = 1;
  for (int i = 0; i < rank; i++) {
    if (*n > DN_MAX_ELEMENTS / shape[i])
      return 1;
    *n *= shape[i];
  }
  return 0;
}

dn_status dn_shape_size(const char *fn, int rank, const size_t *shape, size_t *size) {
  char text[DN_SHAPE_TEXT_CAP];
  if (rank < 1 || rank > DN_MAX_RANK)
    return dn_fail(DN_ERR_SHAPE, "%s: rank %d is outside 1..%d", fn, rank, DN_MAX_RANK);
  if (shape == NULL)
    return dn_fail(DN_ERR_ARG, "%s: shape is NULL", fn);
  size_t n = 0;
  int r = shape_count(rank, shape, &n);
  if (r < 0)
    return dn_fail(DN_ERR_SHAPE, "%s: shape %s has a zero dim (axis %d)", fn,
                   dn_shape_text(text, sizeof text, rank, shape), -1 - r);
  if (r > 0)
    return dn_fail(DN_ERR_SHAPE, "%s: shape %s overflows the addressable size", fn,
                   dn_shape_text(text, sizeof text, rank, shape));
  *size = n;
  return DN_OK;
}

dn_status dn_tensor_matrix(dn_tensor t, const char *fn, const char *arg, int max_rank,
                           dn_matrix *m) {
  char text[DN_SHAPE_TEXT_CAP];
  if (t.rank == 0 || t.data == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is no tensor (%s)", fn, arg,
                   t.rank == 0 ? "rank 0" : "data is NULL");
  if (t.rank < 0 || t.rank > DN_MAX_RANK)
    return dn_fail(DN_ERR_SHAPE, "%s: %s has rank %d, outside 1..%d", fn, arg, t.rank, DN_MAX_RANK);
  if (t.rank > max_rank)
    return dn_fail(DN_ERR_SHAPE, "%s: %s has rank %d (shape %s); expected rank 1 or 2", fn, arg,
                   t.rank, dn_shape_text(text, sizeof text, t.rank, t.shape));
  size_t size;
  if (dn_shape_size(fn, t.rank, t.shape, &size) != DN_OK)
    return dn_fail(dn_last_status(), "%s: %s has shape %s: %s", fn, arg,
                   dn_shape_text(text, sizeof text, t.rank, t.shape),
                   t.shape[0] == 0 ? "no rows" : "a zero dim or a size that overflows");
  if ((uintptr_t)t.data > UINTPTR_MAX - size * sizeof(float))
    return dn_fail(DN_ERR_SHAPE,
                   "%s: %s has shape %s: its %zu bytes from address %p pass the end "
                   "of the address space",
                   fn, arg, dn_shape_text(text, sizeof text, t.rank, t.shape), size * sizeof(float),
                   (void *)t.data);
  m->data = t.data;
  m->rows = t.shape[0];
  m->cols = size / t.shape[0];
  return DN_OK;
}

/* ---- public ---------------------------------------------------------------------------- */

dn_tensor dn_tensor_view(const float *data, int rank, const size_t *shape) {
  dn_tensor t = {0};
  if (rank < 1 || rank > DN_MAX_RANK || shape == NULL)
    return t;
  t.data = (float *)(uintptr_t)data; /* never written through when given as an input */
  t.rank = rank;
  for (int i = 0; i < rank; i++)
    t.shape[i] = shape[i];
  return t;
}

/* The exported twins of the header's inline constructors (the parentheses keep the macros of
 * the same names from expanding). */
dn_tensor(dn_tensor_2d)(const float *data, size_t rows, size_t cols) {
  /* not through the inline twin: gcc -O0 would read passing `data` on as "accessing" it */
  dn_tensor t = {(float *)(uintptr_t)data, {rows, cols, 0, 0}, 2, false};
  return t;
}

dn_tensor(dn_tensor_1d)(const float *data, size_t n) {
  dn_tensor t = {(float *)(uintptr_t)data, {n, 0, 0, 0}, 1, false};
  return t;
}

dn_status dn_tensor_new(dn_tensor *out, int rank, const size_t *shape) {
  DN_CHECK_NOT_NULL(out, "dn_tensor_new");
  size_t size = 0;
  dn_status s = dn_shape_size("dn_tensor_new", rank, shape, &size);
  if (s != DN_OK)
    return s;
  float *data = dn_calloc(size, sizeof(float));
  if (data == NULL) {
    char text[DN_SHAPE_TEXT_CAP];
    return dn_fail(DN_ERR_NOMEM, "dn_tensor_new: out of memory for a %s tensor (%zu floats)",
                   dn_shape_text(text, sizeof text, rank, shape), size);
  }
  dn_tensor t = dn_tensor_view(data, rank, shape);
  t.owner = true;
  *out = t;
  return DN_OK;
}

dn_status dn_tensor_new_2d(dn_tensor *out, size_t rows, size_t cols) {
  const size_t shape[2] = {rows, cols};
  return dn_tensor_new(out, 2, shape);
}

void dn_tensor_free(dn_tensor *t) {
  if (t == NULL)
    return;
  if (t->owner)
    dn_free(t->data);
  *t = (dn_tensor){0};
}

size_t dn_tensor_size(dn_tensor t) {
  size_t size = 0;
  if (t.rank < 1 || t.rank > DN_MAX_RANK || shape_count(t.rank, t.shape, &size) != 0)
    return 0;
  return size;
}

size_t dn_tensor_dim(dn_tensor t, int axis) {
  if (t.rank < 1 || t.rank > DN_MAX_RANK)
    return 0;
  if (axis < 0)
    axis += t.rank;
  if (axis < 0 || axis >= t.rank)
    return 0;
  return t.shape[axis];
}

size_t dn_tensor_rows(dn_tensor t) {
  return dn_tensor_dim(t, 0);
}

size_t dn_tensor_cols(dn_tensor t) {
  if (t.rank < 1 || t.rank > DN_MAX_RANK || t.shape[0] == 0)
    return 0;
  return dn_tensor_size(t) / t.shape[0];
}

dn_tensor dn_tensor_slice_rows(dn_tensor t, size_t first, size_t count) {
  size_t rows = dn_tensor_rows(t), cols = dn_tensor_cols(t);
  if (t.data == NULL || rows == 0 || count == 0 || first > rows || count > rows - first)
    return (dn_tensor){0};
  dn_tensor v = t;
  v.owner = false;
  v.data = t.data + first * cols;
  v.shape[0] = count;
  return v;
}

/* ---- internal -------------------------------------------------------------------------- */

dn_status dn_tensor_reshape(dn_tensor *t, int rank, const size_t *shape) {
  DN_CHECK_NOT_NULL(t, "dn_tensor_reshape");
  size_t size;
  dn_status s = dn_shape_size("dn_tensor_reshape", rank, shape, &size);
  if (s != DN_OK)
    return s;
  size_t have = dn_tensor_size(*t);
  if (size != have) {
    char from[DN_SHAPE_TEXT_CAP], to[DN_SHAPE_TEXT_CAP];
    return dn_fail(DN_ERR_SHAPE,
                   "dn_tensor_reshape: cannot reshape %s (%zu elements) to %s (%zu elements)",
                   dn_shape_text(from, sizeof from, t->rank, t->shape), have,
                   dn_shape_text(to, sizeof to, rank, shape), size);
  }
  size_t copy[DN_MAX_RANK] = {0}; /* `shape` may point into t->shape */
  for (int i = 0; i < rank; i++)
    copy[i] = shape[i];
  for (int i = 0; i < DN_MAX_RANK; i++)
    t->shape[i] = copy[i];
  t->rank = rank;
  return DN_OK;
}

void dn_tensor_fill(dn_tensor t, float value) {
  size_t n = dn_tensor_size(t);
  if (t.data == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    t.data[i] = value;
}

dn_status dn_tensor_copy(dn_tensor dst, dn_tensor src) {
  size_t nd = dn_tensor_size(dst), ns = dn_tensor_size(src);
  if (nd != ns || (nd > 0 && (dst.data == NULL || src.data == NULL))) {
    char a[DN_SHAPE_TEXT_CAP], b[DN_SHAPE_TEXT_CAP];
    return dn_fail(DN_ERR_SHAPE,
                   "dn_tensor_copy: sizes differ: dst %s has %zu elements, src %s has %zu",
                   dn_shape_text(a, sizeof a, dst.rank, dst.shape), nd,
                   dn_shape_text(b, sizeof b, src.rank, src.shape), ns);
  }
  if (nd > 0 && dst.data != src.data)
    memmove(dst.data, src.data, nd * sizeof(float));
  return DN_OK;
}
