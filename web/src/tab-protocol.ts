// The messages between the "train in this tab" page (tab.tsx) and its worker (tab-worker.ts),
// and the form's defaults. Types only from src/ (nothing of the engine is bundled into the page:
// it lives in the worker's chunk).
// Not here: the loop (tab-worker.ts), the view (tab.tsx).

import type { AdapterReport } from '../../src/backend/webgpu/device.ts';
import type { GrpoStepMetrics } from '../../src/train/grpo.ts';

/** The form: what one run does. */
export interface Settings {
  prompts: number;
  group: number;
  maxTokens: number;
  lr: number;
  seed: number;
  /** 0: until stopped. */
  steps: number;
  /** Held-out problems per evaluation (0: none). */
  evalItems: number;
  /** Evaluate every this many steps (and before the first and after the last; 0: only those two). */
  evalEvery: number;
}

/**
 * The form's defaults: openZeroTab's ZERO_TAB_DEFAULTS (2 prompts × 4 completions of at most 64
 * tokens, lr 1e-4; test/train/zero-tab.test.ts checks they agree) and 32 held-out problems every 10 steps.
 */
export const TAB_FORM_DEFAULTS: Settings = { prompts: 2, group: 4, maxTokens: 64, lr: 1e-4, seed: 0, steps: 0, evalItems: 32, evalEvery: 10 };

export type RolloutsOn = 'auto' | 'device' | 'host';

/** One held-out evaluation: after `step` steps (0: the base). */
export interface TabEval {
  step: number;
  accuracy: number;
  format: number;
  length: number;
  /** The completions, in held-out order. */
  texts: string[];
}

export interface Completion {
  question: string;
  text: string;
  reward: number;
  correct: boolean;
}

/** Page → worker. apiBase: the absolute URL of the dashboard's /api/zero-base/ (a worker resolves relative URLs against its own script). */
export type ToWorker = { type: 'start'; settings: Settings; rolloutsOn: RolloutsOn; apiBase: string } | { type: 'stop' };

/** Worker → page. */
export type FromWorker =
  | { type: 'adapter'; adapter: AdapterReport; text: string }
  | { type: 'note'; text: string }
  | { type: 'running'; rollouts: 'device' | 'host' }
  | { type: 'step'; metrics: GrpoStepMetrics; completions: Completion[] }
  | { type: 'eval'; eval: TabEval }
  | { type: 'done' }
  | { type: 'error'; message: string };
