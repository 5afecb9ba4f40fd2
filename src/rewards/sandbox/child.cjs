// The sandbox child program. Plain CommonJS, run by the parent as
// `node --experimental-permission --no-warnings ... -e <this file's text> <network> <mode>`
// (no file access at all is granted, not even to this file), inside the wrappers the parent
// chose (network namespace, rlimits). See process.ts for the whole containment and the
// threat model of the two modes.
//   mode 'process': runs ONE submission (a JavaScript function and its test inputs) in this
//     process's own realm, then exits. The submission gets the whole Node API (whatever the
//     permission model leaves).
//   mode 'realm': long-lived; runs many submissions one after another, each in a FRESH V8
//     context (node:vm) holding no object of this runner, only ECMAScript built-ins plus a
//     console, timers and a small `process` stand-in defined inside that context. Started
//     with --frozen-intrinsics and --disallow-code-generation-from-strings, so this realm's
//     built-ins cannot be changed and an object of this realm that leaks into a context
//     does not hand out `Function('return process')`.
//
// What this program does, in order, before any untrusted code runs:
//   1. captures the built-ins it needs later (so user tampering with Object.prototype,
//      JSON, Reflect, Map… cannot change what it reports);
//   2. drops root: setgroups([]), setgid/setuid(65534 "nobody") when running as root;
//   3. denies, in JS, the network entry points (net.Socket.connect, which every TCP/Unix
//      client goes through, Server.listen, fetch; dgram and dns too without a network
//      namespace), signals (process.kill) and V8 flag changes (v8.setFlagsFromString),
//      and bind/listen/connect of the raw Pipe handle class;
//   4. writes {"t":"ready"} on fd 3 and reads a job line from stdin (blocking read).
// Then for each input i it writes {"t":"start","i":i}, calls the function, awaits a
// returned promise, and writes {"t":"res",...} with the value in a tagged JSON encoding
// (written by hand, never through JSON.stringify of user objects). Finally {"t":"done"}.
// In realm mode every frame carries the job's nonce "n" (the parent ignores frames without
// it), the program's console output travels as {"t":"out"} frames, and {"t":"done"} says
// whether this process must be recycled (a timeout, a memory error, a tampered runner,
// leftover async work, a large heap); then the next job line is read.
// Frames go to fd 3; in process mode fd 1/2 are the program's own output, which the parent
// counts/caps.
// Not here: deciding pass/fail (the expected outputs never enter this process), the
// wall-clock, memory and output limits as enforced (the parent and the kernel do that).
'use strict';

// ---- 1. captured built-ins
const fs = require('fs');
const writeSync = fs.writeSync;
const ReflectApply = Reflect.apply;
const ObjectKeys = Object.keys;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectDefineProperty = Object.defineProperty;
const ObjectHasOwn = Object.hasOwn;
const ArrayIsArray = Array.isArray;
const MapCtor = Map;
const MapPrototypeHas = Map.prototype.has;
const MapPrototypeSet = Map.prototype.set;
const MapPrototypeDelete = Map.prototype.delete;
const NumberIsFinite = Number.isFinite;
const JSONStringify = JSON.stringify;
const JSONParse = JSON.parse;
const StringPrototypeSlice = String.prototype.slice;
const StringPrototypeReplace = String.prototype.replace;
const StringPrototypeIndexOf = String.prototype.indexOf;
const BufferPrototypeToString = Buffer.prototype.toString;
const RegExpPrototypeExec = RegExp.prototype.exec;
const BigIntPrototypeToString = BigInt.prototype.toString;
const MapPrototypeForEach = Map.prototype.forEach;
const SetPrototypeForEach = Set.prototype.forEach;
const MapSizeGetter = ObjectGetOwnPropertyDescriptor(Map.prototype, 'size').get;
const SetSizeGetter = ObjectGetOwnPropertyDescriptor(Set.prototype, 'size').get;
const FunctionCtor = Function;
const PromiseCtor = Promise;
const setTimeoutFn = setTimeout;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const exit = process.reallyExit ? process.reallyExit.bind(process) : process.exit.bind(process);
// process.stdout / stderr are created lazily by Node (a few ms each); keep it so, but note
// the streams when the program first touches them, to wait for their buffers later.
let stdoutStream;
let stderrStream;
for (const name of ['stdout', 'stderr']) {
  const d = ObjectGetOwnPropertyDescriptor(process, name);
  if (d && typeof d.get === 'function') {
    const get = d.get;
    ObjectDefineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable,
      get() {
        const stream = ReflectApply(get, process, []);
        if (name === 'stdout') stdoutStream = stream;
        else stderrStream = stream;
        return stream;
      },
    });
  }
}

// The writableLength getter of a stream, found on its prototype chain when it is first
// needed (require('stream') up front would cost ~10 ms per process).
let writableLengthGetter;
function pendingBytes(stream) {
  if (stream === undefined) return 0;
  try {
    if (writableLengthGetter === undefined) {
      for (let o = stream; o !== null && writableLengthGetter === undefined; o = ObjectGetPrototypeOf(o)) {
        const d = ObjectGetOwnPropertyDescriptor(o, 'writableLength');
        if (d && typeof d.get === 'function') writableLengthGetter = d.get;
      }
      if (writableLengthGetter === undefined) return 0;
    }
    return ReflectApply(writableLengthGetter, stream, []);
  } catch {
    return 0;
  }
}

// Waits until the program's buffered stdout/stderr has gone to the parent, so that the
// parent counts a test's output before it sees the test's result.
async function flushed() {
  while (pendingBytes(stdoutStream) + pendingBytes(stderrStream) > 0) await new PromiseCtor((r) => setTimeoutFn(r, 1));
}

const BufferFrom = Buffer.from;
const BufferPrototypeSubarray = Buffer.prototype.subarray;
function send(line) {
  try {
    let b = BufferFrom(line + '\n', 'utf8');
    for (;;) {
      const n = writeSync(3, b);
      if (n >= b.length) break;
      b = ReflectApply(BufferPrototypeSubarray, b, [n]); // a partial write: send the rest
    }
  } catch {
    exit(70);
  }
}

// ---- 2. drop root
let uid = -1;
try {
  if (process.getuid && process.getuid() === 0) {
    process.setgroups([]);
    process.setgid(65534);
    process.setuid(65534);
  }
  uid = process.getuid ? process.getuid() : -1;
} catch {
  uid = process.getuid ? process.getuid() : -1;
}

// ---- 3. deny network, signals and V8 flags in JS (the kernel namespace is the real wall for IP)
function denied(what) {
  return function deniedApi() {
    const e = new Error(`${what} is not allowed in the sandbox`);
    e.code = 'ERR_ACCESS_DENIED';
    throw e;
  };
}
function denyAll(mod, name) {
  for (const k of ObjectKeys(mod)) {
    if (typeof mod[k] === 'function') {
      try {
        ObjectDefineProperty(mod, k, { value: denied(`${name}.${k}`), writable: false, configurable: false });
      } catch {}
    }
  }
}
function denyProp(obj, key, label) {
  try {
    ObjectDefineProperty(obj, key, { value: denied(label), writable: false, configurable: false, enumerable: false });
  } catch {}
}
// Socket.prototype.connect is the one door of every TCP / Unix-socket client in Node (net,
// tls, http, https, http2, fetch/undici all end there), so closing it closes them all
// without loading those modules (loading net costs ~8 ms, worth it: neither the network
// namespace nor the permission model stops a connect() to a world-writable Unix socket).
const net = require('net');
denyProp(net.Socket.prototype, 'connect', 'net.Socket.connect');
denyProp(net.Server.prototype, 'listen', 'net.Server.listen');
denyProp(net, 'connect', 'net.connect');
denyProp(net, 'createConnection', 'net.createConnection');
for (const g of ['fetch', 'WebSocket', 'EventSource']) denyProp(globalThis, g, g);
// UDP and DNS (c-ares sends its own UDP) do not go through net. Inside a network namespace
// the kernel already has no route for them; without one (argv 'js-only') deny them in JS
// too. Loading the two modules costs a few ms per process, so only when needed.
if (process.argv.includes('js-only')) {
  const dgram = require('dgram');
  denyProp(dgram, 'createSocket', 'dgram.createSocket');
  for (const k of ['bind', 'connect', 'send']) denyProp(dgram.Socket.prototype, k, `dgram.Socket.${k}`);
  denyAll(require('dns'), 'dns');
  denyAll(require('dns').promises, 'dns.promises');
}
denyProp(require('v8'), 'setFlagsFromString', 'v8.setFlagsFromString');
denyProp(process, 'kill', 'process.kill');
denyProp(process, '_kill', 'process._kill');
// process.binding and process.dlopen are already refused by the permission model.

// ---- encoding of returned values (tagged JSON, built as a string)
const maxNodes = 1e6;
const maxDepth = 200;
// Thrown by encode(); recognised by identity of the class's marker, not instanceof
// (Symbol.hasInstance is user-reachable).
const encodeErrorMarker = {};
class EncodeError extends Error {
  constructor(message) {
    super(message);
    this.marker = encodeErrorMarker;
  }
}

function quote(s) {
  return JSONStringify(s); // a primitive string: no toJSON lookup
}

function encode(v) {
  let nodes = 0;
  const seen = new MapCtor(); // objects on the current path (cycle check)
  const rec = (x, depth) => {
    if (++nodes > maxNodes) throw new EncodeError('return value too large');
    if (depth > maxDepth) throw new EncodeError('return value nested too deeply');
    switch (typeof x) {
      case 'string':
        return quote(x);
      case 'number':
        if (NumberIsFinite(x)) return x === 0 && 1 / x < 0 ? '{"$r1ts":"num","v":"-0"}' : JSONStringify(x);
        return `{"$r1ts":"num","v":${quote(x !== x ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity')}}`;
      case 'boolean':
        return x ? 'true' : 'false';
      case 'undefined':
        return '{"$r1ts":"undefined"}';
      case 'bigint':
        return `{"$r1ts":"bigint","v":${quote(ReflectApply(BigIntPrototypeToString, x, []))}}`;
      case 'symbol':
      case 'function':
        throw new EncodeError(`cannot return a ${typeof x}`);
      default:
        break;
    }
    if (x === null) return 'null';
    if (ReflectApply(MapPrototypeHas, seen, [x])) throw new EncodeError('return value has a cycle');
    ReflectApply(MapPrototypeSet, seen, [x, true]);
    let out;
    if (ArrayIsArray(x)) {
      out = '[';
      const n = x.length;
      for (let i = 0; i < n; i++) {
        const d = ObjectGetOwnPropertyDescriptor(x, i);
        out += (i > 0 ? ',' : '') + rec(d && ObjectHasOwn(d, 'value') ? d.value : undefined, depth + 1);
      }
      out += ']';
    } else if (isMap(x)) {
      out = '{"$r1ts":"map","v":[';
      let first = true;
      ReflectApply(MapPrototypeForEach, x, [
        (val, key) => {
          out += (first ? '' : ',') + '[' + rec(key, depth + 1) + ',' + rec(val, depth + 1) + ']';
          first = false;
        },
      ]);
      out += ']}';
    } else if (isSet(x)) {
      out = '{"$r1ts":"set","v":[';
      let first = true;
      ReflectApply(SetPrototypeForEach, x, [
        (val) => {
          out += (first ? '' : ',') + rec(val, depth + 1);
          first = false;
        },
      ]);
      out += ']}';
    } else {
      // Any other object: its own enumerable string keys with data values (getters are not called).
      out = '{"$r1ts":"object","v":[';
      const keys = ObjectKeys(x);
      for (let i = 0; i < keys.length; i++) {
        const d = ObjectGetOwnPropertyDescriptor(x, keys[i]);
        out += (i > 0 ? ',' : '') + '[' + quote(keys[i]) + ',' + rec(d && ObjectHasOwn(d, 'value') ? d.value : undefined, depth + 1) + ']';
      }
      out += ']}';
    }
    ReflectApply(MapPrototypeDelete, seen, [x]);
    return out;
  };
  return rec(v, 0);
}

function isMap(x) {
  try {
    ReflectApply(MapSizeGetter, x, []);
    return true;
  } catch {
    return false;
  }
}
function isSet(x) {
  try {
    ReflectApply(SetSizeGetter, x, []);
    return true;
  } catch {
    return false;
  }
}

// Turns anything thrown into {name, message, memory} without trusting it.
function describeError(e) {
  let name = 'Error';
  let message = '';
  let code = '';
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      const n = e.name;
      const m = e.message;
      const c = e.code;
      if (typeof n === 'string') name = n;
      if (typeof m === 'string') message = m;
      if (typeof c === 'string') code = c;
    } else if (typeof e === 'string') message = e;
    else message = typeof e === 'symbol' ? 'a symbol' : `${e}`;
  } catch {
    message = 'unprintable error';
  }
  name = ReflectApply(StringPrototypeSlice, name, [0, 100]);
  message = ReflectApply(StringPrototypeSlice, message, [0, 2000]);
  const memory =
    ReflectApply(RegExpPrototypeExec, /allocation failed|out of memory|Invalid string length|Invalid typed array length|Array buffer/i, [message]) !== null ||
    code === 'ERR_BUFFER_TOO_LARGE' ||
    code === 'ERR_STRING_TOO_LONG' ||
    (code === 'ERR_OUT_OF_RANGE' && ReflectApply(RegExpPrototypeExec, /"size"|"length"/, [message]) !== null);
  return `{"name":${quote(name)},"message":${quote(message)},"code":${quote(code)},"memory":${memory ? 'true' : 'false'}}`;
}

// ---- 4. ready; read job lines
const REALM = process.argv.includes('realm');
// Tests only: puts this runner's `process` into every context, to simulate a vm escape.
const EXPOSE_HOST = process.argv.includes('expose-host-for-tests');

// The raw libuv Pipe handle class is reachable from any stdio stream
// (process.stdout._handle.constructor), and its bind/listen/connect would create or reach
// Unix sockets on the file system without going through net. Close those doors on the
// class itself, found through a socket on `fd` (opening the handle makes the fd
// non-blocking, so not on an fd read with readSync afterwards).
function denyPipeHandle(fd) {
  try {
    const probe = new net.Socket({ fd, readable: false, writable: false });
    const PipeProto = ObjectGetPrototypeOf(probe._handle);
    // (open(fd) stays: stdio streams need it.)
    for (const k of ['bind', 'listen', 'connect', 'fchmod']) if (ObjectHasOwn(PipeProto, k)) denyProp(PipeProto, k, `Pipe.${k}`);
  } catch {
    exit(71); // never run user code with the door open
  }
}

// Blocking reads of stdin up to the next newline; `rest` keeps what came after it.
const readSync = fs.readSync;
const readChunk = Buffer.allocUnsafe(1 << 16);
let stdinRest = '';
function readLine() {
  for (;;) {
    const nl = ReflectApply(StringPrototypeIndexOf, stdinRest, ['\n']);
    if (nl >= 0) {
      const line = ReflectApply(StringPrototypeSlice, stdinRest, [0, nl]);
      stdinRest = ReflectApply(StringPrototypeSlice, stdinRest, [nl + 1]);
      return line;
    }
    let n = 0;
    try {
      n = readSync(0, readChunk, 0, readChunk.length, null);
    } catch (e) {
      if (e && e.code === 'EAGAIN') continue;
      exit(0);
    }
    if (n === 0) exit(0); // the parent went away
    stdinRest += ReflectApply(BufferPrototypeToString, readChunk, ['utf8', 0, n]);
  }
}

// ES module syntax is tolerated: `export default` → module.exports =, `export ` dropped;
// the returned body ends by returning the entry function.
function moduleBody(source, entry) {
  let body = ReflectApply(StringPrototypeReplace, source, [/^[ \t]*export\s+default\s+/m, 'module.exports = ']);
  body = ReflectApply(StringPrototypeReplace, body, [/^([ \t]*)export\s+(?=(async\s+)?(function|const|let|var|class)\b)/gm, '$1']);
  const pick =
    typeof entry === 'string' && entry !== ''
      ? `\n;return typeof ${entry} === 'function' ? ${entry} : (typeof module.exports === 'function' ? module.exports : module.exports && module.exports[${quote(entry)}]);`
      : `\n;return typeof module.exports === 'function' ? module.exports : undefined;`;
  return body + pick;
}

function processMain() {
  send(`{"t":"ready","uid":${uid},"pid":${process.pid}}`);
  const line = readLine();
  let job;
  try {
    job = JSONParse(line);
  } catch {
    send('{"t":"load-error","error":{"name":"ProtocolError","message":"bad job line","code":"","memory":false}}');
    exit(2);
  }
  denyPipeHandle(0);
  run(job).then(
    () => exit(0),
    () => exit(3),
  );
}

async function run(job) {
  const inputs = job.inputs; // JSON text of each argument list
  let fn;
  try {
    const entry = job.entry;
    const source = moduleBody(job.source, entry);
    const module = { exports: {} };
    const factory = new FunctionCtor('require', 'module', 'exports', source);
    fn = ReflectApply(factory, undefined, [require, module, module.exports]);
    if (typeof fn !== 'function') throw new TypeError(`entry function ${quote(entry ?? '(module.exports)')} not found`);
  } catch (e) {
    send(`{"t":"load-error","error":${describeError(e)}}`);
    return;
  }
  for (let i = 0; i < inputs.length; i++) {
    send(`{"t":"start","i":${i}}`);
    let frame;
    let r;
    let threw = false;
    try {
      const args = JSONParse(inputs[i]);
      r = ReflectApply(fn, undefined, args);
      if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') r = await r;
    } catch (e) {
      threw = true;
      frame = `{"t":"res","i":${i},"ok":false,"error":${describeError(e)}}`;
    }
    if (!threw) {
      try {
        frame = `{"t":"res","i":${i},"ok":true,"v":${encode(r)}}`;
      } catch (e) {
        let ours = false;
        try {
          ours = e !== null && typeof e === 'object' && ObjectHasOwn(e, 'marker') && e.marker === encodeErrorMarker;
        } catch {}
        const msg = ours ? quote(ReflectApply(StringPrototypeSlice, e.message, [0, 200])) : '"the return value could not be encoded"';
        // A user getter or Proxy trap that throws lands here too; memory errors keep their kind.
        frame = ours
          ? `{"t":"res","i":${i},"ok":false,"error":{"name":"EncodeError","message":${msg},"code":"","memory":false}}`
          : `{"t":"res","i":${i},"ok":false,"error":${describeError(e)}}`;
      }
    }
    await flushed();
    send(frame);
  }
  send('{"t":"done"}');
}

// ---- realm mode: many submissions, each in a fresh V8 context

// Evaluated inside each new context before the submission's code: defines the globals a
// submission gets (console, timers, queueMicrotask, a `process` stand-in) out of the
// context's own built-ins, and returns the runner's handle on the context. The runner's
// functions it receives stay in this closure: the program can call them only through the
// wrappers below, which pass primitives and never let an error of the runner's realm
// reach the program.
const BOOT = `(function boot(hostWrite, hostTimer, hostClear, hostExit, hostSettle, key, hostProcess) {
  'use strict';
  const g = globalThis;
  const ReflectApply = Reflect.apply;
  const JSONParse = JSON.parse;
  const JSONStringify = JSON.stringify;
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectFreeze = Object.freeze;
  const StringCtor = String;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const PromiseCtor = Promise;
  const PromisePrototypeThen = Promise.prototype.then;
  const SymbolPrototypeToString = Symbol.prototype.toString;
  const MapCtor = Map;
  const MapGet = Map.prototype.get;
  const MapSet = Map.prototype.set;
  const MapDelete = Map.prototype.delete;
  const resolved = new PromiseCtor((r) => r());
  // Async sources the runner could not cancel when the submission ends.
  delete g.FinalizationRegistry;
  if (typeof Atomics === 'object') delete Atomics.waitAsync;
  function host(fn, a, b, c) {
    try {
      return fn(a, b, c);
    } catch {
      throw new RangeErrorCtor('sandbox runner call failed');
    }
  }
  const define = (name, value) => ObjectDefineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });

  const timers = new MapCtor();
  let nextTimer = 1;
  function addTimer(kind, cb, ms, args) {
    if (typeof cb !== 'function') throw new TypeErrorCtor('The "callback" argument must be of type function');
    let delay = +ms;
    if (!(delay >= 1)) delay = 1;
    if (delay > 2147483647) delay = 1;
    const id = nextTimer++;
    ReflectApply(MapSet, timers, [id, { cb, args }]);
    host(hostTimer, kind, id, delay);
    return id;
  }
  function clearTimer(id) {
    if (typeof id !== 'number' || !ReflectApply(MapDelete, timers, [id])) return;
    host(hostClear, id);
  }
  function fire(id, repeat) {
    const t = ReflectApply(MapGet, timers, [id]);
    if (t === undefined) return;
    if (!repeat) ReflectApply(MapDelete, timers, [id]);
    ReflectApply(t.cb, undefined, t.args);
  }
  function queueMicrotask(cb) {
    if (typeof cb !== 'function') throw new TypeErrorCtor('The "callback" argument must be of type function');
    ReflectApply(PromisePrototypeThen, resolved, [() => ReflectApply(cb, undefined, [])]);
  }
  define('setTimeout', function setTimeout(cb, ms, ...args) { return addTimer('timeout', cb, ms, args); });
  define('setInterval', function setInterval(cb, ms, ...args) { return addTimer('interval', cb, ms, args); });
  define('setImmediate', function setImmediate(cb, ...args) { return addTimer('immediate', cb, 0, args); });
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  define('clearImmediate', clearTimer);
  define('queueMicrotask', queueMicrotask);

  // console: a plain formatter (strings as they are, other values as JSON where possible).
  function show(x) {
    if (typeof x === 'string') return x;
    if (typeof x === 'symbol') return ReflectApply(SymbolPrototypeToString, x, []);
    if (typeof x === 'function') return '[Function]';
    if (x === null || typeof x !== 'object') return StringCtor(x);
    try {
      const j = JSONStringify(x);
      if (typeof j === 'string') return j;
    } catch {}
    try {
      return StringCtor(x);
    } catch {
      return '[object]';
    }
  }
  function line(args) {
    let s = '';
    for (let i = 0; i < args.length; i++) s += (i === 0 ? '' : ' ') + show(args[i]);
    return s + '\\n';
  }
  const toStdout = (...args) => { host(hostWrite, 1, line(args)); };
  const toStderr = (...args) => { host(hostWrite, 2, line(args)); };
  define('console', { log: toStdout, info: toStdout, debug: toStdout, dir: toStdout, table: toStdout, warn: toStderr, error: toStderr, trace: toStderr });

  if (hostProcess !== undefined) define('process', hostProcess); // tests only: a simulated escape
  else {
    const stream = (fd) => ({
      isTTY: false,
      write(s) {
        host(hostWrite, fd, typeof s === 'string' ? s : StringCtor(s));
        return true;
      },
    });
    const proc = {
      env: {},
      argv: ['node'],
      platform: 'linux',
      stdout: stream(1),
      stderr: stream(2),
      exit(code) { host(hostExit, code === undefined ? 0 : +code); },
      nextTick(cb, ...args) { queueMicrotask(() => ReflectApply(cb, undefined, args)); },
      on() { return proc; },
      once() { return proc; },
      off() { return proc; },
      removeListener() { return proc; },
      emit() { return false; },
    };
    define('process', proc);
  }

  // The runner's handle: load the program, prepare test calls, fire timers. The vm Script
  // the runner runs under its time limit calls this[key](), which runs what was prepared.
  let fn;
  let pending;
  let testGen = 0;
  function runPending() {
    const p = pending;
    pending = undefined;
    if (p !== undefined) p();
  }
  ObjectDefineProperty(g, key, { value: runPending, writable: false, enumerable: false, configurable: false });
  function settle(gen, ok, v) {
    if (gen === testGen) host(hostSettle, gen, ok, v);
  }
  return ObjectFreeze({
    load(factory, name) {
      pending = () => {
        const module = { exports: {} };
        const f = ReflectApply(factory, undefined, [module, module.exports]);
        if (typeof f !== 'function') throw new TypeErrorCtor('entry function ' + name + ' not found');
        fn = f;
      };
    },
    test(argsJson) {
      const gen = ++testGen;
      pending = () => {
        const r = ReflectApply(fn, undefined, JSONParse(argsJson));
        if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
          const p = new PromiseCtor((res) => res(r));
          ReflectApply(PromisePrototypeThen, p, [(v) => settle(gen, true, v), (e) => settle(gen, false, e)]);
        } else settle(gen, true, r);
      };
      return gen;
    },
    fire,
  });
})`;

function realmMain() {
  const vm = require('vm');
  const v8 = require('v8');
  const createContext = vm.createContext;
  const compileFunction = vm.compileFunction;
  const ScriptCtor = vm.Script;
  const ScriptPrototypeRunInContext = vm.Script.prototype.runInContext;
  const ObjectCreate = Object.create;
  const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
  const ObjectPrototypeIsPrototypeOf = Object.prototype.isPrototypeOf;
  const ErrorPrototype = Error.prototype;
  const ArrayPrototypeSort = Array.prototype.sort;
  const ArrayPrototypeJoin = Array.prototype.join;
  const MathRandom = Math.random;
  const MathCeil = Math.ceil;
  const MathMin = Math.min;
  const NumberPrototypeToString = Number.prototype.toString;
  const BufferByteLength = Buffer.byteLength;
  const setIntervalFn = setInterval;
  const setImmediateFn = setImmediate;
  const clearTimeoutFn = clearTimeout;
  const clearIntervalFn = clearInterval;
  const clearImmediateFn = clearImmediate;
  const getActiveResources = process.getActiveResourcesInfo;
  const MapPrototypeGet = Map.prototype.get;
  const MapPrototypeClear = Map.prototype.clear;
  const getHeapStatistics = v8.getHeapStatistics;
  const rss = process.memoryUsage.rss;

  denyPipeHandle(1); // fd 0 stays blocking for readLine; fd 1 is not written in this mode

  const key = '__r1ts_' + ReflectApply(StringPrototypeSlice, ReflectApply(NumberPrototypeToString, MathRandom(), [36]), [2]);
  const callScript = new ScriptCtor(`'use strict'; this.${key}();`, { filename: 'r1ts-runner' });
  const bootScript = new ScriptCtor(BOOT, { filename: 'r1ts-boot' });
  const heapLimit = getHeapStatistics().heap_size_limit;

  // Tamper checks, run after each submission: what an escaped program would have to change
  // to reach a later one. Properties are compared by descriptor (no getter is called).
  const watched = [];
  const watch = (obj, k) => {
    const d = ObjectGetOwnPropertyDescriptor(obj, k);
    watched[watched.length] = [obj, k, d === undefined ? undefined : d.get ?? d.value];
  };
  for (const k of ['writeSync', 'readSync', 'write', 'read']) watch(fs, k);
  for (const k of ['stdout', 'stderr', 'stdin', 'exit', 'reallyExit', 'emit', 'on', 'nextTick', 'getActiveResourcesInfo', 'binding', 'dlopen']) watch(process, k);
  for (const k of ['createContext', 'compileFunction', 'Script', 'runInContext']) watch(vm, k);
  watch(vm.Script.prototype, 'runInContext');
  for (const k of ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'queueMicrotask', 'process', 'Buffer', 'require']) watch(globalThis, k);
  const namesOf = (o) => ObjectGetOwnPropertyNames(o).length;
  const globalNames = namesOf(globalThis);
  const processNames = namesOf(process);
  const resourcesText = () => ReflectApply(ArrayPrototypeJoin, ReflectApply(ArrayPrototypeSort, ReflectApply(getActiveResources, process, []), []), [',']);
  const baselineResources = resourcesText();
  function tampered() {
    for (let i = 0; i < watched.length; i++) {
      const [obj, k, v] = watched[i];
      const d = ObjectGetOwnPropertyDescriptor(obj, k);
      if ((d === undefined ? undefined : d.get ?? d.value) !== v) return `runner state changed (${k})`;
    }
    if (namesOf(globalThis) !== globalNames || namesOf(process) !== processNames) return 'runner globals changed';
    const now = resourcesText();
    if (now !== baselineResources) return `async work left behind (${ReflectApply(StringPrototypeSlice, now, [0, 200])})`;
    return '';
  }

  // Per-job state, read by the functions the context receives.
  let jobGen = 0;
  let nonce = '';
  let outLimit = 0;
  let outCount = 0;
  let expectGen = -1;
  let settled;
  let wake;
  let fireTimer;
  const handles = new MapCtor(); // timer id → [kind, host handle]
  const timerHost = (kind, id, ms) => {
    if (typeof id !== 'number' || typeof ms !== 'number') return;
    const gen = jobGen;
    const fire = fireTimer;
    const cb = () => {
      if (gen !== jobGen) return;
      if (kind !== 'interval') ReflectApply(MapPrototypeDelete, handles, [id]);
      ReflectApply(fire, undefined, [id, kind === 'interval']);
    };
    const h = kind === 'immediate' ? setImmediateFn(cb) : kind === 'interval' ? setIntervalFn(cb, ms) : setTimeoutFn(cb, ms);
    ReflectApply(MapPrototypeSet, handles, [id, [kind, h]]);
  };
  const clearOne = (kind, h) => (kind === 'immediate' ? clearImmediateFn(h) : kind === 'interval' ? clearIntervalFn(h) : clearTimeoutFn(h));
  const clearHost = (id) => {
    const e = ReflectApply(MapPrototypeGet, handles, [id]);
    if (e === undefined) return;
    ReflectApply(MapPrototypeDelete, handles, [id]);
    clearOne(e[0], e[1]);
  };
  const writeHost = (fd, s) => {
    if (typeof s !== 'string' || (fd !== 1 && fd !== 2)) return;
    const bytes = BufferByteLength(s, 'utf8');
    if (outCount + bytes > outLimit) {
      // Past the limit: report enough to put the parent over it, and stop here.
      send(`{"t":"out","n":${quote(nonce)},"fd":${fd},"s":${quote(ReflectApply(StringPrototypeSlice, s, [0, outLimit - outCount + 1]))}}`);
      exit(76);
    }
    outCount += bytes;
    send(`{"t":"out","n":${quote(nonce)},"fd":${fd},"s":${quote(s)}}`);
  };
  const exitHost = (code) => exit(typeof code === 'number' && code === code ? code | 0 : 1);
  const settleHost = (gen, ok, v) => {
    if (gen !== expectGen || settled !== undefined) return;
    settled = { ok: ok === true, v };
    if (wake !== undefined) wake();
  };
  const hostProcess = EXPOSE_HOST ? process : undefined;
  // vm's time limit ends the script with ERR_SCRIPT_EXECUTION_TIMEOUT; the elapsed time
  // tells it from a program that throws an object with that code.
  const DateNow = Date.now;
  const isTimeout = (e, since, limit) => {
    try {
      return DateNow() - since >= limit - 1 && e !== null && typeof e === 'object' && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
    } catch {
      return false;
    }
  };
  const timeoutError = '{"name":"TimeoutError","message":"time limit exceeded","code":"","memory":false,"timeout":true}';

  send(`{"t":"ready","uid":${uid},"pid":${process.pid}}`);
  const loop = async () => {
    for (;;) {
      const line = readLine();
      let job;
      try {
        job = JSONParse(line);
      } catch {
        exit(2);
      }
      const recycle = await runJob(job);
      send(`{"t":"done","n":${quote(nonce)},"recycle":${quote(recycle)}}`);
    }
  };
  loop().then(
    () => exit(0),
    () => exit(3),
  );

  // Runs one job; returns why the process must be recycled ('' when it may be reused).
  async function runJob(job) {
    jobGen++;
    nonce = typeof job.n === 'string' ? job.n : '';
    outLimit = typeof job.outputBytes === 'number' ? job.outputBytes : 1 << 20;
    outCount = 0;
    // vm wants a whole number of milliseconds below 2^32.
    const timeout = typeof job.timeoutMs === 'number' && job.timeoutMs > 0 ? MathMin(MathCeil(job.timeoutMs), 0xffffffff) : 2000;
    const inputs = job.inputs;
    const runOpts = { timeout, breakOnSigint: false };
    const n = `,"n":${quote(nonce)}`;
    let recycle = '';
    let ctx = createContext(ObjectCreate(null), { codeGeneration: { strings: true, wasm: false } });
    const boot = ReflectApply(ScriptPrototypeRunInContext, bootScript, [ctx]);
    const api = boot(writeHost, timerHost, clearHost, exitHost, settleHost, key, hostProcess);
    const load = api.load;
    const test = api.test;
    fireTimer = api.fire;
    const call = () => ReflectApply(ScriptPrototypeRunInContext, callScript, [ctx, runOpts]);
    let loaded = false;
    let since = DateNow();
    try {
      const factory = compileFunction(moduleBody(job.source, job.entry), ['module', 'exports'], { parsingContext: ctx, filename: 'submission.js' });
      load(factory, quote(job.entry ?? '(module.exports)'));
      since = DateNow();
      call();
      loaded = true;
    } catch (e) {
      if (isTimeout(e, since, timeout)) {
        recycle = 'timeout';
        send(`{"t":"load-error"${n},"error":${timeoutError}}`);
      } else send(`{"t":"load-error"${n},"error":${describeError(e)}}`);
    }
    for (let i = 0; loaded && i < inputs.length; i++) {
      send(`{"t":"start"${n},"i":${i}}`);
      let frame;
      settled = undefined;
      wake = undefined;
      try {
        expectGen = test(inputs[i]);
        since = DateNow();
        call();
        if (settled === undefined) await new PromiseCtor((r) => (wake = r));
        const s = settled;
        if (s.ok) frame = `{"t":"res"${n},"i":${i},"ok":true,"v":${encode(s.v)}}`;
        else {
          const err = describeError(s.v);
          if (ReflectApply(RegExpPrototypeExec, /"memory":true/, [err]) !== null) recycle ||= 'memory error';
          frame = `{"t":"res"${n},"i":${i},"ok":false,"error":${err}}`;
        }
      } catch (e) {
        if (isTimeout(e, since, timeout)) {
          recycle = 'timeout';
          send(`{"t":"res"${n},"i":${i},"ok":false,"error":${timeoutError}}`);
          break; // the rest are not run, as when a fresh process is killed
        }
        let ours = false;
        try {
          ours = e !== null && typeof e === 'object' && ObjectHasOwn(e, 'marker') && e.marker === encodeErrorMarker;
        } catch {}
        const err = ours ? `{"name":"EncodeError","message":${quote(ReflectApply(StringPrototypeSlice, e.message, [0, 200]))},"code":"","memory":false}` : describeError(e);
        if (ReflectApply(RegExpPrototypeExec, /"memory":true/, [err]) !== null) recycle ||= 'memory error';
        frame = `{"t":"res"${n},"i":${i},"ok":false,"error":${err}}`;
      }
      send(frame);
    }
    // End of the submission: cancel its timers, drop the context, let one macrotask turn
    // pass (microtasks it left run now; a never-ending chain of them never lets this
    // resolve, and the parent's clock recycles the process), then check the runner.
    expectGen = -1;
    jobGen++;
    ReflectApply(MapPrototypeForEach, handles, [(e) => clearOne(e[0], e[1])]);
    ReflectApply(MapPrototypeClear, handles, []);
    fireTimer = undefined;
    ctx = undefined;
    await new PromiseCtor((r) => setImmediateFn(r));
    recycle ||= tampered();
    if (!recycle && getHeapStatistics().used_heap_size > heapLimit / 2) recycle = 'large heap';
    if (!recycle && rss() > (heapLimit + (768 << 20)) / 2) recycle = 'large memory';
    return recycle;
  }
}

// Last, so that every declaration above is initialised.
if (REALM) realmMain();
else processMain();
