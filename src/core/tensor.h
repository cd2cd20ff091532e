/* tensor.h -- internal: what the library does with the public dn_tensor (densenet.h): shape
 * validation with messages naming the call and the argument, and the matrix reading every data
 * call and layer uses. */
#ifndef DN_TENSOR_H
#define DN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "densenet.h"

#define DN_MAX_RANK DN_TENSOR_MAX_RANK
/* The most elements a tensor or buffer may hold: its bytes must fit in ptrdiff_t, as C's
 * objects and pointer differences do (no allocation or array can be larger). */
#define DN_MAX_ELEMENTS ((size_t)PTRDIFF_MAX / sizeof(float))
/* The widest row (columns, a layer's width) that can exist. */
#define DN_MAX_WIDTH DN_MAX_ELEMENTS

/* A tensor read as a matrix: rows x cols row-major floats at data. What layers and kernels
 * pass each other; a few words on the stack. */
typedef struct dn_matrix {
  float *data;
  size_t rows, cols;
} dn_matrix;

/* A rows x cols view over data. Accepts const data, as dn_tensor_2d does: a view given to a
 * layer or kernel as an input is only read. */
static inline dn_matrix dn_matrix_view(const float *data, size_t rows, size_t cols) {
  return (dn_matrix){(float *)data, rows, cols};
}

/* Checks that `t` is a tensor a data call can read as a matrix, for call `fn` and argument
 * `arg` ("x", "y", "sample_weight"): DN_ERR_ARG if it is no tensor (rank 0 or data NULL);
 * DN_ERR_SHAPE if its rank is above max_rank or outside 1..DN_TENSOR_MAX_RANK, a dim is 0 or
 * its size overflows. On success *m is its matrix reading (rows = shape[0], cols = the product
 * of the other dims, 1 for rank 1). */
dn_status dn_tensor_matrix(dn_tensor t, const char *fn, const char *arg, int max_rank,
                           dn_matrix *m);

/* The zero tensor ("no tensor"), which optional arguments take to mean none. */
static inline bool dn_tensor_is_none(dn_tensor t) {
  return t.rank == 0 && t.data == NULL;
}

/* Element count of a shape (rank 1..DN_TENSOR_MAX_RANK, every dim > 0), overflow-checked:
 * DN_ERR_SHAPE naming `fn` otherwise. */
dn_status dn_shape_size(const char *fn, int rank, const size_t *shape, size_t *size);

/* "[2 x 3]" for a shape, into buf (the empty tensor is "[]"). Returns buf. */
const char *dn_shape_text(char *buf, size_t cap, int rank, const size_t *shape);
#define DN_SHAPE_TEXT_CAP 128

/* Same element count, new shape (DN_ERR_SHAPE otherwise; *t unchanged). */
dn_status dn_tensor_reshape(dn_tensor *t, int rank, const size_t *shape);
/* Copies src's elements into dst (sizes must match; DN_ERR_SHAPE otherwise). */
dn_status dn_tensor_copy(dn_tensor dst, dn_tensor src);
void dn_tensor_fill(dn_tensor t, float value);

#endif
