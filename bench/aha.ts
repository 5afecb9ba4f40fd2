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
// With --task countdown the base is the countdown aha base A′ instead (train/zero-base.ts
// COUNTDOWN_AHA_CONTINUE): the shipped assets/countdown-base continued on a corpus whose worked
// answers are guesses at the equation, 30% of them checked ("Wait, let me check: …", then
// "Try again." and a search when the guess was wrong), 250 steps (~10 minutes); the budget
// is what the base's 512 positions leave after the longest prompt, and evaluations are every 10
// steps on 128 of the 256 cd3 items (a countdown evaluation costs ~3× an addition one). A word
// count cannot tell a check from a ritual, so for countdown the report also reads the logged
// rollouts' checks (samples.jsonl), per 10 steps: the verdicts that are the comparison they
// write, and the checks that compute the guess they check.
// Prints the curve and writes it as an SVG chart; with --json, one JSON line:
//   {"acc_before","acc_after","reflective_correct_before","reflective_correct_after",
//    "reflective_correct_max","rl_minutes","steps","curve":[[rl_minutes, accuracy, reflective_correct], …],
//    "checks" (countdown):[[rl_minutes, honest verdicts, checks that compute their guess, verdicts, checks], …]}
// Usage: npx tsx bench/aha.ts [--json] [--task countdown] [--base DIR] [--svg FILE] [--minutes 20] [any r1ts zero flag]
//        npx tsx bench/aha.ts [--json] [--svg FILE] --report RUN_DIR   (the same report on a finished run)
//   Without --base the base is built first into runs/aha-base (about 15 minutes on 2 cores;
//   runs/aha-countdown-base for countdown), and reused when it is already there.
// Not here: the loop and the metric (src/train/zero.ts), the corpus (src/tasks/arithmetic-corpus.ts).

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zeroCommand } from '../src/cli/zero.ts';
import { readJsonl } from '../src/core/jsonl.ts';
import { buildZeroBase, continueZeroBase, COUNTDOWN_AHA_CONTINUE } from '../src/train/zero-base.ts';
import { lineChartSvg } from './svg-chart.ts';
import { takeFlag } from './take-flag.ts';

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
const take = (flag: string): string | undefined => takeFlag(args, flag);
const svgPath = take('--svg');
const report = take('--report');
const out = report !== undefined ? resolve(report) : await runExperiment();

/** Builds the base when none is given, runs `r1ts zero` on it, and returns the run's directory. */
async function runExperiment(): Promise<string> {
  let base = take('--base');
  const task = take('--task') ?? 'add';
  if (task !== 'add' && task !== 'countdown') throw new Error(`--task ${task}: expected add or countdown (the two aha bases)`);
  const countdown = task === 'countdown';
  const rest = ['--task', task, ...args.filter((a) => a !== '--json')];
  if (base === undefined) {
    const dir = resolve('runs', countdown ? 'aha-countdown-base' : 'aha-base');
    base = join(dir, 'model');
    if (!existsSync(join(base, 'config.json'))) {
      const common = { outDir: dir, progress: process.stderr.isTTY, resume: existsSync(dir), log: (l: string) => console.error(l) };
      if (countdown) {
        const from = fileURLToPath(new URL('../assets/countdown-base', import.meta.url));
        console.error(`bench:aha: continuing ${from} on the countdown aha corpus into ${dir} (${JSON.stringify(COUNTDOWN_AHA_CONTINUE)}) ...`);
        base = await continueZeroBase({ ...common, from, ...COUNTDOWN_AHA_CONTINUE });
      } else {
        console.error(`bench:aha: building the aha base into ${dir} (corpus ${JSON.stringify(AHA_CORPUS)}) ...`);
        base = await buildZeroBase({ ...common, ...AHA_BASE, corpus: { ...AHA_CORPUS } });
      }
    }
  }
  if (!rest.includes('--minutes')) rest.push('--minutes', '20');
  // countdown: r1ts zero's own budget (what the context leaves after the longest prompt)
  if (!rest.includes('--max-tokens') && !countdown) rest.push('--max-tokens', '160');
  if (countdown && !rest.includes('--eval-every')) rest.push('--eval-every', '10');
  if (countdown && !rest.includes('--eval-items')) rest.push('--eval-items', '128');
  if (!rest.includes('--out')) rest.push('--out', mkdtempSync(join(tmpdir(), 'r1ts-bench-aha-')));
  if (!rest.includes('--no-progress') && !process.stderr.isTTY) rest.push('--no-progress');
  const code = await zeroCommand(['--base', base, ...rest]);
  if (code !== 0) process.exit(code);
  return rest[rest.indexOf('--out') + 1];
}

const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
const countdown = s.task === 'countdown';
const rows = readJsonl(join(out, 'metrics.jsonl')) as Array<Record<string, number>>;
const curve: Array<[number, number, number]> = rows
  .filter((r) => typeof r['eval/reflective_correct'] === 'number' && r.final !== 1)
  .map((r) => [r.rl_minutes, r['eval/accuracy'], r['eval/reflective_correct']]);
console.log('\nRL minutes   held-out accuracy   right answers that check themselves');
for (const [m, acc, refl] of curve) console.log(`${m.toFixed(2).padStart(10)}   ${(100 * acc).toFixed(1).padStart(16)}%   ${(100 * refl).toFixed(1).padStart(34)}%`);
// countdown: whether the checks in the rollouts are checks at all, per 10 steps (samples.jsonl)
const checks = countdown ? checkCurve(readJsonl(join(out, 'samples.jsonl')) as CountdownSample[], rows) : [];
if (countdown) {
  console.log('\nsteps      RL minutes   verdicts that are the comparison they write   checks that compute their guess   (n)');
  for (const c of checks) console.log(`${c.steps.padEnd(10)} ${c.minutes.toFixed(2).padStart(10)}   ${pctOf(c.honest, c.verdicts).padStart(43)}   ${pctOf(c.computed, c.checks).padStart(31)}   (${c.verdicts}, ${c.checks})`);
}
const svg = lineChartSvg({
  title: `Aha: right answers that check themselves during GRPO (${s.task}, held-out, T = 1)`,
  xLabel: 'RL minutes (2-core CPU)', yLabel: 'share', yMin: 0, yMax: 1,
  series: [
    { name: 'right answers whose reasoning checks itself', points: curve.map(([m, , r]) => [m, r]) },
    { name: 'held-out accuracy', points: curve.map(([m, a]) => [m, a]) },
    ...(countdown ? [
      { name: 'rollout verdicts that are the comparison they write', points: checks.map((c): [number, number] => [c.minutes, c.verdicts ? c.honest / c.verdicts : NaN]) },
      { name: 'rollout checks that compute their guess', points: checks.map((c): [number, number] => [c.minutes, c.checks ? c.computed / c.checks : NaN]) },
    ] : []),
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
    ...(countdown ? { checks: checks.map((c) => [c.minutes, c.verdicts ? c.honest / c.verdicts : null, c.checks ? c.computed / c.checks : null, c.verdicts, c.checks]) } : {}),
  }));
}

interface CountdownSample {
  step: number;
  prompt: string;
  completion: string;
}

function pctOf(a: number, b: number): string {
  return b ? `${((100 * a) / b).toFixed(1)}%` : '-';
}

/** The value of a + − expression with parentheses (a guess such as "93 - (100 - 30)"), or NaN. */
function plusMinusValue(e: string): number {
  const toks = e.match(/\d+|[-+()]/g) ?? [];
  if (toks.join('') !== e.replace(/\s+/g, '')) return NaN;
  let i = 0;
  const term = (): number => {
    const t = toks[i++];
    if (t === '(') {
      const v = sum();
      return toks[i++] === ')' ? v : NaN;
    }
    return t !== undefined && /^\d+$/.test(t) ? Number(t) : NaN;
  };
  const sum = (): number => {
    let v = term();
    while (toks[i] === '+' || toks[i] === '-') v = toks[i++] === '+' ? v + term() : v - term();
    return v;
  };
  const v = sum();
  return i === toks.length ? v : NaN;
}

/**
 * How the countdown checks in the logged rollouts read, per 10 steps. A verdict "so V vs T: yes|no"
 * is honest when T is the question's target and it says yes exactly when V = T; the check of a
 * guess ("Maybe E. Wait, let me check: … so V vs T") computed it when V is E's value. The share of
 * right answers with a reflection word can rise while the checks go hollow: these say which.
 */
function checkCurve(samples: CountdownSample[], metrics: Array<Record<string, number>>): Array<{ steps: string; minutes: number; verdicts: number; honest: number; checks: number; computed: number }> {
  const minutesAt = new Map(metrics.filter((r) => typeof r.step === 'number').map((r) => [r.step, r.rl_minutes]));
  const out: Array<{ steps: string; minutes: number; verdicts: number; honest: number; checks: number; computed: number }> = [];
  const last = Math.max(0, ...samples.map((x) => x.step));
  for (let a = 1; a <= last; a += 10) {
    const c = { steps: `${a}-${a + 9}`, minutes: minutesAt.get(Math.min(a + 5, last)) ?? NaN, verdicts: 0, honest: 0, checks: 0, computed: 0 };
    for (const x of samples.filter((y) => y.step >= a && y.step < a + 10)) {
      const target = /equals (\d+)/.exec(x.prompt)?.[1];
      for (const v of x.completion.matchAll(/so (\d+) vs (\d+): (yes|no)/g)) {
        c.verdicts++;
        if (v[2] === target && (v[3] === 'yes') === (v[1] === v[2])) c.honest++;
      }
      const g = /(?:Maybe|I guess|Perhaps|Say) ([\d ()+-]+)\. Wait, let me check: .*?so (\d+) vs \d+: (?:yes|no)/.exec(x.completion);
      if (g) {
        c.checks++;
        if (plusMinusValue(g[1]) === Number(g[2])) c.computed++;
      }
    }
    out.push(c);
  }
  return out;
}
