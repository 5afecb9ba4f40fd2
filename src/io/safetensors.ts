// safetensors read/write (the Hugging Face format: u64 little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__"?},
// then the byte buffer). Reading validates every header field before touching
// data (header length sane, JSON an object, known dtypes, shapes of
// non-negative integers, offsets inside the buffer, sizes = dtype × shape,
// no overlaps or holes) and reads each tensor straight from the file into its
// own array (no second copy of the file). F16/BF16 convert to f32 on read and
// from f32 on write (round to nearest even). Writes are atomic: temp file,
// fsync, rename.
// The format itself (header validation, decoding, f16/bf16) is in safetensors-format.ts,
// which a browser page uses on fetched bytes; it is re-exported here.
// Not here: sharded checkpoints and name maps (hf.ts), training checkpoints.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../core/atomic.ts';
import {
  BYTES, SafetensorsError, decodeTensor, f32ToBf16, f32ToF16, fail, littleEndian, parseSafetensorsHeader, type SafetensorsDType, type SafetensorsHeader,
} from './safetensors-format.ts';

export {
  SafetensorsError, decodeTensor, f16ToF32, f32ToBf16, f32ToF16, parseSafetensorsHeader, readSafetensorsBytes,
  type LoadedTensor, type SafetensorsDType, type SafetensorsHeader, type TensorInfo,
} from './safetensors-format.ts';
import type { LoadedTensor } from './safetensors-format.ts';

/** Reads and validates the header of a safetensors file. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return parseSafetensorsHeader(path, fstatSync(fd).size, (buf, pos) => readExactly(fd, buf, pos));
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

/** Reads the tensors of a safetensors file (all, or those named), converting to f32 / i32. */
export function readSafetensors(path: string, names?: readonly string[]): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  const fd = openSync(path, 'r');
  try {
    const h = parseSafetensorsHeader(path, fstatSync(fd).size, (buf, pos) => readExactly(fd, buf, pos));
    const want = names ? new Set(names) : null;
    if (want) for (const n of want) if (!h.tensors.some((t) => t.name === n)) fail(path, `no tensor named '${n}'`);
    const out = new Map<string, LoadedTensor>();
    for (const t of h.tensors) {
      if (want && !want.has(t.name)) continue;
      const bytes = new Uint8Array(t.end - t.begin);
      if (readExactly(fd, bytes, h.dataStart + t.begin) !== bytes.length) fail(path, `tensor '${t.name}': file ended early`);
      out.set(t.name, { dtype: t.dtype, shape: t.shape, data: decodeTensor(t.dtype, bytes) });
    }
    return { tensors: out, metadata: h.metadata };
  } finally {
    closeSync(fd);
  }
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
