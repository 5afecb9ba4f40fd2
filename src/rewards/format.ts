// Format rewards for R1-style completions: `<think>…</think><answer>…</answer>`.
//   strictFormatReward   1 when the whole completion is exactly that shape (whitespace
//                        allowed around and between the blocks; each tag exactly once), else 0
//   lenientFormatReward  1 when the four tags appear in order (think open/close, then
//                        answer open/close) anywhere in the text, else 0
//   tagCountReward       0.25 per tag that appears exactly once, as open-r1's
//                        tag_count_reward (which additionally wants the newlines around the
//                        tags; we do not, the way our chat template writes them varies)
// Not here: whether the answer is right (countdown.ts, code.ts, the math verifier).

const tags = ['<think>', '</think>', '<answer>', '</answer>'] as const;

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * 1 if the completion is `<think>X</think><answer>Y</answer>` with optional whitespace
 * before, between and after, each tag exactly once (so X and Y contain no tag), else 0.
 * X and Y may be anything else, including empty.
 */
export function strictFormatReward(completion: string): number {
  if (typeof completion !== 'string') return 0;
  if (!tags.every((t) => count(completion, t) === 1)) return 0;
  return /^\s*<think>[\s\S]*<\/think>\s*<answer>[\s\S]*<\/answer>\s*$/.test(completion) ? 1 : 0;
}

/** 1 if `<think>`, `</think>`, `<answer>`, `</answer>` occur in this order (first of each after the previous), else 0. */
export function lenientFormatReward(completion: string): number {
  if (typeof completion !== 'string') return 0;
  let at = 0;
  for (const t of tags) {
    const i = completion.indexOf(t, at);
    if (i < 0) return 0;
    at = i + t.length;
  }
  return 1;
}

/** 0.25 for each of the four tags that occurs exactly once (0 … 1). */
export function tagCountReward(completion: string): number {
  if (typeof completion !== 'string') return 0;
  let r = 0;
  for (const t of tags) if (count(completion, t) === 1) r += 0.25;
  return r;
}

/** The text inside the first <think>…</think> (or before </think> when the prompt opened the tag), or undefined. */
export function extractThink(completion: string): string | undefined {
  if (typeof completion !== 'string') return undefined;
  const close = completion.indexOf('</think>');
  if (close < 0) return undefined;
  const open = completion.lastIndexOf('<think>', close);
  return completion.slice(open < 0 ? 0 : open + '<think>'.length, close);
}
