// The OpenAI-compatible server over real HTTP, driven by the real `openai`
// client (6.x) and by fetch for the error cases: a tiny random model saved as a
// Hugging Face directory with the fixture tokenizer (R1 chat template).
// Streamed deltas joined by hand equal the non-streamed reply; a rigged model
// (forward forced to a script of tokens) checks the reasoning split both when
// the model emits <think> and when the prompt opened it; bad input gets the
// right 4xx and OpenAI error body and the server keeps serving; a slowed model
// shows batching (two requests generating at once), 429 and client abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/engine/generate.ts';
import { buildModel, saveHfModel } from '../../src/io/hf.ts';
import { loadModel } from '../../src/io/load.ts';
import { loadModelDir } from '../../src/io/model-dir.ts';
import { densePreset } from '../../src/models/config.ts';
import type { CausalLM } from '../../src/models/model.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { ChatTemplate, loadHfTokenizer, R1_CHAT_TEMPLATE } from '../../src/tokenizer/index.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-serve-'));
const hf = join(dir, 'tiny');
saveHfModel(buildModel(densePreset(1, 330, 256), new Rng(5)), hf);
copyFileSync(join(root, 'test/fixtures/tokenizer/tiny-bpe.json'), join(hf, 'tokenizer.json'));
copyFileSync(join(root, 'test/fixtures/tokenizer/tiny-bpe.config.json'), join(hf, 'tokenizer_config.json'));
const tok = loadHfTokenizer(join(hf, 'tokenizer.json'), join(hf, 'tokenizer_config.json'));
const servers: RunningServer[] = [];
test.after(async () => {
  await Promise.all(servers.map((s) => s.close({ abort: true })));
  rmSync(dir, { recursive: true, force: true });
});

const start = async (o: Parameters<typeof startServer>[0]) => {
  const s = await startServer(o);
  servers.push(s);
  return s;
};
const clientOf = (s: RunningServer, apiKey = 'none') => new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0 });
const post = (s: RunningServer, path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });

type Chunk = { choices: { delta: { content?: string | null; reasoning_content?: string | null }; finish_reason: string | null }[]; usage?: OpenAI.CompletionUsage | null };

/** Streams a chat completion and joins content and reasoning_content separately, from the raw chunks. */
async function streamChat(client: OpenAI, params: Omit<OpenAI.ChatCompletionCreateParamsStreaming, 'stream'>) {
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let content = '', reasoning = '', finish: string | null = null, usage: OpenAI.CompletionUsage | null | undefined;
  for await (const raw of stream) {
    const c = raw as unknown as Chunk;
    for (const ch of c.choices) {
      content += ch.delta.content ?? '';
      reasoning += ch.delta.reasoning_content ?? '';
      finish = ch.finish_reason ?? finish;
    }
    if (c.usage) usage = c.usage;
  }
  return { content, reasoning, finish, usage };
}

const msgs: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello world' }];

test('models, chat (plain and streamed alike), completions, stop strings', async () => {
  const s = await start({ modelDir: hf, port: 0, modelName: 'tiny', maxBatch: 4 });
  const client = clientOf(s);
  assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['tiny']);

  for (const sampling of [{ temperature: 0 }, { temperature: 1, seed: 7, top_p: 0.9 }]) {
    const r = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 24, ...sampling });
    const m = r.choices[0].message as OpenAI.ChatCompletionMessage & { reasoning_content?: string | null };
    const prompt = tok.encode(tok.chatTemplate ? new ChatTemplate(tok.chatTemplate, { bosToken: tok.bosToken, eosToken: tok.eosToken }).render(msgs as never, { addGenerationPrompt: true }) : '');
    assert.equal(r.usage?.prompt_tokens, prompt.length);
    assert.ok(r.usage!.completion_tokens >= 1 && r.usage!.completion_tokens <= 24);
    assert.equal(r.usage?.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
    const st = await streamChat(client, { model: 'tiny', messages: msgs, max_tokens: 24, ...sampling });
    assert.equal(st.content, m.content ?? '');
    assert.equal(st.reasoning, m.reasoning_content ?? '');
    assert.equal(st.finish, r.choices[0].finish_reason);
    assert.deepEqual(st.usage, r.usage);
  }

  // completions: greedy text equals the engine's on the same model
  const { model } = loadModel(hf);
  const [want] = await new Engine(model, { maxBatch: 1 }).generate([{ prompt: tok.encode('hello world'), maxTokens: 20, sampling: { temperature: 0 }, stopTokens: [tok.specialId(tok.eosToken!)] }]);
  const wantText = tok.decode(want.tokens, { skipSpecialTokens: true });
  const c = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 20, temperature: 0 });
  assert.equal(c.choices[0].text, wantText);
  assert.equal(c.usage?.completion_tokens, want.tokens.length);
  let joined = '';
  for await (const ch of await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 20, temperature: 0, stream: true })) joined += ch.choices[0]?.text ?? '';
  assert.equal(joined, wantText);

  // stop strings: the text ends before the first stop string, streamed or not
  const stop = wantText.slice(6, 9);
  assert.equal(stop.length, 3, `a 20-token completion has 9+ characters: ${JSON.stringify(wantText)}`);
  {
    const cut = wantText.slice(0, wantText.indexOf(stop));
    const cs = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 20, temperature: 0, stop: [stop, 'never-here'] });
    assert.equal(cs.choices[0].text, cut);
    assert.equal(cs.choices[0].finish_reason, 'stop');
    let j2 = '';
    for await (const ch of await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 20, temperature: 0, stop, stream: true })) j2 += ch.choices[0]?.text ?? '';
    assert.equal(j2, cut);
  }
});

test('n > 1: n choices, choice j as a request seeded seed + j; usage sums them; streamed choices joined by index equal them', async () => {
  const s = await start({ modelDir: hf, port: 0, modelName: 'tiny', maxBatch: 8 });
  const client = clientOf(s);
  const one = async (seed: number) => (await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 12, temperature: 1, seed })).choices[0].text;
  const c = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 12, temperature: 1, seed: 11, n: 3 });
  assert.deepEqual(c.choices.map((x) => x.index), [0, 1, 2]);
  assert.deepEqual(c.choices.map((x) => x.text), [await one(11), await one(12), await one(13)]);
  const r = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 12, temperature: 1, seed: 5, n: 2 });
  assert.equal(r.choices.length, 2);
  const single = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 12, temperature: 1, seed: 6 });
  assert.equal(r.choices[1].message.content, single.choices[0].message.content);
  assert.equal(r.usage!.prompt_tokens, single.usage!.prompt_tokens);
  assert.ok(r.usage!.completion_tokens >= 2 && r.usage!.total_tokens === r.usage!.prompt_tokens + r.usage!.completion_tokens);

  // streamed: chunks of the n choices interleave; joined per index they equal the plain reply
  const st = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 12, temperature: 1, seed: 5, n: 2, stream: true, stream_options: { include_usage: true } });
  const joined = ['', ''], finishes = [0, 0];
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const raw of st) {
    const c = raw as unknown as Chunk & { choices: { index: number }[] };
    for (const ch of c.choices) {
      joined[ch.index] += (ch.delta.reasoning_content ?? '') + (ch.delta.content ?? '');
      if (ch.finish_reason) finishes[ch.index]++;
    }
    if (c.usage) usage = c.usage;
  }
  const plain = r.choices.map((ch) => ((ch.message as { reasoning_content?: string | null }).reasoning_content ?? '') + (ch.message.content ?? ''));
  assert.deepEqual(joined, plain);
  assert.deepEqual(finishes, [1, 1], 'one finish chunk per choice');
  assert.deepEqual(usage, r.usage);
  const sc = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 12, temperature: 1, seed: 11, n: 3, stream: true });
  const texts = ['', '', ''];
  for await (const ch of sc) for (const x of ch.choices) texts[x.index] += x.text;
  assert.deepEqual(texts, c.choices.map((x) => x.text));
});

test('logprobs: raw log-probabilities of every token (chat and completions, streamed or not) equal the engine\'s', async () => {
  const s = await start({ modelDir: hf, port: 0, modelName: 'tiny', maxBatch: 4 });
  const client = clientOf(s);
  const { model, tokenizer, stopTokens: eos } = loadModelDir(hf);
  const render = new ChatTemplate(tok.chatTemplate!, { bosToken: tok.bosToken, eosToken: tok.eosToken }).render(msgs as never, { addGenerationPrompt: true });
  // sampled (seeded): the same request on an engine of our own gives the same tokens and raw log-probs
  const ref = await new Engine(model, { maxBatch: 1 }).submit({ prompt: tokenizer.encode(render), maxTokens: 16, sampling: { temperature: 1.3 }, seed: 3, stopTokens: eos, topLogprobs: 3 });
  const r = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 16, temperature: 1.3, seed: 3, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs!.content!;
  assert.equal(content.length, r.usage!.completion_tokens);
  assert.equal(content.length, ref.tokens.length);
  const piece = (id: number) => { const c = [...tok.addedTokens].find(([, i]) => i === id)?.[0]; return c ?? tok.decode([id]); };
  content.forEach((e, i) => {
    const want = ref.tokenLogprobs![i];
    assert.ok(Math.abs(e.logprob - want.logprob) < 1e-6, `token ${i}: ${e.logprob} vs engine ${want.logprob}`);
    assert.ok(Math.abs(e.logprob - ref.logprobs[i]) > 1e-6, 'raw (T = 1), not the sampling temperature\'s');
    assert.equal(e.token, piece(ref.tokens[i]));
    if (!e.token.includes('\uFFFD')) assert.deepEqual(e.bytes, Array.from(Buffer.from(e.token)));
    assert.deepEqual(e.top_logprobs.map((t) => t.token), want.top.map((t) => piece(t.token)));
    assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob && e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob);
  });
  assert.ok(content.some((e) => !tok.addedTokens.has(e.token)), 'the sample holds ordinary tokens too');
  // bytes are exact even where a token holds part of a character: joined, they are the text's bytes
  const special = (id: number) => tok.decode([id], { skipSpecialTokens: true }) === '';
  const joinedBytes = Buffer.concat(content.filter((_, i) => !special(ref.tokens[i])).map((e) => Buffer.from(e.bytes!)));
  assert.equal(new TextDecoder().decode(joinedBytes), tok.decode(ref.tokens, { skipSpecialTokens: true }));
  // streamed: the chunks' entries, joined, are the same list
  const st = await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 16, temperature: 1.3, seed: 3, logprobs: true, top_logprobs: 3, stream: true });
  const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
  for await (const ch of st) for (const x of ch.choices) streamed.push(...(x.logprobs?.content ?? []));
  assert.deepEqual(streamed, content);
  // without logprobs: null
  assert.equal((await client.chat.completions.create({ model: 'tiny', messages: msgs, max_tokens: 4 })).choices[0].logprobs, null);

  // legacy completions: tokens, token_logprobs, top_logprobs (k entries), text_offset
  const cref = await new Engine(model, { maxBatch: 1 }).submit({ prompt: tokenizer.encode('hello world'), maxTokens: 10, sampling: { temperature: 0 }, stopTokens: eos });
  const c = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 10, temperature: 0, logprobs: 2 });
  const lp = c.choices[0].logprobs!;
  assert.equal(lp.tokens!.length, cref.tokens.length);
  lp.token_logprobs!.forEach((x, i) => assert.ok(Math.abs(x - cref.logprobs[i]) < 1e-5, `completion token ${i}`));
  lp.top_logprobs!.forEach((t) => assert.ok(Object.keys(t).length >= 1 && Object.keys(t).length <= 2));
  let at = 0;
  lp.tokens!.forEach((t, i) => {
    assert.equal(lp.text_offset![i], at, `text_offset ${i}`);
    if (!tok.addedTokens.has(t)) at += tok.decode([cref.tokens[i]]).length;
  });
  const cs = await client.completions.create({ model: 'tiny', prompt: 'hello world', max_tokens: 10, temperature: 0, logprobs: 2, stream: true });
  const toks: string[] = [];
  for await (const ch of cs) toks.push(...(ch.choices[0]?.logprobs?.tokens ?? []));
  assert.deepEqual(toks, lp.tokens);
});

/** The model's forward with its logits forced so that token a is followed by next[a] (greedy). */
function rig(model: CausalLM, next: Map<number, number>): CausalLM {
  const f = model.forward.bind(model);
  model.forward = (x, o) => {
    const out = f(x, o);
    const V = model.config.vocab_size, xs = x.data as Int32Array, l = out.logits.data as Float32Array;
    for (let i = 0; i < xs.length; i++) {
      const t = next.get(xs[i]);
      if (t !== undefined) l[i * V + t] = 1e4;
    }
    return out;
  };
  return model;
}

test('reasoning_content: <think> emitted by the model, and opened by the chat template', async () => {
  const id = (s: string) => tok.specialId(s);
  const [h] = tok.encode('h'), [k] = tok.encode('k');
  // <|Assistant|> → <think> → h → </think> → k → EOS
  const next = new Map([[id('<|Assistant|>'), id('<think>')], [id('<think>'), h], [h, id('</think>')], [id('</think>'), k], [k, id(tok.eosToken!)]]);
  const model = rig(loadModel(hf).model, next);
  const opened = new ChatTemplate(R1_CHAT_TEMPLATE + "{%- if add_generation_prompt -%}{{ '<think>' }}{%- endif -%}", { bosToken: tok.bosToken, eosToken: tok.eosToken });
  for (const chatTemplate of [undefined, opened]) {
    const s = await start({ model, tokenizer: tok, chatTemplate, port: 0, modelName: 'rig' });
    const client = clientOf(s);
    const r = await client.chat.completions.create({ model: 'rig', messages: [{ role: 'user', content: 'q' }], max_tokens: 10, temperature: 0 });
    const m = r.choices[0].message as OpenAI.ChatCompletionMessage & { reasoning_content?: string | null };
    assert.equal(m.reasoning_content, 'h');
    assert.equal(m.content, 'k');
    assert.equal(r.choices[0].finish_reason, 'stop');
    const st = await streamChat(client, { model: 'rig', messages: [{ role: 'user', content: 'q' }], max_tokens: 10, temperature: 0 });
    assert.deepEqual([st.reasoning, st.content, st.finish], ['h', 'k', 'stop']);
    // cut inside the reasoning: it stays reasoning
    const cut = await client.chat.completions.create({ model: 'rig', messages: [{ role: 'user', content: 'q' }], max_tokens: chatTemplate ? 1 : 2, temperature: 0 });
    assert.equal((cut.choices[0].message as { reasoning_content?: string }).reasoning_content, 'h');
    assert.equal(cut.choices[0].finish_reason, 'length');
    await s.close();
  }
});

test('bad requests get OpenAI-style 4xx bodies and the server keeps serving; bearer auth', async () => {
  const s = await start({ modelDir: hf, port: 0, modelName: 'tiny', maxTokensLimit: 100, maxBodyBytes: 40_000 });
  const good = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
  const expectError = async (r: Response, status: number, code: string | null, param?: string) => {
    assert.equal(r.status, status);
    const b = (await r.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    assert.deepEqual(Object.keys(b.error).sort(), ['code', 'message', 'param', 'type']);
    assert.ok(b.error.message.length > 0);
    assert.equal(b.error.code, code);
    if (param !== undefined) assert.equal(b.error.param, param);
    const ok = await post(s, '/v1/chat/completions', good);
    assert.equal(ok.status, 200, 'the server still answers a good request');
    assert.equal(((await ok.json()) as { object: string }).object, 'chat.completion');
  };
  const chat = (b: object) => post(s, '/v1/chat/completions', JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], ...b }));
  await expectError(await post(s, '/v1/chat/completions', '{"model": "tiny", messages'), 400, 'invalid_json');
  await expectError(await post(s, '/v1/chat/completions', '[1, 2]'), 400, null);
  await expectError(await chat({ messages: 'hi' }), 400, 'invalid_value', 'messages');
  await expectError(await chat({ temperature: 'hot' }), 400, 'invalid_value', 'temperature');
  await expectError(await chat({ messages: [{ role: 'wizard', content: 'x' }] }), 400, 'invalid_value', 'messages.0.role');
  await expectError(await chat({ model: 'gpt-4o' }), 404, 'model_not_found', 'model');
  await expectError(await chat({ max_tokens: -1 }), 400, 'invalid_value', 'max_tokens');
  await expectError(await chat({ max_tokens: 1.5 }), 400, 'invalid_value', 'max_tokens');
  await expectError(await chat({ max_tokens: 1_000_000 }), 400, 'invalid_value', 'max_tokens');
  await expectError(await chat({ max_completion_tokens: 101 }), 400, 'invalid_value', 'max_completion_tokens');
  await expectError(await chat({ top_logprobs: 2 }), 400, 'invalid_value', 'top_logprobs');
  await expectError(await chat({ logprobs: true, top_logprobs: 21 }), 400, 'invalid_value', 'top_logprobs');
  await expectError(await post(s, '/v1/completions', JSON.stringify({ model: 'tiny', prompt: 'x', logprobs: -1 })), 400, 'invalid_value', 'logprobs');
  await expectError(await chat({ n: 1000 }), 400, 'invalid_value', 'n');
  await expectError(await chat({ top_p: 0 }), 400, 'invalid_value', 'top_p');
  await expectError(await chat({ stop: 5 }), 400, 'invalid_value', 'stop');
  await expectError(await chat({ messages: [{ role: 'user', content: 'word '.repeat(2000) }] }), 400, 'context_length_exceeded');
  await expectError(await post(s, '/v1/completions', JSON.stringify({ model: 'tiny', prompt: 7 })), 400, 'invalid_value', 'prompt');
  await expectError(await post(s, '/v1/chat/completions', JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'x'.repeat(50_000) }] })), 413, 'request_too_large');
  await expectError(await fetch(`${s.url}/v1/nothing`), 404, 'unknown_url');
  await expectError(await fetch(`${s.url}/v1/chat/completions`), 405, 'method_not_allowed');
  // the openai client sees the same errors as typed exceptions
  await assert.rejects(clientOf(s).chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');

  const a = await start({ modelDir: hf, port: 0, modelName: 'tiny', apiKey: 'sekret' });
  for (const auth of [undefined, 'Bearer wrong', 'sekret']) {
    const r = await post(a, '/v1/chat/completions', good, auth ? { Authorization: auth } : {});
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
  }
  assert.equal((await fetch(`${a.url}/v1/models`)).status, 401);
  await assert.rejects(clientOf(a, 'wrong').models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
  const r = await clientOf(a, 'sekret').chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  assert.equal(r.object, 'chat.completion');
});

test('batching, 429 when the queue is full, client abort frees the row', async () => {
  const model = loadModel(hf).model;
  const f = model.forward.bind(model);
  model.forward = (x, o) => {
    const t = Date.now() + 3;
    while (Date.now() < t); // a slow model, so requests overlap
    return f(x, o);
  };
  const s = await start({ model, tokenizer: tok, port: 0, modelName: 'slow', maxBatch: 2, maxQueue: 0 });
  const long = (signal?: AbortSignal) =>
    fetch(`${s.url}/v1/chat/completions`, { method: 'POST', signal, body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'go' }], max_tokens: 200, ignore_eos: true, stream: true }) });
  const acA = new AbortController();
  const a = await long(acA.signal);
  assert.equal(a.status, 200);
  const b = await long();
  assert.equal(b.status, 200);
  const c = await post(s, '/v1/chat/completions', JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }));
  assert.equal(c.status, 429);
  const body = (await c.json()) as { error: { type: string; code: string; message: string } };
  assert.equal(body.error.code, 'rate_limit_exceeded');
  assert.match(body.error.message, /too many requests/);
  // both long requests generate together (one batch)
  const readerA = a.body!.getReader();
  await readerA.read();
  while (s.stats.maxGenerating < 2) await new Promise((r) => setTimeout(r, 5));
  assert.equal(s.stats.maxGenerating, 2);
  // the client of A goes away: its generation is aborted and its row freed
  acA.abort();
  while (s.stats.finished.abort < 1) await new Promise((r) => setTimeout(r, 5));
  assert.equal(s.stats.finished.abort, 1);
  // B runs to the end (200 tokens: finish_reason length) and a new request completes
  const text = await b.text();
  assert.match(text, /"finish_reason":"length"/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  const d = await clientOf(s).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, temperature: 0 });
  assert.ok(d.choices[0].message.content !== undefined);
  assert.equal(s.stats.inFlight, 0);
  assert.equal(s.stats.finished.abort, 1);
});
