// Incremental detokenization for streaming generation: feed token ids one at
// a time, get back only text that is complete (a character split over several
// byte tokens is held until its last byte arrives). Works with any
// TextTokenizer by decoding a short window of ids, as servers commonly do.
// Not here: sampling or stop strings (src/engine, src/server).
import type { DecodeOptions, TextTokenizer } from './types.ts';

const CONTEXT = 4; // ids kept as left context (decoders such as Metaspace look at the previous token)

export class StreamDecoder {
  private readonly tok: TextTokenizer;
  private readonly options: DecodeOptions;
  private context: number[] = [];
  private pending: number[] = [];

  constructor(tokenizer: TextTokenizer, options: DecodeOptions = {}) {
    this.tok = tokenizer;
    this.options = options;
  }

  /** Adds one id; returns the newly completed text ('' while a character is still incomplete). */
  push(id: number): string {
    this.pending.push(id);
    const all = [...this.context, ...this.pending];
    const full = this.tok.decode(all, this.options);
    // a UTF-8 character spans at most 4 byte tokens; after that the bytes are invalid for good
    if (full.endsWith('\uFFFD') && this.pending.length < 4) return '';
    return this.emit(all, full);
  }

  /** Emits whatever is held back (incomplete bytes as U+FFFD). */
  flush(): string {
    if (this.pending.length === 0) return '';
    const all = [...this.context, ...this.pending];
    return this.emit(all, this.tok.decode(all, this.options));
  }

  private emit(all: number[], full: string): string {
    const prev = this.context.length ? this.tok.decode(this.context, this.options) : '';
    this.context = all.slice(-CONTEXT);
    this.pending = [];
    return full.startsWith(prev) ? full.slice(prev.length) : full;
  }
}
