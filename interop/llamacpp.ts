// The llama.cpp anchor for r1ts's parity tests and benchmarks, through
// node-llama-cpp (pinned in this folder's package.json, installed apart from
// the main package: it brings ~700 MB of prebuilt llama.cpp binaries).
// CPU only, prebuilt binaries only (no build, no download at run time).
// Not here: the checks themselves (test/interop/, bench/generate.ts).

import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';

let llamaP: Promise<Llama> | null = null;

/** The shared llama.cpp instance (CPU, prebuilt binaries). */
export function llamaCpp(): Promise<Llama> {
  llamaP ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false, skipDownload: true });
  return llamaP;
}

export async function loadLlamaCppModel(modelPath: string): Promise<LlamaModel> {
  const llama = await llamaCpp();
  return llama.loadModel({ modelPath, gpuLayers: 0 });
}

/**
 * Next-token log-probabilities after `prompt` (llama.cpp's softmax at temperature 1
 * with no truncation, as natural logs), and the greedy continuation of `nGen` tokens.
 */
export async function llamaCppNextAndGreedy(model: LlamaModel, prompt: number[], nGen: number, threads = 1): Promise<{ logProbs: Float64Array; greedy: number[] }> {
  // Exact settings for parity: measured on the tiny test models (max |Δ log-prob| against r1ts),
  // llama.cpp's default F16 KV cache alone gives 6–8e-4 and its CPU flash attention (F16
  // internally, whatever the cache type) 1.1–1.7e-3; F32 cache without flash attention ~2e-6.
  const ctx = await model.createContext({
    contextSize: Math.max(64, prompt.length + nGen + 8), sequences: 1, threads, batchSize: Math.max(32, prompt.length),
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false,
  });
  try {
    const seq = ctx.getSequence();
    const last = prompt[prompt.length - 1];
    const items = [...prompt.slice(0, -1), [last, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]] as Parameters<typeof seq.controlledEvaluate>[0];
    const res = await seq.controlledEvaluate(items);
    const probs = res[res.length - 1]?.next.probabilities;
    if (!probs) throw new Error('llama.cpp returned no probabilities');
    const n = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? probs.size;
    const logProbs = new Float64Array(n).fill(-Infinity);
    for (const [tok, p] of probs) logProbs[tok as unknown as number] = Math.log(p);
    await seq.clearHistory();
    const greedy: number[] = [];
    for await (const t of seq.evaluate(prompt as never[], { temperature: 0 })) {
      greedy.push(t as unknown as number);
      if (greedy.length >= nGen) break;
    }
    return { logProbs, greedy };
  } finally {
    await ctx.dispose();
  }
}

/**
 * Greedy decode throughput of `prompts.length` sequences in one context (llama.cpp batches
 * their tokens into one decode per step): after every sequence has its prompt evaluated and
 * its first token sampled (a barrier), the clock runs until each sequence has `newTokens` more
 * tokens or `budgetMs` has passed (a thread setting that collapses on a busy machine then
 * costs seconds, not minutes). Returns decoded tokens/s summed over the sequences.
 * F16 KV cache and flash attention as llama.cpp chooses by default (its fastest settings).
 */
export async function llamaCppDecodeTokensPerS(model: LlamaModel, prompts: number[][], newTokens: number, threads: number, budgetMs = 30_000): Promise<number> {
  const B = prompts.length;
  const maxPrompt = Math.max(...prompts.map((p) => p.length));
  const ctx = await model.createContext({
    contextSize: B * (maxPrompt + newTokens + 8), sequences: B, threads: { ideal: threads, min: threads }, batchSize: Math.max(512, B * maxPrompt),
  });
  try {
    let arrived = 0, decoded = 0;
    let release!: () => void;
    const barrier = new Promise<void>((r) => (release = r));
    let t0 = 0;
    const runs = prompts.map(async (prompt) => {
      const seq = ctx.getSequence();
      let n = 0;
      for await (const _t of seq.evaluate(prompt as never[], { temperature: 0 })) {
        if (n++ === 0) {
          if (++arrived === B) {
            t0 = performance.now();
            release();
          }
          await barrier;
          continue;
        }
        decoded++;
        if (n > newTokens || performance.now() - t0 > budgetMs) break;
      }
    });
    await Promise.all(runs);
    return decoded / ((performance.now() - t0) / 1000);
  } finally {
    await ctx.dispose();
  }
}
