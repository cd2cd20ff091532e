/* optimizer_rules.h -- the update rules of optimizer.c, one element at a time
 * (keras/src/optimizers/<name>.py update_step).
 *
 * A template: optimizer.c includes it twice, with REAL float (the step: Keras's float32
 * operations in Keras's order) and REAL double (the fallback for an element whose float
 * arithmetic overflows), and R(name) giving each instance its suffix. Each rule turns the old
 * weight w (already weight-decayed) and slots a, b, c into the new ones, given the gradient g
 * and the step's constants k; a rule reads only the slots its optimizer has (the others may
 * point anywhere).
 */

static inline void R(sgd)(const rule_k *k, REAL *w, REAL g, REAL *m, REAL *b, REAL *c) {
  (void)b, (void)c;
  const REAL lr = (REAL)k->lr, mu = (REAL)k->mu;
  if (!k->momentum) {
    *w -= g * lr;
  } else if (k->nesterov) {
    *m = *m * mu - g * lr;
    *w += *m * mu - g * lr;
  } else {
    *m = *m * mu - g * lr;
    *w += *m;
  }
}

/* Adam and AdamW: momentums m, velocities v, velocity_hats vh (amsgrad). */
static inline void R(adam)(const rule_k *k, REAL *w, REAL g, REAL *m, REAL *v, REAL *vh) {
  *m += (g - *m) * (REAL)k->c1;
  *v += (g * g - *v) * (REAL)k->c2;
  REAL vi = *v;
  if (k->amsgrad) {
    if (vi > *vh)
      *vh = vi;
    vi = *vh;
  }
  *w -= (*m * (REAL)k->alpha) / (SQRT(vi) + (REAL)k->eps);
}

/* RMSprop: velocities, then momentums (momentum > 0), then average_gradients (centered). */
static inline void R(rmsprop)(const rule_k *k, REAL *w, REAL g, REAL *vel, REAL *b, REAL *c) {
  REAL *mom = k->momentum ? b : NULL, *avg = !k->centered ? NULL : k->momentum ? c : b;
  *vel = (REAL)k->rho * *vel + (REAL)k->c1 * (g * g);
  REAL denominator;
  if (avg != NULL) {
    *avg = (REAL)k->rho * *avg + (REAL)k->c1 * g;
    denominator = *vel - *avg * *avg + (REAL)k->eps;
  } else {
    denominator = *vel + (REAL)k->eps;
  }
  const REAL increment = ((REAL)k->lr * g) / SQRT(denominator);
  if (mom != NULL) {
    *mom = (REAL)k->mu * *mom + increment;
    *w -= *mom;
  } else {
    *w -= increment;
  }
}

static inline void R(adagrad)(const rule_k *k, REAL *w, REAL g, REAL *acc, REAL *b, REAL *c) {
  (void)b, (void)c;
  *acc += g * g;
  *w -= ((REAL)k->lr * g) / SQRT(*acc + (REAL)k->eps);
}

static inline void R(adadelta)(const rule_k *k, REAL *w, REAL g, REAL *acc_grad,
                               REAL *acc_delta, REAL *c) {
  (void)c;
  const REAL rho = (REAL)k->rho, c1 = (REAL)k->c1, eps = (REAL)k->eps;
  *acc_grad = rho * *acc_grad + c1 * (g * g);
  const REAL delta = -((SQRT(*acc_delta + eps) * g) / SQRT(*acc_grad + eps));
  *acc_delta = rho * *acc_delta + c1 * (delta * delta);
  *w += (REAL)k->lr * delta;
}

static inline void R(adamax)(const rule_k *k, REAL *w, REAL g, REAL *m, REAL *u, REAL *c) {
  (void)c;
  *m += (g - *m) * (REAL)k->c1;
  const REAL decayed = (REAL)k->b2 * *u, magnitude = FABS(g);
  *u = decayed > magnitude ? decayed : magnitude;
  *w -= ((REAL)k->lr * *m) / ((REAL)k->correction * (*u + (REAL)k->eps));
}

static inline void R(nadam)(const rule_k *k, REAL *w, REAL g, REAL *m, REAL *v, REAL *c) {
  (void)c;
  *m += (g - *m) * (REAL)k->c1;
  *v += (g * g - *v) * (REAL)k->c2;
  const REAL m_hat = ((REAL)k->fu_t_1 * *m) / (REAL)k->d_t_1 + ((REAL)k->f1_u_t * g) / (REAL)k->d_t;
  const REAL v_hat = *v / (REAL)k->v_corr;
  *w -= (m_hat * (REAL)k->lr) / (SQRT(v_hat) + (REAL)k->eps);
}

static inline void R(lion)(const rule_k *k, REAL *w, REAL g, REAL *m, REAL *b, REAL *c) {
  (void)b, (void)c;
  const REAL d = *m * (REAL)k->b1 + g * (REAL)k->c1;
  const REAL sign = d > 0 ? (REAL)1 : d < 0 ? (REAL)-1 : d; /* sign(0) = 0, NaN stays */
  *w -= (REAL)k->lr * sign;
  *m = *m * (REAL)k->b2 + g * (REAL)k->c2;
}
