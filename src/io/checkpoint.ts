// Training checkpoints: model tensors, AdamW moments, RNG state, step, data
// position and any small JSON the caller adds, in one directory per step
// (root/step-00000123/: model.safetensors, optimizer.safetensors, state.json)
// plus root/latest naming the newest. A checkpoint directory is complete or
// absent: it is written under a temporary name, every file fsynced, then
// renamed into place (and the parent directory fsynced); `latest` is replaced
// by an atomic rename after that. A crash at any moment leaves the previous
// checkpoint intact and `latest` pointing at a complete one; old checkpoints are
// renamed away before they are deleted, so none is ever seen half-deleted either.
// Not here: when to checkpoint (the training loop decides).

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { fsyncDir, writeFileAtomic } from '../core/atomic.ts';
import { join } from 'node:path';
import { R1tsError } from '../core/errors.ts';
import type { Rng, RngState } from '../core/rng.ts';
import type { Module } from '../nn/module.ts';
import { tensor } from '../tensor/index.ts';
import { readSafetensors, writeSafetensors, type TensorToWrite } from './safetensors.ts';

export class CheckpointError extends R1tsError {}

const FORMAT = 'r1ts-checkpoint-1';

/** What a checkpoint needs of an optimizer (AdamW has it; src/optim is not a layer io may import). */
export interface OptimizerState {
  steps: number;
  lr: number;
  state(): { step: number; m: Float32Array[]; v: Float32Array[] };
  loadState(s: { step: number; m: Float32Array[]; v: Float32Array[] }): void;
}

export interface CheckpointState {
  step: number;
  /** Where the data stream resumes (the loop's own notion: an index, a byte offset, ...). */
  dataPosition: unknown;
  rng: { s: RngState; spare: number | null } | null;
  /** Anything small the caller needs back (config, metrics so far, ...). */
  extra: Record<string, unknown>;
}

export interface SaveOptions {
  model: Module;
  optimizer: OptimizerState | null;
  rng: Rng | null;
  step: number;
  dataPosition?: unknown;
  extra?: Record<string, unknown>;
  /** Keep this many newest checkpoints (default 2; older ones are deleted after the new one is in place). */
  keep?: number;
}

function stepDir(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Writes root/step-N atomically and points root/latest at it; returns the directory. */
export function saveCheckpoint(root: string, o: SaveOptions): string {
  if (!Number.isInteger(o.step) || o.step < 0) throw new CheckpointError(`saveCheckpoint: step ${o.step} must be a non-negative integer`);
  mkdirSync(root, { recursive: true });
  // Leftovers of a save that was killed midway (one writer per root is assumed).
  for (const d of readdirSync(root)) if (d.startsWith('.tmp-step-') || d.startsWith('latest.tmp-') || d.startsWith('.trash-')) rmSync(join(root, d), { recursive: true, force: true });
  const name = stepDir(o.step);
  const final = join(root, name);
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const model = new Map<string, TensorToWrite>(o.model.namedTensors().map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
    writeSafetensors(join(tmp, 'model.safetensors'), model, { format: FORMAT });
    if (o.optimizer) {
      const st = o.optimizer.state();
      const names = o.model.namedParameters().map(([n]) => n);
      if (names.length !== st.m.length) throw new CheckpointError(`saveCheckpoint: the optimizer holds ${st.m.length} parameters, the model ${names.length}`);
      const opt = new Map<string, TensorToWrite>();
      names.forEach((n, i) => {
        opt.set(`m.${n}`, { shape: [st.m[i].length], data: st.m[i] });
        opt.set(`v.${n}`, { shape: [st.v[i].length], data: st.v[i] });
      });
      writeSafetensors(join(tmp, 'optimizer.safetensors'), opt, { format: FORMAT });
    }
    const state = {
      format: FORMAT, step: o.step, dataPosition: o.dataPosition ?? null, rng: o.rng ? o.rng.getState() : null,
      optimizer: o.optimizer ? { steps: o.optimizer.steps, lr: o.optimizer.lr } : null, extra: o.extra ?? {},
      // A model that carries its config (every CausalLM) is rebuildable from the checkpoint alone.
      modelConfig: (o.model as { config?: unknown }).config ?? null,
    };
    writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
    fsyncDir(tmp);
    if (existsSync(final)) discard(root, final); // an older save of the same step
    renameSync(tmp, final);
    fsyncDir(root);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  writeFileAtomic(join(root, 'latest'), name + '\n');
  fsyncDir(root);
  const keep = o.keep ?? 2;
  const all = readdirSync(root).filter((d) => /^step-\d{8}$/.test(d)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) if (old !== name) discard(root, join(root, old));
  return final;
}

/** Removes a checkpoint directory so that it is never seen half-deleted: rename away (atomic), then delete. */
function discard(root: string, dir: string): void {
  const trash = join(root, `.trash-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  renameSync(dir, trash);
  rmSync(trash, { recursive: true, force: true });
}

/** The model config stored with a checkpoint (null when the model had none). */
export function checkpointModelConfig(dir: string): unknown {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).modelConfig ?? null;
  } catch (e) {
    throw new CheckpointError(`${dir}: cannot read state.json (${(e as Error).message})`);
  }
}

/** The directory root/latest names, or null when there is no checkpoint yet. */
export function latestCheckpoint(root: string): string | null {
  const p = join(root, 'latest');
  if (!existsSync(p)) return null;
  const name = readFileSync(p, 'utf8').trim();
  if (!/^step-\d{8}$/.test(name)) throw new CheckpointError(`${p}: names ${JSON.stringify(name)}, expected step-NNNNNNNN`);
  const dir = join(root, name);
  if (!existsSync(join(dir, 'state.json'))) throw new CheckpointError(`${p} names ${name}, which is missing or incomplete`);
  return dir;
}

/** Restores a checkpoint directory into the model, optimizer and rng; returns its state. */
export function loadCheckpoint(dir: string, into: { model: Module; optimizer: OptimizerState | null; rng: Rng | null }): CheckpointState {
  let state: { format?: string; step: number; dataPosition: unknown; rng: CheckpointState['rng']; optimizer: { steps: number; lr: number } | null; extra: Record<string, unknown> };
  try {
    state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${dir}: cannot read state.json (${(e as Error).message})`);
  }
  if (state.format !== FORMAT) throw new CheckpointError(`${dir}: format ${JSON.stringify(state.format)}, expected ${FORMAT}`);
  const model = readSafetensors(join(dir, 'model.safetensors')).tensors;
  into.model.loadStateDict(new Map([...model].map(([n, t]) => [n, tensor(t.data, t.shape)])));
  if (into.optimizer) {
    if (!state.optimizer || !existsSync(join(dir, 'optimizer.safetensors'))) throw new CheckpointError(`${dir}: has no optimizer state to resume from`);
    const opt = readSafetensors(join(dir, 'optimizer.safetensors')).tensors;
    const names = into.model.namedParameters().map(([n]) => n);
    const get = (k: string) => {
      const t = opt.get(k);
      if (!t || !(t.data instanceof Float32Array)) throw new CheckpointError(`${dir}: optimizer state lacks '${k}'`);
      return t.data;
    };
    into.optimizer.loadState({ step: state.optimizer.steps, m: names.map((n) => get(`m.${n}`)), v: names.map((n) => get(`v.${n}`)) });
    into.optimizer.lr = state.optimizer.lr;
  }
  if (into.rng) {
    if (!state.rng) throw new CheckpointError(`${dir}: has no RNG state to resume from`);
    into.rng.setState(state.rng);
  }
  return { step: state.step, dataPosition: state.dataPosition, rng: state.rng, extra: state.extra };
}
