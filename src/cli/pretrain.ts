// `r1ts pretrain`: train a small model from scratch on a text file (or the
// built-in synthetic corpus), writing runs/NAME/{metrics.jsonl, checkpoints/,
// model/}. Ctrl-C saves a checkpoint; --resume continues it.

import { pretrain } from '../train/pretrain.ts';
import { DASHBOARD_FLAG_HELP, openRunDashboard, takeDashboardFlag } from './dashboard.ts';
import { COMMON_TRAIN_FLAGS, COMMON_TRAIN_HELP, DEVICE_FLAG, DEVICE_HELP, parseTrainFlags, settleDevice, type FlagSpec } from './train-flags.ts';

export const PRETRAIN_HELP = `usage: r1ts pretrain [--data FILE.txt|FILE.jsonl] [--tokenizer tokenizer.json | --vocab N] [options]

Pretrains a DeepSeek-V3 (--arch moe) or Llama-style (--arch dense) preset on
documents: a .txt file (blank-line separated) or .jsonl ({"text": ...} per
line); without --data, 3M characters of a built-in synthetic corpus (the
default run, 4.8M parameters, takes about 3 minutes on 2 cores).
Without --tokenizer, a byte-level BPE of --vocab tokens is trained on the data.
Writes DIR/metrics.jsonl, DIR/checkpoints/ and, at the end, DIR/model/ (a
Hugging Face directory with tokenizer.json).

options:
  --data FILE             training text (default: built-in synthetic corpus)
  --tokenizer FILE        tokenizer.json to use
  --vocab N               BPE vocabulary when training one (1024)
  --depth N               preset size knob: layers; width 256·N/6 rounded to 64 (6)
  --arch dense|moe        model family (dense)
${DEVICE_HELP}
${COMMON_TRAIN_HELP}
${DASHBOARD_FLAG_HELP}
defaults: --seq 128 --batch 32 --steps 300 --lr 3e-3 --warmup 20 --schedule cosine
--held-out 0.05 --eval-every 50 --checkpoint-every 100 --out runs/pretrain`;

const FLAGS: FlagSpec = { ...COMMON_TRAIN_FLAGS, vocab: { type: 'string', number: true }, depth: { type: 'string', number: true }, arch: { type: 'string' }, ...DEVICE_FLAG };

export async function pretrainCommand(args: string[]): Promise<number> {
  let parsed;
  let dashboard: number | null | undefined;
  try {
    ({ args, port: dashboard } = takeDashboardFlag(args));
    parsed = parseTrainFlags(args, FLAGS);
  } catch (e) {
    console.error(`r1ts pretrain: ${(e as Error).message}\n\n${PRETRAIN_HELP}`);
    return 2;
  }
  if (parsed.help) return console.log(PRETRAIN_HELP), 0;
  const badDevice = settleDevice('pretrain', parsed.config);
  if (badDevice) return console.error(badDevice), 2;
  const closeDashboard = dashboard === null ? null : await openRunDashboard(dashboard, String(parsed.config.out ?? 'runs/pretrain'));
  try {
    const r = await pretrain(parsed.config);
    const last = r.losses.at(-1);
    if (r.stopped) {
      console.error(`r1ts pretrain: stopped at step ${r.step}; checkpoint ${r.checkpoint}. Continue with the same flags and --resume.`);
      return 130;
    }
    console.error(`r1ts pretrain: ${r.step} steps, loss ${last?.toFixed(4) ?? '-'}${r.evalLoss !== null ? `, eval_loss ${r.evalLoss.toFixed(4)}` : ''}, ${Math.round(r.tokensPerSecond)} tokens/s; model in ${r.modelDir}`);
    return 0;
  } catch (e) {
    console.error(`r1ts pretrain: ${(e as Error).message}`);
    return 1;
  } finally {
    await closeDashboard?.();
  }
}
