#!/usr/bin/env bash
# run.sh -- install a libdensenet build into a temporary prefix, then build and run a consumer
# against it: through find_package(densenet), through pkg-config, and (when a C++ compiler is
# there) from C++ through pkg-config; and compile options_macros.c, every options macro of the
# installed header, as a user's strict -Werror C11 build would, by CC, gcc and clang.
#
# usage: run.sh BUILD_DIR [CONFIG]
# env:   CC                 compiler for the consumer (default cc); CXX likewise for C++
#        DN_CONSUMER_FLAGS  extra compile+link flags (the sanitizer flags of a sanitizer build)
set -euo pipefail

build=${1:?usage: run.sh BUILD_DIR [CONFIG]}
config=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
flags=${DN_CONSUMER_FLAGS:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dn-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

echo "== install $build into $prefix"
config_args=()
[ -n "$config" ] && config_args=(--config "$config")
cmake --install "$build" --prefix "$prefix" "${config_args[@]}"

# The examples' data sets install beside the library (when the examples are built).
if [ -d "$build/examples" ]; then
  echo "== the examples' data sets"
  for f in concrete.csv winequality-red.csv auto-mpg.csv ionosphere.csv README.md; do
    found=$(find "$prefix" -path "*/densenet/data/$f" -print -quit)
    [ -n "$found" ] || { echo "run.sh: densenet/data/$f was not installed under $prefix" >&2; exit 1; }
  done
fi

echo "== consumer through find_package(densenet)"
cmake -S "$here" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
cmake --build "$tmp/cmake-build"
"$tmp/cmake-build/consumer"

echo "== consumer through pkg-config"
pcfile=$(find "$prefix" -name densenet.pc -print -quit)
[ -n "$pcfile" ] || { echo "run.sh: no densenet.pc installed under $prefix" >&2; exit 1; }
pcdir=$(dirname "$pcfile")
pc_cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags densenet)
pc_libs=$(PKG_CONFIG_PATH=$pcdir pkg-config --libs densenet)
echo "pkg-config densenet: $pc_cflags $pc_libs"
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror $flags $pc_cflags "$here/main.c" $pc_libs \
  -o "$tmp/consumer-pc"
"$tmp/consumer-pc"

echo "== options macros in a strict C11 build"
header=$(find "$prefix" -name densenet.h -print -quit)
# Every options macro of the header must be in the test, so a new one is not left out.
missing=""
while read -r macro; do
  grep -qF "$macro(" "$here/options_macros.c" || missing="$missing $macro"
done < <(sed -n 's/^#define \(dn_[a-z0-9_]*\)(.*/\1/p' "$header")
[ -z "$missing" ] || { echo "run.sh: options_macros.c does not use:$missing" >&2; exit 1; }
compilers=("$cc")
for other in gcc clang; do
  if [ "$other" != "$(basename "$cc")" ] && command -v "$other" >/dev/null 2>&1; then compilers+=("$other"); fi
done
for compiler in "${compilers[@]}"; do
  echo "options_macros.c: $compiler"
  # shellcheck disable=SC2086
  "$compiler" -std=c11 -O2 -Wall -Wextra -Wpedantic -Woverride-init -Werror $pc_cflags \
    -c "$here/options_macros.c" -o "$tmp/options_macros.o"
done

# The same header from C++ (extern "C" linkage), with the C++ compiler matching CC.
cxx=${CXX:-}
if [ -z "$cxx" ]; then
  case "$cc" in
    *clang) cxx=${cc}++ ;;
    *gcc) cxx=${cc%gcc}g++ ;;
    *cc) cxx=${cc%cc}c++ ;;
  esac
fi
if [ -n "$cxx" ] && command -v "$cxx" >/dev/null 2>&1; then
  echo "== C++ consumer through pkg-config ($cxx)"
  # shellcheck disable=SC2086
  "$cxx" -std=c++11 -Wall -Wextra -Wpedantic -Werror $flags $pc_cflags "$here/main_cxx.cpp" \
    $pc_libs -o "$tmp/consumer-cxx"
  "$tmp/consumer-cxx"
else
  echo "== C++ consumer skipped: no C++ compiler matching $cc"
fi

echo "consumer_install: all consumers passed"
