// Tests of the code-execution verifier and its sandbox: value comparison and code
// extraction (no processes), then correct/wrong solutions and the hostile-program suite,
// each of which must end with a verdict while the runner stays alive. Hostile programs run
// two at a time through one pool to keep the file well under a minute.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { CodeSandbox, codeReward, containment, detectEntry, extractCode, runCode, valuesEqual, type CodeRunResult, type CodeTest } from '../../src/rewards/code.ts';

// Set before any sandbox process is spawned: the children must not see it.
const secret = `r1ts-fake-secret-${process.pid}-${Date.now()}`;
process.env.R1TS_TEST_SECRET = secret;

const sandbox = new CodeSandbox({ concurrency: 2, warm: 2, limits: { timeoutMs: 1500, totalTimeoutMs: 8000 } });
after(() => sandbox.close());

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

function verdicts(r: CodeRunResult): string[] {
  return r.tests.map((t) => t.verdict);
}

test('code: correct, wrong, async, module and error solutions', async () => {
  const [ok, wrong, asyncOk, arrow, exportsFn, esm, throws, syntax, missing, exits, fnReturn, cycle, noisy] = await Promise.all([
    sandbox.run('function add(a, b) { return a + b; }', add),
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
  // one-off run without the pool, and rewards on completions
  const [once, r1, r2, r3] = await Promise.all([
    runCode('function add(a, b) { return a + b; }', add),
    codeReward(sandbox, '<think>easy</think><answer>```js\nfunction add(a, b) { return a + b; }\n```</answer>', add),
    codeReward(sandbox, '<answer>```js\nfunction add(a, b) { if (a < 0) throw 1; return a + b; }\n```</answer>', add, { allOrNothing: true }),
    codeReward(sandbox, 'I cannot do it', add),
  ]);
  assert.deepEqual(verdicts(once), ['pass', 'pass', 'pass']);
  assert.deepEqual([r1, r2, r3], [1, 0, 0]);
});

test('code: every submission gets a fresh process', async () => {
  const src = 'function f() { globalThis.__runs = (globalThis.__runs || 0) + 1; return globalThis.__runs; }';
  const runs = await Promise.all([1, 2, 3, 4].map(() => sandbox.run(src, [{ args: [], expected: 1 }, { args: [], expected: 2 }])));
  for (const r of runs) assert.deepEqual(verdicts(r), ['pass', 'pass']);
});

test('code: hostile programs are contained', async () => {
  // A listening socket the programs try to reach; it must never see a connection.
  let connections = 0;
  const server: Server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  // A world-writable Unix socket: neither the network namespace nor the permission model
  // covers it; the JS denial of Socket.connect must.
  const sockPath = `/tmp/r1ts-sandbox-probe-${process.pid}.sock`;
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
  const probeFile = `/tmp/r1ts-sandbox-probe-${process.pid}`;
  const one = (expected: unknown): CodeTest[] => [{ args: [], expected }];
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const cases: [string, string, CodeTest[], string[]][] = [
    ['read /etc/passwd', 'function f() { return require("fs").readFileSync("/etc/passwd", "utf8"); }', one(passwd), ['error']],
    ['read via process.binding', 'function f() { return Object.keys(process.binding("fs")).length; }', one(0), ['error']],
    ['write a file', `function f() { require("fs").writeFileSync(${JSON.stringify(probeFile)}, "x"); return "written"; }`, one('written'), ['error']],
    ['net.connect', `function f() { return new Promise((res, rej) => { const s = require("net").connect(${port}, "127.0.0.1", () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    ['unix socket', `function f() { return new Promise((res, rej) => { const s = require("net").connect(${JSON.stringify(sockPath)}, () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    ['unix socket via import()', `async function f() { const net = await import("node:net"); return await new Promise((res, rej) => { const s = net.connect(${JSON.stringify(sockPath)}, () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    ['unix socket via the raw Pipe handle', `function f() { const Pipe = process.stdout._handle.constructor; const h = new Pipe(0); return [h.bind(${JSON.stringify(sockPath + '.bound')}), h.listen(1)]; }`, one([0, 0]), ['error']],
    ['udp to 127.0.0.1', `function f() { return new Promise((res, rej) => { const s = require("dgram").createSocket("udp4"); s.send("x", ${udpPort}, "127.0.0.1", (e) => (e ? rej(e) : res("sent"))); }); }`, one('sent'), ['error']],
    ['fetch', `async function f() { const r = await fetch("http://127.0.0.1:${port}/"); return "connected"; }`, one('connected'), ['error']],
    ['http.get', `function f() { return new Promise((res, rej) => { require("http").get("http://127.0.0.1:${port}/", () => res("connected")).on("error", rej); }); }`, one('connected'), ['error']],
    ['tls via getBuiltinModule', `function f() { return new Promise((res, rej) => { const s = process.getBuiltinModule("tls").connect(${port}, "127.0.0.1", () => res("connected")); s.on("error", rej); }); }`, one('connected'), ['error']],
    ['spawn a process', 'function f() { return require("child_process").execSync("echo hi").toString(); }', one('hi\n'), ['error']],
    ['spawn through the raw Process handle', `function f() { const h = new (require("child_process").ChildProcess)()._handle; return h.spawn({ file: "/bin/touch", args: ["touch", ${JSON.stringify(probeFile)}], envPairs: [], stdio: [{ type: "ignore" }, { type: "ignore" }, { type: "ignore" }] }); }`, one(0), ['error']],
    ['read env secret', 'function f() { return process.env.R1TS_TEST_SECRET ?? JSON.stringify(process.env); }', one(secret), ['fail']],
    ['signal the parent', 'function f() { process.kill(process.ppid, "SIGKILL"); return "killed"; }', one('killed'), ['error']],
    ['infinite loop', 'function f() { for (;;) {} }', [{ args: [], expected: 1 }, { args: [], expected: 1 }], ['timeout', 'timeout']],
    ['setImmediate loop', 'function f() { return new Promise(() => { const spin = () => setImmediate(spin); spin(); }); }', one(1), ['timeout']],
    ['promise chain loop', 'async function f() { for (;;) await null; }', one(1), ['timeout']],
    ['top-level infinite loop', 'for (;;) {}\nfunction f() { return 1; }', one(1), ['timeout']],
    ['allocate 10 GB at once', 'function f() { return Buffer.alloc(10 * 1024 ** 3).length; }', one(10 * 1024 ** 3), ['memory']],
    ['allocate 10 GB in 100 MB buffers', 'function f() { const a = []; for (let i = 0; i < 100; i++) a.push(new Uint8Array(100 * 1024 * 1024)); return a.length; }', one(100), ['memory']],
    ['worker fork bomb', 'function f() { const { Worker } = require("worker_threads"); for (let i = 0; i < 1000; i++) new Worker("for(;;);", { eval: true }); return "spawned"; }', one('spawned'), ['error']],
    ['pollution, wrong answer', 'function f() { Object.prototype.toJSON = () => 42; Array.prototype.toJSON = () => 42; JSON.stringify = () => "42"; Reflect.apply = () => 42; Object.keys = () => []; Number.isFinite = () => false; return 41; }', one(42), ['fail']],
    ['pollution that breaks node', 'function f() { Object.defineProperty(Array.prototype, "0", { set() { throw new Error("trap"); }, get() { return 42; }, configurable: true }); return [41]; }', one([42]), ['error']],
    ['pollution, right answer', 'function f() { Object.prototype.extra = 1; Object.prototype.toJSON = () => "polluted"; JSON.stringify = () => "{}"; Map.prototype.forEach = () => {}; Object.getOwnPropertyDescriptor = () => ({ value: 7 }); return { a: [1, 2], m: new Map([["k", 1]]) }; }', one({ a: [1, 2], m: new Map([['k', 1]]) }), ['pass']],
    ['fake exit hooks', 'function f() { process.exit = () => {}; process.reallyExit = () => {}; process.on("exit", () => { for (;;) {} }); return 1; }', [{ args: [], expected: 1 }, { args: [], expected: 1 }], ['pass', 'pass']],
    ['stack overflow', 'function f() { return f() + 1; }', one(1), ['error']],
  ];
  if (process.getuid?.() === 0) cases.push(['runs as nobody, not root', 'function f() { return [process.getuid(), process.getgid()]; }', one([65534, 65534]), ['pass']]);
  const results = await Promise.all(cases.map(([, src, tests]) => sandbox.run(src, tests)));
  // Let any datagram that got out arrive before counting.
  await new Promise((r) => setTimeout(r, 100));
  server.close();
  unixServer.close();
  udp.close();
  cases.forEach(([name, , , want], i) => {
    const r = results[i];
    assert.deepEqual(verdicts(r), want, `${name}: ${JSON.stringify(r.tests.map((t) => t.message ?? t.actual)).slice(0, 400)}`);
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${name}: the secret leaked`);
  });
  assert.equal(connections, 0, 'a sandboxed program reached the listening socket');
  assert.equal(existsSync(probeFile), false, 'a sandboxed program wrote a file');
  assert.equal(existsSync(sockPath + '.bound'), false, 'a sandboxed program bound a Unix socket');
  // Slow hostile programs, as one-off runs with generous clocks (so that on a loaded machine
  // the limit under test, not the clock, is what stops them): V8's own heap limit (small
  // heap, reached quickly), touching 10 GB of pages (RLIMIT_DATA), 100 MB of output.
  const slow = { timeoutMs: 30000, totalTimeoutMs: 30000 };
  const [heap, touched, flood] = await Promise.all([
    runCode('function f() { const a = []; for (;;) a.push(new Array(1e5).fill(1.5)); }', one(1), { memoryMb: 32, ...slow }),
    runCode('function f() { const a = []; for (let i = 0; i < 100; i++) { const b = Buffer.allocUnsafe(100 * 1024 * 1024); b.fill(1); a.push(b); } return a.length; }', one(100), { memoryMb: 32, ...slow }),
    runCode('function f() { const s = "x".repeat(1 << 20); for (let i = 0; i < 100; i++) process.stdout.write(s); return 1; }', one(1), slow),
  ]);
  assert.deepEqual(verdicts(heap), ['memory']);
  assert.deepEqual(verdicts(touched), ['memory']);
  assert.deepEqual(verdicts(flood), ['output-limit']);
  assert.ok(flood.stdout.length <= 8192);
  // The runner is alive and well afterwards.
  const ok = await sandbox.run('function add(a, b) { return a + b; }', add);
  assert.deepEqual(verdicts(ok), ['pass', 'pass', 'pass']);
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

test('code: the pool survives its launcher dying, and works without one', async () => {
  const withLauncher = async (): Promise<void> => {
    const pool = new CodeSandbox({ concurrency: 1, warm: 1 });
    try {
      assert.deepEqual(verdicts(await pool.run('function add(a, b) { return a + b; }', add)), ['pass', 'pass', 'pass']);
      const pid = pool.launcherPid;
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      // The next run starts a new launcher.
      assert.deepEqual(verdicts(await pool.run('function add(a, b) { return a + b; }', add)), ['pass', 'pass', 'pass']);
      assert.notEqual(pool.launcherPid, pid);
    } finally {
      await pool.close();
    }
  };
  const withoutLauncher = async (): Promise<void> => {
    const direct = new CodeSandbox({ concurrency: 3, warm: 1, launcher: false, limits: { timeoutMs: 1000 } });
    try {
      assert.equal(direct.launcherPid, undefined);
      const [ok, loop, env] = await Promise.all([
        direct.run('function add(a, b) { return a + b; }', add),
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
  await Promise.all([withLauncher(), withoutLauncher()]);
});
