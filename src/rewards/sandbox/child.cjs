// The sandbox child program: runs ONE submission (a JavaScript function and its test
// inputs) and reports what the function returned for each input. Plain CommonJS, run by
// the parent as `node --experimental-permission --no-warnings ... -e <this file's text>`
// (no file access at all is granted, not even to this file), inside the wrappers the
// parent chose (network/pid namespace, rlimits). See pool.ts for the whole containment.
//
// What this program does, in order, before any untrusted code runs:
//   1. captures the built-ins it needs later (so user tampering with Object.prototype,
//      JSON, Reflect, Map… cannot change what it reports);
//   2. drops root: setgroups([]), setgid/setuid(65534 "nobody") when running as root;
//   3. denies, in JS, the network entry points (net.Socket.connect, which every TCP/Unix
//      client goes through, Server.listen, fetch; dgram and dns too without a network
//      namespace), signals (process.kill) and V8 flag changes (v8.setFlagsFromString),
//      and, once the job is read, bind/listen/connect of the raw Pipe handle class;
//   4. writes {"t":"ready"} on fd 3 and reads one job line from stdin (blocking read).
// Then for each input i it writes {"t":"start","i":i}, calls the function, awaits a
// returned promise, and writes {"t":"res",...} with the value in a tagged JSON encoding
// (written by hand, never through JSON.stringify of user objects). Finally {"t":"done"}.
// Frames go to fd 3; fd 1/2 are the program's own output, which the parent counts/caps.
// Not here: deciding pass/fail (the expected outputs never enter this process), time,
// memory and output limits (the parent and the kernel enforce those).
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

function send(line) {
  try {
    writeSync(3, line + '\n');
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

// ---- 4. ready; read one job line
send(`{"t":"ready","uid":${uid},"pid":${process.pid}}`);

// A blocking read: nothing else to do until the job comes, and no stdin stream to build.
const readSync = fs.readSync;
let line = '';
{
  const chunk = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    let n = 0;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e && e.code === 'EAGAIN') continue;
      exit(0);
    }
    if (n === 0) exit(0); // the parent went away before sending a job
    line += chunk.toString('utf8', 0, n);
    if (line.indexOf('\n') >= 0) break;
  }
}
let job;
try {
  job = JSONParse(ReflectApply(StringPrototypeSlice, line, [0, line.indexOf('\n')]));
} catch {
  send('{"t":"load-error","error":{"name":"ProtocolError","message":"bad job line","code":"","memory":false}}');
  exit(2);
}
// The raw libuv Pipe handle class is reachable from any stdio stream
// (process.stdout._handle.constructor), and its bind/listen/connect would create or reach
// Unix sockets on the file system without going through net. Close those doors on the
// class itself. The class is found through a socket on fd 0, now that the job is read
// (opening the handle makes the fd non-blocking).
try {
  const probe = new net.Socket({ fd: 0, readable: false, writable: false });
  const PipeProto = ObjectGetPrototypeOf(probe._handle);
  // (open(fd) stays: stdio streams need it.)
  for (const k of ['bind', 'listen', 'connect', 'fchmod']) if (ObjectHasOwn(PipeProto, k)) denyProp(PipeProto, k, `Pipe.${k}`);
} catch {
  exit(71); // never run user code with the door open
}

run(job).then(
  () => exit(0),
  () => exit(3),
);

async function run(job) {
  const inputs = job.inputs; // JSON text of each argument list
  let fn;
  try {
    // ES module syntax is tolerated: `export default` → module.exports =, `export ` dropped.
    let source = ReflectApply(StringPrototypeReplace, job.source, [/^[ \t]*export\s+default\s+/m, 'module.exports = ']);
    source = ReflectApply(StringPrototypeReplace, source, [/^([ \t]*)export\s+(?=(async\s+)?(function|const|let|var|class)\b)/gm, '$1']);
    const entry = job.entry;
    const pick =
      typeof entry === 'string' && entry !== ''
        ? `\n;return typeof ${entry} === 'function' ? ${entry} : (typeof module.exports === 'function' ? module.exports : module.exports && module.exports[${quote(entry)}]);`
        : `\n;return typeof module.exports === 'function' ? module.exports : undefined;`;
    const module = { exports: {} };
    const factory = new FunctionCtor('require', 'module', 'exports', source + pick);
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
