// `r1ts zero`: the R1-Zero demo (src/train/zero.ts) on the shipped base model,
// or on one built from scratch (--from-scratch pretrains it on the synthetic
// corpus first, src/train/zero-base.ts). Prints the before → after summary and
// writes runs/<name>/{metrics,samples}.jsonl, summary.json and the final model.
// Not here: the experiment itself (train/zero.ts), GRPO flags (grpo-flags.ts).

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { saveHfModel } from '../io/hf.ts';
import { loadModel } from '../io/load.ts';
import { additionTask } from '../tasks/arithmetic.ts';
import type { Task } from '../tasks/task.ts';
import { loadBpeTokenizer, saveTokenizerFiles } from '../tokenizer/tokenizer-json.ts';
import { runZero, type ZeroSummary } from '../train/zero.ts';
import { GRPO_FLAG_SPECS, GRPO_FLAGS_HELP, grpoOptionsFromFlags } from './grpo-flags.ts';

/** The base model shipped with r1ts (built by `r1ts zero --from-scratch --save-base assets/zero-base`). */
export const SHIPPED_BASE = fileURLToPath(new URL('../../assets/zero-base', import.meta.url));

const HELP = `usage: r1ts zero [options]

R1-Zero on a CPU: GRPO with rule-based rewards only, from a base model that has
never seen the R1-Zero template, on held-out problems it has never seen either.

  --task NAME            add (3-digit addition, default) | add4 | add5 (longer than the corpus's examples)
  --base DIR             base model directory [the shipped assets/zero-base]
  --from-scratch         pretrain the base on the synthetic corpus first (about 20 minutes on 2 cores)
  --save-base DIR        with --from-scratch: also copy the new base there
  --minutes M            RL wall-clock budget, evaluations not counted [5]
  --steps N              stop after N GRPO steps (0 = only the time budget) [0]
  --eval-every N         held-out evaluation every N steps [5]
  --eval-items N         held-out problems per periodic evaluation [200]
  --final-eval-items N   held-out problems before and after [500]
  --eval-temperature T   sampling temperature of evaluations [1]
  --out DIR              run directory [runs/zero-<time>]
  --no-progress          plain lines only
  --json                 print the summary as JSON on the last line
${GRPO_FLAGS_HELP}`;

export async function zeroCommand(args: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args,
      options: {
        task: { type: 'string' }, base: { type: 'string' }, 'from-scratch': { type: 'boolean' }, 'save-base': { type: 'string' },
        minutes: { type: 'string' }, steps: { type: 'string' }, 'eval-every': { type: 'string' }, 'eval-items': { type: 'string' },
        'final-eval-items': { type: 'string' }, 'eval-temperature': { type: 'string' }, out: { type: 'string' },
        'no-progress': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        ...GRPO_FLAG_SPECS,
      },
    }).values;
  } catch (e) {
    console.error(`r1ts zero: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  try {
    const grpo = grpoOptionsFromFlags(v);
    const task = taskByName(String(v.task ?? 'add'));
    const outDir = resolve(String(v.out ?? join('runs', `zero-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`)));
    let baseDir = resolve(String(v.base ?? SHIPPED_BASE));
    if (v['from-scratch']) {
      const { buildZeroBase } = await import('../train/zero-base.ts');
      baseDir = join(outDir, 'base');
      await buildZeroBase({ outDir: baseDir, progress: !v['no-progress'], log: console.log });
      if (v['save-base']) {
        const { cpSync } = await import('node:fs');
        cpSync(baseDir, resolve(String(v['save-base'])), { recursive: true });
      }
    }
    if (!existsSync(join(baseDir, 'tokenizer.json'))) throw new R1tsError(`${baseDir}: no base model with a tokenizer.json here (run \`r1ts zero --from-scratch\` to build one)`);
    const { model } = loadModel(baseDir);
    const tokenizer = loadBpeTokenizer(join(baseDir, 'tokenizer.json'), existsSync(join(baseDir, 'tokenizer_config.json')) ? join(baseDir, 'tokenizer_config.json') : undefined);
    console.log(`base: ${baseDir}`);
    const summary = await runZero(model, tokenizer, task, {
      grpo,
      minutes: positive(v.minutes, 'minutes', 5),
      steps: intFlag(v.steps, 'steps', 0),
      evalEvery: intFlag(v['eval-every'], 'eval-every', 5),
      evalItems: intFlag(v['eval-items'], 'eval-items', 200, 1),
      finalEvalItems: intFlag(v['final-eval-items'], 'final-eval-items', 500, 1),
      evalTemperature: nonNegative(v['eval-temperature'], 'eval-temperature', 1),
      outDir,
      progress: !v['no-progress'],
      log: console.log,
    });
    saveHfModel(model, join(outDir, 'model'));
    saveTokenizerFiles(join(outDir, 'model'), tokenizer);
    printSummary(summary, outDir);
    if (v.json) console.log(JSON.stringify(summary));
    return 0;
  } catch (e) {
    if (e instanceof R1tsError || e instanceof RangeError) {
      console.error(`r1ts zero: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

export function taskByName(name: string): Task {
  const m = /^add(\d?)$/.exec(name);
  if (m) return additionTask({ digits: m[1] ? Number(m[1]) : 3 });
  throw new R1tsError(`unknown task '${name}': expected add, add4, add5, ...`);
}

function printSummary(s: ZeroSummary, outDir: string): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    '',
    `R1-Zero on '${s.task}': ${s.steps} GRPO steps in ${s.rl_minutes.toFixed(1)} minutes of RL`,
    `  held-out accuracy       ${pct(s.acc_before)} → ${pct(s.acc_after)}`,
    `  mean response length    ${s.len_before.toFixed(0)} → ${s.len_after.toFixed(0)} characters`,
    `  R1 form (</think> <answer>…</answer>)  ${pct(s.format_before)} → ${pct(s.format_after)}`,
    `  minutes to 95%          ${s.minutes_to_95 === null ? 'not reached' : s.minutes_to_95.toFixed(1)}`,
    '',
    'before:',
    ...s.examples_before.map((e) => `  ${e.question} <think>${e.completion}   [${e.correct ? 'right' : 'wrong'}]`),
    'after:',
    ...s.examples_after.map((e) => `  ${e.question} <think>${e.completion}   [${e.correct ? 'right' : 'wrong'}]`),
    '',
    `run: ${outDir} (metrics.jsonl, samples.jsonl, summary.json, model/)`,
  ];
  console.log(lines.join('\n'));
}

function intFlag(x: unknown, name: string, dflt: number, min = 0): number {
  if (x === undefined) return dflt;
  const n = Number(x);
  if (!Number.isInteger(n) || n < min) throw new R1tsError(`--${name} ${String(x)}: expected an integer ≥ ${min}`);
  return n;
}

function positive(x: unknown, name: string, dflt: number): number {
  if (x === undefined) return dflt;
  const n = Number(x);
  if (!(n > 0) || !Number.isFinite(n)) throw new R1tsError(`--${name} ${String(x)}: expected a positive number`);
  return n;
}

function nonNegative(x: unknown, name: string, dflt: number): number {
  if (x === undefined) return dflt;
  const n = Number(x);
  if (!(n >= 0) || !Number.isFinite(n)) throw new R1tsError(`--${name} ${String(x)}: expected a number ≥ 0`);
  return n;
}
