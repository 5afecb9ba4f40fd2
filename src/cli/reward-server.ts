// `r1ts reward-server`: the verifiers over HTTP (src/recipe/reward-server.ts),
// optionally as N worker processes sharing one port (node:cluster), since
// grading is CPU work and the service is stateless.

import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { RewardServerConfigSchema, REWARD_TASKS, startRewardServer } from '../recipe/reward-server.ts';

export const REWARD_SERVER_HELP = `usage: r1ts reward-server [options]

Serves the task graders over HTTP for RL trainers (verl, OpenRLHF, TRL; see docs/recipe.md):
  POST /v1/rewards  {"items": [{"task", "completion", "gold", "prompt"?, "id"?}, ...]}
                    → {"rewards": [{"reward", "correct", "format", "answer", "rewards"}, ...]}
  POST /openrlhf?task=NAME   OpenRLHF's remote reward model ({"query", "prompts", "labels"} → {"rewards"})
  GET  /health
tasks: ${REWARD_TASKS.join(', ')}

options:
  --port N            default 8001 (0: any free port)
  --host H            default 127.0.0.1 (0.0.0.0 to serve other machines)
  --workers N         processes sharing the port (default 1)
  --max-items N       most items per request (default 10000)
  --max-body-bytes N  largest request body (default 16000000)
  --data-dir DIR      the shared/data folder
  -h, --help          this text`;

function fail(msg: string, code = 2): number {
  console.error(`r1ts reward-server: ${msg}${code === 2 ? `\n\n${REWARD_SERVER_HELP}` : ''}`);
  return code;
}

export async function rewardServerCommand(args: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' }, workers: { type: 'string' }, 'max-items': { type: 'string' }, 'max-body-bytes': { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (v.help) return console.log(REWARD_SERVER_HELP), 0;
  const int = (name: string, s: string | undefined): number | undefined => {
    if (s === undefined) return undefined;
    const x = Number(s);
    if (s.trim() === '' || !Number.isInteger(x)) throw new Error(`--${name} ${s}: expected an integer`);
    return x;
  };
  let cfg, workers;
  try {
    workers = int('workers', v.workers) ?? 1;
    if (workers < 1) throw new Error(`--workers ${workers}: expected at least 1`);
    const r = RewardServerConfigSchema.safeParse({ port: int('port', v.port), host: v.host, maxItems: int('max-items', v['max-items']), maxBodyBytes: int('max-body-bytes', v['max-body-bytes']), dataDir: v['data-dir'] });
    if (!r.success) throw new Error(`--${String(r.error.issues[0].path[0]).replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${r.error.issues[0].message}`);
    cfg = r.data;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (workers > 1 && cluster.isPrimary) {
    if (cfg.port === 0) return fail('--workers needs a fixed --port (workers share it)');
    for (let i = 0; i < workers; i++) cluster.fork();
    console.error(`r1ts reward-server: ${workers} workers on http://${cfg.host}:${cfg.port}; Ctrl-C to stop`);
    cluster.on('exit', (w, code) => { if (code !== 0 && code !== null) console.error(`r1ts reward-server: worker ${w.process.pid} exited with ${code}`); });
    await new Promise<void>((done) => {
      const stop = () => {
        for (const w of Object.values(cluster.workers ?? {})) w?.kill();
        done();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  }
  let server;
  try {
    server = await startRewardServer(cfg);
  } catch (e) {
    return fail((e as Error).message, 1);
  }
  if (cluster.isPrimary) console.log(`r1ts reward-server: listening on ${server.url}`);
  const s = server;
  await new Promise<void>((done) => {
    const stop = () => void s.close().then(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
