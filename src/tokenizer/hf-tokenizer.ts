// Any Hugging Face tokenizer.json, run by @huggingface/tokenizers, behind our
// TextTokenizer interface. The file is validated by our schema first, and
// every error the library throws is turned into a TokenizerError, so callers
// see one error type whatever the file holds.
// Not here: our own BPE (bpe-tokenizer.ts); writing files (tokenizer-json.ts).
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { TokenizerError } from './errors.ts';
import { parseTokenizerConfig, parseTokenizerJson, roleToken, type TokenizerConfigJson } from './tokenizer-json.ts';
import type { DecodeOptions, EncodeOptions, TextTokenizer } from './types.ts';

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TokenizerError) throw e;
    throw new TokenizerError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly addedTokens: ReadonlyMap<string, number>;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padToken: string | undefined;
  readonly chatTemplate: string | undefined;
  private readonly tok: Tokenizer;
  private readonly source: string;

  /** json: tokenizer.json text or parsed value; config: tokenizer_config.json (text or value), optional. */
  constructor(json: unknown, config?: unknown, source = 'tokenizer.json') {
    this.source = source;
    const tj = parseTokenizerJson(json, source);
    const cfg: TokenizerConfigJson = config === undefined ? {} : parseTokenizerConfig(config);
    const libConfig = { ...cfg, clean_up_tokenization_spaces: false };
    this.tok = wrap(`${source}: @huggingface/tokenizers rejected it`, () => new Tokenizer(tj, libConfig));
    const added = new Map<string, number>();
    for (const t of tj.added_tokens) added.set(t.content, t.id);
    this.addedTokens = added;
    let max = -1;
    for (const id of wrap(`${source}: reading the vocabulary`, () => this.tok.get_vocab(true)).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.bosToken = roleToken(cfg.bos_token);
    this.eosToken = roleToken(cfg.eos_token);
    this.padToken = roleToken(cfg.pad_token);
    const ct = cfg.chat_template;
    this.chatTemplate = typeof ct === 'string' ? ct : Array.isArray(ct) ? ct.find((t) => t.name === 'default')?.template : undefined;
    for (const [role, v] of [['bos', this.bosToken], ['eos', this.eosToken], ['pad', this.padToken]] as const)
      if (v !== undefined && this.tokenToId(v) === undefined) throw new TokenizerError(`${source}: tokenizer_config ${role}_token ${JSON.stringify(v)} is not in the vocabulary`);
    // Fail at load, not at first use, if the pipeline cannot run.
    this.encode('Hello, world 123 ✓');
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`encode: expected a string, got ${typeof text}`);
    if (options.parseSpecial === false && this.addedTokens.size > 0)
      throw new TokenizerError('encode: parseSpecial=false is not supported by HfTokenizer (use our BpeTokenizer)');
    return wrap(`${this.source}: encode failed`, () => this.tok.encode(text, { add_special_tokens: false }).ids);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids)
      if (!Number.isInteger(id) || id < 0 || this.tok.id_to_token(id) === undefined)
        throw new TokenizerError(`decode: token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return wrap(`${this.source}: decode failed`, () =>
      this.tok.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false }),
    );
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  specialId(token: string): number {
    const id = this.addedTokens.get(token);
    if (id === undefined) throw new TokenizerError(`unknown special token ${JSON.stringify(token)} (have: ${[...this.addedTokens.keys()].join(', ') || 'none'})`);
    return id;
  }
}

/** Loads tokenizer.json (+ optional tokenizer_config.json) from disk through @huggingface/tokenizers. */
export function loadHfTokenizer(path: string, configPath?: string): HfTokenizer {
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new TokenizerError(`cannot read ${p}: ${(e as Error).message}`);
    }
  };
  return new HfTokenizer(read(path), configPath ? read(configPath) : undefined, path);
}
