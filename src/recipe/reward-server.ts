// The verifiers as an HTTP service, for RL trainers outside r1ts (verl,
// OpenRLHF, TRL) and for scaling grading past one process. Stateless: every
// request carries what it needs, so any number of copies can sit behind a
// load balancer (or share a port through `r1ts reward-server --workers N`).
//   POST /v1/rewards   {"items": [{"task", "completion", "gold", "prompt"?, "id"?}, ...]}
//                      → {"rewards": [{"reward", "correct", "format", "answer", "rewards"}, ...]} in order
//   POST /openrlhf     OpenRLHF's remote reward model: {"query": [...], "prompts": [...], "labels": [...]},
//                      task from ?task=NAME (default math) → {"rewards": [...], "scores": [...], "extra_logs": {...}}
//   GET  /health       {"status": "ok", "rss": bytes, "heapUsed": bytes, "requests": n}
// `task` is a task name (add, add2 … add9, mul, mul2 … mul9, gsm8k, math500, countdown: the task's own grader,
// the one its RL reward and its evaluation use) or a grader name (math, integer, exact).
// A countdown item is named by its numbers: gold (or id) "a,b,c=target".
// Bad input gets 400 naming the field; a grader that throws on one item gives that item
// reward 0 and an "error", never a failed batch.
// Not here: the graders (src/tasks, src/rewards); file-backed tasks (no paths from clients).

import { readJsonBody, sendJson } from '../core/http-json.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { GRADER_NAMES, graderByName } from '../tasks/graders.ts';
import { TASK_NAMES, taskByName } from '../tasks/registry.ts';
import type { Grade, Task, TaskItem } from '../tasks/task.ts';

export const REWARD_TASKS = [...TASK_NAMES, ...GRADER_NAMES] as const;

export const RewardServerConfigSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8001),
  host: z.string().min(1).default('127.0.0.1'),
  /** Largest request body in bytes (413 beyond). */
  maxBodyBytes: z.number().int().min(1).default(16_000_000),
  /** Most items in one batch (400 beyond). */
  maxItems: z.number().int().min(1).default(10_000),
  /** The shared/data folder (dataset tasks load lazily; grading needs no data). */
  dataDir: z.string().optional(),
}).strict();
export type RewardServerConfig = z.input<typeof RewardServerConfigSchema>;

export const RewardItemSchema = z.object({
  task: z.string().min(1),
  completion: z.string(),
  gold: z.string(),
  prompt: z.string().optional(),
  id: z.string().optional(),
}).strict();
export type RewardItem = z.infer<typeof RewardItemSchema>;

const BatchSchema = z.object({ items: z.array(RewardItemSchema) }).strict();
const OpenRlhfSchema = z.object({
  query: z.array(z.string()),
  prompts: z.array(z.string()).optional(),
  labels: z.array(z.string()),
}).loose();

export interface RewardResult {
  reward: number;
  correct: boolean;
  format: boolean;
  answer: string | null;
  rewards: Record<string, number>;
  error?: string;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Grades one item with a task or grader by name (tasks cached in `cache`). */
export function gradeRewardItem(item: RewardItem, cache: Map<string, Task>, dataDir?: string): RewardResult {
  const task = rewardTask(item.task, cache, dataDir);
  const ti: TaskItem = { id: item.id ?? item.gold, question: item.prompt ?? '', gold: item.gold };
  let g: Grade;
  try {
    g = task.grade(ti, item.completion);
  } catch (e) {
    return { reward: 0, correct: false, format: false, answer: null, rewards: {}, error: (e as Error).message };
  }
  return { reward: g.reward, correct: g.correct, format: g.format, answer: g.answer, rewards: { ...g.rewards } };
}

function rewardTask(name: string, cache: Map<string, Task>, dataDir?: string): Task {
  let t = cache.get(name);
  if (t) return t;
  if (!(REWARD_TASKS as readonly string[]).includes(name)) throw new HttpError(400, `unknown task '${name}' (expected one of ${REWARD_TASKS.join(', ')})`);
  if ((GRADER_NAMES as readonly string[]).includes(name)) {
    const g = graderByName(name);
    t = { name, description: `the ${name} grader`, trainItem: () => { throw new Error('no items'); }, heldOut: () => [], grade: (item, c) => g.grade(item.gold, c), equivalent: (a, b) => g.equivalent(a, b) };
  } else t = taskByName(name, { dataDir });
  cache.set(name, t);
  return t;
}

export interface RunningRewardServer {
  url: string;
  close(): Promise<void>;
}

export async function startRewardServer(config: RewardServerConfig = {}): Promise<RunningRewardServer> {
  const cfg = RewardServerConfigSchema.parse(config);
  const cache = new Map<string, Task>();
  let requests = 0;

  const grade = (items: RewardItem[]) => {
    if (items.length > cfg.maxItems) throw new HttpError(400, `items: ${items.length} items, more than the limit of ${cfg.maxItems} per request`);
    items.forEach((it, i) => {
      try {
        rewardTask(it.task, cache, cfg.dataDir);
      } catch (e) {
        throw new HttpError(400, `items[${i}].task: ${(e as Error).message}`);
      }
    });
    return items.map((it) => gradeRewardItem(it, cache, cfg.dataDir));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '');
    requests++;
    if (path === '/health') {
      req.resume();
      const m = process.memoryUsage();
      return sendJson(res, 200, { status: 'ok', rss: m.rss, heapUsed: m.heapUsed, requests });
    }
    if (path !== '/v1/rewards' && path !== '/openrlhf') {
      req.resume();
      throw new HttpError(404, `${req.method} ${path}: no such endpoint (POST /v1/rewards, POST /openrlhf, GET /health)`);
    }
    if (req.method !== 'POST') {
      req.resume();
      throw new HttpError(405, `${req.method} ${path}: expected POST`);
    }
    const body = await readJson(req, cfg.maxBodyBytes);
    if (path === '/v1/rewards') {
      const { items } = parse(BatchSchema, Array.isArray(body) ? { items: body } : body, '{"items": [{"task", "completion", "gold", "prompt"?, "id"?}, ...]}');
      return sendJson(res, 200, { rewards: grade(items) });
    }
    const b = parse(OpenRlhfSchema, body, '{"query": [...], "prompts": [...], "labels": [...]}');
    if (b.labels.length !== b.query.length || (b.prompts && b.prompts.length !== b.query.length)) {
      throw new HttpError(400, `query, prompts and labels must have one entry each per sample (got ${b.query.length}, ${b.prompts?.length ?? '-'}, ${b.labels.length})`);
    }
    const task = url.searchParams.get('task') ?? 'math';
    // OpenRLHF sends prompt + response as `query`; the completion is what follows the prompt
    const items = b.query.map((q, i) => {
      const p = b.prompts?.[i];
      return { task, completion: p !== undefined && q.startsWith(p) ? q.slice(p.length) : q, gold: b.labels[i], ...(p !== undefined ? { prompt: p } : {}) };
    });
    const r = grade(items);
    const rewards = r.map((x) => x.reward);
    return sendJson(res, 200, { rewards, scores: rewards, extra_logs: { correct: r.map((x) => (x.correct ? 1 : 0)), format: r.map((x) => (x.format ? 1 : 0)) } });
  }

  const server = createServer((req, res) => {
    res.on('error', () => {});
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      sendJson(res, err.status, { error: { message: err.message, type: err.status >= 500 ? 'server_error' : 'invalid_request_error' } }, err.status === 413 ? { Connection: 'close' } : {});
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(cfg.port, cfg.host, () => ok());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

function parse<S extends z.ZodType>(schema: S, body: unknown, expected: string): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new HttpError(400, `${issue.path.map(String).join('.') || 'body'}: ${issue.message} (expected ${expected})`);
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return readJsonBody(req, limit, (status, message) => new HttpError(status, message));
}
