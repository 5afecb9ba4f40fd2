// DeepSeek's official inference checkpoint names (deepseek-ai/DeepSeek-V3,
// inference/model.py: "layers.3.attn.wkv_a.weight", "layers.3.ffn.gate.bias",
// "layers.3.ffn.shared_experts.w1.weight", ...) to r1ts's internal names: the
// mapping table below is the whole contract (r1ts uses the same module tree,
// with camelCase field names). Hugging Face names have their own table (hf.ts).

import { R1tsError } from '../core/errors.ts';
import { DeepseekV3 } from '../models/deepseek-v3.ts';
import type { DeepseekV3Config } from '../models/config.ts';
import { Rng } from '../core/rng.ts';
import { tensor } from '../tensor/index.ts';
import type { LoadedTensor } from './safetensors.ts';

/** Official name segment → r1ts field name (segments not listed are the same). */
export const officialSegments: Readonly<Record<string, string>> = {
  attn_norm: 'attnNorm',
  ffn_norm: 'ffnNorm',
  wq_a: 'wqA',
  q_norm: 'qNorm',
  wq_b: 'wqB',
  wkv_a: 'wkvA',
  kv_norm: 'kvNorm',
  wkv_b: 'wkvB',
  shared_experts: 'sharedExperts',
};

export function officialToInternal(name: string): string {
  return name.split('.').map((s) => officialSegments[s] ?? s).join('.');
}

/** Builds a DeepSeek-V3 model from a config and tensors under official names (all must be used). */
export function deepseekFromOfficial(config: DeepseekV3Config, tensors: Map<string, LoadedTensor>): DeepseekV3 {
  const model = new DeepseekV3(config, new Rng(0));
  const sd = new Map<string, ReturnType<typeof tensor>>();
  for (const [name, t] of tensors) {
    if (t.data instanceof Int32Array) throw new R1tsError(`official checkpoint: tensor '${name}' is integer, expected floating point`);
    sd.set(officialToInternal(name), tensor(t.data, t.shape));
  }
  model.loadStateDict(sd);
  return model;
}
