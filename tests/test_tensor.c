/* test_tensor.c -- tests of the tensor module: shapes, alignment, views, reshape, copy, errors. */
#include "dn_test.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/tensor.h"

static void test_init_aligned_and_zeroed(void **state) {
  (void)state;
  const size_t shapes[4][4] = {{7, 0, 0, 0}, {3, 5, 0, 0}, {2, 3, 5, 0}, {2, 1, 3, 17}};
  const size_t sizes[4] = {7, 15, 30, 102};
  for (int rank = 1; rank <= 4; rank++) {
    dn_tensor t;
    memset(&t, 0xAB, sizeof t); /* init must not read what was there */
    assert_ok(dn_tensor_init(&t, rank, shapes[rank - 1]));
    assert_non_null(t.data);
    assert_int_equal((uintptr_t)t.data % 64, 0);
    assert_int_equal(t.rank, rank);
    assert_int_equal(t.size, sizes[rank - 1]);
    assert_true(t.owner);
    for (int i = 0; i < rank; i++)
      assert_int_equal(t.shape[i], shapes[rank - 1][i]);
    for (size_t i = 0; i < t.size; i++)
      assert_true(t.data[i] == 0.0f && !signbit(t.data[i]));
    dn_tensor_free(&t);
    assert_null(t.data);
    assert_int_equal(t.rank, 0);
    assert_int_equal(t.size, 0);
  }
}

static void test_init_2d_and_queries(void **state) {
  (void)state;
  dn_tensor t = {0};
  assert_ok(dn_tensor_init_2d(&t, 4, 3));
  assert_int_equal(t.rank, 2);
  assert_int_equal(t.size, 12);
  assert_int_equal(dn_tensor_rows(&t), 4);
  assert_int_equal(dn_tensor_cols(&t), 3);
  assert_int_equal(dn_tensor_dim(&t, 0), 4);
  assert_int_equal(dn_tensor_dim(&t, 1), 3);
  assert_int_equal(dn_tensor_dim(&t, -1), 3);
  assert_int_equal(dn_tensor_dim(&t, -2), 4);
  assert_int_equal(dn_tensor_dim(&t, 2), 0);
  assert_int_equal(dn_tensor_dim(&t, -3), 0);
  dn_tensor_free(&t);

  /* rank 4: rows are the product of all axes but the last */
  const size_t s4[4] = {2, 3, 5, 7};
  assert_ok(dn_tensor_init(&t, 4, s4));
  assert_int_equal(dn_tensor_rows(&t), 30);
  assert_int_equal(dn_tensor_cols(&t), 7);
  assert_int_equal(dn_tensor_dim(&t, -4), 2);
  assert_int_equal(dn_tensor_dim(&t, -3), 3);
  assert_int_equal(dn_tensor_dim(&t, 3), 7);
  assert_int_equal(dn_tensor_dim(&t, 4), 0);
  assert_int_equal(dn_tensor_dim(&t, -5), 0);
  dn_tensor_free(&t);

  /* rank 1: one row of n columns */
  const size_t s1[1] = {9};
  assert_ok(dn_tensor_init(&t, 1, s1));
  assert_int_equal(dn_tensor_rows(&t), 1);
  assert_int_equal(dn_tensor_cols(&t), 9);
  dn_tensor_free(&t);

  /* the zero struct is an empty tensor */
  dn_tensor empty = {0};
  assert_int_equal(dn_tensor_rows(&empty), 0);
  assert_int_equal(dn_tensor_cols(&empty), 0);
  assert_int_equal(dn_tensor_dim(&empty, 0), 0);
  assert_int_equal(dn_tensor_dim(&empty, -1), 0);
  assert_int_equal(dn_tensor_rows(NULL), 0);
  assert_int_equal(dn_tensor_cols(NULL), 0);
  assert_int_equal(dn_tensor_dim(NULL, 0), 0);
  dn_tensor_free(&empty);
  dn_tensor_free(NULL);
}

static void test_view_borrows(void **state) {
  (void)state;
  float buf[6] = {1, 2, 3, 4, 5, 6};
  const size_t shape[2] = {2, 3};
  dn_tensor v;
  size_t allocs = dn_alloc_count();
  assert_ok(dn_tensor_view(&v, buf, 2, shape));
  assert_int_equal(dn_alloc_count(), allocs);
  assert_ptr_equal(v.data, buf);
  assert_false(v.owner);
  assert_int_equal(v.size, 6);
  assert_int_equal(dn_tensor_rows(&v), 2);
  dn_tensor_fill(&v, 2.5f);
  for (int i = 0; i < 6; i++)
    assert_true(buf[i] == 2.5f);
  /* freeing a view empties it and leaves the borrowed data alone (ASan would
   * report a free of a stack buffer) */
  dn_tensor_free(&v);
  assert_null(v.data);
  assert_int_equal(v.size, 0);
  assert_true(buf[0] == 2.5f && buf[5] == 2.5f);

  assert_status_msg(dn_tensor_view(&v, NULL, 2, shape), DN_ERR_ARG, "data is NULL");
  assert_status_msg(dn_tensor_view(NULL, buf, 2, shape), DN_ERR_ARG, "t is NULL");
  const size_t bad[2] = {2, 0};
  assert_status_msg(dn_tensor_view(&v, buf, 2, bad), DN_ERR_SHAPE, "dn_tensor_view");
}

static void test_reshape(void **state) {
  (void)state;
  dn_tensor t = {0};
  assert_ok(dn_tensor_init_2d(&t, 2, 6));
  for (size_t i = 0; i < t.size; i++)
    t.data[i] = (float)i;
  float *data = t.data;

  const size_t s3[3] = {3, 2, 2};
  assert_ok(dn_tensor_reshape(&t, 3, s3));
  assert_ptr_equal(t.data, data);
  assert_int_equal(t.rank, 3);
  assert_int_equal(t.size, 12);
  assert_int_equal(dn_tensor_dim(&t, 0), 3);
  assert_int_equal(dn_tensor_dim(&t, -1), 2);
  assert_int_equal(dn_tensor_rows(&t), 6);
  assert_int_equal(dn_tensor_cols(&t), 2);
  for (size_t i = 0; i < t.size; i++)
    assert_true(t.data[i] == (float)i);

  /* a size change is refused and leaves the tensor as it was */
  const size_t s2[2] = {5, 2};
  dn_tensor before = t;
  assert_status_msg(dn_tensor_reshape(&t, 2, s2), DN_ERR_SHAPE,
                    "cannot reshape [3 x 2 x 2] (12 elements) to [5 x 2] (10 elements)");
  assert_memory_equal(&t, &before, sizeof t);
  assert_status_msg(dn_tensor_reshape(&t, 5, s2), DN_ERR_SHAPE, "rank 5");
  assert_memory_equal(&t, &before, sizeof t);
  const size_t zero[2] = {12, 0};
  assert_status_msg(dn_tensor_reshape(&t, 2, zero), DN_ERR_SHAPE, "[12 x 0]");
  assert_memory_equal(&t, &before, sizeof t);
  assert_status_msg(dn_tensor_reshape(&t, 2, NULL), DN_ERR_ARG, "shape is NULL");
  assert_status_msg(dn_tensor_reshape(NULL, 2, s2), DN_ERR_ARG, "t is NULL");

  /* reshaping to its own shape array (aliasing) and down to rank 1 */
  assert_ok(dn_tensor_reshape(&t, t.rank, t.shape));
  assert_int_equal(t.rank, 3);
  assert_int_equal(t.shape[2], 2);
  const size_t s1[1] = {12};
  assert_ok(dn_tensor_reshape(&t, 1, s1));
  assert_int_equal(t.rank, 1);
  assert_int_equal(dn_tensor_dim(&t, 1), 0);
  assert_int_equal(t.shape[1], 0); /* unused axes cleared */
  dn_tensor_free(&t);
}

static void test_copy_and_fill(void **state) {
  (void)state;
  dn_tensor a = {0}, b = {0}, c = {0};
  assert_ok(dn_tensor_init_2d(&a, 2, 3));
  assert_ok(dn_tensor_init_2d(&b, 3, 2)); /* same size, other shape */
  assert_ok(dn_tensor_init_2d(&c, 2, 2));
  for (size_t i = 0; i < a.size; i++)
    a.data[i] = 0.5f * (float)i - 1.0f;
  assert_ok(dn_tensor_copy(&b, &a));
  assert_memory_equal(b.data, a.data, 6 * sizeof(float));
  assert_int_equal(b.shape[0], 3); /* dst keeps its shape */

  dn_tensor_fill(&c, -7.0f);
  assert_status_msg(dn_tensor_copy(&c, &a), DN_ERR_SHAPE,
                    "dst [2 x 2] has 4 elements, src [2 x 3] has 6");
  for (size_t i = 0; i < c.size; i++)
    assert_true(c.data[i] == -7.0f); /* unchanged */
  assert_status_msg(dn_tensor_copy(NULL, &a), DN_ERR_ARG, "dst is NULL");
  assert_status_msg(dn_tensor_copy(&c, NULL), DN_ERR_ARG, "src is NULL");
  assert_ok(dn_tensor_copy(&a, &a)); /* self copy is a no-op */
  assert_true(a.data[5] == 1.5f);

  dn_tensor e1 = {0}, e2 = {0};
  assert_ok(dn_tensor_copy(&e1, &e2)); /* two empty tensors */
  dn_tensor_fill(&e1, 1.0f);           /* no data: nothing to do */
  dn_tensor_fill(NULL, 1.0f);
  dn_tensor_free(&a);
  dn_tensor_free(&b);
  dn_tensor_free(&c);
}

static void test_bad_shapes(void **state) {
  (void)state;
  dn_tensor t;
  memset(&t, 0x5A, sizeof t);
  dn_tensor before = t;
  const size_t ok[4] = {2, 3, 4, 5};
  size_t allocs = dn_alloc_count();

  assert_status_msg(dn_tensor_init(&t, 0, ok), DN_ERR_SHAPE,
                    "dn_tensor_init: rank 0 is outside 1..4");
  assert_status_msg(dn_tensor_init(&t, 5, ok), DN_ERR_SHAPE, "rank 5 is outside 1..4");
  assert_status_msg(dn_tensor_init(&t, -1, ok), DN_ERR_SHAPE, "rank -1");
  const size_t z[3] = {4, 0, 2};
  assert_status_msg(dn_tensor_init(&t, 3, z), DN_ERR_SHAPE,
                    "dn_tensor_init: shape [4 x 0 x 2] has a zero dim (axis 1)");
  const size_t big[2] = {SIZE_MAX / 2, 3};
  assert_status_msg(dn_tensor_init(&t, 2, big), DN_ERR_SHAPE, "overflows");
  char want[64];
  snprintf(want, sizeof want, "[%zu x 3]", SIZE_MAX / 2);
  assert_status_msg(dn_tensor_init(&t, 2, big), DN_ERR_SHAPE, want);
  /* the element count fits in size_t but its bytes do not */
  const size_t bytes[1] = {SIZE_MAX / 2};
  assert_status_msg(dn_tensor_init(&t, 1, bytes), DN_ERR_SHAPE, "overflows");
  /* four dims whose product wraps to a small number */
  const size_t wrap[4] = {(size_t)1 << 32, (size_t)1 << 32, 2, 2};
  if (sizeof(size_t) == 8)
    assert_status_msg(dn_tensor_init(&t, 4, wrap), DN_ERR_SHAPE, "overflows");
  assert_status_msg(dn_tensor_init(&t, 2, NULL), DN_ERR_ARG, "shape is NULL");
  assert_status_msg(dn_tensor_init(NULL, 2, ok), DN_ERR_ARG, "dn_tensor_init: t is NULL");
  assert_status_msg(dn_tensor_init_2d(&t, 0, 3), DN_ERR_SHAPE, "[0 x 3]");
  assert_memory_equal(&t, &before, sizeof t);
  assert_int_equal(dn_alloc_count(), allocs); /* checked before allocating */

  size_t n = 99;
  assert_ok(dn_shape_size(4, ok, &n));
  assert_int_equal(n, 120);
  n = 99;
  assert_status_msg(dn_shape_size(2, big, &n), DN_ERR_SHAPE, "dn_shape_size");
  assert_int_equal(n, 99);
  assert_status_msg(dn_shape_size(2, ok, NULL), DN_ERR_ARG, "size is NULL");
  assert_status_msg(dn_shape_size(9, ok, &n), DN_ERR_SHAPE, "rank 9");
}

/* An allocator that fails on demand, to check the out-of-memory path. */
static int fail_next;
static void *failing_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  if (fail_next)
    return NULL;
  return aligned_alloc(alignment, size); /* dn_alloc passes a multiple of the alignment */
}
static void plain_free(void *ptr, void *ctx) {
  (void)ctx;
  free(ptr);
}

static void test_out_of_memory(void **state) {
  (void)state;
  dn_allocator a = {failing_alloc, plain_free, NULL};
  assert_ok(dn_set_allocator(&a));
  dn_tensor t = {0};
  fail_next = 1;
  assert_status_msg(dn_tensor_init_2d(&t, 3, 4), DN_ERR_NOMEM, "dn_tensor_init: out of memory");
  assert_null(t.data);
  assert_int_equal(t.rank, 0);
  fail_next = 0;
  assert_ok(dn_tensor_init_2d(&t, 3, 4));
  dn_tensor_free(&t);
  assert_ok(dn_set_allocator(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_aligned_and_zeroed),
      cmocka_unit_test(test_init_2d_and_queries),
      cmocka_unit_test(test_view_borrows),
      cmocka_unit_test(test_reshape),
      cmocka_unit_test(test_copy_and_fill),
      cmocka_unit_test(test_bad_shapes),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
