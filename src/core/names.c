/* names.c -- the message for an unknown name in a table of Keras names (names.h). */
#include "core/names.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int dn_same_ignoring_case(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (lower((unsigned char)*a) != lower((unsigned char)*b))
      return 0;
  return *a == *b;
}

/* Edit distance (insert, delete, substitute, swap two neighbours; ASCII case ignored) when it
 * is at most `limit`, else limit + 1. Names longer than the rows hold are never close. */
#define DN_NAME_ROW 48
static size_t distance(const char *a, const char *b, size_t limit) {
  size_t n = strlen(a), m = strlen(b);
  if (n >= DN_NAME_ROW || m >= DN_NAME_ROW || (n > m ? n - m : m - n) > limit)
    return limit + 1;
  size_t rows[3][DN_NAME_ROW]; /* rows i-2, i-1 and i of the table */
  for (size_t j = 0; j <= m; j++)
    rows[1][j] = j;
  for (size_t i = 1; i <= n; i++) {
    size_t *cur = rows[(i + 1) % 3], *prev = rows[i % 3], *prev2 = rows[(i + 2) % 3];
    cur[0] = i;
    for (size_t j = 1; j <= m; j++) {
      int ca = lower((unsigned char)a[i - 1]), cb = lower((unsigned char)b[j - 1]);
      size_t best = prev[j - 1] + (ca != cb);
      if (prev[j] + 1 < best)
        best = prev[j] + 1;
      if (cur[j - 1] + 1 < best)
        best = cur[j - 1] + 1;
      if (i > 1 && j > 1 && ca == lower((unsigned char)b[j - 2]) &&
          lower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
        best = prev2[j - 2] + 1;
      cur[j] = best;
    }
  }
  size_t d = rows[(n + 1) % 3][m];
  return d <= limit ? d : limit + 1;
}

dn_status dn_fail_unknown_name(const char *kind, const char *name, dn_name_at at, const void *table,
                               size_t count) {
  /* The same letters in another case: the spelling meant. */
  for (size_t i = 0; i < count; i++)
    if (dn_same_ignoring_case(at(table, i), name))
      return dn_fail(DN_ERR_ARG,
                     "unknown %s '%.64s' (names are case-sensitive: did you mean '%s'?)", kind,
                     name, at(table, i));
  /* A typo: the nearest name one or two edits away (one for names of up to 5 letters). */
  size_t limit = strlen(name) <= 5 ? 1 : 2, best = limit + 1;
  const char *meant = NULL;
  for (size_t i = 0; i < count; i++) {
    size_t d = distance(name, at(table, i), limit);
    if (d < best) {
      best = d;
      meant = at(table, i);
    }
  }
  char list[400];
  size_t used = 0;
  list[0] = '\0';
  for (size_t i = 0; i < count && used < sizeof list; i++) {
    const char *n = at(table, i);
    if (n[0] >= 'a' && n[0] <= 'z')
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "", n);
  }
  if (meant != NULL)
    return dn_fail(DN_ERR_ARG, "unknown %s '%.64s' (did you mean '%s'? Keras names: %s)", kind,
                   name, meant, list);
  return dn_fail(DN_ERR_ARG, "unknown %s '%.64s' (Keras names: %s)", kind, name, list);
}
