/* test_mpi.c -- dn_mpi_fit under mpirun (tests/mpi/CMakeLists.txt runs each case with 2 and 3
 * ranks). Every rank checks; a rank that finds a fault prints it and the program exits 1.
 *
 *   same    identical weights (BatchNormalization's moving statistics included) and histories
 *           on all ranks after a shuffled fit with Dropout and validation_split; a second fit
 *           from the same seed gives the same bits (run-to-run identity)
 *   single  a fit over R ranks equals one process's dn_fit on the same global batches:
 *           |w_mpi - w_one| <= 1e-4 * (1 + |w_one|) after 6 epochs (float32 rounding: the
 *           n_r / N scaling and the ring's sums round differently from one mean); also val_loss
 *   early   EarlyStopping and a stop asked on one rank only end every rank at the same epoch
 *   nan     a NaN in the last rank's rows: every rank gets NULL and DN_ERR_NUMERIC, and all
 *           ranks still hold the same weights
 *   resume  4 epochs straight == 2 epochs, rank 0's ModelCheckpoint file loaded by every rank,
 *           then epochs 3-4 (bit for bit)
 *   frozen  the BatchNormalization model with its first Dense frozen: that layer's weights are
 *           bit-identical after the fit, and all ranks hold the same weights
 *   source  dn_mpi_fit_source with each rank's source giving its shard in order (and a
 *           validation source): weights and history bit-identical to dn_mpi_fit on the same
 *           arrays (no_shuffle), and the same on all ranks
 *   source_fail  rank 1's source fails at epoch 2, batch 3: every rank gets NULL, that status
 *           and the same message (the others with " (on rank 1 of R)" appended), and all
 *           ranks still hold the same weights
 *   source_uneven  rank 1's source is shorter: every rank runs the same steps per epoch (the
 *           longest rank's), rank 1's source is not asked again after it ended, and the
 *           weights equal dn_mpi_fit's on the same uneven shards; with the steps known too
 */
#include <densenet_mpi.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, faults;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "rank %d: %s:%d: %s: ", rank, __FILE__, __LINE__, #cond);                    \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, " (%s)\n", dn_last_error());                                                 \
      faults++;                                                                                    \
    }                                                                                              \
  } while (0)

#define COLS 3
#define ROWS 100 /* the global data set */
#define BATCH 16

/* Row r of a fixed regression data set. */
static void make_row(size_t r, float *x, float *y) {
  for (size_t j = 0; j < COLS; j++)
    x[j] = (float)sin(0.37 * (double)(r * COLS + j) + 0.1 * (double)j);
  *y = 0.8f * x[0] - 0.5f * x[1] * x[2] + 0.3f;
}

/* This rank's shard so that step k of the distributed fit trains on the rows k*B .. k*B+B-1 of
 * the global data (dn_mpi_fit's mapping: rank r takes b_r rows of each global batch). */
static size_t make_shard(float *x, float *y) {
  size_t n = 0;
  for (size_t k = 0; k * BATCH < ROWS; k++) {
    size_t off = 0;
    for (int q = 0; q < rank; q++)
      off += BATCH / (size_t)size + ((size_t)q < BATCH % (size_t)size ? 1 : 0);
    size_t b = BATCH / (size_t)size + ((size_t)rank < BATCH % (size_t)size ? 1 : 0);
    for (size_t i = 0; i < b && k * BATCH + off + i < ROWS; i++, n++)
      make_row(k * BATCH + off + i, x + n * COLS, y + n);
  }
  return n;
}

static dn_model *dense_model(void) {
  dn_model *m = dn_sequential(dn_dense(8, .activation = "relu", .input_dim = COLS),
                              dn_dense(4, .activation = "tanh"), dn_dense(1));
  dn_model_set_seed(m, 7);
  dn_compile(m, .optimizer_object = dn_adam(.learning_rate = 0.01), .loss = "mse",
             .metrics = (const char *[]){"mae", NULL});
  return m;
}

static dn_model *bn_model(void) {
  dn_model *m =
      dn_sequential(dn_dense(8, .activation = "relu", .input_dim = COLS),
                    dn_batch_normalization(.momentum = 0.9), dn_dropout(0.25), dn_dense(1));
  dn_model_set_seed(m, 11);
  dn_compile(m, .optimizer = "adam", .loss = "mse", .metrics = (const char *[]){"mae", NULL});
  return m;
}

static float *weights(const dn_model *m, size_t *n) {
  *n = dn_model_count_params(m);
  float *w = malloc(*n * sizeof *w);
  dn_model_get_weights(m, w, *n);
  return w;
}

/* Every rank's weights equal rank 0's, bit for bit. */
static void check_same_on_all(const dn_model *m, const char *what) {
  size_t n;
  float *w = weights(m, &n), *w0 = malloc(n * sizeof *w0);
  memcpy(w0, w, n * sizeof *w);
  MPI_Bcast(w0, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
  CHECK(memcmp(w, w0, n * sizeof *w) == 0, "%s: weights differ from rank 0's", what);
  free(w);
  free(w0);
}

/* After a failed fit: the same weights on all ranks, and the communicator still works. */
static void check_after_failure(const dn_model *m, const char *what) {
  check_same_on_all(m, what);
  int one = 1, sum = 0;
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(sum == size, "%s: allreduce gave %d", what, sum);
}

static void case_same(void) {
  float x[ROWS * COLS], y[ROWS];
  size_t n = make_shard(x, y);
  float *first = NULL;
  size_t np = 0;
  for (int run = 0; run < 2; run++) {
    dn_model *m = bn_model();
    dn_history *h =
        dn_mpi_fit(MPI_COMM_WORLD, m, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1), .epochs = 4,
                   .batch_size = BATCH, .validation_split = 0.25, .verbose = DN_VERBOSE_SILENT);
    CHECK(h != NULL, "fit failed");
    if (h == NULL) {
      dn_model_free(m);
      return;
    }
    check_same_on_all(m, "after fit");
    double last[2] = {dn_history_values(h, "loss")[3], dn_history_values(h, "val_mae")[3]};
    double last0[2] = {last[0], last[1]};
    MPI_Bcast(last0, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    CHECK(last[0] == last0[0] && last[1] == last0[1], "history differs from rank 0's");
    CHECK(isfinite(last[0]) && isfinite(last[1]), "loss %g val_mae %g", last[0], last[1]);
    size_t k;
    float *w = weights(m, &k);
    if (run == 0) {
      first = w;
      np = k;
    } else {
      CHECK(k == np && memcmp(first, w, k * sizeof *w) == 0, "second run differs from the first");
      free(w);
    }
    dn_history_free(h);
    dn_model_free(m);
  }
  free(first);
}

static void case_single(void) {
  float x[ROWS * COLS], y[ROWS], gx[ROWS * COLS], gy[ROWS], vx[20 * COLS], vy[20];
  size_t n = make_shard(x, y);
  for (size_t r = 0; r < ROWS; r++)
    make_row(r, gx + r * COLS, gy + r);
  /* validation rows ROWS.. ROWS+19, split across ranks in blocks */
  float own_vx[20 * COLS], own_vy[20];
  size_t nv = 0;
  for (size_t r = 0; r < 20; r++) {
    make_row(ROWS + r, vx + r * COLS, vy + r);
    if ((int)(r % (size_t)size) == rank) {
      memcpy(own_vx + nv * COLS, vx + r * COLS, COLS * sizeof *vx);
      own_vy[nv++] = vy[r];
    }
  }
  dn_model *dist = dense_model(), *one = dense_model();
  dn_history *hd = dn_mpi_fit(
      MPI_COMM_WORLD, dist, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1), .epochs = 6,
      .batch_size = BATCH, .no_shuffle = true, .validation_x = dn_tensor_2d(own_vx, nv, COLS),
      .validation_y = dn_tensor_2d(own_vy, nv, 1), .verbose = DN_VERBOSE_SILENT);
  dn_history *h1 =
      dn_fit(one, dn_tensor_2d(gx, ROWS, COLS), dn_tensor_2d(gy, ROWS, 1), .epochs = 6,
             .batch_size = BATCH, .no_shuffle = true, .validation_x = dn_tensor_2d(vx, 20, COLS),
             .validation_y = dn_tensor_2d(vy, 20, 1), .verbose = DN_VERBOSE_SILENT);
  CHECK(hd != NULL && h1 != NULL, "fit failed");
  if (hd != NULL && h1 != NULL) {
    size_t k;
    float *wd = weights(dist, &k), *w1 = weights(one, &k);
    double worst = 0.0;
    for (size_t i = 0; i < k; i++) {
      double excess = fabs((double)wd[i] - w1[i]) / (1.0 + fabs((double)w1[i]));
      worst = excess > worst ? excess : worst;
    }
    CHECK(worst <= 1e-4, "weights differ from one process's by %g relative", worst);
    for (int e = 0; e < 6; e++) {
      double a = dn_history_values(hd, "val_loss")[e], b = dn_history_values(h1, "val_loss")[e];
      double c = dn_history_values(hd, "loss")[e], d = dn_history_values(h1, "loss")[e];
      CHECK(fabs(a - b) <= 1e-4 * (1 + fabs(b)), "epoch %d val_loss %.9g vs %.9g", e, a, b);
      CHECK(fabs(c - d) <= 1e-4 * (1 + fabs(d)), "epoch %d loss %.9g vs %.9g", e, c, d);
    }
    if (rank == 0)
      printf("largest relative weight difference to one process: %.3g\n", worst);
    free(wd);
    free(w1);
  }
  check_same_on_all(dist, "single");
  dn_history_free(hd);
  dn_history_free(h1);
  dn_model_free(dist);
  dn_model_free(one);
}

static void stop_on_rank1(dn_model *model, size_t epoch, const dn_logs *logs, void *user) {
  (void)logs;
  (void)user;
  if (rank == 1 && epoch == 2)
    dn_model_stop_training(model);
}

static void case_early(void) {
  float x[ROWS * COLS], y[ROWS];
  size_t n = make_shard(x, y);
  /* EarlyStopping that sees no improvement (min_delta huge): stops after patience + 1 */
  dn_model *m = dense_model();
  dn_callback *cbs[] = {dn_early_stopping(.monitor = "val_loss", .patience = 2, .min_delta = 1e9),
                        NULL};
  dn_history *h = dn_mpi_fit(MPI_COMM_WORLD, m, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1),
                             .epochs = 20, .batch_size = BATCH, .validation_split = 0.2,
                             .callbacks = cbs, .verbose = DN_VERBOSE_SILENT);
  CHECK(h != NULL, "fit failed");
  long len = h ? (long)dn_history_length(h) : -1, len0 = len;
  MPI_Bcast(&len0, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  CHECK(len == 3 && len0 == 3, "stopped after %ld epochs (rank 0: %ld), not 3", len, len0);
  check_same_on_all(m, "early");
  dn_history_free(h);
  dn_model_free(m);
  /* A stop asked on rank 1 only, at the end of epoch 3: everyone ends there. */
  m = dense_model();
  dn_callback *one[] = {dn_lambda_callback(.on_epoch_end = stop_on_rank1), NULL};
  h = dn_mpi_fit(MPI_COMM_WORLD, m, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1), .epochs = 20,
                 .batch_size = BATCH, .callbacks = one, .verbose = DN_VERBOSE_SILENT);
  len = h ? (long)dn_history_length(h) : -1;
  CHECK(len == 3, "a stop on rank 1 at epoch 3 ended this rank after %ld epochs", len);
  check_same_on_all(m, "stop on one rank");
  dn_history_free(h);
  dn_model_free(m);
}

static void case_nan(void) {
  float x[ROWS * COLS], y[ROWS];
  size_t n = make_shard(x, y);
  if (rank == size - 1)
    x[(n - 1) * COLS + 1] = NAN; /* its last row: a step in the last batch fails */
  dn_model *m = dense_model();
  dn_history *h =
      dn_mpi_fit(MPI_COMM_WORLD, m, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1), .epochs = 3,
                 .batch_size = BATCH, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT);
  CHECK(h == NULL, "fit returned a history");
  CHECK(dn_last_status() == DN_ERR_NUMERIC, "status %s, not DN_ERR_NUMERIC",
        dn_status_string(dn_last_status()));
  check_after_failure(m, "after the failure");
  dn_history_free(h);
  dn_model_free(m);
}

static void case_resume(void) {
  float x[ROWS * COLS], y[ROWS];
  size_t n = make_shard(x, y);
  dn_tensor tx = dn_tensor_2d(x, n, COLS), ty = dn_tensor_2d(y, n, 1);
  dn_model *straight = bn_model();
  dn_history *h = dn_mpi_fit(MPI_COMM_WORLD, straight, tx, ty, .epochs = 4, .batch_size = BATCH,
                             .verbose = DN_VERBOSE_SILENT);
  CHECK(h != NULL, "straight fit failed");
  dn_history_free(h);
  char path[64];
  snprintf(path, sizeof path, "resume_np%d.dnn", size);
  if (rank == 0)
    remove(path);
  MPI_Barrier(MPI_COMM_WORLD);
  dn_model *part = bn_model();
  dn_callback *cbs[] = {dn_model_checkpoint(path, .monitor = "loss"), NULL};
  h = dn_mpi_fit(MPI_COMM_WORLD, part, tx, ty, .epochs = 2, .batch_size = BATCH, .callbacks = cbs,
                 .verbose = DN_VERBOSE_SILENT);
  CHECK(h != NULL, "first part failed");
  dn_history_free(h);
  dn_model_free(part);
  MPI_Barrier(MPI_COMM_WORLD); /* rank 0 has written the file */
  dn_model *resumed = dn_model_load(path);
  CHECK(resumed != NULL, "loading %s", path);
  if (resumed == NULL) {
    dn_model_free(straight);
    return;
  }
  h = dn_mpi_fit(MPI_COMM_WORLD, resumed, tx, ty, .epochs = 4, .initial_epoch = 2,
                 .batch_size = BATCH, .verbose = DN_VERBOSE_SILENT);
  CHECK(h != NULL, "resumed fit failed");
  size_t k;
  float *a = weights(straight, &k), *b = weights(resumed, &k);
  CHECK(memcmp(a, b, k * sizeof *a) == 0, "resumed weights differ from the straight run's");
  check_same_on_all(resumed, "resumed");
  free(a);
  free(b);
  dn_history_free(h);
  dn_model_free(straight);
  dn_model_free(resumed);
}

static void case_frozen(void) {
  float x[ROWS * COLS], y[ROWS];
  size_t n = make_shard(x, y), np;
  dn_model *m = bn_model();
  dn_layer_set_trainable(dn_model_layer(m, 0), false);
  dn_compile(m, .optimizer = "adam", .loss = "mse"); /* the freeze takes effect at compile */
  float *before = weights(m, &np);
  dn_history *h = dn_mpi_fit(MPI_COMM_WORLD, m, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1),
                             .epochs = 3, .batch_size = BATCH, .verbose = DN_VERBOSE_SILENT);
  CHECK(h != NULL, "fit failed");
  float *after = weights(m, &np);
  size_t frozen = COLS * 8 + 8; /* the first Dense's kernel and bias */
  CHECK(memcmp(before, after, frozen * sizeof *after) == 0, "the frozen layer changed");
  CHECK(memcmp(before + frozen, after + frozen, (np - frozen) * sizeof *after) != 0,
        "nothing else trained");
  check_same_on_all(m, "frozen");
  free(before);
  free(after);
  dn_history_free(h);
  dn_model_free(m);
}

/* A source over rows of arrays, in order; fails (DN_ERR_IO) at fail_epoch / fail_batch
 * (1-based epoch, 0-based batch) if set. */
typedef struct rows_state {
  const float *x, *y;
  size_t n, pos, pass, batch, nexts; /* pass: 1-based, counted by reset; nexts: calls */
  size_t fail_epoch, fail_batch;
} rows_state;

static dn_status rows_next(void *state, dn_tensor x, dn_tensor y, size_t *rows) {
  rows_state *s = state;
  s->nexts++;
  if (s->pass == s->fail_epoch && s->batch == s->fail_batch)
    return DN_ERR_IO;
  size_t cap = dn_tensor_rows(x), k = s->n - s->pos < cap ? s->n - s->pos : cap;
  memcpy(x.data, s->x + s->pos * COLS, k * COLS * sizeof(float));
  memcpy(y.data, s->y + s->pos, k * sizeof(float));
  s->pos += k;
  s->batch++;
  *rows = k;
  return DN_OK;
}

static dn_status rows_reset(void *state) {
  rows_state *s = state;
  s->pos = s->batch = 0;
  s->pass++;
  return DN_OK;
}

static dn_source *rows_source(rows_state *s, size_t steps) {
  s->pass = 1;
  return dn_source(rows_next, .state = s, .x_cols = COLS, .y_cols = 1, .reset = rows_reset,
                   .steps = steps);
}

/* This rank's rows per step (dn_mpi_fit's b_r for BATCH). */
static size_t local_batch(void) {
  return BATCH / (size_t)size + ((size_t)rank < BATCH % (size_t)size ? 1 : 0);
}

static void case_source(void) {
  float x[ROWS * COLS], y[ROWS], vx[12 * COLS], vy[12];
  size_t n = make_shard(x, y), nv = 5 + (size_t)rank * 2; /* uneven validation shards */
  for (size_t i = 0; i < nv; i++)
    make_row(1000 + (size_t)rank * 20 + i, vx + i * COLS, vy + i);
  dn_model *a = bn_model(), *b = bn_model();
  dn_history *ha = dn_mpi_fit(
      MPI_COMM_WORLD, a, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1), .epochs = 4,
      .batch_size = BATCH, .no_shuffle = true, .validation_x = dn_tensor_2d(vx, nv, COLS),
      .validation_y = dn_tensor_2d(vy, nv, 1), .verbose = DN_VERBOSE_SILENT);
  rows_state s = {.x = x, .y = y, .n = n}, v = {.x = vx, .y = vy, .n = nv};
  dn_source *src = rows_source(&s, 0), *vsrc = rows_source(&v, 0);
  dn_history *hb = dn_mpi_fit_source(MPI_COMM_WORLD, b, src, .epochs = 4, .batch_size = BATCH,
                                     .validation_source = vsrc, .verbose = DN_VERBOSE_SILENT);
  CHECK(ha != NULL && hb != NULL, "a fit failed");
  if (ha != NULL && hb != NULL) {
    size_t k;
    float *wa = weights(a, &k), *wb = weights(b, &k);
    CHECK(memcmp(wa, wb, k * sizeof *wa) == 0, "weights differ from dn_mpi_fit's");
    const char *keys[] = {"loss", "mae", "val_loss", "val_mae"};
    for (size_t i = 0; i < 4; i++)
      for (size_t e = 0; e < 4; e++)
        CHECK(dn_history_values(ha, keys[i])[e] == dn_history_values(hb, keys[i])[e],
              "%s at epoch %zu: %.9g, dn_mpi_fit %.9g", keys[i], e + 1,
              dn_history_values(hb, keys[i])[e], dn_history_values(ha, keys[i])[e]);
    check_same_on_all(b, "source fit");
    free(wa);
    free(wb);
  }
  dn_history_free(ha);
  dn_history_free(hb);
  dn_source_free(src);
  dn_source_free(vsrc);
  dn_model_free(a);
  dn_model_free(b);
}

static void case_source_fail(void) {
  float x[ROWS * COLS], y[ROWS];
  size_t n = make_shard(x, y);
  rows_state s = {.x = x, .y = y, .n = n};
  if (rank == 1) {
    s.fail_epoch = 2;
    s.fail_batch = 3;
  }
  dn_source *src = rows_source(&s, 0);
  dn_model *m = dense_model();
  dn_history *h = dn_mpi_fit_source(MPI_COMM_WORLD, m, src, .epochs = 4, .batch_size = BATCH,
                                    .verbose = DN_VERBOSE_SILENT);
  CHECK(h == NULL, "fit returned a history");
  CHECK(dn_last_status() == DN_ERR_IO, "status %s, not DN_ERR_IO",
        dn_status_string(dn_last_status()));
  const char *prefix = "dn_mpi_fit_source: dn_fit_source: epoch 2, batch 3: ";
  CHECK(strncmp(dn_last_error(), prefix, strlen(prefix)) == 0, "message does not start with '%s'",
        prefix);
  char msg[512] = "", mine[600];
  if (rank == 1)
    snprintf(msg, sizeof msg, "%s", dn_last_error());
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 1, MPI_COMM_WORLD);
  snprintf(mine, sizeof mine, "%s", dn_last_error());
  char want[600];
  snprintf(want, sizeof want, "%s (on rank 1 of %d)", msg, size);
  CHECK(strcmp(mine, rank == 1 ? msg : want) == 0, "message '%s', rank 1's '%s'", mine, msg);
  check_after_failure(m, "after the source failed");
  dn_history_free(h);
  dn_source_free(src);
  dn_model_free(m);
}

static size_t batches_seen;
static void count_batch(dn_model *model, size_t index, const dn_logs *logs, void *user) {
  (void)model;
  (void)index;
  (void)logs;
  (void)user;
  batches_seen++;
}

static void case_source_uneven(void) {
  float x[ROWS * COLS], y[ROWS];
  size_t n = make_shard(x, y), b = local_batch();
  if (rank == 1)
    n = n / 2; /* a shorter shard: rank 1 ends early */
  size_t mine = (n + b - 1) / b, most = mine;
  MPI_Allreduce(&mine, &most, 1, MPI_UNSIGNED_LONG, MPI_MAX, MPI_COMM_WORLD);
  dn_model *a = dense_model();
  dn_history *ha =
      dn_mpi_fit(MPI_COMM_WORLD, a, dn_tensor_2d(x, n, COLS), dn_tensor_2d(y, n, 1), .epochs = 3,
                 .batch_size = BATCH, .no_shuffle = true, .verbose = DN_VERBOSE_SILENT);
  CHECK(ha != NULL, "dn_mpi_fit failed");
  size_t k;
  float *wa = weights(a, &k);
  for (int known = 0; known < 2; known++) { /* steps unknown, then each source's own count */
    rows_state s = {.x = x, .y = y, .n = n};
    dn_source *src = rows_source(&s, known ? mine : 0);
    dn_model *m = dense_model();
    batches_seen = 0;
    dn_callback *cbs[] = {dn_lambda_callback(.on_batch_end = count_batch), NULL};
    dn_history *h = dn_mpi_fit_source(MPI_COMM_WORLD, m, src, .epochs = 3, .batch_size = BATCH,
                                      .callbacks = cbs, .verbose = DN_VERBOSE_SILENT);
    CHECK(h != NULL && dn_history_length(h) == 3, "fit failed or ended early (known %d)", known);
    CHECK(batches_seen == 3 * most, "%zu batches in 3 epochs, not 3 x %zu (known %d)", batches_seen,
          most, known);
    /* asked once per batch it had, plus once for the end: in the first epoch when the steps
     * are unknown; later (the count learnt, or known) only by a rank that ends early */
    size_t asked = known ? 3 * mine : mine + 1 + 2 * (mine + (mine < most ? 1 : 0));
    CHECK(s.nexts == asked, "next called %zu times, not %zu (known %d)", s.nexts, asked, known);
    float *w = weights(m, &k);
    CHECK(memcmp(w, wa, k * sizeof *w) == 0, "weights differ from dn_mpi_fit's (known %d)", known);
    check_same_on_all(m, "uneven sources");
    free(w);
    dn_history_free(h);
    dn_source_free(src);
    dn_model_free(m);
  }
  free(wa);
  dn_history_free(ha);
  dn_model_free(a);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *c = argc > 1 ? argv[1] : "";
  if (strcmp(c, "same") == 0)
    case_same();
  else if (strcmp(c, "single") == 0)
    case_single();
  else if (strcmp(c, "early") == 0)
    case_early();
  else if (strcmp(c, "nan") == 0)
    case_nan();
  else if (strcmp(c, "resume") == 0)
    case_resume();
  else if (strcmp(c, "frozen") == 0)
    case_frozen();
  else if (strcmp(c, "source") == 0)
    case_source();
  else if (strcmp(c, "source_fail") == 0)
    case_source_fail();
  else if (strcmp(c, "source_uneven") == 0)
    case_source_uneven();
  else
    CHECK(0, "unknown case '%s'", c);
  int all = 0;
  MPI_Allreduce(&faults, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0)
    printf("test_mpi %s on %d ranks: %s\n", c, size, all ? "FAILED" : "passed");
  MPI_Finalize();
  return all ? 1 : 0;
}
