// The GRPO flags shared by `r1ts zero` and `r1ts rl`: one table of flag →
// option, parsed with node:util and validated with zod at this edge, so a bad
// value is reported with the flag's name and what it accepts.
// Not here: the commands themselves (zero.ts, rl.ts), the loop (train/grpo.ts).

import { z } from 'zod';
import { GRPO_DEFAULTS, type GrpoOptions } from '../train/grpo.ts';

/** parseArgs option specs of the GRPO flags. */
export const GRPO_FLAG_SPECS = {
  prompts: { type: 'string' },
  group: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  'weight-decay': { type: 'string' },
  'grad-clip': { type: 'string' },
  beta: { type: 'string' },
  'eps-low': { type: 'string' },
  'eps-high': { type: 'string' },
  aggregation: { type: 'string' },
  'no-scale-std': { type: 'boolean' },
  mu: { type: 'string' },
  'no-dynamic-sampling': { type: 'boolean' },
  'no-share-prefix': { type: 'boolean' },
  'max-refills': { type: 'string' },
  'overlong-filter': { type: 'boolean' },
  'overlong-buffer': { type: 'string' },
  'ref-refresh': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const GRPO_FLAGS_HELP = `GRPO (defaults in brackets):
  --prompts N            prompts (groups) per step [${GRPO_DEFAULTS.promptsPerStep}]
  --group G              completions per prompt [${GRPO_DEFAULTS.groupSize}]
  --max-tokens L         generation budget per completion [${GRPO_DEFAULTS.maxTokens}]
  --temperature T        rollout temperature [${GRPO_DEFAULTS.temperature}]
  --top-p P              rollout nucleus [${GRPO_DEFAULTS.topP}]
  --lr LR                AdamW learning rate [${GRPO_DEFAULTS.lr}]
  --warmup N             linear warm-up steps [${GRPO_DEFAULTS.warmupSteps}]
  --weight-decay W       [${GRPO_DEFAULTS.weightDecay}]
  --grad-clip C          global gradient-norm clip [${GRPO_DEFAULTS.gradClip}]
  --beta B               KL coefficient; 0 skips the reference model [${GRPO_DEFAULTS.beta}]
  --eps-low E            lower clip range [${GRPO_DEFAULTS.epsLow}]
  --eps-high E           upper clip range (DAPO clip-higher: 0.28) [${GRPO_DEFAULTS.epsHigh}]
  --aggregation A        sequence (paper) | token (DAPO) | constant (Dr. GRPO) [${GRPO_DEFAULTS.aggregation}]
  --no-scale-std         advantages r − mean, not divided by the group std (Dr. GRPO)
  --mu N                 optimizer steps per rollout batch [${GRPO_DEFAULTS.mu}]
  --no-dynamic-sampling  keep groups whose rewards are all equal
  --max-refills N        dynamic-sampling refill rounds per step [${GRPO_DEFAULTS.maxRefills}]
  --no-share-prefix      train each completion with its own copy of the prompt (same gradient, slower)
  --overlong-filter      truncated completions carry no loss (DAPO)
  --overlong-buffer N    soft overlong punishment over the last N tokens (DAPO) [${GRPO_DEFAULTS.overlongBuffer}]
  --ref-refresh N        copy the policy into the reference every N steps (0 = never) [${GRPO_DEFAULTS.refRefreshEvery}]
  --seed S               [${GRPO_DEFAULTS.seed}]`;

const num = (flag: string) => z.coerce.number({ error: `--${flag}: expected a number` }).refine(Number.isFinite, `--${flag}: expected a finite number`);
const int = (flag: string, min: number) => num(flag).refine((x) => Number.isInteger(x) && x >= min, `--${flag}: expected an integer ≥ ${min}`);

/** GRPO options from parsed flag values (absent flags keep the defaults). */
export function grpoOptionsFromFlags(v: Record<string, string | boolean | undefined>): GrpoOptions {
  const o: GrpoOptions = { ...GRPO_DEFAULTS };
  const set = <K extends keyof GrpoOptions>(key: K, flag: string, schema: z.ZodType<GrpoOptions[K]>) => {
    if (v[flag] === undefined) return;
    const r = schema.safeParse(v[flag]);
    if (!r.success) throw new RangeError(r.error.issues[0]?.message ?? `--${flag}: invalid value`);
    o[key] = r.data;
  };
  set('promptsPerStep', 'prompts', int('prompts', 1));
  set('groupSize', 'group', int('group', 2));
  set('maxTokens', 'max-tokens', int('max-tokens', 1));
  set('temperature', 'temperature', num('temperature').refine((x) => x > 0, '--temperature: rollouts must sample, expected > 0'));
  set('topP', 'top-p', num('top-p').refine((x) => x > 0 && x <= 1, '--top-p: expected in (0, 1]'));
  set('lr', 'lr', num('lr').refine((x) => x > 0, '--lr: expected > 0'));
  set('warmupSteps', 'warmup', int('warmup', 0));
  set('weightDecay', 'weight-decay', num('weight-decay').refine((x) => x >= 0, '--weight-decay: expected ≥ 0'));
  set('gradClip', 'grad-clip', num('grad-clip').refine((x) => x > 0, '--grad-clip: expected > 0'));
  set('beta', 'beta', num('beta').refine((x) => x >= 0, '--beta: expected ≥ 0'));
  set('epsLow', 'eps-low', num('eps-low').refine((x) => x >= 0 && x < 1, '--eps-low: expected in [0, 1)'));
  set('epsHigh', 'eps-high', num('eps-high').refine((x) => x >= 0, '--eps-high: expected ≥ 0'));
  set('aggregation', 'aggregation', z.enum(['sequence', 'token', 'constant'], { error: '--aggregation: expected sequence, token or constant' }));
  if (v['no-scale-std']) o.scaleStd = false;
  set('mu', 'mu', int('mu', 1));
  if (v['no-dynamic-sampling']) o.dynamicSampling = false;
  if (v['no-share-prefix']) o.sharePrefix = false;
  set('maxRefills', 'max-refills', int('max-refills', 0));
  if (v['overlong-filter']) o.overlongFilter = true;
  set('overlongBuffer', 'overlong-buffer', int('overlong-buffer', 0));
  set('refRefreshEvery', 'ref-refresh', int('ref-refresh', 0));
  set('seed', 'seed', int('seed', 0));
  return o;
}
