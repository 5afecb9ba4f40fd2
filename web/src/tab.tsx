// "Train in this tab": R1-Zero GRPO on this page's WebGPU — the view. The loop runs in a
// dedicated worker (tab-worker.ts, which bundles the real r1ts engine), so the page repaints and
// takes clicks while it trains: Start creates the worker and sends it the form; it opens WebGPU on
// its own navigator.gpu, fetches the shipped base from the dashboard server (/api/zero-base/*),
// and posts each step's metrics and completions and each held-out evaluation (before the first
// step, every few steps and after the last; `r1ts zero`'s evaluation), which this view charts;
// Stop asks it to end after the step under way (and its evaluation, if one is due). What runs
// where: the policy's forward/backward, clipping and AdamW on WebGPU (GrpoTrainer's device path);
// the rollouts on WebGPU too, or on the worker's CPU from a host copy refreshed each step — the
// default on a software adapter (SwiftShader, llvmpipe); "rollouts on" picks.
// URL parameters set the form (?tab=train&prompts=1&group=2&maxTokens=48&lr=0.0001&seed=0&steps=1&evalItems=32&evalEvery=10&rollouts=auto|device|host)
// and &autostart=1 starts at once (the headless test). window.r1tsTab holds the state for tests.
// Design: this file imports only types from src/; tab-worker.ts is the one web/ file that imports
// the engine (test/boundaries.test.ts). DESIGN.md's "web talks to the server over HTTP only" still
// holds for the run views; training in the page needs the engine itself in the page (its worker),
// and the server only serves the base's files.
// Not here: the loop (tab-worker.ts), the messages (tab-protocol.ts), the step (src/train/grpo.ts via src/train/zero-tab.ts), the run views (main.tsx).

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { AdapterReport } from '../../src/backend/webgpu/device.ts';
import type { GrpoStepMetrics } from '../../src/train/grpo.ts';
import { PALETTE } from './charts.tsx';
import { TAB_FORM_DEFAULTS, type Completion, type FromWorker, type RolloutsOn, type Settings, type TabEval, type ToWorker } from './tab-protocol.ts';

type Phase = 'idle' | 'loading' | 'running' | 'stopping' | 'done' | 'error';

/** What the page exposes to tests and the console. */
export interface TabState {
  phase: Phase;
  adapter: AdapterReport | null;
  adapterText: string;
  error: string | null;
  metrics: GrpoStepMetrics[];
  /** Where the rollouts ran ('device' or 'host'), once started. */
  rollouts: 'device' | 'host' | null;
  /** Every step's completions (texts), in rollout order. */
  texts: string[][];
  /** The held-out evaluations so far. */
  evals: TabEval[];
  settings: Settings;
}

declare global {
  interface Window { r1tsTab?: TabState }
}

const FIELDS: { key: keyof Settings; label: string; min: number; max: number; step: number; int: boolean; help: string }[] = [
  { key: 'prompts', label: 'prompts per step', min: 1, max: 16, step: 1, int: true, help: 'questions per GRPO step' },
  { key: 'group', label: 'group size', min: 2, max: 16, step: 1, int: true, help: 'completions per question (G)' },
  { key: 'maxTokens', label: 'max tokens', min: 1, max: 72, step: 1, int: true, help: 'completion budget; the R1-Zero prompt takes 184 of the base\'s 256 positions' },
  { key: 'lr', label: 'learning rate', min: 1e-7, max: 1e-2, step: 1e-5, int: false, help: 'AdamW' },
  { key: 'seed', label: 'seed', min: 0, max: 1e9, step: 1, int: true, help: 'questions and sampling' },
  { key: 'steps', label: 'steps (0 = until Stop)', min: 0, max: 1e6, step: 1, int: true, help: '' },
  { key: 'evalItems', label: 'held-out problems', min: 0, max: 500, step: 1, int: true, help: 'problems never trained on, sampled at T = 1 as r1ts zero evaluates (0 = no evaluation)' },
  { key: 'evalEvery', label: 'evaluate every', min: 0, max: 1e6, step: 1, int: true, help: 'steps between held-out evaluations (also before the first step and after the last; 0 = only those)' },
];

function rolloutsFromUrl(): RolloutsOn {
  const r = new URLSearchParams(location.search).get('rollouts');
  return r === 'device' || r === 'host' ? r : 'auto';
}

function settingsFromUrl(): Settings {
  const p = new URLSearchParams(location.search);
  const d: Settings = { ...TAB_FORM_DEFAULTS };
  for (const f of FIELDS) {
    const raw = p.get(f.key);
    if (raw === null) continue;
    const v = Number(raw);
    if (Number.isFinite(v) && v >= f.min && v <= f.max && (!f.int || Number.isInteger(v))) d[f.key] = v;
  }
  return d;
}

/** Why this page cannot train, in words a user can act on (null: navigator.gpu exists). */
function webGpuMissing(): string | null {
  if (!('gpu' in navigator) || !navigator.gpu) {
    return `This browser exposes no WebGPU (navigator.gpu is ${isSecureContext ? 'undefined' : 'undefined: the page is not a secure context — open it as http://localhost or over https'}). Use Chrome/Chromium 113+ or Edge (chrome://gpu says why it is off); on Linux, start Chromium with --enable-unsafe-webgpu --enable-features=Vulkan.`;
  }
  return null;
}

/** One small live chart: x = step, a line per key. */
function Chart<R extends { step: number }>({ title, keys, rows, testId }: { title: string; keys: (keyof R & string)[]; rows: R[]; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useLayoutEffect(() => {
    const el = box.current!;
    plot.current = new uPlot({
      width: Math.max(300, el.clientWidth), height: 200,
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, {}],
      series: [{ label: 'step' }, ...keys.map((k, i) => ({ label: String(k), stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: true, size: 5 } }))],
    }, [[], ...keys.map(() => [])], el);
    return () => plot.current?.destroy();
  }, [keys.join(',')]);
  useEffect(() => {
    plot.current?.setData([rows.map((r) => r.step), ...keys.map((k) => rows.map((r) => r[k] as number))]);
  }, [rows.length]);
  return (
    <div class="chart" data-testid={testId} data-points={rows.length}>
      <h3>{title}</h3>
      <div ref={box} class="plot" />
    </div>
  );
}

export function TrainTab() {
  const [settings, setSettings] = useState<Settings>(settingsFromUrl);
  const [rolloutsOn, setRolloutsOn] = useState<RolloutsOn>(rolloutsFromUrl);
  const [phase, setPhase] = useState<Phase>('idle');
  const [note, setNote] = useState('');
  const [adapter, setAdapter] = useState<string>('');
  const [error, setError] = useState<string | null>(webGpuMissing());
  const [rows, setRows] = useState<GrpoStepMetrics[]>([]);
  const [last, setLast] = useState<Completion[]>([]);
  const [evals, setEvals] = useState<TabEval[]>([]);
  const worker = useRef<Worker | null>(null);
  const state = useRef<TabState>({ phase: 'idle', adapter: null, adapterText: '', error, metrics: [], rollouts: null, texts: [], evals: [], settings });
  window.r1tsTab = state.current;
  const setPhaseBoth = (p: Phase) => {
    state.current.phase = p;
    setPhase(p);
  };

  function start(s: Settings): void {
    const missing = webGpuMissing();
    if (missing) {
      state.current.error = missing;
      setError(missing);
      setPhaseBoth('error');
      return;
    }
    Object.assign(state.current, { settings: s, metrics: [], texts: [], evals: [], error: null, rollouts: null });
    setRows([]);
    setEvals([]);
    setLast([]);
    setError(null);
    setPhaseBoth('loading');
    const w = new Worker(new URL('./tab-worker.ts', import.meta.url), { type: 'module' });
    worker.current = w;
    const end = (phase: 'done' | 'error', message?: string) => {
      if (message !== undefined) {
        state.current.error = message;
        setError(message);
      }
      setPhaseBoth(phase);
      w.terminate();
      worker.current = null;
    };
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === 'note') setNote(m.text);
      else if (m.type === 'adapter') {
        state.current.adapter = m.adapter;
        state.current.adapterText = m.text;
        setAdapter(m.text);
      } else if (m.type === 'running') {
        state.current.rollouts = m.rollouts;
        if (state.current.phase === 'loading') setPhaseBoth('running');
      } else if (m.type === 'step') {
        state.current.metrics.push(m.metrics);
        state.current.texts.push(m.completions.map((c) => c.text));
        setRows([...state.current.metrics]);
        setLast(m.completions);
      } else if (m.type === 'eval') {
        state.current.evals.push(m.eval);
        setEvals([...state.current.evals]);
      } else if (m.type === 'done') end('done');
      else end('error', m.message);
    };
    w.onerror = (e) => end('error', `the training worker failed: ${e.message || 'an error while loading it'}`);
    const apiBase = new URL('api/zero-base/', location.href).href;
    w.postMessage({ type: 'start', settings: s, rolloutsOn, apiBase } satisfies ToWorker);
  }

  const stopRun = () => {
    worker.current?.postMessage({ type: 'stop' } satisfies ToWorker);
    setPhaseBoth('stopping');
  };

  useEffect(() => {
    if (new URLSearchParams(location.search).get('autostart') === '1' && !webGpuMissing()) start(settings);
    return () => worker.current?.terminate();
  }, []);

  const busy = phase === 'loading' || phase === 'running' || phase === 'stopping';
  const lastRow = rows[rows.length - 1];
  return (
    <section class="train-tab" aria-label="train in this tab">
      <p class="muted">
        R1-Zero GRPO on this page's GPU: the shipped 0.89M-parameter base answers "What is a+b?" under the R1-Zero template; the
        addition task's grader scores each completion (1 right in the R1 form, 0.5 right otherwise), and GRPO trains on the group-relative advantages.
        The policy's forward/backward, clipping and AdamW run on <b>WebGPU</b>; the rollouts too (prefill and decode through a KV cache on the
        device; this page samples each token from the logits read back), or, on a software adapter, on this page's <b>CPU</b> from a copy of
        the weights read back each step, which is faster there (<i>rollouts on</i> picks). Before the first step, every
        <i> evaluate every</i> steps and after the last, the first <i>held-out problems</i> (never trained on) are sampled at T = 1 as
        <code> r1ts zero</code> evaluates them, and their accuracy is charted.
      </p>
      <form class="controls" onSubmit={(e) => { e.preventDefault(); if (!busy) start(settings); }}>
        {FIELDS.map((f) => (
          <label key={f.key} title={f.help}>{f.label}{' '}
            <input type="number" min={f.min} max={f.max} step={f.step} value={settings[f.key]} disabled={busy} style={{ width: '7em' }}
              onInput={(e) => {
                const v = Number((e.target as HTMLInputElement).value);
                if (Number.isFinite(v)) setSettings({ ...settings, [f.key]: v });
              }} />
          </label>
        ))}
        <label title="auto: on this page's CPU when the adapter is a software one, else on WebGPU">rollouts on{' '}
          <select value={rolloutsOn} disabled={busy} onChange={(e) => setRolloutsOn((e.target as HTMLSelectElement).value as RolloutsOn)}>
            <option value="auto">auto</option>
            <option value="device">WebGPU</option>
            <option value="host">this page's CPU</option>
          </select>
        </label>
        <button type="submit" disabled={busy} data-testid="tab-start">Start</button>
        <button type="button" disabled={phase !== 'running'} data-testid="tab-stop" onClick={stopRun}>Stop</button>
      </form>
      <p data-testid="tab-status" data-phase={phase}>
        <b>{phase}</b>{note && ` — ${note}`}
        {lastRow && ` — step ${lastRow.step}: ${lastRow.step_seconds.toFixed(1)} s (rollouts ${lastRow.rollout_tokens_per_s.toFixed(1)} tokens/s, training ${(lastRow.train_tokens_per_s ?? 0).toFixed(1)} tokens/s)`}
      </p>
      {adapter && <p class="small" data-testid="tab-adapter">adapter: {adapter}</p>}
      {error && <p class="error" role="alert" data-testid="tab-error">{error}</p>}
      <div class="charts">
        <Chart title="Held-out accuracy and R1 form (T = 1)" keys={['accuracy', 'format']} rows={evals} testId="tab-chart-eval" />
        <Chart title="Reward and accuracy (rollouts)" keys={['reward', 'accuracy']} rows={rows} testId="tab-chart-reward" />
        <Chart title="Loss and gradient norm" keys={['loss', 'grad_norm']} rows={rows} testId="tab-chart-loss" />
        <Chart title="Completion tokens" keys={['completion_tokens']} rows={rows} testId="tab-chart-length" />
      </div>
      {last.length > 0 && (
        <div class="others">
          <h3>Completions of step {lastRow?.step}</h3>
          <ul class="sample-list" data-testid="tab-completions">
            {last.slice(0, 8).map((c, i) => (
              <li key={i} class={`sample ${c.correct ? 'is-ok' : 'is-bad'}`}>
                <div class="sample-detail">
                  <span class="muted">{c.question}</span> <span class={`verdict ${c.correct ? 'ok' : 'bad'}`}>{c.correct ? 'right' : 'wrong'}</span> <span class="muted">reward {c.reward}</span>
                  <pre>{c.text}</pre>
                </div>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
