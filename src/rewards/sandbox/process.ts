// One sandbox child process: how it is started (containment layers, detected once per
// machine), the frame protocol with child.cjs, limits, and the verdict when it dies; and
// ChildSet, the idle/busy bookkeeping of children shared by the pool and its launcher.
// Two isolation modes (SandboxPoolOptions.isolation):
//   'process': a SandboxProcess runs exactly one submission and is killed afterwards.
//   'realm' (the pool's default): a SandboxProcess is long-lived and runs many submissions
//     one after another, each in a fresh V8 context (node:vm) of its own; it is recycled
//     (killed and replaced) after a timeout, a memory error, an output-limit hit, a crash,
//     detected tampering, leftover async work, a large heap, or `recycleAfter` submissions.
//
// Containment of each child, in both modes (what IS contained, and how):
//   - file system, child processes, worker threads, native addons, inspector, WASI, heap
//     snapshots / reports: Node 20's permission model (--experimental-permission with no
//     --allow-* flag at all: every fs read and write is refused, even of the child program,
//     which is passed with -e). Defence in depth: the child drops root to uid/gid 65534.
//   - network: a fresh network namespace (`unshare --net`: only a loopback, down, so no IP
//     address is reachable, not even 127.0.0.1 of the host): one per pool, made for its
//     launcher and inherited by all its children (launcher.ts), or one per child when spawned
//     without a launcher (runOnce, direct mode); when we are not root, an unprivileged user
//     namespace is tried (`unshare --user --map-root-user --net`).
//     In every case the child also replaces, before user code runs, net.Socket.connect (the
//     one door of every TCP/Unix client: net, tls, http(s), http2, fetch), Server.listen and
//     fetch with functions that throw (and dgram and dns when there is no namespace);
//     process.binding is refused by the permission model. Unix sockets on the file system
//     are covered by neither the namespace nor the permission model: the JS denial (also of
//     bind/listen/connect on the raw Pipe handle class, reachable from any stdio stream) and
//     the dropped uid (no write access to root's sockets) stand there.
//   - other processes: child_process and worker_threads are refused by the permission model;
//     signals: process.kill is denied in JS and the child runs as uid 65534, so it cannot
//     signal the parent (root). No pid namespace: it would make node PID 1, which ignores
//     SIGXCPU/SIGABRT and blurs the verdicts; the sandboxes share uid 65534, so a program
//     that got past the JS denial could signal another sandbox (not the parent).
//   - CPU: RLIMIT_CPU (prlimit) on the whole process, plus wall-clock limits per test and per
//     submission enforced here; on expiry the whole process group gets SIGKILL. In realm
//     mode the rlimit is 3 × cpuSeconds for the process's whole life and the child is
//     recycled once it has used 2 × cpuSeconds − 1 s (read from /proc), so every submission
//     starts with at least cpuSeconds + 1 s of it left; synchronous loops are also stopped
//     inside the child by vm's own timeout (the child survives that, and is recycled).
//   - memory: --max-old-space-size for the V8 heap and RLIMIT_DATA for everything else
//     (buffers, typed arrays); allocation failures and V8's fatal OOM become 'memory'.
//   - output: stdout+stderr counted here; past limits.outputBytes the child is killed
//     ('output-limit'); only the first bytes are kept for diagnostics. In realm mode the
//     program's console output comes as frames on fd 3 (so it is counted per submission);
//     any byte on the child's fd 1/2 there means Node itself (a crash) or an escaped
//     program wrote it, and the child is recycled.
//   - environment: the child gets an empty environment (no parent secrets), cwd '/'.
//   - the parent: all child I/O is asynchronous with limits and timers; a child that hangs,
//     floods, crashes or lies on the protocol cannot block or crash this process. Expected
//     outputs never enter the child; pass/fail is decided here.
// What is NOT contained: CPU cache/timing side channels; reading the inputs of the other
// tests of the same submission; a V8 memory-corruption exploit would escape the permission
// model (the namespaces, uid and rlimits still hold). Without `unshare` (no root, no user
// namespaces) there is no kernel network wall, only the JS denial; without `prlimit` there
// is no CPU/data rlimit, only the wall clock and the V8 heap limit. `containment()` says
// which layers are active on this machine.
//
// Realm mode: threat model and trade-off. A vm context is not a security boundary: a
// program that escapes it lands in the child's own realm, in a process that is still
// permission-restricted, namespaced, uid-dropped and rlimited; everything listed above
// holds unchanged. What reuse adds is the risk of cross-submission interference: one
// submission changing the runner so that a LATER submission's verdicts change (forged or
// suppressed results, a leftover timer that loops or writes during the next run, polluted
// built-ins). The defences:
//   - each submission runs in a fresh context built from a null-prototype object, holding
//     none of the runner's objects; inputs go in as JSON text parsed by the context's own
//     JSON.parse (captured before the program loads), results come out encoded by the
//     runner's captured built-ins; expected outputs never enter the child;
//   - the runner's realm is frozen (--frozen-intrinsics) and cannot compile strings
//     (--disallow-code-generation-from-strings), so polluting Object.prototype & co. of the
//     runner is impossible and a runner object that leaks into a context (e.g. the error of
//     a dynamic import()) does not lead to `Function('return process')()`;
//   - every frame carries a per-submission nonce, unknown to a program until its own job
//     line is read, so output written by an earlier submission is not taken as a later one's;
//   - at the end of each submission the child cancels its timers, lets one macrotask turn
//     pass (a never-ending microtask chain stops it there, and the parent's clock recycles
//     the process), and checks the runner: the functions it and Node's I/O rely on are
//     unchanged, no host global or `process` property was added, and no async resource
//     (timer, handle) is left that was not there before the first submission; any finding
//     recycles the child. So do the events listed above.
// What reuse gives up against a fresh process per submission: (1) a V8 exploit or a
// context escape that ALSO evades the tamper checks could affect later submissions of the
// same child (at most recycleAfter of them), where a fresh process bounds any damage to
// the submission itself; (2) the program sees ECMAScript plus console, timers and a small
// `process` stand-in, not the Node API (no require, Buffer, fs…); (3) timing and GC state
// carry over (a submission can observe that others ran before it, not what they did).
// In exchange a submission costs a fresh context (a few ms of CPU) instead of a Node start
// (~90 ms of CPU): bench/sandbox.ts measures both modes.
// Not here: the pool and the launcher process (pool.ts, launcher.ts), comparing values
// and scoring (code.ts).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';

/** Limits of one submission. Validated by validateLimits. */
export interface SandboxLimits {
  /** Wall clock per test, from its start (default 2000 ms). */
  readonly timeoutMs: number;
  /** Wall clock for all tests of a submission together, after startup (default 10000 ms). */
  readonly totalTimeoutMs: number;
  /** RLIMIT_CPU of the child, whole process, startup included (default 10 s). */
  readonly cpuSeconds: number;
  /** V8 old-space size; RLIMIT_DATA is this plus 768 MiB (default 256 MiB). */
  readonly memoryMb: number;
  /** stdout + stderr bytes before the child is killed (default 1 MiB). */
  readonly outputBytes: number;
  /** Spawn to ready, generous for loaded machines (default 30000 ms). */
  readonly startupTimeoutMs: number;
}

export const defaultSandboxLimits: SandboxLimits = {
  timeoutMs: 2000,
  totalTimeoutMs: 10000,
  cpuSeconds: 10,
  memoryMb: 256,
  outputBytes: 1 << 20,
  startupTimeoutMs: 30000,
};

export function validateLimits(partial: Partial<SandboxLimits> = {}): SandboxLimits {
  const l = { ...defaultSandboxLimits, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`sandbox limit ${k}=${String(v)}: expected a number > 0`);
  }
  for (const k of ['timeoutMs', 'totalTimeoutMs', 'startupTimeoutMs'] as const) {
    if (l[k] > 2147483647) throw new RangeError(`sandbox limit ${k}=${l[k]}: expected at most 2147483647 (ms, Node's largest timer)`);
  }
  if (!Number.isInteger(l.cpuSeconds)) throw new RangeError(`sandbox limit cpuSeconds=${l.cpuSeconds}: expected an integer`);
  if (!Number.isInteger(l.memoryMb) || l.memoryMb < 16) throw new RangeError(`sandbox limit memoryMb=${l.memoryMb}: expected an integer >= 16`);
  return l;
}

/** Which containment layers this machine provides (detected once). */
export interface Containment {
  /** 'namespace': unshare --net (root); 'user-namespace': unprivileged; 'js-only': neither works. */
  readonly network: 'namespace' | 'user-namespace' | 'js-only';
  /** true when prlimit applies RLIMIT_CPU / RLIMIT_DATA / RLIMIT_FSIZE / RLIMIT_CORE. */
  readonly rlimits: boolean;
  /** Node's permission model (always on; Node >= 20). */
  readonly permissionModel: true;
  /** true when the parent is root, so the child drops to uid 65534. */
  readonly dropsRoot: boolean;
}

function which(cmd: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin']);
  for (const d of dirs) {
    if (d === '') continue;
    const p = join(d, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The detected layers, the unshare prefix (may be empty) and the prlimit path (when usable). */
export interface Detected {
  readonly containment: Containment;
  readonly netPrefix: string[];
  readonly prlimit: string | undefined;
}

let detected: Detected | undefined;

function works(cmd: string, args: string[]): boolean {
  try {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10000, env: {} });
    return r.status === 0;
  } catch {
    return false;
  }
}

export function detect(): Detected {
  if (detected) return detected;
  const unshare = which('unshare');
  const prlimit = which('prlimit');
  const truePath = which('true') ?? '/bin/true';
  let prefix: string[] = [];
  let network: Containment['network'] = 'js-only';
  if (unshare) {
    const variants: [Containment['network'], string[]][] = [
      ['namespace', ['--net']],
      ['user-namespace', ['--user', '--map-root-user', '--net']],
    ];
    for (const [kind, args] of variants) {
      if (works(unshare, [...args, '--', truePath])) {
        prefix = [unshare, ...args, '--'];
        network = kind;
        break;
      }
    }
  }
  const rlimits = prlimit !== undefined && works(prlimit, ['--cpu=5', '--data=1000000000', '--', truePath]);
  const dropsRoot = typeof process.getuid === 'function' && process.getuid() === 0 && network !== 'user-namespace';
  detected = { containment: { network, rlimits, permissionModel: true, dropsRoot }, netPrefix: prefix, prlimit: rlimits ? prlimit : undefined };
  return detected;
}

/** The containment layers in use on this machine. */
export function containment(): Containment {
  return detect().containment;
}

let childSource: string | undefined;
function childProgram(): string {
  childSource ??= readFileSync(new URL('./child.cjs', import.meta.url), 'utf8');
  return childSource;
}

/** How submissions are separated; see the top of this file. */
export type Isolation = 'realm' | 'process';

/** How a child is started and reused (besides the limits). */
export interface ChildOptions {
  /** Default 'process' for a lone SandboxProcess (runOnce); the pool defaults to 'realm'. */
  readonly isolation?: Isolation;
  /** Realm mode: submissions per child before it is replaced (default 64). */
  readonly recycleAfter?: number;
  /** Tests only: puts the runner's `process` into every realm context (a simulated escape). */
  readonly exposeHostForTests?: boolean;
}

/**
 * The command line of a child. `inNetns`: this process already runs in a network namespace
 * made for the sandbox (the launcher does), so the child inherits it and skips unshare.
 */
function commandFor(limits: SandboxLimits, inNetns: boolean, isolation: Isolation, exposeHost: boolean): { cmd: string; args: string[] } {
  const { containment: c, netPrefix, prlimit } = detect();
  // Node 20 spells it --experimental-permission; later lines renamed it --permission.
  const permission = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
  const realm = isolation === 'realm';
  const nodeArgs = [
    permission,
    '--no-warnings',
    ...(realm ? ['--frozen-intrinsics', '--disallow-code-generation-from-strings'] : []),
    `--max-old-space-size=${limits.memoryMb}`,
    '-e',
    childProgram(),
    c.network,
    isolation,
    ...(realm && exposeHost ? ['expose-host-for-tests'] : []),
  ];
  const cpu = realm ? 3 * limits.cpuSeconds : limits.cpuSeconds;
  const rl = prlimit !== undefined ? [prlimit, `--cpu=${cpu}:${cpu + 1}`, `--data=${(limits.memoryMb + 768) * 1024 * 1024}`, '--fsize=0', '--core=0', '--'] : [];
  const full = [...(inNetns ? [] : netPrefix), ...rl, process.execPath, ...nodeArgs];
  return { cmd: full[0], args: full.slice(1) };
}

/** CPU seconds a process has used (Linux /proc), or undefined. */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime
    return Number.isFinite(ticks) ? ticks / 100 : undefined; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ one child process

/** How a test ended in the child. */
export type Verdict = 'pass' | 'fail' | 'error' | 'timeout' | 'memory' | 'output-limit';

/** What the child reported for one test (before comparison with the expected value). */
export type RawOutcome =
  | { readonly kind: 'value'; readonly encoded: unknown }
  | { readonly kind: 'error'; readonly verdict: Exclude<Verdict, 'pass' | 'fail'>; readonly message: string; readonly ran: boolean };

export interface RawRun {
  readonly outcomes: RawOutcome[];
  /** First bytes of the program's stdout / stderr. */
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from ready to the end of the last test (or the kill). */
  readonly ms: number;
  /** Which child ran it: its pid, how many submissions it had run with this one, and why it was then retired (absent: kept for reuse). */
  readonly worker?: { readonly pid: number; readonly run: number; readonly retired?: string };
}

/** A submission as the child receives it; expected outputs are not part of it. */
export interface Job {
  readonly source: string;
  /** Identifier of the function to call; undefined: module.exports. */
  readonly entry: string | undefined;
  /** Argument list of each test. */
  readonly inputs: readonly (readonly unknown[])[];
}

const keepBytes = 8192;
const maxFrameBytes = 64 << 20;

type ErrorInfo = { name: string; message: string; memory: boolean; timeout?: boolean };
type Frame =
  | { t: 'ready'; uid: number; n?: string }
  | { t: 'start'; i: number; n?: string }
  | { t: 'res'; i: number; ok: true; v: unknown; n?: string }
  | { t: 'res'; i: number; ok: false; error: ErrorInfo; n?: string }
  | { t: 'load-error'; error: ErrorInfo; n?: string }
  | { t: 'out'; fd: number; s: string; n?: string }
  | { t: 'done'; recycle?: string; n?: string };

let nonceCounter = 0;
function newNonce(): string {
  // Unguessable by a program before its job line is read (Math.random is not: V8's state
  // could be inferred), unique within this process.
  return `${process.pid.toString(36)}.${(++nonceCounter).toString(36)}.${randomBytes(9).toString('base64url')}`;
}

export class SandboxProcess {
  private child: ChildProcess | undefined;
  private ready = false;
  private readyWaiters: (() => void)[] = [];
  private dead = false;
  private deathWaiters: (() => void)[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private frameBuf = '';
  private frameBytes = 0;
  private outBytes = 0;
  private stdout = '';
  private stderr = '';
  private killedFor: Verdict | undefined;
  private onFrame: ((f: Frame) => void) | undefined;
  private pendingFrames: Frame[] = [];
  private startupTimer: NodeJS.Timeout | undefined;
  private nonce = '';
  private runs = 0;
  /** Realm mode: the last job got no frame at all before the process died. */
  lastJobUnseen = false;
  private busy = false;
  private jobFrames = 0;
  /** Realm mode: why this child must not run another submission (undefined: it may). */
  retireReason: string | undefined;
  /** Set when the child could not be started or died before ready. */
  startError: string | undefined;
  readonly spawnedAt = Date.now();
  readonly isolation: Isolation;
  readonly recycleAfter: number;

  constructor(
    private readonly limits: SandboxLimits,
    inNetns = false,
    options: ChildOptions = {},
  ) {
    this.isolation = options.isolation ?? 'process';
    this.recycleAfter = options.recycleAfter ?? 64;
    const { cmd, args } = commandFor(limits, inNetns, this.isolation, options.exposeHostForTests === true);
    try {
      this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true, env: {}, cwd: '/', windowsHide: true });
    } catch (e) {
      this.startError = `spawn failed: ${e instanceof Error ? e.message : String(e)}`;
      this.markDead();
      return;
    }
    const c = this.child;
    c.on('error', (e) => {
      this.startError ??= `spawn failed: ${e.message}`;
      this.markDead();
    });
    c.on('exit', (code, signal) => {
      this.exitInfo = { code, signal };
      // 'close' follows once the pipes have drained; do not wait for it forever.
      setTimeout(() => this.markDead(), 2000).unref();
    });
    c.on('close', () => this.markDead());
    c.stdin?.on('error', () => {});
    const count = (which: 'stdout' | 'stderr') => (chunk: Buffer) => {
      // Realm mode: the runner never writes fd 1/2; Node (a crash) or an escaped program did.
      if (this.isolation === 'realm') this.retireReason ??= `wrote to ${which} outside the runner`;
      this.output(which, chunk.length, () => chunk.subarray(0, keepBytes).toString('utf8'));
    };
    c.stdout?.on('data', count('stdout'));
    c.stderr?.on('data', count('stderr'));
    c.stdout?.on('error', () => {});
    c.stderr?.on('error', () => {});
    const fd3 = c.stdio[3] as Readable | null;
    fd3?.on('error', () => {});
    fd3?.on('data', (chunk: Buffer) => this.onFrameData(chunk));
    this.startupTimer = setTimeout(() => {
      if (!this.ready) {
        this.startError ??= `not ready after ${this.limits.startupTimeoutMs} ms`;
        this.kill('error');
      }
    }, this.limits.startupTimeoutMs);
  }

  get isDead(): boolean {
    return this.dead;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Submissions this process has been given. */
  get jobs(): number {
    return this.runs;
  }

  /** Free to take a submission: fresh (process mode), or alive and not retired (realm mode). */
  get usable(): boolean {
    if (this.dead || this.busy) return false;
    return this.isolation === 'process' ? this.runs === 0 : this.retireReason === undefined;
  }

  /** Counts program output against the limit and keeps its first bytes. */
  private output(which: 'stdout' | 'stderr', bytes: number, text: () => string): void {
    this.outBytes += bytes;
    const have = which === 'stdout' ? this.stdout.length : this.stderr.length;
    if (have < keepBytes) {
      const add = text().slice(0, keepBytes - have);
      if (which === 'stdout') this.stdout += add;
      else this.stderr += add;
    }
    if (this.outBytes > this.limits.outputBytes) this.kill('output-limit');
  }

  private onFrameData(chunk: Buffer): void {
    this.frameBytes += chunk.length;
    if (this.frameBytes > maxFrameBytes && this.isolation === 'process') {
      this.kill('output-limit');
      return;
    }
    this.frameBuf += chunk.toString('utf8');
    if (this.frameBuf.length > maxFrameBytes) {
      this.kill('output-limit'); // one frame larger than any legitimate one
      return;
    }
    let nl: number;
    while ((nl = this.frameBuf.indexOf('\n')) >= 0) {
      const line = this.frameBuf.slice(0, nl);
      this.frameBuf = this.frameBuf.slice(nl + 1);
      let f: Frame;
      try {
        f = JSON.parse(line) as Frame;
      } catch {
        continue; // the program wrote garbage to fd 3: ignore it
      }
      if (typeof f !== 'object' || f === null) continue;
      if (f.t === 'ready') {
        if (!this.ready) {
          this.ready = true;
          clearTimeout(this.startupTimer);
          for (const w of this.readyWaiters.splice(0)) w();
        }
        continue;
      }
      // Realm mode: only frames of the submission now running count.
      if (this.isolation === 'realm' && (this.nonce === '' || f.n !== this.nonce)) continue;
      this.jobFrames++;
      if (f.t === 'out') {
        if (typeof f.s === 'string') this.output(f.fd === 2 ? 'stderr' : 'stdout', Buffer.byteLength(f.s, 'utf8'), () => f.s);
      } else if (this.onFrame) this.onFrame(f);
      else this.pendingFrames.push(f); // arrived before run() installed its handler
    }
  }

  private markDead(): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.startupTimer);
    if (!this.ready) this.startError ??= `exited before ready (${this.describeExit()}): ${this.stderr.slice(0, 500)}`;
    for (const w of this.readyWaiters.splice(0)) w();
    for (const w of this.deathWaiters.splice(0)) w();
  }

  describeExit(): string {
    const e = this.exitInfo;
    if (!e) return 'no exit status';
    return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
  }

  /** SIGKILL to the whole process group (idempotent). */
  kill(reason: Verdict | undefined): void {
    if (reason !== undefined && !this.dead) this.killedFor ??= reason;
    const c = this.child;
    if (!c || c.pid === undefined) return;
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }

  private whenReady(): Promise<void> {
    if (this.ready || this.dead) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  private whenDead(): Promise<void> {
    if (this.dead) return Promise.resolve();
    return new Promise((r) => this.deathWaiters.push(r));
  }

  /** Resolves once the process has exited and its pipes have closed. */
  exited(): Promise<void> {
    return this.whenDead();
  }

  /** Why the process died, as a verdict for the test that was running. */
  private deathVerdict(): { verdict: Exclude<Verdict, 'pass' | 'fail'>; message: string } {
    if (this.killedFor === 'timeout') return { verdict: 'timeout', message: 'time limit exceeded' };
    if (this.killedFor === 'output-limit') return { verdict: 'output-limit', message: `output exceeded ${this.limits.outputBytes} bytes` };
    const e = this.exitInfo;
    if (/heap out of memory|Allocation failed|invalid array length|invalid table size|std::bad_alloc|Cannot allocate memory|out of memory/i.test(this.stderr)) {
      return { verdict: 'memory', message: 'memory limit exceeded' };
    }
    if (e?.signal === 'SIGXCPU' || (this.limits.cpuSeconds > 0 && e?.code === 128 + 24)) return { verdict: 'timeout', message: 'CPU time limit exceeded' };
    if (e?.signal === 'SIGKILL' && this.killedFor === undefined) return { verdict: 'memory', message: 'killed by the system (likely memory)' };
    return { verdict: 'error', message: `process ended during the test (${this.describeExit()})${this.stderr ? `: ${this.stderr.slice(-500)}` : ''}` };
  }

  /**
   * Runs the job; never rejects. Process mode: the process is dead afterwards. Realm mode:
   * it stays for the next job unless retireReason is set (then it is dead too).
   */
  async run(job: Job): Promise<RawRun> {
    if (this.busy) throw new Error('SandboxProcess: already running a job');
    this.busy = true;
    try {
      return await this.runJob(job);
    } finally {
      this.busy = false;
    }
  }

  private async runJob(job: Job): Promise<RawRun> {
    const realm = this.isolation === 'realm';
    const n = job.inputs.length;
    const outcomes: (RawOutcome | undefined)[] = new Array(n).fill(undefined);
    this.runs++;
    // Per-job output accounting (realm children run many jobs).
    this.outBytes = 0;
    this.stdout = '';
    this.stderr = '';
    this.pendingFrames = [];
    this.jobFrames = 0;
    const t0 = Date.now();
    let readyAt = t0;
    let doneSeen = false;
    const finish = (): RawRun => {
      if (!realm) this.kill(undefined); // the process is never reused
      else if (this.retireReason !== undefined || this.dead) {
        this.retireReason ??= this.dead ? `exited (${this.describeExit()})` : 'retired';
        this.kill(undefined);
      }
      this.nonce = '';
      let ms = Date.now() - readyAt;
      if (ms < 0) ms = 0;
      const pid = this.child?.pid;
      return {
        outcomes: outcomes.map((o) => o ?? { kind: 'error', verdict: 'error', message: 'no result', ran: false }),
        stdout: this.stdout,
        stderr: this.stderr,
        ms,
        ...(pid === undefined ? {} : { worker: { pid, run: this.runs, ...(realm && this.retireReason === undefined ? {} : { retired: realm ? this.retireReason : 'process mode' }) } }),
      };
    };
    const fillRest = (from: number, verdict: Exclude<Verdict, 'pass' | 'fail'>, message: string, ranFirst: boolean): void => {
      for (let i = from; i < n; i++) if (outcomes[i] === undefined) outcomes[i] = { kind: 'error', verdict, message: i === from && ranFirst ? message : `not run: ${message}`, ran: i === from && ranFirst };
    };
    if (this.dead || !this.child) {
      fillRest(0, 'error', `sandbox failed to start: ${this.startError ?? 'unknown'}`, false);
      return finish();
    }
    const inputs = job.inputs.map((a) => JSON.stringify(a));
    // Send the job right away (the child reads it once it is ready).
    if (realm) {
      this.nonce = newNonce();
      const line = JSON.stringify({ n: this.nonce, source: job.source, entry: job.entry, inputs, timeoutMs: this.limits.timeoutMs, outputBytes: this.limits.outputBytes }) + '\n';
      try {
        this.child.stdin?.write(line);
      } catch {
        /* handled by death */
      }
    } else {
      const line = JSON.stringify({ source: job.source, entry: job.entry, inputs }) + '\n';
      try {
        this.child.stdin?.end(line);
      } catch {
        /* handled by death */
      }
    }
    await this.whenReady();
    readyAt = Date.now();
    if (this.dead && !this.ready) {
      fillRest(0, 'error', `sandbox failed to start: ${this.startError ?? 'unknown'}`, false);
      return finish();
    }
    // Realm mode: vm's own timeout stops a synchronous loop inside the child, which then
    // reports 'timeout' and lives on; this clock (a little later) is for everything else.
    const testMs = realm ? this.limits.timeoutMs + Math.max(250, this.limits.timeoutMs / 4) : this.limits.timeoutMs;
    let current = -1; // test index started and not yet answered
    let nextStart = 0;
    let testTimer: NodeJS.Timeout | undefined;
    const totalTimer = setTimeout(() => this.kill('timeout'), this.limits.totalTimeoutMs);
    // Loading the source runs user top-level code: it is timed as test 0's budget.
    testTimer = setTimeout(() => this.kill('timeout'), testMs);
    let doneResolve: () => void = () => {};
    const done = new Promise<void>((r) => (doneResolve = r));
    const errorVerdict = (err: ErrorInfo): Exclude<Verdict, 'pass' | 'fail'> => (err.timeout === true ? 'timeout' : err.memory ? 'memory' : 'error');
    this.onFrame = (f) => {
      if (f.t === 'start' && f.i === nextStart && current === -1) {
        current = f.i;
        nextStart++;
        clearTimeout(testTimer);
        testTimer = setTimeout(() => this.kill('timeout'), testMs);
      } else if (f.t === 'res' && f.i === current) {
        clearTimeout(testTimer);
        if (f.ok) outcomes[current] = { kind: 'value', encoded: f.v };
        else {
          const err = f.error ?? { name: 'Error', message: '', memory: false };
          const verdict = errorVerdict(err);
          outcomes[current] = { kind: 'error', verdict, message: verdict === 'timeout' ? 'time limit exceeded' : `${String(err.name)}: ${String(err.message)}`, ran: true };
          // Realm mode: after a timeout the child runs no further test of this submission.
          if (verdict === 'timeout') fillRest(current + 1, 'timeout', 'time limit exceeded', false);
        }
        current = -1;
        // Realm mode: the child's end-of-submission checks get the same clock as a test.
        if (realm && nextStart === n) testTimer = setTimeout(() => this.kill(undefined), testMs);
      } else if (f.t === 'load-error' && nextStart === 0) {
        clearTimeout(testTimer);
        const err = f.error ?? { name: 'Error', message: '', memory: false };
        const verdict = errorVerdict(err);
        fillRest(0, verdict, verdict === 'timeout' ? 'time limit exceeded' : `the program did not load: ${String(err.name)}: ${String(err.message)}`, true);
        if (realm) testTimer = setTimeout(() => this.kill(undefined), testMs);
        else doneResolve();
      } else if (f.t === 'done' && current === -1 && (nextStart === n || outcomes.every((o) => o !== undefined))) {
        doneSeen = true;
        if (realm && typeof f.recycle === 'string' && f.recycle !== '') this.retireReason ??= f.recycle;
        doneResolve();
      }
    };
    for (const f of this.pendingFrames.splice(0)) this.onFrame(f);
    await Promise.race([done, this.whenDead()]);
    clearTimeout(testTimer);
    clearTimeout(totalTimer);
    this.onFrame = undefined;
    if (!realm || !doneSeen || this.killedFor !== undefined) {
      // Wait for the end of the process: its last output is counted once the pipes close.
      this.kill(undefined);
      await this.whenDead();
    }
    if (this.outBytes > this.limits.outputBytes && outcomes.every((o) => o !== undefined)) {
      // Overflow seen only after the program finished: the submission as a whole broke the limit.
      for (let i = 0; i < n; i++) if (outcomes[i] === undefined || outcomes[i]!.kind === 'value') outcomes[i] = { kind: 'error', verdict: 'output-limit', message: `output exceeded ${this.limits.outputBytes} bytes`, ran: true };
    }
    if (outcomes.some((o) => o === undefined)) {
      // The process died (or was killed) part-way: the running test gets the cause.
      const { verdict, message } = this.deathVerdict();
      const at = current >= 0 ? current : Math.min(nextStart, n - 1);
      const first = outcomes.findIndex((o) => o === undefined);
      fillRest(Math.min(first, at), verdict, message, true);
    }
    this.lastJobUnseen = realm && this.jobFrames === 0 && this.dead;
    if (realm && !this.dead && this.retireReason === undefined) {
      const pid = this.child.pid;
      const used = pid === undefined ? undefined : cpuSecondsOf(pid);
      if (this.runs >= this.recycleAfter) this.retireReason = `ran ${this.runs} submissions`;
      else if (used !== undefined && used > 2 * this.limits.cpuSeconds - 1) this.retireReason = `used ${used.toFixed(1)} s of CPU`;
    }
    return finish();
  }
}

/** Runs one submission in a fresh process started for it (no pool; slower). Never rejects. */
export function runOnce(job: Job, limits: Partial<SandboxLimits> = {}): Promise<RawRun> {
  return new SandboxProcess(validateLimits(limits)).run(job);
}

// ------------------------------------------------------------------ a set of children

export interface ChildSetOptions extends ChildOptions {
  /** Children kept started and idle (process mode) or alive in all (realm mode). */
  readonly warm: number;
  /** The children inherit this process's sandbox network namespace (see launcher.ts). */
  readonly inNetns: boolean;
}

/**
 * The children of one pool (in its launcher, or in the pool itself without one): takes a
 * usable child for each job (a returned realm child before a new one), keeps `warm` of
 * them started, kills and replaces the ones that are done.
 */
export class ChildSet {
  private idle: SandboxProcess[] = [];
  private readonly busy = new Set<SandboxProcess>();
  private closed = false;
  readonly isolation: Isolation;

  constructor(
    private readonly limits: SandboxLimits,
    private readonly options: ChildSetOptions,
  ) {
    this.isolation = options.isolation ?? 'realm';
    this.refill();
  }

  private spawnOne(): SandboxProcess {
    return new SandboxProcess(this.limits, this.options.inNetns, { isolation: this.isolation, recycleAfter: this.options.recycleAfter, exposeHostForTests: this.options.exposeHostForTests });
  }

  private prune(): void {
    this.idle = this.idle.filter((p) => {
      if (p.usable) return true;
      p.kill(undefined);
      return false;
    });
  }

  refill(): void {
    if (this.closed) return;
    this.prune();
    const want = this.isolation === 'realm' ? this.options.warm - this.busy.size : this.options.warm;
    while (this.idle.length < want) this.idle.push(this.spawnOne());
  }

  /**
   * Runs the job on a usable child; never rejects. A reused realm child that died before
   * saying anything about the job (so before the job's own code could have run long, or at
   * all) is not the job's fault as far as we can tell: the job is run again, once, on a
   * fresh child, whose verdict stands.
   */
  async run(job: Job): Promise<RawRun> {
    const raw = await this.runOn(job);
    return raw.retry ? (await this.runOn(job, true)).raw : raw.raw;
  }

  private async runOn(job: Job, fresh = false): Promise<{ raw: RawRun; retry: boolean }> {
    this.prune();
    const p = (fresh ? undefined : this.idle.shift()) ?? this.spawnOne();
    this.busy.add(p);
    this.refill();
    const reused = p.jobs > 0;
    try {
      const raw = await p.run(job);
      return { raw, retry: !fresh && reused && p.lastJobUnseen && !this.closed };
    } finally {
      this.busy.delete(p);
      if (!this.closed && p.usable && this.idle.length + this.busy.size < Math.max(1, this.options.warm)) this.idle.unshift(p);
      else p.kill(undefined);
      this.refill();
    }
  }

  /** Kills every child (idle and busy); resolves once they have exited (at most ~2 s). */
  close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy];
    this.idle = [];
    for (const p of all) p.kill(undefined);
    return Promise.race([Promise.all(all.map((p) => p.exited())).then(() => undefined), new Promise<void>((r) => setTimeout(r, 2000).unref())]);
  }
}
