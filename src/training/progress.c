/* progress.c -- fit's progress display, reproducing Keras 3's ProgbarLogger/Progbar output:
 *
 *   Epoch 2/10
 *   BAR:   " 3/16 ━━━━━━━━━━━━━━━━━━━━ 1s 4ms/step - loss: 0.4321"  (redrawn with as many
 *          '\b' as the previous draw was wide, then '\r',
 *          at most every 0.05 s; the last draw of the epoch shows the elapsed time and the
 *          epoch's values, val_ ones included, and ends the line)
 *   LINES: "16/16 - 0s - 3ms/step - loss: 0.4321 - val_loss: 0.5000"
 *
 * Values print as %.4f when |v| > 1e-3, else %.4e (LINES tests v > 1e-3 without the
 * absolute value, as Keras's verbose=2 branch does). During an epoch BAR shows, per key, the
 * average of the values logged at each redraw point (Keras averages the running means
 * again), in sorted key order as Keras's CallbackList hands them over. The epoch's last line
 * (BAR and LINES alike, as Keras's Progbar keeps its key order in both) shows those keys first,
 * then the keys new at the epoch's end (val_ ones, then any a callback added) in their order.
 * Deviation: the ANSI colours (bold counts, green done part, grey rest) are written only when
 * the stream is a terminal.
 */
#define _POSIX_C_SOURCE 200809L

#include "training/progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"

#define BAR_WIDTH 20
#define BAR_CHAR "\xe2\x94\x81" /* U+2501 '━' */

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

dn_status dn_progress_init(dn_progress *p, FILE *out, dn_verbose verbose, size_t epochs,
                           size_t steps, size_t max_keys) {
  *p = (dn_progress){0};
  if (verbose != DN_VERBOSE_AUTO && verbose != DN_VERBOSE_SILENT && verbose != DN_VERBOSE_BAR &&
      verbose != DN_VERBOSE_LINES)
    return dn_fail(DN_ERR_ARG, "dn_fit: verbose %d is not a dn_verbose value", (int)verbose);
  p->out = out ? out : stdout;
  int fd = fileno(p->out);
  p->tty = fd >= 0 && isatty(fd);
  p->mode = verbose == DN_VERBOSE_AUTO ? (p->tty ? DN_VERBOSE_BAR : DN_VERBOSE_LINES) : verbose;
  p->epochs = epochs;
  p->steps = steps;
  p->clock = monotonic_seconds;
  p->interval = 0.05;
  p->cap = max_keys ? max_keys : 1;
  p->keys = dn_calloc(p->cap, sizeof *p->keys);
  p->sum = dn_calloc(p->cap, sizeof *p->sum);
  p->count = dn_calloc(p->cap, sizeof *p->count);
  if (p->keys == NULL || p->sum == NULL || p->count == NULL) {
    dn_progress_free(p);
    return DN_ERR_NOMEM;
  }
  return DN_OK;
}

void dn_progress_free(dn_progress *p) {
  dn_free(p->keys);
  dn_free(p->sum);
  dn_free(p->count);
  p->keys = NULL;
  p->sum = p->count = NULL;
}

void dn_progress_epoch_begin(dn_progress *p, size_t epoch) {
  p->start = p->clock();
  p->last_update = -INFINITY;
  p->have_first = false;
  p->seen = p->prev_width = p->n = 0;
  if (p->mode != DN_VERBOSE_SILENT && p->epochs > 1) {
    fprintf(p->out, "Epoch %zu/%zu\n", epoch + 1, p->epochs);
    fflush(p->out);
  }
}

/* Index of key (added at the end if new; -1 when full). */
static long slot(dn_progress *p, const char *key) {
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->keys[i], key) == 0)
      return (long)i;
  if (p->n == p->cap)
    return -1;
  p->keys[p->n] = key;
  p->sum[p->n] = p->count[p->n] = 0.0;
  return (long)p->n++;
}

/* Keras's _estimate_step_duration: ignores the first step once there are more. */
static double step_time(dn_progress *p, size_t current, double now) {
  if (current == 0)
    return 0.0;
  double t = p->have_first && current > 1 ? (now - p->after_first) / (double)(current - 1)
                                          : (now - p->start) / (double)current;
  if (current == 1) {
    p->after_first = now;
    p->have_first = true;
  }
  return t;
}

/* Appends to a line buffer, counting visible characters. */
typedef struct line {
  char buf[4096];
  size_t len, width;
} line;

static void put(line *l, const char *s, size_t visible) {
  size_t n = strlen(s);
  if (l->len + n >= sizeof l->buf)
    return;
  memcpy(l->buf + l->len, s, n + 1);
  l->len += n;
  l->width += visible;
}

static void putf(line *l, const char *fmt, ...) DN_PRINTF(2, 3);
static void putf(line *l, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(l, tmp, strlen(tmp));
}

/* " 4ms/step" as Keras's _format_time. */
static void put_step_time(line *l, double t) {
  if (t >= 1 || t == 0)
    putf(l, " %.0fs/step", t);
  else if (t >= 1e-3)
    putf(l, " %.0fms/step", t * 1000.0);
  else
    putf(l, " %.0fus/step", t * 1e6);
}

static void put_value(line *l, double v, bool use_abs) {
  if (isnan(v))
    put(l, " nan", 4);
  else if ((use_abs ? fabs(v) : v) > 1e-3)
    putf(l, " %.4f", v);
  else
    putf(l, " %.4e", v);
}

static int digits(size_t n) {
  int d = 1;
  while (n >= 10) {
    n /= 10;
    d++;
  }
  return d;
}

static void put_values(dn_progress *p, line *l, bool use_abs) {
  for (size_t i = 0; i < p->n; i++) {
    putf(l, " - %s:", p->keys[i]);
    put_value(l, p->sum[i] / (p->count[i] > 1 ? p->count[i] : 1), use_abs);
  }
}

static void draw_bar(dn_progress *p, size_t current, bool finalize, double now, double t) {
  line l = {.len = 0};
  const char *bold = p->tty ? "\x1b[1m" : "", *reset = p->tty ? "\x1b[0m" : "";
  for (size_t i = 0; i < p->prev_width; i++) /* Keras: "\b" * prev_total_width, then "\r" */
    fputc('\b', p->out);
  put(&l, "\r", 0);
  put(&l, bold, 0);
  if (p->steps == 0) /* a source of unknown length, in its first epoch (Keras: "/Unknown") */
    putf(&l, "%zu/Unknown", current);
  else
    putf(&l, "%*zu/%zu", digits(p->steps), current, p->steps);
  put(&l, reset, 0);
  put(&l, " ", 1);
  size_t done = p->steps ? (size_t)(BAR_WIDTH * ((double)current / (double)p->steps)) : 0;
  if (done > BAR_WIDTH)
    done = BAR_WIDTH;
  if (done > 0) {
    put(&l, p->tty ? "\x1b[32m" : "", 0);
    for (size_t i = 0; i < done; i++)
      put(&l, BAR_CHAR, 1);
    put(&l, reset, 0);
  }
  put(&l, p->tty ? "\x1b[37m" : "", 0);
  for (size_t i = done; p->steps != 0 && i < BAR_WIDTH; i++)
    put(&l, BAR_CHAR, 1);
  put(&l, reset, 0);
  put(&l, " ", 1);
  put(&l, bold, 0);
  if (!finalize && p->steps != 0) {
    double eta = t * (double)(p->steps - current);
    if (eta > 3600)
      putf(&l, "%d:%02d:%02d", (int)(eta / 3600), (int)(fmod(eta, 3600) / 60), (int)fmod(eta, 60));
    else if (eta > 60)
      putf(&l, "%d:%02d", (int)(eta / 60), (int)fmod(eta, 60));
    else
      putf(&l, "%ds", (int)eta);
  } else {
    putf(&l, "%.0fs", now - p->start);
  }
  put(&l, reset, 0);
  put_step_time(&l, t);
  put_values(p, &l, true);
  size_t width = l.width;
  for (size_t w = width; w < p->prev_width; w++)
    put(&l, " ", 1);
  if (finalize)
    put(&l, "\n", 0);
  fputs(l.buf, p->out);
  fflush(p->out);
  p->prev_width = width;
}

void dn_progress_batch_end(dn_progress *p, size_t batch, const dn_logs *logs) {
  if (p->mode == DN_VERBOSE_SILENT)
    return;
  size_t current = batch + 1;
  double base = current > p->seen ? (double)(current - p->seen) : 1.0;
  /* Keys in sorted order, as Keras's CallbackList sorts the batch logs. */
  const char *prev = NULL;
  for (size_t taken = 0; taken < logs->count; taken++) {
    size_t best = logs->count;
    for (size_t i = 0; i < logs->count; i++)
      if ((prev == NULL || strcmp(logs->names[i], prev) > 0) &&
          (best == logs->count || strcmp(logs->names[i], logs->names[best]) < 0))
        best = i;
    if (best == logs->count)
      break;
    prev = logs->names[best];
    long k = slot(p, prev);
    if (k >= 0) {
      p->sum[k] += logs->values[best] * base;
      p->count[k] += base;
    }
  }
  p->seen = current;
  if (p->mode != DN_VERBOSE_BAR) /* LINES learns the keys' order and values, draws at the end */
    return;
  double now = p->clock();
  double t = step_time(p, current, now);
  if (now - p->last_update < p->interval)
    return;
  draw_bar(p, current, false, now, t);
  p->last_update = now;
}

void dn_progress_epoch_end(dn_progress *p, const dn_logs *logs) {
  if (p->mode == DN_VERBOSE_SILENT)
    return;
  for (size_t i = 0; i < logs->count; i++) {
    long k = slot(p, logs->names[i]);
    if (k >= 0) {
      p->sum[k] = logs->values[i];
      p->count[k] = 1.0;
    }
  }
  size_t current = p->steps;
  p->seen = current;
  double now = p->clock();
  double t = step_time(p, current, now);
  if (p->mode == DN_VERBOSE_BAR) {
    draw_bar(p, current, true, now, t);
  } else {
    line l = {.len = 0};
    putf(&l, "%*zu/%zu - %.0fs -", digits(p->steps), current, p->steps, now - p->start);
    put_step_time(&l, t);
    put_values(p, &l, false);
    put(&l, "\n", 0);
    fputs(l.buf, p->out);
    fflush(p->out);
  }
  p->last_update = now;
}
