// The OpenAI-compatible wire format r1ts serves: zod schemas of the request
// bodies (/v1/chat/completions, /v1/completions), the flat server config, and
// ApiError, which carries an HTTP status and OpenAI's error body
// {"error": {"message", "type", "param", "code"}}.
// Extensions beyond OpenAI's fields (as vLLM offers them): top_k, min_p, ignore_eos;
// legacy completions accept logprobs up to 20 (OpenAI: 5).
// Not here: HTTP handling and generation (server.ts).

import { z } from 'zod';

/** Flat server configuration, validated once (CLI flags and startServer both go through it). */
export const ServeConfigSchema = z.object({
  /** TCP port; 0 picks a free one. */
  port: z.number().int().min(0).max(65535).default(8000),
  host: z.string().min(1).default('127.0.0.1'),
  /** Name reported by /v1/models and required in requests' `model`; default: the model directory's name. */
  modelName: z.string().min(1).optional(),
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  apiKey: z.string().min(1).optional(),
  /** Most sequences decoded at once (KV cache rows). */
  maxBatch: z.number().int().min(1).default(32),
  /** Largest max_tokens a request may ask for. */
  maxTokensLimit: z.number().int().min(1).default(4096),
  /** Requests that may wait beyond the maxBatch generating ones; more get 429. */
  maxQueue: z.number().int().min(0).default(64),
  /** Largest request body; larger ones get 413. */
  maxBodyBytes: z.number().int().min(1).default(1_000_000),
  /** How long close() lets in-flight requests finish before aborting them. */
  shutdownGraceMs: z.number().int().min(0).default(30_000),
  /**
   * Where the model (and the engine's KV cache) lives; webgpu falls back to the CPU with a message
   * when there is no adapter. close() frees the model's device storage (a model passed to
   * startServer is not usable on the device afterwards).
   */
  device: z.enum(['cpu', 'webgpu']).default('cpu'),
  /** With device webgpu: f16 stores every Linear's weight in half precision there. */
  dtype: z.enum(['f32', 'f16']).default('f32'),
}).strict().refine((c) => c.dtype === 'f32' || c.device === 'webgpu', { message: 'dtype f16 runs on the webgpu device only', path: ['dtype'] });
export type ServeConfig = z.output<typeof ServeConfigSchema>;
export type ServeConfigInput = z.input<typeof ServeConfigSchema>;

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly type: ErrorType = 'invalid_request_error', readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
    this.name = 'ApiError';
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const textPart = z.object({ type: z.literal('text'), text: z.string() }).loose();
const MessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)]).nullable().optional(),
  reasoning_content: z.string().nullable().optional(),
}).loose();

const StopSchema = z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional();

/** Fields shared by both endpoints. */
const common = {
  model: z.string().min(1),
  max_tokens: z.number().int().min(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  top_k: z.number().int().min(-1).nullable().optional(),
  min_p: z.number().min(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stop: StopSchema,
  n: z.number().int().min(1).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullable().optional(),
  ignore_eos: z.boolean().optional(),
};

export const ChatRequestSchema = z.object({
  ...common,
  messages: z.array(MessageSchema).min(1),
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  /** Report each generated token's log-probability (raw: temperature 1, before truncation). */
  logprobs: z.boolean().nullable().optional(),
  /** With logprobs: also the most likely alternatives at each position. */
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
}).loose();
export type ChatRequest = z.output<typeof ChatRequestSchema>;

export const CompletionRequestSchema = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  /** Legacy: report log-probabilities with this many alternatives per token (0 = the token's own). */
  logprobs: z.number().int().min(0).max(20).nullable().optional(),
}).loose();
export type CompletionRequest = z.output<typeof CompletionRequestSchema>;

/** Parses a body with a schema; the first issue becomes a 400 naming the field. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue.path.map(String).join('.') || null;
  throw new ApiError(400, `${param ?? 'body'}: ${issue.message}`, 'invalid_request_error', param, 'invalid_value');
}

/** Message content as text (string, or the text parts of an array). */
export function messageText(content: string | { text: string }[] | null | undefined): string {
  if (content == null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}
