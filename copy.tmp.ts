import { Engine } from './src/engine/generate.ts';
import { loadBpeTokenizer } from './src/tokenizer/index.ts';
import { loadHfModel } from './src/io/hf.ts';
import { countdownTask, countdownParts } from './src/tasks/countdown.ts';
const dir = process.argv[2];
const tok = loadBpeTokenizer(dir + '/tokenizer.json', dir + '/tokenizer_config.json');
const model = loadHfModel(dir);
const items = countdownTask({}).heldOut(1000).slice(0, 100).map((it) => countdownParts(it));
const frames: [string, (ns: number[], t: number) => string][] = [
  ['Q/Try', (ns, t) => `Q: Using the numbers [${ns.join(', ')}], create an equation that equals ${t}.\nA: Let me try. Try`],
  ['Numbers/Try', (ns, t) => `Numbers: ${ns.join(', ')}. Target: ${t}.\nLet me try. Try`],
  ['User/work', (ns, t) => `User: How can ${ns[0]}, ${ns[1]} and ${ns[2]} make ${t}?\nAssistant: <work> First`],
];
const engine = new Engine(model, { maxBatch: 100 });
for (const [name, f] of frames) {
  const done = await engine.generate(items.map(({ numbers, target }) => ({ prompt: tok.encode(f(numbers, target), { parseSpecial: false }), maxTokens: 8, sampling: { temperature: 0 } })));
  let ok = 0;
  const ex: string[] = [];
  done.forEach((d, i) => { const t = tok.decode(d.tokens); const m = /^\s*(\d+) [+-] (\d+)/.exec(t); const [a, b] = items[i].numbers; if (m && ((+m[1] === a && +m[2] === b) || (+m[1] === b && +m[2] === a))) ok++; if (i < 4) ex.push(`${items[i].numbers} → ${JSON.stringify(t)}`); });
  console.log(name, `${ok}%`, ex.join(' | '));
}
