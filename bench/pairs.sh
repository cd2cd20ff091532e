#!/usr/bin/env bash
# bench/pairs.sh -- libdensenet against one peer in alternating pairs, for a noisy host.
#
#   bash bench/pairs.sh BENCH [PAIRS=5] [THREADS=1] [WORKLOADS=W2,W3,W4] [PEER=torch]
#
# On a shared VM the speed of a vCPU drifts by up to 2x over minutes (../shared/bench/PEERS.md),
# so two medians taken minutes apart can disagree more than the programs do. This runs the peer
# and libdensenet's bench (BENCH, built from bench/) back to back PAIRS times, each pair in the
# same minute, and prints for every workload the median of the per-pair ratios
# (libdensenet / peer; for W1-latency peer / libdensenet, so higher is better throughout) and
# their min-max. 1-thread runs are pinned to vCPU 0 like run_peers.sh's. PEER is torch
# (Debian's python3-torch, W2-W4), fann (W1 and W1-latency, built from ../shared/bench/peers) or
# build:PATH, another build of bench (an older commit, for before/after pairs on any workload:
# its lines are named "before").
set -euo pipefail
bench=${1:?usage: pairs.sh BENCH [PAIRS] [THREADS] [WORKLOADS] [PEER]}
pairs=${2:-5}
threads=${3:-1}
workloads=${4:-W2,W3,W4}
peer=${5:-torch}
peers_dir=$(cd "$(dirname "$0")/../../shared/bench/peers" && pwd)
py=/usr/bin/python3 # Debian's, with numpy and torch
pin=()
[ "$threads" -eq 1 ] && pin=(taskset -c 0)
log=$(mktemp)
trap 'rm -f "$log" "${fann_bin:-}"' EXIT

case $peer in
torch) # as run_peers.sh runs it: torch sets its own thread count (an OMP_NUM_THREADS in the
  # environment switches its OpenMP pool to spinning waits, several times slower on 2 vCPUs)
  peer_cmd=(env -u OMP_NUM_THREADS -u OMP_WAIT_POLICY "${pin[@]}" "$py" "$peers_dir/torch_mlp.py"
    --threads "$threads" --workloads "$workloads") ;;
fann)
  fann_bin=$(mktemp)
  gcc -O3 -march=native -o "$fann_bin" "$peers_dir/fann_mlp.c" -lfloatfann -lm
  peer_cmd=(env BENCH_ONLY=W1 "${pin[@]}" "$fann_bin") ;;
onnxruntime)
  peer_cmd=(bash "$(dirname "$0")/peers/run_ort.sh" "$bench" "$threads" "$workloads") ;;
build:*)
  peer_cmd=(env OMP_NUM_THREADS="$threads" "${pin[@]}" "${peer#build:}" --threads "$threads"
    --workloads "$workloads" --peer before)
  peer=before ;;
*)
  echo "pairs.sh: unknown peer '$peer' (torch, fann, onnxruntime, build:PATH)" >&2
  exit 2 ;;
esac

for ((i = 1; i <= pairs; i++)); do
  "${peer_cmd[@]}" 2>&1 | grep '^RESULT' | sed "s/^RESULT /PAIR=$i /" >>"$log"
  env OMP_NUM_THREADS="$threads" "${pin[@]}" "$bench" --threads "$threads" --workloads "$workloads" \
    2>&1 | grep '^RESULT' | sed "s/^RESULT /PAIR=$i /" >>"$log"
  echo "pair $i of $pairs done" >&2
done

"$py" - "$log" "$peer" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    name = kv["peer"]
    if name not in ("libdensenet", sys.argv[2], "fann-mb32"):  # "before" for build:PATH
        continue
    value = kv.get("samples_per_s") or kv.get("us_per_call")
    rows.setdefault((kv["workload"], kv["PAIR"]), {})[name] = float(value)
print("| workload | pairs | ratio libdensenet/%s (median) | min-max | libdensenet median | peer median |" % sys.argv[2])
print("|---|---|---|---|---|---|")
for w in sorted({w for w, _ in rows}):
    ratios, ours, theirs = [], [], []
    for (wl, _), r in sorted(rows.items()):
        if wl != w:
            continue
        other = r.get("fann-mb32") if w == "W1" and sys.argv[2] == "fann" else r.get(sys.argv[2])
        if other is None or "libdensenet" not in r:
            continue
        mine = r["libdensenet"]
        ratios.append(other / mine if w.endswith("latency") else mine / other)
        ours.append(mine)
        theirs.append(other)
    if ratios:
        print("| %s | %d | %.2f | %.2f-%.2f | %.4g | %.4g |" % (w, len(ratios), statistics.median(ratios),
              min(ratios), max(ratios), statistics.median(ours), statistics.median(theirs)))
EOF
