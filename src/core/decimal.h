/* decimal.h -- internal: locale-independent, correctly rounded decimal text -> float. */
#ifndef DN_DECIMAL_H
#define DN_DECIMAL_H

#include <stddef.h>

/* What dn_decimal_to_float found. */
typedef enum dn_decimal_result {
  DN_DECIMAL_OK = 0,
  DN_DECIMAL_EMPTY,     /* nothing but spaces/tabs: a missing value */
  DN_DECIMAL_MALFORMED, /* not a decimal number */
  DN_DECIMAL_NONFINITE, /* "nan", "inf", "infinity" (any case, any sign) */
  DN_DECIMAL_RANGE,     /* |value| rounds to infinity as a float */
} dn_decimal_result;

/* Parses the `len` bytes at `s` (no terminator needed) as
 *   [spaces] [+|-] digits [. [digits]] [(e|E) [+|-] digits] [spaces]
 * (or with the digits only after the point: ".5"), where spaces are ' ' and
 * '\t' except `delimiter` (pass 0 for none). The value is rounded to the
 * nearest float, ties to even, exactly as a correct strtof does in the "C"
 * locale, whatever LC_NUMERIC says; values below the smallest subnormal go to
 * a signed zero. Hexadecimal forms, "nan" and "inf" are not accepted.
 * On DN_DECIMAL_OK *out is the value; otherwise *out is unchanged. */
dn_decimal_result dn_decimal_to_float(const char *s, size_t len, char delimiter, float *out);

/* A constant English phrase for a result ("malformed number", ...). */
const char *dn_decimal_result_string(dn_decimal_result result);

#endif
