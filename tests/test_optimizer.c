/* test_optimizer.c -- the Keras optimizers and learning-rate schedules against
 * the Keras update rules worked out independently here in double precision,
 * hand-computed values, option handling and errors. */
#include "dn_test.h"

#include <stdbool.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "training/optimizer.h"

/* ---------------------------------------------------------------------------
 * Fixture: a parameter block of 7 floats holding a trainable "kernel" (3), a
 * non-trainable "moving_mean" (2) and a trainable "bias" (2), and 5 steps of
 * gradients (the non-trainable entries get large gradients that must be
 * ignored, also by the global norm).
 * ------------------------------------------------------------------------- */

#define NP 7
#define NSTEPS 5
#define MAX_SLOTS 3

static const dn_var VARS[3] = {
    {.name = "kernel", .offset = 0, .size = 3, .rows = 1, .cols = 3, .trainable = true},
    {.name = "moving_mean", .offset = 3, .size = 2, .rows = 1, .cols = 2, .trainable = false},
    {.name = "bias", .offset = 5, .size = 2, .rows = 1, .cols = 2, .trainable = true},
};
static const bool TRAINABLE[NP] = {true, true, true, false, false, true, true};
static const float W0[NP] = {0.5f, -1.2f, 0.8f, 3.0f, -3.0f, 0.3f, -0.7f};
static const float G[NSTEPS][NP] = {
    {0.3f, -0.8f, 1.5f, 9.0f, -9.0f, 0.2f, -0.05f},
    {-0.6f, 0.4f, 0.9f, 9.0f, -9.0f, 0.1f, 0.3f},
    {0.05f, -1.1f, -0.4f, 9.0f, -9.0f, -0.25f, 0.15f},
    {1.2f, 0.2f, 0.6f, 9.0f, -9.0f, 0.02f, -0.4f},
    {-0.2f, -0.3f, 0.1f, 9.0f, -9.0f, 0.35f, 0.05f},
};

/* ---------------------------------------------------------------------------
 * Reference: Keras's rules (keras/src/optimizers/NAME.py), in double.
 * ------------------------------------------------------------------------- */

typedef struct ref ref;
/* One element: w and its slots s[k * NP] (Keras's variable order). */
typedef void (*ref_update_fn)(ref *r, double lr, double t, double *w, double g, double *s);

struct ref {
  double lr;
  double (*schedule)(double step); /* NULL = constant lr */
  double beta_1, beta_2, eps, momentum, rho, wd, clipnorm, clipvalue, global_clipnorm;
  bool nesterov, amsgrad, centered;
  ref_update_fn update;
  double slot_init; /* Adagrad's initial accumulator */
  size_t n_slots;
  /* Nadam's per-step scalars */
  double u_product, u_t, u_t_1;
  double w[NP];
  double s[MAX_SLOTS][NP];
  double iterations;
};

#define S(k) s[(k)*NP]

static void ref_sgd(ref *r, double lr, double t, double *w, double g, double *s) {
  (void)t;
  if (r->momentum == 0.0) {
    *w -= lr * g;
    return;
  }
  S(0) = r->momentum * S(0) - lr * g;
  if (r->nesterov)
    *w += r->momentum * S(0) - lr * g;
  else
    *w += S(0);
}

static void ref_adam(ref *r, double lr, double t, double *w, double g, double *s) {
  S(0) += (g - S(0)) * (1 - r->beta_1);
  S(1) += (g * g - S(1)) * (1 - r->beta_2);
  double v = S(1);
  if (r->amsgrad) {
    S(2) = fmax(S(2), S(1));
    v = S(2);
  }
  double alpha = lr * sqrt(1 - pow(r->beta_2, t)) / (1 - pow(r->beta_1, t));
  *w -= S(0) * alpha / (sqrt(v) + r->eps);
}

static void ref_rmsprop(ref *r, double lr, double t, double *w, double g, double *s) {
  (void)t;
  const int mom = 1, avg = r->momentum > 0 ? 2 : 1;
  S(0) = r->rho * S(0) + (1 - r->rho) * g * g;
  double denominator = S(0) + r->eps;
  if (r->centered) {
    S(avg) = r->rho * S(avg) + (1 - r->rho) * g;
    denominator = S(0) - S(avg) * S(avg) + r->eps;
  }
  double increment = lr * g / sqrt(denominator);
  if (r->momentum > 0) {
    S(mom) = r->momentum * S(mom) + increment;
    *w -= S(mom);
  } else {
    *w -= increment;
  }
}

static void ref_adagrad(ref *r, double lr, double t, double *w, double g, double *s) {
  (void)t;
  S(0) += g * g;
  *w -= lr * g / sqrt(S(0) + r->eps);
}

static void ref_adadelta(ref *r, double lr, double t, double *w, double g, double *s) {
  (void)t;
  S(0) = r->rho * S(0) + (1 - r->rho) * g * g;
  double delta = -sqrt(S(1) + r->eps) * g / sqrt(S(0) + r->eps);
  S(1) = r->rho * S(1) + (1 - r->rho) * delta * delta;
  *w += lr * delta;
}

static void ref_adamax(ref *r, double lr, double t, double *w, double g, double *s) {
  S(0) += (g - S(0)) * (1 - r->beta_1);
  S(1) = fmax(r->beta_2 * S(1), fabs(g));
  *w -= lr * S(0) / ((1 - pow(r->beta_1, t)) * (S(1) + r->eps));
}

static void ref_nadam(ref *r, double lr, double t, double *w, double g, double *s) {
  S(0) += (g - S(0)) * (1 - r->beta_1);
  S(1) += (g * g - S(1)) * (1 - r->beta_2);
  double m_hat = r->u_t_1 * S(0) / (1 - r->u_product * r->u_t_1) +
                 (1 - r->u_t) * g / (1 - r->u_product); /* the product already includes u_t */
  double v_hat = S(1) / (1 - pow(r->beta_2, t));
  *w -= m_hat * lr / (sqrt(v_hat) + r->eps);
}

static void ref_lion(ref *r, double lr, double t, double *w, double g, double *s) {
  (void)t;
  double c = r->beta_1 * S(0) + (1 - r->beta_1) * g;
  /* The data keep c away from 0, where float and double could disagree on the sign. */
  assert_true(fabs(c) > 1e-4);
  *w -= lr * (c > 0 ? 1.0 : -1.0);
  S(0) = r->beta_2 * S(0) + (1 - r->beta_2) * g;
}

static void ref_init(ref *r, double scale) {
  for (int i = 0; i < NP; i++) {
    r->w[i] = (double)(float)(W0[i] * scale);
    for (int k = 0; k < MAX_SLOTS; k++)
      r->s[k][i] = r->slot_init;
  }
  r->u_product = 1.0;
  r->iterations = 0;
}

static void ref_step(ref *r, const float *gf) {
  double g[NP];
  for (int i = 0; i < NP; i++)
    g[i] = gf[i];
  const double lr = r->schedule ? r->schedule(r->iterations) : r->lr;
  const double t = r->iterations + 1;
  /* clip */
  if (r->clipnorm > 0) {
    for (int v = 0; v < 3; v++) {
      if (!VARS[v].trainable)
        continue;
      double sum = 0;
      for (size_t i = VARS[v].offset; i < VARS[v].offset + VARS[v].size; i++)
        sum += g[i] * g[i];
      double norm = sqrt(sum);
      for (size_t i = VARS[v].offset; i < VARS[v].offset + VARS[v].size; i++)
        g[i] = g[i] * r->clipnorm / fmax(norm, r->clipnorm);
    }
  } else if (r->global_clipnorm > 0) {
    double sum = 0;
    for (int i = 0; i < NP; i++)
      if (TRAINABLE[i])
        sum += g[i] * g[i];
    double scale = r->global_clipnorm / fmax(sqrt(sum), r->global_clipnorm);
    for (int i = 0; i < NP; i++)
      g[i] *= scale;
  } else if (r->clipvalue > 0) {
    for (int i = 0; i < NP; i++)
      g[i] = fmin(fmax(g[i], -r->clipvalue), r->clipvalue);
  }
  /* decoupled weight decay */
  for (int i = 0; i < NP; i++)
    if (TRAINABLE[i])
      r->w[i] -= r->w[i] * r->wd * lr;
  /* Nadam's momentum schedule: u_product is updated before the variables */
  r->u_t = r->beta_1 * (1 - 0.5 * pow(0.96, t));
  r->u_t_1 = r->beta_1 * (1 - 0.5 * pow(0.96, t + 1));
  r->u_product *= r->u_t;
  for (int i = 0; i < NP; i++)
    if (TRAINABLE[i])
      r->update(r, lr, t, &r->w[i], g[i], &r->s[0][i]);
  r->iterations += 1;
}

/* ---------------------------------------------------------------------------
 * Harness: runs the optimizer and the reference side by side for NSTEPS steps
 * from W0 * scale, comparing every weight and slot after every step.
 * ------------------------------------------------------------------------- */

#define REL_TOL 1e-6
/* Momentum-like slots are differences of terms up to ~0.3 (lr * g / sqrt(v)),
 * so their float32 error is a few ulps of those terms, not of the slot. */
#define SLOT_ABS_TOL 1e-7

/* Returns the largest |w - w0| over the trainable weights (for sensitivity guards). */
static double run_compare(dn_optimizer *opt, ref *r, double scale, float *w_out) {
  assert_non_null(opt);
  assert_ok(dn_optimizer_prepare(opt, NP));
  assert_int_equal(dn_optimizer_slot_count(opt), r->n_slots);
  ref_init(r, scale);
  float w[NP], g[NP];
  for (int i = 0; i < NP; i++)
    w[i] = (float)(W0[i] * scale);
  /* Float32 rounding of 5 updates of up to ~0.2 (lr 0.1) each: a few ulps of
   * the movement, so an absolute part of 3e-7 (scaled with the weights) on top
   * of 1e-6 relative. A wrong rule shows at >= 1e-4. */
  const double abs_tol = 3e-7 * scale;
  for (int step = 0; step < NSTEPS; step++) {
    memcpy(g, G[step], sizeof g);
    assert_ok(dn_optimizer_step(opt, w, g, VARS, 3, INFINITY));
    ref_step(r, G[step]);
    assert_int_equal(dn_optimizer_iterations(opt), step + 1);
    for (int i = 0; i < NP; i++) {
      if (!TRAINABLE[i]) {
        assert_true(w[i] == (float)(W0[i] * scale)); /* untouched, bit for bit */
        continue;
      }
      assert_close(w[i], r->w[i], abs_tol, REL_TOL);
    }
    for (size_t k = 0; k < r->n_slots; k++) {
      const float *s = opt->slots + k * NP;
      for (int i = 0; i < NP; i++) {
        if (TRAINABLE[i])
          dn_assert_close_at(s[i], r->s[k][i], SLOT_ABS_TOL, REL_TOL, "slot", k * NP + i, __FILE__,
                             __LINE__);
        else
          assert_true(s[i] == (float)r->slot_init);
      }
    }
  }
  double moved = 0;
  for (int i = 0; i < NP; i++) {
    if (TRAINABLE[i])
      moved = fmax(moved, fabs(w[i] - W0[i] * scale));
    if (w_out != NULL)
      w_out[i] = w[i];
  }
  /* The comparison must be able to see a wrong rule: the weights moved by far
   * more than the tolerance. */
  assert_true(moved > 1000 * (abs_tol + REL_TOL * scale));
  dn_optimizer_free(opt);
  return moved;
}

static ref base_ref(ref_update_fn update, double lr, size_t n_slots) {
  return (ref){.update = update,
               .lr = lr,
               .n_slots = n_slots,
               .beta_1 = 0.9,
               .beta_2 = 0.999,
               .eps = 1e-7,
               .rho = 0.9};
}

/* Largest |a - b| over the trainable entries. */
static double max_diff(const float *a, const float *b) {
  double d = 0;
  for (int i = 0; i < NP; i++)
    if (TRAINABLE[i])
      d = fmax(d, fabs((double)a[i] - b[i]));
  return d;
}

/* ---------------------------------------------------------------------------
 * Optimizers against the reference
 * ------------------------------------------------------------------------- */

static void test_sgd(void **state) {
  (void)state;
  ref r = base_ref(ref_sgd, 0.01, 0); /* Keras default lr 0.01 */
  run_compare(dn_sgd(.momentum = 0), &r, 1.0, NULL);

  float plain[NP], heavy[NP], nesterov[NP];
  r = base_ref(ref_sgd, 0.1, 0);
  run_compare(dn_sgd(.learning_rate = 0.1), &r, 1.0, plain);
  r = base_ref(ref_sgd, 0.1, 1);
  r.momentum = 0.9;
  run_compare(dn_sgd(.learning_rate = 0.1, .momentum = 0.9), &r, 1.0, heavy);
  r = base_ref(ref_sgd, 0.1, 1);
  r.momentum = 0.9;
  r.nesterov = true;
  run_compare(dn_sgd(.learning_rate = 0.1, .momentum = 0.9, .nesterov = true), &r, 1.0, nesterov);
  assert_true(max_diff(plain, heavy) > 1e-2);
  assert_true(max_diff(heavy, nesterov) > 1e-2);
}

/* Hand-computed: SGD(0.1, momentum 0.9) on loss w^2/2 from w = 1: 0.9, then
 * v = 0.9 * -0.1 - 0.1 * 0.9 = -0.18, w = 0.72. */
static void test_sgd_hand(void **state) {
  (void)state;
  dn_optimizer *opt = dn_sgd(.learning_rate = 0.1, .momentum = 0.9);
  assert_non_null(opt);
  const dn_var var = {.name = "w", .offset = 0, .size = 1, .rows = 1, .cols = 1, .trainable = true};
  assert_ok(dn_optimizer_prepare(opt, 1));
  float w = 1.0f, g = w;
  assert_ok(dn_optimizer_step(opt, &w, &g, &var, 1, INFINITY));
  assert_close(w, 0.9, 0, 1e-7);
  g = w;
  assert_ok(dn_optimizer_step(opt, &w, &g, &var, 1, INFINITY));
  assert_close(w, 0.72, 0, 1e-7);
  dn_optimizer_free(opt);
}

static void test_sgd_weight_decay(void **state) {
  (void)state;
  ref r = base_ref(ref_sgd, 0.1, 1);
  r.momentum = 0.5;
  r.wd = 0.2;
  float with[NP], without[NP];
  run_compare(dn_sgd(.learning_rate = 0.1, .momentum = 0.5, .weight_decay = 0.2), &r, 1.0, with);
  r.wd = 0;
  run_compare(dn_sgd(.learning_rate = 0.1, .momentum = 0.5), &r, 1.0, without);
  assert_true(max_diff(with, without) > 1e-2);
}

static void test_adam(void **state) {
  (void)state;
  ref r = base_ref(ref_adam, 0.001, 2); /* all Keras defaults */
  run_compare(dn_adam(.learning_rate = 0), &r, 0.01, NULL);
  float plain[NP], ams[NP];
  r = base_ref(ref_adam, 0.1, 2);
  r.beta_2 = 0.5; /* v follows recent g^2 and shrinks, so amsgrad's max matters */
  run_compare(dn_adam(.learning_rate = 0.1, .beta_2 = 0.5), &r, 1.0, plain);
  r = base_ref(ref_adam, 0.1, 3);
  r.beta_2 = 0.5;
  r.amsgrad = true;
  run_compare(dn_adam(.learning_rate = 0.1, .beta_2 = 0.5, .amsgrad = true), &r, 1.0, ams);
  assert_true(max_diff(plain, ams) > 1e-3);
  /* A large epsilon: it is added outside the square root. */
  r = base_ref(ref_adam, 0.1, 2);
  r.eps = 0.05;
  r.beta_1 = 0.8;
  run_compare(dn_adam(.learning_rate = 0.1, .epsilon = 0.05, .beta_1 = 0.8), &r, 1.0, NULL);
}

/* Hand-computed first Adam step for g = 0.3: m = 0.03, v = 9e-5,
 * alpha = 0.1 * sqrt(0.001) / 0.1, update = alpha * m / (sqrt(v) + 1e-7)
 * = 0.1 * 0.00948683 / 0.00948693 = 0.0999989459. */
static void test_adam_hand(void **state) {
  (void)state;
  dn_optimizer *opt = dn_adam(.learning_rate = 0.1);
  const dn_var var = {.name = "w", .offset = 0, .size = 1, .rows = 1, .cols = 1, .trainable = true};
  assert_ok(dn_optimizer_prepare(opt, 1));
  float w = 0.5f, g = 0.3f;
  assert_ok(dn_optimizer_step(opt, &w, &g, &var, 1, INFINITY));
  assert_close(w, 0.5 - 0.0999989459, 1e-8, 0);
  dn_optimizer_free(opt);
}

static void test_adamw(void **state) {
  (void)state;
  float adamw[NP], adam[NP], adamw_zero[NP];
  ref r = base_ref(ref_adam, 0.1, 2);
  r.wd = 0.004; /* AdamW's default weight decay */
  run_compare(dn_adamw(.learning_rate = 0.1), &r, 1.0, adamw);
  r.wd = 0.3;
  run_compare(dn_adamw(.learning_rate = 0.1, .weight_decay = 0.3), &r, 1.0, NULL);
  r.wd = 0;
  run_compare(dn_adamw(.learning_rate = 0.1, .weight_decay = DN_ZERO), &r, 1.0, adamw_zero);
  r.wd = 0;
  run_compare(dn_adam(.learning_rate = 0.1), &r, 1.0, adam);
  assert_true(max_diff(adamw_zero, adam) == 0);
  /* The default decay moves the weights: 5 steps of w * 0.004 * 0.1 ~ 1e-3. */
  assert_true(max_diff(adamw, adam) > 1e-4);
  /* Adam takes weight_decay too (Keras's base optimizer option). */
  r.wd = 0.3;
  run_compare(dn_adam(.learning_rate = 0.1, .weight_decay = 0.3), &r, 1.0, NULL);
}

static void test_rmsprop(void **state) {
  (void)state;
  ref r = base_ref(ref_rmsprop, 0.001, 1); /* defaults: rho 0.9 */
  run_compare(dn_rmsprop(.rho = 0), &r, 0.01, NULL);
  r = base_ref(ref_rmsprop, 0.05, 2);
  r.momentum = 0.6;
  run_compare(dn_rmsprop(.learning_rate = 0.05, .momentum = 0.6), &r, 1.0, NULL);
  r = base_ref(ref_rmsprop, 0.05, 2);
  r.centered = true;
  r.rho = 0.7;
  run_compare(dn_rmsprop(.learning_rate = 0.05, .centered = true, .rho = 0.7), &r, 1.0, NULL);
  float centered[NP], plain[NP];
  r = base_ref(ref_rmsprop, 0.05, 3);
  r.centered = true;
  r.momentum = 0.6;
  run_compare(dn_rmsprop(.learning_rate = 0.05, .centered = true, .momentum = 0.6), &r, 1.0,
              centered);
  r = base_ref(ref_rmsprop, 0.05, 2);
  r.momentum = 0.6;
  run_compare(dn_rmsprop(.learning_rate = 0.05, .momentum = 0.6), &r, 1.0, plain);
  assert_true(max_diff(centered, plain) > 1e-3);
}

/* The example in Keras's RMSprop docstring: var 10, loss var^2/2, lr 0.1 -> 9.683772. */
static void test_rmsprop_keras_example(void **state) {
  (void)state;
  dn_optimizer *opt = dn_rmsprop(.learning_rate = 0.1);
  const dn_var var = {.name = "w", .offset = 0, .size = 1, .rows = 1, .cols = 1, .trainable = true};
  assert_ok(dn_optimizer_prepare(opt, 1));
  float w = 10.0f, g = 10.0f;
  assert_ok(dn_optimizer_step(opt, &w, &g, &var, 1, INFINITY));
  assert_close(w, 9.683772, 1e-6, 0);
  dn_optimizer_free(opt);
}

static void test_adagrad(void **state) {
  (void)state;
  ref r = base_ref(ref_adagrad, 0.001, 1);
  r.slot_init = 0.1; /* initial_accumulator_value default */
  run_compare(dn_adagrad(.initial_accumulator_value = 0), &r, 0.01, NULL);
  r = base_ref(ref_adagrad, 0.1, 1);
  r.slot_init = 0.5;
  r.eps = 1e-3;
  run_compare(dn_adagrad(.learning_rate = 0.1, .initial_accumulator_value = 0.5, .epsilon = 1e-3),
              &r, 1.0, NULL);
  r = base_ref(ref_adagrad, 0.1, 1);
  r.slot_init = 0.0;
  run_compare(dn_adagrad(.learning_rate = 0.1, .initial_accumulator_value = DN_ZERO), &r, 1.0,
              NULL);
}

static void test_adadelta(void **state) {
  (void)state;
  ref r = base_ref(ref_adadelta, 0.001, 2); /* defaults: lr 0.001, rho 0.95 */
  r.rho = 0.95;
  run_compare(dn_adadelta(.learning_rate = 0), &r, 1e-5, NULL);
  r = base_ref(ref_adadelta, 1.0, 2);
  r.rho = 0.8;
  r.eps = 1e-3;
  run_compare(dn_adadelta(.learning_rate = 1.0, .rho = 0.8, .epsilon = 1e-3), &r, 1.0, NULL);
}

static void test_adamax(void **state) {
  (void)state;
  ref r = base_ref(ref_adamax, 0.001, 2);
  run_compare(dn_adamax(.learning_rate = 0), &r, 0.01, NULL);
  r = base_ref(ref_adamax, 0.1, 2);
  r.beta_2 = 0.5;
  run_compare(dn_adamax(.learning_rate = 0.1, .beta_2 = 0.5), &r, 1.0, NULL);
}

static void test_nadam(void **state) {
  (void)state;
  ref r = base_ref(ref_nadam, 0.001, 2);
  run_compare(dn_nadam(.learning_rate = 0), &r, 0.01, NULL);
  r = base_ref(ref_nadam, 0.1, 2);
  r.beta_1 = 0.7;
  r.beta_2 = 0.9;
  run_compare(dn_nadam(.learning_rate = 0.1, .beta_1 = 0.7, .beta_2 = 0.9), &r, 1.0, NULL);
}

static void test_lion(void **state) {
  (void)state;
  ref r = base_ref(ref_lion, 0.001, 1);
  r.beta_2 = 0.99; /* Lion's default */
  run_compare(dn_lion(.learning_rate = 0), &r, 0.01, NULL);
  r = base_ref(ref_lion, 0.1, 1);
  r.beta_1 = 0.5;
  r.beta_2 = 0.6;
  float w[NP];
  run_compare(dn_lion(.learning_rate = 0.1, .beta_1 = 0.5, .beta_2 = 0.6), &r, 1.0, w);
  /* Every trainable weight moved by exactly +-0.1 per step: 5 steps of a sign. */
  for (int i = 0; i < NP; i++)
    if (TRAINABLE[i]) {
      double k = (w[i] - W0[i]) / 0.1;
      assert_close(k, round(k), 1e-5, 0);
    }
}

/* ---------------------------------------------------------------------------
 * Clipping and the common step
 * ------------------------------------------------------------------------- */

static void test_clipping(void **state) {
  (void)state;
  /* clipnorm 1: the kernel's gradient (norm 1.73 at step 0) is scaled, the
   * bias's (norm 0.21) is not. */
  ref r = base_ref(ref_sgd, 0.1, 1);
  r.momentum = 0.5;
  r.clipnorm = 1.0;
  float clipped[NP], unclipped[NP];
  run_compare(dn_sgd(.learning_rate = 0.1, .momentum = 0.5, .clipnorm = 1.0), &r, 1.0, clipped);
  r.clipnorm = 0;
  run_compare(dn_sgd(.learning_rate = 0.1, .momentum = 0.5), &r, 1.0, unclipped);
  assert_true(max_diff(clipped, unclipped) > 1e-2);
  r = base_ref(ref_adam, 0.1, 2);
  r.clipnorm = 0.5;
  run_compare(dn_adam(.learning_rate = 0.1, .clipnorm = 0.5), &r, 1.0, NULL);

  r = base_ref(ref_sgd, 0.1, 0);
  r.global_clipnorm = 1.0;
  run_compare(dn_sgd(.learning_rate = 0.1, .global_clipnorm = 1.0), &r, 1.0, NULL);
  r = base_ref(ref_sgd, 0.1, 0);
  r.clipvalue = 0.5;
  run_compare(dn_sgd(.learning_rate = 0.1, .clipvalue = 0.5), &r, 1.0, NULL);

  /* Exact values of one step, by hand. */
  const dn_var v2[2] = {
      {.name = "a", .offset = 0, .size = 2, .rows = 1, .cols = 2, .trainable = true},
      {.name = "b", .offset = 2, .size = 1, .rows = 1, .cols = 1, .trainable = true},
  };
  float w[3] = {0, 0, 0}, g[3] = {3, 4, 0.5f};
  dn_optimizer *opt = dn_sgd(.learning_rate = 1.0, .clipnorm = 2.0);
  assert_ok(dn_optimizer_prepare(opt, 3));
  assert_ok(
      dn_optimizer_step(opt, w, g, v2, 2, INFINITY)); /* a: norm 5 -> (1.2, 1.6); b unchanged */
  assert_close(w[0], -1.2, 0, 1e-7);
  assert_close(w[1], -1.6, 0, 1e-7);
  assert_close(w[2], -0.5, 0, 1e-7);
  dn_optimizer_free(opt);
  float w2[3] = {0, 0, 0}, g2[3] = {3, 4, 12};
  opt = dn_sgd(.learning_rate = 1.0, .global_clipnorm = 6.5); /* global norm 13 -> half */
  assert_ok(dn_optimizer_prepare(opt, 3));
  assert_ok(dn_optimizer_step(opt, w2, g2, v2, 2, INFINITY));
  assert_close(w2[0], -1.5, 0, 1e-7);
  assert_close(w2[1], -2.0, 0, 1e-7);
  assert_close(w2[2], -6.0, 0, 1e-7);
  dn_optimizer_free(opt);
  /* A non-finite global norm makes every gradient NaN (Keras's clip_by_global_norm), so the
   * step would write NaN weights: it is refused and nothing changes. */
  float w3[3] = {0, 0, 0}, g3[3] = {INFINITY, 1, 1};
  opt = dn_sgd(.learning_rate = 1.0, .global_clipnorm = 1.0);
  assert_ok(dn_optimizer_prepare(opt, 3));
  assert_status_msg(dn_optimizer_step(opt, w3, g3, v2, 2, INFINITY), DN_ERR_NUMERIC, "Inf or NaN");
  assert_true(w3[0] == 0 && w3[1] == 0 && w3[2] == 0);
  assert_int_equal(dn_optimizer_iterations(opt), 0);
  dn_optimizer_free(opt);
}

/* ---------------------------------------------------------------------------
 * Overflow: a step whose update would leave the finite float range is refused
 * (DN_ERR_NUMERIC) before anything is written.
 * ------------------------------------------------------------------------- */

typedef struct overflow_case {
  const char *label;
  dn_optimizer *opt;
  float w0[3];  /* start */
  float bad[3]; /* gradients whose update overflows */
} overflow_case;

/* w, slots, iterations and Nadam's product, to compare before and after a refused step. */
typedef struct opt_state {
  float w[3];
  float slots[3 * MAX_SLOTS];
  uint64_t iterations;
  double u_product;
} opt_state;

static opt_state state_of(const dn_optimizer *opt, const float *w) {
  opt_state s;
  memset(&s, 0, sizeof s);
  memcpy(s.w, w, sizeof s.w);
  if (opt->n_slots > 0)
    memcpy(s.slots, opt->slots, opt->n_slots * 3 * sizeof(float));
  s.iterations = opt->iterations;
  s.u_product = opt->nadam_u_product;
  return s;
}

static void test_overflow_refused(void **state) {
  (void)state;
  /* HUGE_G^2 = 1e60: the moments (1 - beta_2) g^2, c g^2 of every rule exceed FLT_MAX
   * (3.4e38) also when computed exactly. */
  const float BIG = 3e38f, HUGE_G = 1e30f;
  overflow_case cases[] = {
      {"sgd", dn_sgd(.learning_rate = 1.0), {BIG, 0.5f, -0.5f}, {-BIG, 0.1f, 0.2f}},
      {"sgd momentum",
       dn_sgd(.learning_rate = 1.0, .momentum = 0.9),
       {BIG, 0.5f, -0.5f},
       {-BIG, 0.1f, 0.2f}},
      {"sgd nesterov",
       dn_sgd(.learning_rate = 1.0, .momentum = 0.9, .nesterov = true),
       {BIG, 0.5f, -0.5f},
       {-BIG, 0.1f, 0.2f}},
      {"adam", dn_adam(), {0.5f, -0.5f, 0.25f}, {HUGE_G, 0.1f, 0.2f}},
      {"adam amsgrad", dn_adam(.amsgrad = true), {0.5f, -0.5f, 0.25f}, {0.1f, -HUGE_G, 0.2f}},
      {"adamw", dn_adamw(), {0.5f, -0.5f, 0.25f}, {0.1f, 0.2f, HUGE_G}},
      {"rmsprop", dn_rmsprop(), {0.5f, -0.5f, 0.25f}, {HUGE_G, 0.1f, 0.2f}},
      {"rmsprop centered momentum",
       dn_rmsprop(.centered = true, .momentum = 0.5),
       {0.5f, -0.5f, 0.25f},
       {HUGE_G, 0.1f, 0.2f}},
      {"adagrad", dn_adagrad(), {0.5f, -0.5f, 0.25f}, {HUGE_G, 0.1f, 0.2f}},
      {"adadelta", dn_adadelta(), {0.5f, -0.5f, 0.25f}, {HUGE_G, 0.1f, 0.2f}},
      /* Adamax has no g * g: the first step moves each weight by lr = 3e38 (m / u = 1 / (1 -
       * beta_1) there), so weight 0 is -2e38; the huge gradient moves it by another
       * lr (0.1 / 0.19) = 1.6e38 (m / u is 0.1 and 1 - beta_1^2 is 0.19). */
      {"adamax", dn_adamax(.learning_rate = 3e38), {1e38f, -BIG, 1e38f}, {1e30f, 0.1f, 0.2f}},
      {"nadam", dn_nadam(), {0.5f, -0.5f, 0.25f}, {HUGE_G, 0.1f, 0.2f}},
      /* Lion moves by lr * sign: 2e38 + 2e38 overflows. */
      {"lion", dn_lion(.learning_rate = 2e38), {0.5f, -0.5f, 0.25f}, {0.1f, -1, 0.2f}},
  };
  const dn_var var = {
      .name = "kernel", .offset = 0, .size = 3, .rows = 1, .cols = 3, .trainable = true};
  const float good[2][3] = {{0.1f, -0.2f, 0.3f}, {-0.05f, 0.4f, -0.1f}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    overflow_case *oc = &cases[c];
    print_message("  %s\n", oc->label);
    dn_optimizer *opt = oc->opt, *twin = dn_optimizer_with(opt->options);
    assert_non_null(opt);
    assert_non_null(twin);
    assert_ok(dn_optimizer_prepare(opt, 3));
    assert_ok(dn_optimizer_prepare(twin, 3));
    float w[3], tw[3], g[3];
    memcpy(w, oc->w0, sizeof w);
    memcpy(tw, oc->w0, sizeof tw);
    /* An ordinary step first, so the slots hold something. */
    memcpy(g, good[0], sizeof g);
    assert_ok(dn_optimizer_step(opt, w, g, &var, 1, INFINITY));
    memcpy(g, good[0], sizeof g);
    assert_ok(dn_optimizer_step(twin, tw, g, &var, 1, INFINITY));
    const opt_state before = state_of(opt, w);
    for (int i = 0; i < 3; i++)
      assert_true(isfinite(w[i]));
    /* The step that would overflow: refused, nothing written. */
    memcpy(g, oc->bad, sizeof g);
    assert_status_msg(dn_optimizer_step(opt, w, g, &var, 1, INFINITY), DN_ERR_NUMERIC,
                      "Inf or NaN");
    assert_non_null(strstr(dn_last_error(), oc->opt->name));
    const opt_state after = state_of(opt, w);
    assert_memory_equal(&after, &before, sizeof before);
    /* The optimizer goes on as if the refused step had never been asked for (its twin). */
    memcpy(g, good[1], sizeof g);
    if (dn_optimizer_step(opt, w, g, &var, 1, INFINITY) != DN_OK)
      fail_msg("%s", dn_last_error());
    memcpy(g, good[1], sizeof g);
    assert_ok(dn_optimizer_step(twin, tw, g, &var, 1, INFINITY));
    const opt_state a = state_of(opt, w), b = state_of(twin, tw);
    assert_memory_equal(&a, &b, sizeof a);
    dn_optimizer_free(opt);
    dn_optimizer_free(twin);
  }
  /* Decoupled weight decay overflows on its own: w - w * wd * lr with w * 1e30 > FLT_MAX. */
  dn_optimizer *opt = dn_sgd(.learning_rate = 1.0, .weight_decay = 1e30);
  assert_ok(dn_optimizer_prepare(opt, 3));
  float w[3] = {0.5f, 2e10f, 1}, g[3] = {0.1f, 0.1f, 0.1f};
  assert_status_msg(dn_optimizer_step(opt, w, g, &var, 1, INFINITY), DN_ERR_NUMERIC, "Inf or NaN");
  assert_true(w[0] == 0.5f && w[1] == 2e10f && w[2] == 1);
  assert_int_equal(dn_optimizer_iterations(opt), 0);
  dn_optimizer_free(opt);
}

/* The same on the threaded path (a block of at least 2 * 32768 parameters): one element's
 * overflow at the far end refuses the whole step. */
static void test_overflow_refused_big(void **state) {
  (void)state;
  enum { N = 100003 };
  float *w = malloc(N * sizeof *w), *g = malloc(N * sizeof *g), *w0 = malloc(N * sizeof *w0);
  assert_non_null(w);
  assert_non_null(g);
  assert_non_null(w0);
  for (size_t i = 0; i < N; i++) {
    w[i] = w0[i] = (float)((double)(i % 17) / 17.0 - 0.5);
    g[i] = (float)((double)(i % 13) / 13.0 - 0.4);
  }
  const dn_var var = {
      .name = "kernel", .offset = 0, .size = N, .rows = 1, .cols = N, .trainable = true};
  dn_optimizer *opt = dn_adam();
  assert_ok(dn_optimizer_prepare(opt, N));
  g[N - 2] = 1e30f;
  assert_status_msg(dn_optimizer_step(opt, w, g, &var, 1, INFINITY), DN_ERR_NUMERIC, "Inf or NaN");
  assert_memory_equal(w, w0, N * sizeof *w);
  for (size_t i = 0; i < 2 * N; i++)
    assert_true(opt->slots[i] == 0.0f);
  assert_int_equal(dn_optimizer_iterations(opt), 0);
  g[N - 2] = 0.5f;
  assert_ok(dn_optimizer_step(opt, w, g, &var, 1, INFINITY));
  assert_int_equal(dn_optimizer_iterations(opt), 1);
  dn_optimizer_free(opt);
  free(w);
  free(g);
  free(w0);
}

/* Large but representable: each step is applied, against the rule worked out here in double.
 * g = 1e18 (g^2 = 1e36 < FLT_MAX) is Keras's float32 step; g = 1e20 overflows g * g in float32
 * (1e40), but the moments 0.001 g^2 = 1e37 fit, so Adam's and Nadam's steps are finite. */
static void test_large_gradients_applied(void **state) {
  (void)state;
  const double w0 = 0.5;
  const dn_var var = {.name = "b", .offset = 0, .size = 1, .rows = 1, .cols = 1, .trainable = true};
  const double g18 = 1e18, g20 = 1e20;
  /* Nadam at t = 1: u_t = 0.9 (1 - 0.5 * 0.96), u_t1 = 0.9 (1 - 0.5 * 0.96^2). */
  const double u_t = 0.9 * (1 - 0.5 * 0.96), u_t1 = 0.9 * (1 - 0.5 * 0.96 * 0.96);
  const double nadam_m_hat = u_t1 * (0.1 * g20) / (1 - u_t * u_t1) + (1 - u_t) * g20 / (1 - u_t);
  struct {
    dn_optimizer *opt;
    double g, expected, v; /* v: the second slot after the step (0: not checked) */
  } cases[] = {
      /* Adam: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(1 - 0.999) / (1 - 0.9). */
      {dn_adam(.learning_rate = 0.01), g18,
       w0 - (0.1 * g18) * (0.01 * sqrt(1 - 0.999) / (1 - 0.9)) / (sqrt(0.001 * g18 * g18) + 1e-7),
       0.001 * g18 * g18},
      {dn_adam(.learning_rate = 0.01), g20,
       w0 - (0.1 * g20) * (0.01 * sqrt(1 - 0.999) / (1 - 0.9)) / (sqrt(0.001 * g20 * g20) + 1e-7),
       0.001 * g20 * g20},
      /* AdamW: w first decays by w * 0.004 * lr. */
      {dn_adamw(.learning_rate = 0.01), g20,
       w0 * (1 - 0.004 * 0.01) -
           (0.1 * g20) * (0.01 * sqrt(1 - 0.999) / (1 - 0.9)) / (sqrt(0.001 * g20 * g20) + 1e-7),
       0.001 * g20 * g20},
      /* Nadam: w -= lr m_hat / (sqrt(v / (1 - 0.999)) + eps). */
      {dn_nadam(.learning_rate = 0.01), g20,
       w0 - nadam_m_hat * 0.01 / (sqrt(0.001 * g20 * g20 / (1 - 0.999)) + 1e-7), 0.001 * g20 * g20},
      /* RMSprop: v = 0.1 g^2, w -= lr g / sqrt(v + eps). */
      {dn_rmsprop(.learning_rate = 0.01), g18, w0 - 0.01 * g18 / sqrt(0.1 * g18 * g18 + 1e-7), 0},
      /* Adagrad: acc = 0.1 + g^2, w -= lr g / sqrt(acc + eps). */
      {dn_adagrad(.learning_rate = 0.01), g18, w0 - 0.01 * g18 / sqrt(0.1 + g18 * g18 + 1e-7), 0},
      /* SGD: w -= lr g. */
      {dn_sgd(.learning_rate = 1e-20), g18, w0 - 1e-20 * g18, 0},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    dn_optimizer *opt = cases[c].opt;
    print_message("  %s, g = %g\n", opt->name, cases[c].g);
    assert_ok(dn_optimizer_prepare(opt, 1));
    float w = (float)w0, g = (float)cases[c].g;
    assert_ok(dn_optimizer_step(opt, &w, &g, &var, 1, INFINITY));
    assert_true(isfinite(w));
    assert_close(w, cases[c].expected, 1e-7, 1e-6);
    assert_true(fabs(w - w0) > 1e-3); /* it moved */
    for (size_t k = 0; k < opt->n_slots; k++)
      assert_true(isfinite(opt->slots[k]));
    if (cases[c].v != 0)
      assert_close(opt->slots[1], cases[c].v, 0, 1e-6);
    assert_int_equal(dn_optimizer_iterations(opt), 1);
    dn_optimizer_free(opt);
  }
}

/* A step with one huge (but representable) gradient goes the checked way (its bounds do not
 * hold); every other element must get the bits the plain loop gives it, step after step. */
static void test_checked_path_same_bits(void **state) {
  (void)state;
  struct {
    dn_optimizer *opt;
    float huge; /* beyond the optimizer's bound, with a finite exact step */
  } cases[] = {
      {dn_sgd(.learning_rate = 1.0), 1e38f},
      {dn_sgd(.learning_rate = 1.0, .momentum = 0.9), 1e38f},
      {dn_sgd(.learning_rate = 1.0, .momentum = 0.9, .nesterov = true), 1e38f},
      {dn_adam(), 1e20f},
      {dn_adam(.amsgrad = true), 1e20f},
      {dn_adamw(.weight_decay = 0.1), 1e20f},
      {dn_rmsprop(), 1e19f},
      {dn_rmsprop(.momentum = 0.5), 1e19f},
      {dn_rmsprop(.centered = true), 1e19f},
      {dn_rmsprop(.centered = true, .momentum = 0.5), 1e19f},
      {dn_adagrad(), 1e19f},
      {dn_adadelta(), 1e19f},
      {dn_adamax(), 1e34f},
      {dn_nadam(), 1e20f},
      {dn_lion(), 1e38f},
  };
  const dn_var var = {
      .name = "kernel", .offset = 0, .size = 3, .rows = 1, .cols = 3, .trainable = true};
  const float grads[3][3] = {{0.1f, -0.2f, 0.3f}, {-0.05f, 0.4f, -0.1f}, {0.2f, 0.1f, -0.3f}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    dn_optimizer *plain = cases[c].opt, *checked = dn_optimizer_with(plain->options);
    print_message("  %s\n", plain->name);
    assert_ok(dn_optimizer_prepare(plain, 3));
    assert_ok(dn_optimizer_prepare(checked, 3));
    float wp[3] = {0.5f, -0.25f, 0.75f}, wc[3] = {0.5f, -0.25f, 0.75f};
    for (int step = 0; step < 3; step++) {
      float gp[3], gc[3];
      memcpy(gp, grads[step], sizeof gp);
      memcpy(gc, grads[step], sizeof gc);
      if (step == 1)
        gc[2] = cases[c].huge;
      assert_ok(dn_optimizer_step(plain, wp, gp, &var, 1, INFINITY));
      assert_ok(dn_optimizer_step(checked, wc, gc, &var, 1, INFINITY));
      assert_memory_equal(wp, wc, 2 * sizeof(float));
      assert_true(isfinite(wc[2]));
      for (size_t k = 0; k < plain->n_slots; k++)
        assert_memory_equal(plain->slots + 3 * k, checked->slots + 3 * k, 2 * sizeof(float));
    }
    assert_int_equal(dn_optimizer_iterations(checked), 3);
    dn_optimizer_free(plain);
    dn_optimizer_free(checked);
  }
}

/* epsilon 0 and a zero gradient on fresh slots: Adam's m / (sqrt(v) + eps) and centered
 * RMSprop's g / sqrt(vel - avg^2 + eps) are 0 / 0 there, NaN in Keras's float32: refused, with
 * nothing written; with a nonzero gradient everywhere the same optimizers step. */
static void test_zero_denominator_refused(void **state) {
  (void)state;
  const dn_var var = {
      .name = "kernel", .offset = 0, .size = 3, .rows = 1, .cols = 3, .trainable = true};
  for (int c = 0; c < 3; c++) {
    dn_optimizer *opt = c == 0   ? dn_adam(.epsilon = DN_ZERO)
                        : c == 1 ? dn_rmsprop(.centered = true, .epsilon = DN_ZERO)
                                 : dn_adamax(.epsilon = DN_ZERO);
    assert_non_null(opt);
    print_message("  %s\n", opt->name);
    assert_ok(dn_optimizer_prepare(opt, 3));
    float w[3] = {0.5f, -0.25f, 0.75f}, g[3] = {0.1f, 0.0f, -0.2f};
    assert_status_msg(dn_optimizer_step(opt, w, g, &var, 1, INFINITY), DN_ERR_NUMERIC,
                      "element 1 (gradient 0");
    assert_true(w[0] == 0.5f && w[1] == -0.25f && w[2] == 0.75f);
    for (size_t i = 0; i < opt->n_slots * 3; i++)
      assert_true(opt->slots[i] == 0.0f);
    assert_int_equal(dn_optimizer_iterations(opt), 0);
    g[1] = 0.3f;
    assert_ok(dn_optimizer_step(opt, w, g, &var, 1, INFINITY));
    for (int i = 0; i < 3; i++)
      assert_true(isfinite(w[i]) && fabsf(w[i] - (float[]){0.5f, -0.25f, 0.75f}[i]) > 1e-4f);
    dn_optimizer_free(opt);
  }
}

/* No trainable variable: Keras's apply() is a no-op and the counter stays. */
static void test_nothing_trainable(void **state) {
  (void)state;
  dn_optimizer *opt = dn_adam();
  assert_ok(dn_optimizer_prepare(opt, NP));
  float w[NP], g[NP];
  memcpy(w, W0, sizeof w);
  memcpy(g, G[0], sizeof g);
  const dn_var frozen = {.name = "moving_mean", .offset = 3, .size = 2, .trainable = false};
  assert_ok(dn_optimizer_step(opt, w, g, &frozen, 1, INFINITY));
  assert_ok(dn_optimizer_step(opt, w, g, NULL, 0, INFINITY));
  assert_int_equal(dn_optimizer_iterations(opt), 0);
  assert_memory_equal(w, W0, sizeof w);
  dn_optimizer_free(opt);
}

/* ---------------------------------------------------------------------------
 * Schedules
 * ------------------------------------------------------------------------- */

/* The learning rate reported before each of `n` steps. */
static void schedule_values(dn_optimizer *opt, size_t n, double *out) {
  assert_non_null(opt);
  const dn_var var = {.name = "w", .offset = 0, .size = 1, .rows = 1, .cols = 1, .trainable = true};
  assert_ok(dn_optimizer_prepare(opt, 1));
  float w = 1.0f;
  for (size_t i = 0; i < n; i++) {
    out[i] = dn_optimizer_learning_rate(opt);
    float g = 1.0f;
    assert_ok(dn_optimizer_step(opt, &w, &g, &var, 1, INFINITY));
  }
  dn_optimizer_free(opt);
}

static void test_schedules(void **state) {
  (void)state;
  double lr[21];
  schedule_values(dn_sgd(.schedule = dn_exponential_decay(.initial_learning_rate = 0.1,
                                                          .decay_steps = 10, .decay_rate = 0.5)),
                  21, lr);
  assert_close(lr[0], 0.1, 0, 1e-12);
  assert_close(lr[5], 0.0707107, 0, 1e-6); /* 0.1 * 0.5^0.5 */
  assert_close(lr[10], 0.05, 0, 1e-12);
  assert_close(lr[20], 0.025, 0, 1e-12);
  schedule_values(
      dn_sgd(.schedule = dn_exponential_decay(.initial_learning_rate = 0.1, .decay_steps = 10,
                                              .decay_rate = 0.5, .staircase = true)),
      21, lr);
  assert_close(lr[5], 0.1, 0, 1e-12);
  assert_close(lr[9], 0.1, 0, 1e-12);
  assert_close(lr[10], 0.05, 0, 1e-12);
  assert_close(lr[19], 0.05, 0, 1e-12);
  assert_close(lr[20], 0.025, 0, 1e-12);

  /* 0.1 / (1 + 0.5 * step / 2) */
  schedule_values(dn_adam(.schedule = dn_inverse_time_decay(.initial_learning_rate = 0.1,
                                                            .decay_steps = 2, .decay_rate = 0.5)),
                  5, lr);
  assert_close(lr[0], 0.1, 0, 1e-12);
  assert_close(lr[1], 0.08, 0, 1e-12);
  assert_close(lr[2], 0.0666666667, 0, 1e-9);
  assert_close(lr[4], 0.05, 0, 1e-12);
  schedule_values(
      dn_adam(.schedule = dn_inverse_time_decay(.initial_learning_rate = 0.1, .decay_steps = 2,
                                                .decay_rate = 0.5, .staircase = true)),
      5, lr);
  assert_close(lr[1], 0.1, 0, 1e-12);
  assert_close(lr[3], 0.0666666667, 0, 1e-9);
  assert_close(lr[4], 0.05, 0, 1e-12);

  /* values[i] while step <= boundaries[i] */
  double boundaries[2] = {2, 5}, values[3] = {1.0, 0.5, 0.1};
  dn_optimizer *opt =
      dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = boundaries, .values = values,
                                                     .n_boundaries = 2));
  boundaries[0] = 100; /* the optimizer holds its own copy */
  values[0] = 7;
  const double expect_pw[8] = {1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1};
  schedule_values(opt, 8, lr);
  assert_close_array(lr, expect_pw, 8, 0, 0);

  /* 0.1 * ((1 - 0.2) * 0.5 * (1 + cos(pi * step / 4)) + 0.2), held after step 4 */
  schedule_values(dn_sgd(.schedule = dn_cosine_decay(.initial_learning_rate = 0.1, .decay_steps = 4,
                                                     .alpha = 0.2)),
                  7, lr);
  const double expect_cos[7] = {0.1, 0.088284271, 0.06, 0.031715729, 0.02, 0.02, 0.02};
  assert_close_array(lr, expect_cos, 7, 0, 1e-8);

  /* Warmup from 0 to 0.2 over 2 steps, then cosine to 0 over 4. */
  schedule_values(dn_sgd(.schedule = dn_cosine_decay(.initial_learning_rate = 0, .decay_steps = 4,
                                                     .warmup_target = 0.2, .warmup_steps = 2)),
                  9, lr);
  const double expect_warm[9] = {0, 0.1, 0.2, 0.170710678, 0.1, 0.029289322, 0, 0, 0};
  assert_close_array(lr, expect_warm, 9, 1e-15, 1e-8);
  /* warmup_target DN_ZERO: warm up to exactly 0 (0 would mean no warmup). */
  schedule_values(dn_sgd(.schedule = dn_cosine_decay(.initial_learning_rate = 0.1, .decay_steps = 4,
                                                     .warmup_target = DN_ZERO, .warmup_steps = 2)),
                  4, lr);
  const double expect_zero[4] = {0.1, 0.05, 0, 0};
  assert_close_array(lr, expect_zero, 4, 1e-15, 1e-12);
}

static double exp_schedule(double step) {
  return 0.2 * pow(0.5, step / 2);
}

/* The scheduled rate drives both the update and AdamW's decay at every step. */
static void test_schedule_in_step(void **state) {
  (void)state;
  ref r = base_ref(ref_adam, 0, 2);
  r.schedule = exp_schedule;
  r.wd = 0.1;
  run_compare(dn_adamw(.weight_decay = 0.1,
                       .schedule = dn_exponential_decay(.initial_learning_rate = 0.2,
                                                        .decay_steps = 2, .decay_rate = 0.5)),
              &r, 1.0, NULL);
  dn_optimizer *opt =
      dn_adam(.schedule = dn_exponential_decay(.initial_learning_rate = 0.2, .decay_steps = 2,
                                               .decay_rate = 0.5));
  assert_status_msg(dn_optimizer_set_learning_rate(opt, 0.5), DN_ERR_STATE, "schedule");
  assert_close(dn_optimizer_learning_rate(opt), 0.2, 0, 1e-12);
  dn_optimizer_free(opt);
}

/* ---------------------------------------------------------------------------
 * Options, accessors, state
 * ------------------------------------------------------------------------- */

static void test_defaults_and_names(void **state) {
  (void)state;
  static const struct {
    const char *name;
    double lr;
  } cases[] = {{"sgd", 0.01},      {"adam", 0.001},    {"adamw", 0.001},
               {"rmsprop", 0.001}, {"adagrad", 0.001}, {"adadelta", 0.001},
               {"adamax", 0.001},  {"nadam", 0.001},   {"lion", 0.001}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dn_optimizer *opt = dn_optimizer_with((dn_optimizer_options){.name = cases[i].name});
    assert_non_null(opt);
    assert_string_equal(opt->name, cases[i].name);
    assert_close(dn_optimizer_learning_rate(opt), cases[i].lr, 0, 0);
    assert_int_equal(dn_optimizer_iterations(opt), 0);
    dn_optimizer_free(opt);
  }
  dn_optimizer *opt = dn_optimizer_with((dn_optimizer_options){.name = "RMSprop"});
  assert_non_null(opt);
  assert_string_equal(opt->name, "rmsprop");
  assert_close(opt->options.rho, 0.9, 0, 0);
  assert_close(opt->options.epsilon, 1e-7, 0, 0);
  dn_optimizer_free(opt);
  opt = dn_optimizer_with((dn_optimizer_options){.name = "SGD"});
  assert_string_equal(opt->name, "sgd");
  dn_optimizer_free(opt);
  opt = dn_adadelta();
  assert_close(opt->options.rho, 0.95, 0, 0);
  dn_optimizer_free(opt);
  opt = dn_lion();
  assert_close(opt->options.beta_1, 0.9, 0, 0);
  assert_close(opt->options.beta_2, 0.99, 0, 0);
  dn_optimizer_free(opt);
  opt = dn_adamw();
  assert_close(opt->options.weight_decay, 0.004, 0, 0);
  assert_close(opt->options.beta_2, 0.999, 0, 0);
  dn_optimizer_free(opt);
  opt = dn_adagrad();
  assert_close(opt->options.initial_accumulator_value, 0.1, 0, 0);
  dn_optimizer_free(opt);
}

static void test_dn_zero(void **state) {
  (void)state;
  ref r = base_ref(ref_adam, 0.1, 2);
  r.beta_1 = 0;
  r.eps = 0;
  run_compare(dn_adam(.learning_rate = 0.1, .beta_1 = DN_ZERO, .epsilon = DN_ZERO), &r, 1.0, NULL);
  r = base_ref(ref_rmsprop, 0.05, 1);
  r.rho = 0;
  run_compare(dn_rmsprop(.learning_rate = 0.05, .rho = DN_ZERO), &r, 1.0, NULL);
  r = base_ref(ref_nadam, 0.1, 2);
  r.beta_1 = 0;
  run_compare(dn_nadam(.learning_rate = 0.1, .beta_1 = DN_ZERO), &r, 1.0, NULL);
  r = base_ref(ref_adam, 0.1, 2);
  r.beta_2 = 0;
  run_compare(dn_adam(.learning_rate = 0.1, .beta_2 = DN_ZERO), &r, 1.0, NULL);
  /* learning_rate DN_ZERO: nothing moves, the counter still runs. */
  dn_optimizer *opt = dn_sgd(.learning_rate = DN_ZERO, .momentum = 0.9);
  assert_close(dn_optimizer_learning_rate(opt), 0, 0, 0);
  assert_ok(dn_optimizer_prepare(opt, NP));
  float w[NP], g[NP];
  memcpy(w, W0, sizeof w);
  for (int step = 0; step < 3; step++) {
    memcpy(g, G[step], sizeof g);
    assert_ok(dn_optimizer_step(opt, w, g, VARS, 3, INFINITY));
  }
  assert_memory_equal(w, W0, sizeof w);
  assert_int_equal(dn_optimizer_iterations(opt), 3);
  dn_optimizer_free(opt);
}

#define assert_create_fails(expr, needle)                                                          \
  do {                                                                                             \
    dn_optimizer *o_ = (expr);                                                                     \
    if (o_ != NULL) {                                                                              \
      dn_optimizer_free(o_);                                                                       \
      fail_msg("%s succeeded", #expr);                                                             \
    }                                                                                              \
    assert_int_equal(dn_last_status(), DN_ERR_ARG);                                                \
    if (strstr(dn_last_error(), (needle)) == NULL)                                                 \
      fail_msg("%s: message '%s' lacks '%s'", #expr, dn_last_error(), (needle));                   \
  } while (0)

static void test_bad_options(void **state) {
  (void)state;
  assert_create_fails(dn_optimizer_with((dn_optimizer_options){.learning_rate = 0.1}),
                      "name is NULL");
  assert_create_fails(dn_optimizer_with((dn_optimizer_options){.name = "adamm"}), "'adamm'");
  assert_create_fails(dn_adam(.learning_rate = -0.1), "learning_rate");
  assert_create_fails(dn_adam(.learning_rate = NAN), "learning_rate");
  assert_create_fails(dn_sgd(.learning_rate = INFINITY), "learning_rate");
  assert_create_fails(dn_adam(.epsilon = -1e-8), "epsilon");
  assert_create_fails(dn_adam(.beta_1 = 1.0), "beta_1");
  assert_create_fails(dn_nadam(.beta_2 = 1.5), "beta_2");
  assert_create_fails(dn_adamax(.beta_2 = -0.5), "beta_2");
  assert_create_fails(dn_lion(.beta_1 = DN_ZERO), "beta_1"); /* Keras: (0, 1] */
  assert_create_fails(dn_lion(.beta_2 = 1.5), "beta_2");
  assert_create_fails(dn_sgd(.momentum = 1.5), "momentum");
  assert_create_fails(dn_rmsprop(.momentum = -0.5), "momentum");
  assert_create_fails(dn_rmsprop(.rho = 2), "rho");
  assert_create_fails(dn_adamw(.weight_decay = -0.1), "weight_decay");
  assert_create_fails(dn_adagrad(.initial_accumulator_value = -1), "initial_accumulator_value");
  assert_create_fails(dn_sgd(.clipnorm = 1, .clipvalue = 1), "only one of");
  assert_create_fails(dn_adam(.global_clipnorm = 1, .clipnorm = 2), "only one of");
  assert_create_fails(dn_adam(.clipnorm = -1), "clipnorm");
  assert_create_fails(
      dn_sgd(.schedule = dn_exponential_decay(.initial_learning_rate = 0.1, .decay_rate = 0.5)),
      "decay_steps");
  assert_create_fails(
      dn_sgd(.schedule = dn_cosine_decay(.initial_learning_rate = 0.1, .decay_steps = -3)),
      "decay_steps");
  assert_create_fails(dn_sgd(.schedule = dn_inverse_time_decay(.initial_learning_rate = 0.1,
                                                               .decay_steps = 0, .decay_rate = 1)),
                      "InverseTimeDecay decay_steps");
  assert_create_fails(dn_sgd(.schedule = dn_exponential_decay(.initial_learning_rate = 0.1,
                                                              .decay_steps = 2, .decay_rate = -1)),
                      "decay_rate");
  assert_create_fails(dn_sgd(.schedule = dn_exponential_decay(.initial_learning_rate = -0.1,
                                                              .decay_steps = 2, .decay_rate = 1)),
                      "initial_learning_rate");
  assert_create_fails(dn_sgd(.schedule = dn_cosine_decay(.initial_learning_rate = 0.1,
                                                         .decay_steps = 3, .alpha = 2)),
                      "alpha");
  assert_create_fails(dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = (double[]){5, 2},
                                                                     .values = (double[]){1, 2, 3},
                                                                     .n_boundaries = 2)),
                      "strictly increasing");
  assert_create_fails(dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = (double[]){2, 2},
                                                                     .values = (double[]){1, 2, 3},
                                                                     .n_boundaries = 2)),
                      "strictly increasing");
  assert_create_fails(
      dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = (double[]){2}, .values = NULL,
                                                     .n_boundaries = 1)),
      "values NULL");
  assert_create_fails(dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = (double[]){2},
                                                                     .values = (double[]){1, 2},
                                                                     .n_boundaries = 0)),
                      "n_boundaries");
  assert_create_fails(dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = (double[]){2},
                                                                     .values = (double[]){1, -2},
                                                                     .n_boundaries = 1)),
                      "values[1]");
  assert_create_fails(dn_sgd(.schedule = (dn_schedule){.kind = (dn_schedule_kind)99}),
                      "schedule kind");
  /* Options an optimizer does not have are ignored. */
  dn_optimizer *opt = dn_sgd(.beta_1 = 7, .rho = -3, .epsilon = -1);
  assert_non_null(opt);
  dn_optimizer_free(opt);
}

static void test_accessors(void **state) {
  (void)state;
  dn_optimizer *opt = dn_sgd();
  assert_close(dn_optimizer_learning_rate(opt), 0.01, 0, 0);
  assert_ok(dn_optimizer_set_learning_rate(opt, 0.5));
  assert_close(dn_optimizer_learning_rate(opt), 0.5, 0, 0);
  assert_status_msg(dn_optimizer_set_learning_rate(opt, -1), DN_ERR_ARG, "learning_rate");
  assert_status_msg(dn_optimizer_set_learning_rate(opt, NAN), DN_ERR_ARG, "learning_rate");
  assert_close(dn_optimizer_learning_rate(opt), 0.5, 0, 0);
  assert_status_msg(dn_optimizer_set_learning_rate(NULL, 0.1), DN_ERR_ARG, "optimizer");
  assert_true(isnan(dn_optimizer_learning_rate(NULL)));
  assert_int_equal(dn_optimizer_iterations(NULL), 0);

  const dn_var var = {.name = "w", .offset = 0, .size = 2, .rows = 1, .cols = 2, .trainable = true};
  assert_ok(dn_optimizer_prepare(opt, 2));
  float w[2] = {1, 2}, g[2] = {0.5f, -1};
  assert_ok(dn_optimizer_step(opt, w, g, &var, 1, INFINITY)); /* the new rate is used */
  assert_close(w[0], 0.75, 0, 1e-7);
  assert_close(w[1], 2.5, 0, 1e-7);
  for (int i = 0; i < 4; i++)
    assert_ok(dn_optimizer_step(opt, w, g, &var, 1, INFINITY));
  assert_int_equal(dn_optimizer_iterations(opt), 5);
  dn_optimizer_free(opt);
  dn_optimizer_free(NULL);
}

static void test_step_errors(void **state) {
  (void)state;
  dn_optimizer *opt = dn_adam();
  float w[NP], g[NP];
  memcpy(w, W0, sizeof w);
  memcpy(g, G[0], sizeof g);
  /* Never prepared: its slots cover no parameter. */
  assert_status_msg(dn_optimizer_step(opt, w, g, VARS, 3, INFINITY), DN_ERR_SHAPE, "prepared for");
  assert_ok(dn_optimizer_prepare(opt, NP));
  assert_status_msg(dn_optimizer_step(NULL, w, g, VARS, 3, INFINITY), DN_ERR_ARG, "opt is NULL");
  assert_status_msg(dn_optimizer_step(opt, NULL, g, VARS, 3, INFINITY), DN_ERR_ARG, "w is NULL");
  assert_status_msg(dn_optimizer_step(opt, w, NULL, VARS, 3, INFINITY), DN_ERR_ARG, "g is NULL");
  assert_status_msg(dn_optimizer_step(opt, w, g, NULL, 3, INFINITY), DN_ERR_ARG, "vars is NULL");
  const dn_var bad[2] = {
      {.name = "kernel", .offset = 0, .size = 3, .trainable = true},
      {.name = "bias", .offset = 6, .size = 2, .trainable = true},
  };
  assert_status_msg(dn_optimizer_step(opt, w, g, bad, 2, INFINITY), DN_ERR_SHAPE, "'bias'");
  const dn_var huge = {.name = "huge", .offset = 2, .size = SIZE_MAX, .trainable = true};
  assert_status_msg(dn_optimizer_step(opt, w, g, &huge, 1, INFINITY), DN_ERR_SHAPE, "'huge'");
  /* Failed steps changed nothing. */
  assert_memory_equal(w, W0, sizeof w);
  assert_memory_equal(g, G[0], sizeof g);
  assert_int_equal(dn_optimizer_iterations(opt), 0);
  for (size_t i = 0; i < 2 * NP; i++)
    assert_true(opt->slots[i] == 0.0f);
  assert_status_msg(dn_optimizer_prepare(NULL, 3), DN_ERR_ARG, "opt is NULL");
  dn_optimizer_free(opt);
}

static void test_slots_and_state(void **state) {
  (void)state;
  static const struct {
    dn_optimizer_options options;
    size_t slots;
  } cases[] = {
      {{.name = "sgd"}, 0},
      {{.name = "sgd", .momentum = 0.5}, 1},
      {{.name = "adam"}, 2},
      {{.name = "adam", .amsgrad = true}, 3},
      {{.name = "adamw", .amsgrad = true}, 3},
      {{.name = "rmsprop"}, 1},
      {{.name = "rmsprop", .momentum = 0.3}, 2},
      {{.name = "rmsprop", .centered = true}, 2},
      {{.name = "rmsprop", .centered = true, .momentum = 0.3}, 3},
      {{.name = "adagrad"}, 1},
      {{.name = "adadelta"}, 2},
      {{.name = "adamax"}, 2},
      {{.name = "nadam"}, 2},
      {{.name = "lion"}, 1},
      {{.name = "nadam", .amsgrad = true}, 2}, /* amsgrad is Adam's only */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dn_optimizer *opt = dn_optimizer_with(cases[i].options);
    assert_non_null(opt);
    assert_int_equal(dn_optimizer_slot_count(opt), cases[i].slots);
    dn_optimizer_free(opt);
  }

  /* Adagrad's accumulators start at initial_accumulator_value. */
  dn_optimizer *opt = dn_adagrad(.initial_accumulator_value = 0.25);
  assert_ok(dn_optimizer_prepare(opt, NP));
  for (size_t i = 0; i < NP; i++)
    assert_true(opt->slots[i] == 0.25f);
  dn_optimizer_free(opt);

  /* Preparing again for the same size keeps the state; another size starts afresh. */
  opt = dn_nadam(.learning_rate = 0.1);
  assert_ok(dn_optimizer_prepare(opt, NP));
  float w[NP], g[NP];
  memcpy(w, W0, sizeof w);
  for (int step = 0; step < 2; step++) {
    memcpy(g, G[step], sizeof g);
    assert_ok(dn_optimizer_step(opt, w, g, VARS, 3, INFINITY));
  }
  const float m0 = opt->slots[0];
  assert_true(m0 != 0.0f);
  assert_ok(dn_optimizer_prepare(opt, NP));
  assert_int_equal(dn_optimizer_iterations(opt), 2);
  assert_true(opt->slots[0] == m0);
  assert_true(opt->nadam_u_product != 1.0);

  /* Steps allocate nothing. */
  size_t before = dn_alloc_count();
  for (int step = 0; step < NSTEPS; step++) {
    memcpy(g, G[step], sizeof g);
    assert_ok(dn_optimizer_step(opt, w, g, VARS, 3, INFINITY));
  }
  assert_int_equal(dn_alloc_count(), before);

  /* Reset gives the fresh state: the same run as a new optimizer. */
  dn_optimizer_reset(opt);
  assert_int_equal(dn_optimizer_iterations(opt), 0);
  assert_true(opt->nadam_u_product == 1.0);
  for (size_t i = 0; i < 2 * NP; i++)
    assert_true(opt->slots[i] == 0.0f);
  ref r = base_ref(ref_nadam, 0.1, 2);
  run_compare(opt, &r, 1.0, NULL); /* frees opt */

  opt = dn_adam();
  assert_ok(dn_optimizer_prepare(opt, NP));
  memcpy(w, W0, sizeof w);
  memcpy(g, G[0], sizeof g);
  assert_ok(dn_optimizer_step(opt, w, g, VARS, 3, INFINITY));
  assert_ok(dn_optimizer_prepare(opt, 9));
  assert_int_equal(opt->n_params, 9);
  assert_int_equal(dn_optimizer_iterations(opt), 0);
  for (size_t i = 0; i < 2 * 9; i++)
    assert_true(opt->slots[i] == 0.0f);
  dn_optimizer_free(opt);
}

/* An allocator that fails the n-th allocation from now (0 = the next one). */
static int fail_after = -1;
static void *failing_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  if (fail_after == 0)
    return NULL;
  if (fail_after > 0)
    fail_after--;
  return aligned_alloc(alignment, size); /* dn_alloc passes multiples of the alignment */
}
static void plain_free(void *ptr, void *ctx) {
  (void)ctx;
  free(ptr);
}

static void test_out_of_memory(void **state) {
  (void)state;
  const dn_allocator hook = {failing_alloc, plain_free, NULL};
  assert_ok(dn_set_allocator(&hook));
  double boundaries[2] = {2, 5}, values[3] = {1.0, 0.5, 0.1};
  for (int k = 0; k < 3; k++) { /* the optimizer, its boundaries, its values */
    fail_after = k;
    dn_optimizer *opt =
        dn_sgd(.schedule = dn_piecewise_constant_decay(.boundaries = boundaries, .values = values,
                                                       .n_boundaries = 2));
    assert_null(opt);
    assert_int_equal(dn_last_status(), DN_ERR_NOMEM);
  }
  fail_after = -1;
  dn_optimizer *opt = dn_adam(.learning_rate = 0.1);
  assert_ok(dn_optimizer_prepare(opt, NP));
  float w[NP], g[NP];
  memcpy(w, W0, sizeof w);
  memcpy(g, G[0], sizeof g);
  assert_ok(dn_optimizer_step(opt, w, g, VARS, 3, INFINITY));
  float *slots = opt->slots;
  const float m0 = slots[0];
  fail_after = 0;
  assert_int_equal(dn_optimizer_prepare(opt, 2 * NP), DN_ERR_NOMEM);
  fail_after = -1;
  /* The failed resize kept the old state. */
  assert_ptr_equal(opt->slots, slots);
  assert_int_equal(opt->n_params, NP);
  assert_int_equal(dn_optimizer_iterations(opt), 1);
  assert_true(opt->slots[0] == m0);
  dn_optimizer_free(opt);
  assert_ok(dn_set_allocator(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sgd),
      cmocka_unit_test(test_sgd_hand),
      cmocka_unit_test(test_sgd_weight_decay),
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_adam_hand),
      cmocka_unit_test(test_adamw),
      cmocka_unit_test(test_rmsprop),
      cmocka_unit_test(test_rmsprop_keras_example),
      cmocka_unit_test(test_adagrad),
      cmocka_unit_test(test_adadelta),
      cmocka_unit_test(test_adamax),
      cmocka_unit_test(test_nadam),
      cmocka_unit_test(test_lion),
      cmocka_unit_test(test_clipping),
      cmocka_unit_test(test_nothing_trainable),
      cmocka_unit_test(test_schedules),
      cmocka_unit_test(test_schedule_in_step),
      cmocka_unit_test(test_defaults_and_names),
      cmocka_unit_test(test_dn_zero),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_accessors),
      cmocka_unit_test(test_step_errors),
      cmocka_unit_test(test_overflow_refused),
      cmocka_unit_test(test_overflow_refused_big),
      cmocka_unit_test(test_large_gradients_applied),
      cmocka_unit_test(test_checked_path_same_bits),
      cmocka_unit_test(test_zero_denominator_refused),
      cmocka_unit_test(test_slots_and_state),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
