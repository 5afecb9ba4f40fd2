// Tokenizer benchmark: trains a 4k-vocab byte-level BPE on a generated 50 MB
// corpus (Zipf-distributed made-up words, numbers, punctuation, code-like and
// unicode lines; deterministic), then measures encoding speed of our encoder
// beside @huggingface/tokenizers (the anchor, default settings) on the same
// text and file. Training has no JS anchor (the Rust trainer is not a Node
// dependency); the brief's target is under 60 s on one core.
// Usage: npm run bench:tokenizer [-- --mb 50 --vocab 4096 --encode-mb 5 --json]
// Not here: correctness (test/tokenizer/).
import { trainBpe } from '../src/tokenizer/bpe-trainer.ts';
import { toTokenizerJson } from '../src/tokenizer/tokenizer-json.ts';
import { HfTokenizer } from '../src/tokenizer/hf-tokenizer.ts';
import { BpeTokenizer } from '../src/tokenizer/bpe-tokenizer.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const MB = arg('mb', 50);
const VOCAB = arg('vocab', 4096);
const ENCODE_MB = arg('encode-mb', 5);
const JSON_OUT = process.argv.includes('--json');

/** Deterministic generated corpus of about `bytes` UTF-8 bytes. */
export function generateCorpus(bytes: number, seed = 1): string {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const syll = ['ka', 'to', 'ri', 'en', 'the', 'an', 'ing', 'qu', 'str', 'ion', 'al', 'er', 'o', 'e', 'mo', 'pa', 'lex', 'ver', 'sh', 'y'];
  const words: string[] = [];
  for (let i = 0; i < 30000; i++) {
    let w = '';
    const n = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < n; k++) w += syll[Math.floor(rnd() * syll.length)];
    words.push(i % 17 === 0 ? w[0].toUpperCase() + w.slice(1) : w);
  }
  const zipf = (): string => words[Math.min(words.length - 1, Math.floor(Math.exp(rnd() * Math.log(words.length)) - 1))];
  const extras = ['café', 'naïve', '日本語', 'Привет', '🤗', 'x²', '—', '…'];
  const parts: string[] = [];
  let len = 0;
  while (len < bytes) {
    let line: string;
    const r = rnd();
    if (r < 0.75) {
      const n = 5 + Math.floor(rnd() * 20);
      const ws: string[] = [];
      for (let k = 0; k < n; k++) {
        const q = rnd();
        ws.push(q < 0.05 ? String(Math.floor(rnd() * 100000)) : q < 0.07 ? extras[Math.floor(rnd() * extras.length)] : zipf());
      }
      line = ws.join(' ') + (rnd() < 0.5 ? '.' : ',') + (rnd() < 0.3 ? " it's" : '');
    } else if (r < 0.9) {
      line = `    const ${zipf()} = ${zipf()}(${Math.floor(rnd() * 1000)}, "${zipf()}");`;
    } else {
      line = `${Math.floor(rnd() * 100)} + ${Math.floor(rnd() * 1000)} = ${Math.floor(rnd() * 1100)}\t`;
    }
    parts.push(line);
    len += line.length + 1;
  }
  return parts.join('\n');
}

const corpus = generateCorpus(MB * 1e6);
const corpusBytes = Buffer.byteLength(corpus);
let t0 = performance.now();
const tok: BpeTokenizer = trainBpe(corpus, { vocabSize: VOCAB }, (done, total) => {
  if (!JSON_OUT && process.stderr.isTTY) process.stderr.write(`\rmerges ${done}/${total}`);
});
const trainSeconds = (performance.now() - t0) / 1000;
if (!JSON_OUT && process.stderr.isTTY) process.stderr.write('\n');

const text = generateCorpus(ENCODE_MB * 1e6, 7);
const textBytes = Buffer.byteLength(text);
const fresh = new BpeTokenizer(tok.data); // cold cache
t0 = performance.now();
const ids = fresh.encode(text);
const oursSeconds = (performance.now() - t0) / 1000;
const hf = new HfTokenizer(toTokenizerJson(tok));
t0 = performance.now();
const hfIds = hf.encode(text);
const hfSeconds = (performance.now() - t0) / 1000;
const same = ids.length === hfIds.length && ids.every((v, i) => v === hfIds[i]);

if (!same) {
  let i = 0;
  while (i < ids.length && ids[i] === hfIds[i]) i++;
  const show = (xs: number[]): string => JSON.stringify(xs.slice(Math.max(0, i - 3), i + 5).map((x) => tok.idToToken(x)));
  console.error(`first difference at token ${i}: ours ${show(ids)} anchor ${show(hfIds)}`);
}
const rows = [
  ['train', `${(corpusBytes / 1e6).toFixed(1)} MB -> vocab ${tok.vocabSize}`, `${trainSeconds.toFixed(2)} s`, '(no JS anchor)'],
  ['encode ours', `${(textBytes / 1e6).toFixed(1)} MB, ${ids.length} tokens`, `${(textBytes / 1e6 / oursSeconds).toFixed(2)} MB/s`, ''],
  ['encode @huggingface/tokenizers', `same text, ids ${same ? 'identical' : 'DIFFER'}`, `${(textBytes / 1e6 / hfSeconds).toFixed(2)} MB/s`, `ours/anchor ${(hfSeconds / oursSeconds).toFixed(2)}x`],
];
for (const r of rows) console.log(r[0].padEnd(32), r[1].padEnd(40), r[2].padEnd(14), r[3]);
if (JSON_OUT)
  console.log(
    JSON.stringify({
      train_seconds_50mb: +(trainSeconds * (50e6 / corpusBytes)).toFixed(3),
      train_mb: +(corpusBytes / 1e6).toFixed(2),
      vocab_size: tok.vocabSize,
      encode_mb_per_s: +(textBytes / 1e6 / oursSeconds).toFixed(3),
      encode_mb_per_s_hf: +(textBytes / 1e6 / hfSeconds).toFixed(3),
      ids_identical: same,
    }),
  );
