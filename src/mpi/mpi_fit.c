/* mpi_fit.c -- dn_mpi_fit and dn_mpi_fit_source: dn_fit and dn_fit_source with the training
 * hooks (training/train.h) filled by MPI collectives on a duplicate of the caller's
 * communicator (errors returned, never fatal).
 *
 * Collectives per step: an allgather of three integers (status, fault, rows: the agreed status
 * and the step's global row count), then, if every rank's step is fine, a ring allreduce of the
 * gradient block, then after the batch's callbacks an allgather of two integers (status,
 * stop); a source fit first agrees on the pulled batch (an allgather of status and rows: the
 * epoch goes on while any rank has rows). Per epoch: an allgather of the loss and metric totals
 * (for training and for validation), summed in rank order, and the status/stop agreement.
 *
 * The ring: the block is cut into R chunks; in R - 1 reduce-scatter steps each rank adds the
 * chunk it receives from its left neighbour into its own and passes it on, so chunk c is summed
 * in the fixed order c, c+1, ..., c-1 (mod R) and ends complete on rank c-1; R - 1 allgather
 * steps copy the complete chunks around. Every rank ends with the same bits, and the same bits
 * every run. Traffic per rank: 2 (R-1)/R of the block each way.
 */
#include "densenet_mpi.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "core/status.h"
#include "model/sequential.h"
#include "training/metric.h"
#include "training/train.h"

typedef struct mpi_fit {
  const char *fn; /* dn_mpi_fit or dn_mpi_fit_source */
  bool source;    /* a source fit: rows and steps come from each rank's source */
  MPI_Comm comm;
  int rank, size;
  size_t global_batch;
  float *chunk;         /* the ring's receive buffer (the largest chunk) */
  double *totals, *all; /* reduce_totals: this rank's, every rank's */
  size_t n_totals;
  int64_t *ints;  /* agreements: 3 per rank */
  dn_rng dropout; /* the model's dropout stream during a step */
} mpi_fit;

static dn_status mpi_failed(const char *fn, int rc, const char *what) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return dn_fail(DN_ERR_IO, "%s: %s failed: %s", fn, what, text);
}

/* Allgathers k integers of each rank into m->ints; the agreed status is the first failing
 * rank's (lowest rank), *who that rank. */
static dn_status gather_ints(mpi_fit *m, const int64_t *mine, int k, int *who) {
  int rc = MPI_Allgather(mine, k, MPI_INT64_T, m->ints, k, MPI_INT64_T, m->comm);
  if (rc != MPI_SUCCESS)
    return mpi_failed(m->fn, rc, "MPI_Allgather");
  for (int r = 0; r < m->size; r++)
    if (m->ints[(size_t)r * (size_t)k] != DN_OK) {
      *who = r;
      return (dn_status)m->ints[(size_t)r * (size_t)k];
    }
  *who = -1;
  return DN_OK;
}

/* The agreed failure st of rank `who` (collective: every rank calls it with the same st and
 * who): the failing rank keeps its own message and sends it to the others, which take it with
 * the rank named at its end, so every rank reports the same message. */
static dn_status remote(const mpi_fit *m, dn_status st, int who) {
  char text[512] = "";
  if (who == m->rank)
    snprintf(text, sizeof text, "%s", dn_last_error());
  int rc = MPI_Bcast(text, (int)sizeof text, MPI_CHAR, who, m->comm);
  if (who == m->rank)
    return st;
  text[sizeof text - 1] = '\0';
  if (rc != MPI_SUCCESS || text[0] == '\0')
    return dn_fail(st, "%s: rank %d of %d failed with %s", m->fn, who, m->size,
                   dn_status_string(st));
  return dn_fail(st, "%s (on rank %d of %d)", text, who, m->size);
}

static dn_status agree(void *ctx, dn_status local, bool *stop) {
  mpi_fit *m = ctx;
  int64_t mine[3] = {local, *stop, 0};
  int who;
  dn_status st = gather_ints(m, mine, 3, &who);
  if (who < 0 && st != DN_OK)
    return st; /* the MPI call itself */
  for (int r = 0; r < m->size; r++)
    *stop = *stop || m->ints[3 * r + 1] != 0;
  return st == DN_OK ? DN_OK : remote(m, st, who);
}

/* Sums the n floats of block across ranks by the ring (see the top of the file). */
static dn_status ring_allreduce(mpi_fit *m, float *block, size_t n) {
  const int R = m->size, right = (m->rank + 1) % R, left = (m->rank + R - 1) % R;
  const size_t base = n / (size_t)R, extra = n % (size_t)R;
#define CHUNK_AT(c) ((size_t)(c)*base + ((size_t)(c) < extra ? (size_t)(c) : extra))
#define CHUNK_LEN(c) (base + ((size_t)(c) < extra ? 1 : 0))
  for (int s = 0; s < R - 1; s++) { /* reduce-scatter */
    int send = ((m->rank - s) % R + R) % R, recv = ((m->rank - s - 1) % R + R) % R;
    int rc =
        MPI_Sendrecv(block + CHUNK_AT(send), (int)CHUNK_LEN(send), MPI_FLOAT, right, 71, m->chunk,
                     (int)CHUNK_LEN(recv), MPI_FLOAT, left, 71, m->comm, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
      return mpi_failed(m->fn, rc, "MPI_Sendrecv (gradient ring)");
    float *dst = block + CHUNK_AT(recv);
    for (size_t i = 0; i < CHUNK_LEN(recv); i++)
      dst[i] = m->chunk[i] + dst[i];
  }
  for (int s = 0; s < R - 1; s++) { /* allgather of the complete chunks */
    int send = ((m->rank + 1 - s) % R + R) % R, recv = ((m->rank - s) % R + R) % R;
    int rc = MPI_Sendrecv(block + CHUNK_AT(send), (int)CHUNK_LEN(send), MPI_FLOAT, right, 72,
                          block + CHUNK_AT(recv), (int)CHUNK_LEN(recv), MPI_FLOAT, left, 72,
                          m->comm, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
      return mpi_failed(m->fn, rc, "MPI_Sendrecv (gradient ring)");
  }
#undef CHUNK_AT
#undef CHUNK_LEN
  return DN_OK;
}

static dn_status pulled(void *ctx, dn_status local, size_t n, bool *more) {
  mpi_fit *m = ctx;
  int64_t mine[3] = {local, 0, (int64_t)n};
  int who;
  dn_status st = gather_ints(m, mine, 3, &who);
  if (st != DN_OK)
    return who < 0 ? st : remote(m, st, who);
  *more = false;
  for (int r = 0; r < m->size; r++)
    *more = *more || m->ints[3 * r + 2] > 0;
  return DN_OK;
}

static void step_begin(void *ctx, dn_model *model) {
  mpi_fit *m = ctx;
  /* The step's dropout masks from a per-rank stream; the model's stream advances by one draw,
   * the same on every rank. */
  m->dropout = model->rng_dropout;
  uint64_t draw = dn_rng_next(&m->dropout);
  dn_rng_seed(&model->rng_dropout, draw, ((uint64_t)m->rank << 8) | DN_STREAM_DROPOUT);
}

static dn_status reduce_grads(void *ctx, dn_model *model, size_t n, dn_status local,
                              dn_step_fault *fault) {
  mpi_fit *m = ctx;
  model->rng_dropout = m->dropout;
  int64_t mine[3] = {local, *fault, (int64_t)n};
  int who;
  dn_status st = gather_ints(m, mine, 3, &who);
  if (st != DN_OK) {
    if (who >= 0)
      *fault = (dn_step_fault)m->ints[3 * who + 1];
    return who < 0 ? st : remote(m, st, who);
  }
  int64_t total = 0;
  for (int r = 0; r < m->size; r++)
    total += m->ints[3 * r + 2];
  /* This rank's mean gradient times n / N: the sum is the mean over the step's N rows. The
   * non-trainable entries (zero gradients) carry the change the forward pass made to the
   * non-trainable weights (BatchNormalization's moving statistics), weighted the same. */
  const float scale = total > 0 ? (float)((double)n / (double)total) : 0.0f;
  /* model->train->frozen holds the non-trainable kinds of weights, layer by layer (train.c's
   * copy_frozen); a frozen layer's kernel is not among them (no pass moves it). */
  const float *before = model->train->frozen;
  size_t k = 0;
  for (size_t l = 0; l < model->n_layers; l++) {
    const dn_layer *layer = model->layers[l];
    for (size_t v = 0; layer->built && v < layer->n_vars; v++) {
      const dn_var *var = &layer->vars[v];
      float *g = layer->grads + var->offset;
      const float *w = layer->params + var->offset;
      if (var->trainable) {
        for (size_t i = 0; i < var->size; i++)
          g[i] *= scale;
      } else {
        for (size_t i = 0; i < var->size; i++)
          g[i] = (w[i] - before[k + i]) * scale;
        k += var->size;
      }
    }
  }
  if (m->size > 1 && (st = ring_allreduce(m, model->grads, model->n_params)) != DN_OK)
    return st;
  k = 0;
  for (size_t l = 0; l < model->n_layers; l++) {
    const dn_layer *layer = model->layers[l];
    for (size_t v = 0; layer->built && v < layer->n_vars; v++) {
      const dn_var *var = &layer->vars[v];
      if (var->trainable)
        continue;
      float *g = layer->grads + var->offset, *w = layer->params + var->offset;
      for (size_t i = 0; i < var->size; i++) {
        w[i] = before[k + i] + g[i];
        g[i] = 0.0f;
      }
      k += var->size;
    }
  }
  return DN_OK;
}

static void shuffle(void *ctx, dn_model *model, size_t *perm, size_t rows) {
  mpi_fit *m = ctx;
  dn_rng own; /* this rank's order, from one draw of the model's stream (the same on all) */
  dn_rng_seed(&own, dn_rng_next(&model->rng_shuffle), ((uint64_t)m->rank << 8) | DN_STREAM_SHUFFLE);
  for (size_t i = rows - 1; rows > 1 && i > 0; i--) {
    size_t j = (size_t)dn_rng_below(&own, (uint64_t)i + 1);
    size_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
}

/* The doubles reduce_totals exchanges: status, loss sum, rows, then per metric sum, count and
 * its accumulators. */
static size_t count_totals(const dn_model *model) {
  const struct dn_train *t = model->train;
  size_t k = 3;
  for (size_t i = 0; t->metrics_cols != 0 && i < t->n_metrics; i++)
    k += 2 + t->metrics[i].acc_len;
  return k;
}

static dn_status reduce_totals(void *ctx, dn_model *model, dn_status local, double *loss_sum,
                               double *rows) {
  mpi_fit *m = ctx;
  struct dn_train *t = model->train;
  double *x = m->totals;
  size_t k = 0;
  x[k++] = (double)local;
  x[k++] = *loss_sum;
  x[k++] = *rows;
  for (size_t i = 0; t->metrics_cols != 0 && i < t->n_metrics; i++) {
    const dn_metric *mt = &t->metrics[i];
    x[k++] = mt->sum;
    x[k++] = mt->count;
    for (size_t a = 0; a < mt->acc_len; a++)
      x[k++] = mt->acc[a];
  }
  int rc = MPI_Allgather(x, (int)k, MPI_DOUBLE, m->all, (int)k, MPI_DOUBLE, m->comm);
  if (rc != MPI_SUCCESS)
    return mpi_failed(m->fn, rc, "MPI_Allgather (epoch totals)");
  for (int r = 0; r < m->size; r++)
    if (m->all[(size_t)r * k] != 0.0)
      return remote(m, (dn_status)m->all[(size_t)r * k], r);
  for (size_t j = 1; j < k; j++) { /* in rank order: the same sum on every rank, every run */
    double s = 0.0;
    for (int r = 0; r < m->size; r++)
      s += m->all[(size_t)r * k + j];
    x[j] = s;
  }
  k = 1;
  *loss_sum = x[k++];
  *rows = x[k++];
  for (size_t i = 0; t->metrics_cols != 0 && i < t->n_metrics; i++) {
    dn_metric *mt = &t->metrics[i];
    mt->sum = x[k++];
    mt->count = x[k++];
    for (size_t a = 0; a < mt->acc_len; a++)
      mt->acc[a] = x[k++];
  }
  return DN_OK;
}

static dn_status plan(void *ctx, dn_model *model, dn_status local, size_t rows, size_t vrows,
                      size_t *batch, size_t *steps, bool *validate) {
  mpi_fit *m = ctx;
  const size_t R = (size_t)m->size;
  if (local == DN_OK) { /* the buffers, before the agreement, so a failure here is agreed */
    m->n_totals = count_totals(model);
    m->chunk = dn_alloc((model->n_params / R + 1) * sizeof *m->chunk);
    m->totals = dn_alloc(m->n_totals * sizeof *m->totals);
    m->all = dn_alloc(m->n_totals * R * sizeof *m->all);
    if (m->chunk == NULL || m->totals == NULL || m->all == NULL)
      local = dn_fail(DN_ERR_NOMEM,
                      "%s: no memory for the reduction buffers (%zu parameters, "
                      "%zu ranks)",
                      m->fn, model->n_params, R);
  }
  /* rows: a source's steps (0: unknown) stand in for its rows (unknown) */
  int64_t mine[3] = {local, (int64_t)(m->source ? *steps : rows), *validate || vrows > 0};
  int who;
  dn_status st = gather_ints(m, mine, 3, &who);
  if (st != DN_OK)
    return who < 0 ? st : remote(m, st, who);
  size_t total = 0, most = 0;
  bool known = true; /* a source fit: every rank's source knows its steps */
  *validate = false;
  for (size_t r = 0; r < R; r++) {
    total += (size_t)m->ints[3 * r + 1];
    known = known && m->ints[3 * r + 1] > 0;
    *validate = *validate || m->ints[3 * r + 2] != 0;
  }
  size_t B = m->global_batch; /* Keras: at most every row (known for arrays only) */
  if (!m->source && total < B)
    B = total;
  if (B < R)
    return dn_fail(DN_ERR_ARG,
                   "%s: batch_size %zu (the global batch) is below the %zu ranks; "
                   "each rank needs at least one row per step",
                   m->fn, B, R);
  for (size_t r = 0; r < R; r++) {
    size_t b = B / R + (r < B % R ? 1 : 0), n = (size_t)m->ints[3 * r + 1];
    size_t s = m->source ? n : (n + b - 1) / b;
    most = s > most ? s : most;
  }
  *batch = B / R + ((size_t)m->rank < B % R ? 1 : 0);
  *steps = m->source && !known ? 0 : most; /* a source's: the most of any rank, if all know */
  return DN_OK;
}

/* dn_mpi_fit (so NULL: o's arrays) or dn_mpi_fit_source (so's sources; o holds the options
 * both share). */
static dn_history *run(MPI_Comm comm, dn_fit_options o, dn_fit_source_options *so) {
  const char *fn = so != NULL ? "dn_mpi_fit_source" : "dn_mpi_fit";
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited || comm == MPI_COMM_NULL) {
    dn_fit_with((dn_fit_options){.callbacks = o.callbacks}); /* frees the callbacks */
    return dn_fail_null(DN_ERR_ARG, "%s: %s", fn,
                        !inited ? "MPI is not initialized (call MPI_Init)"
                                : "comm is MPI_COMM_NULL");
  }
  mpi_fit m = {.fn = fn, .source = so != NULL};
  int rc = MPI_Comm_dup(comm, &m.comm);
  if (rc != MPI_SUCCESS) {
    dn_fit_with((dn_fit_options){.callbacks = o.callbacks});
    mpi_failed(fn, rc, "MPI_Comm_dup");
    return NULL;
  }
  MPI_Comm_set_errhandler(m.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(m.comm, &m.rank);
  MPI_Comm_size(m.comm, &m.size);
  dn_history *history = NULL;
  m.ints = dn_alloc(3 * (size_t)m.size * sizeof *m.ints);
  dn_status local = DN_OK;
  if (m.ints == NULL)
    local = DN_ERR_NOMEM; /* the agreement below cannot run: every rank fails alone */
  else if (o.model == NULL)
    local = dn_fail(DN_ERR_ARG, "%s: model is NULL", fn);
  else if (o.model->train == NULL)
    local = dn_fail(DN_ERR_STATE, "%s: the model is not compiled (call dn_compile first)", fn);
  else if (so != NULL && so->source == NULL)
    local = dn_fail(DN_ERR_ARG, "%s: source is NULL", fn);
  else
    local = dn_train_batch_size(fn, o.batch_size, 32, &m.global_batch);
  bool stop = false;
  if (m.ints != NULL)
    local = agree(&m, local, &stop);
  if (local != DN_OK) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dn_last_error());
    dn_fit_with((dn_fit_options){.callbacks = o.callbacks});
    dn_fail(local, "%s", msg);
  } else {
    if (m.rank != 0)
      o.verbose = DN_VERBOSE_SILENT;
    dn_train_hooks hooks = {.ctx = &m,
                            .no_files = m.rank != 0,
                            .plan = plan,
                            .shuffle = shuffle,
                            .pulled = pulled,
                            .step_begin = step_begin,
                            .reduce_grads = reduce_grads,
                            .reduce_totals = reduce_totals,
                            .agree = agree};
    if (so != NULL) {
      so->verbose = o.verbose;
      history = dn_fit_source_hooked(*so, &hooks);
    } else {
      history = dn_fit_hooked(o, &hooks);
    }
    if (history == NULL)
      dn_error_context(fn);
  }
  dn_free(m.ints);
  dn_free(m.chunk);
  dn_free(m.totals);
  dn_free(m.all);
  MPI_Comm_free(&m.comm);
  return history;
}

dn_history *dn_mpi_fit_with(MPI_Comm comm, dn_fit_options o) {
  return run(comm, o, NULL);
}

dn_history *dn_mpi_fit_source_with(MPI_Comm comm, dn_fit_source_options o) {
  return run(comm,
             (dn_fit_options){.model = o.model,
                              .batch_size = o.batch_size,
                              .verbose = o.verbose,
                              .callbacks = o.callbacks},
             &o);
}
