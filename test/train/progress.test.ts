// Progress: throttled in-place redraws on a TTY, plain periodic lines when piped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress } from '../../src/train/progress.ts';

function fake(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => out.push(s) } };
}

test('on a TTY the bar redraws in place, at most 10 times a second, and ends with a newline', () => {
  const { out, stream } = fake(true);
  let t = 0;
  const p = new Progress({ total: 100, label: 'train', stream, now: () => t });
  for (let s = 1; s <= 100; s++) {
    t += 10; // 100 steps/s
    p.update(s, { loss: 1 / s });
  }
  p.done();
  // 1 s of updates → about 10 redraws, plus the forced last one and done()
  assert.ok(out.length >= 9 && out.length <= 13, `${out.length} writes`);
  assert.ok(out.every((s) => s.startsWith('\r\x1b[2K')));
  assert.ok(out.at(-1)!.endsWith('\n'));
  const last = out.at(-2)!;
  assert.match(last, /train 100\/100/);
  assert.match(last, /100%/);
  assert.match(last, /100 it\/s/);
  assert.match(last, /loss 0\.0100/);
  assert.match(last, /eta 0:00/);
});

test('piped, it prints plain lines every N steps and at the end, with ETA', () => {
  const { out, stream } = fake(false);
  let t = 0;
  const p = new Progress({ total: 50, stream, everySteps: 10, everySeconds: 1000, now: () => t, unit: 'step' });
  for (let s = 1; s <= 50; s++) {
    t += 500;
    p.update(s, { loss: 2.5 });
  }
  p.done();
  assert.equal(out.length, 5);
  assert.ok(out.every((l) => l.endsWith('\n') && !l.includes('\r')));
  assert.match(out[0], /^10\/50 \| 20% \| 2\.00 step\/s \| eta 0:20 \| loss 2\.5000\n$/);
});

test('piped, a slow run prints by time; a resumed run counts its rate from the start step', () => {
  const { out, stream } = fake(false);
  let t = 0;
  const p = new Progress({ total: 1000, stream, startStep: 500, everySteps: 1000, everySeconds: 5, now: () => t });
  t = 6000;
  p.update(503);
  t = 7000;
  p.update(504);
  assert.equal(out.length, 1);
  assert.match(out[0], /^503\/1000 \| 50% \| 0\.50 it\/s/);
});
