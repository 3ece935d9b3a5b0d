// Starts the real latentd over stdio and talks to it the way the extension does: the
// extension's compiled settings module builds initializationOptions and answers
// workspace/configuration; vscode-jsonrpc (the extension's own dependency) frames the messages.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dep, ext } from './extension_modules.mjs';

const rpc = dep('vscode-jsonrpc/node');
const { readSettings, daemonSettings, answerConfiguration } = ext('settings');

export const { ProgressType, CancellationTokenSource } = rpc;

/** A small repository: a git marker and two C files. */
export function makeWorkspace() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-vscode-ws-'));
  fs.mkdirSync(path.join(root, '.git'));
  fs.writeFileSync(path.join(root, 'math.c'), [
    '// Integer helpers used by main.c.',
    'int add(int a, int b) {',
    '  return a + b;',
    '}',
    '',
    'int mul(int a, int b) {',
    '  return a * b;',
    '}',
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(root, 'main.c'), [
    '#include <stdio.h>',
    'int add(int a, int b);',
    '',
    'int main(void) {',
    '  printf("%d\\n", add(2, 3));',
    '  return 0;',
    '}',
    '',
  ].join('\n'));
  return root;
}

export function uri(p) {
  return pathToFileURL(p).href;
}

/**
 * Spawns latentd (env LATENTD) for `root`. `overrides` are the latent.* settings the user set
 * (model, debounceMs, languages, …).
 * Returns { conn, proc, root, init, settings, configRequests, stderr(), close(), exited }.
 */
export async function startDaemon(root, overrides = {}) {
  const exe = process.env.LATENTD;
  if (!exe) throw new Error('set LATENTD to the latentd binary (ctest does this)');
  const proc = spawn(exe, ['--stdio'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout), new rpc.StreamMessageWriter(proc.stdin));
  const settings = readSettings((k) => overrides[k]);
  // Tests change fields of `settings` and notify; answers always read the current values.
  const configRequests = [];
  conn.onRequest('workspace/configuration', (params) => {
    configRequests.push(params);
    return answerConfiguration(params.items, () => settings);
  });
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onNotification('window/logMessage', () => {});
  conn.onNotification('window/showMessage', () => {});
  // No generic $/progress handler: it would replace vscode-jsonrpc's per-token dispatch
  // (connection.onProgress), which is how the extension receives partial results.
  conn.listen();
  const init = await conn.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'latent-vscode-test' },
    rootUri: uri(root),
    workspaceFolders: [{ uri: uri(root), name: path.basename(root) }],
    initializationOptions: daemonSettings(settings),
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      workspace: { configuration: true, workspaceFolders: true },
      window: { workDoneProgress: true },
      textDocument: { synchronization: { dynamicRegistration: false }, inlineCompletion: { dynamicRegistration: false } },
    },
  });
  await conn.sendNotification('initialized', {});
  const close = async () => {
    try {
      await conn.sendRequest('shutdown');
      await conn.sendNotification('exit');
    } catch {
      // The daemon already went away; exited tells how.
    }
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const r = await exited;
    clearTimeout(t);
    conn.dispose();
    fs.rmSync(root, { recursive: true, force: true });
    return r;
  };
  return { conn, proc, root, init, settings, configRequests, stderr: () => stderr, close, exited };
}

/** Polls latent/status until `pred(status)` holds (default: every workspace ready). */
export async function waitStatus(d, pred = (s) => (s.workspaces ?? []).length > 0 && s.workspaces.every((w) => w.state === 'ready'), ms = 60000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await d.conn.sendRequest('latent/status', {});
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`latent/status did not reach the expected state within ${ms} ms; last: ${JSON.stringify(last)}\nlatentd stderr:\n${d.stderr()}`);
}

export function openDocument(d, file, languageId = 'c') {
  const text = fs.readFileSync(file, 'utf8');
  d.conn.sendNotification('textDocument/didOpen', { textDocument: { uri: uri(file), languageId, version: 1, text } });
  return text;
}
