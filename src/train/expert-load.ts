// Expert load of a DeepSeek-V3 MoE model after a training step, shared by the LM trainer
// (pretrain, SFT: trainer.ts) and GRPO (grpo.ts): the auxiliary-loss-free router-bias update
// (DeepSeek-V3 §2.1.2, after every training step: bias_i += γ·sign(mean load − load_i)) runs on
// the load counted by the step's training-mode forwards, and that same load becomes the
// metrics.jsonl figures: expert_load (layers × experts, each expert's load over its layer's
// mean: every row averages 1; the dashboard's heatmap) and expert_load_max / expert_load_min
// (the largest and smallest of those ratios over all layers; 1 = balanced).
// Not here: counting the load and the bias rule (src/nn/moe.ts), the models (src/models).

import { isDeepseekV3 } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { readValues, type Tensor } from '../tensor/index.ts';

export interface MoELike { experts: { numParameters(): number }[]; cfg: { topK: number } }
export interface RouterModel { moeLayers(): MoELike[]; updateRouterBiases(): Float64Array[]; updateRouterBiasesOnDevice(): Tensor[] }

/** The model as a router-balanced MoE, or null (dense, or a DeepSeek-V3 config without MoE layers). */
export function routerOf(model: CausalLM): RouterModel | null {
  const m = model as unknown as Partial<RouterModel>;
  return isDeepseekV3(model.config) && typeof m.updateRouterBiases === 'function' && typeof m.moeLayers === 'function' && m.moeLayers().length > 0 ? (m as RouterModel) : null;
}

export interface ExpertLoadFigures {
  expert_load_max: number;
  expert_load_min: number;
  /** [layers][experts]: load / the layer's mean load, to 3 decimals (0 for a layer that saw no tokens). */
  expert_load: number[][];
}

/** The figures of per-layer expert loads (token counts per expert). */
export function expertLoadFigures(loads: Float64Array[]): ExpertLoadFigures {
  let maxRatio = 0, minRatio = Infinity;
  const expert_load = loads.map((l) => {
    const mean = l.reduce((a, v) => a + v, 0) / l.length;
    if (mean > 0) {
      maxRatio = Math.max(maxRatio, Math.max(...l) / mean);
      minRatio = Math.min(minRatio, Math.min(...l) / mean);
    }
    return Array.from(l, (v) => (mean > 0 ? Math.round((1000 * v) / mean) / 1000 : 0));
  });
  return { expert_load_max: maxRatio, expert_load_min: Number.isFinite(minRatio) ? minRatio : 0, expert_load };
}

/** After an optimizer step: the router-bias update on the load counted since the last one, and that load's figures. */
export function balanceRouter(router: RouterModel): ExpertLoadFigures {
  return expertLoadFigures(router.updateRouterBiases());
}

/**
 * balanceRouter for a model on the webgpu device: the bias update runs there; the loads come back
 * in one readback together with `alsoRead` (the step's losses, its gradient norm), whose values
 * are returned beside the figures.
 */
export async function balanceRouterOnDevice(router: RouterModel, alsoRead: readonly Tensor[] = []): Promise<{ figures: ExpertLoadFigures; values: Float32Array[] }> {
  const loads = router.updateRouterBiasesOnDevice();
  const vals = await readValues([...alsoRead, ...loads]);
  return { figures: expertLoadFigures(vals.slice(alsoRead.length).map((v) => Float64Array.from(v))), values: vals.slice(0, alsoRead.length) as Float32Array[] };
}
