// The safetensors format without files (the Hugging Face format: u64 little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__"?}, then the
// byte buffer): header validation over any byte reader, tensor decoding (F16/BF16 → f32),
// the f16/bf16 conversions, and a whole file held in memory (readSafetensorsBytes: a
// browser page's fetched bytes). Browser-safe: no node:* imports. safetensors.ts reads and
// writes files with these and re-exports them.
// Not here: file access and writing (safetensors.ts), name maps (hf.ts).

import { R1tsError } from '../core/errors.ts';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I32';

export const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };
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

export function fail(path: string, msg: string): never {
  throw new SafetensorsError(`${path}: ${msg}`);
}

/**
 * Parses and validates a safetensors header, reading bytes through `read(buf, pos)` (returns the
 * count read); `fileSize` is the whole file's length. `path` names the file in errors.
 */
export function parseSafetensorsHeader(path: string, fileSize: number, read: (buf: Uint8Array, pos: number) => number): SafetensorsHeader {
  if (fileSize < 8) fail(path, `not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
  const lenBuf = new Uint8Array(8);
  read(lenBuf, 0);
  const len = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (len > BigInt(Math.min(MAX_HEADER, fileSize - 8))) fail(path, `header length ${len} is larger than the file allows (${fileSize - 8} bytes after the length)`);
  const n = Number(len);
  const hb = new Uint8Array(n);
  if (read(hb, 8) !== n) fail(path, 'truncated header');
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

/** The tensors of a safetensors file held in memory (all, or those named), converted to f32 / i32. */
export function readSafetensorsBytes(bytes: Uint8Array, path = 'model.safetensors', names?: readonly string[]): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  const read = (buf: Uint8Array, pos: number): number => {
    const part = bytes.subarray(pos, pos + buf.length);
    buf.set(part);
    return part.length;
  };
  const h = parseSafetensorsHeader(path, bytes.length, read);
  const want = names ? new Set(names) : null;
  if (want) for (const n of want) if (!h.tensors.some((t) => t.name === n)) fail(path, `no tensor named '${n}'`);
  const out = new Map<string, LoadedTensor>();
  for (const t of h.tensors) {
    if (want && !want.has(t.name)) continue;
    // a copy: each tensor owns its array (and F32 data at an unaligned offset is decoded, not viewed)
    const own = bytes.slice(h.dataStart + t.begin, h.dataStart + t.end);
    out.set(t.name, { dtype: t.dtype, shape: t.shape, data: decodeTensor(t.dtype, own) });
  }
  return { tensors: out, metadata: h.metadata };
}

export const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A tensor's bytes as f32 (F32/F16/BF16) or i32 (I32); an F32/I32 array at offset 0 is viewed, not copied. */
export function decodeTensor(dtype: SafetensorsDType, bytes: Uint8Array): Float32Array | Int32Array {
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

