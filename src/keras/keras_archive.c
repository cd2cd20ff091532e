/* keras_archive.c -- the .keras zip: reading named members and writing an archive, via libzip.
 *
 * Reading is defensive: the archive is opened with libzip's consistency checks, every member's
 * declared size is checked against what its stored bytes can justify before anything is
 * allocated, and a member must read back exactly its declared size (libzip checks the CRC).
 * Writing stores members uncompressed, as Keras does, into a temporary file next to the target,
 * which is flushed to disk (fsync) and then renamed over the target (and the directory synced):
 * a failed or interrupted save leaves any previous file intact.
 */
#define _POSIX_C_SOURCE 200809L /* fsync, open */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zip.h>

#include "core/alloc.h"
#include "keras/keras_io.h"
#include "core/status.h"

/* Largest member we read (a model far beyond this is not a dense Sequential stack). */
#define DN_KERAS_MEMBER_MAX ((zip_uint64_t)1 << 31)
/* Deflate cannot expand data by more than about 1032:1. */
#define DN_KERAS_DEFLATE_RATIO 1032u

void dn_keras_blob_free(dn_keras_blob *blob) {
  if (blob != NULL) {
    dn_free(blob->data);
    blob->data = NULL;
    blob->size = 0;
  }
}

static dn_status zip_open_error(int code, const char *path, const char *fn) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  dn_status st =
      (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN || code == ZIP_ER_READ || code == ZIP_ER_MEMORY)
          ? (code == ZIP_ER_MEMORY ? DN_ERR_NOMEM : DN_ERR_IO)
          : DN_ERR_FORMAT;
  dn_fail(st, "%s: '%s': %s%s", fn, path, st == DN_ERR_FORMAT ? "not a valid zip archive: " : "",
          zip_error_strerror(&e));
  zip_error_fini(&e);
  return st;
}

static dn_status read_member(zip_t *z, zip_int64_t index, const char *name, const char *fn,
                             dn_keras_blob *blob) {
  zip_stat_t sb;
  zip_stat_init(&sb);
  if (zip_stat_index(z, (zip_uint64_t)index, 0, &sb) != 0 ||
      (sb.valid & (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD)) !=
          (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD))
    return dn_fail(DN_ERR_FORMAT, "%s: member '%s': no size in the zip directory", fn, name);
  if (sb.size > DN_KERAS_MEMBER_MAX)
    return dn_fail(DN_ERR_FORMAT, "%s: member '%s' declares %llu bytes (limit %llu)", fn, name,
                   (unsigned long long)sb.size, (unsigned long long)DN_KERAS_MEMBER_MAX);
  if (sb.comp_method == ZIP_CM_STORE ? sb.size != sb.comp_size
                                     : sb.size / DN_KERAS_DEFLATE_RATIO > sb.comp_size)
    return dn_fail(DN_ERR_FORMAT,
                   "%s: member '%s' declares %llu bytes but stores %llu: inconsistent sizes", fn,
                   name, (unsigned long long)sb.size, (unsigned long long)sb.comp_size);
  zip_file_t *zf = zip_fopen_index(z, (zip_uint64_t)index, 0);
  if (zf == NULL)
    return dn_fail(DN_ERR_FORMAT, "%s: member '%s' cannot be opened: %s", fn, name,
                   zip_strerror(z));
  unsigned char *buf = dn_alloc((size_t)sb.size + 1);
  if (buf == NULL) {
    zip_fclose(zf);
    return DN_ERR_NOMEM;
  }
  zip_uint64_t got = 0;
  dn_status st = DN_OK;
  while (got < sb.size) {
    zip_int64_t n = zip_fread(zf, buf + got, sb.size - got);
    if (n < 0) {
      st =
          dn_fail(DN_ERR_FORMAT, "%s: member '%s' is damaged: %s", fn, name, zip_file_strerror(zf));
      break;
    }
    if (n == 0)
      break;
    got += (zip_uint64_t)n;
  }
  if (st == DN_OK && got != sb.size)
    st = dn_fail(DN_ERR_FORMAT, "%s: member '%s' is truncated: %llu of %llu bytes", fn, name,
                 (unsigned long long)got, (unsigned long long)sb.size);
  if (st == DN_OK) {
    unsigned char extra;
    zip_int64_t n = zip_fread(zf, &extra, 1); /* reaching the end makes libzip check the CRC */
    if (n != 0)
      st = dn_fail(DN_ERR_FORMAT, "%s: member '%s' is damaged (%s)", fn, name,
                   n < 0 ? zip_file_strerror(zf) : "more bytes than declared");
  }
  zip_fclose(zf);
  if (st != DN_OK) {
    dn_free(buf);
    return st;
  }
  buf[sb.size] = '\0';
  blob->data = buf;
  blob->size = (size_t)sb.size;
  return DN_OK;
}

dn_status dn_keras_zip_read(const char *path, const char *fn, dn_keras_blob *blobs,
                            const bool *optional, size_t n) {
  int err = 0;
  zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (z == NULL)
    return zip_open_error(err, path, fn);
  dn_status st = DN_OK;
  for (size_t i = 0; i < n && st == DN_OK; i++) {
    blobs[i].data = NULL;
    blobs[i].size = 0;
    zip_int64_t index = zip_name_locate(z, blobs[i].name, 0);
    if (index < 0) {
      if (!optional[i])
        st = dn_fail(DN_ERR_FORMAT, "%s: '%s': the archive has no member '%s'", fn, path,
                     blobs[i].name);
      continue;
    }
    st = read_member(z, index, blobs[i].name, fn, &blobs[i]);
  }
  zip_discard(z);
  if (st != DN_OK)
    for (size_t i = 0; i < n; i++)
      dn_keras_blob_free(&blobs[i]);
  return st;
}

/* Writes the archive at `file` (messages name `path`, the user's target). */
static dn_status write_archive(const char *file, const char *path, const char *fn,
                               const dn_keras_blob *blobs, size_t n) {
  int err = 0;
  zip_t *z = zip_open(file, ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (z == NULL) {
    zip_error_t e;
    zip_error_init_with_code(&e, err);
    dn_status st = dn_fail(err == ZIP_ER_MEMORY ? DN_ERR_NOMEM : DN_ERR_IO,
                           "%s: cannot write '%s': %s", fn, path, zip_error_strerror(&e));
    zip_error_fini(&e);
    return st;
  }
  /* Keras's zipfile members carry the 1980-01-01 DOS epoch for the JSON files and the save time
   * for the weights; we do the same. */
  struct tm epoch = {.tm_year = 80, .tm_mon = 0, .tm_mday = 1, .tm_isdst = -1};
  time_t t1980 = mktime(&epoch), now = time(NULL);
  for (size_t i = 0; i < n; i++) {
    zip_source_t *src = zip_source_buffer(z, blobs[i].data, blobs[i].size, 0);
    zip_int64_t index = src == NULL ? -1 : zip_file_add(z, blobs[i].name, src, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      if (src != NULL)
        zip_source_free(src);
      dn_status st = dn_fail(DN_ERR_IO, "%s: '%s': cannot add member '%s': %s", fn, path,
                             blobs[i].name, zip_strerror(z));
      zip_discard(z);
      return st;
    }
    bool is_json = strstr(blobs[i].name, ".json") != NULL;
    if (zip_set_file_compression(z, (zip_uint64_t)index, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_mtime(z, (zip_uint64_t)index, is_json ? t1980 : now, 0) != 0) {
      dn_status st = dn_fail(DN_ERR_IO, "%s: '%s': cannot set up member '%s': %s", fn, path,
                             blobs[i].name, zip_strerror(z));
      zip_discard(z);
      return st;
    }
  }
  if (zip_close(z) != 0) {
    dn_status st = dn_fail(DN_ERR_IO, "%s: cannot write '%s': %s", fn, path, zip_strerror(z));
    zip_discard(z);
    return st;
  }
  return DN_OK;
}

static dn_status sync_path(const char *path, int flags, const char *fn, const char *what) {
  int fd = open(path, flags);
  if (fd < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot open %s '%s' to sync it: %s", fn, what, path,
                   strerror(errno));
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc != 0 && flags == O_RDONLY && e == EINVAL)
    return DN_OK; /* directories that cannot be synced */
  if (rc != 0)
    return dn_fail(DN_ERR_IO, "%s: cannot sync %s '%s': %s", fn, what, path, strerror(e));
  return DN_OK;
}

dn_status dn_keras_zip_write(const char *path, const char *fn, const dn_keras_blob *blobs,
                             size_t n) {
  size_t len = strlen(path);
  char *tmp = dn_alloc(len + 32);
  if (tmp == NULL)
    return DN_ERR_NOMEM;
  snprintf(tmp, len + 32, "%s.dn-tmp-%ld", path, (long)getpid());
  dn_status st = write_archive(tmp, path, fn, blobs, n);
  if (st == DN_OK)
    st = sync_path(tmp, O_RDONLY, fn, "file");
  if (st == DN_OK && rename(tmp, path) != 0)
    st = dn_fail(DN_ERR_IO, "%s: cannot rename the temporary file over '%s': %s", fn, path,
                 strerror(errno));
  if (st != DN_OK) {
    remove(tmp);
  } else {
    /* make the rename durable: sync the directory holding the target */
    char *dir = dn_alloc(len + 2);
    if (dir != NULL) {
      memcpy(dir, path, len + 1);
      char *slash = strrchr(dir, '/');
      if (slash == NULL)
        memcpy(dir, ".", 2);
      else if (slash == dir)
        slash[1] = '\0';
      else
        *slash = '\0';
      st = sync_path(dir, O_RDONLY, fn, "directory");
      dn_free(dir);
    }
  }
  dn_free(tmp);
  return st;
}
