// Reverse-mode autograd on a tape. Every differentiable op records a GradNode
// (its op name from the typed table in grad-rules.ts, its inputs, what it
// saved); backward() walks the nodes in reverse topological order, applies
// each op's rule (written in tensor ops, run without recording), accumulates
// into leaves' .grad, and frees the graph unless asked to retain it.
// Not here: the rules themselves (grad-rules.ts).

import { AutogradError, fmtShape } from '../core/errors.ts';
import { sameShape } from '../core/shape.ts';
import { gradRules, type DiffOp, type OpSaved } from './grad-rules.ts';
import type { Tensor } from './tensor.ts';
import { retireStep, uploadStep } from './device.ts';
import { Tensor as TensorClass } from './tensor.ts';
import { addInPlace, doneGraphTensor, isBornF32, noteGraphTensor, releaseF32 } from './ops.ts';

export interface GradNode<K extends DiffOp = DiffOp> {
  op: K;
  inputs: Tensor[];
  saved: OpSaved[K] | null;
  freed: boolean;
  /** The output's buffer was born in an activation scope (ops.ts ephemeralScope) and is counted there. */
  scoped: boolean;
}

let gradDepthOff = 0;

export function isGradEnabled(): boolean {
  return gradDepthOff === 0;
}

/** Runs fn without recording any op (inference, optimizer updates, gradient rules). */
export function noGrad<T>(fn: () => T): T {
  gradDepthOff++;
  try {
    return fn();
  } finally {
    gradDepthOff--;
  }
}

/** Called by op frontends: attaches a node to `out` when grad is on and an input needs it. */
export function record<K extends DiffOp>(op: K, out: Tensor, inputs: Tensor[], saved: OpSaved[K]): Tensor {
  if (gradDepthOff > 0) return out;
  let any = false;
  for (const t of inputs) if (t.requiresGrad) any = true;
  if (!any) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, saved, freed: false, scoped: out.gpu !== null ? noteGraphTensor(out.gpu) : out.data instanceof Float32Array && noteGraphTensor(out.data.buffer) } as GradNode;
  return out;
}

/** The identity of t's storage (views share it): the host ArrayBuffer or the device buffer. */
function store(t: Tensor): object {
  return t.gpu ?? t.data.buffer;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order.reverse();
}

export function backward(root: Tensor, grad: Tensor | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad) {
    throw new AutogradError('backward: this tensor does not require grad (no input of the ops that made it was a parameter, or it was computed under noGrad)');
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new AutogradError(`backward: the tensor has shape ${fmtShape(root.shape)}, not one element; pass a gradient of that shape (t.backward(g)) or reduce it to a scalar first (e.g. t.sum() or t.mean())`);
    }
  } else if (!sameShape(grad.shape, root.shape)) {
    throw new AutogradError(`backward: gradient shape ${fmtShape(grad.shape)} does not match the tensor's shape ${fmtShape(root.shape)}`);
  }
  noGrad(() => {
    // Gradients may alias each other (add passes g to both inputs; reshape returns a view),
    // so a gradient is only ever modified in place when this pass allocated it (`owned`).
    const owned = new Set<Tensor>();
    const g0 = grad ? grad.clone() : onesLike(root);
    owned.add(g0);
    const grads = new Map<Tensor, Tensor>([[root, g0]]);
    const accumulate = (x: Tensor, gi: Tensor): void => {
      const prev = grads.get(x);
      if (!prev) {
        grads.set(x, gi);
      } else if (owned.has(prev)) {
        addInPlace(prev, gi);
      } else {
        const s = prev.clone();
        addInPlace(s, gi);
        owned.add(s);
        grads.set(x, s);
      }
    };
    for (const t of topoOrder(root)) {
      const g = grads.get(t);
      grads.delete(t);
      if (!g) continue;
      const node = t.node;
      if (!node) {
        if (t.grad) addInPlace(t.grad, g);
        else t.grad = owned.has(g) ? g : g.clone();
        continue;
      }
      if (node.freed) {
        throw new AutogradError(`backward: the graph through '${node.op}' was freed by an earlier backward(); pass { retainGraph: true } to the first backward() to run it twice, or recompute the forward pass`);
      }
      const needs = node.inputs.map((x) => x.requiresGrad);
      const rule = gradRules[node.op] as (g: Tensor, inputs: Tensor[], saved: unknown, out: Tensor, needs: boolean[]) => (Tensor | null)[];
      const ins = rule(g, node.inputs, node.saved, t, needs);
      // A rule's output is this pass's own (safe to modify in place) unless it shares its buffer
      // with the upstream gradient (add, reshape), an input, or another output of the same rule.
      const handed = new Set<object>();
      let gHanded = 0;
      node.inputs.forEach((x, i) => {
        const gi = ins[i];
        if (!needs[i] || !gi) return;
        if (store(gi) === store(g)) gHanded++;
        if (!sameShape(gi.shape, x.shape)) {
          throw new AutogradError(`backward: the gradient rule of '${node.op}' returned shape ${fmtShape(gi.shape)} for an input of shape ${fmtShape(x.shape)} (a bug in the rule)`);
        }
        // Compared by underlying buffer, so a subarray view of another gradient never counts as owned.
        const buf = store(gi);
        if (buf !== store(g) && !handed.has(buf) && !node.inputs.some((y) => store(y) === buf)) owned.add(gi);
        handed.add(buf);
        accumulate(x, gi);
      });
      // g handed on to two or more inputs (add's [g, g]) now has several holders: no longer
      // safe to modify in place. g handed to none, owned, and shared with no pending gradient
      // is dead: its buffer goes back to the op-output pool.
      if (gHanded > 1) owned.delete(g);
      else if (gHanded === 0 && owned.has(g) && (g.gpu !== null || g.data instanceof Float32Array)) {
        owned.delete(g);
        let shared = false;
        const gs = store(g);
        for (const v of grads.values()) if (store(v) === gs) shared = true;
        if (!shared && !isBornF32(gs)) {
          if (g.gpu) retireStep(g.gpu);
          else releaseF32(g.data as Float32Array);
        }
      }
      if (!retainGraph) {
        // Every reader of t (its consumers' rules, and its own just now) is done.
        if (node.scoped && doneGraphTensor(store(t))) {
          let shared = false;
          const ts = store(t);
          for (const v of grads.values()) if (store(v) === ts) shared = true;
          if (!shared) {
            if (t.gpu) retireStep(t.gpu);
            else releaseF32(t.data as Float32Array);
          }
        }
        node.freed = true;
        node.saved = null;
        node.inputs = [];
      }
    }
  });
}

function onesLike(t: Tensor): Tensor {
  if (t.gpu) return new TensorClass(uploadStep(new Float32Array(t.size).fill(1)), t.shape);
  const g = t.clone();
  g.data.fill(1);
  return g;
}
