// Learning-rate schedules for the training loops: linear warmup, then either a
// cosine decay to lr·minLrRatio at totalSteps or a constant lr (nanoGPT's
// get_lr, with the warmup counted from step 0).
// Not here: the optimizer (src/optim/adamw.ts) — the loop sets opt.lr from this.

export type ScheduleKind = 'cosine' | 'constant';

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Linear warmup over steps 0..warmupSteps-1 (lr·(step+1)/warmupSteps). */
  warmupSteps: number;
  /** Steps of the whole run (the cosine reaches its floor here). */
  totalSteps: number;
  schedule: ScheduleKind;
  /** Floor of the cosine as a fraction of lr (0..1). */
  minLrRatio: number;
}

/** The learning rate of 0-based step `step` (the step-th update of the run). */
export function lrAt(step: number, o: ScheduleOptions): number {
  if (step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  if (o.schedule === 'constant') return o.lr;
  const minLr = o.lr * o.minLrRatio;
  const span = o.totalSteps - o.warmupSteps;
  if (span <= 0 || step >= o.totalSteps) return minLr;
  const ratio = (step - o.warmupSteps) / span; // 0 at the end of warmup, → 1 at totalSteps
  return minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (o.lr - minLr);
}
