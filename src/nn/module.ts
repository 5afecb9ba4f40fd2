// Module: the base of every layer and model. Parameters and submodules are
// found by walking the instance's own fields in declaration order (Tensors
// that require grad, Modules, arrays of Modules), which gives PyTorch-style
// dotted names ("layers.0.attn.wq.weight") for state dicts; the checkpoint
// formats map those names in src/io, one table per format.
// Not here: initialization policies (each layer takes an Rng), serialization.

import { R1tsError, ShapeError, fmtShape } from '../core/errors.ts';
import { Tensor } from '../tensor/index.ts';

export abstract class Module {
  /** Training mode (dropout-free models use it for MoE balancing and caches). */
  training = true;

  /**
   * Every tensor field with its dotted name, in declaration order: parameters (requiresGrad)
   * and buffers (state that is saved but not trained by gradients, e.g. the MoE routing bias).
   */
  namedTensors(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [key, value] of Object.entries(this)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value instanceof Tensor) out.push([name, value]);
      else if (value instanceof Module) out.push(...value.namedTensors(name));
      else if (Array.isArray(value)) {
        value.forEach((v, i) => {
          if (v instanceof Module) out.push(...v.namedTensors(`${name}.${i}`));
        });
      }
    }
    return out;
  }

  /** This module and every submodule, depth first in declaration order. */
  modules(): Module[] {
    const out: Module[] = [this];
    for (const value of Object.values(this)) {
      if (value instanceof Module) out.push(...value.modules());
      else if (Array.isArray(value)) for (const v of value) if (v instanceof Module) out.push(...v.modules());
    }
    return out;
  }

  /** Parameters (tensors that require grad) with their dotted names, in declaration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    return this.namedTensors(prefix).filter(([, t]) => t.requiresGrad);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Parameters and buffers by name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedTensors());
  }

  /**
   * Copies values into the parameters. strict (default): every parameter must be given and
   * nothing else; the error lists the missing and unexpected names. Shapes must match exactly.
   */
  loadStateDict(sd: Map<string, Tensor | Float32Array>, opts: { strict?: boolean } = {}): void {
    const own = this.stateDict();
    const strict = opts.strict ?? true;
    if (strict) {
      const missing = [...own.keys()].filter((k) => !sd.has(k));
      const unexpected = [...sd.keys()].filter((k) => !own.has(k));
      if (missing.length || unexpected.length) {
        throw new R1tsError(`loadStateDict: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected ${unexpected.join(', ')}` : ''}`);
      }
    }
    for (const [name, src] of sd) {
      const dst = own.get(name);
      if (!dst) continue;
      const data = src instanceof Tensor ? src.data : src;
      if (src instanceof Tensor && src.shape.join() !== dst.shape.join()) {
        throw new ShapeError(`loadStateDict: ${name} has shape ${fmtShape(src.shape)}, the model expects ${fmtShape(dst.shape)}`);
      }
      if (data.length !== dst.size) throw new ShapeError(`loadStateDict: ${name} has ${data.length} values, the model expects ${dst.size} (${fmtShape(dst.shape)})`);
      (dst.data as Float32Array).set(data);
    }
  }

  /** Sets training mode on this module and every submodule. */
  train(on = true): this {
    this.training = on;
    for (const value of Object.values(this)) {
      if (value instanceof Module) value.train(on);
      else if (Array.isArray(value)) for (const v of value) if (v instanceof Module) v.train(on);
    }
    return this;
  }

  eval(): this {
    return this.train(false);
  }
}
