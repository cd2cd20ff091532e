/* keras_parse_main.c -- densenet-keras-parse, the helper executable in which dn_keras_load and
 * dn_keras_load_weights parse a Keras file (keras_isolate.c starts it; the protocol is in
 * keras/keras_io.h). It limits itself first (address space, CPU time), then parses with the
 * in-process loader and writes one record on stdout: the model in the native format, or the
 * status and message of the failure. Whatever HDF5 does to it -- crash, spin, allocate -- ends
 * here, seen by the parent as a signal, a time-out or an allocation failure.
 *
 * Built with DN_KERAS_PARSE_TEST_HOOKS (tests/keras: keras_parse_hooked only), it misbehaves on
 * request after setting its limits ($DN_KERAS_PARSE_TEST = sleep, spin, segv, exit, garbage,
 * flood, alloc, truncated), so the tests can show the parent turns each into a clear error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* AddressSanitizer reserves terabytes of address space for its shadow memory at start-up, so
 * an RLIMIT_AS would make every later mapping fail: not enforced in such builds. */
#if defined(__SANITIZE_ADDRESS__)
#define DN_NO_AS_LIMIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DN_NO_AS_LIMIT 1
#endif
#endif

static int write_all(const void *data, size_t len) {
  const unsigned char *p = data;
  while (len > 0) {
    ssize_t w = write(1, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static int answer(dn_status st, unsigned flags, const uint8_t *payload, size_t payload_len) {
  const char *msg = st == DN_OK ? "" : dn_last_error();
  uint64_t msg_len = strlen(msg), plen = st == DN_OK ? payload_len : 0;
  if (msg_len > DN_KERAS_PARSE_MSG_MAX)
    msg_len = DN_KERAS_PARSE_MSG_MAX;
  unsigned char head[DN_KERAS_PARSE_HEAD_LEN];
  int32_t status = (int32_t)st;
  uint32_t fl = flags;
  memcpy(head, DN_KERAS_PARSE_MAGIC, 8);
  memcpy(head + 8, &status, 4);
  memcpy(head + 12, &fl, 4);
  memcpy(head + 16, &msg_len, 8);
  memcpy(head + 24, &plen, 8);
  if (write_all(head, sizeof head) != 0 || write_all(msg, (size_t)msg_len) != 0 ||
      (plen > 0 && write_all(payload, (size_t)plen) != 0))
    return 3;
  return 0;
}

/* Standard input whole (the model the parent sent; trusted, but bounded by the memory limit). */
static dn_status read_stdin(uint8_t **out, size_t *len) {
  size_t cap = 65536, n = 0;
  uint8_t *buf = dn_alloc(cap);
  if (buf == NULL)
    return DN_ERR_NOMEM;
  for (;;) {
    if (n == cap) {
      uint8_t *nb = dn_alloc(cap * 2);
      if (nb == NULL) {
        dn_free(buf);
        return DN_ERR_NOMEM;
      }
      memcpy(nb, buf, n);
      dn_free(buf);
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(0, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      dn_free(buf);
      return dn_fail(DN_ERR_IO, "dn_keras_load_weights: the parser cannot read its model input");
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  *out = buf;
  *len = n;
  return DN_OK;
}

#ifdef DN_KERAS_PARSE_TEST_HOOKS
/* Misbehaves as asked; returns only for an unknown or empty request. */
static void test_hook(size_t mem_mib) {
  const char *mode = getenv("DN_KERAS_PARSE_TEST");
  if (mode == NULL || mode[0] == '\0')
    return;
  if (strcmp(mode, "sleep") == 0) {
    for (;;)
      pause();
  } else if (strcmp(mode, "spin") == 0) {
    for (volatile unsigned long i = 0;; i++) {
    }
  } else if (strcmp(mode, "segv") == 0) {
    signal(SIGSEGV, SIG_DFL); /* past a sanitizer's handler: die of the signal */
    raise(SIGSEGV);
  } else if (strcmp(mode, "exit") == 0) {
    exit(3);
  } else if (strcmp(mode, "garbage") == 0) {
    exit(write_all("this is no answer at all, just bytes\n", 37) == 0 ? 0 : 3);
  } else if (strcmp(mode, "truncated") == 0) {
    dn_fail(DN_ERR_FORMAT, "dn_keras_load: a message");
    unsigned char head[DN_KERAS_PARSE_HEAD_LEN] = {0};
    memcpy(head, DN_KERAS_PARSE_MAGIC, 8);
    uint64_t plen = 1000;
    memcpy(head + 24, &plen, 8);
    exit(write_all(head, sizeof head) == 0 ? 0 : 3);
  } else if (strcmp(mode, "flood") == 0) {
    static unsigned char block[65536];
    memset(block, 'x', sizeof block);
    while (write_all(block, sizeof block) == 0) {
    }
    exit(0);
  } else if (strcmp(mode, "alloc") == 0) {
    /* what a hostile file makes HDF5 do: ask for more than the limit */
    void *p = dn_alloc((mem_mib + 64) << 20);
    if (p == NULL)
      exit(answer(DN_ERR_NOMEM, 0, NULL, 0));
    dn_free(p);
    exit(answer(dn_fail(DN_ERR_STATE, "test hook: the memory limit did not hold"), 0, NULL, 0));
  }
}
#endif

int main(int argc, char **argv) {
  if (argc != 6 || strcmp(argv[1], DN_KERAS_PARSE_VERSION) != 0 ||
      (strcmp(argv[2], "load") != 0 && strcmp(argv[2], "weights") != 0)) {
    fprintf(stderr,
            "densenet-keras-parse: the Keras file parser of libdensenet_keras, started by "
            "dn_keras_load (protocol %s); not for direct use\n",
            DN_KERAS_PARSE_VERSION);
    return 2;
  }
  const char *path = argv[3];
  char *end = NULL;
  unsigned long long mem_mib = strtoull(argv[4], &end, 10);
  unsigned long long time_s = strtoull(argv[5], NULL, 10);
  if (mem_mib == 0 || time_s == 0 || end == argv[4])
    return 2;
  /* Limits first, before any byte of the file is looked at. */
  struct rlimit cpu = {(rlim_t)time_s, (rlim_t)time_s + 1}; /* SIGXCPU, then SIGKILL */
  if (setrlimit(RLIMIT_CPU, &cpu) != 0)
    return 4;
#ifndef DN_NO_AS_LIMIT
  if (mem_mib < (1ull << 43)) {
    struct rlimit as = {(rlim_t)(mem_mib << 20), (rlim_t)(mem_mib << 20)};
    if (setrlimit(RLIMIT_AS, &as) != 0)
      return 4;
  }
#endif
#ifdef DN_KERAS_PARSE_TEST_HOOKS
  test_hook((size_t)mem_mib);
#endif

  uint8_t *out = NULL;
  size_t out_len = 0;
  unsigned flags = 0;
  dn_status st;
  if (strcmp(argv[2], "load") == 0) {
    const char *fn = "dn_keras_load";
    dn_model *m = dn_keras_load_in_process(path);
    st = m != NULL ? dn_mf_encode(m, DN_MF_KIND_MODEL, true, fn, &out, &out_len) : dn_last_status();
    dn_model_free(m);
  } else {
    const char *fn = "dn_keras_load_weights";
    uint8_t *in = NULL;
    size_t in_len = 0;
    dn_model *m = NULL;
    if ((st = read_stdin(&in, &in_len)) == DN_OK) {
      m = dn_mf_decode_model(in, in_len, "<the model to load into>");
      st = m != NULL ? DN_OK : dn_last_status();
      dn_free(in);
    }
    /* Whether the file sets the optimizer state: compare it before and after. */
    uint64_t it0 = 0;
    double lr0 = 0;
    bool slots0 = false;
    if (st == DN_OK && m->train != NULL) {
      it0 = m->train->optimizer->iterations;
      lr0 = m->train->optimizer->learning_rate;
      slots0 = m->train->optimizer->slots != NULL;
    }
    if (st == DN_OK)
      st = dn_keras_load_weights_in_process(m, path);
    /* read_optimizer always commits (prepares the slots, sets iterations): a change tells. A
     * model with slots has them sent back in any case (the values it sent, if the file had
     * none: committing them again changes nothing). */
    if (st == DN_OK && m->train != NULL) {
      const dn_optimizer *o = m->train->optimizer;
      if (o->iterations != it0 || o->learning_rate != lr0 || (o->slots != NULL) != slots0 ||
          o->slots != NULL)
        flags |= DN_KERAS_PARSE_OPTIMIZER;
    }
    if (st == DN_OK)
      st = dn_mf_encode(m, DN_MF_KIND_MODEL, true, fn, &out, &out_len);
    dn_model_free(m);
  }
  int rc = answer(st, flags, out, out_len);
  dn_free(out);
  return rc;
}
