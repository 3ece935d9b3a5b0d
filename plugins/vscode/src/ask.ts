// "Latent: Ask about this repository": sends latent/ask with a partialResultToken and streams
// the answer into a webview as markdown (rendered by VS Code's own markdown engine), followed by
// the cited file:line sources as links that open the file at that line.
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
pre,code{font-family:var(--vscode-editor-font-family)}</style></head>
<body><div id="answer"><div id="text"><p><em>Thinking…</em></p></div><div id="sources"></div></div>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
// The answer text is replaced at each render while it streams; the sources only when they change,
// so that a click on a source link is not lost to a render between mouse down and up.
window.addEventListener('message', (e) => {
  document.getElementById('text').innerHTML = e.data.text;
  const sources = document.getElementById('sources');
  if (sources.dataset.html !== e.data.sources) {
    sources.dataset.html = e.data.sources;
    sources.innerHTML = e.data.sources;
  }
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

async function ask(latent: Latent, question: string): Promise<void> {
  const client = latent.running();
  if (!client) return;
  const editor = vscode.window.activeTextEditor;
  const token = `latent-ask-${crypto.randomUUID()}`;
  const params: Record<string, unknown> = { question, partialResultToken: token };
  if (editor && editor.document.uri.scheme === 'file') {
    params.textDocument = { uri: client.code2ProtocolConverter.asUri(editor.document.uri) };
    params.position = client.code2ProtocolConverter.asPosition(editor.selection.active);
  }
  const panel = vscode.window.createWebviewPanel('latent.answer', `Latent: ${question.slice(0, 40)}`,
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { enableScripts: true });
  const nonce = crypto.randomBytes(16).toString('base64');
  panel.webview.html = page(nonce, panel.webview.cspSource);
  panel.webview.onDidReceiveMessage((m) => {
    if (typeof m?.open === 'string') {
      openSource(m.open).catch((e) => void vscode.window.showErrorMessage(`Cannot open ${m.open}: ${e}`));
    }
  });

  const stream = new AnswerStream();
  let scheduled: NodeJS.Timeout | undefined;
  const render = async () => {
    scheduled = undefined;
    const text = await renderMarkdown(stream.markdown(question));
    void panel.webview.postMessage({ text, sources: stream.sourcesHtml() });
  };
  const scheduleRender = () => {
    if (!scheduled) scheduled = setTimeout(render, RENDER_INTERVAL_MS);
  };
  const cts = new vscode.CancellationTokenSource();
  panel.onDidDispose(() => cts.cancel());
  const sub = client.onProgress(new ProgressType<unknown>(), token, (partial) => {
    stream.push(partial);
    scheduleRender();
  });
  try {
    stream.finish(await client.sendRequest('latent/ask', params, cts.token));
  } catch (e) {
    if (cts.token.isCancellationRequested) return;
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
    if (q && q.trim()) await ask(latent, q.trim());
  }));
}
