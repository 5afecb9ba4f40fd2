// Byte-level pieces shared by trainer, encoder and tokenizer.json: the GPT-2
// byte→unicode table (every byte gets a printable character, so tokens are
// strings), UTF-8 helpers, and the pre-tokenization regex.
// Not here: merges, vocabularies, special-token handling (bpe-tokenizer.ts).

/**
 * Pre-tokenization as written into tokenizer.json (Oniguruma syntax, what the
 * Rust `tokenizers` crate and @huggingface/tokenizers read). It is Llama-3's
 * pattern (GPT-4 family) with one change: numbers split into single digits
 * (`\p{N}` instead of `\p{N}{1,3}`), as DeepSeek and Llama-3-era tokenizers
 * aim for. Contractions are spelled with character classes instead of `(?i:)`
 * so that the pattern means the same thing in every engine.
 */
export const PRETOKENIZE_PATTERN =
  "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Oniguruma's Unicode `\s` (differs from JavaScript's: it has U+0085, lacks U+FEFF).
const WS = '\\t\\n\\v\\f\\r \\x85\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** The same pattern for JavaScript's engine (`u` flag), with `\s` spelled out as Oniguruma reads it. */
export const PRETOKENIZE_PATTERN_JS = toJsClasses(PRETOKENIZE_PATTERN);

/** Rewrites `\s`/`\S` as explicit classes (inside a [...] class `\s` is spliced in; `\S` is only used outside). */
function toJsClasses(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === 's') out += inClass ? WS : `[${WS}]`;
      else if (n === 'S') {
        if (inClass) throw new Error('pretokenize pattern: \\S inside a class is not supported');
        out += `[^${WS}]`;
      } else out += c + n;
      i++;
    } else {
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      out += c;
    }
  }
  return out;
}

/** A fresh global regex for pre-tokenization (global regexes carry state: one per use). */
export function pretokenizeRegex(): RegExp {
  return new RegExp(PRETOKENIZE_PATTERN_JS, 'gu');
}

/**
 * Splits text into pre-tokens. Every character lands in some piece: matches
 * are pieces, and any gap between matches is a piece too (HF `Isolated`).
 */
export function pretokenize(text: string, re: RegExp = pretokenizeRegex()): string[] {
  const out: string[] = [];
  re.lastIndex = 0;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function buildByteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table: string[] = new Array(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  }
  return table;
}

/** GPT-2's byte → printable character table (index = byte). */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();

/** Inverse of BYTE_TO_UNICODE: character → byte. */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));

/** Bytes → the byte-level token string ("Ġhello" for " hello"). */
export function bytesToTokenString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_UNICODE[bytes[i]];
  return s;
}

/** Byte-level token string → bytes, or undefined if a character is outside the table. */
export function tokenStringToBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = UNICODE_TO_BYTE.get(token[i]);
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of a JS string (lone surrogates become U+FFFD, as TextEncoder does). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 bytes → string; invalid sequences become U+FFFD (never throws). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
