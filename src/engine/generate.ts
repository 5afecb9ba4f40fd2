// Batched generation on token ids with continuous batching: one KV cache of
// maxBatch rows; waiting requests are prefilled (ragged, through the rows they
// take) and then every active sequence decodes one token per step. A finished
// sequence (stop token, stop string, maxTokens, full context, abort) leaves
// its row at once and the last active row moves into it, so the active rows
// are always 0 .. n-1 and each step runs the model over n rows, not maxBatch.
// Requests with the same prompt in one admission prefill it once and copy the
// cache row (GRPO's G samples per prompt).
// Every request samples from its own Rng (seeded by its seed), so a request
// gives the same tokens alone or batched with others (up to float rounding).
// On the webgpu device (a model whose parameters live there): the cache lives there too, and
// prefill and decode passes record on the device. Sampling runs there too (sampleRows, every
// rule of sampling.ts: greedy, temperature, top-k, top-p, min-p; the host draws each sequence's
// uniform from its own Rng, as the host sampler would) and a pass reads back (token, logprob)
// per sequence — not [rows, V] logits, the readback that would bound decoding a large
// vocabulary; the same tokens as the host sampler except where u or a truncation boundary falls
// within f32 rounding (the device's probabilities are f32, the host's double). When a sequence
// asks for top logprobs, the same readback also brings each row's log-sum-exp, the sampled
// token's logit and the row's top-k logits and ids (tokenLse and topk on the device; k the most
// any sequence of the pass asks for): the host's rawLogprobs, with f32 sums. Every row is
// sampled there, however many top-k/top-p candidates it keeps (past the 1,024 the device sorts,
// sampleRows searches the sorted order). With sampleOnDevice: false only the rows of logits to
// sample from ([rows, V]: the last valid position of each sequence) are read back, in one
// awaited readback, and sampling runs on the host with the same code as the CPU path.
// New sequences are prefilled into a second device cache (a device cache has no views at a row
// offset) and their rows copied into place.
// Not here: text (the caller tokenizes; `decode` only serves stop strings),
// the sampling rules (sampling.ts), the cache layout (src/nn/kv-cache.ts).

import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { CausalLM } from '../models/model.ts';
import type { KVCache } from '../nn/kv-cache.ts';
import { DEVICE_SAMPLING, deviceSampleRows, deviceTokenLse, endDeviceStep, gatherRows, ids, noGrad, readValues, reshape, topk, type Tensor } from '../tensor/index.ts';
import { rawLogprobs, sampleToken, validateSampling, type SamplingOptions, type TokenLogprobs } from './sampling.ts';

export interface GenerateRequest {
  /** Prompt token ids (non-empty, at most the engine's maxSeqLen). */
  prompt: number[];
  /** Most tokens to generate (>= 1). */
  maxTokens: number;
  sampling?: SamplingOptions;
  /** Seeds this request's own Rng; default: a random seed. */
  seed?: number;
  /** Generation stops after any of these tokens; the stop token is kept in `tokens`. */
  stopTokens?: number[];
  /**
   * Generation stops once the decoded completion contains any of these strings; `tokens`
   * keeps every token up to and including the one that completed the string. Needs the
   * engine's `decode`.
   */
  stopStrings?: string[];
  /**
   * Also report the model's raw log-probabilities (T = 1, before truncation) of each
   * generated token and of its `topLogprobs` most likely alternatives (0 = the token's
   * own only), in `tokenLogprobs` and to onToken. Off when undefined.
   */
  topLogprobs?: number;
  /** Called with every generated token, in order, as it is sampled (`info` when topLogprobs is set). */
  onToken?: (token: number, logprob: number, info?: TokenLogprobs) => void;
  /** Aborting ends the request at the next step with finishReason 'abort'. */
  signal?: AbortSignal;
}

export interface GenerateResult {
  tokens: number[];
  /** log softmax(logits / T) over the full vocabulary at each token (π_old for GRPO). */
  logprobs: number[];
  /** Raw log-probabilities per token; only when the request set topLogprobs. */
  tokenLogprobs?: TokenLogprobs[];
  /** 'length': maxTokens reached or the context (maxSeqLen) is full. */
  finishReason: 'stop' | 'length' | 'abort';
  /** The stop token or stop string that ended the request. */
  stoppedBy?: number | string;
}

export interface EngineOptions {
  /** Rows of the KV cache: the most sequences decoded at once. */
  maxBatch: number;
  /** Context length (prompt + completion); default model.maxSeqLen. */
  maxSeqLen?: number;
  /** Token ids to text; needed for stopStrings. */
  decode?: (ids: number[]) => string;
  /** Run each step over the active rows only (default true); false runs all maxBatch rows (for measurement). */
  compact?: boolean;
  /** Device engines: sample on the device where a pass allows it (default true; see the file's top). false: always read back the logits (for A/B runs). */
  sampleOnDevice?: boolean;
}

/** A sampled token, its logprob (π_old), and the raw top logprobs when asked for. */
interface Sampled {
  token: number;
  logprob: number;
  info?: TokenLogprobs;
}

interface Seq {
  req: GenerateRequest;
  rng: Rng;
  tokens: number[];
  logprobs: number[];
  tokenLogprobs?: TokenLogprobs[];
  stopTokens: Set<number>;
  /** The request's sampling rules, validated (what the device sampler reads). */
  deviceSampling: Required<SamplingOptions>;
  /** Tokens decoded to look for stop strings: enough to hold the longest one. */
  stopWindow: number;
  resolve: (r: GenerateResult) => void;
  reject: (e: unknown) => void;
}

/** Most logits floats one prefill chunk may produce (64 MiB). */
const PREFILL_LOGITS = 1 << 24;

export class Engine {
  readonly maxBatch: number;
  readonly maxSeqLen: number;
  private readonly cache: KVCache;
  /** Device engines: the cache new sequences are prefilled into (made on first use). */
  private prefillCache: KVCache | null = null;
  private readonly V: number;
  private readonly compact: boolean;
  /** Active sequences; active[i] lives in cache row i. */
  private active: Seq[] = [];
  private queue: Seq[] = [];
  private loop: Promise<void> | null = null;

  constructor(readonly model: CausalLM, private readonly opts: EngineOptions) {
    const { maxBatch, maxSeqLen = model.maxSeqLen } = opts;
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new R1tsError(`Engine: maxBatch ${maxBatch}: expected an integer >= 1`);
    if (!(Number.isInteger(maxSeqLen) && maxSeqLen >= 1 && maxSeqLen <= model.maxSeqLen)) {
      throw new R1tsError(`Engine: maxSeqLen ${maxSeqLen}: expected an integer in [1, ${model.maxSeqLen}] (the model's positions)`);
    }
    this.maxBatch = maxBatch;
    this.maxSeqLen = maxSeqLen;
    this.V = model.config.vocab_size;
    this.compact = opts.compact ?? true;
    this.cache = model.newCache(maxBatch, maxSeqLen);
  }

  /** Runs all requests (continuously batched); results in request order. Validates them all first. */
  async generate(reqs: GenerateRequest[]): Promise<GenerateResult[]> {
    reqs.forEach((r, i) => this.validate(r, `request ${i}`));
    return Promise.all(reqs.map((r) => this.enqueue(r)));
  }

  /** One request; it joins the running batch as soon as a row is free. */
  async submit(req: GenerateRequest): Promise<GenerateResult> {
    this.validate(req, 'request');
    return this.enqueue(req);
  }

  private validate(r: GenerateRequest, what: string): void {
    const V = this.V;
    if (!r || !Array.isArray(r.prompt) || r.prompt.length === 0) throw new R1tsError(`${what}: prompt must be a non-empty array of token ids`);
    if (r.prompt.length > this.maxSeqLen) throw new R1tsError(`${what}: prompt of ${r.prompt.length} tokens is longer than the context of ${this.maxSeqLen}`);
    r.prompt.forEach((t, j) => {
      if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new R1tsError(`${what}: prompt[${j}] = ${t}: expected a token id in [0, ${V})`);
    });
    if (!(Number.isInteger(r.maxTokens) && r.maxTokens >= 1)) throw new R1tsError(`${what}: maxTokens ${r.maxTokens}: expected an integer >= 1`);
    validateSampling(r.sampling, `${what}: sampling`);
    if (r.seed !== undefined && !Number.isInteger(r.seed)) throw new R1tsError(`${what}: seed ${r.seed}: expected an integer`);
    (r.stopTokens ?? []).forEach((t, j) => {
      if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new R1tsError(`${what}: stopTokens[${j}] = ${t}: expected a token id in [0, ${V})`);
    });
    (r.stopStrings ?? []).forEach((s, j) => {
      if (typeof s !== 'string' || s.length === 0) throw new R1tsError(`${what}: stopStrings[${j}]: expected a non-empty string`);
    });
    if (r.topLogprobs !== undefined && !(Number.isInteger(r.topLogprobs) && r.topLogprobs >= 0 && r.topLogprobs <= V)) {
      throw new R1tsError(`${what}: topLogprobs ${r.topLogprobs}: expected an integer in [0, ${V}]`);
    }
    if (r.stopStrings?.length && !this.opts.decode) throw new R1tsError(`${what}: stopStrings need the engine's decode option (token ids to text)`);
  }

  private enqueue(req: GenerateRequest): Promise<GenerateResult> {
    return new Promise<GenerateResult>((resolve, reject) => {
      const longest = Math.max(0, ...(req.stopStrings ?? []).map((s) => s.length));
      const sampling = validateSampling(req.sampling);
      this.queue.push({
        deviceSampling: sampling,
        req, resolve, reject, tokens: [], logprobs: [], ...(req.topLogprobs !== undefined ? { tokenLogprobs: [] } : {}),
        rng: new Rng(req.seed ?? Math.floor(Math.random() * 0x100000000)),
        stopTokens: new Set(req.stopTokens ?? []),
        stopWindow: 4 * longest + 4, // a char is at most 4 bytes; byte-level tokens hold >= 1 byte
      });
      this.loop ??= this.run();
    });
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        await new Promise<void>((r) => setImmediate(r)); // let submits, aborts and callers in
        if (this.active.length === 0 && this.queue.length === 0) break;
        const wasTraining = this.model.training;
        this.model.eval();
        try {
          await this.step();
        } finally {
          this.model.train(wasTraining);
        }
      }
    } catch (e) {
      for (const s of [...this.active, ...this.queue]) s.reject(e);
      this.active = [];
      this.queue = [];
      this.cache.reset();
      if (this.cache.device) endDeviceStep();
    } finally {
      this.loop = null;
    }
  }

  /** True when the model and its cache live on the webgpu device. */
  get onDevice(): boolean {
    return this.cache.device;
  }

  /** Frees the device buffers of the caches (device engines); the engine must not be used again. */
  dispose(): void {
    this.cache.free();
    this.prefillCache?.free();
    this.prefillCache = null;
  }

  /**
   * The logits rows to sample from, [n, V]: of the forward's [R, V] rows (R = B·T), those at `at`
   * (all when null). On the device the rows are gathered there and read back in one readback,
   * after which the step's device buffers are handed back; on the host they are copied out.
   */
  private async logitsRows(forward: () => Tensor, at: number[] | null): Promise<Float32Array> {
    const V = this.V;
    if (!this.cache.device) {
      const logits = noGrad(forward).data as Float32Array; // [R, V]
      if (!at) return logits;
      const rows = new Float32Array(at.length * V); // [n, V]
      at.forEach((r, j) => rows.set(logits.subarray(r * V, (r + 1) * V), j * V));
      return rows;
    }
    try {
      const rows = noGrad(() => {
        const logits = reshape(forward(), [-1, V]); // [R, V]
        return at ? gatherRows(logits, ids(Int32Array.from(at))) : logits; // [n, V]
      });
      const [v] = await readValues([rows]);
      return v as Float32Array;
    } finally {
      endDeviceStep();
    }
  }

  /** Whether tokens are sampled on the device (a device engine that was not told otherwise). */
  private samplesOnDevice(): boolean {
    return this.cache.device && this.opts.sampleOnDevice !== false;
  }

  /**
   * The next token of each of seqs, sampled on the device from the forward's logits rows at `at`
   * (all rows when null; one per sequence), reading back (token, logprob) per sequence, and
   * for top logprobs each row's (log-sum-exp, token logit) and top-k (logits, ids) in the same
   * readback.
   */
  private async sampleRowsOnDevice(forward: () => Tensor, at: number[] | null, seqs: readonly Seq[]): Promise<Sampled[]> {
    const V = this.V;
    const params = new Float32Array(seqs.length * DEVICE_SAMPLING.params);
    const { greedy, plain, minPOnly, sorted } = DEVICE_SAMPLING;
    seqs.forEach((s, i) => {
      const { temperature, topK, topP, minP } = s.deviceSampling!;
      const useK = topK > 0 && topK < V, useP = topP < 1;
      const mode = temperature === 0 ? greedy : !useK && !useP ? (minP === 0 ? plain : minPOnly) : sorted;
      const u = mode === greedy ? 0 : s.rng.uniform(); // the draw sampleToken would make
      params.set([mode, temperature, topK, topP, minP, u], i * DEVICE_SAMPLING.params);
    });
    // Top logprobs: the most any sequence of the pass asks for (each takes its own prefix).
    const wantInfo = seqs.some((s) => s.tokenLogprobs);
    const kTop = Math.max(0, ...seqs.map((s) => (s.tokenLogprobs ? s.req.topLogprobs! : 0)));
    try {
      const outs = noGrad(() => {
        const logits = reshape(forward(), [-1, V]); // [R, V]
        const rows = at ? gatherRows(logits, ids(Int32Array.from(at))) : logits; // [n, V]
        const picked = deviceSampleRows(rows, params); // [n, 2]
        if (!wantInfo) return [picked];
        const top = kTop > 0 ? topk(rows, kTop) : null; // [n, kTop] logits and ids, best first
        return [picked, deviceTokenLse(rows, picked), ...(top ? [top.values, top.indices] : [])]; // + [n, 2] (lse, token logit)
      });
      const [v, lse, topV, topI] = await readValues(outs);
      return seqs.map((s, i) => {
        const token = v[2 * i];
        if (!(Number.isInteger(token) && token >= 0 && token < V)) throw new R1tsError(`sampling on the device: the logits row of sequence ${i} holds no finite maximum (got token ${token})`);
        if (!s.tokenLogprobs) return { token, logprob: v[2 * i + 1] };
        const z = lse[2 * i];
        const top = Array.from({ length: s.req.topLogprobs! }, (_, j) => ({ token: topI[i * kTop + j], logprob: topV[i * kTop + j] - z }));
        return { token, logprob: v[2 * i + 1], info: { logprob: lse[2 * i + 1] - z, top } };
      });
    } finally {
      endDeviceStep();
    }
  }

  /** Samples the next token of s from logits[off ..) on the host. */
  private pick(s: Seq, logits: Float32Array, off: number): Sampled {
    const { token, logprob } = sampleToken(logits, off, this.V, s.req.sampling, s.rng);
    return { token, logprob, ...(s.tokenLogprobs ? { info: rawLogprobs(logits, off, this.V, token, s.req.topLogprobs!) } : {}) };
  }

  /** Aborts, admission + prefill of waiting requests, then one decode step for every active row. */
  private async step(): Promise<void> {
    this.queue = this.queue.filter((s) => !(s.req.signal?.aborted && (this.finish(s, 'abort'), true)));
    this.retire(this.active.map((s, i) => (s.req.signal?.aborted && (this.finish(s, 'abort'), true) ? i : -1)));
    if (this.queue.length > 0 && this.active.length < this.maxBatch) await this.admit();
    const n = this.active.length;
    if (n === 0) return;
    const rows = this.compact ? n : this.maxBatch;
    const last = new Int32Array(rows);
    const lengths = new Array<number>(rows).fill(0);
    for (let i = 0; i < n; i++) {
      const s = this.active[i];
      last[i] = s.tokens[s.tokens.length - 1];
      lengths[i] = 1;
    }
    const cache = rows === this.maxBatch ? this.cache : this.cache.rows(0, rows);
    const forward = () => this.model.forward(ids(last, [rows, 1]), { cache, lengths }).logits;
    let picks: Sampled[];
    if (this.samplesOnDevice()) {
      picks = await this.sampleRowsOnDevice(forward, rows === n ? null : Array.from({ length: n }, (_, i) => i), this.active);
    } else {
      const logits = await this.logitsRows(forward, null); // [rows, V]
      picks = this.active.map((s, i) => this.pick(s, logits, i * this.V));
    }
    this.retire(this.active.map((s, i) => (this.push(s, picks[i]) ? i : -1)));
  }

  /** Moves waiting requests into free rows n.., prefills each distinct prompt once, samples their first tokens. */
  private async admit(): Promise<void> {
    const n0 = this.active.length;
    const joiners = this.queue.splice(0, this.maxBatch - n0);
    // Distinct prompts first (rows n0 .. n0+u-1), their copies after.
    const byKey = new Map<string, Seq[]>();
    for (const s of joiners) {
      const key = s.req.prompt.join(',');
      const g = byKey.get(key);
      if (g) g.push(s);
      else byKey.set(key, [s]);
    }
    const groups = [...byKey.values()];
    const u = groups.length;
    this.active.push(...groups.map((g) => g[0]), ...groups.flatMap((g) => g.slice(1)));
    for (let i = n0; i < this.active.length; i++) this.cache.reset(i);
    const picks = new Map<Seq, Sampled>(); // each joiner's first token
    const onDevice = this.samplesOnDevice();
    for (let c = 0; c < u;) {
      const Tmax0 = groups[c][0].req.prompt.length;
      let m = 1, Tmax = Tmax0;
      while (c + m < u) {
        const t = Math.max(Tmax, groups[c + m][0].req.prompt.length);
        if ((m + 1) * t * this.V > PREFILL_LOGITS) break;
        Tmax = t;
        m++;
      }
      const flat = new Int32Array(m * Tmax);
      const lengths: number[] = [];
      for (let j = 0; j < m; j++) {
        const p = groups[c + j][0].req.prompt;
        flat.set(p, j * Tmax);
        lengths.push(p.length);
      }
      // A device cache has views from row 0 only: prefill into the second cache, then move the rows.
      const into = this.cache.device ? (this.prefillCache ??= this.model.newCache(this.maxBatch, this.maxSeqLen)) : null;
      into?.reset();
      const cache = into ? into.rows(0, m) : this.cache.rows(n0 + c, m);
      const forward = () => this.model.forward(ids(flat, [m, Tmax]), { cache, lengths }).logits;
      const chunk = groups.slice(c, c + m);
      if (onDevice) {
        // One row per sequence: a prompt's copies sample from its row, each with its own Rng.
        const seqs = chunk.flat();
        const ps = await this.sampleRowsOnDevice(forward, chunk.flatMap((g, j) => g.map(() => j * Tmax + lengths[j] - 1)), seqs);
        seqs.forEach((s, i) => picks.set(s, ps[i]));
      } else {
        const logits = await this.logitsRows(forward, lengths.map((len, j) => j * Tmax + len - 1)); // [m, V]
        chunk.forEach((g, j) => { for (const s of g) picks.set(s, this.pick(s, logits, j * this.V)); });
      }
      if (into) for (let j = 0; j < m; j++) this.cache.copyRowFrom(into, j, n0 + c + j);
      c += m;
    }
    let dup = n0 + u;
    groups.forEach((g, j) => {
      for (let k = 1; k < g.length; k++) this.cache.copyRow(n0 + j, dup++);
    });
    this.retire(this.active.map((s, i) => (i >= n0 && this.push(s, picks.get(s)!) ? i : -1)));
  }

  /** Appends s's next token; returns true when s is finished (and resolved). */
  private push(s: Seq, { token, logprob, info }: Sampled): boolean {
    s.tokens.push(token);
    s.logprobs.push(logprob);
    if (info) s.tokenLogprobs!.push(info);
    try {
      s.req.onToken?.(token, logprob, info);
    } catch (e) {
      s.reject(e);
      return true;
    }
    if (s.stopTokens.has(token)) return this.finish(s, 'stop', token);
    if (s.req.stopStrings?.length) {
      const text = this.opts.decode!(s.tokens.slice(-s.stopWindow));
      const hit = s.req.stopStrings.find((x) => text.includes(x));
      if (hit !== undefined) return this.finish(s, 'stop', hit);
    }
    if (s.tokens.length >= s.req.maxTokens || s.req.prompt.length + s.tokens.length >= this.maxSeqLen) return this.finish(s, 'length');
    return false;
  }

  private finish(s: Seq, finishReason: GenerateResult['finishReason'], stoppedBy?: number | string): true {
    s.resolve({ tokens: s.tokens, logprobs: s.logprobs, ...(s.tokenLogprobs ? { tokenLogprobs: s.tokenLogprobs } : {}), finishReason, ...(stoppedBy !== undefined ? { stoppedBy } : {}) });
    return true;
  }

  /** Frees the rows listed (>= 0 entries), moving the last active rows into the holes. */
  private retire(rows: number[]): void {
    const gone = rows.filter((i) => i >= 0).sort((a, b) => b - a);
    for (const i of gone) {
      const last = this.active.length - 1;
      if (i !== last) {
        this.cache.copyRow(last, i);
        this.active[i] = this.active[last];
      }
      this.active.pop();
      this.cache.reset(last);
    }
  }
}
