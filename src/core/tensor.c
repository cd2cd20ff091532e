/* tensor.c -- n-d float32 tensors (rank 1-4): shape checks, owning storage, views, reshape, copy.
 */
#include "core/tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

/* "[2 x 3 x 4]" into buf (at most DN_MAX_RANK dims are read; an empty tensor is "[]"). */
static const char *shape_text(char *buf, size_t cap, int rank, const size_t *shape) {
  size_t used = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < rank && i < DN_MAX_RANK && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, i ? " x %zu" : "%zu", shape[i]);
  if (used < cap)
    snprintf(buf + used, cap - used, "]");
  return buf;
}

#define DN_SHAPE_TEXT_CAP 128

/* Validates rank and shape for function `fn`; *size = element count. */
static dn_status check_shape(const char *fn, int rank, const size_t *shape, size_t *size) {
  char text[DN_SHAPE_TEXT_CAP];
  if (rank < 1 || rank > DN_MAX_RANK)
    return dn_fail(DN_ERR_SHAPE, "%s: rank %d is outside 1..%d", fn, rank, DN_MAX_RANK);
  if (shape == NULL)
    return dn_fail(DN_ERR_ARG, "%s: shape is NULL", fn);
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] == 0)
      return dn_fail(DN_ERR_SHAPE, "%s: shape %s has a zero dim (axis %d)", fn,
                     shape_text(text, sizeof text, rank, shape), i);
  }
  for (int i = 0; i < rank; i++) {
    if (n > SIZE_MAX / sizeof(float) / shape[i])
      return dn_fail(DN_ERR_SHAPE, "%s: shape %s overflows the addressable size", fn,
                     shape_text(text, sizeof text, rank, shape));
    n *= shape[i];
  }
  *size = n;
  return DN_OK;
}

dn_status dn_shape_size(int rank, const size_t *shape, size_t *size) {
  DN_CHECK_NOT_NULL(size, "dn_shape_size");
  return check_shape("dn_shape_size", rank, shape, size);
}

/* Writes the whole of *t at once (only after every check has passed). */
static void set_tensor(dn_tensor *t, float *data, int rank, const size_t *shape, size_t size,
                       bool owner) {
  dn_tensor out = {0};
  out.data = data;
  out.rank = rank;
  out.size = size;
  out.owner = owner;
  for (int i = 0; i < rank; i++)
    out.shape[i] = shape[i];
  *t = out;
}

dn_status dn_tensor_init(dn_tensor *t, int rank, const size_t *shape) {
  DN_CHECK_NOT_NULL(t, "dn_tensor_init");
  size_t size = 0;
  dn_status s = check_shape("dn_tensor_init", rank, shape, &size);
  if (s != DN_OK)
    return s;
  float *data = dn_calloc(size, sizeof(float));
  if (data == NULL) {
    char text[DN_SHAPE_TEXT_CAP];
    return dn_fail(DN_ERR_NOMEM, "dn_tensor_init: out of memory for a %s tensor (%zu floats)",
                   shape_text(text, sizeof text, rank, shape), size);
  }
  set_tensor(t, data, rank, shape, size, true);
  return DN_OK;
}

dn_status dn_tensor_init_2d(dn_tensor *t, size_t rows, size_t cols) {
  const size_t shape[2] = {rows, cols};
  return dn_tensor_init(t, 2, shape);
}

dn_status dn_tensor_view(dn_tensor *t, float *data, int rank, const size_t *shape) {
  DN_CHECK_NOT_NULL(t, "dn_tensor_view");
  DN_CHECK_NOT_NULL(data, "dn_tensor_view");
  size_t size;
  dn_status s = check_shape("dn_tensor_view", rank, shape, &size);
  if (s != DN_OK)
    return s;
  set_tensor(t, data, rank, shape, size, false);
  return DN_OK;
}

void dn_tensor_free(dn_tensor *t) {
  if (t == NULL)
    return;
  if (t->owner)
    dn_free(t->data);
  *t = (dn_tensor){0};
}

dn_status dn_tensor_reshape(dn_tensor *t, int rank, const size_t *shape) {
  DN_CHECK_NOT_NULL(t, "dn_tensor_reshape");
  size_t size;
  dn_status s = check_shape("dn_tensor_reshape", rank, shape, &size);
  if (s != DN_OK)
    return s;
  if (size != t->size) {
    char from[DN_SHAPE_TEXT_CAP], to[DN_SHAPE_TEXT_CAP];
    return dn_fail(DN_ERR_SHAPE,
                   "dn_tensor_reshape: cannot reshape %s (%zu elements) to %s (%zu elements)",
                   shape_text(from, sizeof from, t->rank, t->shape), t->size,
                   shape_text(to, sizeof to, rank, shape), size);
  }
  size_t copy[DN_MAX_RANK] = {0}; /* `shape` may point into t->shape */
  for (int i = 0; i < rank; i++)
    copy[i] = shape[i];
  for (int i = 0; i < DN_MAX_RANK; i++)
    t->shape[i] = copy[i];
  t->rank = rank;
  return DN_OK;
}

void dn_tensor_fill(dn_tensor *t, float value) {
  if (t == NULL || t->data == NULL)
    return;
  for (size_t i = 0; i < t->size; i++)
    t->data[i] = value;
}

dn_status dn_tensor_copy(dn_tensor *dst, const dn_tensor *src) {
  DN_CHECK_NOT_NULL(dst, "dn_tensor_copy");
  DN_CHECK_NOT_NULL(src, "dn_tensor_copy");
  if (dst->size != src->size) {
    char a[DN_SHAPE_TEXT_CAP], b[DN_SHAPE_TEXT_CAP];
    return dn_fail(DN_ERR_SHAPE,
                   "dn_tensor_copy: sizes differ: dst %s has %zu elements, src %s has %zu",
                   shape_text(a, sizeof a, dst->rank, dst->shape), dst->size,
                   shape_text(b, sizeof b, src->rank, src->shape), src->size);
  }
  if (src->size > 0 && dst->data != src->data)
    memmove(dst->data, src->data, src->size * sizeof(float));
  return DN_OK;
}

size_t dn_tensor_dim(const dn_tensor *t, int axis) {
  if (t == NULL)
    return 0;
  if (axis < 0)
    axis += t->rank;
  if (axis < 0 || axis >= t->rank)
    return 0;
  return t->shape[axis];
}

size_t dn_tensor_rows(const dn_tensor *t) {
  if (t == NULL || t->rank < 1)
    return 0;
  size_t rows = 1;
  for (int i = 0; i + 1 < t->rank; i++)
    rows *= t->shape[i];
  return rows;
}

size_t dn_tensor_cols(const dn_tensor *t) {
  if (t == NULL || t->rank < 1)
    return 0;
  return t->shape[t->rank - 1];
}
