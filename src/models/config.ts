// Model configs with the Hugging Face config.json field names of each family,
// validated once with zod (errors name the field and what was expected).
// Defaults follow the Hugging Face config classes; the few r1ts additions
// (training-time knobs that config.json has no field for) are marked.
// Presets: small CPU-sized models of both families, sized by one knob (depth).

import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

const yarnScaling = z.object({
  type: z.literal('yarn').optional(),
  rope_type: z.literal('yarn').optional(),
  factor: z.number().positive(),
  original_max_position_embeddings: posInt,
  beta_fast: z.number().positive().default(32),
  beta_slow: z.number().positive().default(1),
  /** The m of mscale = 0.1·m·ln(factor) + 1 in the softmax scale (official code: `mscale`). */
  mscale: z.number().default(1),
  /** Hugging Face's second mscale (equal to mscale in released configs); the official code has no such field and r1ts ignores it. */
  mscale_all_dim: z.number().optional(),
}).refine((r) => r.type === 'yarn' || r.rope_type === 'yarn', { message: 'rope_scaling.type must be "yarn" for DeepSeek-V3' });

export const deepseekV3ConfigSchema = z.object({
  model_type: z.literal('deepseek_v3').default('deepseek_v3'),
  vocab_size: posInt,
  hidden_size: posInt,
  /** Hidden size of the dense MLP layers (the first first_k_dense_replace layers). */
  intermediate_size: posInt.default(18432),
  /** Hidden size of each routed/shared expert. */
  moe_intermediate_size: posInt.default(2048),
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
  n_routed_experts: posInt.default(256),
  n_shared_experts: nonNegInt.default(1),
  num_experts_per_tok: posInt.default(8),
  n_group: posInt.default(8),
  topk_group: posInt.default(4),
  routed_scaling_factor: z.number().positive().default(2.5),
  scoring_func: z.enum(['softmax', 'sigmoid']).default('sigmoid'),
  /** The gate has a selection bias (e_score_correction_bias) when "noaux_tc". */
  topk_method: z.enum(['noaux_tc', 'greedy', 'group_limited_greedy']).default('noaux_tc'),
  /** Layers before this index use the dense MLP; the rest use MoE. */
  first_k_dense_replace: nonNegInt.default(3),
  /** 0 or null: a plain wq projection. */
  q_lora_rank: nonNegInt.nullable().default(1536).transform((v) => v ?? 0),
  kv_lora_rank: posInt.default(512),
  qk_nope_head_dim: posInt.default(128),
  qk_rope_head_dim: posInt.default(64),
  v_head_dim: posInt.default(128),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: yarnScaling.nullable().default(null),
  /** DeepSeek-V3 checkpoints rotate interleaved pairs (2i, 2i+1). */
  rope_interleave: z.boolean().default(true),
  max_position_embeddings: posInt.default(4096),
  rms_norm_eps: z.number().positive().default(1e-6),
  tie_word_embeddings: z.boolean().default(false),
  /** Multi-token-prediction modules (0 or 1). */
  num_nextn_predict_layers: nonNegInt.max(1).default(0),
  /** r1ts: sequence-wise balance loss weight α (DeepSeek-V2's aux_loss_alpha); 0 = off. */
  aux_loss_alpha: z.number().nonnegative().default(0),
  /** r1ts: auxiliary-loss-free bias update speed γ. */
  bias_update_speed: z.number().nonnegative().default(0.001),
  /** r1ts: weight λ of the MTP loss. */
  mtp_loss_weight: z.number().nonnegative().default(0.3),
}).passthrough().superRefine((c, ctx) => {
  if (c.n_routed_experts % c.n_group !== 0) ctx.addIssue({ code: 'custom', path: ['n_group'], message: `n_routed_experts (${c.n_routed_experts}) must be a multiple of n_group (${c.n_group})` });
  if (c.topk_group > c.n_group) ctx.addIssue({ code: 'custom', path: ['topk_group'], message: `topk_group (${c.topk_group}) exceeds n_group (${c.n_group})` });
  if (c.num_experts_per_tok > (c.n_routed_experts / c.n_group) * c.topk_group) {
    ctx.addIssue({ code: 'custom', path: ['num_experts_per_tok'], message: `num_experts_per_tok (${c.num_experts_per_tok}) exceeds the experts in topk_group groups (${(c.n_routed_experts / c.n_group) * c.topk_group})` });
  }
  if (c.qk_rope_head_dim % 2 !== 0) ctx.addIssue({ code: 'custom', path: ['qk_rope_head_dim'], message: 'must be even' });
});

export const llamaConfigSchema = z.object({
  /** 'llama' or 'qwen2' (Qwen2: bias on q/k/v, none on o). */
  model_type: z.enum(['llama', 'qwen2']),
  vocab_size: posInt,
  hidden_size: posInt,
  intermediate_size: posInt,
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
  num_key_value_heads: posInt.nullable().optional(),
  head_dim: posInt.nullable().optional(),
  hidden_act: z.literal('silu').default('silu'),
  max_position_embeddings: posInt.default(2048),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.null().default(null),
  tie_word_embeddings: z.boolean().default(false),
  /** Llama: bias on q/k/v/o (Qwen2 ignores it: q/k/v always, o never). */
  attention_bias: z.boolean().default(false),
  mlp_bias: z.literal(false).default(false),
}).passthrough().superRefine((c, ctx) => {
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % kv !== 0) ctx.addIssue({ code: 'custom', path: ['num_key_value_heads'], message: `num_attention_heads (${c.num_attention_heads}) must be a multiple of num_key_value_heads (${kv})` });
  const hd = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(hd) || hd % 2 !== 0) ctx.addIssue({ code: 'custom', path: ['head_dim'], message: `head dim ${hd} must be an even integer (hidden_size / num_attention_heads, or head_dim)` });
});

export type DeepseekV3Config = z.output<typeof deepseekV3ConfigSchema>;
export type LlamaConfig = z.output<typeof llamaConfigSchema>;
export type ModelConfig = DeepseekV3Config | LlamaConfig;

function parseWith<S extends z.ZodTypeAny>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i: z.core.$ZodIssue) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid ${what} config:\n${lines.join('\n')}`);
  }
  return r.data;
}

/** Validates a config.json object of a supported family (by model_type). */
export function parseModelConfig(raw: unknown): ModelConfig {
  const t = (raw as { model_type?: unknown } | null)?.model_type;
  if (t === 'deepseek_v3') return parseWith(deepseekV3ConfigSchema, raw, 'DeepSeek-V3');
  if (t === 'llama' || t === 'qwen2') return parseWith(llamaConfigSchema, raw, t === 'llama' ? 'Llama' : 'Qwen2');
  throw new ConfigError(`config: model_type ${JSON.stringify(t)} is not supported (expected "deepseek_v3", "llama" or "qwen2")`);
}

export function isDeepseekV3(c: ModelConfig): c is DeepseekV3Config {
  return c.model_type === 'deepseek_v3';
}

/**
 * The CPU presets, sized by one knob: depth = layers, width 256·depth/6 rounded to 64,
 * heads of 64 dims. depth 6 is the benchmark's dense model (6 layers, d 256, 4 heads).
 */
export function densePreset(depth = 6, vocabSize = 4096, maxSeqLen = 512): LlamaConfig {
  const dim = Math.max(64, Math.round((256 * depth) / 6 / 64) * 64);
  return parseWith(llamaConfigSchema, {
    model_type: 'llama', vocab_size: vocabSize, hidden_size: dim, intermediate_size: Math.round((dim * 8) / 3 / 32) * 32,
    num_hidden_layers: depth, num_attention_heads: dim / 64, num_key_value_heads: dim / 64, max_position_embeddings: maxSeqLen,
    rope_theta: 10000, tie_word_embeddings: true,
  }, 'dense preset');
}

/** MLA + DeepSeekMoE with MTP at the same knob: 8 routed experts (2 per token), 1 shared, first layer dense. */
export function moePreset(depth = 6, vocabSize = 4096, maxSeqLen = 512): DeepseekV3Config {
  const dim = Math.max(64, Math.round((256 * depth) / 6 / 64) * 64);
  return parseWith(deepseekV3ConfigSchema, {
    model_type: 'deepseek_v3', vocab_size: vocabSize, hidden_size: dim, intermediate_size: Math.round((dim * 8) / 3 / 32) * 32,
    moe_intermediate_size: dim / 2, num_hidden_layers: depth, num_attention_heads: dim / 64, n_routed_experts: 8, n_shared_experts: 1,
    num_experts_per_tok: 2, n_group: 1, topk_group: 1, routed_scaling_factor: 1, scoring_func: 'sigmoid', topk_method: 'noaux_tc',
    first_k_dense_replace: 1, q_lora_rank: 0, kv_lora_rank: dim / 4, qk_nope_head_dim: 32, qk_rope_head_dim: 32, v_head_dim: 32,
    max_position_embeddings: maxSeqLen, num_nextn_predict_layers: 1, rope_scaling: null,
  }, 'MoE preset');
}
