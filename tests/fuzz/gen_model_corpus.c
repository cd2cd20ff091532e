/* gen_model_corpus.c -- writes the fuzz seed corpus of the model loader: small valid native
 * files covering every section, layer kind, schedule kind and the weights-only kind.
 * Usage: gen_model_corpus DIR   (the files in tests/fuzz/corpus/model/ were made with it).
 */
#include <stdio.h>

#include "densenet.h"

static int save(dn_model *m, const char *dir, const char *name, int weights) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  dn_status st = weights ? dn_model_save_weights(m, path) : dn_model_save(m, path);
  if (st != DN_OK)
    fprintf(stderr, "%s: %s\n", path, dn_last_error());
  return st != DN_OK;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[8] = {1, 0, 0, 1, 1, 0, 0, 1};
  int bad = 0;

  /* Every layer kind, compiled with Adam and trained a step. */
  dn_layer *norm = dn_normalization(.input_dim = 3);
  dn_normalization_adapt(norm, dn_tensor_2d(x, 4, 3));
  dn_model *m = dn_sequential(norm, dn_dense(3, .activation = "relu", .kernel_regularizer = "l2"),
                              dn_batch_normalization(), dn_dropout(0.5), dn_activation("tanh"),
                              dn_dense(2, .no_bias = true));
  dn_compile(m, .optimizer = "adam", .loss = "mse", .metrics = (const char *[]){"mae", NULL});
  dn_train_on_batch(m, dn_tensor_2d(x, 4, 3), dn_tensor_2d(y, 4, 2), NULL);
  bad |= save(m, dir, "all_layers.dnn", 0);
  bad |= save(m, dir, "all_layers.weights", 1);
  dn_model_free(m);

  /* The smallest compiled model, and the same uncompiled and unbuilt. */
  m = dn_sequential(dn_dense(1, .input_dim = 2));
  bad |= save(m, dir, "plain.dnn", 0);
  dn_compile(m, .optimizer = "sgd", .loss = "huber", .huber_delta = 0.5);
  bad |= save(m, dir, "sgd_huber.dnn", 0);
  dn_model_free(m);
  m = dn_sequential(dn_dense(2), dn_dense(1));
  bad |= save(m, dir, "unbuilt.dnn", 0);
  dn_model_free(m);

  /* Schedules. */
  const double bounds[] = {1, 3}, values[] = {0.1, 0.01, 0.001};
  dn_schedule schedules[] = {
      dn_piecewise_constant_decay(.boundaries = bounds, .values = values, .n_boundaries = 2),
      dn_cosine_decay(.initial_learning_rate = 0.1, .decay_steps = 10, .warmup_target = 0.2,
                      .warmup_steps = 2),
      dn_exponential_decay(.initial_learning_rate = 0.1, .decay_steps = 2, .decay_rate = 0.5),
  };
  const char *names[] = {"piecewise.dnn", "cosine.dnn", "exponential.dnn"};
  const char *optimizers[] = {"rmsprop", "nadam", "adagrad"};
  for (int i = 0; i < 3; i++) {
    m = dn_sequential(dn_dense(2, .activation = "softmax", .input_dim = 3));
    dn_compile(m,
               .optimizer_object = dn_optimizer_with((dn_optimizer_options){
                   .name = optimizers[i], .schedule = schedules[i], .clipnorm = 1.0}),
               .loss = "categorical_crossentropy",
               .metrics = (const char *[]){"accuracy", "mse", NULL});
    dn_train_on_batch(m, dn_tensor_2d(x, 4, 3), dn_tensor_2d(y, 4, 2), NULL);
    bad |= save(m, dir, names[i], 0);
    dn_model_free(m);
  }
  return bad;
}
