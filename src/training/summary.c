/* summary.c -- dn_model_summary: Keras 3's model.summary() table (line length 88). */
#include <stdio.h>
#include <string.h>

#include "training/optimizer.h"
#include "model/sequential.h"
#include "core/status.h"

/* Inner widths (padding included) of the three columns: 37 + 30 + 17 + 4 borders = 88. */
static const int col_width[3] = {37, 30, 17};

static void rule(FILE *out, const char *left, const char *fill, const char *mid,
                 const char *right) {
  fputs(left, out);
  for (int c = 0; c < 3; c++) {
    for (int i = 0; i < col_width[c]; i++)
      fputs(fill, out);
    fputs(c < 2 ? mid : right, out);
  }
  fputc('\n', out);
}

static void row(FILE *out, const char *bar, const char *a, const char *b, const char *c) {
  fprintf(out, "%s %-*.*s %s %-*.*s %s %*.*s %s\n", bar, col_width[0] - 2, col_width[0] - 2, a, bar,
          col_width[1] - 2, col_width[1] - 2, b, bar, col_width[2] - 2, col_width[2] - 2, c, bar);
}

/* 1234567 -> "1,234,567" (Keras formats counts with "{:,}"). */
static void with_commas(char *buf, size_t cap, size_t n) {
  char digits[32];
  int len = snprintf(digits, sizeof digits, "%zu", n);
  size_t o = 0;
  for (int i = 0; i < len && o + 2 < cap; i++) {
    if (i > 0 && (len - i) % 3 == 0)
      buf[o++] = ',';
    buf[o++] = digits[i];
  }
  buf[o] = '\0';
}

/* Keras's readable_memory_size: 1024-based units, two decimals. */
static void memory_size(char *buf, size_t cap, double bytes) {
  static const char *units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  size_t u = 0;
  while (u + 1 < sizeof units / sizeof *units && bytes / 1024.0 >= 1.0) {
    bytes /= 1024.0;
    u++;
  }
  snprintf(buf, cap, "%.2f %s", bytes, units[u]);
}

static void total_line(FILE *out, const char *what, size_t count) {
  char n[32], mem[32];
  with_commas(n, sizeof n, count);
  memory_size(mem, sizeof mem, (double)count * sizeof(float));
  fprintf(out, " %s: %s (%s)\n", what, n, mem);
}

dn_status dn_model_summary(const dn_model *model, FILE *out) {
  if (model == NULL || out == NULL)
    return dn_fail(DN_ERR_ARG, "dn_model_summary: %s is NULL", model ? "out" : "model");
  fprintf(out, "Model: \"sequential\"\n");
  rule(out, "┏", "━", "┳", "┓");
  char params_head[32];
  snprintf(params_head, sizeof params_head, "%*s", col_width[2] - 2, "Param #");
  row(out, "┃", "Layer (type)", "Output Shape", params_head);
  rule(out, "┡", "━", "╇", "┩");
  for (size_t i = 0; i < model->n_layers; i++) {
    const dn_layer *l = model->layers[i];
    char name[96], shape[48], count[48];
    snprintf(name, sizeof name, "%s (%s)", l->name, l->ops->type);
    if (l->built) {
      snprintf(shape, sizeof shape, "(None, %zu)", l->output_dim);
      with_commas(count, sizeof count, l->n_params);
    } else {
      snprintf(shape, sizeof shape, "?");
      snprintf(count, sizeof count, "0 (unbuilt)");
    }
    row(out, "│", name, shape, count);
    if (i + 1 < model->n_layers)
      rule(out, "├", "─", "┼", "┤");
  }
  rule(out, "└", "─", "┴", "┘");
  size_t total = model->n_params, trainable = dn_model_count_trainable_params(model);
  /* Keras builds the optimizer for the trainable weights as compiled (model->vars' flags) */
  size_t compiled = 0;
  for (size_t v = 0; v < model->n_vars; v++)
    compiled += model->vars[v].trainable ? model->vars[v].size : 0;
  size_t optimizer = dn_optimizer_variable_count(dn_model_optimizer(model), compiled);
  total_line(out, "Total params", total + optimizer);
  total_line(out, "Trainable params", trainable);
  total_line(out, "Non-trainable params", total - trainable);
  if (optimizer > 0)
    total_line(out, "Optimizer params", optimizer);
  return ferror(out) ? dn_fail(DN_ERR_IO, "dn_model_summary: write error") : DN_OK;
}
