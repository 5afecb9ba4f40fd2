// Tiled GEMM in WGSL, the WebGPU counterpart of Kernels.gemm (same arguments and
// layouts: C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] (+ bias), batch strides with 0
// broadcasting). Each workgroup of 16×16 threads computes a 64×64 tile of C, each thread
// a 4×4 register block, staging 64×16 panels of A and 16×64 panels of B in workgroup
// memory per step over K. Transposes, beta != 0 and the bias change the WGSL, so each
// combination is its own cached pipeline. Accumulates in f32 (the reference in double).
// Not here: f16 (needs shader-f16; a later step), a subgroup-matrix path, split-K.

import type { GemmParams } from '../kernels.ts';
import { R1tsError } from '../../core/errors.ts';
import { need, packUniforms, sizes, uniformWgsl, type Fields } from './common.ts';
import type { GpuContext } from './device.ts';
import type { GpuTensor } from './tensor.ts';

export const TILE = 64;
const BK = 16;

const fields: Fields = [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['sa', 'u32'], ['sb', 'u32'], ['sc', 'u32'], ['alpha', 'f32'], ['beta', 'f32']];

function gemmWgsl(transA: boolean, transB: boolean, hasBeta: boolean, hasBias: boolean): string {
  // Panel loads: 1024 elements each, 4 per thread; the index split keeps global reads contiguous.
  const loadA = transA
    ? `let kk = idx / ${TILE}u; let mm = idx % ${TILE}u; let gr = m0 + mm; let gk = k0 + kk;
       var v = 0.0; if (gr < p.M && gk < p.K) { v = a[aOff + gk * p.M + gr]; }`
    : `let kk = idx % ${BK}u; let mm = idx / ${BK}u; let gr = m0 + mm; let gk = k0 + kk;
       var v = 0.0; if (gr < p.M && gk < p.K) { v = a[aOff + gr * p.K + gk]; }`;
  const loadB = transB
    ? `let kk = idx % ${BK}u; let nn = idx / ${BK}u; let gc = n0 + nn; let gk = k0 + kk;
       var w = 0.0; if (gc < p.N && gk < p.K) { w = b[bOff + gc * p.K + gk]; }`
    : `let kk = idx / ${TILE}u; let nn = idx % ${TILE}u; let gc = n0 + nn; let gk = k0 + kk;
       var w = 0.0; if (gc < p.N && gk < p.K) { w = b[bOff + gk * p.N + gc]; }`;
  return `${uniformWgsl(fields)}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
${hasBias ? '@group(0) @binding(4) var<storage, read> bias: array<f32>;' : ''}
var<workgroup> As: array<f32, ${BK * TILE}>;
var<workgroup> Bs: array<f32, ${BK * TILE}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x; let ty = lid.y; let t = ty * 16u + tx;
  let m0 = wid.y * ${TILE}u; let n0 = wid.x * ${TILE}u; let bi = wid.z;
  let aOff = bi * p.sa; let bOff = bi * p.sb; let cOff = bi * p.sc;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 = k0 + ${BK}u) {
    for (var q = 0u; q < 4u; q = q + 1u) {
      let idx = t + q * 256u;
      ${loadA}
      As[kk * ${TILE}u + mm] = v;
    }
    for (var q = 0u; q < 4u; q = q + 1u) {
      let idx = t + q * 256u;
      ${loadB}
      Bs[kk * ${TILE}u + nn] = w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk = kk + 1u) {
      var av: array<f32, 4>; var bv: array<f32, 4>;
      for (var r = 0u; r < 4u; r = r + 1u) { av[r] = As[kk * ${TILE}u + ty + 16u * r]; bv[r] = Bs[kk * ${TILE}u + tx + 16u * r]; }
      for (var r = 0u; r < 4u; r = r + 1u) {
        for (var s = 0u; s < 4u; s = s + 1u) { acc[r][s] = fma(av[r], bv[s], acc[r][s]); }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r = r + 1u) {
    for (var s = 0u; s < 4u; s = s + 1u) {
      let row = m0 + ty + 16u * r;
      let col = n0 + tx + 16u * s;
      if (row < p.M && col < p.N) {
        let o = cOff + row * p.N + col;
        var v = p.alpha * acc[r][s];
        ${hasBeta ? 'v = v + p.beta * c[o];' : ''}
        ${hasBias ? 'v = v + bias[col];' : ''}
        c[o] = v;
      }
    }
  }
}
`;
}

/** GemmParams with the bias on the device. */
export type GpuGemmParams = Omit<GemmParams, 'bias'> & { bias: GpuTensor | null };

export function gemm(ctx: GpuContext, a: GpuTensor, b: GpuTensor, c: GpuTensor, p: GpuGemmParams): void {
  const { batch, m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC, bias } = p;
  sizes('gemm', { batch, m, n, k, strideA, strideB, strideC });
  if (batch > 65535) throw new R1tsError(`webgpu gemm: batch ${batch} exceeds 65535 (one workgroup row per item)`);
  if (batch === 0 || m === 0 || n === 0) return;
  const last = (s: number, len: number) => (batch - 1) * s + len;
  need('gemm', 'A', a, last(strideA, m * k));
  need('gemm', 'B', b, last(strideB, k * n));
  need('gemm', 'C', c, last(strideC, m * n));
  if (bias) need('gemm', 'bias', bias, n);
  if (a === c || b === c) throw new R1tsError('webgpu gemm: C may not alias A or B');
  const hasBeta = beta !== 0, hasBias = bias !== null;
  ctx.dispatch({
    key: `gemm:${+transA}${+transB}${+hasBeta}${+hasBias}`,
    wgsl: () => gemmWgsl(transA, transB, hasBeta, hasBias),
    buffers: bias ? [a, b, c, bias] : [a, b, c],
    uniforms: packUniforms(fields, { M: m, N: n, K: k, sa: strideA, sb: strideB, sc: strideC, alpha, beta }),
    groups: [Math.ceil(n / TILE), Math.ceil(m / TILE), batch],
  });
}
