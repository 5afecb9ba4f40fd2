// NumPy .npy writer (format 1.0) for float32 arrays, little endian: the
// exchange format of `r1ts logits` for parity checks against other runtimes.

import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

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
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const b of [pre, Buffer.from(header, 'latin1'), body]) {
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off, b.length - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
