/* test_tensor.c -- the tensor module: the public views (of const data, without a cast), owning
 * tensors and accessors of densenet.h, and the internal helpers of src/core/tensor.h (the one
 * shape check dn_tensor_matrix with its statuses and messages, shape size and text, reshape,
 * copy, fill). */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include "dn_test.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/status.h" /* dn_fail: poisons the last error before a call */
#include "core/tensor.h"

static const dn_tensor ZERO_TENSOR = {0};

/* Field by field (the struct has padding, which copies need not keep). */
static bool same_tensor(dn_tensor a, dn_tensor b) {
  if (a.data != b.data || a.rank != b.rank || a.owner != b.owner)
    return false;
  for (int i = 0; i < DN_TENSOR_MAX_RANK; i++)
    if (a.shape[i] != b.shape[i])
      return false;
  return true;
}

#define assert_same_tensor(a, b) assert_true(same_tensor((a), (b)))
#define assert_zero_tensor(t) assert_same_tensor((t), ZERO_TENSOR)

/* ---- public: views ----------------------------------------------------------------------- */

static void test_views_of_const_data(void **state) {
  (void)state;
  /* const data: no cast at the call site (the file builds with -Werror, so a discarded
   * qualifier would fail the build), no allocation, no copy */
  static const float data[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  size_t allocs = dn_alloc_count();

  dn_tensor m = dn_tensor_2d(data, 4, 3);
  assert_ptr_equal(m.data, data);
  assert_int_equal(m.rank, 2);
  assert_int_equal(m.shape[0], 4);
  assert_int_equal(m.shape[1], 3);
  assert_int_equal(m.shape[2], 0); /* unused axes are 0 */
  assert_int_equal(m.shape[3], 0);
  assert_false(m.owner);
  assert_int_equal(dn_tensor_size(m), 12);
  assert_int_equal(dn_tensor_rows(m), 4);
  assert_int_equal(dn_tensor_cols(m), 3);
  assert_int_equal(dn_tensor_dim(m, 0), 4);
  assert_int_equal(dn_tensor_dim(m, 1), 3);
  assert_int_equal(dn_tensor_dim(m, -1), 3);
  assert_int_equal(dn_tensor_dim(m, -2), 4);
  assert_int_equal(dn_tensor_dim(m, 2), 0);
  assert_int_equal(dn_tensor_dim(m, -3), 0);

  /* rank 1: n rows of one column */
  dn_tensor v = dn_tensor_1d(data, 9);
  assert_ptr_equal(v.data, data);
  assert_int_equal(v.rank, 1);
  assert_int_equal(v.shape[0], 9);
  assert_int_equal(v.shape[1], 0);
  assert_false(v.owner);
  assert_int_equal(dn_tensor_size(v), 9);
  assert_int_equal(dn_tensor_rows(v), 9);
  assert_int_equal(dn_tensor_cols(v), 1);
  assert_int_equal(dn_tensor_dim(v, -1), 9);
  assert_int_equal(dn_tensor_dim(v, 1), 0);

  /* any rank: rows are shape[0], columns the product of the other dims */
  const size_t s3[3] = {2, 3, 2};
  dn_tensor t3 = dn_tensor_view(data, 3, s3);
  assert_ptr_equal(t3.data, data);
  assert_int_equal(t3.rank, 3);
  assert_int_equal(t3.shape[2], 2);
  assert_int_equal(t3.shape[3], 0);
  assert_false(t3.owner);
  assert_int_equal(dn_tensor_size(t3), 12);
  assert_int_equal(dn_tensor_rows(t3), 2);
  assert_int_equal(dn_tensor_cols(t3), 6);
  assert_int_equal(dn_tensor_dim(t3, -1), 2);
  assert_int_equal(dn_tensor_dim(t3, -3), 2);
  assert_int_equal(dn_tensor_dim(t3, 1), 3);
  assert_int_equal(dn_tensor_dim(t3, 3), 0);
  assert_int_equal(dn_tensor_dim(t3, -4), 0);
  const size_t s4[4] = {2, 1, 3, 2};
  dn_tensor t4 = dn_tensor_view(data, 4, s4);
  assert_int_equal(dn_tensor_rows(t4), 2);
  assert_int_equal(dn_tensor_cols(t4), 6);
  assert_int_equal(dn_tensor_dim(t4, -4), 2);
  assert_int_equal(dn_tensor_dim(t4, 3), 2);
  assert_int_equal(dn_tensor_dim(t4, 4), 0);
  assert_int_equal(dn_tensor_dim(t4, -5), 0);
  /* the view copied the shape: changing the caller's array later changes nothing */
  size_t s2[2] = {3, 4};
  dn_tensor t2 = dn_tensor_view(data, 2, s2);
  s2[0] = 99;
  assert_int_equal(dn_tensor_rows(t2), 3);
  assert_int_equal(dn_tensor_cols(t2), 4);

  /* out-of-range rank or no shape: the zero tensor */
  assert_zero_tensor(dn_tensor_view(data, 0, s4));
  assert_zero_tensor(dn_tensor_view(data, 5, s4));
  assert_zero_tensor(dn_tensor_view(data, -1, s4));
  assert_zero_tensor(dn_tensor_view(data, 2, NULL));

  /* the library never wrote through the views */
  for (int i = 0; i < 12; i++)
    assert_true(data[i] == (float)i);
  assert_int_equal(dn_alloc_count(), allocs);
}

static void test_zero_dims_and_no_tensor(void **state) {
  (void)state;
  const float data[4] = {1, 2, 3, 4};
  /* the zero tensor: every accessor says 0 */
  dn_tensor none = {0};
  assert_int_equal(dn_tensor_size(none), 0);
  assert_int_equal(dn_tensor_rows(none), 0);
  assert_int_equal(dn_tensor_cols(none), 0);
  assert_int_equal(dn_tensor_dim(none, 0), 0);
  assert_int_equal(dn_tensor_dim(none, -1), 0);
  assert_zero_tensor(dn_tensor_slice_rows(none, 0, 1));

  /* zero rows: no elements, no columns to read */
  dn_tensor no_rows = dn_tensor_2d(data, 0, 3);
  assert_int_equal(no_rows.rank, 2);
  assert_int_equal(dn_tensor_size(no_rows), 0);
  assert_int_equal(dn_tensor_rows(no_rows), 0);
  assert_int_equal(dn_tensor_cols(no_rows), 0);
  assert_int_equal(dn_tensor_dim(no_rows, 1), 3);
  /* zero columns */
  dn_tensor no_cols = dn_tensor_2d(data, 3, 0);
  assert_int_equal(dn_tensor_size(no_cols), 0);
  assert_int_equal(dn_tensor_rows(no_cols), 3);
  assert_int_equal(dn_tensor_cols(no_cols), 0);
  /* numpy: a slice of a 3 x 0 array is a 1 x 0 array, not out of range */
  dn_tensor s = dn_tensor_slice_rows(no_cols, 1, 1);
  assert_ptr_equal(s.data, data);
  assert_int_equal(s.rank, 2);
  assert_int_equal(s.shape[0], 1);
  assert_int_equal(s.shape[1], 0);
  dn_tensor empty_1d = dn_tensor_1d(data, 0);
  assert_int_equal(dn_tensor_size(empty_1d), 0);
  assert_int_equal(dn_tensor_cols(empty_1d), 0);
  /* a zero dim in the middle of a rank-3 shape */
  const size_t mid[3] = {2, 0, 5};
  dn_tensor t = dn_tensor_view(data, 3, mid);
  assert_int_equal(t.rank, 3);
  assert_int_equal(dn_tensor_size(t), 0);
  assert_int_equal(dn_tensor_rows(t), 2);
  assert_int_equal(dn_tensor_cols(t), 0);
  /* NULL data: a tensor with a shape but nothing behind it */
  dn_tensor null_data = dn_tensor_2d(NULL, 2, 2);
  assert_null(null_data.data);
  assert_int_equal(null_data.rank, 2);
  assert_int_equal(dn_tensor_rows(null_data), 2);
  assert_zero_tensor(dn_tensor_slice_rows(null_data, 0, 1));
  /* a corrupt rank read as no tensor by every accessor */
  dn_tensor bad = dn_tensor_2d(data, 2, 2);
  bad.rank = 7;
  assert_int_equal(dn_tensor_size(bad), 0);
  assert_int_equal(dn_tensor_rows(bad), 0);
  assert_int_equal(dn_tensor_cols(bad), 0);
  assert_int_equal(dn_tensor_dim(bad, 0), 0);
  bad.rank = -2;
  assert_int_equal(dn_tensor_size(bad), 0);
  assert_int_equal(dn_tensor_dim(bad, -1), 0);
}

static void test_size_overflow(void **state) {
  (void)state;
  const float data[1] = {0};
  /* rows * cols elements fit in size_t, their bytes do not */
  dn_tensor big = dn_tensor_2d(data, SIZE_MAX / 2, 3);
  assert_int_equal(dn_tensor_size(big), 0);
  assert_int_equal(dn_tensor_rows(big), SIZE_MAX / 2);
  assert_int_equal(dn_tensor_cols(big), 0);
  /* the element count fits, its bytes do not */
  assert_int_equal(dn_tensor_size(dn_tensor_1d(data, SIZE_MAX / 2)), 0);
  /* the largest count whose bytes fit in ptrdiff_t (C's limit on an object) is still a size,
   * one more is not (issue 12: no size derived from a tensor can then overflow a pointer
   * difference) */
  assert_int_equal(dn_tensor_size(dn_tensor_1d(data, PTRDIFF_MAX / sizeof(float))),
                   PTRDIFF_MAX / sizeof(float));
  assert_int_equal(dn_tensor_size(dn_tensor_1d(data, PTRDIFF_MAX / sizeof(float) + 1)), 0);
  assert_int_equal(dn_tensor_size(dn_tensor_1d(data, SIZE_MAX / sizeof(float))), 0);
  /* four dims whose product wraps to a small number */
  if (sizeof(size_t) == 8) {
    const size_t wrap[4] = {(size_t)1 << 32, (size_t)1 << 32, 2, 2};
    dn_tensor w = dn_tensor_view(data, 4, wrap);
    assert_int_equal(dn_tensor_size(w), 0);
    assert_int_equal(dn_tensor_cols(w), 0);
  }
}

static void test_slice_rows(void **state) {
  (void)state;
  float data[12];
  for (int i = 0; i < 12; i++)
    data[i] = (float)i;
  dn_tensor m = dn_tensor_2d(data, 4, 3);
  dn_tensor s = dn_tensor_slice_rows(m, 1, 2);
  assert_ptr_equal(s.data, data + 3);
  assert_int_equal(s.rank, 2);
  assert_int_equal(dn_tensor_rows(s), 2);
  assert_int_equal(dn_tensor_cols(s), 3);
  assert_false(s.owner);
  assert_true(s.data[0] == 3.0f && s.data[5] == 8.0f);
  /* the whole tensor, and the last row */
  s = dn_tensor_slice_rows(m, 0, 4);
  assert_same_tensor(s, m);
  s = dn_tensor_slice_rows(m, 3, 1);
  assert_ptr_equal(s.data, data + 9);
  assert_int_equal(dn_tensor_rows(s), 1);
  /* a rank-3 tensor keeps its other dims; rows step over all of them */
  const size_t s3[3] = {3, 2, 2};
  dn_tensor t3 = dn_tensor_view(data, 3, s3);
  s = dn_tensor_slice_rows(t3, 2, 1);
  assert_ptr_equal(s.data, data + 8);
  assert_int_equal(s.rank, 3);
  assert_int_equal(s.shape[0], 1);
  assert_int_equal(s.shape[1], 2);
  assert_int_equal(s.shape[2], 2);
  /* rank 1 */
  s = dn_tensor_slice_rows(dn_tensor_1d(data, 12), 5, 7);
  assert_ptr_equal(s.data, data + 5);
  assert_int_equal(s.shape[0], 7);
  /* out of range: the zero tensor */
  assert_zero_tensor(dn_tensor_slice_rows(m, 0, 0));
  assert_zero_tensor(dn_tensor_slice_rows(m, 4, 1));
  assert_zero_tensor(dn_tensor_slice_rows(m, 4, 0));
  assert_zero_tensor(dn_tensor_slice_rows(m, 5, 1));
  assert_zero_tensor(dn_tensor_slice_rows(m, 2, 3));
  assert_zero_tensor(dn_tensor_slice_rows(m, 0, 5));
  assert_zero_tensor(dn_tensor_slice_rows(m, 2, SIZE_MAX)); /* first + count wraps */
  assert_zero_tensor(dn_tensor_slice_rows(m, SIZE_MAX, 2));
  /* a slice of an owning tensor does not own */
  dn_tensor own;
  assert_ok(dn_tensor_new_2d(&own, 3, 2));
  s = dn_tensor_slice_rows(own, 1, 1);
  assert_true(own.owner);
  assert_false(s.owner);
  assert_ptr_equal(s.data, own.data + 2);
  dn_tensor_free(&s); /* freeing a non-owning slice leaves the storage alone */
  assert_zero_tensor(s);
  own.data[5] = 1.5f; /* still valid (valgrind would see a use after free) */
  dn_tensor_free(&own);
}

/* ---- public: owning tensors --------------------------------------------------------------- */

static void test_new_aligned_and_zeroed(void **state) {
  (void)state;
  const size_t shapes[4][4] = {{7, 0, 0, 0}, {3, 5, 0, 0}, {2, 3, 5, 0}, {2, 1, 3, 17}};
  const size_t sizes[4] = {7, 15, 30, 102};
  const size_t cols[4] = {1, 5, 15, 51};
  for (int rank = 1; rank <= 4; rank++) {
    dn_tensor t;
    memset(&t, 0xAB, sizeof t); /* new must not read what was there */
    size_t allocs = dn_alloc_count();
    assert_ok(dn_tensor_new(&t, rank, shapes[rank - 1]));
    assert_int_equal(dn_alloc_count(), allocs + 1);
    assert_non_null(t.data);
    assert_int_equal((uintptr_t)t.data % 64, 0);
    assert_int_equal(t.rank, rank);
    assert_true(t.owner);
    for (int i = 0; i < DN_TENSOR_MAX_RANK; i++)
      assert_int_equal(t.shape[i], shapes[rank - 1][i]); /* unused axes 0 */
    assert_int_equal(dn_tensor_size(t), sizes[rank - 1]);
    assert_int_equal(dn_tensor_rows(t), shapes[rank - 1][0]);
    assert_int_equal(dn_tensor_cols(t), cols[rank - 1]);
    for (size_t i = 0; i < sizes[rank - 1]; i++)
      assert_true(t.data[i] == 0.0f && !signbit(t.data[i]));
    t.data[sizes[rank - 1] - 1] = 1.0f; /* writable to the end (valgrind checks the bounds) */
    dn_tensor_free(&t);
    assert_zero_tensor(t);
  }
  dn_tensor m;
  assert_ok(dn_tensor_new_2d(&m, 4, 3));
  assert_int_equal(m.rank, 2);
  assert_int_equal(m.shape[0], 4);
  assert_int_equal(m.shape[1], 3);
  assert_int_equal(dn_tensor_size(m), 12);
  assert_true(m.owner);
  /* copies of the struct share the storage: free once */
  dn_tensor copy = m;
  copy.data[11] = 2.0f;
  assert_true(m.data[11] == 2.0f);
  dn_tensor_free(&m);
  assert_zero_tensor(m);
  /* free of a view leaves the caller's data alone (ASan/valgrind would report a free of a stack
   * buffer) and zeroes the struct */
  float buf[2] = {3, 4};
  dn_tensor v = dn_tensor_2d(buf, 1, 2);
  dn_tensor_free(&v);
  assert_zero_tensor(v);
  assert_true(buf[0] == 3.0f && buf[1] == 4.0f);
  dn_tensor none = {0};
  dn_tensor_free(&none);
  dn_tensor_free(NULL);
}

/* A stale last error with status DN_OK: a failing call that forgets to set its own is caught. */
static void poison(void) {
  dn_fail(DN_OK, "(stale message)");
}

#define EXPECT(call, status, needle)                                                               \
  do {                                                                                             \
    poison();                                                                                      \
    assert_status_msg(call, status, needle);                                                       \
    assert_int_equal(dn_last_status(), status);                                                    \
  } while (0)

static void test_new_errors(void **state) {
  (void)state;
  dn_tensor t;
  memset(&t, 0x5A, sizeof t);
  dn_tensor before = t;
  const size_t ok[4] = {2, 3, 4, 5};
  size_t allocs = dn_alloc_count();

  EXPECT(dn_tensor_new(NULL, 2, ok), DN_ERR_ARG, "dn_tensor_new: out is NULL");
  EXPECT(dn_tensor_new(&t, 2, NULL), DN_ERR_ARG, "dn_tensor_new: shape is NULL");
  EXPECT(dn_tensor_new(&t, 0, ok), DN_ERR_SHAPE, "dn_tensor_new: rank 0 is outside 1..4");
  EXPECT(dn_tensor_new(&t, 5, ok), DN_ERR_SHAPE, "rank 5 is outside 1..4");
  EXPECT(dn_tensor_new(&t, -1, ok), DN_ERR_SHAPE, "rank -1");
  const size_t z[3] = {4, 0, 2};
  EXPECT(dn_tensor_new(&t, 3, z), DN_ERR_SHAPE,
         "dn_tensor_new: shape [4 x 0 x 2] has a zero dim (axis 1)");
  const size_t big[2] = {SIZE_MAX / 2, 3};
  EXPECT(dn_tensor_new(&t, 2, big), DN_ERR_SHAPE, "overflows");
  char want[64];
  snprintf(want, sizeof want, "[%zu x 3]", SIZE_MAX / 2);
  EXPECT(dn_tensor_new(&t, 2, big), DN_ERR_SHAPE, want);
  /* the element count fits in size_t but its bytes do not */
  const size_t bytes[1] = {SIZE_MAX / 2};
  EXPECT(dn_tensor_new(&t, 1, bytes), DN_ERR_SHAPE, "overflows");
  /* four dims whose product wraps to a small number */
  const size_t wrap[4] = {(size_t)1 << 32, (size_t)1 << 32, 2, 2};
  if (sizeof(size_t) == 8)
    EXPECT(dn_tensor_new(&t, 4, wrap), DN_ERR_SHAPE, "overflows");
  EXPECT(dn_tensor_new_2d(&t, 0, 3), DN_ERR_SHAPE, "[0 x 3]");
  EXPECT(dn_tensor_new_2d(&t, 3, 0), DN_ERR_SHAPE, "[3 x 0] has a zero dim (axis 1)");
  EXPECT(dn_tensor_new_2d(NULL, 3, 3), DN_ERR_ARG, "out is NULL");
  /* *out untouched on failure: byte for byte (its bool holds 0x5A, no value to read as bool) */
  assert_memory_equal(&t, &before, sizeof t);
  assert_int_equal(dn_alloc_count(), allocs); /* checked before allocating */
}

/* An allocator that fails on demand, to check the out-of-memory path. */
static int fail_next;
static void *failing_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  if (fail_next)
    return NULL;
  void *p = NULL;
  return posix_memalign(&p, alignment, size) == 0 ? p : NULL;
}
static void plain_free(void *ptr, void *ctx) {
  (void)ctx;
  free(ptr);
}

static void test_out_of_memory(void **state) {
  (void)state;
  dn_allocator a = {failing_alloc, plain_free, NULL};
  assert_ok(dn_set_allocator(&a));
  dn_tensor t;
  memset(&t, 0x5A, sizeof t);
  dn_tensor before = t;
  fail_next = 1;
  EXPECT(dn_tensor_new_2d(&t, 3, 4), DN_ERR_NOMEM,
         "dn_tensor_new: out of memory for a [3 x 4] tensor (12 floats)");
  assert_memory_equal(&t, &before, sizeof t); /* byte for byte, as in test_new_errors */
  fail_next = 0;
  assert_ok(dn_tensor_new_2d(&t, 3, 4));
  assert_true(t.owner);
  dn_tensor_free(&t);
  assert_ok(dn_set_allocator(NULL));
}

/* ---- internal: the one shape check -------------------------------------------------------- */

static void test_matrix_accepts(void **state) {
  (void)state;
  const float data[24] = {0};
  dn_matrix m;
  assert_ok(dn_tensor_matrix(dn_tensor_2d(data, 4, 6), "dn_fit", "x", 2, &m));
  assert_ptr_equal(m.data, data);
  assert_int_equal(m.rows, 4);
  assert_int_equal(m.cols, 6);
  /* rank 1: n x 1 */
  assert_ok(dn_tensor_matrix(dn_tensor_1d(data, 5), "dn_fit", "y", 2, &m));
  assert_int_equal(m.rows, 5);
  assert_int_equal(m.cols, 1);
  /* rank 3 and 4 where the caller allows them: rows x product of the rest */
  const size_t s3[3] = {2, 3, 4}, s4[4] = {2, 3, 2, 2};
  assert_ok(dn_tensor_matrix(dn_tensor_view(data, 3, s3), "f", "t", 3, &m));
  assert_int_equal(m.rows, 2);
  assert_int_equal(m.cols, 12);
  assert_ok(dn_tensor_matrix(dn_tensor_view(data, 4, s4), "f", "t", DN_TENSOR_MAX_RANK, &m));
  assert_int_equal(m.rows, 2);
  assert_int_equal(m.cols, 12);
  /* a slice reads from its first row */
  assert_ok(
      dn_tensor_matrix(dn_tensor_slice_rows(dn_tensor_2d(data, 4, 6), 1, 2), "f", "t", 2, &m));
  assert_ptr_equal(m.data, data + 6);
  assert_int_equal(m.rows, 2);
  assert_int_equal(m.cols, 6);
}

/* dn_tensor_matrix fails with `status` and a message containing `needle`, setting the thread's
 * last status too, and leaves *m alone. */
#define EXPECT_MATRIX(t, max_rank, status, needle)                                                 \
  do {                                                                                             \
    dn_matrix m_ = {(float *)&sentinel, 77, 88};                                                   \
    EXPECT(dn_tensor_matrix((t), "dn_fit", "x", (max_rank), &m_), status, needle);                 \
    assert_ptr_equal(m_.data, &sentinel);                                                          \
    assert_int_equal(m_.rows, 77);                                                                 \
    assert_int_equal(m_.cols, 88);                                                                 \
  } while (0)

static void test_matrix_rejects(void **state) {
  (void)state;
  static float sentinel;
  const float data[8] = {0};
  /* no tensor: DN_ERR_ARG */
  EXPECT_MATRIX(ZERO_TENSOR, 2, DN_ERR_ARG, "dn_fit: x is no tensor (rank 0)");
  EXPECT_MATRIX(dn_tensor_2d(NULL, 2, 4), 2, DN_ERR_ARG, "dn_fit: x is no tensor (data is NULL)");
  EXPECT_MATRIX(dn_tensor_view(data, 9, (const size_t[]){1}), 2, DN_ERR_ARG, "(rank 0)");
  /* a rank above what the call takes */
  const size_t s3[3] = {2, 2, 2};
  EXPECT_MATRIX(dn_tensor_view(data, 3, s3), 2, DN_ERR_SHAPE,
                "dn_fit: x has rank 3 (shape [2 x 2 x 2]); expected rank 1 or 2");
  const size_t s4[4] = {2, 1, 2, 2};
  EXPECT_MATRIX(dn_tensor_view(data, 4, s4), 2, DN_ERR_SHAPE,
                "x has rank 4 (shape [2 x 1 x 2 x 2])");
  /* a rank outside the type's range (a hand-made struct) */
  dn_tensor bad = dn_tensor_2d(data, 2, 4);
  bad.rank = 5;
  EXPECT_MATRIX(bad, 2, DN_ERR_SHAPE, "dn_fit: x has rank 5, outside 1..4");
  bad.rank = -1;
  EXPECT_MATRIX(bad, 2, DN_ERR_SHAPE, "x has rank -1, outside 1..4");
  /* zero dims */
  EXPECT_MATRIX(dn_tensor_2d(data, 0, 4), 2, DN_ERR_SHAPE, "dn_fit: x has shape [0 x 4]: no rows");
  EXPECT_MATRIX(dn_tensor_2d(data, 2, 0), 2, DN_ERR_SHAPE,
                "dn_fit: x has shape [2 x 0]: a zero dim or a size that overflows");
  EXPECT_MATRIX(dn_tensor_1d(data, 0), 2, DN_ERR_SHAPE, "x has shape [0]: no rows");
  /* a size that overflows */
  char want[96];
  snprintf(want, sizeof want, "dn_fit: x has shape [%zu x 3]: a zero dim or a size that overflows",
           SIZE_MAX / 2);
  EXPECT_MATRIX(dn_tensor_2d(data, SIZE_MAX / 2, 3), 2, DN_ERR_SHAPE, want);
  if (sizeof(size_t) == 8) {
    const size_t wrap[4] = {(size_t)1 << 32, (size_t)1 << 32, 2, 2};
    EXPECT_MATRIX(dn_tensor_view(data, 4, wrap), 4, DN_ERR_SHAPE, "a size that overflows");
  }
  /* the call and the argument come from the caller */
  dn_matrix m;
  EXPECT(dn_tensor_matrix(dn_tensor_2d(data, 0, 1), "dn_predict", "validation_y", 2, &m),
         DN_ERR_SHAPE, "dn_predict: validation_y has shape [0 x 1]");
}

/* ---- internal: shape size and text -------------------------------------------------------- */

static void test_shape_size_and_text(void **state) {
  (void)state;
  const size_t ok[4] = {2, 3, 4, 5};
  size_t n = 99;
  assert_ok(dn_shape_size("f", 4, ok, &n));
  assert_int_equal(n, 120);
  assert_ok(dn_shape_size("f", 1, ok, &n));
  assert_int_equal(n, 2);
  n = 99;
  const size_t big[2] = {SIZE_MAX / 2, 3};
  EXPECT(dn_shape_size("dn_model_forward", 2, big, &n), DN_ERR_SHAPE, "dn_model_forward: shape [");
  assert_int_equal(n, 99);
  EXPECT(dn_shape_size("f", 9, ok, &n), DN_ERR_SHAPE, "f: rank 9 is outside 1..4");
  EXPECT(dn_shape_size("f", 2, NULL, &n), DN_ERR_ARG, "f: shape is NULL");
  const size_t z[2] = {3, 0};
  EXPECT(dn_shape_size("g", 2, z, &n), DN_ERR_SHAPE, "g: shape [3 x 0] has a zero dim (axis 1)");
  assert_int_equal(n, 99);

  char buf[DN_SHAPE_TEXT_CAP];
  assert_string_equal(dn_shape_text(buf, sizeof buf, 2, ok), "[2 x 3]");
  assert_string_equal(dn_shape_text(buf, sizeof buf, 4, ok), "[2 x 3 x 4 x 5]");
  assert_string_equal(dn_shape_text(buf, sizeof buf, 1, ok), "[2]");
  assert_string_equal(dn_shape_text(buf, sizeof buf, 0, ok), "[]");
  assert_ptr_equal(dn_shape_text(buf, sizeof buf, 1, ok), buf);
  /* a short buffer is cut, not overrun, and stays terminated */
  char small[6];
  memset(small, 'z', sizeof small);
  const size_t wide[2] = {123456, 7};
  dn_shape_text(small, sizeof small, 2, wide);
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_memory_equal(small, "[1234", 6);
}

/* ---- internal: reshape, copy, fill ------------------------------------------------------- */

static void test_reshape(void **state) {
  (void)state;
  dn_tensor t;
  assert_ok(dn_tensor_new_2d(&t, 2, 6));
  for (size_t i = 0; i < 12; i++)
    t.data[i] = (float)i;
  float *data = t.data;

  const size_t s3[3] = {3, 2, 2};
  assert_ok(dn_tensor_reshape(&t, 3, s3));
  assert_ptr_equal(t.data, data);
  assert_true(t.owner);
  assert_int_equal(t.rank, 3);
  assert_int_equal(dn_tensor_size(t), 12);
  assert_int_equal(dn_tensor_dim(t, 0), 3);
  assert_int_equal(dn_tensor_dim(t, -1), 2);
  assert_int_equal(dn_tensor_rows(t), 3);
  assert_int_equal(dn_tensor_cols(t), 4);
  for (size_t i = 0; i < 12; i++)
    assert_true(t.data[i] == (float)i);

  /* a size change is refused and leaves the tensor as it was */
  const size_t s2[2] = {5, 2};
  dn_tensor before = t;
  EXPECT(dn_tensor_reshape(&t, 2, s2), DN_ERR_SHAPE,
         "dn_tensor_reshape: cannot reshape [3 x 2 x 2] (12 elements) to [5 x 2] (10 elements)");
  assert_same_tensor(t, before);
  EXPECT(dn_tensor_reshape(&t, 5, s2), DN_ERR_SHAPE, "dn_tensor_reshape: rank 5");
  assert_same_tensor(t, before);
  const size_t zero[2] = {12, 0};
  EXPECT(dn_tensor_reshape(&t, 2, zero), DN_ERR_SHAPE, "[12 x 0]");
  assert_same_tensor(t, before);
  EXPECT(dn_tensor_reshape(&t, 2, NULL), DN_ERR_ARG, "shape is NULL");
  EXPECT(dn_tensor_reshape(NULL, 2, s2), DN_ERR_ARG, "dn_tensor_reshape: t is NULL");
  assert_same_tensor(t, before);

  /* reshaping to its own shape array (aliasing) and down to rank 1 */
  assert_ok(dn_tensor_reshape(&t, t.rank, t.shape));
  assert_int_equal(t.rank, 3);
  assert_int_equal(t.shape[2], 2);
  const size_t s1[1] = {12};
  assert_ok(dn_tensor_reshape(&t, 1, s1));
  assert_int_equal(t.rank, 1);
  assert_int_equal(dn_tensor_dim(t, 1), 0);
  assert_int_equal(t.shape[1], 0); /* unused axes cleared */
  assert_int_equal(t.shape[2], 0);
  assert_int_equal(dn_tensor_cols(t), 1);
  dn_tensor_free(&t);

  /* a view reshapes too; the zero tensor has nothing to reshape into */
  const float v[6] = {0};
  dn_tensor view = dn_tensor_2d(v, 2, 3);
  assert_ok(dn_tensor_reshape(&view, 2, (const size_t[]){3, 2}));
  assert_int_equal(dn_tensor_rows(view), 3);
  assert_ptr_equal(view.data, v);
  assert_false(view.owner);
  dn_tensor none = {0};
  EXPECT(dn_tensor_reshape(&none, 1, s1), DN_ERR_SHAPE, "[] (0 elements) to [12] (12 elements)");
}

static void test_copy_and_fill(void **state) {
  (void)state;
  dn_tensor a, b, c;
  assert_ok(dn_tensor_new_2d(&a, 2, 3));
  assert_ok(dn_tensor_new_2d(&b, 3, 2)); /* same size, other shape */
  assert_ok(dn_tensor_new_2d(&c, 2, 2));
  for (size_t i = 0; i < 6; i++)
    a.data[i] = 0.5f * (float)i - 1.0f;
  assert_ok(dn_tensor_copy(b, a));
  assert_memory_equal(b.data, a.data, 6 * sizeof(float));
  assert_int_equal(b.shape[0], 3); /* dst keeps its shape */

  dn_tensor_fill(c, -7.0f);
  EXPECT(dn_tensor_copy(c, a), DN_ERR_SHAPE,
         "dn_tensor_copy: sizes differ: dst [2 x 2] has 4 elements, src [2 x 3] has 6");
  for (size_t i = 0; i < 4; i++)
    assert_true(c.data[i] == -7.0f); /* unchanged */
  /* a tensor with a shape but no data */
  EXPECT(dn_tensor_copy(c, dn_tensor_2d(NULL, 2, 2)), DN_ERR_SHAPE, "dn_tensor_copy");
  EXPECT(dn_tensor_copy(dn_tensor_2d(NULL, 2, 2), c), DN_ERR_SHAPE, "dn_tensor_copy");
  EXPECT(dn_tensor_copy(c, (dn_tensor){0}), DN_ERR_SHAPE, "src [] has 0");
  for (size_t i = 0; i < 4; i++)
    assert_true(c.data[i] == -7.0f);
  assert_ok(dn_tensor_copy(a, a)); /* self copy is a no-op */
  assert_true(a.data[5] == 1.5f);
  /* overlapping views copy as memmove does */
  float buf[6] = {0, 1, 2, 3, 4, 5};
  dn_tensor rows = dn_tensor_2d(buf, 3, 2);
  assert_ok(dn_tensor_copy(dn_tensor_slice_rows(rows, 1, 2), dn_tensor_slice_rows(rows, 0, 2)));
  const float want[6] = {0, 1, 0, 1, 2, 3};
  assert_memory_equal(buf, want, sizeof buf);
  /* from const data through a view */
  static const float src[4] = {9, 8, 7, 6};
  assert_ok(dn_tensor_copy(c, dn_tensor_1d(src, 4)));
  assert_memory_equal(c.data, src, sizeof src);

  dn_tensor e1 = {0}, e2 = {0};
  assert_ok(dn_tensor_copy(e1, e2)); /* two empty tensors */
  dn_tensor_fill(e1, 1.0f);          /* no data: nothing to do */
  dn_tensor_fill(dn_tensor_2d(NULL, 3, 3), 1.0f);
  /* fill writes exactly the tensor's elements */
  float fillbuf[8] = {0};
  dn_tensor_fill(dn_tensor_slice_rows(dn_tensor_2d(fillbuf, 4, 2), 1, 2), 2.5f);
  const float filled[8] = {0, 0, 2.5f, 2.5f, 2.5f, 2.5f, 0, 0};
  assert_memory_equal(fillbuf, filled, sizeof fillbuf);
  dn_tensor_free(&a);
  dn_tensor_free(&b);
  dn_tensor_free(&c);
}

/* The header builds views inline and dn_predict_on_batch passes them by address; the exported
 * functions of the same names (for bindings and function pointers) must do exactly the same. */
static void test_exported_twins(void **state) {
  (void)state;
  const float data[6] = {1, 2, 3, 4, 5, 6};
  dn_tensor a = dn_tensor_2d(data, 2, 3), b = (dn_tensor_2d)(data, 2, 3);
  assert_ptr_equal(a.data, b.data);
  assert_int_equal(b.rank, 2);
  assert_int_equal(b.shape[0], 2);
  assert_int_equal(b.shape[1], 3);
  assert_int_equal(b.shape[2], 0);
  assert_false(b.owner);
  assert_memory_equal(&a.shape, &b.shape, sizeof a.shape);
  dn_tensor c = dn_tensor_1d(data, 6), d = (dn_tensor_1d)(data, 6);
  assert_int_equal(d.rank, 1);
  assert_int_equal(d.shape[0], 6);
  assert_int_equal(d.shape[1], 0);
  assert_memory_equal(&c.shape, &d.shape, sizeof c.shape);
  assert_int_equal(c.rank, d.rank);

  /* y = 2 x0 - x1 + 0.5 through a 2 -> 1 linear layer with set weights. */
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
  assert_non_null(m);
  const float w[3] = {2.0f, -1.0f, 0.5f};
  assert_int_equal(dn_model_set_weights(m, w, 3), DN_OK);
  const float x[4] = {1.0f, 2.0f, 3.0f, -1.0f};
  float y1[2] = {-9, -9}, y2[2] = {-9, -9}, y3[2] = {-9, -9};
  assert_int_equal(dn_predict_on_batch(m, dn_tensor_2d(x, 2, 2), dn_tensor_2d(y1, 2, 1)), DN_OK);
  assert_int_equal((dn_predict_on_batch)(m, dn_tensor_2d(x, 2, 2), dn_tensor_2d(y2, 2, 1)), DN_OK);
  dn_tensor xv = dn_tensor_2d(x, 2, 2), yv = dn_tensor_2d(y3, 2, 1);
  assert_int_equal(dn_predict_on_batch_ref(m, &xv, &yv), DN_OK);
  const float want[2] = {0.5f, 7.5f}; /* 2 - 2 + 0.5, 6 + 1 + 0.5 */
  for (int i = 0; i < 2; i++) {
    assert_float_equal(y1[i], want[i], 0.0f);
    assert_float_equal(y2[i], want[i], 0.0f);
    assert_float_equal(y3[i], want[i], 0.0f);
  }
  dn_status (*fn)(dn_model *, dn_tensor, dn_tensor) = dn_predict_on_batch;
  float y4[2] = {-9, -9};
  assert_int_equal(fn(m, xv, dn_tensor_2d(y4, 2, 1)), DN_OK);
  assert_float_equal(y4[1], 7.5f, 0.0f);
  /* The by-address form checks its pointers; the shape checks are the by-value call's. */
  assert_int_equal(dn_predict_on_batch_ref(m, NULL, &yv), DN_ERR_ARG);
  assert_non_null(strstr(dn_last_error(), "dn_predict_on_batch: x is NULL"));
  assert_int_equal(dn_predict_on_batch_ref(m, &xv, NULL), DN_ERR_ARG);
  dn_tensor narrow = dn_tensor_2d(x, 2, 1);
  assert_int_equal(dn_predict_on_batch_ref(m, &narrow, &yv), DN_ERR_SHAPE);
  assert_non_null(strstr(dn_last_error(), "x has 1 column but the model's input width is 2"));
  dn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_views_of_const_data),
      cmocka_unit_test(test_zero_dims_and_no_tensor),
      cmocka_unit_test(test_size_overflow),
      cmocka_unit_test(test_slice_rows),
      cmocka_unit_test(test_new_aligned_and_zeroed),
      cmocka_unit_test(test_new_errors),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_matrix_accepts),
      cmocka_unit_test(test_matrix_rejects),
      cmocka_unit_test(test_shape_size_and_text),
      cmocka_unit_test(test_reshape),
      cmocka_unit_test(test_copy_and_fill),
      cmocka_unit_test(test_exported_twins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
