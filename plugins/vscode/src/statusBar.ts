// Status bar item: model, backend, indexing progress and cache hit rate from latent/status,
// polled quickly while a workspace is indexing and slowly otherwise.
import * as vscode from 'vscode';
import { Latent } from './latent';
import { formatStatusBar, indexProgress, LatentStatus } from './statusFormat';

const FAST_MS = 1500;
const SLOW_MS = 10000;

export function activate(ctx: vscode.ExtensionContext, latent: Latent): void {
  const item = vscode.window.createStatusBarItem('latent.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'Latent';
  item.command = 'latent.showStatus';
  item.text = '$(loading~spin) Latent';
  item.tooltip = 'Starting latentd';
  item.show();
  let timer: NodeJS.Timeout | undefined;

  const poll = async () => {
    timer = undefined;
    const client = latent.client;
    if (!client?.isRunning()) {
      item.text = '$(circle-slash) Latent';
      item.tooltip = 'latentd is not running. Click for details.';
      return;
    }
    let next = SLOW_MS;
    try {
      const status = await client.sendRequest<LatentStatus>('latent/status', {});
      const view = formatStatusBar(status);
      item.text = (indexProgress(status).busy > 0 ? '$(sync~spin) ' : '$(sparkle) ') + view.text;
      item.tooltip = view.tooltip;
      if (indexProgress(status).busy > 0) next = FAST_MS;
    } catch (e) {
      item.text = '$(warning) Latent';
      item.tooltip = `latent/status failed: ${e instanceof Error ? e.message : String(e)}`;
    }
    timer = setTimeout(poll, next);
  };
  const repoll = () => {
    if (timer) clearTimeout(timer);
    void poll();
  };
  ctx.subscriptions.push(item, latent.onDidChangeClient(repoll), { dispose: () => timer && clearTimeout(timer) });
  ctx.subscriptions.push(vscode.commands.registerCommand('latent.refreshStatus', repoll));
  repoll();
}
