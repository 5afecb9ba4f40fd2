// Shared set-up of the WebGPU tests: one context per test file, or the reason there is none.
// Without an adapter the tests skip with that reason, except under CI=true, where .ci/run
// installs Mesa's llvmpipe with headless EGL (libegl-dev, libgl1-mesa-dri) and a missing
// adapter is a failure.

import { after, type TestContext } from 'node:test';
import { GpuContext } from '../../src/backend/webgpu/device.ts';
import { WebGpuKernels } from '../../src/backend/webgpu/index.ts';
import type { GpuTensor } from '../../src/backend/webgpu/tensor.ts';

let opened: Promise<WebGpuKernels | string> | null = null;

// Registered when the test file imports this module (file level), so it runs after all its tests.
after(async () => {
  const k = await opened;
  if (k instanceof WebGpuKernels) k.ctx.destroy();
});

/** The kernels on this machine's adapter, or the reason none could be opened. */
export function gpu(): Promise<WebGpuKernels | string> {
  if (!opened) {
    opened = GpuContext.open().then((ctx) => new WebGpuKernels(ctx), (e: Error) => e.message);
  }
  return opened;
}

/** The kernels, or null after marking the test skipped (failing it under CI=true). */
export async function gpuOrSkip(t: TestContext): Promise<WebGpuKernels | null> {
  const k = await gpu();
  if (typeof k !== 'string') return k;
  if (process.env.CI === 'true') throw new Error(`CI=true but no WebGPU adapter: ${k}`);
  t.skip(k);
  return null;
}

export async function readF32(k: WebGpuKernels, t: GpuTensor): Promise<Float32Array> {
  return (await k.ctx.read(t)) as Float32Array;
}
