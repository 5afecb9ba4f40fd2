// `r1ts distill`: SFT a student (a preset or a model directory) on verified
// traces (`r1ts sample` output) and report its held-out accuracy on the task
// before and after. Prints the summary as one JSON line on stdout.
// Not here: the work itself (src/recipe/distill.ts).

import { distill } from '../recipe/distill.ts';
import { DEVICE_FLAG, DEVICE_HELP, parseTrainFlags, settleDevice, type FlagSpec } from './train-flags.ts';

export const DISTILL_HELP = `usage: r1ts distill --data FILE.jsonl --student PRESET|DIR --task TASK [options]

Fine-tunes a student on the conversations of FILE.jsonl (assistant tokens only,
R1 chat template) and evaluates it on the task's held-out items before and after.
A preset student (dense-N, moe-N, or N = dense of depth N) is built from
scratch with a BPE tokenizer trained on the data; a DIR student needs a
tokenizer with the R1 chat markers (e.g. from r1ts pretrain).
Writes OUT/summary.json, OUT/sft/ (metrics.jsonl, model/).

options:
  --data FILE           SFT JSONL (required)
  --student S           dense-N | moe-N | N | model directory (required)
  --task T              add, add2 … add9, mul, mul2 … mul9, gsm8k, math500, countdown, FILE.jsonl (required)
  --grader G            grader of a .jsonl task
  --data-dir DIR        the shared/data folder
  --out DIR             run directory (default runs/distill)
  --eval-items N        held-out items (default 100)
  --eval-k K            samples per item (default 1)
  --eval-temperature T  default 0 (greedy)
  --max-tokens N        most tokens per evaluated completion (default 256)
  --vocab N             a preset student's BPE vocabulary (default 512)
  --seq T               context of a preset student and SFT rows (default 256)
  --steps N             SFT steps (default 300)
  --batch B             SFT rows per step (default 16)
  --lr X                default 3e-3
  --warmup N            default 20
  --held-out X          fraction of conversations held out for eval_loss (default 0.05)
  --seed N              default 0
${DEVICE_HELP}
  --no-progress         no progress bar
  -h, --help            this text`;

const n = { type: 'string', number: true } as const;
const FLAGS: FlagSpec = {
  data: { type: 'string' }, student: { type: 'string' }, task: { type: 'string' }, grader: { type: 'string' }, 'data-dir': { type: 'string' }, out: { type: 'string' },
  'eval-items': n, 'eval-k': n, 'eval-temperature': n, 'max-tokens': n, vocab: n, seq: n, steps: n, batch: n, lr: n, warmup: n, 'held-out': n, seed: n,
  'no-progress': { type: 'boolean' }, ...DEVICE_FLAG,
};

export async function distillCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseTrainFlags(args, FLAGS);
  } catch (e) {
    console.error(`r1ts distill: ${(e as Error).message}\n\n${DISTILL_HELP}`);
    return 2;
  }
  if (parsed.help) return console.log(DISTILL_HELP), 0;
  const badDevice = settleDevice('distill', parsed.config);
  if (badDevice) return console.error(badDevice), 2;
  for (const f of ['data', 'student', 'task'] as const) {
    if (!parsed.config[f]) {
      console.error(`r1ts distill: --${f} is required\n\n${DISTILL_HELP}`);
      return 2;
    }
  }
  try {
    const s = await distill(parsed.config as { data: string; student: string; task: string });
    console.log(JSON.stringify(s));
    console.error(`r1ts distill: held-out accuracy ${(100 * s.acc_before).toFixed(1)}% → ${(100 * s.acc_after).toFixed(1)}% (${s.eval_items} ${s.task} items); model in ${s.model}`);
    return 0;
  } catch (e) {
    console.error(`r1ts distill: ${(e as Error).message}`);
    return 1;
  }
}
