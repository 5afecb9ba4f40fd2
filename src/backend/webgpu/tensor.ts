// A device-resident buffer with its shape: what the WebGPU kernels take and return.
// Not a src/tensor Tensor (no autograd, no views or strides): the row-major contents of
// one pooled GPUBuffer, whose byte size is the pool bucket (>= 4·size).

/// <reference types="@webgpu/types" />
import { R1tsError } from '../../core/errors.ts';

export type GpuDtype = 'f32' | 'i32' | 'u32';

export class GpuTensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: GpuDtype;
  /** Element count (product of shape). */
  readonly size: number;
  private released = false;

  constructor(buffer: GPUBuffer, shape: readonly number[], dtype: GpuDtype) {
    this.buffer = buffer;
    this.shape = [...shape];
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  assertLive(op: string): void {
    if (this.released) throw new R1tsError(`webgpu ${op}: a tensor of shape [${this.shape.join(', ')}] was used after release()`);
  }

  markReleased(): void {
    this.released = true;
  }
}
