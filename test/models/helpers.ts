// Tiny configs of both families for model tests.
import { deepseekV3ConfigSchema, llamaConfigSchema, type DeepseekV3Config, type LlamaConfig } from '../../src/models/config.ts';

export function tinyV3(over: Record<string, unknown> = {}): DeepseekV3Config {
  return deepseekV3ConfigSchema.parse({
    model_type: 'deepseek_v3', vocab_size: 37, hidden_size: 32, intermediate_size: 48, moe_intermediate_size: 16,
    num_hidden_layers: 2, num_attention_heads: 4, n_routed_experts: 8, n_shared_experts: 1, num_experts_per_tok: 3,
    n_group: 4, topk_group: 2, routed_scaling_factor: 2.5, scoring_func: 'sigmoid', topk_method: 'noaux_tc',
    first_k_dense_replace: 1, q_lora_rank: 12, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 6,
    max_position_embeddings: 64, rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 16, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
    num_nextn_predict_layers: 1, ...over,
  });
}

export function tinyLlama(over: Record<string, unknown> = {}): LlamaConfig {
  return llamaConfigSchema.parse({
    model_type: 'qwen2', vocab_size: 41, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: false, ...over,
  });
}
