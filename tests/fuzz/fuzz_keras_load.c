/* fuzz_keras_load.c -- libFuzzer harness for the Keras loader (src/keras/): our parsing code in
 * this process, where HDF5 only ever sees files HDF5 itself wrote, plus (when
 * DN_FUZZ_KERAS_PARSER names the helper) raw damaged files through the isolated loader.
 *
 * The first byte chooses a mode (byte % 5); the rest is split at NUL bytes into parts:
 *   0  a .keras zip assembled in memory by libzip (so the CRCs are right):
 *      byte 1 = flags, parts config.json, metadata.json, weights description (below).
 *      flags & 3: the weights member: 0/1 a valid image of model 0/1 (keras_fuzz_models.h),
 *      2 an HDF5 file built from the description, 3 none; 4: no metadata.json; 8: members
 *      deflated; 16: reverse member order; 32: an extra member. -> dn_keras_load (in-process),
 *      then dn_keras_load_weights of the same archive into fixed model (flags >> 6) % 3.
 *   1  raw .keras bytes: in-process when the archive's model.weights.h5 is one HDF5 wrote (one
 *      of the valid images), or unreadable (the load fails before HDF5); through the isolated
 *      loader otherwise (only with DN_FUZZ_KERAS_PARSER; skipped without).
 *   2  a .weights.h5 built from the description: byte 1 picks the fixed model (% 3) for
 *      dn_keras_load_weights (in-process).
 *   3  a legacy Keras 2 .h5: parts model_config, training_config (empty: absent), description:
 *      dn_keras_load (in-process) and dn_keras_load_weights into fixed model byte 1 % 3.
 *   4  raw HDF5 bytes (a damaged .h5 / .weights.h5): only through the isolated loader.
 *
 * The description builds a valid HDF5 file with HDF5's own writer, one command per line:
 *   g PATH                     group (with parents)
 *   f|d|i|l|b PATH [D1 ...]    dataset float32|float64|int32|int64|uint8, rank = number of dims
 *   t PATH                     scalar string dataset
 *   s|S PATH NAME TEXT         scalar string attribute (variable|fixed length) on object PATH
 *   a|A PATH NAME W1 W2 ...    1-d string array attribute (variable|fixed length)
 *   v K                        values of later datasets: 0 ramp, 1 zeros, 2 ones, 3 NaN, 4 inf,
 *                              5 3e38, 6 -1, 7 1e9 (ramp: 0.001, 0.011, 0.021, ...)
 *
 * Invariants: every call returns a model or DN_OK, or NULL / a status equal to dn_last_status()
 * with a message that names the call; the status is FORMAT, UNSUPPORTED, NOMEM or IO (the
 * isolated loader's helper problems); a failed dn_keras_load_weights leaves the weights as they
 * were; a loaded model predicts, and saves (dn_keras_save) to a file that loads back with the
 * same weights. Leaks: LeakSanitizer. Build and run: .ci/fuzz.d/keras.sh, tests/fuzz/README.md.
 */
#define _GNU_SOURCE
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "core/alloc.h"
#include "densenet.h"
#include "densenet_keras.h"
#include "keras/keras_io.h"
#include "keras_fuzz_models.h"
#include "model/sequential.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_ELEMS 4096u
#define MAX_LINES 256u

static char dir[64];
static char keras_path[128], h5_path[128], save_path[128];
static unsigned char *images[2];
static size_t image_size[2];
static const char *parser; /* DN_FUZZ_KERAS_PARSER: the isolated modes run */
static bool verbose;       /* DN_FUZZ_KERAS_VERBOSE: print each call's outcome */

static void die(const char *what) {
  fprintf(stderr, "fuzz_keras_load: %s: %s (%s)\n", what, dn_last_error(),
          dn_status_string(dn_last_status()));
  abort();
}

static void write_file(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (n > 0 && fwrite(bytes, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* A valid weights image of model `which`, saved by dn_keras_save and read back. */
static void make_image(int which) {
  dn_model *m = dn_kfuzz_model(which);
  if (m == NULL || dn_keras_save(m, keras_path) != DN_OK)
    die("cannot save a seed model");
  dn_model_free(m);
  dn_keras_blob b = {"model.weights.h5", NULL, 0};
  const bool req = false;
  if (dn_keras_zip_read(keras_path, "seed", &b, &req, 1) != DN_OK)
    die("cannot read a seed model's weights");
  images[which] = b.data;
  image_size[which] = b.size;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "/tmp/dn-fuzz-keras-XXXXXX");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    abort();
  }
  snprintf(keras_path, sizeof keras_path, "%s/in.keras", dir);
  snprintf(h5_path, sizeof h5_path, "%s/in.h5", dir);
  snprintf(save_path, sizeof save_path, "%s/out.keras", dir);
  make_image(0);
  make_image(1);
  const char *p = getenv("DN_FUZZ_KERAS_PARSER");
  parser = p != NULL && p[0] != '\0' ? p : NULL;
  verbose = getenv("DN_FUZZ_KERAS_VERBOSE") != NULL;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the harness's own HDF5 writes must not print */
  return 0;
}

/* ---- checks -------------------------------------------------------------------------------- */

static void check_failure(dn_status st, const char *fn) {
  if (verbose)
    fprintf(stderr, "  %s: %s\n", dn_status_string(st), dn_last_error());
  if (st != dn_last_status()) {
    fprintf(stderr, "%s returned %s but dn_last_status() is %s\n", fn, dn_status_string(st),
            dn_status_string(dn_last_status()));
    abort();
  }
  if (st != DN_ERR_FORMAT && st != DN_ERR_UNSUPPORTED && st != DN_ERR_NOMEM && st != DN_ERR_IO) {
    fprintf(stderr, "%s: unexpected status %s: %s\n", fn, dn_status_string(st), dn_last_error());
    abort();
  }
  if (strncmp(dn_last_error(), fn, strlen(fn)) != 0) {
    fprintf(stderr, "%s: the message does not name the call: '%s'\n", fn, dn_last_error());
    abort();
  }
}

static float *weights_of(const dn_model *m, size_t *n) {
  *n = dn_model_count_params(m);
  float *w = malloc((*n ? *n : 1) * sizeof *w);
  if (w == NULL || dn_model_get_weights(m, w, *n) != DN_OK)
    abort();
  return w;
}

/* A loaded model predicts one row (small widths) and survives a save and in-process reload. */
static void exercise(dn_model *m) {
  if (verbose)
    fprintf(stderr, "  loaded: %zu layers, %zu weights\n", m->n_layers, dn_model_count_params(m));
  size_t in = dn_model_input_dim(m), out = dn_model_output_dim(m);
  bool small = in > 0 && in <= 64 && out > 0 && out <= 64;
  for (size_t i = 0; small && i < m->n_layers; i++)
    small = m->layers[i]->output_dim <= 64;
  if (small) {
    float x[64] = {0}, y[64];
    for (size_t i = 0; i < in; i++)
      x[i] = (float)i - 1.5f;
    if (dn_predict(m, dn_tensor_2d(x, 1, in), dn_tensor_2d(y, 1, out)) != DN_OK &&
        dn_last_status() != DN_ERR_NOMEM && dn_last_status() != DN_ERR_NUMERIC)
      die("a loaded model does not predict");
  }
  dn_status st = dn_keras_save(m, save_path);
  if (st != DN_OK) {
    if (st != DN_ERR_UNSUPPORTED && st != DN_ERR_NOMEM)
      die("a loaded model does not save");
    return;
  }
  dn_model *again = dn_keras_load_with(save_path, (dn_keras_options){.in_process = true});
  if (again == NULL)
    die("a saved model does not load back");
  size_t na, nb;
  float *a = weights_of(m, &na), *b = weights_of(again, &nb);
  if (na != nb || memcmp(a, b, na * sizeof *a) != 0 || again->n_layers != m->n_layers ||
      (again->train == NULL) != (m->train == NULL)) {
    fprintf(stderr, "save + load changed the model (%zu -> %zu weights)\n", na, nb);
    abort();
  }
  free(a);
  free(b);
  dn_model_free(again);
}

static void try_load(const char *path, bool isolated) {
  dn_keras_options o = {.in_process = !isolated};
  if (isolated) {
    o.parser = parser;
    o.time_limit_s = 2;
    o.memory_limit_mib = 512;
  }
  dn_model *m = dn_keras_load_with(path, o);
  if (m == NULL) {
    check_failure(dn_last_status(), "dn_keras_load");
    return;
  }
  exercise(m);
  dn_model_free(m);
}

static void try_load_weights(const char *path, int which, bool isolated) {
  dn_model *m = dn_kfuzz_model(which);
  if (m == NULL)
    return; /* out of memory */
  dn_keras_options o = {.in_process = !isolated};
  if (isolated) {
    o.parser = parser;
    o.time_limit_s = 2;
    o.memory_limit_mib = 512;
  }
  size_t n, n2;
  float *before = weights_of(m, &n);
  dn_status st = dn_keras_load_weights_with(m, path, o);
  if (st == DN_OK && verbose)
    fprintf(stderr, "  weights loaded into model %d\n", which);
  if (st != DN_OK) {
    check_failure(st, "dn_keras_load_weights");
    float *after = weights_of(m, &n2);
    if (n != n2 || memcmp(before, after, n * sizeof *before) != 0) {
      fprintf(stderr, "a failed dn_keras_load_weights changed the model\n");
      abort();
    }
    free(after);
  }
  free(before);
  dn_model_free(m);
}

/* ---- building HDF5 files from a description -------------------------------------------------- */

static hid_t create_lcpl(void) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}

static void string_attr(hid_t file, const char *path, const char *name, char **words, size_t n,
                        bool array, bool fixed) {
  hid_t obj = H5Oopen(file, path, H5P_DEFAULT);
  if (obj < 0)
    return;
  hid_t t = H5Tcopy(H5T_C_S1);
  size_t longest = 1;
  for (size_t i = 0; i < n; i++)
    if (strlen(words[i]) + 1 > longest)
      longest = strlen(words[i]) + 1;
  H5Tset_size(t, fixed ? longest : H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hsize_t dim = n;
  hid_t s = array ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
  if (H5Aexists(obj, name) > 0)
    H5Adelete(obj, name);
  hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) {
    if (fixed) {
      char *buf = calloc(n ? n : 1, longest);
      for (size_t i = 0; i < n; i++)
        memcpy(buf + i * longest, words[i], strlen(words[i]));
      H5Awrite(a, t, buf);
      free(buf);
    } else {
      H5Awrite(a, t, words);
    }
    H5Aclose(a);
  }
  H5Sclose(s);
  H5Tclose(t);
  H5Oclose(obj);
}

static void dataset(hid_t file, char op, const char *path, size_t rank, const hsize_t *dims,
                    int pattern) {
  size_t n = 1;
  for (size_t i = 0; i < rank; i++)
    n *= dims[i];
  if (n > MAX_ELEMS)
    return;
  hid_t ft, mt;
  switch (op) {
  case 'd': ft = H5T_IEEE_F64LE; break;
  case 'i': ft = H5T_STD_I32LE; break;
  case 'l': ft = H5T_STD_I64LE; break;
  case 'b': ft = H5T_STD_U8LE; break;
  default: ft = H5T_IEEE_F32LE; break;
  }
  mt = H5T_NATIVE_DOUBLE;
  double *v = malloc((n ? n : 1) * sizeof *v);
  static const double special[] = {0, 0, 1, NAN, INFINITY, 3e38, -1, 1e9};
  for (size_t i = 0; i < n; i++)
    v[i] = pattern == 0 ? 0.001 + (double)i * 0.01 : special[pattern & 7];
  hid_t lcpl = create_lcpl();
  hid_t s = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple((int)rank, dims, NULL);
  hid_t d = H5Dcreate2(file, path, ft, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0) {
    /* conversions of NaN/inf/out-of-range to integers are clipped by HDF5 (an exception
     * handler would be needed to do otherwise); values stay whatever it writes */
    H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
  }
  H5Sclose(s);
  H5Pclose(lcpl);
  free(v);
}

static void string_dataset(hid_t file, const char *path) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  hid_t s = H5Screate(H5S_SCALAR), lcpl = create_lcpl();
  hid_t d = H5Dcreate2(file, path, t, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0) {
    const char *text = "fuzz";
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
    H5Dclose(d);
  }
  H5Pclose(lcpl);
  H5Sclose(s);
  H5Tclose(t);
}

/* Splits `line` (modified) at spaces into at most cap words. */
static size_t split_words(char *line, char **words, size_t cap) {
  size_t n = 0;
  char *save = NULL;
  for (char *w = strtok_r(line, " \t\r", &save); w != NULL && n < cap;
       w = strtok_r(NULL, " \t\r", &save))
    words[n++] = w;
  return n;
}

static void run_line(hid_t file, char *line, int *pattern, const char *model_config,
                     const char *training_config) {
  char op = line[0];
  if (op == '\0' || (line[1] != ' ' && line[1] != '\0'))
    return;
  char *rest = line + (line[1] ? 2 : 1);
  if (op == 's' || op == 'S') { /* s PATH NAME TEXT: TEXT is the rest of the line */
    char *words[2];
    char *save = NULL;
    char *path = strtok_r(rest, " ", &save), *name = path ? strtok_r(NULL, " ", &save) : NULL;
    if (name == NULL)
      return;
    char *text = save != NULL ? save : (char *)"";
    /* two names stand for the parts given beside the description */
    if (strcmp(text, "@model_config") == 0 && model_config != NULL)
      text = (char *)model_config;
    else if (strcmp(text, "@training_config") == 0 && training_config != NULL)
      text = (char *)training_config;
    words[0] = text;
    string_attr(file, path, name, words, 1, false, op == 'S');
    return;
  }
  char *words[70];
  size_t n = split_words(rest, words, 70);
  if (op == 'v') {
    if (n >= 1)
      *pattern = atoi(words[0]) & 7;
    return;
  }
  if (n < 1)
    return;
  switch (op) {
  case 'g': {
    hid_t lcpl = create_lcpl();
    hid_t g = H5Gcreate2(file, words[0], lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0)
      H5Gclose(g);
    H5Pclose(lcpl);
    break;
  }
  case 'f':
  case 'd':
  case 'i':
  case 'l':
  case 'b': {
    hsize_t dims[8];
    size_t rank = n - 1 > 8 ? 8 : n - 1;
    for (size_t i = 0; i < rank; i++) {
      long v = strtol(words[1 + i], NULL, 10);
      if (v < 0 || v > (long)MAX_ELEMS)
        return;
      dims[i] = (hsize_t)v;
    }
    dataset(file, op, words[0], rank, dims, *pattern);
    break;
  }
  case 't': string_dataset(file, words[0]); break;
  case 'a':
  case 'A':
    if (n >= 2)
      string_attr(file, words[0], words[1], words + 2, n - 2, true, op == 'A');
    break;
  default: break;
  }
}

/* The bytes of an HDF5 file built from `desc` (n bytes); NULL if HDF5 could not make one. */
static unsigned char *build_h5(const char *desc, size_t n, const char *model_config,
                               const char *training_config, size_t *size) {
  hid_t file = dn_keras_h5_create_image("fuzz");
  if (file < 0)
    return NULL;
  char *copy = malloc(n + 1);
  memcpy(copy, desc, n);
  copy[n] = '\0';
  int pattern = 0;
  char *save = NULL;
  size_t lines = 0;
  for (char *line = strtok_r(copy, "\n", &save); line != NULL && lines < MAX_LINES;
       line = strtok_r(NULL, "\n", &save), lines++)
    run_line(file, line, &pattern, model_config, training_config);
  free(copy);
  unsigned char *bytes = NULL;
  if (dn_keras_h5_image_bytes(file, "fuzz", &bytes, size) != DN_OK)
    bytes = NULL;
  H5Fclose(file);
  return bytes;
}

/* ---- zips -------------------------------------------------------------------------------------
 */

typedef struct member {
  const char *name;
  const void *data;
  size_t size;
} member;

static bool write_zip(const char *path, member *m, size_t n, bool deflate) {
  int err = 0;
  zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (z == NULL)
    abort();
  for (size_t i = 0; i < n; i++) {
    zip_source_t *src = zip_source_buffer(z, m[i].data, m[i].size, 0);
    zip_int64_t idx = src == NULL ? -1 : zip_file_add(z, m[i].name, src, ZIP_FL_OVERWRITE);
    if (idx < 0) {
      zip_source_free(src);
      zip_discard(z);
      return false;
    }
    zip_set_file_compression(z, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) {
    zip_discard(z);
    return false;
  }
  return true;
}

/* ---- modes ------------------------------------------------------------------------------------
 */

/* Up to `cap` parts of data[0..size), split at NUL bytes. */
static size_t parts_of(const uint8_t *data, size_t size, const char **part, size_t *len,
                       size_t cap) {
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= size && n < cap; i++)
    if (i == size || (data[i] == 0 && n + 1 < cap)) {
      part[n] = (const char *)data + start;
      len[n++] = i - start;
      start = i + 1;
    }
  for (size_t i = n; i < cap; i++) {
    part[i] = "";
    len[i] = 0;
  }
  return n;
}

static void mode_assembled(const uint8_t *data, size_t size) {
  if (size < 1)
    return;
  unsigned flags = data[0];
  const char *part[3];
  size_t len[3];
  parts_of(data + 1, size - 1, part, len, 3);
  unsigned char *built = NULL;
  size_t built_size = 0;
  member m[4];
  size_t n = 0;
  m[n++] = (member){"config.json", part[0], len[0]};
  if (!(flags & 4))
    m[n++] = (member){"metadata.json", part[1], len[1]};
  switch (flags & 3) {
  case 0:
  case 1: m[n++] = (member){"model.weights.h5", images[flags & 1], image_size[flags & 1]}; break;
  case 2:
    built = build_h5(part[2], len[2], NULL, NULL, &built_size);
    if (built == NULL)
      return;
    m[n++] = (member){"model.weights.h5", built, built_size};
    break;
  default: break;
  }
  if (flags & 32)
    m[n++] = (member){"assets/extra.txt", "extra", 5};
  if (flags & 16)
    for (size_t i = 0; i < n / 2; i++) {
      member t = m[i];
      m[i] = m[n - 1 - i];
      m[n - 1 - i] = t;
    }
  if (write_zip(keras_path, m, n, (flags & 8) != 0)) {
    try_load(keras_path, false);
    try_load_weights(keras_path, (int)((flags >> 6) % 3), false);
  }
  dn_free(built);
}

static bool is_valid_image(const dn_keras_blob *b) {
  for (int i = 0; i < 2; i++)
    if (b->size == image_size[i] && memcmp(b->data, images[i], b->size) == 0)
      return true;
  return false;
}

static void mode_raw_keras(const uint8_t *data, size_t size) {
  write_file(keras_path, data, size);
  /* What the loader would hand to HDF5: the member as dn_keras_zip_read reads it. */
  dn_keras_blob b = {"model.weights.h5", NULL, 0};
  const bool req = false;
  bool unsafe = dn_keras_zip_read(keras_path, "guard", &b, &req, 1) == DN_OK && !is_valid_image(&b);
  dn_keras_blob_free(&b);
  if (unsafe && parser == NULL)
    return;
  try_load(keras_path, unsafe);
  try_load_weights(keras_path, (int)(size % 3), unsafe);
}

static void mode_weights(const uint8_t *data, size_t size) {
  if (size < 1)
    return;
  size_t n = 0;
  unsigned char *h5 = build_h5((const char *)data + 1, size - 1, NULL, NULL, &n);
  if (h5 == NULL)
    return;
  write_file(h5_path, h5, n);
  dn_free(h5);
  try_load_weights(h5_path, data[0] % 3, false);
}

static void mode_legacy(const uint8_t *data, size_t size) {
  if (size < 1)
    return;
  const char *part[3];
  size_t len[3];
  parts_of(data + 1, size - 1, part, len, 3);
  char *mc = strndup(part[0], len[0]), *tc = strndup(part[1], len[1]);
  size_t n = 0;
  unsigned char *h5 = build_h5(part[2], len[2], mc, len[1] ? tc : NULL, &n);
  free(mc);
  free(tc);
  if (h5 == NULL)
    return;
  write_file(h5_path, h5, n);
  dn_free(h5);
  try_load(h5_path, false);
  try_load_weights(h5_path, data[0] % 3, false);
}

static void mode_raw_h5(const uint8_t *data, size_t size) {
  if (parser == NULL || size < 1)
    return;
  write_file(h5_path, data + 1, size - 1);
  if (data[0] & 1)
    try_load(h5_path, true);
  else
    try_load_weights(h5_path, (data[0] >> 1) % 3, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  switch (data[0] % 5) {
  case 0: mode_assembled(data + 1, size - 1); break;
  case 1: mode_raw_keras(data + 1, size - 1); break;
  case 2: mode_weights(data + 1, size - 1); break;
  case 3: mode_legacy(data + 1, size - 1); break;
  default: mode_raw_h5(data + 1, size - 1); break;
  }
  return 0;
}
