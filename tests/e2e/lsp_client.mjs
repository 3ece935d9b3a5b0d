// The pieces of an independent LSP client (vscode-languageserver-protocol / vscode-jsonrpc from
// npm) that the e2e tests share: a scratch repository, latentd on stdio, initialize, waiting.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const rpc = require('vscode-jsonrpc/node');
export const protocol = require('vscode-languageserver-protocol/node');

export const LATENTD = process.env.LATENTD;
if (!LATENTD) throw new Error('set LATENTD to the latentd binary');

export function makeRepo() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-e2e-'));
  fs.mkdirSync(path.join(root, 'lib'));
  fs.writeFileSync(path.join(root, 'lib', 'geometry.py'),
    'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius * radius\n\n\n' +
    'class Rectangle:\n    def __init__(self, w, h):\n        self.w = w\n        self.h = h\n');
  fs.writeFileSync(path.join(root, 'main.py'),
    'from lib.geometry import circle_area\n\nprint(circle_area(2.0))\n');
  return root;
}

// Every daemon a test starts on stdio; a test that fails midway leaves its daemon running, and
// its open pipes would keep the test file alive until CTest's timeout.
const daemons = new Set();

// For each test file's after(): ends the daemons its tests left running.
export function stopDaemons() {
  for (const child of daemons) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export function startStdio(args = []) {
  const child = spawn(LATENTD, ['--stdio', '--no-log-file', '--log-level', 'warn', ...args],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  daemons.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const connection = protocol.createProtocolConnection(
    new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  return { child, connection, exited, stderr: () => stderr };
}

export function serveClientRequests(connection) {
  const registrations = [];
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onRequest('workspace/configuration', (params) => params.items.map(() => ({})));
  connection.onRequest('client/registerCapability', (params) => { registrations.push(...params.registrations); return null; });
  return registrations;
}

export async function initialize(connection, root, extra = {}) {
  const result = await connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'latent-e2e' },
    rootUri: pathToFileURL(root).href,
    workspaceFolders: [{ uri: pathToFileURL(root).href, name: path.basename(root) }],
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      window: { workDoneProgress: true },
      workspace: { configuration: true, workspaceFolders: true, didChangeWatchedFiles: { dynamicRegistration: true } },
      textDocument: { inlineCompletion: {} },
    },
    ...extra,
  });
  await connection.sendNotification('initialized', {});
  return result;
}

export async function waitFor(predicate, what, timeoutMs = 20000) {
  const start = Date.now();
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
