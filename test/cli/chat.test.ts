// r1ts chat through the real command on a tiny random model (fixture tokenizer,
// R1 chat template): -p prints exactly the greedy answer (the content part of
// the completion); piped interactive turns keep history and exit on /exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
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

  const bad = run(undefined, 'chat', hf, '-p', 'x', '--top-p', '2');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /topP 2 is outside/);
  assert.match(run(undefined, 'chat', '--help').stdout, /usage: r1ts chat <model-dir>/);
  assert.match(run(undefined, 'serve', '--help').stdout, /usage: r1ts serve <model-dir>/);
  assert.equal(run(undefined, 'serve', hf, '--port', 'x').status, 2);
});
