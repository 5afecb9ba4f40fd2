// The OpenAI-compatible HTTP server (node:http, no framework):
//   GET  /v1/models              the one model served
//   POST /v1/chat/completions    chat through the model's chat template; the
//                                <think>…</think> part goes to reasoning_content
//   POST /v1/completions         raw text completion of a prompt string
// Both POSTs stream as server-sent events with `stream: true` (`data: {...}`
// chunks, then `data: [DONE]`); n > 1 asks n choices, streamed or not (each its
// own engine row, choice j seeded seed + j; streamed chunks carry their choice's
// index). `logprobs` (chat: logprobs + top_logprobs; completions: logprobs = k)
// reports every generated token's raw log-probability (logprobs.ts); a streamed
// chunk carries the tokens generated since the previous chunk of its choice.
// Every request goes to one Engine (submit), so
// concurrent requests decode together in one batch. Requests beyond
// maxBatch + maxQueue in flight get 429; bad input gets a 4xx with OpenAI's
// error body and the server keeps serving; a client that disconnects aborts
// its generation; close() stops accepting, lets in-flight requests finish
// (up to shutdownGraceMs), aborts the rest and closes.
// Not here: the request schemas (protocol.ts), the reasoning split
// (reasoning.ts), stop strings (stop-text.ts), the command line (src/cli/serve.ts).

import { readJsonBody, sendJson } from '../core/http-json.ts';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, resolve } from 'node:path';
import { Engine, type GenerateResult } from '../engine/generate.ts';
import { validateSampling, type SamplingOptions } from '../engine/sampling.ts';
import { eosIds, loadModelDir, modelChatTemplate } from '../io/model-dir.ts';
import type { CausalLM } from '../models/model.ts';
import { linearWeights } from '../nn/layers.ts';
import { placeOnDevice } from '../tensor/index.ts';
import type { ChatMessage, ChatTemplate, TextTokenizer } from '../tokenizer/index.ts';
import {
  ApiError, ChatRequestSchema, CompletionRequestSchema, messageText, parseRequest, ServeConfigSchema,
  type ChatRequest, type CompletionRequest, type ServeConfigInput,
} from './protocol.ts';
import { chatLogprobs, completionLogprobs, LogprobTrack, TokenPieces, type TokenEntry } from './logprobs.ts';
import { promptOpensThink, ReasoningSplitter } from './reasoning.ts';
import { StopText } from './stop-text.ts';

/** A model to serve: a directory to load, or one already in memory. */
export type ModelSource =
  | { modelDir: string }
  | { model: CausalLM; tokenizer: TextTokenizer & { chatTemplate?: string }; chatTemplate?: ChatTemplate; stopTokens?: number[] };

export type StartServerOptions = ServeConfigInput & ModelSource;

/** Counters for tests and monitoring. */
export interface ServerStats {
  /** Requests accepted and not finished (generating or queued in the engine). */
  inFlight: number;
  /** Requests that have produced tokens and not finished: the engine rows in use. */
  generating: number;
  /** Most requests generating at once since start (> 1 means they were batched). */
  maxGenerating: number;
  /** Finished requests by the engine's finish reason. */
  finished: Record<GenerateResult['finishReason'], number>;
}

export interface RunningServer {
  url: string;
  modelName: string;
  stats: ServerStats;
  /** Where the model runs: webgpu only when it was asked for and an adapter was found. */
  device: 'cpu' | 'webgpu';
  /** Stops accepting, lets in-flight requests finish (abort: true aborts them at once), closes. */
  close(opts?: { abort?: boolean }): Promise<void>;
}

interface Prepared {
  prompt: number[];
  maxTokens: number;
  sampling: SamplingOptions;
  seed?: number;
  stops: string[];
  stream: boolean;
  includeUsage: boolean;
  ignoreEos: boolean;
  /** Choices asked (n). */
  n: number;
  /** Alternatives per token when log-probabilities were asked; undefined: not asked. */
  topLogprobs?: number;
}

const now = () => Math.floor(Date.now() / 1000);

export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { modelDir, model: m0, tokenizer: t0, chatTemplate: ct0, stopTokens: st0, ...raw } = opts as StartServerOptions & Partial<{ modelDir: string; model: CausalLM; tokenizer: TextTokenizer & { chatTemplate?: string }; chatTemplate: ChatTemplate; stopTokens: number[] }>;
  const cfg = ServeConfigSchema.parse(raw);
  let model: CausalLM, tokenizer: TextTokenizer & { chatTemplate?: string }, eos: number[];
  if (modelDir !== undefined) {
    const d = loadModelDir(modelDir);
    ({ model, tokenizer } = d);
    eos = d.stopTokens;
  } else {
    if (!m0 || !t0) throw new ApiError(500, 'startServer: expected modelDir, or model and tokenizer');
    model = m0;
    tokenizer = t0;
    eos = st0 ?? eosIds(t0, m0.config.vocab_size);
  }
  // a base model without chat markers still serves /v1/completions; only chat requests fail, naming why
  let template: ChatTemplate | null = ct0 ?? null, templateError = '';
  if (!template) {
    try {
      template = modelChatTemplate(tokenizer);
    } catch (e) {
      templateError = (e as Error).message;
    }
  }
  const modelName = cfg.modelName ?? (modelDir !== undefined ? basename(resolve(modelDir)) : 'r1ts');
  const placement = cfg.device === 'webgpu' ? await placeOnDevice('r1ts serve', model.namedTensors().map(([, t]) => t), { half: cfg.dtype === 'f16' ? linearWeights(model) : [] }) : null;
  const engine = new Engine(model, { maxBatch: cfg.maxBatch, decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }) });
  const stats: ServerStats = { inFlight: 0, generating: 0, maxGenerating: 0, finished: { stop: 0, length: 0, abort: 0 } };
  const controllers = new Set<AbortController>();
  let draining = false;

  const pieces = new TokenPieces(tokenizer);

  function prepare(body: ChatRequest | CompletionRequest, prompt: number[], maxTokensField: number | null | undefined, maxTokensParam: string, topLogprobs: number | undefined): Prepared {
    if (body.model !== modelName) throw new ApiError(404, `The model '${body.model}' does not exist (this server serves '${modelName}')`, 'not_found_error', 'model', 'model_not_found');
    const n = body.n ?? 1;
    if (n > cfg.maxBatch) throw new ApiError(400, `n ${n} is more than this server's max batch of ${cfg.maxBatch}`, 'invalid_request_error', 'n', 'invalid_value');
    if (maxTokensField != null && maxTokensField > cfg.maxTokensLimit) {
      throw new ApiError(400, `${maxTokensParam} ${maxTokensField} is more than this server's limit of ${cfg.maxTokensLimit}`, 'invalid_request_error', maxTokensParam, 'invalid_value');
    }
    if (prompt.length === 0) throw new ApiError(400, 'the prompt is empty', 'invalid_request_error', 'prompt', 'invalid_value');
    if (prompt.length >= engine.maxSeqLen) {
      throw new ApiError(400, `This model's maximum context length is ${engine.maxSeqLen} tokens; the prompt has ${prompt.length} tokens, which leaves no room for a completion`, 'invalid_request_error', 'messages', 'context_length_exceeded');
    }
    const maxTokens = maxTokensField ?? Math.min(cfg.maxTokensLimit, engine.maxSeqLen - prompt.length);
    const sampling: SamplingOptions = {
      temperature: body.temperature ?? 1, topP: body.top_p ?? 1, topK: body.top_k == null || body.top_k < 0 ? 0 : body.top_k, minP: body.min_p ?? 0,
    };
    try {
      validateSampling(sampling);
    } catch (e) {
      throw new ApiError(400, (e as Error).message, 'invalid_request_error', null, 'invalid_value');
    }
    const stops = body.stop == null ? [] : (typeof body.stop === 'string' ? [body.stop] : body.stop).filter((s) => s.length > 0);
    return {
      prompt, maxTokens, sampling, stops, seed: body.seed ?? undefined, n, ...(topLogprobs !== undefined ? { topLogprobs } : {}),
      stream: body.stream === true, includeUsage: body.stream_options?.include_usage === true, ignoreEos: body.ignore_eos === true,
    };
  }

  /**
   * Runs one request through the engine; `onText` gets safe-to-send text as it is generated,
   * and each token's log-probability entry (when asked) as the token arrives, with or without text.
   */
  async function generate(p: Prepared, signal: AbortSignal, onText: (text: string, entry?: TokenEntry) => void): Promise<{ result: GenerateResult; text: string }> {
    const out = new StopText(tokenizer, p.stops);
    const track = p.topLogprobs !== undefined ? new LogprobTrack(tokenizer, pieces) : null;
    let started = false;
    stats.inFlight++;
    try {
      const result = await engine.submit({
        prompt: p.prompt, maxTokens: p.maxTokens, sampling: p.sampling, seed: p.seed, signal,
        stopTokens: p.ignoreEos ? [] : eos,
        ...(p.stops.length ? { stopStrings: p.stops } : {}),
        ...(p.topLogprobs !== undefined ? { topLogprobs: p.topLogprobs } : {}),
        onToken: (t, _lp, info) => {
          if (!started) {
            started = true;
            stats.generating++;
            stats.maxGenerating = Math.max(stats.maxGenerating, stats.generating);
          }
          const s = out.push(t);
          const entry = track && info ? track.push(t, info) : undefined;
          if (s || entry) onText(s, entry);
        },
      });
      const rest = out.end();
      if (rest) onText(rest);
      stats.finished[result.finishReason]++;
      return { result, text: out.full };
    } finally {
      if (started) stats.generating--;
      stats.inFlight--;
    }
  }

  function admit(): AbortController {
    if (draining) throw new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down');
    if (controllers.size >= cfg.maxBatch + cfg.maxQueue) {
      throw new ApiError(429, `too many requests in flight (${controllers.size}; the limit is max-batch ${cfg.maxBatch} + max-queue ${cfg.maxQueue}); retry later`, 'rate_limit_error', null, 'rate_limit_exceeded');
    }
    return new AbortController();
  }

  function sse(res: ServerResponse): (data: unknown) => void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    return (data) => {
      if (!res.destroyed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    };
  }

  const finishReason = (r: GenerateResult) => (r.finishReason === 'length' ? 'length' : 'stop');
  const usage = (p: Prepared, ...rs: GenerateResult[]) => {
    const completion = rs.reduce((a, r) => a + r.tokens.length, 0);
    return { prompt_tokens: p.prompt.length, completion_tokens: completion, total_tokens: p.prompt.length + completion };
  };
  /** Choice j of an n > 1 request: its own seed (seed + j) when the request gave one. */
  const choice = (p: Prepared, j: number): Prepared => (j === 0 || p.seed === undefined ? p : { ...p, seed: p.seed + j });

  async function chat(body: unknown, res: ServerResponse, ac: AbortController): Promise<void> {
    const req = parseRequest(ChatRequestSchema, body);
    const messages: ChatMessage[] = req.messages.map((msg) => ({ role: msg.role === 'developer' ? 'system' : msg.role, content: messageText(msg.content) }));
    let text: string;
    if (!template) throw new ApiError(400, `this model has no usable chat template (${templateError}); use /v1/completions with a prompt`, 'invalid_request_error', 'messages', 'no_chat_template');
    if (req.top_logprobs != null && req.logprobs !== true) {
      throw new ApiError(400, 'top_logprobs needs logprobs: true', 'invalid_request_error', 'top_logprobs', 'invalid_value');
    }
    try {
      text = template.render(messages, { addGenerationPrompt: true });
    } catch (e) {
      throw new ApiError(400, (e as Error).message, 'invalid_request_error', 'messages', 'invalid_value');
    }
    const field = req.max_completion_tokens ?? req.max_tokens;
    const p = prepare(req, tokenizer.encode(text), field, req.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens', req.logprobs === true ? req.top_logprobs ?? 0 : undefined);
    const opened = promptOpensThink(text);
    const id = `chatcmpl-${randomUUID()}`, created = now();
    const lp = (entries: TokenEntry[]) => (p.topLogprobs !== undefined ? chatLogprobs(entries) : null);
    if (!p.stream) {
      const outs = await Promise.all(Array.from({ length: p.n }, async (_, j) => {
        const split = new ReasoningSplitter({ startInReasoning: opened });
        let reasoning = '', content = '';
        const entries: TokenEntry[] = [];
        const { result } = await generate(choice(p, j), ac.signal, (t, entry) => {
          if (entry) entries.push(entry);
          const d = split.push(t);
          reasoning += d.reasoning;
          content += d.content;
        });
        const d = split.flush();
        reasoning += d.reasoning;
        content += d.content;
        return { result, entries, message: { role: 'assistant', content, reasoning_content: split.sawReasoning ? reasoning : null } };
      }));
      if (outs.some((o) => o.result.finishReason === 'abort')) return;
      sendJson(res, 200, {
        id, object: 'chat.completion', created, model: modelName,
        choices: outs.map((o, j) => ({ index: j, message: o.message, logprobs: lp(o.entries), finish_reason: finishReason(o.result) })),
        usage: usage(p, ...outs.map((o) => o.result)),
      });
      return;
    }
    const send = sse(res);
    const chunk = (index: number, delta: Record<string, unknown>, logprobs: unknown, finish: string | null) => ({
      id, object: 'chat.completion.chunk', created, model: modelName,
      choices: [{ index, delta, logprobs, finish_reason: finish }], ...(p.includeUsage ? { usage: null } : {}),
    });
    for (let j = 0; j < p.n; j++) send(chunk(j, { role: 'assistant', content: '' }, null, null));
    const results = await Promise.all(Array.from({ length: p.n }, async (_, j) => {
      const split = new ReasoningSplitter({ startInReasoning: opened });
      let pending: TokenEntry[] = [];
      const take = () => {
        const e = pending;
        pending = [];
        return lp(e);
      };
      const deltas = (d: { reasoning: string; content: string }) => {
        if (d.reasoning) send(chunk(j, { reasoning_content: d.reasoning }, take(), null));
        if (d.content) send(chunk(j, { content: d.content }, take(), null));
      };
      const { result } = await generate(choice(p, j), ac.signal, (t, entry) => {
        if (entry) pending.push(entry);
        deltas(split.push(t));
      });
      deltas(split.flush());
      if (result.finishReason !== 'abort') send(chunk(j, {}, pending.length ? take() : null, finishReason(result)));
      return result;
    }));
    if (results.some((r) => r.finishReason === 'abort')) return void res.end();
    if (p.includeUsage) send({ id, object: 'chat.completion.chunk', created, model: modelName, choices: [], usage: usage(p, ...results) });
    send('[DONE]');
    res.end();
  }

  async function complete(body: unknown, res: ServerResponse, ac: AbortController): Promise<void> {
    const req = parseRequest(CompletionRequestSchema, body);
    const prompt = typeof req.prompt === 'string' ? req.prompt : req.prompt[0];
    const p = prepare(req, tokenizer.encode(prompt), req.max_tokens, 'max_tokens', req.logprobs ?? undefined);
    const id = `cmpl-${randomUUID()}`, created = now();
    const lp = (entries: TokenEntry[]) => (p.topLogprobs !== undefined ? completionLogprobs(entries) : null);
    if (!p.stream) {
      const outs = await Promise.all(Array.from({ length: p.n }, async (_, j) => {
        const entries: TokenEntry[] = [];
        const o = await generate(choice(p, j), ac.signal, (_t, entry) => void (entry && entries.push(entry)));
        return { ...o, entries };
      }));
      if (outs.some((o) => o.result.finishReason === 'abort')) return;
      sendJson(res, 200, {
        id, object: 'text_completion', created, model: modelName,
        choices: outs.map((o, j) => ({ index: j, text: o.text, logprobs: lp(o.entries), finish_reason: finishReason(o.result) })), usage: usage(p, ...outs.map((o) => o.result)),
      });
      return;
    }
    const send = sse(res);
    const chunk = (index: number, text: string, logprobs: unknown, finish: string | null) => ({
      id, object: 'text_completion', created, model: modelName, choices: [{ index, text, logprobs, finish_reason: finish }], ...(p.includeUsage ? { usage: null } : {}),
    });
    const results = await Promise.all(Array.from({ length: p.n }, async (_, j) => {
      let pending: TokenEntry[] = [];
      const take = () => {
        const e = pending;
        pending = [];
        return lp(e);
      };
      const { result } = await generate(choice(p, j), ac.signal, (t, entry) => {
        if (entry) pending.push(entry);
        if (t) send(chunk(j, t, take(), null));
      });
      if (result.finishReason !== 'abort') send(chunk(j, '', pending.length ? take() : null, finishReason(result)));
      return result;
    }));
    if (results.some((r) => r.finishReason === 'abort')) return void res.end();
    if (p.includeUsage) send({ id, object: 'text_completion', created, model: modelName, choices: [], usage: usage(p, ...results) });
    send('[DONE]');
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => {}); // a client gone mid-write is not the server's failure
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '');
    if (cfg.apiKey !== undefined && req.headers.authorization !== `Bearer ${cfg.apiKey}`) {
      req.resume();
      throw new ApiError(401, req.headers.authorization ? 'Incorrect API key provided' : 'Missing API key: send Authorization: Bearer <key>', 'authentication_error', null, 'invalid_api_key');
    }
    if (path === '/v1/models' || path === `/v1/models/${modelName}`) {
      if (req.method !== 'GET') throw new ApiError(405, `${req.method} ${path}: expected GET`, 'invalid_request_error', null, 'method_not_allowed');
      req.resume();
      const card = { id: modelName, object: 'model', created: 0, owned_by: 'r1ts', max_model_len: engine.maxSeqLen };
      return sendJson(res, 200, path === '/v1/models' ? { object: 'list', data: [card] } : card);
    }
    if (path === '/health') return req.resume(), sendJson(res, 200, { status: draining ? 'draining' : 'ok' });
    const route = path === '/v1/chat/completions' ? chat : path === '/v1/completions' ? complete : null;
    if (!route) {
      req.resume();
      throw new ApiError(404, `${req.method} ${path}: no such endpoint (try /v1/models, /v1/chat/completions, /v1/completions)`, 'not_found_error', null, 'unknown_url');
    }
    if (req.method !== 'POST') {
      req.resume();
      throw new ApiError(405, `${req.method} ${path}: expected POST`, 'invalid_request_error', null, 'method_not_allowed');
    }
    const body = await readJson(req, cfg.maxBodyBytes);
    const ac = admit();
    controllers.add(ac);
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(); // the client went away: free its engine row
    });
    try {
      await route(body, res, ac);
    } finally {
      controllers.delete(ac);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, 'server_error');
      if (res.headersSent) {
        if (!res.destroyed) res.end(); // mid-stream: nothing better to say
        return;
      }
      sendJson(res, err.status, err.body(), err.status === 413 ? { Connection: 'close' } : {});
    });
  });
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(cfg.port, cfg.host, () => ok());
    });
  } catch (e) {
    engine.dispose();
    await placement?.release();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  let closing: Promise<void> | null = null;
  async function close(o: { abort?: boolean } = {}): Promise<void> {
    draining = true;
    const closed = new Promise<void>((ok) => server.close(() => ok()));
    server.closeIdleConnections();
    const abortAll = () => controllers.forEach((c) => c.abort());
    if (o.abort) abortAll();
    const timer = setTimeout(abortAll, cfg.shutdownGraceMs);
    while (controllers.size > 0) await new Promise((r) => setTimeout(r, 10));
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
    engine.dispose();
    await placement?.release();
  }

  return {
    url: `http://${host}:${addr.port}`, modelName, stats, device: placement?.onDevice ? 'webgpu' : 'cpu',
    close: (o) => {
      if (o?.abort) controllers.forEach((c) => c.abort()); // also cuts short a graceful close under way
      return (closing ??= close(o));
    },
  };
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return readJsonBody(req, limit, (status, message, code) => new ApiError(status, message, 'invalid_request_error', null, code));
}
