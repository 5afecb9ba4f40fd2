// "Beyond selection" of the GRPO issue, measured: a task harder than anything in the shipped
// base's corpus, on which the base's own reasoning is only sometimes right, so that RL has to make
// the reasoning right, not only choose it. The task is multiplying a 3-digit number by one digit
// ('mul', src/tasks/arithmetic.ts); the base M is the shipped assets/zero-base (addition only)
// continued for 400 steps on the addition corpus in which half of the questions are products
// (src/train/zero-base.ts MUL_CONTINUE, ~6 minutes on 2 cores), its context stretched to 384
// positions so that a worked product fits after the R1-Zero prompt.
//   1. the base under the R1-Zero prompt: pass@1, pass@8 and cons@8 on 200 held-out products × 8
//      samples (T = 1, 128 tokens), written to RUN/base-eval.json;
//   2. `r1ts zero --task mul` on it: 20 RL minutes, budget 128 tokens, GRPO defaults, evaluations
//      every 5 steps on 200 held-out products and 500 before/after (T = 1);
//   3. every held-out completion before and after RL, read: the share that works the row
//      procedure ("7*6=42, write 2 carry 4. 4*6=24, 24+4=28, …") and how often that work is right;
//      the times-table facts it writes, right or not; the operand's digits it copies, right or not.
// Targets: held-out accuracy ≥ 2× the base's and ≥ 70% within 20 minutes; the base's pass@8 beside.
// With --json, one JSON line:
//   {"task","acc_before","acc_after","minutes_to_70","base_pass_at_1","base_pass_at_8","base_cons_at_8",
//    "after_pass_at_1_same_items" (the trained policy on the items of the base's pass@8),
//    "solved_after_never_by_base" (of those items, how many it gets right that no base sample did),
//    "rows_before","rows_after","rows_right_before","rows_right_after","facts_right_before",
//    "facts_right_after","copies_right_before","copies_right_after","len_before","len_after","steps","rl_minutes"}
// Usage: npx tsx bench/beyond.ts [--json] [--base DIR] [--minutes 20] [any r1ts zero flag]
//        npx tsx bench/beyond.ts [--json] --report RUN_DIR   (the same report on a finished run)
//   Without --base the base is built first into runs/mul-base, and reused when it is there.
// Not here: the task and its corpus (src/tasks), the loop (src/train/zero.ts). Run it on a quiet machine.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalCommand } from '../src/cli/eval.ts';
import { zeroCommand } from '../src/cli/zero.ts';
import { readJsonl } from '../src/core/jsonl.ts';
import { continueZeroBase, MUL_CONTINUE } from '../src/train/zero-base.ts';
import { takeFlag } from './take-flag.ts';

const BUDGET = '128';
const args = process.argv.slice(2);
const json = args.includes('--json');
const take = (flag: string): string | undefined => takeFlag(args, flag);
const report = take('--report');
const out = report !== undefined ? resolve(report) : await runExperiment();

/** Builds the base when none is given, measures its pass@8, runs `r1ts zero` on it; returns the run's directory. */
async function runExperiment(): Promise<string> {
  let base = take('--base');
  if (base === undefined) {
    const dir = resolve('runs', 'mul-base');
    base = join(dir, 'model');
    if (!existsSync(join(base, 'config.json'))) {
      const from = fileURLToPath(new URL('../assets/zero-base', import.meta.url));
      console.error(`bench:beyond: continuing ${from} on the corpus with products into ${dir} (${JSON.stringify(MUL_CONTINUE)}) ...`);
      base = await continueZeroBase({ from, outDir: dir, ...MUL_CONTINUE, progress: process.stderr.isTTY, resume: existsSync(dir), log: (l) => console.error(l) });
    }
  }
  const rest = ['--task', 'mul', ...args.filter((a) => a !== '--json')];
  if (!rest.includes('--minutes')) rest.push('--minutes', '20');
  if (!rest.includes('--max-tokens')) rest.push('--max-tokens', BUDGET);
  if (!rest.includes('--out')) rest.push('--out', mkdtempSync(join(tmpdir(), 'r1ts-bench-beyond-')));
  if (!rest.includes('--no-progress') && !process.stderr.isTTY) rest.push('--no-progress');
  const run = rest[rest.indexOf('--out') + 1];
  const evalArgs = ['--task', 'mul', '--model', base, '--k', '8', '--temperature', '1', '--top-p', '1', '--max-tokens', BUDGET, '--limit', '200', '--out', join(run, 'base-eval.json')];
  console.error(`bench:beyond: r1ts eval ${evalArgs.join(' ')}`);
  let code = await evalCommand(evalArgs);
  if (code !== 0) process.exit(code);
  code = await zeroCommand(['--base', base, ...rest]);
  if (code !== 0) process.exit(code);
  return run;
}

interface Item {
  id: string;
  completions: string[];
  correct: boolean[];
}

/** What the completions of held-out products do: row work and how right it is (see the header). */
function readRows(items: readonly Item[]) {
  let samples = 0, right = 0, rows = 0, rowsRight = 0, facts = 0, factsRight = 0, copies = 0, copiesRight = 0, chars = 0;
  for (const it of items) {
    const [a, d] = it.id.split('*').map(Number);
    const digits = String(a).split('').reverse().map(Number);
    it.completions.forEach((c, k) => {
      samples++;
      chars += c.length;
      if (it.correct[k]) right++;
      const written = [...c.matchAll(/(\d)\*(\d)=(\d+)/g)];
      if (written.length === 0) return;
      rows++;
      if (it.correct[k]) rowsRight++;
      written.forEach(([, x, y, p], i) => {
        facts++;
        if (Number(x) * Number(y) === Number(p)) factsRight++;
        if (i < digits.length) {
          copies++;
          if (Number(x) === digits[i] && Number(y) === d) copiesRight++;
        }
      });
    });
  }
  return { accuracy: right / samples, rows: rows / samples, rowsRight: rowsRight / rows, factsRight: factsRight / facts, copiesRight: copiesRight / copies, length: chars / samples, samples };
}

const resultsOf = (file: string): Item[] => (JSON.parse(readFileSync(file, 'utf8')) as { results: Item[] }).results;
const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
if (s.task !== 'mul') throw new Error(`${out}: a '${s.task}' run; bench:beyond reads 'mul' runs`);
const before = readRows(resultsOf(join(out, 'eval-before.json')));
const afterResults = resultsOf(join(out, 'eval-after.json'));
const after = readRows(afterResults);
const baseEvalPath = join(out, 'base-eval.json');
const baseEval = existsSync(baseEvalPath) ? (JSON.parse(readFileSync(baseEvalPath, 'utf8')) as { metrics: { items: number; k: number; pass_at_1: number; pass_at_k: number; cons_at_k: number } }).metrics : null;
// the trained policy on the items of the base's pass@8 (its per-item results beside the report)
const afterById = new Map(afterResults.map((it) => [it.id, it]));
const baseItems = existsSync(`${baseEvalPath}.results.jsonl`) ? readJsonl<Item>(`${baseEvalPath}.results.jsonl`).filter((it) => afterById.has(it.id)) : [];
const sameItems = baseItems.length === 0 ? null : {
  items: baseItems.length,
  afterPass1: baseItems.reduce((t, it) => t + (afterById.get(it.id)!.correct.filter(Boolean).length / afterById.get(it.id)!.correct.length), 0) / baseItems.length,
  solvedAfter: baseItems.filter((it) => afterById.get(it.id)!.correct.some(Boolean)).length,
  neverByBase: baseItems.filter((it) => afterById.get(it.id)!.correct.some(Boolean) && !it.correct.some(Boolean)).length,
};
const rows = readJsonl(join(out, 'metrics.jsonl')) as Array<Record<string, number>>;
const curve = rows.filter((r) => typeof r['eval/accuracy'] === 'number' && r.final !== 1).map((r) => [r.rl_minutes, r['eval/accuracy']] as const);
const minutesTo70 = curve.find(([, a]) => a >= 0.7)?.[0] ?? null;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
if (baseEval) console.log(`\nbase, ${baseEval.items} held-out products × ${baseEval.k} (T = 1): pass@1 ${pct(baseEval.pass_at_1)}, pass@${baseEval.k} ${pct(baseEval.pass_at_k)}, cons@${baseEval.k} ${pct(baseEval.cons_at_k)}`);
else console.log(`\n(no ${baseEvalPath}: the base's pass@8 is not in this run)`);
if (sameItems) {
  console.log(`after RL, on the same ${sameItems.items} items: pass@1 ${pct(sameItems.afterPass1)}; of the ${sameItems.solvedAfter} items it gets right, ${sameItems.neverByBase} were right in none of the base's samples`);
}
console.log('\nRL minutes   held-out accuracy (the first evaluation of each RL minute, and the last)');
curve.forEach(([m, a], i) => {
  if (i === 0 || i === curve.length - 1 || Math.floor(m) > Math.floor(curve[i - 1][0])) console.log(`${m.toFixed(2).padStart(10)}   ${pct(a).padStart(16)}`);
});
console.log(`\nheld-out completions (${before.samples} before, ${after.samples} after)   before → after`);
for (const [label, k] of [['accuracy', 'accuracy'], ['work the row procedure', 'rows'], ['… and are right', 'rowsRight'], ['times-table facts written right', 'factsRight'], ['operand digits copied right', 'copiesRight']] as const) {
  console.log(`${label.padEnd(44)} ${pct(before[k]).padStart(7)} → ${pct(after[k])}`);
}
console.log(`${'mean length'.padEnd(44)} ${before.length.toFixed(0).padStart(7)} → ${after.length.toFixed(0)} chars`);
if (json) {
  console.log(JSON.stringify({
    task: s.task, acc_before: s.acc_before, acc_after: s.acc_after, minutes_to_70: minutesTo70,
    base_pass_at_1: baseEval?.pass_at_1 ?? null, base_pass_at_8: baseEval?.pass_at_k ?? null, base_cons_at_8: baseEval?.cons_at_k ?? null,
    after_pass_at_1_same_items: sameItems?.afterPass1 ?? null, solved_after_never_by_base: sameItems?.neverByBase ?? null,
    rows_before: before.rows, rows_after: after.rows, rows_right_before: before.rowsRight, rows_right_after: after.rowsRight,
    facts_right_before: before.factsRight, facts_right_after: after.factsRight, copies_right_before: before.copiesRight, copies_right_after: after.copiesRight,
    len_before: s.len_before, len_after: s.len_after, steps: s.steps, rl_minutes: s.rl_minutes,
  }));
}
