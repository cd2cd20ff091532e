#!/usr/bin/env bash
# model.sh -- a short, bounded libFuzzer run of the native model loader
# (tests/fuzz/fuzz_model_load.c) on its seed corpus (tests/fuzz/corpus/model, written by
# tests/fuzz/gen_model_corpus.c). Exits non-zero on any crash, sanitizer report, leak or failed
# invariant, printing the offending input in hex. Build, run and settings (DN_FUZZ_SECONDS,
# default 60; DN_FUZZ_ARTIFACTS): .ci/fuzz_common.sh.
set -euo pipefail
# shellcheck source=../fuzz_common.sh
. "$(dirname "$0")/../fuzz_common.sh"

# The loader builds real models, so every library source goes in except the optional libraries
# (src/keras/, src/onnx/, src/mpi/).
sources=()
for f in "$root"/src/*/*.c; do
  case "$f" in */src/keras/* | */src/onnx/* | */src/mpi/*) ;; *) sources+=("$f") ;; esac
done
dn_fuzz model.sh 16384 "$root/tests/fuzz/corpus/model" "$root/tests/fuzz/fuzz_model_load.c" \
  "${sources[@]}"
