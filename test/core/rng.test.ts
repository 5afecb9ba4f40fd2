// The seeded generator: reproducible, restorable, and statistically sane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';

test('same seed, same stream; state save/restore continues exactly', () => {
  const a = new Rng(5), b = new Rng(5);
  const xs = Array.from({ length: 10 }, () => a.normal());
  assert.deepEqual(Array.from({ length: 10 }, () => b.normal()), xs);
  a.normal();
  const st = a.getState();
  const next = [a.uniform(), a.normal(), a.int(100)];
  const c = new Rng(999);
  c.setState(st);
  assert.deepEqual([c.uniform(), c.normal(), c.int(100)], next);
  assert.notDeepEqual(Array.from({ length: 5 }, () => new Rng(6).uniform()), Array.from({ length: 5 }, () => new Rng(5).uniform()));
});

test('uniform and normal have the right moments', () => {
  const r = new Rng(11);
  const n = 200_000;
  let su = 0, sn = 0, sn2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    su += u;
    const z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.005);
  assert.ok(Math.abs(sn / n) < 0.01);
  assert.ok(Math.abs(sn2 / n - 1) < 0.02);
});
