// Row kernels in WGSL, counterparts of Kernels.reduce, .softmax, .logSoftmax and their
// backwards, .rmsnorm (+ backward) and .crossEntropy (+ backward), same arguments and
// layouts. One 64-lane workgroup per row reduces through workgroup memory (f32; the
// reference accumulates in double). Column-wise sums (reduce's inner axis, rmsnorm's dw)
// give each output element one thread that walks the reduced axis in order.
// Targets outside [0, V) other than ignoreIndex are recorded in the status word (the
// next read() throws RangeError) and that row gets loss 0 / gradient 0.

import type { ReduceOp } from '../kernels.ts';
import { R1tsError } from '../../core/errors.ts';
import { ROW_WG, WG, grid, linearIndex, need, packUniforms, rowIndex, sizes, statusWgsl, uniformWgsl, workgroupReduce, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

const rowHead = `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${rowIndex}
  let lid = lidv.x;
  if (row >= p.rows) { return; }
  let off = row * p.cols;`;

const rcFields: Fields = [['rows', 'u32'], ['cols', 'u32'], ['eps', 'f32'], ['ignore', 'i32']];

function decls(ins: string[], outs: string[], extra = ''): string {
  return [...ins.map((n, k) => `@group(0) @binding(${k + 1}) var<storage, read> ${n};`),
    ...outs.map((n, k) => `@group(0) @binding(${ins.length + k + 1}) var<storage, read_write> ${n};`)].join('\n') + extra;
}

/** WGSL: max of x over the row (strided over lanes) and the row's log-sum-exp. */
const rowLse = `
  var mx = bitcast<f32>(0xff7fffffu); // -FLT_MAX
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { mx = max(mx, x[off + j]); }
  mx = wgMax(mx, lid);
  var s = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { s = s + exp(x[off + j] - mx); }
  let lse = mx + log(wgSum(s, lid));`;

// Workgroup arrays of the sampling kernel (sampleRows, below).
const samplingWgsl = `
var<workgroup> sIdx: array<u32, ${ROW_WG}>;
var<workgroup> scan: array<f32, ${ROW_WG}>;
var<workgroup> cum: array<f32, ${ROW_WG}>;
var<workgroup> pick: array<u32, 1>;
var<workgroup> modeWg: u32;
var<workgroup> doneWg: u32;
var<workgroup> nWg: u32;
var<workgroup> nCand: atomic<u32>;
var<workgroup> keys: array<f32, 1024>;
var<workgroup> cand: array<u32, 1024>;
var<workgroup> flagsWg: u32;
var<workgroup> valueWg: u32;
var<workgroup> tieWg: vec2<u32>;
var<workgroup> tieIdWg: u32;
// The sorted mode past SAMPLE_CAP candidates searches the sorted order instead of sorting it. A
// prefix of that order (p descending, id ascending) is a boundary (bv, bi): the tokens with
// q > bv, or q == bv and id <= bi (bi = 0xffffffff: all of q == bv).
var<private> qM: f32;
var<private> qT: f32;
var<private> qOff: u32;
fn qOf(j: u32) -> f32 { return exp((x[qOff + j] - qM) / qT); }
fn inPrefix(q: f32, j: u32, bv: f32, bi: u32) -> bool { return q > bv || (q == bv && j <= bi); }
// (mass, count) of the prefix's tokens with q > v (strict) or q >= v.
fn above(v: f32, strict: bool, bv: f32, bi: u32, lid: u32) -> vec2<f32> {
  var m = 0.0;
  var c = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) {
    let q = qOf(j);
    if ((q > v || (!strict && q == v)) && inPrefix(q, j, bv, bi)) { m = m + q; c = c + 1.0; }
  }
  return vec2<f32>(wgSum(m, lid), wgSum(c, lid));
}
// The mass (byCount: the count) of the prefix's tokens with q >= v: one reduction.
fn atLeast(v: f32, byCount: bool, bv: f32, bi: u32, lid: u32) -> f32 {
  var m = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) {
    let q = qOf(j);
    if (q >= v && inPrefix(q, j, bv, bi)) { m = m + select(q, 1.0, byCount); }
  }
  return wgSum(m, lid);
}
// The largest v in [0, 1] (its f32 bits) for which the prefix's tokens with q >= v hold mass
// (byCount: a count) >= goal (strictGoal: > goal), by bisection over the bits (q >= 0, so its
// bits order as its values); 0xffffffff when not even v = 0 does (rounding). That v is some
// token's q: the mass and the count change only there. Uniform across the workgroup.
fn largestValue(byCount: bool, goal: f32, strictGoal: bool, bv: f32, bi: u32, lid: u32) -> u32 {
  let a0 = atLeast(0.0, byCount, bv, bi, lid);
  let ok0 = a0 > goal || (!strictGoal && a0 == goal);
  var lo = 0u;
  var hi = 0x3f800001u; // bits(1) + 1: hi - lo < 2^30
  for (var it = 0u; it < 30u; it = it + 1u) {
    let mid = (lo + hi) >> 1u;
    let g = atLeast(bitcast<f32>(mid), byCount, bv, bi, lid);
    let ok = g > goal || (!strictGoal && g == goal);
    lo = select(lo, mid, ok);
    hi = select(mid, hi, ok);
  }
  if (lid == 0u) { valueWg = select(0xffffffffu, lo, ok0); }
  return workgroupUniformLoad(&valueWg);
}
// The id of the r-th (from 1; clamped to [1, ties]) token of the prefix with q == v, in id order:
// each lane counts its contiguous chunk, one lane finds the chunk, and that lane walks it.
fn nthTie(v: f32, r: u32, bv: f32, bi: u32, lid: u32) -> u32 {
  let chunk = (p.cols + ${ROW_WG - 1}u) / ${ROW_WG}u;
  let lo = min(lid * chunk, p.cols);
  let hi = min(lo + chunk, p.cols);
  var c = 0u;
  for (var j = lo; j < hi; j = j + 1u) { let q = qOf(j); if (q == v && inPrefix(q, j, bv, bi)) { c = c + 1u; } }
  sIdx[lid] = c;
  workgroupBarrier();
  if (lid == 0u) {
    var acc = 0u;
    var at = vec2<u32>(0u, 0u);
    let want = max(r, 1u);
    for (var l = 0u; l < ${ROW_WG}u; l = l + 1u) {
      let n = sIdx[l];
      if (n > 0u && (at.y == 0u || acc < want)) { at = vec2<u32>(l, min(want - acc, n)); }
      acc = acc + n;
    }
    tieWg = at;
    tieIdWg = 0xffffffffu; // no such tie (not reached: v is a kept token's q)
  }
  let t = workgroupUniformLoad(&tieWg);
  if (lid == t.x) {
    var k = 0u;
    for (var j = lo; j < hi; j = j + 1u) {
      let q = qOf(j);
      if (q == v && inPrefix(q, j, bv, bi)) { k = k + 1u; if (k == t.y) { tieIdWg = j; break; } }
    }
  }
  return workgroupUniformLoad(&tieIdWg);
}
// The fewest ties r (>= 1, at most ties) for which base + r·v reaches goal (>= goal; strictGoal: > goal),
// adding one v at a time as the host's walk does.
fn tiesNeeded(base: f32, v: f32, ties: f32, goal: f32, strictGoal: bool) -> u32 {
  var c = base;
  var r = 0u;
  loop {
    r = r + 1u;
    c = c + v;
    if (c > goal || (!strictGoal && c == goal) || f32(r) >= ties) { break; }
  }
  return r;
}
// The prefix's boundary at its token with q = v (bits vb) where mass (or count) reaches goal.
fn boundaryAt(vb: u32, byCount: bool, goal: f32, strictGoal: bool, bv: f32, bi: u32, lid: u32) -> u32 {
  let v = bitcast<f32>(vb);
  let gt = above(v, true, bv, bi, lid);
  let ties = above(v, false, bv, bi, lid).y - gt.y;
  let r = select(tiesNeeded(gt.x, v, ties, goal, strictGoal), u32(max(goal - gt.y, 1.0)), byCount);
  return nthTie(v, r, bv, bi, lid);
}`;

function rowDispatch(ctx: GpuContext, key: string, body: string, ins: [string, GpuTensor][], outs: [string, GpuTensor][], rows: number, cols: number, extra: { eps?: number; ignore?: number; status?: boolean; sampling?: boolean } = {}): void {
  sizes(key, { rows, cols });
  if (rows === 0) return;
  const n = ins.length + outs.length;
  ctx.dispatch({
    key,
    wgsl: () => `${uniformWgsl(rcFields)}${decls(ins.map(([d]) => d), outs.map(([d]) => d))}\n${extra.status ? statusWgsl(n + 1) : ''}${workgroupReduce}${extra.sampling ? samplingWgsl : ''}\n${rowHead}\n${body}\n}`,
    buffers: [...ins.map(([, t]) => t), ...outs.map(([, t]) => t)],
    uniforms: packUniforms(rcFields, { rows, cols, eps: extra.eps ?? 0, ignore: extra.ignore ?? 0 }),
    groups: grid(rows, 1),
    status: extra.status ?? false,
  });
}

const reduceFields: Fields = [['outer', 'u32'], ['r', 'u32'], ['inner', 'u32'], ['negInf', 'u32']];

/** x viewed as [outer, r, inner] → out [outer, inner]; one thread per output walks r. */
export function reduce(ctx: GpuContext, op: ReduceOp, x: GpuTensor, out: GpuTensor, outer: number, r: number, inner: number): void {
  sizes('reduce', { outer, r, inner });
  need('reduce', 'x', x, outer * r * inner); need('reduce', 'out', out, outer * inner);
  const n = outer * inner;
  const update = op === 'sum' ? 'acc = acc + v;' : 'if (v > acc || v != v) { acc = v; }';
  ctx.dispatch({
    key: `reduce:${op}`,
    wgsl: () => `${uniformWgsl(reduceFields)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}
  if (i >= p.outer * p.inner) { return; }
  let oi = i / p.inner; let j = i % p.inner;
  // max over an empty axis is -Infinity; the bits come from the uniform (WGSL constants may not be infinite).
  var acc = ${op === 'sum' ? '0.0' : 'bitcast<f32>(p.negInf)'};
  for (var k = 0u; k < p.r; k = k + 1u) { let v = x[(oi * p.r + k) * p.inner + j]; ${update} }
  o[i] = acc;
}`,
    buffers: [x, out],
    uniforms: packUniforms(reduceFields, { outer, r, inner, negInf: 0xff800000 }),
    groups: grid(n, WG),
  });
}

export function softmax(ctx: GpuContext, x: GpuTensor, out: GpuTensor, rows: number, cols: number): void {
  need('softmax', 'x', x, rows * cols); need('softmax', 'out', out, rows * cols);
  rowDispatch(ctx, 'softmax', `${rowLse}
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { o[off + j] = exp(x[off + j] - lse); }`, [['x: array<f32>', x]], [['o: array<f32>', out]], rows, cols);
}

export function logSoftmax(ctx: GpuContext, x: GpuTensor, out: GpuTensor, rows: number, cols: number): void {
  need('logSoftmax', 'x', x, rows * cols); need('logSoftmax', 'out', out, rows * cols);
  rowDispatch(ctx, 'logSoftmax', `${rowLse}
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { o[off + j] = x[off + j] - lse; }`, [['x: array<f32>', x]], [['o: array<f32>', out]], rows, cols);
}

export function softmaxBackward(ctx: GpuContext, y: GpuTensor, dy: GpuTensor, dx: GpuTensor, rows: number, cols: number): void {
  for (const [k, t] of [['y', y], ['dy', dy], ['dx', dx]] as const) need('softmaxBackward', k, t, rows * cols);
  rowDispatch(ctx, 'softmaxBackward', `
  var d = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { d = d + dy[off + j] * y[off + j]; }
  let dot = wgSum(d, lid);
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { dx[off + j] = y[off + j] * (dy[off + j] - dot); }`,
  [['y: array<f32>', y], ['dy: array<f32>', dy]], [['dx: array<f32>', dx]], rows, cols);
}

export function logSoftmaxBackward(ctx: GpuContext, y: GpuTensor, dy: GpuTensor, dx: GpuTensor, rows: number, cols: number): void {
  for (const [k, t] of [['y', y], ['dy', dy], ['dx', dx]] as const) need('logSoftmaxBackward', k, t, rows * cols);
  rowDispatch(ctx, 'logSoftmaxBackward', `
  var d = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { d = d + dy[off + j]; }
  let s = wgSum(d, lid);
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { dx[off + j] = dy[off + j] - exp(y[off + j]) * s; }`,
  [['y: array<f32>', y], ['dy: array<f32>', dy]], [['dx: array<f32>', dx]], rows, cols);
}

export function rmsnorm(ctx: GpuContext, x: GpuTensor, w: GpuTensor, out: GpuTensor, rstd: GpuTensor, rows: number, cols: number, eps: number): void {
  need('rmsnorm', 'x', x, rows * cols); need('rmsnorm', 'w', w, cols); need('rmsnorm', 'out', out, rows * cols); need('rmsnorm', 'rstd', rstd, rows);
  rowDispatch(ctx, 'rmsnorm', `
  var ss = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { let v = x[off + j]; ss = ss + v * v; }
  let rs = 1.0 / sqrt(wgSum(ss, lid) / f32(p.cols) + p.eps);
  if (lid == 0u) { rstd[row] = rs; }
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { o[off + j] = x[off + j] * rs * w[j]; }`,
  [['x: array<f32>', x], ['w: array<f32>', w]], [['o: array<f32>', out], ['rstd: array<f32>', rstd]], rows, cols, { eps });
}

/** dx by rows (one workgroup each), then dw by columns (one thread each, rows in order). */
export function rmsnormBackward(ctx: GpuContext, x: GpuTensor, w: GpuTensor, rstd: GpuTensor, dy: GpuTensor, dx: GpuTensor, dw: GpuTensor, rows: number, cols: number): void {
  for (const [k, t] of [['x', x], ['dy', dy], ['dx', dx]] as const) need('rmsnormBackward', k, t, rows * cols);
  need('rmsnormBackward', 'w', w, cols); need('rmsnormBackward', 'dw', dw, cols); need('rmsnormBackward', 'rstd', rstd, rows);
  rowDispatch(ctx, 'rmsnormBackward:dx', `
  let rs = rstd[row];
  var d = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { d = d + dy[off + j] * w[j] * x[off + j]; }
  let c = wgSum(d, lid) * rs * rs * rs / f32(p.cols);
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { dx[off + j] = rs * w[j] * dy[off + j] - x[off + j] * c; }`,
  [['x: array<f32>', x], ['w: array<f32>', w], ['rstd: array<f32>', rstd], ['dy: array<f32>', dy]], [['dx: array<f32>', dx]], rows, cols);
  if (cols === 0) return;
  ctx.dispatch({
    key: 'rmsnormBackward:dw',
    wgsl: () => `${uniformWgsl(rcFields)}${decls(['x: array<f32>', 'rstd: array<f32>', 'dy: array<f32>'], ['dw: array<f32>'])}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}
  if (i >= p.cols) { return; }
  var acc = 0.0;
  for (var r = 0u; r < p.rows; r = r + 1u) { acc = acc + dy[r * p.cols + i] * x[r * p.cols + i] * rstd[r]; }
  dw[i] = acc;
}`,
    buffers: [x, rstd, dy, dw],
    uniforms: packUniforms(rcFields, { rows, cols, eps: 0, ignore: 0 }),
    groups: grid(cols, WG),
  });
}

/** loss[r] = lse[r] - logits[r, t]; lse always written; ignored rows get loss 0. */
export function crossEntropy(ctx: GpuContext, logits: GpuTensor, targets: GpuTensor, loss: GpuTensor, lse: GpuTensor, rows: number, V: number, ignoreIndex: number): void {
  need('crossEntropy', 'logits', logits, rows * V); need('crossEntropy', 'targets', targets, rows, 'i32');
  need('crossEntropy', 'loss', loss, rows); need('crossEntropy', 'lse', lse, rows);
  rowDispatch(ctx, 'crossEntropy', `${rowLse}
  if (lid == 0u) {
    lse_[row] = lse;
    let t = tg[row];
    var l = 0.0;
    if (t != p.ignore) {
      if (t < 0 || u32(t) >= p.cols) { flagBad(4u, row, t); } else { l = lse - x[off + u32(t)]; }
    }
    loss[row] = l;
  }`, [['x: array<f32>', logits], ['tg: array<i32>', targets]], [['loss: array<f32>', loss], ['lse_: array<f32>', lse]], rows, V, { ignore: ignoreIndex, status: true });
}

/** dlogits[r] = (softmax(logits[r]) - onehot(t)) · dloss[r], one thread per element. */
export function crossEntropyBackward(ctx: GpuContext, logits: GpuTensor, targets: GpuTensor, lse: GpuTensor, dloss: GpuTensor, dlogits: GpuTensor, rows: number, V: number, ignoreIndex: number): void {
  sizes('crossEntropyBackward', { rows, V });
  need('crossEntropyBackward', 'logits', logits, rows * V); need('crossEntropyBackward', 'targets', targets, rows, 'i32');
  need('crossEntropyBackward', 'lse', lse, rows); need('crossEntropyBackward', 'dloss', dloss, rows); need('crossEntropyBackward', 'dlogits', dlogits, rows * V);
  const n = rows * V;
  if (n === 0) return;
  ctx.dispatch({
    key: 'crossEntropyBackward',
    wgsl: () => `${uniformWgsl(rcFields)}${decls(['x: array<f32>', 'tg: array<i32>', 'lse: array<f32>', 'dl: array<f32>'], ['dx: array<f32>'])}
${statusWgsl(6)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols; let j = i % p.cols;
  let t = tg[r];
  var v = 0.0;
  if (t != p.ignore) {
    if (t < 0 || u32(t) >= p.cols) {
      if (j == 0u) { flagBad(5u, r, t); }
    } else {
      let g = dl[r];
      v = exp(x[i] - lse[r]) * g;
      if (u32(t) == j) { v = v - g; }
    }
  }
  dx[i] = v;
}`,
    buffers: [logits, targets, lse, dloss, dlogits],
    uniforms: packUniforms(rcFields, { rows, cols: V, eps: 0, ignore: ignoreIndex }),
    groups: grid(n, WG),
    status: true,
  });
}

const topkFields: Fields = [['rows', 'u32'], ['cols', 'u32'], ['k', 'u32']];

/**
 * Per row of x [rows, cols]: the k largest values in descending order and their indices (ties:
 * lower index first), as Kernels.topk. One workgroup per row runs k rounds; each round every lane
 * finds its best column among those ordered after the previous pick, and a workgroup argmax
 * (value, then lower index) picks the next. O(k·cols/64) per row: meant for small k (sampling, MoE).
 */
export function topk(ctx: GpuContext, x: GpuTensor, values: GpuTensor, indices: GpuTensor, rows: number, cols: number, k: number): void {
  sizes('topk', { rows, cols, k });
  if (k > cols) throw new R1tsError(`webgpu topk: k = ${k} exceeds cols = ${cols}`);
  need('topk', 'x', x, rows * cols); need('topk', 'values', values, rows * k); need('topk', 'indices', indices, rows * k, 'i32');
  if (rows === 0 || k === 0) return;
  ctx.dispatch({
    key: 'topk',
    wgsl: () => `${uniformWgsl(topkFields)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> vals: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;
var<workgroup> rv: array<f32, ${ROW_WG}>;
var<workgroup> ri: array<u32, ${ROW_WG}>;
fn better(v: f32, i: u32, w: f32, j: u32) -> bool { return v > w || (v == w && i < j); }
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${rowIndex}
  let lid = lidv.x;
  if (row >= p.rows) { return; }
  let off = row * p.cols;
  let none = 0xffffffffu;
  // The previous pick (pv, pi); a candidate must come after it in the order (value desc, index asc).
  var pv = 0.0; var pi = none;
  for (var r = 0u; r < p.k; r = r + 1u) {
    var bv = 0.0; var bi = none;
    for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) {
      let v = x[off + j];
      let after = pi == none || better(pv, pi, v, j);
      if (after && (bi == none || better(v, j, bv, bi))) { bv = v; bi = j; }
    }
    rv[lid] = bv; ri[lid] = bi;
    workgroupBarrier();
    for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
      if (lid < s) {
        let oi = ri[lid + s];
        if (oi != none && (ri[lid] == none || better(rv[lid + s], oi, rv[lid], ri[lid]))) { rv[lid] = rv[lid + s]; ri[lid] = oi; }
      }
      workgroupBarrier();
    }
    // Every lane carries the pick into the next round (an unconditional use: see workgroupReduce in common.ts).
    pv = rv[0]; pi = ri[0];
    workgroupBarrier();
    if (lid == 0u) { vals[row * p.k + r] = pv; idx[row * p.k + r] = i32(pi); }
  }
}`,
    buffers: [x, values, indices],
    uniforms: packUniforms(topkFields, { rows, cols, k }),
    groups: grid(rows, 1),
  });
}


/**
 * Per row of logits [rows, cols] and its sampled token (picked [rows, 2] as sampleRows writes it):
 * out [rows, 2] = (the row's log-sum-exp, the token's logit), so that logit − lse is the token's raw
 * log-probability (the host's rawLogprobs). A token outside [0, cols) gets logit 0.
 */
export function tokenLse(ctx: GpuContext, logits: GpuTensor, picked: GpuTensor, out: GpuTensor, rows: number, cols: number): void {
  sizes('tokenLse', { rows, cols });
  need('tokenLse', 'logits', logits, rows * cols); need('tokenLse', 'picked', picked, rows * 2); need('tokenLse', 'out', out, rows * 2);
  rowDispatch(ctx, 'tokenLse', `${rowLse}
  if (lid == 0u) {
    let tok = u32(max(pk[row * 2u], 0.0));
    var xt = 0.0;
    if (tok < p.cols) { xt = x[off + tok]; }
    o[row * 2u] = lse;
    o[row * 2u + 1u] = xt;
  }`, [['x: array<f32>', logits], ['pk: array<f32>', picked]], [['o: array<f32>', out]], rows, cols);
}

/** Sampling modes of sampleRows, per row (the host's sampler, src/engine/sampling.ts, decides the same way). */
export const SAMPLE_GREEDY = 0, SAMPLE_PLAIN = 1, SAMPLE_MIN_P = 2, SAMPLE_SORTED = 3;
/** Most candidates the sorted mode sorts in workgroup memory; past it, it searches the sorted order by bisection. */
export const SAMPLE_CAP = 1024;
/** Floats per row of sampleRows' params: mode, temperature, top-k, top-p, min-p, the host's uniform. */
export const SAMPLE_PARAMS = 6;

/**
 * Next-token sampling on the device, one row of logits per sequence, as the host's sampler does it
 * (src/engine/sampling.ts), with the uniform the host drew from the sequence's Rng:
 * params [rows, 6] = (mode, T, topK, topP, minP, u) → out [rows, 2] = (token as f32, exact below
 * 2^24; logprob = log softmax(logits / T) at the token over the whole row, T = 1 when greedy).
 * Modes (made uniform per workgroup, so each takes only its own barriers):
 *   greedy   the first maximum.
 *   plain    inverse CDF over the whole row in index order; min-p alone: over {p >= minP·max}
 *            (p relative to the maximum), also in index order. Each lane owns a contiguous chunk;
 *            the running sum of the chunk masses over the lanes (one lane adds them, in order)
 *            gives each lane an interval [excl, incl) of the cumulative mass, and the one lane
 *            whose interval holds u·total (or the last with mass, when rounding pushed u·total
 *            to the total) walks its chunk.
 *   sorted   top-k and/or top-p (and min-p after them): the host's threshold search (τ = 2^-e,
 *            e = 1, 2, 3, 5, 8, … until {p >= τ} holds k tokens or topP of the mass), the
 *            candidates {p >= τ} collected and bitonic-sorted by (p descending, id ascending) in
 *            workgroup memory, then one lane keeps the prefix and walks it with u·(kept mass).
 *            More than SAMPLE_CAP candidates (a flat row of a large vocabulary): no sort. Each
 *            cut is a boundary of the sorted order, found by bisecting q over its f32 bits (30
 *            passes of "mass, or count, of the kept tokens with q >= v"), then the tie at that q
 *            that is reached first in id order (helpers above: largestValue, boundaryAt): top-k's
 *            k-th token, top-p's first token where the kept mass reaches topP of theirs, min-p's
 *            q >= minP, and the walk's first token past u·(kept mass). About 100 passes over the
 *            row instead of a sort; the same tokens as the sort would give.
 * Probabilities are f32 where the host's are double, so a token can differ only where u (or a
 * truncation boundary) falls within rounding.
 */
export function sampleRows(ctx: GpuContext, logits: GpuTensor, params: GpuTensor, out: GpuTensor, rows: number, cols: number): void {
  need('sampleRows', 'logits', logits, rows * cols); need('sampleRows', 'params', params, SAMPLE_PARAMS * rows); need('sampleRows', 'out', out, 2 * rows);
  if (cols >= 1 << 24) throw new R1tsError(`webgpu sampleRows: a vocabulary of ${cols} ids does not fit the f32 token slot (< 2^24)`);
  rowDispatch(ctx, 'sampleRows', `
  let pr = row * ${SAMPLE_PARAMS}u;
  if (lid == 0u) { modeWg = u32(prm[pr]); }
  let mode = workgroupUniformLoad(&modeWg);
  let T = prm[pr + 1u];
  let topK = u32(prm[pr + 2u]);
  let topP = prm[pr + 3u];
  let minP = prm[pr + 4u];
  let u = prm[pr + 5u];
  let Tt = select(T, 1.0, mode == ${SAMPLE_GREEDY}u);
  // The maximum and its first index (strided; lanes see their ids in ascending order).
  var mx = bitcast<f32>(0xff7fffffu);
  var am = 0xffffffffu;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { let v = x[off + j]; if (v > mx) { mx = v; am = j; } }
  let M = wgMax(mx, lid);
  sIdx[lid] = select(0xffffffffu, am, mx == M);
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { sIdx[lid] = min(sIdx[lid], sIdx[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { pick[0] = sIdx[0]; }
  // The whole row's mass (the logprob's normaliser).
  var all = 0.0;
  for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { all = all + exp((x[off + j] - M) / Tt); }
  let S = wgSum(all, lid);
  if (mode == ${SAMPLE_PLAIN}u || mode == ${SAMPLE_MIN_P}u) {
    let thr = select(0.0, minP, mode == ${SAMPLE_MIN_P}u);
    let chunk = (p.cols + ${ROW_WG - 1}u) / ${ROW_WG}u;
    let lo = min(lid * chunk, p.cols);
    let hi = min(lo + chunk, p.cols);
    var mass = 0.0;
    for (var j = lo; j < hi; j = j + 1u) { let q = exp((x[off + j] - M) / Tt); mass = mass + select(0.0, q, q >= thr); }
    scan[lid] = mass;
    workgroupBarrier();
    // The running sum by one lane, lanes in order: a barrier-split parallel scan reads a
    // neighbour's slot that the same step writes, which Mesa's llvmpipe reorders (common.ts).
    if (lid == 0u) {
      var acc = 0.0;
      for (var l = 0u; l < ${ROW_WG}u; l = l + 1u) { acc = acc + scan[l]; cum[l] = acc; }
    }
    workgroupBarrier();
    let incl = cum[lid];
    let excl = select(0.0, cum[max(lid, 1u) - 1u], lid > 0u);
    let total = cum[${ROW_WG - 1}u];
    let goal = u * total;
    let mine = (excl <= goal && goal < incl) || (goal >= total && excl < total && incl >= total);
    if (mine) {
      var acc = excl;
      var last = lo;
      var tok = 0xffffffffu;
      for (var j = lo; j < hi; j = j + 1u) {
        var q = exp((x[off + j] - M) / Tt);
        q = select(0.0, q, q >= thr);
        acc = acc + q;
        if (q > 0.0) { last = j; }
        if (goal < acc && q > 0.0) { tok = j; break; }
      }
      pick[0] = select(tok, last, tok == 0xffffffffu);
    }
  }
  if (mode == ${SAMPLE_SORTED}u) {
    let useK = topK > 0u && topK < p.cols;
    // The threshold search: τ = 2^-e until {p >= τ} holds the top k (or topP of the mass).
    var tau = 0.0;
    var e = 1u;
    loop {
      let t = select(exp2(-f32(e)), 0.0, e > 149u);
      var c = 0.0;
      var m = 0.0;
      for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { let q = exp((x[off + j] - M) / Tt); if (q >= t) { c = c + 1.0; m = m + q; } }
      let cnt = wgSum(c, lid);
      let mass = wgSum(m, lid);
      if (lid == 0u) { doneWg = select(0u, 1u, t == 0.0 || select(mass >= topP * S, cnt >= f32(topK), useK)); }
      let done = workgroupUniformLoad(&doneWg);
      if (done == 1u) { tau = t; break; }
      e = u32(ceil(f32(e) * 1.5));
    }
    // The candidates, in any order (sorted next).
    if (lid == 0u) { atomicStore(&nCand, 0u); }
    workgroupBarrier();
    for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) {
      let q = exp((x[off + j] - M) / Tt);
      if (q >= tau) {
        let slot = atomicAdd(&nCand, 1u);
        if (slot < ${SAMPLE_CAP}u) { keys[slot] = q; cand[slot] = j; }
      }
    }
    workgroupBarrier();
    if (lid == 0u) { nWg = atomicLoad(&nCand); }
    let n = workgroupUniformLoad(&nWg);
    if (n > ${SAMPLE_CAP}u) {
      // Too many to sort here: the same cuts and the same walk as boundaries of the sorted order.
      if (lid == 0u) { flagsWg = select(0u, 1u, useK) | select(0u, 2u, topP < 1.0); }
      let fl = workgroupUniformLoad(&flagsWg);
      qM = M; qT = Tt; qOff = off;
      var bv = 0.0;
      var bi = 0xffffffffu; // the kept prefix: so far every token
      var total = S;
      if ((fl & 1u) != 0u) {
        // top-k: the k-th token of the order (its q, then the tie that is k-th)
        let goal = f32(topK);
        let vb = largestValue(true, goal, false, bv, bi, lid);
        bi = boundaryAt(vb, true, goal, false, bv, bi, lid);
        bv = bitcast<f32>(vb);
        total = above(0.0, false, bv, bi, lid).x;
      }
      if ((fl & 2u) != 0u) {
        // top-p: the shortest prefix of the kept ones whose mass reaches topP of theirs
        let goal = topP * total;
        let vb = largestValue(false, goal, false, bv, bi, lid);
        if (vb != 0xffffffffu) {
          bi = boundaryAt(vb, false, goal, false, bv, bi, lid);
          bv = bitcast<f32>(vb);
        }
      }
      // min-p: q >= minP (the top token's q is 1), which cuts the prefix only where minP > its boundary
      let mp = minP > 0.0 && minP > bv;
      bv = select(bv, minP, mp);
      bi = select(bi, 0xffffffffu, mp);
      // The walk: the first token of the prefix whose cumulative mass passes u·(kept mass).
      let goal = u * above(0.0, false, bv, bi, lid).x;
      let vb = largestValue(false, goal, true, bv, bi, lid);
      var tok = 0u;
      if (vb != 0xffffffffu) {
        tok = boundaryAt(vb, false, goal, true, bv, bi, lid);
      } else {
        // Rounding left u·kept at the kept mass: the last kept token with mass (the least q > 0, its highest id).
        var lo = 2.0;
        for (var j = lid; j < p.cols; j = j + ${ROW_WG}u) { let q = qOf(j); if (q > 0.0 && inPrefix(q, j, bv, bi)) { lo = min(lo, q); } }
        let least = -wgMax(-lo, lid);
        tok = nthTie(least, 0xffffffffu, bv, bi, lid);
      }
      if (lid == 0u) { pick[0] = tok; }
    } else {
      var size = 2u;
      while (size < n) { size = size << 1u; }
      for (var i = n + lid; i < size; i = i + ${ROW_WG}u) { keys[i] = -1.0; cand[i] = 0xffffffffu; }
      workgroupBarrier();
      // Bitonic sort of [0, size) by (p descending, id ascending).
      for (var k = 2u; k <= size; k = k << 1u) {
        for (var h = k >> 1u; h > 0u; h = h >> 1u) {
          for (var i = lid; i < size; i = i + ${ROW_WG}u) {
            let l = i ^ h;
            if (l > i) {
              let a = keys[i]; let b = keys[l]; let ia = cand[i]; let ib = cand[l];
              let aFirst = a > b || (a == b && ia < ib);
              if (aFirst != ((i & k) == 0u)) { keys[i] = b; keys[l] = a; cand[i] = ib; cand[l] = ia; }
            }
          }
          workgroupBarrier();
        }
      }
      if (lid == 0u) {
        var keep = n;
        if (useK) { keep = min(topK, n); }
        if (topP < 1.0) {
          var total = S;
          if (useK) { total = 0.0; for (var j = 0u; j < keep; j = j + 1u) { total = total + keys[j]; } }
          var c = 0.0;
          var j = 0u;
          loop {
            if (j >= keep) { break; }
            c = c + keys[j];
            j = j + 1u;
            if (c >= topP * total) { break; }
          }
          keep = j;
        }
        if (minP > 0.0) {
          let floor = minP * keys[0];
          var j = 1u;
          while (j < keep && keys[j] >= floor) { j = j + 1u; }
          keep = j;
        }
        var kept = 0.0;
        for (var j = 0u; j < keep; j = j + 1u) { kept = kept + keys[j]; }
        var left = u * kept;
        var last = cand[0];
        var tok = 0xffffffffu;
        for (var j = 0u; j < keep; j = j + 1u) {
          let q = keys[j];
          if (q > 0.0) { last = cand[j]; }
          left = left - q;
          if (left < 0.0 && q > 0.0) { tok = cand[j]; break; }
        }
        pick[0] = select(tok, last, tok == 0xffffffffu);
      }
    }
  }
  workgroupBarrier();
  if (lid == 0u) {
    let t = pick[0];
    o[2u * row] = f32(t);
    o[2u * row + 1u] = (x[off + min(t, p.cols - 1u)] - M) / Tt - log(S);
  }`, [['x: array<f32>', logits], ['prm: array<f32>', params]], [['o: array<f32>', out]], rows, cols, { sampling: true });
}
