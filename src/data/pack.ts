// Pretraining data: documents tokenized, each followed by EOS, concatenated
// into one token stream per split, and cut into fixed windows of T+1 tokens
// (stride T) that are served B at a time in a seeded order, epoch after epoch.
// Standard nanoGPT/llm.c packing: ids = window[0..T), targets = window[1..T+1),
// every target is the true next token (no -100), and attention is NOT reset at
// document boundaries; the EOS between documents tells the model where one ends,
// and the target after an EOS (the next document's first token) is trained too.
// Held-out split: a document goes to eval when a hash of its text falls below
// heldOutFraction (stable whatever the file order); if that picks none, the
// last document is held out.
// Not here: reading files (text-dataset.ts), SFT batches (sft.ts).

import { R1tsError } from '../core/errors.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import { EpochCursor, type Batch, type Batcher, type BatcherPosition } from './batcher.ts';

/** FNV-1a of the text with a seed, mapped to [0, 1). */
export function docHash01(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 4294967296;
}

/** A growable Int32 token stream. */
class TokenStream {
  buf = new Int32Array(1 << 16);
  length = 0;
  docs = 0;
  lastDocStart = 0;

  push(ids: readonly number[], eos: number): void {
    const need = this.length + ids.length + 1;
    if (need > this.buf.length) {
      const next = new Int32Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.lastDocStart = this.length;
    for (const id of ids) this.buf[this.length++] = id;
    this.buf[this.length++] = eos;
    this.docs++;
  }

  view(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}

export interface TokenizedSplits {
  /** Train token stream (documents + EOS each). */
  train: Int32Array;
  /** Held-out token stream (empty when heldOutFraction is 0). */
  eval: Int32Array;
  trainDocs: number;
  evalDocs: number;
}

export interface TokenizeOptions {
  eosId: number;
  /** Fraction of documents held out for evaluation (default 0). */
  heldOutFraction?: number;
  /** Seed of the held-out hash (default 0). */
  seed?: number;
}

/** Tokenizes a stream of documents into train and held-out token streams. */
export async function tokenizeDocuments(docs: AsyncIterable<string> | Iterable<string>, tokenizer: TextTokenizer, o: TokenizeOptions): Promise<TokenizedSplits> {
  const frac = o.heldOutFraction ?? 0;
  if (!(frac >= 0 && frac < 1)) throw new R1tsError(`heldOutFraction ${frac}: expected a fraction in [0, 1)`);
  const train = new TokenStream(), held = new TokenStream();
  for await (const doc of docs) {
    const ids = tokenizer.encode(doc);
    (frac > 0 && docHash01(doc, o.seed ?? 0) < frac ? held : train).push(ids, o.eosId);
  }
  let trainIds = train.view(), evalIds = held.view(), trainDocs = train.docs, evalDocs = held.docs;
  if (frac > 0 && evalDocs === 0 && trainDocs >= 2) {
    evalIds = trainIds.slice(train.lastDocStart);
    trainIds = trainIds.slice(0, train.lastDocStart);
    trainDocs--;
    evalDocs = 1;
  }
  return { train: trainIds, eval: evalIds, trainDocs, evalDocs };
}

export interface PackOptions {
  /** Rows per batch (B). */
  batch: number;
  /** Positions per row (T); windows hold T+1 tokens. */
  seqLen: number;
  /** Seed of the window order (default 0). */
  seed?: number;
  /** Shuffle windows each epoch (default true; eval batchers pass false). */
  shuffle?: boolean;
}

/** Batches of packed windows of a token stream; see the file header. */
export class PackedBatcher implements Batcher {
  readonly B: number;
  readonly T: number;
  /** Windows of T+1 tokens in the stream. */
  readonly windows: number;
  private readonly cursor: EpochCursor;

  constructor(readonly tokens: Int32Array, o: PackOptions) {
    this.B = o.batch;
    this.T = o.seqLen;
    if (!(Number.isInteger(this.B) && this.B > 0 && Number.isInteger(this.T) && this.T > 0)) throw new R1tsError(`PackedBatcher: batch ${this.B} and seqLen ${this.T} must be positive integers`);
    this.windows = tokens.length > this.T ? Math.floor((tokens.length - 1) / this.T) : 0;
    if (this.windows === 0) throw new R1tsError(`PackedBatcher: ${tokens.length} tokens are too few for one window of ${this.T + 1} (seqLen + 1); use more data or a shorter --seq`);
    this.cursor = new EpochCursor(this.windows, o.seed ?? 0, o.shuffle ?? true);
  }

  next(): Batch {
    const { B, T } = this;
    const ids = new Int32Array(B * T); // [B, T]
    const targets = new Int32Array(B * T); // [B, T]
    for (let b = 0; b < B; b++) {
      const start = this.cursor.take() * T;
      ids.set(this.tokens.subarray(start, start + T), b * T);
      targets.set(this.tokens.subarray(start + 1, start + T + 1), b * T);
    }
    return { ids, targets, B, T, tokens: B * T };
  }

  position(): BatcherPosition {
    return this.cursor.position();
  }

  seek(p: BatcherPosition): void {
    this.cursor.seek(p);
  }
}
