// The tokenizer layer's error: a bad tokenizer.json, an unknown special token,
// an impossible vocabulary size, an empty corpus, a template that cannot be
// split into spans. Every message names the thing and what was expected.
// Not here: the other r1ts errors (src/core/errors.ts).
import { R1tsError } from '../core/errors.ts';

/** Bad tokenizer input or configuration; always names what was wrong. */
export class TokenizerError extends R1tsError {}
