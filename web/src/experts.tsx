// MoE expert load as heatmaps: one per layer, experts down, steps across, colour
// = the expert's share of the layer's tokens relative to a balanced share (1 =
// balanced), on the viridis scale (perceptually uniform, colour-blind safe).
// Reads array figures of the metrics (e.g. expert_load: layers × experts per step).
// Not here: the scalar expert_load_max/min curves (charts.tsx).

import { useEffect, useRef } from 'preact/hooks';
import type { RunData } from './api.ts';

const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

/** A step's value as layers × experts (a flat array is one layer). */
function asLayers(v: unknown): number[][] | null {
  if (!Array.isArray(v) || v.length === 0) return null;
  if (typeof v[0] === 'number') return [v as number[]];
  if (Array.isArray(v[0])) return v as number[][];
  return null;
}

function Heatmap(props: { title: string; steps: number[]; rows: number[][]; vmax: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const E = props.rows[0]?.length ?? 0, S = props.rows.length;
  useEffect(() => {
    const c = ref.current;
    if (!c || S === 0 || E === 0) return;
    c.width = S;
    c.height = E;
    const ctx = c.getContext('2d')!;
    const img = ctx.createImageData(S, E);
    for (let s = 0; s < S; s++) {
      for (let e = 0; e < E; e++) {
        const [r, g, b] = viridis((props.rows[s][e] ?? 0) / props.vmax);
        const o = 4 * (e * S + s);
        img.data[o] = r;
        img.data[o + 1] = g;
        img.data[o + 2] = b;
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }, [props.rows, props.vmax]);
  return (
    <figure class="heatmap">
      <figcaption>{props.title} — {E} experts × {S} steps (steps {props.steps[0]}–{props.steps[S - 1]})</figcaption>
      <canvas ref={ref} style={{ height: `${Math.max(40, Math.min(240, E * 12))}px` }} role="img" aria-label={`${props.title} expert load heatmap`} />
    </figure>
  );
}

export function Experts(props: { run: RunData | null }) {
  const run = props.run;
  if (!run) return <p class="empty">Pick a run on the left.</p>;
  const keys = Object.keys(run.arrays).filter((k) => run.arrays[k].value.some((v) => asLayers(v)));
  if (keys.length === 0) {
    return <p class="empty">No per-expert figures in <code>{run.name}</code>: MoE runs log <code>expert_load</code> (layers × experts, load relative to a balanced share) each step; dense models and GRPO runs have none. The curves tab shows <code>expert_load_max</code>/<code>_min</code> where logged.</p>;
  }
  return (
    <div class="experts">
      {keys.map((k) => {
        const a = run.arrays[k];
        const steps: number[] = [], frames: number[][][] = [];
        a.value.forEach((v, i) => {
          const l = asLayers(v);
          if (l) {
            steps.push(a.step[i]);
            frames.push(l);
          }
        });
        let L = 0, vmax = 2; // loops, not Math.max(...): steps × layers × experts can pass the argument limit
        for (const f of frames) {
          L = Math.max(L, f.length);
          for (const row of f) for (const v of row) if (v > vmax) vmax = v;
        }
        return (
          <section key={k}>
            <h3>{k} <span class="muted">(colour: 0 → {vmax.toFixed(1)}, 1 = balanced)</span></h3>
            <div class="scale-row" aria-hidden="true"><span>0</span><div class="scale" /><span>{vmax.toFixed(1)}</span><span class="muted">rows: experts 0…E−1 top to bottom; columns: steps left to right</span></div>
            {Array.from({ length: L }, (_, layer) => (
              <Heatmap key={layer} title={`layer ${layer}`} steps={steps} rows={frames.map((f) => f[layer] ?? [])} vmax={vmax} />
            ))}
          </section>
        );
      })}
    </div>
  );
}
