// DeepSeekMoE: shared experts plus fine-grained routed experts (SwiGLU), with
// DeepSeek-V3's gate exactly as the official inference code computes it:
//   s = softmax(x·Wᵀ) or sigmoid(x·Wᵀ)            (the affinities; weights come from these)
//   s_sel = s + bias                               (bias only steers selection)
//   groups (n_group > 1): group score = max of the group without a bias, sum of its top-2
//     with one; keep the topk_group best groups, others get −∞
//   experts = top-k of s_sel;  weights = s at those experts,
//     renormalized to sum 1 only for sigmoid scoring, times routed_scaling_factor.
// Auxiliary-loss-free balancing (DeepSeek-V3 §2.1.2): `bias` is a buffer, not a
// gradient-trained parameter; after each training step updateBias() moves it by
// ±γ toward uniform expert load. An optional sequence-wise balance loss (α) is
// computed when alpha > 0. Tokens are grouped per expert so each expert runs
// one GEMM over its tokens, not one per token.
// On the webgpu device (x a device tensor) nothing is read back inside the forward:
// selection runs on the device (s + bias, the group limit, top-k) and yields a 0/1 routing
// mask [N, E]; the dispatch is sparse and dropless (src/tensor/moe-device.ts): a plan built
// on the device gives each chosen (token, expert) pair one row, grouped by expert, and each
// expert's MLP runs over its own rows only — the host's grouped FLOPs, no capacity, no
// dropped token. Each of the experts' GEMMs is one dispatch for all of them, over their
// weights stacked in one device slab (moved there in place on the first forward). For A/B
// measurements, setMoeDispatch('per-expert') runs one dispatch per expert instead (E× the
// dispatches), and 'dense' every expert over all N tokens weighted by s·mask (E/K× the routed FLOPs). The load is counted into
// a device buffer, and the bias update runs on the device (updateBiasOnDevice) and hands back
// the load to read with the step's readback. The host gives an expert no token chose no
// gradient, so AdamW skips it; here it gets a zero gradient, so its AdamW step is gated on its
// load (gateDeviceUpdates): call updateBiasOnDevice (which restarts the count) after the
// optimizer step, as the trainers do. Selection on the device compares against the k-th
// largest value (and the topk_group-th largest group score), so on an exact tie there the
// mask marks every tied expert and the plan keeps each token's first K marked experts in
// expert order, where the host keeps the top ones by score and then the lower index — a
// measure-zero event on trained f32 scores.

import type { Rng } from '../core/rng.ts';
import {
  Tensor, add, cat, deviceContext, deviceCopySpan, deviceZeros, div, gateDeviceUpdates, fusedTraining, gatherRows, ge, gt, ids, linear, mean, moeExperts, moeExpertsOnDevice, mul, narrow, noGrad, parameter, randn, reshape,
  routeOnDevice, scatterRows, sigmoid, softmax, sub, sum, tensor, topk, zeros,
} from '../tensor/index.ts';
import { MLP } from './layers.ts';
import { Module } from './module.ts';

export interface MoEConfig {
  dim: number;
  /** Routed experts (n_routed_experts). */
  nRoutedExperts: number;
  /** Shared experts (n_shared_experts): one MLP of nSharedExperts·moeInterDim. */
  nSharedExperts: number;
  /** Experts per token (num_experts_per_tok). */
  topK: number;
  /** Expert groups (n_group); 1 = no group-limited routing. */
  nGroup: number;
  /** Groups each token may use (topk_group). */
  topkGroup: number;
  /** Multiplies the routing weights (routed_scaling_factor). */
  routeScale: number;
  scoringFunc: 'softmax' | 'sigmoid';
  /** Hidden size of each expert (moe_intermediate_size). */
  moeInterDim: number;
  /** Whether the gate has the selection bias (e_score_correction_bias). */
  gateBias: boolean;
  /** Sequence-wise balance loss weight α (0 = off). */
  auxLossAlpha: number;
}

/** How MoE layers dispatch tokens to experts on the webgpu device (see the file's top). */
export type MoeDispatch = 'grouped' | 'per-expert' | 'dense';
let dispatchOnDevice: MoeDispatch = 'grouped';

/** Sets how MoE layers dispatch on the webgpu device ('grouped' by default; the others for A/B runs). */
export function setMoeDispatch(mode: MoeDispatch): void {
  if (mode !== 'grouped' && mode !== 'per-expert' && mode !== 'dense') throw new RangeError(`setMoeDispatch: '${mode}', expected 'grouped', 'per-expert' or 'dense'`);
  dispatchOnDevice = mode;
}

/** The router: affinities, selection and weights. */
export class Gate extends Module {
  readonly weight: Tensor; // [E, C]
  /** Selection bias [E] (a buffer: updated by balancing, not by gradients), or null. */
  readonly bias: Tensor | null;

  constructor(readonly cfg: MoEConfig, rng: Rng) {
    super();
    this.weight = parameter(randn([cfg.nRoutedExperts, cfg.dim], rng, 0.02));
    this.bias = cfg.gateBias ? zeros([cfg.nRoutedExperts]) : null;
  }

  /** Affinities s [N, E] (differentiable). */
  scores(x: Tensor): Tensor {
    const logits = linear(x, this.weight); // [N, E]
    return this.cfg.scoringFunc === 'softmax' ? softmax(logits) : sigmoid(logits);
  }

  /** The selected experts [N, k] for affinities s, by the official rule (ties: lower index). */
  select(s: Float32Array, N: number): Int32Array {
    const { nRoutedExperts: E, topK: K, nGroup: G, topkGroup } = this.cfg;
    const bias = this.bias ? (this.bias.data as Float32Array) : null;
    const out = new Int32Array(N * K);
    const sel = new Float64Array(E);
    const per = E / G;
    const groupScore = new Float64Array(G);
    for (let n = 0; n < N; n++) {
      for (let e = 0; e < E; e++) sel[e] = Math.fround(s[n * E + e] + (bias ? bias[e] : 0));
      if (G > 1) {
        for (let g = 0; g < G; g++) {
          if (bias) {
            let a = -Infinity, b = -Infinity;
            for (let j = 0; j < per; j++) {
              const v = sel[g * per + j];
              if (v > a) [a, b] = [v, a];
              else if (v > b) b = v;
            }
            groupScore[g] = Math.fround(a + b);
          } else {
            let a = -Infinity;
            for (let j = 0; j < per; j++) a = Math.max(a, sel[g * per + j]);
            groupScore[g] = a;
          }
        }
        const keep = topIndices(groupScore, topkGroup);
        const kept = new Uint8Array(G);
        for (const g of keep) kept[g] = 1;
        for (let e = 0; e < E; e++) if (!kept[Math.floor(e / per)]) sel[e] = -Infinity;
      }
      out.set(topIndices(sel, K), n * K);
    }
    return out;
  }

  /**
   * The selection on the device: a 0/1 mask [N, E] of each token's K experts for affinities s [N, E]
   * (a device tensor), by the same rule as select() (see the file's top for ties). No gradient.
   */
  selectMask(s: Tensor): Tensor {
    const { nRoutedExperts: E, topK: K, nGroup: G, topkGroup } = this.cfg;
    const N = s.size / E;
    return noGrad(() => {
      let sel = this.bias ? add(s, this.bias) : s; // [N, E]
      if (G > 1) {
        const per = E / G;
        if (this.bias && per < 2) throw new RangeError(`MoE on the webgpu device: a group score with the bias sums the group's top 2, but the groups have ${per} expert (n_routed_experts ${E} / n_group ${G})`);
        const g3 = reshape(sel, [N, G, per]); // [N, G, per]
        const groupScore = this.bias ? sum(topk(g3, 2).values, -1) : topk(g3, 1).values; // [N, G] or [N, G, 1]
        const gs = reshape(groupScore, [N, G]); // [N, G]
        const thr = narrow(topk(gs, topkGroup).values, 1, topkGroup - 1, 1); // [N, 1]
        const keep = reshape(ge(gs, thr), [N, G, 1]); // [N, G, 1]
        // Dropped groups' experts fall far below any kept score (−1e30, not −∞: 0·∞ would be NaN).
        sel = reshape(add(mul(g3, keep), mul(sub(keep, 1), 1e30)), [N, E]); // [N, E]
      }
      const kth = narrow(topk(sel, K).values, 1, K - 1, 1); // [N, 1]
      return ge(sel, kth); // [N, E]
    });
  }
}

/** Indices of the k largest values, descending; ties go to the lower index. */
export function topIndices(v: ArrayLike<number>, k: number): number[] {
  // k passes of a scan (the router's k is small); rows with NaN keep the sort's order below.
  const n = v.length;
  if (k <= 8) {
    const out: number[] = [];
    let nan = false;
    for (let j = 0; j < k && j < n && !nan; j++) {
      let best = -1;
      for (let i = 0; i < n; i++) {
        const x = v[i];
        if (x !== x) { nan = true; break; }
        if (out.includes(i)) continue;
        if (best < 0 || x > v[best]) best = i;
      }
      out.push(best);
    }
    if (!nan) return out;
  }
  const idx = Array.from({ length: v.length }, (_, i) => i);
  idx.sort((a, b) => (v[b] > v[a] ? 1 : v[b] < v[a] ? -1 : a - b));
  return idx.slice(0, k);
}

export class MoE extends Module {
  readonly gate: Gate;
  readonly experts: MLP[];
  readonly sharedExperts: MLP | null;
  /** Tokens routed to each expert since the last updateBias() (for balancing and metrics). */
  readonly load: Float64Array;
  // Per-forward state held in a plain object, so that namedTensors() (parameters and buffers:
  // what state dicts, checkpoints and device moves see) never lists it.
  private readonly scratch: { auxLoss: Tensor | null; load: Tensor | null; loadCtx: object | null } = { auxLoss: null, load: null, loadCtx: null };

  /** The sequence-wise balance loss of the last forward (when alpha > 0 and training). */
  get auxLoss(): Tensor | null {
    return this.scratch.auxLoss;
  }
  set auxLoss(t: Tensor | null) {
    this.scratch.auxLoss = t;
  }

  /** On the webgpu device: the load counted there since the last updateBiasOnDevice() [E] (made on first use; persistent). */
  private get loadOnDevice(): Tensor {
    const ctx = deviceContext('MoE');
    if (!this.scratch.load || this.scratch.loadCtx !== ctx) {
      // First use on this device (a load buffer of an earlier, closed device is dropped).
      this.scratch.load = deviceZeros([this.cfg.nRoutedExperts]);
      this.scratch.loadCtx = ctx;
      // An expert no token chose gets a zero gradient here (the host gives it none): its AdamW step is gated on its load.
      this.experts.forEach((m, e) => gateDeviceUpdates(m.parameters(), this.scratch.load!, e));
    }
    return this.scratch.load;
  }

  constructor(readonly cfg: MoEConfig, rng: Rng) {
    super();
    if (cfg.nRoutedExperts % cfg.nGroup !== 0) throw new RangeError(`MoE: n_routed_experts ${cfg.nRoutedExperts} is not a multiple of n_group ${cfg.nGroup}`);
    this.gate = new Gate(cfg, rng);
    this.experts = Array.from({ length: cfg.nRoutedExperts }, () => new MLP(cfg.dim, cfg.moeInterDim, { rng }));
    this.sharedExperts = cfg.nSharedExperts > 0 ? new MLP(cfg.dim, cfg.nSharedExperts * cfg.moeInterDim, { rng }) : null;
    this.load = new Float64Array(cfg.nRoutedExperts);
  }

  /** x [B, T, C] (or [N, C]) → same shape. */
  forward(x: Tensor): Tensor {
    const { dim: C, nRoutedExperts: E, topK: K, scoringFunc, routeScale } = this.cfg;
    const N = x.size / C;
    const x2 = reshape(x, [N, C]);
    const s = this.gate.scores(x2); // [N, E]
    if (s.gpu) return this.forwardOnDevice(x, x2, s);
    const chosen = noGrad(() => this.gate.select(s.data as Float32Array, N)); // [N, K]

    // Group the (token, slot) pairs by expert: one gather, one GEMM pair per expert, one scatter.
    const counts = new Int32Array(E);
    for (let i = 0; i < N * K; i++) counts[chosen[i]]++;
    const offsets = new Int32Array(E + 1);
    for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e] + counts[e];
    const fill = offsets.slice(0, E);
    const tokenOf = new Int32Array(N * K), pairOf = new Int32Array(N * K);
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < K; j++) {
        const e = chosen[n * K + j];
        const at = fill[e]++;
        tokenOf[at] = n;
        pairOf[at] = n * E + e; // flat index into s
      }
    }
    if (this.training) for (let e = 0; e < E; e++) this.load[e] += counts[e];

    // Routing weights, gathered from the unbiased affinities (differentiable).
    let w = gatherRows(reshape(s, [N * E, 1]), ids(pairOf)); // [N·K, 1], expert-sorted
    if (scoringFunc === 'sigmoid') {
      const tokenIds = ids(tokenOf);
      const denom = gatherRows(scatterRows(w, tokenIds, N), tokenIds); // [N·K, 1]: per-token sum of its weights
      w = div(w, denom);
    }
    if (routeScale !== 1) w = mul(w, routeScale);

    let y: Tensor; // [N, C]
    if (this.training && fusedTraining(x2)) {
      // One fused node for gather → experts → weighting → scatter (src/tensor/fused.ts).
      y = moeExperts(x2, w, tokenOf, counts, this.experts.map((m) => ({ w1: m.w1.weight, w2: m.w2.weight, w3: m.w3.weight })));
    } else {
      const xs = gatherRows(x2, ids(tokenOf)); // [N·K, C]
      const parts: Tensor[] = [];
      for (let e = 0; e < E; e++) {
        if (counts[e] === 0) continue;
        parts.push(this.experts[e].forward(narrow(xs, 0, offsets[e], counts[e]))); // [n_e, C]
      }
      const ys = parts.length === 1 ? parts[0] : cat(parts, 0); // [N·K, C]
      y = scatterRows(mul(ys, w), ids(tokenOf), N);
    }
    if (this.sharedExperts) y = add(y, this.sharedExperts.forward(x2));

    this.auxLoss = this.training && this.cfg.auxLossAlpha > 0 && x.rank === 3 ? this.balanceLoss(s, chosen, x.shape[0], x.shape[1]) : null;
    return reshape(y, x.shape);
  }

  /** forward() on the webgpu device: device selection, sparse (grouped or per-expert) or dense dispatch (see the file's top). */
  private forwardOnDevice(x: Tensor, x2: Tensor, s: Tensor): Tensor {
    const { nRoutedExperts: E, topK: K, scoringFunc, routeScale } = this.cfg;
    const N = x2.shape[0];
    const routing = dispatchOnDevice !== 'dense' ? routeOnDevice(this.gate.selectMask(s), K) : null;
    const mask = routing ? routing.keep : this.gate.selectMask(s); // [N, E] 0/1, no gradient
    if (this.training) {
      const counted = noGrad(() => sum(mask, 0)); // [E]
      const next = noGrad(() => add(this.loadOnDevice, counted)); // [E]
      deviceCopySpan(next, 0, this.loadOnDevice, 0, E); // into the persistent buffer
    }
    let w = mul(s, mask); // [N, E] the routing weights, differentiable in s
    if (scoringFunc === 'sigmoid') w = div(w, sum(w, -1, true)); // [N, E]
    if (routeScale !== 1) w = mul(w, routeScale);
    let y: Tensor | null = null; // [N, C]
    if (routing) {
      y = moeExpertsOnDevice(x2, w, routing, this.experts.map((m) => ({ w1: m.w1.weight, w2: m.w2.weight, w3: m.w3.weight })), { grouped: dispatchOnDevice === 'grouped' });
    } else {
      for (let e = 0; e < E; e++) {
        const ye = mul(this.experts[e].forward(x2), narrow(w, 1, e, 1)); // [N, C]
        y = y ? add(y, ye) : ye;
      }
    }
    if (this.sharedExperts) y = add(y!, this.sharedExperts.forward(x2));
    this.auxLoss = this.training && this.cfg.auxLossAlpha > 0 && x.rank === 3 ? this.balanceLossOnDevice(s, mask, x.shape[0], x.shape[1]) : null;
    return reshape(y!, x.shape);
  }

  /** balanceLoss with the device's routing mask [N, E]: f_i = E/(K·T) · Σ_t mask[t, i] per sequence. */
  private balanceLossOnDevice(s: Tensor, mask: Tensor, B: number, T: number): Tensor {
    const { nRoutedExperts: E, topK: K, auxLossAlpha } = this.cfg;
    const f = noGrad(() => mul(sum(reshape(mask, [B, T, E]), 1), E / (K * T))); // [B, E]
    const sn = reshape(div(s, sum(s, -1, true)), [B, T, E]);
    const P = mean(sn, 1); // [B, E]
    return mul(sum(mul(P, f)), auxLossAlpha / B);
  }

  /**
   * updateBias on the webgpu device: bias_i += γ·sign(mean load − load_i) from the load counted
   * there (no readback), then the count restarts. Returns the load used, a step-scoped device
   * tensor [E] for the caller to read with the step's readback (zeros when nothing was counted).
   */
  updateBiasOnDevice(gamma: number): Tensor {
    const E = this.cfg.nRoutedExperts;
    const bias = this.gate.bias;
    return noGrad(() => {
      const used = mul(this.loadOnDevice, 1); // [E] a step-scoped copy of the count
      if (bias) {
        const d = sub(mean(used), used); // [E]
        const next = add(bias, mul(sub(gt(d, 0), gt(0, d)), gamma)); // [E] bias + γ·sign(d)
        deviceCopySpan(next, 0, bias, 0, E);
      }
      deviceCopySpan(noGrad(() => mul(used, 0)), 0, this.loadOnDevice, 0, E);
      return used;
    });
  }

  /**
   * Sequence-wise balance loss (DeepSeek-V3 eq. 17–20): α Σ_i f_i P_i per sequence, averaged over
   * sequences, with f_i = E/(K·T) · #tokens routed to i and P_i = mean over tokens of s_i / Σ_j s_j.
   */
  private balanceLoss(s: Tensor, chosen: Int32Array, B: number, T: number): Tensor {
    const { nRoutedExperts: E, topK: K, auxLossAlpha } = this.cfg;
    const f = new Float32Array(B * E);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let j = 0; j < K; j++) f[b * E + chosen[(b * T + t) * K + j]] += E / (K * T);
    const sn = reshape(div(s, sum(s, -1, true)), [B, T, E]);
    const P = mean(sn, 1); // [B, E]
    return mul(sum(mul(P, tensor(f, [B, E]))), auxLossAlpha / B);
  }

  /**
   * Auxiliary-loss-free balancing: bias_i += γ·sign(mean load − load_i) from the load counted
   * since the last call; then the counts restart. Returns the load it used (for metrics).
   */
  updateBias(gamma: number): Float64Array {
    const used = Float64Array.from(this.load);
    const bias = this.gate.bias;
    if (bias) {
      const m = used.reduce((a, b) => a + b, 0) / used.length;
      const d = bias.data as Float32Array;
      for (let e = 0; e < d.length; e++) d[e] += gamma * Math.sign(m - used[e]);
    }
    this.load.fill(0);
    return used;
  }
}
