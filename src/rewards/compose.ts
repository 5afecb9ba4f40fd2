// Reward composer: a weighted sum of named rewards, reporting each part.
//   const r = composeRewards([{ name: 'countdown', weight: 1, fn: ... }, { name: 'format', weight: 0.5, fn: ... }]);
//   r(sample) → { total: 1.5, parts: { countdown: 1, format: 1 }, weighted: { countdown: 1, format: 0.5 } }
// parts hold the value each reward function returned (unweighted, as TRL logs
// rewards/<name>); weighted holds weight × value, what it added to total. Names must be unique; weights finite. A reward that
// throws or returns a non-finite number contributes 0 and is listed in `errors`, so one
// broken verifier does not stop a training step (the caller logs errors).
// Async rewards (the code sandbox) are awaited; all parts run concurrently.
// Not here: the rewards themselves, group normalisation (GRPO advantages live in src/train).

export type RewardFn<S> = (sample: S) => number | Promise<number>;

export interface NamedReward<S> {
  readonly name: string;
  readonly weight: number;
  readonly fn: RewardFn<S>;
}

export interface ComposedReward {
  readonly total: number;
  /** value returned by each reward, per name (unweighted) */
  readonly parts: Record<string, number>;
  /** weight × value, per name: what each reward added to total */
  readonly weighted: Record<string, number>;
  /** name → message, for rewards that threw or returned a non-finite number */
  readonly errors: Record<string, string>;
}

/** Validates the list once and returns the composed reward function. */
export function composeRewards<S>(rewards: readonly NamedReward<S>[]): (sample: S) => Promise<ComposedReward> {
  if (rewards.length === 0) throw new RangeError('composeRewards: expected at least one reward');
  const seen = new Set<string>();
  for (const r of rewards) {
    if (typeof r.name !== 'string' || r.name === '') throw new RangeError('composeRewards: every reward needs a non-empty name');
    if (seen.has(r.name)) throw new RangeError(`composeRewards: reward name '${r.name}' is used twice`);
    seen.add(r.name);
    if (!Number.isFinite(r.weight)) throw new RangeError(`composeRewards: reward '${r.name}' weight=${r.weight}: expected a finite number`);
    if (typeof r.fn !== 'function') throw new RangeError(`composeRewards: reward '${r.name}' has no function`);
  }
  const list = [...rewards];
  return async (sample: S): Promise<ComposedReward> => {
    const values = await Promise.all(
      list.map(async (r): Promise<{ v: number; err?: string }> => {
        try {
          const v = await r.fn(sample);
          if (typeof v !== 'number' || !Number.isFinite(v)) return { v: 0, err: `returned ${String(v)}, expected a finite number` };
          return { v };
        } catch (e) {
          return { v: 0, err: e instanceof Error ? e.message : String(e) };
        }
      }),
    );
    const parts: Record<string, number> = {};
    const weighted: Record<string, number> = {};
    const errors: Record<string, string> = {};
    let total = 0;
    list.forEach((r, i) => {
      const { v, err } = values[i];
      parts[r.name] = v;
      weighted[r.name] = r.weight * v;
      total += r.weight * v;
      if (err !== undefined) errors[r.name] = err;
    });
    return { total, parts, weighted, errors };
  };
}
