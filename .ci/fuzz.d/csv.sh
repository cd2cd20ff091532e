#!/usr/bin/env bash
# csv.sh -- a short, bounded libFuzzer run of the CSV loader (tests/fuzz/fuzz_csv.c) on its seed
# corpus, built with clang straight from the library sources (no CMake) into a temporary
# directory. Exits non-zero on any crash, sanitizer report or failed invariant, printing the
# offending input in hex; set DN_FUZZ_ARTIFACTS=<dir> to keep it as a file too.
#   DN_FUZZ_SECONDS  run time (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${DN_FUZZ_SECONDS:-60}
cc=${CLANG:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "csv.sh: $cc not found (needs clang and libclang-rt-14-dev)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${DN_FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$work/corpus" "$artifacts"

# A 7-byte read buffer makes every record cross buffer refills.
"$cc" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -DDN_CSV_READ_CHUNK=7 -I"$root/include" -I"$root/src" \
  "$root/tests/fuzz/fuzz_csv.c" "$root/src/status.c" "$root/src/alloc.c" "$root/src/rng.c" \
  "$root/src/decimal.c" "$root/src/csv.c" -lm -o "$work/fuzz_csv"

rc=0
"$work/fuzz_csv" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" \
  "$work/corpus" "$root/tests/fuzz/corpus/csv" >"$work/log" 2>&1 || rc=$?
tail -n 30 "$work/log"
if [ "$rc" -ne 0 ]; then
  echo "csv.sh: the fuzzer failed (exit $rc); crashing input(s):" >&2
  for f in "$artifacts"/*; do
    [ -f "$f" ] || continue
    echo "== $f" >&2
    od -An -tx1 -v "$f" | head -n 64 >&2
  done
  exit 1
fi
echo "csv.sh: no crash in ${seconds}s"
