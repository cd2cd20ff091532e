/* model_file.c -- the native model file's shared parts and its file handling: CRC-32, the
 * record tables (a layer's config and the compile settings by Keras names), crash-safe
 * writing (temporary file, fflush + fsync, rename, directory fsync), reading a file whole,
 * and the public dn_model_save / load / save_weights / load_weights.
 * The byte layout is docs/model-format.md; encoding and decoding are model_file_write.c and
 * model_file_read.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "io/model_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"

/* ---- CRC-32 ------------------------------------------------------------------------------- */

/* A byte at a time: CRC_TABLE[b] is the CRC of byte b under the reflected polynomial
 * 0xEDB88320 (zlib's table). */
static const uint32_t CRC_TABLE[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t dn_crc32(uint32_t crc, const void *data, size_t n) {
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = (crc >> 8) ^ CRC_TABLE[(crc ^ p[i]) & 0xFFu];
  return ~crc;
}

/* ---- record tables ------------------------------------------------------------------------ */

#define LF(field) offsetof(dn_mf_layer_fields, field)
#define ALL_LAYERS                                                                                 \
  (DN_MF_DENSE | DN_MF_ACTIVATION | DN_MF_DROPOUT | DN_MF_BATCH_NORMALIZATION | DN_MF_NORMALIZATION)

const dn_mf_key dn_mf_layer_keys[] = {
    {"name", DN_MF_T_STR, LF(name), ALL_LAYERS},
    {"input_dim", DN_MF_T_U64, LF(input_dim), ALL_LAYERS},
    {"units", DN_MF_T_U64, LF(units), DN_MF_DENSE},
    {"activation", DN_MF_T_STR, LF(activation), DN_MF_DENSE | DN_MF_ACTIVATION},
    {"use_bias", DN_MF_T_BOOL, LF(use_bias), DN_MF_DENSE},
    {"kernel_initializer", DN_MF_T_STR, LF(kernel_initializer), DN_MF_DENSE},
    {"kernel_initializer.value", DN_MF_T_F64, LF(kernel_value), DN_MF_DENSE},
    {"kernel_initializer.minval", DN_MF_T_F64, LF(kernel_minval), DN_MF_DENSE},
    {"kernel_initializer.maxval", DN_MF_T_F64, LF(kernel_maxval), DN_MF_DENSE},
    {"kernel_initializer.mean", DN_MF_T_F64, LF(kernel_mean), DN_MF_DENSE},
    {"kernel_initializer.stddev", DN_MF_T_F64, LF(kernel_stddev), DN_MF_DENSE},
    {"bias_initializer", DN_MF_T_STR, LF(bias_initializer), DN_MF_DENSE},
    {"bias_initializer.value", DN_MF_T_F64, LF(bias_value), DN_MF_DENSE},
    {"bias_initializer.minval", DN_MF_T_F64, LF(bias_minval), DN_MF_DENSE},
    {"bias_initializer.maxval", DN_MF_T_F64, LF(bias_maxval), DN_MF_DENSE},
    {"bias_initializer.mean", DN_MF_T_F64, LF(bias_mean), DN_MF_DENSE},
    {"bias_initializer.stddev", DN_MF_T_F64, LF(bias_stddev), DN_MF_DENSE},
    {"kernel_regularizer.l1", DN_MF_T_F64, LF(kernel_l1), DN_MF_DENSE},
    {"kernel_regularizer.l2", DN_MF_T_F64, LF(kernel_l2), DN_MF_DENSE},
    {"bias_regularizer.l1", DN_MF_T_F64, LF(bias_l1), DN_MF_DENSE},
    {"bias_regularizer.l2", DN_MF_T_F64, LF(bias_l2), DN_MF_DENSE},
    {"rate", DN_MF_T_F64, LF(rate), DN_MF_DROPOUT},
    {"momentum", DN_MF_T_F64, LF(momentum), DN_MF_BATCH_NORMALIZATION},
    {"epsilon", DN_MF_T_F64, LF(epsilon), DN_MF_BATCH_NORMALIZATION},
    {"center", DN_MF_T_BOOL, LF(center), DN_MF_BATCH_NORMALIZATION},
    {"scale", DN_MF_T_BOOL, LF(scale), DN_MF_BATCH_NORMALIZATION},
    {"invert", DN_MF_T_BOOL, LF(invert), DN_MF_NORMALIZATION},
};
const size_t dn_mf_n_layer_keys = sizeof dn_mf_layer_keys / sizeof dn_mf_layer_keys[0];

#define CF(field) offsetof(dn_mf_compile_fields, field)
const dn_mf_key dn_mf_compile_keys[] = {
    {"loss", DN_MF_T_STR, CF(loss), 1},
    {"loss.delta", DN_MF_T_F64, CF(huber_delta), 1},
    {"loss.from_logits", DN_MF_T_BOOL, CF(from_logits), 1},
    {"loss.label_smoothing", DN_MF_T_F64, CF(label_smoothing), 1},
    {"metrics", DN_MF_T_STR_ARRAY, CF(metrics), 1},
    {"optimizer", DN_MF_T_STR, CF(optimizer), 1},
    {"optimizer.learning_rate", DN_MF_T_F64, CF(learning_rate), 1},
    {"optimizer.beta_1", DN_MF_T_F64, CF(beta_1), 1},
    {"optimizer.beta_2", DN_MF_T_F64, CF(beta_2), 1},
    {"optimizer.epsilon", DN_MF_T_F64, CF(epsilon), 1},
    {"optimizer.amsgrad", DN_MF_T_BOOL, CF(amsgrad), 1},
    {"optimizer.momentum", DN_MF_T_F64, CF(momentum), 1},
    {"optimizer.nesterov", DN_MF_T_BOOL, CF(nesterov), 1},
    {"optimizer.rho", DN_MF_T_F64, CF(rho), 1},
    {"optimizer.centered", DN_MF_T_BOOL, CF(centered), 1},
    {"optimizer.initial_accumulator_value", DN_MF_T_F64, CF(initial_accumulator_value), 1},
    {"optimizer.weight_decay", DN_MF_T_F64, CF(weight_decay), 1},
    {"optimizer.clipnorm", DN_MF_T_F64, CF(clipnorm), 1},
    {"optimizer.clipvalue", DN_MF_T_F64, CF(clipvalue), 1},
    {"optimizer.global_clipnorm", DN_MF_T_F64, CF(global_clipnorm), 1},
    {"schedule", DN_MF_T_STR, CF(schedule), 1},
    {"schedule.initial_learning_rate", DN_MF_T_F64, CF(initial_learning_rate), 1},
    {"schedule.decay_steps", DN_MF_T_F64, CF(decay_steps), 1},
    {"schedule.decay_rate", DN_MF_T_F64, CF(decay_rate), 1},
    {"schedule.staircase", DN_MF_T_BOOL, CF(staircase), 1},
    {"schedule.alpha", DN_MF_T_F64, CF(alpha), 1},
    {"schedule.warmup_target", DN_MF_T_F64, CF(warmup_target), 1},
    {"schedule.warmup_steps", DN_MF_T_F64, CF(warmup_steps), 1},
    {"schedule.boundaries", DN_MF_T_F64_ARRAY, CF(boundaries), 1},
    {"schedule.values", DN_MF_T_F64_ARRAY, CF(values), 1},
};
const size_t dn_mf_n_compile_keys = sizeof dn_mf_compile_keys / sizeof dn_mf_compile_keys[0];

unsigned dn_mf_class_bit(const char *class_name) {
  static const struct {
    const char *name;
    unsigned bit;
  } classes[] = {
      {"Dense", DN_MF_DENSE},
      {"Activation", DN_MF_ACTIVATION},
      {"Dropout", DN_MF_DROPOUT},
      {"BatchNormalization", DN_MF_BATCH_NORMALIZATION},
      {"Normalization", DN_MF_NORMALIZATION},
  };
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
    if (strcmp(class_name, classes[i].name) == 0)
      return classes[i].bit;
  return 0;
}

static const struct {
  int kind;
  const char *name;
} SCHEDULES[] = {
    {DN_SCHEDULE_CONSTANT, "None"},
    {DN_SCHEDULE_EXPONENTIAL_DECAY, "ExponentialDecay"},
    {DN_SCHEDULE_INVERSE_TIME_DECAY, "InverseTimeDecay"},
    {DN_SCHEDULE_PIECEWISE_CONSTANT, "PiecewiseConstantDecay"},
    {DN_SCHEDULE_COSINE_DECAY, "CosineDecay"},
};

const char *dn_mf_schedule_name(int kind) {
  for (size_t i = 0; i < sizeof SCHEDULES / sizeof SCHEDULES[0]; i++)
    if (SCHEDULES[i].kind == kind)
      return SCHEDULES[i].name;
  return NULL;
}

bool dn_mf_schedule_kind(const char *name, int *kind) {
  for (size_t i = 0; i < sizeof SCHEDULES / sizeof SCHEDULES[0]; i++)
    if (strcmp(SCHEDULES[i].name, name) == 0) {
      *kind = SCHEDULES[i].kind;
      return true;
    }
  return false;
}

/* ---- crash-safe writing ------------------------------------------------------------------- */

static _Thread_local int fail_stage;

void dn_mf_set_fail_stage(int stage) {
  fail_stage = stage;
}

static const char *errno_text(int err, char *buf, size_t cap) {
  if (strerror_r(err, buf, cap) != 0)
    snprintf(buf, cap, "error %d", err);
  return buf;
}

/* A 12-hex-digit name part that differs between calls, processes and threads (no state). */
static void unique_suffix(char out[13], unsigned attempt) {
  struct timespec ts = {0};
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_nsec ^
               ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&ts ^ attempt;
  x ^= x >> 30; /* splitmix64 finalizer */
  x *= 0xbf58476d1ce4e5b9u;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebu;
  x ^= x >> 31;
  for (int i = 0; i < 12; i++)
    out[i] = "0123456789abcdef"[(x >> (4 * i)) & 15u];
  out[12] = '\0';
}

/* Writes buf to `path` atomically: a new file ".<name>.tmp<suffix>" in the same directory,
 * flushed and synced, renamed over path; the directory is synced after. On any failure the
 * temporary file is removed and path is untouched. */
static dn_status write_atomic(const char *path, const uint8_t *buf, size_t len, const char *fn) {
  char err[128];
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t dir_len = slash ? (size_t)(slash - path) : 0;
  if (base[0] == '\0')
    return dn_fail(DN_ERR_IO, "%s: '%s' names a directory, not a file", fn, path);
  /* dir + "/." + base + ".tmp" + 12 digits + NUL */
  size_t cap = dir_len + strlen(base) + 24;
  char *tmp = dn_alloc(cap), *dir = dn_alloc(dir_len + 2);
  if (tmp == NULL || dir == NULL) {
    dn_free(tmp);
    dn_free(dir);
    return DN_ERR_NOMEM;
  }
  if (slash == NULL)
    memcpy(dir, ".", 2);
  else if (dir_len == 0)
    memcpy(dir, "/", 2);
  else {
    memcpy(dir, path, dir_len);
    dir[dir_len] = '\0';
  }
  int fd = -1;
  for (unsigned attempt = 0; attempt < 100 && fd < 0; attempt++) {
    char suffix[13];
    unique_suffix(suffix, attempt);
    snprintf(tmp, cap, "%.*s.%s.tmp%s", (int)(slash ? dir_len + 1 : 0), path, base, suffix);
    if (fail_stage == DN_MF_FAIL_OPEN) {
      errno = ENOSPC;
      break;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  dn_status st = DN_OK;
  if (fd < 0) {
    st = dn_fail(DN_ERR_IO, "%s: cannot create a temporary file in '%s' to save '%s': %s", fn, dir,
                 path, errno_text(errno, err, sizeof err));
    dn_free(tmp);
    dn_free(dir);
    return st;
  }
  FILE *f = fdopen(fd, "wb");
  if (f == NULL) {
    st =
        dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, tmp, errno_text(errno, err, sizeof err));
    close(fd);
  } else {
    size_t half = len / 2;
    const char *what = NULL;
    errno = 0;
    if (fwrite(buf, 1, half, f) != half)
      what = "write";
    else if (fail_stage == DN_MF_FAIL_WRITE)
      errno = ENOSPC, what = "write";
    else if (fwrite(buf + half, 1, len - half, f) != len - half)
      what = "write";
    else if (fail_stage == DN_MF_FAIL_SYNC)
      errno = EIO, what = "flush";
    else if (fflush(f) != 0)
      what = "flush";
    else if (fsync(fileno(f)) != 0)
      what = "fsync";
    int saved = errno;
    if (fclose(f) != 0 && what == NULL)
      what = "close", saved = errno;
    if (what == NULL && fail_stage == DN_MF_FAIL_RENAME)
      what = "rename", saved = EIO;
    else if (what == NULL && rename(tmp, path) != 0)
      what = "rename", saved = errno;
    if (what != NULL)
      st = dn_fail(DN_ERR_IO,
                   "%s: cannot save '%s' (%s of the temporary file '%s' failed: %s); "
                   "the previous file, if any, is unchanged",
                   fn, path, what, tmp, errno_text(saved ? saved : EIO, err, sizeof err));
  }
  if (st != DN_OK) {
    unlink(tmp);
  } else {
    /* Make the rename itself durable. Some file systems cannot sync a directory (EINVAL). */
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
      if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS && errno != EBADF)
        st = dn_fail(DN_ERR_IO, "%s: saved '%s' but syncing its directory '%s' failed: %s", fn,
                     path, dir, errno_text(errno, err, sizeof err));
      close(dfd);
    }
  }
  dn_free(tmp);
  dn_free(dir);
  return st;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Reads the whole regular file into a new buffer (its size is what justifies the allocation). */
static dn_status read_whole(const char *path, const char *fn, uint8_t **out, size_t *len) {
  char err[128];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                   errno_text(errno, err, sizeof err));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    int e = errno;
    close(fd);
    if (S_ISDIR(sb.st_mode))
      return dn_fail(DN_ERR_IO, "%s: '%s' is a directory", fn, path);
    return dn_fail(DN_ERR_IO, "%s: '%s' is not a regular file%s%s", fn, path, e ? ": " : "",
                   e ? errno_text(e, err, sizeof err) : "");
  }
  if ((uintmax_t)sb.st_size > (uintmax_t)SIZE_MAX / 2) {
    close(fd);
    return dn_fail(DN_ERR_FORMAT, "%s: '%s' is too large to be a model file (%jd bytes)", fn, path,
                   (intmax_t)sb.st_size);
  }
  size_t size = (size_t)sb.st_size, got = 0;
  uint8_t *buf = dn_alloc(size ? size : 1);
  if (buf == NULL) {
    close(fd);
    return DN_ERR_NOMEM;
  }
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      int e = r < 0 ? errno : 0;
      close(fd);
      dn_free(buf);
      if (r == 0)
        return dn_fail(DN_ERR_IO, "%s: '%s' ended after %zu of its %zu bytes while being read", fn,
                       path, got, size);
      return dn_fail(DN_ERR_IO, "%s: cannot read '%s': %s", fn, path,
                     errno_text(e, err, sizeof err));
    }
    got += (size_t)r;
  }
  close(fd);
  *out = buf;
  *len = size;
  return DN_OK;
}

/* ---- public functions --------------------------------------------------------------------- */

static dn_status save_kind(const dn_model *model, const char *path, int kind, bool optimizer,
                           const char *fn) {
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "%s: %s is NULL", fn, model == NULL ? "model" : "path");
  if (path[0] == '\0')
    return dn_fail(DN_ERR_ARG, "%s: path is empty", fn);
  uint8_t *buf = NULL;
  size_t len = 0;
  dn_status st = dn_mf_encode(model, kind, optimizer, fn, &buf, &len);
  if (st == DN_OK)
    st = write_atomic(path, buf, len, fn);
  dn_free(buf);
  return st;
}

dn_status dn_model_save_ex(const dn_model *model, const char *path, bool include_optimizer) {
  return save_kind(model, path, DN_MF_KIND_MODEL, include_optimizer, "dn_model_save");
}

dn_status dn_model_save(const dn_model *model, const char *path) {
  return save_kind(model, path, DN_MF_KIND_MODEL, true, "dn_model_save");
}

dn_status dn_model_save_weights(const dn_model *model, const char *path) {
  return save_kind(model, path, DN_MF_KIND_WEIGHTS, false, "dn_model_save_weights");
}

dn_model *dn_model_load(const char *path) {
  if (path == NULL)
    return dn_fail_null(DN_ERR_ARG, "dn_model_load: path is NULL");
  uint8_t *buf = NULL;
  size_t len = 0;
  if (read_whole(path, "dn_model_load", &buf, &len) != DN_OK)
    return NULL;
  dn_model *model = dn_mf_decode_model(buf, len, path);
  dn_free(buf);
  return model;
}

dn_status dn_model_load_weights(dn_model *model, const char *path) {
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, "dn_model_load_weights: %s is NULL",
                   model == NULL ? "model" : "path");
  uint8_t *buf = NULL;
  size_t len = 0;
  dn_status st = read_whole(path, "dn_model_load_weights", &buf, &len);
  if (st == DN_OK)
    st = dn_mf_decode_weights(model, buf, len, path);
  dn_free(buf);
  return st;
}
