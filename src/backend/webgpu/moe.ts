// The routing kernels of the sparse (dropless) MoE dispatch on the device, in the manner of
// MegaBlocks: every (token, expert) pair the router chose gets one row of a gathered matrix,
// the rows grouped by expert and each expert's group padded to a multiple of the GEMM's row
// tile (64), so each expert's SwiGLU MLP runs as GEMMs over its own rows only (gemm.ts's
// expert-range GEMMs) — K/E of the dense dispatch's FLOPs, and no token is ever dropped. Nothing
// is read back: the plan lives in device buffers sized by the bound the host knows (at most
// min(E, N·K) experts get a token, each padding at most 63 rows),
//   rows = Σ_e ⌈count_e / 64⌉·64 ≤ ⌊(N·K + 63·min(E, N·K)) / 64⌋·64
// (decoding one token through 256 experts, 8 per token: 512 rows, not 16,192).
// The plan (moeRoute, one workgroup):
//   keep     [N, E] f32 0/1: the mask, keeping each token's first K marked experts in expert
//            order (the device's top-k mask marks every expert tied at the k-th score).
//   rowToken [rows] i32: the token of each row (−1 for padding); an expert's tokens in order.
//   ranges   [E, 2] i32: each expert's rows [start, end), end − start a multiple of 64.
//   rowOf    [N, K] i32: each token's rows in expert order (−1 where it has fewer than K).
//   rowAt    [N, E] i32: scratch (a chosen pair's row).
// Then moeGather builds the expert-sorted input, moeCombine sums each token's K expert outputs
// times its routing weights in expert order (the host's scatter order), and the backward
// kernels are gathers too (each row has one source, each token K rows): no float atomics.
// Not here: the expert GEMMs (gemm.ts), the autograd node (src/tensor/moe-device.ts).

import { R1tsError } from '../../core/errors.ts';
import { WG, grid, linearIndex, need, packUniforms, sizes, uniformWgsl, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import { TILE } from './gemm.ts';
import type { GpuTensor } from './tensor.ts';

/** Most routed experts the routing kernel handles (its per-expert workgroup arrays). */
export const MAX_EXPERTS = 1024;

/** Rows of the plan for N tokens, K experts each, E experts: the bound of the file's top. */
export function moePlanRows(N: number, E: number, K: number): number {
  return Math.floor((N * K + (TILE - 1) * Math.min(E, N * K)) / TILE) * TILE;
}

const head = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}`;

const routeFields: Fields = [['N', 'u32'], ['E', 'u32'], ['K', 'u32'], ['rows', 'u32']];

export interface MoePlanBuffers {
  keep: GpuTensor; // [N, E] f32
  rowToken: GpuTensor; // [rows] i32
  ranges: GpuTensor; // [E, 2] i32
  rowOf: GpuTensor; // [N, K] i32
  rowAt: GpuTensor; // [N, E] i32 scratch
}

/** Builds the plan (see the file's top) from a 0/1 routing mask [N, E]. One workgroup. */
export function moeRoute(ctx: GpuContext, mask: GpuTensor, plan: MoePlanBuffers, N: number, E: number, K: number): void {
  sizes('moeRoute', { N, E, K });
  if (E < 1 || E > MAX_EXPERTS) throw new R1tsError(`webgpu moeRoute: ${E} experts; the routing kernel handles 1 to ${MAX_EXPERTS}`);
  if (K < 1 || K > E) throw new R1tsError(`webgpu moeRoute: ${K} experts per token, expected 1 to ${E}`);
  const rows = moePlanRows(N, E, K);
  need('moeRoute', 'mask', mask, N * E); need('moeRoute', 'keep', plan.keep, N * E);
  need('moeRoute', 'rowToken', plan.rowToken, rows, 'i32'); need('moeRoute', 'ranges', plan.ranges, 2 * E, 'i32');
  need('moeRoute', 'rowOf', plan.rowOf, N * K, 'i32'); need('moeRoute', 'rowAt', plan.rowAt, N * E, 'i32');
  ctx.dispatch({
    key: 'moeRoute',
    wgsl: () => `${uniformWgsl(routeFields)}
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> keep: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowToken: array<i32>;
@group(0) @binding(4) var<storage, read_write> ranges: array<i32>;
@group(0) @binding(5) var<storage, read_write> rowOf: array<i32>;
@group(0) @binding(6) var<storage, read_write> rowAt: array<i32>;
var<workgroup> cnt: array<u32, ${MAX_EXPERTS}>;
var<workgroup> start: array<u32, ${MAX_EXPERTS + 1}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  // 1. keep: each token's first K marked experts, in expert order.
  for (var n = t; n < p.N; n = n + ${WG}u) {
    var c = 0u;
    for (var e = 0u; e < p.E; e = e + 1u) {
      let on = mask[n * p.E + e] > 0.5 && c < p.K;
      keep[n * p.E + e] = select(0.0, 1.0, on);
      c = c + select(0u, 1u, on);
    }
  }
  storageBarrier();
  // 2. tokens per expert.
  for (var e = t; e < p.E; e = e + ${WG}u) {
    var c = 0u;
    for (var n = 0u; n < p.N; n = n + 1u) { c = c + select(0u, 1u, keep[n * p.E + e] > 0.5); }
    cnt[e] = c;
  }
  workgroupBarrier();
  // 3. each expert's rows, padded to the row tile.
  if (t == 0u) {
    var s = 0u;
    for (var e = 0u; e < p.E; e = e + 1u) {
      start[e] = s;
      let len = (cnt[e] + ${TILE - 1}u) / ${TILE}u * ${TILE}u;
      ranges[2u * e] = i32(s);
      ranges[2u * e + 1u] = i32(s + len);
      s = s + len;
    }
    start[p.E] = s;
  }
  workgroupBarrier();
  // 4. the rows: each expert's tokens in order, then its padding; past the last expert, padding.
  for (var e = t; e < p.E; e = e + ${WG}u) {
    var r = start[e];
    for (var n = 0u; n < p.N; n = n + 1u) {
      if (keep[n * p.E + e] > 0.5) {
        rowToken[r] = i32(n);
        rowAt[n * p.E + e] = i32(r);
        r = r + 1u;
      }
    }
    let end = start[e] + (cnt[e] + ${TILE - 1}u) / ${TILE}u * ${TILE}u;
    for (; r < end; r = r + 1u) { rowToken[r] = -1; }
  }
  let used = start[p.E];
  for (var r = used + t; r < p.rows; r = r + ${WG}u) { rowToken[r] = -1; }
  storageBarrier();
  // 5. each token's rows in expert order.
  for (var n = t; n < p.N; n = n + ${WG}u) {
    var j = 0u;
    for (var e = 0u; e < p.E; e = e + 1u) {
      if (keep[n * p.E + e] > 0.5) {
        rowOf[n * p.K + j] = rowAt[n * p.E + e];
        j = j + 1u;
      }
    }
    for (; j < p.K; j = j + 1u) { rowOf[n * p.K + j] = -1; }
  }
}`,
    buffers: [mask, plan.keep, plan.rowToken, plan.ranges, plan.rowOf, plan.rowAt],
    uniforms: packUniforms(routeFields, { N, E, K, rows }),
    groups: [1, 1, 1],
  });
}

const rowsFields: Fields = [['rows', 'u32'], ['C', 'u32'], ['N', 'u32'], ['K', 'u32'], ['E', 'u32']];

// WGSL: the expert of row r: the first whose range ends past r (ends never decrease; E when none).
const expertOfRow = `fn expertOf(r: u32) -> u32 {
  var lo = 0u; var hi = p.E;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (r < u32(ranges[2u * mid + 1u])) { hi = mid; } else { lo = mid + 1u; }
  }
  return lo;
}`;

/**
 * One thread per item: the storage bindings in order (each 'name: array<T>' with its tensor; the
 * last is the output), the sizes of rowsFields, and expertOf when a binding is named ranges.
 */
function rowsKernel(ctx: GpuContext, key: string, bindings: [string, GpuTensor][], body: string, dims: Partial<Record<'rows' | 'C' | 'N' | 'K' | 'E', number>>, items: number): void {
  const decls = bindings.map(([d], k) => `@group(0) @binding(${k + 1}) var<storage, ${k === bindings.length - 1 ? 'read_write' : 'read'}> ${d};`).join('\n');
  ctx.dispatch({
    key,
    wgsl: () => `${uniformWgsl(rowsFields)}${decls}\n${bindings.some(([d]) => d.startsWith('ranges:')) ? expertOfRow : ''}\n${head}\n${body}\n}`,
    buffers: bindings.map(([, t]) => t),
    uniforms: packUniforms(rowsFields, { rows: 0, C: 0, N: 0, K: 0, E: 0, ...dims }),
    groups: grid(items, WG),
  });
}

/** out [rows, C] = x[rowToken[r]] (0 for padding rows): the expert-sorted input. */
export function moeGather(ctx: GpuContext, x: GpuTensor, rowToken: GpuTensor, out: GpuTensor, N: number, rows: number, C: number): void {
  sizes('moeGather', { N, rows, C });
  need('moeGather', 'x', x, N * C); need('moeGather', 'rowToken', rowToken, rows, 'i32'); need('moeGather', 'out', out, rows * C);
  rowsKernel(ctx, 'moeGather', [['x: array<f32>', x], ['rowToken: array<i32>', rowToken], ['o: array<f32>', out]], `
  if (i >= p.rows * p.C) { return; }
  let tok = rowToken[i / p.C];
  var v = 0.0;
  if (tok >= 0 && u32(tok) < p.N) { v = x[u32(tok) * p.C + i % p.C]; }
  o[i] = v;`, { rows, C, N }, rows * C);
}

/** out [N, C] = Σ_j src[rowOf[n, j]] in slot order (the backward of moeGather: each token's K rows). */
export function moeGatherSum(ctx: GpuContext, src: GpuTensor, rowOf: GpuTensor, out: GpuTensor, N: number, K: number, rows: number, C: number): void {
  sizes('moeGatherSum', { N, K, rows, C });
  need('moeGatherSum', 'src', src, rows * C); need('moeGatherSum', 'rowOf', rowOf, N * K, 'i32'); need('moeGatherSum', 'out', out, N * C);
  rowsKernel(ctx, 'moeGatherSum', [['src: array<f32>', src], ['rowOf: array<i32>', rowOf], ['o: array<f32>', out]], `
  if (i >= p.N * p.C) { return; }
  let n = i / p.C; let c = i % p.C;
  var acc = 0.0;
  for (var j = 0u; j < p.K; j = j + 1u) {
    let r = rowOf[n * p.K + j];
    if (r >= 0 && u32(r) < p.rows) { acc = acc + src[u32(r) * p.C + c]; }
  }
  o[i] = acc;`, { rows, C, N, K }, N * C);
}

/** y [N, C] = Σ_j w[n, e_j] · yg[rowOf[n, j]] in expert order: the routed experts' output. */
export function moeCombine(ctx: GpuContext, yg: GpuTensor, w: GpuTensor, rowOf: GpuTensor, ranges: GpuTensor, out: GpuTensor, N: number, E: number, K: number, rows: number, C: number): void {
  sizes('moeCombine', { N, E, K, rows, C });
  need('moeCombine', 'yg', yg, rows * C); need('moeCombine', 'w', w, N * E); need('moeCombine', 'rowOf', rowOf, N * K, 'i32');
  need('moeCombine', 'ranges', ranges, 2 * E, 'i32'); need('moeCombine', 'out', out, N * C);
  rowsKernel(ctx, 'moeCombine', [['yg: array<f32>', yg], ['w: array<f32>', w], ['rowOf: array<i32>', rowOf], ['ranges: array<i32>', ranges], ['o: array<f32>', out]], `
  if (i >= p.N * p.C) { return; }
  let n = i / p.C; let c = i % p.C;
  var acc = 0.0;
  for (var j = 0u; j < p.K; j = j + 1u) {
    let r = rowOf[n * p.K + j];
    if (r < 0 || u32(r) >= p.rows) { continue; }
    let e = expertOf(u32(r));
    if (e >= p.E) { continue; }
    let term = w[n * p.E + e] * yg[u32(r) * p.C + c];
    acc = acc + term;
  }
  o[i] = acc;`, { rows, C, N, K, E }, N * C);
}

/** dyg [rows, C] = w[tok, e(r)] · dy[tok] (0 for padding rows): moeCombine's gradient for yg. */
export function moeCombineBackwardRows(ctx: GpuContext, dy: GpuTensor, w: GpuTensor, rowToken: GpuTensor, ranges: GpuTensor, dyg: GpuTensor, N: number, E: number, rows: number, C: number): void {
  sizes('moeCombineBackwardRows', { N, E, rows, C });
  need('moeCombineBackwardRows', 'dy', dy, N * C); need('moeCombineBackwardRows', 'w', w, N * E);
  need('moeCombineBackwardRows', 'rowToken', rowToken, rows, 'i32'); need('moeCombineBackwardRows', 'ranges', ranges, 2 * E, 'i32');
  need('moeCombineBackwardRows', 'dyg', dyg, rows * C);
  rowsKernel(ctx, 'moeCombineBackwardRows', [['dy: array<f32>', dy], ['w: array<f32>', w], ['rowToken: array<i32>', rowToken], ['ranges: array<i32>', ranges], ['o: array<f32>', dyg]], `
  if (i >= p.rows * p.C) { return; }
  let r = i / p.C;
  let tok = rowToken[r];
  let e = expertOf(r);
  var v = 0.0;
  if (tok >= 0 && u32(tok) < p.N && e < p.E) { v = w[u32(tok) * p.E + e] * dy[u32(tok) * p.C + i % p.C]; }
  o[i] = v;`, { rows, C, N, E }, rows * C);
}

/** dw [N, E] = Σ_c dy[n, c] · yg[row of (n, e), c] at each token's chosen experts, 0 elsewhere: moeCombine's gradient for w. */
export function moeCombineBackwardWeights(ctx: GpuContext, dy: GpuTensor, yg: GpuTensor, rowOf: GpuTensor, ranges: GpuTensor, dw: GpuTensor, N: number, E: number, K: number, rows: number, C: number): void {
  sizes('moeCombineBackwardWeights', { N, E, K, rows, C });
  need('moeCombineBackwardWeights', 'dy', dy, N * C); need('moeCombineBackwardWeights', 'yg', yg, rows * C);
  need('moeCombineBackwardWeights', 'rowOf', rowOf, N * K, 'i32'); need('moeCombineBackwardWeights', 'ranges', ranges, 2 * E, 'i32');
  need('moeCombineBackwardWeights', 'dw', dw, N * E);
  rowsKernel(ctx, 'moeCombineBackwardWeights', [['dy: array<f32>', dy], ['yg: array<f32>', yg], ['rowOf: array<i32>', rowOf], ['ranges: array<i32>', ranges], ['o: array<f32>', dw]], `
  if (i >= p.N * p.E) { return; }
  let n = i / p.E; let e = i % p.E;
  var v = 0.0;
  for (var j = 0u; j < p.K; j = j + 1u) {
    let r = rowOf[n * p.K + j];
    if (r < 0 || u32(r) >= p.rows || expertOf(u32(r)) != e) { continue; }
    for (var c = 0u; c < p.C; c = c + 1u) { v = v + dy[n * p.C + c] * yg[u32(r) * p.C + c]; }
  }
  o[i] = v;`, { rows, C, N, K, E }, N * E);
}
