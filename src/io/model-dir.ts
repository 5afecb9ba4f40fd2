// A model directory ready to talk to: the model (loadModel: Hugging Face
// directory, r1ts checkpoint or GGUF file), its tokenizer.json (in the directory
// or, for a checkpoint, its run directory; a GGUF file carries its own) with
// tokenizer_config.json when present, the
// token ids that end a completion (EOS), and the chat template to use (the
// tokenizer's own, else the R1 chat template). Shared by `r1ts generate`,
// `r1ts chat` and `r1ts serve`.
// Not here: the formats (load.ts, hf.ts, checkpoint.ts), generation (src/engine).

import { existsSync } from 'node:fs';
import { R1tsError } from '../core/errors.ts';
import type { CausalLM } from '../models/model.ts';
import { chatTemplateFor, HfTokenizer, loadHfTokenizer, r1ChatTemplate, type ChatTemplate, type TextTokenizer } from '../tokenizer/index.ts';
import { tokenizerFromGguf } from './gguf-model.ts';
import { loadModel, type ModelKind } from './load.ts';
import { findTokenizerJson, tokenizerConfigBeside, toTokenizerConfigJson, toTokenizerJson } from '../tokenizer/tokenizer-json.ts';

export interface ModelDir {
  model: CausalLM;
  kind: ModelKind;
  tokenizer: HfTokenizer;
  /** Ids that end a completion: the tokenizer's EOS when the model's vocabulary holds it. */
  stopTokens: number[];
}

/** Loads the tokenizer of a model path; throws R1tsError naming the path when there is none. */
export function loadModelTokenizer(path: string): HfTokenizer {
  if (path.endsWith('.gguf') && existsSync(path)) {
    // A GGUF file carries its tokenizer.
    const { tokenizer, chatTemplate } = tokenizerFromGguf(path);
    return new HfTokenizer(toTokenizerJson(tokenizer), toTokenizerConfigJson(tokenizer, chatTemplate), path);
  }
  const tokPath = findTokenizerJson(path);
  if (!tokPath) throw new R1tsError(`${path}: no tokenizer.json in the model directory (or its parent), so the prompt cannot be tokenized`);
  return loadHfTokenizer(tokPath, tokenizerConfigBeside(tokPath));
}

/** Model + tokenizer + stop tokens of a model directory or checkpoint. */
export function loadModelDir(path: string): ModelDir {
  const tokenizer = loadModelTokenizer(path);
  const { model, kind } = loadModel(path);
  return { model, kind, tokenizer, stopTokens: eosIds(tokenizer, model.config.vocab_size) };
}

/** The EOS id of a tokenizer when it is below vocabSize (the model can produce it). */
export function eosIds(tokenizer: TextTokenizer, vocabSize: number): number[] {
  const eos = tokenizer.eosToken !== undefined ? tokenizer.addedTokens.get(tokenizer.eosToken) : undefined;
  return eos !== undefined && eos < vocabSize ? [eos] : [];
}

/** The tokenizer's own chat template (tokenizer_config.json), else the R1 chat template. */
export function modelChatTemplate(tokenizer: TextTokenizer & { chatTemplate?: string }): ChatTemplate {
  return tokenizer.chatTemplate ? chatTemplateFor(tokenizer, tokenizer.chatTemplate) : r1ChatTemplate(tokenizer);
}
