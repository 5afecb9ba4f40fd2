// Flags shared by `r1ts pretrain` and `r1ts sft`: kebab-case flags become the
// camelCase fields of the (zod-validated) configs, numbers are parsed here and
// named when they are not numbers.

import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { linearWeights } from '../nn/layers.ts';
import type { Module } from '../nn/module.ts';
import { placeOnDevice, type DevicePlacement } from '../tensor/index.ts';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; number?: boolean }>;

export const COMMON_TRAIN_FLAGS: FlagSpec = {
  data: { type: 'string' }, tokenizer: { type: 'string' }, seq: { type: 'string', number: true }, batch: { type: 'string', number: true },
  steps: { type: 'string', number: true }, lr: { type: 'string', number: true }, 'min-lr-ratio': { type: 'string', number: true },
  warmup: { type: 'string', number: true }, schedule: { type: 'string' }, 'weight-decay': { type: 'string', number: true },
  'grad-clip': { type: 'string', number: true }, 'grad-accum': { type: 'string', number: true }, 'held-out': { type: 'string', number: true },
  'eval-every': { type: 'string', number: true }, 'eval-batches': { type: 'string', number: true }, 'checkpoint-every': { type: 'string', number: true },
  out: { type: 'string' }, resume: { type: 'boolean' }, seed: { type: 'string', number: true }, 'no-progress': { type: 'boolean' },
};

export const COMMON_TRAIN_HELP = `  --seq T                 positions per row
  --batch B               rows per micro-batch
  --steps N               optimizer steps
  --lr X                  peak learning rate
  --min-lr-ratio X        cosine floor as a fraction of --lr (0.1)
  --warmup N              linear warmup steps
  --schedule cosine|constant
  --weight-decay X        AdamW decoupled weight decay
  --grad-clip X           clip the global gradient norm (0: off)
  --grad-accum N          micro-batches per step
  --held-out X            fraction of documents held out for eval_loss
  --eval-every N          evaluate every N steps (and at the end)
  --eval-batches N        batches per evaluation
  --checkpoint-every N    checkpoint every N steps (and at the end, and on Ctrl-C)
  --out DIR               run directory: metrics.jsonl, checkpoints/, model/
  --resume                continue from DIR/checkpoints/latest
  --seed N                seed of the model init and data order
  --no-progress           no progress bar`;

/** Parses args into a config object (help: true when -h/--help was given). */
export function parseTrainFlags(args: string[], spec: FlagSpec): { config: Record<string, unknown>; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [k, v] of Object.entries(spec)) options[k] = { type: v.type };
  const { values } = parseArgs({ args, options, allowPositionals: false, strict: true });
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (k === 'help' || v === undefined) continue;
    if (k === 'no-progress') {
      config.progress = !v;
      continue;
    }
    const key = k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (spec[k].number) {
      const n = Number(v);
      if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new R1tsError(`--${k} ${v}: expected a number`);
      config[key] = n;
    } else config[key] = v;
  }
  return { config, help: Boolean(values.help) };
}

/** The --device flag (pretrain, sft, generate, rl, zero): its spec and help line. */
export const DEVICE_FLAG: FlagSpec = { device: { type: 'string' } };
export const DEVICE_HELP = `  --device cpu|webgpu     where the model runs (default: R1TS_DEVICE, else cpu); webgpu
                          runs it on the GPU (WebGPU via Dawn), falling back to the
                          CPU with a message when there is no adapter`;

/** The --dtype flag of the inference commands: its help line. */
export const DTYPE_HELP = `  --dtype f32|f16         with --device webgpu: f16 stores every Linear's weight in half
                          precision on the device (half the memory and weight traffic;
                          products and sums stay f32); default f32`;

/** Checks --dtype (f32 or f16; f16 needs --device webgpu); returns an error line, or null. */
export function settleDtype(cmd: string, dtype: unknown, device: unknown): string | null {
  if (dtype === undefined || dtype === 'f32') return null;
  if (dtype !== 'f16') return `r1ts ${cmd}: --dtype ${String(dtype)}: expected f32 or f16`;
  if (device !== 'webgpu') return `r1ts ${cmd}: --dtype f16 runs on the webgpu device only (the CPU kernels are f32): add --device webgpu`;
  return null;
}

/**
 * --device (or R1TS_DEVICE) and --dtype of a command that runs a model for inference: the
 * settled device, or the error line naming the bad value (the caller prints it and exits 2).
 */
export function settleInference(cmd: string, flags: { device?: string; dtype?: string }): { device: unknown; error: string | null } {
  const dev: Record<string, unknown> = { device: flags.device };
  const error = settleDevice(cmd, dev) ?? settleDtype(cmd, flags.dtype, dev.device);
  return { device: dev.device, error };
}

/**
 * `--device webgpu` (and `--dtype f16`) for a command's model: opens the device and moves the
 * model there (with f16, every Linear's weight in half precision), or says why it stays on the
 * CPU. Null when the device is not asked for.
 */
export async function placeModel(label: string, model: Module, device: unknown, dtype: unknown): Promise<DevicePlacement | null> {
  if (device !== 'webgpu') return null;
  return placeOnDevice(label, model.namedTensors().map(([, t]) => t), { half: dtype === 'f16' ? linearWeights(model) : [] });
}

/**
 * Settles config.device from --device or R1TS_DEVICE; returns an error line naming the bad
 * value (the caller prints it and exits 2), or null.
 */
export function settleDevice(cmd: string, config: Record<string, unknown>): string | null {
  if (config.device === undefined && process.env.R1TS_DEVICE) config.device = process.env.R1TS_DEVICE;
  if (config.device !== undefined && config.device !== 'cpu' && config.device !== 'webgpu') {
    return `r1ts ${cmd}: --device ${String(config.device)} (or R1TS_DEVICE): expected cpu or webgpu`;
  }
  return null;
}
