// The aha-moment experiment of the GRPO issue, measured: with occasional self-checks in the
// corpus's worked solutions, does the share of right answers whose reasoning verifies itself
// rise during RL? The base is pretrained on the default corpus except that 30% of its worked
// solutions state the sum they got, re-check every column from the operands ("Wait, let me
// check: …") and confirm or correct it — 30% of those had slipped in one column
// (src/tasks/arithmetic-corpus.ts, checkStyle 'redo') — with 384 positions (AHA_BASE).
// `r1ts zero` then runs GRPO on it with the task's reward only (nothing rewards checking), a
// generation budget that fits a check (160 tokens), and held-out evaluations every 5 steps
// (200 problems, T = 1), each logging `eval/reflective_correct`: of the right answers, the
// share with a reflection word.
// Prints the curve and writes it as an SVG chart; with --json, one JSON line:
//   {"acc_before","acc_after","reflective_correct_before","reflective_correct_after",
//    "reflective_correct_max","rl_minutes","steps","curve":[[rl_minutes, accuracy, reflective_correct], …]}
// Usage: npx tsx bench/aha.ts [--json] [--base DIR] [--svg FILE] [--minutes 20] [any r1ts zero flag]
//   Without --base the base is built first into runs/aha-base (about 15 minutes on 2 cores;
//   reused when it is already there).
// Not here: the loop and the metric (src/train/zero.ts), the corpus (src/tasks/arithmetic-corpus.ts).

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { zeroCommand } from '../src/cli/zero.ts';
import { readJsonl } from '../src/core/jsonl.ts';
import { buildZeroBase } from '../src/train/zero-base.ts';
import { lineChartSvg } from './svg-chart.ts';

/** The corpus of the aha base: the default one, with 'redo' self-checks in 30% of worked solutions. */
const AHA_CORPUS = { selfCheck: 0.3, checkStyle: 'redo', checkSlipShare: 0.3 } as const;
/**
 * Its shape: 384 positions, so that a re-check fits after the 183-token R1-Zero prompt (at the
 * shipped base's 256 a completion stops at 73 tokens, before any check: measured), and 800 steps
 * of 32 × 384, the shipped base's ~9.8M tokens.
 */
const AHA_BASE = { seq: 384, steps: 800 } as const;

const args = process.argv.slice(2);
const json = args.includes('--json');
const take = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${flag}: expected a value`);
  args.splice(i, 2);
  return v;
};
const svgPath = take('--svg');
let base = take('--base');
const rest = args.filter((a) => a !== '--json');

if (base === undefined) {
  const dir = resolve('runs', 'aha-base');
  base = join(dir, 'model');
  if (!existsSync(join(base, 'config.json'))) {
    console.error(`bench:aha: building the aha base into ${dir} (corpus ${JSON.stringify(AHA_CORPUS)}) ...`);
    base = await buildZeroBase({ outDir: dir, ...AHA_BASE, corpus: { ...AHA_CORPUS }, progress: process.stderr.isTTY, resume: existsSync(dir), log: (l) => console.error(l) });
  }
}
if (!rest.includes('--minutes')) rest.push('--minutes', '20');
if (!rest.includes('--max-tokens')) rest.push('--max-tokens', '160');
if (!rest.includes('--out')) rest.push('--out', mkdtempSync(join(tmpdir(), 'r1ts-bench-aha-')));
if (!rest.includes('--no-progress') && !process.stderr.isTTY) rest.push('--no-progress');
const out = rest[rest.indexOf('--out') + 1];
const code = await zeroCommand(['--base', base, ...rest]);
if (code !== 0) process.exit(code);

const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
const rows = readJsonl(join(out, 'metrics.jsonl')) as Array<Record<string, number>>;
const curve: Array<[number, number, number]> = rows
  .filter((r) => typeof r['eval/reflective_correct'] === 'number' && r.final !== 1)
  .map((r) => [r.rl_minutes, r['eval/accuracy'], r['eval/reflective_correct']]);
console.log('\nRL minutes   held-out accuracy   right answers that check themselves');
for (const [m, acc, refl] of curve) console.log(`${m.toFixed(2).padStart(10)}   ${(100 * acc).toFixed(1).padStart(16)}%   ${(100 * refl).toFixed(1).padStart(34)}%`);
const svg = lineChartSvg({
  title: `Aha: right answers that check themselves during GRPO (${s.task}, held-out, T = 1)`,
  xLabel: 'RL minutes (2-core CPU)', yLabel: 'share', yMin: 0, yMax: 1,
  series: [
    { name: 'right answers whose reasoning checks itself', points: curve.map(([m, , r]) => [m, r]) },
    { name: 'held-out accuracy', points: curve.map(([m, a]) => [m, a]) },
  ],
});
const svgOut = svgPath ?? join(out, 'aha.svg');
writeFileSync(svgOut, svg);
console.log(`chart: ${svgOut}`);
if (json) {
  console.log(JSON.stringify({
    acc_before: s.acc_before, acc_after: s.acc_after,
    reflective_correct_before: s.reflective_correct_before, reflective_correct_after: s.reflective_correct_after,
    reflective_correct_max: Math.max(...curve.map((c) => c[2])), rl_minutes: s.rl_minutes, steps: s.steps, curve,
  }));
}
