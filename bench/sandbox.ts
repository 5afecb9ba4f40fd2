// Throughput of the code sandbox: sandboxed submissions per second through a CodeSandbox
// pool (one fresh contained process per submission), beside the anchor: bare `node -e 0`
// processes per second at the same concurrency, with the same empty environment (the
// ceiling for any one-process-per-submission design; a scrubbed environment matters, see
// below). Each submission is a correct 'add' with 5 tests.
// Usage: npx tsx bench/sandbox.ts [--runs N] [--concurrency C] [--json]
// Note: inheriting NODE_EXTRA_CA_CERTS (set on some machines) makes every Node start load
// the CA store, ~doubling start time; the sandbox children get an empty environment.
// Not here: correctness (test/rewards/code.test.ts).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { CodeSandbox, containment, type CodeTest } from '../src/rewards/code.ts';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`${name} ${process.argv[i + 1]}: expected an integer >= 1`);
    process.exit(2);
  }
  return v;
}

const runs = flag('--runs', 120);
const concurrency = flag('--concurrency', availableParallelism());
const json = process.argv.includes('--json');

const tests: CodeTest[] = [
  { args: [1, 2], expected: 3 },
  { args: [-5, 5], expected: 0 },
  { args: [10, 20], expected: 30 },
  { args: [0, 0], expected: 0 },
  { args: [1e6, 1], expected: 1000001 },
];
const source = 'function add(a, b) {\n  return a + b;\n}\n';

/** CPU seconds of this process plus its waited-for descendants (Linux /proc; undefined elsewhere). */
function cpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14-17 (utime stime cutime cstime) are at 11..14 after the ')'
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

async function sandboxRate(): Promise<{ perS: number; allPassed: boolean; cpuMsPerRun: number | undefined }> {
  const c0 = cpuSeconds();
  const sb = new CodeSandbox({ concurrency, warm: concurrency });
  // Warm-up: let the first processes start (not timed).
  await Promise.all(Array.from({ length: concurrency }, () => sb.run(source, tests)));
  let allPassed = true;
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runs) {
      next++;
      const r = await sb.run(source, tests);
      if (r.verdict !== 'pass') allPassed = false;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  await sb.close();
  // All CPU of the pool (parent, launcher, children, warm-up and the last warm processes
  // included), per timed run: the machine-independent cost, whatever else runs beside us.
  const c1 = cpuSeconds();
  const cpuMsPerRun = c0 === undefined || c1 === undefined ? undefined : ((c1 - c0) * 1000) / (runs + 2 * concurrency);
  return { perS: runs / s, allPassed, cpuMsPerRun };
}

async function bareNodeRate(): Promise<{ perS: number; cpuMsPerRun: number | undefined }> {
  const c0 = cpuSeconds();
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore', env: {} });
      c.on('exit', () => resolve());
      c.on('error', () => resolve());
    });
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runs) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency + 1 }, worker)); // +1: spawn overlaps exit
  const perS = runs / ((performance.now() - t0) / 1000);
  const c1 = cpuSeconds();
  return { perS, cpuMsPerRun: c0 === undefined || c1 === undefined ? undefined : ((c1 - c0) * 1000) / runs };
}

const c = containment();
const busy = loadavg()[0];
const sandbox = await sandboxRate();
const anchor = await bareNodeRate();
console.log(`machine: ${cpus()[0]?.model ?? 'unknown cpu'}, ${availableParallelism()} cores, node ${process.version}`);
console.log(`containment: network=${c.network} rlimits=${c.rlimits} dropsRoot=${c.dropsRoot} permissionModel=${c.permissionModel}`);
console.log(`runs: ${runs}, concurrency: ${concurrency}, tests per submission: ${tests.length}`);
console.log('');
console.log('what                                   per second');
console.log(`sandboxed code runs (CodeSandbox)      ${sandbox.perS.toFixed(1).padStart(10)}${sandbox.allPassed ? '' : '  (SOME RUNS DID NOT PASS)'}`);
console.log(`anchor: bare 'node -e 0' processes     ${anchor.perS.toFixed(1).padStart(10)}`);
console.log(`ratio sandbox / anchor                 ${(sandbox.perS / anchor.perS).toFixed(2).padStart(10)}`);
if (anchor.cpuMsPerRun !== undefined) console.log(`CPU per bare 'node -e 0' (anchor)      ${anchor.cpuMsPerRun.toFixed(1).padStart(10)} ms`);
const capacity = sandbox.cpuMsPerRun === undefined ? undefined : (availableParallelism() * 1000) / sandbox.cpuMsPerRun;
if (sandbox.cpuMsPerRun !== undefined) {
  console.log(`CPU per sandboxed run (all processes)  ${sandbox.cpuMsPerRun.toFixed(1).padStart(10)} ms`);
  console.log(`=> runs/s if these ${availableParallelism()} cores were idle ${capacity!.toFixed(1).padStart(7)}`);
}
console.log(`load average at start: ${busy.toFixed(2)} (other work on the machine lowers the measured rates)`);
if (json) {
  console.log(
    JSON.stringify({
      code_runs_per_s: Number(sandbox.perS.toFixed(2)),
      bare_node_per_s: Number(anchor.perS.toFixed(2)),
      bare_node_cpu_ms: anchor.cpuMsPerRun === undefined ? null : Number(anchor.cpuMsPerRun.toFixed(2)),
      cpu_ms_per_run: sandbox.cpuMsPerRun === undefined ? null : Number(sandbox.cpuMsPerRun.toFixed(2)),
      idle_capacity_runs_per_s: capacity === undefined ? null : Number(capacity.toFixed(2)),
      load_average: Number(busy.toFixed(2)),
      concurrency,
      runs,
      all_passed: sandbox.allPassed,
    }),
  );
}
