// "Latent: Ask about this repository": sends latent/ask with a partialResultToken and streams
// the answer into a webview as markdown (rendered by VS Code's own markdown engine), followed by
// the cited file:line sources as links that open the file at that line. A box under the answer
// asks a follow-up: latent/ask with the answer's conversation, shown below the earlier turns.
import * as crypto from 'crypto';
import * as vscode from 'vscode';
import { ProgressType } from 'vscode-languageclient/node';
import { AnswerStream, escapeHtml } from './answer';
import { Latent } from './latent';

const RENDER_INTERVAL_MS = 80;

async function renderMarkdown(md: string): Promise<string> {
  try {
    return await vscode.commands.executeCommand<string>('markdown.api.render', md);
  } catch {
    // The built-in markdown extension is disabled: show the text as it is.
    return `<pre>${escapeHtml(md)}</pre>`;
  }
}

function page(nonce: string, cspSource: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>body{font-family:var(--vscode-font-family);font-size:var(--vscode-font-size);line-height:1.5;padding:0 1em}
pre,code{font-family:var(--vscode-editor-font-family)}
#follow{display:none;margin:1em 0}#follow input{width:70%;color:var(--vscode-input-foreground);background:var(--vscode-input-background);border:1px solid var(--vscode-input-border,transparent);padding:4px}</style></head>
<body><div id="turns"></div>
<form id="follow"><input id="question" placeholder="Ask a follow-up question" aria-label="Follow-up question"> <button type="submit">Ask</button></form>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
// One section per question of the conversation. A section's text is replaced at each render while
// it streams; its sources only when they change, so that a click on a source link is not lost to
// a render between mouse down and up.
function turn(i) {
  let t = document.getElementById('turn-' + i);
  if (!t) {
    t = document.createElement('div');
    t.id = 'turn-' + i;
    t.className = 'turn';
    t.innerHTML = '<div class="text"></div><div class="sources"></div>';
    document.getElementById('turns').appendChild(t);
  }
  return t;
}
window.addEventListener('message', (e) => {
  const t = turn(e.data.turn);
  t.querySelector('.text').innerHTML = e.data.text;
  const sources = t.querySelector('.sources');
  if (sources.dataset.html !== e.data.sources) {
    sources.dataset.html = e.data.sources;
    sources.innerHTML = e.data.sources;
  }
  document.getElementById('follow').style.display = e.data.canFollowUp ? 'block' : 'none';
});
document.getElementById('follow').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = document.getElementById('question');
  if (!q.value.trim()) return;
  vscode.postMessage({ followUp: q.value.trim() });
  q.value = '';
  document.getElementById('follow').style.display = 'none';
});
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-open]');
  if (!a) return;
  e.preventDefault();
  vscode.postMessage({ open: a.getAttribute('data-open') });
});
</script></body></html>`;
}

/** Opens `href` (file:///path#L<line>) in an editor at that line. */
async function openSource(href: string): Promise<void> {
  const m = /#L(\d+)$/.exec(href);
  const uri = vscode.Uri.parse(m ? href.slice(0, m.index) : href);
  const line = m ? Math.max(0, parseInt(m[1], 10) - 1) : 0;
  const doc = await vscode.workspace.openTextDocument(uri);
  const pos = new vscode.Position(line, 0);
  await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(pos, pos) });
}

/** An answer panel: the conversation's questions and answers, and a box for a follow-up. */
interface AnswerView {
  panel: vscode.WebviewPanel;
  turns: number;
  /** Set once the model answered: the next question follows up in this conversation. */
  conversation?: string;
  /** Cancels the question in flight when the panel closes. */
  cts: vscode.CancellationTokenSource;
}

function openView(latent: Latent, question: string): AnswerView {
  const panel = vscode.window.createWebviewPanel('latent.answer', `Latent: ${question.slice(0, 40)}`,
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { enableScripts: true });
  const nonce = crypto.randomBytes(16).toString('base64');
  panel.webview.html = page(nonce, panel.webview.cspSource);
  const view: AnswerView = { panel, turns: 0, cts: new vscode.CancellationTokenSource() };
  panel.webview.onDidReceiveMessage((m) => {
    if (typeof m?.open === 'string') {
      openSource(m.open).catch((e) => void vscode.window.showErrorMessage(`Cannot open ${m.open}: ${e}`));
    } else if (typeof m?.followUp === 'string') {
      void askIn(latent, view, m.followUp);
    }
  });
  panel.onDidDispose(() => view.cts.cancel());
  return view;
}

/** Asks `question` in `view`'s conversation (a new one for its first question). */
async function askIn(latent: Latent, view: AnswerView, question: string): Promise<void> {
  const client = latent.running();
  if (!client) return;
  const editor = vscode.window.activeTextEditor;
  const token = `latent-ask-${crypto.randomUUID()}`;
  const params: Record<string, unknown> = { question, partialResultToken: token };
  if (view.conversation) params.conversation = view.conversation;
  if (editor && editor.document.uri.scheme === 'file') {
    params.textDocument = { uri: client.code2ProtocolConverter.asUri(editor.document.uri) };
    params.position = client.code2ProtocolConverter.asPosition(editor.selection.active);
  }
  const turn = view.turns++;
  const stream = new AnswerStream();
  let scheduled: NodeJS.Timeout | undefined;
  const render = async () => {
    scheduled = undefined;
    const text = await renderMarkdown(stream.markdown(question));
    void view.panel.webview.postMessage({ turn, text, sources: stream.sourcesHtml(), canFollowUp: stream.done && !!view.conversation });
  };
  const scheduleRender = () => {
    if (!scheduled) scheduled = setTimeout(render, RENDER_INTERVAL_MS);
  };
  scheduleRender();
  const sub = client.onProgress(new ProgressType<unknown>(), token, (partial) => {
    stream.push(partial);
    scheduleRender();
  });
  try {
    stream.finish(await client.sendRequest('latent/ask', params, view.cts.token));
    view.conversation = stream.conversation ?? view.conversation;
  } catch (e) {
    if (view.cts.token.isCancellationRequested) return;
    stream.fail(e instanceof Error ? e.message : String(e));
  } finally {
    sub.dispose();
  }
  if (scheduled) clearTimeout(scheduled);
  await render();
}

export function activate(ctx: vscode.ExtensionContext, latent: Latent): void {
  ctx.subscriptions.push(vscode.commands.registerCommand('latent.ask', async (question?: string) => {
    const q = typeof question === 'string' && question.trim() ? question : await vscode.window.showInputBox({
      prompt: 'Ask about this repository',
      placeHolder: 'Where is the request queue drained?',
      ignoreFocusOut: true,
    });
    if (q && q.trim()) await askIn(latent, openView(latent, q.trim()), q.trim());
  }));
}
