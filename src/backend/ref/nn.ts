// Reference kernels of the network layers: RMSNorm, RoPE, SiLU/SwiGLU, embedding.

import type { F32, I32, RopeParams } from '../kernels.ts';

export function rmsnorm(x: F32, w: F32, out: F32, rstd: F32, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[off + j] * x[off + j];
    const rs = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) out[off + j] = x[off + j] * rs * w[j];
  }
}

// y = x·rs·w with rs = (mean(x²)+eps)^-1/2:
//   dw_j = Σ_r dy·x·rs;  dx_j = rs·w_j·dy_j − x_j·rs³/cols · Σ_k dy_k·w_k·x_k
export function rmsnormBackward(x: F32, w: F32, rstd: F32, dy: F32, dx: F32, dw: F32, rows: number, cols: number): void {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const rs = rstd[r];
    let dot = 0;
    for (let j = 0; j < cols; j++) {
      dot += dy[off + j] * w[j] * x[off + j];
      acc[j] += dy[off + j] * x[off + j] * rs;
    }
    const c = (dot * rs * rs * rs) / cols;
    for (let j = 0; j < cols; j++) dx[off + j] = rs * w[j] * dy[off + j] - x[off + j] * c;
  }
  for (let j = 0; j < cols; j++) dw[j] = acc[j];
}

export function rope(x: F32, out: F32, cos: F32, sin: F32, pos: I32, p: RopeParams): void {
  const { N, H, D, rotaryDim, interleaved, inverse } = p;
  const half = rotaryDim / 2;
  const maxPos = cos.length / half;
  for (let n = 0; n < N; n++) {
    const ps = pos[n];
    if (!(ps >= 0 && ps < maxPos)) throw new RangeError(`rope: position ${ps} at row ${n} is outside the table [0, ${maxPos})`);
    for (let h = 0; h < H; h++) {
      const off = (n * H + h) * D;
      for (let i = 0; i < half; i++) {
        const c = cos[ps * half + i];
        const s = inverse ? -sin[ps * half + i] : sin[ps * half + i];
        const i1 = interleaved ? off + 2 * i : off + i;
        const i2 = interleaved ? off + 2 * i + 1 : off + i + half;
        const x1 = x[i1], x2 = x[i2];
        out[i1] = x1 * c - x2 * s;
        out[i2] = x1 * s + x2 * c;
      }
      if (out !== x) for (let d = rotaryDim; d < D; d++) out[off + d] = x[off + d];
    }
  }
}

export function swiglu(gate: F32, up: F32, out: F32, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

export function swigluBackward(gate: F32, up: F32, dout: F32, dgate: F32, dup: F32, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const sg = 1 / (1 + Math.exp(-g));
    const silu = g * sg;
    const dsilu = sg * (1 + g * (1 - sg));
    const u = up[i], d = dout[i];
    dgate[i] = d * u * dsilu;
    dup[i] = d * silu;
  }
}

export function siluBackward(x: F32, dy: F32, dx: F32, n: number): void {
  for (let i = 0; i < n; i++) {
    const sg = 1 / (1 + Math.exp(-x[i]));
    dx[i] = dy[i] * sg * (1 + x[i] * (1 - sg));
  }
}

export function embedding(table: F32, ids: I32, out: F32, n: number, dim: number): void {
  const rows = table.length / dim;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < rows)) throw new RangeError(`embedding: id ${id} at position ${i} is outside the table [0, ${rows})`);
    for (let d = 0; d < dim; d++) out[i * dim + d] = table[id * dim + d];
  }
}

export function embeddingBackward(ids: I32, dout: F32, dtable: F32, n: number, dim: number): void {
  const rows = dtable.length / dim;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < rows)) throw new RangeError(`embedding backward: id ${id} at position ${i} is outside the table [0, ${rows})`);
    for (let d = 0; d < dim; d++) dtable[id * dim + d] += dout[i * dim + d];
  }
}
