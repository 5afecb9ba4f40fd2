// `r1ts inspect <file|dir>`: what a model file or directory holds — format,
// architecture, tensors (name, dtype, shape), parameter count, tokenizer —
// for a safetensors file, a Hugging Face directory or an r1ts training
// checkpoint, or a GGUF file. A bad input exits 1 with the error; nothing is modified.

import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { R1tsError } from '../core/errors.ts';
import { latestCheckpoint } from '../io/checkpoint.ts';
import { readGgufHeader } from '../io/gguf.ts';
import { readSafetensorsHeader, type TensorInfo } from '../io/safetensors.ts';
import { isDeepseekV3, parseModelConfig } from '../models/config.ts';
import { loadHfTokenizer, tokenizerConfigBeside } from '../tokenizer/index.ts';

export const INSPECT_HELP = `usage: r1ts inspect <file|dir> [--json]

Prints the format, architecture, tensors (name, dtype, shape), parameter count and
tokenizer summary of a safetensors file, a Hugging Face model directory
(config.json + model.safetensors or shards) or an r1ts training checkpoint
(a directory with state.json, or a run directory with \`latest\`), or a GGUF file.
  --json   one JSON object instead of text
Exit status: 0, or 1 with the error when the input is unreadable or malformed.`;

interface Report {
  path: string;
  format: 'safetensors' | 'huggingface' | 'r1ts-checkpoint' | 'gguf';
  architecture: string | null;
  config: Record<string, unknown> | null;
  parameters: number;
  tensors: { name: string; dtype: string; shape: number[] }[];
  tokenizer: { vocabSize: number; specials: string[] } | null;
  extra: Record<string, unknown>;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function tensorsOf(files: string[]): TensorInfo[] {
  return files.flatMap((f) => readSafetensorsHeader(f).tensors);
}

function isGguf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(4);
    return readSync(fd, b, 0, 4, 0) === 4 && String.fromCharCode(...b) === 'GGUF';
  } finally {
    closeSync(fd);
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new R1tsError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

export function inspectPath(path: string): Report {
  if (!existsSync(path)) throw new R1tsError(`${path}: no such file or directory`);
  const base = { path, architecture: null, config: null, tokenizer: null, extra: {} };
  if (statSync(path).isFile()) {
    if (isGguf(path)) {
      const g = readGgufHeader(path);
      const arch = g.metadata.get('general.architecture');
      const tokens = g.metadata.get('tokenizer.ggml.tokens');
      return {
        ...base, format: 'gguf', architecture: arch?.type === 'string' ? arch.value : null,
        parameters: g.tensors.reduce((s, t) => s + numel(t.shape), 0), tensors: g.tensors.map(({ name, type, shape }) => ({ name, dtype: type, shape })),
        tokenizer: tokens?.type === 'array' ? { vocabSize: tokens.value.length, specials: [] } : null,
        extra: { version: g.version, metadataKeys: g.metadata.size },
      };
    }
    const h = readSafetensorsHeader(path);
    return { ...base, format: 'safetensors', parameters: h.tensors.reduce((s, t) => s + numel(t.shape), 0), tensors: h.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), extra: { metadata: h.metadata } };
  }
  const ckpt = existsSync(join(path, 'state.json')) ? path : existsSync(join(path, 'latest')) ? latestCheckpoint(path) : null;
  if (ckpt) {
    const state = readJson(join(ckpt, 'state.json')) as { step?: number; format?: string };
    const t = tensorsOf([join(ckpt, 'model.safetensors')]);
    return {
      ...base, format: 'r1ts-checkpoint', parameters: t.reduce((s, x) => s + numel(x.shape), 0), tensors: t.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
      extra: { checkpoint: ckpt, step: state.step, checkpointFormat: state.format, optimizerState: existsSync(join(ckpt, 'optimizer.safetensors')) },
    };
  }
  const cfgPath = join(path, 'config.json');
  if (!existsSync(cfgPath)) throw new R1tsError(`${path}: not a Hugging Face directory (no config.json) nor an r1ts checkpoint (no state.json or latest)`);
  const config = parseModelConfig(readJson(cfgPath));
  const index = join(path, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(index)) {
    const wm = (readJson(index) as { weight_map?: Record<string, string> }).weight_map;
    if (!wm || typeof wm !== 'object') throw new R1tsError(`${index}: no "weight_map" object`);
    files = [...new Set(Object.values(wm))].map((f) => join(path, f));
  } else files = [join(path, 'model.safetensors')];
  const t = tensorsOf(files);
  let tokenizer: Report['tokenizer'] = null;
  const tokPath = join(path, 'tokenizer.json');
  if (existsSync(tokPath)) {
    const tok = loadHfTokenizer(tokPath, tokenizerConfigBeside(tokPath));
    tokenizer = { vocabSize: tok.vocabSize, specials: [...tok.addedTokens.keys()] };
  }
  const c = config as Record<string, unknown>;
  const summary: Record<string, unknown> = {
    layers: c.num_hidden_layers, hidden_size: c.hidden_size, heads: c.num_attention_heads, vocab_size: c.vocab_size,
    ...(isDeepseekV3(config)
      ? { routed_experts: config.n_routed_experts, experts_per_token: config.num_experts_per_tok, kv_lora_rank: config.kv_lora_rank, mtp_layers: config.num_nextn_predict_layers }
      : { kv_heads: c.num_key_value_heads ?? c.num_attention_heads }),
  };
  return { ...base, format: 'huggingface', architecture: config.model_type, config: summary, parameters: t.reduce((s, x) => s + numel(x.shape), 0), tensors: t.map(({ name, dtype, shape }) => ({ name, dtype, shape })), tokenizer };
}

export async function inspectCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(INSPECT_HELP);
    return 0;
  }
  const json = args.includes('--json');
  const paths = args.filter((a) => a !== '--json');
  if (paths.length !== 1 || paths[0].startsWith('-')) {
    console.error(`r1ts inspect: expected one path${paths.length > 1 ? `, got ${paths.length}` : ''}\n\n${INSPECT_HELP}`);
    return 2;
  }
  let r: Report;
  try {
    r = inspectPath(paths[0]);
  } catch (e) {
    console.error(`r1ts inspect: ${(e as Error).message}`);
    return 1;
  }
  if (json) {
    console.log(JSON.stringify(r));
    return 0;
  }
  console.log(`${r.path}\n  format: ${r.format}${r.architecture ? `\n  architecture: ${r.architecture}` : ''}`);
  if (r.config) console.log(`  config: ${Object.entries(r.config).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const [k, v] of Object.entries(r.extra)) if (v !== undefined && !(typeof v === 'object' && v !== null && Object.keys(v).length === 0)) console.log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  console.log(`  parameters: ${r.parameters.toLocaleString('en-US')} in ${r.tensors.length} tensors`);
  if (r.tokenizer) console.log(`  tokenizer: vocabulary ${r.tokenizer.vocabSize}, added tokens ${r.tokenizer.specials.join(' ')}`);
  const w = Math.max(...r.tensors.map((t) => t.name.length), 4);
  for (const t of r.tensors) console.log(`    ${t.name.padEnd(w)}  ${t.dtype.padEnd(4)}  [${t.shape.join(', ')}]`);
  return 0;
}
