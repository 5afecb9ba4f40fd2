// Public surface of src/tokenizer: what other layers import.
// Not here: any implementation.
export { TokenizerError } from './errors.ts';
export type { TextTokenizer, EncodeOptions, DecodeOptions } from './types.ts';
export * from './special-tokens.ts';
export { PRETOKENIZE_PATTERN, pretokenize, BYTE_TO_UNICODE } from './byte-level.ts';
export { BpeTokenizer, type BpeModelData, type AddedToken } from './bpe-tokenizer.ts';
export { trainBpe, BpeTrainConfigSchema, type BpeTrainConfig, type TrainProgress } from './bpe-trainer.ts';
export {
  toTokenizerJson,
  toTokenizerConfigJson,
  stringifyTokenizerJson,
  parseTokenizerJson,
  bpeFromTokenizerJson,
  loadBpeTokenizer,
  saveTokenizerFiles,
} from './tokenizer-json.ts';
export { HfTokenizer, loadHfTokenizer } from './hf-tokenizer.ts';
export { ChatTemplate, chatTemplateFor, r1ChatTemplate, r1ZeroTemplate, R1_ZERO_TEMPLATE, R1_CHAT_TEMPLATE, R1_ZERO_SYSTEM, r1ZeroPrompt, type ChatMessage } from './chat-template.ts';
export { buildSftExample, sftExamplesPerTurn, sftSegments, type SftExample, type SftSegment } from './loss-mask.ts';
export { StreamDecoder } from './stream-decoder.ts';
