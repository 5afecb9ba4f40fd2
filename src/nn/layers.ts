// Basic layers: Linear (optional bias, PyTorch's [out, in] weight), Embedding,
// RMSNorm, and the SwiGLU MLP (w2(silu(w1 x) ⊙ w3 x), DeepSeek-V3's names).
// Each takes an Rng for its initialization so models build reproducibly.

import type { Rng } from '../core/rng.ts';
import { embedding, fusedTraining, isGradEnabled, linear, ones, parameter, randn, rmsnorm, swiglu, swigluMlp, zeros, type Tensor } from '../tensor/index.ts';
import { Module } from './module.ts';

export class Linear extends Module {
  readonly weight: Tensor; // [out, in]
  readonly bias: Tensor | null; // [out]

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; rng: Rng; std?: number }) {
    super();
    this.weight = parameter(randn([outFeatures, inFeatures], opts.rng, opts.std ?? 0.02));
    this.bias = opts.bias ? parameter(zeros([outFeatures])) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias); // [..., out]
  }
}

/** The weights of every Linear in a model: the matrices only a matmul reads (f16 inference weights on the device). */
export function linearWeights(model: Module): Tensor[] {
  return model.modules().flatMap((m) => (m instanceof Linear ? [m.weight] : []));
}

export class Embedding extends Module {
  readonly weight: Tensor; // [V, C]

  constructor(readonly numEmbeddings: number, readonly dim: number, opts: { rng: Rng; std?: number }) {
    super();
    this.weight = parameter(randn([numEmbeddings, dim], opts.rng, opts.std ?? 0.02));
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids); // [..., C]
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor; // [C]

  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = parameter(ones([dim]));
  }

  forward(x: Tensor): Tensor {
    return rmsnorm(x, this.weight, this.eps); // [..., C]
  }
}

/** The SwiGLU feed-forward block: w2(silu(w1·x) ⊙ w3·x). */
export class MLP extends Module {
  readonly w1: Linear; // gate
  readonly w2: Linear; // down
  readonly w3: Linear; // up

  constructor(readonly dim: number, readonly interDim: number, opts: { rng: Rng; std?: number }) {
    super();
    this.w1 = new Linear(dim, interDim, opts);
    this.w2 = new Linear(interDim, dim, opts);
    this.w3 = new Linear(dim, interDim, opts);
  }

  forward(x: Tensor): Tensor {
    // Training: one fused node (src/tensor/fused.ts); inference keeps the op-by-op path.
    if (this.training && isGradEnabled() && fusedTraining(x) && !this.w1.bias && !this.w2.bias && !this.w3.bias) {
      return swigluMlp(x, { w1: this.w1.weight, w2: this.w2.weight, w3: this.w3.weight }); // [..., C]
    }
    return this.w2.forward(swiglu(this.w1.forward(x), this.w3.forward(x))); // [..., C]
  }
}
