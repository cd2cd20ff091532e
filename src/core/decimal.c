/* decimal.c -- locale-independent decimal text -> float, correctly rounded (ties to even).
 *
 * Method: the significant digits are kept exactly (up to MAX_DIGITS, then a sticky flag).
 * Short inputs take Clinger's fast path in float arithmetic (an exact integer times or over an
 * exact power of ten: one rounding). Others get a double approximation (relative error below
 * 2^-50, from at most 19 digits and at most five roundings) whose float rounding is accepted
 * when the approximation lies well inside that float's rounding interval; otherwise the
 * candidate is settled exactly by comparing the decimal against the neighbouring midpoints
 * (2m+1) * 2^(e-1) with small big-integer arithmetic. strtod/strtof are not used: they follow
 * LC_NUMERIC. */
#include "core/decimal.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* A float midpoint has at most 113 significant decimal digits (25 bits times 5^150), so 128
 * exact digits plus "a non-zero digit follows" decide every comparison against one. */
#define MAX_DIGITS 128
/* Decimal exponents saturate here: far outside float's range, far inside int64_t. */
#define EXP_LIMIT 100000000
/* Bit pattern of +infinity: one past FLT_MAX, treated as the float 2^128 (even). */
#define INF_BITS 0x7f800000u
/* 48 x 32 bits: the largest product formed is about 710 bits. */
#define BIG_WORDS 48

/* value = 0.d1 d2 ... dn (then more non-zero digits if sticky) * 10^point */
typedef struct decimal {
  uint8_t digit[MAX_DIGITS];
  int n;
  bool sticky;
  int64_t point;
} decimal;

typedef struct big {
  uint32_t w[BIG_WORDS]; /* little-endian words */
  int n;                 /* words in use */
} big;

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float pow10_float[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                      1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

const char *dn_decimal_result_string(dn_decimal_result result) {
  switch (result) {
  case DN_DECIMAL_OK: return "a number";
  case DN_DECIMAL_EMPTY: return "missing value (empty cell)";
  case DN_DECIMAL_MALFORMED: return "malformed number";
  case DN_DECIMAL_NONFINITE: return "NaN or infinity is not accepted";
  case DN_DECIMAL_RANGE: return "number out of float range";
  }
  return "unknown result";
}

/* ---- small unsigned big integers (only what the midpoint comparison needs) ---- */

static void big_set(big *a, uint64_t v) {
  a->n = 0;
  while (v != 0) {
    a->w[a->n++] = (uint32_t)v;
    v >>= 32;
  }
}

static void big_mul_add(big *a, uint32_t m, uint32_t add) {
  uint64_t carry = add;
  for (int i = 0; i < a->n; i++) {
    uint64_t t = (uint64_t)a->w[i] * m + carry;
    a->w[i] = (uint32_t)t;
    carry = t >> 32;
  }
  if (carry != 0 && a->n < BIG_WORDS)
    a->w[a->n++] = (uint32_t)carry;
}

static void big_mul_pow5(big *a, int64_t e) {
  static const uint32_t pow5[14] = {1,       5,        25,        125,       625,
                                    3125,    15625,    78125,     390625,    1953125,
                                    9765625, 48828125, 244140625, 1220703125};
  for (; e >= 13; e -= 13)
    big_mul_add(a, pow5[13], 0);
  big_mul_add(a, pow5[e], 0);
}

static void big_shl(big *a, int64_t bits) {
  if (a->n == 0)
    return;
  int words = (int)(bits / 32), r = (int)(bits % 32);
  int n = a->n + words + 1;
  if (n > BIG_WORDS)
    n = BIG_WORDS; /* cannot happen within the exponent bounds used here */
  for (int i = n - 1; i >= 0; i--) {
    int src = i - words;
    uint32_t hi = (src >= 0 && src < a->n) ? a->w[src] : 0;
    uint32_t lo = (src - 1 >= 0 && src - 1 < a->n) ? a->w[src - 1] : 0;
    a->w[i] = r == 0 ? hi : (hi << r) | (lo >> (32 - r));
  }
  a->n = n;
  while (a->n > 0 && a->w[a->n - 1] == 0)
    a->n--;
}

static int big_cmp(const big *a, const big *b) {
  if (a->n != b->n)
    return a->n < b->n ? -1 : 1;
  for (int i = a->n - 1; i >= 0; i--)
    if (a->w[i] != b->w[i])
      return a->w[i] < b->w[i] ? -1 : 1;
  return 0;
}

/* ---- float bit patterns and their rounding midpoints ---- */

/* Non-negative float bits b as m * 2^e (b == INF_BITS gives 2^128). */
static void float_parts(uint32_t b, uint32_t *m, int *e) {
  uint32_t biased = b >> 23, frac = b & 0x7fffffu;
  if (biased == 0) {
    *m = frac;
    *e = -149;
  } else {
    *m = frac | 0x800000u;
    *e = (int)biased - 150;
  }
}

/* The midpoint between floats b and b+1, exactly (25 bits fit a double). */
static double midpoint(uint32_t b) {
  uint32_t m;
  int e;
  float_parts(b, &m, &e);
  return ldexp(2.0 * m + 1.0, e - 1);
}

/* Sign of (decimal - midpoint(b)), exactly. */
static int compare_midpoint(const decimal *d, uint32_t b) {
  uint32_t m;
  int e;
  float_parts(b, &m, &e);
  big left, right;
  big_set(&left, 0);
  for (int i = 0; i < d->n; i++)
    big_mul_add(&left, 10, d->digit[i]);
  big_set(&right, 2 * (uint64_t)m + 1);
  int64_t q = d->point - d->n; /* decimal = D * 10^q */
  int64_t k = e - 1;           /* midpoint = (2m+1) * 2^k */
  if (q >= 0) {
    big_mul_pow5(&left, q);
    big_shl(&left, q);
  } else {
    big_mul_pow5(&right, -q);
    big_shl(&right, -q);
  }
  if (k >= 0)
    big_shl(&right, k);
  else
    big_shl(&left, -k);
  int c = big_cmp(&left, &right);
  /* With sticky digits, the true value exceeds D * 10^q by less than 10^q, and the midpoint
   * is a multiple of 10^q (see MAX_DIGITS), so only equality changes. */
  if (c == 0 && d->sticky)
    c = 1;
  return c;
}

/* Moves the candidate b to the correctly rounded float (ties to even). */
static uint32_t settle_exactly(const decimal *d, uint32_t b) {
  for (;;) {
    if (b < INF_BITS) {
      int c = compare_midpoint(d, b);
      if (c > 0 || (c == 0 && (b & 1u))) {
        b++;
        continue;
      }
    }
    if (b > 0) {
      int c = compare_midpoint(d, b - 1);
      if (c < 0 || (c == 0 && (b & 1u))) {
        b--;
        continue;
      }
    }
    return b;
  }
}

/* True when v (relative error < 2^-50) is far enough inside b's rounding interval. */
static bool clearly_rounds_to(double v, uint32_t b) {
  double tol = v * 0x1p-47;
  double lo = b > 0 ? midpoint(b - 1) : -1.0;
  double hi = b < INF_BITS ? midpoint(b) : INFINITY;
  return v - lo > tol && hi - v > tol;
}

static uint32_t float_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* |value| as float bits, or INF_BITS if it rounds to infinity. */
static uint32_t round_decimal(const decimal *d) {
  int k = d->n < 19 ? d->n : 19;
  int64_t q = d->point - k;
  uint64_t top = 0;
  for (int i = 0; i < k; i++)
    top = top * 10 + d->digit[i];

#if FLT_EVAL_METHOD == 0
  /* Clinger's fast path: both operands exact in float, one rounding. */
  if (!d->sticky && d->n <= 7 && q >= -10 && q <= 10) {
    float f = (float)top;
    f = q >= 0 ? f * pow10_float[q] : f / pow10_float[-q];
    return float_bits(f);
  }
#endif

  double p = 1.0;
  int64_t a = q < 0 ? -q : q;
  for (; a > 22; a -= 22)
    p *= 1e22;
  p *= pow10_exact[a];
  double v = q >= 0 ? (double)top * p : (double)top / p;
  uint32_t b = v > (double)FLT_MAX ? INF_BITS : float_bits((float)v);
  if (!clearly_rounds_to(v, b))
    b = settle_exactly(d, b);
  return b;
}

static bool is_blank(char c, char delimiter) {
  return (c == ' ' || c == '\t') && c != delimiter;
}

static bool is_word(const char *s, size_t len, const char *word) {
  size_t n = strlen(word);
  if (len != n)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != word[i])
      return false;
  }
  return true;
}

static bool is_nonfinite_word(const char *s, size_t len) {
  return is_word(s, len, "nan") || is_word(s, len, "inf") || is_word(s, len, "infinity") ||
         (len >= 4 && is_word(s, 4, "nan(") && s[len - 1] == ')');
}

static int64_t saturate(int64_t v) {
  return v > EXP_LIMIT ? EXP_LIMIT : v < -EXP_LIMIT ? -EXP_LIMIT : v;
}

/* Appends one mantissa digit; `fraction` tells whether it follows the point. */
static void take_digit(decimal *d, int digit, bool fraction, int64_t *int_digits,
                       int64_t *lead_zeros) {
  if (d->n == 0 && digit == 0) {
    if (fraction)
      *lead_zeros = saturate(*lead_zeros + 1);
    return;
  }
  if (!fraction)
    *int_digits = saturate(*int_digits + 1);
  if (d->n < MAX_DIGITS)
    d->digit[d->n++] = (uint8_t)digit;
  else if (digit != 0)
    d->sticky = true;
}

dn_decimal_result dn_decimal_to_float(const char *s, size_t len, char delimiter, float *out) {
  size_t i = 0, end = len;
  while (i < end && is_blank(s[i], delimiter))
    i++;
  while (end > i && is_blank(s[end - 1], delimiter))
    end--;
  if (i == end)
    return DN_DECIMAL_EMPTY;
  bool negative = false;
  if (s[i] == '+' || s[i] == '-')
    negative = s[i++] == '-';
  if (is_nonfinite_word(s + i, end - i))
    return DN_DECIMAL_NONFINITE;

  decimal d;
  d.n = 0;
  d.sticky = false;
  int64_t int_digits = 0, lead_zeros = 0, exponent = 0;
  bool any_digit = false;
  for (; i < end && s[i] >= '0' && s[i] <= '9'; i++, any_digit = true)
    take_digit(&d, s[i] - '0', false, &int_digits, &lead_zeros);
  if (i < end && s[i] == '.')
    for (i++; i < end && s[i] >= '0' && s[i] <= '9'; i++, any_digit = true)
      take_digit(&d, s[i] - '0', true, &int_digits, &lead_zeros);
  if (!any_digit)
    return DN_DECIMAL_MALFORMED;
  if (i < end && (s[i] == 'e' || s[i] == 'E')) {
    bool exp_negative = false, exp_digit = false;
    i++;
    if (i < end && (s[i] == '+' || s[i] == '-'))
      exp_negative = s[i++] == '-';
    for (; i < end && s[i] >= '0' && s[i] <= '9'; i++, exp_digit = true)
      exponent = saturate(exponent * 10 + (s[i] - '0'));
    if (!exp_digit)
      return DN_DECIMAL_MALFORMED;
    if (exp_negative)
      exponent = -exponent;
  }
  if (i != end)
    return DN_DECIMAL_MALFORMED;

  if (!d.sticky)
    while (d.n > 0 && d.digit[d.n - 1] == 0)
      d.n--;
  uint32_t bits;
  d.point = saturate(int_digits - lead_zeros + exponent);
  if (d.n == 0 || d.point < -45) /* |value| < 1e-46 < half the smallest subnormal */
    bits = 0;
  else if (d.point > 39) /* |value| >= 1e39 > FLT_MAX */
    bits = INF_BITS;
  else
    bits = round_decimal(&d);
  if (bits >= INF_BITS)
    return DN_DECIMAL_RANGE;
  float f;
  memcpy(&f, &bits, sizeof f);
  *out = negative ? -f : f;
  return DN_DECIMAL_OK;
}
