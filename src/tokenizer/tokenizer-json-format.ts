// The tokenizer.json format without files: validation of any Hugging Face tokenizer.json
// (and tokenizer_config.json) so a malformed one fails with a TokenizerError naming the
// field, our byte-level BPE written as such an object, and such a file read back into our
// encoder (bpeFromTokenizerJson: text or value, e.g. a browser page's fetched file).
// Browser-safe: no node:* imports. tokenizer-json.ts adds the file functions and
// re-exports this.
// Not here: files (tokenizer-json.ts), running arbitrary tokenizer.json files (hf-tokenizer.ts).
import { z } from 'zod';
import { TokenizerError } from './errors.ts';
import { PRETOKENIZE_PATTERN } from './byte-level.ts';
import { BpeTokenizer, type AddedToken } from './bpe-tokenizer.ts';
import { DEFAULT_ROLES, type SpecialRoles } from './special-tokens.ts';

const int = z.number().int().min(0);

const ComponentSchema = z.union([z.null(), z.looseObject({ type: z.string().min(1) })]);

const AddedTokenSchema = z.looseObject({
  id: int,
  content: z.string().min(1),
  special: z.boolean().optional(),
  single_word: z.boolean().optional(),
  lstrip: z.boolean().optional(),
  rstrip: z.boolean().optional(),
  normalized: z.boolean().optional(),
});

const MergeSchema = z.union([
  z.string().refine((s) => s.split(' ').length === 2 && !s.startsWith(' ') && !s.endsWith(' '), 'a merge string must be two tokens separated by one space'),
  z.tuple([z.string().min(1), z.string().min(1)]),
]);

const ModelSchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('BPE'),
    vocab: z.record(z.string(), int),
    merges: z.array(MergeSchema),
    unk_token: z.string().nullable().optional(),
    dropout: z.number().min(0).max(1).nullable().optional(),
    ignore_merges: z.boolean().optional(),
    byte_fallback: z.boolean().optional(),
    continuing_subword_prefix: z.string().nullable().optional(),
    end_of_word_suffix: z.string().nullable().optional(),
  }),
  z.looseObject({ type: z.literal('WordPiece'), vocab: z.record(z.string(), int), unk_token: z.string() }),
  z.looseObject({ type: z.literal('Unigram'), vocab: z.array(z.tuple([z.string(), z.number()])), unk_id: int.nullable().optional() }),
  z.looseObject({ type: z.literal('WordLevel'), vocab: z.record(z.string(), int), unk_token: z.string().optional() }),
]);

/** The structure we require of any tokenizer.json (unknown extra fields are allowed). */
export const TokenizerJsonSchema = z.looseObject({
  version: z.string().optional(),
  added_tokens: z.array(AddedTokenSchema).default([]),
  normalizer: ComponentSchema.optional(),
  pre_tokenizer: ComponentSchema.optional(),
  post_processor: ComponentSchema.optional(),
  decoder: ComponentSchema.optional(),
  model: ModelSchema,
});
export type TokenizerJson = z.output<typeof TokenizerJsonSchema>;

/** tokenizer_config.json fields we read and write. */
export const TokenizerConfigSchema = z.looseObject({
  bos_token: z.union([z.string(), z.null(), z.looseObject({ content: z.string() })]).optional(),
  eos_token: z.union([z.string(), z.null(), z.looseObject({ content: z.string() })]).optional(),
  pad_token: z.union([z.string(), z.null(), z.looseObject({ content: z.string() })]).optional(),
  chat_template: z.union([z.string(), z.array(z.looseObject({ name: z.string(), template: z.string() }))]).nullable().optional(),
});
export type TokenizerConfigJson = z.output<typeof TokenizerConfigSchema>;

function issuePath(path: readonly PropertyKey[]): string {
  return path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '(top level)';
}

/** Parses tokenizer.json text or value; throws TokenizerError naming the first bad fields. */
export function parseTokenizerJson(input: unknown, source = 'tokenizer.json'): TokenizerJson {
  const tj = validated(TokenizerJsonSchema, input, source);
  const m = tj.model;
  if (m.type === 'BPE') {
    const vocab = m.vocab;
    const seen = new Map<number, string>();
    for (const [tok, id] of Object.entries(vocab)) {
      const other = seen.get(id);
      if (other !== undefined) throw new TokenizerError(`${source}: model.vocab gives id ${id} to both ${JSON.stringify(other)} and ${JSON.stringify(tok)}`);
      seen.set(id, tok);
    }
    m.merges.forEach((mg, i) => {
      const [a, b] = typeof mg === 'string' ? mg.split(' ') : mg;
      if (!Object.hasOwn(vocab, a) || !Object.hasOwn(vocab, b)) throw new TokenizerError(`${source}: model.merges[${i}] (${JSON.stringify(a)} ${JSON.stringify(b)}) uses a token not in model.vocab`);
      if (!Object.hasOwn(vocab, a + b)) throw new TokenizerError(`${source}: model.merges[${i}] makes ${JSON.stringify(a + b)}, which is not in model.vocab`);
    });
    if (typeof m.unk_token === 'string' && !Object.hasOwn(vocab, m.unk_token) && !tj.added_tokens.some((t) => t.content === m.unk_token))
      throw new TokenizerError(`${source}: model.unk_token ${JSON.stringify(m.unk_token)} is not in the vocabulary`);
  }
  const byId = new Map<number, string>();
  const byContent = new Set<string>();
  tj.added_tokens.forEach((t, i) => {
    if (byId.has(t.id)) throw new TokenizerError(`${source}: added_tokens[${i}] reuses id ${t.id} (already ${JSON.stringify(byId.get(t.id))})`);
    if (byContent.has(t.content)) throw new TokenizerError(`${source}: added_tokens[${i}] repeats ${JSON.stringify(t.content)}`);
    byId.set(t.id, t.content);
    byContent.add(t.content);
    if (m.type === 'BPE' || m.type === 'WordPiece' || m.type === 'WordLevel') {
      const vocab = m.vocab as Record<string, number>;
      const at = Object.hasOwn(vocab, t.content) ? vocab[t.content] : undefined;
      if (at !== undefined && at !== t.id) throw new TokenizerError(`${source}: added_tokens[${i}] ${JSON.stringify(t.content)} has id ${t.id} but model.vocab says ${at}`);
    }
  });
  return tj;
}

/** Parses tokenizer_config.json (text or value). */
export function parseTokenizerConfig(input: unknown, source = 'tokenizer_config.json'): TokenizerConfigJson {
  return validated(TokenizerConfigSchema, input, source);
}

/** JSON text or value checked against a schema; a TokenizerError names the first bad fields. */
function validated<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new TokenizerError(`${source} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 3).map((i) => `${issuePath(i.path)}: ${i.message}`);
    throw new TokenizerError(`${source}: ${issues.join('; ')}${r.error.issues.length > 3 ? ` (and ${r.error.issues.length - 3} more)` : ''}`);
  }
  return r.data;
}

/** A role token's text from tokenizer_config.json (string or {content}). */
export function roleToken(v: TokenizerConfigJson['bos_token']): string | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'string' ? v : v.content;
}

/** Our BPE as a standard Hugging Face tokenizer.json object. */
export function toTokenizerJson(tok: BpeTokenizer): Record<string, unknown> {
  const { vocab, merges, addedTokens } = tok.data;
  const vocabObj: Record<string, number> = Object.create(null); // a token may be "__proto__"
  vocab.forEach((t, id) => (vocabObj[t] = id));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens.map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: PRETOKENIZE_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObj,
      merges: merges.map(([a, b]) => [a, b]),
    },
  };
}

/** tokenizer_config.json for our BPE (roles, optional chat template; no BOS/EOS added by encode). */
export function toTokenizerConfigJson(tok: BpeTokenizer, chatTemplate?: string, modelMaxLength = 4096): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: tok.bosToken ?? null,
    eos_token: tok.eosToken ?? null,
    pad_token: tok.padToken ?? null,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
  };
  if (chatTemplate !== undefined) cfg.chat_template = chatTemplate;
  return cfg;
}

/** Serialized tokenizer.json text (stable key order, newline at end). */
export function stringifyTokenizerJson(tok: BpeTokenizer): string {
  return JSON.stringify(toTokenizerJson(tok), null, 1) + '\n';
}

/**
 * Reads a byte-level BPE tokenizer.json written by r1ts (or any file with the
 * same pre-tokenizer and decoder) into our encoder. Files with other
 * pipelines are refused with a TokenizerError; load those with HfTokenizer.
 */
export function bpeFromTokenizerJson(input: unknown, config?: unknown, source = 'tokenizer.json'): BpeTokenizer {
  const tj = parseTokenizerJson(input, source);
  const m = tj.model;
  if (m.type !== 'BPE') throw new TokenizerError(`${source}: model.type is ${m.type}; our encoder reads only byte-level BPE (use HfTokenizer)`);
  if (tj.normalizer) throw new TokenizerError(`${source}: normalizer ${tj.normalizer.type} is not supported by our encoder (expected null; use HfTokenizer)`);
  const pre = tj.pre_tokenizer as { type: string; pretokenizers?: { type?: string; pattern?: { Regex?: string } }[] } | null | undefined;
  const steps = pre?.type === 'Sequence' ? pre.pretokenizers ?? [] : [];
  if (steps.length !== 2 || steps[0].type !== 'Split' || steps[0].pattern?.Regex !== PRETOKENIZE_PATTERN || steps[1].type !== 'ByteLevel')
    throw new TokenizerError(`${source}: pre_tokenizer is not r1ts's Split(regex) + ByteLevel sequence; our encoder cannot run it (use HfTokenizer)`);
  if (tj.decoder?.type !== 'ByteLevel') throw new TokenizerError(`${source}: decoder is ${tj.decoder?.type ?? 'missing'}, expected ByteLevel`);
  if (m.dropout) throw new TokenizerError(`${source}: model.dropout ${m.dropout} is not supported (expected null)`);
  if (m.ignore_merges) throw new TokenizerError(`${source}: model.ignore_merges=true is not supported by our encoder (use HfTokenizer)`);
  if (m.continuing_subword_prefix || m.end_of_word_suffix) throw new TokenizerError(`${source}: continuing_subword_prefix/end_of_word_suffix are not supported (expected null)`);
  const vocab: string[] = [];
  for (const [tok, id] of Object.entries(m.vocab)) {
    if (id >= 1 << 22) throw new TokenizerError(`${source}: model.vocab id ${id} of ${JSON.stringify(tok)} is above the supported ${1 << 22}`);
    vocab[id] = tok;
  }
  for (let id = 0; id < vocab.length; id++) if (vocab[id] === undefined) throw new TokenizerError(`${source}: model.vocab has no token with id ${id} (ids must be 0..${vocab.length - 1})`);
  const merges = m.merges.map((mg) => (typeof mg === 'string' ? (mg.split(' ') as [string, string]) : ([mg[0], mg[1]] as [string, string])));
  const added: AddedToken[] = tj.added_tokens.map((t) => ({ id: t.id, content: t.content, special: t.special ?? false }));
  for (const t of added) if (t.id >= 1 << 22) throw new TokenizerError(`${source}: added token ${JSON.stringify(t.content)} id ${t.id} is above the supported ${1 << 22}`);
  let roles: SpecialRoles;
  if (config !== undefined) {
    const c = parseTokenizerConfig(config);
    roles = { bos: roleToken(c.bos_token), eos: roleToken(c.eos_token), pad: roleToken(c.pad_token) };
  } else {
    const names = new Set(added.map((t) => t.content));
    roles = {
      bos: names.has(DEFAULT_ROLES.bos!) ? DEFAULT_ROLES.bos : undefined,
      eos: names.has(DEFAULT_ROLES.eos!) ? DEFAULT_ROLES.eos : undefined,
      pad: names.has(DEFAULT_ROLES.pad!) ? DEFAULT_ROLES.pad : undefined,
    };
  }
  try {
    return new BpeTokenizer({ vocab, merges, addedTokens: added, roles });
  } catch (e) {
    if (e instanceof TokenizerError) throw new TokenizerError(`${source}: ${e.message}`);
    throw e;
  }
}

