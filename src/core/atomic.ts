// Atomic file writes: the bytes go to a temporary file beside the target,
// which is fsynced and then renamed over it, so a reader (or a crash) sees
// either the old file or the complete new one, never a partial one. Used by
// every writer of r1ts files (safetensors, GGUF, .npy, tokenizer and model
// directories, checkpoints).

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

export function writeFileAtomic(path: string, content: string | readonly Uint8Array[]): void {
  const chunks = typeof content === 'string' ? [Buffer.from(content, 'utf8')] : content;
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const b of chunks) {
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off, b.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  renameSync(tmp, path);
}

/** fsyncs a directory (so a rename inside it is durable). */
export function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
