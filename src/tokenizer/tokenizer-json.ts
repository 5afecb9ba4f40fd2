// Hugging Face tokenizer.json (and tokenizer_config.json) for r1ts: writes our
// byte-level BPE as a standard file (BPE model with vocab and merges, Split +
// ByteLevel pre-tokenizer, ByteLevel decoder and post-processor, added_tokens
// with special flags), reads such files back into our encoder, and validates
// any tokenizer.json's structure before a library sees it, so a malformed file
// fails with a TokenizerError that names the field.
// The format (schemas, parse, to/from our BPE) is in tokenizer-json-format.ts (browser-safe),
// re-exported here; this file adds reading and writing files.
// Not here: running arbitrary tokenizer.json files (hf-tokenizer.ts).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { TokenizerError } from './errors.ts';
import type { BpeTokenizer } from './bpe-tokenizer.ts';
import { bpeFromTokenizerJson, stringifyTokenizerJson, toTokenizerConfigJson } from './tokenizer-json-format.ts';

export * from './tokenizer-json-format.ts';

/** Reads tokenizer.json (and optionally tokenizer_config.json) from disk into our encoder. */
export function loadBpeTokenizer(path: string, configPath?: string): BpeTokenizer {
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new TokenizerError(`cannot read ${p}: ${(e as Error).message}`);
    }
  };
  return bpeFromTokenizerJson(read(path), configPath ? read(configPath) : undefined, path);
}

/** The tokenizer_config.json beside a tokenizer.json, when there is one. */
export function tokenizerConfigBeside(tokPath: string): string | undefined {
  const p = join(dirname(tokPath), 'tokenizer_config.json');
  return existsSync(p) ? p : undefined;
}

/**
 * The tokenizer.json of a model path: in the path itself (a model directory), else in one of the
 * `up` directories above it (a checkpoint's run directory). Undefined when there is none.
 */
export function findTokenizerJson(modelPath: string, up = 1): string | undefined {
  for (let dir = modelPath, i = 0; i <= up; dir = join(dir, '..'), i++) {
    const p = join(dir, 'tokenizer.json');
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Writes dir/tokenizer.json and dir/tokenizer_config.json (each atomically:
 * temp file, fsync, rename). Returns the two paths.
 */
export function saveTokenizerFiles(dir: string, tok: BpeTokenizer, chatTemplate?: string): { tokenizer: string; config: string } {
  mkdirSync(dir, { recursive: true });
  const tokenizer = join(dir, 'tokenizer.json');
  const config = join(dir, 'tokenizer_config.json');
  writeFileAtomic(tokenizer, stringifyTokenizerJson(tok));
  writeFileAtomic(config, JSON.stringify(toTokenizerConfigJson(tok, chatTemplate), null, 1) + '\n');
  return { tokenizer, config };
}
