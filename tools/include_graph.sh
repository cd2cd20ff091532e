#!/usr/bin/env bash
# tools/include_graph.sh -- checks the layering of src/: every #include "dir/x.h" from a file in
# src/FOLDER must name FOLDER itself or a folder listed before it below (lowest first), and no
# file may include a header that (directly or not) includes it back. Prints the folder graph
# (folder -> the folders it includes) and exits non-zero on a violation.
set -euo pipefail
cd "$(dirname "$0")/../src"
order=(core kernels layers model training io callbacks data keras onnx)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo 99; }
bad=0
declare -A edges=()
while IFS= read -r line; do
  file=${line%%:*}
  inc=$(sed -n 's/.*#include "\([a-z_]*\)\/[^"]*".*/\1/p' <<<"${line#*:}")
  [ -n "$inc" ] || continue
  from=${file%%/*}
  [ "$from" = "$inc" ] && continue
  edges["$from -> $inc"]=1
  if [ "$(rank "$inc")" -gt "$(rank "$from")" ]; then
    echo "upward include: src/$file includes $inc/ (above $from/)" >&2
    bad=1
  fi
done < <(grep -rn '#include "' --include='*.c' --include='*.h' . | sed 's|^\./||; s|:[0-9]*:|:|')
for e in "${!edges[@]}"; do echo "$e"; done | sort
# File-level cycles: a header reaching itself through the headers it includes.
declare -A incs=()
for h in $(find . -name '*.h' | sed 's|^\./||'); do
  incs[$h]=$(sed -n 's/.*#include "\([a-z_]*\/[a-z_0-9]*\.h\)".*/\1/p' "$h" | tr '\n' ' ')
done
for h in "${!incs[@]}"; do
  seen=" " frontier=${incs[$h]}
  while [ -n "${frontier// /}" ]; do
    next=""
    for x in $frontier; do
      [ "$x" = "$h" ] && { echo "include cycle through src/$h" >&2; bad=1; break 2; }
      case $seen in *" $x "*) continue ;; esac
      seen+="$x "
      next+="${incs[$x]:-} "
    done
    frontier=$next
  done
done
exit $bad
