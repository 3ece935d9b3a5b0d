// Unit tests of the VS Code extension's editor-independent logic (compiled to
// plugins/vscode/out by `npm run compile`): settings mapping, workspace/configuration answers,
// latentd discovery, the crash-restart cap, status bar text and the streamed answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ext } from './extension_modules.mjs';

const { readSettings, daemonSettings, answerConfiguration, isLanguageEnabled, withLanguage, DEFAULT_SETTINGS } = ext('settings');
const { resolveServerPath } = ext('serverPath');
const { CrashPolicy } = ext('crashPolicy');
const { formatStatusBar } = ext('statusFormat');
const { AnswerStream, normalizeSources } = ext('answer');

test('settings map to the daemon keys and leave defaults to the daemon', () => {
  const s = readSettings((k) => ({ modelPath: '/m/ds.gguf', backend: 'vulkan', contextBudget: 1024 })[k]);
  assert.deepEqual(daemonSettings(s), { debounceMs: 75, model: '/m/ds.gguf', backend: 'vulkan', contextBudget: 1024 });
  assert.deepEqual(daemonSettings(DEFAULT_SETTINGS), { debounceMs: 75 });
  const gpu = readSettings((k) => ({ backend: 'vulkan', device: 1, gpuLayers: 20 })[k]);
  assert.deepEqual(daemonSettings(gpu), { debounceMs: 75, backend: 'vulkan', device: 1, gpuLayers: 20 });
  const only = { ...DEFAULT_SETTINGS, languages: { '*': false, python: true, cpp: true, go: false } };
  assert.deepEqual(daemonSettings(only).enabledLanguages, ['python', 'cpp']);
});

test('per-language switches', () => {
  const l = DEFAULT_SETTINGS.languages;
  assert.equal(isLanguageEnabled(l, 'python'), true);
  assert.equal(isLanguageEnabled(l, 'markdown'), false);
  assert.equal(isLanguageEnabled(withLanguage(l, 'markdown', true), 'markdown'), true);
  assert.equal(isLanguageEnabled(withLanguage(l, 'rust', false), 'rust'), false);
  assert.equal(isLanguageEnabled({}, 'c'), true);
});

test('workspace/configuration answers the latent section, its keys, and null otherwise', () => {
  const s = { ...DEFAULT_SETTINGS, modelPath: '/x.gguf' };
  const r = answerConfiguration([{ section: 'latent' }, { section: 'latent.model' }, { section: 'editor' }, {}], () => s);
  assert.deepEqual(r, [{ debounceMs: 75, model: '/x.gguf' }, '/x.gguf', null, null]);
});

test('latentd is found from the setting, PATH, or beside the extension, with actionable errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-path-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const exe = path.join(bin, 'latentd');
  fs.writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
  assert.deepEqual(resolveServerPath(exe, '', '/nowhere'), { path: exe });
  assert.deepEqual(resolveServerPath('', `/nowhere${path.delimiter}${bin}`, '/nowhere'), { path: exe });
  // <prefix>/share/latent/vscode -> <prefix>/bin/latentd
  const extDir = path.join(dir, 'share', 'latent', 'vscode');
  fs.mkdirSync(extDir, { recursive: true });
  assert.equal(resolveServerPath('', '', extDir).path, path.join(extDir, '..', '..', '..', 'bin', 'latentd'));
  assert.match(resolveServerPath('/no/such/latentd', '', '/nowhere').error, /latent\.serverPath/);
  assert.match(resolveServerPath('', '/nowhere', '/nowhere').error, /not found on PATH/);
});

test('crash restarts are capped within the window and allowed again after it', () => {
  let now = 0;
  const p = new CrashPolicy(2, 1000, () => now);
  assert.equal(p.shouldRestart(), true);
  assert.equal(p.shouldRestart(), true);
  assert.equal(p.shouldRestart(), false);
  now = 5000;
  assert.equal(p.shouldRestart(), true);
});

test('status bar text from latentd status', () => {
  const v = formatStatusBar({
    model: { loaded: true, name: 'deepseek-coder-v2-lite', backend: 'vulkan' },
    workspaces: [{ root: '/w', state: 'indexing', progress: { filesFound: 200, filesDone: 50 } }, { root: '/v', state: 'ready', files: 10 }],
    cache: { hits: 3, misses: 1 },
  });
  assert.equal(v.text, 'Latent: deepseek-coder-v2-lite · vulkan · indexing 25% · cache 75%');
  assert.match(v.tooltip, /\/v: ready \(10 files\)/);
  const none = formatStatusBar({ model: { loaded: false, problem: 'no model configured' }, workspaces: [] });
  assert.equal(none.text, 'Latent: no model');
  assert.match(none.tooltip, /no model configured/);
  assert.equal(formatStatusBar(null).text, 'Latent: no model');
});

test('answer stream appends chunks, takes final sources, renders file:line links', () => {
  const a = new AnswerStream();
  a.push({ sources: [{ location: { uri: 'file:///w/a.c', range: { start: { line: 9, character: 0 }, end: { line: 12, character: 0 } } }, path: 'a.c', line: 10, symbol: 'main' }] });
  a.push({ text: 'It is ' });
  a.push('in main.');
  assert.equal(a.text, 'It is in main.');
  assert.deepEqual(a.sources, [{ uri: 'file:///w/a.c', line: 10, label: 'a.c:10 (main)' }]);
  a.finish({ answer: 'It is in main().', sources: [{ uri: 'file:///w/b.c', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }] });
  assert.equal(a.text, 'It is in main().');
  assert.match(a.markdown('Where?'), /^### Where\?\n\nIt is in main\(\)\.$/);
  assert.equal(a.sourcesHtml(), '<h4>Sources</h4><ul><li><a href="#" data-open="file:///w/b.c#L1">/w/b.c:1</a></li></ul>');
  a.sources = [{ uri: 'file:///w/x.c', line: 3, label: '<x>.c:3' }];
  assert.match(a.sourcesHtml(), />&lt;x&gt;\.c:3</);
  assert.deepEqual(normalizeSources('junk'), []);
});

test('a model path starting with ~ reaches the daemon expanded', () => {
  assert.equal(daemonSettings({ ...DEFAULT_SETTINGS, modelPath: '~/m.gguf' }).model, path.join(os.homedir(), 'm.gguf'));
  assert.equal(daemonSettings({ ...DEFAULT_SETTINGS, modelPath: '/a/~b.gguf' }).model, '/a/~b.gguf');
});

test('cache hit rate from prompt tokens served by the prefix cache', () => {
  const v = formatStatusBar({ model: { loaded: true, name: 'm' }, backend: 'cpu', cache: { promptTokensCached: 900, promptTokensEvaluated: 100 } });
  assert.equal(v.text, 'Latent: m · cpu · cache 90%');
  assert.match(formatStatusBar({ model: { loaded: true, name: 'm' }, cache: { steps: 3 } }).tooltip, /no hit statistics/);
});
