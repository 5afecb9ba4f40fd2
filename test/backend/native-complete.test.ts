// With the addon built, every kernel of the contract runs natively: none may
// silently fall back to the reference (a stale or partial build would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeKernelNames, addonError } from '../../src/backend/native/index.ts';
import { refKernels } from '../../src/backend/ref/index.ts';

test('every kernel of the contract has a native implementation', { skip: addonError ?? false }, () => {
  const missing = Object.keys(refKernels).filter((k) => !nativeKernelNames().includes(k));
  assert.deepEqual(missing, []);
});
