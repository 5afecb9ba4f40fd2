// Live curves: one uPlot chart per figure group (reward, accuracy, length, KL ...),
// every selected run overlaid (colour per figure, dash per run), x = step or minutes
// since the run's start, optional EMA smoothing (debiased, as TensorBoard's).
// Charts are created once per set of series and fed with setData as rows stream in.
// Not here: fetching (api.ts).

import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { RunData } from './api.ts';

/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#7f7f7f'];
const DASHES: number[][] = [[], [8, 4], [2, 3], [10, 3, 2, 3]];

export type XMode = 'step' | 'elapsed';

export interface ChartGroup {
  id: string;
  title: string;
  match: (key: string) => boolean;
}

const oneOf = (...ks: string[]) => (k: string) => ks.includes(k);
export const GROUPS: ChartGroup[] = [
  { id: 'reward', title: 'Reward (total and per named reward)', match: (k) => k === 'reward' || k.startsWith('reward/') },
  { id: 'accuracy', title: 'Accuracy (held-out eval and training rollouts)', match: oneOf('eval/accuracy', 'accuracy', 'eval/format', 'format') },
  { id: 'length', title: 'Response length', match: oneOf('completion_tokens', 'completion_tokens_max', 'eval/length', 'completion_chars') },
  { id: 'truncated', title: 'Truncated share and zero-variance groups', match: oneOf('truncated', 'zero_variance_groups') },
  { id: 'kl', title: 'KL to the reference', match: oneOf('kl') },
  { id: 'entropy', title: 'Entropy', match: oneOf('entropy') },
  { id: 'clip', title: 'Clip fraction and ratio', match: oneOf('clip_fraction', 'ratio') },
  { id: 'loss', title: 'Loss', match: oneOf('loss', 'eval_loss', 'total_loss') },
  { id: 'lr', title: 'Learning rate', match: oneOf('lr') },
  { id: 'throughput', title: 'Tokens per second', match: oneOf('tokens_per_s', 'rollout_tokens_per_s', 'train_tokens_per_s') },
  { id: 'grad', title: 'Gradient norm', match: oneOf('grad_norm') },
  { id: 'reflection', title: 'Reflection words', match: oneOf('reflection_words', 'reflective_correct', 'eval/reflective_correct') },
  { id: 'experts', title: 'Expert load (max/mean, min/mean)', match: oneOf('expert_load_max', 'expert_load_min') },
  { id: 'mfu', title: 'Model FLOPs utilisation', match: oneOf('mfu') },
];

/** EMA with TensorBoard's debiasing, skipping nulls; w = 0 returns the input. */
export function smooth(ys: (number | null)[], w: number): (number | null)[] {
  if (w <= 0) return ys;
  let acc = 0, n = 0;
  return ys.map((y) => {
    if (y === null) return null;
    acc = acc * w + (1 - w) * y;
    n++;
    return acc / (1 - Math.pow(w, n));
  });
}

/** [x, ...ys] of one run for the given keys, over the rows that have any of them: x strictly increasing (rows with equal x merged, later wins). */
function runTable(run: RunData, keys: string[], xMode: XMode, w: number): [number[], ...(number | null)[][]] {
  const t0 = run.time.find((t) => Number.isFinite(t)) ?? 0;
  const rawX = xMode === 'step' ? run.step : run.time.map((t) => (t - t0) / 60);
  const order = rawX.map((_, i) => i);
  if (rawX.some((x, i) => i > 0 && x < rawX[i - 1])) order.sort((a, b) => rawX[a] - rawX[b] || a - b);
  const xs: number[] = [];
  const ys: (number | null)[][] = keys.map(() => []);
  for (const i of order) {
    const x = rawX[i];
    if (!Number.isFinite(x) || keys.every((k) => (run.series[k]?.[i] ?? null) === null)) continue; // rows without these figures
    const same = xs.length > 0 && xs[xs.length - 1] === x;
    if (!same) xs.push(x);
    keys.forEach((k, j) => {
      const v = run.series[k]?.[i] ?? null;
      if (!same) ys[j].push(v);
      else if (v !== null) ys[j][ys[j].length - 1] = v;
    });
  }
  return [xs, ...ys.map((y) => smooth(y, w))];
}

export interface Line {
  run: RunData;
  runIndex: number;
  key: string;
}

function buildData(lines: Line[], runs: RunData[], xMode: XMode, w: number): uPlot.AlignedData {
  const tables: uPlot.AlignedData[] = [];
  for (const run of runs) {
    const keys = lines.filter((l) => l.run === run).map((l) => l.key);
    if (keys.length) tables.push(runTable(run, keys, xMode, w) as unknown as uPlot.AlignedData);
  }
  if (tables.length === 0) return [[]];
  return tables.length === 1 ? tables[0] : uPlot.join(tables);
}

const axisFmt = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(4))));
const fmt = (v: number | null) => (v === null || v === undefined ? '–' : Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toFixed(3));

export function Chart(props: { group: ChartGroup | { id: string; title: string }; lines: Line[]; runs: RunData[]; xMode: XMode; smoothing: number; versions: string }) {
  const { lines, runs, xMode, smoothing } = props;
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoomed = useRef(false); // a user's zoom survives live updates until a double-click resets it
  const keyColors = useMemo(() => {
    const keys = [...new Set(lines.map((l) => l.key))];
    return new Map(keys.map((k, i) => [k, PALETTE[i % PALETTE.length]]));
  }, [lines.map((l) => l.key).join('|')]);
  const signature = `${lines.map((l) => `${l.run.name}:${l.key}`).join('|')}#${xMode}`;
  const data = useMemo(() => buildData(lines, runs, xMode, smoothing), [props.versions, signature, smoothing]);

  // layout effects: the plots are made and filled before the first paint, not a frame later
  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return;
    const multi = runs.length > 1;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 220,
      scales: {
        x: { time: false },
        // a flat curve gets a small band around it, not uPlot's 0..100
        y: { range: (_u, min, max) => (min === max ? [min - (Math.abs(min) || 1) * 0.1, max + (Math.abs(max) || 1) * 0.1] : uPlot.rangeNum(min, max, 0.1, true)) },
      },
      axes: [
        { label: xMode === 'step' ? 'step' : 'minutes since start', stroke: '#333', grid: { stroke: '#e5e5e5' } },
        { stroke: '#333', grid: { stroke: '#e5e5e5' }, size: 70, values: (_u, vs) => vs.map((v) => axisFmt(v)) },
      ],
      legend: { live: true },
      hooks: { setSelect: [(u: uPlot) => void (u.select.width > 0 && (zoomed.current = true))] },
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: xMode === 'step' ? 'step' : 'min' },
        ...lines.map((l) => ({
          label: multi ? `${l.run.name}: ${l.key}` : l.key,
          stroke: keyColors.get(l.key),
          dash: DASHES[l.runIndex % DASHES.length],
          width: 1.5,
          spanGaps: true,
          points: { show: (u: uPlot) => u.data[0].length < 60, size: 4 },
          value: (_u: uPlot, v: number | null) => fmt(v),
        })),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    zoomed.current = false;
    u.over.addEventListener('dblclick', () => (zoomed.current = false));
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [signature, runs.length]);

  useLayoutEffect(() => {
    plot.current?.setData(data, !zoomed.current);
  }, [data]);

  return (
    <section class="chart" data-testid={`chart-${props.group.id}`} data-points={data[0].length} aria-label={props.group.title}>
      <h3>{props.group.title}</h3>
      <div ref={host} class="plot" />
    </section>
  );
}

/** The chart groups present in the selected runs, then one chart per other numeric figure. */
export function Curves(props: { runs: RunData[]; xMode: XMode; smoothing: number }) {
  const { runs } = props;
  const [othersOpen, setOthersOpen] = useState(false); // drawn only when opened
  const versions = runs.map((r) => `${r.name}@${r.version}`).join(',');
  const keysOf = (r: RunData) => Object.keys(r.series).filter((k) => r.series[k].some((v) => v !== null));
  const allKeys = new Set(runs.flatMap(keysOf));
  const used = new Set<string>();
  const charts: { group: ChartGroup | { id: string; title: string }; lines: Line[] }[] = [];
  for (const g of GROUPS) {
    const lines: Line[] = [];
    runs.forEach((run, runIndex) => {
      for (const k of keysOf(run)) if (g.match(k)) lines.push({ run, runIndex, key: k });
    });
    lines.forEach((l) => used.add(l.key));
    if (lines.length) charts.push({ group: g, lines });
  }
  const others = [...allKeys].filter((k) => !used.has(k)).sort();
  if (runs.length === 0) return <p class="empty">Pick a run on the left.</p>;
  if (charts.length === 0 && others.length === 0) return <p class="empty">No metrics yet: waiting for the first line of metrics.jsonl …</p>;
  return (
    <div>
      <div class="charts">
        {charts.map((c) => <Chart key={c.group.id} group={c.group} lines={c.lines} runs={runs} xMode={props.xMode} smoothing={props.smoothing} versions={versions} />)}
      </div>
      {others.length > 0 && (
        <details class="others" onToggle={(e) => setOthersOpen((e.target as HTMLDetailsElement).open)}>
          <summary>Other figures ({others.length}): {others.join(', ')}</summary>
          {othersOpen && <div class="charts">
            {others.map((k) => {
              const lines = runs.flatMap((run, runIndex) => (run.series[k] ? [{ run, runIndex, key: k }] : []));
              return <Chart key={k} group={{ id: `other-${k}`, title: k }} lines={lines} runs={runs} xMode={props.xMode} smoothing={props.smoothing} versions={versions} />;
            })}
          </div>}
        </details>
      )}
    </div>
  );
}
