// Does the way a sum is written decide whether a model of r1ts zero's size can learn it? The
// countdown search's steps ("130 + 93 = 223") are right only 7.9% of the time on base K
// (docs/zero.md); this measures the arithmetic alone. Two corpora of the facts that search needs
// (a ± b with a in 1..200, b in 1..100, a >= b for −; six per document, seeded; 5% of the (a, b)
// pairs held out of both), written
//   plain:   "167 + 49 = 216."
//   columns: "167 + 49: 7+9=16, 6+4+1=11, 1+0+1=2, so 216."   (units first, carries and borrows
//            written; "15-8=7" where a column borrows)
// each pretrain the same model (`r1ts pretrain --depth 4`: 1.89M parameters, the zero base's
// 640-token tokenizer, which keeps digits single tokens) for the same steps and tokens
// (--steps, default 2500 × 32 × 128 = 10.2M tokens), then complete held-out facts greedily after
// one example fact; the answer is the number before the first "." (plain) or after "so"
// (columns). Prints both accuracies, by operation; with --json, one JSON line:
//   {"steps","tokens","plain":{"acc","add","sub"},"columns":{"acc","add","sub"},"ratio"}
// Usage: npx tsx bench/arith-format.ts [--json] [--steps N] [--out DIR]   (about 20 minutes on 2 cores)
// The column work is the countdown corpus's own (columnWork in src/tasks/countdown-corpus.ts, whose
// `steps: 'columns'` writes the search this way: base C in docs/zero.md).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pretrainCommand } from '../src/cli/pretrain.ts';
import { Rng } from '../src/core/rng.ts';
import { Engine } from '../src/engine/generate.ts';
import { loadModelDir } from '../src/io/model-dir.ts';
import { columnWork } from '../src/tasks/countdown-corpus.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const take = (flag: string, dflt: string): string => {
  const i = args.indexOf(flag);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const steps = Number(take('--steps', '2500'));
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps ${steps}: expected a positive integer`);
const out = resolve(take('--out', 'runs/arith-format'));
const tokenizer = resolve('assets/zero-base/tokenizer.json');

type Format = 'plain' | 'columns';
const heldOut = (a: number, b: number) => (a * 7 + b * 13) % 20 === 0;

/** One fact in a format: a ± b (a >= b for −). */
function fact(a: number, b: number, op: '+' | '-', format: Format): string {
  const c = op === '+' ? a + b : a - b;
  return format === 'plain' ? `${a} ${op} ${b} = ${c}.` : `${a} ${op} ${b}: ${columnWork(a, op, b)}, so ${c}.`;
}

/** About 3M characters of documents, six facts each, no held-out pair. */
function corpus(format: Format): string {
  const r = new Rng(1);
  const docs: string[] = [];
  let chars = 0;
  while (chars < 3_000_000) {
    const facts: string[] = [];
    while (facts.length < 6) {
      let a = 1 + r.int(200), b = 1 + r.int(100);
      const op = r.uniform() < 0.5 ? '+' : '-';
      if (op === '-' && a < b) [a, b] = [b, a];
      if (!heldOut(a, b)) facts.push(fact(a, b, op, format));
    }
    const d = facts.join(' ');
    docs.push(d);
    chars += d.length;
  }
  return `${docs.join('\n\n')}\n`;
}

/** Greedy completions of 400 held-out facts after one example: exact answers, by operation. */
async function evaluate(dir: string, format: Format): Promise<{ acc: number; add: number; sub: number }> {
  const { model, tokenizer: tok } = loadModelDir(dir);
  const pairs: [number, number, '+' | '-'][] = [];
  for (let a = 1; a <= 200; a++) {
    for (let b = 1; b <= 100; b++) {
      if (!heldOut(a, b)) continue;
      pairs.push([a, b, '+']);
      if (a >= b) pairs.push([a, b, '-']);
    }
  }
  const picked = pairs.filter((_, i) => i % 3 === 0).slice(0, 400);
  const example = fact(12, 5, '+', format);
  const engine = new Engine(model, { maxBatch: 64 });
  const done = await engine.generate(picked.map(([a, b, op]) => ({
    prompt: tok.encode(`${example} ${a} ${op} ${b}${format === 'plain' ? ' =' : ':'}`), maxTokens: 48, sampling: { temperature: 0 },
  })));
  const right = { '+': [0, 0], '-': [0, 0] };
  done.forEach((d, i) => {
    const [a, b, op] = picked[i];
    const text = tok.decode(d.tokens);
    const m = format === 'plain' ? /^\s*(-?\d+)\./.exec(text) : /^[^.]*?so (-?\d+)\./.exec(text);
    right[op][0] += m !== null && Number(m[1]) === (op === '+' ? a + b : a - b) ? 1 : 0;
    right[op][1]++;
  });
  const share = ([k, n]: number[]) => +(k / n).toFixed(4);
  return { acc: share([right['+'][0] + right['-'][0], picked.length]), add: share(right['+']), sub: share(right['-']) };
}

const results: Partial<Record<Format, { acc: number; add: number; sub: number }>> = {};
for (const format of ['plain', 'columns'] as const) {
  const dir = join(out, format);
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'facts.txt');
  writeFileSync(data, corpus(format));
  console.log(`\n${format}: pretraining ${steps} steps on ${data}`);
  const code = await pretrainCommand(['--data', data, '--tokenizer', tokenizer, '--depth', '4', '--seq', '128', '--batch', '32', '--steps', String(steps),
    '--lr', '3e-3', '--eval-every', '500', '--checkpoint-every', String(steps), '--out', join(dir, 'run'), '--no-progress']);
  if (code !== 0) throw new Error(`pretraining the ${format} model failed (exit ${code})`);
  results[format] = await evaluate(join(dir, 'run', 'model'), format);
  const r = results[format]!;
  console.log(`${format}: held-out facts right ${(100 * r.acc).toFixed(1)}% (a + b ${(100 * r.add).toFixed(1)}%, a − b ${(100 * r.sub).toFixed(1)}%)`);
}
const { plain, columns } = results as Record<Format, { acc: number; add: number; sub: number }>;
console.log(`\nsame model, ${steps} steps (${((steps * 32 * 128) / 1e6).toFixed(1)}M tokens): plain ${(100 * plain.acc).toFixed(1)}%, columns ${(100 * columns.acc).toFixed(1)}%`);
if (json) console.log(JSON.stringify({ steps, tokens: steps * 32 * 128, plain, columns, ratio: plain.acc > 0 ? +(columns.acc / plain.acc).toFixed(2) : null }));
