// OpenAI's `logprobs` shapes built from the engine's raw per-token
// log-probabilities (log softmax at temperature 1 over the whole vocabulary,
// whatever the sampling settings; TokenLogprobs in src/engine/sampling.ts):
//   chat:        {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}], "refusal": null}
//   completions: {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}
// Every generated token is listed, the reasoning's included, in order (the
// split into reasoning_content/content is a split of text, not of tokens).
// `token` is the token's own decoding; `bytes` its exact UTF-8 bytes (a
// byte-level token that holds part of a character decodes to U+FFFD, but its
// bytes are exact). Not here: sampling (src/engine), HTTP (server.ts).

import type { TokenLogprobs } from '../engine/sampling.ts';
import { StreamDecoder, tokenStringToBytes, utf8, type TextTokenizer } from '../tokenizer/index.ts';

export interface TopLogprob { token: string; logprob: number; bytes: number[] }
/** One generated token as OpenAI's chat API reports it, plus its character offset in the completion. */
export interface TokenEntry extends TopLogprob { top_logprobs: TopLogprob[]; offset: number }

/** The text and bytes of token ids, cached per id (one per request or shared). */
export class TokenPieces {
  private readonly cache = new Map<number, { token: string; bytes: number[] }>();
  private readonly added: Map<number, string>;

  constructor(private readonly tokenizer: TextTokenizer) {
    this.added = new Map([...tokenizer.addedTokens].map(([content, id]) => [id, content]));
  }

  piece(id: number): { token: string; bytes: number[] } {
    let p = this.cache.get(id);
    if (!p) {
      const token = this.added.get(id) ?? this.tokenizer.decode([id]);
      const raw = this.added.has(id) ? undefined : this.tokenizer.idToToken(id);
      const bytes = (raw !== undefined && tokenStringToBytes(raw)) || utf8(token);
      p = { token, bytes: Array.from(bytes) };
      this.cache.set(id, p);
    }
    return p;
  }
}

/** One request's token entries in order, with character offsets into its completion text. */
export class LogprobTrack {
  private readonly text: StreamDecoder;
  private length = 0;

  constructor(tokenizer: TextTokenizer, private readonly pieces: TokenPieces) {
    this.text = new StreamDecoder(tokenizer, { skipSpecialTokens: true });
  }

  push(id: number, info: TokenLogprobs): TokenEntry {
    const offset = this.length;
    this.length += this.text.push(id).length;
    return {
      ...this.pieces.piece(id), logprob: info.logprob, offset,
      top_logprobs: info.top.map((t) => ({ ...this.pieces.piece(t.token), logprob: t.logprob })),
    };
  }
}

/** Chat completions' `logprobs` object. */
export function chatLogprobs(entries: readonly TokenEntry[]): { content: TopLogprob[]; refusal: null } {
  return { content: entries.map(({ token, logprob, bytes, top_logprobs }) => ({ token, logprob, bytes, top_logprobs })), refusal: null };
}

/** Legacy completions' `logprobs` object (a token's offset: characters of the completion before it). */
export function completionLogprobs(entries: readonly TokenEntry[]): { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[]; text_offset: number[] } {
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob]))),
    text_offset: entries.map((e) => e.offset),
  };
}
