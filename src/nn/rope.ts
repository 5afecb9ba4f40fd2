// Rotary position embeddings with DeepSeek-V3's YaRN frequency scaling.
// Frequencies follow DeepSeek-V3's official precompute_freqs_cis exactly,
// including its float32 arithmetic (emulated with Math.fround), so that angles
// at long positions match the reference to the last bit or two:
//   freqs_i = 1 / base^(2i/dim); when maxSeqLen > originalSeqLen (YaRN):
//   [low, high] = [floor(cdim(betaFast)), ceil(cdim(betaSlow))] clamped to [0, dim-1],
//   cdim(r) = dim·ln(originalSeqLen / (2π·r)) / (2·ln base);
//   smooth = 1 − clamp((i − low)/(high − low), 0, 1);  freqs = freqs/factor·(1 − smooth) + freqs·smooth.
// The attention softmax scale is multiplied by mscale² with mscale = 0.1·m·ln(factor) + 1
// (yarnScaleMultiplier). Both pair layouts: interleaved (2i, 2i+1), as DeepSeek-V3
// checkpoints, and halves (i, i + dim/2), as Llama/Qwen2.

import { ConfigError } from '../core/errors.ts';
import { rope, tensor, type Tensor } from '../tensor/index.ts';

const f = Math.fround;

export interface YarnConfig {
  /** Context the model was pretrained with (DeepSeek-V3: 4096). */
  originalSeqLen: number;
  /** Context extension factor (DeepSeek-V3: 40). */
  factor: number;
  /** Rotations above which frequencies are kept (default 32). */
  betaFast: number;
  /** Rotations below which frequencies are fully interpolated (default 1). */
  betaSlow: number;
  /** The m in mscale = 0.1·m·ln(factor) + 1 (default 1). */
  mscale: number;
}

export interface RopeConfig {
  /** Rotary dims per head (even). */
  dim: number;
  /** Positions the tables cover. */
  maxSeqLen: number;
  /** Frequency base (rope_theta, default 10000). */
  theta: number;
  /** Pair layout: true (2i, 2i+1), DeepSeek-V3; false (i, i+dim/2), Llama/Qwen2. */
  interleaved: boolean;
  /** YaRN scaling, applied when maxSeqLen > yarn.originalSeqLen; null for plain RoPE. */
  yarn: YarnConfig | null;
}

function yarnActive(cfg: RopeConfig): cfg is RopeConfig & { yarn: YarnConfig } {
  return cfg.yarn !== null && cfg.maxSeqLen > cfg.yarn.originalSeqLen;
}

/** The dim/2 rotation frequencies, in float32 as the reference computes them. */
export function ropeFrequencies(cfg: RopeConfig): Float32Array {
  const { dim, theta } = cfg;
  if (!(dim > 0 && dim % 2 === 0)) throw new ConfigError(`rope: rotary dim ${dim} must be a positive even number`);
  const half = dim / 2;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = f(1 / f(Math.pow(theta, f(f(2 * i) / dim))));
  if (yarnActive(cfg)) {
    const { originalSeqLen, factor, betaFast, betaSlow } = cfg.yarn;
    const cdim = (rot: number) => (dim * Math.log(originalSeqLen / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
    const low = Math.max(Math.floor(cdim(betaFast)), 0);
    let high = Math.min(Math.ceil(cdim(betaSlow)), dim - 1);
    if (low === high) high += 0.001;
    for (let i = 0; i < half; i++) {
      const ramp = Math.min(Math.max(f(f(i - low) / f(high - low)), 0), 1);
      const smooth = f(1 - ramp);
      freqs[i] = f(f(f(freqs[i] / factor) * f(1 - smooth)) + f(freqs[i] * smooth));
    }
  }
  return freqs;
}

/** mscale² when YaRN is active (multiplies the attention softmax scale), else 1. */
export function yarnScaleMultiplier(cfg: RopeConfig): number {
  if (!yarnActive(cfg)) return 1;
  const m = 0.1 * cfg.yarn.mscale * Math.log(cfg.yarn.factor) + 1;
  return m * m;
}

/** Precomputed cos/sin tables [maxSeqLen, dim/2] and their application to x [..., H, D]. */
export class RotaryEmbedding {
  readonly cos: Tensor; // [maxSeqLen, dim/2]
  readonly sin: Tensor; // [maxSeqLen, dim/2]

  constructor(readonly cfg: RopeConfig) {
    const freqs = ropeFrequencies(cfg);
    const half = freqs.length;
    const c = new Float32Array(cfg.maxSeqLen * half), s = new Float32Array(cfg.maxSeqLen * half);
    for (let t = 0; t < cfg.maxSeqLen; t++) {
      for (let i = 0; i < half; i++) {
        const angle = f(t * freqs[i]);
        c[t * half + i] = Math.cos(angle);
        s[t * half + i] = Math.sin(angle);
      }
    }
    this.cos = tensor(c, [cfg.maxSeqLen, half]);
    this.sin = tensor(s, [cfg.maxSeqLen, half]);
  }

  /** Rotates the first cfg.dim dims of each head of x [..., H, D] at positions pos (i32, one per row). */
  apply(x: Tensor, pos: Tensor): Tensor {
    return rope(x, this.cos, this.sin, pos, { rotaryDim: this.cfg.dim, interleaved: this.cfg.interleaved }); // [..., H, D]
  }
}
