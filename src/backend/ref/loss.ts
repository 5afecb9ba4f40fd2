// Reference cross-entropy, AdamW, squared norm and scaling.

import type { AdamWParams, F32, I32 } from '../kernels.ts';

function checkTarget(op: string, t: number, r: number, V: number, ignoreIndex: number): boolean {
  if (t === ignoreIndex) return false;
  if (!(t >= 0 && t < V)) throw new RangeError(`${op}: target ${t} at row ${r} is outside [0, ${V}) and is not the ignore index ${ignoreIndex}`);
  return true;
}

export function crossEntropy(logits: F32, targets: I32, loss: F32, lse: F32, rows: number, V: number, ignoreIndex: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * V;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) if (logits[off + j] > mx) mx = logits[off + j];
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[off + j] - mx);
    const l = mx + Math.log(s);
    lse[r] = l;
    const t = targets[r];
    loss[r] = checkTarget('crossEntropy', t, r, V, ignoreIndex) ? l - logits[off + t] : 0;
  }
}

export function crossEntropyBackward(logits: F32, targets: I32, lse: F32, dloss: F32, dlogits: F32, rows: number, V: number, ignoreIndex: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * V;
    const t = targets[r];
    if (!checkTarget('crossEntropyBackward', t, r, V, ignoreIndex)) {
      dlogits.fill(0, off, off + V);
      continue;
    }
    const g = dloss[r], l = lse[r];
    for (let j = 0; j < V; j++) dlogits[off + j] = Math.exp(logits[off + j] - l) * g;
    dlogits[off + t] -= g;
  }
}

export function adamw(param: F32, grad: F32, m: F32, v: F32, n: number, p: AdamWParams): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = p;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
  }
}

export function sumSquares(x: F32, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

export function scale(x: F32, n: number, s: number): void {
  for (let i = 0; i < n; i++) x[i] *= s;
}
