// Hugging Face models without files: the name tables between Hugging Face names and r1ts's
// (Llama, Qwen2, DeepSeek-V3), building a model of a config, and filling it from tensors
// already in memory (modelFromHfTensors: a browser page's fetched safetensors). Browser-safe:
// no node:* imports. hf.ts reads and writes directories with these and re-exports them.
// The tables are the whole contract between the names; see hf.ts for the layout notes.
// Not here: reading or writing directories (hf.ts), the safetensors format (safetensors-format.ts).

import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { isDeepseekV3, type ModelConfig } from '../models/config.ts';
import { DeepseekV3 } from '../models/deepseek-v3.ts';
import { Llama } from '../models/llama.ts';
import type { CausalLM } from '../models/model.ts';
import { tensor } from '../tensor/index.ts';
import type { LoadedTensor } from './safetensors-format.ts';

export class HfError extends R1tsError {}

type Rule = [RegExp, string];

/** Llama / Qwen2: Hugging Face name → r1ts name ($n = captured groups). */
const llamaRules: Rule[] = [
  [/^model\.embed_tokens\.weight$/, 'embed.weight'],
  [/^model\.norm\.weight$/, 'norm.weight'],
  [/^lm_head\.weight$/, 'head.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'layers.$1.attnNorm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'layers.$1.ffnNorm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, 'layers.$1.attn.wq.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, 'layers.$1.attn.wk.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, 'layers.$1.attn.wv.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.(weight|bias)$/, 'layers.$1.attn.wo.$2'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'layers.$1.ffn.w1.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'layers.$1.ffn.w2.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'layers.$1.ffn.w3.weight'],
];

/** DeepSeek-V3 block parameters under model.layers.N.(…); the MTP layer N = num_hidden_layers adds its own. */
const v3BlockRules: [string, string][] = [
  ['input_layernorm.weight', 'attnNorm.weight'],
  ['post_attention_layernorm.weight', 'ffnNorm.weight'],
  ['self_attn.q_proj.weight', 'attn.wq.weight'],
  ['self_attn.q_a_proj.weight', 'attn.wqA.weight'],
  ['self_attn.q_a_layernorm.weight', 'attn.qNorm.weight'],
  ['self_attn.q_b_proj.weight', 'attn.wqB.weight'],
  ['self_attn.kv_a_proj_with_mqa.weight', 'attn.wkvA.weight'],
  ['self_attn.kv_a_layernorm.weight', 'attn.kvNorm.weight'],
  ['self_attn.kv_b_proj.weight', 'attn.wkvB.weight'],
  ['self_attn.o_proj.weight', 'attn.wo.weight'],
  ['mlp.gate_proj.weight', 'ffn.w1.weight'],
  ['mlp.down_proj.weight', 'ffn.w2.weight'],
  ['mlp.up_proj.weight', 'ffn.w3.weight'],
  ['mlp.gate.weight', 'ffn.gate.weight'],
  ['mlp.gate.e_score_correction_bias', 'ffn.gate.bias'],
  ['mlp.shared_experts.gate_proj.weight', 'ffn.sharedExperts.w1.weight'],
  ['mlp.shared_experts.down_proj.weight', 'ffn.sharedExperts.w2.weight'],
  ['mlp.shared_experts.up_proj.weight', 'ffn.sharedExperts.w3.weight'],
];
const v3ExpertRules: [string, string][] = [['gate_proj', 'w1'], ['down_proj', 'w2'], ['up_proj', 'w3']];
const v3MtpRules: [string, string][] = [['enorm.weight', 'enorm.weight'], ['hnorm.weight', 'hnorm.weight'], ['eh_proj.weight', 'ehProj.weight'], ['shared_head.norm.weight', 'norm.weight']];

/** Hugging Face name → r1ts name for a config, or null when the name has no place in the model. */
export function hfToInternal(config: ModelConfig, name: string): string | null {
  if (!isDeepseekV3(config)) {
    for (const [re, to] of llamaRules) if (re.test(name)) return name.replace(re, to);
    return null;
  }
  if (name === 'model.embed_tokens.weight') return 'embed.weight';
  if (name === 'model.norm.weight') return 'norm.weight';
  if (name === 'lm_head.weight') return 'head.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const layer = Number(m[1]), rest = m[2];
  const L = config.num_hidden_layers;
  let prefix: string;
  if (layer < L) prefix = `layers.${layer}`;
  else if (layer < L + config.num_nextn_predict_layers) {
    prefix = `mtp.${layer - L}`;
    for (const [hf, ours] of v3MtpRules) if (rest === hf) return `${prefix}.${ours}`;
    // The MTP layer stores copies of the shared embedding and head; r1ts shares them.
    if (rest === 'embed_tokens.weight' || rest === 'shared_head.head.weight') return '';
    prefix += '.block';
  } else return null;
  for (const [hf, ours] of v3BlockRules) if (rest === hf) return `${prefix}.${ours}`;
  const e = /^mlp\.experts\.(\d+)\.(gate_proj|down_proj|up_proj)\.weight$/.exec(rest);
  if (e) return `${prefix}.ffn.experts.${e[1]}.${v3ExpertRules.find(([h]) => h === e[2])![1]}.weight`;
  return null;
}

/** r1ts name → Hugging Face name (the inverse table, for saving). */
export function internalToHf(config: ModelConfig, name: string): string {
  if (!isDeepseekV3(config)) {
    const simple: Record<string, string> = { 'embed.weight': 'model.embed_tokens.weight', 'norm.weight': 'model.norm.weight', 'head.weight': 'lm_head.weight' };
    if (simple[name]) return simple[name];
    const m = /^layers\.(\d+)\.(.+)$/.exec(name);
    const tbl: Record<string, string> = {
      'attnNorm.weight': 'input_layernorm.weight', 'ffnNorm.weight': 'post_attention_layernorm.weight',
      'attn.wq.weight': 'self_attn.q_proj.weight', 'attn.wq.bias': 'self_attn.q_proj.bias', 'attn.wk.weight': 'self_attn.k_proj.weight',
      'attn.wk.bias': 'self_attn.k_proj.bias', 'attn.wv.weight': 'self_attn.v_proj.weight', 'attn.wv.bias': 'self_attn.v_proj.bias',
      'attn.wo.weight': 'self_attn.o_proj.weight', 'attn.wo.bias': 'self_attn.o_proj.bias',
      'ffn.w1.weight': 'mlp.gate_proj.weight', 'ffn.w2.weight': 'mlp.down_proj.weight', 'ffn.w3.weight': 'mlp.up_proj.weight',
    };
    if (m && tbl[m[2]]) return `model.layers.${m[1]}.${tbl[m[2]]}`;
    throw new HfError(`no Hugging Face name for '${name}'`);
  }
  const simple: Record<string, string> = { 'embed.weight': 'model.embed_tokens.weight', 'norm.weight': 'model.norm.weight', 'head.weight': 'lm_head.weight' };
  if (simple[name]) return simple[name];
  let m = /^layers\.(\d+)\.(.+)$/.exec(name);
  let layer: number, rest: string;
  if (m) [layer, rest] = [Number(m[1]), m[2]];
  else {
    m = /^mtp\.(\d+)\.(.+)$/.exec(name);
    if (!m) throw new HfError(`no Hugging Face name for '${name}'`);
    layer = config.num_hidden_layers + Number(m[1]);
    rest = m[2];
    const mtp = v3MtpRules.find(([, ours]) => ours === rest);
    if (mtp) return `model.layers.${layer}.${mtp[0]}`;
    if (!rest.startsWith('block.')) throw new HfError(`no Hugging Face name for '${name}'`);
    rest = rest.slice('block.'.length);
  }
  const b = v3BlockRules.find(([, ours]) => ours === rest);
  if (b) return `model.layers.${layer}.${b[0]}`;
  const e = /^ffn\.experts\.(\d+)\.(w1|w2|w3)\.weight$/.exec(rest);
  if (e) return `model.layers.${layer}.mlp.experts.${e[1]}.${v3ExpertRules.find(([, o]) => o === e[2])![0]}.weight`;
  throw new HfError(`no Hugging Face name for '${name}'`);
}

export function buildModel(config: ModelConfig, rng = new Rng(0)): CausalLM {
  return isDeepseekV3(config) ? new DeepseekV3(config, rng) : new Llama(config, rng);
}

/**
 * A model of `config` holding the given Hugging Face tensors (every tensor must map to a model
 * tensor and every model tensor must be present, or the error lists them; `source` names the
 * directory or URL in errors). DeepSeek-V3's gate bias is used exactly when the tensors have it.
 */
export function modelFromHfTensors(config: ModelConfig, tensors: Map<string, LoadedTensor>, source: string): CausalLM {
  if (isDeepseekV3(config)) {
    const hasBias = [...tensors.keys()].some((n) => n.endsWith('.mlp.gate.e_score_correction_bias'));
    if (hasBias !== (config.topk_method === 'noaux_tc')) config = { ...config, topk_method: hasBias ? 'noaux_tc' : 'greedy' };
  }
  const model = buildModel(config);
  const sd = new Map<string, ReturnType<typeof tensor>>();
  const unknown: string[] = [];
  for (const [name, t] of tensors) {
    const ours = hfToInternal(config, name);
    if (ours === null) {
      unknown.push(name);
      continue;
    }
    if (ours === '') continue; // a duplicate of a shared tensor
    if (t.data instanceof Int32Array) throw new HfError(`${source}: tensor '${name}' is integer, expected floating point`);
    sd.set(ours, tensor(t.data, t.shape));
  }
  const own = model.stateDict();
  // A tied head may be stored anyway (some exporters do); it must then equal the embedding.
  if (config.tie_word_embeddings && sd.has('head.weight') && !own.has('head.weight')) sd.delete('head.weight');
  const missing = [...own.keys()].filter((k) => !sd.has(k)).map((k) => `${internalToHf(config, k)} (r1ts ${k})`);
  if (unknown.length || missing.length) {
    throw new HfError(`${source}: ${unknown.length ? `${unknown.length} tensors have no place in a ${config.model_type} model: ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}` : ''}${unknown.length && missing.length ? '; ' : ''}${missing.length ? `${missing.length} missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}` : ''}`);
  }
  model.loadStateDict(sd);
  return model;
}

