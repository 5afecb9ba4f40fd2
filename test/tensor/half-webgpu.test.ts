// f16 inference weights on the webgpu device (placeOnDevice's `half`, Tensor.half): a linear over
// a weight stored as packed binary16 equals the host linear over the same weight rounded to f16
// (roundToF16, written from the format, not from the GPU's conversion) within f32 summation
// error, with and without bias and batched; the storage is half the words; every other use of the
// weight — another op, a readback, a move to the host — throws naming the weight and why.
// Skips without an adapter (fails under CI=true), like the other webgpu tests.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.ts';
import { moveToHost, placeOnDevice, readValues, toDevice, useDeviceContext } from '../../src/tensor/device.ts';
import { gpuOrSkip } from '../backend/webgpu-setup.ts';
import { randF32, rng, roundToF16 } from '../helpers.ts';

after(() => useDeviceContext(null));

test('a linear over an f16 weight equals the host linear over the f16-rounded weight', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  useDeviceContext(k.ctx);
  const r = rng(7);
  const [out, inF] = [37, 53]; // odd sizes: the last word holds one value
  const wv = randF32(r, out * inF, 0.5);
  const w = T.tensor(wv.slice(), [out, inF]);
  w.name = 'layers.0.mlp.up.weight';
  const bias = T.tensor(randF32(r, out, 0.1), [out]);
  const x = T.tensor(randF32(r, 3 * 5 * inF, 1), [3, 5, inF]);
  const placement = await placeOnDevice('test', [w, bias], { half: [w] });
  assert.ok(placement.onDevice && w.half && w.gpu !== null);
  assert.equal(w.gpu!.size, Math.ceil((out * inF) / 2), 'two f16 values per u32 word');
  const rounded = T.tensor(Float32Array.from(wv, roundToF16), [out, inF]);
  const hostBias = T.tensor((await readValues([bias]))[0] as Float32Array, [out]);
  for (const b of [null, 'bias'] as const) {
    const got = (await readValues([T.linear(toDevice(x), w, b ? bias : null)]))[0] as Float32Array;
    const want = T.linear(x, rounded, b ? hostBias : null).data as Float32Array;
    const unrounded = T.linear(x, T.tensor(wv, [out, inF]), b ? hostBias : null).data as Float32Array;
    let worst = 0, rounding = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
      rounding = Math.max(rounding, Math.abs(unrounded[i] - want[i]));
    }
    assert.ok(worst < 2e-5, `linear ${b ?? 'no bias'}: device f16 vs host rounded weights differ by ${worst}`);
    assert.ok(rounding > 10 * worst, `the f16 rounding (${rounding}) must dominate the f32 summation error (${worst}), else the test cannot tell`);
  }
  assert.throws(() => T.add(w, w), /layers\.0\.mlp\.up\.weight is stored as f16 on the webgpu device for inference \(--dtype f16\).*this op reads f32 values/);
  await assert.rejects(readValues([w]), /stored as f16.*reading its values back is not possible/);
  await assert.rejects(moveToHost([w]), /stored as f16.*moving it back to the host/);
  await placement.release();
});
