#!/usr/bin/env bash
# onnx.sh -- a short, bounded libFuzzer run of the ONNX reader (tests/fuzz/fuzz_onnx_load.c) on
# its seed corpus (tests/fuzz/corpus/onnx: small files dn_onnx_save and torch.onnx.export wrote).
# The protobuf-c code is generated here from Debian's onnx.proto, as the build does. Exits
# non-zero on any crash, sanitizer report, leak or failed invariant, printing the offending input
# in hex. Build, run and settings (DN_FUZZ_SECONDS, default 60; DN_FUZZ_ARTIFACTS):
# .ci/fuzz_common.sh.
set -euo pipefail
# shellcheck source=../fuzz_common.sh
. "$(dirname "$0")/../fuzz_common.sh"

proto=/usr/include/onnx/onnx.proto
if ! command -v protoc-c >/dev/null 2>&1 || [ ! -f "$proto" ] ||
  ! pkg-config --exists libprotobuf-c; then
  echo "onnx.sh: protoc-c, libprotobuf-c or $proto not installed; the ONNX library is optional" >&2
  exit 0
fi
gen=$(mktemp -d)
cp "$proto" "$gen/onnx.proto"
protoc-c --proto_path="$gen" --c_out="$gen" onnx.proto
# renamed as src/onnx/CMakeLists.txt renames them (the library calls dn_onnx_pb__*)
sed -i -e 's/\bonnx__/dn_onnx_pb__/g' "$gen/onnx.pb-c.c" "$gen/onnx.pb-c.h"
sources=("$root"/src/core/*.c "$root"/src/kernels/*.c "$root"/src/layers/*.c "$root"/src/model/*.c
  "$root"/src/training/*.c "$root"/src/io/*.c "$root"/src/callbacks/*.c "$root"/src/onnx/*.c)
# shellcheck disable=SC2207
deps=($(pkg-config --cflags --libs libprotobuf-c) -pthread)
rc=0
dn_fuzz onnx.sh 65536 "$root/tests/fuzz/corpus/onnx" -I"$gen" "$gen/onnx.pb-c.c" \
  "$root/tests/fuzz/fuzz_onnx_load.c" "${sources[@]}" "${deps[@]}" || rc=$?
rm -rf "$gen"
exit "$rc"
