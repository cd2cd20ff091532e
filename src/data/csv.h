/* csv.h -- internal: the stream seam of dn_csv_load (used by the tests and the fuzz harness). */
#ifndef DN_CSV_H
#define DN_CSV_H

#include <stdio.h>

#include "densenet.h"

/* dn_csv_load on an open stream: reads `file` to its end (does not close it). `name` is the
 * file name used in messages; options (NULL = defaults) are dn_csv_load's, whose path and out
 * fields are ignored here. *out is zeroed first and filled only on success. */
dn_status dn_csv_load_stream(FILE *file, const char *name, const dn_csv_load_options *options,
                             dn_dataset *out);

#endif
