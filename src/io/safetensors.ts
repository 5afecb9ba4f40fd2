// safetensors read/write (the Hugging Face format: u64 little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__"?},
// then the byte buffer). Reading validates every header field before touching
// data (header length sane, JSON an object, known dtypes, shapes of
// non-negative integers, offsets inside the buffer, sizes = dtype × shape,
// no overlaps or holes) and reads each tensor straight from the file into its
// own array (no second copy of the file). F16/BF16 convert to f32 on read and
// from f32 on write (round to nearest even). Writes are atomic: temp file,
// fsync, rename.
// Not here: sharded checkpoints and name maps (hf.ts), training checkpoints.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { R1tsError } from '../core/errors.ts';
import { writeFileAtomic } from '../core/atomic.ts';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I32';

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };
/** Header length we accept (the reference implementation's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

export class SafetensorsError extends R1tsError {}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range within the data buffer. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** File offset of the data buffer. */
  dataStart: number;
}

export interface LoadedTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** f32 for F32/F16/BF16, i32 for I32. */
  data: Float32Array | Int32Array;
}

function fail(path: string, msg: string): never {
  throw new SafetensorsError(`${path}: ${msg}`);
}

/** Reads and validates the header of a safetensors file. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return parseHeader(path, fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, buf: Uint8Array, pos: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function parseHeader(path: string, fd: number, fileSize: number): SafetensorsHeader {
  if (fileSize < 8) fail(path, `not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
  const lenBuf = new Uint8Array(8);
  readExactly(fd, lenBuf, 0);
  const len = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (len > BigInt(Math.min(MAX_HEADER, fileSize - 8))) fail(path, `header length ${len} is larger than the file allows (${fileSize - 8} bytes after the length)`);
  const n = Number(len);
  const hb = new Uint8Array(n);
  if (readExactly(fd, hb, 8) !== n) fail(path, 'truncated header');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hb));
  } catch (e) {
    fail(path, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(path, 'header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) fail(path, '__metadata__ must be an object of strings');
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) fail(path, `tensor '${name}': entry is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in BYTES)) fail(path, `tensor '${name}': dtype ${JSON.stringify(t.dtype)} is not supported (expected ${Object.keys(BYTES).join(', ')})`);
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(path, `tensor '${name}': shape ${JSON.stringify(t.shape)} must be an array of non-negative integers`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((o) => !Number.isSafeInteger(o) || o < 0)) fail(path, `tensor '${name}': data_offsets ${JSON.stringify(off)} must be two non-negative integers`);
    const [begin, end] = off as [number, number];
    if (begin > end || end > dataLen) fail(path, `tensor '${name}': data_offsets [${begin}, ${end}] are outside the ${dataLen}-byte data buffer`);
    const dtype = t.dtype as SafetensorsDType;
    let numel = 1;
    for (const d of t.shape as number[]) numel *= d;
    if (!Number.isSafeInteger(numel) || numel * BYTES[dtype] !== end - begin) {
      fail(path, `tensor '${name}': ${end - begin} bytes do not match ${dtype} × shape [${(t.shape as number[]).join(', ')}] (${numel * BYTES[dtype]} bytes)`);
    }
    tensors.push({ name, dtype, shape: t.shape as number[], begin, end });
  }
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const t of sorted) {
    if (t.begin < at) fail(path, `tensor '${t.name}' overlaps the previous tensor (bytes from ${t.begin}, previous ends at ${at})`);
    if (t.begin > at) fail(path, `the data buffer has a hole before tensor '${t.name}' (bytes ${at}–${t.begin} belong to no tensor)`);
    at = t.end;
  }
  if (at !== dataLen) fail(path, `the data buffer has ${dataLen - at} trailing bytes that belong to no tensor (truncated or corrupted file?)`);
  return { tensors, metadata, dataStart };
}

/** Reads the tensors of a safetensors file (all, or those named), converting to f32 / i32. */
export function readSafetensors(path: string, names?: readonly string[]): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  const fd = openSync(path, 'r');
  try {
    const h = parseHeader(path, fd, fstatSync(fd).size);
    const want = names ? new Set(names) : null;
    if (want) for (const n of want) if (!h.tensors.some((t) => t.name === n)) fail(path, `no tensor named '${n}'`);
    const out = new Map<string, LoadedTensor>();
    for (const t of h.tensors) {
      if (want && !want.has(t.name)) continue;
      const bytes = new Uint8Array(t.end - t.begin);
      if (readExactly(fd, bytes, h.dataStart + t.begin) !== bytes.length) fail(path, `tensor '${t.name}': file ended early`);
      out.set(t.name, { dtype: t.dtype, shape: t.shape, data: decode(t.dtype, bytes) });
    }
    return { tensors: out, metadata: h.metadata };
  } finally {
    closeSync(fd);
  }
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function decode(dtype: SafetensorsDType, bytes: Uint8Array): Float32Array | Int32Array {
  const n = bytes.length / BYTES[dtype];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (littleEndian && bytes.byteOffset === 0 && (dtype === 'F32' || dtype === 'I32')) {
    return dtype === 'F32' ? new Float32Array(bytes.buffer, 0, n) : new Int32Array(bytes.buffer, 0, n);
  }
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      return dtype satisfies never;
  }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE half → float. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float → IEEE half, round to nearest even; overflow → ±Infinity; NaN stays NaN. */
export function f32ToF16(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  const sign = (u >>> 16) & 0x8000;
  const e = (u >>> 23) & 0xff;
  let m = u & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  let he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    m |= 0x800000;
    const shift = 14 - he;
    let hm = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && hm & 1)) hm++;
    return sign | hm;
  }
  let hm = m >>> 13;
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && hm & 1)) {
    hm++;
    if (hm === 0x400) {
      hm = 0;
      he++;
      if (he >= 31) return sign | 0x7c00;
    }
  }
  return sign | (he << 10) | hm;
}

/** float → bfloat16 bits, round to nearest even; NaN stays NaN. */
export function f32ToBf16(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  if ((u & 0x7f800000) === 0x7f800000 && u & 0x7fffff) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array | Int32Array;
  /** Stored dtype (default F32 for f32 data, I32 for i32 data). */
  dtype?: SafetensorsDType;
}

function encode(name: string, t: TensorToWrite): { dtype: SafetensorsDType; bytes: Uint8Array } {
  const dtype = t.dtype ?? (t.data instanceof Int32Array ? 'I32' : 'F32');
  const n = t.data.length;
  let numel = 1;
  for (const d of t.shape) numel *= d;
  if (numel !== n) throw new SafetensorsError(`tensor '${name}': ${n} values do not fill shape [${t.shape.join(', ')}]`);
  if ((dtype === 'I32') !== t.data instanceof Int32Array) throw new SafetensorsError(`tensor '${name}': cannot store ${t.data instanceof Int32Array ? 'i32' : 'f32'} data as ${dtype}`);
  const bytes = new Uint8Array(n * BYTES[dtype]);
  if (littleEndian && (dtype === 'F32' || dtype === 'I32')) {
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, n * 4));
    return { dtype, bytes };
  }
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    const v = t.data[i];
    if (dtype === 'F32') dv.setFloat32(4 * i, v, true);
    else if (dtype === 'I32') dv.setInt32(4 * i, v, true);
    else if (dtype === 'F16') dv.setUint16(2 * i, f32ToF16(v), true);
    else dv.setUint16(2 * i, f32ToBf16(v), true);
  }
  return { dtype, bytes };
}

/**
 * Writes tensors (in the given order) atomically: a temp file beside `path`, fsync, rename.
 * The header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
 */
export function writeSafetensors(path: string, tensors: Map<string, TensorToWrite>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__' || name === '') throw new SafetensorsError(`invalid tensor name ${JSON.stringify(name)}`);
    const { dtype, bytes } = encode(name, t);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [off, off + bytes.length] };
    blobs.push(bytes);
    off += bytes.length;
  }
  let json = JSON.stringify(header);
  const jsonLen = Buffer.byteLength(json);
  json += ' '.repeat((8 - (jsonLen % 8)) % 8);
  const hb = Buffer.from(json);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  writeFileAtomic(path, [len, hb, ...blobs]);
}
