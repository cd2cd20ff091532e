/* keras_fuzz_models.h -- the small models shared by the Keras fuzzer (fuzz_keras_load.c) and
 * its seed generator (gen_keras_corpus.c): the fuzzer's valid weights images and its fixed
 * targets for dn_keras_load_weights are these models, and the seeds' config.json members
 * describe them, so a seed input loads successfully.
 */
#ifndef DN_KERAS_FUZZ_MODELS_H
#define DN_KERAS_FUZZ_MODELS_H

#include "densenet.h"

#define DN_KFUZZ_N_MODELS 3

/* 0: Dense(4, relu, input 3) Dense(2, tanh) Dense(1), Adam + mae, one step trained.
 * 1: Normalization(3, adapted) Dense(3, relu, l2) BatchNormalization Dropout Activation(tanh)
 *    Dense(2, no bias), RMSprop + mse, one step trained.
 * 2: Dense(2, input 2), not compiled. */
static inline dn_model *dn_kfuzz_model(int which) {
  float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[8] = {1, 0, 0, 1, 1, 0, 0, 1};
  dn_model *m = NULL;
  if (which == 0) {
    m = dn_sequential(dn_dense(4, .activation = "relu", .input_dim = 3),
                      dn_dense(2, .activation = "tanh"), dn_dense(1));
    if (m != NULL && dn_compile(m, .optimizer = "adam", .loss = "mae") == DN_OK)
      dn_train_on_batch(m, dn_tensor_2d(x, 4, 3), dn_tensor_2d(y, 4, 1), NULL);
  } else if (which == 1) {
    dn_layer *norm = dn_normalization(.input_dim = 3);
    if (norm != NULL)
      dn_normalization_adapt(norm, dn_tensor_2d(x, 4, 3));
    m = dn_sequential(norm, dn_dense(3, .activation = "relu", .kernel_regularizer = "l2"),
                      dn_batch_normalization(), dn_dropout(0.5), dn_activation("tanh"),
                      dn_dense(2, .no_bias = true));
    if (m != NULL && dn_compile(m, .optimizer = "rmsprop", .loss = "mse") == DN_OK)
      dn_train_on_batch(m, dn_tensor_2d(x, 4, 3), dn_tensor_2d(y, 4, 2), NULL);
  } else {
    m = dn_sequential(dn_dense(2, .input_dim = 2));
  }
  return m;
}

#endif
