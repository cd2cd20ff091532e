// ort_compare.js DIR -- runs every model of DIR/manifest.txt (written by `test_onnx export`) in
// ONNX Runtime (onnxruntime-node, found through NODE_PATH) on the inputs saved beside it, at
// batch 1 and 1000, and compares with dn_predict's outputs saved there. Prints per model and
// batch the largest row-relative difference |a - b| / (largest |dn_predict| of the row) and the
// largest elementwise one |a - b| / max(|a|, |b|); exits 1 if a row-relative one is above 1e-6
// (models marked "report" in the manifest are printed only; the elementwise figure near 0 measures ONNX Runtime's float approximations of sigmoid, exp,
// erf: docs/onnx.md); exits 77 when onnxruntime-node cannot be loaded.
'use strict';
const fs = require('fs');
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.log('SKIP: onnxruntime-node not found (NODE_PATH=' + (process.env.NODE_PATH || '') + ')');
  process.exit(77);
}
const dir = process.argv[2];
const lines = fs.readFileSync(dir + '/manifest.txt', 'utf8').split('\n').filter((l) => l.trim());
function readF32(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}
(async () => {
  let bad = 0;
  for (const line of lines) {
    const [name, inDim, outDim, mode] = line.split(/\s+/);
    const session = await ort.InferenceSession.create(dir + '/' + name + '.onnx',
                                                      {logSeverityLevel: 3});
    for (const rows of [1, 1000]) {
      const x = readF32(`${dir}/${name}.b${rows}.x`);
      const want = readF32(`${dir}/${name}.b${rows}.y`);
      const out = await session.run({input: new ort.Tensor('float32', x, [rows, +inDim])});
      const got = out.output.data;
      if (got.length !== want.length || out.output.dims[1] !== +outDim) {
        console.log(`${name} batch ${rows}: shape ${out.output.dims} differs`);
        bad++;
        continue;
      }
      // elementwise: |a - b| / max(|a|, |b|); row-relative: |a - b| / (largest |b| of the row).
      let worst = 0, at = 0, rowWorst = 0;
      const cols = +outDim;
      for (let r = 0; r < rows; r++) {
        let scale = 0;
        for (let j = 0; j < cols; j++) scale = Math.max(scale, Math.abs(want[r * cols + j]));
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          const m = Math.max(Math.abs(got[i]), Math.abs(want[i]));
          const e = m === 0 ? 0 : Math.abs(got[i] - want[i]) / m;
          if (!(e <= worst)) { worst = e; at = i; }
          const d = Math.abs(got[i] - want[i]);
          const rr = d === 0 ? 0 : d / scale;
          if (!(rr <= rowWorst)) rowWorst = rr;
        }
      }
      const ok = rowWorst <= 1e-6;
      if (!ok && mode !== 'report') bad++;
      console.log(`${mode === 'report' ? 'REPORT' : ok ? 'ok  ' : 'FAIL'} ${name.padEnd(30)} batch ${String(rows).padEnd(4)} ` +
                  `row-relative ${rowWorst.toExponential(2)}  elementwise ${worst.toExponential(2)}` +
                  (worst > 1e-6 ? ` (at ${at}: ${got[at]} vs dn_predict ${want[at]})` : ''));
    }
  }
  console.log(`onnxruntime-node ${require('onnxruntime-node/package.json').version}: ` +
              `${lines.length} models, ${bad} over 1e-6`);
  process.exit(bad ? 1 : 0);
})().catch((e) => { console.log('error: ' + e); process.exit(1); });
