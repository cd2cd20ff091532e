/* onnx_save.c -- dn_onnx_save: a model as an ONNX ModelProto (protobuf-c structs generated from
 * Debian's onnx.proto at build time), packed and written atomically. Every message, string and
 * array of the proto lives in one arena freed at the end. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "densenet_onnx.h"
#include "io/file.h"
#include "layers/activation.h"
#include "model/sequential.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_io.h"

#define FN "dn_onnx_save"

/* ---- arena: every allocation of one save, freed together ---------------------------------- */

typedef struct arena_block {
  struct arena_block *next;
} arena_block;

typedef struct writer {
  arena_block *blocks;
  bool failed;
  Onnx__GraphProto *graph;
  size_t node_cap, init_cap;
  int opset;
  const char *cur; /* the name of the current tensor */
  size_t counter;
} writer;

static void *arena_alloc(writer *w, size_t bytes) {
  if (w->failed)
    return NULL;
  arena_block *b = dn_alloc(sizeof(arena_block) + 64 + bytes);
  if (b == NULL) {
    w->failed = true;
    return NULL;
  }
  b->next = w->blocks;
  w->blocks = b;
  void *p = (char *)b + 64;
  memset(p, 0, bytes);
  return p;
}

static void arena_free(writer *w) {
  while (w->blocks) {
    arena_block *next = w->blocks->next;
    dn_free(w->blocks);
    w->blocks = next;
  }
}

/* a, or "a/b<n>" (with n when num), in the arena. */
static char *arena_name(writer *w, const char *a, const char *b, size_t n, bool num) {
  int len = b == NULL ? snprintf(NULL, 0, "%s", a)
            : num     ? snprintf(NULL, 0, "%s/%s%zu", a, b, n)
                      : snprintf(NULL, 0, "%s/%s", a, b);
  char *s = len < 0 ? NULL : arena_alloc(w, (size_t)len + 1);
  if (s == NULL)
    return NULL;
  if (b == NULL)
    snprintf(s, (size_t)len + 1, "%s", a);
  else if (num)
    snprintf(s, (size_t)len + 1, "%s/%s%zu", a, b, n);
  else
    snprintf(s, (size_t)len + 1, "%s/%s", a, b);
  return s;
}

static char *arena_str(writer *w, const char *s) {
  return arena_name(w, s, NULL, 0, false);
}

/* ---- graph pieces --------------------------------------------------------------------------- */

/* Appends p to the array *arr of *n entries with capacity *cap (grown in the arena). */
static void push(writer *w, void ***arr, size_t *n, size_t *cap, void *p) {
  if (w->failed || p == NULL) {
    w->failed = true;
    return;
  }
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    void **na = arena_alloc(w, nc * sizeof *na);
    if (na == NULL)
      return;
    if (*n)
      memcpy(na, *arr, *n * sizeof *na);
    *arr = na;
    *cap = nc;
  }
  (*arr)[(*n)++] = p;
}

/* A float initializer `name` of the given dims holding data (copied). */
static const char *add_tensor(writer *w, const char *name, const float *data, size_t n_dims,
                              const size_t *dims) {
  Onnx__TensorProto *t = arena_alloc(w, sizeof *t);
  if (t == NULL)
    return NULL;
  dn_onnx_pb__tensor_proto__init(t);
  size_t count = 1;
  t->dims = arena_alloc(w, (n_dims ? n_dims : 1) * sizeof *t->dims);
  if (t->dims == NULL)
    return NULL;
  t->n_dims = n_dims;
  for (size_t i = 0; i < n_dims; i++) {
    t->dims[i] = (int64_t)dims[i];
    count *= dims[i];
  }
  t->has_data_type = 1;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->name = arena_str(w, name);
  /* raw_data, little-endian float32 (the ONNX layout; this library builds only there). */
  t->has_raw_data = 1;
  t->raw_data.len = count * sizeof(float);
  t->raw_data.data = arena_alloc(w, t->raw_data.len + 1);
  if (t->raw_data.data == NULL || t->name == NULL)
    return NULL;
  if (count)
    memcpy(t->raw_data.data, data, count * sizeof(float));
  push(w, (void ***)&w->graph->initializer, &w->graph->n_initializer, &w->init_cap, t);
  return t->name;
}

static const char *add_scalar(writer *w, const char *layer, float v) {
  char *name = arena_name(w, layer, "const_", w->counter++, true);
  return name ? add_tensor(w, name, &v, 0, NULL) : NULL;
}

static Onnx__AttributeProto *attr(writer *w, const char *name, char kind, double value) {
  Onnx__AttributeProto *a = arena_alloc(w, sizeof *a);
  if (a == NULL)
    return NULL;
  dn_onnx_pb__attribute_proto__init(a);
  a->name = arena_str(w, name);
  a->has_type = 1;
  if (kind == 'f') {
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = (float)value;
  } else {
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = (int64_t)value;
  }
  return a;
}

/* A node `op` of layer `layer` on the given inputs (NULL: an omitted optional input) with up to
 * n_attr attributes; returns its output's name. */
static const char *add_node(writer *w, const char *layer, const char *op, size_t n_in,
                            const char *const *in, size_t n_attr, Onnx__AttributeProto **attrs) {
  Onnx__NodeProto *node = arena_alloc(w, sizeof *node);
  if (node == NULL)
    return NULL;
  dn_onnx_pb__node_proto__init(node);
  node->op_type = arena_str(w, op);
  node->name = arena_name(w, layer, "node_", w->counter, true);
  char *out = arena_name(w, layer, "out_", w->counter++, true);
  node->input = arena_alloc(w, (n_in ? n_in : 1) * sizeof(char *));
  node->output = arena_alloc(w, sizeof(char *));
  node->attribute = arena_alloc(w, (n_attr ? n_attr : 1) * sizeof(Onnx__AttributeProto *));
  if (w->failed)
    return NULL;
  for (size_t i = 0; i < n_in; i++) {
    node->input[i] = (char *)(in[i] ? in[i] : "");
    if (in[i] == NULL)
      w->failed = true;
  }
  node->n_input = n_in;
  node->output[0] = out;
  node->n_output = 1;
  for (size_t i = 0; i < n_attr; i++) {
    node->attribute[i] = attrs[i];
    if (attrs[i] == NULL)
      w->failed = true;
  }
  node->n_attribute = n_attr;
  push(w, (void ***)&w->graph->node, &w->graph->n_node, &w->node_cap, node);
  return out;
}

/* The activation `name` after the current tensor, as its pattern's nodes. */
static void add_activation(writer *w, const char *layer, const char *name) {
  const dn_onnx_pattern *p = dn_onnx_pattern_for(name, w->opset);
  if (p == NULL) /* linear */
    return;
  const char *outs[DN_ONNX_MAX_STEPS] = {0};
  const char *consts[4] = {0};
  for (size_t c = 0; c < p->n_consts; c++)
    consts[c] = add_scalar(w, layer, p->consts[c]);
  for (size_t s = 0; s < p->n_steps; s++) {
    const dn_onnx_step *st = &p->steps[s];
    const char *in[3];
    for (int i = 0; i < st->n_in; i++) {
      int r = st->in[i];
      in[i] = r == DN_OX ? w->cur : r >= DN_OC(0) ? consts[r - DN_OC(0)] : outs[r];
    }
    Onnx__AttributeProto *attrs[2];
    size_t n_attr = 0;
    for (size_t a = 0; a < 2 && st->attr[a].name; a++)
      attrs[n_attr++] = attr(w, st->attr[a].name, st->attr[a].kind, st->attr[a].value);
    outs[s] = add_node(w, layer, st->op, (size_t)st->n_in, in, n_attr, attrs);
  }
  w->cur = outs[p->n_steps - 1];
}

static void add_layer(writer *w, const dn_layer *layer, bool matmul_add) {
  dn_layer_config c;
  dn_layer_get_config(layer, &c);
  const char *ln = layer->name;
  size_t D = layer->input_dim, U = layer->output_dim;
  char buf[DN_LAYER_NAME_CAP + 32];
  if (strcmp(c.type, "Dense") == 0) {
    snprintf(buf, sizeof buf, "%s/kernel", ln);
    const char *k = add_tensor(w, buf, layer->params, 2, (size_t[]){D, U});
    const char *b = NULL;
    if (c.use_bias) {
      snprintf(buf, sizeof buf, "%s/bias", ln);
      b = add_tensor(w, buf, layer->params + D * U, 1, (size_t[]){U});
    }
    if (!c.use_bias || matmul_add) {
      w->cur = add_node(w, ln, "MatMul", 2, (const char *[]){w->cur, k}, 0, NULL);
      if (c.use_bias)
        w->cur = add_node(w, ln, "Add", 2, (const char *[]){w->cur, b}, 0, NULL);
    } else {
      w->cur = add_node(w, ln, "Gemm", 3, (const char *[]){w->cur, k, b}, 0, NULL);
    }
    add_activation(w, ln, c.activation);
  } else if (strcmp(c.type, "Activation") == 0) {
    add_activation(w, ln, c.activation);
  } else if (strcmp(c.type, "Normalization") == 0) {
    /* (x - mean) / s with s = max(sqrt(variance), 1e-7) computed as the layer does; the
     * variance and count ride along unused so that dn_onnx_load gets them back exactly. */
    float *s = arena_alloc(w, (D ? D : 1) * sizeof *s);
    if (s == NULL)
      return;
    for (size_t j = 0; j < D; j++) {
      float r = sqrtf(layer->params[D + j]);
      s[j] = r > 1e-7f ? r : 1e-7f;
    }
    snprintf(buf, sizeof buf, "%s/mean", ln);
    const char *m = add_tensor(w, buf, layer->params, 1, (size_t[]){D});
    snprintf(buf, sizeof buf, "%s/scale", ln);
    const char *sc = add_tensor(w, buf, s, 1, (size_t[]){D});
    snprintf(buf, sizeof buf, "%s/variance", ln);
    add_tensor(w, buf, layer->params + D, 1, (size_t[]){D});
    snprintf(buf, sizeof buf, "%s/count", ln);
    add_tensor(w, buf, layer->params + 2 * D, 0, NULL);
    if (c.invert) {
      w->cur = add_node(w, ln, "Mul", 2, (const char *[]){w->cur, sc}, 0, NULL);
      w->cur = add_node(w, ln, "Add", 2, (const char *[]){w->cur, m}, 0, NULL);
    } else {
      w->cur = add_node(w, ln, "Sub", 2, (const char *[]){w->cur, m}, 0, NULL);
      w->cur = add_node(w, ln, "Div", 2, (const char *[]){w->cur, sc}, 0, NULL);
    }
  } else if (strcmp(c.type, "BatchNormalization") == 0) {
    /* gamma and beta are 1 and 0 when the layer has none (scale/center off). */
    const float *p = layer->params;
    float *ones = arena_alloc(w, (D ? D : 1) * sizeof(float) * 2);
    if (ones == NULL)
      return;
    for (size_t j = 0; j < D; j++)
      ones[j] = 1.0f;
    const float *gamma = c.scale ? p : ones;
    p += c.scale ? D : 0;
    const float *beta = c.center ? p : ones + D;
    p += c.center ? D : 0;
    const char *in[5] = {w->cur};
    static const char *const names[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    const float *data[4] = {gamma, beta, p, p + D};
    for (size_t i = 0; i < 4; i++) {
      snprintf(buf, sizeof buf, "%s/%s", ln, names[i]);
      in[i + 1] = add_tensor(w, buf, data[i], 1, (size_t[]){D});
    }
    Onnx__AttributeProto *attrs[2] = {attr(w, "epsilon", 'f', c.epsilon),
                                      attr(w, "momentum", 'f', c.momentum)};
    w->cur = add_node(w, ln, "BatchNormalization", 5, in, 2, attrs);
  }
  /* Dropout: nothing at inference. */
}

static Onnx__ValueInfoProto *value_info(writer *w, const char *name, size_t width) {
  Onnx__ValueInfoProto *v = arena_alloc(w, sizeof *v);
  Onnx__TypeProto *t = arena_alloc(w, sizeof *t);
  Onnx__TypeProto__Tensor *tt = arena_alloc(w, sizeof *tt);
  Onnx__TensorShapeProto *sh = arena_alloc(w, sizeof *sh);
  Onnx__TensorShapeProto__Dimension **dims = arena_alloc(w, 2 * sizeof *dims);
  Onnx__TensorShapeProto__Dimension *d = arena_alloc(w, 2 * sizeof *d);
  if (w->failed)
    return NULL;
  dn_onnx_pb__value_info_proto__init(v);
  dn_onnx_pb__type_proto__init(t);
  dn_onnx_pb__type_proto__tensor__init(tt);
  dn_onnx_pb__tensor_shape_proto__init(sh);
  dn_onnx_pb__tensor_shape_proto__dimension__init(&d[0]);
  dn_onnx_pb__tensor_shape_proto__dimension__init(&d[1]);
  d[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
  d[0].dim_param = "batch";
  d[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  d[1].dim_value = (int64_t)width;
  dims[0] = &d[0];
  dims[1] = &d[1];
  sh->n_dim = 2;
  sh->dim = dims;
  tt->has_elem_type = 1;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = sh;
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = tt;
  v->name = arena_str(w, name);
  v->type = t;
  return v;
}

static dn_status build_and_write(writer *w, const dn_model *model, const char *path,
                                 dn_onnx_options o, const char *in_name, const char *out_name) {
  Onnx__ModelProto *m = arena_alloc(w, sizeof *m);
  w->graph = arena_alloc(w, sizeof *w->graph);
  Onnx__OperatorSetIdProto *ops = arena_alloc(w, sizeof *ops);
  Onnx__OperatorSetIdProto **opsp = arena_alloc(w, sizeof *opsp);
  if (w->failed)
    return dn_fail(DN_ERR_NOMEM, FN ": out of memory building the graph");
  dn_onnx_pb__model_proto__init(m);
  dn_onnx_pb__graph_proto__init(w->graph);
  dn_onnx_pb__operator_set_id_proto__init(ops);
  ops->domain = "";
  ops->has_version = 1;
  ops->version = w->opset;
  opsp[0] = ops;
  m->has_ir_version = 1;
  m->ir_version = 8; /* ONNX 1.10-1.12; what ONNX Runtime and Debian's onnx read */
  m->opset_import = opsp;
  m->n_opset_import = 1;
  m->producer_name = "libdensenet";
  m->producer_version = (char *)dn_version();
  m->has_model_version = 1;
  m->model_version = 1;
  m->graph = w->graph;
  w->graph->name = "densenet";
  w->graph->doc_string = "a keras.Sequential-style dense network written by libdensenet";

  size_t icap = 0, ocap = 0;
  push(w, (void ***)&w->graph->input, &w->graph->n_input, &icap,
       value_info(w, in_name, model->input_dim));
  w->cur = in_name;
  size_t width = model->input_dim;
  for (size_t i = 0; i < model->n_layers; i++) {
    add_layer(w, model->layers[i], o.matmul_add);
    width = model->layers[i]->output_dim;
  }
  if (w->failed)
    return dn_fail(DN_ERR_NOMEM, FN ": out of memory building the graph");
  /* The output: the last node's output renamed, or an Identity when no node changed the input
   * (a model of Dropout or linear activations only). */
  if (strcmp(w->cur, in_name) == 0 || w->graph->n_node == 0) {
    w->cur = add_node(w, "output", "Identity", 1, (const char *[]){w->cur}, 0, NULL);
  }
  if (w->failed)
    return dn_fail(DN_ERR_NOMEM, FN ": out of memory building the graph");
  Onnx__NodeProto *last = w->graph->node[w->graph->n_node - 1];
  last->output[0] = (char *)out_name;
  push(w, (void ***)&w->graph->output, &w->graph->n_output, &ocap, value_info(w, out_name, width));
  if (w->failed)
    return dn_fail(DN_ERR_NOMEM, FN ": out of memory building the graph");

  size_t len = dn_onnx_pb__model_proto__get_packed_size(m);
  uint8_t *buf = dn_alloc(len);
  if (buf == NULL)
    return dn_fail(DN_ERR_NOMEM, FN ": out of memory for %zu bytes of ONNX", len);
  dn_onnx_pb__model_proto__pack(m, buf);
  dn_status st = dn_file_write_atomic(path, buf, len, FN);
  dn_free(buf);
  return st;
}

dn_status dn_onnx_save_with(const dn_model *model, const char *path, dn_onnx_options o) {
  if (model == NULL || path == NULL)
    return dn_fail(DN_ERR_ARG, FN ": %s is NULL", model == NULL ? "model" : "path");
  int opset = o.opset ? o.opset : DN_ONNX_DEFAULT_OPSET;
  if (opset < DN_ONNX_MIN_OPSET || opset > DN_ONNX_MAX_OPSET)
    return dn_fail(DN_ERR_ARG, FN ": opset %d is outside %d..%d", o.opset, DN_ONNX_MIN_OPSET,
                   DN_ONNX_MAX_OPSET);
  const char *in_name = o.input_name ? o.input_name : "input";
  const char *out_name = o.output_name ? o.output_name : "output";
  if (!*in_name || !*out_name || strcmp(in_name, out_name) == 0)
    return dn_fail(DN_ERR_ARG,
                   FN ": the input and output names must be non-empty and differ "
                      "('%s', '%s')",
                   in_name, out_name);
  if (model->input_dim == 0 || model->n_layers == 0)
    return dn_fail(DN_ERR_STATE, FN ": the model has %s",
                   model->n_layers == 0 ? "no layers" : "no input width yet (build it)");
  static const char *const written[] = {"Dense", "Activation", "Normalization",
                                        "BatchNormalization", "Dropout"};
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    if (!l->built)
      return dn_fail(DN_ERR_STATE, FN ": layer %zu ('%s') is not built", i, l->name);
    dn_layer_config c;
    dn_layer_get_config(l, &c);
    size_t k = 0;
    while (k < sizeof written / sizeof written[0] && strcmp(c.type, written[k]) != 0)
      k++;
    if (k == sizeof written / sizeof written[0])
      return dn_fail(DN_ERR_UNSUPPORTED,
                     FN ": layer %zu ('%s') is a %s layer, which has no ONNX form%s", i, l->name,
                     c.type,
                     strcmp(c.type, "QuantizedDense") == 0
                         ? " (an int8 model: export the float model it was quantized from)"
                         : "");
  }
  writer w = {.opset = opset};
  dn_status st = build_and_write(&w, model, path, (dn_onnx_options){.matmul_add = o.matmul_add},
                                 in_name, out_name);
  arena_free(&w);
  return st;
}

dn_status dn_onnx_save(const dn_model *model, const char *path) {
  return dn_onnx_save_with(model, path, (dn_onnx_options){0});
}
