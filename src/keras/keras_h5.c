/* keras_h5.c -- HDF5 access for the Keras interchange: checked reads of one variable or
 * attribute, and writing groups, datasets and attributes, on disk or in memory.
 *
 * Every read checks the object's kind, type class, rank and dims before reading, so a hostile
 * file can only produce DN_ERR_FORMAT. HDF5's own error printing is switched off around each
 * public call (dn_keras_h5_quiet_begin/end).
 */
#define _POSIX_C_SOURCE 200809L /* strnlen, localtime_r */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "keras/keras_io.h"
#include "core/status.h"

#define DN_KERAS_ATTR_MAX ((size_t)64 << 20) /* bytes of one string attribute we accept */

void dn_keras_h5_quiet_begin(dn_keras_h5_quiet *q) {
  q->func = NULL;
  q->data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void dn_keras_h5_quiet_end(const dn_keras_h5_quiet *q) {
  H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

hid_t dn_keras_h5_open_file(const char *path, const char *fn) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    char reason[128];
    dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path,
            dn_errno_text(errno, reason, sizeof reason));
    return -1;
  }
  fclose(f);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0)
    dn_fail(DN_ERR_FORMAT, "%s: '%s' is not a readable HDF5 file (damaged or truncated?)", fn,
            path);
  return file;
}

static hid_t core_fapl(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fapl_core(fapl, 64 * 1024, 0) < 0) {
    H5Pclose(fapl);
    return -1;
  }
  return fapl;
}

hid_t dn_keras_h5_open_image(const void *data, size_t size, const char *fn, const char *what) {
  const unsigned char *sig = dn_keras_hdf5_signature;
  if (size < DN_KERAS_HDF5_SIGNATURE_LEN || memcmp(data, sig, DN_KERAS_HDF5_SIGNATURE_LEN) != 0) {
    dn_fail(DN_ERR_FORMAT, "%s: %s is not an HDF5 file (no HDF5 signature)", fn, what);
    return -1;
  }
  hid_t fapl = core_fapl();
  if (fapl < 0 || H5Pset_file_image(fapl, (void *)(uintptr_t)data, size) < 0) {
    if (fapl >= 0)
      H5Pclose(fapl);
    dn_fail(DN_ERR_NOMEM, "%s: %s: cannot set up an in-memory HDF5 file", fn, what);
    return -1;
  }
  char name[64];
  snprintf(name, sizeof name, "dn_keras_in_%p", data);
  hid_t file = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (file < 0)
    dn_fail(DN_ERR_FORMAT, "%s: %s: HDF5 cannot open it (damaged or truncated)", fn, what);
  return file;
}

hid_t dn_keras_h5_create_image(const char *fn) {
  /* Names must differ between concurrent saves (HDF5 refuses a second open of one name), so the
   * counter is atomic (it was a plain static in 0.2.0). */
  static atomic_ulong counter;
  hid_t fapl = core_fapl();
  if (fapl < 0) {
    dn_fail(DN_ERR_NOMEM, "%s: cannot set up an in-memory HDF5 file", fn);
    return -1;
  }
  char name[64];
  snprintf(name, sizeof name, "dn_keras_out_%lu", atomic_fetch_add(&counter, 1) + 1);
  hid_t file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file < 0)
    dn_fail(DN_ERR_NOMEM, "%s: cannot create an in-memory HDF5 file", fn);
  return file;
}

dn_status dn_keras_h5_image_bytes(hid_t file, const char *fn, unsigned char **data, size_t *size) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot flush the in-memory HDF5 file", fn);
  ssize_t n = H5Fget_file_image(file, NULL, 0);
  if (n <= 0)
    return dn_fail(DN_ERR_IO, "%s: cannot get the in-memory HDF5 file's bytes", fn);
  unsigned char *buf = dn_alloc((size_t)n);
  if (buf == NULL)
    return DN_ERR_NOMEM;
  if (H5Fget_file_image(file, buf, (size_t)n) != n) {
    dn_free(buf);
    return dn_fail(DN_ERR_IO, "%s: cannot copy the in-memory HDF5 file's bytes", fn);
  }
  *data = buf;
  *size = (size_t)n;
  return DN_OK;
}

/* True if every component of `path` exists as a link (H5Lexists needs its parents to exist). */
static bool link_exists(hid_t file, const char *path) {
  char buf[512];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf)
    return false;
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
      buf[i] = c;
      if (e <= 0)
        return false;
    }
  }
  return true;
}

static H5I_type_t object_type(hid_t file, const char *path) {
  if (!link_exists(file, path))
    return H5I_BADID;
  hid_t obj = H5Oopen(file, path, H5P_DEFAULT);
  if (obj < 0)
    return H5I_BADID;
  H5I_type_t t = H5Iget_type(obj);
  H5Oclose(obj);
  return t;
}

bool dn_keras_h5_is_group(hid_t file, const char *path) {
  return object_type(file, path) == H5I_GROUP;
}

bool dn_keras_h5_is_dataset(hid_t file, const char *path) {
  return object_type(file, path) == H5I_DATASET;
}

dn_status dn_keras_h5_child_count(hid_t file, const char *path, const char *fn, size_t *count) {
  if (!dn_keras_h5_is_group(file, path))
    return dn_fail(DN_ERR_FORMAT, "%s: HDF5 group '%s' is missing", fn, path);
  hid_t g = H5Gopen2(file, path, H5P_DEFAULT);
  H5G_info_t info;
  herr_t e = g < 0 ? -1 : H5Gget_info(g, &info);
  if (g >= 0)
    H5Gclose(g);
  if (e < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: HDF5 group '%s' cannot be read", fn, path);
  *count = (size_t)info.nlinks;
  return DN_OK;
}

/* Opens dataset `path` and gets its shape; checks the element type. */
static dn_status open_dataset(hid_t file, const char *path, bool integer, const char *fn,
                              const char *where, hid_t *dset, size_t *rank, hsize_t dims[4]) {
  if (!dn_keras_h5_is_dataset(file, path))
    return dn_fail(DN_ERR_FORMAT, "%s: %s: HDF5 dataset '%s' is missing", fn, where, path);
  hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
  if (d < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: %s: HDF5 dataset '%s' cannot be opened", fn, where, path);
  hid_t type = H5Dget_type(d), space = H5Dget_space(d);
  H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  size_t tsize = type >= 0 ? H5Tget_size(type) : 0;
  H5S_class_t scls = space >= 0 ? H5Sget_simple_extent_type(space) : H5S_NO_CLASS;
  int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  dn_status st = DN_OK;
  if (integer ? cls != H5T_INTEGER || tsize > 8 : cls != H5T_FLOAT || tsize != 4) {
    if (!integer && cls == H5T_FLOAT)
      st =
          dn_fail(DN_ERR_UNSUPPORTED, "%s: %s: dataset '%s' is float%zu; only float32 is supported",
                  fn, where, path, tsize * 8);
    else
      st = dn_fail(DN_ERR_FORMAT, "%s: %s: dataset '%s' is not %s", fn, where, path,
                   integer ? "an integer" : "float32");
  } else if ((scls != H5S_SCALAR && scls != H5S_SIMPLE) || nd < 0 || nd > 4) {
    st = dn_fail(DN_ERR_FORMAT, "%s: %s: dataset '%s' has an unusable dataspace", fn, where, path);
  } else {
    *rank = (size_t)nd;
    if (nd > 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0)
      st = dn_fail(DN_ERR_FORMAT, "%s: %s: dataset '%s' has unreadable dims", fn, where, path);
  }
  if (type >= 0)
    H5Tclose(type);
  if (space >= 0)
    H5Sclose(space);
  if (st != DN_OK) {
    H5Dclose(d);
    return st;
  }
  *dset = d;
  return DN_OK;
}

static void format_dims(char *buf, size_t cap, size_t rank, const hsize_t *hd, const size_t *sd) {
  size_t n = (size_t)snprintf(buf, cap, "(");
  for (size_t i = 0; i < rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "",
                          hd ? (unsigned long long)hd[i] : (unsigned long long)sd[i]);
  if (n < cap)
    snprintf(buf + n, cap - n, rank == 1 ? ",)" : ")");
}

dn_status dn_keras_h5_shape(hid_t file, const char *path, size_t *rank, size_t dims[4],
                            const char *fn, const char *where) {
  hid_t d;
  hsize_t hd[4];
  size_t r;
  /* any numeric type: try float first, then integer, for the message */
  dn_error_state saved;
  dn_error_save(&saved);
  dn_status st = open_dataset(file, path, false, fn, where, &d, &r, hd);
  if (st != DN_OK) {
    dn_status st2 = open_dataset(file, path, true, fn, where, &d, &r, hd);
    if (st2 != DN_OK)
      return st;
    dn_error_restore(&saved);
  }
  H5Dclose(d);
  *rank = r;
  for (size_t i = 0; i < r; i++)
    dims[i] = (size_t)hd[i];
  return DN_OK;
}

dn_status dn_keras_h5_read(hid_t file, const char *path, size_t rank, const size_t *dims,
                           bool integer, float *out, const char *fn, const char *where) {
  hid_t d;
  size_t r;
  hsize_t hd[4];
  dn_status st = open_dataset(file, path, integer, fn, where, &d, &r, hd);
  if (st != DN_OK)
    return st;
  bool same = r == rank;
  for (size_t i = 0; same && i < r; i++)
    same = hd[i] == (hsize_t)dims[i];
  if (!same) {
    char got[96], want[96];
    format_dims(got, sizeof got, r, hd, NULL);
    format_dims(want, sizeof want, rank, NULL, dims);
    H5Dclose(d);
    return dn_fail(DN_ERR_FORMAT, "%s: %s: dataset '%s' has shape %s, the model needs %s", fn,
                   where, path, got, want);
  }
  herr_t e = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  H5Dclose(d);
  if (e < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: %s: dataset '%s' cannot be read (damaged or truncated)", fn,
                   where, path);
  return DN_OK;
}

/* ---- string attributes ------------------------------------------------------ */

static dn_status open_attr(hid_t obj, const char *name, const char *fn, const char *where,
                           hid_t *attr, hid_t *type, size_t *count) {
  htri_t e = H5Aexists(obj, name);
  if (e <= 0)
    return dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' is missing", fn, where, name);
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' cannot be opened", fn, where, name);
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
  int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
  if (s >= 0)
    H5Sclose(s);
  /* Keras writes an empty list (a layer without weights) as an empty float64 array. */
  bool empty_list = t >= 0 && n == 0 && nd == 1;
  if (t < 0 || (H5Tget_class(t) != H5T_STRING && !empty_list) || n < 0 || nd > 1) {
    if (t >= 0)
      H5Tclose(t);
    H5Aclose(a);
    return dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' is not a string or list of strings", fn,
                   where, name);
  }
  *attr = a;
  *type = t;
  *count = (size_t)n;
  return DN_OK;
}

/* Reads every string of an open string attribute into one dn_alloc'd block: count pointers
 * followed by the bytes. */
static dn_status read_strings(hid_t attr, hid_t ftype, size_t count, const char *fn,
                              const char *where, const char *name, char ***out) {
  bool vlen = H5Tis_variable_str(ftype) > 0;
  size_t fixed = vlen ? 0 : H5Tget_size(ftype);
  hid_t mtype = H5Tcopy(H5T_C_S1);
  if (mtype < 0)
    return DN_ERR_NOMEM;
  H5Tset_cset(mtype, H5Tget_cset(ftype));
  H5Tset_size(mtype, vlen ? H5T_VARIABLE : fixed);
  if (!vlen)
    H5Tset_strpad(mtype, H5T_STR_NULLPAD);
  dn_status st = DN_OK;
  char **ptrs = NULL;
  unsigned char *raw = NULL;
  size_t bytes = 0;
  if (vlen) {
    ptrs = dn_calloc(count ? count : 1, sizeof *ptrs);
    if (ptrs == NULL) {
      H5Tclose(mtype);
      return DN_ERR_NOMEM;
    }
    if (H5Aread(attr, mtype, ptrs) < 0)
      st = dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' cannot be read", fn, where, name);
    for (size_t i = 0; st == DN_OK && i < count; i++) {
      size_t len = ptrs[i] ? strnlen(ptrs[i], DN_KERAS_ATTR_MAX) : 0;
      if (len >= DN_KERAS_ATTR_MAX || bytes + len + 1 > DN_KERAS_ATTR_MAX)
        st = dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' is too long", fn, where, name);
      bytes += len + 1;
    }
  } else {
    size_t total;
    if (fixed == 0 || !dn_mul_size(count, fixed, &total, "attribute") ||
        total > DN_KERAS_ATTR_MAX) {
      H5Tclose(mtype);
      return dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' has a bad size", fn, where, name);
    }
    raw = dn_alloc(total ? total : 1);
    if (raw == NULL) {
      H5Tclose(mtype);
      return DN_ERR_NOMEM;
    }
    if (H5Aread(attr, mtype, raw) < 0)
      st = dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' cannot be read", fn, where, name);
    for (size_t i = 0; st == DN_OK && i < count; i++)
      bytes += strnlen((const char *)raw + i * fixed, fixed) + 1;
  }
  char **block = NULL;
  if (st == DN_OK) {
    block = dn_alloc((count + 1) * sizeof(char *) + bytes + 1);
    if (block == NULL)
      st = DN_ERR_NOMEM;
  }
  if (st == DN_OK) {
    char *p = (char *)(block + count + 1);
    for (size_t i = 0; i < count; i++) {
      const char *src = vlen ? (ptrs[i] ? ptrs[i] : "") : (const char *)raw + i * fixed;
      size_t len = vlen ? strlen(src) : strnlen(src, fixed);
      memcpy(p, src, len);
      p[len] = '\0';
      block[i] = p;
      p += len + 1;
    }
    block[count] = NULL;
    *out = block;
  }
  if (vlen) {
    for (size_t i = 0; i < count; i++)
      if (ptrs[i])
        H5free_memory(ptrs[i]);
    dn_free(ptrs);
  }
  dn_free(raw);
  H5Tclose(mtype);
  return st;
}

dn_status dn_keras_h5_attr_strings(hid_t obj, const char *name, const char *fn, const char *where,
                                   char ***out, size_t *count) {
  hid_t a = -1, t = -1;
  size_t n = 0;
  dn_status st = open_attr(obj, name, fn, where, &a, &t, &n);
  if (st != DN_OK)
    return st;
  if (n == 0) { /* nothing to read (and maybe not of a string type) */
    *out = dn_calloc(1, sizeof **out);
    st = *out != NULL ? DN_OK : DN_ERR_NOMEM;
  } else {
    st = read_strings(a, t, n, fn, where, name, out);
  }
  H5Tclose(t);
  H5Aclose(a);
  if (st == DN_OK)
    *count = n;
  return st;
}

dn_status dn_keras_h5_attr_string(hid_t obj, const char *name, const char *fn, const char *where,
                                  char **out) {
  char **list;
  size_t n;
  dn_status st = dn_keras_h5_attr_strings(obj, name, fn, where, &list, &n);
  if (st != DN_OK)
    return st;
  if (n != 1) {
    dn_free(list);
    return dn_fail(DN_ERR_FORMAT, "%s: %s: attribute '%s' holds %zu strings, expected one", fn,
                   where, name, n);
  }
  /* Move the one string to the block's start so the caller frees the pointer it gets. */
  size_t len = strlen(list[0]);
  memmove(list, list[0], len + 1);
  *out = (char *)list;
  return DN_OK;
}

/* ---- writing ------------------------------------------------------------------ */

static hid_t intermediate_lcpl(void) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  if (lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) < 0) {
    H5Pclose(lcpl);
    return -1;
  }
  return lcpl;
}

dn_status dn_keras_h5_make_group(hid_t file, const char *path, const char *name_attr,
                                 const char *fn) {
  hid_t lcpl = intermediate_lcpl();
  hid_t g = lcpl < 0 ? -1 : H5Gcreate2(file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (lcpl >= 0)
    H5Pclose(lcpl);
  if (g < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot create HDF5 group '%s'", fn, path);
  dn_status st = DN_OK;
  if (name_attr != NULL)
    st = dn_keras_h5_attr_write(g, "name", &name_attr, 1, false, true, fn, path);
  H5Gclose(g);
  return st;
}

dn_status dn_keras_h5_attr_write(hid_t obj, const char *name, const char *const *strings,
                                 size_t count, bool list, bool utf8, const char *fn,
                                 const char *where) {
  hsize_t n = count;
  /* an empty list is Keras's np.asarray([]): an empty float64 array */
  bool empty = list && count == 0;
  hid_t t = empty ? H5Tcopy(H5T_IEEE_F64LE) : H5Tcopy(H5T_C_S1);
  hid_t s = list ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR), a = -1;
  if (t >= 0 && s >= 0 &&
      (empty || (H5Tset_size(t, H5T_VARIABLE) >= 0 &&
                 H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) >= 0)))
    a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  static const double none = 0.0;
  herr_t e = a < 0 ? -1 : H5Awrite(a, t, empty ? (const void *)&none : (const void *)strings);
  if (a >= 0)
    H5Aclose(a);
  if (s >= 0)
    H5Sclose(s);
  if (t >= 0)
    H5Tclose(t);
  if (e < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot write HDF5 attribute '%s' of %s", fn, name, where);
  return DN_OK;
}

dn_status dn_keras_h5_write(hid_t file, const char *path, size_t rank, const size_t *dims,
                            const float *values, bool as_int32, const char *fn) {
  hsize_t hd[4];
  size_t n = 1;
  if (rank > 4)
    return dn_fail(DN_ERR_ARG, "%s: rank %zu for '%s'", fn, rank, path);
  for (size_t i = 0; i < rank; i++) {
    hd[i] = dims[i];
    n *= dims[i];
  }
  int *ints = NULL;
  if (as_int32) {
    ints = dn_alloc((n ? n : 1) * sizeof *ints);
    if (ints == NULL)
      return DN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
      float v = values[i];
      ints[i] = v >= (float)INT_MAX ? INT_MAX : v <= (float)INT_MIN ? INT_MIN : (int)v;
    }
  }
  hid_t lcpl = intermediate_lcpl();
  hid_t s = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple((int)rank, hd, NULL);
  hid_t d = -1;
  if (lcpl >= 0 && s >= 0)
    d = H5Dcreate2(file, path, as_int32 ? H5T_STD_I32LE : H5T_IEEE_F32LE, s, lcpl, H5P_DEFAULT,
                   H5P_DEFAULT);
  herr_t e = d < 0 ? -1
                   : H5Dwrite(d, as_int32 ? H5T_NATIVE_INT : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                              H5P_DEFAULT, as_int32 ? (const void *)ints : (const void *)values);
  if (d >= 0)
    H5Dclose(d);
  if (s >= 0)
    H5Sclose(s);
  if (lcpl >= 0)
    H5Pclose(lcpl);
  dn_free(ints);
  if (e < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot write HDF5 dataset '%s'", fn, path);
  return DN_OK;
}

dn_status dn_keras_h5_read_scalar_int(hid_t file, const char *path, const char *fn,
                                      const char *where, long long *out) {
  hid_t d;
  size_t r;
  hsize_t hd[4];
  dn_status st = open_dataset(file, path, true, fn, where, &d, &r, hd);
  if (st != DN_OK)
    return st;
  if (r != 0) {
    H5Dclose(d);
    return dn_fail(DN_ERR_FORMAT, "%s: %s: dataset '%s' is not a scalar", fn, where, path);
  }
  herr_t e = H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  H5Dclose(d);
  if (e < 0)
    return dn_fail(DN_ERR_FORMAT, "%s: %s: dataset '%s' cannot be read", fn, where, path);
  return DN_OK;
}

dn_status dn_keras_h5_write_scalar_int(hid_t file, const char *path, long long value,
                                       const char *fn) {
  bool small = value >= INT_MIN && value <= INT_MAX;
  int v32 = small ? (int)value : 0;
  hid_t lcpl = intermediate_lcpl();
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t d = -1;
  if (lcpl >= 0 && s >= 0)
    d = H5Dcreate2(file, path, small ? H5T_STD_I32LE : H5T_STD_I64LE, s, lcpl, H5P_DEFAULT,
                   H5P_DEFAULT);
  herr_t e = d < 0 ? -1
                   : H5Dwrite(d, small ? H5T_NATIVE_INT : H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL,
                              H5P_DEFAULT, small ? (const void *)&v32 : (const void *)&value);
  if (d >= 0)
    H5Dclose(d);
  if (s >= 0)
    H5Sclose(s);
  if (lcpl >= 0)
    H5Pclose(lcpl);
  if (e < 0)
    return dn_fail(DN_ERR_IO, "%s: cannot write HDF5 dataset '%s'", fn, path);
  return DN_OK;
}
