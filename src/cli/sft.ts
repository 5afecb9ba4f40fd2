// `r1ts sft`: supervised fine-tuning of a model directory on conversations
// ({"messages": [...]} JSONL, or a built-in synthetic set), training only on
// assistant tokens of the R1 chat template.

import { sft } from '../train/sft.ts';
import { DASHBOARD_FLAG_HELP, openRunDashboard, takeDashboardFlag } from './dashboard.ts';
import { COMMON_TRAIN_FLAGS, COMMON_TRAIN_HELP, DEVICE_FLAG, DEVICE_HELP, parseTrainFlags, settleDevice, type FlagSpec } from './train-flags.ts';

export const SFT_HELP = `usage: r1ts sft --model DIR [--data FILE.jsonl] [options]

Fine-tunes the model in DIR (a Hugging Face directory or r1ts checkpoint, with
a tokenizer.json that has the R1 chat markers, e.g. one written by
\`r1ts pretrain\`) on conversations, one {"messages": [{"role", "content"}, ...]}
per line; without --data, a built-in synthetic set of small sums. Only the
assistant's tokens are trained. Writes DIR/metrics.jsonl, checkpoints/ and model/.

options:
  --model DIR             model to fine-tune (required)
  --data FILE             conversations JSONL
  --tokenizer FILE        tokenizer.json (default: the model's)
${DEVICE_HELP}
${COMMON_TRAIN_HELP}
${DASHBOARD_FLAG_HELP}
defaults: --seq 128 --batch 8 --steps 100 --lr 1e-3 --warmup 10 --held-out 0.1
--eval-every 25 --checkpoint-every 50 --out runs/sft`;

const FLAGS: FlagSpec = { ...COMMON_TRAIN_FLAGS, model: { type: 'string' }, ...DEVICE_FLAG };

export async function sftCommand(args: string[]): Promise<number> {
  let parsed;
  let dashboard: number | null | undefined;
  try {
    ({ args, port: dashboard } = takeDashboardFlag(args));
    parsed = parseTrainFlags(args, FLAGS);
  } catch (e) {
    console.error(`r1ts sft: ${(e as Error).message}\n\n${SFT_HELP}`);
    return 2;
  }
  if (parsed.help) return console.log(SFT_HELP), 0;
  const badDevice = settleDevice('sft', parsed.config);
  if (badDevice) return console.error(badDevice), 2;
  if (!parsed.config.model) {
    console.error(`r1ts sft: --model is required\n\n${SFT_HELP}`);
    return 2;
  }
  const closeDashboard = dashboard === null ? null : await openRunDashboard(dashboard, String(parsed.config.out ?? 'runs/sft'));
  try {
    const r = await sft(parsed.config as { model: string });
    if (r.stopped) {
      console.error(`r1ts sft: stopped at step ${r.step}; checkpoint ${r.checkpoint}. Continue with the same flags and --resume.`);
      return 130;
    }
    console.error(`r1ts sft: ${r.step} steps, loss ${r.losses.at(-1)?.toFixed(4) ?? '-'}${r.evalLoss !== null ? `, eval_loss ${r.evalLoss.toFixed(4)}` : ''}, ${Math.round(r.tokensPerSecond)} tokens/s; model in ${r.modelDir}`);
    return 0;
  } catch (e) {
    console.error(`r1ts sft: ${(e as Error).message}`);
    return 1;
  } finally {
    await closeDashboard?.();
  }
}
