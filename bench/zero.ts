// The R1-Zero demo's targets, measured: `r1ts zero` on the shipped base for a
// fixed RL wall-clock budget (default 20 minutes), evaluating every few steps on
// 200 held-out problems and before/after on 500, all sampled at T = 1.
// Targets (GRPO issue): accuracy ≤ 30% → ≥ 95% within 5 RL minutes, never below
// 90% afterwards, mean response length at least doubled, final completions in
// the R1 form. Prints the run's summary and, with --json, one JSON line:
//   {"task","acc_before","acc_after","len_before","len_after","minutes_to_95","min_acc_after_95",
//    "format_after","steps","rl_minutes"}
// Usage: npx tsx bench/zero.ts [--json] [--minutes 20] [--task add] [any r1ts zero flag]
// Not here: the experiment (src/train/zero.ts). Run it on a quiet machine.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zeroCommand } from '../src/cli/zero.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const rest = args.filter((a) => a !== '--json');
if (!rest.includes('--minutes')) rest.push('--minutes', '20');
if (!rest.includes('--out')) rest.push('--out', mkdtempSync(join(tmpdir(), 'r1ts-bench-zero-')));
if (!rest.includes('--no-progress') && !process.stderr.isTTY) rest.push('--no-progress');
const out = rest[rest.indexOf('--out') + 1];
const code = await zeroCommand(rest);
if (code !== 0) process.exit(code);
const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
const row = {
  task: s.task, acc_before: s.acc_before, acc_after: s.acc_after, len_before: s.len_before, len_after: s.len_after,
  minutes_to_95: s.minutes_to_95, min_acc_after_95: s.min_acc_after_95, format_after: s.format_after, steps: s.steps, rl_minutes: s.rl_minutes,
};
if (json) console.log(JSON.stringify(row));
