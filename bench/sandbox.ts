// Throughput of the code sandbox: sandboxed submissions per second through a CodeSandbox
// pool in both isolation modes, beside the anchor: bare `node -e 0` processes per second at
// the same concurrency, with the same empty environment (the ceiling for any
// one-process-per-submission design; a scrubbed environment matters, see below). Each
// submission is a correct 'add' with 5 tests.
//   realm (the default): long-lived contained children, a fresh V8 context per submission,
//     the child recycled after a timeout/memory/output-limit hit, a crash, detected
//     tampering or 64 submissions. Gives up, against 'process': a context escape that also
//     evades the tamper checks could reach later submissions of the same child (never
//     outside the OS sandbox, which is the same in both modes); no Node API in submissions.
//   process: one fresh contained process per submission (bounded by the anchor).
// The threat model in full: the top of src/rewards/sandbox/process.ts.
// Usage: npx tsx bench/sandbox.ts [--runs N] [--concurrency C] [--json]
// --json: the last line is one JSON object; code_runs_per_s, cpu_ms_per_run and
// idle_capacity_runs_per_s are the default (realm) mode's, realm_* and process_* each mode's.
// Note: inheriting NODE_EXTRA_CA_CERTS (set on some machines) makes every Node start load
// the CA store, ~doubling start time; the sandbox children get an empty environment.
// Not here: correctness (test/rewards/code.test.ts).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { CodeSandbox, containment, type CodeTest, type Isolation } from '../src/rewards/code.ts';

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

const runs = flag('--runs', 200);
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

interface Rate {
  perS: number;
  allPassed: boolean;
  cpuMsPerRun: number | undefined;
  /** Children that served the runs (realm: recycled ones included). */
  children: number;
}

async function sandboxRate(isolation: Isolation): Promise<Rate> {
  const c0 = cpuSeconds();
  const sb = new CodeSandbox({ isolation, concurrency, warm: concurrency });
  const pids = new Set<number>();
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
      if (r.worker) pids.add(r.worker.pid);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  await sb.close();
  // All CPU of the pool (parent, launcher, children, warm-up and the last warm processes
  // included), per timed run: the machine-independent cost, whatever else runs beside us.
  const c1 = cpuSeconds();
  const cpuMsPerRun = c0 === undefined || c1 === undefined ? undefined : ((c1 - c0) * 1000) / (runs + 2 * concurrency);
  return { perS: runs / s, allPassed, cpuMsPerRun, children: pids.size };
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
const realm = await sandboxRate('realm');
const proc = await sandboxRate('process');
const anchor = await bareNodeRate();
const cores = availableParallelism();
const capacityOf = (r: Rate): number | undefined => (r.cpuMsPerRun === undefined ? undefined : (cores * 1000) / r.cpuMsPerRun);
const fixed = (v: number | undefined): number | null => (v === undefined ? null : Number(v.toFixed(2)));
console.log(`machine: ${cpus()[0]?.model ?? 'unknown cpu'}, ${cores} cores, node ${process.version}`);
console.log(`containment: network=${c.network} rlimits=${c.rlimits} dropsRoot=${c.dropsRoot} permissionModel=${c.permissionModel}`);
console.log(`runs: ${runs} per mode, concurrency: ${concurrency}, tests per submission: ${tests.length}`);
console.log('');
console.log('what                                        per second   CPU ms/run   runs/s on idle cores');
const row = (what: string, perS: number, cpuMs: number | undefined, note = ''): void => {
  const cap = cpuMs === undefined ? undefined : (cores * 1000) / cpuMs;
  console.log(`${what.padEnd(42)}${perS.toFixed(1).padStart(12)}${(cpuMs?.toFixed(1) ?? '-').padStart(13)}${(cap?.toFixed(1) ?? '-').padStart(23)}${note}`);
};
const bad = (r: Rate): string => (r.allPassed ? '' : '  (SOME RUNS DID NOT PASS)');
row(`realm mode, default (${realm.children} children)`, realm.perS, realm.cpuMsPerRun, bad(realm));
row('process mode (a fresh process per run)', proc.perS, proc.cpuMsPerRun, bad(proc));
row("anchor: bare 'node -e 0' processes", anchor.perS, anchor.cpuMsPerRun);
console.log(`ratio realm / anchor                      ${(realm.perS / anchor.perS).toFixed(2).padStart(12)}`);
console.log(`ratio process / anchor                    ${(proc.perS / anchor.perS).toFixed(2).padStart(12)}`);
console.log('(CPU ms/run: all CPU of the pool, parent, launcher and children included, per timed run;');
console.log(' runs/s on idle cores: what these cores would give at that cost if nothing else ran.)');
console.log(`load average at start: ${busy.toFixed(2)} (other work on the machine lowers the measured rates)`);
if (json) {
  console.log(
    JSON.stringify({
      code_runs_per_s: Number(realm.perS.toFixed(2)),
      bare_node_per_s: Number(anchor.perS.toFixed(2)),
      bare_node_cpu_ms: fixed(anchor.cpuMsPerRun),
      cpu_ms_per_run: fixed(realm.cpuMsPerRun),
      idle_capacity_runs_per_s: fixed(capacityOf(realm)),
      load_average: Number(busy.toFixed(2)),
      concurrency,
      runs,
      all_passed: realm.allPassed && proc.allPassed,
      default_isolation: 'realm',
      realm_runs_per_s: Number(realm.perS.toFixed(2)),
      realm_cpu_ms_per_run: fixed(realm.cpuMsPerRun),
      realm_idle_capacity_runs_per_s: fixed(capacityOf(realm)),
      realm_children: realm.children,
      process_runs_per_s: Number(proc.perS.toFixed(2)),
      process_cpu_ms_per_run: fixed(proc.cpuMsPerRun),
      process_idle_capacity_runs_per_s: fixed(capacityOf(proc)),
    }),
  );
}
