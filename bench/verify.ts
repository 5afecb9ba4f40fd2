// Throughput of the math verifier (verifications per second, one thread) on
// two workloads: the answer-equivalence dev set (141 Math-Verify cases, many
// with long completions) and MATH-500 reference answers against the last
// \boxed{} of their own solutions. Target: >= 2,000/s on a 2-core laptop.
// Usage: npx tsx bench/verify.ts [--json] [--seconds S]
// Not here: accuracy (test/rewards/math.test.ts checks it).

import { join } from 'node:path';
import { lastBoxed, readJsonl, requireSharedData } from '../test/data.ts';

import { verify, type MathVerifyOptions } from '../src/rewards/math.ts';

const data = requireSharedData();
const args = process.argv.slice(2);
const json = args.includes('--json');
const si = args.indexOf('--seconds');
const seconds = si >= 0 ? Number(args[si + 1]) : 2;

type Pair = { gold: string; pred: string; options?: MathVerifyOptions };


const dev: Pair[] = readJsonl(join(data, 'verifier', 'math-equivalence-dev.jsonl')).map((r) => ({
  gold: r.gold as string,
  pred: r.pred as string,
  options: (r.options ?? {}) as MathVerifyOptions,
}));
const math500: Pair[] = readJsonl(join(data, 'math500', 'test.jsonl')).map((r) => ({
  gold: r.answer as string,
  pred: `\\boxed{${lastBoxed(r.solution as string)}}`,
}));

function run(pairs: Pair[]): { perSecond: number; perCpuSecond: number; calls: number; trueRate: number } {
  for (const p of pairs) verify(p.gold, p.pred, p.options); // warm-up
  let calls = 0;
  let trues = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - t0 < budget) {
    for (const p of pairs) {
      if (verify(p.gold, p.pred, p.options)) trues++;
      calls++;
    }
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpuS = (c.user + c.system) / 1e6;
  return { perSecond: calls / s, perCpuSecond: calls / cpuS, calls, trueRate: trues / calls };
}

const a = run(dev);
const b = run(math500);
const overall = (a.calls + b.calls) / (a.calls / a.perSecond + b.calls / b.perSecond);
const overallCpu = (a.calls + b.calls) / (a.calls / a.perCpuSecond + b.calls / b.perCpuSecond);
console.log('workload                         pairs   verifications/s   per CPU-second   true rate');
const row = (name: string, n: string, r: { perSecond: number; perCpuSecond: number }, extra: string): string =>
  `${name.padEnd(32)} ${n.padStart(5)}   ${r.perSecond.toFixed(0).padStart(15)}   ${r.perCpuSecond.toFixed(0).padStart(14)}   ${extra}`;
console.log(row('dev set (Math-Verify cases)', String(dev.length), a, a.trueRate.toFixed(3)));
console.log(row('MATH-500 gold vs own \\boxed{}', String(math500.length), b, b.trueRate.toFixed(3)));
console.log(row('overall', '', { perSecond: overall, perCpuSecond: overallCpu }, ''));
console.log(`(target >= 2000/s; Node ${process.version}, 1 thread; wall-clock rates drop when other processes share the cores)`);
if (json) {
  console.log(JSON.stringify({
    math_verifications_per_s: Math.round(overall),
    math_verifications_per_cpu_s: Math.round(overallCpu),
    dev_per_s: Math.round(a.perSecond),
    math500_per_s: Math.round(b.perSecond),
  }));
}
