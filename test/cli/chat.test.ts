// r1ts chat through the real command on a tiny random model (fixture tokenizer,
// R1 chat template): -p prints exactly the greedy answer (the content part of
// the completion); piped interactive turns keep history and exit on /exit;
// /thinking prints the last reply's reasoning, /show and /hide switch the view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/engine/generate.ts';
import { buildModel, saveHfModel } from '../../src/io/hf.ts';
import { loadModelDir, modelChatTemplate } from '../../src/io/model-dir.ts';
import { densePreset } from '../../src/models/config.ts';
import { splitReasoning } from '../../src/server/reasoning.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-chat-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const run = (input: string | undefined, ...a: string[]) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...a], { cwd: root, encoding: 'utf8', input });

test('chat -p prints the greedy answer; piped turns keep history; bad flags are errors', async () => {
  const hf = join(dir, 'tiny');
  saveHfModel(buildModel(densePreset(1, 330, 256), new Rng(3)), hf);
  copyFileSync(join(root, 'test/fixtures/tokenizer/tiny-bpe.json'), join(hf, 'tokenizer.json'));
  copyFileSync(join(root, 'test/fixtures/tokenizer/tiny-bpe.config.json'), join(hf, 'tokenizer_config.json'));
  const { model, tokenizer, stopTokens } = loadModelDir(hf);
  const template = modelChatTemplate(tokenizer);
  const engine = new Engine(model, { maxBatch: 1 });
  const answer = async (messages: { role: string; content: string }[]) => {
    const [r] = await engine.generate([{ prompt: tokenizer.encode(template.render(messages, { addGenerationPrompt: true })), maxTokens: 12, sampling: { temperature: 0 }, stopTokens }]);
    return splitReasoning(tokenizer.decode(r.tokens, { skipSpecialTokens: true })).content;
  };
  const a1 = await answer([{ role: 'system', content: 'sys' }, { role: 'user', content: 'hello' }]);
  const p = run(undefined, 'chat', hf, '-p', 'hello', '--system', 'sys', '--max-tokens', '12', '--temperature', '0');
  assert.equal(p.status, 0, p.stderr);
  assert.equal(p.stdout, a1 + '\n');

  const a2 = await answer([{ role: 'system', content: 'sys' }, { role: 'user', content: 'hello' }, { role: 'assistant', content: a1 }, { role: 'user', content: 'again' }]);
  const i = run('hello\nagain\n/exit\nnever\n', 'chat', hf, '--system', 'sys', '--max-tokens', '12', '--temperature', '0', '--hide-thinking');
  assert.equal(i.status, 0, i.stderr);
  assert.equal(i.stdout, `${a1}\n${a2}\n`);

  // /thinking prints the last reply's reasoning in full; /show and /hide switch how the next replies show it
  // a copy whose template opens <think> in the generation prompt, as R1's does: the reply starts as reasoning
  const thinking = join(dir, 'thinking');
  mkdirSync(thinking);
  for (const f of readdirSync(hf)) copyFileSync(join(hf, f), join(thinking, f));
  const cfgPath = join(thinking, 'tokenizer_config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { chat_template: string };
  cfg.chat_template = cfg.chat_template.replace("{{ '<|Assistant|>' }}", "{{ '<|Assistant|><think>\\n' }}");
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const tm = loadModelDir(thinking), tt = modelChatTemplate(tm.tokenizer);
  const [g] = await new Engine(tm.model, { maxBatch: 1 }).generate([{ prompt: tm.tokenizer.encode(tt.render([{ role: 'system', content: 'sys' }, { role: 'user', content: 'hello' }], { addGenerationPrompt: true })), maxTokens: 12, sampling: { temperature: 1, topP: 1 }, seed: 5, stopTokens: tm.stopTokens }]);
  const r1 = splitReasoning(tm.tokenizer.decode(g.tokens, { skipSpecialTokens: true }), { startInReasoning: true }).reasoning;
  const t = run('/thinking\nhello\n/thinking\n/show\n/hide\n/exit\n', 'chat', thinking, '--system', 'sys', '--max-tokens', '12', '--temperature', '1', '--top-p', '1', '--seed', '5');
  assert.equal(t.status, 0, t.stderr);
  assert.ok(r1.length > 0, 'the tiny model reasons (the template opens <think>)');
  assert.ok(t.stdout.endsWith(`${r1}\n`), t.stdout);
  assert.match(t.stderr, /\(no reply yet\)[\s\S]*thinking shown as it streams[\s\S]*thinking collapsed/);

  const bad = run(undefined, 'chat', hf, '-p', 'x', '--top-p', '2');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /topP 2 is outside/);
  assert.match(run(undefined, 'chat', '--help').stdout, /usage: r1ts chat <model-dir>/);
  assert.match(run(undefined, 'serve', '--help').stdout, /usage: r1ts serve <model-dir>/);
  assert.equal(run(undefined, 'serve', hf, '--port', 'x').status, 2);
});
