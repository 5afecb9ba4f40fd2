// Thin wrappers over the native decode kernels (native/kernels/decode-attention.cc, decode-moe.cc): they only
// flatten the params into the addon's positional arguments; the addon checks array lengths and
// data-driven indices (RangeError). Each is null when the addon lacks it (an older build); the
// caller (src/nn/decode.ts) then uses the reference (src/backend/ref/decode.ts).
// Not here: any math, shape validation of tensors.

import type { DecodeAttentionParams, DecodeGqaParams, DecodeKernels, DecodeMlaParams, MoeExpertsParams } from '../decode.ts';
import type { F32, I32 } from '../kernels.ts';
import { addonFn } from './addon.ts';

type AttnFn = (q: F32, k: F32, v: F32, out: F32, lens: I32, B: number, Tmax: number, Hq: number, Hkv: number, D: number, Dv: number, scale: number) => void;
type GqaFn = (
  q: F32, k: F32, v: F32, cos: F32, sin: F32, pos: I32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32,
  B: number, Tmax: number, Hq: number, Hkv: number, D: number, Dv: number, rotaryDim: number, interleaved: boolean, scale: number,
) => void;
type MlaFn = (
  q: F32, kv: F32, normW: F32, eps: number, cos: F32, sin: F32, pos: I32, wkvB: F32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32,
  B: number, Tmax: number, H: number, Dn: number, Dr: number, Dv: number, R: number, interleaved: boolean, scale: number,
) => void;

type MoeFn = (x: F32, tokenOf: I32, w: F32, counts: I32, w1s: readonly F32[], w3s: readonly F32[], w2s: readonly F32[], ys: F32, out: F32, N: number, C: number, F: number, E: number) => void;

const attnN = addonFn<AttnFn>('decodeAttention');
const gqaN = addonFn<GqaFn>('decodeGqa');
const mlaN = addonFn<MlaFn>('decodeMla');
const mlaNaiveN = addonFn<MlaFn>('decodeMlaNaive');
const moeN = addonFn<MoeFn>('moeExperts');

/** The native decode kernels, or null when this addon build lacks any of them. */
export const nativeDecodeKernels: DecodeKernels | null = attnN && gqaN && mlaN && mlaNaiveN && moeN
  ? {
    decodeAttention: (q, k, v, out, lens, p: DecodeAttentionParams) => attnN(q, k, v, out, lens, p.B, p.Tmax, p.Hq, p.Hkv, p.D, p.Dv, p.scale),
    decodeGqa: (q, k, v, cos, sin, pos, cacheK, cacheV, starts, lens, out, p: DecodeGqaParams) =>
      gqaN(q, k, v, cos, sin, pos, cacheK, cacheV, starts, lens, out, p.B, p.Tmax, p.Hq, p.Hkv, p.D, p.Dv, p.rotaryDim, p.interleaved, p.scale),
    decodeMla: (q, kv, normW, cos, sin, pos, wkvB, cacheK, cacheV, starts, lens, out, p: DecodeMlaParams) =>
      mlaN(q, kv, normW, p.eps, cos, sin, pos, wkvB, cacheK, cacheV, starts, lens, out, p.B, p.Tmax, p.H, p.Dn, p.Dr, p.Dv, p.R, p.interleaved, p.scale),
    decodeMlaNaive: (q, kv, normW, cos, sin, pos, wkvB, cacheK, cacheV, starts, lens, out, p: DecodeMlaParams) =>
      mlaNaiveN(q, kv, normW, p.eps, cos, sin, pos, wkvB, cacheK, cacheV, starts, lens, out, p.B, p.Tmax, p.H, p.Dn, p.Dr, p.Dv, p.R, p.interleaved, p.scale),
    moeExperts: (x, tokenOf, w, counts, w1s, w3s, w2s, ys, out, p: MoeExpertsParams) => moeN(x, tokenOf, w, counts, w1s, w3s, w2s, ys, out, p.N, p.C, p.F, p.E),
  }
  : null;
