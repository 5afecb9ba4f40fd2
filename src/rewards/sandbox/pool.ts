// The sandbox pool: runs submissions in sandbox child processes (process.ts), `concurrency`
// at a time. Two isolation modes (threat model and trade-off: the top of process.ts):
//   'realm' (default): `warm` long-lived children, each running many submissions, every
//     one in a fresh V8 context; a child is recycled after a timeout, memory error, output
//     limit, crash, detected tampering, leftover async work, or `recycleAfter` submissions.
//     A submission costs a fresh context (a few ms), not a Node start (~90 ms of CPU): the mode
//     that reaches the throughput the verifiers need on 2 cores (bench/sandbox.ts).
//   'process': a fresh process per submission, never reused, `warm` of them pre-started so
//     a submission does not wait for Node to boot. The stronger separation: nothing a
//     submission does can outlive it; the submission also gets the Node API.
// Both modes have the same OS-level containment (permission model, network namespace, uid
// drop, rlimits). Children are spawned by a launcher process (launcher.ts) so that the
// cost of fork() does not grow with this process's memory (a training process holds a
// model); if the launcher cannot start, the pool spawns the children itself.
// The containment of each child is described at the top of process.ts.
// Never hangs, never rejects for anything a program does: a lost launcher or a run that
// outlives its limits by far turns into 'error' verdicts.
// Not here: comparing values and scoring (code.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ChildSet, detect, validateLimits, type Isolation, type Job, type RawRun, type SandboxLimits } from './process.ts';

export { containment, defaultSandboxLimits, runOnce, validateLimits } from './process.ts';
export type { Containment, Isolation, Job, RawOutcome, RawRun, SandboxLimits, Verdict } from './process.ts';

export interface SandboxPoolOptions {
  readonly limits?: Partial<SandboxLimits>;
  /** Submissions running at once (default: available cores). */
  readonly concurrency?: number;
  /** Process mode: fresh processes kept started and idle; realm mode: children kept alive (default: concurrency). 0: start each on demand. */
  readonly warm?: number;
  /** Spawn through a launcher process (default true). */
  readonly launcher?: boolean;
  /** 'realm' (default): reused children, a fresh V8 context per submission; 'process': a fresh process per submission. */
  readonly isolation?: Isolation;
  /** Realm mode: submissions a child runs before it is replaced (default 64). */
  readonly recycleAfter?: number;
  /** Tests only: puts the runner's `process` into every realm context, to simulate a context escape. Never set it otherwise. */
  readonly exposeHostForTests?: boolean;
}

function failed(job: Job, message: string): RawRun {
  return { outcomes: job.inputs.map(() => ({ kind: 'error' as const, verdict: 'error' as const, message, ran: false })), stdout: '', stderr: '', ms: 0 };
}

/**
 * A pool of sandbox processes (see the top of this file for the two modes). Call close()
 * when done (the launcher and idle processes keep the event loop alive).
 */
export class SandboxPool {
  readonly limits: SandboxLimits;
  readonly concurrency: number;
  readonly warm: number;
  readonly isolation: Isolation;
  readonly recycleAfter: number;
  private readonly exposeHostForTests: boolean;
  private running = 0;
  private queue: (() => void)[] = [];
  private closed = false;
  // launcher mode
  private launcher: ChildProcess | undefined;
  private launcherFailures = 0;
  private nextId = 1;
  private pending = new Map<number, { job: Job; resolve: (r: RawRun) => void; timer: NodeJS.Timeout }>();
  private launcherStderr = '';
  // direct mode (no launcher)
  private direct: boolean;
  private children: ChildSet | undefined;

  constructor(options: SandboxPoolOptions = {}) {
    this.limits = validateLimits(options.limits);
    const conc = options.concurrency ?? availableParallelism();
    if (!Number.isInteger(conc) || conc < 1) throw new RangeError(`sandbox concurrency=${conc}: expected an integer >= 1`);
    const warm = options.warm ?? conc;
    if (!Number.isInteger(warm) || warm < 0) throw new RangeError(`sandbox warm=${warm}: expected an integer >= 0`);
    const isolation = options.isolation ?? 'realm';
    if (isolation !== 'realm' && isolation !== 'process') throw new RangeError(`sandbox isolation='${String(isolation)}': expected 'realm' or 'process'`);
    const recycleAfter = options.recycleAfter ?? 64;
    if (!Number.isInteger(recycleAfter) || recycleAfter < 1) throw new RangeError(`sandbox recycleAfter=${recycleAfter}: expected an integer >= 1`);
    this.concurrency = conc;
    this.warm = warm;
    this.isolation = isolation;
    this.recycleAfter = recycleAfter;
    this.exposeHostForTests = options.exposeHostForTests === true;
    this.direct = options.launcher === false;
    detect();
    if (this.direct) this.refillDirect();
    else this.startLauncher();
  }

  /** pid of the launcher process, when there is one (for tests and diagnostics). */
  get launcherPid(): number | undefined {
    return this.direct ? undefined : this.launcher?.pid;
  }

  private startLauncher(): void {
    let tsx: string;
    try {
      tsx = import.meta.resolve('tsx');
    } catch {
      this.direct = true;
      this.refillDirect();
      return;
    }
    const script = fileURLToPath(new URL('./launcher.ts', import.meta.url));
    let child: ChildProcess;
    try {
      // In the sandbox's network namespace, so the children inherit it (see launcher.ts).
      const netPrefix = detect().netPrefix;
      const full = [...netPrefix, process.execPath, '--import', tsx, script];
      child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, serialization: 'json' });
    } catch {
      this.direct = true;
      this.refillDirect();
      return;
    }
    this.launcher = child;
    this.launcherStderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      this.launcherStderr = (this.launcherStderr + d.toString('utf8')).slice(-2000);
    });
    child.stderr?.on('error', () => {});
    child.on('error', () => {});
    child.on('message', (m: { type: string; id: number; raw: RawRun }) => {
      if (m?.type !== 'result') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      this.launcherFailures = 0;
      p.resolve(m.raw);
    });
    child.on('exit', () => {
      if (this.launcher === child) this.launcher = undefined;
      if (this.closed) return;
      this.launcherFailures++;
      const why = `sandbox launcher exited${this.launcherStderr ? `: ${this.launcherStderr.slice(-500)}` : ''}`;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.resolve(failed(p.job, why));
      }
      // After repeated failures, spawn the children from this process instead.
      if (this.launcherFailures >= 3) {
        this.direct = true;
        this.refillDirect();
      }
    });
    try {
      child.send({
        type: 'init',
        limits: this.limits,
        warm: this.warm,
        inNetns: detect().netPrefix.length > 0,
        isolation: this.isolation,
        recycleAfter: this.recycleAfter,
        exposeHostForTests: this.exposeHostForTests,
      });
    } catch {
      /* the exit handler takes over */
    }
  }

  private refillDirect(): void {
    if (this.closed) return;
    this.children ??= new ChildSet(this.limits, { warm: this.warm, inNetns: false, isolation: this.isolation, recycleAfter: this.recycleAfter, exposeHostForTests: this.exposeHostForTests });
  }

  private viaLauncher(job: Job): Promise<RawRun> {
    if (!this.launcher || this.launcher.exitCode !== null || !this.launcher.connected) this.startLauncher();
    if (this.direct) return this.viaDirect(job);
    const launcher = this.launcher!;
    const id = this.nextId++;
    return new Promise<RawRun>((resolve) => {
      // Far beyond any limit: only a wedged launcher gets here.
      const guard = this.limits.startupTimeoutMs + this.limits.totalTimeoutMs + 30000;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(failed(job, 'sandbox launcher did not answer'));
      }, guard);
      this.pending.set(id, { job, resolve, timer });
      try {
        launcher.send({ type: 'run', id, job });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(failed(job, `sandbox launcher unreachable: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  }

  private async viaDirect(job: Job): Promise<RawRun> {
    this.refillDirect();
    if (!this.children) return failed(job, 'sandbox pool closed');
    return this.children.run(job);
  }

  /** Runs one submission; never rejects (failures are outcomes). */
  async run(job: Job): Promise<RawRun> {
    if (this.closed) throw new Error('SandboxPool: closed');
    if (this.running >= this.concurrency) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    try {
      return await (this.direct ? this.viaDirect(job) : this.viaLauncher(job));
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  /**
   * Stops the launcher and idle processes; runs in flight get 'error' verdicts. The promise
   * (never rejected) resolves once the launcher has exited.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const childrenExited = this.children?.close() ?? Promise.resolve();
    const l = this.launcher;
    this.launcher = undefined;
    let exited = Promise.resolve();
    if (l && l.exitCode === null && l.signalCode === null) {
      exited = new Promise<void>((r) => l.once('exit', () => r()));
      try {
        l.send({ type: 'close' });
        l.disconnect();
      } catch {
        /* already gone */
      }
      setTimeout(() => l.kill('SIGKILL'), 4000).unref(); // it waits up to ~2 s for its children
    }
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.resolve(failed(p.job, 'sandbox pool closed'));
    }
    return Promise.all([exited, childrenExited]).then(() => undefined);
  }
}
