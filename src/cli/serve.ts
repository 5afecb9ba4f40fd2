// `r1ts serve`: the OpenAI-compatible HTTP server (src/server) over a model
// directory. Flags map one to one onto ServeConfig; SIGINT/SIGTERM stop
// accepting and let in-flight requests finish (a second signal aborts them).
// Not here: the server itself (src/server/server.ts).

import { parseArgs } from 'node:util';
import { ServeConfigSchema } from '../server/protocol.ts';
import { startServer } from '../server/server.ts';
import { settleInference } from './train-flags.ts';

export const SERVE_HELP = `usage: r1ts serve <model-dir> [options]

Serves a Hugging Face directory or r1ts checkpoint (with its tokenizer.json) behind an
OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions (reasoning between
<think> and </think> comes back as reasoning_content), POST /v1/completions; stream: true
gives server-sent events; n, logprobs and top_logprobs as OpenAI's API has them.
Concurrent requests are batched together.

options:
  --port N               TCP port (default 8000; 0 = any free port)
  --host H               address to bind (default 127.0.0.1)
  --model-name NAME      model id clients must send (default: the directory's name)
  --api-key KEY          require Authorization: Bearer KEY
  --max-batch N          most sequences decoded at once (default 32)
  --max-tokens-limit N   largest max_tokens a request may ask for (default 4096)
  --max-queue N          requests that may wait beyond max-batch; more get 429 (default 64)
  --max-body-bytes N     largest request body; larger get 413 (default 1000000)
  --device cpu|webgpu    where the model and its KV cache live (default: R1TS_DEVICE, else
                         cpu); webgpu runs them on the GPU (WebGPU via Dawn), falling back
                         to the CPU with a message when there is no adapter
  --dtype f32|f16        with --device webgpu: f16 stores every Linear's weight in half
                         precision there (products and sums stay f32); default f32
  -h, --help             this text`;

const intFlags = ['port', 'max-batch', 'max-tokens-limit', 'max-queue', 'max-body-bytes'] as const;

export async function serveCommand(args: string[]): Promise<number> {
  const fail = (msg: string, code = 2) => (console.error(`r1ts serve: ${msg}${code === 2 ? `\n\n${SERVE_HELP}` : ''}`), code);
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true,
      options: {
        port: { type: 'string' }, host: { type: 'string' }, 'model-name': { type: 'string' }, 'api-key': { type: 'string' },
        'max-batch': { type: 'string' }, 'max-tokens-limit': { type: 'string' }, 'max-queue': { type: 'string' }, 'max-body-bytes': { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return console.log(SERVE_HELP), 0;
  if (positionals.length !== 1) return fail('expected one model directory');
  const dev = settleInference('serve', v);
  if (dev.error) return console.error(dev.error), 2;
  const ints: Record<string, number> = {};
  for (const f of intFlags) {
    const s = v[f];
    if (s === undefined) continue;
    const x = Number(s);
    if (s.trim() === '' || !Number.isInteger(x)) return fail(`--${f} ${s}: expected an integer`);
    ints[f.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = x;
  }
  const cfg = ServeConfigSchema.safeParse({ ...ints, host: v.host, modelName: v['model-name'], apiKey: v['api-key'], device: dev.device, dtype: v.dtype });
  if (!cfg.success) {
    const i = cfg.error.issues[0];
    return fail(`--${String(i.path[0]).replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${i.message}`);
  }
  let server;
  try {
    server = await startServer({ ...cfg.data, modelDir: positionals[0] });
  } catch (e) {
    return fail((e as Error).message, 1);
  }
  console.error(`r1ts serve: ${server.modelName} on ${server.url}/v1 (max batch ${cfg.data.maxBatch}${server.device === 'webgpu' ? ', on webgpu' : ''}); Ctrl-C to stop`);
  const s = server;
  await new Promise<void>((done) => {
    let signals = 0;
    const stop = () => {
      if (++signals === 1) {
        console.error('r1ts serve: stopping: finishing in-flight requests (signal again to abort them)');
        void s.close().then(done);
      } else void s.close({ abort: true });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.error('r1ts serve: stopped');
  return 0;
}
