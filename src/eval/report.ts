// Rendering an evaluation: the markdown table the CLI prints (one row per
// report: pass@1, pass@k, cons@k and format rate with 95% CIs, mean lengths of
// right and wrong answers) and the JSON report (the run's config, the metrics
// with their CIs, and every item's completions, answers and verdicts).
// Not here: computing the figures (harness.ts).

import type { EvalReport } from './harness.ts';

const pct = (x: number, ci?: number) => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}${ci === undefined || Number.isNaN(ci) ? '' : ` ± ${(100 * ci).toFixed(1)}`}`);
const len = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(0));

/** A markdown table of reports (rates in %, ± the 95% CI half-width; lengths in characters). */
export function markdownTable(reports: readonly EvalReport[]): string {
  const head = ['task', 'items', 'k', 'pass@1', 'pass@k', 'cons@k', 'format', 'len', 'len right', 'len wrong'];
  const rows = reports.map((r) => [
    r.task, String(r.items), String(r.k), pct(r.accuracy, r.accuracyCI95), pct(r.passAtK, r.passAtKCI95), pct(r.consAtK, r.consAtKCI95),
    pct(r.formatRate), len(r.meanLength), len(r.meanLengthCorrect), len(r.meanLengthWrong),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The metrics of a report (no per-item results); NaN becomes null so that JSON keeps it. */
export function reportMetrics(r: EvalReport): Record<string, number | null> {
  const n = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    items: r.items, k: r.k, resumed: r.resumed,
    pass_at_1: n(r.accuracy), pass_at_1_ci95: n(r.accuracyCI95),
    pass_at_k: n(r.passAtK), pass_at_k_ci95: n(r.passAtKCI95),
    cons_at_k: n(r.consAtK), cons_at_k_ci95: n(r.consAtKCI95),
    format_rate: n(r.formatRate),
    mean_length: n(r.meanLength), mean_length_correct: n(r.meanLengthCorrect), mean_length_wrong: n(r.meanLengthWrong),
  };
}

/** The JSON report: the config the run was made with, its metrics, and every item's results. */
export function reportJson(r: EvalReport, config: Record<string, unknown>): { task: string; config: Record<string, unknown>; metrics: Record<string, number | null>; results: EvalReport['results'] } {
  return { task: r.task, config, metrics: reportMetrics(r), results: r.results };
}
