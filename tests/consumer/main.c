/* main.c -- a program outside the project that uses only the installed <densenet.h>: it builds
 * the Keras lesson's network (2 -> Dense(4, relu) -> Dense(3, relu) -> Dense(1)) and checks its
 * parameter count, to prove the installed header, library and build metadata work. */
#include <densenet.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  if (strcmp(dn_version(), DN_VERSION_STRING) != 0) {
    fprintf(stderr, "consumer: library version %s, header version %s\n", dn_version(),
            DN_VERSION_STRING);
    return 1;
  }
  dn_model *model = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 2),
                                  dn_dense(3, .activation = "relu"), dn_dense(1));
  if (model == NULL) {
    fprintf(stderr, "consumer: dn_sequential failed: %s\n", dn_last_error());
    return 1;
  }
  /* (2*4 + 4) + (4*3 + 3) + (3*1 + 1) = 12 + 15 + 4 */
  size_t params = dn_model_count_params(model);
  dn_model_free(model);
  if (params != 31) {
    fprintf(stderr, "consumer: %zu parameters, expected 31\n", params);
    return 1;
  }
  printf("consumer: densenet %s, lesson network has %zu parameters\n", dn_version(), params);
  return 0;
}
