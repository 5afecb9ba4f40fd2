// The reward server: batch rewards equal the tasks' own graders' verdicts;
// OpenRLHF's request shape; bad input gets 400 naming the field; and a bounded
// load test — 64 concurrent clients on loopback, no errors, every reward
// right; p99 latency and memory are reported as diagnostics, never asserted
// (timing lives in bench/reward-server.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRewardServer } from '../../src/recipe/reward-server.ts';
import { additionTask } from '../../src/tasks/arithmetic.ts';
import { graders } from '../../src/tasks/graders.ts';

const post = async (url: string, body: unknown) => {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> & { rewards: unknown[]; error?: { message: string } } };
};

test('POST /v1/rewards: the graders\' verdicts, in order, for tasks and grader names', async () => {
  const s = await startRewardServer({ port: 0 });
  try {
    const items = [
      { task: 'add', prompt: 'What is 12+30?', completion: ' 2+0=2 </think> <answer>42</answer>', gold: '42' },
      { task: 'add', completion: 'the answer is 41', gold: '42' },
      { task: 'math', completion: 'so x = \\frac{1}{2}, i.e. \\boxed{0.5}', gold: '1/2' },
      { task: 'exact', completion: ' r </think> <answer> Paris </answer>', gold: 'Paris' },
      { task: 'countdown', completion: ' think </think> <answer>(44 + 19) + 35</answer>', gold: '44,19,35=98' },
    ];
    const r = await post(`${s.url}/v1/rewards`, { items });
    assert.equal(r.status, 200);
    const task = additionTask();
    const want0 = task.grade({ id: '42', question: 'What is 12+30?', gold: '42' }, items[0].completion);
    assert.deepEqual(r.json.rewards[0], { reward: want0.reward, correct: true, format: true, answer: '42', rewards: { ...want0.rewards } });
    assert.deepEqual(r.json.rewards.map((x) => (x as { reward: number }).reward), [1, 0, graders.math.grade('1/2', items[2].completion).reward, 1, 1]);
    const bare = await post(`${s.url}/v1/rewards`, items.slice(0, 2)); // a bare array works too
    assert.deepEqual(bare.json.rewards, r.json.rewards.slice(0, 2));
  } finally {
    await s.close();
  }
});

test('POST /openrlhf: query = prompt + response, labels, task from the query string', async () => {
  const s = await startRewardServer({ port: 0 });
  try {
    const prompts = ['Q: What is 2+2?', 'Q: What is 3+3?'];
    const r = await post(`${s.url}/openrlhf?task=integer`, { query: [`${prompts[0]} <answer>4</answer>`, `${prompts[1]} <answer>7</answer>`], prompts, labels: ['4', '6'] });
    assert.equal(r.status, 200);
    // right, in <answer> tags but without </think>: 0.5 + 0.2 for the answer half of the R1 form (src/tasks/grade.ts)
    assert.deepEqual(r.json.rewards, [0.7, 0]);
    assert.deepEqual(r.json.scores, [0.7, 0]);
    assert.deepEqual((r.json.extra_logs as { correct: number[] }).correct, [1, 0]);
  } finally {
    await s.close();
  }
});

test('bad requests get 400/404/413 naming what was wrong, and the server keeps serving', async () => {
  const s = await startRewardServer({ port: 0, maxBodyBytes: 2000, maxItems: 3 });
  try {
    const bad = async (body: unknown, re: RegExp, status = 400, path = '/v1/rewards') => {
      const r = await post(`${s.url}${path}`, body);
      assert.equal(r.status, status);
      assert.match(r.json.error!.message, re);
    };
    await bad({ items: [{ task: 'add', completion: 'x' }] }, /items\.0\.gold/);
    await bad({ items: [{ task: 'nope', completion: 'x', gold: '1' }] }, /items\[0\]\.task: unknown task 'nope' \(expected one of add/);
    await bad({ items: [{ task: '/etc/passwd.jsonl', completion: 'x', gold: '1' }] }, /unknown task/);
    await bad({ items: Array.from({ length: 4 }, () => ({ task: 'add', completion: '1', gold: '1' })) }, /4 items, more than the limit of 3/);
    await bad({ items: [{ task: 'add', completion: 'x'.repeat(3000), gold: '1' }] }, /larger than the limit of 2000/, 413);
    await bad({ query: ['a'], labels: [] }, /one entry each/, 400, '/openrlhf');
    const nf = await fetch(`${s.url}/v2/x`);
    assert.equal(nf.status, 404);
    const notJson = await fetch(`${s.url}/v1/rewards`, { method: 'POST', body: '{oops' });
    assert.equal(notJson.status, 400);
    const ok = await post(`${s.url}/v1/rewards`, { items: [{ task: 'add', completion: '<answer>1</answer>', gold: '1' }] });
    assert.equal(ok.status, 200);
  } finally {
    await s.close();
  }
});

test('load: 64 concurrent clients, no errors, every reward right (p99 and memory reported)', async (t) => {
  const s = await startRewardServer({ port: 0 });
  try {
    const clients = 64, perClient = 4;
    const latencies: number[] = [];
    let errors = 0, wrong = 0;
    const rss0 = process.memoryUsage().rss;
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i++) {
        const a = 100 + ((c * 37 + i * 11) % 900), b = 100 + ((c * 13 + i * 7) % 900);
        const items = Array.from({ length: 16 }, (_, j) => ({ task: j % 4 === 3 ? 'math' : 'add', completion: `<think> r </think> <answer>${a + b + (j % 2)}</answer>`, gold: String(a + b) }));
        const t0 = performance.now();
        try {
          const r = await post(`${s.url}/v1/rewards`, { items });
          if (r.status !== 200) errors++;
          else r.json.rewards.forEach((x, j) => { if ((x as { correct: boolean }).correct !== (j % 2 === 0)) wrong++; });
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }));
    latencies.sort((x, y) => x - y);
    t.diagnostic(`${latencies.length} requests of 16 items from ${clients} clients: p50 ${latencies[latencies.length >> 1].toFixed(1)} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)].toFixed(1)} ms; rss ${(rss0 / 2 ** 20).toFixed(0)} → ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(errors, 0);
    assert.equal(wrong, 0);
    assert.equal(latencies.length, clients * perClient);
    const h = (await (await fetch(`${s.url}/health`)).json()) as { status: string; requests: number };
    assert.equal(h.status, 'ok');
    assert.ok(h.requests >= clients * perClient);
  } finally {
    await s.close();
  }
});
