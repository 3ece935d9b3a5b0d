// Accumulates a streamed latent/ask answer and renders it as markdown with file:line sources.
// No `vscode` import, for the node tests.

export interface Source {
  uri: string;
  /** 1-based line. */
  line: number;
  /** "path:line" (path relative to its workspace when the daemon says so). */
  label: string;
}

/** Normalises latentd's AskSource ({location:{uri,range}, path, line, symbol}) or a Location. */
export function normalizeSources(raw: unknown): Source[] {
  if (!Array.isArray(raw)) return [];
  const out: Source[] = [];
  for (const s of raw) {
    if (!s || typeof s !== 'object') continue;
    const o = s as Record<string, any>;
    const loc = o.location && typeof o.location === 'object' ? o.location : o;
    if (typeof loc.uri !== 'string') continue;
    const line = typeof o.line === 'number' && o.line > 0 ? o.line : (loc.range?.start?.line ?? 0) + 1;
    const path = typeof o.path === 'string' && o.path ? o.path : decodeURIComponent(loc.uri.replace(/^file:\/\//, ''));
    const symbol = typeof o.symbol === 'string' && o.symbol ? ` (${o.symbol})` : '';
    out.push({ uri: loc.uri, line, label: `${path}:${line}${symbol}` });
  }
  return out;
}

/** The answer so far. Partial results are chunks: a string, {text}, {delta}, or {answer} (whole). */
export class AnswerStream {
  text = '';
  sources: Source[] = [];
  done = false;
  error?: string;
  /** The conversation a follow-up continues (latent/ask's result), once the model answered. */
  conversation?: string;

  push(partial: unknown): void {
    if (typeof partial === 'string') {
      this.text += partial;
      return;
    }
    if (!partial || typeof partial !== 'object') return;
    const p = partial as Record<string, unknown>;
    if (typeof p.answer === 'string') this.text = p.answer;
    else if (typeof p.text === 'string') this.text += p.text;
    else if (typeof p.delta === 'string') this.text += p.delta;
    if (Array.isArray(p.sources)) this.sources = normalizeSources(p.sources);
  }

  finish(result: unknown): void {
    this.done = true;
    if (result && typeof result === 'object') {
      const r = result as Record<string, unknown>;
      if (typeof r.answer === 'string' && r.answer) this.text = r.answer;
      if (Array.isArray(r.sources)) this.sources = normalizeSources(r.sources);
      if (typeof r.conversation === 'string' && r.conversation) this.conversation = r.conversation;
    }
  }

  fail(message: string): void {
    this.done = true;
    this.error = message;
  }

  /** Markdown of the question and the answer so far. */
  markdown(question: string): string {
    const parts = [`### ${question}`, '', this.text || (this.done ? '' : '_Thinking…_')];
    if (this.error) parts.push('', `**latentd could not answer:** ${this.error}`);
    return parts.join('\n');
  }

  /**
   * The sources as HTML links carrying `data-open="file:///…#L<line>"`. Not markdown: markdown
   * renderers (markdown-it's validateLink) drop file: links.
   */
  sourcesHtml(): string {
    if (this.sources.length === 0) return '';
    const items = this.sources.map((s) => `<li><a href="#" data-open="${escapeHtml(`${s.uri}#L${s.line}`)}">${escapeHtml(s.label)}</a></li>`);
    return `<h4>Sources</h4><ul>${items.join('')}</ul>`;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
