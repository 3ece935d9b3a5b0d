// latentd's HTTP API end to end, all real HTTP on loopback with the golden tiny model:
//  - the official `openai` npm client against `latentd --no-lsp --http` (completions and chat,
//    plain and streamed, fill-in-the-middle through `suffix`, errors, API key on and off);
//  - the /infill requests llama.vim and llama.vscode send, replayed as they send them;
//  - `latentd --remote` (over LSP on stdio) against that server: an inline completion and a
//    streamed latent/ask answer produced by the other daemon.
// Run: LATENTD=<build>/daemon/latentd LATENT_TEST_MODEL=<gguf> node --test http_e2e.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';

import { LATENTD, makeRepo, startStdio, stopDaemons, serveClientRequests, initialize, waitFor } from './lsp_client.mjs';

const MODEL = process.env.LATENT_TEST_MODEL;
if (!MODEL) throw new Error('set LATENT_TEST_MODEL to the tiny golden model');

// Starts `latentd --no-lsp --http 127.0.0.1:0 ...`; resolves once it answers /health with 200.
async function startHttp(extra = []) {
  const child = spawn(LATENTD, ['--no-lsp', '--http', '127.0.0.1:0', '--model', MODEL, '--no-log-file', '--threads', '1', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await waitFor(() => stderr.match(/serving HTTP on http:\/\/127\.0\.0\.1:(\d+)/)?.[1], 'the HTTP port');
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health`).catch(() => null))?.status === 200, 'the model to load', 60000);
  const stop = async () => {
    child.kill('SIGTERM');
    return exited;
  };
  return { url, child, stderr: () => stderr, stop };
}

// Several KV pages (64 tokens each) of code, so that a repeated prompt is served from the cache.
const MODULE = ['circle', 'square', 'triangle', 'hexagon', 'ellipse', 'polygon'].map((shape, i) =>
  `def ${shape}_area(size):\n    \"\"\"The area of a ${shape} of the given size.\"\"\"\n    return ${i + 1}.5 * size * size\n\n\n`).join('');
const PROMPT = 'import math\n\n\n' + MODULE + 'def total_area(shapes):\n    return';

let server;
let client;
before(async () => {
  server = await startHttp();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(stopDaemons);
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});

async function streamedText(stream, pick) {
  let text = '';
  let last;
  for await (const chunk of stream) {
    if (chunk.choices.length) text += pick(chunk.choices[0]) ?? '';
    last = chunk;
  }
  return { text, last };
}

test('openai client: /v1/models lists the served model', async () => {
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(typeof models.data[0].id, 'string');
});

test('openai client: completions, plain and streamed, agree and reuse the cached prompt', async () => {
  const request = { model: 'latent', prompt: PROMPT, max_tokens: 8, temperature: 0 };
  const first = await client.completions.create(request);
  assert.equal(first.object, 'text_completion');
  assert.equal(typeof first.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(first.choices[0].finish_reason));
  assert.ok(first.usage.prompt_tokens > 16);
  assert.equal(first.usage.total_tokens, first.usage.prompt_tokens + first.usage.completion_tokens);

  const again = await client.completions.create(request);
  assert.equal(again.choices[0].text, first.choices[0].text, 'greedy decoding is deterministic');
  assert.ok(again.usage.prompt_tokens_details.cached_tokens > 0, JSON.stringify(again.usage));

  const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
  const { text, last } = await streamedText(stream, (c) => c.text);
  assert.equal(text, first.choices[0].text);
  assert.equal(last.usage.prompt_tokens, first.usage.prompt_tokens);
});

test('openai client: fill-in-the-middle through suffix', async () => {
  const r = await client.completions.create({
    model: 'latent', prompt: 'def add(a, b):\n    return ', suffix: '\n\nprint(add(1, 2))\n', max_tokens: 6, temperature: 0,
  });
  assert.equal(typeof r.choices[0].text, 'string');
  assert.doesNotMatch(r.choices[0].text, /<｜fim/, 'no FIM token in the text');
});

test('openai client: chat, plain and streamed', async () => {
  const request = { model: 'latent', messages: [{ role: 'user', content: 'What does circle_area return?' }], max_tokens: 8, temperature: 0 };
  const plain = await client.chat.completions.create(request);
  assert.equal(plain.object, 'chat.completion');
  assert.equal(plain.choices[0].message.role, 'assistant');
  assert.equal(typeof plain.choices[0].message.content, 'string');
  const stream = await client.chat.completions.create({ ...request, stream: true });
  const { text } = await streamedText(stream, (c) => c.delta.content);
  assert.equal(text, plain.choices[0].message.content);
});

test('openai client: errors arrive as APIError with status and message', async () => {
  await assert.rejects(client.completions.create({ model: 'latent', prompt: 'x', n: 2 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.status, 400);
    assert.match(e.message, /n = 1/);
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: 'latent', messages: [] }), (e) => e.status === 400);
  await assert.rejects(client.embeddings.create({ model: 'latent', input: 'x' }), (e) => e.status === 404);
});

test('API key: required when configured, never logged', async () => {
  const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'latent-key-')), 'key');
  const key = 'k-' + Math.random().toString(36).slice(2);
  fs.writeFileSync(keyFile, key + '\n');
  const guarded = await startHttp(['--api-key-file', keyFile, '--log-level', 'debug']);
  try {
    const wrong = new OpenAI({ baseURL: `${guarded.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(wrong.completions.create({ model: 'latent', prompt: 'x', max_tokens: 1 }),
      (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    const right = new OpenAI({ baseURL: `${guarded.url}/v1`, apiKey: key, maxRetries: 0 });
    const r = await right.completions.create({ model: 'latent', prompt: 'x', max_tokens: 1, temperature: 0 });
    assert.equal(r.choices.length, 1);
  } finally {
    await guarded.stop();
  }
  assert.ok(!guarded.stderr().includes(key), 'the key is not in the log');
  // Any address but loopback needs a key.
  const open = spawn(LATENTD, ['--no-lsp', '--http', '0.0.0.0:0', '--no-log-file'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  open.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => open.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(err, /api-key-file/);
});

// llama.vim (autoload/llama.vim, s:fim_send) posts this to /infill with curl, and a ring-buffer
// update with n_predict 0 to warm the server's cache with the extra chunks.
test('/infill: the requests llama.vim sends', async () => {
  const extra = [{ text: MODULE, time: 1733600000, filename: 'geometry.py' }];
  const common = {
    id_slot: 0, input_extra: extra, input_prefix: 'import geometry\n\n', input_suffix: '\n', prompt: 'print(geometry.',
    n_indent: 0, top_k: 40, top_p: 0.90, samplers: ['top_k', 'top_p', 'infill'], cache_prompt: true,
    t_max_prompt_ms: 500, t_max_predict_ms: 1000, stop: [], stream: false,
    response_fields: ['content', 'timings/prompt_n', 'timings/prompt_ms', 'timings/prompt_per_token_ms',
      'timings/prompt_per_second', 'timings/predicted_n', 'timings/predicted_ms', 'timings/predicted_per_token_ms',
      'timings/predicted_per_second', 'truncated', 'tokens_cached'],
  };
  const warm = await fetch(`${server.url}/infill`, { method: 'POST', body: JSON.stringify({ ...common, n_predict: 0 }) });
  assert.equal(warm.status, 200);
  assert.equal((await warm.json()).content, '');
  const res = await fetch(`${server.url}/infill`, { method: 'POST', body: JSON.stringify({ ...common, n_predict: 8 }) });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(typeof body.content, 'string');
  assert.equal(body.stop, true);
  assert.equal(body.truncated, false);
  assert.ok(body.tokens_cached > 0, 'the prompt warmed by the n_predict 0 request is reused: ' + JSON.stringify(body));
  for (const k of ['prompt_n', 'prompt_ms', 'predicted_n', 'predicted_ms']) assert.equal(typeof body.timings[k], 'number', k);
});

// llama.vscode (src/llama-server.ts, createRequestPayload) posts these with axios.
test('/infill: the requests llama.vscode sends', async () => {
  const chunks = [{ text: 'class Rectangle:\n    def __init__(self, w, h):\n        self.w = w\n        self.h = h\n\n' + MODULE,
    time: 1733600000, filename: 'shapes.py' }];
  const prepare = { input_prefix: '', input_suffix: '', input_extra: chunks, prompt: '', n_predict: 0, samplers: [],
    cache_prompt: true, t_max_prompt_ms: 500, t_max_predict_ms: 1 };
  const warm = await fetch(`${server.url}/infill`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(prepare) });
  assert.equal(warm.status, 200);
  assert.equal((await warm.json()).content, '', 'the reply ends once the prompt is in the cache');
  const complete = { input_prefix: 'r = Rectangle(2, 3)\n', input_suffix: '\n', input_extra: chunks, prompt: 'area = r.',
    n_predict: 8, top_k: 40, top_p: 0.99, stream: false, samplers: ['top_k', 'top_p', 'infill'], cache_prompt: true,
    n_indent: 4, t_max_prompt_ms: 500, t_max_predict_ms: 2500 };
  const res = await fetch(`${server.url}/infill`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(complete) });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(typeof body.content, 'string');
  assert.ok(body.tokens_cached > 0, JSON.stringify(body));
});

test('latentd --remote: inline completion and a streamed answer over LSP come from the other daemon', async () => {
  const root = makeRepo();
  const before = await (await fetch(`${server.url}/v1/models`)).json();
  assert.equal(before.data.length, 1);
  const { connection, exited, stderr } = startStdio(['--workers', '1', '--remote', server.url]);
  serveClientRequests(connection);
  const progress = [];
  connection.onNotification('$/progress', (p) => progress.push(p));
  connection.listen();
  await initialize(connection, root, { initializationOptions: { maxTokens: 8, askMaxTokens: 8, debounceMs: 0 } });
  const status = await waitFor(async () => {
    const s = await connection.sendRequest('latent/status', {});
    return s.model.loaded ? s : null;
  }, 'the remote model');
  assert.equal(status.model.backend, 'remote');
  assert.equal(status.model.remote.url, server.url);
  assert.equal(status.model.remote.fimTemplate, 'suffix', 'latentd lays out its own FIM prompt');

  const uri = pathToFileURL(path.join(root, 'main.py')).href;
  const text = 'def add(a, b):\n    return a\n';
  await connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
  const result = await connection.sendRequest('textDocument/inlineCompletion', {
    textDocument: { uri }, position: { line: 1, character: 12 }, context: { triggerKind: 1 },
  });
  assert.equal(result.items.length, 1, JSON.stringify(result));
  assert.ok(result.items[0].insertText.length > 0);

  const token = 'ask-remote';
  const answer = await connection.sendRequest('latent/ask', { question: 'what does circle_area return?', partialResultToken: token });
  assert.equal(answer.modelUsed, true, JSON.stringify(answer));
  const pieces = progress.filter((p) => p.token === token && p.value.text).map((p) => p.value.text);
  assert.ok(pieces.length >= 1, 'the answer streamed in pieces');

  const after = await connection.sendRequest('latent/status', {});
  assert.ok(after.model.remote.requests >= 2, JSON.stringify(after.model.remote));
  assert.equal(after.model.remote.errors, 0, after.model.remote.lastError);
  await connection.sendRequest('shutdown');
  await connection.sendNotification('exit');
  assert.equal((await exited).code, 0, stderr());
  connection.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});
