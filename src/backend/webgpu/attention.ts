// Attention in WGSL, the counterpart of Kernels.attention / .attentionBackward (same layouts:
// q [B, Tq, Hq, D], k [B, Tk, Hkv, D], v [B, Tk, Hkv, Dv] → out [B, Tq, Hq, Dv], lse [B, Hq, Tq];
// causal masking with qOffset or per-batch qOffsets, right padding with kvLens, grouped-query
// heads). The full score matrix is never stored:
//   forward: one 64-lane workgroup per (b, h, query row) walks the visible keys in blocks of 64
//     (one key per lane), keeping a running max and sum (online softmax) and Dv accumulators
//     spread over the lanes.
//   backward: (1) per (b, h, row): delta = dout·out, then dq = scale·Σ_j ds_j k_j over key blocks;
//     (2) per (b, kv head, key): dk and dv summed over the query heads of its group and the query
//     rows that see the key, in blocks of 64 rows. Each output has one writer: no atomics, and the
//     result does not depend on scheduling.
// Limits: D, Dv <= 256 (4 accumulators per lane). Not here: a tiled (flash) variant that shares
// K/V blocks across query rows; this one re-reads K/V per row.

import type { AttentionParams } from '../kernels.ts';
import { R1tsError } from '../../core/errors.ts';
import { ROW_WG, grid, need, packUniforms, sizes, uniformWgsl, workgroupReduce, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

/** AttentionParams with the optional per-batch arrays on the device (i32 [B]). */
export type GpuAttentionParams = Omit<AttentionParams, 'qOffsets' | 'kvLens'> & { qOffsets: GpuTensor | null; kvLens: GpuTensor | null };

const MAXD = 256;
const PER = MAXD / ROW_WG;

const fields: Fields = [['B', 'u32'], ['Tq', 'u32'], ['Tk', 'u32'], ['Hq', 'u32'], ['Hkv', 'u32'], ['D', 'u32'], ['Dv', 'u32'],
  ['scale', 'f32'], ['causal', 'u32'], ['qOffset', 'i32'], ['negInf', 'u32'], ['rows', 'u32']];

/** WGSL: bindings of the optional per-batch arrays and visible(b, i), the number of keys query row i of item b sees. */
function visibleWgsl(hasOffsets: boolean, hasLens: boolean, first: number): string {
  let b = first;
  return `${hasOffsets ? `@group(0) @binding(${b++}) var<storage, read> qOffsets: array<i32>;` : ''}
${hasLens ? `@group(0) @binding(${b++}) var<storage, read> kvLens: array<i32>;` : ''}
fn visible(b: u32, i: u32) -> u32 {
  var kvLen = i32(p.Tk);
  ${hasLens ? 'kvLen = clamp(kvLens[b], 0, i32(p.Tk));' : ''}
  if (p.causal == 0u) { return u32(kvLen); }
  let off = ${hasOffsets ? 'qOffsets[b]' : 'p.qOffset'};
  return u32(clamp(off + i32(i) + 1, 0, kvLen));
}
`;
}

function check(op: string, q: GpuTensor, k: GpuTensor, v: GpuTensor, p: GpuAttentionParams): void {
  const { B, Tq, Tk, Hq, Hkv, D, Dv } = p;
  sizes(op, { B, Tq, Tk, Hq, Hkv, D, Dv });
  if (Hkv === 0 || Hq % Hkv !== 0) throw new R1tsError(`webgpu ${op}: Hq = ${Hq} must be a multiple of Hkv = ${Hkv}`);
  if (D > MAXD || Dv > MAXD) throw new R1tsError(`webgpu ${op}: head dims D = ${D}, Dv = ${Dv} exceed ${MAXD}`);
  if (!Number.isInteger(p.qOffset)) throw new R1tsError(`webgpu ${op}: qOffset ${p.qOffset} is not an integer`);
  need(op, 'q', q, B * Tq * Hq * D); need(op, 'k', k, B * Tk * Hkv * D); need(op, 'v', v, B * Tk * Hkv * Dv);
  if (p.qOffsets) need(op, 'qOffsets', p.qOffsets, B, 'i32');
  if (p.kvLens) need(op, 'kvLens', p.kvLens, B, 'i32');
}

function uniforms(p: GpuAttentionParams, rows: number): ArrayBuffer {
  return packUniforms(fields, { B: p.B, Tq: p.Tq, Tk: p.Tk, Hq: p.Hq, Hkv: p.Hkv, D: p.D, Dv: p.Dv, scale: p.scale, causal: p.causal ? 1 : 0, qOffset: p.qOffset, negInf: 0xff800000, rows });
}

function extras(p: GpuAttentionParams): GpuTensor[] {
  return [...(p.qOffsets ? [p.qOffsets] : []), ...(p.kvLens ? [p.kvLens] : [])];
}

const rowHead = `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  let lid = lidv.x;
  if (row >= p.rows) { return; }`;

export function attention(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, p: GpuAttentionParams): void {
  check('attention', q, k, v, p);
  const { B, Tq, Hq, Dv } = p;
  need('attention', 'out', out, B * Tq * Hq * Dv); need('attention', 'lse', lse, B * Hq * Tq);
  const rows = B * Hq * Tq;
  if (rows === 0) return;
  const hasOffsets = p.qOffsets !== null, hasLens = p.kvLens !== null;
  ctx.dispatch({
    key: `attention:${+hasOffsets}${+hasLens}`,
    wgsl: () => `${uniformWgsl(fields)}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
${visibleWgsl(hasOffsets, hasLens, 6)}
${workgroupReduce}
var<workgroup> qs: array<f32, ${MAXD}>;
var<workgroup> ps: array<f32, ${ROW_WG}>;
${rowHead}
  // row = (b·Hq + h)·Tq + i, the lse layout.
  let i = row % p.Tq; let h = (row / p.Tq) % p.Hq; let b = row / (p.Tq * p.Hq);
  let hk = h / (p.Hq / p.Hkv);
  let nk = visible(b, i);
  let qo = ((b * p.Tq + i) * p.Hq + h) * p.D;
  let oo = ((b * p.Tq + i) * p.Hq + h) * p.Dv;
  for (var d = lid; d < p.D; d = d + ${ROW_WG}u) { qs[d] = q[qo + d]; }
  workgroupBarrier();
  let lowest = bitcast<f32>(0xff7fffffu);
  var m = lowest; var l = 0.0;
  var acc: array<f32, ${PER}>;
  for (var j0 = 0u; j0 < nk; j0 = j0 + ${ROW_WG}u) {
    let j = j0 + lid;
    // Every lane runs the dot (keys past nk clamp to the last visible one) so no loop diverges before the reductions.
    let ko = ((b * p.Tk + min(j, nk - 1u)) * p.Hkv + hk) * p.D;
    var dot = 0.0;
    for (var d = 0u; d < p.D; d = d + 1u) { dot = dot + qs[d] * k[ko + d]; }
    let s = select(lowest, dot * p.scale, j < nk);
    let mNew = max(m, wgMax(s, lid));
    let pj = select(0.0, exp(s - mNew), j < nk); // select, not if: see workgroupReduce in common.ts
    ps[lid] = pj;
    let corr = exp(m - mNew);
    l = l * corr + wgSum(pj, lid);
    let cnt = min(${ROW_WG}u, nk - j0);
    for (var r = 0u; r < ${PER}u; r = r + 1u) {
      let d = lid + r * ${ROW_WG}u;
      if (d < p.Dv) {
        var a = acc[r] * corr;
        for (var jj = 0u; jj < cnt; jj = jj + 1u) { a = a + ps[jj] * v[((b * p.Tk + j0 + jj) * p.Hkv + hk) * p.Dv + d]; }
        acc[r] = a;
      }
    }
    workgroupBarrier();
    m = mNew;
  }
  if (lid == 0u) { lse[row] = select(m + log(l), bitcast<f32>(p.negInf), nk == 0u); }
  for (var r = 0u; r < ${PER}u; r = r + 1u) {
    let d = lid + r * ${ROW_WG}u;
    if (d < p.Dv) { o[oo + d] = select(acc[r] / l, 0.0, nk == 0u); }
  }
}`,
    buffers: [q, k, v, out, lse, ...extras(p)],
    uniforms: uniforms(p, rows),
    groups: grid(rows, 1),
  });
}

export function attentionBackward(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, dout: GpuTensor, dq: GpuTensor, dk: GpuTensor, dv: GpuTensor, p: GpuAttentionParams): void {
  check('attentionBackward', q, k, v, p);
  const { B, Tq, Tk, Hq, Hkv, D, Dv } = p;
  need('attentionBackward', 'out', out, B * Tq * Hq * Dv); need('attentionBackward', 'dout', dout, B * Tq * Hq * Dv);
  need('attentionBackward', 'lse', lse, B * Hq * Tq); need('attentionBackward', 'dq', dq, B * Tq * Hq * D);
  need('attentionBackward', 'dk', dk, B * Tk * Hkv * D); need('attentionBackward', 'dv', dv, B * Tk * Hkv * Dv);
  const hasOffsets = p.qOffsets !== null, hasLens = p.kvLens !== null;
  const spec = `${+hasOffsets}${+hasLens}`;
  const qRows = B * Hq * Tq;
  const delta = ctx.alloc([Math.max(1, qRows)]); // [B, Hq, Tq]
  const common = `${uniformWgsl(fields)}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;`;
  if (qRows > 0) {
    ctx.dispatch({
      key: `attentionBackward:dq:${spec}`,
      wgsl: () => `${common}
@group(0) @binding(6) var<storage, read> o: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
${visibleWgsl(hasOffsets, hasLens, 9)}
${workgroupReduce}
var<workgroup> qs: array<f32, ${MAXD}>;
var<workgroup> dos: array<f32, ${MAXD}>;
var<workgroup> dss: array<f32, ${ROW_WG}>;
${rowHead}
  let i = row % p.Tq; let h = (row / p.Tq) % p.Hq; let b = row / (p.Tq * p.Hq);
  let hk = h / (p.Hq / p.Hkv);
  let nk = visible(b, i);
  let qo = ((b * p.Tq + i) * p.Hq + h) * p.D;
  let oo = ((b * p.Tq + i) * p.Hq + h) * p.Dv;
  var dd = 0.0;
  for (var d = lid; d < p.Dv; d = d + ${ROW_WG}u) { let g = dout[oo + d]; dos[d] = g; dd = dd + g * o[oo + d]; }
  for (var d = lid; d < p.D; d = d + ${ROW_WG}u) { qs[d] = q[qo + d]; }
  let dl = wgSum(dd, lid);
  if (lid == 0u) { delta[row] = dl; }
  let l = lse[row];
  var acc: array<f32, ${PER}>;
  for (var j0 = 0u; j0 < nk; j0 = j0 + ${ROW_WG}u) {
    let j = j0 + lid;
    var ds = 0.0;
    if (j < nk) {
      let ko = ((b * p.Tk + j) * p.Hkv + hk) * p.D;
      let vo = ((b * p.Tk + j) * p.Hkv + hk) * p.Dv;
      var dot = 0.0;
      for (var d = 0u; d < p.D; d = d + 1u) { dot = dot + qs[d] * k[ko + d]; }
      var dp = 0.0;
      for (var d = 0u; d < p.Dv; d = d + 1u) { dp = dp + dos[d] * v[vo + d]; }
      ds = exp(dot * p.scale - l) * (dp - dl) * p.scale;
    }
    dss[lid] = ds;
    workgroupBarrier();
    let cnt = min(${ROW_WG}u, nk - j0);
    for (var r = 0u; r < ${PER}u; r = r + 1u) {
      let d = lid + r * ${ROW_WG}u;
      if (d < p.D) {
        var a = acc[r];
        for (var jj = 0u; jj < cnt; jj = jj + 1u) { a = a + dss[jj] * k[((b * p.Tk + j0 + jj) * p.Hkv + hk) * p.D + d]; }
        acc[r] = a;
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < ${PER}u; r = r + 1u) {
    let d = lid + r * ${ROW_WG}u;
    if (d < p.D) { dq[qo + d] = acc[r]; }
  }
}`,
      buffers: [q, k, v, lse, dout, out, delta, dq, ...extras(p)],
      uniforms: uniforms(p, qRows),
      groups: grid(qRows, 1),
    });
  }
  const kRows = B * Hkv * Tk;
  if (kRows > 0) {
    ctx.dispatch({
      key: `attentionBackward:dkv:${spec}`,
      wgsl: () => `${common}
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
${visibleWgsl(hasOffsets, hasLens, 9)}
var<workgroup> ks: array<f32, ${MAXD}>;
var<workgroup> vs: array<f32, ${MAXD}>;
var<workgroup> pss: array<f32, ${ROW_WG}>;
var<workgroup> dss: array<f32, ${ROW_WG}>;
${rowHead}
  // row = (b·Tk + j)·Hkv + hk: one workgroup per key row of one kv head.
  let hk = row % p.Hkv; let j = (row / p.Hkv) % p.Tk; let b = row / (p.Hkv * p.Tk);
  let ko = row * p.D; let vo = row * p.Dv;
  for (var d = lid; d < p.D; d = d + ${ROW_WG}u) { ks[d] = k[ko + d]; }
  for (var d = lid; d < p.Dv; d = d + ${ROW_WG}u) { vs[d] = v[vo + d]; }
  workgroupBarrier();
  let group = p.Hq / p.Hkv;
  var ak: array<f32, ${PER}>;
  var av: array<f32, ${PER}>;
  for (var h = hk * group; h < (hk + 1u) * group; h = h + 1u) {
    for (var i0 = 0u; i0 < p.Tq; i0 = i0 + ${ROW_WG}u) {
      let i = i0 + lid;
      var pj = 0.0; var ds = 0.0;
      if (i < p.Tq && j < visible(b, i)) {
        let qo = ((b * p.Tq + i) * p.Hq + h) * p.D;
        let oo = ((b * p.Tq + i) * p.Hq + h) * p.Dv;
        let lr = (b * p.Hq + h) * p.Tq + i;
        var dot = 0.0;
        for (var d = 0u; d < p.D; d = d + 1u) { dot = dot + q[qo + d] * ks[d]; }
        var dp = 0.0;
        for (var d = 0u; d < p.Dv; d = d + 1u) { dp = dp + dout[oo + d] * vs[d]; }
        pj = exp(dot * p.scale - lse[lr]);
        ds = pj * (dp - delta[lr]) * p.scale;
      }
      pss[lid] = pj; dss[lid] = ds;
      workgroupBarrier();
      let cnt = min(${ROW_WG}u, p.Tq - i0);
      for (var r = 0u; r < ${PER}u; r = r + 1u) {
        let d = lid + r * ${ROW_WG}u;
        var a = ak[r]; var c = av[r];
        for (var ii = 0u; ii < cnt; ii = ii + 1u) {
          let base = (b * p.Tq + i0 + ii) * p.Hq + h;
          if (d < p.D) { a = a + dss[ii] * q[base * p.D + d]; }
          if (d < p.Dv) { c = c + pss[ii] * dout[base * p.Dv + d]; }
        }
        ak[r] = a; av[r] = c;
      }
      workgroupBarrier();
    }
  }
  for (var r = 0u; r < ${PER}u; r = r + 1u) {
    let d = lid + r * ${ROW_WG}u;
    if (d < p.D) { dk[ko + d] = ak[r]; }
    if (d < p.Dv) { dv[vo + d] = av[r]; }
  }
}`,
      buffers: [q, k, v, lse, dout, delta, dk, dv, ...extras(p)],
      uniforms: uniforms(p, kRows),
      groups: grid(kRows, 1),
    });
  }
  ctx.release(delta);
}
