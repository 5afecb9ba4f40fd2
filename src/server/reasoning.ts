// Splits a completion into reasoning and answer the way DeepSeek's API does:
// the text between <think> and </think> is `reasoning_content`, the rest
// `content`. Works incrementally on streamed text: a tag split across chunks
// ("<thi" + "nk>") is held back until it is complete or ruled out, so only
// text that is sure to belong to its channel is returned.
//   startInReasoning: the prompt already opened <think> (R1-style generation
//   prompts), so the completion starts inside the reasoning.
// Otherwise a <think> tag opens the reasoning only when it comes first
// (leading whitespace is dropped); later tags are ordinary text. Whitespace
// right after <think> and after </think> is dropped, as DeepSeek's API does.
// An unterminated reasoning (cut by max_tokens) stays reasoning.
// Not here: stop strings (stop-text.ts), HTTP (server.ts).

export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';

export interface SplitText {
  reasoning: string;
  content: string;
}

type State = 'start' | 'reasoning' | 'content';

export class ReasoningSplitter {
  private state: State;
  private buf = '';
  /** Drop whitespace at the start of the next channel text (just after a tag). */
  private trim: boolean;
  /** True once the completion entered the reasoning (so reasoning_content applies). */
  sawReasoning: boolean;

  constructor(opts: { startInReasoning?: boolean } = {}) {
    this.state = opts.startInReasoning ? 'reasoning' : 'start';
    this.trim = !!opts.startInReasoning;
    this.sawReasoning = !!opts.startInReasoning;
  }

  /** True while the text seen so far is inside the reasoning. */
  get inReasoning(): boolean {
    return this.state === 'reasoning';
  }

  /** Adds text; returns what is now known to be reasoning and content. */
  push(text: string): SplitText {
    const out: SplitText = { reasoning: '', content: '' };
    this.buf += text;
    for (;;) {
      if (this.state === 'start') {
        const lead = this.buf.trimStart();
        if (lead.startsWith(THINK_OPEN)) {
          this.state = 'reasoning';
          this.sawReasoning = true;
          this.trim = true;
          this.buf = lead.slice(THINK_OPEN.length);
          continue;
        }
        if (THINK_OPEN.startsWith(lead)) return out; // only whitespace or a prefix of <think> so far
        this.state = 'content';
        continue;
      }
      if (this.state === 'content') {
        this.emit(out, 'content', this.buf);
        this.buf = '';
        return out;
      }
      // reasoning: look for </think>
      const i = this.buf.indexOf(THINK_CLOSE);
      if (i >= 0) {
        this.emit(out, 'reasoning', this.buf.slice(0, i));
        this.buf = this.buf.slice(i + THINK_CLOSE.length);
        this.state = 'content';
        this.trim = true;
        continue;
      }
      const k = partialSuffix(this.buf, THINK_CLOSE);
      this.emit(out, 'reasoning', this.buf.slice(0, this.buf.length - k));
      this.buf = this.buf.slice(this.buf.length - k);
      return out;
    }
  }

  /** The end of the completion: returns whatever was held back. */
  flush(): SplitText {
    const out: SplitText = { reasoning: '', content: '' };
    this.emit(out, this.state === 'reasoning' ? 'reasoning' : 'content', this.buf);
    this.buf = '';
    return out;
  }

  private emit(out: SplitText, channel: keyof SplitText, text: string): void {
    if (this.trim) {
      text = text.trimStart();
      if (text === '') return;
      this.trim = false;
    }
    out[channel] += text;
  }
}

/** Length of the longest proper suffix of s that is a prefix of tag. */
function partialSuffix(s: string, tag: string): number {
  for (let k = Math.min(s.length, tag.length - 1); k > 0; k--) if (tag.startsWith(s.slice(s.length - k))) return k;
  return 0;
}

/** Whole-text split (the non-streaming path): the same rules as the streaming one. */
export function splitReasoning(text: string, opts: { startInReasoning?: boolean } = {}): SplitText & { sawReasoning: boolean } {
  const s = new ReasoningSplitter(opts);
  const a = s.push(text);
  const b = s.flush();
  return { reasoning: a.reasoning + b.reasoning, content: a.content + b.content, sawReasoning: s.sawReasoning };
}

/** Whether a rendered chat prompt ends inside an opened <think> (R1-style generation prompts). */
export function promptOpensThink(prompt: string): boolean {
  const t = prompt.trimEnd();
  return t.endsWith(THINK_OPEN);
}
