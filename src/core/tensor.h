/* tensor.h -- internal: n-d float32 tensors (rank 1-4), row-major, 64-byte aligned. */
#ifndef DN_TENSOR_H
#define DN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "densenet.h"

#define DN_MAX_RANK 4

/* An owning tensor frees its data in dn_tensor_free; a view borrows it.
 * The zero struct is a valid empty tensor. */
typedef struct dn_tensor {
  float *data;
  size_t shape[DN_MAX_RANK];
  int rank;
  size_t size; /* product of the shape */
  bool owner;
} dn_tensor;

/* Allocates a zeroed owning tensor (rank 1..4, every dim > 0). */
dn_status dn_tensor_init(dn_tensor *t, int rank, const size_t *shape);
dn_status dn_tensor_init_2d(dn_tensor *t, size_t rows, size_t cols);
/* A borrowed view of `data` with the given shape. */
dn_status dn_tensor_view(dn_tensor *t, float *data, int rank, const size_t *shape);
/* Frees an owning tensor's data; leaves *t empty. */
void dn_tensor_free(dn_tensor *t);
/* Same element count, new shape (DN_ERR_SHAPE otherwise; *t unchanged). */
dn_status dn_tensor_reshape(dn_tensor *t, int rank, const size_t *shape);
void dn_tensor_fill(dn_tensor *t, float value);
/* Copies src's elements into dst (sizes must match). */
dn_status dn_tensor_copy(dn_tensor *dst, const dn_tensor *src);
/* Size of axis `axis` (negative counts from the end), 0 if out of range. */
size_t dn_tensor_dim(const dn_tensor *t, int axis);
/* Rows and columns of a tensor read as a matrix (last axis = columns). */
size_t dn_tensor_rows(const dn_tensor *t);
size_t dn_tensor_cols(const dn_tensor *t);
/* Checks the rank and shape; *size gets the element count (overflow-checked). */
dn_status dn_shape_size(int rank, const size_t *shape, size_t *size);

#endif
