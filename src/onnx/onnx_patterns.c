/* onnx_patterns.c -- every activation of the library as ONNX nodes (onnx_io.h), each with the
 * formula of src/layers/activation.c: an ONNX operator where one has the same formula, else an
 * exact composition of primitive operators. The rows marked import_only are the other forms
 * torch.onnx.export writes for the same functions. */
#include "onnx/onnx_io.h"

#include <string.h>

#define X DN_OX
#define C(n) DN_OC(n)
#define S1(op, a)                                                                                  \
  {                                                                                                \
    op, 1, {a, 0, 0}, {                                                                            \
      { 0 }                                                                                        \
    }                                                                                              \
  }
#define S2(op, a, b)                                                                               \
  {                                                                                                \
    op, 2, {a, b, 0}, {                                                                            \
      { 0 }                                                                                        \
    }                                                                                              \
  }
#define S3(op, a, b, c)                                                                            \
  {                                                                                                \
    op, 3, {a, b, c}, {                                                                            \
      { 0 }                                                                                        \
    }                                                                                              \
  }
#define F(name, v, d)                                                                              \
  { name, 'f', v, d }
#define I(name, v, d)                                                                              \
  { name, 'i', v, d }
#define ALL 1, 99

/* Keras's selu constants; ONNX's Selu defaults are their float32 roundings. */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

const dn_onnx_pattern dn_onnx_patterns[] = {
    {"relu", ALL, 1, {S1("Relu", X)}, 0, {0}, 0},
    {"leaky_relu", ALL, 1, {{"LeakyRelu", 1, {X}, {F("alpha", 0.2, 0.01)}}}, 0, {0}, 0},
    {"relu6", ALL, 1, {S3("Clip", X, C(0), C(1))}, 2, {0.0f, 6.0f}, 0},
    {"elu", ALL, 1, {{"Elu", 1, {X}, {F("alpha", 1.0, 1.0)}}}, 0, {0}, 0},
    {"selu",
     ALL,
     1,
     {{"Selu", 1, {X}, {F("alpha", SELU_ALPHA, SELU_ALPHA), F("gamma", SELU_SCALE, SELU_SCALE)}}},
     0,
     {0},
     0},
    {"celu", ALL, 1, {{"Celu", 1, {X}, {F("alpha", 1.0, 1.0)}}}, 0, {0}, 0},
    /* gelu = x/2 (1 + erf(x/sqrt2)), in torch's order; one operator from opset 20. */
    {"gelu", 20, 99, 1, {S1("Gelu", X)}, 0, {0}, 0},
    {"gelu",
     ALL,
     5,
     {S2("Div", X, C(0)), S1("Erf", 0), S2("Add", 1, C(1)), S2("Mul", X, 2), S2("Mul", 3, C(2))},
     3,
     {1.41421353816986083984375f, 1.0f, 0.5f},
     0},
    {"sigmoid", ALL, 1, {S1("Sigmoid", X)}, 0, {0}, 0},
    {"hard_sigmoid",
     ALL,
     1,
     {{"HardSigmoid", 1, {X}, {F("alpha", 1.0 / 6.0, 0.2), F("beta", 0.5, 0.5)}}},
     0,
     {0},
     0},
    /* log_sigmoid = -softplus(-x) */
    {"log_sigmoid", ALL, 3, {S1("Neg", X), S1("Softplus", 0), S1("Neg", 1)}, 0, {0}, 0},
    {"tanh", ALL, 1, {S1("Tanh", X)}, 0, {0}, 0},
    {"hard_tanh", ALL, 1, {S3("Clip", X, C(0), C(1))}, 2, {-1.0f, 1.0f}, 0},
    {"softplus", ALL, 1, {S1("Softplus", X)}, 0, {0}, 0},
    {"softsign", ALL, 1, {S1("Softsign", X)}, 0, {0}, 0},
    /* torch: x / (1 + |x|) */
    {"softsign", ALL, 3, {S1("Abs", X), S2("Add", 0, C(0)), S2("Div", X, 1)}, 1, {1.0f}, 1},
    /* silu = x / (1 + e^-x): ONNX Runtime's Exp is closer to the exact value than its Sigmoid */
    {"silu",
     ALL,
     4,
     {S1("Neg", X), S1("Exp", 0), S2("Add", 1, C(0)), S2("Div", X, 2)},
     1,
     {1.0f},
     0},
    {"silu", ALL, 2, {S1("Sigmoid", X), S2("Mul", X, 0)}, 0, {0}, 1},
    {"hard_silu",
     ALL,
     2,
     {{"HardSigmoid", 1, {X}, {F("alpha", 1.0 / 6.0, 0.2), F("beta", 0.5, 0.5)}}, S2("Mul", X, 0)},
     0,
     {0},
     0},
    {"hard_silu", 14, 99, 1, {S1("HardSwish", X)}, 0, {0}, 1},
    {"mish", ALL, 3, {S1("Softplus", X), S1("Tanh", 0), S2("Mul", X, 1)}, 0, {0}, 0},
    {"mish", 18, 99, 1, {S1("Mish", X)}, 0, {0}, 1},
    {"exponential", ALL, 1, {S1("Exp", X)}, 0, {0}, 0},
    {"softmax", ALL, 1, {{"Softmax", 1, {X}, {I("axis", -1, -1)}}}, 0, {0}, 0},
    {"log_softmax", ALL, 1, {{"LogSoftmax", 1, {X}, {I("axis", -1, -1)}}}, 0, {0}, 0},
    {"tanh_shrink", ALL, 2, {S1("Tanh", X), S2("Sub", X, 0)}, 0, {0}, 0},
    {"soft_shrink",
     ALL,
     1,
     {{"Shrink", 1, {X}, {F("bias", 0.5, 0.0), F("lambd", 0.5, 0.5)}}},
     0,
     {0},
     0},
    {"hard_shrink",
     ALL,
     1,
     {{"Shrink", 1, {X}, {F("bias", 0.0, 0.0), F("lambd", 0.5, 0.5)}}},
     0,
     {0},
     0},
    /* squareplus = x >= 0 ? (x + r)/2 : 2/(r - x), r = sqrt(x^2 + 4) (no cancellation) */
    {"squareplus",
     ALL,
     9,
     {S2("Mul", X, X), S2("Add", 0, C(0)), S1("Sqrt", 1), S2("Add", X, 2), S2("Mul", 3, C(1)),
      S2("Sub", 2, X), S2("Div", C(2), 5), S2("GreaterOrEqual", X, C(3)), S3("Where", 7, 4, 6)},
     4,
     {4.0f, 0.5f, 2.0f, 0.0f},
     0},
    /* sparse_sigmoid = clip((x + 1)/2, 0, 1) */
    {"sparse_sigmoid",
     ALL,
     3,
     {S2("Add", X, C(0)), S2("Mul", 0, C(1)), S3("Clip", 1, C(2), C(0))},
     3,
     {1.0f, 0.5f, 0.0f},
     0},
    /* sparse_plus = x <= -1 ? 0 : x >= 1 ? x : (x + 1)^2 / 4, as 0.25 (x + 1) (x + 1) */
    {"sparse_plus",
     ALL,
     7,
     {S2("Add", X, C(0)), S2("Mul", C(1), 0), S2("Mul", 1, 0), S2("Less", X, C(0)),
      S3("Where", 3, 2, X), S2("Greater", X, C(2)), S3("Where", 5, 4, C(3))},
     4,
     {1.0f, 0.25f, -1.0f, 0.0f},
     0},
};
const size_t dn_onnx_pattern_count = sizeof dn_onnx_patterns / sizeof dn_onnx_patterns[0];

const dn_onnx_pattern *dn_onnx_pattern_for(const char *activation, int opset) {
  for (size_t i = 0; i < dn_onnx_pattern_count; i++) {
    const dn_onnx_pattern *p = &dn_onnx_patterns[i];
    if (!p->import_only && strcmp(p->activation, activation) == 0 && opset >= p->min_opset &&
        opset <= p->max_opset)
      return p;
  }
  return NULL;
}
