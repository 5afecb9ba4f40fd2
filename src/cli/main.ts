// The r1ts command line: parses the subcommand and hands off to its module.
// Each command documents its flags in its own file; `r1ts help` lists them.

import { currentBackend } from '../tensor/backends.ts';

const commands: Record<string, { summary: string; run: (args: string[]) => Promise<number> }> = {
  info: {
    summary: 'print the backend, CPU dispatch level and threads in use',
    run: async () => {
      console.log(`backend: ${currentBackend().describe()}`);
      return 0;
    },
  },
};

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
  return c.run(rest);
}
