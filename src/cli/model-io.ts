// `r1ts logits` and `r1ts export`: full-vocabulary logits for parity checks
// against other runtimes, and conversion of a checkpoint, directory or GGUF
// file to a Hugging Face directory or a GGUF file (llama.cpp's layout, with the
// tokenizer, which GGUF carries inside).

import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { saveGgufModel } from '../io/gguf-model.ts';
import { saveHfModel } from '../io/hf.ts';
import { loadModel } from '../io/load.ts';
import { writeNpyF32 } from '../io/npy.ts';
import { ids, noGrad, readValues, type DevicePlacement } from '../tensor/index.ts';
import { findTokenizerJson, loadBpeTokenizer, tokenizerConfigBeside } from '../tokenizer/tokenizer-json.ts';
import { placeModel, settleInference } from './train-flags.ts';

export const LOGITS_HELP = `usage: r1ts logits <checkpoint|dir> --ids ids.json --out logits.npy [--device cpu|webgpu] [--dtype f32|f16]

Writes the full float32 logits (NumPy .npy, shape B×T×V) of the model for a JSON
array of B token-id rows of equal length T (no tokenizer needed). --device webgpu
(or R1TS_DEVICE=webgpu) computes them on the GPU (WebGPU via Dawn), falling back to
the CPU with a message when there is no adapter; --dtype f16 (with --device webgpu)
stores every Linear's weight there in half precision.`;

export const EXPORT_HELP = `usage: r1ts export <checkpoint|dir|file.gguf> --to hf|gguf --out PATH [--dtype f32|f16|bf16]

--to hf    a Hugging Face directory (config.json, model.safetensors,
           generation_config.json, and the source's tokenizer files when it has them);
           --dtype f32, f16 or bf16.
--to gguf  one GGUF file as llama.cpp reads it (architecture llama, qwen2 or
           deepseek2; the MTP module is left out), with the tokenizer (tokenizer.json
           and tokenizer_config.json of the model directory or its run directory,
           which must be r1ts's byte-level BPE); --dtype f32 or f16.`;

function fail(cmd: string, msg: string, help: string, code = 2): number {
  console.error(`r1ts ${cmd}: ${msg}${code === 2 ? `\n\n${help}` : ''}`);
  return code;
}

export async function logitsCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { ids: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    return fail('logits', (e as Error).message, LOGITS_HELP);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return console.log(LOGITS_HELP), 0;
  if (positionals.length !== 1 || !v.ids || !v.out) return fail('logits', 'expected a model path, --ids and --out', LOGITS_HELP);
  const dev = settleInference('logits', v);
  if (dev.error) return console.error(dev.error), 2;
  let placement: DevicePlacement | null = null;
  try {
    let rows: unknown;
    try {
      rows = JSON.parse(readFileSync(v.ids, 'utf8'));
    } catch (e) {
      throw new R1tsError(`${v.ids}: ${(e as Error).message}`);
    }
    if (!Array.isArray(rows) || rows.length === 0 || !rows.every((r) => Array.isArray(r) && r.length === (rows as unknown[][])[0].length && r.length > 0)) {
      throw new R1tsError(`${v.ids}: expected a JSON array of non-empty token-id rows of equal length`);
    }
    const { model } = loadModel(positionals[0]);
    const V = model.config.vocab_size;
    const B = rows.length, T = (rows[0] as unknown[]).length;
    const flat = new Int32Array(B * T);
    (rows as unknown[][]).forEach((r, b) => r.forEach((x, t) => {
      if (!Number.isInteger(x) || (x as number) < 0 || (x as number) >= V) throw new R1tsError(`${v.ids}: row ${b} position ${t} holds ${JSON.stringify(x)}, expected an integer id in [0, ${V})`);
      flat[b * T + t] = x as number;
    }));
    if (T > model.maxSeqLen) throw new R1tsError(`${v.ids}: rows of ${T} tokens exceed the model's ${model.maxSeqLen} positions`);
    model.eval();
    placement = await placeModel('r1ts logits', model, dev.device, v.dtype);
    const logits = noGrad(() => model.forward(ids(flat, [B, T])).logits);
    const [values] = await readValues([logits]);
    writeNpyF32(v.out, values as Float32Array, [B, T, V]);
    console.error(`r1ts logits: wrote ${v.out} [${B}, ${T}, ${V}]${placement?.onDevice ? ` (on webgpu${v.dtype === 'f16' ? ', f16 weights' : ''})` : ''}`);
    return 0;
  } catch (e) {
    return fail('logits', (e as Error).message, LOGITS_HELP, 1);
  } finally {
    await placement?.release();
  }
}

export async function exportCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { to: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string', default: 'f32' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    return fail('export', (e as Error).message, EXPORT_HELP);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return console.log(EXPORT_HELP), 0;
  if (positionals.length !== 1 || !v.to || !v.out) return fail('export', 'expected a model path, --to and --out', EXPORT_HELP);
  const dtypes = { f32: 'F32', f16: 'F16', bf16: 'BF16' } as const;
  if (!(v.dtype! in dtypes)) return fail('export', `--dtype ${v.dtype}: expected f32, f16 or bf16`, EXPORT_HELP);
  if (v.to !== 'hf' && v.to !== 'gguf') return fail('export', `--to ${v.to}: expected hf or gguf`, EXPORT_HELP);
  if (v.to === 'gguf' && v.dtype === 'bf16') return fail('export', '--dtype bf16: GGUF export writes f32 or f16', EXPORT_HELP);
  try {
    const { model } = loadModel(positionals[0]);
    if (v.to === 'gguf') {
      const src = positionals[0];
      const tokPath = findTokenizerJson(src);
      if (!tokPath) throw new R1tsError(`${src}: no tokenizer.json in the model directory (or its parent); a GGUF file for llama.cpp must carry its tokenizer`);
      const cfgPath = tokenizerConfigBeside(tokPath);
      let tokenizer;
      try {
        tokenizer = loadBpeTokenizer(tokPath, cfgPath);
      } catch (e) {
        throw new R1tsError(`GGUF export writes r1ts's byte-level BPE tokenizers ("qwen2" pre-tokenizer in llama.cpp) and this one is not: ${(e as Error).message}`);
      }
      let chatTemplate: string | undefined;
      if (cfgPath) {
        const t = (JSON.parse(readFileSync(cfgPath, 'utf8')) as { chat_template?: unknown }).chat_template;
        if (typeof t === 'string') chatTemplate = t;
      }
      const { skipped } = saveGgufModel(model, v.out, { dtype: v.dtype === 'f16' ? 'F16' : 'F32', tokenizer: { tokenizer, chatTemplate } });
      if (skipped.length) console.error(`r1ts export: left out ${skipped.length} MTP tensors (llama.cpp does not run the MTP module)`);
      console.error(`r1ts export: wrote ${v.out}`);
      return 0;
    }
    saveHfModel(model, v.out, { dtype: dtypes[v.dtype as keyof typeof dtypes] });
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(positionals[0], f))) copyFileSync(join(positionals[0], f), join(v.out, f));
    console.error(`r1ts export: wrote ${v.out}`);
    return 0;
  } catch (e) {
    return fail('export', (e as Error).message, EXPORT_HELP, 1);
  }
}
