// GGUF (version 3) container read/write: typed metadata key/values, tensor
// infos and aligned tensor data, F32 and F16 tensors. This is the format
// layer only; which metadata keys and tensor names llama.cpp expects for
// each architecture (llama, qwen2, deepseek2) is gguf-model.ts.
// Reading validates everything before allocating (counts and lengths bounded
// by the file size, dims by GGML's 4, offsets aligned and inside the data,
// sizes from type × shape), so a lying header gives an error, not a huge
// allocation. Writes are atomic (temp file, fsync, rename).
// Layout facts: dims are stored fastest-varying first (GGML's ne[0] is the
// last dim of a row-major shape); offsets are relative to the data section,
// which starts at the first multiple of general.alignment (default 32).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { R1tsError } from '../core/errors.ts';
import { writeFileAtomic } from '../core/atomic.ts';
import { f16ToF32, f32ToF16 } from './safetensors.ts';

export class GgufError extends R1tsError {}

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
export type GgufValue =
  | { type: Exclude<GgufScalarType, 'string' | 'bool' | 'u64' | 'i64'>; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; elem: GgufScalarType; value: (number | bigint | boolean | string)[] };

const TYPE_ID: Record<GgufScalarType | 'array', number> = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 };
const TYPE_NAME = Object.fromEntries(Object.entries(TYPE_ID).map(([k, v]) => [v, k])) as Record<number, GgufScalarType | 'array'>;
const SCALAR_SIZE: Record<Exclude<GgufScalarType, 'string'>, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };

export type GgmlType = 'F32' | 'F16';
const GGML_ID: Record<GgmlType, number> = { F32: 0, F16: 1 };
const GGML_SIZE: Record<GgmlType, number> = { F32: 4, F16: 2 };
const MAGIC = 0x46554747; // "GGUF" little endian
const MAX_DIMS = 4;

export interface GgufTensorInfo {
  name: string;
  /** Row-major shape (the file stores it reversed). */
  shape: number[];
  type: GgmlType;
  /** Byte offset within the data section. */
  offset: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** File offset of the data section. */
  dataStart: number;
}

// ------------------------------------------------------------------ writing

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  scalar(type: Exclude<GgufScalarType, 'string'>, v: number | bigint | boolean): void {
    const b = new Uint8Array(SCALAR_SIZE[type]);
    const dv = new DataView(b.buffer);
    switch (type) {
      case 'u8': dv.setUint8(0, v as number); break;
      case 'i8': dv.setInt8(0, v as number); break;
      case 'u16': dv.setUint16(0, v as number, true); break;
      case 'i16': dv.setInt16(0, v as number, true); break;
      case 'u32': dv.setUint32(0, v as number, true); break;
      case 'i32': dv.setInt32(0, v as number, true); break;
      case 'f32': dv.setFloat32(0, v as number, true); break;
      case 'bool': dv.setUint8(0, v ? 1 : 0); break;
      case 'u64': dv.setBigUint64(0, BigInt(v as bigint), true); break;
      case 'i64': dv.setBigInt64(0, BigInt(v as bigint), true); break;
      case 'f64': dv.setFloat64(0, v as number, true); break;
      default: ((x: never) => x)(type);
    }
    this.bytes(b);
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.scalar('u64', BigInt(b.length));
    this.bytes(b);
  }
  value(v: GgufValue): void {
    if (v.type === 'string') this.string(v.value);
    else if (v.type === 'array') {
      this.scalar('u32', TYPE_ID[v.elem]);
      this.scalar('u64', BigInt(v.value.length));
      for (const x of v.value) {
        if (v.elem === 'string') this.string(x as string);
        else this.scalar(v.elem, x as number);
      }
    } else this.scalar(v.type, v.value);
  }
  concat(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

export interface GgufTensorToWrite {
  shape: readonly number[];
  data: Float32Array;
  type?: GgmlType;
}

/** Writes a GGUF v3 file atomically; general.alignment (u32) in metadata sets the alignment (default 32). */
export function writeGguf(path: string, metadata: Map<string, GgufValue>, tensors: Map<string, GgufTensorToWrite>): void {
  const alignV = metadata.get('general.alignment');
  const alignment = alignV && alignV.type === 'u32' ? alignV.value : 32;
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) throw new GgufError(`general.alignment ${alignment} must be a power of two`);
  const head = new Writer();
  head.scalar('u32', MAGIC);
  head.scalar('u32', 3);
  head.scalar('u64', BigInt(tensors.size));
  head.scalar('u64', BigInt(metadata.size));
  for (const [k, v] of metadata) {
    head.string(k);
    head.scalar('u32', TYPE_ID[v.type]);
    head.value(v);
  }
  const blobs: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of tensors) {
    const type = t.type ?? 'F32';
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new GgufError(`tensor '${name}': ${t.data.length} values do not fill shape [${t.shape.join(', ')}]`);
    if (t.shape.length < 1 || t.shape.length > MAX_DIMS) throw new GgufError(`tensor '${name}': ${t.shape.length} dims (GGUF allows 1 to ${MAX_DIMS})`);
    head.string(name);
    head.scalar('u32', t.shape.length);
    for (const d of [...t.shape].reverse()) head.scalar('u64', BigInt(d));
    head.scalar('u32', GGML_ID[type]);
    head.scalar('u64', BigInt(off));
    const b = new Uint8Array(numel * GGML_SIZE[type]);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < numel; i++) {
      if (type === 'F32') dv.setFloat32(4 * i, t.data[i], true);
      else dv.setUint16(2 * i, f32ToF16(t.data[i]), true);
    }
    const padded = Math.ceil(b.length / alignment) * alignment;
    blobs.push(b, new Uint8Array(padded - b.length));
    off += padded;
  }
  const h = head.concat();
  const pad = new Uint8Array(Math.ceil(h.length / alignment) * alignment - h.length);
  writeFileAtomic(path, [h, pad, ...blobs]);
}

// ------------------------------------------------------------------ reading

class Reader {
  pos = 0;
  constructor(private fd: number, readonly size: number, private path: string) {}
  fail(msg: string): never {
    throw new GgufError(`${this.path}: ${msg} (at byte ${this.pos})`);
  }
  take(n: number): DataView {
    if (n > this.size - this.pos) this.fail(`needs ${n} more bytes but the file ends (truncated or corrupted)`);
    const b = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, b, got, n - got, this.pos + got);
      if (r === 0) this.fail('unexpected end of file');
      got += r;
    }
    this.pos += n;
    return new DataView(b.buffer);
  }
  u32(): number {
    return this.take(4).getUint32(0, true);
  }
  u64(what: string): number {
    const v = this.take(8).getBigUint64(0, true);
    if (v > BigInt(this.size)) this.fail(`${what} ${v} exceeds the file size ${this.size}`);
    return Number(v);
  }
  string(what: string): string {
    const n = this.u64(`length of ${what}`);
    const dv = this.take(n);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(dv);
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }
  scalar(type: GgufScalarType, what: string): number | bigint | boolean | string {
    if (type === 'string') return this.string(what);
    const dv = this.take(SCALAR_SIZE[type]);
    switch (type) {
      case 'u8': return dv.getUint8(0);
      case 'i8': return dv.getInt8(0);
      case 'u16': return dv.getUint16(0, true);
      case 'i16': return dv.getInt16(0, true);
      case 'u32': return dv.getUint32(0, true);
      case 'i32': return dv.getInt32(0, true);
      case 'f32': return dv.getFloat32(0, true);
      case 'bool': {
        const b = dv.getUint8(0);
        if (b > 1) this.fail(`${what}: bool byte ${b} is neither 0 nor 1`);
        return b === 1;
      }
      case 'u64': return dv.getBigUint64(0, true);
      case 'i64': return dv.getBigInt64(0, true);
      case 'f64': return dv.getFloat64(0, true);
      default: return type satisfies never;
    }
  }
  typeId(what: string): GgufScalarType | 'array' {
    const id = this.u32();
    const t = TYPE_NAME[id];
    if (!t) this.fail(`${what}: unknown value type ${id}`);
    return t;
  }
}

/** Parses and validates a GGUF file's header (metadata and tensor infos). */
export function readGgufHeader(path: string): GgufFile {
  const fd = openSync(path, 'r');
  try {
    return parse(new Reader(fd, fstatSync(fd).size, path));
  } finally {
    closeSync(fd);
  }
}

function parse(r: Reader): GgufFile {
  if (r.size < 24) r.fail(`not a GGUF file: ${r.size} bytes, shorter than a GGUF header`);
  if (r.u32() !== MAGIC) {
    r.pos = 0;
    r.fail('not a GGUF file (bad magic)');
  }
  const version = r.u32();
  if (version !== 2 && version !== 3) r.fail(`GGUF version ${version} is not supported (expected 2 or 3)`);
  const nTensors = r.u64('tensor count');
  const nKv = r.u64('metadata count');
  // Every entry needs at least 8 (+4) bytes: bound the counts by the file before looping.
  if (nKv * 12 + nTensors * 20 > r.size) r.fail(`${nKv} metadata entries and ${nTensors} tensors cannot fit in ${r.size} bytes`);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = r.string(`metadata key ${i}`);
    if (metadata.has(key)) r.fail(`duplicate metadata key '${key}'`);
    const type = r.typeId(`metadata '${key}'`);
    if (type === 'array') {
      const elem = r.typeId(`metadata '${key}' element`);
      if (elem === 'array') r.fail(`metadata '${key}': nested arrays are not supported`);
      const n = r.u64(`metadata '${key}' length`);
      const min = elem === 'string' ? 8 : SCALAR_SIZE[elem];
      if (n * min > r.size - r.pos) r.fail(`metadata '${key}': ${n} elements cannot fit in the rest of the file`);
      const value: (number | bigint | boolean | string)[] = new Array(n);
      for (let j = 0; j < n; j++) value[j] = r.scalar(elem, `metadata '${key}'[${j}]`);
      metadata.set(key, { type: 'array', elem, value });
    } else {
      metadata.set(key, { type, value: r.scalar(type, `metadata '${key}'`) } as GgufValue);
    }
  }
  const alignV = metadata.get('general.alignment');
  const alignment = alignV === undefined ? 32 : alignV.type === 'u32' ? alignV.value : r.fail('general.alignment must be a u32');
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) r.fail(`general.alignment ${alignment} is not a power of two`);
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = r.string(`tensor name ${i}`);
    if (names.has(name)) r.fail(`duplicate tensor '${name}'`);
    names.add(name);
    const nd = r.u32();
    if (nd < 1 || nd > MAX_DIMS) r.fail(`tensor '${name}': ${nd} dims (expected 1 to ${MAX_DIMS})`);
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) ne.push(r.u64(`tensor '${name}' dim ${d}`));
    const typeId = r.u32();
    const type = (Object.keys(GGML_ID) as GgmlType[]).find((k) => GGML_ID[k] === typeId);
    if (!type) r.fail(`tensor '${name}': ggml type ${typeId} is not supported (r1ts reads F32 and F16)`);
    const offset = r.u64(`tensor '${name}' offset`);
    if (offset % alignment !== 0) r.fail(`tensor '${name}': offset ${offset} is not a multiple of the alignment ${alignment}`);
    tensors.push({ name, shape: ne.reverse(), type, offset });
  }
  const dataStart = Math.ceil(r.pos / alignment) * alignment;
  const dataLen = r.size - dataStart;
  const spans = tensors.map((t) => {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * GGML_SIZE[t.type];
    if (!Number.isSafeInteger(bytes) || t.offset + bytes > dataLen) r.fail(`tensor '${t.name}': ${bytes} bytes at offset ${t.offset} run past the ${dataLen}-byte data section`);
    return { t, end: t.offset + bytes };
  }).sort((a, b) => a.t.offset - b.t.offset);
  for (let i = 1; i < spans.length; i++) if (spans[i].t.offset < spans[i - 1].end) r.fail(`tensor '${spans[i].t.name}' overlaps tensor '${spans[i - 1].t.name}'`);
  return { version, metadata, tensors, alignment, dataStart };
}

/** Reads a GGUF file: its header and every tensor as f32 (F16 converted). */
export function readGguf(path: string): GgufFile & { data: Map<string, Float32Array> } {
  const fd = openSync(path, 'r');
  try {
    const r = new Reader(fd, fstatSync(fd).size, path);
    const h = parse(r);
    const data = new Map<string, Float32Array>();
    for (const t of h.tensors) {
      r.pos = h.dataStart + t.offset;
      const n = t.shape.reduce((a, b) => a * b, 1);
      const dv = r.take(n * GGML_SIZE[t.type]);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t.type === 'F32' ? dv.getFloat32(4 * i, true) : f16ToF32(dv.getUint16(2 * i, true));
      data.set(t.name, out);
    }
    return { ...h, data };
  } finally {
    closeSync(fd);
  }
}
