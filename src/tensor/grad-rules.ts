// The op table of autograd: for every differentiable op, what its forward
// saves (OpSaved) and its gradient rule, written in tensor ops. The mapped type
// makes a missing rule a compile error. Rules run under noGrad and receive the
// upstream gradient g, the op's inputs, its saved values, its output, and
// which inputs need a gradient; they return one gradient (or null) per input.
// The rules are device-agnostic: on webgpu tensors the same ops dispatch device
// kernels, and saved rstd/lse stay on the device (GpuTensor).

import type { AttentionParams } from '../backend/kernels.ts';
import type { GpuTensor } from '../backend/webgpu/tensor.ts';
import type { Shape } from '../core/shape.ts';
import * as ops from './ops.ts';
import type { Tensor } from './tensor.ts';

export interface OpSaved {
  neg: null; exp: null; log: null; sqrt: null; rsqrt: null; abs: null; square: null; recip: null;
  tanh: null; sigmoid: null; silu: null; relu: null; gelu: null;
  add: null; sub: null; mul: null; div: null; max: null; min: null; pow: null;
  sum: { axes: number[] };
  amax: { axes: number[] };
  reshape: { shape: Shape };
  permute: { perm: number[] };
  narrow: { axis: number; start: number; inShape: Shape };
  cat: { axis: number; sizes: number[] };
  broadcastTo: { inShape: Shape };
  matmul: { transA: boolean; transB: boolean };
  linear: null;
  softmax: null;
  logSoftmax: null;
  rmsnorm: { rstd: Float32Array | GpuTensor };
  rope: { cos: Tensor; sin: Tensor; pos: Tensor; opts: ops.RopeOptions };
  swiglu: null;
  embedding: { ids: Tensor };
  scatterRows: { ids: Tensor };
  attention: { p: AttentionParams; lse: Float32Array | GpuTensor };
  crossEntropy: { targets: Tensor; lse: Float32Array | GpuTensor; ignoreIndex: number };
  linearCrossEntropy: { dx: Tensor | null; dw: Tensor | null };
  /** A fused op of fused.ts: it carries its own gradient rule (a closure over what its forward kept). */
  fused: { name: string; backward: (g: Tensor, needs: boolean[]) => (Tensor | null)[] };
}

export type DiffOp = keyof OpSaved;

type Rule<K extends DiffOp> = (g: Tensor, inputs: Tensor[], saved: OpSaved[K], out: Tensor, needs: boolean[]) => (Tensor | null)[];

const GELU_C = Math.sqrt(2 / Math.PI);

/** Inverse permutation. */
function invPerm(p: readonly number[]): number[] {
  const inv = new Array<number>(p.length);
  p.forEach((v, i) => (inv[v] = i));
  return inv;
}

/** Gradient of op(A)·op(B) for one operand, summed over batch dims when that operand was broadcast. */
function matmulGrads(g: Tensor, a: Tensor, b: Tensor, transA: boolean, transB: boolean, needs: boolean[]): [Tensor | null, Tensor | null] {
  // A 2-D b against a batched, untransposed a: fold a's batch into rows, so dB is one GEMM.
  if (b.rank === 2 && a.rank > 2 && !transA) {
    const K = a.shape[a.rank - 1], N = g.shape[g.rank - 1];
    const a2 = ops.reshape(a, [-1, K]), g2 = ops.reshape(g, [-1, N]);
    const da = needs[0] ? ops.reshape(transB ? ops.matmul(g2, b) : ops.matmul(g2, b, { transB: true }), a.shape) : null;
    const db = needs[1] ? (transB ? ops.matmul(g2, a2, { transA: true }) : ops.matmul(a2, g2, { transA: true })) : null;
    return [da, db];
  }
  let da: Tensor | null = null, db: Tensor | null = null;
  if (needs[0]) {
    if (!transA && !transB) da = ops.matmul(g, b, { transB: true });
    else if (!transA && transB) da = ops.matmul(g, b);
    else if (transA && !transB) da = ops.matmul(b, g, { transB: true });
    else da = ops.matmul(b, g, { transA: true, transB: true });
    da = ops.sumTo(da, a.shape);
  }
  if (needs[1]) {
    if (!transA && !transB) db = ops.matmul(a, g, { transA: true });
    else if (!transA && transB) db = ops.matmul(g, a, { transA: true });
    else if (transA && !transB) db = ops.matmul(a, g);
    else db = ops.matmul(g, a, { transA: true, transB: true });
    db = ops.sumTo(db, b.shape);
  }
  return [da, db];
}

export const gradRules: { [K in DiffOp]: Rule<K> } = {
  neg: (g) => [ops.neg(g)],
  exp: (g, _i, _s, out) => [ops.mul(g, out)],
  log: (g, [x]) => [ops.div(g, x)],
  sqrt: (g, _i, _s, out) => [ops.div(ops.mul(g, 0.5), out)],
  rsqrt: (g, _i, _s, out) => [ops.mul(g, ops.mul(ops.mul(out, ops.square(out)), -0.5))],
  abs: (g, [x]) => [ops.mul(g, ops.sub(ops.gt(x, 0), ops.gt(0, x)))],
  square: (g, [x]) => [ops.mul(g, ops.mul(x, 2))],
  recip: (g, _i, _s, out) => [ops.neg(ops.mul(g, ops.square(out)))],
  tanh: (g, _i, _s, out) => [ops.mul(g, ops.sub(1, ops.square(out)))],
  sigmoid: (g, _i, _s, out) => [ops.mul(g, ops.mul(out, ops.sub(1, out)))],
  silu: (g, [x]) => [ops.siluBackward(x, g)],
  relu: (g, [x]) => [ops.mul(g, ops.gt(x, 0))],
  gelu: (g, [x]) => {
    // d/dx 0.5·x·(1 + tanh(u)), u = c·(x + 0.044715·x³)
    const x2 = ops.square(x);
    const t = ops.tanh(ops.mul(ops.add(x, ops.mul(ops.mul(x2, x), 0.044715)), GELU_C));
    const du = ops.mul(ops.add(ops.mul(x2, 3 * 0.044715), 1), GELU_C);
    const d = ops.add(ops.mul(ops.add(t, 1), 0.5), ops.mul(ops.mul(ops.mul(x, 0.5), ops.sub(1, ops.square(t))), du));
    return [ops.mul(g, d)];
  },

  add: (g, [a, b], _s, _o, needs) => [needs[0] ? ops.sumTo(g, a.shape) : null, needs[1] ? ops.sumTo(g, b.shape) : null],
  sub: (g, [a, b], _s, _o, needs) => [needs[0] ? ops.sumTo(g, a.shape) : null, needs[1] ? ops.sumTo(ops.neg(g), b.shape) : null],
  mul: (g, [a, b], _s, _o, needs) => [needs[0] ? ops.sumTo(ops.mul(g, b), a.shape) : null, needs[1] ? ops.sumTo(ops.mul(g, a), b.shape) : null],
  div: (g, [a, b], _s, out, needs) => [
    needs[0] ? ops.sumTo(ops.div(g, b), a.shape) : null,
    needs[1] ? ops.sumTo(ops.neg(ops.div(ops.mul(g, out), b)), b.shape) : null,
  ],
  max: (g, [x, y], _s, _o, needs) => {
    const m = ops.ge(x, y);
    return [needs[0] ? ops.sumTo(ops.mul(g, m), x.shape) : null, needs[1] ? ops.sumTo(ops.mul(g, ops.sub(1, m)), y.shape) : null];
  },
  min: (g, [a, b], _s, _o, needs) => {
    const m = ops.ge(b, a);
    return [needs[0] ? ops.sumTo(ops.mul(g, m), a.shape) : null, needs[1] ? ops.sumTo(ops.mul(g, ops.sub(1, m)), b.shape) : null];
  },
  pow: (g, [a, b], _s, out, needs) => [
    needs[0] ? ops.sumTo(ops.mul(g, ops.mul(b, ops.pow(a, ops.sub(b, 1)))), a.shape) : null,
    needs[1] ? ops.sumTo(ops.mul(g, ops.mul(out, ops.log(a))), b.shape) : null,
  ],

  sum: (g, [x], { axes }) => {
    const keep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    return [ops.broadcastTo(ops.reshape(g, keep), x.shape)];
  },
  amax: (g, [x], { axes }, out) => {
    // Share g equally among the tied maxima.
    const keep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const mask = ops.eq(x, ops.reshape(out, keep));
    const count = ops.sum(mask, axes, true);
    return [ops.mul(mask, ops.div(ops.reshape(g, keep), count))];
  },
  reshape: (g, [x]) => [ops.reshape(g, x.shape)],
  permute: (g, _i, { perm }) => [ops.permute(g, invPerm(perm))],
  narrow: (g, _i, { axis, start, inShape }) => [ops.narrowBackward(g, inShape, axis, start)],
  cat: (g, inputs, { axis, sizes }, _o, needs) => {
    let off = 0;
    return inputs.map((_, i) => {
      const s = off;
      off += sizes[i];
      return needs[i] ? ops.narrow(g, axis, s, sizes[i]) : null;
    });
  },
  broadcastTo: (g, _i, { inShape }) => [ops.sumTo(g, inShape)],

  matmul: (g, [a, b], { transA, transB }, _o, needs) => matmulGrads(g, a, b, transA, transB, needs),
  linear: (g, [x, w, bias], _s, _o, needs) => {
    const In = w.shape[1], Out = w.shape[0];
    const x2 = ops.reshape(x, [-1, In]), g2 = ops.reshape(g, [-1, Out]);
    return [
      needs[0] ? ops.reshape(ops.matmul(g2, w), x.shape) : null,
      needs[1] ? ops.matmul(g2, x2, { transA: true }) : null,
      bias && needs[2] ? ops.sum(g2, 0) : null,
    ];
  },

  softmax: (g, _i, _s, out) => [ops.softmaxBackward('softmax', out, g)],
  logSoftmax: (g, _i, _s, out) => [ops.softmaxBackward('logSoftmax', out, g)],
  rmsnorm: (g, [x, w], { rstd }) => ops.rmsnormBackward(x, w, rstd, g),
  rope: (g, _i, { cos, sin, pos, opts }) => [ops.ropeBackward(g, cos, sin, pos, opts)],
  swiglu: (g, [gate, up]) => ops.swigluBackward(gate, up, g),
  embedding: (g, [table], { ids }) => [ops.embeddingBackward(table.shape, ids, g)],
  scatterRows: (g, _i, { ids }) => [ops.gatherRows(g, ids)],
  attention: (g, [q, k, v], { p, lse }, out) => ops.attentionBackward(q, k, v, out, lse, g, p),
  crossEntropy: (g, [logits], { targets, lse, ignoreIndex }) => [ops.crossEntropyBackward(logits, targets, lse, g, ignoreIndex)],
  // dx, dw were computed in the forward for an upstream gradient of 1 (the loss is a scalar).
  linearCrossEntropy: (g, _i, { dx, dw }, _o, needs) => [needs[0] && dx ? ops.mul(dx, g) : null, needs[1] && dw ? ops.mul(dw, g) : null],
  fused: (g, _i, { backward }, _o, needs) => backward(g, needs),
};
