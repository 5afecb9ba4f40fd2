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
import { attention, broadcastTo, cat, ids, narrow, reshape, type Tensor } from '../tensor/index.ts';

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
  /** Valid keys of each row's attention (prefix + len), i32 [rows]. */
  readonly kvLens: Tensor;
}

export interface PrefixPack {
  readonly groups: readonly PackGroup[];
  /** Packed length N = Σ (P + G·L). */
  readonly tokens: number;
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
    groups.push({ start, prefix: s.prefix, rows: s.lens.length, rowLen, lens: [...s.lens], kvLens: ids(Int32Array.from(s.lens, (l) => s.prefix + l)) });
    start += s.prefix + s.lens.length * rowLen;
  });
  return { groups, tokens: start };
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
  const outs: Tensor[] = [];
  for (const g of pack.groups) {
    const { prefix: P, rows: G, rowLen: L } = g;
    const rowsAt = g.start + P;
    const qc = reshape(narrow(q, 1, rowsAt, G * L), [G, L, Hq, D]); // [G, L, Hq, D]
    let kc = reshape(narrow(k, 1, rowsAt, G * L), [G, L, Hkv, D]); // [G, L, Hkv, D]
    let vc = reshape(narrow(v, 1, rowsAt, G * L), [G, L, Hkv, Dv]); // [G, L, Hkv, Dv]
    if (P > 0) {
      const kp = narrow(k, 1, g.start, P); // [1, P, Hkv, D]
      const vp = narrow(v, 1, g.start, P); // [1, P, Hkv, Dv]
      outs.push(attention(narrow(q, 1, g.start, P), kp, vp, { causal: true, scale, qOffset: 0 })); // [1, P, Hq, Dv]
      kc = cat([broadcastTo(kp, [G, P, Hkv, D]), kc], 1); // [G, P+L, Hkv, D]
      vc = cat([broadcastTo(vp, [G, P, Hkv, Dv]), vc], 1); // [G, P+L, Hkv, Dv]
    }
    const oc = attention(qc, kc, vc, { causal: true, scale, qOffset: P, kvLens: g.kvLens }); // [G, L, Hq, Dv]
    outs.push(reshape(oc, [1, G * L, Hq, Dv]));
  }
  return outs.length === 1 ? outs[0] : cat(outs, 1); // [1, N, Hq, Dv]
}
