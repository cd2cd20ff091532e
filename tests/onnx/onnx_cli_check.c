/* onnx_cli_check.c -- the ONNX route from the command line: densenet-export --onnx writes a
 * saved model as an ONNX file that dn_onnx_load reads back with the same predictions (bit for
 * bit), and densenet-predict predicts from the .onnx file what it predicts from the native file
 * (the same text); errors exit 1 with one line and write nothing.
 *   onnx_cli_check EXPORT PREDICT WORKDIR
 * Ends with "N passed, M failed"; the exit status is 0 only if every check passed. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "densenet.h"
#include "densenet_onnx.h"
#include "tool_check.h"

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s EXPORT PREDICT WORKDIR\n", argv[0]);
    return 2;
  }
  const char *exporter = argv[1], *predictor = argv[2];
  dir = argv[3];
  char cmd[2048], args[2048];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
  if (system(cmd) != 0)
    return 1;

  /* A model with weights that are not round numbers, saved natively, and rows to predict. */
  dn_model *m = dn_sequential(dn_normalization(.input_dim = 3), dn_dense(5, .activation = "elu"),
                              dn_dense(4, .activation = "relu"), dn_dense(2));
  if (m == NULL || dn_model_set_seed(m, 42) != DN_OK ||
      dn_model_save(m, path("model.dn")) != DN_OK) {
    fprintf(stderr, "setup: %s\n", dn_last_error());
    return 1;
  }
  enum { ROWS = 7 };
  float x[3 * ROWS], want[2 * ROWS], got[2 * ROWS];
  char csv[1024] = "a,b,c\n";
  for (size_t i = 0; i < ROWS; i++) {
    for (size_t j = 0; j < 3; j++)
      x[3 * i + j] = (float)((double)((i * 5 + j * 7) % 13) / 4.0 - 1.3);
    size_t len = strlen(csv);
    snprintf(csv + len, sizeof csv - len, "%.9g,%.9g,%.9g\n", (double)x[3 * i],
             (double)x[3 * i + 1], (double)x[3 * i + 2]);
  }
  write_text(path("rows.csv"), csv);
  dn_predict(m, dn_tensor_2d(x, ROWS, 3), dn_tensor_2d(want, ROWS, 2));

  /* densenet-export --onnx, then the file in-process. */
  snprintf(args, sizeof args, "'%s' --onnx '%s'", path("model.dn"), path("model.onnx"));
  check(run_tool(exporter, args, true) == 0, "densenet-export --onnx exits 0");
  char *said = read_text(path("stdout.txt"));
  check(said != NULL && strstr(said, "model.onnx (3 inputs, 2 outputs)") != NULL,
        "stdout names the file and the widths");
  free(said);
  dn_model *back = dn_onnx_load(path("model.onnx"));
  check(back != NULL, "the file loads with dn_onnx_load");
  if (back != NULL) {
    check(dn_predict(back, dn_tensor_2d(x, ROWS, 3), dn_tensor_2d(got, ROWS, 2)) == DN_OK &&
              memcmp(got, want, sizeof got) == 0,
          "its predictions equal the model's bit for bit");
    dn_model_free(back);
  }
  snprintf(args, sizeof args, "'%s' --onnx '%s' --opset 13", path("model.dn"),
           path("model13.onnx"));
  check(run_tool(exporter, args, true) == 0, "--opset 13 exits 0");

  /* densenet-predict on the .onnx file prints what it prints for the native file. */
  snprintf(args, sizeof args, "'%s' '%s'", path("model.dn"), path("rows.csv"));
  check(run_tool(predictor, args, true) == 0, "densenet-predict on the native file exits 0");
  char *native = read_text(path("stdout.txt"));
  snprintf(args, sizeof args, "'%s' '%s'", path("model.onnx"), path("rows.csv"));
  check(run_tool(predictor, args, true) == 0, "densenet-predict on the .onnx file exits 0");
  char *onnx = read_text(path("stdout.txt"));
  check(native != NULL && onnx != NULL && native[0] != '\0' && strcmp(native, onnx) == 0,
        "densenet-predict prints the same predictions from both");
  free(native);
  free(onnx);

  /* Errors: exit 1, one line on stderr, nothing written. */
  snprintf(args, sizeof args, "'%s' --onnx '%s'", path("model.dn"), path("missing/m.onnx"));
  check(run_tool(exporter, args, true) == 1 && stderr_one_line("densenet-export: ", "missing"),
        "a missing folder: exit 1 and one line on stderr");
  check(!file_exists(path("missing/m.onnx")), "nothing written");
  snprintf(args, sizeof args, "'%s' --onnx '%s' --opset 12", path("model.dn"), path("x.onnx"));
  check(run_tool(exporter, args, true) == 1, "an opset out of range: exit 1");
  snprintf(args, sizeof args, "'%s' --onnx '%s' --opset twelve", path("model.dn"), path("x.onnx"));
  check(run_tool(exporter, args, true) == 2, "a bad --opset value: exit 2");
  check(!file_exists(path("x.onnx")), "no file for the refused opsets");
  write_text(path("junk.onnx"), "not protobuf at all");
  snprintf(args, sizeof args, "'%s' '%s'", path("junk.onnx"), path("rows.csv"));
  check(run_tool(predictor, args, true) == 1, "densenet-predict on a damaged .onnx: exit 1");

  dn_model_free(m);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
