// Run directory files: one line per record, torn last lines skipped, resume truncation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../../src/core/jsonl.ts';
import { RunLog } from '../../src/train/run-log.ts';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'r1ts-runlog-'));
}

test('metrics and samples are one JSON object per line with step and time', () => {
  const dir = tmp();
  try {
    const log = new RunLog(join(dir, 'run'));
    log.metrics(1, { loss: 2.5, lr: 1e-3 }, 1000);
    log.metrics(2, { loss: 2.25, lr: 1e-3 });
    log.sample({ prompt: 'p', completion: 'c', rewards: { format: 1 } });
    const m = readJsonl(log.metricsPath);
    assert.deepEqual(m[0], { step: 1, time: 1000, loss: 2.5, lr: 1e-3 });
    assert.equal(m.length, 2);
    assert.ok(typeof m[1].time === 'number' && (m[1].time as number) > 1.6e9);
    assert.equal(readFileSync(log.metricsPath, 'utf8').split('\n').length, 3);
    assert.deepEqual(readJsonl(log.samplesPath), [{ prompt: 'p', completion: 'c', rewards: { format: 1 } }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resuming drops metrics after the resumed step and a torn line, then appends', () => {
  const dir = tmp();
  try {
    const log = new RunLog(dir);
    for (let s = 1; s <= 5; s++) log.metrics(s, { loss: s });
    appendFileSync(log.metricsPath, '{"step":6,"lo');
    const again = new RunLog(dir, { resumeStep: 3 });
    assert.deepEqual(again.readMetrics().map((r) => r.step), [1, 2, 3]);
    again.metrics(4, { loss: 0 });
    assert.deepEqual(again.readMetrics().map((r) => r.step), [1, 2, 3, 4]);
    new RunLog(dir, { resumeStep: 0 });
    assert.deepEqual(readJsonl(join(dir, 'metrics.jsonl')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
