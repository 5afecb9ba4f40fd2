// The KV cache's WGSL kernels: writeRows (the cache append: src [B, Tn, row] into dst
// [B, Tmax, row] at per-sequence row offsets, one dispatch for the whole batch) and
// copyWithin (moves a span of one buffer to a non-overlapping place in the same buffer:
// the cache's row copies, where a strided copy cannot bind one buffer as both input and
// output). Both copy 32-bit words bit for bit, so they serve f32 and i32 alike.
// Not here: the cache's bookkeeping (lens, rows; src/nn/kv-cache.ts) or its validation
// of offsets against lens (ops.ts writeRows validates before recording).

import { R1tsError } from '../../core/errors.ts';
import { WG, grid, linearIndex, need, packUniforms, sizes, uniformWgsl, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

const head = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${linearIndex}`;

const writeFields: Fields = [['n', 'u32'], ['B', 'u32'], ['Tn', 'u32'], ['Tmax', 'u32'], ['row', 'u32']];

/**
 * dst[b, starts[b] + t, :] = src[b, t, :] for b < B, t < Tn (rows of `row` words). starts: i32 [B].
 * A batch item whose rows would fall outside [0, Tmax) is skipped (the caller validates first).
 */
export function writeRows(ctx: GpuContext, src: GpuTensor, dst: GpuTensor, starts: GpuTensor, B: number, Tn: number, Tmax: number, row: number): void {
  sizes('writeRows', { B, Tn, Tmax, row });
  const n = B * Tn * row;
  if (src.dtype !== dst.dtype) throw new R1tsError(`webgpu writeRows: ${src.dtype} rows into a ${dst.dtype} buffer`);
  if (src === dst) throw new R1tsError('webgpu writeRows: src and dst must be different buffers');
  need('writeRows', 'src', src, n, src.dtype === 'i32' ? 'i32' : 'f32');
  need('writeRows', 'dst', dst, B * Tmax * row, dst.dtype === 'i32' ? 'i32' : 'f32');
  need('writeRows', 'starts', starts, B, 'i32');
  if (n === 0) return;
  ctx.dispatch({
    key: 'writeRows',
    wgsl: () => `${uniformWgsl(writeFields)}
@group(0) @binding(1) var<storage, read> s: array<u32>;
@group(0) @binding(2) var<storage, read_write> o: array<u32>;
@group(0) @binding(3) var<storage, read> starts: array<i32>;
${head}
  if (i >= p.n) { return; }
  let per = p.Tn * p.row;
  let b = i / per;
  let r = i - b * per;
  let st = starts[b];
  if (st < 0 || u32(st) + p.Tn > p.Tmax) { return; }
  o[(b * p.Tmax + u32(st)) * p.row + r] = s[i];
}`,
    buffers: [src, dst, starts],
    uniforms: packUniforms(writeFields, { n, B, Tn, Tmax, row }),
    groups: grid(n, WG),
  });
}

const withinFields: Fields = [['n', 'u32'], ['src', 'u32'], ['dst', 'u32']];

/** x[to + i] = x[from + i] for i < n; the two spans must not overlap. */
export function copyWithin(ctx: GpuContext, x: GpuTensor, from: number, to: number, n: number): void {
  sizes('copyWithin', { from, to, n });
  if (n === 0 || from === to) return;
  if (Math.max(from, to) + n > x.size) throw new R1tsError(`webgpu copyWithin: spans [${from}, ${from + n}) and [${to}, ${to + n}) must lie inside the ${x.size} elements`);
  if (Math.abs(from - to) < n) throw new R1tsError(`webgpu copyWithin: spans [${from}, ${from + n}) and [${to}, ${to + n}) overlap`);
  ctx.dispatch({
    key: 'copyWithin',
    wgsl: () => `${uniformWgsl(withinFields)}
@group(0) @binding(1) var<storage, read_write> o: array<u32>;
${head}
  if (i >= p.n) { return; }
  o[p.dst + i] = o[p.src + i];
}`,
    buffers: [x],
    uniforms: packUniforms(withinFields, { n, src: from, dst: to }),
    groups: grid(n, WG),
  });
}
