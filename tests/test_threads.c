/* test_threads.c -- threads. (1) The thread count: dn_set_threads / dn_threads, the default
 * (OMP_NUM_THREADS when set, else the CPUs of the process's affinity mask; ctest also runs this
 * file with OMP_NUM_THREADS=3 and, under taskset, on one CPU) and the argument errors. (2) Same
 * seed, same results on any thread count: a fit large enough to thread (packed GEMMs split over
 * threads, the optimizer update and the gradient check split over parameter ranges) ends with
 * bit-identical weights and losses on 1 and 2 threads, and predict gives bit-identical outputs
 * (skipped in builds without OpenMP, where there is only one thread). (3) Models are
 * independent: two models trained at the same time in two threads end bit-identical to the same
 * two trained one after the other. (4) dn_last_error() and dn_last_status() are per thread: two
 * threads failing at the same time each read their own message. */
#define _GNU_SOURCE /* pthread_barrier_t, sched_getaffinity */
#include "dn_test.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>

/* ---- the thread count -------------------------------------------------------------------- */

/* The default count: OMP_NUM_THREADS's first number when set, else the CPUs this process may
 * run on; 1 without OpenMP. */
static int default_threads(void) {
#ifdef _OPENMP
  const char *env = getenv("OMP_NUM_THREADS");
  if (env != NULL && *env != '\0')
    return atoi(env);
  cpu_set_t cpus;
  assert_int_equal(sched_getaffinity(0, sizeof cpus, &cpus), 0);
  return CPU_COUNT(&cpus);
#else
  return 1;
#endif
}

static void test_thread_count(void **state) {
  (void)state;
  int fallback = default_threads();
  print_message("OMP_NUM_THREADS=%s, default: %d thread(s)\n",
                getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "(unset)", fallback);
  assert_int_equal(dn_threads(), fallback); /* nothing set yet */
  assert_ok(dn_set_threads(1));
  assert_int_equal(dn_threads(), 1);
  assert_ok(dn_set_threads(2));
#ifdef _OPENMP
  assert_int_equal(dn_threads(), 2);
  assert_ok(dn_set_threads(5)); /* more than the cores: asked for, given */
  assert_int_equal(dn_threads(), 5);
#else
  assert_int_equal(dn_threads(), 1); /* a serial build: the request is kept, one thread runs */
#endif
  assert_status_msg(dn_set_threads(-1), DN_ERR_ARG, "dn_set_threads: n must be 0");
  assert_non_null(strstr(dn_last_error(), "got -1"));
  assert_status_msg(dn_set_threads(DN_MAX_THREADS + 1), DN_ERR_ARG, "dn_set_threads");
#ifdef _OPENMP
  assert_int_equal(dn_threads(), 5); /* failed calls change nothing */
#endif
  assert_ok(dn_set_threads(0));
  assert_int_equal(dn_threads(), fallback);
}

/* ---- 1 vs 2 threads ---------------------------------------------------------------------- */

enum { IN = 8, ROWS = 512, BATCH = 256, EPOCHS = 3 };
static float X[ROWS * IN], Y[ROWS];

static void fill(void) {
  for (size_t i = 0; i < ROWS * IN; i++)
    X[i] = (float)((i * 7919) % 1000) / 1000.0f;
  for (size_t s = 0; s < ROWS; s++)
    Y[s] = X[s * IN] * 2.0f - X[s * IN + 1] + X[s * IN + 2] * X[s * IN + 3];
}

/* A W2-shaped net: 256 x 512 x 512 products (above the threading threshold) and 267,777
 * parameters (above the optimizer's split threshold). */
static dn_model *w2_net(void) {
  dn_model *m = dn_sequential(dn_dense(512, .activation = "relu", .input_dim = IN),
                              dn_dense(512, .activation = "relu"), dn_dense(1));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, 7));
  return m;
}

static float *train(int threads, const char *optimizer, double *first, double *last,
                    size_t *n_params) {
  assert_ok(dn_set_threads(threads));
  assert_int_equal(dn_threads(), threads);
  dn_model *m = w2_net();
  assert_ok(dn_compile(m, .optimizer = optimizer, .loss = "mae"));
  dn_history *h =
      dn_fit(m, dn_tensor_2d(X, ROWS, IN), dn_tensor_2d(Y, ROWS, 1), .batch_size = BATCH,
             .epochs = EPOCHS, .seed = 11, .verbose = DN_VERBOSE_SILENT);
  assert_non_null(h);
  const double *loss = dn_history_values(h, "loss");
  assert_non_null(loss);
  *first = loss[0];
  *last = loss[EPOCHS - 1];
  dn_history_free(h);
  *n_params = dn_model_count_params(m);
  float *w = malloc(*n_params * sizeof *w);
  assert_non_null(w);
  assert_ok(dn_model_get_weights(m, w, *n_params));
  dn_model_free(m);
  return w;
}

/* A serial build has one thread: nothing to compare. */
static bool threaded_build(void) {
  assert_ok(dn_set_threads(2));
  bool two = dn_threads() == 2;
  assert_ok(dn_set_threads(0));
  if (!two)
    print_message("built without OpenMP: one thread only, nothing to compare\n");
  return two;
}

static void same_on_1_and_2_threads(const char *optimizer) {
  if (!threaded_build()) {
    skip();
    return;
  }
  fill();
  double first1, last1, first2, last2;
  size_t n1, n2;
  float *w1 = train(1, optimizer, &first1, &last1, &n1);
  float *w2 = train(2, optimizer, &first2, &last2, &n2);
  assert_ok(dn_set_threads(0));
  assert_int_equal(n1, n2);
  assert_true(last1 < first1); /* it trained */
  assert_true(first1 == first2 && last1 == last2);
  assert_memory_equal(w1, w2, n1 * sizeof *w1);
  free(w1);
  free(w2);
}

static void test_adam(void **state) {
  (void)state;
  same_on_1_and_2_threads("adam");
}

static void test_nadam(void **state) {
  (void)state;
  same_on_1_and_2_threads("nadam"); /* its per-step product is computed once, not per thread */
}

/* Predict on the W2 net: batches of 32 (32 x 512 x 512, threaded by columns) and of all 512 rows
 * (the packed team), on 1 and 2 threads: the same bits. */
static void test_predict(void **state) {
  (void)state;
  if (!threaded_build()) {
    skip();
    return;
  }
  fill();
  dn_model *m = w2_net();
  static float out[2][2][ROWS];
  for (int t = 0; t < 2; t++) {
    assert_ok(dn_set_threads(t + 1));
    assert_ok(dn_predict(m, dn_tensor_2d(X, ROWS, IN), dn_tensor_2d(out[t][0], ROWS, 1)));
    assert_ok(dn_model_predict(m, dn_tensor_2d(X, ROWS, IN), dn_tensor_2d(out[t][1], ROWS, 1),
                               .batch_size = ROWS, .verbose = DN_VERBOSE_SILENT));
  }
  assert_ok(dn_set_threads(0));
  assert_true(out[0][0][0] != out[0][0][1]); /* real outputs */
  assert_memory_equal(out[0][0], out[1][0], sizeof out[0][0]);
  assert_memory_equal(out[0][1], out[1][1], sizeof out[0][1]);
  dn_model_free(m);
}

/* ---- two models in two threads ----------------------------------------------------------- */

enum { JOB_ROWS = 96, JOB_MAX_PARAMS = 1024 };

/* One training job: its own model kind, data, optimizer and seed. */
typedef struct job {
  int kind; /* 0: regression (adam, mse, dropout); 1: 3 classes (sgd, sparse cce, batch norm) */
  float x[JOB_ROWS * 6];
  float y[JOB_ROWS];
  float w[JOB_MAX_PARAMS]; /* the weights it ends with */
  size_t n;
  double loss[4];
  dn_status status;
  char error[256];
  pthread_barrier_t *start; /* NULL: run alone */
} job;

static void job_data(job *j, int kind) {
  memset(j, 0, sizeof *j);
  j->kind = kind;
  for (size_t i = 0; i < JOB_ROWS * 6; i++)
    j->x[i] = (float)((i * 2654435761u + (unsigned)kind * 977u) % 1000u) / 500.0f - 1.0f;
  for (size_t r = 0; r < JOB_ROWS; r++)
    j->y[r] = kind == 0 ? j->x[6 * r] - 2.0f * j->x[6 * r + 3] : (float)(r % 3);
}

static dn_model *job_model(int kind) {
  if (kind == 0)
    return dn_sequential(dn_dense(24, .activation = "relu", .input_dim = 6), dn_dropout(0.2),
                         dn_dense(1));
  return dn_sequential(dn_dense(16, .activation = "tanh", .input_dim = 6), dn_batch_normalization(),
                       dn_dense(3, .activation = "softmax"));
}

/* Trains the job's model (4 epochs, shuffled, batches of 8); records the losses and weights. */
static void *run_job(void *arg) {
  job *j = arg;
  dn_model *m = job_model(j->kind);
  if (m == NULL) {
    j->status = dn_last_status();
    return NULL;
  }
  j->status = dn_model_set_seed(m, 100 + (uint64_t)j->kind);
  if (j->status == DN_OK)
    j->status = j->kind == 0 ? dn_compile(m, .optimizer = "adam", .loss = "mse")
                             : dn_compile(m, .optimizer_object = dn_sgd(.momentum = 0.9),
                                          .loss = "sparse_categorical_crossentropy");
  if (j->start != NULL)
    pthread_barrier_wait(j->start); /* both threads train at the same time */
  dn_history *h = NULL;
  if (j->status == DN_OK)
    h = dn_fit(m, dn_tensor_2d(j->x, JOB_ROWS, 6), dn_tensor_2d(j->y, JOB_ROWS, 1), .epochs = 4,
               .batch_size = 8, .validation_split = 0.25, .verbose = DN_VERBOSE_SILENT);
  if (h == NULL) {
    if (j->status == DN_OK)
      j->status = dn_last_status();
    snprintf(j->error, sizeof j->error, "%s", dn_last_error());
  } else {
    memcpy(j->loss, dn_history_values(h, "loss"), sizeof j->loss);
    dn_history_free(h);
    j->n = dn_model_count_params(m);
    if (j->n > JOB_MAX_PARAMS)
      j->status = DN_ERR_SHAPE;
    else
      j->status = dn_model_get_weights(m, j->w, j->n);
  }
  dn_model_free(m);
  return NULL;
}

static void test_two_models_at_once(void **state) {
  (void)state;
  static job alone[2], together[2];
  /* one after the other */
  for (int k = 0; k < 2; k++) {
    job_data(&alone[k], k);
    run_job(&alone[k]);
    if (alone[k].status != DN_OK)
      fail_msg("job %d alone: %s", k, alone[k].error);
  }
  /* at the same time, twice (a second round catches state left from the first) */
  for (int round = 0; round < 2; round++) {
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    pthread_t threads[2];
    for (int k = 0; k < 2; k++) {
      job_data(&together[k], k);
      together[k].start = &start;
      assert_int_equal(pthread_create(&threads[k], NULL, run_job, &together[k]), 0);
    }
    for (int k = 0; k < 2; k++)
      assert_int_equal(pthread_join(threads[k], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int k = 0; k < 2; k++) {
      if (together[k].status != DN_OK)
        fail_msg("job %d in a thread: %s", k, together[k].error);
      assert_int_equal(together[k].n, alone[k].n);
      assert_true(alone[k].loss[3] < alone[k].loss[0]); /* it trained */
      assert_memory_equal(together[k].loss, alone[k].loss, sizeof alone[k].loss);
      assert_memory_equal(together[k].w, alone[k].w, alone[k].n * sizeof(float));
    }
  }
  assert_int_equal(alone[0].n, 6 * 24 + 24 + 24 + 1);
  assert_int_equal(alone[1].n, 6 * 16 + 16 + 4 * 16 + 16 * 3 + 3);
}

/* ---- the last error is per thread -------------------------------------------------------- */

typedef struct failer {
  int which;
  pthread_barrier_t *failed, *checked;
  dn_status status;
  char message[512];
} failer;

static void *fail_in_thread(void *arg) {
  failer *f = arg;
  const float x[12] = {0};
  if (f->which == 0) {
    /* a shape error from a data call */
    dn_model *m = dn_sequential(dn_dense(2, .input_dim = 4));
    if (m != NULL) {
      dn_predict(m, dn_tensor_2d(x, 4, 3), dn_tensor_2d(x, 4, 2));
      dn_model_free(m); /* a success: leaves the error alone */
    }
  } else {
    dn_dense(0); /* an argument error from a constructor */
  }
  pthread_barrier_wait(f->failed); /* both threads have failed before either reads */
  f->status = dn_last_status();
  snprintf(f->message, sizeof f->message, "%s", dn_last_error());
  pthread_barrier_wait(f->checked);
  /* read again after the other thread has read: still its own */
  if (dn_last_status() != f->status || strcmp(dn_last_error(), f->message) != 0)
    f->status = (dn_status)-1;
  return NULL;
}

static void *fresh_thread_status(void *arg) {
  failer *f = arg;
  f->status = dn_last_status();
  snprintf(f->message, sizeof f->message, "%s", dn_last_error());
  return NULL;
}

static void test_last_error_per_thread(void **state) {
  (void)state;
  /* this thread's error, set before and read after */
  assert_null(dn_sequential_with(0, NULL));
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  char mine[512];
  snprintf(mine, sizeof mine, "%s", dn_last_error());
  assert_non_null(strstr(mine, "dn_sequential"));

  pthread_barrier_t failed, checked;
  assert_int_equal(pthread_barrier_init(&failed, NULL, 2), 0);
  assert_int_equal(pthread_barrier_init(&checked, NULL, 2), 0);
  failer f[2] = {{.which = 0, .failed = &failed, .checked = &checked},
                 {.which = 1, .failed = &failed, .checked = &checked}};
  pthread_t threads[2];
  for (int k = 0; k < 2; k++)
    assert_int_equal(pthread_create(&threads[k], NULL, fail_in_thread, &f[k]), 0);
  for (int k = 0; k < 2; k++)
    assert_int_equal(pthread_join(threads[k], NULL), 0);
  pthread_barrier_destroy(&failed);
  pthread_barrier_destroy(&checked);

  assert_int_equal(f[0].status, DN_ERR_SHAPE);
  assert_non_null(strstr(f[0].message, "dn_predict: x has 3 columns but the model's input width "
                                       "is 4"));
  assert_int_equal(f[1].status, DN_ERR_ARG);
  assert_non_null(strstr(f[1].message, "dn_dense"));
  assert_null(strstr(f[1].message, "dn_predict"));
  /* this thread's error is untouched by the others' */
  assert_int_equal(dn_last_status(), DN_ERR_ARG);
  assert_string_equal(dn_last_error(), mine);

  /* a new thread starts clean */
  failer fresh = {0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fresh_thread_status, &fresh), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(fresh.status, DN_OK);
  assert_string_equal(fresh.message, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thread_count),
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_nadam),
      cmocka_unit_test(test_predict),
      cmocka_unit_test(test_two_models_at_once),
      cmocka_unit_test(test_last_error_per_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
