// The WebGPU backend's device-side kernel layer: every kernel takes and returns GpuTensors
// (device buffers) and records into the context's current batch; nothing is read back
// until the caller awaits ctx.read(). Kernels match src/backend/kernels.ts entry for entry
// (same argument meanings and layouts) and are tested against the ref backend.
// Every kernel of the contract has a device counterpart here, plus the KV cache's writeRows /
// copyWithin (cache.ts), the f16-B GEMM with packF16 (gemm.ts: binary16 weights packed two
// per word, read with unpack2x16float everywhere or as array<f16> on a shader-f16 device), the
// expert-range GEMMs and routing kernels of the sparse MoE dispatch (gemm.ts, moe.ts) and
// next-token sampling (rows.ts sampleRows: every row, past 1,024 top-k/top-p candidates by
// searching the sorted order instead of sorting), and the NaN check mode's checkFinite
// (elementwise.ts: the first non-finite op output lands in the status word, thrown at the next read).
//
// THE TENSOR ENGINE ON THE DEVICE (landed): a src/tensor Tensor's storage is a host typed array
// or a GpuTensor (src/tensor/device.ts: openDevice, toDevice/toHost, moveToDevice/moveToHost,
// readValues). The op frontends in src/tensor/ops.ts validate as for the host, then, when an
// input lives on the device, record these kernels (src/tensor/device-ops.ts) with outputs from
// the step arena, which endDeviceStep() hands back to the pool; the gradient rules are
// unchanged (saved rstd/lse stay on the device). Synchronous reads of a device tensor throw
// naming `await t.read()`; an op with no device kernel throws naming itself. trainLM with
// device 'webgpu' (`r1ts pretrain --device webgpu`, R1TS_DEVICE=webgpu) keeps the model and
// AdamW's moments on the device: one submit and one readback (losses + grad norm) per step.
//
// Backward retires the device outputs the tape proves dead, and later outputs of the same step
// reuse their buffers (GpuContext.retire); the rest return to the pool at endDeviceStep().
//
// GENERATION, GRPO AND MOE ON THE DEVICE (landed): a model on the device makes a device KV cache
// (src/nn/kv-cache.ts); the Engine records prefill/decode there and, once per pass, reads back a
// token and its logprob per sequence (sampled there by every rule of the host sampler), with top
// logprobs each row's log-sum-exp, the token's logit and its top-k (rows.ts tokenLse, topk)
// (src/engine/generate.ts); GRPO
// trains a device policy with one readback of [positions] log-probs per forward
// (src/train/grpo.ts); the DeepSeek-V3 MoE routes, dispatches sparsely (dropless: each expert over
// its own tokens, src/tensor/moe-device.ts; each expert GEMM one dispatch for all experts, over
// their weights stacked in one slab: GpuContext.allocStack, gemm.ts's grouped ranges) and
// updates its router bias on the device (src/nn/moe.ts). `--device webgpu` on every command that runs a model (placeOnDevice,
// src/tensor/device.ts).
//
// GpuContext.open requests 'shader-f16' when the adapter has it.
// f16 inference weights: Tensor.half (placeOnDevice's `half`, `--dtype f16`) goes through the
// f16-B GEMM. AdamW and clipping take a stack of expert weights in one dispatch (elementwise.ts
// StackSpan), and a pack of other parameters (GpuContext.allocPack: tensors of any shapes in one
// buffer, the gaps zero; the optimizer packs its parameters, moments and gradients) as one tensor.
// NEXT STEP: f16 training; tuning and figures on a real GPU (scripts/gpu-kit.mjs packs the tests
// and the benchmark for a GPU machine).

import type { AdamWParams, BinaryOp, ReduceOp, RopeParams, UnaryOp } from '../kernels.ts';
import { attention, attentionBackward, type GpuAttentionParams } from './attention.ts';
import { GpuContext } from './device.ts';
import { adamw, binary, copy, scale, siluBackward, sumSquares, swiglu, swigluBackward, unary } from './elementwise.ts';
import { gemm, packF16, type GpuGemmParams } from './gemm.ts';
import { embedding, embeddingBackward, rope } from './nn.ts';
import { crossEntropy, crossEntropyBackward, logSoftmax, logSoftmaxBackward, reduce, rmsnorm, rmsnormBackward, softmax, softmaxBackward, topk } from './rows.ts';
import type { GpuTensor } from './tensor.ts';

export { GpuContext, noAdapterHint, type AdapterReport, type OpenOptions } from './device.ts';
export { GpuTensor } from './tensor.ts';
export { deviceHasF16, type GpuGemmParams } from './gemm.ts';
export type { GpuAttentionParams } from './attention.ts';

/** The device kernels bound to one context (the shape a later GPU Backend object will wrap). */
export class WebGpuKernels {
  constructor(readonly ctx: GpuContext) {}
  gemm(a: GpuTensor, b: GpuTensor, c: GpuTensor, p: GpuGemmParams): void { gemm(this.ctx, a, b, c, p); }
  /** f32 → binary16 packed two per u32 word (the B of an f16 gemm: p.bHalf). */
  packF16(x: GpuTensor, out: GpuTensor, n: number): void { packF16(this.ctx, x, out, n); }
  unary(op: UnaryOp, x: GpuTensor, out: GpuTensor, n: number): void { unary(this.ctx, op, x, out, n); }
  binary(op: BinaryOp, a: GpuTensor, aStrides: readonly number[], b: GpuTensor, bStrides: readonly number[], out: GpuTensor, shape: readonly number[]): void {
    binary(this.ctx, op, a, aStrides, b, bStrides, out, shape);
  }
  reduce(op: ReduceOp, x: GpuTensor, out: GpuTensor, outer: number, r: number, inner: number): void { reduce(this.ctx, op, x, out, outer, r, inner); }
  softmax(x: GpuTensor, out: GpuTensor, rows: number, cols: number): void { softmax(this.ctx, x, out, rows, cols); }
  logSoftmax(x: GpuTensor, out: GpuTensor, rows: number, cols: number): void { logSoftmax(this.ctx, x, out, rows, cols); }
  softmaxBackward(y: GpuTensor, dy: GpuTensor, dx: GpuTensor, rows: number, cols: number): void { softmaxBackward(this.ctx, y, dy, dx, rows, cols); }
  logSoftmaxBackward(y: GpuTensor, dy: GpuTensor, dx: GpuTensor, rows: number, cols: number): void { logSoftmaxBackward(this.ctx, y, dy, dx, rows, cols); }
  rmsnorm(x: GpuTensor, w: GpuTensor, out: GpuTensor, rstd: GpuTensor, rows: number, cols: number, eps: number): void { rmsnorm(this.ctx, x, w, out, rstd, rows, cols, eps); }
  rmsnormBackward(x: GpuTensor, w: GpuTensor, rstd: GpuTensor, dy: GpuTensor, dx: GpuTensor, dw: GpuTensor, rows: number, cols: number): void {
    rmsnormBackward(this.ctx, x, w, rstd, dy, dx, dw, rows, cols);
  }
  rope(x: GpuTensor, out: GpuTensor, cos: GpuTensor, sin: GpuTensor, pos: GpuTensor, p: RopeParams): void { rope(this.ctx, x, out, cos, sin, pos, p); }
  swiglu(gate: GpuTensor, up: GpuTensor, out: GpuTensor, n: number): void { swiglu(this.ctx, gate, up, out, n); }
  swigluBackward(gate: GpuTensor, up: GpuTensor, dout: GpuTensor, dgate: GpuTensor, dup: GpuTensor, n: number): void { swigluBackward(this.ctx, gate, up, dout, dgate, dup, n); }
  siluBackward(x: GpuTensor, dy: GpuTensor, dx: GpuTensor, n: number): void { siluBackward(this.ctx, x, dy, dx, n); }
  embedding(table: GpuTensor, ids: GpuTensor, out: GpuTensor, n: number, dim: number): void { embedding(this.ctx, table, ids, out, n, dim); }
  embeddingBackward(ids: GpuTensor, dout: GpuTensor, dtable: GpuTensor, n: number, dim: number): void { embeddingBackward(this.ctx, ids, dout, dtable, n, dim); }
  crossEntropy(logits: GpuTensor, targets: GpuTensor, loss: GpuTensor, lse: GpuTensor, rows: number, V: number, ignoreIndex: number): void {
    crossEntropy(this.ctx, logits, targets, loss, lse, rows, V, ignoreIndex);
  }
  crossEntropyBackward(logits: GpuTensor, targets: GpuTensor, lse: GpuTensor, dloss: GpuTensor, dlogits: GpuTensor, rows: number, V: number, ignoreIndex: number): void {
    crossEntropyBackward(this.ctx, logits, targets, lse, dloss, dlogits, rows, V, ignoreIndex);
  }
  adamw(param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, n: number, p: AdamWParams): void { adamw(this.ctx, param, grad, m, v, n, p); }
  scale(x: GpuTensor, n: number, s: number): void { scale(this.ctx, x, n, s); }
  topk(x: GpuTensor, values: GpuTensor, indices: GpuTensor, rows: number, cols: number, k: number): void { topk(this.ctx, x, values, indices, rows, cols, k); }
  attention(q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, p: GpuAttentionParams): void { attention(this.ctx, q, k, v, out, lse, p); }
  attentionBackward(q: GpuTensor, k: GpuTensor, v: GpuTensor, out: GpuTensor, lse: GpuTensor, dout: GpuTensor, dq: GpuTensor, dk: GpuTensor, dv: GpuTensor, p: GpuAttentionParams): void {
    attentionBackward(this.ctx, q, k, v, out, lse, dout, dq, dk, dv, p);
  }
  /** Σ x² into out[0] on the device (the host contract returns a number; here the value stays on the GPU until read). */
  sumSquares(x: GpuTensor, n: number, out: GpuTensor): void { sumSquares(this.ctx, x, n, out); }
  copy(src: GpuTensor, srcOffset: number, srcStrides: readonly number[], dst: GpuTensor, dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
    copy(this.ctx, src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
  }
}

/** Opens a context (throws R1tsError naming what to install when no adapter exists) and binds the kernels. */
export async function openWebGpu(opts: { backend?: 'default' | 'opengles' } = {}): Promise<WebGpuKernels> {
  return new WebGpuKernels(await GpuContext.open(opts));
}
