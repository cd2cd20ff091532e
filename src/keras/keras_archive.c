/* keras_archive.c -- the .keras zip: reading named members and writing an archive, via libzip.
 *
 * Reading is defensive: the archive is opened with libzip's consistency checks, every member's
 * declared size is checked against what its stored bytes can justify before anything is
 * allocated, and a member must read back exactly its declared size (libzip checks the CRC).
 * Writing builds the archive in memory, members stored uncompressed as Keras does, and saves it
 * through the crash-safe writer (io/file.h: a temporary file next to the target, synced, renamed
 * over it): a failed or interrupted save leaves any previous file intact.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <zip.h>

#include "core/alloc.h"
#include "io/file.h"
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
  dn_keras_json_begin(); /* the members read here are parsed by cJSON next */
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

/* The bytes of an archive of blobs[0..n) (members stored, in order), built in memory by libzip
 * into *out (dn_free it) of *size bytes. Messages name `path`, the file it is for. */
static dn_status build_archive(const char *path, const char *fn, const dn_keras_blob *blobs,
                               size_t n, unsigned char **out, size_t *size) {
  zip_error_t e;
  zip_error_init(&e);
  zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &e);
  zip_t *z = mem == NULL ? NULL : zip_open_from_source(mem, ZIP_CREATE | ZIP_TRUNCATE, &e);
  if (z == NULL) {
    int code = zip_error_code_zip(&e);
    dn_status st = dn_fail(code == ZIP_ER_MEMORY ? DN_ERR_NOMEM : DN_ERR_IO,
                           "%s: cannot write '%s': %s", fn, path, zip_error_strerror(&e));
    zip_error_fini(&e);
    zip_source_free(mem); /* not taken by a failed open */
    return st;
  }
  zip_error_fini(&e);
  zip_source_keep(mem); /* the bytes are read back after zip_close */
  /* Keras's zipfile members carry the 1980-01-01 DOS epoch for the JSON files and the save time
   * for the weights; we do the same. */
  struct tm epoch = {.tm_year = 80, .tm_mon = 0, .tm_mday = 1, .tm_isdst = -1};
  time_t t1980 = mktime(&epoch), now = time(NULL);
  dn_status st = DN_OK;
  for (size_t i = 0; i < n && st == DN_OK; i++) {
    zip_source_t *src = zip_source_buffer(z, blobs[i].data, blobs[i].size, 0);
    zip_int64_t index = src == NULL ? -1 : zip_file_add(z, blobs[i].name, src, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      if (src != NULL)
        zip_source_free(src);
      st = dn_fail(DN_ERR_IO, "%s: '%s': cannot add member '%s': %s", fn, path, blobs[i].name,
                   zip_strerror(z));
      break;
    }
    bool is_json = strstr(blobs[i].name, ".json") != NULL;
    if (zip_set_file_compression(z, (zip_uint64_t)index, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_mtime(z, (zip_uint64_t)index, is_json ? t1980 : now, 0) != 0)
      st = dn_fail(DN_ERR_IO, "%s: '%s': cannot set up member '%s': %s", fn, path, blobs[i].name,
                   zip_strerror(z));
  }
  if (st == DN_OK && zip_close(z) != 0)
    st = dn_fail(DN_ERR_IO, "%s: cannot write '%s': %s", fn, path, zip_strerror(z));
  if (st != DN_OK) {
    zip_discard(z);
    zip_source_free(mem);
    return st;
  }
  zip_stat_t sb;
  zip_stat_init(&sb);
  unsigned char *buf = NULL;
  if (zip_source_stat(mem, &sb) != 0 || !(sb.valid & ZIP_STAT_SIZE) || zip_source_open(mem) != 0) {
    st = dn_fail(DN_ERR_IO, "%s: cannot write '%s': the archive cannot be read back", fn, path);
  } else {
    buf = dn_alloc(sb.size ? (size_t)sb.size : 1);
    if (buf == NULL)
      st = DN_ERR_NOMEM;
    else if (zip_source_read(mem, buf, sb.size) != (zip_int64_t)sb.size)
      st = dn_fail(DN_ERR_IO, "%s: cannot write '%s': the archive cannot be read back", fn, path);
    zip_source_close(mem);
  }
  zip_source_free(mem);
  if (st != DN_OK) {
    dn_free(buf);
    return st;
  }
  *out = buf;
  *size = (size_t)sb.size;
  return DN_OK;
}

dn_status dn_keras_zip_write(const char *path, const char *fn, const dn_keras_blob *blobs,
                             size_t n) {
  unsigned char *bytes = NULL;
  size_t size = 0;
  dn_status st = build_archive(path, fn, blobs, n, &bytes, &size);
  if (st == DN_OK)
    st = dn_file_write_atomic(path, bytes, size, fn);
  dn_free(bytes);
  return st;
}
