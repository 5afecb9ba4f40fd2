// JSON over node:http for r1ts's servers (the OpenAI-compatible API, the reward server):
// writing a JSON response and reading a size-limited JSON request body. Each server maps
// the two failures (413 too large, 400 not JSON) to its own error type through `error`.
// Not here: routing, error bodies, streaming (each server's own).

import type { IncomingMessage, ServerResponse } from 'node:http';

/** Writes `body` as JSON with its length; nothing when the socket is gone. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s), ...headers });
  res.end(s);
}

export type BodyErrorCode = 'request_too_large' | 'invalid_json';

/**
 * Reads a JSON body of at most `limit` bytes: past the limit it keeps reading (so the
 * 413 reaches the client) but drops the bytes, then throws error(413, …); a body that
 * does not parse throws error(400, …).
 */
export async function readJsonBody(req: IncomingMessage, limit: number, error: (status: 400 | 413, message: string, code: BodyErrorCode) => Error): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw error(413, `request body of ${declared} bytes is larger than the limit of ${limit}`, 'request_too_large');
  }
  const parts: Buffer[] = [];
  let n = 0;
  await new Promise<void>((ok, fail) => {
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= limit) parts.push(c);
    });
    req.on('end', ok);
    req.on('error', fail);
  });
  if (n > limit) throw error(413, `request body is larger than the limit of ${limit} bytes`, 'request_too_large');
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch (e) {
    throw error(400, `the request body is not valid JSON: ${(e as Error).message}`, 'invalid_json');
  }
}
