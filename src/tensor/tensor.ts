// Tensor: a shape, a dtype and a contiguous row-major storage, plus the autograd
// fields. The storage is a host typed array (handed to native kernels without
// copies) or, on the webgpu device, a GpuTensor (device.ts); reading a device
// tensor's values synchronously (.data, .item(), .toArray()) throws naming the
// async alternative (await t.read()). Methods are thin aliases of the op functions
// in ops.ts; creation helpers live here.
// Not here: op semantics (ops.ts), gradient rules (grad-rules.ts), the tape (autograd.ts),
// device transfers (device.ts).

import { allocData, type AnyData, type DType } from '../core/dtype.ts';
import { R1tsError, ShapeError, fmtShape } from '../core/errors.ts';
import type { Rng } from '../core/rng.ts';
import { checkShape, sizeOf, type Shape } from '../core/shape.ts';
import { GpuTensor } from '../backend/webgpu/tensor.ts';
import type { GradNode } from './autograd.ts';
import { backward as runBackward } from './autograd.ts';
import * as ops from './ops.ts';
import * as dev from './device.ts';

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Element count (product of shape). */
  readonly size: number;
  /** Host storage, or null when the tensor lives on the device (then `gpu` holds it). */
  private host: AnyData | null;
  /** Device storage (webgpu), or null for a host tensor. Set only through device.ts. */
  gpu: GpuTensor | null = null;
  /**
   * The device storage holds the values as IEEE binary16, packed two per u32 word (an inference
   * weight: placeOnDevice's `half`). Only a matmul/linear reads it, as its B operand (the f16-weight
   * GEMM); every other op, a readback and a move to the host refuse it. Set only through device.ts.
   */
  half = false;
  /** Leaf parameters set this; op outputs inherit it from their inputs while grad is enabled. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after backward() (intermediates do not keep theirs). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, for backward(); null for leaves and under noGrad. */
  node: GradNode | null = null;
  /** Optional name (parameters carry theirs; errors and state dicts use it). */
  name: string | undefined;

  /** data: a host array, or a GpuTensor (a device tensor; its shape may differ from `shape` when it is a view). */
  constructor(data: AnyData | GpuTensor, shape: Shape, requiresGrad = false) {
    checkShape('tensor', shape);
    const n = sizeOf(shape);
    if (data instanceof GpuTensor) {
      if (data.size !== n) throw new ShapeError(`tensor: a device buffer of ${data.size} elements does not fill shape ${fmtShape(shape)} (needs ${n})`);
      this.host = null;
      this.gpu = data;
      this.dtype = data.dtype === 'f32' ? 'f32' : 'i32';
    } else {
      if (data.length !== n) throw new ShapeError(`tensor: ${data.length} elements do not fill shape ${fmtShape(shape)} (needs ${n})`);
      this.host = data;
      this.dtype = data instanceof Float32Array ? 'f32' : 'i32';
    }
    this.size = n;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  /** Contiguous row-major elements of a host tensor; throws for a device tensor (use `await t.read()`). */
  get data(): AnyData {
    const d = this.host;
    if (d === null) throw dev.syncReadError(this);
    return d;
  }

  /** Where the storage lives. */
  get device(): 'cpu' | 'webgpu' {
    return this.host === null ? 'webgpu' : 'cpu';
  }

  /**
   * device.ts only: replaces the storage (moving a tensor between host and device keeps its
   * identity). half: `data` is a u32 GpuTensor of ⌈size/2⌉ words holding packed binary16 values.
   */
  setStorage(data: AnyData | GpuTensor, half = false): void {
    if (half) {
      if (!(data instanceof GpuTensor) || data.dtype !== 'u32' || data.size !== Math.ceil(this.size / 2)) {
        throw new ShapeError(`tensor: half storage for shape ${fmtShape(this.shape)} must be ${Math.ceil(this.size / 2)} u32 words on the device`);
      }
    } else {
      const n = data instanceof GpuTensor ? data.size : data.length;
      if (n !== this.size) throw new ShapeError(`tensor: new storage of ${n} elements for shape ${fmtShape(this.shape)}`);
    }
    this.half = half;
    if (data instanceof GpuTensor) {
      this.host = null;
      this.gpu = data;
    } else {
      this.host = data;
      this.gpu = null;
    }
  }

  /** The values, wherever they live (one readback for a device tensor). */
  async read(): Promise<AnyData> {
    return this.host ?? dev.readDevice(this);
  }

  /** The single value of a one-element tensor, wherever it lives. */
  async readItem(): Promise<number> {
    if (this.size !== 1) throw new ShapeError(`readItem: tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, expected 1`);
    return (await this.read())[0];
  }
  get rank(): number {
    return this.shape.length;
  }

  /** The data as f32 (throws naming the op when the tensor holds ids). */
  f32(op = 'op'): Float32Array {
    if (!(this.data instanceof Float32Array)) throw new ShapeError(`${op}: expected an f32 tensor, got i32 of shape ${fmtShape(this.shape)}`);
    return this.data;
  }
  i32(op = 'op'): Int32Array {
    if (!(this.data instanceof Int32Array)) throw new ShapeError(`${op}: expected an i32 tensor of ids, got f32 of shape ${fmtShape(this.shape)}`);
    return this.data;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, expected 1`);
    return this.data[0];
  }

  /** Plain nested arrays (for printing and tests). */
  toArray(): unknown {
    const build = (dim: number, off: number): unknown => {
      if (dim === this.rank) return this.data[off];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** Backpropagates from this tensor; a non-scalar needs `grad` of its shape. */
  backward(grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    runBackward(this, grad, opts.retainGraph ?? false);
  }

  /** Same data, cut from the graph. */
  detach(): Tensor {
    // A detached view may outlive backward(): its buffer must not be recycled.
    if (this.host === null) {
      ops.pinF32Buffer(this.gpu!);
      return new Tensor(this.gpu!, this.shape, false);
    }
    if (this.host instanceof Float32Array) ops.pinF32Buffer(this.host.buffer);
    return new Tensor(this.host, this.shape, false);
  }

  /** A copy of the data, cut from the graph (on the tensor's device). */
  clone(): Tensor {
    if (this.host === null) return dev.cloneDevice(this);
    return new Tensor(this.host.slice(), this.shape, false);
  }

  toString(): string {
    return `Tensor(${this.dtype} ${fmtShape(this.shape)}${this.host === null ? ', webgpu' : ''}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // Method aliases of ops.ts (same semantics and errors).
  add(b: Tensor | number): Tensor { return ops.add(this, b); }
  sub(b: Tensor | number): Tensor { return ops.sub(this, b); }
  mul(b: Tensor | number): Tensor { return ops.mul(this, b); }
  div(b: Tensor | number): Tensor { return ops.div(this, b); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  matmul(b: Tensor, opts?: ops.MatmulOptions): Tensor { return ops.matmul(this, b, opts); }
  reshape(shape: Shape): Tensor { return ops.reshape(this, shape); }
  permute(perm: readonly number[]): Tensor { return ops.permute(this, perm); }
  transpose(a = -2, b = -1): Tensor { return ops.transpose(this, a, b); }
  sum(axes?: number | readonly number[], keepDims = false): Tensor { return ops.sum(this, axes, keepDims); }
  mean(axes?: number | readonly number[], keepDims = false): Tensor { return ops.mean(this, axes, keepDims); }
  max(axes?: number | readonly number[], keepDims = false): Tensor { return ops.max(this, axes, keepDims); }
}

// ---------------------------------------------------------------- creation

type Nested = number | readonly Nested[];

function inferShape(v: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as Nested;
  }
  return shape;
}

/** A tensor from nested arrays or a typed array (with its shape). */
export function tensor(values: Nested | Float32Array | Int32Array, shape?: Shape, opts: { dtype?: DType; requiresGrad?: boolean } = {}): Tensor {
  if (values instanceof Float32Array || values instanceof Int32Array) {
    return new Tensor(values, shape ?? [values.length], opts.requiresGrad);
  }
  const s = shape ?? inferShape(values);
  const flat = Array.isArray(values) ? (values as unknown[]).flat(Infinity as 1) as number[] : [values as number];
  const data = allocData(opts.dtype ?? 'f32', flat.length);
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== 'number') throw new ShapeError(`tensor: ragged or non-numeric nested array (element ${i} is ${typeof flat[i]})`);
    data[i] = flat[i];
  }
  return new Tensor(data, s, opts.requiresGrad);
}

export function zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
  checkShape('zeros', shape);
  return new Tensor(allocData(dtype, sizeOf(shape)), shape);
}

export function full(shape: Shape, value: number): Tensor {
  const t = zeros(shape);
  t.data.fill(value);
  return t;
}

export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}

/** Normal(0, std²) samples from a seeded generator. */
export function randn(shape: Shape, rng: Rng, std = 1): Tensor {
  const t = zeros(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
  return t;
}

/** Uniform [lo, hi) samples from a seeded generator. */
export function uniform(shape: Shape, rng: Rng, lo = 0, hi = 1): Tensor {
  const t = zeros(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rng.uniform();
  return t;
}

/** i32 tensor of ids/indices. */
export function ids(values: readonly number[] | Int32Array, shape?: Shape): Tensor {
  const data = values instanceof Int32Array ? values : Int32Array.from(values);
  return new Tensor(data, shape ?? [data.length]);
}

/** A leaf that requires grad (a trainable parameter). */
export function parameter(t: Tensor, name?: string): Tensor {
  if (t.node) throw new R1tsError('parameter: expected a leaf tensor (detach() it first)');
  t.requiresGrad = true;
  t.name = name;
  return t;
}
