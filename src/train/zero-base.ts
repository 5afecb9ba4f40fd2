// Builds the base model of `r1ts zero` from nothing: the synthetic corpus
// (tasks/arithmetic-corpus.ts), a byte-level BPE trained on it (with only
// BOS/EOS/PAD as added tokens, so "<think>" and "</think>" are ordinary text
// the model can compose from the tags it has seen), and a small Llama-style
// model pretrained on it with trainLM. The result is a Hugging Face directory
// (config.json, model.safetensors, tokenizer.json) that `r1ts zero` loads.
// The shipped assets/zero-base was made by exactly this function with its
// defaults (`r1ts zero --from-scratch --save-base assets/zero-base`).
// Not here: RL (zero.ts), the training loop (trainer.ts).

import { join } from 'node:path';
import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { PackedBatcher, tokenizeDocuments } from '../data/pack.ts';
import { buildModel, modelFromHfTensors, readHfTensors } from '../io/hf.ts';
import { loadModel } from '../io/load.ts';
import { densePreset, parseModelConfig } from '../models/config.ts';
import { corpusDocuments, type CorpusKind, type CorpusOptions } from '../tasks/arithmetic-corpus.ts';
import { countdownCorpusDocuments, type CountdownCorpusOptions } from '../tasks/countdown-corpus.ts';
import { BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, trainBpe } from '../tokenizer/index.ts';
import { loadBpeTokenizer, tokenizerConfigBeside } from '../tokenizer/tokenizer-json.ts';
import { trainLM } from './trainer.ts';

export interface ZeroBaseOptions {
  /** Run directory; the model lands in outDir/model. */
  outDir: string;
  /** Optimizer steps of B × T tokens (default 1200 × 32 × 256 ≈ 9.8M tokens). */
  steps?: number;
  batch?: number;
  seq?: number;
  lr?: number;
  /** BPE vocabulary (bytes + merges + 3 added tokens). */
  vocab?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  ffn?: number;
  seed?: number;
  /** The corpus's mixture and digit ranges (default: the corpus's defaults, which built assets/zero-base). */
  corpus?: CorpusOptions;
  /**
   * Mix in the countdown corpus (tasks/countdown-corpus.ts): each document is a countdown one with
   * probability `share`, else an arithmetic one (default: no countdown documents, the shipped base).
   * The corpus is then sized by tokens (countdown documents are longer), not by a document count.
   */
  countdown?: { share: number; corpus?: CountdownCorpusOptions };
  progress?: boolean;
  resume?: boolean;
  log?: (line: string) => void;
}

export const ZERO_BASE_DEFAULTS = { steps: 1200, batch: 32, seq: 256, lr: 3e-3, vocab: 640, hidden: 128, layers: 4, heads: 4, ffn: 352, seed: 0 };

/**
 * The countdown base's recipe (docs/zero.md, base K): 80% countdown documents, 384 positions (the
 * countdown question under the R1-Zero prompt takes ~244 tokens), 800 steps of 32 × 384 tokens.
 */
export const COUNTDOWN_BASE_OPTIONS: Pick<ZeroBaseOptions, 'steps' | 'seq' | 'countdown'> = { steps: 800, seq: 384, countdown: { share: 0.8 } };

/**
 * The countdown base whose search writes each ± step with its column work (docs/zero.md, base C3):
 * 90% countdown documents (no prose, whose "x plus y is z" is the one-shot look-up; questions with
 * their numbers restated, and half the searches restating them first, because a first build without
 * them, 900 steps, copied the question's first pair into 1% of its searches), 512 positions
 * (a search in columns is ~2.5× as long), and the 1.89M-parameter model (width 192, 3 heads) on
 * which bench/arith-format.ts measured column-written facts 92% right. Each trial writes the target
 * beside its value before the verdict (countdown-corpus.ts). GRPO on it: 45.3% → 80.1% of cd3.
 */
export const COUNTDOWN_COLUMNS_BASE_OPTIONS: Pick<ZeroBaseOptions, 'steps' | 'seq' | 'hidden' | 'heads' | 'ffn' | 'countdown'> = {
  steps: 1200, seq: 512, hidden: 192, heads: 3, ffn: 512,
  countdown: { share: 0.9, corpus: { steps: 'columns', restate: 0.5, mix: { search: 0.5, restate: 0.12, direct: 0.1, tagged: 0.1, facts: 0.18, prose: 0 } } },
};

/**
 * The countdown aha base A (docs/zero.md; its corpus is also A′'s, below): C3's model, shape and
 * arithmetic, but its worked answers are guesses (countdown-corpus.ts 'guess'): one of the four trials' equations,
 * answered at once, except that 30% of them first check the guess ("Wait, let me check: …") and,
 * when it is wrong (70% of checked guesses), try again with the search. No search without a
 * check, so the only worked answers with a reflection word are the checked ones, and checking is
 * occasional; whether GRPO makes it the rule is the experiment.
 */
export const COUNTDOWN_AHA_BASE_OPTIONS: Pick<ZeroBaseOptions, 'steps' | 'seq' | 'hidden' | 'heads' | 'ffn' | 'countdown'> = {
  ...COUNTDOWN_COLUMNS_BASE_OPTIONS,
  countdown: {
    share: 0.9,
    corpus: { steps: 'columns', restate: 0.5, guessCheck: 0.3, guessRight: 0.3, mix: { search: 0, guess: 0.6, restate: 0.12, direct: 0.05, tagged: 0.05, facts: 0.18, prose: 0 } },
  },
};

/**
 * The countdown aha base A′ (docs/zero.md): the shipped assets/countdown-base (C3, whose search
 * after a "no" is strong) continued on the aha corpus above, 250 steps of 32 × 512 at lr 1e-3
 * (continueZeroBase). Base A, the same corpus from scratch, searched too weakly for a check to pay.
 */
export const COUNTDOWN_AHA_CONTINUE = { steps: 250, lr: 1e-3, corpus: COUNTDOWN_AHA_BASE_OPTIONS.countdown!.corpus! };

/**
 * The multiplication base M (docs/zero.md, "Beyond selection"): the shipped assets/zero-base
 * continued for 400 steps of 32 × 384 at lr 1e-3 on the addition corpus in which half of the
 * worked, direct and tagged documents (and of the fact lists) are products a*d instead
 * (arithmetic-corpus.ts mulShare), with the context stretched from 256 to 384 positions so that a
 * worked product fits after the R1-Zero prompt.
 */
export const MUL_CONTINUE = { steps: 400, lr: 1e-3, seq: 384, arithmetic: { mulShare: 0.5 } };

export interface ContinueZeroBaseOptions {
  /** The base to continue (a model directory with its tokenizer.json). */
  from: string;
  /** Run directory; the model lands in outDir/model. */
  outDir: string;
  /** The countdown corpus to continue on (every document a countdown one); or: */
  corpus?: CountdownCorpusOptions;
  /** the arithmetic corpus (tasks/arithmetic-corpus.ts) to continue on. Exactly one of the two. */
  arithmetic?: CorpusOptions;
  /** Sequence length (default: the base's context); a longer one stretches the context (RoPE has no learned positions). */
  seq?: number;
  steps: number;
  lr: number;
  batch?: number;
  seed?: number;
  progress?: boolean;
  resume?: boolean;
  log?: (line: string) => void;
}

/**
 * Continues a base's pretraining on a countdown or arithmetic corpus, keeping its tokenizer and
 * shape (sequences as long as its context, or `seq`, which becomes its context); warm-up 20 steps,
 * then cosine to a tenth. Returns the model directory.
 */
export async function continueZeroBase(o: ContinueZeroBaseOptions): Promise<string> {
  const batch = o.batch ?? 32;
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  const tokPath = join(o.from, 'tokenizer.json');
  const tokenizer = loadBpeTokenizer(tokPath, tokenizerConfigBeside(tokPath));
  if ((o.corpus === undefined) === (o.arithmetic === undefined)) throw new R1tsError('continue base: expected exactly one of corpus (countdown) and arithmetic');
  let { model } = loadModel(o.from);
  const seq = o.seq ?? model.maxSeqLen;
  if (!Number.isInteger(seq) || seq < 2) throw new R1tsError(`continue base: seq=${seq}: expected an integer ≥ 2`);
  if (seq !== model.maxSeqLen) model = modelFromHfTensors(parseModelConfig({ ...model.config, max_position_embeddings: seq }), readHfTensors(o.from), o.from);
  // enough documents for one pass (with 5% to spare), in whole thousands, sized by the mean length of the first 500
  const need = o.steps * batch * (seq + 1) * 1.05;
  const docs: string[] = [];
  let perDoc = 0;
  const source = o.corpus !== undefined ? countdownCorpusDocuments(seed + 6, o.corpus) : corpusDocuments(seed + 7, o.arithmetic);
  for (const d of source) {
    docs.push(d.text);
    if (docs.length === 500) for (const x of docs) perDoc += (tokenizer.encode(x, { parseSpecial: false }).length + 1) / 500;
    if (docs.length % 1000 === 0 && perDoc * docs.length > need) break;
  }
  log(`continue base: ${o.from}, ${docs.length} ${o.corpus !== undefined ? 'countdown' : 'arithmetic'} documents, ${o.steps} steps of ${batch} × ${seq} tokens at lr ${o.lr}`);
  const splits = await tokenizeDocuments(docs, tokenizer, { eosId: tokenizer.specialId(EOS_TOKEN), heldOutFraction: 0.01, seed });
  const r = await trainLM({
    model, tokenizer, outDir: o.outDir, steps: o.steps, lr: o.lr, minLrRatio: 0.1, warmupSteps: 20, schedule: 'cosine', weightDecay: 0.01,
    gradClip: 1, evalEvery: 50, evalBatches: 4, checkpointEvery: 50, resume: o.resume ?? false, seed, progress: o.progress ?? true, label: 'continue base',
    train: new PackedBatcher(splits.train, { batch, seqLen: seq, seed }),
    eval: new PackedBatcher(splits.eval, { batch, seqLen: seq, shuffle: false }),
  });
  if (!r.modelDir) throw new R1tsError(`continue base: training stopped at step ${r.step} of ${o.steps}; the same call with resume continues it`);
  return r.modelDir;
}

/** Pretrains the zero base; returns the model directory. */
export async function buildZeroBase(opts: ZeroBaseOptions): Promise<string> {
  const o = { ...ZERO_BASE_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  // the corpus: enough documents for one pass over steps × B × T tokens (≈ 48 tokens per document)
  const tokensNeeded = o.steps * o.batch * (o.seq + 1);
  const docs: string[] = [];
  const kinds: Record<string, number> = {};
  const gen = corpusDocuments(o.seed + 1, o.corpus);
  const cd = o.countdown;
  if (cd !== undefined && !(cd.share >= 0 && cd.share <= 1)) throw new R1tsError(`zero base: countdown.share=${cd.share}: expected a share in [0, 1]`);
  const cdGen = cd ? countdownCorpusDocuments(o.seed + 2, cd.corpus) : null;
  const mixRng = new Rng(o.seed + 3);
  const nextDoc = (): void => {
    const fromCd = cdGen !== null && mixRng.uniform() < cd!.share;
    const d = fromCd ? cdGen.next().value! : (gen.next().value as { kind: CorpusKind; text: string });
    const kind = fromCd ? `countdown ${d.kind}` : d.kind;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    docs.push(d.text);
  };
  // the corpus: enough documents for one pass over steps × B × T tokens (≈ 48 tokens per arithmetic document)
  const docsNeeded = cdGen ? 20_000 : Math.ceil(tokensNeeded / 45);
  for (let i = 0; i < docsNeeded; i++) nextDoc();
  const tokenizer = trainBpe(docs.slice(0, 20_000), {
    vocabSize: o.vocab,
    specialTokens: [{ content: BOS_TOKEN, special: true }, { content: EOS_TOKEN, special: true }, { content: PAD_TOKEN, special: true }],
    bos: BOS_TOKEN, eos: EOS_TOKEN, pad: PAD_TOKEN,
  });
  if (cdGen) {
    // with countdown documents: size the corpus by tokens, from the mean length of the first 2,000
    let t = 0;
    for (const d of docs.slice(0, 2000)) t += tokenizer.encode(d, { parseSpecial: false }).length + 1;
    const perDoc = t / Math.min(2000, docs.length);
    const want = Math.ceil((1.02 * tokensNeeded) / perDoc);
    while (docs.length < want) nextDoc();
  }
  log(`zero base: ${docs.length} corpus documents (${Object.entries(kinds).map(([k, n]) => `${k} ${((100 * n) / docs.length).toFixed(0)}%`).join(', ')})`);
  const eosId = tokenizer.specialId(EOS_TOKEN);
  const splits = await tokenizeDocuments(docs, tokenizer, { eosId, heldOutFraction: 0.01, seed: o.seed });
  log(`zero base: ${splits.train.length} training tokens, ${splits.eval.length} held out; vocabulary ${tokenizer.vocabSize}`);
  const preset = densePreset(o.layers, tokenizer.vocabSize, o.seq);
  const config = parseModelConfig({
    ...preset, hidden_size: o.hidden, intermediate_size: o.ffn, num_hidden_layers: o.layers, num_attention_heads: o.heads, num_key_value_heads: o.heads,
  });
  const model = buildModel(config, new Rng(o.seed));
  log(`zero base: ${(model.numParameters() / 1e6).toFixed(2)}M parameters (${o.layers} layers, width ${o.hidden}, ${o.heads} heads), ${o.steps} steps of ${o.batch} × ${o.seq} tokens`);
  const r = await trainLM({
    model, tokenizer, outDir: o.outDir, steps: o.steps, lr: o.lr, minLrRatio: 0.1, warmupSteps: 30, schedule: 'cosine', weightDecay: 0.01,
    gradClip: 1, evalEvery: 200, evalBatches: 4, checkpointEvery: 100, resume: o.resume ?? false, seed: o.seed, progress: o.progress ?? true, label: 'zero base',
    train: new PackedBatcher(splits.train, { batch: o.batch, seqLen: o.seq, seed: o.seed }),
    eval: new PackedBatcher(splits.eval, { batch: o.batch, seqLen: o.seq, shuffle: false }),
  });
  if (!r.modelDir) throw new R1tsError(`zero base: pretraining stopped at step ${r.step} of ${o.steps}; the same command with --resume (and the same --out) continues it`);
  return r.modelDir;
}
