// Next-token sampling from one row of logits: temperature, then top-k, top-p
// (nucleus) and min-p truncation, in the order of HF transformers and vLLM.
// The returned logprob is log softmax(logits / T) at the chosen token over the
// FULL vocabulary (before truncation; T = 1 for greedy): GRPO uses it as π_old.
// Not here: batching, stop conditions (generate.ts).
// Without top-k/top-p nothing is sorted; with them, only the candidates above a
// threshold that provably holds the kept set are sorted (not the whole vocab).

import { R1tsError } from '../core/errors.ts';
import type { Rng } from '../core/rng.ts';

export interface SamplingOptions {
  /** Divides the logits; default 1; 0 = greedy argmax. */
  temperature?: number;
  /** Keep the smallest most-likely set whose mass reaches topP; 1 = off (default). */
  topP?: number;
  /** Keep the k most likely tokens; 0 = off (default). */
  topK?: number;
  /** Keep tokens with probability >= minP · (the top probability); 0 = off (default). */
  minP?: number;
}

/** Checks every field; the error names the field, its value and the allowed range. */
export function validateSampling(opts: SamplingOptions | undefined, what = 'sampling'): Required<SamplingOptions> {
  const { temperature = 1, topP = 1, topK = 0, minP = 0 } = opts ?? {};
  const bad = (field: string, v: unknown, range: string) => new R1tsError(`${what}: ${field} ${v} is outside ${range}`);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) throw bad('temperature', temperature, '[0, ∞) (0 = greedy)');
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw bad('topP', topP, '(0, 1] (1 = off)');
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 0) throw bad('topK', topK, 'the integers >= 0 (0 = off)');
  if (typeof minP !== 'number' || !(minP >= 0 && minP <= 1)) throw bad('minP', minP, '[0, 1] (0 = off)');
  return { temperature, topP, topK, minP };
}

// Scratch buffers reused across calls (sampling is synchronous).
let probs = new Float64Array(0);
let cand = new Int32Array(0);

/**
 * Samples one token from logits[offset .. offset + V). Returns the token and
 * log softmax(logits / T)[token] over the full vocabulary (T = 1 when greedy).
 */
export function sampleToken(logits: Float32Array, offset: number, V: number, opts: SamplingOptions | undefined, rng: Pick<Rng, 'uniform'>): { token: number; logprob: number } {
  const { temperature, topP, topK, minP } = validateSampling(opts);
  if (!(Number.isInteger(V) && V > 0 && offset >= 0 && offset + V <= logits.length)) {
    throw new R1tsError(`sampleToken: row [${offset}, ${offset + V}) does not fit ${logits.length} logits`);
  }
  let max = -Infinity, arg = 0;
  for (let i = 0; i < V; i++) {
    const x = logits[offset + i];
    if (x > max) { max = x; arg = i; }
  }
  if (!Number.isFinite(max)) throw new R1tsError(`sampleToken: the logits row holds no finite maximum (${max})`);
  const T = temperature === 0 ? 1 : temperature;
  if (probs.length < V) { probs = new Float64Array(V); cand = new Int32Array(V); }
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const p = Math.exp((logits[offset + i] - max) / T);
    probs[i] = p;
    sum += p;
  }
  const logZ = Math.log(sum);
  const logprobOf = (t: number) => (logits[offset + t] - max) / T - logZ;
  if (temperature === 0) return { token: arg, logprob: logprobOf(arg) };

  const useK = topK > 0 && topK < V, useP = topP < 1;
  if (!useK && !useP && minP === 0) return draw(probs, null, V, sum, rng, logprobOf);

  let n = 0; // candidates in cand[0 .. n)
  if (!useK && !useP) {
    // min-p alone: a threshold relative to the top probability (1 after the max shift).
    for (let i = 0; i < V; i++) if (probs[i] >= minP) cand[n++] = i;
    let s = 0;
    for (let j = 0; j < n; j++) s += probs[cand[j]];
    return draw(probs, cand, n, s, rng, logprobOf);
  }
  // Lower a threshold τ until {p >= τ} holds the top k tokens (with top-k) or topP of
  // the whole mass (top-p alone): the kept set is then a prefix of the sorted candidates.
  for (let e = 1; ; e = Math.ceil(e * 1.5)) {
    const tau = e > 1100 ? 0 : Math.pow(2, -e);
    let count = 0, mass = 0;
    for (let i = 0; i < V; i++) if (probs[i] >= tau) { count++; mass += probs[i]; }
    if (tau === 0 || (useK ? count >= topK : mass >= topP * sum)) {
      for (let i = 0; i < V; i++) if (probs[i] >= tau) cand[n++] = i;
      break;
    }
  }
  const sorted = Array.from(cand.subarray(0, n)).sort((a, b) => probs[b] - probs[a] || a - b);
  let keep = useK ? Math.min(topK, sorted.length) : sorted.length;
  if (useP) {
    let total = sum; // top-p alone: the full mass; after top-k: the mass of the k kept
    if (useK) { total = 0; for (let j = 0; j < keep; j++) total += probs[sorted[j]]; }
    let c = 0, j = 0;
    while (j < keep) {
      c += probs[sorted[j++]];
      if (c >= topP * total) break;
    }
    keep = j;
  }
  if (minP > 0) {
    const floor = minP * probs[sorted[0]];
    let j = 1;
    while (j < keep && probs[sorted[j]] >= floor) j++;
    keep = j;
  }
  let s = 0;
  for (let j = 0; j < keep; j++) { cand[j] = sorted[j]; s += probs[sorted[j]]; }
  return draw(probs, cand, keep, s, rng, logprobOf);
}

/** Draws from probs (restricted to idx[0 .. n) when given) with total mass sum. */
function draw(probs: Float64Array, idx: Int32Array | null, n: number, sum: number, rng: Pick<Rng, 'uniform'>, logprobOf: (t: number) => number): { token: number; logprob: number } {
  let u = rng.uniform() * sum;
  let last = idx ? idx[0] : 0;
  for (let j = 0; j < n; j++) {
    const t = idx ? idx[j] : j;
    const p = probs[t];
    if (p > 0) last = t;
    u -= p;
    if (u < 0 && p > 0) return { token: t, logprob: logprobOf(t) };
  }
  return { token: last, logprob: logprobOf(last) }; // rounding left u >= 0: the last token with mass
}

/** The model's own log-probabilities at one step: the chosen token's and its k most likely alternatives. */
export interface TokenLogprobs {
  /** log softmax(logits) at the chosen token (temperature 1, no truncation). */
  logprob: number;
  /** The k most likely tokens, most likely first (ties: lower id first). */
  top: { token: number; logprob: number }[];
}

/**
 * Raw log-probabilities of logits[offset .. offset + V): log softmax at T = 1 over the
 * whole vocabulary, as OpenAI-style APIs report them, whatever the sampling settings.
 * One pass for the normaliser (float64) and one for the top k (insertion into a sorted
 * list of at most k, so O(V·k) only in the worst case; k is small).
 */
export function rawLogprobs(logits: Float32Array, offset: number, V: number, token: number, k: number): TokenLogprobs {
  if (!(Number.isInteger(V) && V > 0 && offset >= 0 && offset + V <= logits.length)) {
    throw new R1tsError(`rawLogprobs: row [${offset}, ${offset + V}) does not fit ${logits.length} logits`);
  }
  if (!(Number.isInteger(token) && token >= 0 && token < V)) throw new R1tsError(`rawLogprobs: token ${token}: expected an id in [0, ${V})`);
  if (!(Number.isInteger(k) && k >= 0 && k <= V)) throw new R1tsError(`rawLogprobs: k ${k}: expected an integer in [0, ${V}]`);
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[offset + i] > max) max = logits[offset + i];
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(logits[offset + i] - max);
  const logZ = max + Math.log(sum);
  const ids: number[] = []; // top ids, best first
  for (let i = 0; i < V && k > 0; i++) {
    const x = logits[offset + i];
    if (ids.length === k && !(x > logits[offset + ids[k - 1]])) continue; // equal: the lower id, already in, wins
    if (ids.length === k) ids.pop();
    let j = ids.length;
    while (j > 0 && x > logits[offset + ids[j - 1]]) j--;
    ids.splice(j, 0, i);
  }
  return { logprob: logits[offset + token] - logZ, top: ids.map((t) => ({ token: t, logprob: logits[offset + t] - logZ })) };
}
