// Inline completions the extension shows, from the real latentd with a model (env LATENTD,
// LATENT_TEST_MODEL): the model loads, textDocument/inlineCompletion answers an
// InlineCompletionList whose item continues the document at the cursor, a superseded request
// is answered with an error, and the status bar then shows the model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ext } from './extension_modules.mjs';
import { makeWorkspace, openDocument, startDaemon, uri, waitStatus } from './daemon_harness.mjs';

const { formatStatusBar } = ext('statusFormat');
const model = process.env.LATENT_TEST_MODEL;

let d;
before(async () => {
  assert.ok(model, 'set LATENT_TEST_MODEL to a GGUF model (ctest does this)');
  d = await startDaemon(makeWorkspace(), { modelPath: model, debounceMs: 0 });
});
after(async () => {
  if (d) await d.close();
});

function complete(file, line, character) {
  return d.conn.sendRequest('textDocument/inlineCompletion', {
    textDocument: { uri: uri(file) }, position: { line, character }, context: { triggerKind: 1 },
  });
}

test('the model given as latent.modelPath loads', async () => {
  // model.problem reads "loading …" until the model is open; waitStatus reports the last one.
  const s = await waitStatus(d, (st) => st.model?.loaded === true, 120000);
  assert.match(formatStatusBar(s).text, /^Latent: (?!no model)/);
});

test('an inline completion continues the document at the cursor', async () => {
  const file = path.join(d.root, 'math.c');
  openDocument(d, file);
  // Cursor at the end of "  return a + b;" (line 2).
  const result = await complete(file, 2, 15);
  const items = Array.isArray(result) ? result : result?.items;
  assert.ok(Array.isArray(items) && items.length > 0, `no items: ${JSON.stringify(result)}`);
  const item = items[0];
  assert.equal(typeof item.insertText, 'string');
  assert.ok(item.insertText.length > 0, 'empty insertText');
  if (item.range) {
    assert.ok(item.range.start.line <= 2 && item.range.end.line === 2, JSON.stringify(item.range));
  }
});

test('a newer request for the same document supersedes the older one', async () => {
  const file = path.join(d.root, 'main.c');
  openDocument(d, file);
  const first = complete(file, 4, 10).then(() => 'answered', (e) => e.code);
  const second = await complete(file, 5, 11);
  const r = await first;
  assert.ok(r === 'answered' || r === -32801 || r === -32800, `first request ended with ${r}`);
  assert.ok(second !== undefined);
});
