// bench:models — training tokens/s (forward + cross-entropy + backward + AdamW)
// and greedy decode tokens/s at batch 1 and 64 through the KV cache, for the
// dense preset (6 layers, d 256, 4 heads; batch 32 × seq 128) and the MoE preset
// (MLA + DeepSeekMoE + MTP at the same knob), beside the same models in
// PyTorch (bench/torch_models.py) from the same run. PyTorch gets its best:
// Debian's system python3 with python3-torch, OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE unset, OMP_WAIT_POLICY=PASSIVE, OMP/OPENBLAS threads set to
// its thread count, the best of 1 and all threads per figure. r1ts trains on all threads and
// decodes on the best of 1 and all threads (printed per figure).
//
//   npm run bench:models [-- --json] [-- --quick]
// The last line with --json: {"train":[{"model","tokens_per_s","torch_tokens_per_s"}],"decode":[{"model","batch","tokens_per_s","torch_tokens_per_s","threads"}]}
//   npm run bench:models -- --decode-ab [--json]
// Decode only, no anchor: the fast decode step (src/models/decode.ts) against the general
// forward in the same process, rounds interleaved, median wall and CPU ms per step (CPU time
// is steadier than wall time on a shared machine). Last line with --json:
// {"decode_ab":[{"model","batch","fast_ms","general_ms","fast_cpu_ms","general_cpu_ms"}]}

import { densePreset, moePreset, type ModelConfig } from '../src/models/config.ts';
import { DeepseekV3 } from '../src/models/deepseek-v3.ts';
import { Llama } from '../src/models/llama.ts';
import { setFastDecode } from '../src/models/decode.ts';
import type { CausalLM } from '../src/models/model.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { Rng } from '../src/core/rng.ts';
import * as T from '../src/tensor/index.ts';
import { torchRuns } from './torch.ts';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const spec = {
  batch: 32, seq: 128, train_steps: quick ? 2 : 6, prompt: 16, new_tokens: quick ? 8 : 32, decode_batches: [1, 64],
  models: {
    dense: { config: densePreset(6), moe: false },
    moe: { config: moePreset(6), moe: true },
  } as Record<string, { config: ModelConfig; moe: boolean }>,
};

function build(name: string): CausalLM {
  const { config } = spec.models[name];
  return config.model_type === 'deepseek_v3' ? new DeepseekV3(config, new Rng(0)) : new Llama(config, new Rng(0));
}

function randIds(r: Rng, B: number, n: number, V: number): T.Tensor {
  return T.ids(Int32Array.from({ length: B * n }, () => r.int(V)), [B, n]);
}

function trainTokensPerS(name: string): number {
  const m = build(name);
  const opt = new AdamW(m.parameters(), { lr: 1e-3 });
  const r = new Rng(1);
  const V = spec.models[name].config.vocab_size;
  const ids = randIds(r, spec.batch, spec.seq, V), tg = randIds(r, spec.batch, spec.seq, V);
  const times: number[] = [];
  for (let i = 0; i < spec.train_steps + 2; i++) {
    const t0 = performance.now();
    const { loss } = m.loss(ids, tg);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    if (m instanceof DeepseekV3) m.updateRouterBiases();
    times.push(performance.now() - t0);
  }
  const best = times.slice(2).sort((a, b) => a - b).slice(0, Math.max(1, spec.train_steps >> 1));
  return (spec.batch * spec.seq) / (best.reduce((a, b) => a + b) / best.length / 1000);
}

function decodeTokensPerS(name: string, B: number): number {
  const m = build(name);
  m.eval();
  if (m instanceof DeepseekV3) m.setAttnImpl('absorb');
  const V = spec.models[name].config.vocab_size;
  return T.noGrad(() => {
    const cache = m.newCache(B, spec.prompt + spec.new_tokens);
    let logits = m.forward(randIds(new Rng(2), B, spec.prompt, V), { cache }).logits; // [B, P, V]
    let tok = T.argmax(T.narrow(logits, 1, spec.prompt - 1, 1)); // [B, 1]
    const t0 = performance.now();
    for (let i = 0; i < spec.new_tokens; i++) {
      logits = m.forward(tok, { cache }).logits; // [B, 1, V]
      tok = T.argmax(logits);
    }
    return (B * spec.new_tokens) / ((performance.now() - t0) / 1000);
  });
}

/** ms per decode step (wall, CPU) over spec.new_tokens steps after a prompt, with the fast step on or off. */
function decodeStepMs(m: CausalLM, B: number, fast: boolean): { wall: number; cpu: number } {
  const V = m.config.vocab_size;
  setFastDecode(fast);
  try {
    return T.noGrad(() => {
      const cache = m.newCache(B, spec.prompt + spec.new_tokens);
      const logits = m.forward(randIds(new Rng(2), B, spec.prompt, V), { cache }).logits; // [B, P, V]
      let tok = T.argmax(T.narrow(logits, 1, spec.prompt - 1, 1)); // [B, 1]
      const c0 = process.cpuUsage(), t0 = performance.now();
      for (let i = 0; i < spec.new_tokens; i++) tok = T.argmax(m.forward(tok, { cache }).logits);
      const c = process.cpuUsage(c0);
      return { wall: (performance.now() - t0) / spec.new_tokens, cpu: (c.user + c.system) / 1000 / spec.new_tokens };
    });
  } finally {
    setFastDecode(true);
  }
}

if (process.argv.includes('--decode-ab')) {
  const rounds = quick ? 2 : 5;
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const rows = Object.keys(spec.models).flatMap((model) => spec.decode_batches.map((batch) => {
    const m = build(model);
    m.eval();
    if (m instanceof DeepseekV3) m.setAttnImpl('absorb');
    const runs = { fast: [] as { wall: number; cpu: number }[], general: [] as { wall: number; cpu: number }[] };
    for (let r = 0; r < rounds; r++) {
      runs.fast.push(decodeStepMs(m, batch, true));
      runs.general.push(decodeStepMs(m, batch, false));
    }
    return {
      model, batch, fast_ms: med(runs.fast.map((x) => x.wall)), general_ms: med(runs.general.map((x) => x.wall)),
      fast_cpu_ms: med(runs.fast.map((x) => x.cpu)), general_cpu_ms: med(runs.general.map((x) => x.cpu)),
    };
  }));
  console.log(`r1ts backend: ${T.currentBackend().describe()}; decode (prompt ${spec.prompt}, ${spec.new_tokens} new tokens), median of ${rounds} interleaved rounds, ms per step`);
  console.log('model    batch  fast wall  general wall  speedup   fast cpu  general cpu  speedup');
  for (const r of rows) {
    console.log(`${r.model.padEnd(8)} ${String(r.batch).padStart(5)}  ${r.fast_ms.toFixed(2).padStart(9)}  ${r.general_ms.toFixed(2).padStart(12)}  ${(r.general_ms / r.fast_ms).toFixed(2).padStart(6)}×  ${r.fast_cpu_ms.toFixed(2).padStart(9)}  ${r.general_cpu_ms.toFixed(2).padStart(11)}  ${(r.general_cpu_ms / r.fast_cpu_ms).toFixed(2).padStart(6)}×`);
  }
  if (json) console.log(JSON.stringify({ decode_ab: rows }));
  process.exit(0);
}

const threads = T.currentBackend().threads();
// Decode, like PyTorch's figures, takes the best of 1 thread and all threads: on a shared machine a
// step's many short kernels can lose more to waiting for a descheduled pool thread than they gain.
const decodeThreads = [...new Set([1, threads])];
const decodeBest: Record<string, Record<number, number>> = {};
const ours = {
  train: Object.fromEntries(Object.keys(spec.models).map((n) => [n, trainTokensPerS(n)])),
  decode: Object.fromEntries(Object.keys(spec.models).map((n) => [n, Object.fromEntries(spec.decode_batches.map((b) => {
    let best = 0;
    for (const t of decodeThreads) {
      T.currentBackend().setThreads(t);
      const v = decodeTokensPerS(n, b);
      if (v > best) [best, (decodeBest[n] ??= {})[b]] = [v, t];
    }
    T.currentBackend().setThreads(threads);
    return [b, best];
  }))])),
};

const torch = torchRuns(spec);
const bestTorch = torch.best;

const train = Object.keys(spec.models).map((model) => ({ model, tokens_per_s: ours.train[model], torch_tokens_per_s: bestTorch((r) => r.train[model]) }));
const decode = Object.keys(spec.models).flatMap((model) => spec.decode_batches.map((batch) => ({
  model, batch, tokens_per_s: ours.decode[model][batch], torch_tokens_per_s: bestTorch((r) => r.decode[model][String(batch)]), threads: decodeBest[model][batch],
})));

const fmt = (v: number | null) => (v === null ? '—' : v.toFixed(0));
const ratio = (a: number, b: number | null) => (b ? `${(a / b).toFixed(2)}×` : '—');
console.log(`r1ts backend: ${T.currentBackend().describe()}; fused training ops ${T.fusedTraining() ? 'on' : 'off (R1TS_FUSED=0)'}`);
console.log(torch.describe());
console.log(`\ntraining (batch ${spec.batch} × seq ${spec.seq}), tokens/s`);
console.log('model    r1ts     torch    ratio');
for (const t of train) console.log(`${t.model.padEnd(8)} ${fmt(t.tokens_per_s).padStart(7)}  ${fmt(t.torch_tokens_per_s).padStart(7)}  ${ratio(t.tokens_per_s, t.torch_tokens_per_s)}`);
console.log(`\ngreedy decode (prompt ${spec.prompt}, ${spec.new_tokens} new tokens), tokens/s`);
console.log('model    batch   r1ts     torch    ratio');
for (const d of decode) console.log(`${d.model.padEnd(8)} ${String(d.batch).padStart(5)}  ${fmt(d.tokens_per_s).padStart(7)}  ${fmt(d.torch_tokens_per_s).padStart(7)}  ${ratio(d.tokens_per_s, d.torch_tokens_per_s)}  (r1ts best on ${decodeBest[d.model][d.batch]} thread${decodeBest[d.model][d.batch] > 1 ? 's' : ''})`);
console.log(`(r1ts training on ${threads} threads; decode best of ${decodeThreads.join(' and ')} thread${threads > 1 ? 's' : ''})`);
if (json) console.log(JSON.stringify({ train, decode }));
