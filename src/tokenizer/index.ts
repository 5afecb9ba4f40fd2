// Public surface of src/tokenizer: what other layers import.
//   const tok = trainBpe(texts, { vocabSize: 4096 });        // byte-level BPE + R1 special tokens
//   saveTokenizerFiles('out', tok, R1_CHAT_TEMPLATE);        // tokenizer.json + tokenizer_config.json
//   const any = loadHfTokenizer('x/tokenizer.json', 'x/tokenizer_config.json'); // any HF file
//   const ex = buildSftExample(r1ChatTemplate(tok), tok, messages);            // ids + 0/1 loss mask
//   const s = new StreamDecoder(tok); s.push(id) → text as characters complete
// Not here: any implementation.
export { TokenizerError } from './errors.ts';
export type { TextTokenizer, EncodeOptions, DecodeOptions } from './types.ts';
export * from './special-tokens.ts';
export { PRETOKENIZE_PATTERN, pretokenize, BYTE_TO_UNICODE, tokenStringToBytes, utf8 } from './byte-level.ts';
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
  tokenizerConfigBeside,
  findTokenizerJson,
} from './tokenizer-json.ts';
export { HfTokenizer, loadHfTokenizer } from './hf-tokenizer.ts';
export { ChatTemplate, chatTemplateFor, r1ChatTemplate, r1ZeroTemplate, R1_ZERO_TEMPLATE, R1_CHAT_TEMPLATE, R1_ZERO_SYSTEM, r1ZeroPrompt, type ChatMessage } from './chat-template.ts';
export { buildSftExample, sftExamplesPerTurn, sftSegments, type SftExample, type SftSegment } from './loss-mask.ts';
export { StreamDecoder } from './stream-decoder.ts';
