// Supervised fine-tuning data: conversations ({"messages": [...]} per JSONL
// line) rendered with a chat template into ids and a loss mask (src/tokenizer
// buildSftExample: 1 exactly on assistant-produced tokens), then served as
// right-padded batches: ids = seq[0..L-1), targets[t] = seq[t+1] where
// mask[t+1] = 1, else -100 (prompt, template markers and padding give no loss).
// Rows are truncated to maxLen tokens (so T ≤ maxLen - 1); a batch is as long
// as its longest row. Order: seeded shuffle per epoch, like pack.ts.
// Not here: the template and mask rules themselves (src/tokenizer/loss-mask.ts).

import { R1tsError } from '../core/errors.ts';
import { ChatMessageSchema } from '../tokenizer/chat-template.ts';
import { buildSftExample, type ChatMessage, type ChatTemplate, type TextTokenizer } from '../tokenizer/index.ts';
import { readJsonlValues } from './text-dataset.ts';
import { EpochCursor, IGNORE_INDEX, type Batch, type Batcher, type BatcherPosition } from './batcher.ts';

/** Streams the conversations of a JSONL file ({"messages": [{role, content}, ...]} per line). */
export async function* readConversations(path: string): AsyncGenerator<ChatMessage[]> {
  for await (const { value, lineNo } of readJsonlValues(path)) {
    const parsed = ChatMessageSchema.array().min(1).safeParse((value as { messages?: unknown } | null)?.messages);
    if (!parsed.success) throw new R1tsError(`${path}:${lineNo}: expected {"messages": [{"role": ..., "content": ...}, ...]}`);
    yield parsed.data;
  }
}

export interface SftTokens {
  ids: number[];
  /** 1 where the token is trained on. */
  mask: number[];
}

/** Renders and tokenizes conversations; conversations with no trainable assistant turn throw. */
export async function tokenizeConversations(convs: AsyncIterable<ChatMessage[]> | Iterable<ChatMessage[]>, template: ChatTemplate, tokenizer: TextTokenizer): Promise<SftTokens[]> {
  const out: SftTokens[] = [];
  for await (const messages of convs) {
    const ex = buildSftExample(template, tokenizer, messages);
    out.push({ ids: ex.ids, mask: ex.mask });
  }
  return out;
}

export interface SftBatchOptions {
  batch: number;
  /** Tokens kept per example (the rest is cut); T ≤ maxLen - 1. */
  maxLen: number;
  /** Id written into padding (its target is -100 anyway). */
  padId: number;
  seed?: number;
  /** Default true. */
  shuffle?: boolean;
}

/** Padded SFT batches with -100 on every target that is not an assistant token. */
export class SftBatcher implements Batcher {
  readonly B: number;
  /** Examples kept (at least one trained target after truncation). */
  readonly examples: SftTokens[];
  readonly dropped: number;
  private readonly cursor: EpochCursor;

  constructor(examples: readonly SftTokens[], readonly o: SftBatchOptions) {
    this.B = o.batch;
    if (!(o.maxLen >= 2)) throw new R1tsError(`SftBatcher: maxLen ${o.maxLen} must be at least 2`);
    this.examples = examples
      .map((e) => ({ ids: e.ids.slice(0, o.maxLen), mask: e.mask.slice(0, o.maxLen) }))
      .filter((e) => e.mask.some((m, i) => i > 0 && m === 1));
    this.dropped = examples.length - this.examples.length;
    if (this.examples.length === 0) throw new R1tsError(`SftBatcher: none of ${examples.length} examples has an assistant token within maxLen ${o.maxLen}`);
    this.cursor = new EpochCursor(this.examples.length, o.seed ?? 0, o.shuffle ?? true);
  }

  next(): Batch {
    const B = this.B;
    const rows = Array.from({ length: B }, () => this.examples[this.cursor.take()]);
    const T = Math.max(...rows.map((r) => r.ids.length)) - 1;
    const ids = new Int32Array(B * T).fill(this.o.padId); // [B, T]
    const targets = new Int32Array(B * T).fill(IGNORE_INDEX); // [B, T]
    rows.forEach((r, b) => {
      for (let t = 0; t + 1 < r.ids.length; t++) {
        ids[b * T + t] = r.ids[t];
        if (r.mask[t + 1] === 1) targets[b * T + t] = r.ids[t + 1];
      }
    });
    return { ids, targets, B, T, tokens: B * T };
  }

  position(): BatcherPosition {
    return this.cursor.position();
  }

  seek(p: BatcherPosition): void {
    this.cursor.seek(p);
  }
}

/**
 * A deterministic toy SFT set for the built-in demo: sums and comparisons asked by the
 * user, answered with a short <think> and the answer (R1 chat style).
 */
export function syntheticConversations(n = 400, seed = 0): ChatMessage[][] {
  let s = (seed * 2654435761 + 1) >>> 0;
  const int = (k: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % k;
  };
  const out: ChatMessage[][] = [];
  for (let i = 0; i < n; i++) {
    const a = int(20), b = int(20);
    if (int(2) === 0) {
      out.push([{ role: 'user', content: `What is ${a} plus ${b}?` }, { role: 'assistant', content: `<think>${a} plus ${b} is ${a + b}.</think> ${a + b}` }]);
    } else {
      const big = a >= b ? a : b;
      out.push([{ role: 'user', content: `Which is larger, ${a} or ${b}?` }, { role: 'assistant', content: `<think>Compare ${a} and ${b}.</think> ${big}` }]);
    }
  }
  return out;
}
