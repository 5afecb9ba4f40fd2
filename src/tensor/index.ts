// The tensor API: Tensor, creation helpers, ops, autograd, backend choice.
// Importing this module selects the backend (native when the addon loads); the
// webgpu device is opened on demand (openDevice) and tensors moved to it (device.ts).

export { Tensor, tensor, zeros, ones, full, randn, uniform, ids, parameter } from './tensor.ts';
export * from './ops.ts';
export { noGrad, isGradEnabled } from './autograd.ts';
export { openDevice, closeDevice, placeOnDevice, type DevicePlacement, useDeviceContext, hasDevice, toDevice, toHost, moveToDevice, moveToHost, deviceZeros, readValues, endDeviceStep, keepOnDevice, releaseDevice, devicePrefixView, deviceContext, markDeviceConstant, stackOnDevice, deviceStackOf, type DeviceStack, packOnDevice, devicePackOf, packRuns as devicePackRuns } from './device.ts';
export { availableBackends, useBackend, currentBackend, cpuLevels, setCpuLevel } from './backends.ts';
export * from './fused.ts';
export { fillPooledF32, pooledF32 } from './f32-pool.ts';
export { routeOnDevice, moeExpertsOnDevice, type DeviceRouting } from './moe-device.ts';
export { copyWithin as deviceCopyWithin, copySpan as deviceCopySpan, gateUpdates as gateDeviceUpdates, packParams as packDeviceParams, gatherGrads as gatherDeviceGrads, scaleManyInPlace as deviceScaleManyInPlace, sumSquaresMany as deviceSumSquaresMany, normMany as deviceNormMany, sampleRows as deviceSampleRows, tokenLse as deviceTokenLse, DEVICE_SAMPLING } from './device-ops.ts';
