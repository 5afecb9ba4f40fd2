// Documents from text files, streamed line by line (never loaded whole):
// .jsonl: one JSON object per line, its "text" field is a document;
// .txt (anything else): documents are separated by one or more blank lines
// (a file with no blank lines is one document).
// Also a small deterministic synthetic corpus for the built-in pretraining demo.
// Not here: tokenization and batching (pack.ts).

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';

/** The lines of a text file, streamed, numbered from 1; a missing file is an R1tsError naming it. */
async function* readLines(path: string): AsyncGenerator<{ line: string; lineNo: number }> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of rl) yield { line, lineNo: ++lineNo };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new R1tsError(`${path}: no such file`);
    throw e;
  }
}

/** The JSON values of a JSONL file, streamed (blank lines skipped); a bad line is an error naming path:line. */
export async function* readJsonlValues(path: string): AsyncGenerator<{ value: unknown; lineNo: number }> {
  for await (const { line, lineNo } of readLines(path)) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new R1tsError(`${path}:${lineNo}: not valid JSON (${(e as Error).message})`);
    }
    yield { value, lineNo };
  }
}

/** Streams the documents of a .txt or .jsonl file. */
export async function* readDocuments(path: string): AsyncGenerator<string> {
  if (path.endsWith('.jsonl')) {
    for await (const { value, lineNo } of readJsonlValues(path)) {
      const text = (value as { text?: unknown } | null)?.text;
      if (typeof text !== 'string') throw new R1tsError(`${path}:${lineNo}: expected an object with a string "text" field`);
      if (text.length) yield text;
    }
    return;
  }
  let para: string[] = [];
  for await (const { line } of readLines(path)) {
    if (line.trim() === '') {
      if (para.length) yield para.join('\n');
      para = [];
    } else {
      para.push(line);
    }
  }
  if (para.length) yield para.join('\n');
}

const NAMES = ['Ada', 'Ben', 'Cleo', 'Dan', 'Eve', 'Finn', 'Gus', 'Hana', 'Ivy', 'Jon', 'Kai', 'Lena'];
const ANIMALS = ['cat', 'dog', 'fox', 'owl', 'hen', 'cow', 'bee', 'frog', 'duck', 'goat'];
const PLACES = ['garden', 'forest', 'kitchen', 'river', 'market', 'school', 'hill', 'barn'];
const COLORS = ['red', 'blue', 'green', 'yellow', 'brown', 'white', 'black'];
const VERBS = ['saw', 'fed', 'found', 'chased', 'painted', 'liked', 'helped'];

/**
 * A deterministic toy corpus of about `bytes` characters: short stories of simple
 * sentences plus small sums (a little structure to learn), one document each.
 */
export function syntheticCorpus(bytes = 200_000, seed = 0): string[] {
  const r = new Rng(seed);
  const pick = <T>(a: readonly T[]): T => a[r.int(a.length)];
  const docs: string[] = [];
  let total = 0;
  while (total < bytes) {
    const who = pick(NAMES), animal = pick(ANIMALS), place = pick(PLACES), color = pick(COLORS);
    const s: string[] = [`${who} went to the ${place}.`, `There ${who} ${pick(VERBS)} a ${color} ${animal}.`];
    const n = 1 + r.int(4);
    for (let i = 0; i < n; i++) {
      const a = r.int(20), b = r.int(20);
      s.push(pick([`The ${animal} was ${pick(COLORS)}.`, `${who} ${pick(VERBS)} the ${animal} again.`, `${a} plus ${b} is ${a + b}.`, `The ${animal} ran to the ${pick(PLACES)}.`]));
    }
    s.push(`${who} was happy.`);
    const doc = s.join(' ');
    docs.push(doc);
    total += doc.length + 2;
  }
  return docs;
}
