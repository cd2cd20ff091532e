/* test_plot.c -- SVG charts: well-formed XML (xmllint), tick labels and legend text, escaping,
 * degenerate data (one point, constant, NaN/Inf), errors, and learning curves from a history.
 * Without xmllint the tests that write charts still check their contents, then report
 * themselves skipped (cmocka) and the program exits 77 (ctest: skipped), naming the reason. */
#define _POSIX_C_SOURCE 200809L
#include "dn_test.h"

#include <float.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "training/history.h"

static char tmp_dir[] = "/tmp/dn_test_plot_XXXXXX";
static bool have_xmllint;
static size_t unchecked;        /* charts of the current test xmllint could not check */
static size_t skipped_unlinted; /* tests skipped for want of xmllint */

static int setup(void **state) {
  (void)state;
  have_xmllint = system("command -v xmllint >/dev/null 2>&1") == 0;
  return mkdtemp(tmp_dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(const char *name) {
  static char path[4][256];
  static int next;
  char *p = path[next++ % 4];
  snprintf(p, 256, "%s/%s", tmp_dir, name);
  return p;
}

/* The whole file as a string (caller frees). */
static char *slurp(const char *path) {
  size_t n;
  char *s = dn_test_read_file(path, &n);
  assert_true(n > 0);
  return s;
}

static void assert_well_formed(const char *path) {
  if (!have_xmllint) {
    unchecked++;
    return;
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
  if (system(cmd) != 0) {
    print_error("xmllint rejects %s\n", path);
    fail();
  }
}

/* Per-test setup of the tests that write charts (a failed test leaves its count behind). */
static int reset_unchecked(void **state) {
  (void)state;
  unchecked = 0;
  return 0;
}

/* Ends a test that wrote charts: skipped, with the reason, if any of them went unchecked. Its
 * other assertions have run by then, so a wrong chart still fails. */
static void well_formed_or_skip(void) {
  if (unchecked == 0)
    return;
  print_message("  xmllint not found: %zu SVG file(s) of this test not checked for "
                "well-formedness; install libxml2-utils\n",
                unchecked);
  unchecked = 0;
  skipped_unlinted++;
  skip();
}

static void assert_contains(const char *haystack, const char *needle) {

  if (strstr(haystack, needle) == NULL) {
    print_error("the SVG lacks '%s'\n", needle);
    fail();
  }
}

static size_t count(const char *haystack, const char *needle) {
  size_t n = 0;
  for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  return n;
}

static void test_chart_ticks_labels_and_legend(void **state) {
  (void)state;
  float x[11], y1[11], y2[11];
  for (int i = 0; i <= 10; i++) {
    x[i] = (float)i;
    y1[i] = (float)i / 10.0f;
    y2[i] = 1.0f - (float)i / 10.0f;
  }
  dn_plot_series s[] = {{.label = "rising", .x = x, .y = y1, .n = 11},
                        {.label = "falling", .x = x, .y = y2, .n = 11, .points = true}};
  const char *path = tmp_path("chart.svg");
  assert_ok(
      dn_plot_svg(path, s, 2, .title = "Two series", .x_label = "step", .y_label = "fraction"));
  assert_well_formed(path);
  char *svg = slurp(path);
  assert_contains(svg, "width=\"720\" height=\"440\"");
  /* x spans [0, 10] (+5%): raw step 11/6 -> 2; y spans [0, 1]: 1.1/6 -> 0.2 */
  const char *x_ticks[] = {">0<", ">2<", ">4<", ">6<", ">8<", ">10<"};
  for (size_t i = 0; i < 6; i++)
    assert_contains(svg, x_ticks[i]);
  assert_null(strstr(svg, ">12<"));
  const char *y_ticks[] = {">0.0<", ">0.2<", ">0.4<", ">0.6<", ">0.8<", ">1.0<"};
  for (size_t i = 0; i < 6; i++)
    assert_contains(svg, y_ticks[i]);
  assert_null(strstr(svg, ">1.2<"));
  assert_contains(svg, ">Two series</text>");
  assert_contains(svg, ">step</text>");
  assert_contains(svg, ">fraction</text>");
  assert_contains(svg, ">rising</text>");
  assert_contains(svg, ">falling</text>");
  /* one polyline for the line, 11 markers plus one legend marker for the points */
  assert_int_equal(count(svg, "<polyline"), 1);
  assert_int_equal(count(svg, "r=\"3\""), 11);
  assert_int_equal(count(svg, "r=\"3.5\""), 1);
  /* distinct colours */
  assert_contains(svg, "#1f77b4");
  assert_contains(svg, "#ff7f0e");
  free(svg);

  /* custom size; x defaults to 0, 1, 2, ... with integer ticks */
  path = tmp_path("indexed.svg");
  float v[3] = {3, 1, 2};
  assert_ok(dn_plot_svg(path, &(dn_plot_series){.y = v, .n = 3}, 1, .width = 400, .height = 300));
  assert_well_formed(path);
  svg = slurp(path);
  assert_contains(svg, "width=\"400\" height=\"300\"");
  assert_contains(svg, ">0<");
  assert_contains(svg, ">2<");
  assert_null(strstr(svg, ">0.5<"));
  assert_int_equal(count(svg, "fill-opacity"), 0);
  free(svg);
  well_formed_or_skip();
}

static void test_xml_escaping(void **state) {
  (void)state;
  float y[2] = {1, 2};
  dn_plot_series s[] = {{.label = "a<b & c>d", .y = y, .n = 2},
                        {.label = "bad \x01 byte \xff end", .y = y, .n = 2}};
  const char *path = tmp_path("escape.svg");
  assert_ok(dn_plot_svg(path, s, 2, .title = "\"quoted\" & 'single' <tag>",
                        .x_label = "\xc3\xa9poque (\xe2\x82\xac)"));
  assert_well_formed(path);
  char *svg = slurp(path);
  assert_contains(svg, ">&quot;quoted&quot; &amp; &apos;single&apos; &lt;tag&gt;</text>");
  assert_contains(svg, ">a&lt;b &amp; c&gt;d</text>");
  assert_contains(svg, ">bad \xEF\xBF\xBD byte \xEF\xBF\xBD end</text>");
  assert_contains(svg, ">\xc3\xa9poque (\xe2\x82\xac)</text>"); /* valid UTF-8 passes through */
  free(svg);
  well_formed_or_skip();
}

static void test_degenerate_data(void **state) {
  (void)state;
  /* a single point: drawn as a dot, axes around it */
  float one_x = 3, one_y = -2;
  const char *path = tmp_path("single.svg");
  assert_ok(
      dn_plot_svg(path, &(dn_plot_series){.label = "p", .x = &one_x, .y = &one_y, .n = 1}, 1));
  assert_well_formed(path);
  char *svg = slurp(path);
  assert_int_equal(count(svg, "r=\"2.5\""), 1);
  assert_int_equal(count(svg, "<polyline"), 0);
  /* x: 3 +- 0.3 -> ticks 2.8 .. 3.2; y: -2 +- 0.2 */
  assert_contains(svg, ">3.0<");
  assert_contains(svg, ">-2.0<");
  free(svg);

  /* a constant series */
  float c[4] = {5, 5, 5, 5};
  path = tmp_path("constant.svg");
  assert_ok(dn_plot_svg(path, &(dn_plot_series){.y = c, .n = 4}, 1));
  assert_well_formed(path);
  svg = slurp(path);
  assert_contains(svg, ">4.6<");
  assert_contains(svg, ">5.0<");
  assert_contains(svg, ">5.4<");
  free(svg);

  /* NaN and Inf are skipped and break the line into two runs */
  float x[7] = {0, 1, 2, 3, 4, 5, 6}, y[7] = {1, 2, NAN, 3, 4, INFINITY, 100};
  x[6] = -INFINITY; /* the 100 is at a non-finite x: skipped, so it does not stretch y */
  path = tmp_path("nan.svg");
  assert_ok(dn_plot_svg(path, &(dn_plot_series){.label = "gappy", .x = x, .y = y, .n = 7}, 1));
  assert_well_formed(path);
  svg = slurp(path);
  assert_int_equal(count(svg, "<polyline"), 2);
  assert_contains(svg, ">4<"); /* y spans [1, 4]: integer ticks */
  assert_null(strstr(svg, ">100<"));
  assert_null(strstr(svg, "nan"));
  assert_null(strstr(svg, "inf"));
  free(svg);

  /* nothing finite at all: still a valid, empty chart over [0, 1] */
  float nan3[3] = {NAN, NAN, NAN};
  path = tmp_path("all_nan.svg");
  assert_ok(dn_plot_svg(path, &(dn_plot_series){.label = "lost", .y = nan3, .n = 3}, 1));
  assert_well_formed(path);
  svg = slurp(path);
  assert_int_equal(count(svg, "<polyline"), 0);
  assert_contains(svg, ">lost</text>");
  free(svg);

  /* very large and very small magnitudes get scientific labels */
  float big[2] = {1e7f, 3e7f}, tiny[2] = {1e-9f, 3e-9f};
  path = tmp_path("magnitudes.svg");
  dn_plot_series s[] = {{.x = big, .y = tiny, .n = 2}};
  assert_ok(dn_plot_svg(path, s, 1));
  assert_well_formed(path);
  svg = slurp(path);
  assert_contains(svg, ">2e+07<");
  assert_contains(svg, ">3e+07<");
  assert_contains(svg, ">2e-09<");
  assert_contains(svg, ">1.5e-09<");
  free(svg);

  /* extreme float values do not overflow the scaling */
  float ext[3] = {-FLT_MAX, 0, FLT_MAX};
  path = tmp_path("extreme.svg");
  assert_ok(dn_plot_svg(path, &(dn_plot_series){.y = ext, .n = 3, .points = true}, 1));
  assert_well_formed(path);
  svg = slurp(path);
  assert_int_equal(count(svg, "r=\"3\""), 3);
  assert_contains(svg, ">0<");
  free(svg);
  well_formed_or_skip();
}

static void test_many_series_cycle_styles(void **state) {
  (void)state;
  float y[12][2];
  dn_plot_series s[12];
  char labels[12][16];
  for (int k = 0; k < 12; k++) {
    y[k][0] = (float)k;
    y[k][1] = (float)k + 1;
    snprintf(labels[k], sizeof labels[k], "s%d", k);
    s[k] = (dn_plot_series){.label = labels[k], .y = y[k], .n = 2};
  }
  const char *path = tmp_path("many.svg");
  assert_ok(dn_plot_svg(path, s, 12));
  assert_well_formed(path);
  char *svg = slurp(path);
  assert_contains(svg, "#17becf");                     /* the tenth colour */
  assert_int_equal(count(svg, "stroke-dasharray"), 4); /* s10, s11: line and legend swatch */
  assert_contains(svg, ">s11</text>");
  free(svg);
  well_formed_or_skip();
}

static void test_errors(void **state) {
  (void)state;
  float y[2] = {1, 2};
  dn_plot_series ok = {.y = y, .n = 2};
  const char *path = tmp_path("err.svg");
  assert_status_msg(dn_plot_svg(NULL, &ok, 1), DN_ERR_ARG, "dn_plot_svg: path is NULL");
  assert_status_msg(dn_plot_svg(path, NULL, 1), DN_ERR_ARG, "series is NULL");
  assert_status_msg(dn_plot_svg(path, &ok, 0), DN_ERR_ARG, "n_series is 0");
  dn_plot_series two[2] = {ok, {.y = y, .n = 0}};
  assert_status_msg(dn_plot_svg(path, two, 2), DN_ERR_ARG, "series[1] has no points");
  two[1] = (dn_plot_series){.y = NULL, .n = 2};
  assert_status_msg(dn_plot_svg(path, two, 2), DN_ERR_ARG, "series[1].y is NULL");
  assert_status_msg(dn_plot_svg(path, &ok, 1, .width = 50), DN_ERR_ARG, "50 x 440");
  FILE *f = fopen(path, "rb");
  assert_null(f); /* no failed call left a file */

  char bad[300];
  snprintf(bad, sizeof bad, "%s/no/such/dir/x.svg", tmp_dir);
  assert_status_msg(dn_plot_svg(bad, &ok, 1), DN_ERR_IO, "cannot open");
  assert_status_msg(dn_plot_svg(bad, &ok, 1), DN_ERR_IO, "no/such/dir/x.svg");
  /* writes to /dev/full fail with ENOSPC; go through a symlink so that even a library that
   * wrongly deleted its output on failure could only remove the link, never the device */
  const char *full = tmp_path("full.svg");
  if (symlink("/dev/full", full) == 0) {
    assert_status_msg(dn_plot_svg(full, &ok, 1), DN_ERR_IO, "error writing");
    assert_status_msg(dn_plot_svg(full, &ok, 1), DN_ERR_IO, "full.svg");
    struct stat st;
    assert_int_equal(lstat(full, &st), 0); /* not a regular file: left alone */
    assert_true(S_ISLNK(st.st_mode));
  } else {
    print_message("  cannot link to /dev/full: write-failure check skipped\n");
  }
}

/* A history of `epochs` entries from epoch `first`, logging loss, val_loss and mae. */
static dn_history *make_history(size_t first, size_t epochs, bool with_loss) {
  dn_history *h = dn_history_new(0);
  assert_non_null(h);
  const char *names[] = {"loss", "val_loss", "mae"};
  for (size_t i = 0; i < epochs; i++) {
    double values[3] = {1.0 / (double)(i + 1), 1.2 / (double)(i + 1) + 0.05, 0.5 - 0.03 * i};
    dn_logs logs = {.count = 3, .names = names, .values = values};
    if (!with_loss) {
      logs.names = names + 2;
      logs.values = values + 2;
      logs.count = 1;
    }
    assert_ok(dn_history_record(h, first + i, &logs));
  }
  return h;
}

static void test_history_learning_curves(void **state) {
  (void)state;
  dn_history *h = make_history(0, 5, true);
  const char *path = tmp_path("history.svg");
  assert_ok(dn_plot_history_svg(h, path));
  assert_well_formed(path);
  char *svg = slurp(path);
  assert_contains(svg, ">loss</text>");     /* legend entry and y axis title */
  assert_contains(svg, ">val_loss</text>"); /* legend entry */
  assert_null(strstr(svg, ">mae</text>"));
  assert_contains(svg, ">epoch</text>");
  assert_int_equal(count(svg, ">loss</text>"), 2);
  const char *ticks[] = {">1<", ">2<", ">3<", ">4<", ">5<"}; /* 1-based, integer epochs */
  for (size_t i = 0; i < 5; i++)
    assert_contains(svg, ticks[i]);
  assert_null(strstr(svg, ">0<"));
  assert_null(strstr(svg, ">1.5<"));
  assert_int_equal(count(svg, "<polyline"), 2);
  free(svg);

  /* chosen keys and options */
  path = tmp_path("history_mae.svg");
  assert_ok(dn_plot_history_svg(h, path, .keys = (const char *[]){"mae", NULL},
                                .title = "model mae", .width = 600));
  assert_well_formed(path);
  svg = slurp(path);
  assert_contains(svg, ">model mae</text>");
  assert_contains(svg, "width=\"600\"");
  assert_int_equal(count(svg, ">mae</text>"), 2);
  free(svg);
  /* keys measuring different things: no common y title */
  path = tmp_path("history_mixed.svg");
  assert_ok(dn_plot_history_svg(h, path, .keys = (const char *[]){"loss", "mae", NULL}));
  svg = slurp(path);
  assert_int_equal(count(svg, ">loss</text>"), 1);
  assert_null(strstr(svg, "rotate(-90"));
  free(svg);

  assert_status_msg(dn_plot_history_svg(h, path, .keys = (const char *[]){"loss", "acc", NULL}),
                    DN_ERR_ARG, "dn_plot_history_svg: the history has no key \"acc\"");
  assert_status_msg(dn_plot_history_svg(h, path, .keys = (const char *[]){NULL}), DN_ERR_ARG,
                    "empty");
  assert_status_msg(dn_plot_history_svg(NULL, path), DN_ERR_ARG, "history is NULL");
  assert_status_msg(dn_plot_history_svg(h, NULL), DN_ERR_ARG, "path is NULL");
  dn_history_free(h);

  /* resumed training: epochs counted from initial_epoch (3 -> "4") */
  h = make_history(3, 2, true);
  path = tmp_path("history_resumed.svg");
  assert_ok(dn_plot_history_svg(h, path));
  svg = slurp(path);
  assert_contains(svg, ">4<");
  assert_contains(svg, ">5<");
  assert_null(strstr(svg, ">1<"));
  free(svg);
  dn_history_free(h);

  h = make_history(0, 3, false);
  assert_status_msg(dn_plot_history_svg(h, path), DN_ERR_ARG, "no key \"loss\"");
  dn_history_free(h);
  h = make_history(0, 0, true);
  assert_status_msg(dn_plot_history_svg(h, path), DN_ERR_ARG, "no epochs");
  dn_history_free(h);
  well_formed_or_skip();
}

/* Renders a chart to PNG when a converter is installed (a check that real renderers accept
 * it; look at the PNG to judge readability). */
static void test_render_with_converter(void **state) {
  (void)state;
  if (system("command -v rsvg-convert >/dev/null 2>&1") != 0) {
    print_message("  rsvg-convert not found: rendering check skipped\n");
    skip();
  }
  dn_history *h = make_history(0, 30, true);
  const char *svg = tmp_path("render.svg"), *png = tmp_path("render.png");
  assert_ok(dn_plot_history_svg(h, svg, .title = "model loss"));
  dn_history_free(h);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rsvg-convert '%s' -o '%s'", svg, png);
  assert_int_equal(system(cmd), 0);
  FILE *f = fopen(png, "rb");
  assert_non_null(f);
  unsigned char magic[8];
  assert_int_equal(fread(magic, 1, 8, f), 8);
  fclose(f);
  assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_chart_ticks_labels_and_legend, reset_unchecked),
      cmocka_unit_test_setup(test_xml_escaping, reset_unchecked),
      cmocka_unit_test_setup(test_degenerate_data, reset_unchecked),
      cmocka_unit_test_setup(test_many_series_cycle_styles, reset_unchecked),
      cmocka_unit_test(test_errors),
      cmocka_unit_test_setup(test_history_learning_curves, reset_unchecked),
      cmocka_unit_test(test_render_with_converter),
  };
  int failed = cmocka_run_group_tests(tests, setup, teardown);
  if (failed == 0 && skipped_unlinted > 0) {
    print_message("%zu test(s) skipped: xmllint not found, SVG well-formedness unchecked\n",
                  skipped_unlinted);
    return DN_TEST_SKIP;
  }
  return failed;
}
