#!/usr/bin/env bash
# run.sh -- install a libdensenet build (with libdensenet_keras) into a temporary prefix, then
# build and run a Keras consumer against it through find_package(densenet_keras) and through
# pkg-config densenet-keras.
#
# usage: run.sh BUILD_DIR [CONFIG]
# env:   CC, DN_CONSUMER_FLAGS (extra compile+link flags, e.g. the sanitizer flags)
set -euo pipefail

build=${1:?usage: run.sh BUILD_DIR [CONFIG]}
config=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
flags=${DN_CONSUMER_FLAGS:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dn-keras-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
config_args=()
[ -n "$config" ] && config_args=(--config "$config")
cmake --install "$build" --prefix "$prefix" "${config_args[@]}" >/dev/null

echo "== keras consumer through find_package(densenet_keras)"
cmake -S "$here" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/keras_consumer" "$tmp/a.keras"

echo "== keras consumer through pkg-config densenet-keras"
pcfile=$(find "$prefix" -name densenet-keras.pc -print -quit)
[ -n "$pcfile" ] || { echo "run.sh: no densenet-keras.pc under $prefix" >&2; exit 1; }
pcdir=$(dirname "$pcfile")
cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags densenet-keras)
libs=$(PKG_CONFIG_PATH=$pcdir pkg-config --libs densenet-keras)
echo "pkg-config densenet-keras: $cflags $libs"
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
"$cc" -std=c11 $flags $cflags "$here/main.c" -o "$tmp/pc-consumer" $libs
"$tmp/pc-consumer" "$tmp/b.keras"
