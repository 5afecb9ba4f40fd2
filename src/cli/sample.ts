// `r1ts sample`: rejection sampling. Asks a teacher (a local r1ts model
// directory, or any OpenAI-compatible endpoint) for k completions of each
// prompt of a task, keeps the ones the task's grader verifies, and appends them
// as SFT conversations to --out (resumable: rerunning the same command skips
// the prompts already done). Prints the summary as one JSON line on stdout.
// Not here: the sampling loop (src/recipe/sample.ts), the teachers (src/recipe/teacher.ts).

import { existsSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { distinctTrainItems, doneFileOf, sample } from '../recipe/sample.ts';
import { localTeacher, openaiTeacher, type Teacher, type TeacherTemplate } from '../recipe/teacher.ts';
import { taskByName } from '../tasks/registry.ts';
import { Progress } from '../train/progress.ts';
import { settleDevice } from './train-flags.ts';

export const SAMPLE_HELP = `usage: r1ts sample --task TASK --out FILE.jsonl (--teacher DIR | --base-url URL --model NAME) [options]

Rejection sampling: k completions per prompt from a teacher, verified by the
task's grader; the correct ones are appended to FILE.jsonl as SFT conversations
{"messages": [{"role": "user", ...}, {"role": "assistant", "content": "<think> … </think> answer"}]}
(with id, sample, gold, answer). FILE.jsonl.done.jsonl records each finished
prompt; rerunning the same command skips them (a kill at any moment loses
only the prompts in flight, and never duplicates one).

task:
  --task T               add, add2 … add9, mul, mul2 … mul9, gsm8k, math500, countdown, or FILE.jsonl
  --grader G             grader of a .jsonl task: math | integer | exact
  --data-dir DIR         the shared/data folder
  --prompts N            how many prompts (default 100; all of a .jsonl task with --split held-out)
  --split S              train (distinct training items drawn by --seed; default) | held-out
teacher (one of):
  --teacher DIR          an r1ts model directory, run in this process
  --base-url URL         an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1
  --model NAME           the endpoint's model name (alias --api-model)
  --api-key KEY          bearer token (default env OPENAI_API_KEY)
  --template T           chat (chat endpoint / the model's chat template; default for --base-url)
                         | r1-zero (the R1-Zero prompt opened with <think>, sent to /completions;
                         default for --teacher)
  --prompt-prefix TEXT   text before an r1-zero prompt sent to an endpoint (e.g. its EOS token)
  --device cpu|webgpu    where a --teacher DIR runs (default: R1TS_DEVICE, else cpu); webgpu
                         runs it on the GPU (WebGPU via Dawn), falling back to the CPU with a
                         message when there is no adapter
sampling:
  --k K                  completions per prompt (default 4)
  --temperature T        default 0.6
  --top-p P              default 0.95
  --max-tokens N         most tokens per completion (default 256)
  --stop S               a stop string (repeatable; default </answer> for r1-zero)
  --seed S               seed of the prompt draw and of the per-sample seeds (default 0)
keeping:
  --dedup                drop a completion identical (whitespace aside) to one kept for the prompt
  --max-per-prompt N     keep at most N correct completions per prompt, the shortest
limits:
  --concurrency N        prompts in flight (and requests in flight; default 8)
  --request-n            one request with n = k per prompt (endpoints that support n) instead of k requests
  --retries N            retries of a 429/5xx/timeout/reset (default 6; backoff with jitter, Retry-After honoured)
  --backoff-ms MS        first backoff (default 1000)
  --timeout S            per-request timeout in seconds (default 600)
  --token-budget N       stop starting prompts once N tokens are spent (all runs of FILE together)
output:
  --out FILE             the SFT JSONL (required)
  --fresh                delete FILE and its done file first (default: resume)
  --no-progress          no progress bar
  -h, --help             this text`;

function fail(msg: string, code = 2): number {
  console.error(`r1ts sample: ${msg}${code === 2 ? `\n\n${SAMPLE_HELP}` : ''}`);
  return code;
}

export function num(name: string, v: string | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (opts.int && !Number.isInteger(x))) throw new R1tsError(`--${name} ${v}: expected ${opts.int ? 'an integer' : 'a number'}`);
  if ((opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max)) throw new R1tsError(`--${name} ${v}: expected a value in [${opts.min ?? '-∞'}, ${opts.max ?? '∞'}]`);
  return x;
}

export async function sampleCommand(args: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        task: { type: 'string' }, grader: { type: 'string' }, 'data-dir': { type: 'string' }, prompts: { type: 'string' }, split: { type: 'string' },
        teacher: { type: 'string' }, 'base-url': { type: 'string' }, model: { type: 'string' }, 'api-model': { type: 'string' }, 'api-key': { type: 'string' },
        template: { type: 'string' }, 'prompt-prefix': { type: 'string' }, device: { type: 'string' },
        k: { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'max-tokens': { type: 'string' }, stop: { type: 'string', multiple: true }, seed: { type: 'string' },
        dedup: { type: 'boolean' }, 'max-per-prompt': { type: 'string' }, 'request-n': { type: 'boolean' },
        concurrency: { type: 'string' }, retries: { type: 'string' }, 'backoff-ms': { type: 'string' }, timeout: { type: 'string' }, 'token-budget': { type: 'string' },
        out: { type: 'string' }, fresh: { type: 'boolean' }, 'no-progress': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (v.help) return console.log(SAMPLE_HELP), 0;
  if (!v.task) return fail('--task is required');
  if (!v.out) return fail('--out is required');
  const apiModel = v.model ?? v['api-model'];
  if (!v.teacher === !v['base-url']) return fail('give exactly one teacher: --teacher DIR or --base-url URL (with --model NAME)');
  if (v['base-url'] && !apiModel) return fail('--base-url needs --model NAME (the endpoint\'s model name)');
  const dev: Record<string, unknown> = { device: v.device };
  const badDevice = settleDevice('sample', dev);
  if (badDevice) return console.error(badDevice), 2;
  if (v.device !== undefined && v.device !== 'cpu' && !v.teacher) return fail('--device runs a --teacher DIR; an endpoint (--base-url) runs where it is served');
  let teacher: Teacher | undefined;
  try {
    const k = num('k', v.k, { int: true, min: 1 }) ?? 4;
    const temperature = num('temperature', v.temperature, { min: 0, max: 2 }) ?? 0.6;
    const topP = num('top-p', v['top-p'], { min: 0, max: 1 }) ?? 0.95;
    const maxTokens = num('max-tokens', v['max-tokens'], { int: true, min: 1 }) ?? 256;
    const seed = num('seed', v.seed, { int: true }) ?? 0;
    const concurrency = num('concurrency', v.concurrency, { int: true, min: 1 }) ?? 8;
    const template = (v.template ?? (v.teacher ? 'r1-zero' : 'chat')) as TeacherTemplate;
    if (template !== 'chat' && template !== 'r1-zero') throw new R1tsError(`--template ${v.template}: expected chat or r1-zero`);
    const split = v.split ?? 'train';
    if (split !== 'train' && split !== 'held-out') throw new R1tsError(`--split ${split}: expected train or held-out`);
    const task = taskByName(v.task, { grader: v.grader, dataDir: v['data-dir'] });
    const n = num('prompts', v.prompts, { int: true, min: 1 });
    const items = split === 'train' ? distinctTrainItems(task, n ?? 100, new Rng(seed)) : task.heldOut(n ?? (v.task.endsWith('.jsonl') ? Number.MAX_SAFE_INTEGER : 100));
    if (items.length === 0) throw new R1tsError(`task ${task.name}: no prompts`);
    if (v['base-url']) {
      teacher = openaiTeacher({
        baseURL: v['base-url'], model: apiModel!, apiKey: v['api-key'] ?? process.env.OPENAI_API_KEY, template, promptPrefix: v['prompt-prefix'],
        temperature, topP, maxTokens, seed, concurrency, mode: v['request-n'] ? 'n' : 'separate', stop: v.stop ?? (template === 'r1-zero' ? ['</answer>'] : undefined),
        retries: num('retries', v.retries, { int: true, min: 0 }), backoffMs: num('backoff-ms', v['backoff-ms'], { min: 0 }),
        timeoutMs: v.timeout !== undefined ? num('timeout', v.timeout, { min: 0.001 })! * 1000 : undefined,
        onRetry: (attempt, wait, reason) => { if (attempt >= 3) console.error(`r1ts sample: retry ${attempt} in ${(wait / 1000).toFixed(1)} s: ${reason.slice(0, 160)}`); },
      });
    } else {
      if (v['prompt-prefix'] !== undefined || v.stop || v['request-n']) throw new R1tsError('--prompt-prefix, --stop and --request-n are for an endpoint teacher (--base-url)');
      teacher = localTeacher({ modelDir: v.teacher!, template, temperature, topP, maxTokens, seed, maxBatch: Math.max(1, concurrency * k), device: dev.device as 'cpu' | 'webgpu' | undefined });
    }
    if (v.fresh) for (const p of [v.out, doneFileOf(v.out)]) if (existsSync(p)) rmSync(p);
    const ac = new AbortController();
    const onSig = () => ac.abort();
    process.once('SIGINT', onSig);
    let progress: Progress | null = null;
    const stats = await sample({
      task, items, teacher, k, out: v.out, dedup: v.dedup, maxPerPrompt: num('max-per-prompt', v['max-per-prompt'], { int: true, min: 1 }),
      concurrency, tokenBudget: num('token-budget', v['token-budget'], { int: true, min: 1 }), signal: ac.signal,
      onProgress: (s) => {
        if (v['no-progress']) return;
        progress ??= new Progress({ total: s.prompts, startStep: s.done, label: `sample ${task.name}`, unit: 'prompts' });
        progress.update(s.done, { accept: s.samples ? s.correct / s.samples : 0, kept: s.kept, tokens: s.tokens });
      },
    });
    (progress as Progress | null)?.done();
    process.off('SIGINT', onSig);
    console.log(JSON.stringify({ task: task.name, out: v.out, ...stats, accept_rate: stats.samples ? stats.correct / stats.samples : 0 }));
    if (stats.error) return fail(`stopped after ${stats.done}/${stats.prompts} prompts: ${stats.error}. Rerun the same command to continue.`, 1);
    if (ac.signal.aborted) return console.error(`r1ts sample: interrupted at ${stats.done}/${stats.prompts} prompts; rerun the same command to continue.`), 130;
    if (stats.budgetReached) console.error(`r1ts sample: token budget reached after ${stats.done}/${stats.prompts} prompts (${stats.tokens} tokens).`);
    else console.error(`r1ts sample: ${stats.done} prompts, accept rate ${(100 * (stats.samples ? stats.correct / stats.samples : 0)).toFixed(1)}%, ${stats.kept} conversations in ${v.out}`);
    return 0;
  } catch (e) {
    return fail((e as Error).message, 1);
  } finally {
    await teacher?.close?.();
  }
}
