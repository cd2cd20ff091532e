/* export_check.c -- the ctest of densenet-export: saves a model in a scratch folder, runs the
 * tool on it and compares the files it writes with those dn_model_export_c writes in-process
 * (byte for byte), plus its usage and error exits (each error: one line on stderr, nothing
 * written).
 *   export_check TOOL WORKDIR
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
  return run_tool(tool, args, true);
}

static bool same_text(const char *a, const char *b) {
  char *x = read_text(a), *y = read_text(b);
  bool same = x != NULL && y != NULL && strcmp(x, y) == 0 && x[0] != '\0';
  free(x);
  free(y);
  return same;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s TOOL WORKDIR\n", argv[0]);
    return 2;
  }
  tool = argv[1];
  dir = argv[2];
  char cmd[2048], args[2048];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/out' '%s/ref' '%s/bad'", dir, dir, dir,
           dir);
  if (system(cmd) != 0)
    return 1;

  dn_model *m = dn_sequential(dn_normalization(.input_dim = 3), dn_dense(4, .activation = "tanh"),
                              dn_dropout(0.2), dn_dense(2, .activation = "softmax"));
  dn_model *unbuilt = dn_sequential(dn_dense(4), dn_dense(1));
  if (m == NULL || unbuilt == NULL || dn_model_save(m, path("model.dn")) != DN_OK ||
      dn_model_export_c(m, path("ref"), "tiny_net") != DN_OK) {
    fprintf(stderr, "setup: %s\n", dn_last_error());
    return 1;
  }
  bool unbuilt_saved = dn_model_save(unbuilt, path("unbuilt.dn")) == DN_OK;

  /* The files, as the library writes them. */
  snprintf(args, sizeof args, "'%s' tiny_net --dir '%s'", path("model.dn"), path("out"));
  check(run(args) == 0, "export exits 0");
  check(same_text(join(path("out"), "tiny_net.h"), join(path("ref"), "tiny_net.h")),
        "tiny_net.h equals dn_model_export_c's");
  check(same_text(join(path("out"), "tiny_net.c"), join(path("ref"), "tiny_net.c")),
        "tiny_net.c equals dn_model_export_c's");
  char *said = read_text(path("stdout.txt"));
  check(said != NULL && strstr(said, "tiny_net.h and ") != NULL &&
            strstr(said, "(3 inputs, 2 outputs)") != NULL,
        "stdout names the files and the widths");
  free(said);

  /* Usage. */
  check(run("--help") == 0, "--help exits 0");
  check(run("") == 2, "no arguments exit 2");
  snprintf(args, sizeof args, "'%s'", path("model.dn"));
  check(run(args) == 2, "no NAME exits 2");
  snprintf(args, sizeof args, "'%s' net --bogus", path("model.dn"));
  check(run(args) == 2, "an unknown option exits 2");
  snprintf(args, sizeof args, "'%s' a b c", path("model.dn"));
  check(run(args) == 2, "an extra argument exits 2");

  /* Errors: exit 1, one line, nothing written. */
  snprintf(args, sizeof args, "'%s' my-net --dir '%s'", path("model.dn"), path("bad"));
  check(run(args) == 1 && stderr_one_line(NULL, "is not a C identifier"), "a bad name is refused");
  snprintf(args, sizeof args, "'%s' net --dir '%s'", path("model.dn"), path("bad/missing"));
  check(run(args) == 1 && stderr_one_line(NULL, "bad/missing"), "a missing folder is refused");
  snprintf(args, sizeof args, "'%s' net --dir '%s'", path("model.dn"), path("model.dn"));
  check(run(args) == 1 && stderr_one_line(NULL, "is not a directory"),
        "a file as folder is refused");
  snprintf(args, sizeof args, "'%s' net --dir '%s'", path("absent.dn"), path("bad"));
  check(run(args) == 1 && stderr_one_line(NULL, "absent.dn"), "a missing model is refused");
  write_text(path("junk.dn"), "not a model\n");
  snprintf(args, sizeof args, "'%s' net --dir '%s'", path("junk.dn"), path("bad"));
  check(run(args) == 1 && stderr_one_line(NULL, "junk.dn"), "a file that is no model is refused");
  if (unbuilt_saved) {
    snprintf(args, sizeof args, "'%s' net --dir '%s'", path("unbuilt.dn"), path("bad"));
    check(run(args) == 1 && stderr_one_line(NULL, "no input shape"), "an unbuilt model is refused");
  } else {
    printf("skip: the native format does not hold an unbuilt model (%s)\n", dn_last_error());
  }
  check(!file_exists(join(path("bad"), "net.h")) && !file_exists(join(path("bad"), "net.c")) &&
            !file_exists(join(path("bad"), "my-net.h")),
        "the errors wrote nothing");

  dn_model_free(m);
  dn_model_free(unbuilt);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
