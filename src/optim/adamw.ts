// AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's semantics:
// p ← p·(1 − lr·wd) − lr·m̂/(√v̂ + ε)), per-parameter moment buffers, and a
// state that can be saved and restored exactly for resumable training.
// On the webgpu device (parameters moved there, src/tensor/device.ts) the moments
// live beside them and step() records the device kernel: the first step moves the parameters
// into packs (one buffer per run of them that fits one storage binding; their moments and each
// step's gradients are packed alike), and each pack is one dispatch, as is each stack of the MoE
// experts' weights (adamwUpdateMany); state() needs host tensors (the trainer moves them back
// around a checkpoint: stateTensors(); the next step packs them again).
// Not here: learning-rate schedules (schedule.ts), clipping (clip.ts).

import { ConfigError } from '../core/errors.ts';
import { Tensor, adamwUpdateMany, deviceZeros, gatherDeviceGrads, packDeviceParams, zeros } from '../tensor/index.ts';

export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Exponential decay of the first moment (default 0.9). */
  beta1?: number;
  /** Exponential decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to √v̂ (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01; PyTorch's default). */
  weightDecay?: number;
}

export class AdamW {
  readonly params: Tensor[];
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken so far. */
  steps = 0;
  private m: Tensor[];
  private v: Tensor[];

  constructor(params: Tensor[], opts: AdamWOptions = {}) {
    this.params = params;
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    for (const [k, v, lo, hi] of [['lr', this.lr, 0, Infinity], ['beta1', this.beta1, 0, 1], ['beta2', this.beta2, 0, 1], ['eps', this.eps, 0, Infinity], ['weightDecay', this.weightDecay, 0, Infinity]] as const) {
      if (!(v >= lo && v < hi) || !Number.isFinite(v)) throw new ConfigError(`AdamW: ${k}=${v} is outside [${lo}, ${hi})`);
    }
    this.m = params.map((p) => (p.gpu ? deviceZeros(p.shape) : zeros(p.shape)));
    this.v = params.map((p) => (p.gpu ? deviceZeros(p.shape) : zeros(p.shape)));
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    this.steps++;
    const p = { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.steps };
    // Not in the constructor: a model's first forward on the device stacks its MoE experts' weights, which a pack would take.
    // Only parameters with a gradient: one a loss never reaches (an unused MTP head) would keep its pack from being whole.
    packDeviceParams(this.params.filter((q) => q.grad)); // a no-op on the host, and once packed
    gatherDeviceGrads(this.params); // the packed parameters' gradients into packs alike (done already when clipped)
    const items = this.params.flatMap((param, i) => (param.grad ? [{ param, grad: param.grad, m: this.m[i], v: this.v[i] }] : []));
    adamwUpdateMany(items, p);
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** The moment tensors (m then v), to move with the parameters between host and device. */
  stateTensors(): Tensor[] {
    return [...this.m, ...this.v];
  }

  /** Moment buffers and step, for checkpoints. */
  state(): { step: number; m: Float32Array[]; v: Float32Array[] } {
    return { step: this.steps, m: this.m.map((t) => t.data as Float32Array), v: this.v.map((t) => t.data as Float32Array) };
  }

  loadState(s: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    if (s.m.length !== this.params.length || s.v.length !== this.params.length) {
      throw new ConfigError(`AdamW.loadState: state has ${s.m.length} moment buffers for ${this.params.length} parameters`);
    }
    s.m.forEach((m, i) => {
      if (m.length !== this.params[i].size || s.v[i].length !== this.params[i].size) throw new ConfigError(`AdamW.loadState: buffer ${i} has ${m.length} values for a parameter of ${this.params[i].size}`);
      (this.m[i].data as Float32Array).set(m);
      (this.v[i].data as Float32Array).set(s.v[i]);
    });
    this.steps = s.step;
  }
}
