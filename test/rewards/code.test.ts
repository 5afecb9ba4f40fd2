// Tests of the code-execution verifier and its sandbox: value comparison and code
// extraction (no processes), then correct/wrong solutions and the hostile-program suite in
// both isolation modes ('realm': reused children, a fresh V8 context per submission;
// 'process': a fresh process per submission), each of which must end with a verdict while
// the runner stays alive; then cross-submission interference in realm mode, with and
// without a (simulated) escape from the context. Hostile programs run two at a time per
// pool to keep the file around a minute.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { CodeSandbox, codeReward, containment, detectEntry, extractCode, runCode, valuesEqual, type CodeRunResult, type CodeTest, type Isolation } from '../../src/rewards/code.ts';

// Set before any sandbox process is spawned: the children must not see it.
const secret = `r1ts-fake-secret-${process.pid}-${Date.now()}`;
process.env.R1TS_TEST_SECRET = secret;

const modes: readonly Isolation[] = ['realm', 'process'];
const limits = { timeoutMs: 1500, totalTimeoutMs: 8000 };
const pools: Record<Isolation, CodeSandbox> = {
  realm: new CodeSandbox({ isolation: 'realm', concurrency: 2, warm: 2, limits }),
  process: new CodeSandbox({ isolation: 'process', concurrency: 2, warm: 2, limits }),
};
after(() => Promise.all(modes.map((m) => pools[m].close())));

test('code: value comparison', () => {
  assert.ok(valuesEqual([1, 2, { a: 'x', b: [null] }], [1, 2, { b: [null], a: 'x' }]));
  assert.ok(!valuesEqual([1, 2], [2, 1]));
  assert.ok(!valuesEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(valuesEqual(0.1 + 0.2, 0.3));
  assert.ok(!valuesEqual(0.1 + 0.2, 0.3, 0));
  assert.ok(valuesEqual(NaN, NaN));
  assert.ok(valuesEqual(-0, 0, 0));
  assert.ok(!valuesEqual(Infinity, 1e308));
  assert.ok(valuesEqual(10n, 10));
  assert.ok(!valuesEqual('1', 1));
  assert.ok(!valuesEqual([], {}));
  assert.ok(valuesEqual(new Set([1, 2]), new Set([2, 1])));
  assert.ok(valuesEqual(new Map([['a', 1]]), new Map([['a', 1]])));
  assert.ok(!valuesEqual(undefined, null));
});

test('code: extraction and entry detection', () => {
  assert.equal(extractCode('text\n```js\nfunction a() {}\n```\nmore\n```javascript\nfunction b() {}\n```'), 'function b() {}\n');
  assert.equal(extractCode('```python\nx=1\n```\n```\nfunction c() {}\n```'), 'function c() {}\n');
  assert.equal(extractCode('```python\nx=1\n```'), 'x=1\n');
  assert.equal(extractCode('<think>```js\nbad\n```</think><answer>\n```js\nfunction d() {}\n```\n</answer>'), 'function d() {}\n');
  assert.equal(extractCode('<answer>function e() { return 1 }</answer>'), 'function e() { return 1 }');
  assert.equal(extractCode('no code here'), undefined);
  assert.equal(extractCode('<answer> </answer>'), undefined);
  assert.equal(detectEntry('// helper\nfunction solve(a) { return helper(a) }\nfunction helper(x) { return x }'), 'solve');
  assert.equal(detectEntry('const twice = (x) => 2 * x;'), 'twice');
  assert.equal(detectEntry('export default async function go() {}'), 'go');
  assert.equal(detectEntry('module.exports = (x) => x'), undefined);
});

const add: CodeTest[] = [
  { args: [1, 2], expected: 3 },
  { args: [-5, 5], expected: 0 },
  { args: [0.1, 0.2], expected: 0.3 },
];
const addSource = 'function add(a, b) { return a + b; }';

function verdicts(r: CodeRunResult): string[] {
  return r.tests.map((t) => t.verdict);
}

for (const mode of modes) {
  test(`code: correct, wrong, async, module and error solutions (${mode})`, async () => {
    const sandbox = pools[mode];
    assert.equal(sandbox.isolation, mode);
    const [ok, wrong, asyncOk, arrow, exportsFn, esm, throws, syntax, missing, exits, fnReturn, cycle, noisy] = await Promise.all([
      sandbox.run(addSource, add),
      sandbox.run('function add(a, b) { return a - b; }', add),
      sandbox.run('async function add(a, b) { await new Promise((r) => setTimeout(r, 5)); return a + b; }', add),
      sandbox.run('const add = (a, b) => a + b;', add),
      sandbox.run('module.exports = function (a, b) { return a + b; };', add),
      sandbox.run('export function add(a, b) { return a + b; }', add),
      sandbox.run('function add(a, b) { if (a < 0) throw new Error("negative"); return a + b; }', add),
      sandbox.run('function add(a, b) { return a + ; }', add),
      sandbox.run('function plus(a, b) { return a + b; }', add, { entry: 'add' }),
      sandbox.run('function add(a, b) { if (a < 0) process.exit(0); return a + b; }', add),
      sandbox.run('function add() { return () => 1; }', [{ args: [], expected: 1 }]),
      sandbox.run('function add() { const a = []; a.push(a); return a; }', [{ args: [], expected: [] }]),
      sandbox.run('function add(a, b) { console.log("thinking", a, b); console.error("hm"); return a + b; }', add),
    ]);
    assert.deepEqual(verdicts(ok), ['pass', 'pass', 'pass']);
    assert.equal(ok.score, 1);
    assert.equal(ok.verdict, 'pass');
    assert.deepEqual(verdicts(wrong), ['fail', 'fail', 'fail']);
    assert.equal(wrong.tests[0].actual, -1);
    assert.equal(wrong.score, 0);
    assert.deepEqual(verdicts(asyncOk), ['pass', 'pass', 'pass']);
    assert.deepEqual(verdicts(arrow), ['pass', 'pass', 'pass']);
    assert.deepEqual(verdicts(exportsFn), ['pass', 'pass', 'pass']);
    assert.deepEqual(verdicts(esm), ['pass', 'pass', 'pass']);
    assert.deepEqual(verdicts(throws), ['pass', 'error', 'pass']);
    assert.match(throws.tests[1].message ?? '', /negative/);
    assert.equal(throws.score, 2 / 3);
    assert.deepEqual(verdicts(syntax), ['error', 'error', 'error']);
    assert.match(syntax.tests[0].message ?? '', /SyntaxError/);
    assert.deepEqual(verdicts(missing), ['error', 'error', 'error']);
    assert.deepEqual(verdicts(exits), ['pass', 'error', 'error']);
    assert.deepEqual(verdicts(fnReturn), ['error']);
    assert.deepEqual(verdicts(cycle), ['error']);
    assert.deepEqual(verdicts(noisy), ['pass', 'pass', 'pass']);
    assert.match(noisy.stdout, /thinking 1 2/);
    assert.match(noisy.stderr, /hm/);
    // rewards on completions
    const [r1, r2, r3] = await Promise.all([
      codeReward(sandbox, '<think>easy</think><answer>```js\nfunction add(a, b) { return a + b; }\n```</answer>', add),
      codeReward(sandbox, '<answer>```js\nfunction add(a, b) { if (a < 0) throw 1; return a + b; }\n```</answer>', add, { allOrNothing: true }),
      codeReward(sandbox, 'I cannot do it', add),
    ]);
    assert.deepEqual([r1, r2, r3], [1, 0, 0]);
  });

  test(`code: every submission gets a fresh global state (${mode})`, async () => {
    const src = 'function f() { globalThis.__runs = (globalThis.__runs || 0) + 1; return globalThis.__runs; }';
    const runs = await Promise.all([1, 2, 3, 4].map(() => pools[mode].run(src, [{ args: [], expected: 1 }, { args: [], expected: 2 }])));
    for (const r of runs) assert.deepEqual(verdicts(r), ['pass', 'pass']);
    if (mode === 'process') assert.equal(new Set(runs.map((r) => r.worker?.pid)).size, 4);
    // Realm mode: the 4 runs share the pool's children (at most 2), which are kept.
    else for (const r of runs) assert.equal(r.worker?.retired, undefined);
  });
}

test('code: a one-off run (fresh process, no pool)', async () => {
  assert.deepEqual(verdicts(await runCode(addSource, add)), ['pass', 'pass', 'pass']);
});

// Probes the hostile programs try to reach; none may ever see a connection.
interface Probes {
  port: number;
  udpPort: number;
  sockPath: string;
  probeFile: string;
  connections: () => number;
  close: () => void;
}

async function openProbes(tag: string): Promise<Probes> {
  let connections = 0;
  const server: Server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  // A world-writable Unix socket: neither the network namespace nor the permission model
  // covers it; the JS denial of Socket.connect must.
  const sockPath = `/tmp/r1ts-sandbox-probe-${process.pid}-${tag}.sock`;
  rmSync(sockPath, { force: true });
  const unixServer: Server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => unixServer.listen(sockPath, () => r()));
  chmodSync(sockPath, 0o777);
  // UDP is not denied in JS when there is a network namespace: this probes the kernel wall.
  const udp = createSocket('udp4');
  udp.on('message', () => connections++);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const udpPort = udp.address().port;
  return {
    port,
    udpPort,
    sockPath,
    probeFile: `/tmp/r1ts-sandbox-probe-${process.pid}-${tag}`,
    connections: () => connections,
    close: () => {
      server.close();
      unixServer.close();
      udp.close();
    },
  };
}

const one = (expected: unknown): CodeTest[] => [{ args: [], expected }];
const passwd = readFileSync('/etc/passwd', 'utf8');

/** [name, source, tests, verdicts in process mode, verdicts in realm mode when they differ (and why)]. */
type Case = [string, string, CodeTest[], string[], string[]?];

/** The programs that reach for the world: fs, network, processes, signals, the environment. */
function reachCases(p: Probes): Case[] {
  const { port, udpPort, sockPath, probeFile } = p;
  const cases: Case[] = [
    ['read /etc/passwd', 'function f() { return require("fs").readFileSync("/etc/passwd", "utf8"); }', one(passwd), ['error']],
    ['read via process.binding', 'function f() { return Object.keys(process.binding("fs")).length; }', one(0), ['error']],
    ['write a file', `function f() { require("fs").writeFileSync(${JSON.stringify(probeFile)}, "x"); return "written"; }`, one('written'), ['error']],
    ['net.connect', `function f() { return new Promise((res, rej) => { const s = require("net").connect(${port}, "127.0.0.1", () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    ['unix socket', `function f() { return new Promise((res, rej) => { const s = require("net").connect(${JSON.stringify(sockPath)}, () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    ['unix socket via the raw Pipe handle', `function f() { const Pipe = process.stdout._handle.constructor; const h = new Pipe(0); return [h.bind(${JSON.stringify(sockPath + '.bound')}), h.listen(1)]; }`, one([0, 0]), ['error']],
    ['udp to 127.0.0.1', `function f() { return new Promise((res, rej) => { const s = require("dgram").createSocket("udp4"); s.send("x", ${udpPort}, "127.0.0.1", (e) => (e ? rej(e) : res("sent"))); }); }`, one('sent'), ['error']],
    ['http.get', `function f() { return new Promise((res, rej) => { require("http").get("http://127.0.0.1:${port}/", () => res("connected")).on("error", rej); }); }`, one('connected'), ['error']],
    ['tls via getBuiltinModule', `function f() { return new Promise((res, rej) => { const s = process.getBuiltinModule("tls").connect(${port}, "127.0.0.1", () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    ['spawn a process', 'function f() { return require("child_process").execSync("echo hi").toString(); }', one('hi\n'), ['error']],
    ['spawn through the raw Process handle', `function f() { const h = new (require("child_process").ChildProcess)()._handle; return h.spawn({ file: "/bin/touch", args: ["touch", ${JSON.stringify(probeFile)}], envPairs: [], stdio: [{ type: "ignore" }, { type: "ignore" }, { type: "ignore" }] }); }`, one(0), ['error']],
    ['worker fork bomb', 'function f() { const { Worker } = require("worker_threads"); for (let i = 0; i < 1000; i++) new Worker("for(;;);", { eval: true }); return "spawned"; }', one('spawned'), ['error']],
    ['read env secret', 'function f() { return process.env.R1TS_TEST_SECRET ?? JSON.stringify(process.env); }', one(secret), ['fail']],
    ['signal the parent', 'function f() { process.kill(process.ppid, "SIGKILL"); return "killed"; }', one('killed'), ['error']],
  ];
  if (process.getuid?.() === 0) cases.push(['runs as nobody, not root', 'function f() { return [process.getuid(), process.getgid()]; }', one([65534, 65534]), ['pass'], ['error']]);
  return cases;
}

/** The whole hostile suite: reaching out, plus time, memory, pollution and exits. */
function hostileCases(p: Probes): Case[] {
  return [
    ...reachCases(p),
    ['unix socket via import()', `async function f() { const net = await import("node:net"); return await new Promise((res, rej) => { const s = net.connect(${JSON.stringify(p.sockPath)}, () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    // Realm mode: the error of a refused import() is an object of the runner's realm; its Function cannot compile strings there.
    ['escape through a runner error', 'async function f() { try { await import("node:fs"); return "imported"; } catch (e) { try { return typeof e.constructor.constructor("return process")().getBuiltinModule; } catch (x) { return x.name; } } }', one('function'), ['fail']],
    ['fetch', `async function f() { const r = await fetch("http://127.0.0.1:${p.port}/"); return "connected"; }`, one('connected'), ['error']],
    ['infinite loop', 'function f() { for (;;) {} }', [{ args: [], expected: 1 }, { args: [], expected: 1 }], ['timeout', 'timeout']],
    ['setImmediate loop', 'function f() { return new Promise(() => { const spin = () => setImmediate(spin); spin(); }); }', one(1), ['timeout']],
    ['promise chain loop', 'async function f() { for (;;) await null; }', one(1), ['timeout']],
    ['top-level infinite loop', 'for (;;) {}\nfunction f() { return 1; }', one(1), ['timeout']],
    // Realm mode: no Buffer (ReferenceError), hence 'error'; the typed-array case below is the same allocation.
    ['allocate 10 GB at once', 'function f() { return Buffer.alloc(10 * 1024 ** 3).length; }', one(10 * 1024 ** 3), ['memory'], ['error']],
    ['allocate 10 GB at once (typed array)', 'function f() { return new Uint8Array(10 * 1024 ** 3).length; }', one(10 * 1024 ** 3), ['memory']],
    ['allocate 10 GB in 100 MB buffers', 'function f() { const a = []; for (let i = 0; i < 100; i++) a.push(new Uint8Array(100 * 1024 * 1024)); return a.length; }', one(100), ['memory']],
    ['pollution, wrong answer', 'function f() { Object.prototype.toJSON = () => 42; Array.prototype.toJSON = () => 42; JSON.stringify = () => "42"; Reflect.apply = () => 42; Object.keys = () => []; Number.isFinite = () => false; return 41; }', one(42), ['fail']],
    // Process mode: the trap breaks Node itself ('error'); realm mode: only the program's own realm, so its [41] is judged ('fail').
    ['pollution that breaks node', 'function f() { Object.defineProperty(Array.prototype, "0", { set() { throw new Error("trap"); }, get() { return 42; }, configurable: true }); return [41]; }', one([42]), ['error'], ['fail']],
    ['pollution, right answer', 'function f() { Object.prototype.extra = 1; Object.prototype.toJSON = () => "polluted"; JSON.stringify = () => "{}"; Map.prototype.forEach = () => {}; Object.getOwnPropertyDescriptor = () => ({ value: 7 }); return { a: [1, 2], m: new Map([["k", 1]]) }; }', one({ a: [1, 2], m: new Map([['k', 1]]) }), ['pass']],
    ['fake exit hooks', 'function f() { process.exit = () => {}; process.reallyExit = () => {}; process.on("exit", () => { for (;;) {} }); return 1; }', [{ args: [], expected: 1 }, { args: [], expected: 1 }], ['pass', 'pass']],
    ['stack overflow', 'function f() { return f() + 1; }', one(1), ['error']],
  ];
}

/** Runs the cases and checks verdicts, secrets, probes; `want` picks the verdicts of a case. */
async function runCases(sandbox: CodeSandbox, p: Probes, cases: Case[], want: (c: Case) => string[], prelude = ''): Promise<void> {
  const results = await Promise.all(cases.map(([, src, tests]) => sandbox.run(prelude + src, tests, { entry: 'f' })));
  // Let any datagram that got out arrive before counting.
  await new Promise((r) => setTimeout(r, 100));
  cases.forEach((c, i) => {
    const r = results[i];
    assert.deepEqual(verdicts(r), want(c), `${c[0]}: ${JSON.stringify(r.tests.map((t) => t.message ?? t.actual)).slice(0, 400)}`);
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${c[0]}: the secret leaked`);
  });
  assert.equal(p.connections(), 0, 'a sandboxed program reached a listening socket');
  assert.equal(existsSync(p.probeFile), false, 'a sandboxed program wrote a file');
  assert.equal(existsSync(p.sockPath + '.bound'), false, 'a sandboxed program bound a Unix socket');
}

for (const mode of modes) {
  test(`code: hostile programs are contained (${mode})`, async () => {
    // Slow hostile programs with generous clocks (so that on a loaded machine the limit under
    // test, not the clock, is what stops them), run beside the others: V8's own heap limit
    // (small heap, reached quickly), touching 10 GB of pages (RLIMIT_DATA), 100 MB of
    // output. Process mode: as one-off runs; realm mode: through a pool with those limits.
    const slow = { memoryMb: 32, timeoutMs: 30000, totalTimeoutMs: 30000 };
    const realmSlow = mode === 'realm' ? new CodeSandbox({ isolation: 'realm', concurrency: 3, warm: 0, limits: slow }) : undefined;
    const go = (src: string, tests: CodeTest[]): Promise<CodeRunResult> => (realmSlow ? realmSlow.run(src, tests) : runCode(src, tests, slow));
    const touch = mode === 'realm' ? 'new Uint8Array(100 * 1024 * 1024)' : 'Buffer.allocUnsafe(100 * 1024 * 1024)';
    const slowRuns = Promise.all([
      go('function f() { const a = []; for (;;) a.push(new Array(1e5).fill(1.5)); }', one(1)),
      go(`function f() { const a = []; for (let i = 0; i < 100; i++) { const b = ${touch}; b.fill(1); a.push(b); } return a.length; }`, one(100)),
      go('function f() { const s = "x".repeat(1 << 20); for (let i = 0; i < 100; i++) process.stdout.write(s); return 1; }', one(1)),
    ]);
    const p = await openProbes(mode);
    try {
      await runCases(pools[mode], p, hostileCases(p), (c) => (mode === 'realm' ? (c[4] ?? c[3]) : c[3]));
    } finally {
      p.close();
    }
    try {
      const [heap, touched, flood] = await slowRuns;
      assert.deepEqual(verdicts(heap), ['memory']);
      assert.deepEqual(verdicts(touched), ['memory']);
      assert.deepEqual(verdicts(flood), ['output-limit']);
      assert.ok(flood.stdout.length <= 8192);
    } finally {
      await realmSlow?.close();
    }
    // The runner is alive and well afterwards.
    assert.deepEqual(verdicts(await pools[mode].run(addSource, add)), ['pass', 'pass', 'pass']);
  });
}

// ------------------------------------------------------------------ realm mode: reuse

// Submission 1 of each pair tampers with everything it can reach; submission 2, run next on
// the same kind of pool, must get exactly its own verdicts (a right one passes, a wrong one
// fails).
const tamperings: [string, string][] = [
  [
    'pollutes the built-ins of its realm',
    `function f() {
      Object.prototype.toJSON = () => 3; Object.prototype.extra = 1; Object.prototype.valueOf = () => 3;
      Array.prototype.push = () => 0; Array.prototype.map = () => [3, 3, 3]; Array.prototype.toJSON = () => [3];
      Object.defineProperty(Array.prototype, "0", { get() { return 3; }, set() {}, configurable: true });
      Array.prototype[Symbol.iterator] = function* () { yield 3; };
      JSON.parse = () => [1, 2]; JSON.stringify = () => "3"; Reflect.apply = () => 3; Math.max = () => 3;
      Function.prototype.toString = () => "function add(a, b) { return 3; }";
      Function.prototype.call = function () { return 3; }; Function.prototype.apply = function () { return 3; };
      Promise.prototype.then = function (ok) { return ok(3); };
      Number.prototype.toString = () => "3"; String.prototype.slice = () => "3";
      globalThis.add = () => 3; globalThis.setTimeout = (cb) => cb(); globalThis.console = { log() { throw new Error("x"); } };
      Object.freeze(Object.prototype);
      return 1;
    }`,
  ],
  [
    'patches the reporting through the context',
    `function f() {
      let escaped = "no";
      try { const p = this.constructor.constructor("return process")(); p.stdout.write = () => true; p.exit = () => {}; escaped = typeof p.getBuiltinModule; } catch (e) { escaped = e.name; }
      try { const E = (() => { try { null.x; } catch (e) { return e; } })(); E.constructor.constructor("return process")().exit(); } catch {}
      return 1;
    }`,
  ],
  [
    'leaves timers and microtasks running',
    `function f() {
      setInterval(() => { for (;;) {} }, 20);
      setTimeout(() => { Object.prototype.late = 1; for (;;) {} }, 30);
      setImmediate(() => { globalThis.late = true; });
      new Promise(() => {});
      queueMicrotask(() => { Array.prototype.late = 1; });
      return 1;
    }`,
  ],
  ['leaves an unhandled rejection', 'function f() { Promise.reject(new Error("nobody handles me")); return 1; }'],
];

// A right submission 2 that uses what submission 1 polluted (timers, JSON, Array methods, promises).
const rightAfter = `async function add(a, b) {
  await new Promise((r) => setTimeout(r, 1));
  const parts = JSON.parse(JSON.stringify([a, b])).map((x) => x * 1);
  const out = []; out.push(parts[0] + parts[1]);
  console.log("sum", out[0]);
  return [...out][0];
}`;
const wrongAfter = 'function add(a, b) { return Math.max(a, b); }';

test('code: realm mode: one submission cannot change the verdicts of the next', async () => {
  // One child, so that every submission runs after the previous one in the same process.
  const sandbox = new CodeSandbox({ isolation: 'realm', concurrency: 1, warm: 1, limits });
  try {
    let lastPid: number | undefined;
    for (const [name, src] of tamperings) {
      const first = await sandbox.run(src, one(1), { entry: 'f' });
      assert.ok(first.tests.length === 1, name);
      const right = await sandbox.run(rightAfter, add);
      assert.deepEqual(verdicts(right), ['pass', 'pass', 'pass'], `${name}: ${JSON.stringify(right.tests.map((t) => t.message ?? t.actual))}`);
      assert.match(right.stdout, /^sum 3\nsum 0\nsum 0\.3/, name);
      const wrong = await sandbox.run(wrongAfter, add);
      assert.deepEqual(verdicts(wrong), ['fail', 'fail', 'fail'], name);
      assert.deepEqual(wrong.tests.map((t) => t.actual), [2, 5, 0.2], name);
      // Nothing here escapes the context: the child is reused, not recycled (the unhandled
      // rejection crashes it, as it crashes a fresh process).
      if (name !== 'leaves an unhandled rejection') {
        assert.equal(first.verdict, 'pass', name);
        assert.equal(first.worker?.retired, undefined, `${name}: ${first.worker?.retired}`);
        assert.equal(right.worker?.pid, first.worker?.pid, name);
      }
      lastPid = wrong.worker?.pid;
    }
    assert.ok(lastPid !== undefined);
  } finally {
    await sandbox.close();
  }
});

test('code: realm mode: an escaped submission is contained and cannot reach the next one', async () => {
  // exposeHostForTests puts the runner's own `process` into every context: what a program
  // would hold after escaping the vm context.
  const sandbox = new CodeSandbox({ isolation: 'realm', concurrency: 2, warm: 2, exposeHostForTests: true, limits });
  const escape = 'const process = this.constructor.constructor("return process")(); const require = (m) => process.getBuiltinModule(m);\n';
  const p = await openProbes('escaped');
  try {
    // Escaped, it is still permission-restricted, namespaced and uid-dropped: the same
    // verdicts as a program in a fresh process.
    await runCases(sandbox, p, reachCases(p), (c) => c[3], escape);
    // Tampering with the runner from outside the context, then a right and a wrong submission.
    const tamper: [string, string][] = [
      ['patches the frame writer', 'function f() { const fs = require("fs"); const w = fs.writeSync; fs.writeSync = (fd, s, ...r) => w(fd, String(s).replace(/"v":\\d+/g, \'"v":999\'), ...r); return 1; }'],
      ['patches process.stdout and exit', 'function f() { process.stdout.write = () => true; process.exit = () => {}; process.reallyExit = () => {}; return 1; }'],
      ['forges frames later from a runner timer', 'function f() { const fs = require("fs"); const t = require("timers"); t.setInterval(() => { try { fs.writeSync(3, \'{"t":"res","i":0,"ok":true,"v":999}\\n{"t":"done"}\\n\'); } catch {} }, 1); return 1; }'],
      ['adds a property to the runner process', 'function f() { process.__r1ts_backdoor = 1; return 1; }'],
    ];
    // The runner's realm is frozen: its built-ins cannot be polluted even from outside the context.
    const frozen = await sandbox.run(
      escape + 'function f() { "use strict"; const O = Object.getPrototypeOf(Object.getPrototypeOf(Object.getPrototypeOf(process))); const tries = [() => { O.polluted = 1; }, () => { O.constructor.keys = () => []; }, () => { O.constructor.getPrototypeOf(process.getBuiltinModule).call = null; }]; return [O === O.constructor.prototype, O.constructor.isFrozen(O), tries.map((t) => { try { t(); return "changed"; } catch (e) { return e.name; } })]; }',
      one([true, true, ['TypeError', 'TypeError', 'TypeError']]),
      { entry: 'f' },
    );
    assert.deepEqual(verdicts(frozen), ['pass'], JSON.stringify(frozen.tests));
    for (const [name, src] of tamper) {
      const first = await sandbox.run(escape + src, one(1), { entry: 'f' });
      assert.match(first.worker?.retired ?? '', /runner state|globals|async work|wrote to/, `${name}: ${JSON.stringify(first.worker)} ${JSON.stringify(first.tests)}`);
      const [right, wrong] = await Promise.all([sandbox.run(rightAfter, add), sandbox.run(wrongAfter, add)]);
      assert.deepEqual(verdicts(right), ['pass', 'pass', 'pass'], `${name}: ${JSON.stringify(right.tests.map((t) => t.message ?? t.actual))}`);
      assert.deepEqual(verdicts(wrong), ['fail', 'fail', 'fail'], name);
      assert.notEqual(right.worker?.pid, first.worker?.pid, name);
    }
  } finally {
    p.close();
    await sandbox.close();
  }
});

test('code: containment layers on this machine', () => {
  const c = containment();
  assert.equal(c.permissionModel, true);
  // Root machines (this one, CI) must have the kernel network wall and rlimits.
  if (process.getuid?.() === 0) {
    assert.equal(c.network, 'namespace');
    assert.equal(c.rlimits, true);
    assert.equal(c.dropsRoot, true);
  }
});

test('code: realm mode recycles a child after recycleAfter submissions', async () => {
  // (A fractional time limit: vm's own timeout takes whole milliseconds only.)
  const sandbox = new CodeSandbox({ isolation: 'realm', concurrency: 1, warm: 1, recycleAfter: 3, limits: { timeoutMs: 1500.5 } });
  try {
    const runs: CodeRunResult[] = [];
    for (let i = 0; i < 4; i++) runs.push(await sandbox.run(addSource, add));
    for (const r of runs) assert.deepEqual(verdicts(r), ['pass', 'pass', 'pass']);
    assert.deepEqual(runs.map((r) => r.worker?.run), [1, 2, 3, 1]);
    assert.match(runs[2].worker?.retired ?? '', /ran 3 submissions/);
    assert.equal(runs[0].worker?.pid, runs[2].worker?.pid);
    assert.notEqual(runs[3].worker?.pid, runs[2].worker?.pid);
    // A reused child that dies before saying anything about a job (here: killed from outside
    // while the program's top level runs) costs the job nothing: it runs again on a fresh one.
    const pid = runs[3].worker!.pid;
    const slowLoad = 'const end = Date.now() + 1000; while (Date.now() < end) {}\nfunction add(a, b) { return a + b; }';
    const pending = sandbox.run(slowLoad, add);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 'SIGKILL');
    const again = await pending;
    assert.deepEqual(verdicts(again), ['pass', 'pass', 'pass']);
    assert.notEqual(again.worker?.pid, pid);
  } finally {
    await sandbox.close();
  }
  assert.throws(() => new CodeSandbox({ isolation: 'threads' as Isolation }), /isolation='threads': expected 'realm' or 'process'/);
  assert.throws(() => new CodeSandbox({ recycleAfter: 0 }), /recycleAfter=0: expected an integer >= 1/);
  assert.throws(() => new CodeSandbox({ limits: { timeoutMs: 2 ** 31 } }), /timeoutMs=2147483648: expected at most 2147483647/);
});

test('code: the pool survives its launcher dying, and works without one', async () => {
  const withLauncher = async (): Promise<void> => {
    const pool = new CodeSandbox({ concurrency: 1, warm: 1 });
    try {
      assert.deepEqual(verdicts(await pool.run(addSource, add)), ['pass', 'pass', 'pass']);
      const pid = pool.launcherPid;
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      // The next run starts a new launcher.
      assert.deepEqual(verdicts(await pool.run(addSource, add)), ['pass', 'pass', 'pass']);
      assert.notEqual(pool.launcherPid, pid);
    } finally {
      await pool.close();
    }
  };
  const withoutLauncher = async (isolation: Isolation): Promise<void> => {
    const direct = new CodeSandbox({ isolation, concurrency: 3, warm: 1, launcher: false, limits: { timeoutMs: 1000 } });
    try {
      assert.equal(direct.launcherPid, undefined);
      const [ok, loop, env] = await Promise.all([
        direct.run(addSource, add),
        direct.run('function f() { for (;;) {} }', [{ args: [], expected: 1 }]),
        direct.run('function f() { return process.env.R1TS_TEST_SECRET; }', [{ args: [], expected: secret }]),
      ]);
      assert.deepEqual(verdicts(ok), ['pass', 'pass', 'pass']);
      assert.deepEqual(verdicts(loop), ['timeout']);
      assert.deepEqual(verdicts(env), ['fail']);
    } finally {
      await direct.close();
    }
  };
  await Promise.all([withLauncher(), withoutLauncher('realm'), withoutLauncher('process')]);
});
