/* keras_isolate.c -- dn_keras_load / dn_keras_load_weights (and their _with forms): the file is
 * parsed by the helper executable densenet-keras-parse (keras_parse_main.c) in a child process
 * with limits, and its answer -- a native model file, or a status and message -- is read back
 * here through the native decoder (io/model_file.h). The protocol is in keras/keras_io.h.
 *
 * Why a helper started with posix_spawn and not a bare fork: the caller may be multithreaded. A
 * forked child has only the forking thread, with every lock other threads held (malloc's,
 * HDF5's global lock, stdio's) frozen taken, so running the HDF5 parse in it can deadlock; and
 * HDF5's global state (open ids, free lists) would be inherited, not fresh. posix_spawn execs a
 * new image at once (glibc uses clone(CLONE_VM|CLONE_VFORK), no copy of the caller's memory), so
 * the child shares nothing with the caller but the file descriptors we give it, and every fd of
 * ours is O_CLOEXEC so a concurrent spawn in another thread does not inherit it.
 */
#define _GNU_SOURCE /* pipe2, mkostemp (O_CLOEXEC atomically: no leak into concurrent spawns) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "densenet_keras.h"
#include "core/alloc.h"
#include "core/status.h"
#include "io/model_file.h"
#include "keras/keras_io.h"
#include "model/sequential.h"
#include "training/optimizer.h"
#include "training/train.h"

extern char **environ;

#ifndef DN_KERAS_PARSER_BUILD_PATH
#define DN_KERAS_PARSER_BUILD_PATH ""
#endif
#ifndef DN_KERAS_PARSER_INSTALL_PATH
#define DN_KERAS_PARSER_INSTALL_PATH ""
#endif

#define DEFAULT_TIME_S 30u
#define DEFAULT_MEMORY_MIB 1024u

static bool executable(const char *path) {
  struct stat st;
  return path[0] != '\0' && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The helper to start: options.parser, $DN_KERAS_PARSER, the build tree's, the installed one. */
static dn_status find_parser(const dn_keras_options *o, const char *fn, const char **out) {
  const char *given = o->parser;
  const char *what = "options.parser";
  if (given == NULL) {
    given = getenv("DN_KERAS_PARSER");
    what = "DN_KERAS_PARSER";
    if (given != NULL && given[0] == '\0')
      given = NULL;
  }
  if (given != NULL) {
    if (!executable(given))
      return dn_fail(DN_ERR_IO,
                     "%s: the Keras parser helper '%s' (from %s) is not an executable file", fn,
                     given, what);
    *out = given;
    return DN_OK;
  }
  if (executable(DN_KERAS_PARSER_BUILD_PATH)) {
    *out = DN_KERAS_PARSER_BUILD_PATH;
    return DN_OK;
  }
  if (executable(DN_KERAS_PARSER_INSTALL_PATH)) {
    *out = DN_KERAS_PARSER_INSTALL_PATH;
    return DN_OK;
  }
  return dn_fail(DN_ERR_IO,
                 "%s: the Keras parser helper was not found (tried '%s' and '%s'); set "
                 "DN_KERAS_PARSER to densenet-keras-parse, or parse trusted files in-process",
                 fn, DN_KERAS_PARSER_BUILD_PATH, DN_KERAS_PARSER_INSTALL_PATH);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* An unlinked temporary file holding `len` bytes, positioned at 0 (the helper's stdin). */
static int input_file(const uint8_t *buf, size_t len, const char *fn) {
  const char *dir = getenv("TMPDIR");
  char name[PATH_MAX], reason[128];
  snprintf(name, sizeof name, "%s/dn-keras-model.XXXXXX", dir != NULL && dir[0] ? dir : "/tmp");
  int fd = mkostemp(name, O_CLOEXEC);
  if (fd < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot create a temporary file '%s' for the parser: %s", fn,
                   name, dn_errno_text(errno, reason, sizeof reason)),
           -1;
  unlink(name);
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, buf + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      dn_fail(DN_ERR_IO, "%s: cannot write the model for the parser to a temporary file: %s", fn,
              dn_errno_text(w < 0 ? errno : ENOSPC, reason, sizeof reason));
      close(fd);
      return -1;
    }
    done += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    dn_fail(DN_ERR_IO, "%s: cannot rewind the parser's temporary file: %s", fn,
            dn_errno_text(errno, reason, sizeof reason));
    close(fd);
    return -1;
  }
  return fd;
}

/* Waits for `pid` until `deadline`; kills it (SIGKILL) past it. *timed_out tells which. */
static int reap(pid_t pid, double deadline, bool *timed_out, int *wstatus) {
  *timed_out = false;
  for (;;) {
    pid_t r = waitpid(pid, wstatus, WNOHANG);
    if (r == pid)
      return 0;
    if (r < 0 && errno != EINTR)
      return -1; /* ECHILD: someone else reaped it (a SIGCHLD handler of the caller's) */
    if (r == 0 && now_s() >= deadline) {
      kill(pid, SIGKILL);
      *timed_out = true;
      while (waitpid(pid, wstatus, 0) < 0)
        if (errno != EINTR)
          return -1;
      return 0;
    }
    if (r == 0) {
      struct timespec t = {0, 2000000}; /* 2 ms */
      nanosleep(&t, NULL);
    }
  }
}

typedef struct run_result {
  dn_status status; /* the child's status (DN_OK: payload is the model) */
  unsigned flags;
  uint8_t *buf; /* the whole record (dn_alloc'd) */
  size_t payload_at, payload_len;
} run_result;

/* Starts the helper on `path` (mode "load" or "weights", with `input` on its stdin), reads its
 * record while it runs, and turns a crash, a limit, an exit without a record or a malformed
 * record into DN_ERR_FORMAT. DN_OK: *res holds the child's status, message (already set as the
 * last error if not DN_OK) and payload. */
static dn_status run_parser(const char *mode, const char *path, size_t file_size,
                            const dn_keras_options *o, const uint8_t *input, size_t input_len,
                            const char *fn, run_result *res) {
  memset(res, 0, sizeof *res);
  const char *parser = NULL;
  dn_status st = find_parser(o, fn, &parser);
  if (st != DN_OK)
    return st;
  unsigned time_s = o->time_limit_s ? o->time_limit_s : DEFAULT_TIME_S;
  size_t mem_mib = o->memory_limit_mib;
  if (mem_mib == 0) {
    size_t file_mib = file_size / (1u << 20) + 1;
    mem_mib = DEFAULT_MEMORY_MIB + (file_mib > SIZE_MAX / 8 ? SIZE_MAX / 8 : 4 * file_mib);
  }
  /* The child holds its whole answer in memory before writing it: more than its address
   * space cannot be an honest answer. */
  size_t cap = mem_mib > (SIZE_MAX >> 21) ? SIZE_MAX / 2 : mem_mib << 20;

  char mem_arg[32], time_arg[32], reason[128];
  snprintf(mem_arg, sizeof mem_arg, "%zu", mem_mib);
  snprintf(time_arg, sizeof time_arg, "%u", time_s);
  char *argv[] = {(char *)parser,
                  (char *)DN_KERAS_PARSE_VERSION,
                  (char *)mode,
                  (char *)path,
                  mem_arg,
                  time_arg,
                  NULL};

  int in_fd = -1, pipe_fd[2] = {-1, -1};
  if (input != NULL && (in_fd = input_file(input, input_len, fn)) < 0)
    return dn_last_status();
  if (pipe2(pipe_fd, O_CLOEXEC) != 0) {
    st = dn_fail(DN_ERR_IO, "%s: cannot create a pipe for the parser: %s", fn,
                 dn_errno_text(errno, reason, sizeof reason));
    if (in_fd >= 0)
      close(in_fd);
    return st;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  if (in_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipe_fd[1], 1);
  /* the library prints nothing, nor does its helper (HDF5 diagnostics, sanitizer reports) */
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  /* The caller's signal mask and ignored signals would be inherited: an ignored SIGXCPU would
   * disarm the CPU limit. The child starts with none blocked and these at their defaults. */
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  int sigs[] = {SIGXCPU, SIGPIPE, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGALRM};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaddset(&defaults, sigs[i]);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawn(&pid, parser, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pipe_fd[1]);
  if (in_fd >= 0)
    close(in_fd);
  if (rc != 0) {
    close(pipe_fd[0]);
    return dn_fail(DN_ERR_IO, "%s: cannot start the Keras parser helper '%s': %s", fn, parser,
                   dn_errno_text(rc, reason, sizeof reason));
  }

  /* Read while it runs (a large answer fills the pipe: the child blocks until we read). */
  double deadline = now_s() + (double)time_s;
  size_t len = 0, capacity = 0;
  uint8_t *buf = NULL;
  const char *problem = NULL; /* why the record is refused, if it is */
  bool timed_out = false, nomem = false;
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {.fd = pipe_fd[0], .events = POLLIN};
    int pr = poll(&p, 1, (int)(left * 1000.0) + 1);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr < 0) {
      problem = "the pipe from the parser failed";
      break;
    }
    if (pr == 0)
      continue; /* the deadline check above ends it */
    if (len == capacity) {
      if (capacity >= cap) {
        problem = "its answer is larger than its memory limit";
        break;
      }
      size_t grown = capacity ? capacity * 2 : 65536;
      if (grown > cap)
        grown = cap;
      uint8_t *nb = dn_alloc(grown);
      if (nb == NULL) {
        nomem = true;
        break;
      }
      if (len > 0)
        memcpy(nb, buf, len);
      dn_free(buf);
      buf = nb;
      capacity = grown;
    }
    ssize_t r = read(pipe_fd[0], buf + len, capacity - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      problem = "the pipe from the parser failed";
      break;
    }
    if (r == 0)
      break; /* EOF: the child closed its stdout (normally by exiting) */
    len += (size_t)r;
  }
  close(pipe_fd[0]);
  if (timed_out || problem != NULL || nomem)
    kill(pid, SIGKILL); /* then reaped below at once */
  int ws = 0;
  bool wait_timed_out = false;
  /* killed: it dies at once, wait without a deadline (a past one would count as a time-out) */
  int wr =
      reap(pid, timed_out || problem != NULL || nomem ? 1e300 : deadline, &wait_timed_out, &ws);
  timed_out = timed_out || wait_timed_out;

  if (nomem) {
    st = dn_fail(DN_ERR_NOMEM, "%s: no memory for the parser's answer (%zu bytes so far)", fn, len);
  } else if (timed_out) {
    st = dn_fail(DN_ERR_FORMAT,
                 "%s: parsing '%s' took more than %u s (the time limit); the HDF5 "
                 "library may loop on this file",
                 fn, path, time_s);
  } else if (problem != NULL) { /* before the signal: it was our SIGKILL */
    st = dn_fail(DN_ERR_FORMAT, "%s: the Keras parser's answer on '%s' is refused: %s", fn, path,
                 problem);
  } else if (wr == 0 && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGXCPU) {
    st = dn_fail(DN_ERR_FORMAT,
                 "%s: parsing '%s' took more than %u s of CPU time (the time limit); the HDF5 "
                 "library may loop on this file",
                 fn, path, time_s);
  } else if (wr == 0 && WIFSIGNALED(ws)) {
    st =
        dn_fail(DN_ERR_FORMAT, "%s: the HDF5 library crashed on this file (signal %d) parsing '%s'",
                fn, WTERMSIG(ws), path);
  } else if (wr == 0 && WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
    st = dn_fail(DN_ERR_FORMAT,
                 "%s: the Keras parser helper '%s' exited with status %d on '%s' without an answer",
                 fn, parser, WEXITSTATUS(ws), path);
  } else {
    /* exited 0 (or reaped by someone else): the record must be whole */
    int32_t status = 0;
    uint32_t flags = 0;
    uint64_t msg_len = 0, payload_len = 0;
    if (len >= DN_KERAS_PARSE_HEAD_LEN) {
      memcpy(&status, buf + 8, 4);
      memcpy(&flags, buf + 12, 4);
      memcpy(&msg_len, buf + 16, 8);
      memcpy(&payload_len, buf + 24, 8);
    }
    if (len < DN_KERAS_PARSE_HEAD_LEN || memcmp(buf, DN_KERAS_PARSE_MAGIC, 8) != 0)
      st = dn_fail(DN_ERR_FORMAT,
                   "%s: the Keras parser helper '%s' gave no answer on '%s' (%zu bytes, not a "
                   "record of this libdensenet's parser)",
                   fn, parser, path, len);
    else if (msg_len > DN_KERAS_PARSE_MSG_MAX ||
             payload_len != len - DN_KERAS_PARSE_HEAD_LEN - msg_len ||
             (status == DN_OK) != (payload_len > 0) || status < 0 || status > DN_ERR_UNSUPPORTED)
      st = dn_fail(DN_ERR_FORMAT,
                   "%s: the Keras parser's answer on '%s' is malformed (%zu bytes: status %d, "
                   "message %llu bytes, payload %llu bytes)",
                   fn, path, len, (int)status, (unsigned long long)msg_len,
                   (unsigned long long)payload_len);
    else {
      res->status = (dn_status)status;
      res->flags = flags;
      res->payload_at = DN_KERAS_PARSE_HEAD_LEN + (size_t)msg_len;
      res->payload_len = (size_t)payload_len;
      if (status != DN_OK) {
        char msg[DN_KERAS_PARSE_MSG_MAX + 1];
        memcpy(msg, buf + DN_KERAS_PARSE_HEAD_LEN, (size_t)msg_len);
        msg[msg_len] = '\0';
        if (status == DN_ERR_NOMEM)
          dn_fail(DN_ERR_FORMAT,
                  "%s: parsing '%s' needed more than %zu MiB (the memory limit) [%s]", fn, path,
                  mem_mib, msg);
        else
          dn_fail((dn_status)status, "%s", msg);
        res->status = dn_last_status();
      }
      res->buf = buf;
      return DN_OK;
    }
  }
  dn_free(buf);
  return st;
}

static dn_status sniff_size(const char *path, const char *fn, size_t *size) {
  struct stat st;
  char reason[128];
  if (stat(path, &st) != 0)
    return dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                   dn_errno_text(errno, reason, sizeof reason));
  *size = st.st_size > 0 ? (size_t)st.st_size : 0;
  return DN_OK;
}

/* Decodes the child's model (the native decoder: fuzzed); its messages are re-labelled. */
static dn_model *decode_answer(const run_result *res, const char *path, const char *fn) {
  dn_model *m = dn_mf_decode_model(res->buf + res->payload_at, res->payload_len, "<parser>");
  if (m == NULL && dn_last_status() != DN_ERR_NOMEM) {
    dn_error_state e;
    dn_error_save(&e);
    return dn_fail_null(DN_ERR_FORMAT, "%s: the Keras parser's answer on '%s' does not decode: %s",
                        fn, path, e.message);
  }
  return m;
}

dn_model *dn_keras_load_with(const char *path, dn_keras_options options) {
  const char *fn = "dn_keras_load";
  dn_keras_register();
  if (options.in_process)
    return dn_keras_load_in_process(path);
  if (path == NULL)
    return dn_fail_null(DN_ERR_ARG, "%s: path is NULL", fn);
  size_t size = 0;
  if (sniff_size(path, fn, &size) != DN_OK)
    return NULL;
  run_result res;
  if (run_parser("load", path, size, &options, NULL, 0, fn, &res) != DN_OK)
    return NULL;
  dn_model *m = NULL;
  if (res.status == DN_OK)
    m = decode_answer(&res, path, fn);
  dn_free(res.buf);
  return m;
}

dn_model *dn_keras_load(const char *path) {
  return dn_keras_load_with(path, (dn_keras_options){0});
}

dn_status dn_keras_load_weights_with(dn_model *model, const char *path, dn_keras_options options) {
  const char *fn = "dn_keras_load_weights";
  dn_keras_register();
  if (options.in_process)
    return dn_keras_load_weights_in_process(model, path);
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "path");
  dn_status st = dn_seq_require_built(model, fn);
  size_t size = 0;
  if (st != DN_OK || (st = sniff_size(path, fn, &size)) != DN_OK)
    return st;
  /* The child needs the model (architecture, compile settings, optimizer state) to match the
   * file against: it gets it in the native format and answers with the model after the load. */
  uint8_t *input = NULL;
  size_t input_len = 0;
  if ((st = dn_mf_encode(model, DN_MF_KIND_MODEL, true, fn, &input, &input_len)) != DN_OK)
    return st;
  run_result res;
  st = run_parser("weights", path, size, &options, input, input_len, fn, &res);
  dn_free(input);
  if (st != DN_OK)
    return st;
  if (res.status != DN_OK) {
    dn_free(res.buf);
    return res.status;
  }
  dn_model *r = decode_answer(&res, path, fn);
  dn_free(res.buf);
  if (r == NULL)
    return dn_last_status();
  /* The answer must be the model sent, with other weights: check, then commit (the optimizer
   * first, which can still fail, then the weights, which cannot). */
  bool opt = (res.flags & DN_KERAS_PARSE_OPTIMIZER) != 0;
  if (r->n_params != model->n_params || r->n_layers != model->n_layers ||
      (opt &&
       (model->train == NULL || r->train == NULL ||
        r->train->optimizer->n_slots != model->train->optimizer->n_slots ||
        (r->train->optimizer->slots != NULL && r->train->optimizer->n_params != r->n_params))))
    st = dn_fail(DN_ERR_FORMAT,
                 "%s: the Keras parser's answer on '%s' does not fit the model (%zu parameters "
                 "in %zu layers, the model has %zu in %zu)",
                 fn, path, r->n_params, r->n_layers, model->n_params, model->n_layers);
  if (st == DN_OK && opt) {
    const dn_optimizer *ro = r->train->optimizer;
    st = dn_keras_opt_commit(model, ro->iterations, true, ro->learning_rate, ro->slots,
                             &ro->nadam_u_product, fn);
  }
  if (st == DN_OK)
    st = dn_model_set_weights(model, r->params, r->n_params);
  dn_model_free(r);
  return st;
}

dn_status dn_keras_load_weights(dn_model *model, const char *path) {
  return dn_keras_load_weights_with(model, path, (dn_keras_options){0});
}
