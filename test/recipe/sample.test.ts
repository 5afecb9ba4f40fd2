// Rejection sampling against a fault-injecting fake teacher (fault-server.ts):
// every prompt done exactly once through 429s (Retry-After honoured), 500s,
// resets mid-reply, resets before a reply and slow replies; what is kept is
// exactly the set the fake teacher's seeds make right; an interrupted run and
// a run that died between its two appends finish with the same set as one
// uninterrupted run; the token budget; the R1 form of what is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../../src/core/jsonl.ts';
import { Rng } from '../../src/core/rng.ts';
import { sampleSeed } from '../../src/eval/engine-source.ts';
import { hash32 } from '../../src/eval/openai-source.ts';
import { assistantContent, chooseKept, distinctTrainItems, doneFileOf, sample, type DoneRecord, type SampleRecord } from '../../src/recipe/sample.ts';
import { openaiTeacher, type OpenAITeacherOptions } from '../../src/recipe/teacher.ts';
import { additionTask } from '../../src/tasks/arithmetic.ts';
import { fakeAnswer, faultServer } from './fault-server.ts';

const task = additionTask();
const dir = mkdtempSync(join(tmpdir(), 'r1ts-sample-'));

/** The (id, sample) pairs the fake teacher answers right for base seed 0. */
function expectedKept(ids: string[], k: number): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const [a, b] = id.split('+').map(Number);
    for (let j = 0; j < k; j++) if (fakeAnswer(a, b, sampleSeed(0, hash32(id), j) & 0x7fffffff) === a + b) out.push(`${id}#${j}`);
  }
  return out.sort();
}

const keptSet = (out: string) => readJsonl<SampleRecord>(out).map((r) => `${r.id}#${r.sample}`).sort();

test('assistantContent puts the reasoning in <think>, closes a cut </answer>, invents no block', () => {
  assert.equal(assistantContent(' 3+4 is 7 </think> <answer>7', true), '<think> 3+4 is 7 </think> <answer>7</answer>');
  assert.equal(assistantContent('<think>r</think> <answer>7</answer>', false), '<think> r </think> <answer>7</answer>');
  assert.equal(assistantContent('just 7', false), 'just 7', 'no </think>: kept as it came');
  assert.equal(assistantContent(' 3+4 is 7 </thx> So <answer>7', true), '<think> 3+4 is 7 </thx> So <answer>7</answer>');
});

test('chooseKept: correct only, dedup, shortest first', () => {
  const c = ['aaaa', 'a  a', 'a a', 'bb', 'c'];
  assert.deepEqual(chooseKept(c, [true, true, true, false, true], {}), [0, 1, 2, 4]);
  assert.deepEqual(chooseKept(c, [true, true, true, false, true], { dedup: true }), [0, 1, 4]);
  assert.deepEqual(chooseKept(c, [true, true, true, false, true], { maxPerPrompt: 2 }), [4, 2]);
});

test('sample through 429/500/resets/slow replies: every prompt exactly once, the kept set exact, Retry-After honoured', async () => {
  const server = await faultServer({ retryAfter: '1', slowMs: 400 });
  const retries: { wait: number; reason: string }[] = [];
  const items = distinctTrainItems(task, 30, new Rng(0));
  const out = join(dir, 'faults.jsonl');
  try {
    const teacher = openaiTeacher({
      baseURL: server.url, model: 'm', template: 'chat', seed: 0, concurrency: 4, retries: 30, backoffMs: 2, timeoutMs: 150,
      onRetry: (_, wait, reason) => retries.push({ wait, reason }),
      sleep: () => new Promise((r) => setTimeout(r, 1)), // the waits are recorded, not slept
    });
    const stats = await sample({ task, items, teacher, k: 3, out, concurrency: 4 });
    assert.equal(stats.error, null);
    assert.equal(stats.done, 30);
    const done = readJsonl<DoneRecord>(doneFileOf(out));
    assert.deepEqual(done.map((d) => d.id).sort(), items.map((i) => i.id).sort(), 'each prompt has exactly one done line');
    assert.deepEqual(keptSet(out), expectedKept(items.map((i) => i.id), 3), 'the kept samples are exactly the right ones, once each');
    assert.equal(stats.kept, keptSet(out).length);
    assert.equal(stats.tokens, 30 * 3 * 30, 'usage of the complete replies, attributed per prompt');
    for (const [name, n] of Object.entries(server.faults)) assert.ok(n > 0, `fault ${name} was injected`);
    const r429 = retries.filter((r) => r.reason.startsWith('HTTP 429'));
    assert.ok(r429.length > 0);
    assert.deepEqual(r429.map((r) => r.wait), r429.map(() => 1000), 'every 429 waited its Retry-After of 1 s');
    assert.ok(retries.some((r) => r.reason.startsWith('HTTP 500')) && retries.some((r) => /timed out/.test(r.reason)) && retries.some((r) => /network error|not JSON/.test(r.reason)));
    for (const r of readJsonl<SampleRecord>(out)) {
      assert.match(r.messages[1].content, /^<think> .+ <\/think> <answer>\d+<\/answer>$/);
      assert.equal(r.answer, r.gold);
    }
  } finally {
    await server.close();
  }
});

test('sample resumes: an interrupted run, and one that died between its appends, end with the uninterrupted set', async () => {
  const server = await faultServer({ faults: false });
  const items = distinctTrainItems(task, 20, new Rng(1));
  const opts: OpenAITeacherOptions = { baseURL: server.url, model: 'm', template: 'r1-zero', seed: 0, concurrency: 2 };
  try {
    const whole = join(dir, 'whole.jsonl');
    await sample({ task, items, teacher: openaiTeacher(opts), k: 2, out: whole, concurrency: 2 });
    const parts = join(dir, 'parts.jsonl');
    const ac = new AbortController();
    const first = await sample({ task, items, teacher: openaiTeacher(opts), k: 2, out: parts, concurrency: 2, signal: ac.signal, onProgress: (s) => { if (s.done >= 7) ac.abort(); } });
    assert.ok(first.done >= 7 && first.done < 20, `stopped early (${first.done})`);
    // a crash after a prompt's lines but before its done line, and a torn last line
    const stray = items.find((it) => !readJsonl<DoneRecord>(doneFileOf(parts)).some((d) => d.id === it.id))!;
    appendFileSync(parts, JSON.stringify({ id: stray.id, sample: 0, task: 'add', messages: [], gold: stray.gold, answer: stray.gold }) + '\n{"id": "tor');
    appendFileSync(doneFileOf(parts), '{"id": "half');
    const second = await sample({ task, items, teacher: openaiTeacher(opts), k: 2, out: parts, concurrency: 2 });
    assert.equal(second.resumed, first.done);
    assert.equal(second.done, 20);
    assert.deepEqual(readFileSync(parts, 'utf8').split('\n').filter(Boolean).sort(), readFileSync(whole, 'utf8').split('\n').filter(Boolean).sort(), 'same lines as the uninterrupted run');
    assert.deepEqual(readJsonl<DoneRecord>(doneFileOf(parts)).map((d) => d.id).sort(), items.map((i) => i.id).sort());
    // resuming with another k is refused, naming the file
    await assert.rejects(sample({ task, items, teacher: openaiTeacher(opts), k: 3, out: parts }), /k=2 but this run asks k=3/);
  } finally {
    await server.close();
  }
});

test('sample stops starting prompts at the token budget', async () => {
  const server = await faultServer({ faults: false });
  try {
    const items = distinctTrainItems(task, 10, new Rng(2));
    const stats = await sample({ task, items, teacher: openaiTeacher({ baseURL: server.url, model: 'm', template: 'chat', seed: 0 }), k: 3, out: join(dir, 'budget.jsonl'), concurrency: 1, tokenBudget: 200 });
    assert.equal(stats.done, 3); // 90 tokens a prompt: 0, 90, 180 < 200 start one more
    assert.equal(stats.tokens, 270);
    assert.ok(stats.budgetReached);
  } finally {
    await server.close();
  }
});
