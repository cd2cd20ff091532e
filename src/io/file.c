/* file.c -- files for the savers and loaders: crash-safe writing (temporary file, fflush +
 * fsync, rename, directory fsync), reading a regular file whole, the OS's reasons in messages.
 */
#define _POSIX_C_SOURCE 200809L

#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"

/* ---- crash-safe writing ------------------------------------------------------------------- */

static _Thread_local int fail_stage;

void dn_mf_set_fail_stage(int stage) {
  fail_stage = stage;
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

dn_status dn_file_write_atomic(const char *path, const void *data, size_t len, const char *fn) {
  const uint8_t *buf = data;
  char err[128];
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t dir_len = slash ? (size_t)(slash - path) : 0;
  if (base[0] == '\0')
    return dn_fail(DN_ERR_IO, "%s: '%s' names a directory, not a file", fn, path);
  /* dir + "/." + base + ".tmp" + 12 digits + NUL */
  size_t cap = dir_len + strlen(base) + 24;
  /* Both names, the directory's for its fsync included, are allocated before anything is
   * written: exhausted memory fails the save with nothing changed, and a save that returns DN_OK
   * has met no failure (0.1's Keras saver skipped the directory sync when that allocation failed
   * and returned DN_OK with DN_ERR_NOMEM left as the last status). */
  char *tmp = dn_alloc(cap), *dir = dn_alloc(dir_len + 2);
  if (tmp == NULL || dir == NULL) {
    dn_free(tmp);
    dn_free(dir);
    return dn_fail(DN_ERR_NOMEM, "%s: out of memory for the temporary file's name to save '%s'", fn,
                   path);
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
                 path, dn_errno_text(errno, err, sizeof err));
    dn_free(tmp);
    dn_free(dir);
    return st;
  }
  FILE *f = fdopen(fd, "wb");
  if (f == NULL) {
    st = dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, tmp,
                 dn_errno_text(errno, err, sizeof err));
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
                   fn, path, what, tmp, dn_errno_text(saved ? saved : EIO, err, sizeof err));
  }
  if (st != DN_OK) {
    unlink(tmp);
  } else {
    /* Make the rename itself durable. Some file systems cannot sync a directory (EINVAL). */
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
      if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS && errno != EBADF)
        st = dn_fail(DN_ERR_IO, "%s: saved '%s' but syncing its directory '%s' failed: %s", fn,
                     path, dir, dn_errno_text(errno, err, sizeof err));
      close(dfd);
    }
  }
  dn_free(tmp);
  dn_free(dir);
  return st;
}

/* ---- reading ------------------------------------------------------------------------------ */

const char *dn_file_type_text(unsigned mode) {
  mode_t m = (mode_t)mode;
  return S_ISREG(m)    ? "a regular file"
         : S_ISDIR(m)  ? "a directory"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISSOCK(m) ? "a socket"
         : S_ISLNK(m)  ? "a symbolic link"
                       : "an unknown kind of file";
}

dn_status dn_file_open_checked(const char *path, const char *fn, bool allow_stream,
                               const char *suffix, const char *stream_hint, int *fd,
                               struct stat *sb) {
  char err[128];
  int d = -1;
  for (int pass = 0; pass < 2; pass++) {
    if ((pass == 0 ? stat(path, sb) : fstat(d, sb)) != 0) {
      int e = errno;
      if (d >= 0)
        close(d);
      return dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                     dn_errno_text(e, err, sizeof err));
    }
    bool regular = S_ISREG(sb->st_mode), dir = S_ISDIR(sb->st_mode);
    if (!regular && (dir || !allow_stream)) {
      if (d >= 0)
        close(d);
      return dn_fail(DN_ERR_IO, "%s: '%s' is not a regular file (it is %s)%s%s", fn, path,
                     dn_file_type_text((unsigned)sb->st_mode), suffix, dir ? "" : stream_hint);
    }
    /* O_NONBLOCK keeps a regular file swapped for a FIFO since the stat() from blocking the
     * open (the fstat then refuses it); a stream the caller allowed opens as it is. */
    if (pass == 0 && (d = open(path, O_RDONLY | O_CLOEXEC | (regular ? O_NONBLOCK : 0))) < 0)
      return dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                     dn_errno_text(errno, err, sizeof err));
  }
  int flags = fcntl(d, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK))
    fcntl(d, F_SETFL, flags & ~O_NONBLOCK);
  *fd = d;
  return DN_OK;
}

/* The file's size is what justifies the allocation, so only a regular file is read.
 * (0.2.0 took errno after a successful fstat for the "not a regular file" message, so
 * /dev/zero was reported with a stale reason such as "No such file or directory".) */
dn_status dn_file_read_whole(const char *path, const char *fn, const char *what, uint8_t **out,
                             size_t *len) {
  char err[128], suffix[64];
  struct stat sb;
  int fd = -1;
  snprintf(suffix, sizeof suffix, ", so not %s", what);
  dn_status st = dn_file_open_checked(path, fn, false, suffix, "", &fd, &sb);
  if (st != DN_OK)
    return st;
  if ((uintmax_t)sb.st_size > (uintmax_t)SIZE_MAX / 2) {
    close(fd);
    return dn_fail(DN_ERR_FORMAT, "%s: '%s' is too large to be %s (%jd bytes)", fn, path, what,
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
                     dn_errno_text(e, err, sizeof err));
    }
    got += (size_t)r;
  }
  close(fd);
  *out = buf;
  *len = size;
  return DN_OK;
}
