// Language-consistency reward (DeepSeek-R1 §2.3.3): the share of the reasoning written in
// the target language, to stop the chain of thought from mixing languages.
// Units are "words": a run of letters of one script counts as one word, except CJK
// ideographs / kana / hangul syllables, where each character counts as one word (those
// scripts do not separate words with spaces; R1 counts the proportion of target-language
// words, and a per-character count is the usual stand-in for CJK).
// A unit is in the target language when its script is the language's script:
//   en, fr, de, es, it, pt, … → Latin;  zh → Han;  ja → Han, Hiragana, Katakana;
//   ko → Hangul (and Han);  ru, uk → Cyrillic;  ar → Arabic;  el → Greek;  hi → Devanagari.
// Digits, punctuation, math symbols and whitespace are neutral (not counted either way),
// so formulas do not lower the score. Text with no letters at all scores 1 (nothing mixed).
// Not here: telling English from French (same script); that would need word lists and is
// not what R1 needs to discourage (script mixing is).

import { extractThink } from './format.ts';

export type Script = 'latin' | 'han' | 'hiragana' | 'katakana' | 'hangul' | 'cyrillic' | 'arabic' | 'greek' | 'devanagari' | 'other';

const languageScripts: Record<string, readonly Script[]> = {
  en: ['latin'],
  fr: ['latin'],
  de: ['latin'],
  es: ['latin'],
  it: ['latin'],
  pt: ['latin'],
  nl: ['latin'],
  zh: ['han'],
  ja: ['han', 'hiragana', 'katakana'],
  ko: ['hangul', 'han'],
  ru: ['cyrillic'],
  uk: ['cyrillic'],
  ar: ['arabic'],
  el: ['greek'],
  hi: ['devanagari'],
};

/** The languages languageConsistencyReward knows. */
export const supportedLanguages: readonly string[] = Object.keys(languageScripts);

const scriptTests: readonly [Script, RegExp][] = [
  ['latin', /\p{Script=Latin}/u],
  ['han', /\p{Script=Han}/u],
  ['hiragana', /\p{Script=Hiragana}/u],
  ['katakana', /\p{Script=Katakana}/u],
  ['hangul', /\p{Script=Hangul}/u],
  ['cyrillic', /\p{Script=Cyrillic}/u],
  ['arabic', /\p{Script=Arabic}/u],
  ['greek', /\p{Script=Greek}/u],
  ['devanagari', /\p{Script=Devanagari}/u],
];

const perCharScripts = new Set<Script>(['han', 'hiragana', 'katakana', 'hangul']);
const letterRe = /[\p{L}\p{M}]/u;

function scriptOf(ch: string): Script {
  for (const [s, re] of scriptTests) if (re.test(ch)) return s;
  return 'other';
}

/** Counts words per script (see the header for what a word is). */
export function countWordsByScript(text: string): Map<Script, number> {
  const out = new Map<Script, number>();
  let run: Script | undefined;
  for (const ch of text) {
    if (!letterRe.test(ch)) {
      run = undefined;
      continue;
    }
    // Combining marks continue the current word.
    const s = /\p{M}/u.test(ch) && run !== undefined ? run : scriptOf(ch);
    if (perCharScripts.has(s)) {
      out.set(s, (out.get(s) ?? 0) + 1);
      run = undefined;
    } else if (s !== run) {
      out.set(s, (out.get(s) ?? 0) + 1);
      run = s;
    }
  }
  return out;
}

/**
 * Share (0…1) of the words of `text` written in the script(s) of `language` (an ISO 639-1
 * code from supportedLanguages). 1 when the text has no words. Throws for an unknown
 * language (a configuration error, caught at the edge).
 */
export function languageConsistency(text: string, language: string): number {
  const scripts = languageScripts[language];
  if (scripts === undefined) throw new RangeError(`language '${language}': expected one of ${supportedLanguages.join(', ')}`);
  if (typeof text !== 'string') return 0;
  const counts = countWordsByScript(text);
  let total = 0;
  let inTarget = 0;
  for (const [s, n] of counts) {
    total += n;
    if (scripts.includes(s)) inTarget += n;
  }
  return total === 0 ? 1 : inTarget / total;
}

/**
 * Language-consistency reward of a completion: languageConsistency of its reasoning (the
 * <think> block when there is one, else the whole completion).
 */
export function languageConsistencyReward(completion: string, language: string): number {
  if (typeof completion !== 'string') {
    languageConsistency('', language); // still validates `language`
    return 0;
  }
  return languageConsistency(extractThink(completion) ?? completion, language);
}
