/* test_keras.c -- the Keras interchange (libdensenet_keras): importing the genuine Keras 3.16
 * files, exporting .keras archives laid out as Keras writes them, round trips, our own fixtures
 * (tests/keras/make_fixtures.py) and bad files.
 *
 * usage: test_keras genuine      needs $DN_SHARED_DATA/keras (exit 77 when it is absent)
 *        test_keras own          everything else ($DN_KERAS_FIXTURES cases skip if not generated)
 *        test_keras tool PROGRAM densenet-predict PROGRAM on mlp.keras reproduces Keras's
 *                                predictions (exit 77 without the genuine files)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zip.h>

#include "dn_test.h"
#include "densenet_keras.h"
#include "keras/keras_io.h"
#include "training/optimizer.h"
#include "model/sequential.h"
#include "training/train.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static char g_tmpdir[256];

static const char *genuine(const char *name) {
  static char buf[4][1024];
  static int k;
  const char *base = getenv("DN_SHARED_DATA");
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/keras/%s", base ? base : "../shared/data", name);
  return buf[k];
}

static const char *fixture(const char *name) {
  static char buf[4][1024];
  static int k;
  const char *base = getenv("DN_KERAS_FIXTURES");
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", base ? base : "fixtures", name);
  return buf[k];
}

static const char *tmp(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmpdir, name);
  return buf[k];
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, size, f), size);
  fclose(f);
}

static cJSON *read_json(const char *path) {
  size_t n;
  unsigned char *text = (unsigned char *)dn_test_read_file(path, &n);
  cJSON *j = cJSON_ParseWithLength((const char *)text, n);
  free(text);
  assert_non_null(j);
  return j;
}

/* Flattens a (nested) JSON array of numbers into out; returns the count. */
static size_t flatten(const cJSON *a, float *out, size_t cap) {
  if (cJSON_IsNumber(a)) {
    assert_true(cap >= 1);
    out[0] = (float)a->valuedouble;
    return 1;
  }
  size_t n = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, a) n += flatten(item, out + n, cap - n);
  return n;
}

static size_t trainable_offset(const dn_model *m, size_t t) {
  for (size_t v = 0, k = 0; v < m->n_vars; v++)
    if (m->vars[v].trainable && k++ == t)
      return m->vars[v].offset;
  fail_msg("no trainable variable %zu", t);
  return 0;
}

static size_t n_trainable(const dn_model *m) {
  size_t n = 0;
  for (size_t v = 0; v < m->n_vars; v++)
    n += m->vars[v].trainable ? 1 : 0;
  return n;
}

/* Keras optimizer variable i (>= 2) of a 2-slot (Adam) or 1-slot optimizer: our slot values. */
static const float *slot_of_keras_var(const dn_model *m, size_t index, size_t per_var) {
  size_t t = (index - 2) / per_var, k = (index - 2) % per_var;
  const dn_optimizer *o = m->train->optimizer;
  assert_non_null(o->slots);
  return o->slots + k * m->n_params + trainable_offset(m, t);
}

/* ---- checks against expected.json ---------------------------------------------------------- */

static cJSON *g_expected;

static void check_predictions(dn_model *m, const cJSON *entry) {
  float x[256], want[64], got[64];
  size_t nx = flatten(dn_keras_json_get(entry, "check_inputs"), x, 256);
  size_t ny = flatten(dn_keras_json_get(entry, "predict"), want, 64);
  size_t rows = (size_t)cJSON_GetArraySize(dn_keras_json_get(entry, "check_inputs"));
  assert_int_equal(nx, rows * dn_model_input_dim(m));
  assert_int_equal(ny, rows * dn_model_output_dim(m));
  assert_ok(dn_predict(m, dn_tensor_2d(x, rows, dn_model_input_dim(m)),
                       dn_tensor_2d(got, rows, dn_model_output_dim(m))));
  /* float32 precision: relative 1e-6 (plus a few float32 ulps near 0) */
  assert_close_array(got, want, ny, 1e-7, 1e-6);
}

static void check_weights(const dn_model *m, const cJSON *entry) {
  size_t n = dn_model_count_params(m);
  float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
  assert_ok(dn_model_get_weights(m, got, n));
  size_t k = 0;
  const cJSON *w;
  cJSON_ArrayForEach(w, dn_keras_json_get(entry, "get_weights")) {
    k += flatten(dn_keras_json_get(w, "values"), want + k, n - k);
  }
  assert_int_equal(k, n);
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i])
      fail_msg("weight %zu: got %.9g, Keras %.9g", i, (double)got[i], (double)want[i]);
  free(got);
  free(want);
}

static void check_optimizer(const dn_model *m, const cJSON *entry) {
  assert_non_null(m->train);
  const dn_optimizer *o = m->train->optimizer;
  assert_string_equal(o->name, "adam");
  assert_string_equal(m->train->loss->name, "mean_absolute_error");
  const cJSON *v;
  size_t count = 0;
  cJSON_ArrayForEach(v, dn_keras_json_get(entry, "optimizer_variables")) {
    size_t index = (size_t)dn_keras_json_get(v, "index")->valuedouble;
    float vals[1024];
    size_t n = flatten(dn_keras_json_get(v, "values"), vals, 1024);
    if (index == 0) {
      assert_int_equal(o->iterations, (uint64_t)vals[0]);
    } else if (index == 1) {
      assert_true((float)dn_optimizer_learning_rate(o) == vals[0]);
    } else {
      const float *s = slot_of_keras_var(m, index, 2);
      for (size_t i = 0; i < n; i++)
        if (s[i] != vals[i])
          fail_msg("optimizer variable %zu [%zu]: got %.9g, Keras %.9g", index, i, (double)s[i],
                   (double)vals[i]);
    }
    count++;
  }
  assert_int_equal(count, 2 + 2 * n_trainable(m));
}

/* ---- export layout comparison ---------------------------------------------------------------- */

typedef struct desc_list {
  char *items[256];
  size_t n;
} desc_list;

typedef struct attr_acc {
  char text[512];
} attr_acc;

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
  (void)info;
  attr_acc *acc = data;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  size_t len = strlen(acc->text);
  snprintf(acc->text + len, sizeof acc->text - len, " @%s:class%d:vlen%d:cset%d:rank%d", name,
           (int)H5Tget_class(t), H5Tget_class(t) == H5T_STRING ? H5Tis_variable_str(t) : -1,
           H5Tget_class(t) == H5T_STRING ? (int)H5Tget_cset(t) : -1, H5Sget_simple_extent_ndims(s));
  H5Sclose(s);
  H5Tclose(t);
  H5Aclose(a);
  return 0;
}

static char *describe(hid_t file, const char *name) {
  char buf[1024];
  hid_t o = H5Oopen(file, name, H5P_DEFAULT);
  assert_true(o >= 0);
  attr_acc acc = {""};
  hsize_t idx = 0;
  H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, &acc);
  if (H5Iget_type(o) == H5I_DATASET) {
    hid_t t = H5Dget_type(o), s = H5Dget_space(o);
    hsize_t dims[8] = {0};
    int r = H5Sget_simple_extent_dims(s, dims, NULL);
    char shape[128] = "";
    for (int i = 0; i < r; i++)
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%llu,",
               (unsigned long long)dims[i]);
    snprintf(buf, sizeof buf, "%s D class%d size%zu order%d signed%d (%s)%s", name,
             (int)H5Tget_class(t), H5Tget_size(t), (int)H5Tget_order(t),
             H5Tget_class(t) == H5T_INTEGER ? (int)H5Tget_sign(t) : -1, shape, acc.text);
    H5Sclose(s);
    H5Tclose(t);
  } else {
    snprintf(buf, sizeof buf, "%s G%s", name, acc.text);
  }
  H5Oclose(o);
  return strdup(buf);
}

static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  desc_list *l = data;
  assert_true(l->n < 256);
  l->items[l->n++] = describe(g, name);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void h5_describe(hid_t file, desc_list *l) {
  l->n = 0;
  l->items[l->n++] = describe(file, "/");
  assert_true(H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, link_cb, l) >= 0);
  qsort(l->items, l->n, sizeof l->items[0], cmp_str);
}

static void h5_free(desc_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
}

/* Same keys, same kinds, same array lengths (values ignored; a number and null are the same
 * kind inside shapes, where Keras writes the adapt() batch size). */
static void same_structure(const cJSON *a, const cJSON *b, const char *path) {
  bool shape_ok = (cJSON_IsNull(a) || cJSON_IsNumber(a)) && (cJSON_IsNull(b) || cJSON_IsNumber(b));
  if ((a->type & 0xff) != (b->type & 0xff) && !shape_ok && !(cJSON_IsBool(a) && cJSON_IsBool(b)))
    fail_msg("config %s: kind %d vs Keras %d", path, a->type & 0xff, b->type & 0xff);
  if (cJSON_IsObject(a)) {
    const cJSON *x;
    cJSON_ArrayForEach(x, a) if (!cJSON_GetObjectItemCaseSensitive(b, x->string))
        fail_msg("config %s: key '%s' not in Keras's file", path, x->string);
    cJSON_ArrayForEach(x, b) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s/%s", path, x->string);
      const cJSON *y = cJSON_GetObjectItemCaseSensitive(a, x->string);
      if (y == NULL)
        fail_msg("config %s: Keras's key missing", sub);
      same_structure(y, x, sub);
    }
  } else if (cJSON_IsArray(a)) {
    assert_int_equal(cJSON_GetArraySize(a), cJSON_GetArraySize(b));
    for (int i = 0; i < cJSON_GetArraySize(a); i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s/%d", path, i);
      same_structure(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), sub);
    }
  }
}

static void zip_names(const char *path, char names[8][64], size_t *n) {
  int err = 0;
  zip_t *z = zip_open(path, ZIP_RDONLY, &err);
  assert_non_null(z);
  zip_int64_t k = zip_get_num_entries(z, 0);
  assert_true(k <= 8);
  for (zip_int64_t i = 0; i < k; i++) {
    snprintf(names[i], 64, "%s", zip_get_name(z, (zip_uint64_t)i, 0));
    zip_stat_t sb;
    zip_stat_index(z, (zip_uint64_t)i, 0, &sb);
    assert_int_equal(sb.comp_method, ZIP_CM_STORE);
  }
  *n = (size_t)k;
  zip_discard(z);
}

static void read_members(const char *path, dn_keras_blob m[3]) {
  m[0] = (dn_keras_blob){"metadata.json", NULL, 0};
  m[1] = (dn_keras_blob){"config.json", NULL, 0};
  m[2] = (dn_keras_blob){"model.weights.h5", NULL, 0};
  const bool opt[3] = {false, false, false};
  assert_ok(dn_keras_zip_read(path, "test", m, opt, 3));
}

/* Our archive `ours` against Keras's `theirs`: members (names, order, stored), HDF5 objects
 * (paths, kinds, dtypes, shapes, attributes), config.json and metadata.json structure. */
static void compare_archives(const char *ours, const char *theirs) {
  char na[8][64], nb[8][64];
  size_t a = 0, b = 0;
  zip_names(ours, na, &a);
  zip_names(theirs, nb, &b);
  assert_int_equal(a, b);
  for (size_t i = 0; i < a; i++)
    assert_string_equal(na[i], nb[i]);
  dn_keras_blob ma[3], mb[3];
  read_members(ours, ma);
  read_members(theirs, mb);
  for (size_t i = 0; i < 2; i++) {
    cJSON *ja = cJSON_ParseWithLength((const char *)ma[i].data, ma[i].size);
    cJSON *jb = cJSON_ParseWithLength((const char *)mb[i].data, mb[i].size);
    assert_non_null(ja);
    assert_non_null(jb);
    same_structure(ja, jb, ma[i].name);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
  }
  hid_t ha = dn_keras_h5_open_image(ma[2].data, ma[2].size, "test", "ours");
  hid_t hb = dn_keras_h5_open_image(mb[2].data, mb[2].size, "test", "keras");
  assert_true(ha >= 0 && hb >= 0);
  desc_list la, lb;
  h5_describe(ha, &la);
  h5_describe(hb, &lb);
  for (size_t i = 0; i < la.n && i < lb.n; i++)
    if (strcmp(la.items[i], lb.items[i]) != 0)
      fail_msg("HDF5 object differs:\n ours:  %s\n Keras: %s", la.items[i], lb.items[i]);
  assert_int_equal(la.n, lb.n);
  h5_free(&la);
  h5_free(&lb);
  H5Fclose(ha);
  H5Fclose(hb);
  for (size_t i = 0; i < 3; i++) {
    dn_keras_blob_free(&ma[i]);
    dn_keras_blob_free(&mb[i]);
  }
}

/* Bit-identical weights, optimizer state and predictions of two models (on x: rows x the
 * models' input width). */
static void same_model(dn_model *a, dn_model *b, const float *x, size_t rows) {
  size_t n = dn_model_count_params(a);
  assert_int_equal(n, dn_model_count_params(b));
  assert_int_equal(dn_model_layer_count(a), dn_model_layer_count(b));
  for (size_t i = 0; i < dn_model_layer_count(a); i++) {
    assert_string_equal(dn_layer_name(dn_model_layer(a, i)), dn_layer_name(dn_model_layer(b, i)));
    assert_string_equal(dn_layer_type(dn_model_layer(a, i)), dn_layer_type(dn_model_layer(b, i)));
  }
  assert_memory_equal(a->params, b->params, n * sizeof(float));
  assert_true((a->train == NULL) == (b->train == NULL));
  if (a->train != NULL) {
    const dn_optimizer *oa = a->train->optimizer, *ob = b->train->optimizer;
    assert_string_equal(oa->name, ob->name);
    assert_string_equal(a->train->loss->name, b->train->loss->name);
    assert_int_equal(a->train->n_metrics, b->train->n_metrics);
    assert_int_equal(oa->iterations, ob->iterations);
    assert_true((float)oa->learning_rate == (float)ob->learning_rate);
    assert_int_equal(oa->n_slots, ob->n_slots);
    if (oa->slots != NULL && oa->n_params == n) {
      assert_non_null(ob->slots);
      assert_memory_equal(oa->slots, ob->slots, oa->n_slots * n * sizeof(float));
    }
  }
  size_t out = dn_model_output_dim(a);
  float *ya = calloc(rows * out, sizeof *ya), *yb = calloc(rows * out, sizeof *yb);
  dn_tensor xt = dn_tensor_2d(x, rows, dn_model_input_dim(a));
  assert_ok(dn_predict(a, xt, dn_tensor_2d(ya, rows, out)));
  assert_ok(dn_predict(b, xt, dn_tensor_2d(yb, rows, out)));
  assert_memory_equal(ya, yb, rows * out * sizeof *ya);
  free(ya);
  free(yb);
}

/* ---- genuine files ------------------------------------------------------------------------------
 */

static void test_genuine_mlp_keras(void **state) {
  (void)state;
  const cJSON *e = dn_keras_json_get(g_expected, "mlp.keras");
  dn_model *m = dn_keras_load(genuine("mlp.keras"));
  if (m == NULL)
    fail_msg("%s", dn_last_error());
  assert_int_equal(dn_model_layer_count(m), 3);
  assert_string_equal(dn_layer_name(dn_model_layer(m, 1)), "dense_1");
  check_predictions(m, e);
  check_weights(m, e);
  check_optimizer(m, e);
  assert_true(m->train->optimizer->options.beta_2 == 0.999);
  dn_model_free(m);
}

static void test_genuine_bn_dropout_keras(void **state) {
  (void)state;
  const cJSON *e = dn_keras_json_get(g_expected, "bn_dropout.keras");
  dn_model *m = dn_keras_load(genuine("bn_dropout.keras"));
  if (m == NULL)
    fail_msg("%s", dn_last_error());
  const char *types[] = {"Normalization", "Dense", "BatchNormalization", "Dropout", "Dense"};
  assert_int_equal(dn_model_layer_count(m), 5);
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(dn_layer_type(dn_model_layer(m, i)), types[i]);
  check_predictions(m, e);
  check_weights(m, e);
  check_optimizer(m, e);
  dn_model_free(m);
}

static dn_model *mlp_like(uint64_t seed, bool compiled) {
  dn_model *m = dn_sequential(dn_dense(16, .activation = "relu", .input_dim = 8),
                              dn_dense(8, .activation = "tanh"), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, seed));
  if (compiled)
    assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mae"));
  return m;
}

static void test_genuine_weights_h5(void **state) {
  (void)state;
  const cJSON *e = dn_keras_json_get(g_expected, "mlp.keras");
  /* into an uncompiled model: weights only */
  dn_model *m = mlp_like(99, false);
  assert_ok(dn_keras_load_weights(m, genuine("mlp.weights.h5")));
  check_predictions(m, e);
  check_weights(m, e);
  dn_model_free(m);
  /* into a compiled model: weights and Adam state */
  m = mlp_like(7, true);
  assert_ok(dn_keras_load_weights(m, genuine("mlp.weights.h5")));
  check_weights(m, e);
  check_optimizer(m, e);
  /* the weights of a .keras archive too */
  dn_model *k = mlp_like(8, false);
  assert_ok(dn_keras_load_weights(k, genuine("mlp.keras")));
  check_weights(k, e);
  dn_model_free(k);
  dn_model_free(m);
}

static void test_genuine_legacy_h5(void **state) {
  (void)state;
  const cJSON *e = dn_keras_json_get(g_expected, "mlp.keras"); /* the same model */
  dn_model *m = dn_keras_load(genuine("mlp_legacy.h5"));
  if (m == NULL)
    fail_msg("%s", dn_last_error());
  check_predictions(m, e);
  check_weights(m, e);
  check_optimizer(m, e); /* the legacy file carries the same 14 Adam variables */
  dn_model_free(m);
  /* its weights alone into a fresh model with other layer names, paired in order */
  m = dn_sequential(dn_dense(16, .activation = "relu", .input_dim = 8, .name = "a"),
                    dn_dropout(0.5), dn_dense(8, .activation = "tanh", .name = "b"),
                    dn_dense(1, .name = "c"));
  assert_ok(dn_keras_load_weights(m, genuine("mlp_legacy.h5")));
  check_predictions(m, e);
  dn_model_free(m);
  m = dn_sequential(dn_dense(16, .activation = "relu", .input_dim = 8), dn_dense(1));
  assert_status_msg(dn_keras_load_weights(m, genuine("mlp_legacy.h5")), DN_ERR_FORMAT,
                    "model_weights/dense_1/sequential/dense_1/kernel' has shape (16, 8)");
  dn_model_free(m);
  m = dn_sequential(dn_dense(16, .activation = "relu", .input_dim = 8),
                    dn_dense(8, .activation = "tanh"));
  assert_status_msg(dn_keras_load_weights(m, genuine("mlp_legacy.h5")), DN_ERR_FORMAT,
                    "more layers with weights");
  dn_model_free(m);
}

static void test_genuine_export_layout(void **state) {
  (void)state;
  const char *names[] = {"mlp.keras", "bn_dropout.keras"};
  for (size_t i = 0; i < 2; i++) {
    const cJSON *e = dn_keras_json_get(g_expected, names[i]);
    dn_model *m = dn_keras_load(genuine(names[i]));
    assert_non_null(m);
    const char *out = tmp(names[i]);
    assert_ok(dn_keras_save(m, out));
    compare_archives(out, genuine(names[i]));
    dn_model *r = dn_keras_load(out);
    if (r == NULL)
      fail_msg("%s", dn_last_error());
    check_predictions(r, e);
    check_weights(r, e);
    check_optimizer(r, e);
    float x[64];
    size_t rows = (size_t)cJSON_GetArraySize(dn_keras_json_get(e, "check_inputs"));
    flatten(dn_keras_json_get(e, "check_inputs"), x, 64);
    same_model(m, r, x, rows);
    dn_model_free(r);
    dn_model_free(m);
  }
  /* an exported legacy model has the layout of the .keras Keras wrote for it */
  dn_model *m = dn_keras_load(genuine("mlp_legacy.h5"));
  assert_non_null(m);
  assert_ok(dn_keras_save(m, tmp("from_legacy.keras")));
  compare_archives(tmp("from_legacy.keras"), genuine("mlp.keras"));
  dn_model_free(m);
}

static void test_genuine_truncated(void **state) {
  (void)state;
  size_t n;
  unsigned char *bytes = (unsigned char *)dn_test_read_file(genuine("mlp.keras"), &n);
  const char *path = tmp("truncated.keras");
  size_t cuts[] = {0,    1,    3,     4,     30,    64,      100,    500,    1000, 3000,
                   4000, 8000, 16000, 25000, 28000, n - 200, n - 30, n - 22, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    write_file(path, bytes, cuts[i]);
    dn_model *m = dn_keras_load(path);
    if (m != NULL)
      fail_msg("a copy truncated to %zu of %zu bytes loaded", cuts[i], n);
    dn_status s = dn_last_status();
    assert_true(s == DN_ERR_FORMAT || s == DN_ERR_IO);
    assert_true(strstr(dn_last_error(), "dn_keras_load") != NULL);
  }
  /* flipped bytes in the weights member: a clean error or (if the byte is unused) a model */
  for (size_t off = 4200; off < n; off += 1531) {
    unsigned char *copy = malloc(n);
    memcpy(copy, bytes, n);
    copy[off] ^= 0x5a;
    write_file(path, copy, n);
    free(copy);
    dn_model *m = dn_keras_load(path);
    if (m == NULL)
      assert_true(dn_last_status() == DN_ERR_FORMAT || dn_last_status() == DN_ERR_UNSUPPORTED);
    dn_model_free(m);
  }
  free(bytes);
}

static void test_genuine_wrong_shapes(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(17, .activation = "relu", .input_dim = 8),
                              dn_dense(8, .activation = "tanh"), dn_dense(1));
  assert_non_null(m);
  size_t n = dn_model_count_params(m);
  float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
  assert_ok(dn_model_get_weights(m, before, n));
  assert_status_msg(dn_keras_load_weights(m, genuine("mlp.weights.h5")), DN_ERR_FORMAT,
                    "layers/dense/vars/0");
  assert_true(strstr(dn_last_error(), "(8, 16)") && strstr(dn_last_error(), "(8, 17)"));
  assert_ok(dn_model_get_weights(m, after, n));
  assert_memory_equal(before, after, n * sizeof *before);
  dn_model_free(m);
  /* one layer too few */
  m = dn_sequential(dn_dense(16, .activation = "relu", .input_dim = 8), dn_dense(1));
  assert_status_msg(dn_keras_load_weights(m, genuine("mlp.weights.h5")), DN_ERR_FORMAT,
                    "layers/dense_1/vars/0");
  dn_model_free(m);
  /* a compiled optimizer that does not match the file's Adam state */
  m = mlp_like(3, false);
  assert_ok(dn_compile(m, .optimizer = "sgd", .loss = "mae"));
  assert_status_msg(dn_keras_load_weights(m, genuine("mlp.weights.h5")), DN_ERR_FORMAT,
                    "optimizer/vars holds 14 variables");
  dn_model_free(m);
  /* a weights-only file is not a model */
  assert_null(dn_keras_load(genuine("mlp.weights.h5")));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  assert_non_null(strstr(dn_last_error(), "weights-only"));
  free(before);
  free(after);
}

/* A zip holding only some of the members, or a bad config.json. */
static void write_zip(const char *path, const char *config, const void *weights, size_t wsize) {
  int err = 0;
  zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  assert_non_null(z);
  const char *meta = "{\"keras_version\": \"3.16.0\", \"date_saved\": \"x\"}";
  zip_file_add(z, "metadata.json", zip_source_buffer(z, meta, strlen(meta), 0), 0);
  if (config)
    zip_file_add(z, "config.json", zip_source_buffer(z, config, strlen(config), 0), 0);
  if (weights)
    zip_file_add(z, "model.weights.h5", zip_source_buffer(z, weights, wsize, 0), 0);
  assert_int_equal(zip_close(z), 0);
}

static void test_genuine_bad_members(void **state) {
  (void)state;
  dn_keras_blob m[3];
  read_members(genuine("mlp.keras"), m);
  const char *path = tmp("members.keras");
  write_zip(path, (const char *)m[1].data, NULL, 0);
  assert_null(dn_keras_load(path));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  assert_non_null(strstr(dn_last_error(), "model.weights.h5"));
  write_zip(path, NULL, m[2].data, m[2].size);
  assert_null(dn_keras_load(path));
  assert_non_null(strstr(dn_last_error(), "config.json"));
  write_zip(path, "{\"class_name\": \"Sequential\", \"config\": ", m[2].data, m[2].size);
  assert_null(dn_keras_load(path));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  assert_non_null(strstr(dn_last_error(), "not valid JSON"));
  write_zip(path, "{\"class_name\": \"Functional\", \"config\": {}}", m[2].data, m[2].size);
  assert_null(dn_keras_load(path));
  assert_int_equal(dn_last_status(), DN_ERR_UNSUPPORTED);
  assert_non_null(strstr(dn_last_error(), "Functional"));
  /* config and weights that disagree: units 16 -> 12 in the first Dense */
  char *cfg = strdup((const char *)m[1].data);
  char *u = strstr(cfg, "\"units\": 16");
  assert_non_null(u);
  memcpy(u, "\"units\": 12", 11);
  write_zip(path, cfg, m[2].data, m[2].size);
  assert_null(dn_keras_load(path));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  assert_non_null(strstr(dn_last_error(), "layers/dense/vars/0"));
  /* a dtype other than float32 */
  strcpy(cfg, (const char *)m[1].data);
  char *d = strstr(cfg, "\"name\": \"float32\"}, \"registered_name\": null}, \"units\"");
  assert_non_null(d);
  memcpy(d, "\"name\": \"float64\"", 17);
  write_zip(path, cfg, m[2].data, m[2].size);
  assert_null(dn_keras_load(path));
  assert_int_equal(dn_last_status(), DN_ERR_UNSUPPORTED);
  assert_non_null(strstr(dn_last_error(), "float64"));
  free(cfg);
  for (size_t i = 0; i < 3; i++)
    dn_keras_blob_free(&m[i]);
}

/* Fuzzer finding (tests/fuzz/fuzz_keras_load.c): an optimizer value the library refuses (RMSprop
 * momentum 5) was DN_ERR_ARG, as if the caller had passed a bad argument; a file's value is
 * DN_ERR_UNSUPPORTED naming it, in-process and through the helper. */
static void test_fuzz_optimizer_value(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(1, .input_dim = 2));
  assert_ok(dn_compile(m, .optimizer = "rmsprop", .loss = "mse"));
  const char *path = tmp("momentum.keras");
  assert_ok(dn_keras_save(m, path));
  dn_model_free(m);
  dn_keras_blob b[3];
  read_members(path, b);
  char *cfg = strdup((const char *)b[1].data);
  char *mo = strstr(cfg, "\"momentum\": 0,");
  assert_non_null(mo);
  memcpy(mo, "\"momentum\": 5,", 14);
  write_zip(path, cfg, b[2].data, b[2].size);
  for (int isolated = 0; isolated < 2; isolated++) {
    dn_model *r = dn_keras_load_with(path, (dn_keras_options){.in_process = !isolated});
    assert_null(r);
    assert_int_equal(dn_last_status(), DN_ERR_UNSUPPORTED);
    assert_non_null(strstr(dn_last_error(), "momentum"));
    assert_non_null(strstr(dn_last_error(), "dn_keras_load"));
  }
  free(cfg);
  for (size_t i = 0; i < 3; i++)
    dn_keras_blob_free(&b[i]);
}

/* ---- own models and fixtures ------------------------------------------------------------------
 */

static void test_own_round_trip(void **state) {
  (void)state;
  float xs[40 * 5], ys[40 * 2];
  for (size_t i = 0; i < 40 * 5; i++)
    xs[i] = (float)sin(0.37 * (double)i + 0.1) * (1.0f + (float)(i % 5));
  for (size_t i = 0; i < 40; i++) {
    ys[2 * i] = xs[5 * i] - 0.5f * xs[5 * i + 3];
    ys[2 * i + 1] = (float)tanh(xs[5 * i + 1]);
  }
  dn_tensor x = dn_tensor_2d(xs, 40, 5), y = dn_tensor_2d(ys, 40, 2);
  dn_layer *norm = dn_normalization(.input_dim = 5);
  assert_ok(dn_normalization_adapt(norm, x));
  dn_model *m = dn_sequential(
      norm,
      dn_dense(6, .activation = "gelu", .kernel_regularizer = "l2", .bias_l1 = 0.001,
               .kernel_initializer = "he_normal", .name = "hidden"),
      dn_batch_normalization(.momentum = 0.9, .no_center = true), dn_activation("swish"),
      dn_dropout(0.25), dn_dense(2, .no_bias = true, .kernel_initializer = "random_uniform"));
  assert_non_null(m);
  const char *metrics[] = {"mae", NULL};
  assert_ok(dn_compile(m, .optimizer_object = dn_adam(.learning_rate = 0.01, .beta_1 = 0.8),
                       .loss = "huber", .huber_delta = 0.5, .metrics = metrics));
  dn_history *h = dn_fit(m, x, y, .epochs = 2, .batch_size = 16, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  assert_int_equal(m->train->optimizer->iterations, 6);
  const char *path = tmp("own.keras");
  assert_ok(dn_keras_save(m, path));
  dn_model *r = dn_keras_load(path);
  if (r == NULL)
    fail_msg("%s", dn_last_error());
  same_model(m, r, xs, 40);
  assert_true(r->train->optimizer->options.beta_1 == 0.8);
  assert_true(r->train->loss_params.huber_delta == 0.5);
  assert_string_equal(r->train->metric_req[0], "mae");
  assert_true(dn_model_regularization_loss(r) == dn_model_regularization_loss(m));
  /* training resumes identically */
  float l1, l2;
  assert_ok(dn_model_set_seed(m, 5));
  assert_ok(dn_model_set_weights(m, r->params, dn_model_count_params(r)));
  assert_ok(dn_model_set_seed(r, 5));
  assert_ok(dn_model_set_weights(r, m->params, dn_model_count_params(m)));
  dn_tensor x16 = dn_tensor_slice_rows(x, 0, 16), y16 = dn_tensor_slice_rows(y, 0, 16);
  assert_ok(dn_train_on_batch(m, x16, y16, &l1));
  assert_ok(dn_train_on_batch(r, x16, y16, &l2));
  assert_true(l1 == l2);
  assert_memory_equal(m->params, r->params, dn_model_count_params(m) * sizeof(float));
  /* the weights alone into a fresh model of the same architecture */
  dn_model_free(r);
  dn_model_free(m);
}

static void test_own_save_errors(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_dense(2, .input_dim = 3));
  assert_status_msg(dn_keras_save(NULL, "x.keras"), DN_ERR_ARG, "model is NULL");
  assert_status_msg(dn_keras_save(m, NULL), DN_ERR_ARG, "path is NULL");
  assert_status_msg(dn_keras_save(m, tmp("x.txt")), DN_ERR_ARG, "must end in .keras");
  assert_status_msg(dn_keras_save(m, "/nonexistent-dir/x.keras"), DN_ERR_IO, "x.keras");
  dn_model *u = dn_model_new();
  assert_ok(dn_model_add(u, dn_dense(3)));
  assert_status_msg(dn_keras_save(u, tmp("u.keras")), DN_ERR_STATE, "input shape");
  dn_model_free(u);
  /* a failed save leaves the previous file as it was */
  const char *path = tmp("keep.keras");
  assert_ok(dn_keras_save(m, path));
  size_t n1, n2;
  unsigned char *before = (unsigned char *)dn_test_read_file(path, &n1);
  dn_model *unbuilt = dn_sequential(dn_dense(3));
  assert_status_msg(dn_keras_save(unbuilt, path), DN_ERR_STATE, "input shape");
  dn_model_free(unbuilt);
  unsigned char *after = (unsigned char *)dn_test_read_file(path, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(before, after, n1);
  free(before);
  free(after);
  dn_model *r = dn_keras_load(path);
  assert_non_null(r);
  dn_model_free(r);
  dn_model_free(m);
}

static void test_own_load_errors(void **state) {
  (void)state;
  assert_null(dn_keras_load(NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_null(dn_keras_load(tmp("does-not-exist.keras")));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  write_file(tmp("text.keras"), "hello, world\n", 13);
  assert_null(dn_keras_load(tmp("text.keras")));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  assert_non_null(strstr(dn_last_error(), "neither"));
  write_file(tmp("pk.keras"), "PK\3\4 not really a zip", 22);
  assert_null(dn_keras_load(tmp("pk.keras")));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  dn_model *m = dn_sequential(dn_dense(2, .input_dim = 3));
  assert_status_msg(dn_keras_load_weights(NULL, "x"), DN_ERR_ARG, "model is NULL");
  assert_status_msg(dn_keras_load_weights(m, NULL), DN_ERR_ARG, "path is NULL");
  assert_status_msg(dn_keras_load_weights(m, tmp("text.keras")), DN_ERR_FORMAT, "neither");
  dn_model *u = dn_model_new();
  assert_ok(dn_model_add(u, dn_dense(3)));
  assert_status_msg(dn_keras_load_weights(u, tmp("text.keras")), DN_ERR_STATE, "input shape");
  dn_model_free(u);
  dn_model_free(m);
}

/* Reads optimizer/vars/<index> of a saved archive (n floats). */
static void read_opt_var(const char *path, size_t index, float *out, size_t n) {
  dn_keras_blob m[3];
  read_members(path, m);
  hid_t h = dn_keras_h5_open_image(m[2].data, m[2].size, "test", "weights");
  assert_true(h >= 0);
  char name[64];
  snprintf(name, sizeof name, "optimizer/vars/%zu", index);
  size_t rank, dims[4];
  assert_ok(dn_keras_h5_shape(h, name, &rank, dims, "test", "opt"));
  size_t total = 1;
  for (size_t i = 0; i < rank; i++)
    total *= dims[i];
  assert_int_equal(total, n);
  assert_ok(dn_keras_h5_read(h, name, rank, dims, false, out, "test", "opt"));
  H5Fclose(h);
  for (size_t i = 0; i < 3; i++)
    dn_keras_blob_free(&m[i]);
}

/* Each optimizer's slots land where Keras keeps them (interleaved groups), and come back. */
static void test_own_optimizer_layouts(void **state) {
  (void)state;
  float x[12 * 3], y[12];
  for (size_t i = 0; i < 36; i++)
    x[i] = (float)cos(0.3 * (double)i);
  for (size_t i = 0; i < 12; i++)
    y[i] = x[3 * i] * 0.5f - x[3 * i + 2];
  dn_tensor xt = dn_tensor_2d(x, 12, 3), yt = dn_tensor_2d(y, 12, 1);
  struct {
    dn_optimizer_options o;
    size_t slots;
    bool grouped; /* one group per slot (RMSprop) instead of one interleaved group */
  } cases[] = {
      {{.name = "adam", .amsgrad = true}, 3, false},
      {{.name = "rmsprop", .momentum = 0.5, .centered = true}, 3, true},
      {{.name = "sgd", .momentum = 0.9}, 1, false},
      {{.name = "adagrad"}, 1, false},
      {{.name = "adadelta"}, 2, false},
      {{.name = "adamax"}, 2, false},
      {{.name = "lion"}, 1, false},
      {{.name = "adamw"}, 2, false},
      {{.name = "nadam"}, 2, false}, /* then u_product, checked below */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    dn_model *m = dn_sequential(dn_dense(2, .activation = "tanh", .input_dim = 3), dn_dense(1));
    assert_ok(dn_compile(m, .optimizer_object = dn_optimizer_with(cases[c].o), .loss = "mse"));
    float loss;
    assert_ok(dn_train_on_batch(m, xt, yt, &loss));
    assert_ok(dn_train_on_batch(m, xt, yt, &loss));
    const dn_optimizer *o = m->train->optimizer;
    assert_int_equal(o->n_slots, cases[c].slots);
    const char *path = tmp("opt.keras");
    assert_ok(dn_keras_save(m, path));
    /* trainable variables: kernel (3x2), bias (2), kernel (2x1), bias (1) */
    size_t nt = 4, sizes[4] = {6, 2, 2, 1};
    size_t index = 2;
    size_t groups = cases[c].grouped ? cases[c].slots : (cases[c].slots == 3 ? 2 : 1);
    for (size_t g = 0, k0 = 0; g < groups; g++) {
      size_t gs = cases[c].grouped ? 1 : (g == 0 ? (cases[c].slots == 3 ? 2 : cases[c].slots) : 1);
      for (size_t t = 0; t < nt; t++)
        for (size_t k = k0; k < k0 + gs; k++) {
          float v[8];
          read_opt_var(path, index++, v, sizes[t]);
          const float *ours = o->slots + k * m->n_params + trainable_offset(m, t);
          assert_memory_equal(v, ours, sizes[t] * sizeof(float));
        }
      k0 += gs;
    }
    if (strcmp(cases[c].o.name, "nadam") == 0) { /* Keras's u_product after the slots */
      float u;
      read_opt_var(path, index, &u, 1);
      assert_true(u == (float)o->nadam_u_product);
    }
    dn_model *r = dn_keras_load(path);
    if (r == NULL)
      fail_msg("%s: %s", cases[c].o.name, dn_last_error());
    same_model(m, r, x, 12);
    /* and training continues identically */
    float l1, l2;
    assert_ok(dn_train_on_batch(m, xt, yt, &l1));
    assert_ok(dn_train_on_batch(r, xt, yt, &l2));
    assert_memory_equal(m->params, r->params, m->n_params * sizeof(float));
    dn_model_free(r);
    dn_model_free(m);
  }
}

static bool have_fixtures(void) {
  return exists(fixture("fixtures.json"));
}

static void check_fixture_model(dn_model *m, const cJSON *e) {
  float x[64], want[64], got[64], w[256];
  size_t rows = (size_t)dn_keras_json_get(e, "rows")->valuedouble;
  flatten(dn_keras_json_get(e, "x"), x, 64);
  size_t ny = flatten(dn_keras_json_get(e, "predict"), want, 64);
  assert_int_equal(ny, rows * dn_model_output_dim(m));
  assert_ok(dn_predict(m, dn_tensor_2d(x, rows, dn_model_input_dim(m)),
                       dn_tensor_2d(got, rows, dn_model_output_dim(m))));
  assert_close_array(got, want, ny, 1e-6, 1e-5); /* numpy's exp/tanh vs ours */
  size_t nw = flatten(dn_keras_json_get(e, "weights"), w, 256);
  assert_int_equal(nw, dn_model_count_params(m));
  assert_memory_equal(w, m->params, nw * sizeof(float));
  assert_non_null(m->train);
  assert_int_equal(m->train->optimizer->iterations,
                   (uint64_t)dn_keras_json_get(e, "iterations")->valuedouble);
  assert_true((float)m->train->optimizer->learning_rate ==
              (float)dn_keras_json_get(e, "learning_rate")->valuedouble);
}

static void test_own_fixture_tf2_legacy(void **state) {
  (void)state;
  if (!have_fixtures())
    skip();
  cJSON *all = read_json(fixture("fixtures.json"));
  const cJSON *e = dn_keras_json_get(all, "tf2_legacy.h5");
  dn_model *m = dn_keras_load(fixture("tf2_legacy.h5"));
  if (m == NULL)
    fail_msg("%s", dn_last_error());
  assert_int_equal(dn_model_layer_count(m), 5);
  assert_string_equal(dn_layer_type(dn_model_layer(m, 3)), "Activation");
  check_fixture_model(m, e);
  assert_string_equal(m->train->loss->name, "mean_squared_error");
  assert_string_equal(m->train->optimizer->name, "adam");
  assert_int_equal(m->train->n_metrics, 1);
  /* all momentums then all velocities in the file -> our interleaved slots */
  const cJSON *ms = dn_keras_json_get(e, "m"), *vs = dn_keras_json_get(e, "v");
  for (size_t t = 0; t < 6; t++) {
    float mv[64], vv[64];
    size_t n = flatten(cJSON_GetArrayItem(ms, (int)t), mv, 64);
    flatten(cJSON_GetArrayItem(vs, (int)t), vv, 64);
    assert_memory_equal(slot_of_keras_var(m, 2 + 2 * t, 2), mv, n * sizeof(float));
    assert_memory_equal(slot_of_keras_var(m, 3 + 2 * t, 2), vv, n * sizeof(float));
  }
  /* and its export re-imports to the same model */
  assert_ok(dn_keras_save(m, tmp("tf2.keras")));
  dn_model *r = dn_keras_load(tmp("tf2.keras"));
  assert_non_null(r);
  float x[64];
  flatten(dn_keras_json_get(e, "x"), x, 64);
  same_model(m, r, x, 4);
  dn_model_free(r);
  dn_model_free(m);
  cJSON_Delete(all);
}

static void test_own_fixture_misc(void **state) {
  (void)state;
  if (!have_fixtures())
    skip();
  cJSON *all = read_json(fixture("fixtures.json"));
  const cJSON *e = dn_keras_json_get(all, "misc.keras");
  dn_model *m = dn_keras_load(fixture("misc.keras"));
  if (m == NULL)
    fail_msg("%s", dn_last_error());
  assert_string_equal(dn_layer_name(dn_model_layer(m, 0)), "hidden");
  check_fixture_model(m, e);
  assert_string_equal(m->train->optimizer->name, "sgd");
  assert_true(m->train->optimizer->options.momentum == 0.9);
  const cJSON *moms = dn_keras_json_get(e, "momentum");
  for (size_t t = 0; t < 5; t++) {
    float mv[64];
    size_t n = flatten(cJSON_GetArrayItem(moms, (int)t), mv, 64);
    assert_memory_equal(slot_of_keras_var(m, 2 + t, 1), mv, n * sizeof(float));
  }
  assert_close(dn_model_regularization_loss(m), dn_keras_json_get(e, "regularization")->valuedouble,
               0, 1e-6);
  assert_ok(dn_keras_save(m, tmp("misc.keras")));
  dn_model *r = dn_keras_load(tmp("misc.keras"));
  assert_non_null(r);
  float x[64];
  flatten(dn_keras_json_get(e, "x"), x, 64);
  same_model(m, r, x, 4);
  dn_model_free(r);
  dn_model_free(m);
  cJSON_Delete(all);
}

/* The number of variables in optimizer/vars of a saved archive. */
static size_t opt_var_count(const char *path) {
  dn_keras_blob m[3];
  read_members(path, m);
  hid_t h = dn_keras_h5_open_image(m[2].data, m[2].size, "test", "weights");
  assert_true(h >= 0);
  size_t count = 0;
  assert_ok(dn_keras_h5_child_count(h, "optimizer/vars", "test", &count));
  H5Fclose(h);
  for (size_t i = 0; i < 3; i++)
    dn_keras_blob_free(&m[i]);
  return count;
}

/* Fine-tuning in Keras's files: frozen.keras (frozen Dense and BatchNormalization, Adam state
 * for the head only) imports frozen with its slots on the head; fit leaves the frozen layers'
 * weights (BN's moving statistics included) bit-identical; the export keeps the flags and
 * writes 2 + 2 x 2 optimizer variables as Keras does; save -> load -> resume follows the same
 * trajectory. A change of trainability not yet compiled exports the optimizer unbuilt. */
static void test_own_fixture_frozen(void **state) {
  (void)state;
  if (!have_fixtures())
    skip();
  cJSON *all = read_json(fixture("fixtures.json"));
  const cJSON *e = dn_keras_json_get(all, "frozen.keras");
  dn_model *m = dn_keras_load(fixture("frozen.keras"));
  if (m == NULL)
    fail_msg("%s", dn_last_error());
  assert_false(dn_layer_trainable(dn_model_layer(m, 0)));
  assert_false(dn_layer_trainable(dn_model_layer(m, 1)));
  assert_true(dn_layer_trainable(dn_model_layer(m, 2)));
  assert_true(dn_model_trainable(m));
  assert_int_equal(dn_model_count_trainable_params(m), 5);
  check_fixture_model(m, e);
  const cJSON *ms = dn_keras_json_get(e, "m"), *vs = dn_keras_json_get(e, "v");
  for (size_t t = 0; t < 2; t++) { /* the head's kernel and bias */
    float mv[64], vv[64];
    size_t n = flatten(cJSON_GetArrayItem(ms, (int)t), mv, 64);
    flatten(cJSON_GetArrayItem(vs, (int)t), vv, 64);
    assert_memory_equal(slot_of_keras_var(m, 2 + 2 * t, 2), mv, n * sizeof(float));
    assert_memory_equal(slot_of_keras_var(m, 3 + 2 * t, 2), vv, n * sizeof(float));
  }
  float x[12], y[4] = {0.5f, -0.25f, 1.0f, 0.0f};
  flatten(dn_keras_json_get(e, "x"), x, 12);
  float before[37];
  assert_ok(dn_model_get_weights(m, before, 37));
  dn_history *h = dn_fit(m, dn_tensor_2d(x, 4, 3), dn_tensor_2d(y, 4, 1), .epochs = 2,
                         .batch_size = 2, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  dn_history_free(h);
  assert_memory_equal(before, m->params, 32 * sizeof(float)); /* base 12 + 4, bn 4 x 4 */
  assert_true(before[32] != m->params[32] && before[36] != m->params[36]); /* the head */

  assert_ok(dn_keras_save(m, tmp("frozen.keras")));
  assert_int_equal(opt_var_count(tmp("frozen.keras")), 2 + 2 * 2);
  dn_model *r = dn_keras_load(tmp("frozen.keras"));
  if (r == NULL)
    fail_msg("%s", dn_last_error());
  assert_false(dn_layer_trainable(dn_model_layer(r, 0)));
  assert_false(dn_layer_trainable(dn_model_layer(r, 1)));
  assert_true(dn_layer_trainable(dn_model_layer(r, 2)));
  same_model(m, r, x, 4);
  for (int k = 0; k < 2; k++) {
    dn_model *which = k == 0 ? m : r;
    h = dn_fit(which, dn_tensor_2d(x, 4, 3), dn_tensor_2d(y, 4, 1), .epochs = 1, .batch_size = 2,
               .no_shuffle = true, .verbose = DN_VERBOSE_SILENT);
    assert_non_null(h);
    dn_history_free(h);
  }
  dn_test_assert_same_weights(m, r);
  assert_memory_equal(before, r->params, 32 * sizeof(float));
  dn_model_free(r);

  /* Frozen after compile, not recompiled: the config says frozen, the optimizer is unbuilt. */
  assert_ok(dn_layer_set_trainable(dn_model_layer(m, 2), false));
  assert_ok(dn_keras_save(m, tmp("frozen2.keras")));
  assert_int_equal(opt_var_count(tmp("frozen2.keras")), 2);
  r = dn_keras_load(tmp("frozen2.keras"));
  if (r == NULL)
    fail_msg("%s", dn_last_error());
  assert_int_equal(dn_model_count_trainable_params(r), 0);
  dn_model_free(r);
  dn_model_free(m);
  cJSON_Delete(all);
}

/* A legacy .h5 whose first Dense is frozen: imported frozen, the optimizer weights of the four
 * trainable variables on them. */
static void test_own_fixture_frozen_legacy(void **state) {
  (void)state;
  if (!have_fixtures())
    skip();
  cJSON *all = read_json(fixture("fixtures.json"));
  const cJSON *e = dn_keras_json_get(all, "frozen_legacy.h5");
  dn_model *m = dn_keras_load(fixture("frozen_legacy.h5"));
  if (m == NULL)
    fail_msg("%s", dn_last_error());
  assert_false(dn_layer_trainable(dn_model_layer(m, 0)));
  assert_true(dn_layer_trainable(dn_model_layer(m, 1)));
  assert_int_equal(dn_model_count_trainable_params(m), 8 + 10);
  check_fixture_model(m, e);
  const cJSON *ms = dn_keras_json_get(e, "m"), *vs = dn_keras_json_get(e, "v");
  for (size_t t = 0; t < 4; t++) {
    float mv[64], vv[64];
    size_t n = flatten(cJSON_GetArrayItem(ms, (int)t), mv, 64);
    flatten(cJSON_GetArrayItem(vs, (int)t), vv, 64);
    assert_memory_equal(slot_of_keras_var(m, 2 + 2 * t, 2), mv, n * sizeof(float));
    assert_memory_equal(slot_of_keras_var(m, 3 + 2 * t, 2), vv, n * sizeof(float));
  }
  dn_model_free(m);
  cJSON_Delete(all);
}

static void test_own_fixture_unsupported(void **state) {
  (void)state;
  if (!have_fixtures())
    skip();
  assert_null(dn_keras_load(fixture("conv.keras")));
  assert_int_equal(dn_last_status(), DN_ERR_UNSUPPORTED);
  assert_non_null(strstr(dn_last_error(), "Conv2D"));
  assert_null(dn_keras_load(fixture("constraint.keras")));
  assert_int_equal(dn_last_status(), DN_ERR_UNSUPPORTED);
  assert_non_null(strstr(dn_last_error(), "kernel_constraint"));
  assert_null(dn_keras_load(fixture("huge.keras")));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  assert_non_null(strstr(dn_last_error(), "more weights than the weights file holds"));
  dn_model *m = dn_sequential(dn_dense(2, .input_dim = 3));
  assert_status_msg(dn_keras_load_weights(m, fixture("float64.weights.h5")), DN_ERR_UNSUPPORTED,
                    "float64");
  dn_model_free(m);
}

/* ---- isolation: the parse in the helper process ------------------------------------------------
 */

static const dn_keras_options in_process = {.in_process = true};

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The model of `path` loaded through the helper and in-process: the same weights, optimizer
 * state and predictions (on `rows` rows of a fixed input). */
static void same_isolated(const char *path, size_t rows) {
  dn_model *a = dn_keras_load(path);
  if (a == NULL)
    fail_msg("isolated %s: %s", path, dn_last_error());
  dn_model *b = dn_keras_load_with(path, in_process);
  if (b == NULL)
    fail_msg("in-process %s: %s", path, dn_last_error());
  size_t in = dn_model_input_dim(a);
  float *x = malloc(rows * in * sizeof *x);
  for (size_t i = 0; i < rows * in; i++)
    x[i] = (float)sin(0.7 * (double)i) * 2.0f;
  same_model(a, b, x, rows);
  free(x);
  dn_model_free(a);
  dn_model_free(b);
}

/* load_weights through the helper and in-process into two copies of `make(seed)`. */
static void same_weights_isolated(dn_model *(*make)(uint64_t, bool), bool compiled,
                                  const char *path) {
  dn_model *a = make(11, compiled), *b = make(11, compiled);
  assert_ok(dn_keras_load_weights(a, path));
  assert_ok(dn_keras_load_weights_with(b, path, in_process));
  float x[5 * 8];
  for (size_t i = 0; i < 40; i++)
    x[i] = (float)cos(0.3 * (double)i);
  same_model(a, b, x, 5);
  dn_model_free(a);
  dn_model_free(b);
}

static void test_genuine_isolated_same(void **state) {
  (void)state;
  same_isolated(genuine("mlp.keras"), 6);
  same_isolated(genuine("bn_dropout.keras"), 6);
  same_isolated(genuine("mlp_legacy.h5"), 6);
  same_weights_isolated(mlp_like, false, genuine("mlp.weights.h5"));
  same_weights_isolated(mlp_like, true, genuine("mlp.weights.h5"));
  same_weights_isolated(mlp_like, true, genuine("mlp.keras"));
  /* errors of the parse come back as they are in-process: status and message */
  dn_model *m = dn_sequential(dn_dense(17, .activation = "relu", .input_dim = 8),
                              dn_dense(8, .activation = "tanh"), dn_dense(1));
  assert_status_msg(dn_keras_load_weights(m, genuine("mlp.weights.h5")), DN_ERR_FORMAT,
                    "dn_keras_load_weights: layer 'dense' (Dense): dataset 'layers/dense/vars/0'");
  char isolated[512];
  snprintf(isolated, sizeof isolated, "%s", dn_last_error());
  assert_int_equal(dn_keras_load_weights_with(m, genuine("mlp.weights.h5"), in_process),
                   DN_ERR_FORMAT);
  assert_string_equal(isolated, dn_last_error());
  dn_model_free(m);
}

/* The two hostile files (shared/data/hostile) crash HDF5: contained, the process alive. */
static void test_genuine_hostile(void **state) {
  (void)state;
  const char *base = getenv("DN_SHARED_DATA");
  char segv[1024], overlap[1024];
  snprintf(segv, sizeof segv, "%s/hostile/min-segv.keras", base ? base : "../shared/data");
  snprintf(overlap, sizeof overlap, "%s/hostile/min-overlap.h5", base ? base : "../shared/data");
  if (!exists(segv) || !exists(overlap))
    skip();
  const char *files[] = {segv, overlap};
  for (size_t i = 0; i < 2; i++) {
    assert_null(dn_keras_load(files[i]));
    assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
#ifdef DN_TEST_SANITIZE
    /* the helper's AddressSanitizer catches the fault and exits 1 instead */
    assert_true(strstr(dn_last_error(), "the HDF5 library crashed on this file (signal 11)") ||
                strstr(dn_last_error(), "exited with status 1"));
#else
    assert_non_null(strstr(dn_last_error(), "dn_keras_load: the HDF5 library crashed on this "
                                            "file (signal 11)"));
#endif
    /* load_weights: the same, and the model unchanged */
    dn_model *m = mlp_like(4, true);
    size_t n = dn_model_count_params(m);
    float *before = malloc(n * sizeof *before);
    memcpy(before, m->params, n * sizeof *before);
    assert_int_equal(dn_keras_load_weights(m, files[i]), DN_ERR_FORMAT);
    assert_non_null(strstr(dn_last_error(), "dn_keras_load_weights: "));
    assert_memory_equal(before, m->params, n * sizeof *before);
    assert_null(m->train->optimizer->slots);
    assert_int_equal(m->train->optimizer->iterations, 0);
    free(before);
    dn_model_free(m);
  }
}

/* The helper misbehaving in every way (the test-hooked helper, keras_parse_hooked): each ends as
 * DN_ERR_FORMAT naming what happened, in bounded time, the model unchanged. */
static void test_own_isolation_failures(void **state) {
  (void)state;
  const char *hooked = getenv("DN_KERAS_PARSER_HOOKED");
  if (hooked == NULL || !exists(hooked))
    skip();
  dn_model *src = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 3), dn_dense(2));
  assert_ok(dn_compile(src, .optimizer = "adam", .loss = "mse"));
  const char *path = tmp("iso.keras");
  assert_ok(dn_keras_save(src, path));
  /* with no hook, the hooked helper is the real one */
  dn_keras_options o = {.parser = hooked, .time_limit_s = 1};
  dn_model *r = dn_keras_load_with(path, o);
  if (r == NULL)
    fail_msg("%s", dn_last_error());
  dn_model_free(r);
  struct {
    const char *hook;
    const char *message;
  } cases[] = {
      {"sleep", "dn_keras_load: parsing '"},
      {"spin", "took more than 1 s"}, /* of CPU time, or wall time: whichever comes first */
      {"segv", "dn_keras_load: the HDF5 library crashed on this file (signal 11)"},
      {"exit", "exited with status 3"},
      {"garbage", "gave no answer"},
      {"truncated", "is malformed"},
  };
  char want[1024];
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    setenv("DN_KERAS_PARSE_TEST", cases[c].hook, 1);
    snprintf(want, sizeof want, "%s", cases[c].message);
    double t0 = seconds();
    assert_null(dn_keras_load_with(path, o));
    double took = seconds() - t0;
    assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
    if (strstr(dn_last_error(), want) == NULL)
      fail_msg("%s: '%s' does not say '%s'", cases[c].hook, dn_last_error(), want);
    assert_true(took < 5.0); /* the 1 s limit, generously */
    if (strcmp(cases[c].hook, "sleep") == 0)
      assert_non_null(strstr(dn_last_error(), "iso.keras' took more than 1 s"));
    /* load_weights: the same error, the model unchanged */
    dn_model *m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 3), dn_dense(2));
    size_t n = dn_model_count_params(m);
    float before[64];
    memcpy(before, m->params, n * sizeof *before);
    assert_int_equal(dn_keras_load_weights_with(m, path, o), DN_ERR_FORMAT);
    assert_non_null(strstr(dn_last_error(), "dn_keras_load_weights: "));
    assert_memory_equal(before, m->params, n * sizeof *before);
    dn_model_free(m);
  }
  /* an answer larger than the memory limit: refused while it is being read */
  setenv("DN_KERAS_PARSE_TEST", "flood", 1);
  dn_keras_options small = {.parser = hooked, .time_limit_s = 5, .memory_limit_mib = 4};
  assert_null(dn_keras_load_with(path, small));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  if (strstr(dn_last_error(), "larger than its memory limit") == NULL)
    fail_msg("flood: %s", dn_last_error());
#ifndef DN_TEST_SANITIZE /* no address-space limit under AddressSanitizer */
  /* an allocation past the memory limit */
  setenv("DN_KERAS_PARSE_TEST", "alloc", 1);
  dn_keras_options mem = {.parser = hooked, .memory_limit_mib = 256};
  assert_null(dn_keras_load_with(path, mem));
  assert_int_equal(dn_last_status(), DN_ERR_FORMAT);
  snprintf(want, sizeof want, "dn_keras_load: parsing '%s' needed more than 256 MiB", path);
  if (strstr(dn_last_error(), want) == NULL)
    fail_msg("'%s' does not say '%s'", dn_last_error(), want);
#endif
  unsetenv("DN_KERAS_PARSE_TEST");
  /* a helper that does not exist: DN_ERR_IO naming it, no fallback */
  dn_keras_options missing = {.parser = tmp("no-such-parser")};
  assert_null(dn_keras_load_with(path, missing));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), tmp("no-such-parser")));
  assert_status_msg(dn_keras_load_weights_with(src, path, missing), DN_ERR_IO, "no-such-parser");
  const char *env = getenv("DN_KERAS_PARSER");
  char *saved = env ? strdup(env) : NULL;
  setenv("DN_KERAS_PARSER", "/nonexistent/densenet-keras-parse", 1);
  assert_null(dn_keras_load(path));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  assert_non_null(strstr(dn_last_error(), "'/nonexistent/densenet-keras-parse'"));
  /* a file that is not executable */
  setenv("DN_KERAS_PARSER", path, 1);
  assert_null(dn_keras_load(path));
  assert_int_equal(dn_last_status(), DN_ERR_IO);
  if (saved != NULL)
    setenv("DN_KERAS_PARSER", saved, 1);
  else
    unsetenv("DN_KERAS_PARSER");
  free(saved);
  /* in-process needs no helper */
  r = dn_keras_load_with(path, (dn_keras_options){.in_process = true, .parser = "/nonexistent"});
  assert_non_null(r);
  dn_model_free(r);
  dn_model_free(src);
}

/* An own model with trained optimizer state: isolated and in-process loads agree. */
static void test_own_isolated_same(void **state) {
  (void)state;
  dn_model *m = dn_sequential(dn_normalization(.input_dim = 3), dn_dense(5, .activation = "tanh"),
                              dn_batch_normalization(), dn_dense(2));
  assert_non_null(m);
  assert_ok(dn_compile(m, .optimizer = "rmsprop", .loss = "mse"));
  float x[8 * 3], y[8 * 2];
  for (size_t i = 0; i < 24; i++)
    x[i] = (float)sin((double)i);
  for (size_t i = 0; i < 16; i++)
    y[i] = (float)cos((double)i);
  float loss;
  assert_ok(dn_train_on_batch(m, dn_tensor_2d(x, 8, 3), dn_tensor_2d(y, 8, 2), &loss));
  const char *path = tmp("iso_same.keras");
  assert_ok(dn_keras_save(m, path));
  same_isolated(path, 8);
  /* load_weights into a compiled model whose optimizer was never stepped */
  dn_model *a = dn_sequential(dn_normalization(.input_dim = 3), dn_dense(5, .activation = "tanh"),
                              dn_batch_normalization(), dn_dense(2));
  dn_model *b = dn_sequential(dn_normalization(.input_dim = 3), dn_dense(5, .activation = "tanh"),
                              dn_batch_normalization(), dn_dense(2));
  assert_ok(dn_compile(a, .optimizer = "rmsprop", .loss = "mse"));
  assert_ok(dn_compile(b, .optimizer = "rmsprop", .loss = "mse"));
  assert_ok(dn_keras_load_weights(a, path));
  assert_ok(dn_keras_load_weights_with(b, path, in_process));
  same_model(a, b, x, 8);
  same_model(a, m, x, 8);
  dn_model_free(a);
  dn_model_free(b);
  dn_model_free(m);
}

/* ---- densenet-predict on a .keras file ------------------------------------------------------- */

static const char *g_tool;

static void test_tool_predict(void **state) {
  (void)state;
  const cJSON *e = dn_keras_json_get(g_expected, "mlp.keras");
  float x[64], want[8];
  flatten(dn_keras_json_get(e, "check_inputs"), x, 64);
  size_t rows = (size_t)cJSON_GetArraySize(dn_keras_json_get(e, "check_inputs"));
  size_t ny = flatten(dn_keras_json_get(e, "predict"), want, 8);
  assert_int_equal(ny, rows);
  FILE *f = fopen(tmp("in.csv"), "w");
  assert_non_null(f);
  fprintf(f, "a,b,c,d,e,f,g,h\n");
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < 8; j++)
      fprintf(f, "%.9g%s", (double)x[r * 8 + j], j == 7 ? "\n" : ",");
  fclose(f);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' --out '%s'", g_tool, genuine("mlp.keras"),
           tmp("in.csv"), tmp("out.csv"));
  assert_int_equal(system(cmd), 0);
  f = fopen(tmp("out.csv"), "r");
  assert_non_null(f);
  char line[256];
  assert_non_null(fgets(line, sizeof line, f)); /* header */
  float got[8];
  size_t n = 0;
  while (n < 8 && fgets(line, sizeof line, f) != NULL)
    got[n++] = strtof(line, NULL);
  fclose(f);
  assert_int_equal(n, rows);
  assert_close_array(got, want, rows, 1e-7, 1e-6);
  /* its usage says this build reads Keras files */
  snprintf(cmd, sizeof cmd, "'%s' --help > '%s'", g_tool, tmp("usage.txt"));
  assert_int_equal(system(cmd), 0);
  char *usage = dn_test_read_file(tmp("usage.txt"), NULL);
  assert_non_null(usage);
  assert_non_null(strstr(usage, "native model file"));
  assert_non_null(strstr(usage, "a .keras archive or a legacy .h5 model"));
  free(usage);
}

/* ---- main -------------------------------------------------------------------------------------
 */

int main(int argc, char **argv) {
  const char *part = argc > 1 ? argv[1] : "own";
  snprintf(g_tmpdir, sizeof g_tmpdir, "%s/dn-keras-test.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(g_tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  int rc;
  if (strcmp(part, "tool") == 0) {
    g_tool = argc > 2 ? argv[2] : "densenet-predict";
    if (!exists(genuine("expected.json"))) {
      printf("skip: %s not found\n", genuine(""));
      rc = DN_TEST_SKIP;
    } else {
      g_expected = read_json(genuine("expected.json"));
      const struct CMUnitTest tests[] = {cmocka_unit_test(test_tool_predict)};
      rc = cmocka_run_group_tests_name("keras_tool", tests, NULL, NULL);
      cJSON_Delete(g_expected);
    }
  } else if (strcmp(part, "genuine") == 0) {
    if (!exists(genuine("expected.json"))) {
      printf("skip: %s not found\n", genuine(""));
      rc = DN_TEST_SKIP;
    } else {
      g_expected = read_json(genuine("expected.json"));
      const struct CMUnitTest tests[] = {
          cmocka_unit_test(test_genuine_mlp_keras),
          cmocka_unit_test(test_genuine_bn_dropout_keras),
          cmocka_unit_test(test_genuine_weights_h5),
          cmocka_unit_test(test_genuine_legacy_h5),
          cmocka_unit_test(test_genuine_export_layout),
          cmocka_unit_test(test_genuine_truncated),
          cmocka_unit_test(test_genuine_wrong_shapes),
          cmocka_unit_test(test_genuine_bad_members),
          cmocka_unit_test(test_genuine_isolated_same),
          cmocka_unit_test(test_genuine_hostile),
      };
      rc = cmocka_run_group_tests_name("keras_genuine", tests, NULL, NULL);
      cJSON_Delete(g_expected);
    }
  } else {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_round_trip),
        cmocka_unit_test(test_fuzz_optimizer_value),
        cmocka_unit_test(test_own_save_errors),
        cmocka_unit_test(test_own_load_errors),
        cmocka_unit_test(test_own_optimizer_layouts),
        cmocka_unit_test(test_own_fixture_tf2_legacy),
        cmocka_unit_test(test_own_fixture_misc),
        cmocka_unit_test(test_own_fixture_frozen),
        cmocka_unit_test(test_own_fixture_frozen_legacy),
        cmocka_unit_test(test_own_fixture_unsupported),
        cmocka_unit_test(test_own_isolation_failures),
        cmocka_unit_test(test_own_isolated_same),
    };
    rc = cmocka_run_group_tests_name("keras_own", tests, NULL, NULL);
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", g_tmpdir);
  return rc;
}
