// Network-layer WGSL kernels: RoPE (both pair layouts, inverse for the backward), embedding
// gather and its scatter-add backward, counterparts of Kernels.rope, .embedding and
// .embeddingBackward with the same arguments and layouts. Out-of-range ids/positions are
// recorded in the status word (the next read() throws RangeError); the kernel writes 0 for
// them and never reads or writes out of bounds.
// The scatter-add gives each column one thread that walks the ids in order: no float atomics
// (WGSL has none), deterministic, and duplicate ids accumulate exactly as the reference does.

import type { RopeParams } from '../kernels.ts';
import { R1tsError } from '../../core/errors.ts';
import { WG, grid, linearIndex, need, packUniforms, sizes, statusWgsl, uniformWgsl, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

const head = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}`;

const ropeFields: Fields = [['N', 'u32'], ['H', 'u32'], ['D', 'u32'], ['half', 'u32'], ['maxPos', 'u32'], ['interleaved', 'u32'], ['sign', 'f32']];

/** One thread per (row, head, pair); the pair's i == 0 thread also copies the pass-through dims when out != x. */
export function rope(ctx: GpuContext, x: GpuTensor, out: GpuTensor, cos: GpuTensor, sin: GpuTensor, pos: GpuTensor, p: RopeParams): void {
  const { N, H, D, rotaryDim, interleaved, inverse } = p;
  sizes('rope', { N, H, D, rotaryDim });
  if (rotaryDim % 2 !== 0 || rotaryDim > D || rotaryDim === 0) throw new R1tsError(`webgpu rope: rotaryDim ${rotaryDim} must be even, positive and <= D = ${D}`);
  const half = rotaryDim / 2;
  if (cos.size % half !== 0 || sin.size !== cos.size) throw new R1tsError(`webgpu rope: cos/sin tables of ${cos.size}/${sin.size} elements are not [maxPos, ${half}]`);
  need('rope', 'x', x, N * H * D); need('rope', 'out', out, N * H * D); need('rope', 'pos', pos, N, 'i32');
  const inPlace = x === out;
  const n = N * H * half;
  if (n === 0) return;
  ctx.dispatch({
    key: `rope:${+inPlace}`,
    wgsl: () => `${uniformWgsl(ropeFields)}
@group(0) @binding(1) var<storage, read> cs: array<f32>;
@group(0) @binding(2) var<storage, read> sn: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<i32>;
${inPlace ? '@group(0) @binding(4) var<storage, read_write> o: array<f32>;' : '@group(0) @binding(4) var<storage, read> xs: array<f32>;\n@group(0) @binding(5) var<storage, read_write> o: array<f32>;'}
${statusWgsl(inPlace ? 5 : 6)}
${head}
  if (i >= p.N * p.H * p.half) { return; }
  let k = i % p.half; let nh = i / p.half; let n = nh / p.H;
  let off = nh * p.D;
  var i1 = off + k; var i2 = off + k + p.half;
  if (p.interleaved != 0u) { i1 = off + 2u * k; i2 = i1 + 1u; }
  let ps = pos[n];
  if (ps < 0 || u32(ps) >= p.maxPos) {
    if (k == 0u) { flagBad(3u, n, ps); }
    o[i1] = 0.0; o[i2] = 0.0;
    return;
  }
  let c = cs[u32(ps) * p.half + k];
  let s = p.sign * sn[u32(ps) * p.half + k];
  let x1 = ${inPlace ? 'o' : 'xs'}[i1]; let x2 = ${inPlace ? 'o' : 'xs'}[i2];
  o[i1] = x1 * c - x2 * s;
  o[i2] = x1 * s + x2 * c;
  ${inPlace ? '' : 'if (k == 0u) { for (var d = 2u * p.half; d < p.D; d = d + 1u) { o[off + d] = xs[off + d]; } }'}
}`,
    buffers: inPlace ? [cos, sin, pos, out] : [cos, sin, pos, x, out],
    uniforms: packUniforms(ropeFields, { N, H, D, half, maxPos: cos.size / half, interleaved: interleaved ? 1 : 0, sign: inverse ? -1 : 1 }),
    groups: grid(n, WG),
    status: true,
  });
}

const embFields: Fields = [['n', 'u32'], ['dim', 'u32'], ['rows', 'u32']];

/** out [n, dim] = table[ids[i]]. */
export function embedding(ctx: GpuContext, table: GpuTensor, ids: GpuTensor, out: GpuTensor, n: number, dim: number): void {
  sizes('embedding', { n, dim });
  if (dim === 0 || table.size % dim !== 0) throw new R1tsError(`webgpu embedding: table of ${table.size} elements is not [rows, ${dim}]`);
  need('embedding', 'ids', ids, n, 'i32'); need('embedding', 'out', out, n * dim);
  if (n === 0) return;
  ctx.dispatch({
    key: 'embedding',
    wgsl: () => `${uniformWgsl(embFields)}
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
${statusWgsl(4)}
${head}
  if (i >= p.n * p.dim) { return; }
  let r = i / p.dim; let d = i % p.dim;
  let id = ids[r];
  if (id < 0 || u32(id) >= p.rows) {
    if (d == 0u) { flagBad(1u, r, id); }
    o[i] = 0.0;
    return;
  }
  o[i] = table[u32(id) * p.dim + d];
}`,
    buffers: [table, ids, out],
    uniforms: packUniforms(embFields, { n, dim, rows: table.size / dim }),
    groups: grid(n * dim, WG),
    status: true,
  });
}

/** dtable[ids[i]] += dout[i] (accumulates; the caller zeroes dtable when needed). */
export function embeddingBackward(ctx: GpuContext, ids: GpuTensor, dout: GpuTensor, dtable: GpuTensor, n: number, dim: number): void {
  sizes('embeddingBackward', { n, dim });
  if (dim === 0 || dtable.size % dim !== 0) throw new R1tsError(`webgpu embeddingBackward: dtable of ${dtable.size} elements is not [rows, ${dim}]`);
  need('embeddingBackward', 'ids', ids, n, 'i32'); need('embeddingBackward', 'dout', dout, n * dim);
  if (n === 0) return;
  ctx.dispatch({
    key: 'embeddingBackward',
    wgsl: () => `${uniformWgsl(embFields)}
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> dt: array<f32>;
${statusWgsl(4)}
${head}
  if (i >= p.dim) { return; }
  for (var r = 0u; r < p.n; r = r + 1u) {
    let id = ids[r];
    if (id < 0 || u32(id) >= p.rows) {
      if (i == 0u) { flagBad(2u, r, id); }
      continue;
    }
    let o = u32(id) * p.dim + i;
    dt[o] = dt[o] + dout[r * p.dim + i];
  }
}`,
    buffers: [ids, dout, dtable],
    uniforms: packUniforms(embFields, { n, dim, rows: dtable.size / dim }),
    groups: grid(dim, WG),
    status: true,
  });
}
