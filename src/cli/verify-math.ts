// `r1ts verify math`: checks answer pairs in bulk with the math verifier.
// Reads a JSONL file (streamed, any size) of {"gold", "pred", "options"?} lines
// and writes one {"verdict": true|false} line per input line to stdout, in
// order; a line that cannot be used gets {"verdict": false, "error": "..."}.
// Not here: the verifier itself (src/rewards/math.ts); wiring into the r1ts
// command table (src/cli/main.ts).

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';

import { parseMathVerifyOptions, verify, type MathVerifyOptions } from '../rewards/math.ts';

export const VERIFY_MATH_HELP = `usage: r1ts verify math --jsonl FILE

Checks whether each predicted answer equals its reference answer.

  --jsonl FILE   input, one JSON object per line:
                   {"gold": "<reference>", "pred": "<model output>", "options": {...}}
                 options (all optional): match_types ["latex","expr"],
                 latex_boxed_match_priority (0 | 50 | -1), precision (6),
                 strict (true), allow_set_relation_comp (false)
  -h, --help     show this help

Output (stdout): one line per input line, in order:
  {"verdict": true}  or  {"verdict": false}
  {"verdict": false, "error": "..."}  when a line cannot be read
Exit status: 0 when the file was read to the end, 1 when it could not be opened,
2 for bad flags.`;

export interface CommandIo {
  stdout: Writable;
  stderr: Writable;
}

function write(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(text)) resolve();
    else {
      out.once('drain', resolve);
      out.once('error', reject);
    }
  });
}

/** Verdict line for one input line (never throws). */
export function verifyJsonLine(line: string): { verdict: boolean; error?: string } {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    return { verdict: false, error: `line is not valid JSON: ${(e as Error).message}` };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { verdict: false, error: 'line must be a JSON object with "gold" and "pred"' };
  const rec = obj as Record<string, unknown>;
  if (typeof rec.gold !== 'string') return { verdict: false, error: '"gold" must be a string' };
  if (typeof rec.pred !== 'string') return { verdict: false, error: '"pred" must be a string' };
  let options: MathVerifyOptions;
  try {
    options = parseMathVerifyOptions(rec.options ?? {});
  } catch (e) {
    const issues = (e as { issues?: Array<{ path: Array<string | number>; message: string }> }).issues;
    const msg = issues ? issues.map((i) => `options.${i.path.join('.')}: ${i.message}`).join('; ') : (e as Error).message;
    return { verdict: false, error: `bad options: ${msg}` };
  }
  try {
    return { verdict: verify(rec.gold, rec.pred, options) };
  } catch (e) {
    return { verdict: false, error: `verifier failed: ${(e as Error).message}` };
  }
}

export async function verifyMathCommand(args: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let file: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-h' || a === '--help') {
      await write(io.stdout, VERIFY_MATH_HELP + '\n');
      return 0;
    }
    if (a === '--jsonl') {
      const v = args[i + 1];
      if (v === undefined) {
        await write(io.stderr, 'r1ts verify math: --jsonl needs a file path\n');
        return 2;
      }
      file = v;
      i++;
      continue;
    }
    if (a.startsWith('--jsonl=')) {
      file = a.slice('--jsonl='.length);
      continue;
    }
    await write(io.stderr, `r1ts verify math: unknown argument '${a}'. Run \`r1ts verify math --help\`.\n`);
    return 2;
  }
  if (file === null) {
    await write(io.stderr, 'r1ts verify math: missing --jsonl FILE. Run `r1ts verify math --help`.\n');
    return 2;
  }
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a regular file');
  } catch (e) {
    await write(io.stderr, `r1ts verify math: cannot read ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  const stream = createReadStream(file, { encoding: 'utf8' });
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      const result = line === '' ? { verdict: false, error: 'empty line' } : verifyJsonLine(line);
      await write(io.stdout, JSON.stringify(result) + '\n');
    }
  } catch (e) {
    await write(io.stderr, `r1ts verify math: error reading ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  return 0;
}
