// Hugging Face jinja chat templates rendered with @huggingface/jinja, and the
// two R1 templates r1ts ships:
//   R1_ZERO_TEMPLATE  the DeepSeek-R1-Zero training prompt (one user question,
//                     "... User: {prompt}. Assistant:"), the assistant's reply
//                     follows after a space and ends with EOS.
//   R1_CHAT_TEMPLATE  a DeepSeek-R1-style chat: BOS, optional system text,
//                     <|User|>… <|Assistant|>…EOS; the <think>…</think> part of
//                     an assistant turn is dropped once a later user turn
//                     follows it (history carries answers, not reasoning), as
//                     DeepSeek-R1's own template does.
// Not here: tokenization of the rendered text or loss masks (loss-mask.ts).
import { Template } from '@huggingface/jinja';
import { z } from 'zod';
import { TokenizerError } from './errors.ts';
import { ASSISTANT_TOKEN, USER_TOKEN } from './special-tokens.ts';
import type { TextTokenizer } from './types.ts';

export const R1_ZERO_SYSTEM =
  'A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.';

/** The R1-Zero prompt as plain text (no BOS): "... User: {prompt}. Assistant:". */
export function r1ZeroPrompt(prompt: string): string {
  return `${R1_ZERO_SYSTEM} User: ${prompt}. Assistant:`;
}

/** R1-Zero: exactly one user message, optionally followed by one assistant reply. */
export const R1_ZERO_TEMPLATE = [
  "{%- if messages|length == 0 or messages|length > 2 or messages[0]['role'] != 'user' or (messages|length == 2 and messages[1]['role'] != 'assistant') -%}",
  "{{ raise_exception('the R1-Zero template takes one user message, optionally followed by one assistant message') }}",
  '{%- endif -%}',
  `{{ bos_token }}${R1_ZERO_SYSTEM} User: {{ messages[0]['content'] }}. Assistant:`,
  "{%- if messages|length == 2 %} {{ messages[1]['content'] }}{{ eos_token }}{% endif -%}",
].join('');

/** DeepSeek-R1-style chat (role markers are added tokens; see special-tokens.ts). */
export const R1_CHAT_TEMPLATE = [
  '{%- set ns = namespace(last_user=-1) -%}',
  "{%- for message in messages -%}{%- if message['role'] == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}{%- endfor -%}",
  '{{- bos_token -}}',
  '{%- for message in messages -%}',
  "{%- if message['role'] == 'system' -%}",
  "{%- if loop.index0 != 0 -%}{{ raise_exception('a system message may only come first') }}{%- endif -%}",
  "{{- message['content'] -}}",
  "{%- elif message['role'] == 'user' -%}",
  `{{- '${USER_TOKEN}' + message['content'] -}}`,
  "{%- elif message['role'] == 'assistant' -%}",
  "{%- set content = message['content'] -%}",
  "{%- if loop.index0 < ns.last_user and '</think>' in content -%}{%- set content = content.split('</think>')[-1].lstrip() -%}{%- endif -%}",
  `{{- '${ASSISTANT_TOKEN}' + content + eos_token -}}`,
  '{%- else -%}',
  "{{ raise_exception('unknown role ' + message['role'] + ' (expected system, user or assistant)') }}",
  '{%- endif -%}',
  '{%- endfor -%}',
  `{%- if add_generation_prompt -%}{{ '${ASSISTANT_TOKEN}' }}{%- endif -%}`,
].join('');

export const ChatMessageSchema = z.object({ role: z.string().min(1), content: z.string() }).loose();
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export interface RenderOptions {
  addGenerationPrompt?: boolean;
  /** Further template variables (tools, date_string, ...); cannot override messages, bos/eos or the generation flag. */
  extra?: Record<string, unknown>;
}

/** A compiled chat template with its BOS/EOS strings bound. */
export class ChatTemplate {
  readonly source: string;
  readonly bosToken: string;
  readonly eosToken: string;
  private readonly template: Template;

  constructor(source: string, tokens: { bosToken?: string; eosToken?: string } = {}) {
    if (typeof source !== 'string' || source.length === 0) throw new TokenizerError('chat template: expected a non-empty jinja string');
    this.source = source;
    this.bosToken = tokens.bosToken ?? '';
    this.eosToken = tokens.eosToken ?? '';
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new TokenizerError(`chat template does not parse: ${(e as Error).message}`);
    }
  }

  /** Renders messages (validated: each needs a role and a string content). */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    const r = z.array(ChatMessageSchema).safeParse(messages);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new TokenizerError(`chat messages${i.path.map((p) => `[${String(p)}]`).join('')}: ${i.message}`);
    }
    try {
      return this.template.render({
        ...options.extra,
        messages: r.data,
        add_generation_prompt: options.addGenerationPrompt ?? false,
        bos_token: this.bosToken,
        eos_token: this.eosToken,
      });
    } catch (e) {
      throw new TokenizerError(`chat template failed to render: ${(e as Error).message}`);
    }
  }
}

/**
 * A template bound to a tokenizer's BOS/EOS. Throws TokenizerError when the
 * template uses bos_token/eos_token that the tokenizer lacks, or when one of
 * `required` (literal marker tokens the template writes) is not an added token
 * of the tokenizer, so a mismatch cannot silently tokenize markers as text.
 */
export function chatTemplateFor(tokenizer: TextTokenizer, source: string, required: readonly string[] = []): ChatTemplate {
  const missing: string[] = [];
  if (source.includes('bos_token') && tokenizer.bosToken === undefined) missing.push('a BOS token (bos_token)');
  if (source.includes('eos_token') && tokenizer.eosToken === undefined) missing.push('an EOS token (eos_token)');
  for (const t of [tokenizer.bosToken, tokenizer.eosToken, ...required])
    if (t !== undefined && !tokenizer.addedTokens.has(t)) missing.push(JSON.stringify(t));
  if (missing.length) throw new TokenizerError(`chat template needs ${missing.join(', ')}, which the tokenizer does not have as added tokens`);
  return new ChatTemplate(source, { bosToken: tokenizer.bosToken, eosToken: tokenizer.eosToken });
}

/** The R1 chat template for a tokenizer that has the R1 role markers and BOS/EOS. */
export function r1ChatTemplate(tokenizer: TextTokenizer): ChatTemplate {
  return chatTemplateFor(tokenizer, R1_CHAT_TEMPLATE, [USER_TOKEN, ASSISTANT_TOKEN, '<think>', '</think>']);
}

/** The R1-Zero template for a tokenizer that has BOS/EOS and the R1 tags. */
export function r1ZeroTemplate(tokenizer: TextTokenizer): ChatTemplate {
  return chatTemplateFor(tokenizer, R1_ZERO_TEMPLATE, ['<think>', '</think>', '<answer>', '</answer>']);
}
