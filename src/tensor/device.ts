// The webgpu device of the tensor engine: the active GpuContext, transfers between
// host and device (toDevice / toHost, and in-place moves that keep a tensor's identity,
// for model parameters and optimizer state), async reads, and the step arena.
// Memory: every buffer an op allocates on the device goes into the step arena and is
// handed back to the context's pool by endDeviceStep() (the trainer calls it after the
// optimizer step and the loss readback); tensors made by toDevice/moveToDevice/deviceZeros
// are persistent and freed by moveToHost or releaseDevice. A device tensor kept across a
// step boundary must be made persistent with keepOnDevice() first; using one that was
// released throws ("used after release"). Within a step, backward retires op outputs the tape
// proves dead (autograd.ts, the activation scopes of ops.ts), and later outputs of the same
// step reuse their buffers (GpuContext.retire: commands run in recording order).
// Host tensors given to a device op (ids, positions, scalars) are uploaded once per Tensor
// object per step (an upload, never a readback); mutating such a host tensor in place during
// a step is not seen by the device. Tensors marked constant (markDeviceConstant: the models'
// rope tables) are uploaded once per device and kept.
// Not here: the kernels (src/backend/webgpu), op semantics (ops.ts, device-ops.ts).

import { GpuContext, type OpenOptions } from '../backend/webgpu/device.ts';
import { packF16 } from '../backend/webgpu/gemm.ts';
import { GpuTensor, type GpuDtype, type GpuSlab } from '../backend/webgpu/tensor.ts';
import type { AnyData } from '../core/dtype.ts';
import { R1tsError, fmtShape } from '../core/errors.ts';
import { Tensor } from './tensor.ts';

let active: GpuContext | null = null;
let owned = false;
const arena = new Set<GpuTensor>();
let uploads = new WeakMap<Tensor, GpuTensor>();

/** Opens the webgpu device (GpuContext.open: throws R1tsError naming what to install when no adapter exists) and makes it active. */
export async function openDevice(opts: OpenOptions = {}): Promise<GpuContext> {
  if (active) return active;
  active = await GpuContext.open(opts);
  owned = true;
  return active;
}

/** Makes an already open context the active device (tests share one), or clears it (null). */
export function useDeviceContext(ctx: GpuContext | null): void {
  endDeviceStep();
  active = ctx;
  owned = false;
}

/** Releases the step arena and, when openDevice() opened it, destroys the context. */
export function closeDevice(): void {
  if (!active) return;
  endDeviceStep();
  if (owned) active.destroy();
  active = null;
  owned = false;
}

/** The active context; throws naming the op when there is none. */
export function deviceContext(op = 'webgpu'): GpuContext {
  if (!active) throw new R1tsError(`${op}: a tensor lives on the webgpu device but no device is open (call openDevice() first)`);
  return active;
}

export function hasDevice(): boolean {
  return active !== null;
}

/** The error of a synchronous read of a device tensor. */
export function syncReadError(t: Tensor): R1tsError {
  return new R1tsError(`tensor ${t.name ?? ''}${fmtShape(t.shape)} lives on the webgpu device: its values cannot be read synchronously (.data, .item(), .toArray()); use await t.read() or await t.readItem() (or await toHost(t))`);
}

/** A step-scoped device buffer (an op output or temporary). */
export function allocStep(shape: readonly number[], dtype: GpuDtype = 'f32'): GpuTensor {
  const g = deviceContext().alloc(shape, dtype, true);
  arena.add(g);
  return g;
}

/** A step-scoped device buffer holding data. */
export function uploadStep(data: Float32Array | Int32Array): GpuTensor {
  const g = deviceContext().upload(data);
  arena.add(g);
  return g;
}

/** A step-scoped device buffer of zeros. */
export function zerosStep(shape: readonly number[], dtype: GpuDtype = 'f32'): GpuTensor {
  const g = allocStep(shape, dtype);
  deviceContext().clear(g);
  return g;
}

/** Host tensors that never change (rope tables): uploaded once per device and kept there. */
const constantTensors = new WeakSet<Tensor>();
const constantUploads = new WeakMap<Tensor, { ctx: GpuContext; g: GpuTensor }>();

/**
 * Marks host tensors whose values never change after this call (the rope tables): a device op
 * that reads one uploads it once per device and keeps that copy (not step-scoped), instead of
 * uploading it again every step. No effect on host ops.
 */
export function markDeviceConstant(...ts: Tensor[]): void {
  for (const t of ts) constantTensors.add(t);
}

/** The device storage of t: its own, or (for a host tensor) an upload made once per step (once per device for a constant). */
export function gpuOf(t: Tensor): GpuTensor {
  if (t.half) throw halfRefused(t, 'this op reads f32 values');
  if (t.gpu) return t.gpu;
  if (constantTensors.has(t)) {
    const ctx = deviceContext();
    const c = constantUploads.get(t);
    if (c && c.ctx === ctx) return c.g;
    const d = t.data;
    const g = ctx.upload(d as Float32Array | Int32Array, [d.length]);
    constantUploads.set(t, { ctx, g });
    return g;
  }
  let g = uploads.get(t);
  if (!g) {
    const d = t.data;
    g = deviceContext().upload(d as Float32Array | Int32Array, [d.length]);
    arena.add(g);
    uploads.set(t, g);
  }
  return g;
}

/** autograd: a step-scoped buffer no recorded or later command reads: later outputs of this step may reuse it. */
export function retireStep(g: GpuTensor): void {
  if (!arena.delete(g)) return;
  deviceContext().retire(g);
}

/** Hands every step-scoped buffer back to the pool (submitting any recorded work first). */
export function endDeviceStep(): void {
  if (active) {
    for (const g of arena) active.release(g);
    // Submits what is still recorded (nothing, after the step's readback) and recycles the buffers now, for the next step.
    active.flush();
  }
  arena.clear();
  uploads = new WeakMap();
}

/** Step-scoped buffers now held (tests, reports). */
export function stepBuffers(): number {
  return arena.size;
}

/** Makes t's device storage persistent (it survives endDeviceStep). */
export function keepOnDevice(t: Tensor): Tensor {
  if (t.gpu) arena.delete(t.gpu);
  return t;
}

/** A new persistent device tensor with t's values (shape, dtype; not requiring grad). */
export function toDevice(t: Tensor): Tensor {
  if (t.gpu) return t;
  const d = t.data;
  return new Tensor(deviceContext('toDevice').upload(d as Float32Array | Int32Array, [d.length]), t.shape);
}

/** A new host tensor with t's values (one readback for a device tensor). */
export async function toHost(t: Tensor): Promise<Tensor> {
  if (!t.gpu) return t;
  return new Tensor(await readDevice(t), t.shape);
}

/** Persistent device zeros of `shape` (optimizer state). */
export function deviceZeros(shape: readonly number[]): Tensor {
  const ctx = deviceContext('deviceZeros');
  const g = ctx.alloc(shape, 'f32');
  ctx.clear(g);
  return new Tensor(g, shape);
}

/** Moves each host tensor's storage to the device in place (same Tensor objects; persistent buffers). */
export function moveToDevice(ts: readonly Tensor[]): void {
  const ctx = deviceContext('moveToDevice');
  for (const t of ts) {
    if (t.gpu) continue;
    const d = t.data;
    t.setStorage(ctx.upload(d as Float32Array | Int32Array, [d.length]));
  }
}

/** Moves each device tensor's storage back to the host in place, with one readback for all, and frees the device buffers. */
export async function moveToHost(ts: readonly Tensor[]): Promise<void> {
  const half = ts.find((t) => t.half);
  if (half) throw halfRefused(half, 'moving it back to the host (its values were rounded to f16: load the model again)');
  const dev = [...new Set(ts.filter((t) => t.gpu))];
  if (dev.length === 0) return;
  const ctx = deviceContext('moveToHost');
  const vals = await readValues(dev);
  dev.forEach((t, i) => {
    const g = t.gpu!;
    t.setStorage(vals[i]);
    if (arena.has(g)) arena.delete(g);
    ctx.release(g);
  });
}

/** The error for a use of an f16 inference weight other than as a matmul/linear weight. */
function halfRefused(t: Tensor, what: string): R1tsError {
  return new R1tsError(`${t.name ?? `a tensor of shape ${fmtShape(t.shape)}`} is stored as f16 on the webgpu device for inference (--dtype f16), which only a matmul/linear reads as its weight; ${what} is not possible`);
}

/** The packed binary16 storage of an f16 inference weight (device-ops' gemm B). */
export function gpuHalfOf(t: Tensor): GpuTensor {
  if (!t.half || !t.gpu) throw new R1tsError('gpuHalfOf: the tensor is not stored as f16 on the device');
  return t.gpu;
}

/**
 * Uploads a host f32 tensor as packed binary16 (two per u32 word; rounded by the GPU's f32→f16
 * conversion) and makes that its storage: half the device memory, read only by the f16-weight GEMM.
 */
function moveToDeviceHalf(ctx: GpuContext, t: Tensor): void {
  const f = ctx.upload(t.data as Float32Array, [t.size]);
  const words = ctx.alloc([Math.ceil(t.size / 2)], 'u32');
  packF16(ctx, f, words, t.size);
  ctx.release(f);
  t.setStorage(words, true);
}

/** What placeOnDevice did: whether the tensors are on the device, and how to undo it. */
export interface DevicePlacement {
  /** False when there was no adapter and the tensors stayed on the host. */
  readonly onDevice: boolean;
  /**
   * Ends the placement: with toHost the tensors come back to the host first (one readback),
   * otherwise their device storage is simply dropped (the caller is done with them); the
   * device is closed when this placement opened it, else the step arena is handed back.
   */
  release(opts?: { toHost?: boolean }): Promise<void>;
}

/**
 * `--device webgpu` for a command or run (`label` names it in the message): opens the device
 * (unless one is active) and moves `tensors` there in place. With no adapter it says why on
 * stderr (`label: --device webgpu: …; continuing on the CPU backend`) and the tensors stay on
 * the host, so the caller runs the same code on the CPU.
 */
export async function placeOnDevice(label: string, tensors: readonly Tensor[], opts: { half?: readonly Tensor[] } = {}): Promise<DevicePlacement> {
  const had = active !== null;
  let ctx: GpuContext;
  try {
    ctx = await openDevice();
  } catch (e) {
    console.error(`${label}: --device webgpu: ${(e as Error).message}; continuing on the CPU backend`);
    return { onDevice: false, release: async () => {} };
  }
  const half = new Set(opts.half ?? []);
  const all = new Set(tensors);
  for (const t of half) {
    if (t.dtype !== 'f32' || t.gpu || !all.has(t)) throw new R1tsError(`${label}: --dtype f16: ${t.name ?? fmtShape(t.shape)} must be an f32 host tensor among those placed`);
  }
  const moved = tensors.filter((t) => !t.gpu);
  moveToDevice(moved.filter((t) => !half.has(t)));
  for (const t of moved) if (half.has(t)) moveToDeviceHalf(ctx, t);
  let released = false;
  return {
    onDevice: true,
    async release(opts = {}) {
      if (released) return;
      released = true;
      if (opts.toHost) await moveToHost(moved);
      if (!had) closeDevice();
      else {
        if (!opts.toHost) releaseDevice(moved);
        endDeviceStep();
      }
    },
  };
}

/** Device tensors that are views of one slab, in order (GpuContext.allocStack): one stacked operand for the grouped GEMMs. */
export interface DeviceStack {
  /** The whole slab ([count·stride] elements; u32 words for f16 weights): bind it, never release it. */
  readonly whole: GpuTensor;
  /** Elements from one tensor to the next (f16 elements for f16 weights). */
  readonly stride: number;
}

/**
 * The stack ts make when they are views 0, 1, … of one slab, in order (after stackOnDevice or
 * allocStepStack), else null.
 */
export function deviceStackOf(ts: readonly Tensor[]): DeviceStack | null {
  const g0 = ts[0]?.gpu;
  if (!g0 || !g0.slab || g0.offset !== 0 || g0.slab.strideBytes === 0) return null;
  const { strideBytes } = g0.slab;
  for (let i = 0; i < ts.length; i++) {
    const g = ts[i].gpu;
    if (!g || g.slab !== g0.slab || g.offset !== i * strideBytes || g.size !== g0.size || ts[i].half !== ts[0].half) return null;
  }
  const words = strideBytes / 4;
  return { whole: new GpuTensor(g0.buffer, [ts.length * words], g0.dtype), stride: ts[0].half ? 2 * words : words };
}

/**
 * Moves persistent device tensors of one shape and one precision (all f32, or all f16 weights) into
 * one slab, in place and in order (each keeps its identity; one device copy each), so that
 * deviceStackOf(ts) finds them: the MoE experts' weights, for the grouped GEMMs. Returns true when
 * they are stacked (already, or now); false, moving nothing, when they are not such tensors or the
 * slab would not fit one storage binding.
 */
export function stackOnDevice(ts: readonly Tensor[]): boolean {
  if (ts.length === 0 || deviceStackOf(ts)) return ts.length > 0;
  const g0 = ts[0].gpu;
  if (!active || !g0) return false;
  if (!ts.every((t) => t.gpu && !arena.has(t.gpu) && t.gpu.size === g0.size && t.gpu.dtype === g0.dtype && t.half === ts[0].half)) return false;
  if (!active.stackFits(ts.length, g0.shape)) return false;
  const { views } = active.allocStack(ts.length, g0.shape, g0.dtype);
  ts.forEach((t, i) => {
    const old = t.gpu!;
    active!.copy(old, views[i]);
    t.setStorage(views[i], t.half);
    active!.discard(old); // destroyed, not pooled: a large model's originals would otherwise sit in the pool
  });
  return true;
}

/**
 * ts grouped for multi-tensor kernels: each run of device tensors that are views 0, 1, … of one
 * stack (in any order in ts; at least two) as one stack (`at`: their indices in ts, in view
 * order); all the views of one pack (in any order in ts) as one pack (`whole`: the pack as one
 * tensor, gaps included); every other tensor on its own (`singles`, indices in ts).
 */
export function groupStacks(ts: readonly Tensor[]): { stacks: { at: number[]; stack: DeviceStack }[]; packs: { at: number[]; whole: GpuTensor }[]; singles: number[] } {
  const bySlab = new Map<GpuSlab, number[]>();
  const singles: number[] = [];
  ts.forEach((t, i) => {
    const slab = t.gpu?.slab;
    if (!slab) { singles.push(i); return; }
    const list = bySlab.get(slab);
    if (list) list.push(i);
    else bySlab.set(slab, [i]);
  });
  const stacks: { at: number[]; stack: DeviceStack }[] = [];
  const packs: { at: number[]; whole: GpuTensor }[] = [];
  for (const [slab, at] of bySlab) {
    at.sort((a, b) => ts[a].gpu!.offset - ts[b].gpu!.offset);
    const distinct = new Set(at.map((i) => ts[i])).size === at.length;
    if (slab.strideBytes === 0) {
      const whole = distinct ? devicePackOf(at.map((i) => ts[i])) : null;
      if (whole) packs.push({ at, whole });
      else singles.push(...at);
      continue;
    }
    const stack = at.length > 1 && distinct ? deviceStackOf(at.map((i) => ts[i])) : null;
    if (stack) stacks.push({ at, stack });
    else singles.push(...at);
  }
  return { stacks, packs, singles };
}

// Packs (GpuContext.allocPack): f32 device tensors of any shapes in one buffer, each at an aligned
// offset, the gaps zero, so that a multi-tensor kernel treats the buffer as one tensor. The
// optimizer packs its parameters and moments (packOnDevice) and gathers each step's gradients
// into a pack of the same layout (gatherPackStep): AdamW, the gradient norm and its rescale are
// then one dispatch per pack instead of one per tensor, with the same values per element.

/** The pack ts make, as one tensor (gaps included), when they are all the views of one pack, in order; else null. */
export function devicePackOf(ts: readonly Tensor[]): GpuTensor | null {
  const slab = ts[0]?.gpu?.slab;
  if (!slab || slab.strideBytes !== 0 || ts.length !== slab.count) return null;
  for (let i = 0; i < ts.length; i++) {
    const g = ts[i].gpu;
    if (!g || g.slab !== slab || ts[i].half || (i > 0 && g.offset <= ts[i - 1].gpu!.offset)) return null;
  }
  return new GpuTensor(slab.buffer, [slab.buffer.size / 4], 'f32');
}

/** Whether a and b are views of packs of one layout: the same sizes at the same offsets, in buffers of one size. */
export function samePackLayout(a: readonly Tensor[], b: readonly Tensor[]): boolean {
  return a.length === b.length && a.every((t, i) => {
    const x = t.gpu, y = b[i].gpu;
    return !!x?.slab && !!y?.slab && x.offset === y.offset && t.size === b[i].size && x.slab.buffer.size === y.slab.buffer.size;
  });
}

/** Whether t can move into a pack: a persistent f32 device tensor of its own buffer (not a view of a stack or pack), not empty. */
function packable(t: Tensor): boolean {
  const g = t.gpu;
  return !!g && !arena.has(g) && !g.slab && g.offset === 0 && g.dtype === 'f32' && !t.half && t.size > 0;
}

/**
 * Moves persistent f32 device tensors (each in a buffer of its own) into one pack, in place and in
 * order (each keeps its identity; one device copy each; the gaps zeroed), so that devicePackOf(ts)
 * finds them. Returns true when they are packed (already, or now); false, moving nothing, when
 * one of them cannot be (a host tensor, a step tensor, a view, an f16 or i32 tensor, an empty one,
 * one whose storage is listed twice) or the pack would not fit one storage binding.
 */
export function packOnDevice(ts: readonly Tensor[]): boolean {
  if (ts.length === 0) return false;
  if (devicePackOf(ts)) return true;
  if (!active || !ts.every(packable) || new Set(ts.map((t) => t.gpu)).size !== ts.length) return false;
  const shapes = ts.map((t) => t.shape);
  if (!active.packFits(shapes)) return false;
  const { views, whole } = active.allocPack(shapes);
  active.clear(whole);
  ts.forEach((t, i) => {
    const old = t.gpu!;
    active!.copy(old, views[i]);
    t.setStorage(views[i]);
    active!.discard(old); // destroyed, not pooled (as stackOnDevice's originals)
  });
  return true;
}

/**
 * Runs of consecutive packable tensors of ts (see packOnDevice), each as long as fits `limit`
 * bytes (default: one storage binding): the packs the optimizer makes of its parameters (indices
 * into ts; the others, and any one alone over the limit, left out).
 */
export function packRuns(ts: readonly Tensor[], limit = active?.limits.maxStorageBufferBindingSize ?? 0): number[][] {
  if (!active) return [];
  const runs: number[][] = [];
  let run: number[] = [], bytes = 0;
  const seen = new Set<GpuTensor>();
  ts.forEach((t, i) => {
    if (!packable(t) || seen.has(t.gpu!)) return;
    seen.add(t.gpu!);
    const b = active!.packLayout([t.shape]).bytes;
    if (b > limit) return;
    if (bytes + b > limit) { runs.push(run); run = []; bytes = 0; }
    run.push(i);
    bytes += b;
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Copies of ts (device f32 tensors of like's shapes) in a new step-scoped pack of like's layout
 * (like: the views of one pack, in order), its gaps zero: a step's gradients gathered beside their
 * packed parameters. Null when ts do not match like's shapes.
 */
export function gatherPackStep(ts: readonly Tensor[], like: readonly Tensor[]): Tensor[] | null {
  const ctx = deviceContext();
  if (ts.length !== like.length || !ts.every((t, i) => t.gpu && !t.half && t.gpu.dtype === 'f32' && t.size === like[i].size)) return null;
  const { views, whole } = ctx.allocPack(like.map((t) => t.shape));
  ctx.clear(whole);
  const out = views.map((v, i) => {
    ctx.copy(ts[i].gpu!, v);
    arena.add(v);
    return new Tensor(v, ts[i].shape);
  });
  return samePackLayout(out, like) ? out : null;
}

/** A step-scoped stack of `count` device tensors of `shape` (GpuContext.allocStack; each view in the step arena). */
export function allocStepStack(count: number, shape: readonly number[]): { views: GpuTensor[]; stack: DeviceStack } {
  const { views, whole, stride } = deviceContext().allocStack(count, shape);
  for (const v of views) arena.add(v);
  return { views, stack: { whole, stride } };
}

/** Frees the device storage of persistent tensors that are no longer used. */
export function releaseDevice(ts: readonly Tensor[]): void {
  for (const t of ts) {
    if (!t.gpu || arena.has(t.gpu)) continue;
    deviceContext().release(t.gpu);
  }
}

/** The values of one device tensor. */
export async function readDevice(t: Tensor): Promise<AnyData> {
  const [v] = await readValues([t]);
  return v;
}

/** The values of several tensors, with one device readback for all the device ones (host ones are returned as they are). */
export async function readValues(ts: readonly Tensor[]): Promise<AnyData[]> {
  const half = ts.find((t) => t.half);
  if (half) throw halfRefused(half, 'reading its values back');
  const dev = ts.filter((t) => t.gpu);
  const got = dev.length ? await deviceContext('read').readMany(dev.map((t) => t.gpu!)) : [];
  const byT = new Map<Tensor, AnyData>();
  dev.forEach((t, i) => byT.set(t, got[i] as AnyData));
  return ts.map((t) => byT.get(t) ?? t.data);
}

/** A device copy of t (step-scoped). */
export function cloneDevice(t: Tensor): Tensor {
  const ctx = deviceContext('clone');
  const g = allocStep(t.shape, t.gpu!.dtype);
  ctx.copy(t.gpu!, g);
  return new Tensor(g, t.shape);
}

/**
 * A device tensor of `shape` over the first sizeOf(shape) elements of t's buffer (no copy; writes
 * through it land in t). Owned by t: never release it; it dies with t's storage. The KV cache's
 * rows(0, n).
 */
export function devicePrefixView(t: Tensor, shape: readonly number[]): Tensor {
  const g = t.gpu;
  if (!g) throw new R1tsError(`devicePrefixView: tensor ${fmtShape(t.shape)} is on the host`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > g.size) throw new R1tsError(`devicePrefixView: ${fmtShape(shape)} (${n} elements) is larger than the ${g.size} elements of ${fmtShape(t.shape)}`);
  return new Tensor(new GpuTensor(g.buffer, shape, g.dtype, g.offset), shape);
}
