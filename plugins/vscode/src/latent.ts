// The running daemon connection shared by the features: starts latentd with the settings,
// restarts it on crashes up to latent.maxRestarts, and tells features when it (re)connects.
import * as vscode from 'vscode';
import {
  CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, ServerOptions, State,
} from 'vscode-languageclient/node';
import { CrashPolicy } from './crashPolicy';
import { answerConfiguration, daemonSettings, isLanguageEnabled, LatentSettings, readSettings } from './settings';
import { resolveServerPath } from './serverPath';
import { TypeThrough } from './typeThrough';

/** The settings for `scope`: what the user set in any scope (defaults only for the extension's own). */
export function settings(scope?: vscode.ConfigurationScope): LatentSettings {
  const cfg = vscode.workspace.getConfiguration('latent', scope);
  return readSettings((k) => {
    const i = cfg.inspect(k);
    return i?.workspaceFolderLanguageValue ?? i?.workspaceLanguageValue ?? i?.globalLanguageValue ??
      i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
  });
}

export class Latent implements vscode.Disposable {
  client?: LanguageClient;
  readonly output = vscode.window.createOutputChannel('Latent', { log: true });
  private readonly changed = new vscode.EventEmitter<LanguageClient | undefined>();
  /** Fires with the new client after a (re)start, and with undefined after a stop. */
  readonly onDidChangeClient = this.changed.event;
  private crashes = new CrashPolicy(settings().maxRestarts);
  private readonly typeThrough = new TypeThrough();

  constructor(private readonly ctx: vscode.ExtensionContext) {}

  async start(): Promise<void> {
    const s = settings();
    const found = resolveServerPath(s.serverPath, process.env.PATH, this.ctx.extensionPath);
    if ('error' in found) {
      this.output.error(found.error);
      const pick = await vscode.window.showErrorMessage(found.error, 'Open Settings');
      if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', 'latent.serverPath');
      return;
    }
    this.crashes = new CrashPolicy(s.maxRestarts);
    const serverOptions: ServerOptions = { command: found.path, args: ['--stdio'] };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.output,
      initializationOptions: () => daemonSettings(settings()),
      synchronize: { configurationSection: 'latent' },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          if (this.crashes.shouldRestart()) {
            return { action: CloseAction.Restart, message: `latentd stopped; restarting (${this.crashes.recent}/${settings().maxRestarts}).` };
          }
          return {
            action: CloseAction.DoNotRestart,
            message: `latentd crashed ${this.crashes.recent} times in 3 minutes; not restarting. See the "Latent" output, then run "Latent: Restart".`,
          };
        },
      },
      middleware: {
        workspace: {
          configuration: (params) =>
            answerConfiguration(params.items, (scopeUri) => settings(scopeUri ? vscode.Uri.parse(scopeUri) : undefined)),
        },
        // Every request goes out at once: latentd debounces (its debounceMs) and a newer request
        // for the same document replaces the older one there.
        // Typing what the ghost text shows is answered here, without a request.
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          if (!isLanguageEnabled(settings(document).languages, document.languageId)) return null;
          const at = {
            uri: document.uri.toString(),
            line: position.line,
            linePrefix: document.lineAt(position.line).text.slice(0, position.character),
          };
          const rest = this.typeThrough.rest(at);
          if (rest !== undefined) {
            this.typeThrough.remember(at, rest);
            return [new vscode.InlineCompletionItem(rest, new vscode.Range(position, position))];
          }
          const result = await next(document, position, context, token);
          const first = (Array.isArray(result) ? result : result?.items)?.[0]?.insertText;
          if (typeof first === 'string') this.typeThrough.remember(at, first);
          else this.typeThrough.forget();
          return result;
        },
      },
    };
    this.client = new LanguageClient('latent', 'Latent', serverOptions, clientOptions);
    this.client.onDidChangeState((e) => {
      if (e.newState === State.Running) this.changed.fire(this.client);
    });
    try {
      await this.client.start();
    } catch (e) {
      const msg = `latentd (${found.path}) failed to start: ${e instanceof Error ? e.message : String(e)}`;
      this.output.error(msg);
      void vscode.window.showErrorMessage(msg + ' See the "Latent" output.');
    }
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.changed.fire(undefined);
    if (c) await c.stop().catch((e) => this.output.warn(`stopping latentd: ${e}`));
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The client if it is running, else undefined after telling the user why. */
  running(): LanguageClient | undefined {
    if (this.client && this.client.state === State.Running) return this.client;
    void vscode.window.showWarningMessage('latentd is not running. See the "Latent" output or run "Latent: Restart".');
    return undefined;
  }

  dispose(): void {
    void this.stop();
    this.changed.dispose();
    this.output.dispose();
  }
}
