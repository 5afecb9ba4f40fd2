// SFT batches: conversations rendered with the R1 chat template, targets only
// on assistant tokens (-100 elsewhere, padding included), and the model's loss
// taken over exactly those positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SftBatcher, readConversations, tokenizeConversations } from '../../src/data/sft.ts';
import { r1ChatTemplate, trainBpe, type ChatMessage } from '../../src/tokenizer/index.ts';
import { buildModel } from '../../src/io/hf.ts';
import { densePreset } from '../../src/models/config.ts';
import { Rng } from '../../src/core/rng.ts';
import { ids as idsT, noGrad, logSoftmax } from '../../src/tensor/index.ts';

const convs: ChatMessage[][] = [
  [{ role: 'user', content: 'What is 2 plus 3?' }, { role: 'assistant', content: '<think>2+3=5</think> 5' }],
  [{ role: 'user', content: 'Say hi.' }, { role: 'assistant', content: 'hi' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Name a color that is a fruit too.' }, { role: 'assistant', content: 'orange' }],
];

test('SFT batches train only on assistant tokens; the loss is over exactly those', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-sft-'));
  try {
    const path = join(dir, 'c.jsonl');
    writeFileSync(path, convs.map((m) => JSON.stringify({ messages: m })).join('\n') + '\n');
    const tok = trainBpe(convs.flat().map((m) => m.content).join('\n').repeat(3), { vocabSize: 300 });
    const template = r1ChatTemplate(tok);
    const read: ChatMessage[][] = [];
    for await (const c of readConversations(path)) read.push(c);
    assert.deepEqual(read, convs);
    const ex = await tokenizeConversations(read, template, tok);
    const b = new SftBatcher(ex, { batch: 3, maxLen: 200, padId: tok.specialId('<|pad|>'), shuffle: false });
    const batch = b.next();
    const { B, T } = batch;
    assert.equal(T, Math.max(...ex.map((e) => e.ids.length)) - 1);
    for (let r = 0; r < B; r++) {
      const trained = batch.targets.subarray(r * T, (r + 1) * T).filter((x) => x !== -100);
      // exactly the assistant's tokens (reply and end of turn), in order
      assert.deepEqual([...trained], ex[r].ids.filter((_, i) => ex[r].mask[i] === 1));
      assert.match(tok.decode([...trained]), new RegExp(convs[r].at(-1)!.content.replace(/[+?]/g, '\\$&')));
      // padding is never trained
      for (let t = ex[r].ids.length - 1; t < T; t++) assert.equal(batch.targets[r * T + t], -100);
    }
    // the model's loss is the mean CE over the unmasked positions only
    const model = buildModel(densePreset(1, tok.vocabSize, 256), new Rng(0));
    const x = idsT(batch.ids, [B, T]), y = idsT(batch.targets, [B, T]);
    const { main } = noGrad(() => model.loss(x, y));
    const lp = noGrad(() => logSoftmax(model.forward(x).logits)).data as Float32Array; // [B, T, V]
    const V = tok.vocabSize;
    let s = 0, n = 0;
    batch.targets.forEach((t, i) => {
      if (t !== -100) (s -= lp[i * V + t]), n++;
    });
    assert.ok(Math.abs(main.item() - s / n) < 1e-4, `${main.item()} vs ${s / n}`);
    // -100 is what excludes a position: giving a masked position a real target changes the loss
    const y2 = Int32Array.from(batch.targets);
    const masked = y2.findIndex((t) => t === -100);
    y2[masked] = 7;
    assert.notEqual(noGrad(() => model.loss(x, idsT(y2, [B, T])).main.item()), main.item());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rows are truncated to maxLen; examples left without an assistant token are dropped', async () => {
  const tok = trainBpe('hello there general kenobi '.repeat(20), { vocabSize: 280 });
  const ex = await tokenizeConversations(convs, r1ChatTemplate(tok), tok);
  const firstTrained = Math.min(...ex.map((e) => e.mask.indexOf(1)));
  const b = new SftBatcher(ex, { batch: 2, maxLen: firstTrained + 1, padId: 0, seed: 1 });
  assert.ok(b.dropped > 0 && b.examples.length >= 1);
  assert.throws(() => new SftBatcher(ex, { batch: 2, maxLen: 2, padId: 0 }), /none of 3 examples/);
});
