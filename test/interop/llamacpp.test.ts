// Parity with the real llama.cpp runtime (node-llama-cpp 3.21.1, installed in
// interop/): for a tiny random model of each architecture (llama, qwen2,
// deepseek2 with MLA + MoE) exported to GGUF F32, llama.cpp's next-token
// distribution matches ours and greedy generation of 32 tokens is identical;
// also deepseek2 variants: plain wq + softmax gate + halves rope layout,
// group-limited routing, and YaRN (positions past the original context); GGUF
// F16 files within a looser bound; and llama.cpp's tokenizer on our metadata.
// Comparison: node-llama-cpp returns probabilities, not raw logits, so we compare
// log-probabilities (logits minus their log-sum-exp: the logits up to the one
// shift softmax ignores): max |ours − llama.cpp| over the vocabulary, divided by
// the logit scale max(1, max |logit|), must be ≤ 1e-3.
// llama.cpp runs with an F32 KV cache and without flash attention: on these models
// its default F16 cache alone moves log-probs by 6–8e-4 and its CPU flash attention
// (F16 inside) by 1.1–1.7e-3; with both off the difference is ~2e-6.
// Skips (saying why) without interop/node_modules; fails under CI=true then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Engine } from '../../src/engine/generate.ts';
import { loadGgufModel, saveGgufModel, type GgufArch } from '../../src/io/gguf-model.ts';
import { ids, noGrad } from '../../src/tensor/index.ts';
import { TINY_ARCHS, TINY_PROMPT, TINY_VOCAB, tinyConfig, tinyModel, tinyTokenizer } from '../io/gguf-tiny.ts';

const root = join(import.meta.dirname, '..', '..');
const installed = existsSync(join(root, 'interop', 'node_modules', 'node-llama-cpp', 'package.json'));
const why = 'interop/node_modules is absent: run `npm --prefix interop ci` to check GGUF export against llama.cpp';

interface LlamaCppHelper {
  loadLlamaCppModel(path: string): Promise<{ dispose(): Promise<void> }>;
  llamaCppNextAndGreedy(model: unknown, prompt: number[], nGen: number, threads?: number): Promise<{ logProbs: Float64Array; greedy: number[] }>;
}

if (!installed && process.env.CI === 'true') {
  test('llama.cpp parity needs interop/ installed under CI', () => assert.fail(`${why} (.ci/run installs it before npm test)`));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-llamacpp-'));
  test.after(() => rmSync(dir, { recursive: true, force: true }));
  const longPrompt = Array.from({ length: 60 }, (_, i) => (i * 37 + 11) % 256);
  const cases: [string, GgufArch, Record<string, unknown>, number[]][] = [
    ...TINY_ARCHS.map((a) => [a, a, {}, TINY_PROMPT] as [string, GgufArch, Record<string, unknown>, number[]]),
    ['deepseek2 (plain wq, softmax gate, halves rope layout)', 'deepseek2', { q_lora_rank: 0, scoring_func: 'softmax', topk_method: 'greedy', rope_interleave: false }, TINY_PROMPT],
    ['deepseek2 (group-limited routing: 2 groups, 1 kept)', 'deepseek2', { n_group: 2, topk_group: 1 }, TINY_PROMPT],
    // YaRN ×4 over an original context of 32, mscale 0.707 (DeepSeek-V2's), positions up to 92.
    ['deepseek2 (YaRN)', 'deepseek2', {
      max_position_embeddings: 128,
      rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 32, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 },
    }, longPrompt],
  ];
  for (const [label, arch, extra, prompt] of cases) {
    test(`${label}: llama.cpp's next-token log-probs and 32 greedy tokens match r1ts on our GGUF F32`, { skip: installed ? false : why }, async (t) => {
      const lc = (await import(pathToFileURL(join(root, 'interop', 'llamacpp.ts')).href)) as LlamaCppHelper;
      const model = tinyModel(tinyConfig(arch, extra));
      const p = join(dir, `${label.replace(/\W+/g, '-')}.gguf`);
      saveGgufModel(model, p, { tokenizer: { tokenizer: tinyTokenizer() } });

      const V = TINY_VOCAB, T = prompt.length;
      const logits = noGrad(() => model.forward(ids(Int32Array.from(prompt), [1, T])).logits).data as Float32Array;
      const last = Array.from(logits.subarray((T - 1) * V, T * V));
      const mx = Math.max(...last);
      const lse = mx + Math.log(last.reduce((s, x) => s + Math.exp(x - mx), 0));
      const [ours] = await new Engine(model, { maxBatch: 1 }).generate([{ prompt, maxTokens: 32, sampling: { temperature: 0 } }]);

      const lm = await lc.loadLlamaCppModel(p);
      try {
        const { logProbs, greedy } = await lc.llamaCppNextAndGreedy(lm, prompt, 32);
        assert.equal(logProbs.length, V);
        let worst = 0, at = -1;
        for (let i = 0; i < V; i++) {
          const d = Math.abs(last[i] - lse - logProbs[i]);
          if (!(d <= worst)) [worst, at] = [d, i];
        }
        const scale = Math.max(1, ...last.map(Math.abs));
        t.diagnostic(`max |Δ log-prob| ${worst.toExponential(2)} (token ${at}), logit scale ${scale.toFixed(2)}`);
        assert.ok(worst / scale <= 1e-3, `${label}: log-prob of token ${at} differs by ${worst} (logit scale ${scale})`);
        assert.deepEqual(greedy, ours.tokens, `${label}: greedy tokens differ`);
      } finally {
        await lm.dispose();
      }
    });
  }

  test('llama.cpp tokenizes and detokenizes like r1ts from the exported tokenizer metadata ("qwen2" pre-tokenizer)', { skip: installed ? false : why }, async () => {
    const lc = (await import(pathToFileURL(join(root, 'interop', 'llamacpp.ts')).href)) as LlamaCppHelper;
    const tok = tinyTokenizer();
    const p = join(dir, 'tok.gguf');
    saveGgufModel(tinyModel(tinyConfig('qwen2')), p, { tokenizer: { tokenizer: tok } });
    const lm = (await lc.loadLlamaCppModel(p)) as unknown as { tokenize(t: string, special: boolean): number[]; detokenize(ids: number[], special: boolean): string; dispose(): Promise<void> };
    try {
      const texts = [
        'hello world, the quick brown fox', "It's 12345 o'clock; we'll see  you\n\n  there!", 'naïve café — 東京 🙂 x=3.14',
        '<think> a </think><|end_of_text|>', '   leading\tand trailing   ', "DON'T Shout 99 bottles",
      ];
      for (const t of texts) {
        assert.deepEqual(Array.from(lm.tokenize(t, true)), tok.encode(t), JSON.stringify(t));
        assert.equal(lm.detokenize(tok.encode(t), true), t);
      }
    } finally {
      await lm.dispose();
    }
  });

  // F16 files: llama.cpp against r1ts reading the same file (so both use the same F16-rounded
  // weights). llama.cpp's F16 matrix products round activations to F16 as well, which moved
  // log-probs by 1.4–1.7e-3 here; the bound is 5e-3 of the logit scale, and greedy tokens are
  // reported, not asserted (a near-tie may flip at that precision).
  for (const arch of TINY_ARCHS) {
    test(`${arch} GGUF F16: llama.cpp loads it and agrees with r1ts on the same file`, { skip: installed ? false : why }, async (t) => {
      const lc = (await import(pathToFileURL(join(root, 'interop', 'llamacpp.ts')).href)) as LlamaCppHelper;
      const p = join(dir, `${arch}-f16.gguf`);
      saveGgufModel(tinyModel(tinyConfig(arch)), p, { dtype: 'F16', tokenizer: { tokenizer: tinyTokenizer() } });
      const model = loadGgufModel(p);
      model.eval();
      const V = TINY_VOCAB, T = TINY_PROMPT.length;
      const last = Array.from((noGrad(() => model.forward(ids(Int32Array.from(TINY_PROMPT), [1, T])).logits).data as Float32Array).subarray((T - 1) * V, T * V));
      const mx = Math.max(...last);
      const lse = mx + Math.log(last.reduce((s, x) => s + Math.exp(x - mx), 0));
      const [ours] = await new Engine(model, { maxBatch: 1 }).generate([{ prompt: TINY_PROMPT, maxTokens: 32, sampling: { temperature: 0 } }]);
      const lm = await lc.loadLlamaCppModel(p);
      try {
        const { logProbs, greedy } = await lc.llamaCppNextAndGreedy(lm, TINY_PROMPT, 32);
        let worst = 0;
        for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(last[i] - lse - logProbs[i]));
        const scale = Math.max(1, ...last.map(Math.abs));
        let same = 0;
        while (same < 32 && greedy[same] === ours.tokens[same]) same++;
        t.diagnostic(`max |Δ log-prob| ${worst.toExponential(2)}, logit scale ${scale.toFixed(2)}; greedy tokens equal for the first ${same} of 32`);
        assert.ok(worst / scale <= 5e-3, `${arch} f16: log-probs differ by ${worst} (logit scale ${scale})`);
      } finally {
        await lm.dispose();
      }
    });
  }
}
