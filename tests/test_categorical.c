/* test_categorical.c -- dn_to_categorical (keras.utils.to_categorical) on tensors. */
#include "dn_test.h"

static void test_one_hot(void **state) {
  (void)state;
  const float idx[] = {2, 0, 1, 2};
  dn_tensor y;
  /* (n, 1) -> (n, 3), as Keras drops the last axis of 1 */
  assert_ok(dn_to_categorical(dn_tensor_2d(idx, 4, 1), 3, &y));
  assert_int_equal(y.rank, 2);
  assert_int_equal(y.shape[0], 4);
  assert_int_equal(y.shape[1], 3);
  const float want[] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  assert_memory_equal(y.data, want, sizeof want);
  dn_tensor_free(&y);
  /* (n,) with num_classes None: the largest label + 1 */
  assert_ok(dn_to_categorical(dn_tensor_1d(idx, 4), 0, &y));
  assert_int_equal(y.shape[1], 3);
  assert_memory_equal(y.data, want, sizeof want);
  dn_tensor_free(&y);
  /* more classes than seen; (2, 2) labels -> (2, 2, 5) */
  assert_ok(dn_to_categorical(dn_tensor_2d(idx, 2, 2), 5, &y));
  assert_int_equal(y.rank, 3);
  assert_int_equal(y.shape[2], 5);
  assert_true(y.data[0 * 5 + 2] == 1.0f && y.data[1 * 5 + 0] == 1.0f);
  assert_true(y.data[2 * 5 + 1] == 1.0f && y.data[3 * 5 + 2] == 1.0f);
  float sum = 0;
  for (size_t i = 0; i < 20; i++)
    sum += y.data[i];
  assert_true(sum == 4.0f);
  dn_tensor_free(&y);
}

static void test_errors(void **state) {
  (void)state;
  dn_tensor y = {0};
  const float neg[] = {0, -1}, frac[] = {0, 1.5f}, big[] = {0, 3}, nan_[] = {0, NAN};
  assert_status_msg(dn_to_categorical(dn_tensor_1d(neg, 2), 3, &y), DN_ERR_ARG,
                    "element 1 is -1, not a class index in [0, 3)");
  assert_status_msg(dn_to_categorical(dn_tensor_1d(frac, 2), 0, &y), DN_ERR_ARG,
                    "element 1 is 1.5");
  assert_status_msg(dn_to_categorical(dn_tensor_1d(big, 2), 3, &y), DN_ERR_ARG,
                    "element 1 is 3, not a class index in [0, 3)");
  assert_status_msg(dn_to_categorical(dn_tensor_1d(nan_, 2), 3, &y), DN_ERR_ARG, "element 1");
  assert_status_msg(dn_to_categorical((dn_tensor){0}, 3, &y), DN_ERR_ARG, "no tensor");
  assert_status_msg(dn_to_categorical(dn_tensor_1d(big, 2), 3, NULL), DN_ERR_ARG, "out is NULL");
  size_t shape4[] = {1, 1, 1, 2};
  assert_status_msg(dn_to_categorical(dn_tensor_view(big, 4, shape4), 4, &y), DN_ERR_SHAPE,
                    "rank 5");
  assert_null(y.data); /* left unchanged */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_hot), cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
