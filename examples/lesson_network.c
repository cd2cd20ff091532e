/* lesson_network.c -- the Keras lesson's network in C: build it, print its summary, and run
 * one forward and backward pass by hand.
 *
 *   model = keras.Sequential([
 *       layers.Dense(4, activation='relu', input_shape=[2]),
 *       layers.Dense(3, activation='relu'),
 *       layers.Dense(1),
 *   ])
 */
#include <densenet.h>
#include <stdio.h>

int main(void) {
  /* Two hidden ReLU layers, then a linear output unit. */
  dn_model *model = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                                  dn_dense(3, .activation = "relu"), dn_dense(1));
  if (model == NULL) {
    fprintf(stderr, "lesson_network: %s\n", dn_last_error());
    return 1;
  }
  dn_model_summary(model, stdout);

  /* A batch of three rows with two features each. */
  const float x_data[3 * 2] = {0.5f, -1.0f, 1.5f, 0.25f, -0.75f, 2.0f};
  float y_data[3];
  dn_tensor x = dn_tensor_2d(x_data, 3, 2), y = dn_tensor_2d(y_data, 3, 1);
  if (dn_model_forward(model, x, true, y) != DN_OK) {
    fprintf(stderr, "forward: %s\n", dn_last_error());
    dn_model_free(model);
    return 1;
  }
  printf("\nforward:  y = [%.6f, %.6f, %.6f]\n", y_data[0], y_data[1], y_data[2]);

  /* Backward from dL/dy for L = sum(y): every upstream gradient is 1. */
  const float dy_data[3] = {1.0f, 1.0f, 1.0f};
  dn_tensor dy = dn_tensor_2d(dy_data, 3, 1);
  float grads[31];
  if (dn_model_backward(model, dy) != DN_OK || dn_model_get_gradients(model, grads, 31) != DN_OK) {
    fprintf(stderr, "backward: %s\n", dn_last_error());
    dn_model_free(model);
    return 1;
  }
  printf("backward: dL/db of the output unit = %.6f (one per row: 3)\n", grads[30]);

  /* The library's own check: backward pass against central finite differences. */
  dn_gradient_check_report report;
  if (dn_model_gradient_check(model, x, dy, &report) == DN_OK)
    printf("gradient check: %zu entries, largest relative error %.2e\n", report.checked,
           report.max_rel_error);
  dn_model_free(model);
  return 0;
}
