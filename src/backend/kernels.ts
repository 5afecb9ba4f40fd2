// The kernel contract: every compute primitive r1ts uses, as one typed interface.
// A backend (src/backend/ref: the pure-TS executable spec; src/backend/native:
// the C++ addon) implements all of it; the compiler reports a missing entry.
// Kernels work on flat, contiguous, row-major typed arrays plus sizes; they do
// not allocate their outputs, do not know about autograd and do not validate
// shapes (src/tensor does, and throws ShapeError). They do validate indices
// that come from data (token ids, targets) and throw RangeError naming the bad
// value, because a wrong id must never read or write out of bounds.
// Layout letters: N rows/tokens, B batch, T time, H heads, D head dim, V vocab.

export type F32 = Float32Array;
export type I32 = Int32Array;

/** Unary elementwise ops (out = f(x)). */
export const unaryOps = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'square', 'recip', 'tanh', 'sigmoid', 'silu', 'relu', 'gelu'] as const;
export type UnaryOp = (typeof unaryOps)[number];

/** Binary elementwise ops with broadcasting. Comparisons give 1 or 0. */
export const binaryOps = ['add', 'sub', 'mul', 'div', 'max', 'min', 'pow', 'eq', 'gt', 'ge'] as const;
export type BinaryOp = (typeof binaryOps)[number];

export const reduceOps = ['sum', 'max'] as const;
export type ReduceOp = (typeof reduceOps)[number];

export interface GemmParams {
  /** Number of independent products. */
  batch: number;
  m: number;
  n: number;
  k: number;
  /** A is stored k×m (row-major) and used transposed. */
  transA: boolean;
  /** B is stored n×k (row-major) and used transposed. */
  transB: boolean;
  alpha: number;
  /** 0: C is overwritten (its old content, even NaN, is ignored); 1: accumulate. */
  beta: number;
  /** Element distance between consecutive batch items; 0 broadcasts one matrix to all. */
  strideA: number;
  strideB: number;
  strideC: number;
  /** Optional [n] vector added to every row of C after alpha·op(A)·op(B) + beta·C. */
  bias: F32 | null;
}

export interface AttentionParams {
  B: number;
  /** Query rows per batch item. */
  Tq: number;
  /** Key/value rows per batch item. */
  Tk: number;
  /** Query heads; a multiple of Hkv (grouped-query attention: query head h reads kv head floor(h / (Hq / Hkv))). */
  Hq: number;
  Hkv: number;
  /** Head dim of q and k. */
  D: number;
  /** Head dim of v and out (MLA has Dv != D). */
  Dv: number;
  /** Multiplies q·k before the softmax. */
  scale: number;
  /** Causal: key j is visible to query i iff j <= qOffset + i. */
  causal: boolean;
  /** Absolute position of query row 0 among the keys (KV cache: Tk - Tq for a suffix of new rows). */
  qOffset: number;
  /** Optional per-batch qOffset [B], replacing qOffset. */
  qOffsets: I32 | null;
  /** Optional per-batch count of valid keys [B]: key j >= kvLens[b] is masked (right padding). */
  kvLens: I32 | null;
}

export interface RopeParams {
  /** Rows (tokens); x is [N, H, D]. */
  N: number;
  H: number;
  D: number;
  /** The first rotaryDim dims of each head rotate (even, <= D); the rest pass through. */
  rotaryDim: number;
  /** true: pairs (2i, 2i+1) (DeepSeek-V3 checkpoints); false: pairs (i, i + rotaryDim/2) (Llama/Qwen2). */
  interleaved: boolean;
  /** Rotate by -theta: the backward pass (rotation is orthogonal). */
  inverse: boolean;
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, for bias correction. */
  step: number;
}

export interface Kernels {
  /**
   * C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] (+ bias), row-major; op(A) is m×k, op(B) is k×n.
   * A[b] starts at b·strideA (same for B, C). Few-row products (m <= 8) take a matrix-vector path natively.
   */
  gemm(a: F32, b: F32, c: F32, p: GemmParams): void;

  /** out[i] = op(x[i]) for i < n. out may be x. gelu is the tanh approximation. */
  unary(op: UnaryOp, x: F32, out: F32, n: number): void;

  /**
   * out[idx] = op(a[idx·aStrides], b[idx·bStrides]) for every multi-index idx of `shape` (row-major).
   * Strides are in elements; 0 means broadcast along that dim. out is contiguous with `shape`.
   */
  binary(op: BinaryOp, a: F32, aStrides: readonly number[], b: F32, bStrides: readonly number[], out: F32, shape: readonly number[]): void;

  /** x viewed as [outer, r, inner]; out [outer, inner] = op over the middle axis. */
  reduce(op: ReduceOp, x: F32, out: F32, outer: number, r: number, inner: number): void;

  /** Strided copy: dst[dstOffset + idx·dstStrides] = src[srcOffset + idx·srcStrides] for every idx of `shape`. */
  copy(src: F32 | I32, srcOffset: number, srcStrides: readonly number[], dst: F32 | I32, dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void;

  /** Row-wise softmax of x [rows, cols] (max-subtracted, stable). */
  softmax(x: F32, out: F32, rows: number, cols: number): void;
  /** Row-wise log-softmax (x - max - log(sum(exp(x - max)))). */
  logSoftmax(x: F32, out: F32, rows: number, cols: number): void;
  /** dx = y ⊙ (dy - Σ dy⊙y) row-wise, with y = softmax output. */
  softmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void;
  /** dx = dy - exp(y) · Σ dy row-wise, with y = log-softmax output. */
  logSoftmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void;

  /** out = x / sqrt(mean(x²) + eps) ⊙ w, per row of [rows, cols]; rstd [rows] saves 1/sqrt(mean(x²)+eps). */
  rmsnorm(x: F32, w: F32, out: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  /** Gradients of rmsnorm: dx [rows, cols] and dw [cols] are overwritten. */
  rmsnormBackward(x: F32, w: F32, rstd: F32, dy: F32, dx: F32, dw: F32, rows: number, cols: number): void;

  /**
   * Rotary embedding of x [N, H, D] at positions pos [N]: for each pair (x1, x2) with frequency index i,
   * (x1·cos - x2·sin, x1·sin + x2·cos) with cos/sin read from tables [maxPos, rotaryDim/2] at row pos[n].
   * out may be x. Positions outside [0, maxPos) throw RangeError.
   */
  rope(x: F32, out: F32, cos: F32, sin: F32, pos: I32, p: RopeParams): void;

  /** out = silu(gate) ⊙ up over n elements. */
  swiglu(gate: F32, up: F32, out: F32, n: number): void;
  /** Gradients of swiglu: dgate, dup overwritten. */
  swigluBackward(gate: F32, up: F32, dout: F32, dgate: F32, dup: F32, n: number): void;
  /** dx = dy ⊙ silu'(x). */
  siluBackward(x: F32, dy: F32, dx: F32, n: number): void;

  /** out [n, dim] = table[ids[i]] rows; ids outside [0, rows of table) throw RangeError. */
  embedding(table: F32, ids: I32, out: F32, n: number, dim: number): void;
  /** dtable[ids[i]] += dout[i] (accumulates; the caller zeroes dtable when needed). */
  embeddingBackward(ids: I32, dout: F32, dtable: F32, n: number, dim: number): void;

  /**
   * Causal/padded multi-head attention that never materializes the full score matrix:
   * q [B, Tq, Hq, D], k [B, Tk, Hkv, D], v [B, Tk, Hkv, Dv] → out [B, Tq, Hq, Dv], lse [B, Hq, Tq]
   * (natural log-sum-exp of the scaled, masked scores). A query row with no visible key gets
   * out = 0 and lse = -Infinity.
   */
  attention(q: F32, k: F32, v: F32, out: F32, lse: F32, p: AttentionParams): void;
  /** Gradients of attention from its saved out and lse: dq, dk, dv overwritten. */
  attentionBackward(q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32, dq: F32, dk: F32, dv: F32, p: AttentionParams): void;

  /**
   * Cross-entropy from logits [rows, V] and targets [rows]: loss[r] = lse[r] - logits[r, t] with
   * lse[r] = log Σ exp(logits[r]) saved; rows whose target is ignoreIndex get loss 0 (lse still written).
   * Targets outside [0, V) other than ignoreIndex throw RangeError.
   */
  crossEntropy(logits: F32, targets: I32, loss: F32, lse: F32, rows: number, V: number, ignoreIndex: number): void;
  /** dlogits[r] = (softmax(logits[r]) - onehot(t)) · dloss[r]; ignored rows get 0. */
  crossEntropyBackward(logits: F32, targets: I32, lse: F32, dloss: F32, dlogits: F32, rows: number, V: number, ignoreIndex: number): void;

  /** AdamW (PyTorch semantics, decoupled decay) in place on param, m, v over n elements. */
  adamw(param: F32, grad: F32, m: F32, v: F32, n: number, p: AdamWParams): void;
  /** Σ x[i]² over n elements, accumulated in double precision. */
  sumSquares(x: F32, n: number): number;
  /** x[i] *= s in place (gradient clipping). */
  scale(x: F32, n: number, s: number): void;

  /** Per row of x [rows, cols]: the k largest values in descending order and their indices (ties: lower index first). */
  topk(x: F32, values: F32, indices: I32, rows: number, cols: number, k: number): void;
}

export type KernelName = keyof Kernels;

/** A backend: a named implementation of every kernel, plus its thread control. */
export interface Backend {
  readonly name: 'ref' | 'native';
  readonly kernels: Kernels;
  /** A one-line description (CPU dispatch level, threads). */
  describe(): string;
  threads(): number;
  setThreads(n: number): void;
  /**
   * The machine's measured f32 peak: FLOP/s of independent vector FMA chains on all of
   * this backend's threads for about `seconds` (no memory traffic), at the CPU dispatch
   * level in force; null where the backend cannot measure it (the reference backend).
   */
  fmaPeak(seconds: number): FmaPeak | null;
}

export interface FmaPeak {
  flops: number;
  threads: number;
  /** f32 lanes per vector FMA (16 AVX-512, 8 AVX2, 4 portable). */
  lanes: number;
  /** CPU dispatch level name. */
  level: string;
}
