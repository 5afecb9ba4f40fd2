// Shared pieces of the WGSL kernels: uniform blocks described once (the WGSL struct and
// the packed bytes come from the same field list, so they cannot drift), dispatch grids
// that stay under the 65535-workgroups-per-dimension limit, workgroup reductions and the
// status word for out-of-range ids. Not here: any kernel.

import { R1tsError } from '../../core/errors.ts';
import type { GpuTensor } from './tensor.ts';

export type FieldType = 'u32' | 'i32' | 'f32';
export type Fields = readonly (readonly [string, FieldType])[];

/** `struct P {...}` plus its binding 0 declaration. */
export function uniformWgsl(fields: Fields): string {
  return `struct P { ${fields.map(([n, t]) => `${n}: ${t}`).join(', ')} }\n@group(0) @binding(0) var<uniform> p: P;\n`;
}

/** Packs values (by field name, or a list in field order) as 4-byte scalars in field order. */
export function packUniforms(fields: Fields, values: Record<string, number> | readonly number[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const dv = new DataView(buf);
  const list = Array.isArray(values) ? (values as readonly number[]) : null;
  if (list && list.length !== fields.length) throw new Error(`webgpu uniforms: ${list.length} values for ${fields.length} fields`);
  for (let i = 0; i < fields.length; i++) {
    const [n, t] = fields[i];
    const v = list ? list[i] : (values as Record<string, number>)[n];
    if (v === undefined) throw new Error(`webgpu uniforms: no value for ${n}`);
    if (t === 'f32') dv.setFloat32(i * 4, v, true);
    else if (t === 'i32') dv.setInt32(i * 4, v, true);
    else dv.setUint32(i * 4, v, true);
  }
  return buf;
}

/** Workgroup size of the 1-D kernels. */
export const WG = 256;
/** Workgroup size of the row kernels (one workgroup per row). */
export const ROW_WG = 64;

/** Workgroups for `items` work items of `per` each, folded into 2-D past the per-dimension limit. */
export function grid(items: number, per: number): [number, number, number] {
  const groups = Math.ceil(items / per);
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [65535, y, 1];
}

/** WGSL: the linear item index of a kernel dispatched with grid(items, WG). */
export const linearIndex = `let i = gid.x + gid.y * (nwg.x * ${WG}u);`;
/** WGSL: the row of a kernel dispatched with grid(rows, 1). */
export const rowIndex = 'let row = wid.x + wid.y * nwg.x;';

/**
 * WGSL: workgroup-wide sum and max over ROW_WG lanes (call from uniform control flow).
 * Mesa 22.3's llvmpipe (seen through Dawn's GL backend) sinks a workgroup-memory load past the
 * barrier that follows it when the loaded value is used only inside a later if-block, so a lane
 * could read red[0] after another lane had started the next reduction. Two defences: sum and max
 * use separate arrays (the reduction that follows one never overwrites its result), and callers
 * use results through select() rather than inside an if where they can.
 */
export const workgroupReduce = `
var<workgroup> redSum: array<f32, ${ROW_WG}>;
var<workgroup> redMax: array<f32, ${ROW_WG}>;
fn wgSum(v: f32, lid: u32) -> f32 {
  redSum[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { redSum[lid] = redSum[lid] + redSum[lid + s]; }
    workgroupBarrier();
  }
  let r = redSum[0];
  workgroupBarrier();
  return r;
}
fn wgMax(v: f32, lid: u32) -> f32 {
  redMax[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { redMax[lid] = max(redMax[lid], redMax[lid + s]); }
    workgroupBarrier();
  }
  let r = redMax[0];
  workgroupBarrier();
  return r;
}
`;

/** WGSL: records the first out-of-range id (code, position, value) in the status buffer at `binding`. */
export function statusWgsl(binding: number): string {
  return `
@group(0) @binding(${binding}) var<storage, read_write> status: array<atomic<u32>, 4>;
fn flagBad(code: u32, pos: u32, val: i32) {
  loop {
    let r = atomicCompareExchangeWeak(&status[0], 0u, code);
    if (r.exchanged) { atomicStore(&status[1], pos); atomicStore(&status[2], bitcast<u32>(val)); break; }
    if (r.old_value != 0u) { break; }
  }
}
`;
}

/** Throws when t holds fewer than n elements or has the wrong dtype (a caller bug: buffers are reused from a pool). */
export function need(op: string, name: string, t: GpuTensor, n: number, dtype: 'f32' | 'i32' = 'f32'): void {
  if (t.dtype !== dtype) throw new R1tsError(`webgpu ${op}: ${name} is ${t.dtype}, expected ${dtype}`);
  if (t.size < n) throw new R1tsError(`webgpu ${op}: ${name} has ${t.size} elements (shape [${t.shape.join(', ')}]), needs ${n}`);
}

/** Whether x is a non-negative integer that fits u32 indexing (below 2^31). */
export function isSize(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x < 2 ** 31;
}

/** Throws unless every value is a non-negative integer that fits u32 indexing. */
export function sizes(op: string, v: Record<string, number>): void {
  for (const k in v) {
    const x = v[k];
    if (!isSize(x)) throw new R1tsError(`webgpu ${op}: ${k} = ${x}, expected an integer in [0, 2^31)`);
  }
}
