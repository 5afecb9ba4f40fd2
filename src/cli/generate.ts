// `r1ts generate`: sample completions of a text prompt from a model directory
// (Hugging Face directory or r1ts checkpoint) with its tokenizer.json, through
// the batched engine. One sample streams to stdout as it is generated; with
// -n COUNT the samples run as one batch and print in order, each under a header.
// Not here: chat templates (the prompt is used as given), serving (src/server).

import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { Engine, type GenerateRequest } from '../engine/generate.ts';
import type { SamplingOptions } from '../engine/sampling.ts';
import { loadModelDir } from '../io/model-dir.ts';
import type { DevicePlacement } from '../tensor/index.ts';
import { StreamDecoder } from '../tokenizer/index.ts';
import { DEVICE_HELP, DTYPE_HELP, placeModel, settleInference } from './train-flags.ts';

export const GENERATE_HELP = `usage: r1ts generate <model-path> --prompt TEXT [options]

Samples a completion of TEXT (used as given: no chat template) from a Hugging Face
directory or r1ts checkpoint. The tokenizer is the tokenizer.json in the model
directory (or, for a checkpoint, in its run directory). Generation stops at the
tokenizer's end-of-sequence token or after --max-tokens.

options:
  --prompt TEXT        the prompt (required)
  --max-tokens N       most tokens per sample (default 128)
  --temperature T      0 = greedy (default 1)
  --top-p P            nucleus sampling, (0, 1] (default 1 = off)
  --top-k K            keep the K most likely tokens (default 0 = off)
  --min-p P            keep tokens with p >= P·p_max, [0, 1] (default 0 = off)
  --seed S             seed of the first sample; sample i uses S + i (default random)
  -n, --count COUNT    samples of the prompt (default 1); more than one run as a batch
${DEVICE_HELP}
${DTYPE_HELP}
  -h, --help           this text`;

function fail(msg: string, code = 2): number {
  console.error(`r1ts generate: ${msg}${code === 2 ? `\n\n${GENERATE_HELP}` : ''}`);
  return code;
}

function num(name: string, v: string | undefined, int = false): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (int && !Number.isInteger(x))) throw new R1tsError(`--${name} ${v}: expected ${int ? 'an integer' : 'a number'}`);
  return x;
}

export async function generateCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true,
      options: {
        prompt: { type: 'string' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' },
        'top-k': { type: 'string' }, 'min-p': { type: 'string' }, seed: { type: 'string' }, count: { type: 'string', short: 'n' }, device: { type: 'string' }, dtype: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return console.log(GENERATE_HELP), 0;
  if (positionals.length !== 1 || v.prompt === undefined) return fail('expected a model path and --prompt');
  const dev = settleInference('generate', v);
  if (dev.error) return console.error(dev.error), 2;
  let placement: DevicePlacement | null = null;
  try {
    const maxTokens = num('max-tokens', v['max-tokens'], true) ?? 128;
    const count = num('count', v.count, true) ?? 1;
    if (count < 1) throw new R1tsError(`-n ${count}: expected an integer >= 1`);
    const seed = num('seed', v.seed, true) ?? Math.floor(Math.random() * 0x7fffffff);
    const sampling: SamplingOptions = {
      temperature: num('temperature', v.temperature), topP: num('top-p', v['top-p']), topK: num('top-k', v['top-k'], true), minP: num('min-p', v['min-p']),
    };
    const { model, tokenizer: tok, stopTokens } = loadModelDir(positionals[0]);
    // The model (and so the engine's KV cache) on the device; no adapter: a message, then the CPU.
    placement = await placeModel('r1ts generate', model, dev.device, v.dtype);
    const prompt = tok.encode(v.prompt);
    const engine = new Engine(model, { maxBatch: count, decode: (ids) => tok.decode(ids) });
    const base: Omit<GenerateRequest, 'seed'> = { prompt, maxTokens, sampling, stopTokens };
    if (count === 1) {
      const stream = new StreamDecoder(tok, { skipSpecialTokens: true });
      const r = await engine.submit({ ...base, seed, onToken: (t) => process.stdout.write(stream.push(t)) });
      process.stdout.write(stream.flush() + '\n');
      console.error(`r1ts generate: ${r.tokens.length} tokens, finished by ${r.finishReason}`);
      return 0;
    }
    const results = await engine.generate(Array.from({ length: count }, (_, i) => ({ ...base, seed: seed + i })));
    results.forEach((r, i) => {
      process.stdout.write(`=== sample ${i + 1} (${r.tokens.length} tokens, ${r.finishReason}) ===\n${tok.decode(r.tokens, { skipSpecialTokens: true })}\n`);
    });
    return 0;
  } catch (e) {
    return fail((e as Error).message, 1);
  } finally {
    await placement?.release();
  }
}
