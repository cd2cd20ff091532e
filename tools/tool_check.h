/* tool_check.h -- what the tools' ctest programs (predict_check.c, train_check.c) share: the
 * pass/fail count, the scratch folder, writing and reading its files and running a tool there.
 * Each program sets `dir` and ends with "N passed, M failed". Included once per program. */
#ifndef DN_TOOL_CHECK_H
#define DN_TOOL_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int passed, failed;
static const char *dir; /* the scratch folder */

static void check(int ok, const char *what) {
  if (ok)
    passed++;
  else {
    failed++;
    fprintf(stderr, "FAILED: %s\n", what);
  }
}

/* base/name, in one of 8 rotating buffers; path(name) is dir/name. */
static char *join(const char *base, const char *name) {
  static char buf[8][1024];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", base, name);
  return buf[k];
}
static char *path(const char *name) {
  return join(dir, name);
}

static void write_text(const char *file, const char *text) {
  FILE *f = fopen(file, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", file);
    exit(1);
  }
}

/* The file's text (NUL-terminated, at most 4 MiB; free it), or NULL. */
static char *read_text(const char *file) {
  FILE *f = fopen(file, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = (size_t)4 << 20;
  char *buf = calloc(1, cap);
  size_t n = buf ? fread(buf, 1, cap - 1, f) : 0;
  (void)n;
  fclose(f);
  return buf;
}

/* Runs `tool args` (args: a shell fragment) with stderr in dir/stderr.txt and, if
 * capture_stdout, stdout in dir/stdout.txt; returns its exit status (-1 if it crashed). */
static int run_tool(const char *tool, const char *args, bool capture_stdout) {
  char cmd[4096], out[1100] = "";
  if (capture_stdout)
    snprintf(out, sizeof out, " >'%s'", path("stdout.txt"));
  snprintf(cmd, sizeof cmd, "'%s' %s%s 2>'%s'", tool, args, out, path("stderr.txt"));
  int st = system(cmd);
  if (st == -1 || !WIFEXITED(st))
    return -1;
  return WEXITSTATUS(st);
}

/* Whether `file` exists (of any kind). */
static inline bool file_exists(const char *file) {
  struct stat sb;
  return stat(file, &sb) == 0;
}

/* The last run's dir/stderr.txt is exactly one line holding `needle` (and starting with
 * `prefix` unless it is NULL); prints what it was otherwise. */
static inline bool stderr_one_line(const char *prefix, const char *needle) {
  char *err = read_text(path("stderr.txt"));
  bool ok = err != NULL && (prefix == NULL || strncmp(err, prefix, strlen(prefix)) == 0) &&
            strchr(err, '\n') != NULL && strchr(err, '\n')[1] == '\0' &&
            strstr(err, needle) != NULL;
  if (!ok)
    fprintf(stderr, "stderr was: %s(wanted one line with '%s')\n", err ? err : "(none)\n", needle);
  free(err);
  return ok;
}

#endif
