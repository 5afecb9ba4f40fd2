// "Train in this tab": R1-Zero GRPO on this page's WebGPU. The real r1ts engine is bundled
// here (src/tensor with its webgpu backend, src/models, the generation engine, the tokenizer,
// GrpoTrainer and the GRPO loss, the addition task's grader): the shipped base is fetched from
// the dashboard server (/api/zero-base/*), moved to the device opened on navigator.gpu, and
// trained step by step with live charts of reward/accuracy/loss and the last step's
// completions, and evaluated on held-out problems (openZeroTab's evaluate: `r1ts zero`'s
// evaluation) before the first step, every few steps and after the last; Stop ends after the
// step under way (and its evaluation, if one is due). What runs where: the policy's forward/
// backward, clipping and AdamW on WebGPU (GrpoTrainer's device path); the rollouts either on
// WebGPU too (prefill and decode through the device KV cache; the page samples each token from
// the logits rows read back) or on this page's CPU from a host copy refreshed each step — the
// default on a software adapter (SwiftShader, llvmpipe), where each decode pass's dispatches cost
// more than the reference kernels; "rollouts on" picks.
// The loop runs on the page's main thread: the page repaints and takes a Stop click between
// steps (and between the engine's decode steps).
// URL parameters set the form (?tab=train&prompts=1&group=2&maxTokens=48&lr=0.0001&seed=0&steps=1&evalItems=32&evalEvery=10&rollouts=auto|device|host)
// and &autostart=1 starts at once (the headless test). window.r1tsTab holds the state for tests.
// Design: this file is the one place web/ imports src/ (test/boundaries.test.ts allows only it).
// DESIGN.md's "web talks to the server over HTTP only" still holds for the run views; training
// in the page needs the engine itself in the page, and the server only serves the base's files.
// Not here: the step itself (GrpoTrainer, src/train/grpo.ts, set up by src/train/zero-tab.ts), the run views (main.tsx).

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { AdapterReport } from '../../src/backend/webgpu/device.ts';
import { closeDevice, openDevice } from '../../src/tensor/index.ts';
import type { GrpoStepMetrics } from '../../src/train/grpo.ts';
import { openZeroTab, ZERO_BASE_FILES, ZERO_TAB_DEFAULTS, type ZeroBaseFiles } from '../../src/train/zero-tab.ts';
import { PALETTE } from './charts.tsx';

interface Settings {
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

/** One held-out evaluation: after `step` steps (0: the base). */
export interface TabEval {
  step: number;
  accuracy: number;
  format: number;
  length: number;
  /** The completions, in held-out order. */
  texts: string[];
}

interface Completion {
  question: string;
  text: string;
  reward: number;
  correct: boolean;
}

type RolloutsOn = 'auto' | 'device' | 'host';

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

// The generation engine (src/engine/generate.ts) yields between decode steps with Node's global
// setImmediate, which browsers lack; their equivalent is a macrotask, here a MessageChannel
// message (no 4 ms clamp, unlike nested setTimeout). Installed only where it is missing; the
// yield also lets the page repaint and take a Stop click during rollouts.
if (typeof globalThis.setImmediate !== 'function') {
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  channel.port1.onmessage = () => queue.shift()?.();
  (globalThis as { setImmediate?: unknown }).setImmediate = (cb: (...args: unknown[]) => void, ...args: unknown[]) => {
    queue.push(() => cb(...args));
    channel.port2.postMessage(0);
  };
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

/** The held-out evaluations' sampling seed (the same problems and seeds every time, so the points compare). */
const evalSeed = (s: Settings) => s.seed + 1;

function rolloutsFromUrl(): RolloutsOn {
  const r = new URLSearchParams(location.search).get('rollouts');
  return r === 'device' || r === 'host' ? r : 'auto';
}

function settingsFromUrl(): Settings {
  const p = new URLSearchParams(location.search);
  const d: Settings = { prompts: ZERO_TAB_DEFAULTS.promptsPerStep, group: ZERO_TAB_DEFAULTS.groupSize, maxTokens: ZERO_TAB_DEFAULTS.maxTokens, lr: ZERO_TAB_DEFAULTS.lr, seed: 0, steps: 0, evalItems: 32, evalEvery: 10 };
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

async function fetchBase(): Promise<ZeroBaseFiles> {
  const get = async (name: string): Promise<Response> => {
    const r = await fetch(`api/zero-base/${name}`);
    if (!r.ok) {
      let msg = `${r.status} ${r.statusText}`;
      try {
        msg = ((await r.json()) as { error?: string }).error ?? msg;
      } catch { /* not JSON */ }
      throw new Error(`fetching the base's ${name}: ${msg}`);
    }
    return r;
  };
  const [config, weights, tok, tokCfg] = await Promise.all(ZERO_BASE_FILES.map((n) => get(n)));
  return {
    'config.json': await config.text(),
    'model.safetensors': new Uint8Array(await weights.arrayBuffer()),
    'tokenizer.json': await tok.text(),
    'tokenizer_config.json': await tokCfg.text(),
  };
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
  const stop = useRef<AbortController | null>(null);
  const state = useRef<TabState>({ phase: 'idle', adapter: null, adapterText: '', error, metrics: [], rollouts: null, texts: [], evals: [], settings });
  window.r1tsTab = state.current;
  const setPhaseBoth = (p: Phase) => {
    state.current.phase = p;
    setPhase(p);
  };

  async function start(s: Settings): Promise<void> {
    const missing = webGpuMissing();
    if (missing) {
      state.current.error = missing;
      setError(missing);
      setPhaseBoth('error');
      return;
    }
    const ctl = new AbortController();
    stop.current = ctl;
    Object.assign(state.current, { settings: s, metrics: [], texts: [], evals: [], error: null });
    setRows([]);
    setEvals([]);
    setLast([]);
    setError(null);
    setPhaseBoth('loading');
    let opened = false;
    try {
      setNote('opening WebGPU on navigator.gpu …');
      const ctx = await openDevice({ gpu: navigator.gpu });
      opened = true;
      state.current.adapter = ctx.adapter;
      state.current.adapterText = ctx.describe();
      setAdapter(ctx.describe());
      setNote('fetching the shipped base (assets/zero-base) …');
      const files = await fetchBase();
      const o = { ...ZERO_TAB_DEFAULTS, promptsPerStep: s.prompts, groupSize: s.group, maxTokens: s.maxTokens, lr: s.lr, seed: s.seed };
      const where = rolloutsOn === 'auto' ? (ctx.adapter.software ? 'host' : 'device') : rolloutsOn;
      state.current.rollouts = where;
      const tab = openZeroTab(files, o, 'webgpu', 'api/zero-base', where);
      setNote(`base: ${(tab.model.numParameters() / 1e6).toFixed(2)}M parameters; prompt ${tab.promptTokens} tokens; rollouts on ${where === 'host' ? 'this page\'s CPU (a host copy)' : 'WebGPU'}`);
      setPhaseBoth('running');
      const evaluate = async () => {
        const step = tab.trainer.stepCount;
        setNote(`evaluating on ${s.evalItems} held-out problems after step ${step} …`);
        const r = await tab.evaluate(s.evalItems, evalSeed(s));
        state.current.evals.push({ step, accuracy: r.accuracy, format: r.formatRate, length: r.meanLength, texts: r.results.map((x) => x.completions[0]) });
        setEvals([...state.current.evals]);
        setNote(`held-out accuracy after step ${step}: ${(100 * r.accuracy).toFixed(1)}% (R1 form ${(100 * r.formatRate).toFixed(1)}%, ${r.meanLength.toFixed(0)} characters)`);
      };
      if (s.evalItems > 0) await evaluate();
      while (!ctl.signal.aborted && (s.steps === 0 || tab.trainer.stepCount < s.steps)) {
        const { metrics, rollouts } = await tab.step();
        state.current.metrics.push(metrics);
        state.current.texts.push(rollouts.map((r) => r.text));
        setRows([...state.current.metrics]);
        setLast(rollouts.map((r) => ({ question: r.item.question, text: r.text, reward: r.reward, correct: r.grade.correct })));
        if (s.evalItems > 0 && s.evalEvery > 0 && metrics.step % s.evalEvery === 0) await evaluate();
        await new Promise((ok) => setTimeout(ok, 0)); // paint, and take a Stop click
      }
      if (s.evalItems > 0 && state.current.evals.at(-1)?.step !== tab.trainer.stepCount) await evaluate();
      await tab.finish();
      setPhaseBoth('done');
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      state.current.error = msg;
      setError(msg);
      setPhaseBoth('error');
    } finally {
      if (opened) closeDevice();
      stop.current = null;
    }
  }

  useEffect(() => {
    if (new URLSearchParams(location.search).get('autostart') === '1' && !webGpuMissing()) void start(settings);
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
      <form class="controls" onSubmit={(e) => { e.preventDefault(); if (!busy) void start(settings); }}>
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
        <button type="button" disabled={phase !== 'running'} data-testid="tab-stop" onClick={() => { stop.current?.abort(); setPhaseBoth('stopping'); }}>Stop</button>
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
