# fuzz_common.sh -- what the .ci/fuzz.d/*.sh scripts share (sourced by them, never run itself):
# build one libFuzzer harness with clang, ASan and UBSan straight from the library sources (no
# CMake) into a temporary directory, run it for a bounded time on its seed corpus, and on failure
# print each offending input in hex.
#   DN_FUZZ_SECONDS    run time (default 60)
#   DN_FUZZ_ARTIFACTS  a folder to keep the offending inputs in as files too
#   CLANG              the compiler (default clang; needs libclang-rt-14-dev)

# The repository's top folder.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# dn_fuzz NAME MAX_LEN SEEDS CLANG_ARGS...: NAME names the fuzzer in messages, MAX_LEN bounds an
# input's size, SEEDS is the seed corpus folder, CLANG_ARGS (the harness, the library sources,
# any -D) go to clang. Returns non-zero on any crash, sanitizer report, leak or failed invariant.
dn_fuzz() {
  local name=$1 max_len=$2 seeds=$3
  shift 3
  local seconds=${DN_FUZZ_SECONDS:-60} cc=${CLANG:-clang}
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "$name: $cc not found (needs clang and libclang-rt-14-dev)" >&2
    return 1
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  local artifacts=${DN_FUZZ_ARTIFACTS:-$work/artifacts}
  mkdir -p "$work/corpus" "$artifacts"

  "$cc" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$root/include" -I"$root/src" "$@" -lm -o "$work/fuzzer"

  local rc=0
  "$work/fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work/corpus" "$seeds" \
    >"$work/log" 2>&1 || rc=$?
  tail -n 30 "$work/log"
  if [ "$rc" -ne 0 ]; then
    echo "$name: the fuzzer failed (exit $rc); offending input(s):" >&2
    local f
    for f in "$artifacts"/*; do
      [ -f "$f" ] || continue
      echo "== $f" >&2
      od -An -tx1 -v "$f" | head -n 64 >&2
    done
    return 1
  fi
  echo "$name: no crash in ${seconds}s"
}
