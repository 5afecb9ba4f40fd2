// The WebGPU device layer: opens an adapter and device through Dawn (the `webgpu`
// npm package), owns the buffer pool, the pipeline cache and the one command
// encoder that records a batch of kernel dispatches, and reads buffers back
// asynchronously only when asked.
// Not here: the kernels themselves (the other files of this folder) and the tie to
// the tensor engine (src/tensor/device.ts, device-ops.ts; see index.ts).
//
// Adapter order: first a core-WebGPU adapter with Dawn's defaults (a real GPU through
// Vulkan/Metal/D3D12); if there is none, Dawn's OpenGL ES backend at the WebGPU
// compatibility feature level, which on a machine without a GPU runs on Mesa's llvmpipe
// through headless EGL (EGL_PLATFORM=surfaceless). On Debian 12 that needs the packages
// libegl-dev (Dawn dlopens the unversioned libEGL.so) and libgl1-mesa-dri (llvmpipe).
// Mesa 22.3's lavapipe (mesa-vulkan-drivers) is not usable: Dawn rejects it for lacking
// shaderUniform*ArrayDynamicIndexing.

/// <reference types="@webgpu/types" />
import { NonFiniteError, R1tsError } from '../../core/errors.ts';
import { GpuTensor, type GpuDtype, type GpuSlab } from './tensor.ts';

/** What to install when no adapter can be created (printed in errors and test skips). */
export const noAdapterHint =
  'install a GPU driver with Vulkan (or Metal/D3D12), or for the CPU software adapter Mesa llvmpipe with headless EGL ' +
  '(Debian/Ubuntu: apt-get install libegl-dev libgl1-mesa-dri)';

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn backend flag used ('default', 'opengles' or 'null'). */
  backend: string;
  featureLevel: 'core' | 'compatibility';
  /** True for CPU rasterizers (llvmpipe, lavapipe, SwiftShader, WARP): figures from it are not GPU figures. */
  software: boolean;
  shaderF16: boolean;
  /** The adapter offers WGSL subgroup operations (the 'subgroups' feature; no kernel uses them yet). */
  subgroups: boolean;
}

export interface OpenOptions {
  /**
   * Force one path: 'default' (core adapter only) or 'opengles' (compat on GL ES only); or 'null',
   * Dawn's null backend, which validates and records everything and executes nothing (read values
   * are garbage): the host's cost of a workload alone (bench:webgpu). Ignored with `gpu`.
   */
  backend?: 'default' | 'opengles' | 'null';
  /**
   * A GPU object to open instead of Dawn's: a browser page passes `navigator.gpu` (the `webgpu`
   * package and process.env are then never touched). A core adapter is asked for first, then a
   * compatibility one.
   */
  gpu?: GPU;
}

const softwareRe = /llvmpipe|lavapipe|softpipe|swiftshader|warp|microsoft basic render/i;

function describeAdapter(ad: GPUAdapter, backend: string, featureLevel: 'core' | 'compatibility'): AdapterReport {
  const i = ad.info;
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`;
  return {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    backend, featureLevel,
    software: softwareRe.test(text) || (i as { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
    shaderF16: ad.features.has('shader-f16'),
    subgroups: ad.features.has('subgroups'),
  };
}

type WebGpuModule = { create(flags: string[]): GPU };

async function loadDawn(): Promise<WebGpuModule> {
  try {
    // A variable specifier: the package is optional, so the typecheck must not need it installed;
    // @vite-ignore keeps the web build (which passes navigator.gpu instead) from bundling Dawn.
    const spec = 'webgpu';
    return (await import(/* @vite-ignore */ spec)) as WebGpuModule;
  } catch (e) {
    throw new R1tsError(`WebGPU is unavailable: the optional package 'webgpu' (Dawn for Node) did not load (${(e as Error).message}); run npm install, then ${noAdapterHint}`);
  }
}

// The GPU object from create() must outlive its devices: when it is garbage-collected Dawn tears
// down the instance under a live device (on llvmpipe: a crash in the middle of a dispatch).
interface Found { gpu: GPU; adapter: GPUAdapter; report: AdapterReport }

/** The adapter of a given GPU object (a browser's navigator.gpu). */
async function adapterOf(gpu: GPU): Promise<Found> {
  const core = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (core) return { gpu, adapter: core, report: describeAdapter(core, 'default', 'core') };
  const compat = await gpu.requestAdapter({ featureLevel: 'compatibility' });
  if (compat) return { gpu, adapter: compat, report: describeAdapter(compat, 'default', 'compatibility') };
  throw new R1tsError('no WebGPU adapter: the GPU object (navigator.gpu) returned none for a core or a compatibility adapter; in Chromium, enable WebGPU (chrome://gpu says why it is off; headless: --enable-unsafe-webgpu)');
}

async function findAdapter(opts: OpenOptions): Promise<Found> {
  if (opts.gpu) return adapterOf(opts.gpu);
  const dawn = await loadDawn();
  const tried: string[] = [];
  if (opts.backend === 'null') {
    const gpu = dawn.create(['backend=null']);
    const ad = await gpu.requestAdapter();
    if (ad) return { gpu, adapter: ad, report: { ...describeAdapter(ad, 'null', 'core'), software: true } };
    throw new R1tsError("no WebGPU adapter: Dawn's null backend gave none");
  }
  if (opts.backend !== 'opengles') {
    const gpu = dawn.create([]);
    const ad = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (ad) return { gpu, adapter: ad, report: describeAdapter(ad, 'default', 'core') };
    tried.push('a core adapter (Vulkan/Metal/D3D12)');
  }
  if (opts.backend !== 'default') {
    // Headless EGL: Mesa reads EGL_PLATFORM when libEGL initialises, which happens on this first request.
    if (process.env.EGL_PLATFORM === undefined) process.env.EGL_PLATFORM = 'surfaceless';
    const gpu = dawn.create(['backend=opengles']);
    const ad = await gpu.requestAdapter({ featureLevel: 'compatibility' });
    if (ad) return { gpu, adapter: ad, report: describeAdapter(ad, 'opengles', 'compatibility') };
    tried.push(`a compatibility adapter on OpenGL ES (EGL_PLATFORM=${process.env.EGL_PLATFORM})`);
  }
  throw new R1tsError(`no WebGPU adapter: tried ${tried.join(' and ')}; ${noAdapterHint}`);
}

/** Bytes of the smallest pool bucket; buckets are powers of two from here. */
const minBucket = 256;
function bucketOf(bytes: number): number {
  let b = minBucket;
  while (b < bytes) b *= 2;
  return b;
}

const storageUsage = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */
const uniformUsage = 0x40 /* UNIFORM */ | 0x08; /* COPY_DST */
/** Bytes of one chunk of the uniform arena (WebGPU's minimum maxUniformBufferBindingSize). */
const UNIFORM_CHUNK = 65536;
/** Most bind groups kept for reuse. */
const BIND_GROUP_CACHE = 16384;

interface Pipeline { pipe: GPUComputePipeline; layout: GPUBindGroupLayout; writable: Set<number> }

/**
 * Where the first out-of-range id a kernel met is recorded: [code, position, value, unused]; or,
 * in the NaN check mode, the first op output with a non-finite value (elementwise.ts
 * checkFinite): [NONFINITE_CODE | label id << 8, ~index, 0, kinds].
 */
export const statusCodes = ['', 'embedding id', 'embedding backward id', 'rope position', 'cross-entropy target', 'cross-entropy backward target', 'non-finite value'] as const;
export const NONFINITE_CODE = 6;

export interface Dispatch {
  /** Pipeline cache key: kernel name plus every specialization that changes the WGSL. */
  key: string;
  /** Builds the WGSL for key (called once per key). */
  wgsl: () => string;
  /** Storage buffers in binding order 1.. (binding 0 is the uniform block when `uniforms` is given). */
  buffers: GpuTensor[];
  /** Uniform block contents (4-byte scalars), or null for none. */
  uniforms: ArrayBuffer | null;
  /** Workgroup counts. */
  groups: [number, number, number];
  /** Binds the status buffer after the storage buffers (kernels that validate data-derived indices). */
  status?: boolean;
}

/**
 * One WebGPU device with its pool, pipeline cache and current batch. Kernels record
 * dispatches into the open compute pass; nothing is submitted until flush() (called by
 * read(), or by the caller at a step boundary). Buffers released during a batch return to
 * the pool only after the batch is submitted, so an upload (queue.writeBuffer, which runs
 * before any unsubmitted commands) never lands in a buffer that pending work still reads.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterReport;
  private readonly pool = new Map<string, GPUBuffer[]>();
  /** Pool buckets with buffers pushed since they were last sorted (poolPush). */
  private readonly poolUnsorted = new Set<string>();
  private readonly pendingFree: [string, GPUBuffer][] = [];
  /** Buffers to destroy once the current batch is submitted (discard). */
  private readonly pendingDestroy: GPUBuffer[] = [];
  /** Buffers retired during the current batch: reusable by in-batch allocations (kernel outputs), never by uploads. */
  private readonly batchFree = new Map<string, GPUBuffer[]>();
  /** Compiled pipelines by key, with their bind group layout and the bindings their WGSL declares read_write. */
  private readonly pipelines = new Map<string, Pipeline>();
  /** The uniform arena: chunk buffers reused by every batch, each with its host copy (see uniformSlot). */
  private readonly arenas: { buffer: GPUBuffer; host: Uint8Array }[] = [];
  /** Where the next uniform block of this batch goes: chunk, byte offset. */
  private arenaChunk = 0;
  private arenaUsed = 0;
  /** Bind groups by what they bind (see dispatch): a step that repeats the last one's dispatches creates none. */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** Numeric ids of pipelines and buffers, for bind group keys. */
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  /** The pipeline last set on the open pass. */
  private passPipe: GPUComputePipeline | null = null;
  /** Dispatches recorded into the open batch; and after how many it is submitted on its own (0: never; setAutoFlush). */
  private batchDispatches = 0;
  private autoFlush = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly status: GpuTensor;
  private lost: string | null = null;
  /** Validation scopes of submitted batches, awaited by read()/sync(); with the pipeline keys each batch compiled. */
  private scopes: Promise<{ error: string | null; keys: string[] }>[] = [];
  private batchKeys: string[] = [];
  private gpuError: string | null = null;
  /** What each finite check since the last read checks (checkLabel), by id. */
  private checkLabels: { op: string; where: string }[] = [];
  /**
   * The device's limits that the hot paths read, copied once (each read of device.limits goes
   * into Dawn's native object).
   */
  readonly limits: {
    readonly maxComputeWorkgroupsPerDimension: number;
    readonly minUniformBufferOffsetAlignment: number;
    readonly minStorageBufferOffsetAlignment: number;
    readonly maxStorageBufferBindingSize: number;
    readonly maxComputeWorkgroupStorageSize: number;
  };
  /** Counters for reports and tests. */
  readonly stats = { dispatches: 0, submits: 0, pipelinesCompiled: 0, buffersCreated: 0, poolHits: 0, batchReuses: 0, bindGroupsCreated: 0 };

  /** Held so that Dawn's instance lives as long as this context (see Found). */
  private readonly gpu: GPU;

  private constructor(gpu: GPU, device: GPUDevice, report: AdapterReport) {
    this.gpu = gpu;
    this.device = device;
    this.adapter = report;
    const l = device.limits;
    this.limits = {
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      minUniformBufferOffsetAlignment: l.minUniformBufferOffsetAlignment,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    };
    device.lost.then((info) => { this.lost = `${info.reason}: ${info.message}`; }, () => {});
    // Validation errors (a bad shader, a bad binding) arrive here asynchronously; the next read() or sync() throws the first.
    device.addEventListener('uncapturederror', (ev) => {
      this.gpuError ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
    this.status = this.alloc([4], 'u32');
    this.device.queue.writeBuffer(this.status.buffer, 0, new Uint32Array(4));
  }

  static async open(opts: OpenOptions = {}): Promise<GpuContext> {
    const { gpu, adapter, report } = await findAdapter(opts);
    const al = adapter.limits;
    // Compatibility devices default to lower limits (4 storage buffers per stage); ask for what the adapter has.
    // shader-f16 when the adapter has it: the f16-weight GEMM then declares B as array<f16> (gemm.ts).
    const device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has('shader-f16') ? ['shader-f16'] : [],
      requiredLimits: {
        maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
        maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
        maxBufferSize: al.maxBufferSize,
        maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: al.maxComputeWorkgroupSizeY,
      },
    });
    return new GpuContext(gpu, device, report);
  }

  /** One line for logs and bench reports. */
  describe(): string {
    const a = this.adapter;
    return `webgpu ${a.backend}/${a.featureLevel}: ${a.description || a.device || a.vendor}${a.software ? ' (software adapter, CPU)' : ''}`;
  }

  private checkLive(): void {
    if (this.lost !== null) throw new R1tsError(`the WebGPU device was lost (${this.lost})`);
    if (this.gpuError !== null) {
      const e = this.gpuError;
      this.gpuError = null;
      throw new R1tsError(`WebGPU reported an error: ${e}`);
    }
  }

  /**
   * A pooled device buffer for `shape`; contents are undefined (kernels overwrite outputs).
   * inBatch: may reuse a buffer retired in the current batch — only for buffers that the
   * recorded commands write before reading (kernel outputs, clear()), never for upload/write,
   * whose queue writes run before the batch's commands.
   */
  alloc(shape: readonly number[], dtype: GpuDtype = 'f32', inBatch = false): GpuTensor {
    const size = this.elements('alloc', shape);
    return new GpuTensor(this.takeBuffer('alloc', shape, bucketOf(size * 4), inBatch), shape, dtype);
  }

  /** The element count of shape; throws naming op when a dimension is not a non-negative integer. */
  private elements(op: string, shape: readonly number[]): number {
    this.checkLive();
    let size = 1;
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new R1tsError(`webgpu ${op}: shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
      size *= d;
    }
    return size;
  }

  /** A pooled buffer of `bytes` (a bucket size, or a slab's exact size): one retired in this batch (inBatch), one from the pool, or a new one. */
  private takeBuffer(op: string, shape: readonly number[], bytes: number, inBatch: boolean): GPUBuffer {
    if (bytes > this.limits.maxStorageBufferBindingSize) {
      throw new R1tsError(`webgpu ${op}: [${shape.join(', ')}] needs ${bytes} bytes, over this device's storage binding limit of ${this.limits.maxStorageBufferBindingSize}`);
    }
    const key = `s${bytes}`;
    let buffer = inBatch ? this.batchFree.get(key)?.pop() : undefined;
    if (buffer) this.stats.batchReuses++;
    else {
      const list = this.pool.get(key);
      // Lowest id (the oldest buffer) last, so popped first.
      if (list && this.poolUnsorted.delete(key)) list.sort((x, y) => this.idOf(y) - this.idOf(x));
      buffer = list?.pop();
      if (buffer) this.stats.poolHits++;
    }
    if (!buffer) {
      buffer = this.device.createBuffer({ size: bytes, usage: storageUsage });
      this.idOf(buffer); // ids in creation order: the pool's order (poolPush)
      this.stats.buffersCreated++;
    }
    return buffer;
  }

  /** Bytes between the views of a stack of `shape`: its size rounded up to the device's storage offset alignment. */
  private stackStrideBytes(shape: readonly number[]): number {
    const align = this.limits.minStorageBufferOffsetAlignment;
    return Math.ceil((this.elements('allocStack', shape) * 4) / align) * align;
  }

  /** Whether a stack of `count` tensors of `shape` fits one storage binding (allocStack would succeed). */
  stackFits(count: number, shape: readonly number[]): boolean {
    return count >= 1 && count * this.stackStrideBytes(shape) <= this.limits.maxStorageBufferBindingSize;
  }

  /**
   * `count` tensors of `shape` in one buffer (a slab), back to back at `stride` elements (the size
   * rounded up to the storage offset alignment, so each can be bound on its own): `views[i]` is the
   * i-th, an ordinary GpuTensor to every kernel; `whole` [count·stride] binds them all at once (the
   * grouped GEMMs' stacked operand) and lives as long as some view does — never release it. Each
   * view is released (or retired) on its own; the buffer returns to the pool after the batch in
   * which the last one is. Contents undefined. Used for the MoE experts' weights and gradients.
   */
  allocStack(count: number, shape: readonly number[], dtype: GpuDtype = 'f32'): { views: GpuTensor[]; whole: GpuTensor; stride: number } {
    const size = this.elements('allocStack', shape);
    if (!Number.isInteger(count) || count < 1 || size < 1) throw new R1tsError(`webgpu allocStack: ${count} tensors of shape [${shape.join(', ')}]; expected at least one, of at least one element`);
    const strideBytes = this.stackStrideBytes(shape);
    // Exactly its size (not a power-of-two bucket: a slab of expert weights is large and long-lived);
    // pooled under that size, which the same stack asks for again each step (the gradients').
    const buffer = this.takeBuffer('allocStack', [count, ...shape], count * strideBytes, false);
    const slab: GpuSlab = { buffer, strideBytes, live: count, count };
    const views = Array.from({ length: count }, (_, i) => new GpuTensor(buffer, shape, dtype, i * strideBytes, slab));
    return { views, whole: new GpuTensor(buffer, [(count * strideBytes) / 4], dtype), stride: strideBytes / 4 };
  }

  /** Byte offsets of tensors of `shapes` in a pack (allocPack), each at the storage offset alignment after the last, and the pack's bytes. */
  packLayout(shapes: readonly (readonly number[])[]): { offsets: number[]; bytes: number } {
    const align = this.limits.minStorageBufferOffsetAlignment;
    const offsets: number[] = [];
    let bytes = 0;
    for (const shape of shapes) {
      offsets.push(bytes);
      bytes += Math.ceil((this.elements('allocPack', shape) * 4) / align) * align;
    }
    return { offsets, bytes };
  }

  /** Whether a pack of tensors of `shapes` fits one storage binding (allocPack would succeed). */
  packFits(shapes: readonly (readonly number[])[]): boolean {
    const { bytes } = this.packLayout(shapes);
    return shapes.length >= 1 && bytes > 0 && bytes <= this.limits.maxStorageBufferBindingSize;
  }

  /**
   * f32 tensors of any `shapes` in one buffer (a pack), each at the first offset the device can
   * bind after the last (packLayout): `views[i]` is the i-th, an ordinary GpuTensor to every
   * kernel; `whole` binds the buffer as one f32 tensor of every element, the gaps between views
   * included: a multi-tensor kernel that keeps the gaps at zero (AdamW, the sum of squares, a
   * rescale) treats the pack as one tensor. Released like a stack (view by view; never `whole`).
   * Contents undefined. Used for the optimizer's parameters, moments and gradients.
   */
  allocPack(shapes: readonly (readonly number[])[]): { views: GpuTensor[]; whole: GpuTensor } {
    const { offsets, bytes } = this.packLayout(shapes);
    if (shapes.length < 1 || bytes === 0) throw new R1tsError(`webgpu allocPack: ${shapes.length} tensors of ${bytes / 4} elements; expected at least one, of at least one element`);
    const buffer = this.takeBuffer('allocPack', [bytes / 4], bytes, false);
    // strideBytes 0: not a stack of equal strides (deviceStackOf refuses it).
    const slab: GpuSlab = { buffer, strideBytes: 0, live: shapes.length, count: shapes.length };
    const views = shapes.map((shape, i) => new GpuTensor(buffer, shape, 'f32', offsets[i], slab));
    return { views, whole: new GpuTensor(buffer, [bytes / 4], 'f32') };
  }

  /** A slab view is done: the slab's buffer goes back to the pool (after this batch's submit) with its last view. */
  private dropView(t: GpuTensor, slab: GpuSlab): void {
    t.markReleased();
    if (--slab.live === 0) this.toPool(`s${slab.buffer.size}`, slab.buffer);
  }

  /**
   * A released buffer back to the pool: after the open batch's submit, or at once when no batch is
   * open (all recorded work is submitted, and queue order puts any later upload into it after that
   * work). At once keeps a step that releases after its read and allocates again in the same buffers
   * as the last, so its dispatches find their bind groups.
   */
  private toPool(key: string, buffer: GPUBuffer): void {
    if (this.encoder) this.pendingFree.push([key, buffer]);
    else this.poolPush(key, buffer);
  }

  /**
   * Into the pool. The pool hands out its buffers in one fixed order (oldest first, sorted when next
   * asked), not in the order they came back: a step whose releases come back in another order than the last
   * step's still gets the same buffers for the same tensors, and so finds their bind groups.
   */
  private poolPush(key: string, buffer: GPUBuffer): void {
    let list = this.pool.get(key);
    if (!list) this.pool.set(key, (list = []));
    list.push(buffer);
    this.poolUnsorted.add(key);
  }

  /** Returns t's buffer to the pool (after the current batch is submitted, if one is open); t must not be used again. */
  release(t: GpuTensor): void {
    t.assertLive('release');
    if (t.slab) return this.dropView(t, t.slab);
    this.toPool(`s${t.buffer.size}`, t.buffer);
    t.markReleased();
  }

  /**
   * Like release(), but t's buffer is destroyed (after the current batch is submitted) instead of
   * pooled: its memory goes back to the device (stackOnDevice's originals, whose contents now live
   * in a slab: a large model's would otherwise sit in the pool).
   */
  discard(t: GpuTensor): void {
    t.assertLive('discard');
    if (t.slab) return this.dropView(t, t.slab);
    this.pendingDestroy.push(t.buffer);
    t.markReleased();
  }

  /**
   * t's last reader has been recorded: later commands of this batch may overwrite its buffer
   * (in-batch allocations reuse it; commands run in recording order), and after the submit it
   * returns to the pool. t must not be used again.
   */
  retire(t: GpuTensor): void {
    t.assertLive('retire');
    // A slab's buffer is reused only after a submit (conservative: its other views may have been released, not retired).
    if (t.slab) return this.dropView(t, t.slab);
    const key = `s${t.buffer.size}`;
    let list = this.batchFree.get(key);
    if (!list) this.batchFree.set(key, (list = []));
    list.push(t.buffer);
    t.markReleased();
  }

  /**
   * A new device buffer holding `data` (shape defaults to [data.length]). No flush: a buffer fresh
   * from the pool is read by no unsubmitted command (releases recycle only after a submit), and
   * earlier submitted work runs before the queue write, so the write keeps program order.
   */
  upload(data: Float32Array | Int32Array | Uint32Array, shape: readonly number[] = [data.length]): GpuTensor {
    const dtype: GpuDtype = data instanceof Float32Array ? 'f32' : data instanceof Int32Array ? 'i32' : 'u32';
    const t = this.alloc(shape, dtype);
    if (t.size !== data.length) throw new R1tsError(`webgpu upload: ${data.length} values do not fill shape [${shape.join(', ')}] (${t.size})`);
    if (data.length > 0) this.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return t;
  }

  /** Sets t to zeros inside the current batch (in program order with the recorded dispatches). */
  clear(t: GpuTensor): void {
    t.assertLive('clear');
    if (t.size === 0) return;
    if (this.pass) { this.pass.end(); this.pass = null; }
    this.openBatch().clearBuffer(t.buffer, t.offset, t.size * 4);
  }

  /** Overwrites t with data. Submits the pending batch first: queue writes run before unsubmitted commands, so this keeps program order. */
  write(t: GpuTensor, data: Float32Array | Int32Array | Uint32Array): void {
    t.assertLive('write');
    if (data.length !== t.size) throw new R1tsError(`webgpu write: ${data.length} values for a tensor of ${t.size}`);
    this.flush();
    if (data.length > 0) this.device.queue.writeBuffer(t.buffer, t.offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Opens the batch's encoder (and its validation error scope) when none is open. */
  private openBatch(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder();
    }
    return this.encoder;
  }

  private pipeline(key: string, wgsl: () => string): Pipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const code = wgsl();
      const module = this.device.createShaderModule({ code, label: key });
      const pipe = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      const writable = new Set([...code.matchAll(/@binding\((\d+)\)\s*var<storage,\s*read_write>/g)].map((m) => Number(m[1])));
      p = { pipe, layout: pipe.getBindGroupLayout(0), writable };
      this.pipelines.set(key, p);
      this.batchKeys.push(key);
      this.stats.pipelinesCompiled++;
    }
    return p;
  }

  /** Records one dispatch into the current batch (opening an encoder and pass when needed). */
  dispatch(d: Dispatch): void {
    this.checkLive();
    const [gx, gy, gz] = d.groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const limit = this.limits.maxComputeWorkgroupsPerDimension;
    if (gx > limit || gy > limit || gz > limit) throw new R1tsError(`webgpu ${d.key}: ${d.groups.join('×')} workgroups exceed the per-dimension limit ${limit}`);
    // A refused dispatch (a released tensor, a written buffer bound twice) takes no uniform slot.
    for (let i = 0; i < d.buffers.length; i++) d.buffers[i].assertLive(d.key);
    // The batch's validation scope is open before the pipeline compiles: a shader error lands in it.
    this.openBatch();
    const { pipe, layout, writable } = this.pipeline(d.key, d.wgsl);
    const first = d.uniforms ? 1 : 0;
    // WebGPU validates a dispatch's buffer usage per buffer, not per range: a buffer it writes may be
    // bound only once (two views of one slab included). Said here, naming the kernel, rather than
    // as a validation error at the next read.
    for (let i = 0; i < d.buffers.length; i++) {
      for (let j = i + 1; j < d.buffers.length; j++) {
        if (d.buffers[i].buffer !== d.buffers[j].buffer) continue;
        const bi = first + i, bj = first + j;
        if (writable.has(bi) || writable.has(bj)) {
          throw new R1tsError(`webgpu ${d.key}: one buffer is bound at bindings ${bi} and ${bj} and written through ${writable.has(bi) ? bi : bj}; WebGPU forbids binding a buffer a dispatch writes more than once (two views of one stack included)`);
        }
      }
    }
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    // The bind group's key: the pipeline and each binding's buffer, offset and size. A training step
    // repeats the last one's dispatches with the same pooled buffers and uniform slots, so it finds
    // them all here (createBindGroup is the largest host cost of a dispatch).
    let key = `${this.idOf(pipe)}`;
    if (d.uniforms) {
      const u = this.uniformSlot(d.uniforms);
      entries.push({ binding: binding++, resource: u });
      key += `|u${this.idOf(u.buffer)}:${u.offset}:${u.size}`;
    }
    for (const t of d.buffers) {
      // A view at an offset (a slab's) binds its own span; any other tensor its whole (bucket-sized) buffer.
      const view = t.slab || t.offset;
      entries.push({ binding: binding++, resource: view ? { buffer: t.buffer, offset: t.offset, size: t.size * 4 } : { buffer: t.buffer } });
      key += view ? `|${this.idOf(t.buffer)}:${t.offset}:${t.size}` : `|${this.idOf(t.buffer)}`;
    }
    if (d.status) entries.push({ binding: binding++, resource: { buffer: this.status.buffer } });
    let group = this.bindGroups.get(key);
    if (!group) {
      // Bounded: past the limit start over (a workload that cycles through more than that gains nothing from it).
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
      group = this.device.createBindGroup({ layout, entries });
      this.bindGroups.set(key, group);
      this.stats.bindGroupsCreated++;
    }
    if (!this.pass) {
      this.pass = this.openBatch().beginComputePass();
      this.passPipe = null;
    }
    if (this.passPipe !== pipe) {
      this.pass.setPipeline(pipe);
      this.passPipe = pipe;
    }
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(gx, gy, gz);
    this.stats.dispatches++;
    if (this.autoFlush > 0 && ++this.batchDispatches >= this.autoFlush) this.flush();
  }

  /**
   * Submit the batch on its own after every `n` dispatches (0, the default: only flush(), read()
   * and sync() submit). A training step is recorded before it is submitted, so the GPU idles while
   * the host records; submitting every n dispatches lets it run the step's first part while the
   * host records the rest, for a few more submits. bench:webgpu times training both ways.
   */
  setAutoFlush(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new R1tsError(`webgpu setAutoFlush: ${n}; expected a whole number of dispatches (0: off)`);
    this.autoFlush = n;
  }

  /** A number naming a pipeline or buffer for as long as it lives. */
  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  /**
   * A place for one dispatch's uniform block in the arena: chunks of UNIFORM_CHUNK bytes that every
   * batch fills from the start, in dispatch order, at offsets the device's alignment allows. The
   * blocks are gathered on the host and written with one queue write per chunk at flush(), just
   * before the submit: queue order puts that write after the previous batch's work (which read the
   * previous contents) and before this batch's. One write per chunk instead of one per dispatch.
   */
  private uniformSlot(data: ArrayBuffer): { buffer: GPUBuffer; offset: number; size: number } {
    const size = data.byteLength;
    if (size > UNIFORM_CHUNK) throw new R1tsError(`webgpu: a uniform block of ${size} bytes exceeds the arena's ${UNIFORM_CHUNK}-byte chunks`);
    if (this.arenaUsed + size > UNIFORM_CHUNK) {
      this.arenaChunk++;
      this.arenaUsed = 0;
    }
    if (this.arenaChunk === this.arenas.length) {
      this.arenas.push({ buffer: this.device.createBuffer({ size: UNIFORM_CHUNK, usage: uniformUsage }), host: new Uint8Array(UNIFORM_CHUNK) });
      this.stats.buffersCreated++;
    }
    const chunk = this.arenas[this.arenaChunk];
    const offset = this.arenaUsed;
    chunk.host.set(new Uint8Array(data), offset);
    const align = this.limits.minUniformBufferOffsetAlignment;
    this.arenaUsed = Math.ceil((offset + size) / align) * align;
    return { buffer: chunk.buffer, offset, size };
  }

  /** Copies src into dst (same element count) inside the current batch. */
  copy(src: GpuTensor, dst: GpuTensor): void {
    src.assertLive('copy'); dst.assertLive('copy');
    if (src.size !== dst.size) throw new R1tsError(`webgpu copy: ${src.size} elements into ${dst.size}`);
    if (src.size === 0) return;
    if (this.pass) { this.pass.end(); this.pass = null; }
    this.openBatch().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size * 4);
  }

  /** Submits the recorded batch (a no-op when nothing is pending) and recycles the buffers released during it. */
  flush(): void {
    if (this.encoder) {
      if (this.pass) { this.pass.end(); this.pass = null; }
      // This batch's uniform blocks (uniformSlot), then its commands.
      for (let c = 0; c <= this.arenaChunk && c < this.arenas.length; c++) {
        const bytes = c < this.arenaChunk ? UNIFORM_CHUNK : this.arenaUsed;
        if (bytes > 0) this.device.queue.writeBuffer(this.arenas[c].buffer, 0, this.arenas[c].host.buffer, 0, bytes);
      }
      this.arenaChunk = 0;
      this.arenaUsed = 0;
      this.batchDispatches = 0;
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.stats.submits++;
      const keys = this.batchKeys;
      this.batchKeys = [];
      this.scopes.push(this.device.popErrorScope().then((e) => ({ error: e ? e.message : null, keys })));
    }
    for (const [key, buf] of this.pendingFree) this.poolPush(key, buf);
    this.pendingFree.length = 0;
    // Work already submitted may still read them: WebGPU frees a destroyed buffer's memory after that work.
    for (const b of this.pendingDestroy) b.destroy();
    this.pendingDestroy.length = 0;
    for (const [key, bufs] of this.batchFree) for (const buf of bufs) this.poolPush(key, buf);
    this.batchFree.clear();
  }

  /**
   * Submits pending work and reads t back. Also reads the status word the index-validating
   * kernels write, and throws RangeError for the first out-of-range id since the last read.
   */
  async read(t: GpuTensor): Promise<Float32Array | Int32Array | Uint32Array> {
    t.assertLive('read');
    const [out] = await this.readMany([t]);
    return out;
  }

  /** Registers what a finite check (the NaN check mode) checks — the op, and where (its output and inputs) — for the error that names it; returns its id. */
  checkLabel(op: string, where: string): number {
    this.checkLabels.push({ op, where });
    return this.checkLabels.length - 1;
  }

  async readMany(ts: GpuTensor[]): Promise<(Float32Array | Int32Array | Uint32Array)[]> {
    this.checkLive();
    const labels = this.checkLabels;
    this.checkLabels = []; // the status word is cleared with this read: later checks start over
    const all = [...ts, this.status];
    let total = 0;
    const offsets = all.map((t) => { const o = total; total += Math.ceil((t.size * 4) / 8) * 8; return o; });
    const staging = this.device.createBuffer({ size: Math.max(8, total), usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
    if (this.pass) { this.pass.end(); this.pass = null; }
    const enc = this.openBatch();
    all.forEach((t, i) => { if (t.size > 0) enc.copyBufferToBuffer(t.buffer, t.offset, staging, offsets[i], t.size * 4); });
    enc.clearBuffer(this.status.buffer, 0, 16);
    this.flush();
    try {
      await this.checkScopes();
    } catch (e) {
      staging.destroy();
      throw e;
    }
    await staging.mapAsync(0x0001 /* READ */);
    const mapped = staging.getMappedRange();
    const outs = all.map((t, i) => {
      const view = t.dtype === 'f32' ? Float32Array : t.dtype === 'i32' ? Int32Array : Uint32Array;
      return new view(mapped.slice(offsets[i], offsets[i] + t.size * 4));
    });
    staging.unmap();
    staging.destroy();
    this.checkLive();
    const st = outs.pop() as Uint32Array;
    if ((st[0] & 0xff) === NONFINITE_CODE) {
      const label = labels[st[0] >>> 8] ?? { op: `finite check ${st[0] >>> 8}`, where: '' };
      const kinds = [[1, 'NaN'], [2, 'Infinity'], [4, '-Infinity']].filter(([bit]) => st[3] & (bit as number)).map(([, name]) => name).join(' and ');
      throw new NonFiniteError(`${label.op} produced ${kinds} at flat index ${0xffffffff - st[1]}${label.where}; this is the first op to do so (checked on the webgpu device)`);
    }
    if (st[0] !== 0) {
      const what = statusCodes[st[0]] ?? `code ${st[0]}`;
      throw new RangeError(`webgpu: ${what} ${st[2] | 0} at position ${st[1]} was out of range (the kernel wrote 0 there and did not read or write out of bounds)`);
    }
    return outs;
  }

  /** Submits pending work and waits until the device has finished it. */
  async sync(): Promise<void> {
    this.flush();
    await this.checkScopes();
    await this.device.queue.onSubmittedWorkDone();
    this.checkLive();
  }

  /** Awaits the validation scopes of submitted batches; throws the first error and forgets the pipelines compiled in that batch. */
  private async checkScopes(): Promise<void> {
    const scopes = this.scopes;
    this.scopes = [];
    const errors: string[] = [];
    for (const r of await Promise.all(scopes)) {
      if (r.error === null) continue;
      errors.push(r.error);
      for (const k of r.keys) this.pipelines.delete(k);
    }
    if (errors.length > 0) throw new R1tsError(`WebGPU reported an error: ${errors[0]}`);
  }

  /** Frees every pooled buffer and the device. */
  destroy(): void {
    this.flush();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.device.destroy();
  }
}
