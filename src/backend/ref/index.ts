// The reference backend: pure TypeScript, double-precision accumulation where it
// matters, written for clarity. It is the executable spec of every kernel and
// the oracle the native kernels are tested against; it stays forever.

import type { Backend, Kernels } from '../kernels.ts';
import { attention, attentionBackward } from './attention.ts';
import { binary, copy, unary } from './elementwise.ts';
import { gemm } from './gemm.ts';
import { adamw, crossEntropy, crossEntropyBackward, scale, sumSquares } from './loss.ts';
import { embedding, embeddingBackward, rmsnorm, rmsnormBackward, rope, siluBackward, swiglu, swigluBackward } from './nn.ts';
import { logSoftmax, logSoftmaxBackward, reduce, softmax, softmaxBackward, topk } from './reduce.ts';

export const refKernels: Kernels = {
  gemm, unary, binary, reduce, copy,
  softmax, logSoftmax, softmaxBackward, logSoftmaxBackward,
  rmsnorm, rmsnormBackward, rope, swiglu, swigluBackward, siluBackward,
  embedding, embeddingBackward, attention, attentionBackward,
  crossEntropy, crossEntropyBackward, adamw, sumSquares, scale, topk,
};

export const refBackend: Backend = {
  name: 'ref',
  kernels: refKernels,
  describe: () => 'ref (pure TypeScript reference kernels, 1 thread)',
  threads: () => 1,
  setThreads: () => {},
  // Scalar JavaScript cannot show the vector units' peak; callers fall back (trainer.ts: its GEMM probe).
  fmaPeak: () => null,
};
