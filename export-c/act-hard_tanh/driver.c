#include <stdio.h>
#include <stdlib.h>
#include "net.h"
int main(int argc, char **argv) {
  size_t rows, r;
  if (argc != 4)
    return 2;
  rows = (size_t)atol(argv[1]);
  float *x = malloc(rows * NET_INPUT_DIM * sizeof *x);
  float *y = malloc(2 * rows * NET_OUTPUT_DIM * sizeof *y);
  FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
  if (!x || !y || !in || !out || fread(x, sizeof *x, rows * NET_INPUT_DIM, in) !=
      rows * NET_INPUT_DIM)
    return 1;
  for (r = 0; r < rows; r++)
    net_predict(x + r * NET_INPUT_DIM, y + r * NET_OUTPUT_DIM);
  net_predict_batch(x, rows, y + rows * NET_OUTPUT_DIM);
  fwrite(y, sizeof *y, 2 * rows * NET_OUTPUT_DIM, out);
  return fclose(out) != 0;
}
