/* csv.c -- CSV files into a dn_dataset (streaming, RFC 4180 quoting) and the seeded
 * train/test split.
 *
 * The format read:
 * - Records end at "\n", "\r\n" or a lone "\r"; the last one may lack it. Empty lines are
 *   skipped (they still count for line numbers). A UTF-8 byte-order mark is ignored.
 * - Fields are separated by `delimiter` (default ','). A field may be quoted ("..."): inside,
 *   "" is one quote and delimiters and line breaks are ordinary characters. Spaces and tabs
 *   around a field (outside its quotes) are ignored, unless the delimiter is one of them.
 * - The first record is the header (unless no_header) and fixes the number of fields; every
 *   data record must have that many.
 * - Only the chosen columns are parsed, as decimal numbers (decimal.h: locale-independent,
 *   correctly rounded to float; "nan", "inf" and hexadecimal forms are errors). Other columns
 *   may hold anything.
 * - A bad data row (wrong field count, empty or malformed chosen cell, a number beyond float's
 *   range, text after a closing quote) fails the load with file, line and column (1-based) in
 *   the message, or with drop_invalid_rows is skipped and counted in dropped_rows. An
 *   unterminated quote, a read error and exhausted memory always fail.
 * The file is read through a fixed 64 KiB buffer; only the current record and the growing
 * output arrays (doubled when full) are held in memory.
 * Limits: a record longer than max_record_bytes (its line break not counted) and a stream longer
 * than max_file_bytes fail the load (DN_ERR_FORMAT), so an endless input ends; peek() stops
 * handing out characters once a record is already too long to be valid, and read_record checks
 * the exact length at the record's end. dn_csv_load reads a regular file only, unless the caller
 * set allow_stream. */
#define _POSIX_C_SOURCE 200809L /* fdopen, O_CLOEXEC */

#include "data/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/decimal.h"
#include "core/rng.h"
#include "core/source.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/file.h"

#define FN "dn_csv_load"
#ifndef DN_CSV_READ_CHUNK /* the fuzz build makes it tiny to exercise refills */
#define DN_CSV_READ_CHUNK 65536
#endif
#define READ_CHUNK DN_CSV_READ_CHUNK
#define EXCERPT 40

enum { END_OF_FILE = -1, READ_ERROR = -2 };
/* Why peek() stopped with READ_ERROR. */
enum { STOP_READ = 1, STOP_FILE_LIMIT, STOP_RECORD_LIMIT };

typedef struct field {
  size_t start, length; /* bytes in reader.text (NUL-terminated there) */
  size_t line;          /* line where the field starts */
} field;

typedef struct reader {
  FILE *file;
  const char *fn; /* the public function messages name: dn_csv_load or dn_csv_source */
  const char *name;
  int delimiter; /* as an unsigned char, like the characters peek() returns */
  unsigned char *buf;
  size_t pos, len;
  bool eof;
  int failed;    /* 0, or the STOP_* reason peek() returns READ_ERROR */
  uint64_t base; /* bytes of the input before buf */
  uint64_t max_file;
  size_t max_record;
  bool in_record;        /* record_start is the offset of the current record's first byte */
  uint64_t record_start; /* (offsets count bytes from the start of the input) */
  size_t line;           /* 1-based line of the next character */
  /* the current record */
  char *text;
  size_t text_len, text_cap;
  field *fields;
  size_t n_fields, fields_cap;
  size_t record_line;
  /* the first recoverable problem in the current record */
  const char *bad_what;
  size_t bad_line, bad_column;
} reader;

/* ---- growable buffers ---- */

/* Makes room for `need` elements of `size` bytes in *ptr (capacity *cap, `used` in use),
 * doubling. Messages leave the function name to the caller (dn_error_context). */
static bool reserve(void **ptr, size_t *cap, size_t used, size_t need, size_t size) {
  if (need <= *cap)
    return true;
  size_t new_cap = *cap < 64 ? 64 : *cap, bytes;
  while (new_cap < need && new_cap <= SIZE_MAX / 2)
    new_cap *= 2;
  if (new_cap < need || (size != 0 && new_cap > SIZE_MAX / size)) {
    dn_fail(DN_ERR_NOMEM, "a buffer of %zu elements of %zu bytes overflows", need, size);
    return false;
  }
  bytes = new_cap * size;
  void *p = dn_alloc(bytes);
  if (p == NULL)
    return false;
  if (used > 0)
    memcpy(p, *ptr, used * size);
  dn_free(*ptr);
  *ptr = p;
  *cap = new_cap;
  return true;
}

/* ---- reading characters ---- */

static uint64_t offset(const reader *r) {
  return r->base + r->pos;
}

static int stop(reader *r, int why) {
  r->eof = true;
  r->failed = why;
  r->pos = r->len = 0;
  return READ_ERROR;
}

static int peek(reader *r) {
  if (r->pos == r->len) {
    if (r->eof)
      return r->failed ? READ_ERROR : END_OF_FILE;
    r->base += r->len;
    r->pos = 0;
    r->len = fread(r->buf, 1, READ_CHUNK, r->file);
    if (r->len == 0) {
      r->eof = true;
      r->failed = ferror(r->file) != 0 ? STOP_READ : 0;
      return r->failed ? READ_ERROR : END_OF_FILE;
    }
    if (r->base + r->len > r->max_file)
      return stop(r, STOP_FILE_LIMIT);
  }
  /* A record whose content is max_record bytes may still need its "\r\n" peeked; a byte
   * beyond that belongs to a record that is too long whatever it is. */
  uint64_t in = offset(r) - r->record_start;
  if (r->in_record && in >= 2 && in - 2 >= r->max_record)
    return stop(r, STOP_RECORD_LIMIT);
  return r->buf[r->pos];
}

static void advance(reader *r) {
  r->pos++;
}

/* Consumes a line break whose first character `c` was peeked ('\n', '\r' or "\r\n"). */
static void take_line_break(reader *r, int c) {
  advance(r);
  if (c == '\r' && peek(r) == '\n')
    advance(r);
  r->line++;
}

static bool is_blank(const reader *r, int c) {
  return (c == ' ' || c == '\t') && c != r->delimiter;
}

static bool put(reader *r, char c) {
  if (r->text_len == r->text_cap &&
      !reserve((void **)&r->text, &r->text_cap, r->text_len, r->text_len + 1, 1))
    return false;
  r->text[r->text_len++] = c;
  return true;
}

static dn_status record_too_long(const reader *r) {
  return dn_fail(DN_ERR_FORMAT,
                 "%s: '%s', line %zu: the record is longer than %zu bytes (the limit, "
                 "max_record_bytes)",
                 r->fn, r->name, r->record_line, r->max_record);
}

static dn_status read_failed(const reader *r) {
  if (r->failed == STOP_RECORD_LIMIT)
    return record_too_long(r);
  if (r->failed == STOP_FILE_LIMIT)
    return dn_fail(DN_ERR_FORMAT,
                   "%s: '%s': the input is longer than %llu bytes (the limit, max_file_bytes)",
                   r->fn, r->name, (unsigned long long)r->max_file);
  return dn_fail(DN_ERR_IO, "%s: '%s': read error near line %zu", r->fn, r->name, r->line);
}

static void mark_bad(reader *r, const char *what, size_t line, size_t column) {
  if (r->bad_what == NULL) {
    r->bad_what = what;
    r->bad_line = line;
    r->bad_column = column;
  }
}

/* The quoted part of a field, after its opening quote. */
static dn_status read_quoted(reader *r, size_t column) {
  size_t open_line = r->line;
  for (;;) {
    int c = peek(r);
    if (c == READ_ERROR)
      return read_failed(r);
    if (c == END_OF_FILE)
      return dn_fail(DN_ERR_FORMAT,
                     "%s: '%s', line %zu, column %zu: unterminated quoted field (no closing "
                     "quote before the end of the file)",
                     r->fn, r->name, open_line, column);
    advance(r);
    if (c == '"') {
      if (peek(r) != '"')
        return DN_OK;
      advance(r);
    } else if (c == '\n' || (c == '\r' && peek(r) != '\n')) {
      r->line++;
    }
    if (!put(r, (char)c))
      return DN_ERR_NOMEM;
  }
}

/* Reads the next non-empty record into r->fields / r->text. *got is false at the end. */
static dn_status read_record(reader *r, bool *got) {
  r->n_fields = 0;
  r->text_len = 0;
  r->bad_what = NULL;
  r->in_record = false;
  *got = false;
  int c;
  while ((c = peek(r)) == '\n' || c == '\r')
    take_line_break(r, c);
  if (c == READ_ERROR)
    return read_failed(r);
  if (c == END_OF_FILE)
    return DN_OK;
  r->record_line = r->line;
  r->in_record = true;
  r->record_start = offset(r);
  for (;;) {
    if (!reserve((void **)&r->fields, &r->fields_cap, r->n_fields, r->n_fields + 1, sizeof(field)))
      return DN_ERR_NOMEM;
    size_t column = r->n_fields + 1;
    field *f = &r->fields[r->n_fields++];
    f->start = r->text_len;
    f->line = r->line;
    while (is_blank(r, c = peek(r)))
      advance(r);
    if (c == '"') {
      advance(r);
      dn_status s = read_quoted(r, column);
      if (s != DN_OK)
        return s;
      while (is_blank(r, c = peek(r)))
        advance(r);
      if (c >= 0 && c != r->delimiter && c != '\n' && c != '\r') {
        mark_bad(r, "unexpected character after the closing quote", r->line, column);
        while ((c = peek(r)) >= 0 && c != r->delimiter && c != '\n' && c != '\r')
          advance(r);
      }
    } else {
      while (c >= 0 && c != r->delimiter && c != '\n' && c != '\r') {
        if (!put(r, (char)c))
          return DN_ERR_NOMEM;
        advance(r);
        c = peek(r);
      }
      while (r->text_len > f->start && is_blank(r, (unsigned char)r->text[r->text_len - 1]))
        r->text_len--;
    }
    f->length = r->text_len - f->start;
    if (!put(r, '\0'))
      return DN_ERR_NOMEM;
    c = peek(r);
    if (c == READ_ERROR)
      return read_failed(r);
    if (c == r->delimiter) {
      advance(r);
      c = peek(r);
      continue;
    }
    if (offset(r) - r->record_start > r->max_record)
      return record_too_long(r);
    if (c == '\n' || c == '\r')
      take_line_break(r, c);
    r->in_record = false;
    *got = true;
    return DN_OK;
  }
}

/* ---- column choice ---- */

typedef struct loader {
  reader r;
  const dn_csv_load_options *opt;
  char *header_text; /* copy of the header record (names), or NULL */
  field *header;
  size_t n_columns;
  size_t *features, *targets;
  size_t n_features, n_targets;
  bool *used;   /* per column: parsed? */
  float *value; /* per column: the current row's value */
  /* output */
  float *x, *y;
  size_t rows, capacity, dropped;
} loader;

static const char *column_name(const loader *ld, size_t column) {
  return ld->header != NULL ? ld->header_text + ld->header[column].start : NULL;
}

static dn_status find_name(const loader *ld, const char *name, const char *role, size_t *out) {
  size_t len = strlen(name);
  for (size_t j = 0; j < ld->n_columns; j++)
    if (ld->header[j].length == len && memcmp(column_name(ld, j), name, len) == 0) {
      *out = j;
      return DN_OK;
    }
  return dn_fail(DN_ERR_ARG, "%s: '%s': no column named \"%s\" (a %s) in the header", ld->r.fn,
                 ld->r.name, name, role);
}

/* Resolves names or indices into column indices (allocated into *cols). */
static dn_status resolve(loader *ld, const char *const *names, const size_t *indices,
                         size_t n_indices, const char *role, size_t **cols, size_t *n) {
  size_t count = n_indices;
  if (names != NULL)
    for (count = 0; names[count] != NULL;)
      count++;
  *n = count;
  *cols = dn_calloc(count, sizeof(size_t));
  if (*cols == NULL)
    return DN_ERR_NOMEM;
  for (size_t i = 0; i < count; i++) {
    if (names != NULL) {
      dn_status s = find_name(ld, names[i], role, &(*cols)[i]);
      if (s != DN_OK)
        return s;
    } else if (indices[i] >= ld->n_columns) {
      return dn_fail(DN_ERR_ARG, "%s: '%s': %s column index %zu is out of range (%zu columns)",
                     ld->r.fn, ld->r.name, role, indices[i], ld->n_columns);
    } else {
      (*cols)[i] = indices[i];
    }
  }
  return DN_OK;
}

static dn_status choose_columns(loader *ld) {
  const dn_csv_load_options *o = ld->opt;
  dn_status s = resolve(ld, o->target_names, o->target_columns, o->n_target_columns, "target",
                        &ld->targets, &ld->n_targets);
  if (s != DN_OK)
    return s;
  ld->used = dn_calloc(ld->n_columns, sizeof(bool));
  ld->value = dn_calloc(ld->n_columns, sizeof(float));
  if (ld->used == NULL || ld->value == NULL)
    return DN_ERR_NOMEM;
  if (o->feature_names != NULL || o->n_feature_columns > 0) {
    s = resolve(ld, o->feature_names, o->feature_columns, o->n_feature_columns, "feature",
                &ld->features, &ld->n_features);
    if (s != DN_OK)
      return s;
  } else {
    for (size_t i = 0; i < ld->n_targets; i++)
      ld->used[ld->targets[i]] = true;
    ld->features = dn_calloc(ld->n_columns, sizeof(size_t));
    if (ld->features == NULL)
      return DN_ERR_NOMEM;
    for (size_t j = 0; j < ld->n_columns; j++)
      if (!ld->used[j])
        ld->features[ld->n_features++] = j;
  }
  if (ld->n_features == 0)
    return dn_fail(DN_ERR_ARG, "%s: '%s': no feature columns (all %zu columns are targets)",
                   ld->r.fn, ld->r.name, ld->n_columns);
  for (size_t i = 0; i < ld->n_features; i++)
    ld->used[ld->features[i]] = true;
  for (size_t i = 0; i < ld->n_targets; i++)
    ld->used[ld->targets[i]] = true;
  return DN_OK;
}

/* Keeps the header's names for lookups and messages. */
static dn_status keep_header(loader *ld) {
  reader *r = &ld->r;
  if (r->bad_what != NULL)
    return dn_fail(DN_ERR_FORMAT, "%s: '%s', line %zu, column %zu: header: %s", r->fn, r->name,
                   r->bad_line, r->bad_column, r->bad_what);
  ld->header_text = dn_alloc(r->text_len);
  ld->header = dn_calloc(r->n_fields, sizeof(field));
  if (ld->header_text == NULL || ld->header == NULL)
    return DN_ERR_NOMEM;
  memcpy(ld->header_text, r->text, r->text_len);
  memcpy(ld->header, r->fields, r->n_fields * sizeof(field));
  return DN_OK;
}

/* ---- rows ---- */

/* A printable excerpt of a cell for messages. */
static void excerpt(const char *s, size_t len, char out[EXCERPT + 4]) {
  size_t n = len < EXCERPT ? len : EXCERPT;
  for (size_t i = 0; i < n; i++)
    out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  strcpy(out + n, len > EXCERPT ? "..." : "");
}

/* Checks and parses the current record into ld->value; returns DN_OK, or DN_ERR_FORMAT with
 * the row's first problem as the message. */
static dn_status parse_row(loader *ld) {
  reader *r = &ld->r;
  if (r->bad_what != NULL)
    return dn_fail(DN_ERR_FORMAT, "%s: '%s', line %zu, column %zu: %s", r->fn, r->name, r->bad_line,
                   r->bad_column, r->bad_what);
  if (r->n_fields != ld->n_columns) {
    size_t column = (r->n_fields < ld->n_columns ? r->n_fields : ld->n_columns) + 1;
    return dn_fail(DN_ERR_FORMAT, "%s: '%s', line %zu, column %zu: the row has %zu fields, %s %zu",
                   r->fn, r->name, r->record_line, column, r->n_fields,
                   ld->header != NULL ? "the header has" : "the first row has", ld->n_columns);
  }
  for (size_t j = 0; j < ld->n_columns; j++) {
    if (!ld->used[j])
      continue;
    const field *f = &r->fields[j];
    const char *cell = r->text + f->start;
    dn_decimal_result res = dn_decimal_to_float(cell, f->length, (char)r->delimiter, &ld->value[j]);
    if (res != DN_DECIMAL_OK) {
      char text[EXCERPT + 4], named[EXCERPT + 12] = "";
      const char *name = column_name(ld, j);
      excerpt(cell, f->length, text);
      if (name != NULL && ld->header[j].length > 0) {
        char n[EXCERPT + 4];
        excerpt(name, ld->header[j].length, n);
        snprintf(named, sizeof named, " (\"%s\")", n);
      }
      if (res == DN_DECIMAL_EMPTY)
        return dn_fail(DN_ERR_FORMAT, "%s: '%s', line %zu, column %zu%s: %s", r->fn, r->name,
                       f->line, j + 1, named, dn_decimal_result_string(res));
      return dn_fail(DN_ERR_FORMAT, "%s: '%s', line %zu, column %zu%s: %s \"%s\"", r->fn, r->name,
                     f->line, j + 1, named, dn_decimal_result_string(res), text);
    }
  }
  return DN_OK;
}

/* Replaces *p (holding `used` floats) by a copy with room for `elems` floats. */
static bool resize(float **p, size_t used, size_t elems) {
  size_t bytes;
  if (!dn_mul_size(elems, sizeof(float), &bytes, "the output arrays")) {
    dn_fail(DN_ERR_NOMEM, "output arrays of %zu floats overflow", elems);
    return false;
  }
  float *q = dn_alloc(bytes);
  if (q == NULL)
    return false;
  if (used > 0)
    memcpy(q, *p, used * sizeof(float));
  dn_free(*p);
  *p = q;
  return true;
}

static dn_status append_row(loader *ld) {
  if (ld->rows == ld->capacity) {
    size_t rows = ld->capacity < 256 ? 256 : ld->capacity * 2, nx, ny;
    if (rows <= ld->capacity || !dn_mul_size(rows, ld->n_features, &nx, "x") ||
        !dn_mul_size(rows, ld->n_targets, &ny, "y"))
      return dn_fail(DN_ERR_NOMEM, "'%s': %zu rows overflow the output arrays", ld->r.name,
                     ld->rows);
    if (!resize(&ld->x, ld->rows * ld->n_features, nx))
      return DN_ERR_NOMEM;
    if (ld->n_targets > 0 && !resize(&ld->y, ld->rows * ld->n_targets, ny))
      return DN_ERR_NOMEM;
    ld->capacity = rows;
  }
  float *xr = ld->x + ld->rows * ld->n_features;
  for (size_t i = 0; i < ld->n_features; i++)
    xr[i] = ld->value[ld->features[i]];
  if (ld->n_targets > 0) {
    float *yr = ld->y + ld->rows * ld->n_targets;
    for (size_t i = 0; i < ld->n_targets; i++)
      yr[i] = ld->value[ld->targets[i]];
  }
  ld->rows++;
  return DN_OK;
}

/* A data record: parse, then append or drop. */
static dn_status take_row(loader *ld) {
  dn_status s = parse_row(ld);
  if (s == DN_ERR_FORMAT && ld->opt->drop_invalid_rows) {
    ld->dropped++;
    return DN_OK;
  }
  return s != DN_OK ? s : append_row(ld);
}

/* The first record: the header (kept), or with no_header the first data row (the current
 * record); then the column choice. *data_offset and *data_line receive where the data rows
 * start (for a rewind). */
static dn_status read_header(loader *ld, uint64_t *data_offset, size_t *data_line) {
  reader *r = &ld->r;
  bool got;
  /* a UTF-8 byte-order mark */
  if (peek(r) == 0xEF && r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
    r->pos += 3;
  *data_offset = offset(r);
  *data_line = r->line;
  dn_status s = read_record(r, &got);
  if (s != DN_OK)
    return s;
  if (!got)
    return dn_fail(DN_ERR_FORMAT, "%s: '%s': no data rows (the file is empty)", r->fn, r->name);
  ld->n_columns = r->n_fields;
  if (!ld->opt->no_header) {
    *data_offset = offset(r);
    *data_line = r->line;
    if ((s = keep_header(ld)) != DN_OK)
      return s;
  }
  return choose_columns(ld);
}

static dn_status load(loader *ld) {
  reader *r = &ld->r;
  bool got;
  uint64_t data_offset;
  size_t data_line;
  dn_status s = read_header(ld, &data_offset, &data_line);
  if (s != DN_OK)
    return s;
  if (ld->opt->no_header && (s = take_row(ld)) != DN_OK)
    return s;
  for (;;) {
    if ((s = read_record(r, &got)) != DN_OK)
      return s;
    if (!got)
      break;
    if ((s = take_row(ld)) != DN_OK)
      return s;
  }
  if (ld->rows == 0)
    return dn_fail(DN_ERR_FORMAT, "%s: '%s': no data rows (%zu invalid rows dropped)", r->fn,
                   r->name, ld->dropped);
  return DN_OK;
}

static dn_status check_options(const dn_csv_load_options *o, const char *fn) {
  char d = o->delimiter;
  if (o->feature_names != NULL && o->n_feature_columns != 0)
    return dn_fail(DN_ERR_ARG, "%s: give features by name or by index, not both", fn);
  if (o->target_names != NULL && o->n_target_columns != 0)
    return dn_fail(DN_ERR_ARG, "%s: give targets by name or by index, not both", fn);
  if (o->n_feature_columns != 0 && o->feature_columns == NULL)
    return dn_fail(DN_ERR_ARG, "%s: n_feature_columns is %zu but feature_columns is NULL", fn,
                   o->n_feature_columns);
  if (o->n_target_columns != 0 && o->target_columns == NULL)
    return dn_fail(DN_ERR_ARG, "%s: n_target_columns is %zu but target_columns is NULL", fn,
                   o->n_target_columns);
  if (o->no_header && (o->feature_names != NULL || o->target_names != NULL))
    return dn_fail(DN_ERR_ARG, "%s: with no_header, columns are chosen by index only", fn);
  if (d == '"' || d == '\n' || d == '\r')
    return dn_fail(DN_ERR_ARG, "%s: the delimiter cannot be a quote or a line break", fn);
  return DN_OK;
}

/* Frees what a loader holds apart from its output arrays. */
static void free_loader(loader *ld) {
  dn_free(ld->r.buf);
  dn_free(ld->r.text);
  dn_free(ld->r.fields);
  dn_free(ld->header_text);
  dn_free(ld->header);
  dn_free(ld->features);
  dn_free(ld->targets);
  dn_free(ld->used);
  dn_free(ld->value);
}

/* A reader over `file` for the options (limits, delimiter), its read buffer allocated. */
static dn_status init_loader(loader *ld, FILE *file, const char *fn, const char *name,
                             const dn_csv_load_options *o) {
  memset(ld, 0, sizeof *ld);
  ld->opt = o;
  ld->r.file = file;
  ld->r.fn = fn;
  ld->r.name = name != NULL ? name : "<stream>";
  ld->r.delimiter = o->delimiter != 0 ? (unsigned char)o->delimiter : ',';
  ld->r.line = 1;
  ld->r.max_record = o->max_record_bytes != 0 ? o->max_record_bytes : DN_CSV_MAX_RECORD_BYTES;
  ld->r.max_file = o->max_file_bytes != 0 ? o->max_file_bytes : DN_CSV_MAX_FILE_BYTES;
  ld->r.buf = dn_alloc(READ_CHUNK);
  return ld->r.buf != NULL ? DN_OK : DN_ERR_NOMEM;
}

/* An owning rows x cols tensor over storage from dn_alloc (dn_tensor_free releases it). */
static dn_tensor owning(float *data, size_t rows, size_t cols) {
  dn_tensor t = dn_tensor_2d(data, rows, cols);
  t.owner = true;
  return t;
}

dn_status dn_csv_load_stream(FILE *file, const char *name, const dn_csv_load_options *options,
                             dn_dataset *out) {
  DN_CHECK_NOT_NULL(out, FN);
  memset(out, 0, sizeof *out);
  DN_CHECK_NOT_NULL(file, FN);
  dn_csv_load_options none = {0};
  const dn_csv_load_options *o = options != NULL ? options : &none;
  dn_status s = check_options(o, FN);
  if (s != DN_OK)
    return s;
  loader ld;
  s = init_loader(&ld, file, FN, name, o);
  if (s == DN_OK)
    s = load(&ld);
  if (s == DN_ERR_NOMEM)
    dn_error_context(FN);
  free_loader(&ld);
  if (s != DN_OK) {
    dn_free(ld.x);
    dn_free(ld.y);
    return s;
  }
  *out = (dn_dataset){.x = owning(ld.x, ld.rows, ld.n_features),
                      .y = ld.n_targets > 0 ? owning(ld.y, ld.rows, ld.n_targets) : (dn_tensor){0},
                      .dropped_rows = ld.dropped};
  return DN_OK;
}

/* Opens options->path for reading: a regular file no larger than the file limit, or with
 * allow_stream anything but a directory (io/file.h: the kind is checked before the open, so a
 * refused FIFO or device is never opened, and again on the descriptor). */
static dn_status open_input(const dn_csv_load_options *o, const char *fn, FILE **out) {
  const char *path = o->path;
  char err[128];
  uint64_t max_file = o->max_file_bytes != 0 ? o->max_file_bytes : DN_CSV_MAX_FILE_BYTES;
  struct stat sb;
  int fd = -1;
  dn_status st = dn_file_open_checked(path, fn, o->allow_stream, "",
                                      "; set .allow_stream to read a pipe or a device", &fd, &sb);
  if (st != DN_OK)
    return st;
  if (S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size > max_file) {
    close(fd);
    return dn_fail(DN_ERR_FORMAT,
                   "%s: '%s' is %jd bytes, more than %llu (the limit, max_file_bytes)", fn, path,
                   (intmax_t)sb.st_size, (unsigned long long)max_file);
  }
  *out = fdopen(fd, "rb");
  if (*out == NULL) {
    int e = errno;
    close(fd);
    return dn_fail(DN_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                   dn_errno_text(e, err, sizeof err));
  }
  return DN_OK;
}

dn_status dn_csv_load_with(dn_csv_load_options options) {
  dn_dataset *out = options.out;
  const char *path = options.path;
  DN_CHECK_NOT_NULL(out, FN);
  memset(out, 0, sizeof *out);
  DN_CHECK_NOT_NULL(path, FN);
  dn_status s = check_options(&options, FN);
  if (s != DN_OK)
    return s;
  FILE *file = NULL;
  s = open_input(&options, FN, &file);
  if (s != DN_OK)
    return s;
  s = dn_csv_load_stream(file, path, &options, out);
  if (fclose(file) != 0 && s == DN_OK) {
    dn_dataset_free(out);
    return dn_fail(DN_ERR_IO, FN ": '%s': error closing the file", path);
  }
  return s;
}

void dn_dataset_free(dn_dataset *data) {
  if (data == NULL)
    return;
  dn_tensor_free(&data->x);
  dn_tensor_free(&data->y);
  memset(data, 0, sizeof *data);
}

/* ---- a batch source over a CSV file (dn_csv_source) ---- */

#undef FN
#define FN "dn_csv_source"

typedef struct csv_source {
  loader ld;
  dn_csv_load_options opt; /* ld.opt points here */
  char *path;              /* a copy, for messages */
  uint64_t data_offset;    /* where the data rows start, for a rewind */
  size_t data_line;
  size_t width; /* n_features + n_targets floats per row */
  float *row;   /* one row (no_shuffle) */
  float *pool;  /* the shuffle buffer: pool_cap rows, pool_count in use */
  size_t pool_cap, pool_count;
  bool shuffle, ended, broken;
  size_t rows_pass; /* rows handed out in this pass */
  dn_rng rng;
} csv_source;

/* The next valid data row of the file into dst (features, then targets); *got false at the
 * end. Invalid rows are skipped and counted with drop_invalid_rows, as dn_csv_load does. */
static dn_status next_file_row(csv_source *cs, float *dst, bool *got) {
  loader *ld = &cs->ld;
  for (;;) {
    dn_status s = read_record(&ld->r, got);
    if (s != DN_OK || !*got)
      return s;
    s = parse_row(ld);
    if (s == DN_ERR_FORMAT && ld->opt->drop_invalid_rows) {
      ld->dropped++;
      continue;
    }
    if (s != DN_OK)
      return s;
    for (size_t i = 0; i < ld->n_features; i++)
      dst[i] = ld->value[ld->features[i]];
    for (size_t i = 0; i < ld->n_targets; i++)
      dst[ld->n_features + i] = ld->value[ld->targets[i]];
    return DN_OK;
  }
}

/* The next row handed out (file order, or drawn from the refilling shuffle buffer) into
 * *out (a pointer into the source's storage, valid until the next call); NULL at the end. */
static dn_status next_row(csv_source *cs, const float **out) {
  bool got = true;
  dn_status s = DN_OK;
  *out = NULL;
  if (!cs->shuffle) {
    if (!cs->ended && (s = next_file_row(cs, cs->row, &got)) == DN_OK && got)
      *out = cs->row;
    cs->ended |= !got;
    return s;
  }
  while (!cs->ended && cs->pool_count < cs->pool_cap) {
    if ((s = next_file_row(cs, cs->pool + cs->pool_count * cs->width, &got)) != DN_OK)
      return s;
    cs->ended = !got;
    cs->pool_count += got;
  }
  if (cs->pool_count == 0)
    return DN_OK;
  /* Draw one; the last row takes its place (copied out first, into the spare row). */
  size_t j = (size_t)dn_rng_below(&cs->rng, cs->pool_count), w = cs->width;
  memcpy(cs->row, cs->pool + j * w, w * sizeof(float));
  cs->pool_count--;
  if (j != cs->pool_count)
    memcpy(cs->pool + j * w, cs->pool + cs->pool_count * w, w * sizeof(float));
  *out = cs->row;
  return DN_OK;
}

static dn_status csv_next(void *state, dn_tensor x, dn_tensor y, size_t *rows) {
  csv_source *cs = state;
  const loader *ld = &cs->ld;
  size_t cap = dn_tensor_rows(x), nf = ld->n_features, nt = ld->n_targets, n = 0;
  if (cs->broken)
    return dn_fail(DN_ERR_STATE, FN ": '%s': an earlier read failed; reset the source first",
                   cs->path);
  dn_status s = DN_OK;
  while (n < cap) {
    const float *row;
    if ((s = next_row(cs, &row)) != DN_OK || row == NULL)
      break;
    memcpy(x.data + n * nf, row, nf * sizeof(float));
    if (nt > 0)
      memcpy(y.data + n * nt, row + nf, nt * sizeof(float));
    n++;
  }
  cs->rows_pass += n;
  if (s == DN_OK && n == 0 && cs->rows_pass == 0)
    s = dn_fail(DN_ERR_FORMAT, FN ": '%s': no data rows (%zu invalid rows dropped)", cs->path,
                ld->dropped);
  if (s != DN_OK) {
    if (s == DN_ERR_NOMEM)
      dn_error_context(FN);
    cs->broken = true;
    return s;
  }
  *rows = n;
  return DN_OK;
}

/* Back to the first data row: a seek, and the reader as it was there. */
static dn_status csv_reset(void *state) {
  csv_source *cs = state;
  reader *r = &cs->ld.r;
  if (fseeko(r->file, (off_t)cs->data_offset, SEEK_SET) != 0) {
    char err[128];
    int e = errno;
    return dn_fail(DN_ERR_IO, FN ": '%s': cannot seek back to the first row: %s", cs->path,
                   dn_errno_text(e, err, sizeof err));
  }
  clearerr(r->file);
  r->base = cs->data_offset;
  r->pos = r->len = 0;
  r->eof = false;
  r->failed = 0;
  r->in_record = false;
  r->line = cs->data_line;
  cs->pool_count = 0;
  cs->ended = cs->broken = false;
  cs->rows_pass = 0;
  cs->ld.dropped = 0;
  return DN_OK;
}

static void csv_free(void *state) {
  csv_source *cs = state;
  if (cs == NULL)
    return;
  if (cs->ld.r.file != NULL)
    fclose(cs->ld.r.file);
  free_loader(&cs->ld);
  dn_free(cs->row);
  dn_free(cs->pool);
  dn_free(cs->path);
  dn_free(cs);
}

/* Opens the file, reads the header, chooses the columns and sizes the buffers. */
static dn_status csv_open(csv_source *cs, const dn_csv_source_options *o) {
  FILE *file = NULL;
  size_t len = strlen(o->path);
  if ((cs->path = dn_alloc(len + 1)) == NULL)
    return DN_ERR_NOMEM;
  memcpy(cs->path, o->path, len + 1);
  dn_status s = open_input(&cs->opt, FN, &file);
  if (s != DN_OK)
    return s;
  if ((s = init_loader(&cs->ld, file, FN, cs->path, &cs->opt)) != DN_OK)
    return s; /* csv_free closes the file */
  if ((s = read_header(&cs->ld, &cs->data_offset, &cs->data_line)) != DN_OK)
    return s;
  cs->width = cs->ld.n_features + cs->ld.n_targets;
  cs->shuffle = !o->no_shuffle;
  cs->pool_cap =
      cs->shuffle ? (o->shuffle_buffer != 0 ? o->shuffle_buffer : DN_CSV_SHUFFLE_BUFFER) : 0;
  size_t pool;
  if (!dn_mul_size(cs->pool_cap, cs->width, &pool, "the shuffle buffer") ||
      pool > SIZE_MAX / sizeof(float))
    return dn_fail(DN_ERR_NOMEM, FN ": a shuffle buffer of %zu rows of %zu floats overflows",
                   cs->pool_cap, cs->width);
  cs->row = dn_alloc(cs->width * sizeof(float));
  if (cs->row == NULL || (pool > 0 && (cs->pool = dn_alloc(pool * sizeof(float))) == NULL))
    return DN_ERR_NOMEM;
  dn_rng_seed(&cs->rng, o->seed, DN_STREAM_SHUFFLE);
  return csv_reset(cs); /* with no_header the first row was read as the header: back to it */
}

dn_source *dn_csv_source_with(dn_csv_source_options o) {
  if (o.path == NULL)
    return dn_fail_null(DN_ERR_ARG, FN ": path is NULL");
  csv_source *cs = dn_calloc(1, sizeof *cs);
  if (cs == NULL) {
    dn_error_context(FN);
    return NULL;
  }
  cs->opt = (dn_csv_load_options){
      .path = o.path,
      .feature_names = o.feature_names,
      .target_names = o.target_names,
      .feature_columns = o.feature_columns,
      .n_feature_columns = o.n_feature_columns,
      .target_columns = o.target_columns,
      .n_target_columns = o.n_target_columns,
      .delimiter = o.delimiter,
      .no_header = o.no_header,
      .drop_invalid_rows = o.drop_invalid_rows,
      .max_record_bytes = o.max_record_bytes,
      .max_file_bytes = o.max_file_bytes != 0 ? o.max_file_bytes : UINT64_MAX,
  };
  dn_status s = check_options(&cs->opt, FN);
  if (s == DN_OK)
    s = csv_open(cs, &o);
  dn_source *src = NULL;
  if (s == DN_OK)
    src = dn_source(csv_next, .state = cs, .x_cols = cs->ld.n_features, .y_cols = cs->ld.n_targets,
                    .reset = csv_reset, .free_state = csv_free);
  if (src == NULL) {
    if (s == DN_ERR_NOMEM)
      dn_error_context(FN);
    csv_free(cs);
  }
  return src;
}

size_t dn_csv_source_dropped_rows(const dn_source *source) {
  if (source == NULL || source->o.next != csv_next)
    return 0;
  return ((const csv_source *)source->o.state)->ld.dropped;
}

/* ---- train/test split ---- */

#undef FN
#define FN "dn_train_test_split"

/* Copies the rows order[0..n) of `data` (x rows x nf, y rows x nt or none) into a new
 * dataset. */
static dn_status gather(const dn_matrix *x, const dn_matrix *y, const size_t *order, size_t n,
                        dn_dataset *out) {
  dn_dataset d = {0};
  dn_status s = dn_tensor_new_2d(&d.x, n, x->cols);
  if (s == DN_OK && y != NULL && (s = dn_tensor_new_2d(&d.y, n, y->cols)) != DN_OK)
    dn_tensor_free(&d.x);
  if (s != DN_OK)
    return s;
  for (size_t i = 0; i < n; i++) {
    memcpy(d.x.data + i * x->cols, x->data + order[i] * x->cols, x->cols * sizeof(float));
    if (y != NULL)
      memcpy(d.y.data + i * y->cols, y->data + order[i] * y->cols, y->cols * sizeof(float));
  }
  *out = d;
  return DN_OK;
}

dn_status dn_train_test_split(const dn_dataset *data, double test_fraction, uint64_t seed,
                              dn_dataset *train, dn_dataset *test) {
  DN_CHECK_NOT_NULL(train, FN);
  DN_CHECK_NOT_NULL(test, FN);
  DN_CHECK_ARG(train != test, FN, "train and test must be different datasets");
  DN_CHECK_ARG(train != data && test != data, FN, "the outputs must not be the input dataset");
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  DN_CHECK_NOT_NULL(data, FN);
  DN_CHECK_ARG(data->x.rank != 0 || data->x.data != NULL, FN, "the dataset has no features");
  dn_matrix x, y;
  dn_status s = dn_tensor_matrix(data->x, FN, "data->x", 2, &x);
  if (s != DN_OK)
    return s;
  bool has_y = data->y.rank != 0 || data->y.data != NULL;
  if (has_y && (s = dn_tensor_matrix(data->y, FN, "data->y", 2, &y)) != DN_OK)
    return s;
  if (has_y && y.rows != x.rows)
    return dn_fail(DN_ERR_SHAPE, FN ": data->x has %zu rows but data->y has %zu", x.rows, y.rows);
  DN_CHECK_ARG(test_fraction > 0.0 && test_fraction < 1.0, FN,
               "test_fraction must be in (0, 1), got %g", test_fraction);
  DN_CHECK_ARG(x.rows >= 2, FN, "need at least 2 rows to split, got %zu", x.rows);
  size_t rows = x.rows;
  double want = round((double)rows * test_fraction);
  /* (double)(rows - 1) may round up above rows - 1: clamp after converting */
  size_t n_test = want < 1.0 ? 1 : want >= (double)rows ? rows - 1 : (size_t)want;
  if (n_test > rows - 1)
    n_test = rows - 1;
  size_t *order = dn_calloc(rows, sizeof(size_t));
  if (order == NULL)
    return dn_fail(DN_ERR_NOMEM, FN ": out of memory for %zu row indices", rows);
  for (size_t i = 0; i < rows; i++)
    order[i] = i;
  dn_rng rng;
  dn_rng_seed(&rng, seed, DN_STREAM_SPLIT);
  for (size_t i = rows - 1; i > 0; i--) { /* Fisher-Yates */
    size_t j = (size_t)dn_rng_below(&rng, (uint64_t)i + 1);
    size_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  dn_dataset a = {0}, b = {0};
  const dn_matrix *yp = has_y ? &y : NULL;
  s = gather(&x, yp, order, rows - n_test, &a);
  if (s == DN_OK) {
    s = gather(&x, yp, order + (rows - n_test), n_test, &b);
    if (s != DN_OK)
      dn_dataset_free(&a);
  }
  dn_free(order);
  if (s != DN_OK) {
    dn_error_context(FN);
    return s;
  }
  *train = a;
  *test = b;
  return DN_OK;
}
