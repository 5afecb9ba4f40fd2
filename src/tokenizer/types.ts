// The small interface every r1ts tokenizer offers (our BPE, or any
// tokenizer.json loaded through @huggingface/tokenizers), so the engine, eval
// and server never depend on which one they hold.
// Not here: implementations (bpe-tokenizer.ts, hf-tokenizer.ts).

export interface EncodeOptions {
  /** Match added/special tokens in the text (default true). False treats them as plain text: use for untrusted input. */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop tokens flagged special (BOS/EOS/PAD...; not <think> etc., which are added but not special). Default false. */
  skipSpecialTokens?: boolean;
}

export interface TextTokenizer {
  /** One past the largest id (learned tokens + added tokens). */
  readonly vocabSize: number;
  /** Every added token (content → id), special or not. */
  readonly addedTokens: ReadonlyMap<string, number>;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padToken: string | undefined;
  /** Text → ids. Adds no BOS/EOS: chat templates write those. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Ids → text; bytes that are not valid UTF-8 become U+FFFD. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Id of an added token by its content; throws TokenizerError naming it when it is unknown. */
  specialId(token: string): number;
}
