// A fake OpenAI-compatible teacher that injects faults, for the sampling tests:
// it answers "What is a+b?" on /v1/chat/completions (reasoning_content +
// <answer>) and /v1/completions (text after an opened <think>), right when the
// request's seed is not a multiple of 3 (so which samples are right is known
// from the seeds alone), wrong otherwise. Faults by request number r (r = 0, 1, …):
//   r % 10 == 1 429 with Retry-After: retryAfter (seconds)
//   r % 10 == 4 500
//   r % 10 == 7 200, half a JSON body, then the connection is destroyed (reset mid-stream)
//   r % 17 == 5 the reply (or fault) is sent only after slowMs (past the client's timeout)
//   r % 19 == 9 the socket is destroyed before any reply (reset)
// Not a test file: test/recipe/*.test.ts import it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultServer {
  url: string;
  /** Requests received, and complete replies sent, by "question#seed". */
  requests: number;
  completed: Map<string, number>;
  faults: { r429: number; r500: number; midStream: number; slow: number; reset: number };
  close(): Promise<void>;
}

/** The answer the fake teacher gives to a+b under a seed. */
export function fakeAnswer(a: number, b: number, seed: number): number {
  return seed % 3 === 0 ? a + b + 1 : a + b;
}

export async function faultServer(o: { retryAfter?: string; slowMs?: number; delayMs?: number; faults?: boolean } = {}): Promise<FaultServer> {
  const faultsOn = o.faults ?? true;
  const state = { requests: 0 };
  const completed = new Map<string, number>();
  const faults = { r429: 0, r500: 0, midStream: 0, slow: 0, reset: 0 };
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const r = state.requests++;
      res.on('error', () => {});
      const chat = req.url === '/v1/chat/completions';
      if (!chat && req.url !== '/v1/completions') return void res.writeHead(404).end('{"error":{"message":"no such route"}}');
      const body = JSON.parse(data) as { messages?: { content: string }[]; prompt?: string; seed?: number };
      const q = chat ? body.messages![body.messages!.length - 1].content : body.prompt!;
      const m = /What is (\d+)\+(\d+)\?/.exec(q)!;
      const [a, b] = [Number(m[1]), Number(m[2])];
      const seed = body.seed ?? 0;
      const ans = fakeAnswer(a, b, seed);
      const reasoning = `ones ${a % 10}+${b % 10}, tens, hundreds`;
      const choice = chat
        ? { index: 0, message: { role: 'assistant', reasoning_content: reasoning, content: `<answer>${ans}</answer>` }, finish_reason: 'stop' }
        : { index: 0, text: ` ${reasoning} </think> <answer>${ans}`, finish_reason: 'stop' };
      const reply = JSON.stringify({ id: `x${r}`, object: chat ? 'chat.completion' : 'text_completion', choices: [choice], usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } });
      const slow = faultsOn && r % 17 === 5; // counted as slow only: the client has timed out by then
      const send = () => {
        if (faultsOn && r % 10 === 1) return faults.r429 += slow ? 0 : 1, void res.writeHead(429, { 'retry-after': o.retryAfter ?? '0', 'content-type': 'application/json' }).end('{"error":{"message":"rate limited"}}');
        if (faultsOn && r % 10 === 4) return faults.r500++, void res.writeHead(500).end('internal error');
        if (faultsOn && r % 10 === 7) {
          faults.midStream++;
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(reply)) });
          res.write(reply.slice(0, reply.length >> 1));
          return void setTimeout(() => res.socket?.destroy(), 5);
        }
        if (faultsOn && r % 19 === 9) return faults.reset++, void req.socket.destroy();
        if (!res.destroyed) {
          const key = `${q.slice(-24)}#${seed}`;
          completed.set(key, (completed.get(key) ?? 0) + 1);
          res.writeHead(200, { 'content-type': 'application/json' }).end(reply);
        }
      };
      if (slow) faults.slow++;
      setTimeout(send, slow ? o.slowMs ?? 400 : o.delayMs ?? 1);
    });
  });
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`, completed, faults,
    get requests() { return state.requests; },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
