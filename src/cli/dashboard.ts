// `r1ts dashboard [--runs DIR] [--port N]`: the live dashboard (src/server/dashboard.ts)
// over a runs folder, until Ctrl-C. Also the `--dashboard [PORT]` flag of the training
// commands (zero, rl, pretrain, sft): takeDashboardFlag strips it from their arguments
// and openRunDashboard starts the same server in-process over the run's parent folder,
// printing the page's URL with the run selected; it closes when the command ends.
// Not here: the server (src/server/dashboard.ts), the page (web/).

import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { startDashboard } from '../server/dashboard.ts';

export const DEFAULT_DASHBOARD_PORT = 7788;

export const DASHBOARD_HELP = `usage: r1ts dashboard [--runs DIR] [--port N]

The live dashboard of training runs: every folder of DIR holding metrics.jsonl or
samples.jsonl is a run; curves, samples and expert load update as the files grow.
Open the printed URL in a browser (everything is served locally; no network needed).

options:
  --runs DIR             the runs folder [runs]
  --port N               TCP port (0 = any free port) [${DEFAULT_DASHBOARD_PORT}]
  --host H               address to bind [127.0.0.1]
  -h, --help             this text

Training commands take --dashboard [PORT] to serve the same page while they run.`;

export const DASHBOARD_FLAG_HELP = `  --dashboard [PORT]     serve the live dashboard of the run's folder while training [port ${DEFAULT_DASHBOARD_PORT}, or any free one]`;

function parsePort(s: string, flag: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new R1tsError(`${flag} ${s}: expected a port number 0..65535`);
  return n;
}

/**
 * Removes `--dashboard`, `--dashboard PORT` or `--dashboard=PORT` from args. port: null when
 * absent, undefined for the default.
 */
export function takeDashboardFlag(args: string[]): { args: string[]; port: number | null | undefined } {
  const rest: string[] = [];
  let port: number | null | undefined = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--dashboard') {
      const next = args[i + 1];
      if (next !== undefined && /^\d+$/.test(next)) {
        port = parsePort(next, '--dashboard');
        i++;
      } else port = undefined;
    } else if (a.startsWith('--dashboard=')) port = parsePort(a.slice('--dashboard='.length), '--dashboard');
    else rest.push(a);
  }
  return { args: rest, port };
}

/** Starts the dashboard over the parent folder of `outDir` and prints its URL; returns its closer. */
export async function openRunDashboard(port: number | undefined, outDir: string, log: (s: string) => void = console.log): Promise<() => Promise<void>> {
  const dir = resolve(outDir);
  const d = await startDashboard({ runsDir: dirname(dir), port: port ?? DEFAULT_DASHBOARD_PORT, fallbackPort: port === undefined });
  log(`dashboard: ${d.url}?run=${encodeURIComponent(basename(dir))}`);
  return () => d.close();
}

export async function dashboardCommand(args: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({ args, options: { runs: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (e) {
    console.error(`r1ts dashboard: ${(e as Error).message}\n\n${DASHBOARD_HELP}`);
    return 2;
  }
  if (v.help) return console.log(DASHBOARD_HELP), 0;
  let port: number;
  try {
    port = v.port === undefined ? DEFAULT_DASHBOARD_PORT : parsePort(v.port, '--port');
  } catch (e) {
    console.error(`r1ts dashboard: ${(e as Error).message}`);
    return 2;
  }
  const runsDir = resolve(v.runs ?? 'runs');
  const d = await startDashboard({ runsDir, port, host: v.host, prewarm: 8 });
  console.log(`dashboard of ${runsDir}: ${d.url}  (Ctrl-C to stop)`);
  await new Promise<void>((ok) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      ok();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await d.close();
  return 0;
}
