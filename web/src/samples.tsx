// The sample browser: newest samples first, correct/incorrect filter, search, each
// sample's prompt, collapsible reasoning, answer and rewards; reflection words
// highlighted; the same prompt across steps side by side; the "aha moments" list
// (first steps where each reflection word appears in a correct answer).
// Refetches when the run's stream reports new samples, at most every 2 s.
// Not here: fetching helpers (api.ts).

import { useEffect, useRef, useState } from 'preact/hooks';
import { fetchAha, fetchSamples, type Aha, type RunData, type Sample, type SamplePage } from './api.ts';

/** The same list as src/train/grpo.ts's REFLECTION_WORDS. */
export const REFLECTION_WORDS = ['wait', 'check', 'verify', 'again', 'recheck', 'mistake'];
const REFLECT_SPLIT = new RegExp(`\\b(${REFLECTION_WORDS.join('|')})\\b`, 'gi');

/** A completion cut into reasoning (before </think>) and answer (<answer>…</answer>, else the text after </think>). */
export function splitCompletion(text: string): { reasoning: string; answer: string | null } {
  let t = text.replace(/^\s*<think>/, '');
  const end = t.indexOf('</think>');
  let reasoning = t, rest = '';
  if (end >= 0) {
    reasoning = t.slice(0, end);
    rest = t.slice(end + '</think>'.length);
  }
  const m = /<answer>([\s\S]*?)(<\/answer>|$)/.exec(end >= 0 ? rest : t);
  if (m) {
    if (end < 0) reasoning = t.slice(0, m.index);
    return { reasoning: reasoning.trim(), answer: m[1].trim() };
  }
  return { reasoning: reasoning.trim(), answer: end >= 0 ? rest.trim() || null : null };
}

export function Highlighted(props: { text: string }) {
  const parts = props.text.split(REFLECT_SPLIT);
  return <>{parts.map((p, i) => (i % 2 === 1 ? <mark class="reflect" key={i}>{p}</mark> : p))}</>;
}

function Verdict(props: { correct: boolean | null }) {
  if (props.correct === null) return <span class="verdict unknown">?</span>;
  return props.correct ? <span class="verdict ok" title="correct">✓ correct</span> : <span class="verdict bad" title="incorrect">✗ incorrect</span>;
}

function SampleBody(props: { s: Sample; open?: boolean }) {
  const { reasoning, answer } = splitCompletion(props.s.completion);
  return (
    <div class="sample-body">
      <details class="reasoning" open={props.open ?? true}>
        <summary>Reasoning ({reasoning.length} chars)</summary>
        <pre data-testid="reasoning"><Highlighted text={reasoning} /></pre>
      </details>
      <div class="answer"><strong>Answer:</strong> <code data-testid="answer">{answer ?? '(no answer)'}</code></div>
      <table class="rewards">
        <tbody>
          {Object.entries(props.s.rewards).map(([k, v]) => (
            <tr key={k}><th scope="row">{k}</th><td>{v.toFixed(3)}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AcrossSteps(props: { run: string; prompt: string; onClose: () => void }) {
  const [page, setPage] = useState<SamplePage | null>(null);
  useEffect(() => {
    void fetchSamples(props.run, { prompt: props.prompt, order: 'asc', limit: 200 }).then(setPage);
  }, [props.run, props.prompt]);
  return (
    <section class="across" aria-label="same prompt across steps">
      <header>
        <h3>Same prompt across steps: <code>{props.prompt}</code></h3>
        <button onClick={props.onClose}>Close</button>
      </header>
      {!page ? <p>Loading…</p> : (
        <div class="across-grid">
          {page.items.map((s) => (
            <article key={s.index} class={`card ${s.correct ? 'is-ok' : s.correct === false ? 'is-bad' : ''}`}>
              <h4>step {s.step ?? '?'} <Verdict correct={s.correct} /></h4>
              <SampleBody s={s} />
            </article>
          ))}
        </div>
      )}
    </section>
  );
}

function AhaList(props: { run: string; seen: number; onPick: (word: string) => void }) {
  const [aha, setAha] = useState<Aha[] | null>(null);
  useEffect(() => {
    void fetchAha(props.run).then((r) => setAha(r.aha)).catch(() => setAha([]));
  }, [props.run, Math.floor(props.seen / 20)]);
  return (
    <section class="aha" aria-label="aha moments">
      <h3>Aha moments</h3>
      {!aha ? <p>…</p> : aha.length === 0 ? <p class="muted">No reflection words ({REFLECTION_WORDS.join(', ')}) in correct answers yet.</p> : (
        <ol>
          {aha.map((a) => (
            <li key={a.word}>
              <button class="link" onClick={() => props.onPick(a.word)}><mark class="reflect">{a.word}</mark></button>
              {' '}first in a correct answer at step {a.firstStep ?? '?'} ({a.count} correct answers hold it)
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

const PAGE = 30;

export function Samples(props: { run: RunData }) {
  const run = props.run.name;
  const [filter, setFilter] = useState<'all' | 'correct' | 'incorrect'>('all');
  const [query, setQuery] = useState('');
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<SamplePage | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [across, setAcross] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seen = props.run.samplesSeen;
  const lastFetch = useRef(0);
  const timer = useRef<number | null>(null);

  useEffect(() => {
    const t = window.setTimeout(() => setQ(query), 250);
    return () => clearTimeout(t);
  }, [query]);

  const load = () => {
    lastFetch.current = Date.now();
    fetchSamples(run, { filter, q, offset, limit: PAGE }).then((p) => {
      setPage(p);
      setError(null);
    }, (e: Error) => setError(e.message));
  };
  useEffect(load, [run, filter, q, offset]);
  // new samples: refetch, throttled
  useEffect(() => {
    if (timer.current !== null) return;
    const wait = Math.max(0, 2000 - (Date.now() - lastFetch.current));
    timer.current = window.setTimeout(() => {
      timer.current = null;
      load();
    }, wait);
  }, [seen]);
  useEffect(() => () => void (timer.current !== null && clearTimeout(timer.current)), []);

  return (
    <div class="samples">
      <div class="sample-tools" role="search">
        <label>Show <select data-testid="filter" value={filter} onChange={(e) => { setFilter((e.target as HTMLSelectElement).value as typeof filter); setOffset(0); }}>
          <option value="all">all</option>
          <option value="correct">correct</option>
          <option value="incorrect">incorrect</option>
        </select></label>
        <label>Search <input data-testid="search" type="search" value={query} placeholder="prompt or completion text" onInput={(e) => { setQuery((e.target as HTMLInputElement).value); setOffset(0); }} /></label>
        <span class="muted" data-testid="sample-count">{page ? `${page.matched} of ${page.total} samples` : ''}</span>
      </div>
      {error && <p class="error">{error}</p>}
      <div class="samples-main">
        <ul class="sample-list">
          {page?.items.map((s) => (
            <li key={s.index} class={`sample ${s.correct ? 'is-ok' : s.correct === false ? 'is-bad' : ''}`} data-testid="sample" data-correct={String(s.correct)}>
              <button class="sample-head" aria-expanded={open === s.index} onClick={() => setOpen(open === s.index ? null : s.index)}>
                <span class="step">step {s.step ?? '?'}</span>
                <span class="prompt">{s.prompt}</span>
                <span class="reward">reward {(s.rewards.total ?? Object.values(s.rewards)[0] ?? 0).toFixed(2)}</span>
                <Verdict correct={s.correct} />
              </button>
              {open === s.index && (
                <div class="sample-detail">
                  <div class="prompt-full"><strong>Prompt:</strong> {s.prompt}</div>
                  <SampleBody s={s} />
                  <button onClick={() => setAcross(s.prompt)}>Same prompt across steps</button>
                </div>
              )}
            </li>
          ))}
        </ul>
        <AhaList run={run} seen={seen} onPick={(w) => { setQuery(w); setFilter('correct'); setOffset(0); }} />
      </div>
      {page && page.matched > PAGE && (
        <nav class="pager" aria-label="pages">
          <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Newer</button>
          <span>{offset + 1}–{Math.min(offset + PAGE, page.matched)} of {page.matched}</span>
          <button disabled={offset + PAGE >= page.matched} onClick={() => setOffset(offset + PAGE)}>Older</button>
        </nav>
      )}
      {across !== null && <AcrossSteps run={run} prompt={across} onClose={() => setAcross(null)} />}
    </div>
  );
}
