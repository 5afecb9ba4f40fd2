// A device-resident buffer with its shape: what the WebGPU kernels take and return.
// Not a src/tensor Tensor (no autograd, no strides): the row-major contents of one pooled
// GPUBuffer, whose byte size is the pool bucket (>= 4·size), or of one slice of a slab (a
// buffer holding several same-shape tensors back to back, each at an offset the device can
// bind: GpuContext.allocStack), or of several tensors of any shapes (a pack: allocPack). A
// slab's views are released one by one; its buffer returns to the pool when the last is. The
// grouped MoE GEMMs bind a whole stack as one stacked operand; the optimizer's multi-tensor
// kernels a whole pack as one tensor.

/// <reference types="@webgpu/types" />
import { R1tsError } from '../../core/errors.ts';

export type GpuDtype = 'f32' | 'i32' | 'u32';

/**
 * A buffer shared by views: a stack's (same shapes, strideBytes apart) or a pack's (any shapes,
 * strideBytes 0: GpuContext.allocPack); how many views it was made with and how many are still live.
 */
export interface GpuSlab {
  readonly buffer: GPUBuffer;
  readonly strideBytes: number;
  readonly count: number;
  live: number;
}

export class GpuTensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: GpuDtype;
  /** Element count (product of shape). */
  readonly size: number;
  /** Byte offset of element 0 in buffer (0 except for a slab's views). */
  readonly offset: number;
  /** The slab this is a view of (its release counts down the slab's), or null for a buffer of its own. */
  readonly slab: GpuSlab | null;
  private released = false;

  constructor(buffer: GPUBuffer, shape: readonly number[], dtype: GpuDtype, offset = 0, slab: GpuSlab | null = null) {
    this.buffer = buffer;
    this.shape = [...shape];
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
    this.offset = offset;
    this.slab = slab;
  }

  assertLive(op: string): void {
    if (this.released) throw new R1tsError(`webgpu ${op}: a tensor of shape [${this.shape.join(', ')}] was used after release()`);
  }

  markReleased(): void {
    this.released = true;
  }
}
