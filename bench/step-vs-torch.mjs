// Training step of Embedding(N, 64), batch 16,384, 1 thread, as bench/torch/train_step.py times it in
// PyTorch: "step" is zeroGrad, forward(idx, out), backward, step on a sparse layer; "fused" is forward
// + backward with applyOptimizerInBackward; "step-alloc" is step with forward(idx) allocating its
// output. Median µs of 9 rounds of 16 steps. Run: node bench/step-vs-torch.mjs [SGD,Adagrad,SparseAdam]
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { Embedding, SGD, Adagrad, SparseAdam, applyOptimizerInBackward, setNumThreads } = require('../dist/index.js');
setNumThreads(1);
const D = 64, B = 16384;
function med(a) { a.sort((x, y) => x - y); return a[a.length >> 1]; }
const sel = process.argv[2] ? process.argv[2].split(',') : ['SGD', 'Adagrad', 'SparseAdam'];
for (const N of [10000, 1000000]) {
  const idx = Array.from({ length: 8 }, () => Int32Array.from({ length: B }, () => Math.floor(Math.random() * N)));
  const g = new Float32Array(B * D).map(() => (Math.random() - 0.5) * 0.01);
  const out = new Float32Array(B * D);
  for (const [name, cls] of [['SGD', SGD], ['Adagrad', Adagrad], ['SparseAdam', SparseAdam]]) {
    if (!sel.includes(name)) continue;
    const w = new Float32Array(N * D).fill(0.1);
    const e = new Embedding(N, D, { sparse: true, weight: w });
    const opt = new cls([e], { lr: 1e-4 });
    const f = new Embedding(N, D, { weight: w.slice() });
    applyOptimizerInBackward(cls, [f], { lr: 1e-4 });
    for (const [kind, run] of [['step', (i) => { opt.zeroGrad(); e.forward(idx[i & 7], out); e.backward(idx[i & 7], g); opt.step(); }], ['fused', (i) => { f.forward(idx[i & 7], out); f.backward(idx[i & 7], g); }],['step-alloc', (i) => { opt.zeroGrad(); const o = e.forward(idx[i & 7]); e.backward(idx[i & 7], g); opt.step(); }]]) {
      for (let i = 0; i < 16; i++) run(i);
      const ts = [];
      for (let r = 0; r < 9; r++) { const t0 = process.hrtime.bigint(); for (let i = 0; i < 16; i++) run(i); ts.push(Number(process.hrtime.bigint() - t0) / 16e3); }
      console.log(N, name, kind, med(ts).toFixed(0), 'us');
    }
  }
}
