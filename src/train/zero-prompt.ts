// The R1-Zero prompt as token ids: a document boundary (EOS), the paper's template
// (tokenizer/chat-template.ts r1ZeroPrompt) and " <think>" opening the assistant's turn.
// Browser-safe (no node:*): the dashboard's in-tab GRPO uses it; zero.ts re-exports it.
// Not here: the experiment (zero.ts).

import { r1ZeroPrompt } from '../tokenizer/chat-template.ts';
import type { TextTokenizer } from '../tokenizer/types.ts';

/** The R1-Zero prompt of a question, as token ids: EOS (a document boundary), template, " <think>". */
export function zeroPromptIds(tokenizer: TextTokenizer, question: string): number[] {
  const sep = tokenizer.eosToken !== undefined ? [tokenizer.specialId(tokenizer.eosToken)] : [];
  return [...sep, ...tokenizer.encode(`${r1ZeroPrompt(question)} <think>`, { parseSpecial: false })];
}
