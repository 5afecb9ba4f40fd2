// A completion source (harness.ts) backed by any OpenAI-compatible endpoint:
// POST {baseURL}/chat/completions with plain fetch, the item's question as the
// user message (after an optional system message); or, with endpoint
// 'completions', POST {baseURL}/completions with a prompt text the caller
// renders (a base model's own template, e.g. R1-Zero's). k samples per item are k
// separate requests (mode 'separate', each with its own seed) or one request
// with n = k (mode 'n'). When the reply carries `reasoning_content` (DeepSeek-R1,
// vLLM and SGLang reasoning parsers) the completion is rebuilt as
// `<think>reasoning</think> content` so that graders see the whole answer.
// At most `concurrency` requests are in flight; 429, 5xx, network errors and
// timeouts are retried with exponential backoff and full jitter (Retry-After
// honoured, in seconds or as an HTTP date); any other 4xx fails at once with
// the endpoint's message. Token usage, when the reply reports it, goes to onUsage.
// Not here: grading (tasks/), metrics (harness.ts), an SDK (plain fetch).

import { R1tsError } from '../core/errors.ts';
import type { TaskItem } from '../tasks/task.ts';
import type { CompletionSource } from './harness.ts';
import { sampleSeed } from './engine-source.ts';

export interface OpenAISourceOptions {
  /** e.g. https://api.openai.com/v1 or http://localhost:8000/v1 (a trailing / is fine). */
  baseURL: string;
  model: string;
  apiKey?: string;
  /** A system message before the question. */
  system?: string;
  /** Sampling (R1 protocol: 0.6 and 0.95); temperature 0 = greedy. */
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  /** Base seed; sample j of an item sends a seed derived from (seed, item id, j). Omitted when undefined. */
  seed?: number;
  /** 'separate' (default): k requests per item; 'n': one request with n = k. */
  mode?: 'separate' | 'n';
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Retries of a retryable failure (default 6). */
  retries?: number;
  /** First backoff in ms; attempt a waits a random time in [0, base·2^a] (default 1000, capped at 60 s). */
  backoffMs?: number;
  /** Per-request timeout in ms (default 600000). */
  timeoutMs?: number;
  /** Extra fields merged into every request body. */
  extraBody?: Record<string, unknown>;
  /** 'chat' (default): /chat/completions with messages; 'completions': /completions with `prompt(item)`. */
  endpoint?: 'chat' | 'completions';
  /** The prompt text of an item for endpoint 'completions' (default: the question). */
  prompt?: (item: TaskItem) => string;
  /** Stop strings sent with every request. */
  stop?: string[];
  /** Called with each successful reply's token usage (zeros when the endpoint reports none). */
  onUsage?: (usage: { promptTokens: number; completionTokens: number }) => void;
  /** Called before each retry with the attempt number, the wait in ms and the reason (logging, tests). */
  onRetry?: (attempt: number, waitMs: number, reason: string) => void;
  /** How to wait between attempts (default setTimeout; tests record the waits instead). */
  sleep?: (ms: number) => Promise<void>;
}

interface ChatChoice {
  message?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null };
  /** /completions replies. */
  text?: string | null;
}

/** A Retry-After header in ms: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs)) return secs >= 0 ? secs * 1000 : undefined;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** A chat reply's message as a completion to grade: `<think>reasoning</think> content` when reasoning is given. */
export function completionFromMessage(m: ChatChoice['message']): string {
  const content = m?.content ?? '';
  const reasoning = m?.reasoning_content ?? m?.reasoning ?? null;
  return reasoning ? `<think>${reasoning}</think> ${content}` : content;
}

/** A counting semaphore: at most `n` holders. */
function limiter(n: number): <T>(f: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (f) => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await f();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** 32-bit FNV-1a of a string (per-item seeds). */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

class Retryable extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

export function openaiSource(o: OpenAISourceOptions): CompletionSource {
  if (!/^https?:\/\//.test(o.baseURL)) throw new R1tsError(`openai source: base URL '${o.baseURL}' must start with http:// or https://`);
  if (!o.model) throw new R1tsError('openai source: a model name is required (--api-model)');
  const concurrency = o.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new R1tsError(`openai source: concurrency=${concurrency}: expected a positive integer`);
  const endpoint = o.endpoint ?? 'chat';
  const url = `${o.baseURL.replace(/\/+$/, '')}/${endpoint === 'chat' ? 'chat/completions' : 'completions'}`;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const retries = o.retries ?? 6;
  const backoff = o.backoffMs ?? 1000;
  const timeoutMs = o.timeoutMs ?? 600_000;
  const limit = limiter(concurrency);

  const once = async (body: Record<string, unknown>): Promise<string[]> => {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const err = e as Error;
      throw new Retryable(err.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `network error: ${err.message}${(err as { cause?: Error }).cause ? ` (${(err as { cause?: Error }).cause!.message})` : ''}`);
    }
    const text = await res.text().catch(() => '');
    if (res.status === 429 || res.status >= 500) {
      throw new Retryable(`HTTP ${res.status}: ${text.slice(0, 300)}`, retryAfterMs(res.headers.get('retry-after')));
    }
    if (!res.ok) {
      let msg = text.slice(0, 500);
      try {
        const j = JSON.parse(text) as { error?: { message?: string } | string };
        msg = typeof j.error === 'string' ? j.error : j.error?.message ?? msg;
      } catch { /* not JSON: the raw text */ }
      throw new R1tsError(`${url}: HTTP ${res.status}${res.status === 401 ? ' (check --api-key / OPENAI_API_KEY)' : res.status === 404 ? ` (check --base-url and --api-model '${o.model}')` : ''}: ${msg}`);
    }
    let json: { choices?: ChatChoice[]; usage?: { prompt_tokens?: number; completion_tokens?: number } };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new Retryable(`reply is not JSON: ${text.slice(0, 200)}`);
    }
    if (!Array.isArray(json.choices) || json.choices.length === 0) throw new R1tsError(`${url}: reply has no choices: ${text.slice(0, 300)}`);
    o.onUsage?.({ promptTokens: json.usage?.prompt_tokens ?? 0, completionTokens: json.usage?.completion_tokens ?? 0 });
    return json.choices.map((c) => (endpoint === 'chat' ? completionFromMessage(c.message) : c.text ?? ''));
  };

  const request = (body: Record<string, unknown>): Promise<string[]> =>
    limit(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await once(body);
        } catch (e) {
          if (!(e instanceof Retryable)) throw e;
          if (attempt >= retries) throw new R1tsError(`${url}: gave up after ${retries + 1} attempts; last: ${e.message}`);
          const wait = e.retryAfterMs ?? Math.random() * Math.min(60_000, backoff * 2 ** attempt);
          o.onRetry?.(attempt + 1, wait, e.message);
          await sleep(wait);
        }
      }
    });

  const bodyFor = (item: TaskItem, j: number, n: number): Record<string, unknown> => ({
    model: o.model,
    ...(endpoint === 'chat'
      ? { messages: [...(o.system ? [{ role: 'system', content: o.system }] : []), { role: 'user', content: item.question }] }
      : { prompt: o.prompt ? o.prompt(item) : item.question }),
    ...(o.stop?.length ? { stop: o.stop } : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.topP !== undefined ? { top_p: o.topP } : {}),
    ...(o.maxTokens !== undefined ? { max_tokens: o.maxTokens } : {}),
    ...(o.seed !== undefined ? { seed: sampleSeed(o.seed, hash32(item.id), j) & 0x7fffffff } : {}),
    ...(n > 1 ? { n } : {}),
    ...o.extraBody,
  });

  return async (items, n) =>
    Promise.all(
      items.map(async (item) => {
        if (o.mode === 'n') {
          const out = await request(bodyFor(item, 0, n));
          if (out.length !== n) throw new R1tsError(`${url}: asked n=${n} choices for item '${item.id}', got ${out.length} (the endpoint may not support n; use separate requests)`);
          return out;
        }
        return (await Promise.all(Array.from({ length: n }, (_, j) => request(bodyFor(item, j, 1))))).map((c) => c[0]);
      }),
    );
}
