// The GRPO loop (DeepSeekMath §4, DeepSeek-R1 §2.2): sample a group of G
// completions per prompt from the current policy with the generation engine,
// score them with the task's grader, turn rewards into group-relative
// advantages, and take μ optimizer steps on the clipped surrogate (grpo-loss.ts)
// with π_old log-probs kept from the rollout.
//
// Departures from the paper, each behind an option (defaults in GRPO_DEFAULTS,
// from the GRPO issue's experiment; what was and was not compared: docs/zero.md):
//   aggregation      'sequence' (paper) | 'token' (DAPO) | 'constant' (Dr. GRPO)
//   scaleStd         divide advantages by the group's std (paper) or not (Dr. GRPO)
//   epsHigh          clip-higher (DAPO) when > epsLow
//   dynamicSampling  drop groups whose rewards are all equal (no signal) and draw new
//                    prompts until the batch is full or maxRefills rounds pass (DAPO)
//   overlongFilter   truncated completions carry no loss (DAPO)
//   overlongBuffer   soft overlong punishment: a linear penalty of up to −1 over the last
//                    `overlongBuffer` tokens of the budget (DAPO); 0 = off
//   beta = 0         no KL term, and the reference model is never built or run
//   refRefreshEvery  copy the policy into the reference every N steps (0 = never)
//   mu               optimizer steps per rollout batch (π_old stays the rollout policy)
// Metrics per step go to metrics.jsonl, a few completions per step to samples.jsonl.
// MoE policies (DeepSeek-V3): the auxiliary-loss-free router-bias update runs after each of
// the μ optimizer steps, on the load of that step's training forwards (rollouts run in eval
// mode and are not counted); the first one's load is logged as expert_load (expert-load.ts).
// On the webgpu device (a policy whose parameters live there; runZero's device option moves
// them): rollouts run through the device engine, the reference's log-probs and each
// micro-batch's token log-probs and entropies ([positions] floats, never the logits) are read
// back once per forward, the loss is built and backpropagated on the device, clipping and
// AdamW stay there, and the step's losses and gradient norm come back in one readback (with an
// MoE policy, the router-bias update runs on the device and its loads come back in that readback).
// Not here: the loss formula (grpo-loss.ts), prompts/templates (the caller's
// encodePrompt), evaluation (src/eval, which this loop calls periodically).

import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { Engine, GenerateResult } from '../engine/generate.ts';
import { sampleSeed, completionText } from '../eval/engine-source.ts';
import type { CausalLM } from '../models/model.ts';
import { AdamW } from '../optim/adamw.ts';
import { clipGradNorm, clipGradNormTensor } from '../optim/clip.ts';
import type { Grade, Task, TaskItem } from '../tasks/task.ts';
import * as T from '../tensor/index.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import { balanceRouter, balanceRouterOnDevice, routerOf, type ExpertLoadFigures } from './expert-load.ts';
import { groupAdvantages, grpoLoss, type Aggregation } from './grpo-loss.ts';
import { prefixPack, type PrefixPack } from '../nn/prefix-pack.ts';

export interface GrpoOptions {
  /** Prompts per step (groups). */
  promptsPerStep: number;
  /** Completions per prompt, G. */
  groupSize: number;
  /** Generation budget per completion, L_max. */
  maxTokens: number;
  temperature: number;
  topP: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  beta: number;
  epsLow: number;
  epsHigh: number;
  aggregation: Aggregation;
  scaleStd: boolean;
  mu: number;
  dynamicSampling: boolean;
  maxRefills: number;
  overlongFilter: boolean;
  overlongBuffer: number;
  refRefreshEvery: number;
  /** Padded positions per training micro-batch (bounds the logits' memory: positions × V floats). */
  microBatchPositions: number;
  /** Train on each group's prompt once, its completions packed after it (exact; src/nn/prefix-pack.ts). */
  sharePrefix: boolean;
  seed: number;
}

export const GRPO_DEFAULTS: GrpoOptions = {
  promptsPerStep: 16,
  groupSize: 8,
  maxTokens: 96,
  temperature: 1,
  topP: 1,
  lr: 1e-4,
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1,
  beta: 0,
  epsLow: 0.2,
  epsHigh: 0.2,
  aggregation: 'token',
  scaleStd: true,
  mu: 1,
  dynamicSampling: true,
  maxRefills: 2,
  overlongFilter: false,
  overlongBuffer: 0,
  refRefreshEvery: 0,
  microBatchPositions: 8192,
  sharePrefix: true,
  seed: 0,
};

/** Words whose appearance in the reasoning marks a self-check (the "aha" signal). */
export const REFLECTION_WORDS = ['wait', 'check', 'verify', 'again', 'recheck', 'mistake'];
const REFLECTION_RE = new RegExp(`\\b(${REFLECTION_WORDS.join('|')})\\b`, 'gi');

export function reflectionCount(text: string): number {
  return (text.match(REFLECTION_RE) ?? []).length;
}

export interface Rollout {
  item: TaskItem;
  prompt: number[];
  result: GenerateResult;
  text: string;
  grade: Grade;
  /** Reward after any overlong punishment. */
  reward: number;
  truncated: boolean;
}

export interface GrpoStepMetrics {
  step: number;
  reward: number;
  [name: string]: number;
}

export interface GrpoContext {
  model: CausalLM;
  /** The reference policy (needed when beta > 0); the trainer copies the policy into it at start. */
  reference: CausalLM | null;
  engine: Engine;
  tokenizer: TextTokenizer;
  task: Task;
  encodePrompt: (item: TaskItem) => number[];
  stopTokens: number[];
  stopStrings: string[];
  /** The scalar reward of a grade (default: the task's own grade.reward). */
  reward?: (g: Grade) => number;
}

/**
 * A reward spec: 'task' (the task's own reward) or weighted named parts of the grade,
 * e.g. 'correct:1,format:0.2' (each name must be one the task reports in grade.rewards).
 */
export function rewardFromSpec(spec: string): (g: Grade) => number {
  if (spec === 'task') return (g) => g.reward;
  const parts = spec.split(',').map((p) => {
    const m = /^\s*([a-z_][a-z0-9_]*)\s*(?::\s*(-?[0-9.]+(?:e-?[0-9]+)?))?\s*$/i.exec(p);
    if (!m) throw new R1tsError(`reward spec '${spec}': '${p}' is not name or name:weight`);
    const w = m[2] === undefined ? 1 : Number(m[2]);
    if (!Number.isFinite(w)) throw new R1tsError(`reward spec '${spec}': weight of ${m[1]} is not a number`);
    return { name: m[1], w };
  });
  return (g) => {
    let r = 0;
    for (const { name, w } of parts) {
      const v = g.rewards[name];
      if (v === undefined) throw new R1tsError(`reward spec: the task reports no reward '${name}' (it has ${Object.keys(g.rewards).join(', ')})`);
      r += w * v;
    }
    return r;
  };
}

/** One GRPO trainer: holds the optimizer and the step counter; `step()` runs one rollout batch. */
export class GrpoTrainer {
  readonly opt: AdamW;
  readonly rng: Rng;
  stepCount = 0;

  constructor(readonly ctx: GrpoContext, readonly o: GrpoOptions) {
    validate(o);
    if (o.beta > 0 && !ctx.reference) throw new R1tsError('GRPO: beta > 0 needs a reference model');
    this.opt = new AdamW(ctx.model.parameters(), { lr: o.lr, weightDecay: o.weightDecay, beta1: 0.9, beta2: 0.99 });
    this.rng = new Rng(o.seed);
    if (ctx.reference) copyWeights(ctx.model, ctx.reference);
  }

  /** True when the policy's parameters live on the webgpu device. */
  get onDevice(): boolean {
    return this.ctx.model.parameters().some((p) => p.gpu !== null);
  }

  /** Samples G completions for each item and grades them. */
  async rollout(items: readonly TaskItem[], round: number): Promise<Rollout[]> {
    const { engine, tokenizer, task, encodePrompt, stopTokens, stopStrings } = this.ctx;
    const G = this.o.groupSize;
    const prompts = items.map((it) => encodePrompt(it));
    const reqs = items.flatMap((_, i) =>
      Array.from({ length: G }, (_, j) => ({
        prompt: prompts[i], maxTokens: this.o.maxTokens, sampling: { temperature: this.o.temperature, topP: this.o.topP },
        seed: sampleSeed(this.o.seed * 1000003 + this.stepCount * 7 + round, i, j), stopTokens, stopStrings,
      })));
    const results = await engine.generate(reqs);
    return results.map((result, k) => {
      const item = items[Math.floor(k / G)];
      const text = completionText(tokenizer, result.tokens, stopTokens);
      const grade = task.grade(item, text);
      const truncated = result.finishReason === 'length';
      let reward = this.ctx.reward ? this.ctx.reward(grade) : grade.reward;
      const buf = this.o.overlongBuffer;
      if (buf > 0) {
        const excess = result.tokens.length - (this.o.maxTokens - buf);
        if (excess > 0) reward += -Math.min(1, excess / buf);
      }
      return { item, prompt: prompts[Math.floor(k / G)], result, text, grade, reward, truncated };
    });
  }

  /** One GRPO step: rollouts (with dynamic-sampling refills), μ optimizer steps, metrics. */
  async step(): Promise<{ metrics: GrpoStepMetrics; rollouts: Rollout[]; expertLoad?: number[][] }> {
    const o = this.o;
    const G = o.groupSize;
    const t0 = performance.now();
    let kept: Rollout[] = [];
    let all: Rollout[] = [];
    let zeroVarGroups = 0;
    let groups = 0;
    for (let round = 0; round <= (o.dynamicSampling ? o.maxRefills : 0); round++) {
      const need = o.promptsPerStep - kept.length / G;
      if (need <= 0) break;
      const items = Array.from({ length: need }, () => this.ctx.task.trainItem(this.rng));
      const rs = await this.rollout(items, round);
      all = all.concat(rs);
      for (let g = 0; g < rs.length; g += G) {
        const grp = rs.slice(g, g + G);
        groups++;
        const zeroVar = grp.every((r) => r.reward === grp[0].reward);
        if (zeroVar) zeroVarGroups++;
        if (!o.dynamicSampling || !zeroVar) kept = kept.concat(grp);
      }
      if (!o.dynamicSampling) break;
    }
    const tGen = performance.now();
    const genTokens = all.reduce((s, r) => s + r.result.tokens.length, 0);

    const metrics: GrpoStepMetrics = { step: this.stepCount + 1, reward: 0 };
    // rollout statistics over every sampled completion (not only the kept ones)
    const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
    metrics.reward = mean(all.map((r) => r.reward));
    for (const name of Object.keys(all[0]?.grade.rewards ?? {})) metrics[`reward/${name}`] = mean(all.map((r) => r.grade.rewards[name]));
    metrics.accuracy = mean(all.map((r) => (r.grade.correct ? 1 : 0)));
    metrics.format = mean(all.map((r) => (r.grade.format ? 1 : 0)));
    metrics.completion_tokens = mean(all.map((r) => r.result.tokens.length));
    metrics.completion_tokens_max = Math.max(0, ...all.map((r) => r.result.tokens.length));
    metrics.completion_chars = mean(all.map((r) => r.text.length));
    metrics.truncated = mean(all.map((r) => (r.truncated ? 1 : 0)));
    metrics.zero_variance_groups = groups ? zeroVarGroups / groups : 0;
    metrics.reflection_words = mean(all.map((r) => reflectionCount(r.text)));
    const correct = all.filter((r) => r.grade.correct);
    metrics.reflective_correct = correct.length ? correct.filter((r) => reflectionCount(r.text) > 0).length / correct.length : 0;
    metrics.rollout_tokens_per_s = genTokens / ((tGen - t0) / 1000);
    metrics.groups_trained = kept.length / G;

    let expertLoad: number[][] | undefined;
    if (kept.length > 0) {
      const { moe, ...train } = this.onDevice ? await this.trainOnDevice(kept) : this.trainOn(kept);
      Object.assign(metrics, train);
      if (moe) {
        metrics.expert_load_max = moe.expert_load_max;
        metrics.expert_load_min = moe.expert_load_min;
        expertLoad = moe.expert_load; // layers × experts: not a number, so beside the metrics
      }
      metrics.train_tokens_per_s = train.train_tokens / ((performance.now() - tGen) / 1000);
    }
    this.stepCount++;
    if (o.refRefreshEvery > 0 && this.ctx.reference && this.stepCount % o.refRefreshEvery === 0) copyWeights(this.ctx.model, this.ctx.reference);
    metrics.step_seconds = (performance.now() - t0) / 1000;
    return { metrics, rollouts: all, ...(expertLoad ? { expertLoad } : {}) };
  }

  /**
   * μ optimizer steps on the kept rollouts; returns loss statistics. The rows are cut into
   * micro-batches of at most o.microBatchPositions positions. With sharePrefix (default) a
   * micro-batch packs whole groups, each group's prompt once and its G completions after it
   * (src/nn/prefix-pack.ts: exact, and far fewer positions when the prompt is long);
   * otherwise rows are sorted by length, each micro-batch padded to its own longest row.
   * Token weights are computed over the whole batch first, so the micro-batch losses (and
   * gradients) sum to exactly the whole batch's.
   */
  private trainOn(rs: Rollout[]): Record<string, number> & { moe?: ExpertLoadFigures } {
    const o = this.o;
    const { model, reference } = this.ctx;
    const { batches, total } = this.microBatches(rs);
    for (const b of batches) {
      if (o.beta > 0 && reference) {
        b.refLogp = T.noGrad(() => {
          const { logits: raw } = reference.forward(b.idsT, { pack: b.pack }); // [Bm, Tm, V]
          const logits = o.temperature === 1 ? raw : T.mul(raw, 1 / o.temperature); // [Bm, Tm, V]
          return Float32Array.from(T.neg(T.crossEntropyRows(logits, b.targetsT)).data as Float32Array);
        });
      }
    }
    const out: Record<string, number> & { moe?: ExpertLoadFigures } = {};
    const router = routerOf(model);
    for (let it = 0; it < o.mu; it++) {
      const lr = o.lr * Math.min(1, (this.stepCount + 1) / Math.max(1, o.warmupSteps));
      this.opt.lr = lr;
      this.opt.zeroGrad();
      let loss = 0;
      const acc = { tokens: 0, clip: 0, kl: 0, ratio: 0, entropy: 0 };
      for (const b of batches) {
        const { logits: raw } = model.forward(b.idsT, { pack: b.pack }); // [Bm, Tm, V]
        // π_old came from softmax(logits / temperature): the ratio compares like with like
        const logits = o.temperature === 1 ? raw : T.mul(raw, 1 / o.temperature); // [Bm, Tm, V]
        const logpAll = T.neg(T.crossEntropyRows(logits, b.targetsT)); // [Bm, Tm], 0 off the completions
        const mbLoss = this.microBatchLoss(b, logpAll, acc);
        if (mbLoss) {
          mbLoss.backward();
          loss += mbLoss.item();
        }
        if (it === 0) acc.entropy += meanEntropy(logits, b.mask) * b.maskTokens;
      }
      const gn = clipGradNorm(model.parameters(), o.gradClip);
      this.opt.step();
      const moe = router ? balanceRouter(router) : null; // DeepSeek-V3: after every training step
      if (it === 0) {
        if (moe) out.moe = moe;
        const d = Math.max(1, acc.tokens);
        Object.assign(out, { loss, clip_fraction: acc.clip / d, kl: acc.kl / d, ratio: acc.ratio / d, entropy: acc.entropy / d, grad_norm: gn, lr, micro_batches: batches.length, train_positions: batches.reduce((s, b) => s + b.idsT.size, 0) });
      }
    }
    out.train_tokens = total * o.mu;
    return out;
  }

  /**
   * One micro-batch's GRPO loss: grpoLoss over each of its segments' token log-probs (a slice of
   * logpAll [Bm, Tm]), summed; token-weighted statistics accumulate into acc. logpValues: logpAll's
   * values read back, for a logpAll on the webgpu device. Null when the micro-batch has no segment.
   */
  private microBatchLoss(b: MicroBatch, logpAll: T.Tensor, acc: { tokens: number; clip: number; kl: number; ratio: number }, logpValues?: Float32Array): T.Tensor | null {
    const o = this.o;
    const flat = T.reshape(logpAll, [1, logpAll.size]); // [1, Bm·Tm]
    let mbLoss: T.Tensor | null = null;
    for (const seg of b.segments) {
      const n = seg.advantages.length;
      const span = n * seg.L;
      const at = (a: Float32Array) => a.subarray(seg.offset, seg.offset + span);
      const logp = b.segments.length === 1 && span === logpAll.size ? T.reshape(logpAll, [n, seg.L]) : T.reshape(T.narrow(flat, 1, seg.offset, span), [n, seg.L]); // [n, L]
      const r = grpoLoss(logp, { N: n, T: seg.L, mask: at(b.mask), oldLogp: at(b.oldLogp), refLogp: b.refLogp ? at(b.refLogp) : null, advantages: seg.advantages, weights: at(b.weights) }, {
        epsLow: o.epsLow, epsHigh: o.epsHigh, beta: o.beta, aggregation: o.aggregation, maxTokens: o.maxTokens,
      }, logpValues && at(logpValues));
      mbLoss = mbLoss ? T.add(mbLoss, r.loss) : r.loss;
      const t = r.stats.tokens;
      acc.tokens += t;
      acc.clip += r.stats.clipFrac * t;
      acc.kl += r.stats.kl * t;
      acc.ratio += r.stats.ratio * t;
    }
    return mbLoss;
  }

  /** The kept rollouts as micro-batches (with their whole-batch token weights), and the loss tokens in all. */
  private microBatches(rs: Rollout[]): { batches: MicroBatch[]; total: number } {
    const o = this.o;
    const N = rs.length;
    const advantages = groupAdvantages(rs.map((r) => r.reward), o.groupSize, o.scaleStd);
    const lossTokens = rs.map((r) => (o.overlongFilter && r.truncated ? 0 : r.result.tokens.length));
    const total = lossTokens.reduce((s, x) => s + x, 0);
    const rowWeight = lossTokens.map((m) => (m === 0 ? 0 : o.aggregation === 'sequence' ? 1 / (N * m) : o.aggregation === 'token' ? 1 / total : 1 / (N * o.maxTokens)));
    const batches = o.sharePrefix ? this.packedBatches(rs, lossTokens, rowWeight, advantages) : this.paddedBatches(rs, lossTokens, rowWeight, advantages);
    return { batches, total };
  }

  /**
   * trainOn on the webgpu device: the same micro-batches, loss and statistics; per forward one
   * readback of [positions] values (log-probs, and entropies on the first of the μ steps), and
   * per optimizer step one readback of the micro-batch losses and the gradient norm.
   */
  private async trainOnDevice(rs: Rollout[]): Promise<Record<string, number> & { moe?: ExpertLoadFigures }> {
    const o = this.o;
    const { model, reference } = this.ctx;
    const { batches, total } = this.microBatches(rs);
    const scaled = (raw: T.Tensor) => (o.temperature === 1 ? raw : T.mul(raw, 1 / o.temperature)); // [Bm, Tm, V]
    if (o.beta > 0 && reference) {
      try {
        for (const b of batches) {
          const lp = T.noGrad(() => T.neg(T.crossEntropyRows(scaled(reference.forward(b.idsT, { pack: b.pack }).logits), b.targetsT))); // [Bm, Tm]
          b.refLogp = Float32Array.from((await T.readValues([lp]))[0] as Float32Array);
        }
      } finally {
        T.endDeviceStep();
      }
    }
    const out: Record<string, number> & { moe?: ExpertLoadFigures } = {};
    for (let it = 0; it < o.mu; it++) {
      const lr = o.lr * Math.min(1, (this.stepCount + 1) / Math.max(1, o.warmupSteps));
      this.opt.lr = lr;
      this.opt.zeroGrad();
      const losses: T.Tensor[] = [];
      const acc = { tokens: 0, clip: 0, kl: 0, ratio: 0, entropy: 0 };
      try {
        for (const b of batches) {
          const logits = scaled(model.forward(b.idsT, { pack: b.pack }).logits); // [Bm, Tm, V]
          const logpAll = T.neg(T.crossEntropyRows(logits, b.targetsT)); // [Bm, Tm], 0 off the completions
          // Entropy per position, −Σ p·log p (no gradient), read with the log-probs: [positions] floats, not the logits.
          const ent = it === 0 ? T.noGrad(() => T.neg(T.sum(T.mul(T.softmax(logits), T.logSoftmax(logits)), -1))) : null; // [Bm, Tm]
          const got = await T.readValues(ent ? [logpAll, ent] : [logpAll]);
          const lpv = got[0] as Float32Array;
          const mbLoss = this.microBatchLoss(b, logpAll, acc, lpv);
          if (mbLoss) {
            mbLoss.backward();
            losses.push(mbLoss);
          }
          if (ent) acc.entropy += maskedMean(got[1] as Float32Array, b.mask) * b.maskTokens;
        }
        const norm = clipGradNormTensor(model.parameters(), o.gradClip); // []
        this.opt.step();
        const router = routerOf(model);
        const got = router ? await balanceRouterOnDevice(router, [...losses, norm]) : null; // DeepSeek-V3: after every training step
        const vals = got ? got.values : await T.readValues([...losses, norm]);
        if (it === 0 && got) out.moe = got.figures;
        if (it === 0) {
          const loss = vals.slice(0, losses.length).reduce((s, v) => s + v[0], 0);
          const d = Math.max(1, acc.tokens);
          Object.assign(out, { loss, clip_fraction: acc.clip / d, kl: acc.kl / d, ratio: acc.ratio / d, entropy: acc.entropy / d, grad_norm: vals[vals.length - 1][0], lr, micro_batches: batches.length, train_positions: batches.reduce((s, b) => s + b.idsT.size, 0) });
        }
      } finally {
        T.endDeviceStep();
      }
    }
    out.train_tokens = total * o.mu;
    return out;
  }

  /** Rows sorted by length, cut into micro-batches, each padded to its longest row. */
  private paddedBatches(rs: Rollout[], lossTokens: number[], rowWeight: number[], advantages: Float32Array): MicroBatch[] {
    // position p of a row predicts token p+1: a row of prompt + completion has len − 1 positions
    const positions = rs.map((r) => r.prompt.length + r.result.tokens.length - 1);
    const order = rs.map((_, i) => i).sort((a, b) => positions[a] - positions[b]);
    const chunks: number[][] = [];
    for (let k = 0; k < order.length; ) {
      const chunk: number[] = [];
      while (k < order.length && ((chunk.length + 1) * positions[order[k]] <= this.o.microBatchPositions || chunk.length === 0)) chunk.push(order[k++]);
      chunks.push(chunk);
    }
    return chunks.map((rows) => {
      const n = rows.length;
      const L = Math.max(...rows.map((i) => positions[i]));
      const mb = newMicroBatch(n * L);
      const ids = new Int32Array(n * L);
      rows.forEach((i, b) => {
        const r = rs[i];
        const seq = [...r.prompt, ...r.result.tokens];
        for (let p = 0; p < positions[i]; p++) ids[b * L + p] = seq[p];
        // the position whose output predicts completion token j
        fillRow(mb, b * L + r.prompt.length - 1, r, lossTokens[i] > 0 ? rowWeight[i] : 0);
      });
      return finishMicroBatch(mb, T.ids(ids, [n, L]), null, [{ offset: 0, L, advantages: Float32Array.from(rows.map((i) => advantages[i])) }]);
    });
  }

  /**
   * Whole groups packed with their shared prompt (src/nn/prefix-pack.ts). A row is the
   * prompt's last token then the completion but its last token, so every row position
   * predicts one completion token; the shared prefix is the prompt without its last token.
   * Rows that carry no loss are left out; consecutive rows form a group only when their
   * prompts are equal (a group of G completions of one prompt always is).
   */
  private packedBatches(rs: Rollout[], lossTokens: number[], rowWeight: number[], advantages: Float32Array): MicroBatch[] {
    const G = this.o.groupSize;
    const groups: number[][] = [];
    for (let g = 0; g < rs.length; g += G) {
      const rows = Array.from({ length: Math.min(G, rs.length - g) }, (_, j) => g + j).filter((i) => lossTokens[i] > 0);
      for (const i of rows) {
        const last = groups[groups.length - 1];
        if (last && last[0] >= g && samePrompt(rs[last[0]].prompt, rs[i].prompt)) last.push(i);
        else groups.push([i]);
      }
    }
    const cost = (rows: number[]) => rs[rows[0]].prompt.length - 1 + rows.length * Math.max(...rows.map((i) => rs[i].result.tokens.length));
    const chunks: number[][][] = [];
    for (const grp of groups) {
      const last = chunks[chunks.length - 1];
      if (last && last.reduce((s, g) => s + cost(g), 0) + cost(grp) <= this.o.microBatchPositions) last.push(grp);
      else chunks.push([grp]);
    }
    return chunks.map((chunk) => {
      const pack = prefixPack(chunk.map((rows) => ({ prefix: rs[rows[0]].prompt.length - 1, lens: rows.map((i) => rs[i].result.tokens.length) })));
      const mb = newMicroBatch(pack.tokens);
      const ids = new Int32Array(pack.tokens);
      const segments: Segment[] = [];
      chunk.forEach((rows, gi) => {
        const pg = pack.groups[gi];
        const prompt = rs[rows[0]].prompt;
        for (let t = 0; t < pg.prefix; t++) ids[pg.start + t] = prompt[t];
        rows.forEach((i, r) => {
          const at = pg.start + pg.prefix + r * pg.rowLen;
          const toks = rs[i].result.tokens;
          ids[at] = prompt[prompt.length - 1];
          for (let j = 0; j + 1 < toks.length; j++) ids[at + 1 + j] = toks[j];
          fillRow(mb, at, rs[i], rowWeight[i]);
        });
        segments.push({ offset: pg.start + pg.prefix, L: pg.rowLen, advantages: Float32Array.from(rows.map((i) => advantages[i])) });
      });
      return finishMicroBatch(mb, T.ids(ids, [1, pack.tokens]), pack, segments);
    });
  }
}

/** A run of `advantages.length` rows of L positions each, starting at `offset` of the flattened micro-batch. */
interface Segment {
  offset: number;
  L: number;
  advantages: Float32Array;
}

/** One forward/backward: ids and, per position, the target and the loss inputs. */
interface MicroBatch {
  idsT: T.Tensor;
  pack: PrefixPack | null;
  targets: Int32Array;
  targetsT: T.Tensor;
  mask: Float32Array;
  maskTokens: number;
  oldLogp: Float32Array;
  weights: Float32Array;
  refLogp: Float32Array | null;
  segments: Segment[];
}

function newMicroBatch(n: number) {
  return { targets: new Int32Array(n).fill(-100), mask: new Float32Array(n), oldLogp: new Float32Array(n), weights: new Float32Array(n) };
}

/** Completion token j of r is predicted at flattened position at + j. */
function fillRow(mb: ReturnType<typeof newMicroBatch>, at: number, r: Rollout, weight: number): void {
  r.result.tokens.forEach((tok, j) => {
    mb.targets[at + j] = tok;
    mb.oldLogp[at + j] = r.result.logprobs[j];
    if (weight > 0) {
      mb.mask[at + j] = 1;
      mb.weights[at + j] = weight;
    }
  });
}

function finishMicroBatch(mb: ReturnType<typeof newMicroBatch>, idsT: T.Tensor, pack: PrefixPack | null, segments: Segment[]): MicroBatch {
  const targetsT = T.ids(mb.targets, idsT.shape);
  return { ...mb, idsT, pack, targetsT, maskTokens: mb.mask.reduce((s, x) => s + x, 0), refLogp: null, segments };
}

function samePrompt(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Mean entropy (nats) of the policy's next-token distributions at the masked positions. */
function meanEntropy(logits: T.Tensor, mask: Float32Array): number {
  const V = logits.shape[logits.shape.length - 1];
  const d = logits.data as Float32Array;
  let sum = 0;
  let n = 0;
  for (let k = 0; k < mask.length; k++) {
    if (!mask[k]) continue;
    const off = k * V;
    let mx = -Infinity;
    for (let v = 0; v < V; v++) if (d[off + v] > mx) mx = d[off + v];
    let z = 0;
    let zx = 0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp(d[off + v] - mx);
      z += e;
      zx += e * (d[off + v] - mx);
    }
    sum += Math.log(z) - zx / z;
    n++;
  }
  return n ? sum / n : 0;
}

/** Mean of values at the positions where mask is non-zero (0 when none). */
function maskedMean(values: Float32Array, mask: Float32Array): number {
  let sum = 0, n = 0;
  for (let k = 0; k < mask.length; k++) if (mask[k]) { sum += values[k]; n++; }
  return n ? sum / n : 0;
}

function copyWeights(from: CausalLM, to: CausalLM): void {
  const src = new Map(from.namedTensors());
  const dst = to.namedTensors();
  // Both on the webgpu device: device copies (no readback); otherwise through the state dict.
  if (dst.length === src.size && dst.every(([n, t]) => t.gpu && src.get(n)?.gpu && src.get(n)!.size === t.size)) {
    for (const [n, t] of dst) T.deviceCopySpan(src.get(n)!, 0, t, 0, t.size);
    return;
  }
  if (dst.some(([, t]) => t.gpu) || [...src.values()].some((t) => t.gpu)) {
    throw new R1tsError('GRPO: the policy and the reference model must live on the same device (move both with runZero\'s device option)');
  }
  to.loadStateDict(from.stateDict());
}

function validate(o: GrpoOptions): void {
  const ints: Array<keyof GrpoOptions> = ['promptsPerStep', 'groupSize', 'maxTokens', 'mu', 'microBatchPositions'];
  for (const k of ints) if (!Number.isInteger(o[k]) || (o[k] as number) < 1) throw new R1tsError(`GRPO: ${k}=${o[k]}: expected a positive integer`);
  if (o.groupSize < 2) throw new R1tsError(`GRPO: groupSize=${o.groupSize}: a group needs at least 2 completions to have an advantage`);
  if (!(o.lr > 0)) throw new R1tsError(`GRPO: lr=${o.lr}: expected > 0`);
  if (!(o.beta >= 0)) throw new R1tsError(`GRPO: beta=${o.beta}: expected ≥ 0`);
  if (!(o.temperature > 0)) throw new R1tsError(`GRPO: temperature=${o.temperature}: rollouts must sample (temperature > 0)`);
  if (!(o.overlongBuffer >= 0 && o.overlongBuffer < o.maxTokens)) throw new R1tsError(`GRPO: overlongBuffer=${o.overlongBuffer}: expected in [0, maxTokens)`);
}

