// Reference decode kernels (the contract in src/backend/decode.ts): one new query row per
// sequence against its KV cache, written as plain loops in double precision. They are the spec
// and the test oracle of native/kernels/decode-attention.cc, and the fallback where the addon
// lacks them. Not here: prefill/training attention (ref/attention.ts), projections (ref/gemm.ts).

import type { DecodeAttentionParams, DecodeGqaParams, DecodeKernels, DecodeMlaParams, MoeExpertsParams } from '../decode.ts';
import type { F32, I32 } from '../kernels.ts';

function checkLens(kernel: string, lens: I32, B: number, Tmax: number): void {
  for (let b = 0; b < B; b++) {
    if (!(lens[b] >= 0 && lens[b] <= Tmax)) throw new RangeError(`${kernel}: lens[${b}] = ${lens[b]} is outside [0, ${Tmax}]`);
  }
}

function checkRows(kernel: string, starts: I32, pos: I32, B: number, Tmax: number, maxPos: number): void {
  for (let b = 0; b < B; b++) {
    if (!(starts[b] >= 0 && starts[b] < Tmax)) throw new RangeError(`${kernel}: starts[${b}] = ${starts[b]} is outside the cache's rows [0, ${Tmax})`);
    if (!(pos[b] >= 0 && pos[b] < maxPos)) throw new RangeError(`${kernel}: position ${pos[b]} at row ${b} is outside the table [0, ${maxPos})`);
  }
}

/** x[off ..] rotated in place by table row `row` (the rope kernel's pair layouts). */
function rotate(x: F32, off: number, cos: F32, sin: F32, row: number, half: number, interleaved: boolean): void {
  for (let i = 0; i < half; i++) {
    const c = cos[row * half + i], s = sin[row * half + i];
    const i1 = interleaved ? off + 2 * i : off + i;
    const i2 = interleaved ? off + 2 * i + 1 : off + i + half;
    const x1 = x[i1], x2 = x[i2];
    x[i1] = x1 * c - x2 * s;
    x[i2] = x1 * s + x2 * c;
  }
}

/**
 * One query row q[qOff .. qOff + D) over n keys (row j at k[kOff + j·ks]) and values (v[vOff + j·vs],
 * Dv floats) into out[oOff ..].
 */
function attendRow(q: F32, qOff: number, D: number, k: F32, kOff: number, ks: number, v: F32, vOff: number, vs: number, Dv: number, n: number, scale: number, out: F32, oOff: number): void {
  const s = new Float64Array(n);
  let m = -Infinity;
  for (let j = 0; j < n; j++) {
    let d = 0;
    for (let i = 0; i < D; i++) d += q[qOff + i] * k[kOff + j * ks + i];
    s[j] = d * scale;
    if (s[j] > m) m = s[j];
  }
  let sum = 0;
  for (let j = 0; j < n; j++) {
    s[j] = Math.exp(s[j] - m);
    sum += s[j];
  }
  for (let i = 0; i < Dv; i++) {
    let acc = 0;
    for (let j = 0; j < n; j++) acc += s[j] * v[vOff + j * vs + i];
    out[oOff + i] = n > 0 ? acc / sum : 0;
  }
}

export function decodeAttention(q: F32, k: F32, v: F32, out: F32, lens: I32, p: DecodeAttentionParams): void {
  const { B, Tmax, Hq, Hkv, D, Dv, scale } = p;
  checkLens('decodeAttention', lens, B, Tmax);
  const G = Hq / Hkv;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / G);
      attendRow(q, (b * Hq + h) * D, D, k, (b * Tmax * Hkv + hk) * D, Hkv * D, v, (b * Tmax * Hkv + hk) * Dv, Hkv * Dv, Dv, lens[b], scale, out, (b * Hq + h) * Dv);
    }
  }
}

export function decodeGqa(q: F32, k: F32, v: F32, cos: F32, sin: F32, pos: I32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32, p: DecodeGqaParams): void {
  const { B, Tmax, Hq, Hkv, D, Dv, rotaryDim, interleaved } = p;
  const half = rotaryDim / 2;
  checkRows('decodeGqa', starts, pos, B, Tmax, cos.length / half);
  checkLens('decodeGqa', lens, B, Tmax);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hkv; h++) {
      const kd = ((b * Tmax + starts[b]) * Hkv + h) * D;
      cacheK.set(k.subarray((b * Hkv + h) * D, (b * Hkv + h + 1) * D), kd);
      rotate(cacheK, kd, cos, sin, pos[b], half, interleaved);
      cacheV.set(v.subarray((b * Hkv + h) * Dv, (b * Hkv + h + 1) * Dv), ((b * Tmax + starts[b]) * Hkv + h) * Dv);
    }
  }
  const qr = q.slice(0, B * Hq * D); // [B, Hq, D]
  for (let r = 0; r < B * Hq; r++) rotate(qr, r * D, cos, sin, pos[Math.floor(r / Hq)], half, interleaved);
  decodeAttention(qr, cacheK, cacheV, out, lens, p);
}

export function decodeMla(q: F32, kv: F32, normW: F32, cos: F32, sin: F32, pos: I32, wkvB: F32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32, p: DecodeMlaParams): void {
  const { B, Tmax, H, Dn, Dr, Dv, R, eps, interleaved, scale } = p;
  const half = Dr / 2, Dk = R + Dr;
  checkRows('decodeMla', starts, pos, B, Tmax, cos.length / half);
  checkLens('decodeMla', lens, B, Tmax);
  for (let b = 0; b < B; b++) {
    const x = b * (R + Dr), kd = (b * Tmax + starts[b]) * Dk, vd = (b * Tmax + starts[b]) * R;
    let ss = 0;
    for (let i = 0; i < R; i++) ss += kv[x + i] * kv[x + i];
    const rs = 1 / Math.sqrt(ss / R + eps);
    for (let i = 0; i < R; i++) cacheK[kd + i] = cacheV[vd + i] = kv[x + i] * rs * normW[i];
    for (let i = 0; i < Dr; i++) cacheK[kd + R + i] = kv[x + R + i];
    rotate(cacheK, kd + R, cos, sin, pos[b], half, interleaved);
  }
  const qf = new Float32Array(H * Dk); // [H, R + Dr]
  const ol = new Float32Array(H * R); // [H, R]
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const qh = (b * H + h) * (Dn + Dr);
      for (let r = 0; r < R; r++) {
        let acc = 0;
        for (let d = 0; d < Dn; d++) acc += q[qh + d] * wkvB[(h * (Dn + Dv) + d) * R + r];
        qf[h * Dk + r] = acc;
      }
      for (let i = 0; i < Dr; i++) qf[h * Dk + R + i] = q[qh + Dn + i];
      rotate(qf, h * Dk + R, cos, sin, pos[b], half, interleaved);
      // The values are the latent part of the cached keys (the floats cacheV holds too).
      attendRow(qf, h * Dk, Dk, cacheK, b * Tmax * Dk, Dk, cacheK, b * Tmax * Dk, Dk, R, lens[b], scale, ol, h * R);
      for (let e = 0; e < Dv; e++) {
        let acc = 0;
        for (let r = 0; r < R; r++) acc += ol[h * R + r] * wkvB[(h * (Dn + Dv) + Dn + e) * R + r];
        out[(b * H + h) * Dv + e] = acc;
      }
    }
  }
}

export function decodeMlaNaive(q: F32, kv: F32, normW: F32, cos: F32, sin: F32, pos: I32, wkvB: F32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32, p: DecodeMlaParams): void {
  const { B, Tmax, H, Dn, Dr, Dv, R, eps, interleaved, scale } = p;
  const half = Dr / 2, Dk = Dn + Dr;
  checkRows('decodeMlaNaive', starts, pos, B, Tmax, cos.length / half);
  checkLens('decodeMlaNaive', lens, B, Tmax);
  const c = new Float32Array(R), kpe = new Float32Array(Dr), qf = new Float32Array(Dk);
  for (let b = 0; b < B; b++) {
    const x = b * (R + Dr);
    let ss = 0;
    for (let i = 0; i < R; i++) ss += kv[x + i] * kv[x + i];
    const rs = 1 / Math.sqrt(ss / R + eps);
    for (let i = 0; i < R; i++) c[i] = kv[x + i] * rs * normW[i];
    kpe.set(kv.subarray(x + R, x + R + Dr));
    rotate(kpe, 0, cos, sin, pos[b], half, interleaved);
    for (let h = 0; h < H; h++) {
      const kd = ((b * Tmax + starts[b]) * H + h) * Dk, vd = ((b * Tmax + starts[b]) * H + h) * Dv;
      for (let d = 0; d < Dn + Dv; d++) {
        let up = 0;
        for (let r = 0; r < R; r++) up += c[r] * wkvB[(h * (Dn + Dv) + d) * R + r];
        if (d < Dn) cacheK[kd + d] = up;
        else cacheV[vd + d - Dn] = up;
      }
      cacheK.set(kpe, kd + Dn);
    }
  }
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      qf.set(q.subarray((b * H + h) * Dk, (b * H + h + 1) * Dk));
      rotate(qf, Dn, cos, sin, pos[b], half, interleaved);
      attendRow(qf, 0, Dk, cacheK, (b * Tmax * H + h) * Dk, H * Dk, cacheV, (b * Tmax * H + h) * Dv, H * Dv, Dv, lens[b], scale, out, (b * H + h) * Dv);
    }
  }
}

export function moeExperts(x: F32, tokenOf: I32, w: F32, counts: I32, w1s: readonly F32[], w3s: readonly F32[], w2s: readonly F32[], ys: F32, out: F32, p: MoeExpertsParams): void {
  const { N, C, F, E } = p;
  let P = 0;
  for (let e = 0; e < E; e++) P += counts[e];
  for (let i = 0; i < P; i++) if (!(tokenOf[i] >= 0 && tokenOf[i] < N)) throw new RangeError(`moeExperts: tokenOf[${i}] = ${tokenOf[i]} is outside [0, ${N})`);
  const act = new Float64Array(F);
  for (let e = 0, i = 0; e < E; e++) {
    for (let r = 0; r < counts[e]; r++, i++) {
      const x0 = tokenOf[i] * C;
      for (let f = 0; f < F; f++) {
        let g = 0, u = 0;
        for (let c = 0; c < C; c++) {
          g += x[x0 + c] * w1s[e][f * C + c];
          u += x[x0 + c] * w3s[e][f * C + c];
        }
        act[f] = (g / (1 + Math.exp(-g))) * u;
      }
      for (let c = 0; c < C; c++) {
        let y = 0;
        for (let f = 0; f < F; f++) y += act[f] * w2s[e][c * F + f];
        ys[i * C + c] = y;
      }
    }
  }
  for (let i = 0; i < P; i++) for (let c = 0; c < C; c++) out[tokenOf[i] * C + c] += w[i] * ys[i * C + c];
}

export const refDecodeKernels: DecodeKernels = { decodeAttention, decodeGqa, decodeMla, decodeMlaNaive, moeExperts };
