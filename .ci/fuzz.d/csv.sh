#!/usr/bin/env bash
# csv.sh -- a short, bounded libFuzzer run of the CSV loader (tests/fuzz/fuzz_csv.c) on its seed
# corpus (tests/fuzz/corpus/csv). Exits non-zero on any crash, sanitizer report or failed
# invariant, printing the offending input in hex. Build, run and settings (DN_FUZZ_SECONDS,
# default 60; DN_FUZZ_ARTIFACTS): .ci/fuzz_common.sh.
set -euo pipefail
# shellcheck source=../fuzz_common.sh
. "$(dirname "$0")/../fuzz_common.sh"

# A 7-byte read buffer makes every record cross buffer refills.
dn_fuzz csv.sh 8192 "$root/tests/fuzz/corpus/csv" -DDN_CSV_READ_CHUNK=7 \
  "$root/tests/fuzz/fuzz_csv.c" "$root/src/core/status.c" "$root/src/core/alloc.c" \
  "$root/src/core/rng.c" "$root/src/core/tensor.c" "$root/src/core/decimal.c" \
  "$root/src/core/source.c" "$root/src/data/csv.c" \
  "$root/src/io/file.c"
