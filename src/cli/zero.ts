// `r1ts zero`: the R1-Zero demo (src/train/zero.ts) on the shipped base model,
// or on one built from scratch (--from-scratch pretrains it on the synthetic
// corpus first, src/train/zero-base.ts). Prints the before → after summary and
// writes runs/<name>/{metrics,samples}.jsonl, summary.json and the final model.
// `r1ts rl` runs the same experiment on any model directory and task, with a
// reward spec (--reward task | correct:1,format:0.2).
// Not here: the experiment itself (train/zero.ts), GRPO flags (grpo-flags.ts).

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { saveHfModel } from '../io/hf.ts';
import { loadModel } from '../io/load.ts';
import { taskByName } from '../tasks/registry.ts';
import type { Task } from '../tasks/task.ts';
import { findTokenizerJson, loadBpeTokenizer, saveTokenizerFiles, tokenizerConfigBeside } from '../tokenizer/tokenizer-json.ts';
import { rewardFromSpec } from '../train/grpo.ts';
import { runZero, zeroPromptIds, type ZeroSummary } from '../train/zero.ts';
import { DASHBOARD_FLAG_HELP, openRunDashboard, takeDashboardFlag } from './dashboard.ts';
import { GRPO_FLAG_SPECS, GRPO_FLAGS_HELP, grpoOptionsFromFlags } from './grpo-flags.ts';
import { DEVICE_FLAG, DEVICE_HELP, settleDevice } from './train-flags.ts';

/** The base model shipped with r1ts (built by `r1ts zero --from-scratch --save-base assets/zero-base`). */
export const SHIPPED_BASE = fileURLToPath(new URL('../../assets/zero-base', import.meta.url));
/**
 * The countdown base shipped with r1ts, `--task countdown`'s default (base C3 of docs/zero.md,
 * built by `r1ts zero --from-scratch --base-corpus countdown-columns --save-base assets/countdown-base`).
 */
export const SHIPPED_COUNTDOWN_BASE = fileURLToPath(new URL('../../assets/countdown-base', import.meta.url));
/**
 * The multiplication base shipped with r1ts, `--task mul`'s default (base M of docs/zero.md: the
 * shipped assets/zero-base continued on a corpus with products, train/zero-base.ts MUL_CONTINUE;
 * `npm run bench:beyond` rebuilds it into runs/mul-base).
 */
export const SHIPPED_MUL_BASE = fileURLToPath(new URL('../../assets/mul-base', import.meta.url));

/**
 * Tasks whose defaults differ from the addition task's: the base `r1ts zero --task T` starts from
 * without --base, the corpus `--from-scratch` builds it on without --base-corpus, and the
 * generation budget without --max-tokens (for `r1ts rl` too): a number of tokens, or 'context',
 * what the model's positions leave after the task's longest prompt.
 */
const TASK_DEFAULTS: Record<string, { base: string; corpus: string; maxTokens: number | 'context' }> = {
  countdown: { base: SHIPPED_COUNTDOWN_BASE, corpus: 'countdown-columns', maxTokens: 'context' },
  mul: { base: SHIPPED_MUL_BASE, corpus: 'mul', maxTokens: 128 },
};

const RUN_FLAGS_HELP = `  --minutes M            RL wall-clock budget, evaluations not counted [5]
  --steps N              stop after N GRPO steps (0 = only the time budget) [0]
  --eval-every N         held-out evaluation every N steps [5]
  --eval-items N         held-out problems per periodic evaluation [200]
  --final-eval-items N   held-out problems before and after [500]
  --eval-temperature T   sampling temperature of evaluations [1]
  --out DIR              run directory [runs/<command>-<time>]
  --no-progress          plain lines only
  --json                 print the summary as JSON on the last line
${DEVICE_HELP}
${DASHBOARD_FLAG_HELP}`;

const RUN_FLAG_SPECS = {
  task: { type: 'string' }, minutes: { type: 'string' }, steps: { type: 'string' }, 'eval-every': { type: 'string' }, 'eval-items': { type: 'string' },
  'final-eval-items': { type: 'string' }, 'eval-temperature': { type: 'string' }, out: { type: 'string' },
  'no-progress': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  ...DEVICE_FLAG,
  ...GRPO_FLAG_SPECS,
} as const;

const HELP = `usage: r1ts zero [options]

R1-Zero on a CPU: GRPO with rule-based rewards only, from a base model that has
never seen the R1-Zero template, on held-out problems it has never seen either.

  --task NAME            add (3-digit addition, default) | add4 | add5 (longer than the corpus's examples)
                         | mul (3-digit × one digit, beyond the addition corpus)
                         | countdown (3 numbers, ../shared/data)
  --base DIR             base model directory [the shipped assets/zero-base; for --task mul
                         assets/mul-base, with a budget of 128 tokens; for --task countdown
                         assets/countdown-base, whose budget is then what its 512 positions leave
                         after the longest prompt; --max-tokens overrides either budget]
  --from-scratch         pretrain the base on the synthetic corpus first (about 20 minutes on 2 cores)
  --base-steps N         with --from-scratch: pretraining steps of 32 × 256 tokens [1200]; fewer
                         make a base whose own column work is only sometimes right (750: docs/zero.md)
  --base-corpus NAME     with --from-scratch [the task's: add; mul for --task mul; countdown-columns
                         for --task countdown]: add (the shipped recipe) | mul (the add base, then
                         400 steps on a corpus with products: assets/mul-base) | countdown (80% countdown
                         documents, 384 positions: the base for --task countdown, docs/zero.md)
                         | countdown-columns (the same search with each step's column work,
                         512 positions, 1.89M parameters: docs/zero.md) | countdown-aha (as
                         countdown-columns, its worked answers guesses, 30% of them checked: the
                         countdown aha experiment, bench/aha.ts)
  --save-base DIR        with --from-scratch: also copy the new base there
  --base-only            with --from-scratch: stop once the base is built
  --resume               with --from-scratch and the same --out: continue an interrupted base build
${RUN_FLAGS_HELP}
${GRPO_FLAGS_HELP}`;

const RL_HELP = `usage: r1ts rl --model DIR [options]

GRPO with rule-based rewards on any model directory (Hugging Face or r1ts) and
task, under the R1-Zero template, with held-out evaluations before, during and after.

  --model DIR            the policy's starting weights (with tokenizer.json)
  --task NAME            add | add2 … add9 | mul | mul2 … mul9 | gsm8k | countdown | FILE.jsonl [add]
  --grader NAME          for a .jsonl task: math | integer | exact [math]
  --reward SPEC          task (the task's reward: 1 right in R1 form, 0.5 right, 0 wrong)
                         or weighted parts, e.g. correct:1,format:0.2 [task]
${RUN_FLAGS_HELP}
${GRPO_FLAGS_HELP}`;

export async function zeroCommand(args: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  let dashboard: number | null | undefined;
  try {
    ({ args, port: dashboard } = takeDashboardFlag(args));
    v = parseArgs({
      args,
      options: { base: { type: 'string' }, 'from-scratch': { type: 'boolean' }, 'base-steps': { type: 'string' }, 'base-corpus': { type: 'string' }, 'save-base': { type: 'string' }, 'base-only': { type: 'boolean' }, resume: { type: 'boolean' }, ...RUN_FLAG_SPECS },
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
    const task = taskByName(String(v.task ?? 'add'));
    const outDir = runDir(v, 'zero');
    let baseDir = resolve(String(v.base ?? TASK_DEFAULTS[task.name]?.base ?? SHIPPED_BASE));
    if (v['base-steps'] !== undefined && !v['from-scratch']) throw new R1tsError('--base-steps: only with --from-scratch (it sizes the base being built)');
    const baseCorpus = String(v['base-corpus'] ?? TASK_DEFAULTS[task.name]?.corpus ?? 'add');
    const corpora = ['add', 'mul', 'countdown', 'countdown-columns', 'countdown-aha'];
    if (!corpora.includes(baseCorpus)) throw new R1tsError(`--base-corpus ${baseCorpus}: expected ${corpora.join(', ')}`);
    if (v['base-corpus'] !== undefined && !v['from-scratch']) throw new R1tsError('--base-corpus: only with --from-scratch (it picks the corpus of the base being built)');
    if (v['from-scratch']) {
      const { buildZeroBase, continueZeroBase, COUNTDOWN_BASE_OPTIONS, COUNTDOWN_COLUMNS_BASE_OPTIONS, COUNTDOWN_AHA_BASE_OPTIONS, MUL_CONTINUE } = await import('../train/zero-base.ts');
      const recipes: Record<string, { steps?: number }> = { countdown: COUNTDOWN_BASE_OPTIONS, 'countdown-columns': COUNTDOWN_COLUMNS_BASE_OPTIONS, 'countdown-aha': COUNTDOWN_AHA_BASE_OPTIONS };
      const recipe = recipes[baseCorpus] ?? {};
      const steps = v['base-steps'] === undefined ? recipe.steps : intFlag(v['base-steps'], 'base-steps', 1200, 1);
      baseDir = await buildZeroBase({ outDir: join(outDir, 'base'), ...recipe, steps, resume: Boolean(v.resume), progress: !v['no-progress'], log: console.log });
      // mul: the addition base, then its continuation on the corpus with products (base M)
      if (baseCorpus === 'mul') baseDir = await continueZeroBase({ from: baseDir, outDir: join(outDir, 'mul-base'), ...MUL_CONTINUE, resume: Boolean(v.resume), progress: !v['no-progress'], log: console.log });
      if (v['save-base']) {
        const { cpSync } = await import('node:fs');
        cpSync(baseDir, resolve(String(v['save-base'])), { recursive: true });
      }
      if (v['base-only']) {
        console.log(`base: ${baseDir}`);
        return 0;
      }
    }
    return await runFromFlags(v, baseDir, task, outDir, 'zero', dashboard);
  } catch (e) {
    return reportError('zero', e);
  }
}

export async function rlCommand(args: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  let dashboard: number | null | undefined;
  try {
    ({ args, port: dashboard } = takeDashboardFlag(args));
    v = parseArgs({ args, options: { model: { type: 'string' }, reward: { type: 'string' }, grader: { type: 'string' }, ...RUN_FLAG_SPECS } }).values;
  } catch (e) {
    console.error(`r1ts rl: ${(e as Error).message}\n\n${RL_HELP}`);
    return 2;
  }
  if (v.help) {
    console.log(RL_HELP);
    return 0;
  }
  try {
    if (typeof v.model !== 'string') throw new R1tsError('--model DIR is required (a Hugging Face or r1ts model directory with tokenizer.json)');
    const task = taskByName(String(v.task ?? 'add'), { grader: typeof v.grader === 'string' ? v.grader : undefined });
    return await runFromFlags(v, resolve(v.model), task, runDir(v, 'rl'), 'rl', dashboard);
  } catch (e) {
    return reportError('rl', e);
  }
}

function runDir(v: Record<string, unknown>, command: string): string {
  return resolve(String(v.out ?? join('runs', `${command}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`)));
}

function reportError(command: string, e: unknown): number {
  if (e instanceof R1tsError || e instanceof RangeError) {
    console.error(`r1ts ${command}: ${e.message}`);
    return 2;
  }
  throw e;
}

async function runFromFlags(v: Record<string, string | boolean | undefined>, modelDir: string, task: Task, outDir: string, command: string, dashboard: number | null | undefined = null): Promise<number> {
  const closeDashboard = dashboard === null ? null : await openRunDashboard(dashboard, outDir);
  try {
    return await runFromFlagsInner(v, modelDir, task, outDir, command);
  } finally {
    await closeDashboard?.();
  }
}

async function runFromFlagsInner(v: Record<string, string | boolean | undefined>, modelDir: string, task: Task, outDir: string, command: string): Promise<number> {
  const dev: Record<string, unknown> = { device: v.device };
  const badDevice = settleDevice(command, dev);
  if (badDevice) throw new R1tsError(badDevice.replace(`r1ts ${command}: `, ''));
  const grpo = grpoOptionsFromFlags(v);
  const reward = typeof v.reward === 'string' ? rewardFromSpec(v.reward) : undefined;
  const tokPath = findTokenizerJson(modelDir);
  if (!existsSync(modelDir) || !tokPath) {
    throw new R1tsError(`${modelDir}: no model with a tokenizer.json here${command === 'zero' ? ' (run `r1ts zero --from-scratch` to build a base)' : ''}`);
  }
  const { model } = loadModel(modelDir);
  const reference = grpo.beta > 0 ? loadModel(modelDir).model : null;
  const tokenizer = loadBpeTokenizer(tokPath, tokenizerConfigBeside(tokPath));
  console.log(`model: ${modelDir} (${(model.numParameters() / 1e6).toFixed(2)}M parameters)`);
  // a base whose context cannot hold the task's prompts fails here, saying which base would
  const evalItems = intFlag(v['eval-items'], 'eval-items', 200, 1);
  const finalEvalItems = intFlag(v['final-eval-items'], 'final-eval-items', 500, 1);
  const longest = Math.max(...task.heldOut(Math.max(evalItems, finalEvalItems)).map((it) => zeroPromptIds(tokenizer, it.question).length));
  if (longest >= model.maxSeqLen) {
    const hint = task.name === 'countdown' ? '; the shipped assets/countdown-base (512 positions) is --task countdown\'s default, or build one: r1ts zero --from-scratch --base-corpus countdown-columns --base-only (docs/zero.md)' : '';
    throw new R1tsError(`${modelDir}: the longest '${task.name}' prompt under the R1-Zero template is ${longest} tokens and this model's context is ${model.maxSeqLen}${hint}`);
  }
  // a worked product, or a countdown search in columns, needs more than the default budget
  const budget = TASK_DEFAULTS[task.name]?.maxTokens;
  if (budget !== undefined && v['max-tokens'] === undefined) {
    grpo.maxTokens = budget === 'context' ? model.maxSeqLen - longest : Math.min(budget, model.maxSeqLen - longest);
    const why = budget === 'context' ? `what ${model.maxSeqLen} positions leave after the longest prompt, ${longest}` : `the '${task.name}' task's budget`;
    console.log(`budget: ${grpo.maxTokens} new tokens (${why}; --max-tokens to change)`);
  }
  // Ctrl-C once: finish the current step, evaluate and save as at the end; twice: exit at once
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) process.exit(130);
    console.error('\nstopping after this step (evaluation and save follow; Ctrl-C again to quit now)');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const summary = await runZero(model, tokenizer, task, {
    signal: stop.signal,
    grpo,
    reward,
    minutes: positive(v.minutes, 'minutes', 5),
    steps: intFlag(v.steps, 'steps', 0),
    evalEvery: intFlag(v['eval-every'], 'eval-every', 5),
    evalItems,
    finalEvalItems,
    evalTemperature: nonNegative(v['eval-temperature'], 'eval-temperature', 1),
    outDir,
    progress: !v['no-progress'],
    log: console.log,
    device: dev.device as 'cpu' | 'webgpu' | undefined,
    label: `r1ts ${command}`,
  }, reference).finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  saveHfModel(model, join(outDir, 'model'));
  saveTokenizerFiles(join(outDir, 'model'), tokenizer);
  printSummary(summary, outDir);
  if (v.json) console.log(JSON.stringify(summary));
  return 0;
}


function printSummary(s: ZeroSummary, outDir: string): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    '',
    `R1-Zero on '${s.task}': ${s.steps} GRPO steps in ${s.rl_minutes.toFixed(1)} minutes of RL`,
    `  held-out accuracy       ${pct(s.acc_before)} → ${pct(s.acc_after)}`,
    `  mean response length    ${s.len_before.toFixed(0)} → ${s.len_after.toFixed(0)} characters`,
    `  R1 form (</think> <answer>…</answer>)  ${pct(s.format_before)} → ${pct(s.format_after)}`,
    `  right answers that check themselves  ${pct(s.reflective_correct_before)} → ${pct(s.reflective_correct_after)}`,
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
