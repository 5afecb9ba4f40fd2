// r1ts models ⇄ GGUF files as llama.cpp reads them, for its llama, qwen2 and
// deepseek2 architectures: the metadata keys llama.cpp's loader reads, one
// tensor-name table per family, the weight rearrangements its graphs expect,
// and the tokenizer metadata (byte-level BPE, "gpt2" model). Reading takes the
// same files back into an r1ts model (ours, or llama.cpp's converter's output
// for these architectures).
// Not here: the container format (gguf.ts), Hugging Face names (hf.ts).
//
// Rearrangements (each undone on read):
// - llama: llama.cpp's LLAMA graph rotates interleaved pairs (2i, 2i+1), while
//   r1ts (like Hugging Face) rotates halves (i, i + D/2); so the rows of each
//   q/k head (weights and biases) are reordered halves → interleaved, the same
//   permutation llama.cpp's converter applies. qwen2 rotates halves in llama.cpp
//   too, so its weights go as they are.
// - deepseek2: llama.cpp rotates interleaved pairs as DeepSeek's checkpoints
//   store them (rope_interleave; a halves-layout model gets its rope rows
//   reordered); routed experts are stacked into one [E, ...] tensor per
//   projection; kv_b is split per head into k_b (transposed: [H, R, Dn]) and
//   v_b ([H, Dv, R]) for llama.cpp's absorbed MLA; MLA runs as one shared kv
//   head, so head_count_kv = 1, key_length = R + Dr, value_length = R and the
//   per-head sizes go in key_length_mla / value_length_mla.
// - The MTP module is not written: llama.cpp's deepseek2 does not run it (its
//   converter drops it too); it does not change the main model's logits.
// - F16 files keep 1-D tensors (norms, biases, the router's selection bias) and
//   the router weight in F32, as llama.cpp's converter does.
// YaRN keys are written as llama.cpp's converter writes them (yarn_log_multiplier
// = 0.1·mscale); test/interop/ checks llama.cpp under YaRN against r1ts too.

import { R1tsError } from '../core/errors.ts';
import { isDeepseekV3, parseModelConfig, type LlamaConfig, type ModelConfig } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { tensor, type Tensor } from '../tensor/index.ts';
import { BpeTokenizer, R1_CHAT_TEMPLATE, type AddedToken } from '../tokenizer/index.ts';
import { readGguf, readGgufHeader, writeGguf, type GgmlType, type GgufTensorToWrite, type GgufValue } from './gguf.ts';
import { buildModel } from './hf.ts';

export class GgufModelError extends R1tsError {}

export type GgufArch = 'llama' | 'qwen2' | 'deepseek2';

export function ggufArch(c: ModelConfig): GgufArch {
  return isDeepseekV3(c) ? 'deepseek2' : c.model_type;
}

/** llama.cpp's token types (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
/** llama.cpp's expert gating functions (llama_expert_gating_func_type). */
const GATING = { softmax: 1, sigmoid: 2 } as const;
/**
 * The llama.cpp pre-tokenizer whose regex is ours: "qwen2" splits
 * `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
 * the same alternatives as PRETOKENIZE_PATTERN (digits one by one).
 */
export const GGUF_PRE_TOKENIZER = 'qwen2';

// ------------------------------------------------------------ name tables
// r1ts name → GGUF name; N is the layer index. Stacked experts and the split
// kv_b (deepseek2) are handled beside the table, in exportTensors/importTensors.

const llamaTable: [string, string][] = [
  ['embed.weight', 'token_embd.weight'],
  ['norm.weight', 'output_norm.weight'],
  ['head.weight', 'output.weight'],
  ['layers.N.attnNorm.weight', 'blk.N.attn_norm.weight'],
  ['layers.N.attn.wq.weight', 'blk.N.attn_q.weight'],
  ['layers.N.attn.wq.bias', 'blk.N.attn_q.bias'],
  ['layers.N.attn.wk.weight', 'blk.N.attn_k.weight'],
  ['layers.N.attn.wk.bias', 'blk.N.attn_k.bias'],
  ['layers.N.attn.wv.weight', 'blk.N.attn_v.weight'],
  ['layers.N.attn.wv.bias', 'blk.N.attn_v.bias'],
  ['layers.N.attn.wo.weight', 'blk.N.attn_output.weight'],
  ['layers.N.attn.wo.bias', 'blk.N.attn_output.bias'],
  ['layers.N.ffnNorm.weight', 'blk.N.ffn_norm.weight'],
  ['layers.N.ffn.w1.weight', 'blk.N.ffn_gate.weight'],
  ['layers.N.ffn.w2.weight', 'blk.N.ffn_down.weight'],
  ['layers.N.ffn.w3.weight', 'blk.N.ffn_up.weight'],
];

const deepseek2Table: [string, string][] = [
  ['embed.weight', 'token_embd.weight'],
  ['norm.weight', 'output_norm.weight'],
  ['head.weight', 'output.weight'],
  ['layers.N.attnNorm.weight', 'blk.N.attn_norm.weight'],
  ['layers.N.attn.wq.weight', 'blk.N.attn_q.weight'],
  ['layers.N.attn.wqA.weight', 'blk.N.attn_q_a.weight'],
  ['layers.N.attn.qNorm.weight', 'blk.N.attn_q_a_norm.weight'],
  ['layers.N.attn.wqB.weight', 'blk.N.attn_q_b.weight'],
  ['layers.N.attn.wkvA.weight', 'blk.N.attn_kv_a_mqa.weight'],
  ['layers.N.attn.kvNorm.weight', 'blk.N.attn_kv_a_norm.weight'],
  ['layers.N.attn.wo.weight', 'blk.N.attn_output.weight'],
  ['layers.N.ffnNorm.weight', 'blk.N.ffn_norm.weight'],
  ['layers.N.ffn.w1.weight', 'blk.N.ffn_gate.weight'],
  ['layers.N.ffn.w2.weight', 'blk.N.ffn_down.weight'],
  ['layers.N.ffn.w3.weight', 'blk.N.ffn_up.weight'],
  ['layers.N.ffn.gate.weight', 'blk.N.ffn_gate_inp.weight'],
  ['layers.N.ffn.gate.bias', 'blk.N.exp_probs_b.bias'],
  ['layers.N.ffn.sharedExperts.w1.weight', 'blk.N.ffn_gate_shexp.weight'],
  ['layers.N.ffn.sharedExperts.w2.weight', 'blk.N.ffn_down_shexp.weight'],
  ['layers.N.ffn.sharedExperts.w3.weight', 'blk.N.ffn_up_shexp.weight'],
];
/** Routed expert projection (r1ts) → stacked GGUF tensor. */
const expertTable: [string, string][] = [['w1', 'ffn_gate_exps'], ['w2', 'ffn_down_exps'], ['w3', 'ffn_up_exps']];

function tableFor(c: ModelConfig): [string, string][] {
  return isDeepseekV3(c) ? deepseek2Table : llamaTable;
}

function lookup(table: [string, string][], name: string, from: 0 | 1): string | null {
  const m = /^(layers|blk)\.(\d+)\.(.+)$/.exec(name);
  const key = m ? `${m[1]}.N.${m[3]}` : name;
  const row = table.find((r) => r[from] === key);
  if (!row) return null;
  return m ? row[1 - from].replace('.N.', `.${m[2]}.`) : row[1 - from];
}

/** r1ts name → GGUF name for the simple (one tensor to one tensor) cases; null otherwise. */
export function internalToGguf(c: ModelConfig, name: string): string | null {
  return lookup(tableFor(c), name, 0);
}

/** GGUF name → r1ts name for the simple cases; null otherwise. */
export function ggufToInternal(c: ModelConfig, name: string): string | null {
  return lookup(tableFor(c), name, 1);
}

// ------------------------------------------------------------ rearrangements

/**
 * Reorders, inside each block of `block` rows starting at row `start + k·stride`
 * (k < count), the rows from halves order (i, i + block/2) to interleaved
 * order (2i, 2i+1); `inverse` undoes it. w is [rows, cols] (cols 1 for a bias).
 */
function permuteRope(w: Float32Array, cols: number, start: number, block: number, stride: number, count: number, inverse: boolean): Float32Array {
  const out = Float32Array.from(w);
  const half = block / 2;
  for (let k = 0; k < count; k++) {
    const base = start + k * stride;
    for (let i = 0; i < half; i++) {
      for (let s = 0; s < 2; s++) {
        const halves = base + s * half + i, inter = base + 2 * i + s;
        const [dst, src] = inverse ? [halves, inter] : [inter, halves];
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

function llamaHeadDim(c: LlamaConfig): number {
  return c.head_dim ?? c.hidden_size / c.num_attention_heads;
}

/** The rope permutation of an r1ts tensor for the GGUF layout (or back), or null when it needs none. */
function ropeRearrange(c: ModelConfig, name: string, w: Float32Array, shape: readonly number[], inverse: boolean): Float32Array | null {
  const cols = shape.length === 2 ? shape[1] : 1;
  if (!isDeepseekV3(c)) {
    if (c.model_type !== 'llama') return null;
    const m = /^layers\.\d+\.attn\.(wq|wk)\.(weight|bias)$/.exec(name);
    if (!m) return null;
    const D = llamaHeadDim(c);
    const heads = m[1] === 'wq' ? c.num_attention_heads : c.num_key_value_heads ?? c.num_attention_heads;
    return permuteRope(w, cols, 0, D, D, heads, inverse);
  }
  if (c.rope_interleave) return null;
  const Dn = c.qk_nope_head_dim, Dr = c.qk_rope_head_dim;
  if (/^layers\.\d+\.attn\.(wq|wqB)\.weight$/.test(name)) return permuteRope(w, cols, Dn, Dr, Dn + Dr, c.num_attention_heads, inverse);
  if (/^layers\.\d+\.attn\.wkvA\.weight$/.test(name)) return permuteRope(w, cols, c.kv_lora_rank, Dr, 0, 1, inverse);
  return null;
}

// ------------------------------------------------------------ metadata

/** What the exporter needs of a tokenizer: our byte-level BPE and its chat template. */
export interface GgufTokenizerSource {
  tokenizer: BpeTokenizer;
  /** Jinja chat template (default: the R1 chat template). */
  chatTemplate?: string;
}

function str(value: string): GgufValue {
  return { type: 'string', value };
}
function u32(value: number): GgufValue {
  return { type: 'u32', value };
}
function f32(value: number): GgufValue {
  return { type: 'f32', value };
}

/** The model's GGUF metadata: general.*, <arch>.* (llama.cpp's keys). */
export function ggufModelMetadata(c: ModelConfig, opts: { name?: string; dtype?: GgmlType } = {}): Map<string, GgufValue> {
  const arch = ggufArch(c);
  const md = new Map<string, GgufValue>();
  md.set('general.architecture', str(arch));
  md.set('general.name', str(opts.name ?? `r1ts-${arch}`));
  md.set('general.file_type', u32(opts.dtype === 'F16' ? 1 : 0)); // LLAMA_FTYPE_ALL_F32 / MOSTLY_F16
  const k = (s: string, v: GgufValue) => md.set(`${arch}.${s}`, v);
  k('vocab_size', u32(c.vocab_size));
  k('context_length', u32(c.max_position_embeddings));
  k('embedding_length', u32(c.hidden_size));
  k('block_count', u32(c.num_hidden_layers));
  k('feed_forward_length', u32(c.intermediate_size));
  k('attention.head_count', u32(c.num_attention_heads));
  k('rope.freq_base', f32(c.rope_theta));
  k('attention.layer_norm_rms_epsilon', f32(c.rms_norm_eps));
  if (!isDeepseekV3(c)) {
    const D = llamaHeadDim(c);
    k('attention.head_count_kv', u32(c.num_key_value_heads ?? c.num_attention_heads));
    k('attention.key_length', u32(D));
    k('attention.value_length', u32(D));
    k('rope.dimension_count', u32(D));
    return md;
  }
  k('attention.head_count_kv', u32(1));
  k('leading_dense_block_count', u32(c.first_k_dense_replace));
  k('attention.q_lora_rank', u32(c.q_lora_rank)); // 0: a plain wq (llama.cpp needs the key unless it has 26 or 27 layers)
  k('attention.kv_lora_rank', u32(c.kv_lora_rank));
  k('attention.key_length', u32(c.kv_lora_rank + c.qk_rope_head_dim));
  k('attention.value_length', u32(c.kv_lora_rank));
  k('attention.key_length_mla', u32(c.qk_nope_head_dim + c.qk_rope_head_dim));
  k('attention.value_length_mla', u32(c.v_head_dim));
  k('rope.dimension_count', u32(c.qk_rope_head_dim));
  k('expert_feed_forward_length', u32(c.moe_intermediate_size));
  k('expert_count', u32(c.n_routed_experts));
  k('expert_used_count', u32(c.num_experts_per_tok));
  k('expert_shared_count', u32(c.n_shared_experts));
  k('expert_group_count', u32(c.n_group));
  k('expert_group_used_count', u32(c.topk_group));
  k('expert_weights_scale', f32(c.routed_scaling_factor));
  // r1ts (as DeepSeek's official code) renormalizes the top-k weights exactly for sigmoid scoring.
  k('expert_weights_norm', { type: 'bool', value: c.scoring_func === 'sigmoid' });
  k('expert_gating_func', u32(GATING[c.scoring_func]));
  if (c.rope_scaling) {
    const y = c.rope_scaling;
    k('rope.scaling.type', str('yarn'));
    k('rope.scaling.factor', f32(y.factor));
    k('rope.scaling.original_context_length', u32(y.original_max_position_embeddings));
    k('rope.scaling.yarn_beta_fast', f32(y.beta_fast));
    k('rope.scaling.yarn_beta_slow', f32(y.beta_slow));
    // llama.cpp's loader divides this by 0.1 (its converter writes 0.1·mscale_all_dim) and scales the
    // softmax by (1 + 0.1·m·ln factor)²: m is r1ts's (the official code's) mscale.
    k('rope.scaling.yarn_log_multiplier', f32(0.1 * y.mscale));
  }
  return md;
}

/** tokenizer.* metadata for a model of vocabSize rows (ids the tokenizer lacks become unused "[PAD<id>]" tokens). */
export function ggufTokenizerMetadata(src: GgufTokenizerSource, vocabSize: number): Map<string, GgufValue> {
  const tok = src.tokenizer;
  if (tok.vocabSize > vocabSize) throw new GgufModelError(`the tokenizer has ${tok.vocabSize} tokens but the model only ${vocabSize} embedding rows; GGUF needs one token per row`);
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    const t = tok.idToToken(id);
    if (t === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(TOKEN_TYPE.unused);
      continue;
    }
    tokens.push(t);
    types.push(TOKEN_TYPE.normal);
  }
  for (const a of tok.data.addedTokens) types[a.id] = a.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  const md = new Map<string, GgufValue>();
  md.set('tokenizer.ggml.model', str('gpt2'));
  md.set('tokenizer.ggml.pre', str(GGUF_PRE_TOKENIZER));
  md.set('tokenizer.ggml.tokens', { type: 'array', elem: 'string', value: tokens });
  md.set('tokenizer.ggml.token_type', { type: 'array', elem: 'i32', value: types });
  md.set('tokenizer.ggml.merges', { type: 'array', elem: 'string', value: tok.data.merges.map(([a, b]) => `${a} ${b}`) });
  const role = (key: string, t: string | undefined) => {
    const id = t === undefined ? undefined : tok.addedTokens.get(t);
    if (id !== undefined) md.set(key, u32(id));
  };
  role('tokenizer.ggml.bos_token_id', tok.bosToken);
  role('tokenizer.ggml.eos_token_id', tok.eosToken);
  role('tokenizer.ggml.padding_token_id', tok.padToken);
  // Our chat templates write BOS themselves; encode adds nothing.
  md.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: false });
  md.set('tokenizer.ggml.add_eos_token', { type: 'bool', value: false });
  md.set('tokenizer.chat_template', str(src.chatTemplate ?? R1_CHAT_TEMPLATE));
  return md;
}

// ------------------------------------------------------------ export

/** The model's tensors under their GGUF names and layouts; `skipped` lists r1ts tensors with no place in llama.cpp's graph (MTP). */
export function exportTensors(model: CausalLM, dtype: GgmlType = 'F32'): { tensors: Map<string, GgufTensorToWrite>; skipped: string[] } {
  const c = model.config;
  const sd = model.stateDict();
  const out = new Map<string, GgufTensorToWrite>();
  const skipped: string[] = [];
  const typeFor = (name: string, shape: readonly number[]): GgmlType =>
    dtype === 'F16' && shape.length > 1 && !name.endsWith('.ffn_gate_inp.weight') ? 'F16' : 'F32';
  const put = (name: string, shape: readonly number[], data: Float32Array) => out.set(name, { shape, data, type: typeFor(name, shape) });
  const stacks = new Map<string, { shape: number[]; parts: Float32Array[] }>();
  for (const [name, t] of sd) {
    if (name.startsWith('mtp.')) {
      skipped.push(name);
      continue;
    }
    const data = t.data as Float32Array;
    const simple = internalToGguf(c, name);
    if (simple !== null) {
      put(simple, t.shape, ropeRearrange(c, name, data, t.shape, false) ?? data);
      continue;
    }
    const ex = /^layers\.(\d+)\.ffn\.experts\.(\d+)\.(w1|w2|w3)\.weight$/.exec(name);
    if (ex && isDeepseekV3(c)) {
      const g = `blk.${ex[1]}.${expertTable.find(([o]) => o === ex[3])![1]}.weight`;
      const s = stacks.get(g) ?? { shape: [c.n_routed_experts, ...t.shape], parts: [] };
      s.parts[Number(ex[2])] = data;
      stacks.set(g, s);
      continue;
    }
    const kvb = /^layers\.(\d+)\.attn\.wkvB\.weight$/.exec(name);
    if (kvb && isDeepseekV3(c)) {
      const { num_attention_heads: H, qk_nope_head_dim: Dn, v_head_dim: Dv, kv_lora_rank: R } = c;
      const kB = new Float32Array(H * R * Dn); // [H, R, Dn]
      const vB = new Float32Array(H * Dv * R); // [H, Dv, R]
      for (let h = 0; h < H; h++) {
        const base = h * (Dn + Dv) * R; // wkvB [H·(Dn+Dv), R]
        for (let d = 0; d < Dn; d++) for (let r = 0; r < R; r++) kB[(h * R + r) * Dn + d] = data[base + d * R + r];
        vB.set(data.subarray(base + Dn * R, base + (Dn + Dv) * R), h * Dv * R);
      }
      put(`blk.${kvb[1]}.attn_k_b.weight`, [H, R, Dn], kB);
      put(`blk.${kvb[1]}.attn_v_b.weight`, [H, Dv, R], vB);
      continue;
    }
    throw new GgufModelError(`no GGUF name for r1ts tensor '${name}' (${ggufArch(c)})`);
  }
  for (const [g, s] of stacks) {
    const per = s.parts[0]?.length ?? 0;
    const all = new Float32Array(per * s.parts.length); // [E, out, in]
    s.parts.forEach((p, e) => all.set(p, e * per));
    put(g, s.shape, all);
  }
  return { tensors: out, skipped };
}

export interface GgufExportOptions {
  dtype?: GgmlType;
  /** general.name */
  name?: string;
  /**
   * The tokenizer (required: llama.cpp 3.21.1's runtime aborts the process on a file whose
   * tokenizer.ggml.model is "none" once anything tokenizes, so r1ts writes no such files).
   */
  tokenizer: GgufTokenizerSource;
}

/** Writes a model (and its tokenizer) as a GGUF file llama.cpp loads; returns the r1ts tensors left out (MTP). */
export function saveGgufModel(model: CausalLM, path: string, opts: GgufExportOptions): { skipped: string[] } {
  const c = model.config;
  const md = ggufModelMetadata(c, opts);
  for (const [k, v] of ggufTokenizerMetadata(opts.tokenizer, c.vocab_size)) md.set(k, v);
  // r1ts's own config (training knobs GGUF has no key for); readers that do not know it ignore it.
  md.set('r1ts.config', str(JSON.stringify(c)));
  const { tensors, skipped } = exportTensors(model, opts.dtype ?? 'F32');
  writeGguf(path, md, tensors);
  return { skipped };
}

// ------------------------------------------------------------ import

function num(md: Map<string, GgufValue>, key: string, path: string): number;
function num(md: Map<string, GgufValue>, key: string, path: string, optional: true): number | undefined;
function num(md: Map<string, GgufValue>, key: string, path: string, optional = false): number | undefined {
  const v = md.get(key);
  if (v === undefined) {
    if (optional) return undefined;
    throw new GgufModelError(`${path}: metadata '${key}' is missing`);
  }
  if (v.type === 'u64' || v.type === 'i64') return Number(v.value);
  if (v.type === 'string' || v.type === 'array' || v.type === 'bool') throw new GgufModelError(`${path}: metadata '${key}' is ${v.type}, expected a number`);
  return Number(v.value);
}

/** The r1ts config of a GGUF file of architecture llama, qwen2 or deepseek2 (from llama.cpp's keys and the tensor shapes). */
export function configFromGguf(md: Map<string, GgufValue>, shapes: Map<string, number[]>, path: string): ModelConfig {
  const archV = md.get('general.architecture');
  const arch = archV?.type === 'string' ? archV.value : undefined;
  if (arch !== 'llama' && arch !== 'qwen2' && arch !== 'deepseek2') throw new GgufModelError(`${path}: general.architecture ${JSON.stringify(arch)} is not supported (expected "llama", "qwen2" or "deepseek2")`);
  const n = (k: string) => num(md, `${arch}.${k}`, path);
  const opt = (k: string) => num(md, `${arch}.${k}`, path, true);
  const emb = shapes.get('token_embd.weight');
  if (!emb || emb.length !== 2) throw new GgufModelError(`${path}: tensor 'token_embd.weight' is missing or not 2-D`);
  const common = {
    vocab_size: emb[0], hidden_size: n('embedding_length'), intermediate_size: n('feed_forward_length'), num_hidden_layers: n('block_count'),
    num_attention_heads: n('attention.head_count'), max_position_embeddings: n('context_length'), rms_norm_eps: n('attention.layer_norm_rms_epsilon'),
    rope_theta: opt('rope.freq_base') ?? 10000, tie_word_embeddings: !shapes.has('output.weight'),
  };
  let extra: Record<string, unknown> = {};
  const own = md.get('r1ts.config');
  if (own?.type === 'string') {
    try {
      extra = JSON.parse(own.value);
    } catch {
      throw new GgufModelError(`${path}: metadata 'r1ts.config' is not valid JSON`);
    }
  }
  // Only r1ts's training knobs come from r1ts.config; the architecture comes from llama.cpp's keys.
  const knobs = Object.fromEntries(['aux_loss_alpha', 'bias_update_speed', 'mtp_loss_weight'].filter((k) => k in extra).map((k) => [k, extra[k]]));
  if (arch !== 'deepseek2') {
    const heads = common.num_attention_heads;
    const D = opt('attention.key_length') ?? opt('rope.dimension_count') ?? common.hidden_size / heads;
    return parseModelConfig({
      model_type: arch, ...common, num_key_value_heads: opt('attention.head_count_kv') ?? heads, head_dim: D,
      attention_bias: arch === 'llama' && shapes.has('blk.0.attn_q.bias'),
    });
  }
  const Dr = n('rope.dimension_count');
  const gating = opt('expert_gating_func') ?? GATING.softmax;
  const scaling = md.get(`${arch}.rope.scaling.type`);
  const yarn = scaling?.type === 'string' && scaling.value === 'yarn';
  const logMul = opt('rope.scaling.yarn_log_multiplier');
  return parseModelConfig({
    model_type: 'deepseek_v3', ...common, ...knobs,
    moe_intermediate_size: n('expert_feed_forward_length'), n_routed_experts: n('expert_count'), num_experts_per_tok: n('expert_used_count'),
    n_shared_experts: n('expert_shared_count'), n_group: opt('expert_group_count') ?? 1, topk_group: opt('expert_group_used_count') ?? 1,
    routed_scaling_factor: opt('expert_weights_scale') ?? 1, scoring_func: gating === GATING.sigmoid ? 'sigmoid' : 'softmax',
    topk_method: shapes.has(`blk.${n('leading_dense_block_count')}.exp_probs_b.bias`) ? 'noaux_tc' : 'greedy',
    first_k_dense_replace: n('leading_dense_block_count'), q_lora_rank: opt('attention.q_lora_rank') ?? 0, kv_lora_rank: n('attention.kv_lora_rank'),
    qk_nope_head_dim: n('attention.key_length_mla') - Dr, qk_rope_head_dim: Dr, v_head_dim: n('attention.value_length_mla'),
    rope_interleave: true, num_nextn_predict_layers: 0,
    rope_scaling: yarn
      ? { type: 'yarn', factor: n('rope.scaling.factor'), original_max_position_embeddings: n('rope.scaling.original_context_length'),
        beta_fast: opt('rope.scaling.yarn_beta_fast') ?? 32, beta_slow: opt('rope.scaling.yarn_beta_slow') ?? 1,
        mscale: logMul !== undefined ? logMul / 0.1 : 1, mscale_all_dim: logMul !== undefined ? logMul / 0.1 : undefined }
      : null,
  });
}

/** GGUF tensors (name → row-major data) as an r1ts state dict for config c; unknown or missing tensors are named. */
export function importTensors(c: ModelConfig, data: Map<string, Float32Array>, shapes: Map<string, number[]>, path: string): Map<string, Tensor> {
  const sd = new Map<string, Tensor>();
  const unknown: string[] = [];
  for (const [g, w] of data) {
    const shape = shapes.get(g)!;
    const simple = ggufToInternal(c, g);
    if (simple !== null) {
      sd.set(simple, tensor(ropeRearrange(c, simple, w, shape, true) ?? w, shape));
      continue;
    }
    const ex = /^blk\.(\d+)\.(ffn_gate_exps|ffn_down_exps|ffn_up_exps)\.weight$/.exec(g);
    if (ex && isDeepseekV3(c)) {
      const ours = expertTable.find(([, gg]) => gg === ex[2])![0];
      const E = shape[0], per = w.length / E;
      for (let e = 0; e < E; e++) sd.set(`layers.${ex[1]}.ffn.experts.${e}.${ours}.weight`, tensor(w.slice(e * per, (e + 1) * per), shape.slice(1))); // [out, in]
      continue;
    }
    const kb = /^blk\.(\d+)\.attn_k_b\.weight$/.exec(g);
    if (kb && isDeepseekV3(c)) {
      const vb = data.get(`blk.${kb[1]}.attn_v_b.weight`);
      if (!vb) throw new GgufModelError(`${path}: '${g}' has no matching 'blk.${kb[1]}.attn_v_b.weight'`);
      const { num_attention_heads: H, qk_nope_head_dim: Dn, v_head_dim: Dv, kv_lora_rank: R } = c;
      if (w.length !== H * R * Dn || vb.length !== H * Dv * R) throw new GgufModelError(`${path}: '${g}'/attn_v_b sizes do not fit ${H} heads, kv_lora_rank ${R}, nope dim ${Dn}, v dim ${Dv}`);
      const kv = new Float32Array(H * (Dn + Dv) * R); // [H·(Dn+Dv), R]
      for (let h = 0; h < H; h++) {
        const base = h * (Dn + Dv) * R;
        for (let d = 0; d < Dn; d++) for (let r = 0; r < R; r++) kv[base + d * R + r] = w[(h * R + r) * Dn + d];
        kv.set(vb.subarray(h * Dv * R, (h + 1) * Dv * R), base + Dn * R);
      }
      sd.set(`layers.${kb[1]}.attn.wkvB.weight`, tensor(kv, [H * (Dn + Dv), R]));
      continue;
    }
    if (/^blk\.\d+\.attn_v_b\.weight$/.test(g) && isDeepseekV3(c)) continue; // joined with attn_k_b above
    if (/^blk\.\d+\.attn_kv_b\.weight$/.test(g) && isDeepseekV3(c)) {
      // Older converters wrote kv_b whole ([H·(Dn+Dv), R]).
      sd.set(`layers.${/^blk\.(\d+)/.exec(g)![1]}.attn.wkvB.weight`, tensor(w, shape));
      continue;
    }
    unknown.push(g);
  }
  if (unknown.length) throw new GgufModelError(`${path}: ${unknown.length} tensors have no place in a ${ggufArch(c)} model: ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}`);
  return sd;
}

/** Reads a GGUF file of architecture llama, qwen2 or deepseek2 into an r1ts model. */
export function loadGgufModel(path: string): CausalLM {
  const f = readGguf(path);
  const shapes = new Map(f.tensors.map((t) => [t.name, t.shape]));
  const config = configFromGguf(f.metadata, shapes, path);
  const model = buildModel(config);
  const sd = importTensors(config, f.data, shapes, path);
  const own = model.stateDict();
  const missing = [...own.keys()].filter((k) => !sd.has(k));
  const extra = [...sd.keys()].filter((k) => !own.has(k));
  if (missing.length || extra.length) {
    const name = (k: string) => internalToGguf(config, k) ?? k;
    throw new GgufModelError(`${path}: ${missing.length ? `${missing.length} tensors missing: ${missing.slice(0, 10).map(name).join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `${extra.length} without a place: ${extra.slice(0, 10).map(name).join(', ')}` : ''}`);
  }
  model.loadStateDict(sd);
  return model;
}

// ------------------------------------------------------------ tokenizer back

/**
 * Our BPE from a GGUF file's tokenizer metadata (tokenizer.ggml.model "gpt2" with the "qwen2"
 * pre-tokenizer, as r1ts writes it): normal tokens are the byte-level vocabulary (ids 0..n-1),
 * control and user-defined tokens the added ones, unused ones are dropped. Other tokenizers
 * get a GgufModelError naming what differs.
 */
export function tokenizerFromGguf(path: string): { tokenizer: BpeTokenizer; chatTemplate?: string } {
  const md = readGgufHeader(path).metadata;
  const get = (k: string) => md.get(k);
  const model = get('tokenizer.ggml.model'), pre = get('tokenizer.ggml.pre');
  if (model?.type !== 'string' || model.value !== 'gpt2') throw new GgufModelError(`${path}: tokenizer.ggml.model is ${JSON.stringify(model?.value)}, expected "gpt2" (byte-level BPE)`);
  if (pre?.type !== 'string' || pre.value !== GGUF_PRE_TOKENIZER) throw new GgufModelError(`${path}: tokenizer.ggml.pre is ${JSON.stringify(pre?.value)}; r1ts's encoder runs only the "${GGUF_PRE_TOKENIZER}" pre-tokenizer`);
  const tokens = get('tokenizer.ggml.tokens'), types = get('tokenizer.ggml.token_type'), merges = get('tokenizer.ggml.merges');
  if (tokens?.type !== 'array' || tokens.elem !== 'string') throw new GgufModelError(`${path}: tokenizer.ggml.tokens is missing or not an array of strings`);
  if (types?.type !== 'array' || types.value.length !== tokens.value.length) throw new GgufModelError(`${path}: tokenizer.ggml.token_type is missing or not one type per token`);
  if (merges?.type !== 'array' || merges.elem !== 'string') throw new GgufModelError(`${path}: tokenizer.ggml.merges is missing or not an array of strings`);
  const vocab: string[] = [];
  const added: AddedToken[] = [];
  tokens.value.forEach((t, id) => {
    const ty = Number(types.value[id]);
    if (ty === TOKEN_TYPE.normal) {
      if (id !== vocab.length) throw new GgufModelError(`${path}: normal token ${id} ${JSON.stringify(t)} comes after added tokens; r1ts's encoder needs the byte-level vocabulary first`);
      vocab.push(t as string);
    } else if (ty === TOKEN_TYPE.control || ty === TOKEN_TYPE.userDefined) added.push({ id, content: t as string, special: ty === TOKEN_TYPE.control });
    else if (ty !== TOKEN_TYPE.unused) throw new GgufModelError(`${path}: token ${id} has type ${ty}, which r1ts's encoder does not handle`);
  });
  const role = (k: string) => {
    const v = get(k);
    return v && v.type !== 'array' && v.type !== 'string' && v.type !== 'bool' ? (tokens.value[Number(v.value)] as string | undefined) : undefined;
  };
  try {
    const tokenizer = new BpeTokenizer({
      vocab, merges: (merges.value as string[]).map((m) => m.split(' ') as [string, string]), addedTokens: added,
      roles: { bos: role('tokenizer.ggml.bos_token_id'), eos: role('tokenizer.ggml.eos_token_id'), pad: role('tokenizer.ggml.padding_token_id') },
    });
    const ct = get('tokenizer.chat_template');
    return { tokenizer, chatTemplate: ct?.type === 'string' ? ct.value : undefined };
  } catch (e) {
    throw new GgufModelError(`${path}: the tokenizer metadata does not make a byte-level BPE: ${(e as Error).message}`);
  }
}
