// Elementwise WGSL kernels, the WebGPU counterparts of Kernels.unary, .binary (strided
// broadcasting up to rank 8), .swiglu, .swigluBackward, .siluBackward, .scale and .adamw,
// with the same argument meanings. One pipeline per op (and per rank for binary).
// Multi-tensor forms for the optimizer: adamw and scaleBy over a stack of tensors (a slab's
// views, StackSpan: padding skipped) in one dispatch, and sumSquaresParts writing the partial
// sums of many tensors into one buffer that one sumAll totals.
// Not here: strided copy of arbitrary views (the next step's tensor glue needs it).
// NaN note: WGSL lets an implementation assume no NaN/Inf inputs, so max/min/comparisons on
// NaN are not guaranteed to match the reference's NaN propagation.

import type { AdamWParams, BinaryOp, UnaryOp } from '../kernels.ts';
import { R1tsError } from '../../core/errors.ts';
import { WG, grid, isSize, linearIndex, need, packUniforms, sizes, uniformWgsl, type Fields } from './common.ts';
import { NONFINITE_CODE, type GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

const head = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}`;

// tanh is clamped: GL's tanh overflows to NaN for large |x| on some drivers; |x| >= 15 is ±1 in f32 anyway.
const unaryExpr: { [K in UnaryOp]: string } = {
  neg: '-x', exp: 'exp(x)', log: 'log(x)', sqrt: 'sqrt(x)', rsqrt: '1.0 / sqrt(x)', abs: 'abs(x)',
  square: 'x * x', recip: '1.0 / x', tanh: 'tanh(clamp(x, -15.0, 15.0))', sigmoid: '1.0 / (1.0 + exp(-x))',
  silu: 'x / (1.0 + exp(-x))', relu: 'select(0.0, x, x > 0.0)',
  gelu: '0.5 * x * (1.0 + tanh(clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0)))',
};

// pow follows Math.pow for the cases a training graph meets: x^0 = 1, negative bases with integer exponents.
const powFn = `fn powf(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a < 0.0) {
    if (b != floor(b)) { let z = a - a; return z / z; } // NaN, made at run time
    let r = pow(-a, b);
    return select(r, -r, fract(b * 0.5) != 0.0);
  }
  if (a == 0.0) { return select(1.0 / a, 0.0, b > 0.0); } // +Inf for 0^negative
  return pow(a, b);
}`;

const binaryExpr: { [K in BinaryOp]: string } = {
  add: 'a + b', sub: 'a - b', mul: 'a * b', div: 'a / b',
  max: 'select(b, a, a > b || a != a)', min: 'select(b, a, a < b || a != a)', pow: 'powf(a, b)',
  eq: 'select(0.0, 1.0, a == b)', gt: 'select(0.0, 1.0, a > b)', ge: 'select(0.0, 1.0, a >= b)',
};

const nFields: Fields = [['n', 'u32']];

export function unary(ctx: GpuContext, op: UnaryOp, x: GpuTensor, out: GpuTensor, n: number): void {
  sizes('unary', { n });
  need(op, 'x', x, n); need(op, 'out', out, n);
  const inPlace = x === out;
  ctx.dispatch({
    key: `unary:${op}:${+inPlace}`,
    wgsl: () => `${uniformWgsl(nFields)}
${inPlace ? '@group(0) @binding(1) var<storage, read_write> o: array<f32>;' : '@group(0) @binding(1) var<storage, read> xs: array<f32>;\n@group(0) @binding(2) var<storage, read_write> o: array<f32>;'}
${head}
  if (i >= p.n) { return; }
  let x = ${inPlace ? 'o' : 'xs'}[i];
  o[i] = ${unaryExpr[op]};
}`,
    buffers: inPlace ? [out] : [x, out],
    uniforms: packUniforms(nFields, { n }),
    groups: grid(n, WG),
  });
}

const MAX_RANK = 8;
const binFields: Fields = [['n', 'u32'],
  ...Array.from({ length: MAX_RANK }, (_, d) => [`sh${d}`, 'u32'] as const),
  ...Array.from({ length: MAX_RANK }, (_, d) => [`sa${d}`, 'u32'] as const),
  ...Array.from({ length: MAX_RANK }, (_, d) => [`sb${d}`, 'u32'] as const)];

export function binary(ctx: GpuContext, op: BinaryOp, a: GpuTensor, aStrides: readonly number[], b: GpuTensor, bStrides: readonly number[], out: GpuTensor, shape: readonly number[]): void {
  const rank = shape.length;
  if (rank > MAX_RANK) throw new R1tsError(`webgpu binary ${op}: rank ${rank} exceeds ${MAX_RANK}`);
  if (aStrides.length !== rank || bStrides.length !== rank) throw new R1tsError(`webgpu binary ${op}: strides [${aStrides}] and [${bStrides}] must both have rank ${rank} like shape [${shape}]`);
  let n = 1, lastA = 0, lastB = 0;
  for (let d = 0; d < rank; d++) {
    if (!isSize(shape[d]) || !isSize(aStrides[d]) || !isSize(bStrides[d])) sizes(`binary ${op}`, { [`shape[${d}]`]: shape[d], [`aStrides[${d}]`]: aStrides[d], [`bStrides[${d}]`]: bStrides[d] }); // throws naming it
    n *= shape[d];
    lastA += (shape[d] - 1) * aStrides[d];
    lastB += (shape[d] - 1) * bStrides[d];
  }
  if (n === 0) return;
  need(op, 'a', a, lastA + 1); need(op, 'b', b, lastB + 1); need(op, 'out', out, n);
  if (out === a || out === b) throw new R1tsError(`webgpu binary ${op}: out may not alias an input`);
  // binFields' order: n, sh0..7, sa0..7, sb0..7.
  const vals = new Array<number>(1 + 3 * MAX_RANK);
  vals[0] = n;
  for (let d = 0; d < MAX_RANK; d++) {
    vals[1 + d] = d < rank ? shape[d] : 1;
    vals[1 + MAX_RANK + d] = d < rank ? aStrides[d] : 0;
    vals[1 + 2 * MAX_RANK + d] = d < rank ? bStrides[d] : 0;
  }
  // Peel the multi-index from the innermost dim outwards (unrolled for this rank).
  const peel = () => Array.from({ length: rank }, (_, k) => rank - 1 - k)
    .map((d) => `  { let c = rem % p.sh${d}; rem = rem / p.sh${d}; ia = ia + c * p.sa${d}; ib = ib + c * p.sb${d}; }`).join('\n');
  ctx.dispatch({
    key: `binary:${op}:${rank}`,
    wgsl: () => `${uniformWgsl(binFields)}
@group(0) @binding(1) var<storage, read> as_: array<f32>;
@group(0) @binding(2) var<storage, read> bs_: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
${op === 'pow' ? powFn : ''}
${head}
  if (i >= p.n) { return; }
  var rem = i; var ia = 0u; var ib = 0u;
${peel()}
  let a = as_[ia]; let b = bs_[ib];
  o[i] = ${binaryExpr[op]};
}`,
    buffers: [a, b, out],
    uniforms: packUniforms(binFields, vals),
    groups: grid(n, WG),
  });
}

function threeWay(ctx: GpuContext, name: string, ins: GpuTensor[], outs: GpuTensor[], n: number, body: string): void {
  sizes(name, { n });
  for (const t of [...ins, ...outs]) need(name, 'argument', t, n);
  const decl = [...ins.map((_, k) => `@group(0) @binding(${k + 1}) var<storage, read> in${k}: array<f32>;`),
    ...outs.map((_, k) => `@group(0) @binding(${ins.length + k + 1}) var<storage, read_write> out${k}: array<f32>;`)].join('\n');
  ctx.dispatch({
    key: name,
    wgsl: () => `${uniformWgsl(nFields)}\n${decl}\n${head}\n  if (i >= p.n) { return; }\n${body}\n}`,
    buffers: [...ins, ...outs],
    uniforms: packUniforms(nFields, { n }),
    groups: grid(n, WG),
  });
}

/** out = silu(gate) ⊙ up. */
export function swiglu(ctx: GpuContext, gate: GpuTensor, up: GpuTensor, out: GpuTensor, n: number): void {
  threeWay(ctx, 'swiglu', [gate, up], [out], n, '  let g = in0[i];\n  out0[i] = g / (1.0 + exp(-g)) * in1[i];');
}

export function swigluBackward(ctx: GpuContext, gate: GpuTensor, up: GpuTensor, dout: GpuTensor, dgate: GpuTensor, dup: GpuTensor, n: number): void {
  threeWay(ctx, 'swigluBackward', [gate, up, dout], [dgate, dup], n, `  let g = in0[i]; let sg = 1.0 / (1.0 + exp(-g)); let d = in2[i];
  out0[i] = d * in1[i] * sg * (1.0 + g * (1.0 - sg));
  out1[i] = d * g * sg;`);
}

export function siluBackward(ctx: GpuContext, x: GpuTensor, dy: GpuTensor, dx: GpuTensor, n: number): void {
  threeWay(ctx, 'siluBackward', [x, dy], [dx], n, '  let x = in0[i]; let sg = 1.0 / (1.0 + exp(-x));\n  out0[i] = in1[i] * sg * (1.0 + x * (1.0 - sg));');
}

const scaleFields: Fields = [['n', 'u32'], ['s', 'f32']];
/** x[i] *= s in place. */
export function scale(ctx: GpuContext, x: GpuTensor, n: number, s: number): void {
  sizes('scale', { n });
  need('scale', 'x', x, n);
  ctx.dispatch({
    key: 'scale',
    wgsl: () => `${uniformWgsl(scaleFields)}\n@group(0) @binding(1) var<storage, read_write> x: array<f32>;\n${head}\n  if (i >= p.n) { return; }\n  x[i] = x[i] * p.s;\n}`,
    buffers: [x], uniforms: packUniforms(scaleFields, { n, s }), groups: grid(n, WG),
  });
}

/**
 * A stack of equal tensors `stride` elements apart of which the first `size` of each are values
 * (a slab's views, GpuContext.allocStack; the rest is alignment padding, never read as values).
 * One tensor is { stride: n, size: n }.
 */
export interface StackSpan { stride: number; size: number }

const scaleByFields: Fields = [['n', 'u32'], ['stride', 'u32'], ['size', 'u32']];
/** x[i] *= f[0] in place (f a device scalar) over n elements laid out as `span` (padding untouched). */
export function scaleBy(ctx: GpuContext, x: GpuTensor, n: number, f: GpuTensor, span: StackSpan = { stride: Math.max(1, n), size: n }): void {
  sizes('scaleBy', { n, ...span });
  need('scaleBy', 'x', x, n); need('scaleBy', 'f', f, 1);
  ctx.dispatch({
    key: 'scaleBy',
    wgsl: () => `${uniformWgsl(scaleByFields)}
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> f: array<f32>;
${head}
  if (i >= p.n || i % p.stride >= p.size) { return; }
  x[i] = x[i] * f[0];
}`,
    buffers: [x, f], uniforms: packUniforms(scaleByFields, { n, ...span }), groups: grid(n, WG),
  });
}

const adamFields: Fields = [['n', 'u32'], ['lr', 'f32'], ['b1', 'f32'], ['b2', 'f32'], ['eps', 'f32'], ['decay', 'f32'], ['bc1', 'f32'], ['bc2', 'f32'], ['gi', 'u32'], ['stride', 'u32'], ['size', 'u32']];
/**
 * AdamW (PyTorch semantics, decoupled decay) in place on param, m, v; bias corrections computed in double on the host.
 * gate (optional): the update is skipped (param, m, v untouched) when gate[gateIndex] == 0 — a device-side
 * "this parameter got no gradient this step" (the MoE's unrouted experts; src/nn/moe.ts).
 * span (optional): param, grad, m and v are each a stack (StackSpan) of n / stride tensors, all
 * updated by this one dispatch (padding untouched); tensor j's gate is gate[gateIndex + j].
 */
export function adamw(ctx: GpuContext, param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, n: number, p: AdamWParams, gate: { t: GpuTensor; index: number } | null = null, span: StackSpan = { stride: Math.max(1, n), size: n }): void {
  sizes('adamw', { n, step: p.step, gateIndex: gate?.index ?? 0, ...span });
  if (span.stride < 1 || span.size > span.stride || n % span.stride !== 0) throw new R1tsError(`webgpu adamw: a stack of ${n} elements at stride ${span.stride} with ${span.size} values each; expected whole strides of at least the size`);
  for (const [k, t] of [['param', param], ['grad', grad], ['m', m], ['v', v]] as const) need('adamw', k, t, n);
  if (gate) need('adamw', 'gate', gate.t, gate.index + n / span.stride);
  ctx.dispatch({
    key: gate ? 'adamw:gated' : 'adamw',
    wgsl: () => `${uniformWgsl(adamFields)}
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
${gate ? '@group(0) @binding(5) var<storage, read> gate: array<f32>;' : ''}
${head}
  if (i >= p.n) { return; }
  let j = i / p.stride;
  if (i - j * p.stride >= p.size) { return; }
  ${gate ? 'if (gate[p.gi + j] == 0.0) { return; }' : ''}
  let gi = g[i];
  let mi = p.b1 * m[i] + (1.0 - p.b1) * gi;
  let vi = p.b2 * v[i] + (1.0 - p.b2) * gi * gi;
  m[i] = mi; v[i] = vi;
  w[i] = w[i] * p.decay - (p.lr * (mi / p.bc1)) / (sqrt(vi / p.bc2) + p.eps);
}`,
    buffers: gate ? [param, grad, m, v, gate.t] : [param, grad, m, v],
    uniforms: packUniforms(adamFields, { gi: gate?.index ?? 0, n, lr: p.lr, b1: p.beta1, b2: p.beta2, eps: p.eps, decay: 1 - p.lr * p.weightDecay, bc1: 1 - Math.pow(p.beta1, p.step), bc2: 1 - Math.pow(p.beta2, p.step), ...span }),
    groups: grid(n, WG),
  });
}

const copyFields: Fields = [['n', 'u32'], ['so', 'u32'], ['do_', 'u32'],
  ...Array.from({ length: MAX_RANK }, (_, d) => [`sh${d}`, 'u32'] as const),
  ...Array.from({ length: MAX_RANK }, (_, d) => [`ss${d}`, 'u32'] as const),
  ...Array.from({ length: MAX_RANK }, (_, d) => [`ds${d}`, 'u32'] as const)];

/** Strided copy (f32 or i32, bit for bit): dst[dstOffset + idx·dstStrides] = src[srcOffset + idx·srcStrides]. */
export function copy(ctx: GpuContext, src: GpuTensor, srcOffset: number, srcStrides: readonly number[], dst: GpuTensor, dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  const rank = shape.length;
  if (rank > MAX_RANK) throw new R1tsError(`webgpu copy: rank ${rank} exceeds ${MAX_RANK}`);
  if (srcStrides.length !== rank || dstStrides.length !== rank) throw new R1tsError(`webgpu copy: strides [${srcStrides}] and [${dstStrides}] must both have rank ${rank} like shape [${shape}]`);
  if (src.dtype !== dst.dtype) throw new R1tsError(`webgpu copy: ${src.dtype} into ${dst.dtype}`);
  if (src === dst) throw new R1tsError('webgpu copy: src and dst must be different buffers');
  sizes('copy', { srcOffset, dstOffset });
  let n = 1, lastS = srcOffset, lastD = dstOffset;
  for (let d = 0; d < rank; d++) {
    sizes('copy', { [`shape[${d}]`]: shape[d], [`srcStrides[${d}]`]: srcStrides[d], [`dstStrides[${d}]`]: dstStrides[d] });
    n *= shape[d];
    lastS += (shape[d] - 1) * srcStrides[d];
    lastD += (shape[d] - 1) * dstStrides[d];
  }
  if (n === 0) return;
  if (src.size <= lastS) throw new R1tsError(`webgpu copy: src has ${src.size} elements, the view reaches element ${lastS}`);
  if (dst.size <= lastD) throw new R1tsError(`webgpu copy: dst has ${dst.size} elements, the view reaches element ${lastD}`);
  const vals: Record<string, number> = { n, so: srcOffset, do_: dstOffset };
  for (let d = 0; d < MAX_RANK; d++) {
    vals[`sh${d}`] = d < rank ? shape[d] : 1;
    vals[`ss${d}`] = d < rank ? srcStrides[d] : 0;
    vals[`ds${d}`] = d < rank ? dstStrides[d] : 0;
  }
  const peel = Array.from({ length: rank }, (_, k) => rank - 1 - k)
    .map((d) => `  { let c = rem % p.sh${d}; rem = rem / p.sh${d}; is = is + c * p.ss${d}; id = id + c * p.ds${d}; }`).join('\n');
  ctx.dispatch({
    key: `copy:${rank}`,
    wgsl: () => `${uniformWgsl(copyFields)}
@group(0) @binding(1) var<storage, read> s: array<u32>;
@group(0) @binding(2) var<storage, read_write> o: array<u32>;
${head}
  if (i >= p.n) { return; }
  var rem = i; var is = p.so; var id = p.do_;
${peel}
  o[id] = s[is];
}`,
    buffers: [src, dst],
    uniforms: packUniforms(copyFields, vals),
    groups: grid(n, WG),
  });
}

const SS_GROUPS = 256;
const ssFields: Fields = [['n', 'u32'], ['g', 'u32'], ['off', 'u32'], ['stride', 'u32'], ['size', 'u32']];
const ssBody = (term: string, epilogue = 'o[p.off + wid.x] = red[0];') => `
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lidv: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lidv.x;
  var acc = 0.0;
  for (var i = wid.x * ${WG}u + lid; i < p.n; i = i + p.g * ${WG}u) {
    if (i % p.stride < p.size) { let v = x[i]; acc = acc + ${term}; }
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { ${epilogue} }
}`;
const ssDecls = `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;`;

/** How many partial sums sumSquaresParts writes for n elements. */
export function sumSquaresPartCount(n: number): number {
  return Math.max(1, Math.min(SS_GROUPS, Math.ceil(n / WG)));
}

/**
 * parts[offset .. offset + sumSquaresPartCount(n)) = 256-lane partial sums of x[i]² (f32) over a
 * grid stride, counting only the values of `span` (a stack's padding is skipped). Returns how
 * many it wrote. sumAll adds them up: so one final pass serves the partials of many tensors.
 */
export function sumSquaresParts(ctx: GpuContext, x: GpuTensor, n: number, parts: GpuTensor, offset: number, span: StackSpan = { stride: Math.max(1, n), size: n }): number {
  sizes('sumSquaresParts', { n, offset, ...span });
  const groups = sumSquaresPartCount(n);
  need('sumSquaresParts', 'x', x, n); need('sumSquaresParts', 'parts', parts, offset + groups);
  if (span.stride < 1 || span.size > span.stride) throw new R1tsError(`webgpu sumSquaresParts: ${span.size} values at stride ${span.stride}; expected a stride of at least the size, and at least 1`);
  ctx.dispatch({
    key: 'sumSquares:partial',
    wgsl: () => `${uniformWgsl(ssFields)}
${ssDecls}
${ssBody('v * v')}`,
    buffers: [x, parts], uniforms: packUniforms(ssFields, { n, g: groups, off: offset, ...span }), groups: [groups, 1, 1],
  });
  return groups;
}

/** out[0] = Σ x[0..n) in f32 (one workgroup): the total of sumSquaresParts' partials. */
export function sumAll(ctx: GpuContext, x: GpuTensor, n: number, out: GpuTensor): void {
  sizes('sumAll', { n });
  need('sumAll', 'x', x, n); need('sumAll', 'out', out, 1);
  ctx.dispatch({
    key: 'sumSquares:total',
    wgsl: () => `${uniformWgsl(ssFields)}
${ssDecls}
${ssBody('v')}`,
    buffers: [x, out], uniforms: packUniforms(ssFields, { n, g: 1, off: 0, stride: Math.max(1, n), size: n }), groups: [1, 1, 1],
  });
}

const normFields: Fields = [...ssFields, ['max', 'f32']];

/**
 * The global norm from sumSquaresParts' partials, in one dispatch: norm[0] = √(Σ x[0..n)) (f32,
 * one workgroup, as sumAll), and with `clip`, factor[0] = maxNorm / (norm + 1e-6) when norm >
 * maxNorm, else 1: the rescale of global-norm clipping (clip.ts), computed where the norm is.
 */
export function sumNorm(ctx: GpuContext, x: GpuTensor, n: number, norm: GpuTensor, clip: { factor: GpuTensor; maxNorm: number } | null = null): void {
  sizes('sumNorm', { n });
  need('sumNorm', 'x', x, n); need('sumNorm', 'norm', norm, 1);
  if (clip) {
    need('sumNorm', 'factor', clip.factor, 1);
    if (!(clip.maxNorm >= 0)) throw new R1tsError(`webgpu sumNorm: maxNorm ${clip.maxNorm}; expected a number of at least 0`);
  }
  const epilogue = `let nrm = sqrt(red[0]); o[0] = nrm;${clip ? ' f[0] = select(1.0, p.max / (nrm + 1e-6), nrm > p.max);' : ''}`;
  ctx.dispatch({
    key: clip ? 'sumSquares:clip' : 'sumSquares:norm',
    wgsl: () => `${uniformWgsl(normFields)}
${ssDecls}
${clip ? '@group(0) @binding(3) var<storage, read_write> f: array<f32>;' : ''}
${ssBody('v', epilogue)}`,
    buffers: clip ? [x, norm, clip.factor] : [x, norm],
    uniforms: packUniforms(normFields, { n, g: 1, off: 0, stride: Math.max(1, n), size: n, max: clip?.maxNorm ?? 0 }),
    groups: [1, 1, 1],
  });
}

/** out[0] = Σ x[i]² in f32 (the reference sums in double): 256-lane partial sums over a grid stride, then one workgroup adds them. */
export function sumSquares(ctx: GpuContext, x: GpuTensor, n: number, out: GpuTensor): void {
  sizes('sumSquares', { n });
  need('sumSquares', 'x', x, n); need('sumSquares', 'out', out, 1);
  const partial = ctx.alloc([sumSquaresPartCount(n)]);
  // Second pass: squares of square sums would be wrong, so it adds the partials plainly.
  sumAll(ctx, partial, sumSquaresParts(ctx, x, n, partial, 0), out);
  ctx.release(partial);
}

const finiteFields: Fields = [['n', 'u32'], ['id', 'u32']];

/**
 * The NaN check mode on the device: records the first op output with a non-finite value in the
 * status word — [NONFINITE_CODE | id << 8, ~(its smallest such index), 0, kinds seen (1 NaN,
 * 2 +Infinity, 4 −Infinity)] — for the next read() to throw naming check `id`
 * (GpuContext.checkLabel). The first check to flag in dispatch order keeps the word; its
 * threads then take the smallest index (atomicMax of the complement: the word starts cleared).
 * An exponent of all ones is Inf or NaN, read from the bits (no float compare to fold away).
 */
export function checkFinite(ctx: GpuContext, x: GpuTensor, n: number, id: number): void {
  sizes('checkFinite', { n, id });
  if (id >= 1 << 24) throw new R1tsError(`webgpu checkFinite: check id ${id} does not fit the status word's 24 bits (read back more often)`);
  need('checkFinite', 'x', x, n);
  if (n === 0) return;
  ctx.dispatch({
    key: 'checkFinite',
    wgsl: () => `${uniformWgsl(finiteFields)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> status: array<atomic<u32>, 4>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}
  if (i >= p.n) { return; }
  let bits = bitcast<u32>(x[i]);
  if ((bits & 0x7f800000u) != 0x7f800000u) { return; }
  let code = ${NONFINITE_CODE}u | (p.id << 8u);
  var mine = false;
  loop {
    let r = atomicCompareExchangeWeak(&status[0], 0u, code);
    if (r.exchanged) { mine = true; break; }
    if (r.old_value != 0u) { mine = r.old_value == code; break; }
  }
  if (mine) {
    atomicMax(&status[1], 0xffffffffu - i);
    let kind = select(select(2u, 4u, (bits >> 31u) == 1u), 1u, (bits & 0x7fffffu) != 0u);
    atomicOr(&status[3], kind);
  }
}`,
    buffers: [x],
    uniforms: packUniforms(finiteFields, { n, id }),
    groups: grid(n, WG),
    status: true,
  });
}
