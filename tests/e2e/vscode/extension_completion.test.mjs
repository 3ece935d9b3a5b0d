// Inline completions the extension shows, from the real latentd with a model (env LATENTD,
// LATENT_TEST_MODEL): the model loads, textDocument/inlineCompletion answers an
// InlineCompletionList whose item continues the document at the cursor, a superseded request
// is answered with an error, the status bar then shows the model, and a follow-up question in
// the answer view's conversation reuses the cached earlier turn.
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
  // Short answers: the tiny model's context (1024 tokens) then holds a conversation's turns.
  d = await startDaemon(makeWorkspace(), { model, debounceMs: 0, askMaxTokens: 32 });
});
after(async () => {
  if (d) await d.close();
});

function complete(file, line, character) {
  return d.conn.sendRequest('textDocument/inlineCompletion', {
    textDocument: { uri: uri(file) }, position: { line, character }, context: { triggerKind: 1 },
  });
}

test('the model given as latent.model loads', async () => {
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

test('a follow-up question continues the conversation and reuses its cached prompt', async () => {
  const { AnswerStream } = ext('answer');
  const first = new AnswerStream();
  first.finish(await d.conn.sendRequest('latent/ask', { question: `Which functions does math.c define? ${'Name each with its parameters. '.repeat(20)}` }));
  assert.ok(first.conversation, 'the answer names its conversation');
  const before = (await d.conn.sendRequest('latent/status', {})).cache;
  const second = new AnswerStream();
  second.finish(await d.conn.sendRequest('latent/ask', { question: 'And which of them multiplies?', conversation: first.conversation }));
  assert.equal(second.conversation, first.conversation);
  const after = (await d.conn.sendRequest('latent/status', {})).cache;
  assert.ok(after.cachedPromptTokens - before.cachedPromptTokens >= 64,
    `the follow-up reused ${after.cachedPromptTokens - before.cachedPromptTokens} cached prompt tokens`);
});
