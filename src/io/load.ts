// One entry point for "a model from disk": a Hugging Face directory, an r1ts
// checkpoint directory (step-N with state.json, or a run directory with
// `latest`), rebuilt from the config stored with it, or a GGUF file of
// architecture llama, qwen2 or deepseek2.
// Not here: the formats themselves (hf.ts, checkpoint.ts, safetensors.ts).

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { R1tsError } from '../core/errors.ts';
import { parseModelConfig } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { checkpointModelConfig, latestCheckpoint, loadCheckpoint } from './checkpoint.ts';
import { loadGgufModel } from './gguf-model.ts';
import { buildModel, loadHfModel } from './hf.ts';

export type ModelKind = 'huggingface' | 'r1ts-checkpoint' | 'gguf';

export function loadModel(path: string): { model: CausalLM; kind: ModelKind } {
  if (!existsSync(path)) throw new R1tsError(`${path}: no such directory`);
  if (statSync(path).isFile()) {
    if (path.endsWith('.gguf')) return { model: loadGgufModel(path), kind: 'gguf' };
    throw new R1tsError(`${path}: a file, but not a .gguf one (expected a GGUF file, a Hugging Face directory or an r1ts checkpoint)`);
  }
  const ckpt = existsSync(join(path, 'state.json')) ? path : existsSync(join(path, 'latest')) ? latestCheckpoint(path) : null;
  if (ckpt) {
    const raw = checkpointModelConfig(ckpt);
    if (!raw) throw new R1tsError(`${ckpt}: the checkpoint stores no model config, so the model cannot be rebuilt from it`);
    const model = buildModel(parseModelConfig(raw));
    loadCheckpoint(ckpt, { model, optimizer: null, rng: null });
    return { model, kind: 'r1ts-checkpoint' };
  }
  if (existsSync(join(path, 'config.json'))) return { model: loadHfModel(path), kind: 'huggingface' };
  throw new R1tsError(`${path}: neither a Hugging Face directory (config.json) nor an r1ts checkpoint (state.json or latest)`);
}
