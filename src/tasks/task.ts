// What a task is: a source of problems (training items drawn by seed, a fixed
// held-out set that training never sees), the question text, and the grader.
// The grader is the task's one judge: RL rewards and evaluation both call it
// (DESIGN.md house style 6), so a verdict can never differ between the two.
// Not here: prompt templates (the trainer wraps `question` in the R1-Zero or
// chat template), rewards of other kinds (rewards/), sampling (engine/).

import type { Rng } from '../core/rng.ts';

export interface TaskItem {
  /** Stable identifier (used to join samples across steps and to resume). */
  readonly id: string;
  /** The question as the user asks it, without any template. */
  readonly question: string;
  /** The reference answer. */
  readonly gold: string;
}

export interface Grade {
  /** The extracted answer equals the gold one. */
  readonly correct: boolean;
  /** The answer that was graded, or null when none could be found. */
  readonly answer: string | null;
  /** The completion has the R1 form `… </think> <answer> … </answer>` (the prompt opened <think>). */
  readonly format: boolean;
  /** The scalar RL reward. */
  readonly reward: number;
  /** Named parts of the reward (logged as reward/<name>). */
  readonly rewards: Readonly<Record<string, number>>;
}

export interface Task {
  readonly name: string;
  readonly description: string;
  /** A training item; never one of the held-out set. */
  trainItem(rng: Rng): TaskItem;
  /** The first n items of the fixed held-out set (the same for every seed). */
  heldOut(n: number): TaskItem[];
  /** Grades a completion that followed the prompt of `item`. */
  grade(item: TaskItem, completion: string): Grade;
  /**
   * Are two extracted answers (Grade.answer) the same answer? Used by cons@k to
   * group votes (math: the verifier, so 1/2, 0.5 and \frac{1}{2} are one answer).
   * Absent: equal after trimming.
   */
  equivalent?(a: string, b: string, item: TaskItem): boolean;
}

/** A task's answer equivalence, or trimmed string equality when it has none. */
export function answersEquivalent(task: Task, item: TaskItem, a: string, b: string): boolean {
  return task.equivalent ? task.equivalent(a, b, item) : a.trim() === b.trim();
}
