/* test_fpenv.c -- flush-to-zero / denormals-are-zero around training calls: set while in force,
 * the caller's control register restored exactly after (also through the public hand-driven
 * passes), and denormal arithmetic really flushed. */
#include "dn_test.h"

#include "core/fpenv.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

/* volatile so the compiler cannot fold the arithmetic at compile time */
static volatile float tiny = 1e-39f; /* denormal */
static volatile float one = 1.0f;

/* The control bits of MXCSR (the low six are sticky exception flags that arithmetic sets). */
#define CONTROL(csr) ((csr) & ~0x3Fu)

/* Out of line so the product is computed under the register state of the call. */
static __attribute__((noinline)) float mul(float a, float b) {
  volatile float r = a * b;
  return r;
}

/* Whether this CPU (or emulator: valgrind ignores FTZ/DAZ) really flushes denormals. */
static bool flush_works(void) {
  dn_fp_state s = dn_fp_enter();
  bool flushed = (_mm_getcsr() & 0x8040u) == 0x8040u && mul(1e-20f, 1e-20f) == 0.0f;
  dn_fp_leave(s);
  if (!flushed)
    print_message("flush-to-zero is not honoured here (valgrind?): skipped\n");
  return flushed;
}

static void test_enter_leave(void **state) {
  (void)state;
#ifdef HAVE_MXCSR
  if (!flush_works())
    skip();
  unsigned int before = _mm_getcsr();
  /* a caller with an unusual state: rounding toward zero, FTZ/DAZ off */
  unsigned int custom = (before & ~0x8040u & ~0x6000u) | 0x6000u;
  _mm_setcsr(custom);
  assert_true(mul(tiny, one) != 0.0f); /* denormals work normally */
  dn_fp_state s = dn_fp_enter();
  assert_int_equal(CONTROL(s.csr), CONTROL(custom));
  assert_int_equal(_mm_getcsr() & 0x8040u, 0x8040u);
  assert_true(mul(tiny, one) == 0.0f);      /* DAZ: the denormal operand reads as zero */
  assert_true(mul(1e-20f, 1e-20f) == 0.0f); /* FTZ: a denormal result is flushed */
  dn_fp_leave(s);
  assert_int_equal(CONTROL(_mm_getcsr()), CONTROL(custom));
  assert_true(mul(tiny, one) != 0.0f);
  /* nested enter keeps the outer saved state */
  dn_fp_state a = dn_fp_enter(), b = dn_fp_enter();
  dn_fp_leave(b);
  assert_int_equal(_mm_getcsr() & 0x8040u, 0x8040u);
  dn_fp_leave(a);
  assert_int_equal(CONTROL(_mm_getcsr()), CONTROL(custom));
  /* adopt installs a state and returns the old one */
  dn_fp_state old = dn_fp_adopt((dn_fp_state){before});
  assert_int_equal(CONTROL(old.csr), CONTROL(custom));
  assert_int_equal(CONTROL(_mm_getcsr()), CONTROL(before));
#else
  skip();
#endif
}

/* The hand-driven public passes run with FTZ (a denormal result is flushed) and leave the
 * caller's register as it was. */
static void test_public_passes_restore(void **state) {
  (void)state;
#ifdef HAVE_MXCSR
  if (!flush_works())
    skip();
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 1));
  assert_non_null(m);
  assert_ok(dn_model_build(m, 1));
  const float w[2] = {1e-20f, 0.0f}; /* kernel, bias */
  assert_ok(dn_model_set_weights(m, w, 2));
  unsigned int before = _mm_getcsr();
  unsigned int custom = (before & ~0x8040u & ~0x6000u) | 0x2000u; /* round down, no FTZ */
  _mm_setcsr(custom);
  float outside = mul(1e-20f, w[0]); /* 1e-40: denormal, kept without FTZ */
  float x[1] = {1e-20f}, y[1] = {-1.0f}, dy[1] = {1e-20f}, dx[1] = {-1.0f};
  dn_status st = dn_model_forward(m, dn_tensor_2d(x, 1, 1), true, dn_tensor_2d(y, 1, 1));
  unsigned int after_fwd = _mm_getcsr();
  dn_status st2 = dn_model_backward_input(m, dn_tensor_2d(dy, 1, 1), dn_tensor_2d(dx, 1, 1));
  unsigned int after_bwd = _mm_getcsr();
  _mm_setcsr(before);
  assert_ok(st);
  assert_ok(st2);
  assert_true(outside != 0.0f);
  assert_true(y[0] == 0.0f);  /* x * w = 1e-40 flushed inside the call */
  assert_true(dx[0] == 0.0f); /* dy * w = 1e-40 flushed too */
  assert_int_equal(CONTROL(after_fwd), CONTROL(custom));
  assert_int_equal(CONTROL(after_bwd), CONTROL(custom));
  dn_model_free(m);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_enter_leave),
      cmocka_unit_test(test_public_passes_restore),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
