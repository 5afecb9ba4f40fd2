// Attention in WGSL, the counterpart of Kernels.attention / .attentionBackward (same layouts:
// q [B, Tq, Hq, D], k [B, Tk, Hkv, D], v [B, Tk, Hkv, Dv] → out [B, Tq, Hq, Dv], lse [B, Hq, Tq];
// causal masking with qOffset or per-batch qOffsets, right padding with kvLens, grouped-query
// heads). The full score matrix is never stored. Two shapes of kernel:
//   tiled (training and prefill: 16 or more query rows per head): one lane per query row, a
//     64-lane workgroup per 64 rows of one (b, head), walking the keys in tiles that the lanes
//     load into shared memory together; per tile a lane scores its row against every key of it,
//     then rescales its running sum once by the tile's max (online softmax) and adds p·v. Each
//     key row is read from global memory once per 64 query rows, and a tile costs two barriers,
//     not the dozen per key block of a workgroup-wide reduction (a CPU adapter such as llvmpipe
//     pays for each one; docs/benchmarks.md has the figures). Head vectors are vec4s (dims that
//     are not a multiple of 4 are zero-padded).
//   rows (decode: fewer than 16 query rows): one 64-lane workgroup per (b, h, query row), lane
//     l over keys l, l+64, … with its own running max, sum and p·v; the lanes' partial results
//     are combined once at the end through shared memory (four barriers for a head up to 32
//     wide, however many keys). A tiled workgroup would leave all but a few lanes idle and walk
//     the keys serially in one of them.
//   backward (always tiled): (1) dq per query row as the forward, with delta = dout·out;
//     (2) dk and dv per key row of one kv head, over the query heads of its group and tiles of
//     the query rows that see the block's first key (causal: the rows before it are skipped).
//     Each output has one writer: no atomics, and the result does not depend on scheduling.
// Head dims are WGSL constants (a pipeline per (D, Dv): a model has one or two). Limits:
// D, Dv <= 256; tiles fill at most 16 KiB of shared memory (every WebGPU device has that).
// Not here: several query rows per lane (register blocking), subgroup operations, split-K decode.

import type { AttentionParams } from '../kernels.ts';
import { R1tsError } from '../../core/errors.ts';
import { ROW_WG, grid, need, packUniforms, sizes, uniformWgsl, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

/** AttentionParams with the optional per-batch arrays on the device (i32 [B]). */
export type GpuAttentionParams = Omit<AttentionParams, 'qOffsets' | 'kvLens'> & { qOffsets: GpuTensor | null; kvLens: GpuTensor | null };

const MAXD = 256;
/** The tiled kernels' forward from this many query rows per (b, head) on (fewer: the row kernel, whose lanes split the keys). */
const TILED_MIN_ROWS = 16;
/** vec4 columns of the row kernel's p·v sums added up per chunk (8 KiB of shared memory). */
const ROW_CHUNK = 8;
/** Floats of shared memory per tile: 16 KiB, what every WebGPU device gives a workgroup. */
const TILE_FLOATS = 4096;
/**
 * Most rows per tile. 16, not 64: with 64 SwiftShader (the Vulkan adapter Chromium falls back to)
 * took 4 and 8 s to compile the tiled forward and backward at D 32 and ran them 2× slower; with 16,
 * 1.2 and 2.3 s, and llvmpipe ran the backward 1.16× faster. Each key row is still read once per
 * 64 query rows (the rows of a workgroup); a tile only sets how many keys a barrier covers.
 */
const TILE_MAX = 16;

/** WGSL: the head dims as constants (a pipeline per pair: a model has one or two), and in vec4s. */
function dimsWgsl(D: number, Dv: number): string {
  return `const D = ${D}u;\nconst DV = ${Dv}u;\nconst D4 = ${Math.ceil(D / 4)}u;\nconst DV4 = ${Math.ceil(Dv / 4)}u;`;
}

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
// The first query row of item b that sees key j (Tq when none does): visible(b, i) grows with i.
fn firstSeeing(b: u32, j: u32) -> u32 {
  var kvLen = i32(p.Tk);
  ${hasLens ? 'kvLen = clamp(kvLens[b], 0, i32(p.Tk));' : ''}
  if (i32(j) >= kvLen) { return p.Tq; }
  if (p.causal == 0u) { return 0u; }
  let off = ${hasOffsets ? 'qOffsets[b]' : 'p.qOffset'};
  return u32(clamp(i32(j) - off, 0, i32(p.Tq)));
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

/** WGSL: the forward kernels' uniforms, head dims and bindings (q, k, v → o, lse; the per-batch arrays) and visible(). */
function forwardHead(D: number, Dv: number, hasOffsets: boolean, hasLens: boolean): string {
  return `${uniformWgsl(fields)}
${dimsWgsl(D, Dv)}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
${visibleWgsl(hasOffsets, hasLens, 6)}`;
}

/** WGSL: a kernel's entry, `name` its workgroup's index (of p.rows), `lid` its lane, `lowest` the least finite f32. */
function kernelHead(name: 'row' | 'blk'): string {
  return `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let ${name} = wid.x + wid.y * nwg.x;
  let lid = lidv.x;
  if (${name} >= p.rows) { return; }
  let lowest = bitcast<f32>(0xff7fffffu);`;
}

export function attention(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, p: GpuAttentionParams): void {
  check('attention', q, k, v, p);
  const { B, Tq, Hq, Dv } = p;
  need('attention', 'out', out, B * Tq * Hq * Dv); need('attention', 'lse', lse, B * Hq * Tq);
  if (B * Hq * Tq === 0) return;
  if (Tq >= TILED_MIN_ROWS) attentionTiled(ctx, q, k, v, out, lse, p);
  else attentionRows(ctx, q, k, v, out, lse, p);
}

/**
 * The forward with one workgroup per query row, its lanes over the keys (decode): lane l takes
 * keys l, l+64, …, keeping its own running max, sum and p·v (online softmax, vec4s); then the
 * lanes' maxima and sums go through shared memory once (each lane combines all 64), and the
 * lanes' p·v sums, each scaled to the common max, are added up column by column in chunks of
 * ROW_CHUNK vec4s. Four barriers for a head up to 32 wide, however many keys (a workgroup-wide
 * max and sum per 64-key block took sixteen per block).
 */
function attentionRows(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, p: GpuAttentionParams): void {
  const { B, Tq, Hq, D, Dv } = p;
  const rows = B * Hq * Tq;
  const CH4 = Math.min(Math.ceil(Dv / 4), ROW_CHUNK);
  const hasOffsets = p.qOffsets !== null, hasLens = p.kvLens !== null;
  ctx.dispatch({
    key: `attention:${+hasOffsets}${+hasLens}:${D}:${Dv}`,
    wgsl: () => `${forwardHead(D, Dv, hasOffsets, hasLens)}
const CH4 = ${CH4}u;
var<workgroup> qs: array<vec4<f32>, D4>;
var<workgroup> ms: array<f32, ${ROW_WG}>;
var<workgroup> lsum: array<f32, ${ROW_WG}>;
var<workgroup> red: array<vec4<f32>, ${ROW_WG}u * CH4>;
${kernelHead('row')}
  // row = (b·Hq + h)·Tq + i, the lse layout.
  let i = row % p.Tq; let h = (row / p.Tq) % p.Hq; let b = row / (p.Tq * p.Hq);
  let hk = h / (p.Hq / p.Hkv);
  let nk = visible(b, i);
  let qo = ((b * p.Tq + i) * p.Hq + h) * D;
  let oo = ((b * p.Tq + i) * p.Hq + h) * DV;
  for (var c = lid; c < D4; c = c + ${ROW_WG}u) { qs[c] = ${load4('q', 'qo', 'c', D)}; }
  workgroupBarrier();
  var m = lowest; var l = 0.0;
  var acc: array<vec4<f32>, DV4>;
  // Each shared array is written once before the barrier its readers wait on, and red is rewritten
  // only after the barrier that ends its reads (see workgroupReduce in common.ts on llvmpipe).
  for (var j = lid; j < nk; j = j + ${ROW_WG}u) {
    let ko = ((b * p.Tk + j) * p.Hkv + hk) * D;
    let vo = ((b * p.Tk + j) * p.Hkv + hk) * DV;
    var sc = 0.0;
    for (var c = 0u; c < D4; c = c + 1u) { sc = sc + dot(qs[c], ${load4('k', 'ko', 'c', D)}); }
    sc = sc * p.scale;
    let mNew = max(m, sc);
    let corr = exp(m - mNew);
    let pj = exp(sc - mNew);
    l = l * corr + pj;
    for (var c = 0u; c < DV4; c = c + 1u) { acc[c] = acc[c] * corr + pj * ${load4('v', 'vo', 'c', Dv)}; }
    m = mNew;
  }
  ms[lid] = m;
  workgroupBarrier();
  var mAll = lowest;
  for (var t = 0u; t < ${ROW_WG}u; t = t + 1u) { mAll = max(mAll, ms[t]); }
  let f = exp(m - mAll); // this lane's share, scaled to the common max
  lsum[lid] = l * f;
  for (var c0 = 0u; c0 < DV4; c0 = c0 + CH4) {
    for (var c = 0u; c < CH4; c = c + 1u) { red[lid * CH4 + c] = select(vec4<f32>(0.0), acc[min(c0 + c, DV4 - 1u)] * f, c0 + c < DV4); }
    workgroupBarrier();
    var lAll = 0.0;
    for (var t = 0u; t < ${ROW_WG}u; t = t + 1u) { lAll = lAll + lsum[t]; }
    if (lid == 0u && c0 == 0u) { lse[row] = select(mAll + log(lAll), bitcast<f32>(p.negInf), nk == 0u); }
    let c = c0 + lid;
    if (lid < CH4 && c < DV4) {
      var sum = vec4<f32>(0.0);
      for (var t = 0u; t < ${ROW_WG}u; t = t + 1u) { sum = sum + red[t * CH4 + lid]; }
      let val = select(sum / lAll, vec4<f32>(0.0), nk == 0u);
      for (var e = 0u; e < 4u; e = e + 1u) { if (4u * c + e < DV) { o[oo + 4u * c + e] = val[e]; } }
    }
    workgroupBarrier();
  }
}`,
    buffers: [q, k, v, out, lse, ...extras(p)],
    uniforms: uniforms(p, rows),
    groups: grid(rows, 1),
  });
}


/**
 * Rows per shared-memory tile for rows of `width` floats: as many as fit the 16 KiB of workgroup
 * storage every WebGPU device has, at most TILE_MAX, a multiple of 4.
 */
function tileRows(width: number): number {
  return Math.max(4, Math.min(TILE_MAX, Math.floor(TILE_FLOATS / width / 4) * 4));
}

/**
 * WGSL: the vec4 of a head vector's elements 4c .. 4c+3 at arr[base ..] (n elements; those
 * past n are 0, so the tiled kernels' vec4 dots and sums are exact for any head dim).
 */
function load4(arr: string, base: string, c: string, n: number): string {
  const at = (e: number) => (n % 4 === 0 ? `${arr}[${base} + 4u * ${c} + ${e}u]` : `select(0.0, ${arr}[${base} + min(4u * ${c} + ${e}u, ${n - 1}u)], 4u * ${c} + ${e}u < ${n}u)`);
  return `vec4<f32>(${[0, 1, 2, 3].map(at).join(', ')})`;
}

/** WGSL: writes the n elements of a head vector held as vec4s in `src` to arr[base ..]. */
function store4(arr: string, base: string, src: string, n: number): string {
  return `for (var c = 0u; c < ${Math.ceil(n / 4)}u; c = c + 1u) {
      for (var e = 0u; e < 4u; e = e + 1u) { if (4u * c + e < ${n}u) { ${arr}[${base} + 4u * c + e] = ${src}[c][e]; } }
    }`;
}

/**
 * WGSL: the lanes load `rows` rows of n elements, from row `first` on (rows past `last` clamp to
 * it; their lanes mask them), into the shared array dst as vec4s; `at(r)` is row r's offset in src.
 */
function loadTile(dst: string, src: string, rows: string, first: string, last: string, at: (r: string) => string, n: number): string {
  const n4 = Math.ceil(n / 4);
  return `for (var e = lid; e < ${rows} * ${n4}u; e = e + ${ROW_WG}u) {
      let r = min(${first} + e / ${n4}u, ${last});
      ${dst}[e] = ${load4(src, at('r'), `(e % ${n4}u)`, n)};
    }`;
}

/** WGSL: loads key rows j0 .. j0+BK-1 of (b, hk) into ks and vs. */
function loadKeyTile(D: number, Dv: number): string {
  return `
    ${loadTile('ks', 'k', 'BK', 'j0', 'p.Tk - 1u', (r) => `((b * p.Tk + ${r}) * p.Hkv + hk) * D`, D)}
    ${loadTile('vs', 'v', 'BK', 'j0', 'p.Tk - 1u', (r) => `((b * p.Tk + ${r}) * p.Hkv + hk) * DV`, Dv)}
    workgroupBarrier();`;
}

/** WGSL: this lane's query row of the tiled kernels (blk = (b·Hq + h)·nQ + qb; row i = qb·64 + lane) and its q as vec4s in qr. */
function queryLane(D: number): string {
  return `
  let nQ = (p.Tq + ${ROW_WG - 1}u) / ${ROW_WG}u;
  let qb = blk % nQ; let h = (blk / nQ) % p.Hq; let b = blk / (nQ * p.Hq);
  let hk = h / (p.Hq / p.Hkv);
  let i = qb * ${ROW_WG}u + lid;
  let live = i < p.Tq;
  let ic = min(i, p.Tq - 1u);
  let nk = select(0u, visible(b, ic), live);
  let nkMax = visible(b, min(qb * ${ROW_WG}u + ${ROW_WG - 1}u, p.Tq - 1u)); // the block's last row sees the most keys
  let qo = ((b * p.Tq + ic) * p.Hq + h) * D;
  let oo = ((b * p.Tq + ic) * p.Hq + h) * DV;
  let row = (b * p.Hq + h) * p.Tq + ic;
  var qr: array<vec4<f32>, D4>;
  for (var c = 0u; c < D4; c = c + 1u) { qr[c] = ${load4('q', 'qo', 'c', D)}; }`;
}

/** WGSL: the key tile's shared arrays (BK key rows of k and of v, as vec4s). */
const keyTileArrays = `var<workgroup> ks: array<vec4<f32>, BK * D4>;
var<workgroup> vs: array<vec4<f32>, BK * DV4>;`;

/**
 * The forward with one lane per query row: a workgroup takes 64 rows of one (b, h) and walks
 * the keys the last of them sees in tiles of BK keys that all its lanes read from shared memory
 * (each key row is read from global memory once per 64 query rows, not once per row). Per tile a
 * lane scores its row against the BK keys, rescales its running sum once by the tile's max, and
 * adds the tile's p·v, in vec4s. Two barriers per tile, none per key: a CPU adapter (llvmpipe)
 * pays for every barrier, and a GPU shares each load among 64 rows.
 */
function attentionTiled(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, p: GpuAttentionParams): void {
  const { B, Tq, Hq, D, Dv } = p;
  const blocks = B * Hq * Math.ceil(Tq / ROW_WG);
  const BK = tileRows(4 * Math.ceil(D / 4) + 4 * Math.ceil(Dv / 4));
  const hasOffsets = p.qOffsets !== null, hasLens = p.kvLens !== null;
  ctx.dispatch({
    key: `attention:tiled:${+hasOffsets}${+hasLens}:${D}:${Dv}`,
    wgsl: () => `${forwardHead(D, Dv, hasOffsets, hasLens)}
const BK = ${BK}u;
${keyTileArrays}
${kernelHead('blk')}
${queryLane(D)}
  var acc: array<vec4<f32>, DV4>;
  var s: array<f32, BK>;
  var m = lowest; var l = 0.0;
  for (var j0 = 0u; j0 < nkMax; j0 = j0 + BK) {
    ${loadKeyTile(D, Dv)}
    var mt = m;
    for (var jj = 0u; jj < BK; jj = jj + 1u) {
      var sc = 0.0;
      for (var c = 0u; c < D4; c = c + 1u) { sc = sc + dot(qr[c], ks[jj * D4 + c]); }
      sc = select(lowest, sc * p.scale, j0 + jj < nk);
      s[jj] = sc;
      mt = max(mt, sc);
    }
    let corr = exp(m - mt);
    l = l * corr;
    for (var c = 0u; c < DV4; c = c + 1u) { acc[c] = acc[c] * corr; }
    for (var jj = 0u; jj < BK; jj = jj + 1u) {
      let pj = select(0.0, exp(s[jj] - mt), j0 + jj < nk); // select, not if: see workgroupReduce in common.ts
      l = l + pj;
      for (var c = 0u; c < DV4; c = c + 1u) { acc[c] = acc[c] + pj * vs[jj * DV4 + c]; }
    }
    m = mt;
    workgroupBarrier();
  }
  if (live) {
    lse[row] = select(m + log(l), bitcast<f32>(p.negInf), nk == 0u);
    for (var c = 0u; c < DV4; c = c + 1u) { acc[c] = select(acc[c] / l, vec4<f32>(0.0), nk == 0u); }
    ${store4('o', 'oo', 'acc', Dv)}
  }
}`,
    buffers: [q, k, v, out, lse, ...extras(p)],
    uniforms: uniforms(p, blocks),
    groups: grid(blocks, 1),
  });
}

/**
 * The backward, two tiled passes with one writer per output (no atomics; the result does not
 * depend on scheduling), in vec4s like the tiled forward:
 *   dq: one lane per query row: delta = dout·out for its row, then over the key tiles
 *     dq = scale·Σ_j ds_j k_j with ds_j = p_j (dout·v_j − delta).
 *   dk, dv: one lane per key row of one kv head: over the query heads of its group and the tiles
 *     of the query rows that can see the block's first key (causal: the rows before it are
 *     skipped), with those rows' q, dout, lse and delta in shared memory, dv = Σ_i p_i dout_i and
 *     dk = scale·Σ_i ds_i q_i.
 */
export function attentionBackward(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, dout: GpuTensor, dq: GpuTensor, dk: GpuTensor, dv: GpuTensor, p: GpuAttentionParams): void {
  check('attentionBackward', q, k, v, p);
  const { B, Tq, Tk, Hq, Hkv, D, Dv } = p;
  need('attentionBackward', 'out', out, B * Tq * Hq * Dv); need('attentionBackward', 'dout', dout, B * Tq * Hq * Dv);
  need('attentionBackward', 'lse', lse, B * Hq * Tq); need('attentionBackward', 'dq', dq, B * Tq * Hq * D);
  need('attentionBackward', 'dk', dk, B * Tk * Hkv * D); need('attentionBackward', 'dv', dv, B * Tk * Hkv * Dv);
  const hasOffsets = p.qOffsets !== null, hasLens = p.kvLens !== null;
  const spec = `${+hasOffsets}${+hasLens}:${D}:${Dv}`;
  const width = 4 * Math.ceil(D / 4) + 4 * Math.ceil(Dv / 4);
  const delta = ctx.alloc([Math.max(1, B * Hq * Tq)]); // [B, Hq, Tq]
  const common = `${uniformWgsl(fields)}
${dimsWgsl(D, Dv)}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;`;
  const qBlocks = B * Hq * Math.ceil(Tq / ROW_WG);
  if (qBlocks > 0) {
    ctx.dispatch({
      key: `attentionBackward:dq:${spec}`,
      wgsl: () => `${common}
const BK = ${tileRows(width)}u;
@group(0) @binding(6) var<storage, read> o: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
${visibleWgsl(hasOffsets, hasLens, 9)}
${keyTileArrays}
${kernelHead('blk')}
${queryLane(D)}
  var dor: array<vec4<f32>, DV4>;
  var dl = 0.0;
  for (var c = 0u; c < DV4; c = c + 1u) { let g = ${load4('dout', 'oo', 'c', Dv)}; dor[c] = g; dl = dl + dot(g, ${load4('o', 'oo', 'c', Dv)}); }
  let l = lse[row];
  var acc: array<vec4<f32>, D4>;
  for (var j0 = 0u; j0 < nkMax; j0 = j0 + BK) {
    ${loadKeyTile(D, Dv)}
    for (var jj = 0u; jj < BK; jj = jj + 1u) {
      var sc = 0.0;
      for (var c = 0u; c < D4; c = c + 1u) { sc = sc + dot(qr[c], ks[jj * D4 + c]); }
      var dp = 0.0;
      for (var c = 0u; c < DV4; c = c + 1u) { dp = dp + dot(dor[c], vs[jj * DV4 + c]); }
      let ds = select(0.0, exp(sc * p.scale - l) * (dp - dl) * p.scale, j0 + jj < nk);
      for (var c = 0u; c < D4; c = c + 1u) { acc[c] = acc[c] + ds * ks[jj * D4 + c]; }
    }
    workgroupBarrier();
  }
  if (live) {
    delta[row] = dl;
    ${store4('dq', 'qo', 'acc', D)}
  }
}`,
      buffers: [q, k, v, lse, dout, out, delta, dq, ...extras(p)],
      uniforms: uniforms(p, qBlocks),
      groups: grid(qBlocks, 1),
    });
  }
  const kBlocks = B * Hkv * Math.ceil(Tk / ROW_WG);
  if (kBlocks > 0) {
    ctx.dispatch({
      key: `attentionBackward:dkv:${spec}`,
      wgsl: () => `${common}
const BQ = ${tileRows(width + 2)}u;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
${visibleWgsl(hasOffsets, hasLens, 9)}
var<workgroup> qs: array<vec4<f32>, BQ * D4>;
var<workgroup> dos: array<vec4<f32>, BQ * DV4>;
var<workgroup> ls: array<f32, BQ>;
var<workgroup> dls: array<f32, BQ>;
${kernelHead('blk')}
  // blk = (b·Hkv + hk)·nK + kb; this lane's key j = kb·64 + lane.
  let nK = (p.Tk + ${ROW_WG - 1}u) / ${ROW_WG}u;
  let kb = blk % nK; let hk = (blk / nK) % p.Hkv; let b = blk / (nK * p.Hkv);
  let j = kb * ${ROW_WG}u + lid;
  let live = j < p.Tk;
  let ko = ((b * p.Tk + min(j, p.Tk - 1u)) * p.Hkv + hk) * D;
  let vo = ((b * p.Tk + min(j, p.Tk - 1u)) * p.Hkv + hk) * DV;
  var kr: array<vec4<f32>, D4>;
  for (var c = 0u; c < D4; c = c + 1u) { kr[c] = ${load4('k', 'ko', 'c', D)}; }
  var vr: array<vec4<f32>, DV4>;
  for (var c = 0u; c < DV4; c = c + 1u) { vr[c] = ${load4('v', 'vo', 'c', Dv)}; }
  var ak: array<vec4<f32>, D4>;
  var av: array<vec4<f32>, DV4>;
  // Rows before the first that sees the block's first key see none of its keys (causal: about half).
  let iStart = firstSeeing(b, kb * ${ROW_WG}u);
  let group = p.Hq / p.Hkv;
  for (var h = hk * group; h < (hk + 1u) * group; h = h + 1u) {
    for (var i0 = iStart; i0 < p.Tq; i0 = i0 + BQ) {
      ${loadTile('qs', 'q', 'BQ', 'i0', 'p.Tq - 1u', (r) => `((b * p.Tq + ${r}) * p.Hq + h) * D`, D)}
      ${loadTile('dos', 'dout', 'BQ', 'i0', 'p.Tq - 1u', (r) => `((b * p.Tq + ${r}) * p.Hq + h) * DV`, Dv)}
      for (var e = lid; e < BQ; e = e + ${ROW_WG}u) {
        let r = (b * p.Hq + h) * p.Tq + min(i0 + e, p.Tq - 1u);
        ls[e] = lse[r];
        dls[e] = delta[r];
      }
      workgroupBarrier();
      for (var ii = 0u; ii < BQ; ii = ii + 1u) {
        let i = i0 + ii;
        let seen = live && i < p.Tq && j < visible(b, min(i, p.Tq - 1u));
        var sc = 0.0;
        for (var c = 0u; c < D4; c = c + 1u) { sc = sc + dot(kr[c], qs[ii * D4 + c]); }
        var dp = 0.0;
        for (var c = 0u; c < DV4; c = c + 1u) { dp = dp + dot(vr[c], dos[ii * DV4 + c]); }
        let pj = select(0.0, exp(sc * p.scale - ls[ii]), seen);
        let ds = select(0.0, pj * (dp - dls[ii]) * p.scale, seen);
        for (var c = 0u; c < DV4; c = c + 1u) { av[c] = av[c] + pj * dos[ii * DV4 + c]; }
        for (var c = 0u; c < D4; c = c + 1u) { ak[c] = ak[c] + ds * qs[ii * D4 + c]; }
      }
      workgroupBarrier();
    }
  }
  if (live) {
    ${store4('dk', 'ko', 'ak', D)}
    ${store4('dv', 'vo', 'av', Dv)}
  }
}`,
      buffers: [q, k, v, lse, dout, delta, dk, dv, ...extras(p)],
      uniforms: uniforms(p, kBlocks),
      groups: grid(kBlocks, 1),
    });
  }
  ctx.release(delta);
}
