// Entry point: one Latent daemon connection, then each feature wires itself to it.
import * as vscode from 'vscode';
import * as ask from './ask';
import * as commands from './commands';
import { Latent } from './latent';
import * as statusBar from './statusBar';

let latent: Latent | undefined;

export async function activate(ctx: vscode.ExtensionContext): Promise<void> {
  latent = new Latent(ctx);
  ctx.subscriptions.push(latent);
  commands.activate(ctx, latent);
  ask.activate(ctx, latent);
  statusBar.activate(ctx, latent);
  await latent.start();
}

export async function deactivate(): Promise<void> {
  await latent?.stop();
}
