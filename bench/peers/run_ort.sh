#!/usr/bin/env bash
# bench/peers/run_ort.sh -- the ONNX Runtime peer (ort_peer.js) for W4 and W1-latency, as one
# EXTRA_PEER_CMD of ../shared/bench/run_peers.sh or by hand:
#
#   bash bench/peers/run_ort.sh BENCH [THREADS="1 2"] [WORKLOADS=W1,W4] [REPS=3]
#
# BENCH is libdensenet's bench built with libdensenet_onnx (bench/README.md); it exports the nets
# with the weights of its own timed runs (`bench --export-onnx`) into a temporary folder, then
# ort_peer.js runs once per thread count, 1-thread runs pinned to vCPU 0 like the other peers;
# W1-latency (one row through a 2-4-3-1 net: nothing to split) runs only at one thread.
# onnxruntime-node is taken from NODE_PATH, else from the repository's .ci-cache/npm (where .ci/run
# and `npm install --ignore-scripts onnxruntime-node` put it); without it this prints an INFO line.
set -euo pipefail
bench=${1:?usage: run_ort.sh BENCH [THREADS] [WORKLOADS] [REPS]}
threads=${2:-1 2}
workloads=${3:-W1,W4}
reps=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
export NODE_PATH=${NODE_PATH:-$here/../../.ci-cache/npm/node_modules}
models=$(mktemp -d)
trap 'rm -rf "$models"' EXIT
"$bench" --export-onnx "$models" --reps "$reps" >&2
for t in $threads; do
  pin=()
  w=$workloads
  [ "$t" -eq 1 ] && pin=(taskset -c 0)
  [ "$t" -gt 1 ] && w=${w//W1/}
  [[ $w == *W* ]] || continue
  "${pin[@]}" node "$here/ort_peer.js" "$models" --threads "$t" --workloads "$w" --reps "$reps"
done
