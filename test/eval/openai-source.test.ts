// The OpenAI-compatible source against an in-process fake server (node:http):
// request bodies (model, messages with the system prompt, sampling, per-sample
// seeds, n), reasoning_content rebuilt as <think>…</think>, retries through
// 429 and 500 replies, the concurrency limit, and a clear error on a 4xx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { evaluate } from '../../src/eval/harness.ts';
import { completionFromMessage, openaiSource } from '../../src/eval/openai-source.ts';
import { additionTask } from '../../src/tasks/arithmetic.ts';

export interface FakeServer {
  url: string;
  bodies: Record<string, unknown>[];
  maxInFlight: number;
  close(): Promise<void>;
}

/**
 * A fake chat-completions server: answers "What is a+b?" right, in the R1 form, with the
 * reasoning in reasoning_content; the first `fail429` requests get 429, the next `fail500` get 500.
 */
export async function fakeServer(o: { fail429?: number; fail500?: number; status?: number } = {}): Promise<FakeServer> {
  const bodies: Record<string, unknown>[] = [];
  let count = 0, inFlight = 0;
  const state = { maxInFlight: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      const n = count++;
      setTimeout(() => {
        inFlight--;
        if (req.url !== '/v1/chat/completions') return res.writeHead(404).end('{"error":{"message":"no such route"}}');
        if (o.status) return res.writeHead(o.status, { 'content-type': 'application/json' }).end('{"error":{"message":"model does not exist"}}');
        if (n < (o.fail429 ?? 0)) return res.writeHead(429).end('slow down');
        if (n < (o.fail429 ?? 0) + (o.fail500 ?? 0)) return res.writeHead(500).end('oops');
        const body = JSON.parse(data) as { messages: { role: string; content: string }[]; n?: number };
        bodies.push(body);
        const q = body.messages[body.messages.length - 1].content;
        const m = /(\d+)\+(\d+)/.exec(q)!;
        const sum = Number(m[1]) + Number(m[2]);
        const choice = { index: 0, message: { role: 'assistant', reasoning_content: `${m[1]} plus ${m[2]}`, content: `<answer>${sum}</answer>` }, finish_reason: 'stop' };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: Array.from({ length: body.n ?? 1 }, (_, i) => ({ ...choice, index: i })) }));
      }, 5);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`, bodies,
    get maxInFlight() { return state.maxInFlight; },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('reasoning_content is rebuilt as <think>…</think> content', () => {
  assert.equal(completionFromMessage({ content: 'A', reasoning_content: 'R' }), '<think>R</think> A');
  assert.equal(completionFromMessage({ content: 'A' }), 'A');
  assert.equal(completionFromMessage(undefined), '');
});

test('the OpenAI source through 429s and 500s: request bodies, seeds, concurrency, grading', async () => {
  const srv = await fakeServer({ fail429: 3, fail500: 2 });
  try {
    const task = additionTask();
    const items = task.heldOut(3);
    const source = openaiSource({ baseURL: srv.url + '/', model: 'fake-r1', apiKey: 'k', system: 'Be brief.', temperature: 0.6, topP: 0.95, maxTokens: 64, seed: 7, concurrency: 2, backoffMs: 1 });
    const r = await evaluate(task, items, source, 2);
    assert.equal(r.accuracy, 1);
    assert.equal(r.formatRate, 0); // the rebuilt completion opens <think> itself
    assert.match(r.results[0].completions[0], /^<think>\d+ plus \d+<\/think> <answer>\d+<\/answer>$/);
    assert.equal(srv.bodies.length, 6);
    assert.ok(srv.maxInFlight <= 2, `in flight ${srv.maxInFlight}`);
    const b = srv.bodies[0] as { model: string; messages: { role: string }[]; temperature: number; top_p: number; max_tokens: number; seed: number; n?: number };
    assert.equal(b.model, 'fake-r1');
    assert.deepEqual(b.messages.map((m) => m.role), ['system', 'user']);
    assert.deepEqual([b.temperature, b.top_p, b.max_tokens, b.n], [0.6, 0.95, 64, undefined]);
    assert.equal(new Set(srv.bodies.map((x) => x.seed)).size, 6, 'every sample its own seed');
    // one request per item with n = k
    srv.bodies.length = 0;
    const nSource = openaiSource({ baseURL: srv.url, model: 'fake-r1', mode: 'n', backoffMs: 1 });
    const rn = await evaluate(task, items, nSource, 3);
    assert.equal(rn.accuracy, 1);
    assert.deepEqual(srv.bodies.map((x) => x.n), [3, 3, 3]);
  } finally {
    await srv.close();
  }
});

test('the OpenAI source: a 4xx fails at once naming the status; retries give up with the last error', async () => {
  const bad = await fakeServer({ status: 404 });
  const busy = await fakeServer({ fail429: 100 });
  try {
    const item = additionTask().heldOut(1);
    await assert.rejects(openaiSource({ baseURL: bad.url, model: 'nope', backoffMs: 1 })(item, 1), /HTTP 404 \(check --base-url and --api-model 'nope'\): model does not exist/);
    await assert.rejects(openaiSource({ baseURL: busy.url, model: 'm', retries: 2, backoffMs: 1 })(item, 1), /gave up after 3 attempts; last: HTTP 429: slow down/);
    assert.throws(() => openaiSource({ baseURL: 'localhost:8000', model: 'm' }), /must start with http/);
  } finally {
    await bad.close();
    await busy.close();
  }
});

test('retryAfterMs: delay-seconds, an HTTP date, and nothing usable', async () => {
  const { retryAfterMs } = await import('../../src/eval/openai-source.ts');
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs('0'), 0);
  assert.equal(retryAfterMs(new Date(10_000 + 3000).toUTCString(), 10_000), 3000);
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs('-1'), undefined);
});
