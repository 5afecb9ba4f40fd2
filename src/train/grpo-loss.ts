// The GRPO objective (DeepSeekMath §4.1.2, DeepSeek-R1 §2.2.1) and its modern
// variants, on per-token log-probabilities of sampled completions:
//
//   J = Σ_i Σ_t w_it · [ min(ρ_it·A_i, clip(ρ_it, 1−ε_low, 1+ε_high)·A_i) − β·KL_it ]
//   ρ_it = π_θ(o_it | q, o_i<t) / π_old(o_it | …),  KL_it = π_ref/π_θ − log(π_ref/π_θ) − 1  (k3)
//   A_i = (r_i − mean(r_group)) / (std(r_group) + 1e-6)
//
// and the loss is −J. Departures from the paper, each behind an option:
//   aggregation  'sequence': w_it = 1/(N·|o_i|), the paper's per-sequence mean then mean
//                over sequences; 'token': w_it = 1/Σ|o_i| (DAPO: long answers are not
//                down-weighted per token); 'constant': w_it = 1/(N·L_max) with the
//                generation budget L_max (Dr. GRPO: no length bias at all).
//   scaleStd     false drops the division by the group's std (Dr. GRPO: questions of
//                low reward variance are not up-weighted).
//   epsHigh      ≠ epsLow is DAPO's clip-higher (more room for low-probability tokens).
//   beta = 0     no KL term; the trainer then never runs the reference model.
// The clipped surrogate is written without relying on min()'s tie gradient: a token's
// gradient flows through ρ exactly where PPO's min picks the unclipped term, and the
// clipped value enters as a constant elsewhere (its gradient is zero by definition).
// On the webgpu device (logp a device tensor) the caller reads logp's values back first and
// passes them as `logpValues` (the clip decisions are data-dependent host logic); the loss
// itself is built from device ops, and the KL statistic is computed on the host from those
// values and refLogp (k3 in double; on the host path it sums the f32 KL tensor).
// Not here: sampling, rewards, the optimizer step (grpo.ts).

import { R1tsError } from '../core/errors.ts';
import * as T from '../tensor/index.ts';
import type { Tensor } from '../tensor/index.ts';

export type Aggregation = 'sequence' | 'token' | 'constant';

export interface GrpoLossOptions {
  /** Lower clip range ε_low (default 0.2). */
  epsLow: number;
  /** Upper clip range ε_high (default 0.2; DAPO uses 0.28). */
  epsHigh: number;
  /** KL coefficient β against the reference policy (0 = no KL, no reference model). */
  beta: number;
  aggregation: Aggregation;
  /** L_max of the 'constant' aggregation: the generation budget in tokens. */
  maxTokens: number;
}

export interface GrpoBatch {
  /** Completions N and padded length T: every per-token array is [N·T], row-major. */
  N: number;
  T: number;
  /** 1 for a completion token that carries loss, 0 for padding (and overlong-filtered rows). */
  mask: Float32Array;
  /** log π_old of each token (from the rollout). */
  oldLogp: Float32Array;
  /** log π_ref of each token; required when beta > 0. */
  refLogp: Float32Array | null;
  /** A_i per completion [N]. */
  advantages: Float32Array;
  /**
   * Per-token weights w_it [N·T] computed over a larger batch this one is a slice of
   * (micro-batching: the slices' losses then sum to the whole batch's); default: tokenWeights.
   */
  weights?: Float32Array;
}

export interface GrpoStats {
  /** Share of loss-carrying tokens whose surrogate was clipped. */
  clipFrac: number;
  /** Mean k3 KL over loss-carrying tokens (0 without a reference). */
  kl: number;
  /** Mean ρ over loss-carrying tokens. */
  ratio: number;
  /** Loss-carrying tokens. */
  tokens: number;
}

/** Group-relative advantages: rewards [numGroups·G] → (r − mean)/(std + 1e-6), or r − mean without scaleStd. */
export function groupAdvantages(rewards: readonly number[], G: number, scaleStd: boolean): Float32Array {
  if (!Number.isInteger(G) || G < 1 || rewards.length % G !== 0) throw new R1tsError(`GRPO: ${rewards.length} rewards do not split into groups of ${G}`);
  const out = new Float32Array(rewards.length);
  for (let g = 0; g < rewards.length; g += G) {
    let mean = 0;
    for (let i = 0; i < G; i++) mean += rewards[g + i];
    mean /= G;
    let v = 0;
    for (let i = 0; i < G; i++) v += (rewards[g + i] - mean) ** 2;
    // the unbiased std, as TRL (torch.std); a group of 2 with rewards 0/1 gets ±0.707
    const std = G > 1 ? Math.sqrt(v / (G - 1)) : 0;
    for (let i = 0; i < G; i++) out[g + i] = scaleStd ? (rewards[g + i] - mean) / (std + 1e-6) : rewards[g + i] - mean;
  }
  return out;
}

/** Per-token weights w_it of the chosen aggregation (0 on masked tokens). */
export function tokenWeights(b: GrpoBatch, aggregation: Aggregation, maxTokens: number): Float32Array {
  const { N, T: L, mask } = b;
  const w = new Float32Array(N * L);
  let total = 0;
  const lens = new Float64Array(N);
  for (let i = 0; i < N; i++) for (let t = 0; t < L; t++) lens[i] += mask[i * L + t];
  for (let i = 0; i < N; i++) total += lens[i];
  if (aggregation === 'constant' && !(maxTokens > 0)) throw new R1tsError(`GRPO: the 'constant' aggregation needs maxTokens > 0, got ${maxTokens}`);
  for (let i = 0; i < N; i++) {
    for (let t = 0; t < L; t++) {
      const m = mask[i * L + t];
      if (m === 0) continue;
      w[i * L + t] = aggregation === 'sequence' ? m / (N * lens[i]) : aggregation === 'token' ? m / total : m / (N * maxTokens);
    }
  }
  return w;
}

/**
 * The GRPO loss −J for token log-probs logp [N, T] under the current policy (differentiable).
 * Returns the scalar loss and detached statistics.
 */
export function grpoLoss(logp: Tensor, b: GrpoBatch, o: GrpoLossOptions, logpValues?: Float32Array): { loss: Tensor; stats: GrpoStats } {
  const { N, T: L } = b;
  if (logp.shape.length !== 2 || logp.shape[0] !== N || logp.shape[1] !== L) throw new R1tsError(`GRPO: logp has shape [${logp.shape}], expected [${N}, ${L}]`);
  for (const [name, arr] of [['mask', b.mask], ['oldLogp', b.oldLogp]] as const) {
    if (arr.length !== N * L) throw new R1tsError(`GRPO: ${name} has ${arr.length} entries, expected N·T = ${N * L}`);
  }
  if (b.advantages.length !== N) throw new R1tsError(`GRPO: ${b.advantages.length} advantages for ${N} completions`);
  if (o.beta > 0 && (!b.refLogp || b.refLogp.length !== N * L)) throw new R1tsError('GRPO: beta > 0 needs refLogp with N·T entries');
  if (!(o.epsLow >= 0 && o.epsLow < 1) || !(o.epsHigh >= 0)) throw new R1tsError(`GRPO: clip range epsLow=${o.epsLow} (expected [0, 1)), epsHigh=${o.epsHigh} (expected ≥ 0)`);

  const w = b.weights ?? tokenWeights(b, o.aggregation, o.maxTokens);
  if (w.length !== N * L) throw new R1tsError(`GRPO: weights has ${w.length} entries, expected N·T = ${N * L}`);
  if (logp.gpu && !logpValues) throw new R1tsError('GRPO: logp lives on the webgpu device: pass its values (await readValues([logp])) as logpValues');
  if (logpValues && logpValues.length !== N * L) throw new R1tsError(`GRPO: logpValues has ${logpValues.length} entries, expected N·T = ${N * L}`);
  const lp = logpValues ?? (logp.data as Float32Array);
  // which tokens' min() picks the unclipped term (gradient through ρ), and the clipped constant elsewhere
  const active = new Float32Array(N * L); // w·A where ρ is live, else 0
  const constant = new Float32Array(N * L); // w·clip(ρ)·A where clipped, else 0
  let clipped = 0;
  let tokens = 0;
  let ratioSum = 0;
  for (let i = 0; i < N; i++) {
    const A = b.advantages[i];
    for (let t = 0; t < L; t++) {
      const k = i * L + t;
      if (b.mask[k] === 0) continue;
      tokens++;
      const rho = Math.exp(lp[k] - b.oldLogp[k]);
      ratioSum += rho;
      const isClipped = (A > 0 && rho > 1 + o.epsHigh) || (A < 0 && rho < 1 - o.epsLow);
      if (isClipped) {
        clipped++;
        constant[k] = w[k] * Math.min(Math.max(rho, 1 - o.epsLow), 1 + o.epsHigh) * A;
      } else active[k] = w[k] * A;
    }
  }
  const shape = [N, L];
  const rho = T.exp(T.sub(logp, T.tensor(b.oldLogp, shape))); // [N, T]
  let J = T.add(T.sum(T.mul(rho, T.tensor(active, shape))), constant.reduce((s, x) => s + x, 0));
  let klMean = 0;
  if (o.beta > 0) {
    const d = T.sub(T.tensor(b.refLogp!, shape), logp); // log π_ref − log π_θ, [N, T]
    const kl = T.sub(T.sub(T.exp(d), d), 1); // k3 ≥ 0, [N, T]
    if (logp.gpu) {
      for (let k = 0; k < N * L; k++) if (b.mask[k] !== 0) { const dk = b.refLogp![k] - lp[k]; klMean += Math.exp(dk) - dk - 1; }
    } else {
      const kd = kl.data as Float32Array;
      for (let k = 0; k < N * L; k++) if (b.mask[k] !== 0) klMean += kd[k];
    }
    klMean /= Math.max(1, tokens);
    J = T.sub(J, T.mul(T.sum(T.mul(kl, T.tensor(w, shape))), o.beta));
  }
  return { loss: T.neg(J), stats: { clipFrac: tokens ? clipped / tokens : 0, kl: klMean, ratio: tokens ? ratioSum / tokens : 1, tokens } };
}
