// Turns a latent/status answer into the status bar's text and tooltip. Tolerant of fields the
// daemon adds or omits: unknown shapes degrade to "Latent" rather than throwing.
// No `vscode` import, for the node tests.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The model's display name: a string, or a loaded model object's name, else its path's file
 * name. latentd sends { loaded, name, path, backend, configuredPath, problem }.
 */
export function modelName(status: Record<string, unknown>): string | undefined {
  const m = status.model;
  if (typeof m === 'string') return m || undefined;
  const o = obj(m);
  if (!o || o.loaded === false) return undefined;
  const name = str(o.name);
  if (name) return name;
  const p = str(o.path);
  return p ? p.split(/[\\/]/).pop() : undefined;
}

/** Cache hit rate in [0, 1] from hitRate, or from hits/misses (or hits/lookups). */
export function cacheHitRate(status: Record<string, unknown>): number | undefined {
  const c = obj(status.cache);
  if (!c) return undefined;
  const rate = num(c.hitRate) ?? num(c.hit_rate);
  if (rate !== undefined) return rate > 1 ? rate / 100 : rate;
  const hits = num(c.hits) ?? num(c.hitTokens);
  const misses = num(c.misses) ?? num(c.missTokens);
  if (hits !== undefined && misses !== undefined && hits + misses > 0) return hits / (hits + misses);
  const lookups = num(c.lookups);
  if (hits !== undefined && lookups) return hits / lookups;
  // Prompt tokens served from the prefix cache versus those the engine had to evaluate.
  const cached = num(c.promptTokensCached) ?? num(c.promptTokensReused);
  const evaluated = num(c.promptTokensEvaluated);
  if (cached !== undefined && evaluated !== undefined && cached + evaluated > 0) return cached / (cached + evaluated);
  return undefined;
}

export interface IndexProgress {
  /** Workspaces whose index is not ready yet. */
  busy: number;
  /** Overall percentage over the busy workspaces, when the daemon reports counts. */
  percent?: number;
  /** One line per workspace for the tooltip. */
  lines: string[];
}

/** Indexing state over all workspaces (status.workspaces or status.index). */
export function indexProgress(status: Record<string, unknown>): IndexProgress {
  const raw = status.workspaces ?? status.index;
  const list: unknown[] = Array.isArray(raw) ? raw : obj(raw) ? Object.entries(obj(raw)!).map(([k, v]) => ({ uri: k, ...(obj(v) ?? { state: v }) })) : [];
  let busy = 0, done = 0, total = 0;
  const lines: string[] = [];
  for (const w of list) {
    const o = obj(w);
    if (!o) continue;
    // latentd: { root, state, files, progress: { filesFound, filesDone } while indexing }.
    const idx = obj(o.index) ?? o;
    const prog = obj(idx.progress) ?? {};
    const name = str(o.root) ?? str(o.name) ?? str(o.uri)?.replace(/^file:\/\//, '') ?? 'workspace';
    const state = str(idx.state) ?? 'unknown';
    const filesDone = num(prog.filesDone) ?? num(idx.filesIndexed) ?? num(idx.files);
    const filesTotal = num(prog.filesFound) ?? num(idx.filesTotal);
    // 'failed' and 'unavailable' are final: shown in the tooltip, not as progress.
    if (state === 'indexing' || state === 'opening') {
      busy++;
      if (filesDone !== undefined && filesTotal) {
        done += filesDone;
        total += filesTotal;
      }
    }
    const counts = filesDone !== undefined ? ` (${filesDone}${filesTotal !== undefined ? '/' + filesTotal : ''} files)` : '';
    lines.push(`${name}: ${state}${counts}`);
  }
  return { busy, percent: total > 0 ? Math.floor((100 * done) / total) : undefined, lines };
}

export interface StatusBarView {
  text: string;
  tooltip: string;
}

/** Text and tooltip for the status bar item from a latent/status result. */
export function formatStatusBar(result: unknown): StatusBarView {
  const status = obj(result) ?? {};
  const model = modelName(status);
  const backend = str(status.backend) ?? str(obj(status.model)?.backend);
  const rate = cacheHitRate(status);
  const idx = indexProgress(status);
  const parts = [model ? `Latent: ${model}` : 'Latent: no model'];
  if (backend) parts.push(backend);
  if (idx.busy > 0) parts.push(idx.percent !== undefined ? `indexing ${idx.percent}%` : 'indexing');
  if (rate !== undefined) parts.push(`cache ${Math.round(rate * 100)}%`);
  const problem = str(obj(status.model)?.problem);
  const tooltip = [
    `Model: ${model ?? `none loaded (${problem ?? 'set latent.modelPath'})`}`,
    `Backend: ${backend ?? 'unknown'}`,
    rate !== undefined ? `Prefix cache hit rate: ${(rate * 100).toFixed(1)}%` : 'Prefix cache: no hit statistics from latentd yet',
    ...idx.lines.map((l) => `Index ${l}`),
  ];
  const queue = obj(status.queue);
  if (queue) tooltip.push(`Queue: ${Object.entries(queue).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}`);
  return { text: parts.join(' · '), tooltip: tooltip.join('\n') };
}

export type { Json };
