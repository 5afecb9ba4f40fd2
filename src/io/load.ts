// One entry point for "a model from disk": a Hugging Face directory, an r1ts
// checkpoint directory (step-N with state.json, or a run directory with
// `latest`), rebuilt from the config stored with it.
// Not here: the formats themselves (hf.ts, checkpoint.ts, safetensors.ts).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { R1tsError } from '../core/errors.ts';
import { parseModelConfig } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { checkpointModelConfig, latestCheckpoint, loadCheckpoint } from './checkpoint.ts';
import { buildModel, loadHfModel } from './hf.ts';

export function loadModel(path: string): { model: CausalLM; kind: 'huggingface' | 'r1ts-checkpoint' } {
  if (!existsSync(path)) throw new R1tsError(`${path}: no such directory`);
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
