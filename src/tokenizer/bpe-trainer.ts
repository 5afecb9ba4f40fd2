// Byte-level BPE training (GPT-2 style bytes, GPT-4/Llama-3 style regex
// pre-tokenization with single digits). Counts pre-tokens once, then merges
// over the word-count table with an incremental pair-count index and a lazy
// max-heap: each merge touches only the words that contain the merged pair.
// Not here: encoding (bpe-tokenizer.ts), file formats (tokenizer-json.ts).
import { z } from 'zod';
import { TokenizerError } from './errors.ts';
import { BYTE_TO_UNICODE, pretokenizeRegex, utf8 } from './byte-level.ts';
import { DEFAULT_ROLES, DEFAULT_SPECIAL_TOKENS } from './special-tokens.ts';
import { BpeTokenizer, type BpeModelData } from './bpe-tokenizer.ts';

export const BpeTrainConfigSchema = z
  .object({
    /** Total vocabulary: 256 bytes + merges + special tokens. */
    vocabSize: z.number().int().positive().default(4096),
    /** Added tokens, in id order after the learned ones; default: the R1 set (special-tokens.ts). */
    specialTokens: z
      .array(z.object({ content: z.string().min(1), special: z.boolean() }))
      .default(() => DEFAULT_SPECIAL_TOKENS.map((t) => ({ ...t }))),
    /** Roles of special tokens (must name tokens in specialTokens, or be absent). */
    bos: z.string().optional(),
    eos: z.string().optional(),
    pad: z.string().optional(),
    /** A pair seen fewer times than this is never merged (training may stop short of vocabSize). */
    minFrequency: z.number().int().min(1).default(2),
  })
  .strict();
export type BpeTrainConfig = z.input<typeof BpeTrainConfigSchema>;

/** Progress report: merges done out of the target. */
export type TrainProgress = (done: number, total: number) => void;

const PAIR_SHIFT = 4194304; // 2^22: ids below this; key = a * 2^22 + b (exact in a double)

/** Counts pre-tokens of text (special tokens removed first) into counts. */
export function countWords(text: string, counts: Map<string, number>, specials: readonly string[] = []): void {
  const parts = specials.length ? splitOnLiterals(text, specials) : [text];
  const re = pretokenizeRegex();
  for (const part of parts) {
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(part)) !== null) {
      const w = m[0];
      if (w.length === 0) {
        re.lastIndex++;
        continue;
      }
      if (m.index > last) bump(counts, part.slice(last, m.index));
      bump(counts, w);
      last = m.index + w.length;
    }
    if (last < part.length) bump(counts, part.slice(last));
  }
}

/**
 * Pre-tokens longer than this (UTF-16 units) are counted as consecutive chunks:
 * a megabyte-long run of letters (DNA, base64-like blobs) would otherwise be
 * re-scanned by every merge that touches it. Encoding is not affected.
 */
export const MAX_TRAIN_WORD = 256;

function bump(counts: Map<string, number>, w: string): void {
  if (w.length > MAX_TRAIN_WORD) {
    for (let i = 0; i < w.length; ) {
      let j = Math.min(w.length, i + MAX_TRAIN_WORD);
      const c = w.charCodeAt(j - 1);
      if (j < w.length && c >= 0xd800 && c <= 0xdbff) j--; // keep surrogate pairs whole
      bump(counts, w.slice(i, j));
      i = j;
    }
    return;
  }
  counts.set(w, (counts.get(w) ?? 0) + 1);
}

function splitOnLiterals(text: string, lits: readonly string[]): string[] {
  const re = new RegExp([...lits].sort((a, b) => b.length - a.length).map(escapeRegex).join('|'), 'g');
  return text.split(re);
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** Max-heap of (count, pair key); ties go to the smaller key. Entries may be stale (checked on pop). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  private above(i: number, j: number): boolean {
    const ci = this.counts[i], cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i]; this.counts[i] = this.counts[j]; this.counts[j] = c;
    const k = this.keys[i]; this.keys[i] = this.keys[j]; this.keys[j] = k;
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    const n = this.keys.length;
    if (n > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let best = i;
        if (l < n && this.above(l, best)) best = l;
        if (r < n && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/**
 * Learns merges from a word-count table until numTokens new tokens exist.
 * Returns [left id, right id, result id] in rank order; new tokens get ids
 * 256, 257, ... A merge whose result already exists (the same bytes reached
 * by another split, e.g. ab+c after a+bc) reuses that id, as Hugging Face's
 * trainer does, so there can be more merges than new tokens.
 */
export function learnMerges(
  wordCounts: Map<string, number>,
  numTokens: number,
  minFrequency = 2,
  onProgress?: TrainProgress,
): [number, number, number][] {
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCounts) {
    const bytes = utf8(w);
    if (bytes.length < 2) continue; // single bytes never take part in a pair
    words.push(Int32Array.from(bytes));
    freq.push(c);
  }
  const pairCounts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  for (let w = 0; w < words.length; w++) {
    const s = words[w], c = freq[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const k = s[i] * PAIR_SHIFT + s[i + 1];
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + c);
      let set = where.get(k);
      if (!set) where.set(k, (set = new Set()));
      set.add(w);
    }
  }
  const heap = new PairHeap();
  for (const [k, c] of pairCounts) heap.push(c, k);

  const merges: [number, number, number][] = [];
  const tokenKey: string[] = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b)); // bytes as latin1
  const keyId = new Map<string, number>(tokenKey.map((k, id) => [k, id]));
  let nextId = 256;
  const deltas = new Map<number, number>();
  while (nextId - 256 < numTokens && heap.size > 0) {
    const [c, key] = heap.pop();
    const actual = pairCounts.get(key) ?? 0;
    if (actual !== c) {
      if (actual > 0) heap.push(actual, key);
      continue;
    }
    if (c < minFrequency) break;
    const a = Math.floor(key / PAIR_SHIFT), b = key - a * PAIR_SHIFT;
    const mergedKey = tokenKey[a] + tokenKey[b];
    let newId = keyId.get(mergedKey);
    if (newId === undefined) {
      newId = nextId++;
      tokenKey.push(mergedKey);
      keyId.set(mergedKey, newId);
    }
    merges.push([a, b, newId]);
    const ws = where.get(key);
    where.delete(key);
    pairCounts.delete(key);
    deltas.clear();
    if (ws) {
      for (const w of ws) {
        const s = words[w];
        let hit = false;
        for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) { hit = true; break; }
        if (!hit) continue;
        const cw = freq[w];
        for (let i = 0; i + 1 < s.length; i++) {
          const k = s[i] * PAIR_SHIFT + s[i + 1];
          deltas.set(k, (deltas.get(k) ?? 0) - cw);
        }
        const out: number[] = [];
        for (let i = 0; i < s.length; ) {
          if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(newId); i += 2; }
          else out.push(s[i++]);
        }
        const ns = Int32Array.from(out);
        words[w] = ns;
        for (let i = 0; i + 1 < ns.length; i++) {
          const k = ns[i] * PAIR_SHIFT + ns[i + 1];
          deltas.set(k, (deltas.get(k) ?? 0) + cw);
          if (ns[i] === newId || ns[i + 1] === newId) {
            let set = where.get(k);
            if (!set) where.set(k, (set = new Set()));
            set.add(w);
          }
        }
      }
    }
    for (const [k, d] of deltas) {
      if (d === 0 || k === key) continue;
      const nc = (pairCounts.get(k) ?? 0) + d;
      if (nc <= 0) { pairCounts.delete(k); where.delete(k); }
      else pairCounts.set(k, nc);
      if (d > 0) heap.push(nc, k); // only pairs with the new token grow; the rest are re-pushed lazily
    }
    if (onProgress && merges.length % 256 === 0) onProgress(nextId - 256, numTokens);
  }
  onProgress?.(nextId - 256, numTokens);
  return merges;
}

/** Builds the model data (vocab strings, merges, added tokens) from learned id merges. */
export function modelFromMerges(idMerges: readonly [number, number, number][], cfg: z.output<typeof BpeTrainConfigSchema>): BpeModelData {
  const vocab: string[] = BYTE_TO_UNICODE.slice();
  const merges: [string, string][] = [];
  for (const [a, b, c] of idMerges) {
    merges.push([vocab[a], vocab[b]]);
    if (c === vocab.length) vocab.push(vocab[a] + vocab[b]);
  }
  const added = cfg.specialTokens.map((t, i) => ({ content: t.content, special: t.special, id: vocab.length + i }));
  return { vocab, merges, addedTokens: added, roles: { bos: cfg.bos, eos: cfg.eos, pad: cfg.pad } };
}

/** Validates a training config at the edge (sizes, duplicate specials, roles). */
export function parseTrainConfig(config: BpeTrainConfig = {}): z.output<typeof BpeTrainConfigSchema> {
  const r = BpeTrainConfigSchema.safeParse(config);
  if (!r.success) throw new TokenizerError(`BPE training config: ${z.prettifyError(r.error)}`);
  const cfg = r.data;
  const usingDefaults = config.specialTokens === undefined;
  if (usingDefaults) {
    cfg.bos ??= DEFAULT_ROLES.bos;
    cfg.eos ??= DEFAULT_ROLES.eos;
    cfg.pad ??= DEFAULT_ROLES.pad;
  }
  const names = new Set<string>();
  for (const t of cfg.specialTokens) {
    if (names.has(t.content)) throw new TokenizerError(`BPE training config: special token ${JSON.stringify(t.content)} is listed twice`);
    names.add(t.content);
  }
  for (const role of ['bos', 'eos', 'pad'] as const) {
    const v = cfg[role];
    if (v !== undefined && !names.has(v))
      throw new TokenizerError(`BPE training config: ${role} token ${JSON.stringify(v)} is not among the special tokens (${[...names].join(', ') || 'none'})`);
  }
  const min = 256 + cfg.specialTokens.length;
  if (cfg.vocabSize < min)
    throw new TokenizerError(`BPE training config: vocabSize ${cfg.vocabSize} is smaller than 256 bytes + ${cfg.specialTokens.length} special tokens = ${min}`);
  if (cfg.vocabSize - cfg.specialTokens.length > PAIR_SHIFT)
    throw new TokenizerError(`BPE training config: vocabSize ${cfg.vocabSize} is above the supported ${PAIR_SHIFT}`);
  return cfg;
}

/**
 * Trains a byte-level BPE tokenizer. `corpus` is one string or an iterable of
 * chunks (documents); special tokens appearing in it are cut out, never learned.
 * The vocabulary may come out smaller than vocabSize when the corpus runs out
 * of pairs seen minFrequency times.
 */
export function trainBpe(corpus: string | Iterable<string>, config: BpeTrainConfig = {}, onProgress?: TrainProgress): BpeTokenizer {
  const cfg = parseTrainConfig(config);
  const counts = new Map<string, number>();
  const specials = cfg.specialTokens.map((t) => t.content);
  let chars = 0;
  for (const chunk of typeof corpus === 'string' ? [corpus] : corpus) {
    if (typeof chunk !== 'string') throw new TokenizerError(`BPE training corpus: expected strings, got ${typeof chunk}`);
    chars += chunk.length;
    countWords(chunk, counts, specials);
  }
  if (chars === 0) throw new TokenizerError('BPE training corpus is empty: expected at least some text');
  if (counts.size === 0) throw new TokenizerError('BPE training corpus holds only special tokens: expected some ordinary text');
  const numTokens = cfg.vocabSize - 256 - cfg.specialTokens.length;
  const idMerges = learnMerges(counts, numTokens, cfg.minFrequency, onProgress);
  return new BpeTokenizer(modelFromMerges(idMerges, cfg));
}
