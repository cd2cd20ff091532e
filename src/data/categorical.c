/* categorical.c -- keras.utils.to_categorical on tensors (keras/src/utils/numerical_utils.py). */
#include <math.h>
#include <string.h>

#include "core/status.h"
#include "densenet.h"

dn_status dn_to_categorical(dn_tensor labels, size_t num_classes, dn_tensor *out) {
  const char *fn = "dn_to_categorical";
  if (out == NULL)
    return dn_fail(DN_ERR_ARG, "%s: out is NULL", fn);
  size_t n = dn_tensor_size(labels);
  if (labels.data == NULL || labels.rank < 1 || labels.rank > DN_TENSOR_MAX_RANK || n == 0)
    return dn_fail(DN_ERR_ARG, "%s: labels is no tensor (or has no elements)", fn);
  /* Every label an integer >= 0 (and < num_classes when given); else the first bad one. */
  double largest = -1.0;
  for (size_t i = 0; i < n; i++) {
    double v = labels.data[i];
    if (!(v >= 0 && v == floor(v)) || (num_classes != 0 && v >= (double)num_classes))
      return dn_fail(DN_ERR_ARG, "%s: labels element %zu is %g, not a class index in [0, %s%zu)",
                     fn, i, v, num_classes ? "" : "num_classes = ", num_classes);
    largest = v > largest ? v : largest;
  }
  size_t classes = num_classes ? num_classes : (size_t)largest + 1;
  if (num_classes == 0 && largest >= 16777216.0) /* 2^24: beyond it floats skip integers */
    return dn_fail(DN_ERR_ARG, "%s: the largest label is %g; give num_classes for so many", fn,
                   largest);
  /* Keras: the shape of labels, less a last axis of 1 (rank > 1), plus the classes. */
  size_t shape[DN_TENSOR_MAX_RANK];
  int rank = labels.rank;
  memcpy(shape, labels.shape, sizeof shape);
  if (rank > 1 && shape[rank - 1] == 1)
    rank--;
  if (rank == DN_TENSOR_MAX_RANK)
    return dn_fail(DN_ERR_SHAPE, "%s: labels of rank %d give one-hot rows of rank %d (at most %d)",
                   fn, labels.rank, rank + 1, DN_TENSOR_MAX_RANK);
  shape[rank++] = classes;
  dn_tensor t;
  dn_status st = dn_tensor_new(&t, rank, shape);
  if (st != DN_OK) {
    dn_error_context(fn);
    return st;
  }
  for (size_t i = 0; i < n; i++)
    t.data[i * classes + (size_t)labels.data[i]] = 1.0f;
  *out = t;
  return DN_OK;
}
