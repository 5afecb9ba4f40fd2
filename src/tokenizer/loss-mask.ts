// SFT examples: token ids plus a 0/1 loss mask that is 1 exactly on the tokens
// the assistant produced (its reply and its end-of-turn token). Spans come
// from rendering the template incrementally, never from guessing offsets: for
// assistant turn i, ctx = render(messages[:i], generation prompt) and
// full = render(messages[:i+1]); the reply is full minus ctx. A turn is trained
// only where the whole conversation's rendering starts with full, i.e. the
// template shows that turn in history exactly as it would have been produced.
// With R1_CHAT_TEMPLATE earlier turns lose their <think> part in history, so
// only the last assistant turn is trained; train the others by building one
// example per prefix (sftExamplesPerTurn). Each span is tokenized on its own,
// as at inference (prompt tokens, then generated tokens).
// Not here: batching, padding, label shifting (src/train).
import { TokenizerError } from './errors.ts';
import type { ChatMessage, ChatTemplate } from './chat-template.ts';
import type { TextTokenizer } from './types.ts';

export interface SftSegment {
  text: string;
  train: boolean;
}

export interface SftExample {
  ids: number[];
  /** 1 on assistant-produced tokens, else 0; same length as ids. */
  mask: number[];
  /** The full rendered text (segments joined). */
  text: string;
  segments: SftSegment[];
  /** Indices (into messages) of the assistant turns that carry mask 1. */
  trainedTurns: number[];
}

/** Splits a rendered conversation into prompt and assistant spans (see file header). */
export function sftSegments(template: ChatTemplate, messages: readonly ChatMessage[]): { segments: SftSegment[]; trainedTurns: number[] } {
  const all = template.render(messages, { addGenerationPrompt: false });
  const segments: SftSegment[] = [];
  const trained: number[] = [];
  let pos = 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const ctx = template.render(messages.slice(0, i), { addGenerationPrompt: true });
    const full = template.render(messages.slice(0, i + 1), { addGenerationPrompt: false });
    if (!full.startsWith(ctx))
      throw new TokenizerError(`loss mask: the template is not prefix-stable at message ${i}: rendering with the reply does not extend the rendering with the generation prompt`);
    if (full.length === ctx.length) throw new TokenizerError(`loss mask: assistant message ${i} renders to nothing`);
    if (!all.startsWith(full) || ctx.length < pos) return; // shown differently in history: context only
    if (ctx.length > pos) segments.push({ text: all.slice(pos, ctx.length), train: false });
    segments.push({ text: all.slice(ctx.length, full.length), train: true });
    trained.push(i);
    pos = full.length;
  });
  if (pos < all.length) segments.push({ text: all.slice(pos), train: false });
  return { segments, trainedTurns: trained };
}

/** One SFT example from a conversation; throws if no assistant turn can be trained. */
export function buildSftExample(template: ChatTemplate, tokenizer: TextTokenizer, messages: readonly ChatMessage[]): SftExample {
  const { segments, trainedTurns } = sftSegments(template, messages);
  if (trainedTurns.length === 0) throw new TokenizerError('loss mask: the conversation has no assistant turn to train on');
  const ids: number[] = [];
  const mask: number[] = [];
  for (const s of segments) {
    const part = tokenizer.encode(s.text);
    for (const id of part) {
      ids.push(id);
      mask.push(s.train ? 1 : 0);
    }
  }
  return { ids, mask, text: segments.map((s) => s.text).join(''), segments, trainedTurns };
}

/** One example per assistant turn (messages[:i+1]), so every turn is trained once with its reasoning. */
export function sftExamplesPerTurn(template: ChatTemplate, tokenizer: TextTokenizer, messages: readonly ChatMessage[]): SftExample[] {
  const out: SftExample[] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    // keep only the final turn's mask: earlier turns are trained by their own example
    out.push(onlyLastTurn(buildSftExample(template, tokenizer, messages.slice(0, i + 1)), tokenizer));
  });
  return out;
}

function onlyLastTurn(ex: SftExample, tokenizer: TextTokenizer): SftExample {
  const lastTrain = ex.segments.map((s) => s.train).lastIndexOf(true);
  const segments = ex.segments.map((s, k) => ({ text: s.text, train: s.train && k === lastTrain }));
  const ids: number[] = [];
  const mask: number[] = [];
  for (const s of segments) for (const id of tokenizer.encode(s.text)) { ids.push(id); mask.push(s.train ? 1 : 0); }
  return { ids, mask, text: ex.text, segments, trainedTurns: ex.trainedTurns.slice(-1) };
}
