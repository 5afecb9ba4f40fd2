// Tiled GEMM in WGSL, the WebGPU counterpart of Kernels.gemm (same arguments and
// layouts: C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] (+ bias), batch strides with 0
// broadcasting). Each workgroup of 16×16 threads computes a 64×64 tile of C, each thread a 4×4
// register block, over panels 16 deep; or, after setGemmTile(128), a 128×128 tile, 8×8 per
// thread, panels 8 deep (twice the FMAs per workgroup-memory read; on llvmpipe 1.9× the GFLOP/s
// on square 256–512 products, slower on the tiny presets' small ones; the GPU's choice is
// bench:webgpu's to measure). The kernel is written for a GPU's memory system:
// - panels are stored as vec4s of 4 consecutive rows of A (columns of B) at one k, so a thread
//   reads its 4 (or 2×4) rows and columns with one vec4 load each; a thread's block is rows
//   4·ty + i (and 64 + 4·ty + i), columns likewise in tx, so the 16 tx of a warp read 16
//   consecutive vec4s (no bank conflicts) and the ty's are broadcasts;
// - each row of a panel (one k) is padded by one vec4, so the stores of loads that run along k
//   (A not transposed, B transposed: a warp's threads take consecutive k) fall in distinct banks;
// - the register block is unrolled (named vec4 accumulators, never an indexed array that a
//   compiler might put in local memory);
// - the next panel is fetched into registers before the current one is multiplied, and stored
//   into a second buffer after it: one barrier per panel, the global loads' latency behind the
//   FMAs. Where the device's workgroup memory cannot hold two buffers (17 KB for both operands'
//   pairs; WebGPU's default limit is 16 KB, the adapters seen so far have 32 KB), one buffer each
//   and two barriers per panel.
// The register block, the padding and the double buffer gave llvmpipe 1.3× the GFLOP/s of the
// scalar kernel before them (docs/benchmarks.md). Transposes, beta != 0, the bias, the tile and
// the buffering change the WGSL, so each combination is its own cached pipeline. Accumulates in
// f32, each element's sum in k order (the reference in double).
// f16 B (weights stored in half precision, `bHalf`): B holds IEEE binary16 values, two per
// 32-bit word (element 2i in the low half: the byte layout of a WGSL array<f16>), made by
// packF16. On every adapter the kernel reads them with unpack2x16float (core WGSL); on a device
// opened with the shader-f16 feature it declares B as array<f16> instead. Either way the
// products and the sum are f32: only B's values are rounded (to 11 significant bits).
// Expert ranges (the sparse MoE dispatch, moe.ts): with `range.on = 'rows'` the product covers
// only rows [ranges[2g], ranges[2g+1]) of A and C (m: all their rows; the grid has row tiles for
// `range.maxRows`, and those past the range's end exit at once); with 'k' the sum over k covers only that range
// (dW = dYᵀ·X over one expert's rows). The range is read on the device (no readback) and made
// workgroup-uniform with workgroupUniformLoad, so the early exit and the loop keep the barriers
// in uniform control flow.
// Grouped (`range.experts = E`): one dispatch for every expert at once, B (for 'rows') or C (for
// 'k') a stack of E matrices `stride` elements apart (GpuContext.allocStack's slabs). 'rows':
// the grid covers all the plan's row tiles (always the 64 tile: the plan pads each expert to 64
// rows, so no tile spans two experts); each workgroup finds its tile's expert by a binary search
// of the range ends and multiplies by that expert's B (tiles past the last range exit at once).
// 'k': grid z is the expert; each sums over its own rows into its C. This replaces E dispatches
// (and, on a GPU, E small GEMMs serialised by the barriers between them) with one.
// Skinny products (decode: C = A·Bᵀ with m ≤ 8 rows, one per sequence, B a Linear's [n, k]
// weight): a 64×64 tile would leave all but m of its 64 rows idle and give n/64 workgroups, each
// walking k behind two barriers per 16-deep panel. Instead (gemv, on by default: setGemv) each
// 64-lane workgroup computes all m rows of 4 columns: the lanes split k (lane l takes k ≡ l mod 64,
// so each of B's 4 rows is read contiguously across the lanes, every B value once), and one
// tree reduction over the lanes ends it; n/4 workgroups. The sum's order differs from the tiled
// kernel's (a rounding difference, within the same f32 bound). Transposed A, B not transposed,
// expert ranges and m > 8 take the tiled kernel.
// Not here: f16 A or C, f16 arithmetic, a subgroup-matrix path, split-K of the tiled kernel,
// vec4 global loads (the panel loads are scalar, contiguous across a warp).

import type { GemmParams } from '../kernels.ts';
import { R1tsError } from '../../core/errors.ts';
import { WG, grid, linearIndex, need, packUniforms, sizes, uniformWgsl, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

/** Rows of the MoE plan's padding unit (moe.ts): the default GEMM tile's. */
export const TILE = 64;

/** The C block one workgroup computes: 64×64 (4×4 per thread, panels 16 deep) or 128×128 (8×8, 8 deep). */
export type GemmTile = 64 | 128;
let tileInUse: GemmTile = 64;

/**
 * Which tile the GEMMs use from now on (default 64). 128 does twice the FMAs per workgroup-memory
 * read (8×8 per thread), which a GPU's shared-memory bandwidth may reward on large products;
 * bench:webgpu times both on the adapter it runs on. Both are tested on every case.
 */
export function setGemmTile(tile: GemmTile): void {
  if (tile !== 64 && tile !== 128) throw new R1tsError(`webgpu gemm: tile ${tile}, expected 64 or 128`);
  tileInUse = tile;
}

/** The tile the GEMMs use now. */
export function gemmTile(): GemmTile {
  return tileInUse;
}

let buffersWanted: 1 | 2 = 2;

/**
 * Panel buffers of the tiled kernel from now on: 2 (the default: double-buffered where the
 * device's workgroup memory holds both) or 1 (what a device with WebGPU's default 16 KB gets; the
 * tests run it on every adapter).
 */
export function setGemmBuffers(n: 1 | 2): void {
  if (n !== 1 && n !== 2) throw new R1tsError(`webgpu gemm: ${n} panel buffers, expected 1 or 2`);
  buffersWanted = n;
}

/** Most rows of C the skinny kernel takes (m up to this, with B transposed; see the file's top). */
export const GEMV_MAX_ROWS = 8;
/** Columns of C per skinny workgroup, and its lanes. */
const GEMV_COLS = 4, GEMV_WG = 64;
let gemvOn = true;

/**
 * Whether products of at most GEMV_MAX_ROWS rows with B transposed take the skinny kernel (the
 * default) or the tiled one; bench:webgpu times decode both ways, and the tests run both.
 */
export function setGemv(on: boolean): void {
  gemvOn = on;
}

const fields: Fields = [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['sa', 'u32'], ['sb', 'u32'], ['sc', 'u32'], ['alpha', 'f32'], ['beta', 'f32'], ['g', 'u32']];

/** Where the range of an expert-range GEMM applies: none, the rows of A and C, or the sum over k; one expert or all (grouped). */
type RangeOn = 'none' | 'rows' | 'k' | 'rowsAll' | 'kAll';

/** How B is stored: f32, packed binary16 read with unpack2x16float, or binary16 through shader-f16. */
type BStore = 'f32' | 'f16pack' | 'f16';

/** WGSL: B's element j as f32, for each way B is stored. */
function readBWgsl(bStore: BStore, j: string): string {
  return bStore === 'f32' ? `b[${j}]` : bStore === 'f16' ? `f32(b[${j}])` : `unpack2x16float(b[(${j}) >> 1u])[(${j}) & 1u]`;
}

/** Workgroup-memory bytes of the tiled kernel's panels: `stages` copies of A's and B's (T/4 + 1 vec4s per k, BK deep). */
function panelBytes(tile: GemmTile, stages: 1 | 2): number {
  return stages * 2 * (1024 / tile) * (tile / 4 + 1) * 16;
}

function gemmWgsl(transA: boolean, transB: boolean, hasBeta: boolean, hasBias: boolean, bStore: BStore = 'f32', range: RangeOn = 'none', tile: GemmTile = 64, stages: 1 | 2 = 2): string {
  // A T×T block of C per 16×16 workgroup, R×R per thread (G groups of 4 rows and of 4 columns);
  // panels BK deep of T values each (BK·T = 1024), stored as vec4s of 4 rows (or columns), Q per k.
  const T = tile, R = tile / 16, G = R / 4, bk = 1024 / tile, Q = T / 4 + 1, P = bk * Q;
  const readB = (j: string) => readBWgsl(bStore, j);
  const xyzw = 'xyzw';
  const unroll = (n: number, f: (i: number) => string, sep = '\n    ') => Array.from({ length: n }, (_, i) => f(i)).join(sep);
  // Panel loads: each thread fetches 4 consecutive rows of A (columns of B) at one k and stores
  // them as one vec4. Where k is A's (B's) contiguous index, the threads of a warp take consecutive
  // k of 32-byte runs; where m (n) is, consecutive quads: either way contiguous reads.
  const split = (contiguousK: boolean) => contiguousK ? `let kk = t % ${bk}u; let j = t / ${bk}u;` : `let kk = t / ${T / 4}u; let j = t % ${T / 4}u;`;
  const quad = (v: string, first: string, end: string, at: (i: number) => string) =>
    unroll(4, (i) => `if (${first} + ${i}u < ${end} && gk < kEnd) { ${v}.${xyzw[i]} = ${at(i)}; }`, ' ');
  const fetch = `{ ${split(!transA)} let gk = kn + kk; let gr = m0 + 4u * j; pa = vec4<f32>(0.0);
      ${quad('pa', 'gr', 'mEnd', (i) => `a[aOff + ${transA ? `gk * p.M + gr + ${i}u` : `(gr + ${i}u) * p.K + gk`}]`)} }
    { ${split(transB)} let gk = kn + kk; let gc = n0 + 4u * j; pb = vec4<f32>(0.0);
      ${quad('pb', 'gc', 'p.N', (i) => readB(transB ? `bOff + (gc + ${i}u) * p.K + gk` : `bOff + gk * p.N + gc + ${i}u`))} }`;
  const store = `{ ${split(!transA)} As[st + kk * ${Q}u + j] = pa; }
      { ${split(transB)} Bs[st + kk * ${Q}u + j] = pb; }`;
  // One k of the panel: the thread's rows g·64 + 4·ty + i and columns h·64 + 4·tx + j, read as vec4s.
  const step = `for (var kk = 0u; kk < ${bk}u; kk = kk + 1u) {
      let ka = st + kk * ${Q}u;
      ${unroll(G, (g) => `let a${g} = As[ka + ${g * 16}u + ty];`, ' ')}
      ${unroll(G, (h) => `let b${h} = Bs[ka + ${h * 16}u + tx];`, ' ')}
      ${unroll(R, (r) => unroll(G, (h) => `c${r}_${h} = fma(vec4<f32>(a${r >> 2}.${xyzw[r & 3]}), b${h}, c${r}_${h});`, ' '), '\n      ')}
    }`;
  // The expert's range [start, end) of ranges (i32 pairs), uniform across the workgroup: expert p.g,
  // or (grouped 'k') the grid's z.
  const rangeLoad = (g: string) => `if (t == 0u) { rangeWg = vec2<u32>(u32(ranges[2u * ${g}]), u32(ranges[2u * ${g} + 1u])); }
  let rr = workgroupUniformLoad(&rangeWg);`;
  // Grouped 'rows': (the expert of this row tile, its range's end): the first expert whose range
  // ends past the tile's first row (ends never decrease), if its range starts at or before that
  // row; else (a gap, or past the last range) end 0, and the tile exits.
  const tileExpert = `if (t == 0u) {
    let r0 = wid.y * ${T}u;
    var lo = 0u; var hi = p.g;
    while (lo < hi) {
      let mid = (lo + hi) / 2u;
      if (r0 < u32(ranges[2u * mid + 1u])) { hi = mid; } else { lo = mid + 1u; }
    }
    var end = 0u;
    if (lo < p.g && u32(ranges[2u * lo]) <= r0) { end = u32(ranges[2u * lo + 1u]); }
    rangeWg = vec2<u32>(lo, end);
  }
  let rr = workgroupUniformLoad(&rangeWg);`;
  const bounds = range === 'rows' || range === 'rowsAll'
    ? `${range === 'rows' ? rangeLoad('p.g') : tileExpert}
  let m0 = ${range === 'rows' ? 'rr.x + ' : ''}wid.y * ${T}u; let mEnd = min(rr.y, p.M); let kStart = 0u; let kEnd = p.K;
  if (m0 >= mEnd) { return; }`
    : range === 'k' || range === 'kAll'
      ? `${rangeLoad(range === 'k' ? 'p.g' : 'wid.z')}
  let m0 = wid.y * ${T}u; let mEnd = p.M; let kStart = rr.x; let kEnd = min(rr.y, p.K);`
      : `let m0 = wid.y * ${T}u; let mEnd = p.M; let kStart = 0u; let kEnd = p.K;`;
  return `${bStore === 'f16' ? 'enable f16;\n' : ''}${uniformWgsl(fields)}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<${bStore === 'f32' ? 'f32' : bStore === 'f16' ? 'f16' : 'u32'}>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
${hasBias ? '@group(0) @binding(4) var<storage, read> bias: array<f32>;' : ''}
${range !== 'none' ? '@group(0) @binding(4) var<storage, read> ranges: array<i32>;\nvar<workgroup> rangeWg: vec2<u32>;' : ''}
var<workgroup> As: array<vec4<f32>, ${stages * P}>;
var<workgroup> Bs: array<vec4<f32>, ${stages * P}>;
// Columns col..col+3 of one row of C: alpha·v (+ beta·C) (+ bias), those inside C.
fn put(row: u32, col: u32, mEnd: u32, cOff: u32, v: vec4<f32>) {
  if (row >= mEnd) { return; }
  for (var j = 0u; j < 4u; j = j + 1u) {
    if (col + j < p.N) {
      let o = cOff + row * p.N + col + j;
      var x = p.alpha * v[j];
      ${hasBeta ? 'x = x + p.beta * c[o];' : ''}
      ${hasBias ? 'x = x + bias[col + j];' : ''}
      c[o] = x;
    }
  }
}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x; let ty = lid.y; let t = ty * 16u + tx;
  ${bounds}
  let n0 = wid.x * ${T}u; let bi = wid.z;
  let aOff = bi * p.sa; let bOff = ${range === 'rowsAll' ? 'rr.x' : 'bi'} * p.sb; let cOff = bi * p.sc;
  ${unroll(R, (r) => unroll(G, (h) => `var c${r}_${h} = vec4<f32>(0.0);`, ' '), '\n  ')}
  var pa = vec4<f32>(0.0); var pb = vec4<f32>(0.0);
  // The first panel, then per step: fetch the next panel into registers, multiply the current
  // one, store the next ${stages === 2 ? 'into the other buffer (one barrier per step)' : 'after a barrier (one buffer, two barriers)'}.
  var kn = kStart;
  ${fetch}
  {
    let st = 0u;
    ${store}
  }
  workgroupBarrier();
  var cur = 0u;
  for (var k0 = kStart; k0 < kEnd; k0 = k0 + ${bk}u) {
    kn = k0 + ${bk}u;
    let more = kn < kEnd;
    if (more) {
    ${fetch}
    }
    {
    let st = cur * ${P}u;
    ${step}
    }
    ${stages === 1 ? 'workgroupBarrier();' : ''}
    if (more) {
      let st = ${stages === 2 ? `(1u - cur) * ${P}u` : '0u'};
      ${store}
    }
    workgroupBarrier();
    ${stages === 2 ? 'cur = 1u - cur;' : ''}
  }
  ${unroll(R, (r) => unroll(G, (h) => `put(m0 + ${(r >> 2) * 64 + (r & 3)}u + 4u * ty, n0 + ${h * 64}u + 4u * tx, mEnd, cOff, c${r}_${h});`, ' '), '\n  ')}
}
`;
}

/** The skinny kernel (see the file's top): all R = m rows of GEMV_COLS columns of C per workgroup, B transposed ([n, k]). */
function gemvWgsl(R: number, hasBeta: boolean, hasBias: boolean, bStore: BStore): string {
  const NC = GEMV_COLS, W = GEMV_WG, V = R * NC;
  const readB = (j: string) => readBWgsl(bStore, j);
  return `${bStore === 'f16' ? 'enable f16;\n' : ''}${uniformWgsl(fields)}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<${bStore === 'f32' ? 'f32' : bStore === 'f16' ? 'f16' : 'u32'}>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
${hasBias ? '@group(0) @binding(4) var<storage, read> bias: array<f32>;' : ''}
var<workgroup> red: array<f32, ${V * W}>;
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>) {
  let lid = lidv.x;
  let n0 = wid.x * ${NC}u; let bi = wid.z;
  let aOff = bi * p.sa; let bOff = bi * p.sb; let cOff = bi * p.sc;
  var acc: array<f32, ${V}>;
  for (var k = lid; k < p.K; k = k + ${W}u) {
    var bv: array<f32, ${NC}>;
    // Columns past n read B's last row (discarded below).
    for (var q = 0u; q < ${NC}u; q = q + 1u) { let n = min(n0 + q, p.N - 1u); bv[q] = ${readB('bOff + n * p.K + k')}; }
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let av = a[aOff + r * p.K + k];
      for (var q = 0u; q < ${NC}u; q = q + 1u) { acc[r * ${NC}u + q] = fma(av, bv[q], acc[r * ${NC}u + q]); }
    }
  }
  for (var i = 0u; i < ${V}u; i = i + 1u) { red[i * ${W}u + lid] = acc[i]; }
  workgroupBarrier();
  for (var s = ${W / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      for (var i = 0u; i < ${V}u; i = i + 1u) { red[i * ${W}u + lid] = red[i * ${W}u + lid] + red[i * ${W}u + lid + s]; }
    }
    workgroupBarrier();
  }
  if (lid < ${V}u) {
    let r = lid / ${NC}u; let col = n0 + lid % ${NC}u;
    if (col < p.N) {
      let o = cOff + r * p.N + col;
      var v = p.alpha * red[lid * ${W}u];
      ${hasBeta ? 'v = v + p.beta * c[o];' : ''}
      ${hasBias ? 'v = v + bias[col];' : ''}
      c[o] = v;
    }
  }
}
`;
}

/**
 * GemmParams with the bias on the device; bHalf: B holds binary16 values packed two per u32 word
 * (packF16's output; strideB and the layout count f16 elements, as for f32).
 */
export type GpuGemmParams = Omit<GemmParams, 'bias'> & {
  bias: GpuTensor | null;
  bHalf?: boolean;
  /**
   * An expert range (see the file's top): ranges holds i32 [start, end) pairs, `expert` picks one.
   * `on: 'rows'`: only those rows of A and C (m counts all their rows; A not transposed), with
   * grid tiles for `maxRows` rows from the start. `on: 'k'`: the sum over k only over the range
   * (k counts all the rows of A and B). Ends past m (or k) are clamped. No bias.
   * Grouped, `experts: E` instead of `expert`: every expert in one dispatch. 'rows': batch 1, B a
   * stack of E matrices strideB elements apart (expert e's is at e·strideB), grid tiles for
   * maxRows rows in all; each range must start on a multiple of 64 rows (as the plan's do), since
   * a 64-row tile takes the expert of its first row. 'k': batch E (one per expert), strideA = strideB = 0, C a stack strideC apart.
   */
  range?: { ranges: GpuTensor; on: 'rows' | 'k'; maxRows?: number } & ({ expert: number; experts?: undefined } | { experts: number; expert?: undefined });
};

/** True when this device can declare array<f16> (opened with shader-f16); else f16 B is read with unpack2x16float. */
export function deviceHasF16(ctx: GpuContext): boolean {
  return ctx.device.features.has('shader-f16');
}

export function gemm(ctx: GpuContext, a: GpuTensor, b: GpuTensor, c: GpuTensor, p: GpuGemmParams): void {
  const { batch, m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC, bias } = p;
  const half = p.bHalf === true;
  const range = p.range;
  const grouped = range?.experts !== undefined;
  sizes('gemm', { batch, m, n, k, strideA, strideB, strideC });
  if (batch > 65535) throw new R1tsError(`webgpu gemm: batch ${batch} exceeds 65535 (one workgroup row per item)`);
  if (range) {
    const E = range.experts ?? 0;
    if (bias) throw new R1tsError('webgpu gemm: an expert range takes no bias');
    if (range.on === 'rows' && transA) throw new R1tsError('webgpu gemm: a row range needs A not transposed');
    if (!grouped && batch !== 1) throw new R1tsError(`webgpu gemm: a one-expert range needs batch 1 (got ${batch})`);
    if (grouped) {
      sizes('gemm', { experts: E });
      if (E < 1) throw new R1tsError('webgpu gemm: a grouped range needs at least one expert');
      if (range.on === 'rows' && batch !== 1) throw new R1tsError(`webgpu gemm: a grouped row range needs batch 1 (the experts' B are strideB apart); got batch ${batch}`);
      if (range.on === 'k' && (batch !== E || strideA !== 0 || strideB !== 0)) throw new R1tsError(`webgpu gemm: a grouped k range needs batch = ${E} experts and strideA = strideB = 0; got batch ${batch}, strides ${strideA}, ${strideB}`);
      if (range.on === 'rows' && half && strideB % 2 !== 0) throw new R1tsError(`webgpu gemm: f16 expert weights must start on whole words: strideB ${strideB} is odd`);
    } else sizes('gemm', { expert: range.expert! });
    sizes('gemm', { maxRows: range.maxRows ?? m });
    need('gemm', 'ranges', range.ranges, 2 * (grouped ? E : range.expert! + 1), 'i32');
  }
  if (batch === 0 || m === 0 || n === 0) return;
  const last = (s: number, len: number) => (batch - 1) * s + len;
  // A grouped row range reads E stacked B matrices.
  const bCount = grouped && range!.on === 'rows' ? (range!.experts! - 1) * strideB + k * n : last(strideB, k * n);
  need('gemm', 'A', a, last(strideA, m * k));
  if (half) {
    const words = Math.ceil(bCount / 2);
    if (b.dtype !== 'u32' || b.size < words) throw new R1tsError(`webgpu gemm: an f16 B must be packed binary16 (u32 words, packF16) with at least ${words} words; got ${b.dtype} [${b.shape.join(', ')}]`);
  } else need('gemm', 'B', b, bCount);
  need('gemm', 'C', c, last(strideC, m * n));
  if (bias) need('gemm', 'bias', bias, n);
  if (a.buffer === c.buffer || b.buffer === c.buffer) throw new R1tsError('webgpu gemm: C may not alias A or B');
  const hasBeta = beta !== 0, hasBias = bias !== null;
  const bStore: BStore = !half ? 'f32' : deviceHasF16(ctx) ? 'f16' : 'f16pack';
  const on: RangeOn = !range ? 'none' : grouped ? (range.on === 'rows' ? 'rowsAll' : 'kAll') : range.on;
  if (gemvOn && on === 'none' && !transA && transB && m <= GEMV_MAX_ROWS && Math.ceil(n / GEMV_COLS) <= 65535) {
    ctx.dispatch({
      key: `gemv:${m}${+hasBeta}${+hasBias}${bStore === 'f32' ? '' : `:${bStore}`}`,
      wgsl: () => gemvWgsl(m, hasBeta, hasBias, bStore),
      buffers: bias ? [a, b, c, bias] : [a, b, c],
      uniforms: packUniforms(fields, { M: m, N: n, K: k, sa: strideA, sb: strideB, sc: strideC, alpha, beta, g: 0 }),
      groups: [Math.ceil(n / GEMV_COLS), 1, batch],
    });
    return;
  }
  // A grouped row range keeps the plan's 64-row tile (see the file's top).
  const tile = on === 'rowsAll' ? 64 : tileInUse;
  const rowsSpan = range?.on === 'rows' ? Math.min(range.maxRows ?? m, m) : m;
  // Two panel buffers where the device's workgroup memory holds them (16 bytes spare for the range), else one.
  const stages = buffersWanted === 2 && panelBytes(tile, 2) + 16 <= ctx.limits.maxComputeWorkgroupStorageSize ? 2 : 1;
  ctx.dispatch({
    key: `gemm:${+transA}${+transB}${+hasBeta}${+hasBias}${bStore === 'f32' ? '' : `:${bStore}`}${on === 'none' ? '' : `:${on}`}${tile === 64 ? '' : `:t${tile}`}${stages === 2 ? '' : ':s1'}`,
    wgsl: () => gemmWgsl(transA, transB, hasBeta, hasBias, bStore, on, tile, stages),
    buffers: range ? [a, b, c, range.ranges] : bias ? [a, b, c, bias] : [a, b, c],
    uniforms: packUniforms(fields, { M: m, N: n, K: k, sa: strideA, sb: strideB, sc: strideC, alpha, beta, g: range ? (grouped ? range.experts! : range.expert!) : 0 }),
    groups: [Math.ceil(n / tile), Math.ceil(rowsSpan / tile), batch],
  });
}

const packFields: Fields = [['n', 'u32'], ['words', 'u32']];

/**
 * x (f32, n values) → out: binary16 values packed two per u32 word (ceil(n/2) words; an odd
 * tail's high half is 0), rounded by pack2x16float (the GPU's f32→f16 conversion). B of an f16 gemm.
 */
export function packF16(ctx: GpuContext, x: GpuTensor, out: GpuTensor, n: number): void {
  sizes('packF16', { n });
  const words = Math.ceil(n / 2);
  need('packF16', 'x', x, n);
  if (out.dtype !== 'u32' || out.size < words) throw new R1tsError(`webgpu packF16: out must be u32 with at least ${words} words; got ${out.dtype} [${out.shape.join(', ')}]`);
  if (words === 0) return;
  ctx.dispatch({
    key: 'packF16',
    wgsl: () => `${uniformWgsl(packFields)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}
  if (i >= p.words) { return; }
  let j = 2u * i;
  var hi = 0.0;
  if (j + 1u < p.n) { hi = x[j + 1u]; }
  o[i] = pack2x16float(vec2<f32>(x[j], hi));
}`,
    buffers: [x, out],
    uniforms: packUniforms(packFields, { n, words }),
    groups: grid(words, WG),
  });
}
