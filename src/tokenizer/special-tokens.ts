// The default special tokens of r1ts tokenizers and their roles.
// Names follow Llama-3's `<|...|>` spelling (plain ASCII, unlike DeepSeek's
// full-width `<｜...｜>`), plus the R1 tags and two chat role markers:
//   <|begin_of_text|>  BOS: starts every rendered prompt
//   <|end_of_text|>    EOS: ends every assistant turn (and documents)
//   <|pad|>            PAD: batch padding, never trained on
//   <|User|> <|Assistant|>  role markers of the R1 chat template
//   <think> </think> <answer> </answer>  R1 reasoning/answer tags (added, not "special":
//   decode keeps them even when skipping special tokens, as DeepSeek-R1 does)
// Not here: the matching of specials in text (bpe-tokenizer.ts).

/** One added token: its text, and whether decode(skipSpecial) drops it. */
export interface SpecialTokenSpec {
  content: string;
  special: boolean;
}

export const BOS_TOKEN = '<|begin_of_text|>';
export const EOS_TOKEN = '<|end_of_text|>';
export const PAD_TOKEN = '<|pad|>';
export const USER_TOKEN = '<|User|>';
export const ASSISTANT_TOKEN = '<|Assistant|>';

/** The R1 defaults, in id order after the learned tokens. */
export const DEFAULT_SPECIAL_TOKENS: readonly SpecialTokenSpec[] = [
  { content: BOS_TOKEN, special: true },
  { content: EOS_TOKEN, special: true },
  { content: PAD_TOKEN, special: true },
  { content: USER_TOKEN, special: true },
  { content: ASSISTANT_TOKEN, special: true },
  { content: '<think>', special: false },
  { content: '</think>', special: false },
  { content: '<answer>', special: false },
  { content: '</answer>', special: false },
];

/** Which added token plays which role (tokenizer_config.json's bos_token, eos_token, pad_token). */
export interface SpecialRoles {
  bos?: string;
  eos?: string;
  pad?: string;
}

export const DEFAULT_ROLES: SpecialRoles = { bos: BOS_TOKEN, eos: EOS_TOKEN, pad: PAD_TOKEN };
