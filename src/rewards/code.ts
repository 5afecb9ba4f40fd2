// Code-execution verifier: runs a model-written JavaScript function against test cases in
// the sandbox (sandbox/pool.ts: contained child processes; by default long-lived ones that
// run each submission in a fresh V8 context, or with isolation 'process' one fresh process
// per submission) and scores it here, in the parent, where the expected outputs stay.
//   runCode(source, tests, limits?, options?)  one submission, fresh process (no pool)
//   new CodeSandbox({ concurrency, warm, limits, isolation }).run(source, tests, options)  pooled
// What a submission can use: in realm mode (default) ECMAScript plus console, timers,
// queueMicrotask and a small `process` stand-in (env {}, argv, stdout/stderr.write, exit,
// nextTick); no require/Buffer/Node API. In process mode (and runCode), whatever of Node's
// API the permission model leaves (require works; fs, net, child_process… are refused).
//   extractCode(completion)                    the code block of a completion
//   codeReward(sandbox, completion, tests)     fraction of tests passed (0 without code)
// The function: `options.entry` names it; without one, the first top-level
// `function NAME` / `const NAME = (…) =>` / `const NAME = function` of the source, else
// module.exports. ES-module `export` keywords are tolerated. Each test is
// { args: [...], expected }: the function is called with args (a fresh copy per test) and
// an async function's promise is awaited.
// Comparison: deep structural equality of JSON-like values plus undefined, NaN, ±Infinity,
// bigint, Map and Set; object key order does not matter, array order does; numbers are
// equal within |a − b| <= tolerance·max(1, |a|, |b|) (options.tolerance, default 1e-9;
// 0 means exact, with -0 equal to 0).
// Verdicts per test: pass, fail (wrong value), error (threw, or did not load), timeout,
// memory, output-limit; when the process dies, the running test gets the cause and the
// tests after it the same verdict (marked not run). score = passed / total.
// Not here: the containment itself (sandbox/pool.ts), languages other than JavaScript.

import { runOnce, SandboxPool, type Isolation, type Job, type RawOutcome, type RawRun, type SandboxLimits, type SandboxPoolOptions, type Verdict } from './sandbox/pool.ts';

export type { Isolation, Verdict, SandboxLimits, SandboxPoolOptions } from './sandbox/pool.ts';
export { containment, defaultSandboxLimits } from './sandbox/pool.ts';

export interface CodeTest {
  /** Arguments of the call (JSON-like values). */
  readonly args: readonly unknown[];
  /** Expected return value. */
  readonly expected: unknown;
}

export interface CodeRunOptions {
  /** Name of the function to call (an identifier). Default: detected, see the header. */
  readonly entry?: string;
  /** Relative/absolute number tolerance (default 1e-9). */
  readonly tolerance?: number;
}

export interface TestResult {
  readonly verdict: Verdict;
  /** What the function returned (decoded), when it returned. */
  readonly actual?: unknown;
  readonly expected: unknown;
  /** Why, for anything but pass / fail. */
  readonly message?: string;
}

export interface CodeRunResult {
  /** passed / total (0 when there are no tests). */
  readonly score: number;
  readonly passed: number;
  readonly total: number;
  /** 'pass' when every test passed, else the verdict of the first test that did not. */
  readonly verdict: Verdict;
  readonly tests: TestResult[];
  /** First bytes of the program's output. */
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** Diagnostics: the child that ran it (pid, its nth submission, why it was retired after it). */
  readonly worker?: { readonly pid: number; readonly run: number; readonly retired?: string };
}

const identRe = /^[A-Za-z_$][\w$]*$/;

/** The entry function name found in the source, or undefined (then module.exports is used). */
export function detectEntry(source: string): string | undefined {
  const patterns = [
    /^(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(/m,
    /^(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)/m,
  ];
  let best: { at: number; name: string } | undefined;
  for (const re of patterns) {
    const m = re.exec(source);
    if (m && (best === undefined || m.index < best.at)) best = { at: m.index, name: m[1] };
  }
  return best?.name;
}

function validateTests(tests: readonly CodeTest[]): void {
  if (!Array.isArray(tests)) throw new TypeError('runCode: tests must be an array of { args, expected }');
  tests.forEach((t, i) => {
    if (typeof t !== 'object' || t === null || !Array.isArray(t.args)) throw new TypeError(`runCode: tests[${i}].args must be an array`);
  });
}

function prepare(source: string, tests: readonly CodeTest[], options: CodeRunOptions): { job: Job } | { error: string } {
  validateTests(tests);
  if (typeof source !== 'string') return { error: 'source is not a string' };
  const entry = options.entry ?? detectEntry(source);
  if (entry !== undefined && !identRe.test(entry)) throw new RangeError(`runCode: entry '${entry}' is not an identifier`);
  let inputs: unknown[][];
  try {
    inputs = tests.map((t) => JSON.parse(JSON.stringify(t.args)) as unknown[]);
  } catch (e) {
    throw new TypeError(`runCode: test arguments must be JSON values (${e instanceof Error ? e.message : String(e)})`);
  }
  return { job: { source, entry, inputs } };
}

// ------------------------------------------------------------------ decoding and comparison

function decode(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decode);
  if (v === null || typeof v !== 'object') return v;
  const o = v as { $r1ts?: unknown; v?: unknown };
  switch (o.$r1ts) {
    case 'undefined':
      return undefined;
    case 'num':
      return o.v === '-0' ? -0 : Number(o.v);
    case 'bigint':
      return BigInt(String(o.v));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, val] of o.v as [string, unknown][]) Object.defineProperty(out, String(k), { value: decode(val), enumerable: true, writable: true, configurable: true });
      return out;
    }
    case 'map':
      return new Map((o.v as [unknown, unknown][]).map(([k, val]) => [decode(k), decode(val)]));
    case 'set':
      return new Set((o.v as unknown[]).map(decode));
    default:
      return v;
  }
}

/** Deep equality as described in the header. */
export function valuesEqual(actual: unknown, expected: unknown, tolerance = 1e-9, depth = 0): boolean {
  if (depth > 1000) return false;
  if (typeof actual === 'number' && typeof expected === 'number') {
    if (Object.is(actual, expected) || actual === expected) return true;
    if (!Number.isFinite(actual) || !Number.isFinite(expected)) return false;
    return Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(actual), Math.abs(expected));
  }
  if (typeof actual === 'bigint' || typeof expected === 'bigint') {
    const a = typeof actual === 'number' && Number.isInteger(actual) ? BigInt(actual) : actual;
    const e = typeof expected === 'number' && Number.isInteger(expected) ? BigInt(expected) : expected;
    return a === e;
  }
  if (actual === null || expected === null || typeof actual !== 'object' || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(actual) || Array.isArray(expected)) {
    if (!Array.isArray(actual) || !Array.isArray(expected) || actual.length !== expected.length) return false;
    return actual.every((x, i) => valuesEqual(x, expected[i], tolerance, depth + 1));
  }
  if (actual instanceof Map || expected instanceof Map) {
    if (!(actual instanceof Map) || !(expected instanceof Map) || actual.size !== expected.size) return false;
    const rest = [...actual.entries()];
    for (const [ek, ev] of expected) {
      const i = rest.findIndex(([ak, av]) => valuesEqual(ak, ek, tolerance, depth + 1) && valuesEqual(av, ev, tolerance, depth + 1));
      if (i < 0) return false;
      rest.splice(i, 1);
    }
    return true;
  }
  if (actual instanceof Set || expected instanceof Set) {
    if (!(actual instanceof Set) || !(expected instanceof Set) || actual.size !== expected.size) return false;
    const rest = [...actual];
    for (const e of expected) {
      const i = rest.findIndex((a) => valuesEqual(a, e, tolerance, depth + 1));
      if (i < 0) return false;
      rest.splice(i, 1);
    }
    return true;
  }
  const ak = Object.keys(actual);
  const ek = Object.keys(expected);
  if (ak.length !== ek.length) return false;
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  return ek.every((k) => Object.prototype.hasOwnProperty.call(a, k) && valuesEqual(a[k], e[k], tolerance, depth + 1));
}

function judge(raw: RawRun, tests: readonly CodeTest[], tolerance: number): CodeRunResult {
  const results: TestResult[] = tests.map((t, i) => {
    const o: RawOutcome | undefined = raw.outcomes[i];
    if (o === undefined) return { verdict: 'error', expected: t.expected, message: 'no result' };
    if (o.kind === 'error') return { verdict: o.verdict, expected: t.expected, message: o.message };
    try {
      const actual = decode(o.encoded);
      return { verdict: valuesEqual(actual, t.expected, tolerance) ? 'pass' : 'fail', actual, expected: t.expected };
    } catch (e) {
      return { verdict: 'error', expected: t.expected, message: `bad result: ${e instanceof Error ? e.message : String(e)}` };
    }
  });
  const passed = results.filter((r) => r.verdict === 'pass').length;
  const firstBad = results.find((r) => r.verdict !== 'pass');
  return {
    score: tests.length === 0 ? 0 : passed / tests.length,
    passed,
    total: tests.length,
    verdict: firstBad?.verdict ?? (tests.length === 0 ? 'error' : 'pass'),
    tests: results,
    stdout: raw.stdout,
    stderr: raw.stderr,
    ms: raw.ms,
    ...(raw.worker === undefined ? {} : { worker: raw.worker }),
  };
}

function failAll(tests: readonly CodeTest[], message: string): CodeRunResult {
  return {
    score: 0,
    passed: 0,
    total: tests.length,
    verdict: 'error',
    tests: tests.map((t) => ({ verdict: 'error' as const, expected: t.expected, message })),
    stdout: '',
    stderr: '',
    ms: 0,
  };
}

function toleranceOf(options: CodeRunOptions): number {
  const tol = options.tolerance ?? 1e-9;
  if (!Number.isFinite(tol) || tol < 0) throw new RangeError(`runCode: tolerance=${tol}: expected a number >= 0`);
  return tol;
}

/**
 * Runs `source` against `tests` in a fresh sandbox process started for this call. Throws
 * only for a caller mistake (tests not {args:[…]}, bad limits/entry); whatever the source
 * does becomes verdicts.
 */
export async function runCode(source: string, tests: readonly CodeTest[], limits: Partial<SandboxLimits> = {}, options: CodeRunOptions = {}): Promise<CodeRunResult> {
  const tol = toleranceOf(options);
  const p = prepare(source, tests, options);
  if ('error' in p) return failAll(tests, p.error);
  if (tests.length === 0) return judge({ outcomes: [], stdout: '', stderr: '', ms: 0 }, tests, tol);
  return judge(await runOnce(p.job, limits), tests, tol);
}

/** A warm pool of sandbox processes (see sandbox/pool.ts); close() when done. */
export class CodeSandbox {
  private readonly pool: SandboxPool;

  constructor(options: SandboxPoolOptions = {}) {
    this.pool = new SandboxPool(options);
  }

  get limits(): SandboxLimits {
    return this.pool.limits;
  }

  /** 'realm' (default) or 'process'. */
  get isolation(): Isolation {
    return this.pool.isolation;
  }

  /** pid of the launcher process that spawns the children (undefined in direct mode). */
  get launcherPid(): number | undefined {
    return this.pool.launcherPid;
  }

  /** Like runCode, on a pooled process. */
  async run(source: string, tests: readonly CodeTest[], options: CodeRunOptions = {}): Promise<CodeRunResult> {
    const tol = toleranceOf(options);
    const p = prepare(source, tests, options);
    if ('error' in p) return failAll(tests, p.error);
    if (tests.length === 0) return judge({ outcomes: [], stdout: '', stderr: '', ms: 0 }, tests, tol);
    return judge(await this.pool.run(p.job), tests, tol);
  }

  /** Stops the pool; resolves when its launcher has exited (never rejects). */
  close(): Promise<void> {
    return this.pool.close();
  }
}

const fenceRe = /```[ \t]*([\w+-]*)[^\n]*\n([\s\S]*?)```/g;
const jsInfo = new Set(['', 'js', 'javascript', 'node', 'nodejs', 'mjs', 'cjs', 'jsx']);

/**
 * The code of a completion: inside the last <answer>…</answer> block if there is one,
 * else the whole completion; from that text, the last fenced block tagged js/javascript
 * (or untagged), else the last fenced block of any tag; with no fence, the raw <answer>
 * content. undefined when there is nothing.
 */
export function extractCode(completion: string): string | undefined {
  if (typeof completion !== 'string') return undefined;
  const close = completion.lastIndexOf('</answer>');
  const open = close >= 0 ? completion.lastIndexOf('<answer>', close) : -1;
  const answer = open >= 0 ? completion.slice(open + '<answer>'.length, close) : undefined;
  const text = answer ?? completion;
  let lastJs: string | undefined;
  let lastAny: string | undefined;
  for (const m of text.matchAll(fenceRe)) {
    lastAny = m[2];
    if (jsInfo.has(m[1].toLowerCase())) lastJs = m[2];
  }
  const code = lastJs ?? lastAny ?? answer;
  return code !== undefined && code.trim() !== '' ? code : undefined;
}

/**
 * Code reward of a completion: the fraction of tests passed (allOrNothing: 1 only when
 * all pass), 0 when the completion has no code. Never rejects for anything the completion
 * contains.
 */
export async function codeReward(
  sandbox: CodeSandbox,
  completion: string,
  tests: readonly CodeTest[],
  options: CodeRunOptions & { readonly allOrNothing?: boolean } = {},
): Promise<number> {
  const code = extractCode(completion);
  if (code === undefined) return 0;
  const r = await sandbox.run(code, tests, options);
  if (options.allOrNothing) return r.total > 0 && r.passed === r.total ? 1 : 0;
  return r.score;
}
