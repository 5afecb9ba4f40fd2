// Our byte-level BPE encoder/decoder: special tokens matched first (longest
// first), then regex pre-tokenization, then merges by rank (lowest rank first,
// leftmost on ties, as Hugging Face's BPE does) with a per-piece cache.
// Decoding joins token bytes and reads them as UTF-8 (invalid → U+FFFD).
// Not here: training (bpe-trainer.ts), file formats (tokenizer-json.ts).
import { TokenizerError } from './errors.ts';
import { pretokenizeRegex, tokenStringToBytes, utf8, fromUtf8 } from './byte-level.ts';
import type { SpecialRoles } from './special-tokens.ts';
import type { DecodeOptions, EncodeOptions, TextTokenizer } from './types.ts';

export interface AddedToken {
  content: string;
  id: number;
  /** True: a control token (BOS/EOS/PAD); skipped by decode({ skipSpecialTokens }). */
  special: boolean;
}

/** Everything that defines a byte-level BPE tokenizer. */
export interface BpeModelData {
  /** id → byte-level token string (GPT-2 alphabet); the 256 single bytes must all be present. */
  vocab: string[];
  /** In rank order; each pair's concatenation must be in vocab. */
  merges: [string, string][];
  addedTokens: AddedToken[];
  roles: SpecialRoles;
}

const PAIR_SHIFT = 4194304; // 2^22
const POS_SHIFT = 1073741824; // 2^30: heap key = rank * 2^30 + position
const CACHE_LIMIT = 200_000;
const CACHE_MAX_PIECE = 256; // longer pieces are rare and would pin large strings

export class BpeTokenizer implements TextTokenizer {
  readonly data: BpeModelData;
  readonly vocabSize: number;
  readonly addedTokens: ReadonlyMap<string, number>;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padToken: string | undefined;
  private readonly tokenIds = new Map<string, number>();
  private readonly idTokens: (string | undefined)[] = [];
  private readonly idBytes: (Uint8Array | undefined)[] = [];
  private readonly specialIds = new Set<number>();
  private readonly byteIds = new Int32Array(256);
  private readonly mergeRank = new Map<number, number>();
  private readonly rankResult: Int32Array;
  private readonly specialRegex: RegExp | null;
  private readonly pieceRegex = pretokenizeRegex();
  private readonly cache = new Map<string, number[]>();

  constructor(data: BpeModelData) {
    this.data = data;
    data.vocab.forEach((tok, id) => {
      if (typeof tok !== 'string' || tok.length === 0) throw new TokenizerError(`BPE vocab: token id ${id} is empty or not a string`);
      if (this.tokenIds.has(tok)) throw new TokenizerError(`BPE vocab: token ${JSON.stringify(tok)} appears twice (ids ${this.tokenIds.get(tok)} and ${id})`);
      const bytes = tokenStringToBytes(tok);
      if (!bytes) throw new TokenizerError(`BPE vocab: token ${JSON.stringify(tok)} (id ${id}) has a character outside the byte-level alphabet`);
      this.tokenIds.set(tok, id);
      this.idTokens[id] = tok;
      this.idBytes[id] = bytes;
    });
    this.byteIds.fill(-1);
    this.idBytes.forEach((b, id) => {
      if (b && b.length === 1) this.byteIds[b[0]] = id;
    });
    const missing = [...this.byteIds].findIndex((v) => v < 0);
    if (missing >= 0) throw new TokenizerError(`BPE vocab: the single-byte token for byte ${missing} is missing (byte-level BPE needs all 256)`);
    this.rankResult = new Int32Array(data.merges.length);
    data.merges.forEach(([l, r], rank) => {
      const a = this.tokenIds.get(l), b = this.tokenIds.get(r), c = this.tokenIds.get(l + r);
      if (a === undefined || b === undefined) throw new TokenizerError(`BPE merges: merge ${rank} (${JSON.stringify(l)} ${JSON.stringify(r)}) uses a token not in the vocab`);
      if (c === undefined) throw new TokenizerError(`BPE merges: merge ${rank} result ${JSON.stringify(l + r)} is not in the vocab`);
      const k = a * PAIR_SHIFT + b;
      if (!this.mergeRank.has(k)) this.mergeRank.set(k, rank);
      this.rankResult[rank] = c;
    });
    const added = new Map<string, number>();
    for (const t of data.addedTokens) {
      if (typeof t.content !== 'string' || t.content.length === 0) throw new TokenizerError(`added token id ${t.id}: empty content`);
      if (!Number.isInteger(t.id) || t.id < 0) throw new TokenizerError(`added token ${JSON.stringify(t.content)}: id ${t.id} is not a non-negative integer`);
      const existing = this.idTokens[t.id];
      if (existing !== undefined && existing !== t.content && !added.has(existing))
        throw new TokenizerError(`added token ${JSON.stringify(t.content)}: id ${t.id} is already the vocab token ${JSON.stringify(existing)}`);
      if (added.has(t.content)) throw new TokenizerError(`added token ${JSON.stringify(t.content)} appears twice`);
      if (this.idTokens[t.id] !== undefined && added.has(this.idTokens[t.id]!)) throw new TokenizerError(`added token ${JSON.stringify(t.content)}: id ${t.id} is taken by another added token`);
      added.set(t.content, t.id);
      this.tokenIds.set(t.content, t.id);
      this.idTokens[t.id] = t.content;
      this.idBytes[t.id] = utf8(t.content);
      if (t.special) this.specialIds.add(t.id);
    }
    this.addedTokens = added;
    this.vocabSize = this.idTokens.length;
    const names = [...added.keys()].sort((a, b) => b.length - a.length);
    this.specialRegex = names.length ? new RegExp(`(${names.map(escape).join('|')})`, 'g') : null;
    for (const [role, v] of Object.entries(data.roles)) {
      if (v !== undefined && !added.has(v)) throw new TokenizerError(`${role} token ${JSON.stringify(v)} is not an added token (have: ${names.join(', ') || 'none'})`);
    }
    this.bosToken = data.roles.bos;
    this.eosToken = data.roles.eos;
    this.padToken = data.roles.pad;
  }

  get numMerges(): number {
    return this.data.merges.length;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`encode: expected a string, got ${typeof text}`);
    const out: number[] = [];
    if (this.specialRegex && options.parseSpecial !== false) {
      const parts = text.split(this.specialRegex);
      for (let i = 0; i < parts.length; i++) {
        if (i % 2 === 1) out.push(this.addedTokens.get(parts[i])!);
        else if (parts[i].length) this.encodeOrdinary(parts[i], out);
      }
    } else this.encodeOrdinary(text, out);
    return out;
  }

  /** Encodes text with no special-token matching, appending to out. */
  private encodeOrdinary(text: string, out: number[]): void {
    // the loop of pretokenize(), inlined: no array of pieces (a measured 2x on encode)
    const re = this.pieceRegex;
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const piece = m[0];
      if (piece.length === 0) {
        re.lastIndex++;
        continue;
      }
      if (m.index > last) this.encodePiece(text.slice(last, m.index), out);
      this.encodePiece(piece, out);
      last = m.index + piece.length;
    }
    if (last < text.length) this.encodePiece(text.slice(last), out);
  }

  private encodePiece(piece: string, out: number[]): void {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.bpe(utf8(piece));
      if (piece.length <= CACHE_MAX_PIECE) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, ids);
      }
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  /** Applies merges to one pre-token's bytes: lowest rank first, leftmost on ties. */
  private bpe(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const id = new Int32Array(n);
    for (let i = 0; i < n; i++) id[i] = this.byteIds[bytes[i]];
    if (n < 2) return Array.from(id);
    const next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
    const heap: number[] = [];
    const push = (i: number): void => {
      const j = next[i];
      if (j < 0) return;
      const r = this.mergeRank.get(id[i] * PAIR_SHIFT + id[j]);
      if (r !== undefined) heapPush(heap, r * POS_SHIFT + i);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.length) {
      const key = heapPop(heap);
      const rank = Math.floor(key / POS_SHIFT), i = key - rank * POS_SHIFT;
      const j = next[i];
      if (id[i] < 0 || j < 0) continue;
      if (this.mergeRank.get(id[i] * PAIR_SHIFT + id[j]) !== rank) continue; // stale entry
      id[i] = this.rankResult[rank];
      id[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) push(prev[i]);
      push(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(id[i]);
    return out;
  }

  /** Raw bytes of ids (for streaming: decode only once a UTF-8 sequence is complete). */
  decodeBytes(ids: readonly number[], options: DecodeOptions = {}): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      const b = Number.isInteger(id) ? this.idBytes[id] : undefined;
      if (!b) throw new TokenizerError(`decode: token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue;
      parts.push(b);
      total += b.length;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return fromUtf8(this.decodeBytes(ids, options));
  }

  tokenToId(token: string): number | undefined {
    return this.tokenIds.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.idTokens[id];
  }

  specialId(token: string): number {
    const id = this.addedTokens.get(token);
    if (id === undefined) throw new TokenizerError(`unknown special token ${JSON.stringify(token)} (have: ${[...this.addedTokens.keys()].join(', ') || 'none'})`);
    return id;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function heapPush(h: number[], v: number): void {
  h.push(v);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] <= v) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0];
  const last = h.pop()!;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && h[l + 1] < h[l] ? l + 1 : l;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
  return top;
}
