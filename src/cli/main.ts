// The r1ts command line: parses the subcommand and hands off to its module.
// Each command documents its flags in its own file (`r1ts <command> --help`);
// `r1ts help` lists them. Modules load lazily so one command's dependencies
// never slow down another's start.

const commands: Record<string, { summary: string; run: (args: string[]) => Promise<number> }> = {
  info: {
    summary: 'print the backend, CPU dispatch level and threads in use',
    run: async () => {
      const { currentBackend } = await import('../tensor/backends.ts');
      console.log(`backend: ${currentBackend().describe()}`);
      return 0;
    },
  },
  inspect: {
    summary: 'show what a safetensors file, Hugging Face directory or r1ts checkpoint holds',
    run: async (args) => (await import('./inspect.ts')).inspectCommand(args),
  },
  logits: {
    summary: 'write full float32 logits (.npy) of a model for JSON token-id rows',
    run: async (args) => (await import('./model-io.ts')).logitsCommand(args),
  },
  export: {
    summary: 'convert an r1ts checkpoint or Hugging Face directory (--to hf)',
    run: async (args) => (await import('./model-io.ts')).exportCommand(args),
  },
  generate: {
    summary: 'sample completions of a text prompt from a model directory (streams to stdout)',
    run: async (args) => (await import('./generate.ts')).generateCommand(args),
  },
  chat: {
    summary: 'chat with a model directory in the terminal (reasoning dimmed); -p TEXT for one answer',
    run: async (args) => (await import('./chat.ts')).chatCommand(args),
  },
  serve: {
    summary: 'OpenAI-compatible HTTP server (chat with reasoning_content, completions, streaming, batching)',
    run: async (args) => (await import('./serve.ts')).serveCommand(args),
  },
  pretrain: { summary: 'train a small model from scratch on text (or a built-in corpus); checkpoints, resume', run: async (args) => (await import('./pretrain.ts')).pretrainCommand(args) },
  sft: { summary: 'supervised fine-tuning of a model on chat conversations (assistant tokens only)', run: async (args) => (await import('./sft.ts')).sftCommand(args) },
  eval: { summary: 'evaluate a model dir or an OpenAI-compatible endpoint on a task: pass@1, pass@k, cons@k (markdown table, JSON report, resume)', run: async (args) => (await import('./eval.ts')).evalCommand(args) },
  zero: { summary: 'R1-Zero on a CPU: GRPO from the shipped base model, accuracy and response length before → after', run: async (args) => (await import('./zero.ts')).zeroCommand(args) },
  sample: { summary: 'rejection sampling: k completions per prompt from a teacher (model dir or OpenAI-compatible endpoint), verified, kept as SFT JSONL (resumable)', run: async (args) => (await import('./sample.ts')).sampleCommand(args) },
  'reward-server': { summary: 'the task verifiers over HTTP: a stateless batch reward endpoint for verl / OpenRLHF / TRL', run: async (args) => (await import('./reward-server.ts')).rewardServerCommand(args) },
  distill: { summary: 'SFT a student (preset or model dir) on verified traces; held-out accuracy before → after', run: async (args) => (await import('./distill.ts')).distillCommand(args) },
  pipeline: { summary: 'the R1 recipe: cold-start SFT → RL → rejection sampling → SFT → RL, each stage checkpointed, resumable, held-out accuracy per stage', run: async (args) => (await import('./pipeline.ts')).pipelineCommand(args) },
  rl: { summary: 'GRPO with rule-based rewards on any model directory and task (the zero experiment, generalised)', run: async (args) => (await import('./zero.ts')).rlCommand(args) },
  dashboard: { summary: 'live dashboard of training runs in a browser (curves, samples, expert load); --dashboard on zero, rl, pretrain, sft', run: async (args) => (await import('./dashboard.ts')).dashboardCommand(args) },
  verify: {
    summary: 'grade predictions: `verify math --jsonl FILE` or `verify countdown --jsonl FILE` (one JSON verdict per line)',
    run: async (args) => {
      const [kind, ...rest] = args;
      if (kind === 'math') return (await import('./verify-math.ts')).verifyMathCommand(rest);
      if (kind === 'countdown') return (await import('./verify-countdown.ts')).verifyCountdownCommand(rest);
      console.error(kind && kind !== '--help' && kind !== '-h' ? `r1ts verify: unknown verifier '${kind}' (expected math or countdown)` : 'usage: r1ts verify math|countdown --jsonl FILE (see `r1ts verify math --help`)');
      return kind === '--help' || kind === '-h' ? 0 : 2;
    },
  },
};

/** Commands that run no model, so --device means nothing to them; every other command takes it (and R1TS_DEVICE). */
const NO_MODEL_COMMANDS = ['info', 'inspect', 'export', 'reward-server', 'dashboard', 'verify'];

function help(): void {
  console.log('usage: r1ts <command> [options]\n\ncommands:');
  for (const [name, c] of Object.entries(commands)) console.log(`  ${name.padEnd(12)} ${c.summary}`);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    help();
    return 0;
  }
  const c = commands[cmd];
  if (!c) {
    console.error(`r1ts: unknown command '${cmd}'. Run \`r1ts help\` for the list.`);
    return 2;
  }
  // --device webgpu (issue #12): the commands that run a model parse it themselves; the others refuse it.
  if (NO_MODEL_COMMANDS.includes(cmd)) {
    const i = rest.findIndex((a) => a === '--device' || a.startsWith('--device='));
    const flag = i < 0 ? undefined : rest[i].includes('=') ? rest[i].slice(9) : rest[i + 1];
    if (flag !== undefined) {
      console.error(`r1ts ${cmd}: --device ${flag}: this command runs no model`);
      return 2;
    }
  }
  return c.run(rest);
}
