/* onnx_load.c -- dn_onnx_load: an ONNX ModelProto (parsed by protobuf-c, its allocations
 * through the library's allocator) read as a chain of layers. The file is untrusted: every
 * tensor's dims are checked (non-negative, product without overflow, at most 2^28 values) and
 * its data length against them before use; every weight's shape against the width flowing in.
 *
 * The graph is walked node by node (Constant nodes first become constants): each node, or short
 * run of nodes, must take the current tensor and constants only and become one layer: Gemm or
 * MatMul [+ Add] a Dense, an activation pattern (onnx_io.h) the activation of the Dense before
 * it or an Activation layer, BatchNormalization a BatchNormalization, Sub + Div (Mul + Add) a
 * Normalization (inverted), Dropout a Dropout; Identity and Flatten of a 2-D tensor vanish. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "densenet_onnx.h"
#include "io/file.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_io.h"

#define FN "dn_onnx_load"
#define DN_ONNX_MAX_VALUES ((size_t)1 << 28)

/* ---- protobuf-c's allocations through dn_alloc ---------------------------------------------- */

static void *pb_alloc(void *data, size_t size) {
  (void)data;
  return dn_alloc(size);
}
static void pb_free(void *data, void *p) {
  (void)data;
  dn_free(p);
}
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

/* ---- constants: initializers and Constant nodes --------------------------------------------- */

typedef struct konst {
  const char *name;
  const Onnx__TensorProto *t; /* the tensor (checked by decode before use) */
  float value0;               /* first value when decoded */
} konst;

typedef struct reader {
  const Onnx__GraphProto *g;
  konst *consts;
  size_t n_consts;
  const Onnx__NodeProto **nodes; /* the graph's nodes but Constant ones */
  size_t *node_pos;              /* each one's position in the graph */
  size_t n_nodes;
} reader;

static const konst *find_const(const reader *r, const char *name) {
  for (size_t i = r->n_consts; i-- > 0;)
    if (strcmp(r->consts[i].name, name) == 0)
      return &r->consts[i];
  return NULL;
}

/* The values of a float tensor: a new array of *count floats (dn_free it), or NULL with
 * DN_ERR_FORMAT saying what is wrong (`what` names it in the message). */
static float *decode(const Onnx__TensorProto *t, const char *what, size_t *count) {
  size_t n = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || (uint64_t)t->dims[i] > DN_ONNX_MAX_VALUES ||
        (t->dims[i] > 0 && n > DN_ONNX_MAX_VALUES / (size_t)t->dims[i]))
      return dn_fail_null(DN_ERR_FORMAT,
                          FN ": tensor %s has dimension %zu = %lld (negative, or more than "
                             "2^28 values in all)",
                          what, i, (long long)t->dims[i]);
    n *= (size_t)t->dims[i];
  }
  if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return dn_fail_null(DN_ERR_FORMAT, FN ": tensor %s has data type %d, not float (1)", what,
                        t->has_data_type ? (int)t->data_type : 0);
  if (t->has_data_location && t->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT)
    return dn_fail_null(DN_ERR_UNSUPPORTED, FN ": tensor %s is stored in an external file", what);
  float *out = dn_alloc(n ? n * sizeof(float) : 1);
  if (out == NULL)
    return NULL;
  if (t->has_raw_data) {
    if (t->raw_data.len != n * sizeof(float)) {
      dn_free(out);
      return dn_fail_null(DN_ERR_FORMAT,
                          FN ": tensor %s has %zu bytes of raw data but its dims say %zu floats",
                          what, t->raw_data.len, n);
    }
    if (n)
      memcpy(out, t->raw_data.data, n * sizeof(float));
  } else if (t->n_float_data == n) {
    if (n)
      memcpy(out, t->float_data, n * sizeof(float));
  } else {
    dn_free(out);
    return dn_fail_null(DN_ERR_FORMAT, FN ": tensor %s has %zu float values but its dims say %zu",
                        what, t->n_float_data, n);
  }
  *count = n;
  return out;
}

/* A constant as a float scalar (one value, any rank): true and *v, else false. */
static bool scalar_of(const reader *r, const char *name, float *v) {
  const konst *k = find_const(r, name);
  if (k == NULL)
    return false;
  size_t n = 0;
  dn_status saved = dn_last_status();
  (void)saved;
  float *d = decode(k->t, name, &n);
  if (d == NULL)
    return false;
  bool ok = n == 1;
  if (ok)
    *v = d[0];
  dn_free(d);
  return ok;
}

/* ---- node helpers -------------------------------------------------------------------------- */

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
      return n->attribute[i];
  return NULL;
}

static double attr_f(const Onnx__NodeProto *n, const char *name, double dflt) {
  const Onnx__AttributeProto *a = find_attr(n, name);
  return a && a->has_f ? (double)a->f : dflt;
}

static long long attr_i(const Onnx__NodeProto *n, const char *name, long long dflt) {
  const Onnx__AttributeProto *a = find_attr(n, name);
  return a && a->has_i ? (long long)a->i : dflt;
}

static bool is_op(const Onnx__NodeProto *n, const char *op) {
  return n->op_type && strcmp(n->op_type, op) == 0 &&
         (n->domain == NULL || n->domain[0] == '\0' || strcmp(n->domain, "ai.onnx") == 0);
}

static const char *in_name(const Onnx__NodeProto *n, size_t i) {
  return i < n->n_input && n->input[i] ? n->input[i] : "";
}

/* Whether two nodes belong to one layer: the same non-empty name up to the last '/' (the writer
 * names a layer's nodes "<layer>/node_<k>"; torch.onnx.export "/<module>/<Op>"). */
static bool same_owner(const Onnx__NodeProto *a, const Onnx__NodeProto *b) {
  const char *sa = a->name ? strrchr(a->name, '/') : NULL;
  const char *sb = b->name ? strrchr(b->name, '/') : NULL;
  return sa && sb && sa > a->name && sa - a->name == sb - b->name &&
         memcmp(a->name, b->name, (size_t)(sa - a->name)) == 0;
}

/* ---- activation patterns ------------------------------------------------------------------- */

static bool ref_matches(const reader *r, const dn_onnx_pattern *p, size_t start, int ref,
                        const char *name, const char *cur) {
  if (ref == DN_OX)
    return strcmp(name, cur) == 0;
  if (ref >= DN_OC(0)) {
    float v;
    return scalar_of(r, name, &v) && v == p->consts[ref - DN_OC(0)];
  }
  const Onnx__NodeProto *prev = r->nodes[start + (size_t)ref];
  return prev->n_output >= 1 && strcmp(prev->output[0], name) == 0;
}

/* Whether nodes start.. are pattern p applied to cur. */
static bool match(const reader *r, const dn_onnx_pattern *p, size_t start, const char *cur) {
  if (start + p->n_steps > r->n_nodes)
    return false;
  for (size_t s = 0; s < p->n_steps; s++) {
    const dn_onnx_step *st = &p->steps[s];
    const Onnx__NodeProto *n = r->nodes[start + s];
    if (!is_op(n, st->op) || n->n_input != (size_t)st->n_in || n->n_output != 1)
      return false;
    bool direct = true;
    for (int i = 0; i < st->n_in && direct; i++)
      direct = ref_matches(r, p, start, st->in[i], in_name(n, (size_t)i), cur);
    bool commutes = st->n_in == 2 && (strcmp(st->op, "Add") == 0 || strcmp(st->op, "Mul") == 0);
    if (!direct && !(commutes && ref_matches(r, p, start, st->in[0], in_name(n, 1), cur) &&
                     ref_matches(r, p, start, st->in[1], in_name(n, 0), cur)))
      return false;
    for (size_t a = 0; a < 2 && st->attr[a].name; a++) {
      const dn_onnx_attr *pa = &st->attr[a];
      if (pa->kind == 'f') {
        if ((float)attr_f(n, pa->name, pa->dflt) != (float)pa->value)
          return false;
      } else {
        long long v = attr_i(n, pa->name, (long long)pa->dflt);
        /* axis 1 is the last axis of the 2-D tensors here */
        if (v != (long long)pa->value && !(strcmp(pa->name, "axis") == 0 && v == 1))
          return false;
      }
    }
  }
  return true;
}

/* The longest pattern matching at start, or NULL. */
static const dn_onnx_pattern *match_activation(const reader *r, size_t start, const char *cur) {
  const dn_onnx_pattern *best = NULL;
  for (size_t i = 0; i < dn_onnx_pattern_count; i++) {
    const dn_onnx_pattern *p = &dn_onnx_patterns[i];
    if ((best == NULL || p->n_steps > best->n_steps) && match(r, p, start, cur))
      best = p;
  }
  return best;
}

/* ---- layers -------------------------------------------------------------------------------- */

typedef enum { L_DENSE, L_ACT, L_BN, L_NORM, L_DROPOUT } lkind;

typedef struct lspec {
  lkind kind;
  size_t in, out;
  const char *act;
  float *w[4]; /* dense: kernel (in x out), bias; bn: gamma, beta, mean, var; norm: mean, var */
  float count;
  bool bias, invert;
  double eps, momentum, rate;
} lspec;

typedef struct build {
  lspec *l;
  size_t n, cap;
} build;

static void specs_free(build *b) {
  for (size_t i = 0; i < b->n; i++)
    for (size_t k = 0; k < 4; k++)
      dn_free(b->l[i].w[k]);
  dn_free(b->l);
}

static lspec *spec_add(build *b, lkind kind, size_t in, size_t out) {
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 8;
    lspec *nl = dn_calloc(nc, sizeof *nl);
    if (nl == NULL)
      return NULL;
    if (b->n)
      memcpy(nl, b->l, b->n * sizeof *nl);
    dn_free(b->l);
    b->l = nl;
    b->cap = nc;
  }
  lspec *s = &b->l[b->n++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->in = in;
  s->out = out;
  s->act = "linear";
  return s;
}

/* A constant vector of exactly `want` floats (a [want] or [1, want] tensor) for node k's input
 * `i`, or NULL with DN_ERR_FORMAT. */
static float *vector_input(const reader *r, size_t k, size_t i, size_t want, const char *role) {
  const Onnx__NodeProto *n = r->nodes[k];
  const char *name = in_name(n, i);
  const konst *c = find_const(r, name);
  if (c == NULL)
    return dn_fail_null(DN_ERR_FORMAT,
                        FN ": node %zu ('%s', %s): its %s '%s' is not an initializer or constant",
                        r->node_pos[k], n->name ? n->name : "", n->op_type, role, name);
  size_t cnt = 0;
  float *d = decode(c->t, name, &cnt);
  if (d == NULL)
    return NULL;
  bool shape_ok = cnt == want && (c->t->n_dims == 1 || (c->t->n_dims == 2 && c->t->dims[0] == 1));
  if (!shape_ok) {
    dn_free(d);
    return dn_fail_null(DN_ERR_FORMAT,
                        FN ": node %zu ('%s', %s): its %s '%s' has %zu values in %zu dims, not "
                           "a vector of %zu (the width flowing in)",
                        r->node_pos[k], n->name ? n->name : "", n->op_type, role, name, cnt,
                        c->t->n_dims, want);
  }
  return d;
}

static dn_status fail_node(const reader *r, size_t k, dn_status st, const char *why) {
  const Onnx__NodeProto *n = r->nodes[k];
  return dn_fail(st, FN ": node %zu ('%s', operator %s%s%s): %s", r->node_pos[k],
                 n->name ? n->name : "", n->domain && n->domain[0] ? n->domain : "",
                 n->domain && n->domain[0] ? "." : "", n->op_type ? n->op_type : "?", why);
}

/* Dense from Gemm or MatMul [+ Add] at node k: *used nodes. */
static dn_status read_dense(const reader *r, size_t k, size_t width, build *b, size_t *used) {
  const Onnx__NodeProto *n = r->nodes[k];
  bool gemm = is_op(n, "Gemm");
  if (gemm) {
    if (attr_i(n, "transA", 0) != 0 || attr_f(n, "alpha", 1.0) != 1.0 ||
        attr_f(n, "beta", 1.0) != 1.0)
      return fail_node(r, k, DN_ERR_UNSUPPORTED,
                       "only Gemm with transA = 0 and alpha = beta = "
                       "1 is a Dense layer");
  }
  const char *wname = in_name(n, 1);
  const konst *c = find_const(r, wname);
  if (c == NULL)
    return fail_node(r, k, DN_ERR_FORMAT, "its weight input is not an initializer or constant");
  size_t cnt = 0;
  float *w = decode(c->t, wname, &cnt);
  if (w == NULL)
    return dn_last_status();
  bool transB = gemm && attr_i(n, "transB", 0) != 0;
  if (c->t->n_dims != 2) {
    dn_free(w);
    return fail_node(r, k, DN_ERR_FORMAT, "its weight is not a matrix");
  }
  size_t rows = (size_t)c->t->dims[transB ? 1 : 0], units = (size_t)c->t->dims[transB ? 0 : 1];
  if (rows != width || units == 0) {
    dn_free(w);
    char why[160];
    snprintf(why, sizeof why,
             "its weight '%s' maps %zu inputs to %zu but the width flowing in is "
             "%zu",
             wname, rows, units, width);
    return fail_node(r, k, DN_ERR_FORMAT, why);
  }
  lspec *s = spec_add(b, L_DENSE, width, units);
  if (s == NULL) {
    dn_free(w);
    return DN_ERR_NOMEM;
  }
  if (transB) {
    s->w[0] = dn_alloc(cnt * sizeof(float));
    if (s->w[0] == NULL) {
      dn_free(w);
      return DN_ERR_NOMEM;
    }
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < units; j++)
        s->w[0][i * units + j] = w[j * rows + i];
    dn_free(w);
  } else {
    s->w[0] = w;
  }
  *used = 1;
  if (gemm && n->n_input >= 3 && in_name(n, 2)[0]) {
    s->w[1] = vector_input(r, k, 2, units, "bias");
    if (s->w[1] == NULL)
      return dn_last_status();
    s->bias = true;
  } else if (!gemm && k + 1 < r->n_nodes && is_op(r->nodes[k + 1], "Add") &&
             r->nodes[k + 1]->n_input == 2 && n->n_output == 1) {
    const Onnx__NodeProto *a = r->nodes[k + 1];
    size_t other = strcmp(in_name(a, 0), n->output[0]) == 0   ? 1
                   : strcmp(in_name(a, 1), n->output[0]) == 0 ? 0
                                                              : 2;
    if (other < 2 && find_const(r, in_name(a, other))) {
      s->w[1] = vector_input(r, k + 1, other, units, "bias");
      if (s->w[1] == NULL)
        return dn_last_status();
      s->bias = true;
      *used = 2;
    }
  }
  return DN_OK;
}

static dn_status read_graph(reader *r, build *b, size_t *input_dim) {
  const Onnx__GraphProto *g = r->g;
  /* The one real input (older files list the initializers among the inputs too). */
  const Onnx__ValueInfoProto *input = NULL;
  for (size_t i = 0; i < g->n_input; i++) {
    if (g->input[i]->name == NULL || find_const(r, g->input[i]->name))
      continue;
    if (input != NULL)
      return dn_fail(DN_ERR_UNSUPPORTED, FN ": the graph has more than one input ('%s', '%s')",
                     input->name, g->input[i]->name);
    input = g->input[i];
  }
  if (input == NULL)
    return dn_fail(DN_ERR_FORMAT, FN ": the graph has no input");
  if (g->n_output != 1 || g->output[0]->name == NULL)
    return dn_fail(DN_ERR_UNSUPPORTED, FN ": the graph has %zu outputs, not 1", g->n_output);
  const Onnx__TypeProto *t = input->type;
  if (t == NULL || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || t->tensor_type == NULL ||
      !t->tensor_type->has_elem_type ||
      t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return dn_fail(DN_ERR_UNSUPPORTED, FN ": the input '%s' is not a float tensor", input->name);
  const Onnx__TensorShapeProto *sh = t->tensor_type->shape;
  if (sh == NULL || sh->n_dim != 2 ||
      sh->dim[1]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
      sh->dim[1]->dim_value <= 0 || (uint64_t)sh->dim[1]->dim_value > DN_ONNX_MAX_VALUES)
    return dn_fail(DN_ERR_UNSUPPORTED,
                   FN ": the input '%s' is not a 2-D tensor [batch, features] with a known "
                      "positive number of features",
                   input->name);
  size_t width = (size_t)sh->dim[1]->dim_value;
  *input_dim = width;
  const char *cur = input->name;

  for (size_t k = 0; k < r->n_nodes;) {
    const Onnx__NodeProto *n = r->nodes[k];
    if (n->op_type == NULL || n->n_output < 1 || n->output[0] == NULL)
      return fail_node(r, k, DN_ERR_FORMAT, "no operator or no output");
    if (n->n_input < 1 || strcmp(in_name(n, 0), cur) != 0) {
      /* An activation pattern may take the tensor as a later input (Div(2, ...) no; Mul(c, x)). */
      const dn_onnx_pattern *p = match_activation(r, k, cur);
      if (p == NULL) {
        char why[200];
        snprintf(why, sizeof why,
                 "its first input '%s' is not the tensor flowing through the chain ('%s'): only "
                 "a chain of layers is supported",
                 in_name(n, 0), cur);
        return fail_node(r, k, DN_ERR_UNSUPPORTED, why);
      }
    }
    size_t used = 1;
    if (is_op(n, "Identity") || (is_op(n, "Flatten") && attr_i(n, "axis", 1) == 1)) {
      /* nothing: a 2-D tensor flattens to itself */
    } else if (is_op(n, "Dropout")) {
      float rate = (float)attr_f(n, "ratio", 0.5);
      if (n->n_input >= 2 && in_name(n, 1)[0] && !scalar_of(r, in_name(n, 1), &rate))
        return fail_node(r, k, DN_ERR_UNSUPPORTED, "its ratio is not a float constant");
      if (n->n_input >= 3 && in_name(n, 2)[0])
        return fail_node(r, k, DN_ERR_UNSUPPORTED, "it has a training_mode input");
      if (!(rate >= 0.0f && rate <= 1.0f))
        return fail_node(r, k, DN_ERR_FORMAT, "its ratio is outside [0, 1]");
      lspec *s = spec_add(b, L_DROPOUT, width, width);
      if (s == NULL)
        return DN_ERR_NOMEM;
      s->rate = rate;
    } else if (is_op(n, "Gemm") || is_op(n, "MatMul")) {
      dn_status st = read_dense(r, k, width, b, &used);
      if (st != DN_OK)
        return st;
      width = b->l[b->n - 1].out;
    } else if (is_op(n, "BatchNormalization")) {
      if (n->n_input != 5 || n->n_output != 1 || attr_i(n, "training_mode", 0) != 0)
        return fail_node(r, k, DN_ERR_UNSUPPORTED,
                         "only the inference form (5 inputs, 1 output) is supported");
      lspec *s = spec_add(b, L_BN, width, width);
      if (s == NULL)
        return DN_ERR_NOMEM;
      static const char *const roles[4] = {"scale", "bias", "mean", "variance"};
      for (size_t i = 0; i < 4; i++)
        if ((s->w[i] = vector_input(r, k, i + 1, width, roles[i])) == NULL)
          return dn_last_status();
      float eps = (float)attr_f(n, "epsilon", 1e-5);
      float mom = (float)attr_f(n, "momentum", 0.9);
      if (!(eps >= 0.0f) || isinf(eps) || !(mom >= 0.0f && mom <= 1.0f))
        return fail_node(r, k, DN_ERR_FORMAT, "epsilon < 0 or momentum outside [0, 1]");
      /* The float attributes as the shortest decimal that rounds to them (1e-3, not
       * 0.0010000000474974513): what the writer was given. */
      float src[2] = {eps, mom};
      double *dst[2] = {&s->eps, &s->momentum};
      for (size_t i = 0; i < 2; i++) {
        char txt[32];
        for (int prec = 1; prec <= 9; prec++) {
          snprintf(txt, sizeof txt, "%.*g", prec, (double)src[i]);
          *dst[i] = strtod(txt, NULL);
          if ((float)*dst[i] == src[i])
            break;
        }
      }
    } else {
      const dn_onnx_pattern *p = match_activation(r, k, cur);
      if (p != NULL) {
        used = p->n_steps;
        lspec *prev = b->n ? &b->l[b->n - 1] : NULL;
        /* Directly after a Dense without activation and named as its node: that Dense's
         * activation; else an Activation layer. */
        if (prev && prev->kind == L_DENSE && strcmp(prev->act, "linear") == 0 && k > 0 &&
            r->nodes[k - 1]->n_output >= 1 && strcmp(r->nodes[k - 1]->output[0], cur) == 0 &&
            same_owner(r->nodes[k - 1], n)) {
          prev->act = p->activation;
        } else {
          lspec *s = spec_add(b, L_ACT, width, width);
          if (s == NULL)
            return DN_ERR_NOMEM;
          s->act = p->activation;
        }
      } else if ((is_op(n, "Sub") || is_op(n, "Mul")) && n->n_input == 2 && k + 1 < r->n_nodes &&
                 r->nodes[k + 1]->n_input == 2 &&
                 strcmp(in_name(r->nodes[k + 1], 0), n->output[0]) == 0 &&
                 is_op(r->nodes[k + 1], is_op(n, "Sub") ? "Div" : "Add")) {
        /* Normalization: Sub(x, mean), Div(., scale); inverted: Mul(x, scale), Add(., mean). */
        bool invert = is_op(n, "Mul");
        lspec *s = spec_add(b, L_NORM, width, width);
        if (s == NULL)
          return DN_ERR_NOMEM;
        s->invert = invert;
        float *mean = vector_input(r, invert ? k + 1 : k, 1, width, "mean");
        if (mean == NULL)
          return dn_last_status();
        s->w[0] = mean;
        const char *scale_name = in_name(r->nodes[invert ? k : k + 1], 1);
        float *scale = vector_input(r, invert ? k : k + 1, 1, width, "scale");
        if (scale == NULL)
          return dn_last_status();
        /* The variance: the writer's "<layer>/variance" beside "<layer>/scale" when it is there
         * and gives that scale, else scale^2. */
        s->w[1] = scale;
        size_t len = strlen(scale_name);
        if (len > 6 && strcmp(scale_name + len - 6, "/scale") == 0 && len < 200) {
          char vname[256], cname[256];
          snprintf(vname, sizeof vname, "%.*s/variance", (int)(len - 6), scale_name);
          snprintf(cname, sizeof cname, "%.*s/count", (int)(len - 6), scale_name);
          const konst *vk = find_const(r, vname);
          size_t vc = 0;
          float *var = vk ? decode(vk->t, vname, &vc) : NULL;
          bool same = var != NULL && vc == width;
          for (size_t j = 0; same && j < width; j++) {
            float q = sqrtf(var[j]);
            same = var[j] >= 0.0f && (q > 1e-7f ? q : 1e-7f) == scale[j];
          }
          if (same) {
            dn_free(scale);
            s->w[1] = var;
            float cnt;
            if (scalar_of(r, cname, &cnt))
              s->count = cnt;
          } else {
            dn_free(var);
          }
        }
        if (s->w[1] == scale)
          for (size_t j = 0; j < width; j++) {
            if (!(scale[j] > 0.0f) || isinf(scale[j]))
              return fail_node(r, k, DN_ERR_UNSUPPORTED,
                               "a Normalization scale that is not positive and finite");
            scale[j] = scale[j] * scale[j];
          }
        used = 2;
      } else {
        return fail_node(r, k, DN_ERR_UNSUPPORTED,
                         "no layer of this library computes this operator here (supported: "
                         "Gemm, MatMul + Add, BatchNormalization, Identity, Dropout, Flatten, "
                         "the activations of docs/onnx.md)");
      }
    }
    const Onnx__NodeProto *last = r->nodes[k + used - 1];
    if (last->n_output < 1 || last->output[0] == NULL)
      return fail_node(r, k + used - 1, DN_ERR_FORMAT, "no output");
    cur = last->output[0];
    k += used;
  }
  if (strcmp(cur, g->output[0]->name) != 0)
    return dn_fail(DN_ERR_FORMAT, FN ": the graph's output '%s' is not the end of the chain ('%s')",
                   g->output[0]->name, cur);
  if (b->n == 0)
    return dn_fail(DN_ERR_UNSUPPORTED, FN ": the graph has no layers (only Identity nodes)");
  return DN_OK;
}

static dn_layer *make_layer(const lspec *s, bool first) {
  size_t in = first ? s->in : 0;
  switch (s->kind) {
  case L_DENSE:
    return dn_dense_with((dn_dense_options){
        .units = s->out, .activation = s->act, .input_dim = in, .no_bias = !s->bias});
  case L_ACT:
    return dn_activation_with((dn_activation_options){.activation = s->act, .input_dim = in});
  case L_DROPOUT: return dn_dropout_with((dn_dropout_options){.rate = s->rate, .input_dim = in});
  case L_BN:
    return dn_batch_normalization_with(
        (dn_batch_normalization_options){.input_dim = in,
                                         .momentum = s->momentum == 0.0 ? DN_ZERO : s->momentum,
                                         .epsilon = s->eps == 0.0 ? DN_ZERO : s->eps});
  case L_NORM:
    return dn_normalization_with((dn_normalization_options){
        .input_dim = s->in, .mean = s->w[0], .variance = s->w[1], .invert = s->invert});
  }
  return NULL;
}

static dn_model *make_model(const build *b) {
  dn_model *m = dn_model_new();
  if (m == NULL)
    return NULL;
  for (size_t i = 0; i < b->n; i++) {
    dn_layer *layer = make_layer(&b->l[i], i == 0);
    if (layer == NULL) { /* values the layer refuses (a negative or NaN variance, ...) */
      dn_status st = dn_last_status();
      dn_fail(st == DN_ERR_NOMEM ? DN_ERR_NOMEM : DN_ERR_FORMAT, FN ": layer %zu: %s", i,
              dn_last_error());
      dn_model_free(m);
      return NULL;
    }
    if (dn_model_add(m, layer) != DN_OK) {
      dn_model_free(m);
      return NULL;
    }
  }
  size_t n = dn_model_count_params(m), k = 0;
  float *all = dn_alloc((n ? n : 1) * sizeof(float));
  if (all == NULL) {
    dn_model_free(m);
    return NULL;
  }
  for (size_t i = 0; i < b->n; i++) {
    const lspec *s = &b->l[i];
    size_t sizes[4] = {0};
    if (s->kind == L_DENSE) {
      sizes[0] = s->in * s->out;
      sizes[1] = s->bias ? s->out : 0;
    } else if (s->kind == L_BN) {
      sizes[0] = sizes[1] = sizes[2] = sizes[3] = s->in;
    } else if (s->kind == L_NORM) {
      sizes[0] = sizes[1] = s->in;
    }
    for (size_t v = 0; v < 4; v++) {
      if (sizes[v] && k + sizes[v] <= n)
        memcpy(all + k, s->w[v], sizes[v] * sizeof(float));
      k += sizes[v];
    }
    if (s->kind == L_NORM) {
      if (k < n)
        all[k] = s->count;
      k++;
    }
  }
  dn_status st = k == n ? dn_model_set_weights(m, all, n)
                        : dn_fail(DN_ERR_STATE, FN ": %zu weights read for %zu parameters", k, n);
  dn_free(all);
  if (st != DN_OK) {
    dn_model_free(m);
    return NULL;
  }
  return m;
}

dn_model *dn_onnx_load_buffer(const void *data, size_t size) {
  if (data == NULL && size > 0)
    return dn_fail_null(DN_ERR_ARG, FN ": data is NULL");
  Onnx__ModelProto *mp =
      dn_onnx_pb__model_proto__unpack(&pb_allocator, size, (const uint8_t *)(data ? data : ""));
  if (mp == NULL) {
    if (dn_last_status() == DN_ERR_NOMEM)
      return NULL;
    return dn_fail_null(DN_ERR_FORMAT,
                        FN ": the %zu bytes are not an ONNX model (protobuf-c could not parse a "
                           "ModelProto from them)",
                        size);
  }
  dn_model *model = NULL;
  reader r = {0};
  build b = {0};
  const Onnx__GraphProto *g = mp->graph;
  long long opset = -1;
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
    if (o->domain == NULL || o->domain[0] == '\0' || strcmp(o->domain, "ai.onnx") == 0)
      opset = o->has_version ? (long long)o->version : -1;
  }
  if (g == NULL) {
    dn_fail(DN_ERR_FORMAT, FN ": the model has no graph");
    goto done;
  }
  if (opset < 1) {
    dn_fail(DN_ERR_FORMAT, FN ": the model imports no version of the default ONNX operator set");
    goto done;
  }
  r.g = g;
  r.consts = dn_calloc(g->n_initializer + g->n_node + 1, sizeof *r.consts);
  r.nodes = dn_calloc(g->n_node + 1, sizeof *r.nodes);
  r.node_pos = dn_calloc(g->n_node + 1, sizeof *r.node_pos);
  if (r.consts == NULL || r.nodes == NULL || r.node_pos == NULL)
    goto done;
  for (size_t i = 0; i < g->n_initializer; i++)
    if (g->initializer[i]->name)
      r.consts[r.n_consts++] = (konst){g->initializer[i]->name, g->initializer[i], 0.0f};
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (is_op(n, "Constant")) {
      const Onnx__AttributeProto *v = find_attr(n, "value");
      if (v == NULL || v->t == NULL || n->n_output != 1 || n->output[0] == NULL) {
        dn_fail(DN_ERR_UNSUPPORTED,
                FN ": node %zu ('%s', operator Constant): only a Constant with a 'value' tensor "
                   "is supported",
                i, n->name ? n->name : "");
        goto done;
      }
      r.consts[r.n_consts++] = (konst){n->output[0], v->t, 0.0f};
    } else {
      r.node_pos[r.n_nodes] = i;
      r.nodes[r.n_nodes++] = n;
    }
  }
  size_t input_dim = 0;
  if (read_graph(&r, &b, &input_dim) == DN_OK)
    model = make_model(&b);
done:
  specs_free(&b);
  dn_free(r.consts);
  dn_free(r.nodes);
  dn_free(r.node_pos);
  dn_onnx_pb__model_proto__free_unpacked(mp, &pb_allocator);
  return model;
}

dn_model *dn_onnx_load(const char *path) {
  if (path == NULL)
    return dn_fail_null(DN_ERR_ARG, FN ": path is NULL");
  uint8_t *buf = NULL;
  size_t len = 0;
  if (dn_file_read_whole(path, FN, "an ONNX file", &buf, &len) != DN_OK)
    return NULL;
  dn_model *m = dn_onnx_load_buffer(buf, len);
  dn_free(buf);
  return m;
}
