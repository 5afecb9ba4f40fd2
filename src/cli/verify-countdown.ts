// `r1ts verify countdown --jsonl FILE`: scores countdown completions from a JSONL file.
// Each input line is {"numbers":[..],"target":..,"completion":".."}; for each line one
// output line {"reward":..} is written to stdout, in order (streamed: the file is never
// held in memory). A line that is not such an object gets {"reward":0,"error":"..."};
// blank lines are skipped. Flags: --format-reward X (credit for a well-formed wrong answer,
// default 0.1), --no-fractions (integer intermediates only), --help.
// Exit status: 0 when the file was read (even with bad lines), 1 when it cannot be read,
// 2 on bad flags.
// Not here: the verifier rules (src/rewards/countdown.ts).

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { countdownReward } from '../rewards/countdown.ts';

const usage = `usage: r1ts verify countdown --jsonl FILE [--format-reward X] [--no-fractions]

Scores countdown completions. FILE has one JSON object per line:
  {"numbers": [30, 100, 93], "target": 23, "completion": "<think>…</think><answer>30 - (100 - 93)</answer>"}
and one line {"reward": R} is printed per input line, in order; a malformed line
prints {"reward": 0, "error": "..."}.

The equation is the last <answer>…</answer> block: integers, + - * / and parentheses,
each given number used exactly once, exact rational arithmetic, optional "= target".
Reward: 1 correct, X (default 0.1) for a well-formed but wrong answer, 0 otherwise.

options:
  --jsonl FILE         input file ('-' reads stdin)
  --format-reward X    credit for a well-formed but wrong answer (default 0.1)
  --no-fractions       require every intermediate result to be an integer
  -h, --help           this text`;

interface Flags {
  jsonl: string;
  formatReward: number;
  allowFractions: boolean;
}

function parseFlags(args: string[]): Flags | 'help' | string {
  let jsonl: string | undefined;
  let formatReward = 0.1;
  let allowFractions = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--jsonl' || a.startsWith('--jsonl=')) {
      jsonl = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (jsonl === undefined || jsonl === '') return '--jsonl: expected a file path';
    } else if (a === '--format-reward' || a.startsWith('--format-reward=')) {
      const raw = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      formatReward = Number(raw);
      if (raw === undefined || raw === '' || !Number.isFinite(formatReward)) return `--format-reward ${raw ?? ''}: expected a number`;
    } else if (a === '--no-fractions') allowFractions = false;
    else return `unknown option '${a}'`;
  }
  if (jsonl === undefined) return 'missing --jsonl FILE';
  return { jsonl, formatReward, allowFractions };
}

function scoreLine(line: string, flags: Flags): { reward: number; error?: string } {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    return { reward: 0, error: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { reward: 0, error: 'expected a JSON object {"numbers","target","completion"}' };
  const o = obj as Record<string, unknown>;
  const isInt = (x: unknown): boolean => (typeof x === 'number' && Number.isSafeInteger(x)) || (typeof x === 'string' && /^-?\d+$/.test(x));
  if (!Array.isArray(o.numbers) || o.numbers.length === 0 || !o.numbers.every(isInt)) return { reward: 0, error: '"numbers": expected a non-empty array of integers' };
  if (!isInt(o.target)) return { reward: 0, error: '"target": expected an integer' };
  if (typeof o.completion !== 'string') return { reward: 0, error: '"completion": expected a string' };
  const reward = countdownReward(o.numbers as (number | string)[], o.target as number | string, o.completion, { format: flags.formatReward }, { allowFractions: flags.allowFractions });
  return { reward };
}

/** Runs the command; resolves to the exit status. */
export async function verifyCountdownCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args);
  if (flags === 'help') {
    console.log(usage);
    return 0;
  }
  if (typeof flags === 'string') {
    console.error(`r1ts verify countdown: ${flags}\n\n${usage}`);
    return 2;
  }
  if (flags.jsonl !== '-') {
    if (!existsSync(flags.jsonl)) {
      console.error(`r1ts verify countdown: --jsonl ${flags.jsonl}: no such file`);
      return 1;
    }
    if (!statSync(flags.jsonl).isFile()) {
      console.error(`r1ts verify countdown: --jsonl ${flags.jsonl}: not a regular file`);
      return 1;
    }
  }
  const input = flags.jsonl === '-' ? process.stdin : createReadStream(flags.jsonl, { encoding: 'utf8' });
  let readError: Error | undefined;
  input.on('error', (e: Error) => {
    readError = e;
  });
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      if (line.trim() === '') continue;
      // Respect backpressure so a huge file streams with bounded memory.
      if (!process.stdout.write(JSON.stringify(scoreLine(line, flags)) + '\n')) await once(process.stdout, 'drain');
    }
  } catch (e) {
    readError ??= e instanceof Error ? e : new Error(String(e));
  }
  if (readError !== undefined) {
    console.error(`r1ts verify countdown: reading ${flags.jsonl}: ${readError.message}`);
    return 1;
  }
  return 0;
}
