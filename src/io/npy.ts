// NumPy .npy writer (format 1.0) for float32 arrays, little endian: the
// exchange format of `r1ts logits` for parity checks against other runtimes.

import { writeFileAtomic } from '../core/atomic.ts';

/** Writes data with shape as a .npy file ('<f4', C order), atomically. */
export function writeNpyF32(path: string, data: Float32Array, shape: readonly number[]): void {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces and ending in \n to a multiple of 64
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = dict + ' '.repeat(total - 10 - dict.length - 1) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('writeNpyF32: big-endian hosts are not supported');
  writeFileAtomic(path, [pre, Buffer.from(header, 'latin1'), body]);
}
