// `r1ts eval`: evaluates a model on a task — an r1ts model directory through the
// engine, or any OpenAI-compatible endpoint — and prints a markdown table of
// pass@1, pass@k, cons@k, format rate and mean lengths (95% CIs). The protocol
// defaults are the R1 paper's: temperature 0.6, top-p 0.95, pass@1 as the mean
// over k samples; --temperature 0 is greedy (k = 1). With --out the JSON report
// (config, metrics, every completion) is written there and per-item results go
// to OUT.results.jsonl as they finish; --resume continues from that file.
// Not here: the harness (src/eval/harness.ts), the tasks (src/tasks).

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../core/atomic.ts';
import { R1tsError } from '../core/errors.ts';
import { Engine } from '../engine/generate.ts';
import { engineSource } from '../eval/engine-source.ts';
import { evaluate, type CompletionSource, type EvalOptions } from '../eval/harness.ts';
import { openaiSource } from '../eval/openai-source.ts';
import { markdownTable, reportJson } from '../eval/report.ts';
import { resultsFile } from '../eval/results-file.ts';
import { loadModel } from '../io/load.ts';
import { taskByName } from '../tasks/registry.ts';
import type { DevicePlacement } from '../tensor/index.ts';
import type { TaskItem } from '../tasks/task.ts';
import { chatTemplateFor, loadHfTokenizer, r1ChatTemplate, r1ZeroPrompt, type TextTokenizer } from '../tokenizer/index.ts';
import { findTokenizerJson, loadBpeTokenizer, parseTokenizerConfig, tokenizerConfigBeside } from '../tokenizer/tokenizer-json.ts';
import { Progress } from '../train/progress.ts';
import { zeroPromptIds } from '../train/zero.ts';
import { placeModel, settleInference } from './train-flags.ts';

export const EVAL_HELP = `usage: r1ts eval --task TASK (--model DIR | --base-url URL --api-model NAME) [options]

Evaluates a model on a task and prints pass@1 (mean over k samples), pass@k,
cons@k (majority vote), format rate and mean lengths, with 95% CIs.

task:
  --task T             add, add2 … add9, mul, mul2 … mul9, gsm8k, math500, countdown, or FILE.jsonl
                       (one object a line: question|prompt, answer|gold, id?)
  --grader G           grader of a .jsonl task: math | integer | exact (default math)
  --limit N            the first N items only (default all)
  --data-dir DIR       the shared/data folder (default R1TS_DATA or ../shared/data)
model (one of):
  --model DIR          an r1ts checkpoint or Hugging Face directory with tokenizer.json
  --base-url URL       an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1
  --api-model NAME     the endpoint's model name
  --api-key KEY        bearer token (default env OPENAI_API_KEY)
  --system TEXT        a system message (endpoint only)
  --device cpu|webgpu  where a --model runs (default: R1TS_DEVICE, else cpu); webgpu runs it
                       on the GPU (WebGPU via Dawn), falling back to the CPU with a message
                       when there is no adapter
  --dtype f32|f16      with --device webgpu: f16 stores every Linear's weight in half precision
                       there (products and sums stay f32); default f32
sampling:
  --k K                samples per item (default 4; 1 with --temperature 0)
  --temperature T      default 0.6 (the R1 protocol); 0 = greedy
  --top-p P            default 0.95
  --max-tokens N       most tokens per sample (default 1024 for --model; the endpoint's default otherwise)
  --seed S             base seed (default 0)
  --template T         r1-zero | chat (the model's own chat template, else R1's) | plain:
                       how a --model sees the question (default r1-zero)
  --concurrency N      requests in flight (endpoint, default 8) or items per engine batch (model, default 8)
output:
  --out FILE           JSON report; per-item results stream to FILE.results.jsonl
  --resume             continue from FILE.results.jsonl (items already there are not generated again)
  -h, --help           this text`;

function fail(msg: string, code = 2): number {
  console.error(`r1ts eval: ${msg}${code === 2 ? `\n\n${EVAL_HELP}` : ''}`);
  return code;
}

function num(name: string, v: string | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (opts.int && !Number.isInteger(x))) throw new R1tsError(`--${name} ${v}: expected ${opts.int ? 'an integer' : 'a number'}`);
  if ((opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max)) throw new R1tsError(`--${name} ${v}: expected a value in [${opts.min ?? '-∞'}, ${opts.max ?? '∞'}]`);
  return x;
}

const TEMPLATES = ['r1-zero', 'chat', 'plain'] as const;

export async function evalCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        task: { type: 'string' }, grader: { type: 'string' }, limit: { type: 'string' }, 'data-dir': { type: 'string' },
        model: { type: 'string' }, 'base-url': { type: 'string' }, 'api-model': { type: 'string' }, 'api-key': { type: 'string' }, system: { type: 'string' },
        k: { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'max-tokens': { type: 'string' }, seed: { type: 'string' },
        template: { type: 'string' }, concurrency: { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return console.log(EVAL_HELP), 0;
  if (!v.task) return fail('--task is required');
  if (Boolean(v.model) === Boolean(v['base-url'])) return fail('give exactly one of --model DIR or --base-url URL');
  if (v['base-url'] && !v['api-model']) return fail('--base-url needs --api-model NAME');
  if (v.resume && !v.out) return fail('--resume needs --out FILE (the results to resume are FILE.results.jsonl)');
  const dev = settleInference('eval', v);
  if (dev.error) return console.error(dev.error), 2;
  if (v.device !== undefined && v.device !== 'cpu' && !v.model) return fail('--device runs a --model; an endpoint (--base-url) runs where it is served');
  let placement: DevicePlacement | null = null;
  try {
    const temperature = num('temperature', v.temperature, { min: 0 }) ?? 0.6;
    const greedy = temperature === 0;
    const kFlag = num('k', v.k, { int: true, min: 1 });
    if (greedy && kFlag !== undefined && kFlag > 1) throw new R1tsError(`--k ${kFlag} with --temperature 0: greedy samples are all the same; use --k 1 or a temperature > 0`);
    const k = greedy ? 1 : kFlag ?? 4;
    const topP = num('top-p', v['top-p'], { min: 0, max: 1 }) ?? 0.95;
    const limit = num('limit', v.limit, { int: true, min: 1 });
    const seed = num('seed', v.seed, { int: true }) ?? 0;
    const concurrency = num('concurrency', v.concurrency, { int: true, min: 1 }) ?? 8;
    const template = v.template ?? 'r1-zero';
    if (!(TEMPLATES as readonly string[]).includes(template)) throw new R1tsError(`--template ${template}: expected one of ${TEMPLATES.join(', ')}`);
    const task = taskByName(v.task, { grader: v.grader, dataDir: v['data-dir'] });
    if (/^add\d?$/.test(v.task) && limit === undefined) throw new R1tsError(`task ${task.name} generates its held-out items: give --limit N`);
    const items = task.heldOut(limit ?? Number.MAX_SAFE_INTEGER);
    if (items.length === 0) throw new R1tsError(`task ${task.name}: no items`);

    let source: CompletionSource;
    let opts: EvalOptions;
    let maxTokens = num('max-tokens', v['max-tokens'], { int: true, min: 1 });
    if (v.model) {
      maxTokens ??= 1024;
      const path = v.model;
      const tokPath = findTokenizerJson(path);
      if (!tokPath) throw new R1tsError(`${path}: no tokenizer.json in the model directory (or its parent), so prompts cannot be tokenized`);
      const cfg = tokenizerConfigBeside(tokPath);
      // our BPE reads byte-level BPE tokenizer.json files (and can keep specials literal); others go through @huggingface/tokenizers
      let tok: TextTokenizer;
      let own = true;
      try {
        tok = loadBpeTokenizer(tokPath, cfg);
      } catch {
        tok = loadHfTokenizer(tokPath, cfg);
        own = false;
      }
      const { model } = loadModel(path);
      placement = await placeModel('r1ts eval', model, dev.device, v.dtype);
      const eos = tok.eosToken !== undefined ? tok.addedTokens.get(tok.eosToken) : undefined;
      const stopTokens = eos !== undefined && eos < model.config.vocab_size ? [eos] : [];
      // the model's own chat template when its tokenizer_config.json has one (as r1ts serve uses), else R1's
      const ownTemplate = cfg ? parseTokenizerConfig(JSON.parse(readFileSync(cfg, 'utf8')), cfg).chat_template : undefined;
      const ownSource = typeof ownTemplate === 'string' ? ownTemplate : Array.isArray(ownTemplate) ? ownTemplate.find((t) => t.name === 'default')?.template : undefined;
      const chat = template === 'chat' ? (ownSource ? chatTemplateFor(tok, ownSource) : r1ChatTemplate(tok)) : undefined;
      const encodePrompt = (item: TaskItem): number[] =>
        template === 'r1-zero' ? (own ? zeroPromptIds(tok, item.question) : tok.encode(`${r1ZeroPrompt(item.question)} <think>`))
          : chat ? tok.encode(chat.render([{ role: 'user', content: item.question }], { addGenerationPrompt: true }), { parseSpecial: true })
            : tok.encode(item.question);
      const engine = new Engine(model, { maxBatch: concurrency * k, decode: (ids) => tok.decode(ids) });
      source = engineSource(engine, tok, { encodePrompt, sampling: { temperature, topP }, maxTokens, seed, stopTokens, stopStrings: template === 'r1-zero' ? ['</answer>'] : [] });
      opts = { batchSize: concurrency };
    } else {
      const apiKey = v['api-key'] ?? process.env.OPENAI_API_KEY;
      source = openaiSource({ baseURL: v['base-url']!, model: v['api-model']!, apiKey, system: v.system, temperature, topP, maxTokens, seed, concurrency });
      opts = { batchSize: 1, parallel: concurrency };
    }
    const resultsPath = v.out ? `${v.out}.results.jsonl` : undefined;
    if (resultsPath && !v.resume && existsSync(resultsPath)) rmSync(resultsPath);
    const progress = new Progress({ total: items.length, label: `eval ${task.name}`, unit: 'items' });
    let right = 0, samples = 0;
    const report = await evaluate(task, items, source, k, {
      ...opts, results: resultsPath ? resultsFile(resultsPath) : undefined,
      onItemDone: (r, done) => {
        right += r.correct.filter(Boolean).length;
        samples += r.correct.length;
        progress.update(done, { 'pass@1': right / samples });
      },
    });
    progress.done();
    const config = {
      task: task.name, items: items.length, k, greedy, temperature, top_p: topP, max_tokens: maxTokens ?? null, seed,
      ...(v.model ? { model: v.model, template, batch: concurrency, device: placement?.onDevice ? 'webgpu' : 'cpu', dtype: placement?.onDevice ? v.dtype ?? 'f32' : 'f32' } : { base_url: v['base-url'], api_model: v['api-model'], system: v.system ?? null, concurrency }),
      grader: v.grader ?? null, limit: limit ?? null, resumed: report.resumed,
    };
    console.log(markdownTable([report]));
    if (v.out) {
      writeFileAtomic(v.out, JSON.stringify(reportJson(report, config), null, 1) + '\n');
      console.error(`r1ts eval: report written to ${v.out} (per-item results in ${resultsPath})`);
    }
    return 0;
  } catch (e) {
    return fail((e as Error).message, 1);
  } finally {
    await placement?.release();
  }
}
