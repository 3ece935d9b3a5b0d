// Commands: reindex, show status, restart, and enable/disable completions per language.
import * as vscode from 'vscode';
import { Latent, settings } from './latent';
import { isLanguageEnabled, withLanguage } from './settings';
import { formatStatusReport, LatentStatus } from './statusFormat';

async function setLanguage(enabled: boolean | 'toggle'): Promise<void> {
  const lang = vscode.window.activeTextEditor?.document.languageId;
  if (!lang) {
    void vscode.window.showInformationMessage('Open a file first: completions are switched per language of the active editor.');
    return;
  }
  const languages = settings().languages;
  const on = enabled === 'toggle' ? !isLanguageEnabled(languages, lang) : enabled;
  await vscode.workspace.getConfiguration('latent').update('languages', withLanguage(languages, lang, on), vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(`Latent completions ${on ? 'enabled' : 'disabled'} for ${lang}.`);
}

export function activate(ctx: vscode.ExtensionContext, latent: Latent): void {
  const reg = (id: string, fn: (...a: any[]) => unknown) => ctx.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('latent.reindex', async () => {
    const client = latent.running();
    if (!client) return;
    try {
      await client.sendRequest('latent/reindex', {});
      void vscode.window.showInformationMessage('Latent: reindexing the workspace.');
      void vscode.commands.executeCommand('latent.refreshStatus');
    } catch (e) {
      void vscode.window.showErrorMessage(`Latent: reindex failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  // The status is a read-only virtual document, refreshed on each "Show status": unlike an
  // untitled document it never asks to be saved when closed.
  const statusUri = vscode.Uri.parse('latent-status:/latentd-status.txt');
  const statusChanged = new vscode.EventEmitter<vscode.Uri>();
  let statusText = '';
  ctx.subscriptions.push(statusChanged, vscode.workspace.registerTextDocumentContentProvider('latent-status', {
    onDidChange: statusChanged.event,
    provideTextDocumentContent: () => statusText,
  }));
  reg('latent.showStatus', async () => {
    const client = latent.client?.isRunning() ? latent.client : undefined;
    const when = new Date().toLocaleTimeString();
    if (!client) {
      statusText = `${when}: latentd is not running. See the "Latent" output, then run "Latent: Restart".\n`;
    } else {
      try {
        statusText = `Latent status at ${when}\n\n` + formatStatusReport(await client.sendRequest<LatentStatus>('latent/status', {}));
      } catch (e) {
        statusText = `${when}: latent/status failed: ${e instanceof Error ? e.message : String(e)}\n`;
      }
    }
    statusChanged.fire(statusUri);
    const doc = await vscode.workspace.openTextDocument(statusUri);
    await vscode.window.showTextDocument(doc, { preview: true });
  });
  reg('latent.restart', () => latent.restart());
  reg('latent.enableLanguage', () => setLanguage(true));
  reg('latent.disableLanguage', () => setLanguage(false));
  reg('latent.toggleLanguage', () => setLanguage('toggle'));
  ctx.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    // The daemon gets other settings through workspace/didChangeConfiguration; these two
    // decide how it is started.
    if (e.affectsConfiguration('latent.serverPath') || e.affectsConfiguration('latent.maxRestarts')) void latent.restart();
  }));
}
