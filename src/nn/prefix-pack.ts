// Shared-prefix packing: one training forward over groups of sequences that begin with
// the same tokens (GRPO: the G completions of one prompt), computing each group's prefix
// once instead of once per sequence. The packed input is a single row [1, N] holding, for
// each group in turn, its P prefix tokens and then its G rows of L tokens (right-padded
// to L). Position-wise layers (norms, projections, MLPs) run on the packed row as is;
// attention calls packedAttention, in which a prefix token attends causally within its
// prefix and a row token attends to its group's whole prefix and causally to its own row.
// The result is exact: the same outputs at every valid row position, and the same
// gradients, as running each row with its prefix as its own sequence
// (test/nn/prefix-pack.test.ts), at P + G·L positions instead of G·(P + L).
// Not here: a KV cache (a packed pass has none), choosing the groups (src/train/grpo.ts).

import { R1tsError } from '../core/errors.ts';
import { attention, cat, gatherRows, ids, narrow, reshape, scatterRows, type Tensor } from '../tensor/index.ts';

export interface PackGroupSpec {
  /** Shared prefix tokens P (may be 0). */
  readonly prefix: number;
  /** Valid tokens of each row (1 ≤ len ≤ rowLen); the group has lens.length rows. */
  readonly lens: readonly number[];
  /** Padded row length L (default: the longest row). */
  readonly rowLen?: number;
}

export interface PackGroup {
  /** Offset of the group's first prefix token in the packed row. */
  readonly start: number;
  readonly prefix: number;
  readonly rows: number;
  readonly rowLen: number;
  readonly lens: readonly number[];
}

export interface PrefixPack {
  readonly groups: readonly PackGroup[];
  /** Packed length N = Σ (P + G·L). */
  readonly tokens: number;
  /** Gather/scatter plan of packedAttention (built once, used by every layer). */
  readonly plan: AttentionPlan;
}

/**
 * packedAttention gathers every row's queries [R, Lmax] and keys/values (its group's prefix,
 * then its own tokens) [R, Kmax] from the packed row in one gather each, and the prefixes'
 * queries/keys [nG, Pmax] likewise; slots past a row's end gather token 0 and are masked
 * (as keys) or dropped (as queries: their outputs scatter to row N, cut off afterwards).
 * One gather per tensor keeps the backward at one scatter-add of [N, ·] per tensor, however
 * many groups there are.
 */
interface AttentionPlan {
  R: number;
  Lmax: number;
  Kmax: number;
  rowQ: Tensor; // i32 [R·Lmax]
  rowKV: Tensor; // i32 [R·Kmax]
  rowOffsets: Tensor; // i32 [R]: the row's prefix length
  rowKvLens: Tensor; // i32 [R]: prefix + valid tokens
  nP: number;
  Pmax: number;
  preQ: Tensor | null; // i32 [nP·Pmax]
  preKvLens: Tensor | null; // i32 [nP]
  out: Tensor; // i32 [nP·Pmax + R·Lmax]: where each output slot goes (N = dropped)
}

/** Lays out groups one after another; validates every length. */
export function prefixPack(specs: readonly PackGroupSpec[]): PrefixPack {
  if (specs.length === 0) throw new R1tsError('prefix pack: needs at least one group');
  const groups: PackGroup[] = [];
  let start = 0;
  specs.forEach((s, g) => {
    const rowLen = s.rowLen ?? Math.max(0, ...s.lens);
    if (!Number.isInteger(s.prefix) || s.prefix < 0) throw new R1tsError(`prefix pack: group ${g} has prefix ${s.prefix}, expected an integer >= 0`);
    if (s.lens.length === 0) throw new R1tsError(`prefix pack: group ${g} has no rows`);
    if (!Number.isInteger(rowLen) || rowLen < 1) throw new R1tsError(`prefix pack: group ${g} has row length ${rowLen}, expected an integer >= 1`);
    for (const len of s.lens) {
      if (!Number.isInteger(len) || len < 1 || len > rowLen) throw new R1tsError(`prefix pack: group ${g} has a row of ${len} tokens, expected 1..${rowLen}`);
    }
    groups.push({ start, prefix: s.prefix, rows: s.lens.length, rowLen, lens: [...s.lens] });
    start += s.prefix + s.lens.length * rowLen;
  });
  return { groups, tokens: start, plan: attentionPlan(groups, start) };
}

function attentionPlan(groups: readonly PackGroup[], N: number): AttentionPlan {
  const R = groups.reduce((s, g) => s + g.rows, 0);
  const Lmax = Math.max(...groups.map((g) => g.rowLen));
  const Kmax = Math.max(...groups.map((g) => g.prefix + g.rowLen));
  const withPrefix = groups.filter((g) => g.prefix > 0);
  const nP = withPrefix.length;
  const Pmax = Math.max(0, ...groups.map((g) => g.prefix));
  const rowQ = new Int32Array(R * Lmax);
  const rowKV = new Int32Array(R * Kmax);
  const rowOffsets = new Int32Array(R);
  const rowKvLens = new Int32Array(R);
  const preQ = new Int32Array(nP * Pmax);
  const preKvLens = new Int32Array(nP);
  const out = new Int32Array(nP * Pmax + R * Lmax).fill(N);
  withPrefix.forEach((g, i) => {
    preKvLens[i] = g.prefix;
    for (let t = 0; t < g.prefix; t++) {
      preQ[i * Pmax + t] = g.start + t;
      out[i * Pmax + t] = g.start + t;
    }
  });
  let r = 0;
  for (const g of groups) {
    for (let j = 0; j < g.rows; j++, r++) {
      const at = g.start + g.prefix + j * g.rowLen;
      rowOffsets[r] = g.prefix;
      rowKvLens[r] = g.prefix + g.lens[j];
      for (let t = 0; t < g.rowLen; t++) {
        rowQ[r * Lmax + t] = at + t;
        out[nP * Pmax + r * Lmax + t] = at + t;
      }
      for (let t = 0; t < g.prefix; t++) rowKV[r * Kmax + t] = g.start + t;
      for (let t = 0; t < g.rowLen; t++) rowKV[r * Kmax + g.prefix + t] = at + t;
    }
  }
  return {
    R, Lmax, Kmax, rowQ: ids(rowQ), rowKV: ids(rowKV), rowOffsets: ids(rowOffsets), rowKvLens: ids(rowKvLens),
    nP, Pmax, preQ: nP ? ids(preQ) : null, preKvLens: nP ? ids(preKvLens) : null, out: ids(out),
  };
}

/** Absolute position of every packed token: prefix tokens 0..P−1, row tokens P..P+L−1. */
export function packPositions(pack: PrefixPack): Int32Array {
  const pos = new Int32Array(pack.tokens);
  for (const g of pack.groups) {
    for (let t = 0; t < g.prefix; t++) pos[g.start + t] = t;
    for (let r = 0; r < g.rows; r++) for (let t = 0; t < g.rowLen; t++) pos[g.start + g.prefix + r * g.rowLen + t] = g.prefix + t;
  }
  return pos;
}

/**
 * Attention over a packed row: q [1, N, Hq, D], k [1, N, Hkv, D], v [1, N, Hkv, Dv] →
 * [1, N, Hq, Dv], each group attending as the header says. `scale` multiplies q·k.
 */
export function packedAttention(q: Tensor, k: Tensor, v: Tensor, pack: PrefixPack, scale?: number): Tensor {
  const [B, N, Hq, D] = q.shape;
  const [Hkv, Dv] = [k.shape[2], v.shape[3]];
  if (B !== 1 || N !== pack.tokens) throw new R1tsError(`packed attention: q has shape [${q.shape}], expected [1, ${pack.tokens}, H, D] for this pack`);
  const p = pack.plan;
  const q2 = reshape(q, [N, Hq * D]); // [N, Hq·D]
  const k2 = reshape(k, [N, Hkv * D]); // [N, Hkv·D]
  const v2 = reshape(v, [N, Hkv * Dv]); // [N, Hkv·Dv]
  const qr = reshape(gatherRows(q2, p.rowQ), [p.R, p.Lmax, Hq, D]); // [R, Lmax, Hq, D]
  const kr = reshape(gatherRows(k2, p.rowKV), [p.R, p.Kmax, Hkv, D]); // [R, Kmax, Hkv, D]
  const vr = reshape(gatherRows(v2, p.rowKV), [p.R, p.Kmax, Hkv, Dv]); // [R, Kmax, Hkv, Dv]
  const or = attention(qr, kr, vr, { causal: true, scale, qOffsets: p.rowOffsets, kvLens: p.rowKvLens }); // [R, Lmax, Hq, Dv]
  let slots = reshape(or, [p.R * p.Lmax, Hq * Dv]); // [R·Lmax, Hq·Dv]
  if (p.preQ && p.preKvLens) {
    const qp = reshape(gatherRows(q2, p.preQ), [p.nP, p.Pmax, Hq, D]); // [nP, Pmax, Hq, D]
    const kp = reshape(gatherRows(k2, p.preQ), [p.nP, p.Pmax, Hkv, D]); // [nP, Pmax, Hkv, D]
    const vp = reshape(gatherRows(v2, p.preQ), [p.nP, p.Pmax, Hkv, Dv]); // [nP, Pmax, Hkv, Dv]
    const op = attention(qp, kp, vp, { causal: true, scale, qOffset: 0, kvLens: p.preKvLens }); // [nP, Pmax, Hq, Dv]
    slots = cat([reshape(op, [p.nP * p.Pmax, Hq * Dv]), slots], 0); // [nP·Pmax + R·Lmax, Hq·Dv]
  }
  const o = narrow(scatterRows(slots, p.out, N + 1), 0, 0, N); // [N, Hq·Dv]
  return reshape(o, [1, N, Hq, Dv]);
}
