/* gen_keras_corpus.c -- writes the seed corpus of the Keras loader fuzzer (fuzz_keras_load.c):
 * for each model of keras_fuzz_models.h, saved with dn_keras_save, one seed per mode:
 *   0 its config.json and metadata.json (weights: the fuzzer's valid image, and also the
 *     description of it), 1 the .keras bytes, 2 the description of its model.weights.h5 (for
 *     dn_keras_load_weights), 3 a legacy Keras 2 .h5 (model_config, training_config from its
 *     config.json; model_weights and optimizer_weights from its weights).
 * The description of an HDF5 file is dumped with H5Ovisit (groups, datasets, string attributes).
 * Usage: gen_keras_corpus DIR   (the files in tests/fuzz/corpus/keras/ were made with it; build
 * as .ci/fuzz.d/keras.sh builds the fuzzer, without -fsanitize=fuzzer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "densenet_keras.h"
#include "keras/keras_io.h"
#include "keras_fuzz_models.h"
#include "core/alloc.h"
#include "model/sequential.h"
#include "training/train.h"

typedef struct text {
  char *s;
  size_t len, cap;
} text;

static void put(text *t, const void *data, size_t n) {
  if (t->len + n + 1 > t->cap) {
    t->cap = (t->len + n + 1) * 2;
    t->s = realloc(t->s, t->cap);
  }
  memcpy(t->s + t->len, data, n);
  t->len += n;
  t->s[t->len] = '\0';
}

static void puts_(text *t, const char *s) {
  put(t, s, strlen(s));
}

static void emit_attrs(hid_t obj, const char *path, text *t) {
  H5O_info_t info;
  H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS);
  for (hsize_t i = 0; i < info.num_attrs; i++) {
    hid_t a = H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
    char name[256];
    H5Aget_name(a, sizeof name, name);
    char *value = NULL;
    if (dn_keras_h5_attr_string(obj, name, "gen", "attr", &value) == DN_OK) {
      char line[4096];
      snprintf(line, sizeof line, "s %s %s %s\n", path, name, value);
      puts_(t, line);
      dn_free(value);
    }
    H5Aclose(a);
  }
}

static herr_t visit(hid_t root, const char *name, const H5O_info_t *info, void *arg) {
  text *t = arg;
  char line[1024];
  if (strcmp(name, ".") == 0) {
    emit_attrs(root, "/", t);
    return 0;
  }
  hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
  if (info->type == H5O_TYPE_GROUP) {
    snprintf(line, sizeof line, "g %s\n", name);
    puts_(t, line);
  } else if (info->type == H5O_TYPE_DATASET) {
    hid_t type = H5Dget_type(obj), space = H5Dget_space(obj);
    hsize_t dims[8];
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    int n =
        snprintf(line, sizeof line, "%c %s", H5Tget_class(type) == H5T_INTEGER ? 'i' : 'f', name);
    for (int i = 0; i < rank; i++)
      n += snprintf(line + n, sizeof line - (size_t)n, " %llu", (unsigned long long)dims[i]);
    snprintf(line + n, sizeof line - (size_t)n, "\n");
    puts_(t, line);
    H5Tclose(type);
    H5Sclose(space);
  }
  emit_attrs(obj, name, t);
  H5Oclose(obj);
  return 0;
}

static void describe(const unsigned char *image, size_t size, text *t) {
  hid_t f = dn_keras_h5_open_image(image, size, "gen", "image");
  if (f < 0) {
    fprintf(stderr, "%s\n", dn_last_error());
    exit(1);
  }
  H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, visit, t, H5O_INFO_BASIC);
  H5Fclose(f);
}

static void write_seed(const char *dir, const char *name, const text *t) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(t->s, 1, t->len, f) != t->len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

static char *file_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  rewind(f);
  char *b = malloc(*n);
  if (fread(b, 1, *n, f) != *n)
    exit(1);
  fclose(f);
  return b;
}

/* The legacy description of `m`: model_weights (layer_names, each layer's weight_names and
 * datasets) and, compiled, optimizer_weights (iteration, learning_rate, the slots in Keras 3's
 * interleaved order, named <var>_<slot> as Keras 3's legacy writer names them). */
static void legacy_description(const dn_model *m, text *t) {
  char line[1024];
  puts_(t, "s / model_config @model_config\n");
  if (m->train != NULL)
    puts_(t, "s / training_config @training_config\n");
  puts_(
      t,
      "s / keras_version 3.16.0\ns / backend numpy\ng model_weights\na model_weights layer_names");
  for (size_t l = 0; l < m->n_layers; l++) {
    puts_(t, " ");
    puts_(t, m->layers[l]->name);
  }
  puts_(t, "\n");
  for (size_t l = 0; l < m->n_layers; l++) {
    const dn_layer *layer = m->layers[l];
    snprintf(line, sizeof line, "g model_weights/%s\na model_weights/%s weight_names", layer->name,
             layer->name);
    puts_(t, line);
    for (size_t v = 0; v < layer->n_vars; v++) {
      snprintf(line, sizeof line, " sequential/%s/%s", layer->name, layer->vars[v].name);
      puts_(t, line);
    }
    puts_(t, "\n");
    for (size_t v = 0; v < layer->n_vars; v++) {
      size_t dims[2];
      size_t rank = dn_keras_var_dims(&layer->vars[v], dims);
      int n = snprintf(line, sizeof line, "%c model_weights/%s/sequential/%s/%s",
                       rank == 0 ? 'i' : 'f', layer->name, layer->name, layer->vars[v].name);
      for (size_t i = 0; i < rank; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %zu", dims[i]);
      snprintf(line + n, sizeof line - (size_t)n, "\n");
      puts_(t, line);
    }
  }
  dn_keras_opt_layout layout;
  if (m->train == NULL || !dn_keras_opt_state_layout(m->train->optimizer, &layout))
    return;
  const char *opt = "opt";
  text names = {0}, data = {0};
  snprintf(line, sizeof line,
           "i optimizer_weights/%s/iteration\nf optimizer_weights/%s/learning_rate\n", opt, opt);
  puts_(&data, line);
  snprintf(line, sizeof line, "a optimizer_weights weight_names %s/iteration %s/learning_rate", opt,
           opt);
  puts_(&names, line);
  size_t nt = 0;
  for (size_t v = 0; v < m->n_vars; v++)
    nt += m->vars[v].trainable ? 1 : 0;
  for (size_t j = 0; j < layout.n_slots * nt; j++) {
    size_t k, tv;
    dn_keras_opt_position(&layout, nt, j, &k, &tv);
    const dn_var *var = NULL;
    for (size_t v = 0, c = 0; v < m->n_vars && var == NULL; v++)
      if (m->vars[v].trainable && c++ == tv)
        var = &m->vars[v];
    char word[256];
    snprintf(word, sizeof word, "%s/v%zu_%s_%s", opt, tv, var->name, layout.names[k]);
    puts_(&names, " ");
    puts_(&names, word);
    size_t dims[2];
    size_t rank = dn_keras_var_dims(var, dims);
    int n = snprintf(line, sizeof line, "f optimizer_weights/%s", word);
    for (size_t i = 0; i < rank; i++)
      n += snprintf(line + n, sizeof line - (size_t)n, " %zu", dims[i]);
    snprintf(line + n, sizeof line - (size_t)n, "\n");
    puts_(&data, line);
  }
  puts_(t, data.s);
  puts_(t, names.s);
  puts_(t, "\n");
  free(names.s);
  free(data.s);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s/.gen.keras", dir);
  for (int which = 0; which < DN_KFUZZ_N_MODELS; which++) {
    dn_model *m = dn_kfuzz_model(which);
    if (m == NULL || dn_keras_save(m, tmp) != DN_OK) {
      fprintf(stderr, "%s\n", dn_last_error());
      return 1;
    }
    dn_keras_blob b[3] = {
        {"config.json", NULL, 0}, {"metadata.json", NULL, 0}, {"model.weights.h5", NULL, 0}};
    const bool opt[3] = {false, false, false};
    if (dn_keras_zip_read(tmp, "gen", b, opt, 3) != DN_OK) {
      fprintf(stderr, "%s\n", dn_last_error());
      return 1;
    }
    text desc = {0};
    describe(b[2].data, b[2].size, &desc);
    char name[64];
    const char zero = '\0';

    /* mode 0: the valid image (models 0 and 1), the description (every model) */
    for (int built = 0; built < 2; built++) {
      if (!built && which > 1)
        continue;
      text s = {0};
      unsigned char head[2] = {0, (unsigned char)((built ? 2 : which) | which << 6)};
      put(&s, head, 2);
      put(&s, b[0].data, b[0].size);
      put(&s, &zero, 1);
      put(&s, b[1].data, b[1].size);
      put(&s, &zero, 1);
      if (built)
        put(&s, desc.s, desc.len);
      snprintf(name, sizeof name, "zip-%s-model%d", built ? "built" : "image", which);
      write_seed(dir, name, &s);
      free(s.s);
    }
    /* mode 1: the .keras bytes */
    {
      size_t n;
      char *bytes = file_bytes(tmp, &n);
      text s = {0};
      put(&s, "\1", 1);
      put(&s, bytes, n);
      snprintf(name, sizeof name, "raw-model%d.keras", which);
      write_seed(dir, name, &s);
      free(s.s);
      free(bytes);
    }
    /* mode 2: the weights file for the same fixed model */
    {
      text s = {0};
      unsigned char head[2] = {2, (unsigned char)which};
      put(&s, head, 2);
      put(&s, desc.s, desc.len);
      snprintf(name, sizeof name, "weights-model%d", which);
      write_seed(dir, name, &s);
      free(s.s);
    }
    /* mode 3: legacy; model_config = config.json without compile_config, training_config from
     * it */
    {
      cJSON *config = cJSON_ParseWithLength((const char *)b[0].data, b[0].size);
      cJSON *cc = cJSON_DetachItemFromObject(config, "compile_config");
      char *mc = cJSON_PrintUnformatted(config), *tc = NULL;
      if (cJSON_IsObject(cc)) {
        cJSON *training = cJSON_CreateObject();
        cJSON_AddItemToObject(training, "optimizer_config",
                              cJSON_DetachItemFromObject(cc, "optimizer"));
        cJSON_AddItemToObject(training, "loss", cJSON_DetachItemFromObject(cc, "loss"));
        cJSON_AddItemToObject(training, "metrics", cJSON_DetachItemFromObject(cc, "metrics"));
        tc = cJSON_PrintUnformatted(training);
        cJSON_Delete(training);
      }
      text s = {0}, legacy = {0};
      legacy_description(m, &legacy);
      unsigned char head[2] = {3, (unsigned char)which};
      put(&s, head, 2);
      puts_(&s, mc);
      put(&s, &zero, 1);
      if (tc != NULL)
        puts_(&s, tc);
      put(&s, &zero, 1);
      put(&s, legacy.s, legacy.len);
      snprintf(name, sizeof name, "legacy-model%d", which);
      write_seed(dir, name, &s);
      free(s.s);
      free(legacy.s);
      cJSON_free(mc);
      cJSON_free(tc);
      cJSON_Delete(cc);
      cJSON_Delete(config);
    }
    free(desc.s);
    for (int i = 0; i < 3; i++)
      dn_keras_blob_free(&b[i]);
    dn_model_free(m);
  }
  remove(tmp);
  return 0;
}
