// The text of one completion as tokens arrive, with OpenAI's stop-string rule:
// the returned text ends before the first stop string and never contains it.
// While streaming, the last (longest stop − 1) characters are held back, since
// they might be the start of a stop string; `end()` releases the rest, cut at
// the stop string when one ended the completion. Special tokens (EOS, BOS) are
// not text; added tokens such as <think> are.
// Not here: detecting the stop (the engine's stopStrings), reasoning (reasoning.ts).

import { StreamDecoder, type TextTokenizer } from '../tokenizer/index.ts';

export class StopText {
  private readonly decoder: StreamDecoder;
  private readonly hold: number;
  private text = '';
  private sent = 0;

  constructor(tokenizer: TextTokenizer, private readonly stops: readonly string[]) {
    this.decoder = new StreamDecoder(tokenizer, { skipSpecialTokens: true });
    this.hold = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  /** Adds one token; returns the text that is now safe to send. */
  push(token: number): string {
    this.text += this.decoder.push(token);
    const cut = this.firstStop();
    const upto = cut >= 0 ? cut : Math.max(this.sent, this.text.length - this.hold);
    return this.take(upto);
  }

  /** The completion ended: returns the rest of the text (cut before a stop string). */
  end(): string {
    this.text += this.decoder.flush();
    const cut = this.firstStop();
    return this.take(cut >= 0 ? cut : this.text.length);
  }

  /** The whole text sent so far. */
  get full(): string {
    return this.text.slice(0, this.sent);
  }

  private firstStop(): number {
    let best = -1;
    for (const s of this.stops) {
      const i = this.text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  private take(upto: number): string {
    if (upto <= this.sent) return '';
    const out = this.text.slice(this.sent, upto);
    this.sent = upto;
    return out;
  }
}
