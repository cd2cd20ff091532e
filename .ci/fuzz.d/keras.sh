#!/usr/bin/env bash
# keras.sh -- a short, bounded libFuzzer run of the Keras loader (tests/fuzz/fuzz_keras_load.c)
# on its seed corpus (tests/fuzz/corpus/keras, written by tests/fuzz/gen_keras_corpus.c), in two
# phases (design: tests/fuzz/README.md):
#   1. in-process, DN_FUZZ_SECONDS (default 60): our parsing code on assembled zips, structured
#      HDF5 files HDF5 itself wrote and raw zips whose weights member is a valid image;
#   2. isolated, DN_FUZZ_ISOLATED_SECONDS (default DN_FUZZ_SECONDS / 6, at least 10): the same
#      fuzzer with DN_FUZZ_KERAS_PARSER set, so raw damaged .keras / .h5 bytes go through the
#      helper process (built here without sanitizers, as installed); HDF5's own crashes and hangs
#      must come back as errors, the fuzzer alive.
# Exits non-zero on any crash, sanitizer report, leak or failed invariant, printing the offending
# input in hex. Build, run and settings (DN_FUZZ_SECONDS; DN_FUZZ_ARTIFACTS): .ci/fuzz_common.sh.
set -euo pipefail
# shellcheck source=../fuzz_common.sh
. "$(dirname "$0")/../fuzz_common.sh"

if ! pkg-config --exists libzip libcjson || [ ! -d /usr/include/hdf5/serial ]; then
  echo "keras.sh: libzip, libcjson or HDF5 (serial) not installed; the Keras library is optional" >&2
  exit 0
fi
# Every library source, the Keras ones included (not the helper's main, not the other optional
# libraries).
sources=()
for f in "$root"/src/*/*.c; do
  case "$f" in */keras_parse_main.c | */src/onnx/* | */src/mpi/*) ;; *) sources+=("$f") ;; esac
done
# shellcheck disable=SC2207
deps=($(pkg-config --cflags libzip libcjson) -I/usr/include/hdf5/serial
  $(pkg-config --libs libzip libcjson) -lhdf5_serial -pthread)

dn_fuzz keras.sh 65536 "$root/tests/fuzz/corpus/keras" -I"$root/tests/fuzz" \
  "$root/tests/fuzz/fuzz_keras_load.c" "${sources[@]}" "${deps[@]}"

grep -E '^#[0-9]+' "$work/log" | tail -n 1 || true # phase 1's last line: coverage, corpus

# Phase 2: the helper, built as it is shipped (no sanitizer: its memory limit needs a plain
# address space), and the fuzzer again with the isolated modes on.
seconds=${DN_FUZZ_SECONDS:-60}
iso=${DN_FUZZ_ISOLATED_SECONDS:-$((seconds / 6 > 10 ? seconds / 6 : 10))}
"${CLANG:-clang}" -std=c11 -O1 -g -I"$root/include" -I"$root/src" "${sources[@]}" \
  "$root/src/keras/keras_parse_main.c" "${deps[@]}" -lm -o "$work/densenet-keras-parse"
artifacts=${DN_FUZZ_ARTIFACTS:-$work/artifacts}
rc=0
DN_FUZZ_KERAS_PARSER="$work/densenet-keras-parse" "$work/fuzzer" -max_total_time="$iso" \
  -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$work/corpus" "$root/tests/fuzz/corpus/keras" \
  >"$work/log-isolated" 2>&1 || rc=$?
tail -n 30 "$work/log-isolated"
grep -E '^#[0-9]+' "$work/log-isolated" | tail -n 1 || true
if [ "$rc" -ne 0 ]; then
  echo "keras.sh (isolated): the fuzzer failed (exit $rc); offending input(s):" >&2
  for f in "$artifacts"/*; do
    [ -f "$f" ] || continue
    echo "== $f" >&2
    od -An -tx1 -v "$f" | head -n 64 >&2
  done
  exit 1
fi
echo "keras.sh (isolated): no crash in ${iso}s"
