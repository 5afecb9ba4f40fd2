// GGUF export/import of r1ts models: r1ts → GGUF → r1ts gives identical logits
// (F32) or close ones (F16) for llama, qwen2 and deepseek2; the files carry
// llama.cpp's keys and tensor names and are parsed by @huggingface/gguf; the
// llama q/k rope permutation is the one llama.cpp's converter applies; the
// tokenizer metadata describes our BPE. llama.cpp itself: test/interop/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { readGguf, writeGguf } from '../../src/io/gguf.ts';
import { exportTensors, GgufModelError, loadGgufModel, saveGgufModel, tokenizerFromGguf } from '../../src/io/gguf-model.ts';
import { loadModelDir, modelChatTemplate } from '../../src/io/model-dir.ts';
import type { CausalLM } from '../../src/models/model.ts';
import { ids, noGrad } from '../../src/tensor/index.ts';
import { assertClose } from '../helpers.ts';
import { TINY_ARCHS, TINY_PROMPT, tinyConfig, tinyModel, tinyTokenizer } from './gguf-tiny.ts';

const dir = mkdtempSync(join(tmpdir(), 'r1ts-gguf-model-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function logits(m: CausalLM): Float32Array {
  return noGrad(() => m.forward(ids(Int32Array.from(TINY_PROMPT), [1, TINY_PROMPT.length])).logits).data as Float32Array;
}

for (const arch of TINY_ARCHS) {
  test(`${arch}: r1ts → GGUF F32 → r1ts gives identical logits; F16 close`, async () => {
    const model = tinyModel(tinyConfig(arch));
    const p = join(dir, `${arch}.gguf`);
    const { skipped } = saveGgufModel(model, p, { tokenizer: { tokenizer: tinyTokenizer() } });
    assert.deepEqual(skipped.length > 0, arch === 'deepseek2', 'only the MTP module is left out');
    const back = loadGgufModel(p);
    back.eval();
    assert.deepEqual(Array.from(logits(back)), Array.from(logits(model)));
    for (const [name, t] of back.namedTensors()) assert.deepEqual(Array.from(t.data), Array.from(model.stateDict().get(name)!.data), name);

    const p16 = join(dir, `${arch}-f16.gguf`);
    saveGgufModel(model, p16, { dtype: 'F16', tokenizer: { tokenizer: tinyTokenizer() } });
    const f16 = readGguf(p16);
    for (const t of f16.tensors) assert.equal(t.type, t.shape.length > 1 && !t.name.endsWith('ffn_gate_inp.weight') ? 'F16' : 'F32', t.name);
    const back16 = loadGgufModel(p16);
    back16.eval();
    assertClose(logits(back16), logits(model), { atol: 2e-2, rtol: 1e-2, label: `${arch} f16 logits` });

    // An independent parser reads the file: architecture, llama.cpp tensor names and GGML dims.
    const h = await gguf(p, { allowLocalFile: true });
    const md = h.metadata as Record<string, unknown>;
    assert.equal(md['general.architecture'], arch);
    assert.equal(md[`${arch}.block_count`], 2);
    assert.equal(md[`${arch}.embedding_length`], 64);
    assert.equal(md['tokenizer.ggml.model'], 'gpt2');
    assert.equal((md['tokenizer.ggml.tokens'] as string[]).length, 300);
    const names = new Map(h.tensorInfos.map((t) => [t.name, t.shape.map(Number)]));
    assert.deepEqual(names.get('token_embd.weight'), [64, 300]);
    assert.equal(names.has('output.weight'), arch !== 'qwen2', 'tied qwen2 stores no output.weight');
    if (arch === 'deepseek2') {
      assert.equal(md['deepseek2.attention.head_count_kv'], 1);
      assert.equal(md['deepseek2.attention.key_length'], 16 + 8);
      assert.equal(md['deepseek2.attention.key_length_mla'], 16 + 8);
      assert.equal(md['deepseek2.expert_gating_func'], 2);
      assert.deepEqual(names.get('blk.1.ffn_gate_exps.weight'), [64, 32, 4]); // GGML: ne0 = in, ne1 = out, ne2 = experts
      assert.deepEqual(names.get('blk.1.attn_k_b.weight'), [16, 16, 4]); // [Dn, R, H]
      assert.deepEqual(names.get('blk.1.attn_v_b.weight'), [16, 16, 4]); // [R, Dv, H]
      assert.ok(names.has('blk.1.exp_probs_b.bias') && names.has('blk.0.ffn_gate.weight') && !names.has('blk.0.ffn_gate_inp.weight'));
    } else {
      assert.equal(md[`${arch}.attention.head_count_kv`], 2);
      assert.equal(names.has('blk.0.attn_q.bias'), arch === 'qwen2');
    }
  });
}

test('llama q/k rows go from rotated halves to interleaved pairs per head (llama.cpp converter permutation)', () => {
  const model = tinyModel(tinyConfig('llama'));
  const { tensors } = exportTensors(model);
  const D = 16, C = 64;
  for (const [ours, g, heads] of [['layers.0.attn.wq.weight', 'blk.0.attn_q.weight', 4], ['layers.1.attn.wk.weight', 'blk.1.attn_k.weight', 2]] as const) {
    const src = model.stateDict().get(ours)!.data as Float32Array;
    const dst = tensors.get(g)!.data;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < D / 2; i++) {
        // GGUF row h·D + 2i (+1) holds r1ts row h·D + i (+ D/2).
        assert.deepEqual(Array.from(dst.subarray((h * D + 2 * i) * C, (h * D + 2 * i + 1) * C)), Array.from(src.subarray((h * D + i) * C, (h * D + i + 1) * C)));
        assert.deepEqual(Array.from(dst.subarray((h * D + 2 * i + 1) * C, (h * D + 2 * i + 2) * C)), Array.from(src.subarray((h * D + i + D / 2) * C, (h * D + i + D / 2 + 1) * C)));
      }
    }
  }
  // qwen2 (NEOX rope in llama.cpp) is not permuted.
  const q = tinyModel(tinyConfig('qwen2'));
  assert.deepEqual(Array.from(exportTensors(q).tensors.get('blk.0.attn_q.weight')!.data), Array.from(q.stateDict().get('layers.0.attn.wq.weight')!.data));
});

test('deepseek2 with the halves rope layout and a plain wq round-trips through the interleaved GGUF layout', () => {
  const model = tinyModel(tinyConfig('deepseek2', { rope_interleave: false, q_lora_rank: 0, scoring_func: 'softmax', topk_method: 'greedy' }));
  const p = join(dir, 'ds-halves.gguf');
  saveGgufModel(model, p, { tokenizer: { tokenizer: tinyTokenizer() } });
  const back = loadGgufModel(p);
  back.eval();
  assert.equal(back.config.model_type, 'deepseek_v3');
  assert.equal((back.config as { rope_interleave: boolean }).rope_interleave, true);
  assertClose(logits(back), logits(model), { atol: 1e-5, rtol: 1e-5, label: 'logits' });
});

test('tokenizer metadata: tokens, types, merges, special ids, pre-tokenizer and chat template', () => {
  const tok = tinyTokenizer();
  const p = join(dir, 'tok.gguf');
  saveGgufModel(tinyModel(tinyConfig('qwen2', { vocab_size: 310 })), p, { tokenizer: { tokenizer: tok, chatTemplate: '{{ x }}' } });
  const md = readGguf(p).metadata;
  const tokens = md.get('tokenizer.ggml.tokens')!.value as string[];
  const types = md.get('tokenizer.ggml.token_type')!.value as number[];
  assert.equal(tokens.length, 310);
  assert.equal(tokens[305], '[PAD305]');
  assert.equal(types[305], 5);
  assert.equal(tokens[tok.specialId(tok.eosToken!)], tok.eosToken);
  assert.equal(types[tok.specialId(tok.eosToken!)], 3);
  assert.equal(types[tok.specialId('<think>')], 4);
  assert.equal(types[tok.tokenToId('a')!], 1);
  assert.equal(md.get('tokenizer.ggml.eos_token_id')!.value, tok.specialId(tok.eosToken!));
  assert.equal(md.get('tokenizer.ggml.bos_token_id')!.value, tok.specialId(tok.bosToken!));
  assert.deepEqual((md.get('tokenizer.ggml.merges')!.value as string[]).slice(0, 2), tok.data.merges.slice(0, 2).map(([a, b]) => `${a} ${b}`));
  assert.equal(md.get('tokenizer.ggml.pre')!.value, 'qwen2');
  assert.equal(md.get('tokenizer.chat_template')!.value, '{{ x }}');
  assert.throws(() => saveGgufModel(tinyModel(tinyConfig('qwen2', { vocab_size: 200 })), p, { tokenizer: { tokenizer: tok } }), /300 tokens but the model only 200/);
});

test('the tokenizer comes back from the GGUF file: same ids, roles and chat template; loadModelDir reads a .gguf', () => {
  const tok = tinyTokenizer();
  const p = join(dir, 'tok-back.gguf');
  const model = tinyModel(tinyConfig('llama', { vocab_size: 305 }));
  saveGgufModel(model, p, { tokenizer: { tokenizer: tok, chatTemplate: '{{ bos_token }}{{ messages[0].content }}' } });
  const { tokenizer: back, chatTemplate } = tokenizerFromGguf(p);
  const text = 'hello world, <think> 12345 the lazy fox </think>';
  assert.deepEqual(back.encode(text), tok.encode(text));
  assert.equal(back.vocabSize, tok.vocabSize);
  assert.deepEqual([back.bosToken, back.eosToken, back.padToken], [tok.bosToken, tok.eosToken, tok.padToken]);
  assert.equal(chatTemplate, '{{ bos_token }}{{ messages[0].content }}');
  const md = loadModelDir(p);
  assert.equal(md.kind, 'gguf');
  assert.deepEqual(md.tokenizer.encode(text), tok.encode(text));
  assert.deepEqual(md.stopTokens, [tok.specialId(tok.eosToken!)]);
  assert.equal(modelChatTemplate(md.tokenizer).render([{ role: 'user', content: 'hi' }]), `${tok.bosToken}hi`);
  md.model.eval();
  assert.deepEqual(Array.from(logits(md.model)), Array.from(logits(model)));
});

test('bad GGUF files name what is wrong', () => {
  const p = join(dir, 'bad.gguf');
  writeGguf(p, new Map([['general.architecture', { type: 'string', value: 'gpt2' }]]), new Map([['token_embd.weight', { shape: [4, 2], data: new Float32Array(8) }]]));
  assert.throws(() => loadGgufModel(p), (e: Error) => e instanceof GgufModelError && /"gpt2" is not supported/.test(e.message));
  const good = join(dir, 'llama.gguf');
  const f = readGguf(good);
  const drop = new Map([...f.data].filter(([k]) => k !== 'blk.1.ffn_up.weight').map(([k, d]) => [k, { shape: f.tensors.find((t) => t.name === k)!.shape, data: d }]));
  writeGguf(p, f.metadata, drop);
  assert.throws(() => loadGgufModel(p), (e: Error) => e instanceof GgufModelError && /1 tensors missing: blk\.1\.ffn_up\.weight/.test(e.message));
  const md = new Map(f.metadata);
  md.delete('llama.block_count');
  writeGguf(p, md, new Map([...f.data].map(([k, d]) => [k, { shape: f.tensors.find((t) => t.name === k)!.shape, data: d }])));
  assert.throws(() => loadGgufModel(p), (e: Error) => e instanceof GgufModelError && /'llama\.block_count' is missing/.test(e.message));
});
