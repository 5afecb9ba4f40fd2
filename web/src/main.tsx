// The r1ts dashboard page: runs list (several can be overlaid), live curves, the
// sample browser and the MoE expert-load heatmaps. The selected runs, tab, x axis
// and smoothing live in the URL (?run=a,b&tab=samples&x=elapsed&smooth=0.6), so a
// link opens the same view; `r1ts ... --dashboard` prints such a link.
// The "train in this tab" view (tab.tsx) is loaded on first use only (its own chunk: the r1ts
// engine) and stays mounted while the other tabs are shown, so a run keeps going.
// Not here: the server (src/server/dashboard.ts).

import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { fetchRuns, RunData, type RunInfo } from './api.ts';
import { Curves, PALETTE, type XMode } from './charts.tsx';
import { Experts } from './experts.tsx';
import { Samples } from './samples.tsx';

type Tab = 'curves' | 'samples' | 'experts' | 'train';
const TABS: Tab[] = ['curves', 'samples', 'experts', 'train'];
const TRAIN_KEYS = ['prompts', 'group', 'maxTokens', 'lr', 'seed', 'steps', 'evalItems', 'evalEvery', 'rollouts', 'autostart'];
const TAB_LABELS: Record<Tab, string> = { curves: 'curves', samples: 'samples', experts: 'expert load', train: 'train in this tab' };

/** The in-tab training view, imported when first shown (the engine is a separate chunk). */
function TrainTabLazy() {
  const [View, setView] = useState<(() => preact.JSX.Element) | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    import('./tab.tsx').then((m) => setView(() => m.TrainTab), (e: Error) => setError(`loading the in-tab engine failed: ${e.message}`));
  }, []);
  if (error) return <p class="error">{error}</p>;
  return View ? <View /> : <p class="muted">Loading the engine …</p>;
}

const params = new URLSearchParams(location.search);
const initialRuns = (params.get('run') ?? '').split(',').filter((s) => s !== '');

function setUrl(sel: string[], tab: Tab, x: XMode, smoothing: number): void {
  const p = new URLSearchParams();
  if (sel.length) p.set('run', sel.join(','));
  if (tab !== 'curves') p.set('tab', tab);
  if (x !== 'step') p.set('x', x);
  if (smoothing > 0) p.set('smooth', String(smoothing));
  // the in-tab training form's own parameters (tab.tsx) stay while it is shown
  if (tab === 'train') for (const [k, v] of new URLSearchParams(location.search)) if (TRAIN_KEYS.includes(k)) p.set(k, v);
  const q = p.toString();
  history.replaceState(null, '', `${location.pathname}${q ? `?${q}` : ''}`);
}

/** Re-renders whenever any of the runs reports new data. */
function useRuns(names: string[]): RunData[] {
  const runs = useMemo(() => new Map<string, RunData>(), []);
  const [, setTick] = useState(0);
  const list = names.map((n) => {
    let r = runs.get(n);
    if (!r) runs.set(n, (r = new RunData(n)));
    return r;
  });
  useEffect(() => {
    for (const [n, r] of runs) if (!names.includes(n)) {
      r.close();
      runs.delete(n);
    }
    const offs = list.map((r) => r.subscribe(() => setTick((t) => t + 1)));
    return () => offs.forEach((f) => f());
  }, [names.join(',')]);
  return list;
}

function App() {
  const [runs, setRuns] = useState<RunInfo[] | null>(null);
  const [runsDir, setRunsDir] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string[]>(initialRuns);
  const [tab, setTab] = useState<Tab>(TABS.find((t) => t === params.get('tab')) ?? 'curves');
  const [trainOpened, setTrainOpened] = useState(tab === 'train');
  useEffect(() => {
    if (tab === 'train') setTrainOpened(true);
  }, [tab]);
  const [xMode, setXMode] = useState<XMode>(params.get('x') === 'elapsed' ? 'elapsed' : 'step');
  const [smoothing, setSmoothing] = useState(Math.min(0.99, Math.max(0, Number(params.get('smooth')) || 0)));

  useEffect(() => {
    let stop = false;
    const refresh = () => fetchRuns().then((r) => {
      if (stop) return;
      setRuns(r.runs);
      setRunsDir(r.runsDir);
      setError(null);
      setSelected((s) => (s.length === 0 && r.runs.length > 0 ? [r.runs[0].name] : s));
    }, (e: Error) => setError(e.message));
    void refresh();
    const t = setInterval(refresh, 10_000); // new run folders; the runs' own data streams
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, []);
  useEffect(() => setUrl(selected, tab, xMode, smoothing), [selected, tab, xMode, smoothing]);
  const data = useRuns(selected);
  const primary = data[0] ?? null;
  const toggle = (name: string, multi: boolean) =>
    setSelected((s) => (multi ? (s.includes(name) ? s.filter((x) => x !== name) : [...s, name]) : [name]));
  const names = new Set([...(runs ?? []).map((r) => r.name), ...selected]);

  return (
    <div class="layout">
      <aside class="runs" aria-label="runs">
        <h1>r1ts</h1>
        <p class="muted small" title={runsDir}>{runsDir}</p>
        <h2>Runs</h2>
        {error && <p class="error">{error}</p>}
        {runs === null ? <p>Loading…</p> : names.size === 0 ? <p class="muted">No runs yet.</p> : (
          <ul>
            {[...names].map((n) => {
              const i = selected.indexOf(n);
              return (
                <li key={n}>
                  <label class={i >= 0 ? 'on' : ''}>
                    <input type="checkbox" checked={i >= 0} onChange={() => toggle(n, true)} />
                    <button class="link" onClick={() => toggle(n, false)} title="show only this run">{n}</button>
                    {i >= 0 && selected.length > 1 && <span class="dash" style={{ borderColor: PALETTE[0] }} data-style={i % 4} />}
                  </label>
                </li>
              );
            })}
          </ul>
        )}
        <p class="muted small">Tick several runs to overlay them (one line style per run).</p>
      </aside>
      <main>
        <nav class="tabs" role="tablist">
          {TABS.map((t) => (
            <button key={t} role="tab" aria-selected={tab === t} class={tab === t ? 'on' : ''} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
              {TAB_LABELS[t]}
            </button>
          ))}
          {primary && tab !== 'train' && (
            <span class="status" data-testid="status">
              {primary.error ? `${primary.name}: ${primary.error}` : `${primary.name}: ${primary.rows} steps${primary.downsampled ? ' (downsampled)' : ''}, ${primary.samplesSeen} samples${primary.badLines ? `; ${primary.badLines} unreadable lines of metrics.jsonl skipped` : ''}`}
            </span>
          )}
        </nav>
        {tab === 'curves' && (
          <>
            <div class="controls">
              <label>x axis <select value={xMode} onChange={(e) => setXMode((e.target as HTMLSelectElement).value as XMode)}>
                <option value="step">step</option>
                <option value="elapsed">wall-clock (minutes)</option>
              </select></label>
              <label>smoothing <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onInput={(e) => setSmoothing(Number((e.target as HTMLInputElement).value))} aria-valuetext={smoothing.toFixed(2)} /> <output>{smoothing.toFixed(2)}</output></label>
            </div>
            <Curves runs={data.filter((r) => r.loaded)} xMode={xMode} smoothing={smoothing} />
          </>
        )}
        {tab === 'samples' && (primary ? <Samples key={primary.name} run={primary} /> : <p class="empty">Pick a run on the left.</p>)}
        {tab === 'experts' && <Experts run={primary} />}
        {trainOpened && <div hidden={tab !== 'train'}><TrainTabLazy /></div>}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
