/* predict_check.c -- the ctest of densenet-predict: makes a small model and CSV files in a
 * scratch folder, runs the tool on them, and compares its output with the predictions
 * dn_predict gives in-process (text for text), plus its error exits.
 *   predict_check TOOL WORKDIR
 * Ends with "N passed, M failed"; the exit status is 0 only if every check passed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "densenet.h"
#include "tool_check.h"

static const char *tool;

static int run(const char *args) {
  return run_tool(tool, args, false);
}

/* The expected output text for x (rows x 3) with the given header. */
static void expected(dn_model *m, const float *x, size_t rows, const char *header, char *out,
                     size_t cap) {
  /* Zeroed: dn_tensor_2d takes a const float *, and gcc 12 -O2 warns about passing it an
   * uninitialised array (-Wmaybe-uninitialized) although dn_predict only writes it. */
  float y[64] = {0};
  if (dn_predict(m, dn_tensor_2d(x, rows, 3), dn_tensor_2d(y, rows, 2)) != DN_OK) {
    fprintf(stderr, "dn_predict: %s\n", dn_last_error());
    exit(1);
  }
  size_t len = (size_t)snprintf(out, cap, "%s\n", header);
  for (size_t i = 0; i < rows; i++)
    len += (size_t)snprintf(out + len, cap - len, "%.9g,%.9g\n", (double)y[2 * i],
                            (double)y[2 * i + 1]);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s TOOL WORKDIR\n", argv[0]);
    return 2;
  }
  tool = argv[1];
  dir = argv[2];
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
  if (system(cmd) != 0)
    return 1;

  dn_model *m = dn_sequential(dn_dense(4, .activation = "tanh", .input_dim = 3), dn_dense(2));
  if (m == NULL || dn_model_set_seed(m, 5) != DN_OK || dn_model_save(m, path("m.dnn")) != DN_OK) {
    fprintf(stderr, "setup: %s\n", dn_last_error());
    return 1;
  }
  const float x[] = {0.5f, -1.0f, 2.0f, 1.25f, 0.0f, -0.75f, 3.0f, 1e-3f, 7.5f};
  write_text(path("in.csv"), "a,b,c\n0.5,-1,2\n1.25,0,-0.75\n3,0.001,7.5\n");
  char want[4096], args[2048];

  /* Every column a feature, to a file and to stdout. */
  expected(m, x, 3, "pred_0,pred_1", want, sizeof want);
  snprintf(args, sizeof args, "'%s' '%s' --out '%s'", path("m.dnn"), path("in.csv"),
           path("out.csv"));
  check(run(args) == 0, "plain run exits 0");
  char *got = read_text(path("out.csv"));
  check(got && strcmp(got, want) == 0, "plain run writes dn_predict's values");
  if (got && strcmp(got, want) != 0)
    fprintf(stderr, "got:\n%swant:\n%s", got, want);
  free(got);
  snprintf(args, sizeof args, "'%s' '%s' > '%s'", path("m.dnn"), path("in.csv"),
           path("stdout.csv"));
  check(run(args) == 0, "stdout run exits 0");
  got = read_text(path("stdout.csv"));
  check(got && strcmp(got, want) == 0, "stdout run writes the same");
  free(got);

  /* Targets among the columns: excluded from the features, naming the output. */
  write_text(path("targets.csv"), "t1,a,b,t2,c\n9,0.5,-1,9,2\n9,1.25,0,9,-0.75\n9,3,0.001,9,7.5\n");
  expected(m, x, 3, "t1,t2", want, sizeof want);
  snprintf(args, sizeof args, "'%s' '%s' --target t1,t2 --out '%s'", path("m.dnn"),
           path("targets.csv"), path("out2.csv"));
  check(run(args) == 0, "--target run exits 0");
  got = read_text(path("out2.csv"));
  check(got && strcmp(got, want) == 0, "--target names the output columns");
  free(got);

  /* --features picks and orders columns. */
  write_text(path("shuffled.csv"), "c;x;a;b\n2;x;0.5;-1\n-0.75;y;1.25;0\n7.5;z;3;0.001\n");
  expected(m, x, 3, "pred_0,pred_1", want, sizeof want);
  snprintf(args, sizeof args, "'%s' '%s' --delimiter ';' --features a,b,c --out '%s'",
           path("m.dnn"), path("shuffled.csv"), path("out3.csv"));
  check(run(args) == 0, "--features run exits 0");
  got = read_text(path("out3.csv"));
  check(got && strcmp(got, want) == 0, "--features orders the inputs");
  free(got);

  /* Errors: a message on stderr and a non-zero exit. */
  snprintf(args, sizeof args, "'%s' '%s'", path("missing.dnn"), path("in.csv"));
  check(run(args) == 1, "a missing model exits 1");
  got = read_text(path("stderr.txt"));
  check(got && strstr(got, "cannot load the model") && strstr(got, "missing.dnn"),
        "a missing model is named on stderr");
  free(got);
  write_text(path("two.csv"), "a,b\n1,2\n");
  snprintf(args, sizeof args, "'%s' '%s'", path("m.dnn"), path("two.csv"));
  check(run(args) == 1, "a feature count mismatch exits 1");
  got = read_text(path("stderr.txt"));
  check(got && strstr(got, "takes 3 features"), "the mismatch is explained");
  free(got);
  snprintf(args, sizeof args, "'%s' '%s'", path("in.csv"), path("in.csv"));
  check(run(args) == 1, "a CSV given as the model exits 1");
  got = read_text(path("stderr.txt"));
  check(got && strstr(got, "magic"), "a non-model file is reported as such");
  free(got);
  snprintf(args, sizeof args, "'%s' '%s' --features a,b,zz", path("m.dnn"), path("in.csv"));
  check(run(args) == 1, "an unknown column exits 1");
  snprintf(args, sizeof args, "'%s' '%s' --target a", path("m.dnn"), path("in.csv"));
  check(run(args) == 1, "a target count that does not match the outputs exits 1");
  snprintf(args, sizeof args, "'%s' '%s' --out '%s'", path("m.dnn"), path("in.csv"),
           path("no_such_dir/out.csv"));
  check(run(args) == 1, "an output file that cannot be created exits 1");
  got = read_text(path("stderr.txt"));
  check(got && strstr(got, "cannot create the output file") && strstr(got, "no_such_dir/out.csv") &&
            strstr(got, "No such file or directory"),
        "the output file that cannot be created is named, with the reason");
  free(got);
  /* Special files: /dev/zero is refused at once (it used to be read without end), as a model
   * and as a CSV; a pipe and standard input are read. */
  snprintf(args, sizeof args, "'%s' /dev/zero", path("m.dnn"));
  check(run(args) == 1, "/dev/zero as the CSV exits 1");
  got = read_text(path("stderr.txt"));
  check(got && strstr(got, "'/dev/zero' is not a regular file (it is a character device)"),
        "/dev/zero as the CSV is named as a device");
  free(got);
  snprintf(args, sizeof args, "/dev/zero '%s'", path("in.csv"));
  check(run(args) == 1, "/dev/zero as the model exits 1");
  got = read_text(path("stderr.txt"));
  check(got && strstr(got, "'/dev/zero' is not a regular file (it is a character device)") &&
            !strstr(got, "No such file"),
        "/dev/zero as the model is named as a device, without a stale reason");
  free(got);
  expected(m, x, 3, "pred_0,pred_1", want, sizeof want);
  snprintf(args, sizeof args, "'%s' - < '%s' > '%s'", path("m.dnn"), path("in.csv"),
           path("stdin_out.csv"));
  check(run(args) == 0, "a CSV on standard input exits 0");
  got = read_text(path("stdin_out.csv"));
  check(got && strcmp(got, want) == 0, "a CSV on standard input gives the same predictions");
  free(got);
  snprintf(args, sizeof args, "'%s' - --out '%s' < /dev/zero", path("m.dnn"), path("z.csv"));
  check(run(args) == 1, "endless NULs on standard input exit 1");
  got = read_text(path("stderr.txt"));
  check(got && strstr(got, "longer than 1048576 bytes"), "endless NULs end at the record limit");
  free(got);
  snprintf(cmd, sizeof cmd, "rm -f '%s' && mkfifo '%s'", path("in.fifo"), path("in.fifo"));
  if (system(cmd) == 0) {
    /* (the writer gives up after 20 s if the tool never opens the FIFO) */
    char fifo[512], model[512];
    snprintf(fifo, sizeof fifo, "%s", path("in.fifo"));
    snprintf(model, sizeof model, "%s", path("m.dnn"));
    snprintf(args, sizeof args,
             "'%s' '%s' --out '%s' & timeout 20 sh -c \"cat '%s' > '%s'\"; wait $!", model, fifo,
             path("fifo_out.csv"), path("in.csv"), fifo);
    check(run(args) == 0, "a CSV through a FIFO exits 0");
    got = read_text(path("fifo_out.csv"));
    check(got && strcmp(got, want) == 0, "a CSV through a FIFO gives the same predictions");
    free(got);
    snprintf(args, sizeof args, "'%s' '%s'", path("in.fifo"), path("in.csv"));
    check(run(args) == 1, "a FIFO as the model exits 1 without blocking");
    got = read_text(path("stderr.txt"));
    check(got && strstr(got, "is not a regular file (it is a FIFO)"), "the FIFO is named as one");
    free(got);
  }
  check(run("") == 2, "no arguments is a usage error");
  snprintf(args, sizeof args, "'%s' '%s' --bogus", path("m.dnn"), path("in.csv"));
  check(run(args) == 2, "an unknown option is a usage error");
  snprintf(args, sizeof args, "--help > '%s'", path("usage.txt"));
  check(run(args) == 0, "--help exits 0");
  got = read_text(path("usage.txt"));
  check(got && strstr(got, "native model file") && strstr(got, ".keras") && strstr(got, ".h5"),
        "the usage says which model files the tool reads");
  free(got);

  dn_model_free(m);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
