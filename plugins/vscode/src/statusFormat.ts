// latent/status as latentd sends it (the StatusResult of lsp/protocol.h, field for field), and
// its rendering for people: the status bar's text and tooltip and the "Latent: Show status"
// report. No `vscode` import, for the node tests.

export interface StatusModel {
  loaded: boolean;
  configuredPath: string;
  /** The backend setting, or the one in use once loaded ("auto" resolved). */
  backend: string;
  name?: string;
  path?: string;
  contextLength?: number;
  fim?: boolean;
  chatFormat?: string;
  /** What the loaded model works around (KV disk tier off, model file changed on disk). */
  warnings?: string[];
  /** Why no model is loaded (absent once loaded). */
  problem?: string;
}

export interface StatusWorkspace {
  root: string;
  state: 'opening' | 'indexing' | 'ready' | 'failed' | 'unavailable';
  error?: string;
  files: number;
  progress?: { filesFound: number; filesDone: number; walkDone: boolean };
  lastRun?: {
    filesChecked: number; filesTotal: number; filesIndexed: number; filesSkipped: number;
    filesRemoved: number; problems: number; cancelled: boolean; seconds: number;
  };
}

export interface LatentStatus {
  version: string;
  pid: number;
  model: StatusModel;
  workspaces: StatusWorkspace[];
  completions: { requests: number; engineRuns: number; reused: number; superseded: number; cancelled: number; empty: number };
  queue: { pendingCompletions: number; pendingQuestions: number; workerJobs: number; engineLive: number; engineQueued: number };
  cache: { promptTokens: number; cachedPromptTokens: number; generatedTokens: number; hitRate: number };
  settings: Record<string, unknown>;
  session?: { client: string; positionEncoding: string; openDocuments: number; pendingRequests: number };
  conversations: number;
}

export interface IndexProgress {
  /** Workspaces whose index is not ready yet. */
  busy: number;
  /** Overall percentage over the busy workspaces, once their walks are done. */
  percent?: number;
  /** One line per workspace for the tooltip. */
  lines: string[];
}

function workspaceLine(w: StatusWorkspace): string {
  let line = `${w.root}: ${w.state}, ${w.files} files in the index`;
  if (w.progress) line += `; checking ${w.progress.filesDone}/${w.progress.filesFound} files`;
  if (w.error) line += ` (${w.error})`;
  return line;
}

/** Indexing state over all workspaces. */
export function indexProgress(status: LatentStatus): IndexProgress {
  let busy = 0, done = 0, total = 0;
  for (const w of status.workspaces) {
    if (w.state !== 'indexing' && w.state !== 'opening') continue;
    busy++;
    if (w.progress?.walkDone) {
      done += w.progress.filesDone;
      total += w.progress.filesFound;
    }
  }
  return { busy, percent: total > 0 ? Math.floor((100 * done) / total) : undefined, lines: status.workspaces.map(workspaceLine) };
}

export interface StatusBarView {
  text: string;
  tooltip: string;
}

/** Text and tooltip for the status bar item. */
export function formatStatusBar(status: LatentStatus): StatusBarView {
  const m = status.model;
  const idx = indexProgress(status);
  const parts = [m.loaded ? `Latent: ${m.name}` : 'Latent: no model', m.backend];
  if (idx.busy > 0) parts.push(idx.percent !== undefined ? `indexing ${idx.percent}%` : 'indexing');
  if (status.cache.promptTokens > 0) parts.push(`cache ${Math.round(status.cache.hitRate * 100)}%`);
  const tooltip = [
    m.loaded ? `Model: ${m.name} (${m.path})` : `Model: none loaded: ${m.problem}`,
    `Backend: ${m.backend}`,
    status.cache.promptTokens > 0
      ? `Latent KV cache: ${status.cache.cachedPromptTokens} of ${status.cache.promptTokens} prompt tokens reused (${(status.cache.hitRate * 100).toFixed(1)}%)`
      : 'Latent KV cache: no prompt evaluated yet',
    ...idx.lines.map((l) => `Index ${l}`),
  ];
  return { text: parts.join(' · '), tooltip: tooltip.join('\n') };
}

/** The full report of "Latent: Show status", one fact per line. */
export function formatStatusReport(s: LatentStatus): string {
  const m = s.model;
  const c = s.completions;
  const q = s.queue;
  const lines = [
    `latentd ${s.version} (pid ${s.pid})`,
    '',
    m.loaded
      ? `Model: ${m.name} (${m.path}); backend ${m.backend}, context ${m.contextLength} tokens, fill-in-the-middle ${m.fim ? 'yes' : 'no (no completions)'}, chat format ${m.chatFormat}`
      : `Model: not loaded: ${m.problem}`,
    ...(m.warnings ?? []).map((w) => `Warning: ${w}`),
    ...(s.workspaces.length ? [] : ['Workspace: none open']),
  ];
  for (const w of s.workspaces) {
    lines.push(`Workspace: ${workspaceLine(w)}`);
    const r = w.lastRun;
    if (r) {
      lines.push(`  last run${r.cancelled ? ' (cancelled)' : ''}: ${r.filesChecked} files checked, ${r.filesIndexed} updated, ` +
        `${r.filesRemoved} removed, ${r.filesSkipped} skipped by rule, ${r.problems} problems, ${r.seconds.toFixed(1)} s`);
    }
  }
  lines.push(
    `Completions: ${c.requests} requests; ${c.engineRuns} ran the model, ${c.reused} reused the shown completion, ` +
      `${c.superseded} superseded, ${c.cancelled} cancelled, ${c.empty} empty`,
    `Latent KV cache: ${s.cache.cachedPromptTokens} of ${s.cache.promptTokens} prompt tokens reused ` +
      `(${(s.cache.hitRate * 100).toFixed(1)}%), ${s.cache.generatedTokens} tokens generated`,
    `Queue: ${q.pendingCompletions} completions, ${q.pendingQuestions} questions, ${q.workerJobs} worker jobs; ` +
      `the engine runs ${q.engineLive} and holds ${q.engineQueued}`,
    `Conversations kept for follow-ups: ${s.conversations}`,
  );
  if (s.session) lines.push(`Session: ${s.session.client}, ${s.session.openDocuments} open documents, positions in ${s.session.positionEncoding}`);
  lines.push('', 'Settings:', ...Object.entries(s.settings).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`));
  return lines.join('\n') + '\n';
}
