/* bench.c -- libdensenet's side of the peer benchmark: the workloads W1, W1-latency, W2, W3 and
 * W4 exactly as ../shared/bench/WORKLOADS.md defines them (same data generator, same nets, loss,
 * optimizer, batch and epochs), through the public API only (dn_sequential, dn_compile, dn_fit,
 * dn_predict_on_batch), printing one RESULT line per workload in the peers' format.
 *
 *   bench [--threads N] [--reps R] [--workloads W1,W2,W3,W4,Q4] [--peer NAME]
 *   bench --export-onnx DIR [--reps R]   (W4's and W1-latency's nets for bench/peers/ort_peer.js)
 * (--threads 0: the library's default count, dn_threads(); 1 when not given)
 * (W1 includes W1-latency; --peer names the RESULT lines, e.g. libdensenet-openblas for a
 * -DDENSENET_BLAS=openblas build).
 *
 * Timed region (as for the peers): the whole dn_fit call of a fresh model (shuffles, batch
 * gathers, forward, loss, backward, optimizer steps); model construction, the data's tensor
 * views and one warm-up epoch (on a separate model) are excluded. W1-latency: 100,000
 * single-row predicts on the trained W1 net after 2,000 warm-up calls, each call on a view of
 * its row made in the loop (as a caller would); W4: 100,000 rows in batches of 1024, a view per
 * batch.
 *
 * bench_mpi (built from this file with DN_BENCH_MPI where the MPI library is built) runs W2 and
 * W3 through dn_mpi_fit instead: `mpirun -np R bench_mpi --threads 1`, each rank training on its
 * contiguous 1/R of the rows with the workload's batch as the global batch; samples/s counts
 * every rank's rows, and only rank 0 prints. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "densenet.h"

#ifdef DN_BENCH_MPI
#include <mpi.h>

#include "densenet_mpi.h"
static int g_rank = 0, g_ranks = 1;
#endif

#ifdef DN_BENCH_ONNX
#include "densenet_onnx.h"
#endif

/* Internal, for the report only: the GEMM backend in use (src/kernels/kernels.h). */
const char *dn_kernels_backend(void);

/* ---- the shared data generator (WORKLOADS.md, "Data generator") ---------- */

static uint64_t mix(uint64_t stream, uint64_t i) {
  uint64_t z = stream + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double u(uint64_t stream, uint64_t i) {
  return (double)(mix(stream, i) >> 40) / 16777216.0;
}

/* X: n x d, Y: n x outputs (W3: one-hot of the class). */
static void make_data(int wl, size_t n, float *X, float *Y) {
  for (size_t s = 0; s < n; s++) {
    if (wl == 1) {
      double x0 = 2.0 * u(101, 2 * s) - 1.0, x1 = 2.0 * u(101, 2 * s + 1) - 1.0;
      X[2 * s] = (float)x0;
      X[2 * s + 1] = (float)x1;
      Y[s] = (float)(sin(3.0 * x0) + x1 * x1 + 0.1 * (2.0 * u(102, s) - 1.0));
    } else if (wl == 2) {
      double x[8];
      for (int j = 0; j < 8; j++)
        X[8 * s + j] = (float)(x[j] = u(201, 8 * s + j));
      Y[s] = (float)(sin(3.0 * x[0]) + x[1] * x[1] + x[2] * x[3] - 0.5 * cos(2.0 * x[4]) +
                     0.3 * x[5] + x[6] * x[7] + 0.05 * (2.0 * u(202, s) - 1.0));
    } else {
      double g[10] = {0};
      for (size_t j = 0; j < 784; j++) {
        float v = (float)u(301, 784 * s + j);
        X[784 * s + j] = v;
        g[j % 10] += v;
      }
      int c = 0;
      for (int k = 1; k < 10; k++)
        if (g[k] > g[c])
          c = k;
      for (int k = 0; k < 10; k++)
        Y[10 * s + k] = k == c ? 1.0f : 0.0f;
    }
  }
}

/* ---- workloads ------------------------------------------------------------- */

typedef struct {
  const char *name;
  int wl;
  size_t in, out, hidden[3], n_hidden, samples, batch, epochs;
  const char *loss, *optimizer;
} workload;

static const workload W1 = {"W1", 1, 2, 1, {4, 3}, 2, 10000, 32, 20, "mse", "sgd"};
static const workload W2 = {"W2", 2, 8, 1, {512, 512, 512}, 3, 1030, 256, 50, "mae", "adam"};
static const workload W3 = {
    "W3", 3, 784, 10, {1024, 1024}, 2, 20000, 128, 2, "categorical_crossentropy", "sgd"};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static size_t params_of(const workload *w) {
  size_t p = 0, prev = w->in;
  for (size_t l = 0; l < w->n_hidden; l++) {
    p += prev * w->hidden[l] + w->hidden[l];
    prev = w->hidden[l];
  }
  return p + prev * w->out + w->out;
}

static void die(const char *what) {
  fprintf(stderr, "bench: %s: %s\n", what, dn_last_error());
  exit(1);
}

/* A fresh, compiled model of workload w (glorot-uniform kernels, zero biases: Keras defaults). */
static dn_model *make_model(const workload *w, uint64_t seed) {
  dn_layer *layers[5];
  size_t n = 0;
  for (size_t l = 0; l < w->n_hidden; l++)
    layers[n++] = dn_dense(w->hidden[l], .activation = "relu", .input_dim = l == 0 ? w->in : 0);
  layers[n++] = dn_dense(w->out);
  dn_model *m = dn_sequential_with(n, layers);
  if (m == NULL || dn_model_build(m, w->in) != DN_OK || dn_model_set_seed(m, seed) != DN_OK)
    die("model");
  dn_optimizer *opt =
      strcmp(w->optimizer, "adam") == 0
          ? dn_adam(.learning_rate = 1e-3, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-7)
          : dn_sgd(.learning_rate = 0.01);
  if (opt == NULL)
    die("optimizer");
  if (dn_compile(m, .optimizer_object = opt, .loss = w->loss, .from_logits = w->wl == 3) != DN_OK)
    die("compile");
  return m;
}

/* x, y: the workload's data as tensors (views made before the timed region). */
static double fit(dn_model *m, const workload *w, dn_tensor x, dn_tensor y, size_t epochs,
                  uint64_t seed, double *final_loss) {
#ifdef DN_BENCH_MPI
  const size_t n = x.shape[0], lo = n * (size_t)g_rank / (size_t)g_ranks;
  const size_t hi = n * (size_t)(g_rank + 1) / (size_t)g_ranks;
  dn_tensor xs = dn_tensor_2d(x.data + lo * w->in, hi - lo, w->in);
  dn_tensor ys = dn_tensor_2d(y.data + lo * w->out, hi - lo, w->out);
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = now();
  dn_history *h = dn_mpi_fit(MPI_COMM_WORLD, m, xs, ys, .epochs = epochs, .batch_size = w->batch,
                             .verbose = DN_VERBOSE_SILENT, .seed = seed);
  MPI_Barrier(MPI_COMM_WORLD);
#else
  double t0 = now();
  dn_history *h = dn_fit(m, x, y, .epochs = epochs, .batch_size = w->batch,
                         .verbose = DN_VERBOSE_SILENT, .seed = seed);
#endif
  double t = now() - t0;
  if (h == NULL)
    die("fit");
  const double *loss = dn_history_values(h, "loss");
  *final_loss = loss ? loss[dn_history_length(h) - 1] : NAN;
  dn_history_free(h);
  return t;
}

static const char *peer = "libdensenet";

static void print_rate(const char *name, int threads, double *rates, int reps, double flops,
                       const char *extra) {
#ifdef DN_BENCH_MPI
  if (g_rank != 0)
    return;
#endif
  double mn = rates[0], mx = rates[0];
  for (int r = 1; r < reps; r++) {
    mn = rates[r] < mn ? rates[r] : mn;
    mx = rates[r] > mx ? rates[r] : mx;
  }
  double med = median(rates, reps);
  printf("RESULT peer=%s workload=%s threads=%d samples_per_s=%.0f samples_per_s_min=%.0f "
         "samples_per_s_max=%.0f gflops=%.2f reps=%d%s note=backend-%s\n",
         peer, name, threads, med, mn, mx, med * flops / 1e9, reps, extra, dn_kernels_backend());
  fflush(stdout);
}

/* Training workloads; W1 also runs W1-latency on its last trained model. */
static void train_workload(const workload *w, int threads, int reps, bool latency) {
  size_t n = w->samples;
  float *X = malloc(n * w->in * sizeof *X), *Y = malloc(n * w->out * sizeof *Y);
  if (!X || !Y)
    die("out of memory");
  make_data(w->wl, n, X, Y);
  dn_tensor x = dn_tensor_2d(X, n, w->in), y = dn_tensor_2d(Y, n, w->out);
  double loss, loss0 = NAN, rates[32];
  { /* warm-up: one epoch on a separate model */
    dn_model *m = make_model(w, 7);
    fit(m, w, x, y, 1, 7, &loss);
    dn_model_free(m);
  }
  dn_model *last = NULL;
  for (int r = 0; r < reps; r++) {
    dn_model *m = make_model(w, 100 + (uint64_t)r);
    if (r == 0 && dn_evaluate(m, x, y, &(float){0}) == DN_OK) {
      float l0;
      dn_evaluate(m, x, y, &l0);
      loss0 = l0;
    }
    double t = fit(m, w, x, y, w->epochs, 100 + (uint64_t)r, &loss);
    rates[r] = (double)(n * w->epochs) / t;
    if (last)
      dn_model_free(last);
    last = m;
  }
  char extra[96];
  snprintf(extra, sizeof extra, " loss0=%.4g loss=%.4g", loss0, loss);
  print_rate(w->name, threads, rates, reps, 6.0 * (double)params_of(w), extra);
  if (latency) { /* W1-latency: single-row predict on the trained net */
    enum { CALLS = 100000, WARM = 2000 };
    double us[32];
    float out;
    dn_tensor out_view = dn_tensor_2d(&out, 1, 1); /* the same output row every call */
    for (int i = 0; i < WARM; i++)
      if (dn_predict_on_batch(last, dn_tensor_2d(X + 2 * (size_t)(i % 1000), 1, 2), out_view) !=
          DN_OK)
        die("predict");
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      for (int i = 0; i < CALLS; i++)
        dn_predict_on_batch(last, dn_tensor_2d(X + 2 * (size_t)(i % 1000), 1, 2), out_view);
      us[r] = (now() - t0) / CALLS * 1e6;
    }
    double mn = us[0], mx = us[0];
    for (int r = 1; r < reps; r++) {
      mn = us[r] < mn ? us[r] : mn;
      mx = us[r] > mx ? us[r] : mx;
    }
    printf("RESULT peer=%s workload=W1-latency threads=%d us_per_call=%.4f "
           "us_per_call_min=%.4f us_per_call_max=%.4f calls=%d reps=%d note=predict_on_batch\n",
           peer, threads, median(us, reps), mn, mx, CALLS, reps);
    fflush(stdout);
  }
  dn_model_free(last);
  free(X);
  free(Y);
}

/* W4: the W2 net (fresh weights) predicting 100,000 rows in batches of 1024. Q4 (int8): the same
 * with the net quantized (dn_model_quantize, calibrated on the first 10,000 rows). */
static void predict_workload(int threads, int reps, bool int8) {
  enum { N = 100000, BATCH = 1024 };
  float *X = malloc((size_t)N * 8 * sizeof *X), *Y = malloc(N * sizeof *Y);
  if (!X || !Y)
    die("out of memory");
  make_data(2, N, X, Y);
  dn_model *m = make_model(&W2, 11);
  if (int8) {
    dn_model *q = dn_model_quantize(m, dn_tensor_2d(X, 10000, 8));
    if (q == NULL)
      die("quantize");
    dn_model_free(m);
    m = q;
  }
  double rates[32];
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    double t0 = now();
    for (size_t s = 0; s < N; s += BATCH) {
      size_t rows = N - s < BATCH ? N - s : BATCH;
      if (dn_predict_on_batch(m, dn_tensor_2d(X + 8 * s, rows, 8), dn_tensor_2d(Y + s, rows, 1)) !=
          DN_OK)
        die("predict");
    }
    if (r >= 0)
      rates[r] = N / (now() - t0);
  }
  print_rate(int8 ? "Q4" : "W4", threads, rates, reps, 2.0 * (double)params_of(&W2), "");
  dn_model_free(m);
  free(X);
  free(Y);
}

#ifdef DN_BENCH_ONNX
/* --export-onnx DIR: the nets of W4 and W1-latency as ONNX files for the ONNX Runtime peer
 * (bench/peers/ort_peer.js), with the weights the timed runs use: W4 the W2 net of
 * predict_workload (seed 11), W1 the net train_workload times latency on (the last repetition's,
 * trained the same way). Beside each, dn_predict_on_batch's outputs on the first rows of the
 * workload's data (w4.y: 1024 rows, w1.y: 1000), which the peer compares with ONNX Runtime's,
 * and data.txt: sums and first values of the generated X, which the peer checks its generator
 * against. */
static void save_rows(const char *dir, const char *name, dn_model *m, const float *X, size_t rows,
                      size_t in) {
  char path[4096];
  float *Y = malloc(rows * sizeof *Y);
  if (Y == NULL ||
      dn_predict_on_batch(m, dn_tensor_2d(X, rows, in), dn_tensor_2d(Y, rows, 1)) != DN_OK)
    die("predict");
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(Y, sizeof *Y, rows, f) != rows || fclose(f) != 0) {
    fprintf(stderr, "bench: cannot write %s\n", path);
    exit(1);
  }
  free(Y);
}

static int export_onnx(const char *dir, int reps) {
  enum { N4 = 100000, N1 = 10000 };
  char path[4096];
  float *X4 = malloc((size_t)N4 * 8 * sizeof *X4), *Y4 = malloc(N4 * sizeof *Y4);
  float *X1 = malloc((size_t)N1 * 2 * sizeof *X1), *Y1 = malloc(N1 * sizeof *Y1);
  if (!X4 || !Y4 || !X1 || !Y1)
    die("out of memory");
  make_data(2, N4, X4, Y4);
  make_data(1, N1, X1, Y1);
  dn_model *m4 = make_model(&W2, 11);
  snprintf(path, sizeof path, "%s/w4.onnx", dir);
  if (dn_onnx_save(m4, path) != DN_OK)
    die("dn_onnx_save w4");
  save_rows(dir, "w4.y", m4, X4, 1024, 8);
  const uint64_t seed = 100 + (uint64_t)(reps - 1);
  dn_model *m1 = make_model(&W1, seed);
  double loss;
  fit(m1, &W1, dn_tensor_2d(X1, N1, 2), dn_tensor_2d(Y1, N1, 1), W1.epochs, seed, &loss);
  snprintf(path, sizeof path, "%s/w1.onnx", dir);
  if (dn_onnx_save(m1, path) != DN_OK)
    die("dn_onnx_save w1");
  save_rows(dir, "w1.y", m1, X1, 1000, 2);
  double s4 = 0, s1 = 0, sy4 = 0;
  for (size_t i = 0; i < (size_t)N4 * 8; i++)
    s4 += X4[i];
  for (size_t i = 0; i < N4; i++)
    sy4 += Y4[i];
  for (size_t i = 0; i < (size_t)N1 * 2; i++)
    s1 += X1[i];
  snprintf(path, sizeof path, "%s/data.txt", dir);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "bench: cannot write %s\n", path);
    return 1;
  }
  fprintf(f,
          "w4_x_sum %.17g\nw4_y_sum %.17g\nw4_x0 %.9g %.9g %.9g\nw1_x_sum %.17g\nw1_x0 %.9g %.9g\n",
          s4, sy4, X4[0], X4[1], X4[8], s1, X1[0], X1[1]);
  fclose(f);
  printf("INFO exported w4.onnx (W2 net, seed 11) and w1.onnx (W1 trained, seed %llu, loss %.4g) "
         "to %s\n",
         (unsigned long long)seed, loss, dir);
  dn_model_free(m4);
  dn_model_free(m1);
  free(X4);
  free(Y4);
  free(X1);
  free(Y1);
  return 0;
}
#endif

static int run(int argc, char **argv);

int main(int argc, char **argv) {
#ifdef DN_BENCH_MPI
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_ranks);
  static char mpi_peer[64];
  snprintf(mpi_peer, sizeof mpi_peer, "libdensenet-mpi%d", g_ranks);
  peer = mpi_peer;
  int code = run(argc, argv);
  MPI_Finalize();
  return code;
#else
  return run(argc, argv);
#endif
}

static int run(int argc, char **argv) {
  int threads = 1, reps = 3;
#ifdef DN_BENCH_MPI
  const char *which = "W2,W3"; /* the training workloads with batches worth splitting */
#else
  const char *which = "W1,W2,W3,W4";
#endif
#ifdef DN_BENCH_ONNX
  const char *export_dir = NULL;
#endif
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--workloads") == 0 && i + 1 < argc)
      which = argv[++i];
    else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc)
      peer = argv[++i];
#ifdef DN_BENCH_ONNX
    else if (strcmp(argv[i], "--export-onnx") == 0 && i + 1 < argc)
      export_dir = argv[++i];
#endif
    else {
      fprintf(stderr,
              "usage: bench [--threads N] [--reps R] [--workloads W1,W2,W3,W4,Q4] [--peer NAME]\n"
              "       bench --export-onnx DIR [--reps R]   (builds with libdensenet_onnx)\n");
      return 2;
    }
  }
  if (reps < 1 || reps > 32 || threads < 0) {
    fprintf(stderr, "bench: reps must be 1..32 and threads >= 0\n");
    return 2;
  }
#ifdef DN_BENCH_ONNX
  if (export_dir)
    return export_onnx(export_dir, reps);
#endif
  if (dn_set_threads(threads) != DN_OK) { /* 0: the library's default */
    fprintf(stderr, "bench: %s\n", dn_last_error());
    return 2;
  }
  if (threads == 0)
    threads = dn_threads(); /* OMP_NUM_THREADS, else the CPUs this process may run on */
  if (threads > dn_threads()) {
    printf("INFO libdensenet bench built without OpenMP: no %d-thread results\n", threads);
    return 0;
  }
#ifdef DN_BENCH_MPI
  if (g_rank == 0)
    printf("INFO libdensenet %s backend=%s threads=%d ranks=%d\n", DN_VERSION_STRING,
           dn_kernels_backend(), threads, g_ranks);
#else
  printf("INFO libdensenet %s backend=%s threads=%d\n", DN_VERSION_STRING, dn_kernels_backend(),
         threads);
#endif
  if (strstr(which, "W1"))
    train_workload(&W1, threads, reps, true);
  if (strstr(which, "W2"))
    train_workload(&W2, threads, reps, false);
  if (strstr(which, "W3"))
    train_workload(&W3, threads, reps, false);
  if (strstr(which, "W4"))
    predict_workload(threads, reps, false);
  if (strstr(which, "Q4"))
    predict_workload(threads, reps, true);
  return 0;
}
