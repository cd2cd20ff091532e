/* fuzz_csv.c -- libFuzzer harness for the CSV loader: arbitrary bytes through
 * dn_csv_load_stream with several option sets (checking the result's invariants and freeing
 * everything), the split of what loads, and dn_decimal_to_float against strtof. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "core/decimal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_csv: check failed: %s (line %d), last error: %s\n", #cond, __LINE__,   \
              dn_last_error());                                                                    \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static const char *const target_a[] = {"a", NULL};
static const char *const features_bc[] = {"b", "c", NULL};
static const size_t column0[] = {0};
static const size_t columns12[] = {1, 2};

static const dn_csv_load_options option_sets[] = {
    {0},
    {.target_names = target_a, .drop_invalid_rows = true},
    {.feature_names = features_bc, .target_names = target_a},
    {.no_header = true,
     .target_columns = column0,
     .n_target_columns = 1,
     .feature_columns = columns12,
     .n_feature_columns = 2,
     .delimiter = ';',
     .drop_invalid_rows = true},
    {.delimiter = '\t', .target_columns = column0, .n_target_columns = 1},
    {.delimiter = '\xff', .drop_invalid_rows = true},
};

static bool no_tensor(dn_tensor t) {
  return t.data == NULL && t.rank == 0 && !t.owner && t.shape[0] == 0 && t.shape[1] == 0;
}

static void check_load(const uint8_t *data, size_t size, const dn_csv_load_options *options) {
  /* fmemopen wants a non-empty buffer; /dev/null stands in for the empty input */
  FILE *f = size > 0 ? fmemopen((void *)(uintptr_t)data, size, "r") : fopen("/dev/null", "r");
  if (f == NULL)
    return;
  dn_dataset d;
  dn_status s = dn_csv_load_stream(f, "fuzz.csv", options, &d);
  fclose(f);
  if (s != DN_OK) {
    CHECK(no_tensor(d.x) && no_tensor(d.y) && d.dropped_rows == 0);
    CHECK(strstr(dn_last_error(), "dn_csv_load") != NULL);
    CHECK(s == DN_ERR_FORMAT || s == DN_ERR_ARG || s == DN_ERR_NOMEM);
    return;
  }
  size_t rows = dn_tensor_rows(d.x), features = dn_tensor_cols(d.x), targets = dn_tensor_cols(d.y);
  CHECK(rows >= 1 && features >= 1 && d.x.data != NULL && d.x.rank == 2 && d.x.owner);
  CHECK(targets == 0
            ? no_tensor(d.y)
            : d.y.data != NULL && d.y.rank == 2 && d.y.owner && dn_tensor_rows(d.y) == rows);
  for (size_t i = 0; i < rows * features; i++)
    CHECK(isfinite(d.x.data[i]));
  for (size_t i = 0; i < rows * targets; i++)
    CHECK(isfinite(d.y.data[i]));
  if (rows >= 2) {
    dn_dataset train, test;
    CHECK(dn_train_test_split(&d, 0.3, size, &train, &test) == DN_OK);
    size_t tr = dn_tensor_rows(train.x), te = dn_tensor_rows(test.x);
    CHECK(tr + te == rows && tr >= 1 && te >= 1);
    dn_dataset_free(&train);
    dn_dataset_free(&test);
  }
  dn_dataset_free(&d);
}

/* Differential check: for text made only of [0-9+-.eE], dn_decimal_to_float accepts exactly
 * what strtof (in the "C" locale) consumes whole, with the same float. */
static void check_number(const uint8_t *data, size_t size) {
  if (size == 0 || size > 256)
    return;
  char text[257];
  for (size_t i = 0; i < size; i++) {
    char c = (char)data[i];
    if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E'))
      return;
    text[i] = c;
  }
  text[size] = '\0';
  float got = 0;
  dn_decimal_result r = dn_decimal_to_float(text, size, 0, &got);
  char *end;
  float want = strtof(text, &end);
  if (end != text + size) {
    CHECK(r == DN_DECIMAL_MALFORMED);
  } else if (isinf(want)) {
    CHECK(r == DN_DECIMAL_RANGE);
  } else {
    CHECK(r == DN_DECIMAL_OK);
    CHECK(memcmp(&got, &want, sizeof got) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (size_t i = 0; i < sizeof option_sets / sizeof option_sets[0]; i++)
    check_load(data, size, &option_sets[i]);

  check_number(data, size);
  return 0;
}
