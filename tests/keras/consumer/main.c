/* main.c -- a consumer of the installed libdensenet_keras: save a small model as .keras, load
 * it back, and check the predictions agree. Exit 0 on success. */
#include <stdio.h>
#include <string.h>

#include "densenet_keras.h"

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "consumer.keras";
  dn_model *m = dn_sequential(dn_dense(3, .activation = "relu", .input_dim = 2), dn_dense(1));
  if (m == NULL || dn_keras_save(m, path) != DN_OK) {
    fprintf(stderr, "save: %s\n", dn_last_error());
    return 1;
  }
  dn_model *r = dn_keras_load(path);
  if (r == NULL) {
    fprintf(stderr, "load: %s\n", dn_last_error());
    return 1;
  }
  const float x[4] = {0.5f, -1.0f, 2.0f, 0.25f};
  float a[2], b[2];
  dn_tensor xt = dn_tensor_2d(x, 2, 2);
  int ok = dn_predict(m, xt, dn_tensor_2d(a, 2, 1)) == DN_OK &&
           dn_predict(r, xt, dn_tensor_2d(b, 2, 1)) == DN_OK && memcmp(a, b, sizeof a) == 0;
  dn_model_free(m);
  dn_model_free(r);
  printf("keras consumer: %s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
