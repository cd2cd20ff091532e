/* plot.c -- dependency-free SVG charts: x/y series as lines or markers, "nice" 1-2-5 ticks,
 * axis titles, a title and a legend; and learning curves from a dn_history.
 *
 * Choices: the axes span the finite data plus 5% on each side (a constant series gets +-10%
 * of its value, or +-1 around zero); ticks are multiples of 1, 2 or 5 times a power of ten,
 * about six per axis, labelled exactly from that integer form (one decimal count per axis, or
 * scientific notation for very large or small values). Non-finite points are skipped and break
 * a line, like matplotlib; a line segment of one point is drawn as a dot. The legend lists the
 * labelled series in the inner corner that covers the fewest points. Colours are matplotlib's
 * "tab10" cycle, dashed from the eleventh series on. Every number is written without printf's
 * floating-point conversions, so LC_NUMERIC cannot break the file; text is XML-escaped and
 * invalid UTF-8 becomes U+FFFD. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <float.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "densenet.h"
#include "core/status.h"

#define DEFAULT_WIDTH 720
#define DEFAULT_HEIGHT 440
#define MIN_SIZE 120
#define MAX_SIZE 20000
#define TICK_FONT 12.0
#define LABEL_FONT 13.0
#define TITLE_FONT 16.0
#define CHAR_WIDTH 0.6 /* average glyph width / font size for a sans-serif face */

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *const dashes[] = {NULL, "7 4", "2 3"};
#define N_COLOURS (sizeof palette / sizeof palette[0])

typedef struct svg {
  FILE *file;
  char num[8][32]; /* rotating buffers for formatted numbers */
  unsigned next;
} svg;

typedef struct axis {
  double lo, hi;       /* the range shown */
  int mant, exp10;     /* tick step = mant * 10^exp10 */
  int64_t first, last; /* ticks at i * step, first <= i <= last */
  bool scientific;     /* label format for the whole axis */
  double label_width;  /* widest tick label, in pixels */
} axis;

typedef struct frame {
  double left, right, top, bottom; /* plot area, pixels */
} frame;

/* ---- output ---- */

static void out(svg *w, const char *fmt, ...) DN_PRINTF(2, 3);
static void out(svg *w, const char *fmt, ...) {
  /* only %s, %d, %zu conversions: locale-independent */
  va_list ap;
  va_start(ap, fmt);
  vfprintf(w->file, fmt, ap);
  va_end(ap);
}

/* v with at most two decimals, trailing zeros dropped ("12.5", "-3", "0.07"). */
static const char *num(svg *w, double v) {
  char *buf = w->num[w->next++ % 8];
  if (!(v > -1e7))
    v = -1e7;
  if (!(v < 1e7))
    v = 1e7;
  long long r = llround(v * 100.0);
  const char *sign = r < 0 ? "-" : "";
  long long a = r < 0 ? -r : r;
  if (a % 100 == 0)
    snprintf(buf, 32, "%s%lld", sign, a / 100);
  else if (a % 10 == 0)
    snprintf(buf, 32, "%s%lld.%lld", sign, a / 100, (a % 100) / 10);
  else
    snprintf(buf, 32, "%s%lld.%02lld", sign, a / 100, a % 100);
  return buf;
}

/* Length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t utf8_length(const unsigned char *s) {
  unsigned c = s[0];
  size_t n = c < 0x80                   ? 1
             : (c >= 0xC2 && c <= 0xDF) ? 2
             : (c >= 0xE0 && c <= 0xEF) ? 3
             : (c >= 0xF0 && c <= 0xF4) ? 4
                                        : 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
      (c == 0xF4 && s[1] > 0x8F))
    return 0; /* overlong, surrogate or beyond U+10FFFF */
  return n;
}

/* Text as XML character data: markup characters escaped, control characters (not allowed in
 * XML 1.0) and invalid UTF-8 replaced by U+FFFD. */
static void text(svg *w, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p != 0) {
    size_t n = utf8_length(p);
    if (n == 0 || (*p < 0x20 && *p != '\t')) {
      fputs("\xEF\xBF\xBD", w->file);
      p++;
      continue;
    }
    switch (*p) {
    case '&': fputs("&amp;", w->file); break;
    case '<': fputs("&lt;", w->file); break;
    case '>': fputs("&gt;", w->file); break;
    case '"': fputs("&quot;", w->file); break;
    case '\'': fputs("&apos;", w->file); break;
    default: fwrite(p, 1, n, w->file);
    }
    p += n;
  }
}

/* Estimated rendered width of s at `size` px (characters, not bytes). */
static double text_width(const char *s, double size) {
  size_t chars = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++)
    chars += (*p & 0xC0) != 0x80;
  return (double)chars * size * CHAR_WIDTH;
}

/* ---- axes ---- */

static double pow10i(int e) {
  return e >= 0 ? pow(10.0, e) : 1.0 / pow(10.0, -e);
}

static double tick_value(const axis *a, int64_t i) {
  return (double)(i * a->mant) * pow10i(a->exp10);
}

/* Tick label of i * mant * 10^exp10, exactly, from its integer digits. */
static void tick_label(const axis *a, int64_t i, char buf[48]) {
  int64_t n = i * a->mant;
  int k = a->exp10;
  if (n == 0 && (a->scientific || k >= 0)) {
    strcpy(buf, "0");
    return;
  }
  char digits[24];
  const char *sign = n < 0 ? "-" : "";
  snprintf(digits, sizeof digits, "%llu", (unsigned long long)(n < 0 ? -n : n));
  int nd = (int)strlen(digits);
  if (a->scientific) {
    while (nd > 1 && digits[nd - 1] == '0') {
      digits[--nd] = '\0';
      k++;
    }
    int e = k + nd - 1;
    snprintf(buf, 48, "%s%c%s%se%c%02d", sign, digits[0], nd > 1 ? "." : "", digits + 1,
             e < 0 ? '-' : '+', e < 0 ? -e : e);
  } else if (k >= 0) {
    snprintf(buf, 48, "%s%s%.*s", sign, digits, k, "0000000");
  } else if (nd > -k) {
    snprintf(buf, 48, "%s%.*s.%s", sign, nd + k, digits, digits + nd + k);
  } else {
    snprintf(buf, 48, "%s0.%.*s%s", sign, -k - nd, "000000", digits);
  }
}

static void make_axis(axis *a, double lo, double hi, bool any, bool integer) {
  if (!any) {
    lo = 0.0;
    hi = 1.0;
  } else if (lo == hi) {
    double d = lo == 0.0 ? 1.0 : fabs(lo) * 0.1;
    if (integer && d < 1.0)
      d = 1.0;
    lo -= d;
    hi += d;
  } else {
    double pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  a->lo = lo;
  a->hi = hi;
  double raw = (hi - lo) / 6.0;
  int e = (int)floor(log10(raw));
  double f = raw / pow10i(e);
  int m = f <= 1.0 ? 1 : f <= 2.0 ? 2 : f <= 5.0 ? 5 : 10;
  if (m == 10) {
    m = 1;
    e++;
  }
  if (integer && e < 0) {
    m = 1;
    e = 0;
  }
  a->mant = m;
  a->exp10 = e;
  double step = m * pow10i(e), first = ceil(lo / step - 1e-9), last = floor(hi / step + 1e-9);
  if (!(step > 0.0) || !(fabs(first) < 1e15 && fabs(last) < 1e15) || last - first > 100) {
    a->first = 1; /* no ticks (cannot happen for finite float data) */
    a->last = 0;
  } else {
    a->first = (int64_t)first;
    a->last = (int64_t)last;
  }
  /* one label style per axis: plain up to 7 integer digits and 6 decimals */
  int64_t big = a->first < 0 ? -a->first : a->first;
  if ((a->last < 0 ? -a->last : a->last) > big)
    big = a->last < 0 ? -a->last : a->last;
  char digits[24];
  int nd = snprintf(digits, sizeof digits, "%lld", (long long)(big * m));
  a->scientific = e < -6 || nd + e > 7;
  a->label_width = 0.0;
  for (int64_t i = a->first; i <= a->last; i++) {
    char label[48];
    tick_label(a, i, label);
    double width = text_width(label, TICK_FONT);
    if (width > a->label_width)
      a->label_width = width;
  }
}

static double map_x(const axis *a, const frame *fr, double v) {
  return fr->left + (v - a->lo) / (a->hi - a->lo) * (fr->right - fr->left);
}

static double map_y(const axis *a, const frame *fr, double v) {
  return fr->bottom - (v - a->lo) / (a->hi - a->lo) * (fr->bottom - fr->top);
}

/* Point i of a series, false if not finite. */
static bool point(const dn_plot_series *s, size_t i, double *x, double *y) {
  *x = s->x != NULL ? (double)s->x[i] : (double)i;
  *y = (double)s->y[i];
  return isfinite(*x) && isfinite(*y);
}

/* ---- pieces of the chart ---- */

static void draw_axes(svg *w, const axis *ax, const axis *ay, const frame *fr) {
  out(w, "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
  for (int64_t i = ax->first; i <= ax->last; i++) {
    const char *x = num(w, map_x(ax, fr, tick_value(ax, i)));
    out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", x, num(w, fr->top), x,
        num(w, fr->bottom));
  }
  for (int64_t i = ay->first; i <= ay->last; i++) {
    const char *y = num(w, map_y(ay, fr, tick_value(ay, i)));
    out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", num(w, fr->left), y,
        num(w, fr->right), y);
  }
  out(w, "</g>\n<g stroke=\"#444444\" stroke-width=\"1\">\n");
  for (int64_t i = ax->first; i <= ax->last; i++) {
    const char *x = num(w, map_x(ax, fr, tick_value(ax, i)));
    out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", x, num(w, fr->bottom), x,
        num(w, fr->bottom + 5));
  }
  for (int64_t i = ay->first; i <= ay->last; i++) {
    const char *y = num(w, map_y(ay, fr, tick_value(ay, i)));
    out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", num(w, fr->left - 5), y,
        num(w, fr->left), y);
  }
  out(w, "</g>\n<g font-size=\"12\" fill=\"#333333\" text-anchor=\"middle\">\n");
  char label[48];
  for (int64_t i = ax->first; i <= ax->last; i++) {
    tick_label(ax, i, label);
    out(w, "<text x=\"%s\" y=\"%s\">%s</text>\n", num(w, map_x(ax, fr, tick_value(ax, i))),
        num(w, fr->bottom + 20), label);
  }
  out(w, "</g>\n<g font-size=\"12\" fill=\"#333333\" text-anchor=\"end\">\n");
  for (int64_t i = ay->first; i <= ay->last; i++) {
    tick_label(ay, i, label);
    out(w, "<text x=\"%s\" y=\"%s\">%s</text>\n", num(w, fr->left - 8),
        num(w, map_y(ay, fr, tick_value(ay, i)) + 4), label);
  }
  out(w,
      "</g>\n<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" "
      "stroke=\"#444444\" stroke-width=\"1\"/>\n",
      num(w, fr->left), num(w, fr->top), num(w, fr->right - fr->left),
      num(w, fr->bottom - fr->top));
}

static void style(svg *w, size_t index) {
  const char *dash = dashes[(index / N_COLOURS) % 3];
  if (dash != NULL)
    out(w, " stroke-dasharray=\"%s\"", dash);
}

static void draw_series(svg *w, const dn_plot_series *s, size_t index, const axis *ax,
                        const axis *ay, const frame *fr) {
  const char *colour = palette[index % N_COLOURS];
  double x, y, nx, ny;
  if (s->points) {
    out(w, "<g fill=\"%s\">\n", colour);
    for (size_t i = 0; i < s->n; i++)
      if (point(s, i, &x, &y))
        out(w, "<circle cx=\"%s\" cy=\"%s\" r=\"3\"/>\n", num(w, map_x(ax, fr, x)),
            num(w, map_y(ay, fr, y)));
    out(w, "</g>\n");
    return;
  }
  out(w,
      "<g fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" "
      "stroke-linecap=\"round\"",
      colour);
  style(w, index);
  out(w, ">\n");
  bool in_run = false;
  for (size_t i = 0; i < s->n; i++) {
    if (!point(s, i, &x, &y)) {
      if (in_run)
        out(w, "\"/>\n");
      in_run = false;
      continue;
    }
    const char *px = num(w, map_x(ax, fr, x)), *py = num(w, map_y(ay, fr, y));
    if (in_run) {
      out(w, " %s,%s", px, py);
    } else if (i + 1 < s->n && point(s, i + 1, &nx, &ny)) {
      out(w, "<polyline points=\"%s,%s", px, py);
      in_run = true;
    } else { /* an isolated point: a dot */
      out(w, "<circle cx=\"%s\" cy=\"%s\" r=\"2.5\" fill=\"%s\" stroke=\"none\"/>\n", px, py,
          colour);
    }
  }
  if (in_run)
    out(w, "\"/>\n");
  out(w, "</g>\n");
}

static bool has_label(const dn_plot_series *s) {
  return s->label != NULL && s->label[0] != '\0';
}

/* Points of all series inside the box (x0, y0, x1, y1); line midpoints count too. */
static size_t points_inside(const dn_plot_series *series, size_t n_series, const axis *ax,
                            const axis *ay, const frame *fr, const double box[4]) {
  size_t count = 0;
  for (size_t k = 0; k < n_series; k++) {
    const dn_plot_series *s = &series[k];
    double px = 0, py = 0, x, y;
    bool prev = false;
    for (size_t i = 0; i < s->n; i++) {
      bool ok = point(s, i, &x, &y);
      if (ok) {
        x = map_x(ax, fr, x);
        y = map_y(ay, fr, y);
        count += x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
        if (prev && !s->points)
          for (int t = 1; t < 4; t++) {
            double mx = px + (x - px) * t / 4.0, my = py + (y - py) * t / 4.0;
            count += mx >= box[0] && mx <= box[2] && my >= box[1] && my <= box[3];
          }
        px = x;
        py = y;
      }
      prev = ok;
    }
  }
  return count;
}

static void draw_legend(svg *w, const dn_plot_series *series, size_t n_series, const axis *ax,
                        const axis *ay, const frame *fr) {
  size_t entries = 0;
  double label_width = 0.0;
  for (size_t k = 0; k < n_series; k++)
    if (has_label(&series[k])) {
      entries++;
      double tw = text_width(series[k].label, TICK_FONT);
      label_width = tw > label_width ? tw : label_width;
    }
  if (entries == 0)
    return;
  double width = 10 + 26 + 8 + label_width + 10, height = 8 + 18.0 * (double)entries + 4;
  /* matplotlib's order of preference: upper right, upper left, lower left, lower right */
  double best[4] = {0}, inset = 8;
  size_t best_count = SIZE_MAX;
  for (int corner = 0; corner < 4; corner++) {
    double x0 = (corner == 0 || corner == 3) ? fr->right - inset - width : fr->left + inset;
    double y0 = corner < 2 ? fr->top + inset : fr->bottom - inset - height;
    double box[4] = {x0, y0, x0 + width, y0 + height};
    size_t c = points_inside(series, n_series, ax, ay, fr, box);
    if (c < best_count) {
      best_count = c;
      memcpy(best, box, sizeof best);
    }
  }
  out(w, "<g font-size=\"12\" fill=\"#222222\">\n");
  out(w,
      "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" rx=\"3\" fill=\"#ffffff\" "
      "fill-opacity=\"0.88\" stroke=\"#cccccc\"/>\n",
      num(w, best[0]), num(w, best[1]), num(w, width), num(w, height));
  double y = best[1] + 8 + 9;
  for (size_t k = 0; k < n_series; k++) {
    if (!has_label(&series[k]))
      continue;
    const char *colour = palette[k % N_COLOURS];
    double x = best[0] + 10;
    if (series[k].points) {
      out(w, "<circle cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\"/>\n", num(w, x + 13), num(w, y),
          colour);
    } else {
      out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"",
          num(w, x), num(w, y), num(w, x + 26), num(w, y), colour);
      style(w, k);
      out(w, "/>\n");
    }
    out(w, "<text x=\"%s\" y=\"%s\">", num(w, x + 34), num(w, y + 4));
    text(w, series[k].label);
    out(w, "</text>\n");
    y += 18;
  }
  out(w, "</g>\n");
}

/* ---- the chart ---- */

static dn_status check_series(const char *fn, const dn_plot_series *series, size_t n_series) {
  if (series == NULL)
    return dn_fail(DN_ERR_ARG, "%s: series is NULL", fn);
  if (n_series == 0)
    return dn_fail(DN_ERR_ARG, "%s: n_series is 0 (nothing to plot)", fn);
  for (size_t k = 0; k < n_series; k++) {
    if (series[k].n == 0)
      return dn_fail(DN_ERR_ARG, "%s: series[%zu] has no points (n is 0)", fn, k);
    if (series[k].y == NULL)
      return dn_fail(DN_ERR_ARG, "%s: series[%zu].y is NULL", fn, k);
  }
  return DN_OK;
}

/* What both charts take besides the series: titles and size (0 = default). */
typedef struct chart_labels {
  const char *title, *x_label, *y_label;
  size_t width, height;
} chart_labels;

static void write_chart(svg *w, const dn_plot_series *series, size_t n_series,
                        const chart_labels *o, double width, double height, bool integer_x) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY, x, y;
  bool any = false;
  for (size_t k = 0; k < n_series; k++)
    for (size_t i = 0; i < series[k].n; i++)
      if (point(&series[k], i, &x, &y)) {
        any = true;
        x_lo = fmin(x_lo, x);
        x_hi = fmax(x_hi, x);
        y_lo = fmin(y_lo, y);
        y_hi = fmax(y_hi, y);
      }
  axis ax, ay;
  make_axis(&ax, x_lo, x_hi, any, integer_x);
  make_axis(&ay, y_lo, y_hi, any, false);
  bool has_title = o->title != NULL && o->title[0] != '\0';
  bool has_x = o->x_label != NULL && o->x_label[0] != '\0';
  bool has_y = o->y_label != NULL && o->y_label[0] != '\0';
  frame fr;
  fr.top = has_title ? 44 : 18;
  fr.bottom = height - (has_x ? 56 : 34);
  fr.left = 16 + ay.label_width + 10 + (has_y ? 24 : 0);
  fr.right = width - fmax(20, ax.label_width / 2 + 8);

  out(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  out(w, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%s\" height=\"%s\" ", num(w, width),
      num(w, height));
  out(w, "viewBox=\"0 0 %s %s\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
      num(w, width), num(w, height));
  out(w, "<rect width=\"%s\" height=\"%s\" fill=\"#ffffff\"/>\n", num(w, width), num(w, height));
  draw_axes(w, &ax, &ay, &fr);
  out(w,
      "<clipPath id=\"dn-plot-area\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"/>"
      "</clipPath>\n<g clip-path=\"url(#dn-plot-area)\">\n",
      num(w, fr.left), num(w, fr.top), num(w, fr.right - fr.left), num(w, fr.bottom - fr.top));
  for (size_t k = 0; k < n_series; k++)
    draw_series(w, &series[k], k, &ax, &ay, &fr);
  out(w, "</g>\n");
  draw_legend(w, series, n_series, &ax, &ay, &fr);
  double mid_x = (fr.left + fr.right) / 2;
  if (has_title) {
    out(w,
        "<text x=\"%s\" y=\"28\" font-size=\"16\" font-weight=\"bold\" fill=\"#222222\" "
        "text-anchor=\"middle\">",
        num(w, mid_x));
    text(w, o->title);
    out(w, "</text>\n");
  }
  if (has_x) {
    out(w, "<text x=\"%s\" y=\"%s\" font-size=\"13\" fill=\"#222222\" text-anchor=\"middle\">",
        num(w, mid_x), num(w, height - 14));
    text(w, o->x_label);
    out(w, "</text>\n");
  }
  if (has_y) {
    double cy = (fr.top + fr.bottom) / 2;
    out(w,
        "<text x=\"20\" y=\"%s\" font-size=\"13\" fill=\"#222222\" text-anchor=\"middle\" "
        "transform=\"rotate(-90 20 %s)\">",
        num(w, cy), num(w, cy));
    text(w, o->y_label);
    out(w, "</text>\n");
  }
  out(w, "</svg>\n");
}

static dn_status plot(const char *fn, const char *path, const dn_plot_series *series,
                      size_t n_series, chart_labels o, bool integer_x) {
  size_t width = o.width != 0 ? o.width : DEFAULT_WIDTH;
  size_t height = o.height != 0 ? o.height : DEFAULT_HEIGHT;
  if (width < MIN_SIZE || height < MIN_SIZE || width > MAX_SIZE || height > MAX_SIZE)
    return dn_fail(DN_ERR_ARG, "%s: width x height is %zu x %zu; each must be in [%d, %d]", fn,
                   width, height, MIN_SIZE, MAX_SIZE);
  svg w;
  memset(&w, 0, sizeof w);
  w.file = fopen(path, "w");
  if (w.file == NULL)
    return dn_fail(DN_ERR_IO, "%s: cannot open '%s' for writing: %s", fn, path, strerror(errno));
  struct stat st;
  bool regular = fstat(fileno(w.file), &st) == 0 && S_ISREG(st.st_mode);
  write_chart(&w, series, n_series, &o, (double)width, (double)height, integer_x);
  bool failed = ferror(w.file) != 0;
  failed = fclose(w.file) != 0 || failed;
  if (failed) {
    if (regular) /* no half-written chart left behind (never a device or pipe) */
      remove(path);
    return dn_fail(DN_ERR_IO, "%s: error writing '%s'", fn, path);
  }
  return DN_OK;
}

dn_status dn_plot_svg_with(dn_plot_svg_options options) {
  const char *path = options.path;
  const dn_plot_series *series = options.series;
  size_t n_series = options.n_series;
  DN_CHECK_NOT_NULL(path, "dn_plot_svg");
  dn_status s = check_series("dn_plot_svg", series, n_series);
  if (s != DN_OK)
    return s;
  bool all_indexed = true; /* x = 0, 1, 2, ...: integer ticks */
  for (size_t k = 0; k < n_series; k++)
    all_indexed = all_indexed && series[k].x == NULL;
  chart_labels o = {options.title, options.x_label, options.y_label, options.width, options.height};
  return plot("dn_plot_svg", path, series, n_series, o, all_indexed);
}

/* ---- learning curves ---- */

#define HFN "dn_plot_history_svg"

/* "val_loss" -> "loss": the quantity a key measures. */
static const char *base_name(const char *key) {
  return strncmp(key, "val_", 4) == 0 ? key + 4 : key;
}

dn_status dn_plot_history_svg_with(dn_plot_history_svg_options options) {
  const dn_history *history = options.history;
  const char *path = options.path;
  const char *const *keys = options.keys;
  DN_CHECK_NOT_NULL(history, HFN);
  DN_CHECK_NOT_NULL(path, HFN);
  size_t epochs = dn_history_length(history);
  DN_CHECK_ARG(epochs > 0, HFN, "the history has no epochs");
  const char *defaults[3] = {"loss", NULL, NULL};
  if (keys == NULL) {
    if (dn_history_values(history, "val_loss") != NULL)
      defaults[1] = "val_loss";
    keys = defaults;
  }
  size_t n_keys = 0;
  while (keys[n_keys] != NULL)
    n_keys++;
  DN_CHECK_ARG(n_keys > 0, HFN, "keys is an empty list");
  for (size_t k = 0; k < n_keys; k++)
    DN_CHECK_ARG(dn_history_values(history, keys[k]) != NULL, HFN, "the history has no key \"%s\"",
                 keys[k]);

  size_t count, bytes;
  if (!dn_mul_size(n_keys + 1, epochs, &count, HFN) ||
      !dn_mul_size(count, sizeof(float), &bytes, HFN))
    return DN_ERR_SHAPE;
  float *buf = dn_alloc(bytes);
  dn_plot_series *series = dn_calloc(n_keys, sizeof *series);
  if (buf == NULL || series == NULL) {
    dn_free(buf);
    dn_free(series);
    dn_error_context(HFN);
    return DN_ERR_NOMEM;
  }
  for (size_t i = 0; i < epochs; i++)
    buf[i] = (float)(dn_history_epoch(history, i) + 1); /* 1-based, as fit prints */
  for (size_t k = 0; k < n_keys; k++) {
    const double *v = dn_history_values(history, keys[k]);
    float *y = buf + (k + 1) * epochs;
    for (size_t i = 0; i < epochs; i++)
      y[i] = isfinite(v[i]) && fabs(v[i]) <= FLT_MAX ? (float)v[i] : NAN;
    series[k] = (dn_plot_series){.label = keys[k], .x = buf, .y = y, .n = epochs};
  }
  /* defaults: x "epoch"; y the common quantity ("loss" for loss and val_loss) */
  chart_labels o = {options.title, options.x_label, options.y_label, options.width, options.height};
  if (o.x_label == NULL)
    o.x_label = "epoch";
  if (o.y_label == NULL) {
    bool common = true;
    for (size_t k = 1; k < n_keys; k++)
      common = common && strcmp(base_name(keys[k]), base_name(keys[0])) == 0;
    o.y_label = common ? base_name(keys[0]) : NULL;
  }
  dn_status s = plot(HFN, path, series, n_keys, o, true);
  dn_free(buf);
  dn_free(series);
  return s;
}
