// bench:generate — greedy decode tokens/s at batch 1 and batch 64 through the
// KV cache for the dense preset (6 layers, d 256, 4 heads, vocab 4096), and the
// OpenAI-compatible server's throughput with 16 concurrent streaming clients,
// beside llama.cpp (node-llama-cpp 3.21.1 from interop/) running the same
// weights exported to GGUF F32, from the same run.
// llama.cpp gets its best: its default (fastest) context settings (F16 KV cache,
// flash attention as it chooses), the best of 1 thread and all threads per
// figure; batch 64 (and 16 for the server's anchor) is that many sequences in
// one context, whose tokens llama.cpp decodes together in one batch per step.
// Decode figures exclude the prompt (16 tokens) and the first sampled token on
// both sides: the clock runs over the next N tokens of every sequence (for
// llama.cpp at most 30 s: on a busy machine its 2-thread setting can collapse
// to a few tokens/s, and it then counts the tokens of those 30 s). The
// server figure is wall-clock: 16 clients each stream a /v1/completions of
// 64 tokens (ignore_eos, temperature 0), completion tokens summed over the time
// from the first request to the last [DONE], prompt processing included; its
// anchor is llama.cpp decoding 16 sequences in one context (no HTTP).
// Not a test: nothing is asserted. Needs `npm --prefix interop ci`.
//
//   npm run bench:generate [-- --json] [-- --quick]
// The last line with --json: {"batch1_tokens_per_s","batch64_tokens_per_s","llamacpp_batch1_tokens_per_s",
//   "llamacpp_batch64_tokens_per_s","batch1_ratio","batch64_ratio"} (ratios: ours / llama.cpp's best thread setting)

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Rng } from '../src/core/rng.ts';
import { syntheticCorpus } from '../src/data/text-dataset.ts';
import { saveGgufModel } from '../src/io/gguf-model.ts';
import { buildModel } from '../src/io/hf.ts';
import { densePreset } from '../src/models/config.ts';
import type { CausalLM } from '../src/models/model.ts';
import { startServer } from '../src/server/server.ts';
import { findDataDir } from '../src/tasks/data-files.ts';
import * as T from '../src/tensor/index.ts';
import { trainBpe } from '../src/tokenizer/index.ts';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const spec = { prompt: 16, newTokens: quick ? 16 : 32, batches: [1, 64] as const, clients: 16, serverTokens: quick ? 16 : 64 };
/** Each figure as it is measured (stderr), so a slow or interrupted run still shows what it got. */
const note = (what: string, v: number) => console.error(`  ${what}: ${v.toFixed(0)} tokens/s`);
const root = resolve(import.meta.dirname, '..');
const interop = join(root, 'interop', 'llamacpp.ts');
if (!existsSync(join(root, 'interop', 'node_modules', 'node-llama-cpp'))) {
  console.error('bench:generate: interop/node_modules is absent; run `npm --prefix interop ci` first (llama.cpp is the anchor)');
  process.exit(1);
}

interface LlamaCppHelper {
  loadLlamaCppModel(path: string): Promise<{ dispose(): Promise<void> }>;
  llamaCppDecodeTokensPerS(model: unknown, prompts: number[][], newTokens: number, threads: number): Promise<number>;
}
const lc = (await import(pathToFileURL(interop).href)) as LlamaCppHelper;

// A 4096-token BPE for the server (trained on GSM8K's questions when ../shared/data is there,
// else on the synthetic corpus); the model's vocabulary is the tokenizer's, so every id it
// can sample decodes (4096 when training reaches it, as it does on GSM8K).
const dataDir = findDataDir();
const corpus = dataDir && existsSync(join(dataDir, 'gsm8k', 'train.jsonl')) ? readFileSync(join(dataDir, 'gsm8k', 'train.jsonl'), 'utf8').slice(0, 1_500_000) : syntheticCorpus(1_500_000).join('\n');
const tokenizer = trainBpe(corpus, { vocabSize: 4096 });
const config = densePreset(6, tokenizer.vocabSize);
const model = buildModel(config, new Rng(0));
model.eval();
const prompts = (B: number) => {
  const r = new Rng(2);
  return Array.from({ length: B }, () => Array.from({ length: spec.prompt }, () => r.int(256)));
};

/** Our greedy decode: prefill, first token, then the clock over newTokens steps of all rows. */
function oursDecode(m: CausalLM, B: number): number {
  return T.noGrad(() => {
    const cache = m.newCache(B, spec.prompt + spec.newTokens + 1);
    let logits = m.forward(T.ids(prompts(B).flat(), [B, spec.prompt]), { cache }).logits; // [B, P, V]
    let tok = T.argmax(T.narrow(logits, 1, spec.prompt - 1, 1)); // [B, 1]
    const t0 = performance.now();
    for (let i = 0; i < spec.newTokens; i++) {
      logits = m.forward(tok, { cache }).logits; // [B, 1, V]
      tok = T.argmax(logits); // [B, 1]
    }
    return (B * spec.newTokens) / ((performance.now() - t0) / 1000);
  });
}

async function serverThroughput(): Promise<number> {
  const s = await startServer({ model, tokenizer, port: 0, maxBatch: spec.clients, modelName: 'dense', maxQueue: spec.clients });
  try {
    const one = async (i: number): Promise<number> => {
      const res = await fetch(`${s.url}/v1/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'dense', prompt: `the quick brown fox ${i} jumps over the lazy dog`, max_tokens: spec.serverTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
      });
      if (!res.ok) throw new Error(`server answered ${res.status}: ${await res.text()}`);
      const text = await res.text();
      let tokens = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const u = (JSON.parse(line.slice(6)) as { usage?: { completion_tokens: number } | null }).usage;
        if (u) tokens = u.completion_tokens;
      }
      if (tokens !== spec.serverTokens) throw new Error(`client ${i}: ${tokens} completion tokens, expected ${spec.serverTokens}: ${text.slice(0, 400)}`);
      return tokens;
    };
    const t0 = performance.now();
    const counts = await Promise.all(Array.from({ length: spec.clients }, (_, i) => one(i)));
    return counts.reduce((a, b) => a + b, 0) / ((performance.now() - t0) / 1000);
  } finally {
    await s.close();
  }
}

// ours
oursDecode(model, 1); // warm up
const ours: Record<number, number> = {};
for (const B of spec.batches) note(`r1ts decode batch ${B}`, (ours[B] = oursDecode(model, B)));
const server = await serverThroughput();
note(`r1ts server, ${spec.clients} streaming clients`, server);

// llama.cpp on the same weights
const dir = mkdtempSync(join(tmpdir(), 'r1ts-bench-gen-'));
const gguf = join(dir, 'dense-f32.gguf');
saveGgufModel(model, gguf, { dtype: 'F32', tokenizer: { tokenizer } });
const threadSettings = [...new Set([1, availableParallelism()])];
const lm = await lc.loadLlamaCppModel(gguf);
const anchor: Record<number, Record<number, number>> = {};
try {
  await lc.llamaCppDecodeTokensPerS(lm, prompts(1), 4, 1); // warm up
  for (const B of [...spec.batches, spec.clients]) {
    anchor[B] = {};
    for (const th of threadSettings) note(`llama.cpp decode ${B} sequences, ${th} thread${th > 1 ? 's' : ''}`, (anchor[B][th] = await lc.llamaCppDecodeTokensPerS(lm, prompts(B), spec.newTokens, th)));
  }
} finally {
  await lm.dispose();
  rmSync(dir, { recursive: true, force: true });
}
const best = (B: number) => Math.max(...Object.values(anchor[B]));

const f = (v: number) => v.toFixed(0).padStart(8);
console.log(`r1ts backend: ${T.currentBackend().describe()}; llama.cpp: node-llama-cpp 3.21.1 (CPU, prebuilt), threads ${threadSettings.join(' and ')}, best taken`);
console.log(`dense preset (${config.num_hidden_layers} layers, d ${config.hidden_size}, vocab ${config.vocab_size}), GGUF F32; prompt ${spec.prompt}, ${spec.newTokens} decode tokens per sequence\n`);
console.log(`greedy decode, tokens/s   r1ts  ${threadSettings.map((t) => `llama.cpp×${t}`.padStart(13)).join('')}   ratio (ours / best)`);
for (const B of spec.batches) console.log(`batch ${String(B).padEnd(18)} ${f(ours[B])}  ${threadSettings.map((t) => f(anchor[B][t]).padStart(13)).join('')}   ${(ours[B] / best(B)).toFixed(2)}×`);
console.log(`\nserver, ${spec.clients} streaming clients × ${spec.serverTokens} tokens: ${server.toFixed(0)} tokens/s (wall clock, HTTP + prompts included)`);
console.log(`llama.cpp, ${spec.clients} sequences in one context (decode only, no HTTP): ${best(spec.clients).toFixed(0)} tokens/s → ${(server / best(spec.clients)).toFixed(2)}×`);
if (json) {
  console.log(JSON.stringify({
    batch1_tokens_per_s: ours[1], batch64_tokens_per_s: ours[64], llamacpp_batch1_tokens_per_s: best(1), llamacpp_batch64_tokens_per_s: best(64),
    batch1_ratio: ours[1] / best(1), batch64_ratio: ours[64] / best(64),
  }));
}
process.exit(0);
