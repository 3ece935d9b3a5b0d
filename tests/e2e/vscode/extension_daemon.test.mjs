// The extension's protocol logic against a real latentd (no VS Code): initialization with the
// extension's settings, workspace/configuration answers, status bar text from latent/status,
// streamed latent/ask with sources, latent/reindex, cancellation and a clean shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ext } from './extension_modules.mjs';
import { CancellationTokenSource, makeWorkspace, openDocument, ProgressType, startDaemon, uri, waitStatus } from './daemon_harness.mjs';

const { formatStatusBar, formatStatusReport } = ext('statusFormat');
const { AnswerStream } = ext('answer');

let d;
before(async () => {
  d = await startDaemon(makeWorkspace(), { debounceMs: 0 });
});
after(async () => {
  if (d) {
    const r = await d.close();
    assert.equal(r.code, 0, `latentd exit ${JSON.stringify(r)}; stderr:\n${d.stderr()}`);
  }
});

test('initialize announces inline completions and incremental sync', () => {
  const caps = d.init.capabilities;
  assert.ok(caps.inlineCompletionProvider, JSON.stringify(caps));
  const sync = typeof caps.textDocumentSync === 'object' ? caps.textDocumentSync.change : caps.textDocumentSync;
  assert.equal(sync, 2);
});

test('the workspace gets indexed and the status bar and report show latentd\'s own fields', async () => {
  const status = await waitStatus(d);
  const view = formatStatusBar(status);
  assert.equal(view.text, `Latent: no model · ${status.model.backend}`);
  assert.match(view.tooltip, new RegExp(`${path.basename(d.root)}: ready, 2 files in the index`));
  assert.match(view.tooltip, /Model: none loaded: no model configured: set the model setting \(VS Code: latent\.model;/);
  const report = formatStatusReport(status);
  assert.match(report, /last run: 2 files checked, 2 updated, 0 removed, 0 skipped by rule, 0 problems/);
  assert.match(report, /Completions: \d+ requests;/);
  // Every field the formatter reads is one latentd sends.
  assert.doesNotMatch(report + view.tooltip, /undefined|NaN/, report);
});

test('latent/ask streams through the partial result token and cites workspace files', async () => {
  await waitStatus(d);
  const file = path.join(d.root, 'main.c');
  openDocument(d, file);
  const token = 'ask-1';
  const stream = new AnswerStream();
  let partials = 0;
  const sub = d.conn.onProgress(new ProgressType(), token, (v) => { partials++; stream.push(v); });
  const result = await d.conn.sendRequest('latent/ask', {
    question: 'Where is add defined?',
    textDocument: { uri: uri(file) },
    position: { line: 4, character: 20 },
    partialResultToken: token,
  });
  sub.dispose();
  stream.finish(result);
  assert.equal(typeof result.answer, 'string');
  assert.ok(stream.sources.length > 0, `no sources in ${JSON.stringify(result)}`);
  assert.ok(stream.sources.some((s) => s.uri === uri(path.join(d.root, 'math.c'))), JSON.stringify(stream.sources));
  assert.ok(partials > 0, 'no $/progress partial result arrived');
  assert.match(stream.sourcesHtml(), /data-open="file:\/\/[^"]*math\.c#L\d+"/);
});

test('without a model an answer starts no conversation to follow up', async () => {
  const result = await d.conn.sendRequest('latent/ask', { question: 'add' });
  assert.equal(result.modelUsed, false);
  assert.equal(result.conversation, undefined);
  const stream = new AnswerStream();
  stream.finish(result);
  assert.equal(stream.conversation, undefined);
});

test('latent/reindex is accepted and the index is ready again', async () => {
  await d.conn.sendRequest('latent/reindex', {});
  await waitStatus(d);
});

test('a cancelled request is answered, and the daemon keeps serving', async () => {
  const file = path.join(d.root, 'math.c');
  openDocument(d, file);
  const cts = new CancellationTokenSource();
  const p = d.conn.sendRequest('textDocument/inlineCompletion', {
    textDocument: { uri: uri(file) }, position: { line: 2, character: 2 }, context: { triggerKind: 2 },
  }, cts.token);
  cts.cancel();
  // vscode-jsonrpc resolves a cancelled request on its own; the daemon must still answer later
  // requests on the same connection.
  await p.catch(() => {});
  const status = await d.conn.sendRequest('latent/status', {});
  assert.ok(status.model !== undefined);
});

test('the daemon asked for the latent configuration section and got the extension settings', () => {
  const asked = d.configRequests.flatMap((p) => p.items.map((i) => i.section));
  assert.ok(asked.includes('latent'), `configuration requests: ${JSON.stringify(d.configRequests)}`);
});

test('settings reach the daemon at start and after a change (workspace/configuration pull)', async () => {
  let s = await d.conn.sendRequest('latent/status', {});
  assert.equal(s.settings.debounceMs, 0, JSON.stringify(s.settings));
  d.settings.daemon.contextBudget = 777;
  d.settings.languages = { '*': false, c: true };
  const pulls = d.configRequests.length;
  await d.conn.sendNotification('workspace/didChangeConfiguration', { settings: null });
  s = await waitStatus(d, (st) => st.settings?.contextBudget === 777, 10000);
  assert.deepEqual(s.settings.enabledLanguages, ['c']);
  assert.ok(d.configRequests.length > pulls, 'the daemon pulled the configuration again');
});
