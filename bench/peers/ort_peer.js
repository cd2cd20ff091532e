// ort_peer.js -- ONNX Runtime (onnxruntime-node) as a peer for W4 and W1-latency of
// ../../../shared/bench/WORKLOADS.md, on the nets libdensenet's bench exports with the weights its
// own timed runs use (`bench --export-onnx DIR`: w4.onnx, w1.onnx, w4.y, w1.y, data.txt).
//
//   node bench/peers/ort_peer.js DIR [--threads N] [--reps R] [--workloads W1,W4]
//
// N is ONNX Runtime's intraOpNumThreads (interOpNumThreads 1, sequential execution, all graph
// optimizations); onnxruntime-node is found through NODE_PATH (run_ort.sh sets it). The data are
// generated here with the WORKLOADS.md generator (mix/u in BigInt) and checked against the C
// generator's sums and first values (data.txt) and ONNX Runtime's outputs against dn_predict's on
// the first rows (w4.y, w1.y) before anything is timed; a mismatch exits 1.
//
// W4: 100,000 rows in batches of 1024 (97 full and one of 672), one warm-up pass, R timed passes;
// each batch is a Tensor over a view of the data (no copy) and an awaited session.run.
// W1-latency: 100,000 single-row calls cycling through the first 1,000 W1 rows after 2,000
// warm-up calls, each a Tensor over a view of its row and an awaited session.run, as a Node
// caller would write it; the time therefore includes Node's binding and the promise per call.
// Output: the peers' RESULT lines (bench.c's print_rate).
'use strict';
const fs = require('fs');
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.log('INFO onnxruntime-node not found (NODE_PATH=' + (process.env.NODE_PATH || '') +
              '): no ONNX Runtime results');
  process.exit(0);
}

const args = process.argv.slice(2);
const dir = args[0];
let threads = 1, reps = 3, which = 'W1,W4';
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--threads') threads = +args[++i];
  else if (args[i] === '--reps') reps = +args[++i];
  else if (args[i] === '--workloads') which = args[++i];
  else {
    console.error('usage: ort_peer.js DIR [--threads N] [--reps R] [--workloads W1,W4]');
    process.exit(2);
  }
}
if (!dir || !(threads >= 1) || !(reps >= 1)) {
  console.error('usage: ort_peer.js DIR [--threads N] [--reps R] [--workloads W1,W4]');
  process.exit(2);
}

// ---- the shared data generator (WORKLOADS.md, "Data generator") ----
const M64 = (1n << 64n) - 1n;
function mix(stream, i) {
  let z = (BigInt(stream) + (BigInt(i) + 1n) * 0x9E3779B97F4A7C15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & M64;
  return z ^ (z >> 31n);
}
const u = (stream, i) => Number(mix(stream, i) >> 40n) / 16777216;

function makeW4(n) { // X only (predict); Y's sum for the check
  const X = new Float32Array(n * 8);
  let ysum = 0;
  for (let s = 0; s < n; s++) {
    const x = [];
    for (let j = 0; j < 8; j++) x.push(X[8 * s + j] = u(201, 8 * s + j));
    ysum += Math.fround(Math.sin(3 * x[0]) + x[1] * x[1] + x[2] * x[3] - 0.5 * Math.cos(2 * x[4]) +
                        0.3 * x[5] + x[6] * x[7] + 0.05 * (2 * u(202, s) - 1));
  }
  return [X, ysum];
}
function makeW1(n) {
  const X = new Float32Array(n * 2);
  for (let s = 0; s < n; s++) {
    X[2 * s] = 2 * u(101, 2 * s) - 1;
    X[2 * s + 1] = 2 * u(101, 2 * s + 1) - 1;
  }
  return X;
}

function readF32(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
const sum = (a) => a.reduce((s, v) => s + v, 0);
function check(what, got, want, tol) {
  const d = Math.abs(got - want), ok = tol === 0 ? got === want : d <= tol * Math.abs(want);
  if (!ok) {
    console.error(`ort_peer: ${what}: ${got} here, ${want} from bench (C generator)`);
    process.exit(1);
  }
}
// Largest |ort - dn_predict| / max|dn_predict| over the rows compared; 1e-5 is far below any
// change of weights or data and above the summation-order differences of two float32 GEMMs.
function compare(what, got, want) {
  let scale = 0, worst = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  if (!(worst <= 1e-5 * scale)) {
    console.error(`ort_peer: ${what}: ONNX Runtime differs from dn_predict by ${worst} (scale ${scale})`);
    process.exit(1);
  }
  return worst / scale;
}

const ref = Object.fromEntries(fs.readFileSync(dir + '/data.txt', 'utf8').trim().split('\n')
                                 .map((l) => { const [k, ...v] = l.split(/\s+/); return [k, v.map(Number)]; }));
const median = (v) => { const s = [...v].sort((a, b) => a - b), n = s.length;
                        return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]); };
const now = () => Number(process.hrtime.bigint()) / 1e9;
const note = `onnxruntime-node-${require('onnxruntime-node/package.json').version}` +
             `-node-${process.versions.node}`;
const options = {intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
                 graphOptimizationLevel: 'all', logSeverityLevel: 3};

(async () => {
  console.log(`INFO onnxruntime ${note} threads=${threads} models=${dir}`);
  if (which.includes('W4')) {
    const N = 100000, BATCH = 1024, P = 8 * 512 + 512 + 2 * (512 * 512 + 512) + 512 + 1;
    const [X, ysum] = makeW4(N);
    check('W4 X sum', sum(X), ref.w4_x_sum[0], 1e-12);
    check('W4 Y sum', ysum, ref.w4_y_sum[0], 1e-12);
    ref.w4_x0.forEach((v, k) => check('W4 X first values', X[[0, 1, 8][k]], Math.fround(v), 0));
    const session = await ort.InferenceSession.create(dir + '/w4.onnx', options);
    const first = await session.run({input: new ort.Tensor('float32', X.subarray(0, BATCH * 8), [BATCH, 8])});
    const rel = compare('W4 first batch', first.output.data, readF32(dir + '/w4.y'));
    const rates = [];
    for (let r = -1; r < reps; r++) { // r = -1: warm-up
      const t0 = now();
      for (let s = 0; s < N; s += BATCH) {
        const rows = Math.min(BATCH, N - s);
        await session.run({input: new ort.Tensor('float32', X.subarray(8 * s, 8 * (s + rows)), [rows, 8])});
      }
      if (r >= 0) rates.push(N / (now() - t0));
    }
    const med = median(rates);
    console.log(`RESULT peer=onnxruntime workload=W4 threads=${threads} samples_per_s=${med.toFixed(0)} ` +
                `samples_per_s_min=${Math.min(...rates).toFixed(0)} samples_per_s_max=${Math.max(...rates).toFixed(0)} ` +
                `gflops=${(med * 2 * P / 1e9).toFixed(2)} reps=${reps} note=${note}-maxrel-${rel.toExponential(1)}`);
  }
  if (which.includes('W1')) {
    const CALLS = 100000, WARM = 2000;
    const X = makeW1(10000);
    check('W1 X sum', sum(X), ref.w1_x_sum[0], 1e-12);
    ref.w1_x0.forEach((v, k) => check('W1 X first values', X[k], Math.fround(v), 0));
    const session = await ort.InferenceSession.create(dir + '/w1.onnx', options);
    const want = readF32(dir + '/w1.y'), got = new Float32Array(1000);
    for (let i = 0; i < 1000; i++) // one row per call, as timed
      got[i] = (await session.run({input: new ort.Tensor('float32', X.subarray(2 * i, 2 * i + 2), [1, 2])})).output.data[0];
    const rel = compare('W1 first 1000 rows', got, want);
    for (let i = 0; i < WARM; i++) {
      const k = i % 1000;
      await session.run({input: new ort.Tensor('float32', X.subarray(2 * k, 2 * k + 2), [1, 2])});
    }
    const us = [];
    for (let r = 0; r < reps; r++) {
      const t0 = now();
      for (let i = 0; i < CALLS; i++) {
        const k = i % 1000;
        await session.run({input: new ort.Tensor('float32', X.subarray(2 * k, 2 * k + 2), [1, 2])});
      }
      us.push((now() - t0) / CALLS * 1e6);
    }
    console.log(`RESULT peer=onnxruntime workload=W1-latency threads=${threads} us_per_call=${median(us).toFixed(4)} ` +
                `us_per_call_min=${Math.min(...us).toFixed(4)} us_per_call_max=${Math.max(...us).toFixed(4)} ` +
                `calls=${CALLS} reps=${reps} note=${note}-maxrel-${rel.toExponential(1)}`);
  }
})().catch((e) => { console.error('ort_peer: ' + e); process.exit(1); });
