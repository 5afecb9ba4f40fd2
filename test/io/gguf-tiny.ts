// Tiny random models of each GGUF architecture (llama, qwen2, deepseek2 with
// MLA + MoE) and a small byte-level BPE tokenizer, shared by the GGUF round-trip
// test and the llama.cpp parity test. Not a test file itself.

import { Rng } from '../../src/core/rng.ts';
import { buildModel } from '../../src/io/hf.ts';
import type { GgufArch } from '../../src/io/gguf-model.ts';
import { parseModelConfig, type ModelConfig } from '../../src/models/config.ts';
import type { CausalLM } from '../../src/models/model.ts';
import { trainBpe, type BpeTokenizer } from '../../src/tokenizer/index.ts';

export const TINY_ARCHS: GgufArch[] = ['llama', 'qwen2', 'deepseek2'];
export const TINY_VOCAB = 300;

export function tinyConfig(arch: GgufArch, extra: Record<string, unknown> = {}): ModelConfig {
  const base = { vocab_size: TINY_VOCAB, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 128, rms_norm_eps: 1e-6, rope_theta: 10000 };
  if (arch === 'deepseek2') {
    return parseModelConfig({
      model_type: 'deepseek_v3', ...base, moe_intermediate_size: 32, n_routed_experts: 4, n_shared_experts: 1, num_experts_per_tok: 2, n_group: 1, topk_group: 1,
      first_k_dense_replace: 1, q_lora_rank: 32, kv_lora_rank: 16, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 16, routed_scaling_factor: 1.5,
      scoring_func: 'sigmoid', topk_method: 'noaux_tc', num_nextn_predict_layers: 1, ...extra,
    });
  }
  // llama: untied head, GQA (4 heads, 2 kv heads); qwen2: tied embeddings (and its q/k/v biases).
  return parseModelConfig({ model_type: arch, ...base, num_key_value_heads: 2, tie_word_embeddings: arch === 'qwen2', ...extra });
}

/**
 * A tiny random model with weights 5× the default init (std 0.1), so logits spread over a few
 * units and greedy paths are not flat; the router's selection bias and the qwen2 biases are random too.
 */
export function tinyModel(config: ModelConfig, seed = 1): CausalLM {
  const model = buildModel(config, new Rng(seed));
  const r = new Rng(seed + 100);
  for (const [name, t] of model.namedTensors()) {
    const d = t.data as Float32Array;
    if (t.shape.length > 1) for (let i = 0; i < d.length; i++) d[i] *= 5;
    else if (name.endsWith('.bias')) for (let i = 0; i < d.length; i++) d[i] = 0.1 * r.normal();
    else for (let i = 0; i < d.length; i++) d[i] = 1 + 0.1 * r.normal(); // norms
  }
  model.eval();
  return model;
}

let tok: BpeTokenizer | null = null;
/** A ~300-token byte-level BPE (256 bytes, some merges, the R1 special tokens). */
export function tinyTokenizer(): BpeTokenizer {
  tok ??= trainBpe('the quick brown fox jumps over the lazy dog 0123456789 '.repeat(40) + 'hello world, <think> answer. '.repeat(20), { vocabSize: TINY_VOCAB });
  return tok;
}

/** A fixed prompt of token ids. */
export const TINY_PROMPT = [5, 17, 99, 200, 3, 44, 120, 7, 250, 31];
