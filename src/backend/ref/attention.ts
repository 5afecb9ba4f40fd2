// Reference attention: materializes each query row's scores, softmax, weighted
// sum; the backward recomputes the probabilities from the saved lse. This is
// the spec of the tiled online-softmax native kernel, not a fast path.

import type { AttentionParams, F32 } from '../kernels.ts';

function visibleKeys(p: AttentionParams, b: number, i: number): number {
  const kvLen = p.kvLens ? Math.min(p.kvLens[b], p.Tk) : p.Tk;
  if (!p.causal) return kvLen;
  const off = p.qOffsets ? p.qOffsets[b] : p.qOffset;
  return Math.max(0, Math.min(kvLen, off + i + 1));
}

export function attention(q: F32, k: F32, v: F32, out: F32, lse: F32, p: AttentionParams): void {
  const { B, Tq, Tk, Hq, Hkv, D, Dv, scale } = p;
  const group = Hq / Hkv;
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        const nk = visibleKeys(p, b, i);
        const qo = ((b * Tq + i) * Hq + h) * D;
        const oo = ((b * Tq + i) * Hq + h) * Dv;
        let mx = -Infinity;
        for (let j = 0; j < nk; j++) {
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
          s[j] = dot * scale;
          if (s[j] > mx) mx = s[j];
        }
        let sum = 0;
        for (let j = 0; j < nk; j++) sum += Math.exp(s[j] - mx);
        const l = nk === 0 ? -Infinity : mx + Math.log(sum);
        lse[(b * Hq + h) * Tq + i] = l;
        for (let d = 0; d < Dv; d++) {
          let acc = 0;
          for (let j = 0; j < nk; j++) acc += Math.exp(s[j] - l) * v[((b * Tk + j) * Hkv + hk) * Dv + d];
          out[oo + d] = acc;
        }
      }
    }
  }
}

// With P = softmax(S), O = P·V:  dV = Pᵀ·dO;  dP = dO·Vᵀ;  dS = P ⊙ (dP − rowsum(dO ⊙ O));
// dQ = scale·dS·K;  dK = scale·dSᵀ·Q.
export function attentionBackward(q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32, dq: F32, dk: F32, dv: F32, p: AttentionParams): void {
  const { B, Tq, Tk, Hq, Hkv, D, Dv, scale } = p;
  const group = Hq / Hkv;
  const gq = new Float64Array(dq.length);
  const gk = new Float64Array(dk.length);
  const gv = new Float64Array(dv.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        const nk = visibleKeys(p, b, i);
        const qo = ((b * Tq + i) * Hq + h) * D;
        const oo = ((b * Tq + i) * Hq + h) * Dv;
        const l = lse[(b * Hq + h) * Tq + i];
        let delta = 0;
        for (let d = 0; d < Dv; d++) delta += dout[oo + d] * out[oo + d];
        for (let j = 0; j < nk; j++) {
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          const vo = ((b * Tk + j) * Hkv + hk) * Dv;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
          const pj = Math.exp(dot * scale - l);
          let dp = 0;
          for (let d = 0; d < Dv; d++) {
            dp += dout[oo + d] * v[vo + d];
            gv[vo + d] += pj * dout[oo + d];
          }
          const ds = pj * (dp - delta) * scale;
          for (let d = 0; d < D; d++) {
            gq[qo + d] += ds * k[ko + d];
            gk[ko + d] += ds * q[qo + d];
          }
        }
      }
    }
  }
  dq.set(gq);
  dk.set(gk);
  dv.set(gv);
}
