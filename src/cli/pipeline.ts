// `r1ts pipeline [config.json]`: the R1 stages in order under one run
// directory, resumable at stage granularity (src/recipe/pipeline.ts). Without a
// config, the built-in default (a few minutes on 2 cores). Prints the per-stage
// table, then the summary as one JSON line.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_PIPELINE, pipelineTable, runPipeline, type PipelineConfig } from '../recipe/pipeline.ts';
import { settleDevice } from './train-flags.ts';

export const PIPELINE_HELP = `usage: r1ts pipeline [CONFIG.json] [options]

Runs the R1 recipe's stages on one model — any subset, in the order given:
  {"kind": "sample", "name", "prompts", "k", "temperature", "dedup", "maxPerPrompt", "baseURL"?, "model"?, "apiKeyEnv"?, "template"?}
  {"kind": "sft", "name", "data"? (default: the latest sample stage's traces), "steps", "batch", "lr", "warmup"}
  {"kind": "rl", "name", "minutes", "steps", "prompts", "group", "lr", "temperature", "beta"}
Top level: {"out", "base", "task", "grader"?, "evalItems", "evalTemperature", "maxTokens", "seed", "stages": [...]}.
Each stage writes OUT/NN-name/ (model/, metrics.jsonl, done.json); rerunning the
same command skips the stages already done. Every stage reports its held-out
accuracy. \`r1ts pipeline --print-default\` shows the built-in config:
cold start (the base's shortest verified traces → SFT) → reasoning RL →
rejection sampling → SFT → final RL, on 'add' from assets/zero-base.

options:
  --out DIR          run directory (overrides the config's "out")
  --print-default    print the built-in config and exit
  --device cpu|webgpu  where every stage's model runs (overrides the config's "device";
                     default R1TS_DEVICE, else cpu); webgpu falls back to the CPU with a
                     message when there is no adapter
  --no-progress      no progress bars
  -h, --help         this text`;

export async function pipelineCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, device: { type: 'string' }, 'print-default': { type: 'boolean' }, 'no-progress': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  } catch (e) {
    console.error(`r1ts pipeline: ${(e as Error).message}\n\n${PIPELINE_HELP}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) return console.log(PIPELINE_HELP), 0;
  if (v['print-default']) return console.log(JSON.stringify(DEFAULT_PIPELINE, null, 2)), 0;
  if (positionals.length > 1) {
    console.error(`r1ts pipeline: expected at most one config file, got ${positionals.length}\n\n${PIPELINE_HELP}`);
    return 2;
  }
  let config: PipelineConfig = DEFAULT_PIPELINE;
  if (positionals[0]) {
    try {
      config = JSON.parse(readFileSync(positionals[0], 'utf8')) as PipelineConfig;
    } catch (e) {
      console.error(`r1ts pipeline: ${positionals[0]}: ${(e as Error).message} (expected a JSON config; see --print-default)`);
      return 2;
    }
  }
  const dev: Record<string, unknown> = { device: v.device ?? config.device };
  const badDevice = settleDevice('pipeline', dev);
  if (badDevice) return console.error(badDevice), 2;
  try {
    const r = await runPipeline({ ...config, ...(v.out ? { out: v.out } : {}), ...(dev.device ? { device: dev.device as 'cpu' | 'webgpu' } : {}), ...(v['no-progress'] ? { progress: false } : {}) });
    console.log(pipelineTable(r));
    console.log(JSON.stringify(r));
    return 0;
  } catch (e) {
    console.error(`r1ts pipeline: ${(e as Error).message}`);
    return 1;
  }
}
