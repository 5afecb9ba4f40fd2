// Hugging Face model directories: config.json + model.safetensors (or shards
// with model.safetensors.index.json) [+ generation_config.json], for Llama,
// Qwen2 and DeepSeek-V3. The name tables below are the whole contract between
// Hugging Face names and r1ts's; every tensor of the directory must map to a
// model tensor and every model tensor must be present, or the error lists them.
// DeepSeek-V3's gate selection bias (e_score_correction_bias) is used exactly
// when the checkpoint has it, whatever topk_method says: DeepSeek's official
// inference code decides the same way (it builds the bias only for the full-size
// model), so a small checkpoint made by that code loads and computes as it did.
// Weight layouts need no permutation: Hugging Face Llama/Qwen2 q/k weights are
// already in the rotate-halves layout r1ts uses for them, and DeepSeek-V3
// checkpoints keep the official interleaved layout (rope_interleave).
// The name tables, buildModel and the in-memory loader (modelFromHfTensors) are in
// hf-names.ts (browser-safe) and re-exported here.
// Not here: the tokenizer files (src/tokenizer).

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { parseModelConfig } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { readSafetensors, writeSafetensors, type LoadedTensor, type SafetensorsDType, type TensorToWrite } from './safetensors.ts';
import { HfError, buildModel, internalToHf, modelFromHfTensors } from './hf-names.ts';

export { HfError, buildModel, hfToInternal, internalToHf, modelFromHfTensors } from './hf-names.ts';

/** Reads every tensor of a directory's safetensors (single file or index + shards). */
export function readHfTensors(dir: string): Map<string, LoadedTensor> {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    let weightMap: Record<string, string>;
    try {
      weightMap = JSON.parse(readFileSync(index, 'utf8')).weight_map;
    } catch (e) {
      throw new HfError(`${index}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof weightMap !== 'object' || weightMap === null) throw new HfError(`${index}: no "weight_map" object`);
    const byFile = new Map<string, string[]>();
    for (const [name, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) throw new HfError(`${index}: tensor '${name}' maps to an invalid shard name ${JSON.stringify(file)}`);
      byFile.set(file, [...(byFile.get(file) ?? []), name]);
    }
    const out = new Map<string, LoadedTensor>();
    for (const [file, names] of byFile) {
      const { tensors } = readSafetensors(join(dir, file), names);
      for (const [k, v] of tensors) out.set(k, v);
    }
    return out;
  }
  if (existsSync(single)) return readSafetensors(single).tensors;
  throw new HfError(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/** Loads a Hugging Face directory of a supported architecture. */
export function loadHfModel(dir: string): CausalLM {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new HfError(`${dir}: no config.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new HfError(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  return modelFromHfTensors(parseModelConfig(raw), readHfTensors(dir), dir);
}

/** Writes a Hugging Face directory (config.json, model.safetensors, generation_config.json), atomically per file. */
export function saveHfModel(model: CausalLM, dir: string, opts: { dtype?: SafetensorsDType; generationConfig?: Record<string, unknown> } = {}): void {
  mkdirSync(dir, { recursive: true });
  const config = model.config;
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of model.namedTensors()) {
    tensors.set(internalToHf(config, name), { shape: t.shape, data: t.data, dtype: opts.dtype ?? 'F32' });
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const archs: Record<string, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', deepseek_v3: 'DeepseekV3ForCausalLM' };
  const cfg = { architectures: [archs[config.model_type]], ...config, torch_dtype: (opts.dtype ?? 'F32') === 'F32' ? 'float32' : opts.dtype === 'F16' ? 'float16' : 'bfloat16' };
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  writeFileAtomic(join(dir, 'generation_config.json'), JSON.stringify(opts.generationConfig ?? { _from_model_config: true }, null, 2) + '\n');
}

