/* main.c -- a program outside the project that uses only the installed <densenet.h>: it builds
 * the Keras lesson's network (2 -> Dense(4, relu) -> Dense(3, relu) -> Dense(1)), sets known
 * weights, checks the outputs of a batch against values worked out by hand, and checks that
 * the backward pass matches central finite differences computed here, in double. */
#include <densenet.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Known weights in Keras get_weights() order: kernel (in x out, row-major), then bias. */
/* clang-format off */
static const float weights[31] = {
    1, -1, 0.5f, 2, -2, 1, 0.5f, -1,          /* kernel 2x4 */
    0, 0.5f, -1, 1,                           /* bias 4 */
    1, 0, -1, 0.5f, 1, 0, -1, 2, 1, 0, 0, 1,  /* kernel 4x3 */
    0.25f, -0.5f, 0.25f,                      /* bias 3 */
    2, -1, 0.5f,                              /* kernel 3x1 */
    0.1f};                                    /* bias 1 */
/* clang-format on */

/* The same network in double, for finite differences of L = sum(y * dy). */
static double loss(const double *w, const double *x, const double *dy, int rows) {
  double total = 0;
  for (int r = 0; r < rows; r++) {
    double h1[4], h2[3], y = w[30];
    for (int o = 0; o < 4; o++) {
      double z = w[8 + o] + x[2 * r] * w[o] + x[2 * r + 1] * w[4 + o];
      h1[o] = z > 0 ? z : 0;
    }
    for (int o = 0; o < 3; o++) {
      double z = w[24 + o];
      for (int i = 0; i < 4; i++)
        z += h1[i] * w[12 + i * 3 + o];
      h2[o] = z > 0 ? z : 0;
    }
    for (int i = 0; i < 3; i++)
      y += h2[i] * w[27 + i];
    total += y * dy[r];
  }
  return total;
}

int main(void) {
  if (strcmp(dn_version(), DN_VERSION_STRING) != 0) {
    fprintf(stderr, "consumer: library version %s, header version %s\n", dn_version(),
            DN_VERSION_STRING);
    return 1;
  }
  dn_model *model = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                                  dn_dense(3, .activation = "relu"), dn_dense(1));
  if (model == NULL || dn_model_count_params(model) != 31 ||
      dn_model_set_weights(model, weights, 31) != DN_OK) {
    fprintf(stderr, "consumer: building the lesson network failed: %s\n", dn_last_error());
    dn_model_free(model);
    return 1;
  }
  /* Row (1, 2): z1 = [-3, 1.5, 0.5, 1] -> relu [0, 1.5, 0.5, 1]; z2 = [0.5, 2, 1.75];
   *   y = 2*0.5 - 2 + 0.5*1.75 + 0.1 = -0.025.
   * Row (-1, 0.5): z1 = [-2, 2, -1, -1.5] -> [0, 2, 0, 0]; z2 = [1.25, 1.5, 0.25];
   *   y = 2.5 - 1.5 + 0.125 + 0.1 = 1.225. No pre-activation sits on ReLU's kink at 0,
   *   so central differences see the same derivative as the backward pass. */
  const float x[4] = {1, 2, -1, 0.5f}, dy[2] = {1, -2};
  float y[2], grads[31];
  int bad = 0;
  if (dn_model_forward(model, dn_tensor_2d(x, 2, 2), true, dn_tensor_2d(y, 2, 1)) != DN_OK ||
      dn_model_backward(model, dn_tensor_2d(dy, 2, 1)) != DN_OK ||
      dn_model_get_gradients(model, grads, 31) != DN_OK) {
    fprintf(stderr, "consumer: passes failed: %s\n", dn_last_error());
    dn_model_free(model);
    return 1;
  }
  if (fabs(y[0] - -0.025) > 1e-6 || fabs(y[1] - 1.225) > 1e-6) {
    fprintf(stderr, "consumer: outputs %.7f %.7f, expected -0.025 1.225\n", y[0], y[1]);
    bad = 1;
  }
  double w[31], xd[4] = {1, 2, -1, 0.5}, dyd[2] = {1, -2}, h = 1e-6;
  for (int k = 0; k < 31; k++)
    w[k] = weights[k];
  for (int k = 0; k < 31; k++) {
    double keep = w[k];
    w[k] = keep + h;
    double hi = loss(w, xd, dyd, 2);
    w[k] = keep - h;
    double lo = loss(w, xd, dyd, 2);
    w[k] = keep;
    double numeric = (hi - lo) / (2 * h);
    if (fabs(grads[k] - numeric) > 1e-5 + 1e-5 * fabs(numeric)) {
      fprintf(stderr, "consumer: dL/dw[%d] = %.7f, finite differences %.7f\n", k, grads[k],
              numeric);
      bad = 1;
    }
  }
  dn_model_free(model);
  if (!bad)
    printf("consumer: densenet %s, lesson network: outputs and 31 gradients check out\n",
           dn_version());
  return bad;
}
