// `r1ts chat`: an interactive terminal chat with a model directory, through the
// model's chat template (the tokenizer's, else the R1 chat template) and the
// engine. History is kept across turns (the template drops old reasoning).
// The reasoning (<think>…</think>) streams dimmed on a terminal; piped, or with
// --hide-thinking, it is one line "thinking… (N tokens)"; /hide and /show
// collapse or expand it for the next replies, /thinking prints the last reply's
// in full. `-p TEXT` answers one message and prints only the answer
// (--show-thinking adds the reasoning first).
// Not here: the reasoning split itself (src/server/reasoning.ts), serving.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { R1tsError } from '../core/errors.ts';
import { Engine } from '../engine/generate.ts';
import type { SamplingOptions } from '../engine/sampling.ts';
import { loadModelDir, modelChatTemplate } from '../io/model-dir.ts';
import { promptOpensThink, ReasoningSplitter } from '../server/reasoning.ts';
import { StopText } from '../server/stop-text.ts';
import type { DevicePlacement } from '../tensor/index.ts';
import type { ChatMessage } from '../tokenizer/index.ts';
import { DEVICE_HELP, DTYPE_HELP, placeModel, settleInference } from './train-flags.ts';

export const CHAT_HELP = `usage: r1ts chat <model-dir> [options]

Chats with a Hugging Face directory or r1ts checkpoint in the terminal, through the
model's chat template (or the R1 chat template). Type a message and Enter; /reset
clears the history, /exit (or Ctrl-D) quits. The reasoning streams dimmed; /hide
collapses it to one line for the next replies, /show expands it again, /thinking
prints the last reply's reasoning in full.

options:
  -p, --prompt TEXT    one-shot: answer TEXT, print only the answer, exit
  --show-thinking      with -p: print the reasoning before the answer
  --hide-thinking      interactive: show "thinking… (N tokens)" instead of the reasoning
  --system TEXT        a system message first
  --max-tokens N       most tokens per reply (default 512)
  --temperature T      0 = greedy (default 0.6)
  --top-p P            nucleus sampling (default 0.95)
  --seed S             seed of the first reply (turn i uses S + i; default random)
${DEVICE_HELP}
${DTYPE_HELP}
  -h, --help           this text`;

const DIM = '\x1b[2m', UNDIM = '\x1b[22m';

export async function chatCommand(args: string[]): Promise<number> {
  const fail = (msg: string, code = 2) => (console.error(`r1ts chat: ${msg}${code === 2 ? `\n\n${CHAT_HELP}` : ''}`), code);
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true,
      options: {
        prompt: { type: 'string', short: 'p' }, 'show-thinking': { type: 'boolean' }, 'hide-thinking': { type: 'boolean' }, system: { type: 'string' },
        'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return console.log(CHAT_HELP), 0;
  if (positionals.length !== 1) return fail('expected one model directory');
  const dev = settleInference('chat', v);
  if (dev.error) return console.error(dev.error), 2;
  const num = (name: string, s: string | undefined, int = false): number | undefined => {
    if (s === undefined) return undefined;
    const x = Number(s);
    if (s.trim() === '' || !Number.isFinite(x) || (int && !Number.isInteger(x))) throw new R1tsError(`--${name} ${s}: expected ${int ? 'an integer' : 'a number'}`);
    return x;
  };
  let placement: DevicePlacement | null = null;
  try {
    const maxTokens = num('max-tokens', v['max-tokens'], true) ?? 512;
    if (maxTokens < 1) throw new R1tsError(`--max-tokens ${maxTokens}: expected an integer >= 1`);
    const sampling: SamplingOptions = { temperature: num('temperature', v.temperature) ?? 0.6, topP: num('top-p', v['top-p']) ?? 0.95 };
    let seed = num('seed', v.seed, true) ?? Math.floor(Math.random() * 0x7fffffff);
    const { model, tokenizer, stopTokens } = loadModelDir(positionals[0]);
    const template = modelChatTemplate(tokenizer);
    placement = await placeModel('r1ts chat', model, dev.device, v.dtype);
    const engine = new Engine(model, { maxBatch: 1 });
    const tty = process.stdout.isTTY === true;
    const history: ChatMessage[] = v.system !== undefined ? [{ role: 'system', content: v.system }] : [];

    /** One reply; `show` says how the reasoning is shown. Returns the answer and the reasoning. */
    const reply = async (show: 'stream' | 'summary' | 'none' | 'after', signal?: AbortSignal): Promise<{ answer: string; reasoning: string }> => {
      const text = template.render(history, { addGenerationPrompt: true });
      const prompt = tokenizer.encode(text);
      if (prompt.length >= engine.maxSeqLen) throw new R1tsError(`the conversation is ${prompt.length} tokens, the model's context is ${engine.maxSeqLen}: /reset to start over`);
      const split = new ReasoningSplitter({ startInReasoning: promptOpensThink(text) });
      const out = new StopText(tokenizer, []);
      let answer = '', reasoning = '', thinkTokens = 0, dimOn = false, summarized = false;
      const write = (d: { reasoning: string; content: string }) => {
        reasoning += d.reasoning;
        if (d.reasoning && show === 'stream') {
          if (!dimOn) process.stdout.write(DIM), (dimOn = true);
          process.stdout.write(d.reasoning);
        }
        if (d.content) {
          if (dimOn) process.stdout.write(`${UNDIM}\n\n`), (dimOn = false);
          if (show === 'summary' && thinkTokens > 0 && !summarized) process.stdout.write(`thinking… (${thinkTokens} tokens)\n`), (summarized = true);
          answer += d.content;
          if (show !== 'none' && show !== 'after') process.stdout.write(d.content);
        }
      };
      const r = await engine.submit({
        prompt, maxTokens, sampling, seed: seed++, stopTokens, signal,
        onToken: (t) => {
          write(split.push(out.push(t)));
          if (split.inReasoning) thinkTokens++;
        },
      });
      write(split.push(out.end()));
      write(split.flush());
      if (dimOn) process.stdout.write(UNDIM + '\n');
      if (show === 'summary' && thinkTokens > 0 && !summarized) process.stdout.write(`thinking… (${thinkTokens} tokens)\n`);
      if (show === 'after') process.stdout.write((reasoning ? `${tty ? DIM : ''}${reasoning}${tty ? UNDIM : ''}\n\n` : '') + answer);
      if (r.finishReason === 'length') process.stderr.write(`\n[r1ts chat: stopped at ${r.tokens.length} tokens (--max-tokens or the context)]`);
      process.stdout.write('\n');
      return { answer, reasoning };
    };

    if (v.prompt !== undefined) {
      history.push({ role: 'user', content: v.prompt });
      await reply(v['show-thinking'] ? 'after' : 'none');
      return 0;
    }
    let show: 'summary' | 'stream' = v['hide-thinking'] || !tty ? 'summary' : 'stream';
    let lastReasoning: string | null = null;
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true && tty });
    if (tty) console.error(`r1ts chat: ${positionals[0]}${placement?.onDevice ? ' on webgpu' : ''} (/reset clears the history, /hide or /show the thinking, /thinking shows the last, /exit quits)`);
    rl.setPrompt(tty ? '\n> ' : '');
    rl.prompt();
    for await (const line of rl) {
      const msg = line.trim();
      if (msg === '/exit' || msg === '/quit') break;
      if (msg === '/reset') {
        history.splice(v.system !== undefined ? 1 : 0);
        console.error('(history cleared)');
      } else if (msg === '/hide' || msg === '/show') {
        show = msg === '/hide' ? 'summary' : 'stream';
        console.error(msg === '/hide' ? '(thinking collapsed: one line per reply; /thinking shows it)' : '(thinking shown as it streams)');
      } else if (msg === '/thinking') {
        if (lastReasoning === null) console.error('(no reply yet)');
        else if (lastReasoning === '') console.error('(the last reply had no reasoning)');
        else process.stdout.write(`${tty ? DIM : ''}${lastReasoning}${tty ? UNDIM : ''}\n`);
      } else if (msg) {
        history.push({ role: 'user', content: msg });
        try {
          const { answer, reasoning } = await reply(show);
          lastReasoning = reasoning;
          history.push({ role: 'assistant', content: answer });
        } catch (e) {
          history.pop();
          console.error(`r1ts chat: ${(e as Error).message}`);
        }
      }
      rl.prompt();
    }
    rl.close();
    return 0;
  } catch (e) {
    return fail((e as Error).message, 1);
  } finally {
    await placement?.release();
  }
}
