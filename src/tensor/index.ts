// The tensor API: Tensor, creation helpers, ops, autograd, backend choice.
// Importing this module selects the backend (native when the addon loads).

export { Tensor, tensor, zeros, ones, full, randn, uniform, ids, parameter } from './tensor.ts';
export * from './ops.ts';
export { noGrad, isGradEnabled } from './autograd.ts';
export { availableBackends, useBackend, currentBackend, cpuLevels, setCpuLevel } from './backends.ts';
export * from './fused.ts';
