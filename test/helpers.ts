// Shared test utilities: seeded random data, closeness checks that report the
// worst element, and iteration over the native CPU dispatch levels.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Rng } from '../src/core/rng.ts';
import type { Kernels } from '../src/backend/kernels.ts';
import { refKernels } from '../src/backend/ref/index.ts';
import { test } from 'node:test';
import { availableBackends, cpuLevels, setCpuLevel, useBackend } from '../src/tensor/backends.ts';

export { refKernels };

/** Awkward sizes every kernel test should cover (vector-width remainders). */
export const awkwardSizes = [1, 3, 7, 16, 33, 257] as const;

export function randF32(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

export function randI32(rng: Rng, n: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(hi);
  return a;
}

/** |a - e| <= atol + rtol·|e| elementwise; the message names the worst index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: { rtol?: number; atol?: number; label?: string } = {}): void {
  const { rtol = 1e-5, atol = 1e-6, label = 'values' } = opts;
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) assert.fail(`${label}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    if (a === e) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > worstExcess || Number.isNaN(excess)) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) assert.fail(`${label}[${worst}]: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
}

/** The native kernels at every CPU dispatch level this machine supports; empty without the addon. */
export function nativeLevels(): { name: string; kernels: Kernels; enter(): void; exit(): void }[] {
  const native = availableBackends().find((b) => b.name === 'native');
  if (!native) return [];
  const { max, current } = cpuLevels();
  const names = ['portable', 'avx2', 'avx512'];
  const out = [];
  for (let l = 0; l <= max; l++) {
    out.push({ name: `native/${names[l]}`, kernels: native.kernels, enter: () => void setCpuLevel(l), exit: () => void setCpuLevel(current) });
  }
  return out;
}

export function rng(seed = 1234): Rng {
  return new Rng(seed);
}

/** Registers one test per available backend (native, ref), running fn with that backend active. */
export function onEveryBackend(name: string, fn: () => void): void {
  for (const b of availableBackends()) {
    test(`${name} (${b.name})`, () => {
      useBackend(b.name);
      try {
        fn();
      } finally {
        useBackend(availableBackends()[0].name);
      }
    });
  }
}

/** Runs fn and returns the RangeError message it throws (fails if it does not throw one). */
export function rangeErrorOf(fn: () => void, label: string): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RangeError, `${label}: expected a RangeError, got ${String(e)}`);
    return e.message;
  }
  assert.fail(`${label}: did not throw`);
}

/** A Chromium executable for the browser tests: CHROMIUM_PATH, else the usual Debian/Google paths; null when none exists. */
export function findChromium(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env) return existsSync(env) ? env : null;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable']) if (existsSync(p)) return p;
  return null;
}

/** node:test's `skip` for a browser test: the reason when there is no Chromium, and false under CI=true (the test then fails). */
export function chromiumSkip(chromiumPath: string | null): string | false {
  return chromiumPath || process.env.CI === 'true' ? false : 'no Chromium found (install Debian\'s `chromium`, or set CHROMIUM_PATH); CI=true makes this a failure';
}

/**
 * x rounded to the nearest IEEE binary16 value, ties to even (what an f16 weight holds), as an
 * f32 — written from the format's definition (10 mantissa bits; subnormals below 2^-14 are
 * multiples of 2^-24), independent of the GPU's pack2x16float. Values in the normal f16 range only.
 */
export function roundToF16(x: number): number {
  const a = Math.abs(x);
  if (a >= 65504) throw new Error(`roundToF16: ${x} is outside the f16 range`);
  if (a < 2 ** -14) {
    const y = a * 2 ** 24;
    let r = Math.round(y);
    if (r - y === 0.5 && r % 2 === 1) r -= 1;
    return Math.sign(x) * r * 2 ** -24;
  }
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  const lsb = (u[0] >>> 13) & 1;
  u[0] = ((u[0] + 0xfff + lsb) & ~0x1fff) >>> 0;
  return f[0];
}
