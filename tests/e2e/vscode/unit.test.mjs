// Unit tests of the VS Code extension's editor-independent logic (compiled to
// plugins/vscode/out by `npm run compile`): settings mapping and their match with latentd's
// schema (env LATENTD), workspace/configuration answers, keybindings,
// latentd discovery, the crash-restart cap, status bar text, the streamed answer and type-through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ext, extensionDir } from './extension_modules.mjs';

const { readSettings, daemonSettings, answerConfiguration, isLanguageEnabled, withLanguage, DEFAULT_SETTINGS, DAEMON_KEYS } = ext('settings');
const { resolveServerPath } = ext('serverPath');
const { CrashPolicy } = ext('crashPolicy');
const { formatStatusBar, formatStatusReport } = ext('statusFormat');
const { AnswerStream, normalizeSources } = ext('answer');
const { TypeThrough } = ext('typeThrough');

test('settings map to the daemon keys; only the ones the user set are sent', () => {
  const s = readSettings((k) => ({ model: '/m/ds.gguf', backend: 'vulkan', contextBudget: 1024, serverPath: '/bin/latentd' })[k]);
  assert.deepEqual(daemonSettings(s), { model: '/m/ds.gguf', backend: 'vulkan', contextBudget: 1024 });
  assert.equal(s.serverPath, '/bin/latentd');
  assert.deepEqual(daemonSettings(DEFAULT_SETTINGS), {});
  const gpu = readSettings((k) => ({ backend: 'vulkan', device: 1, gpuLayers: 20 })[k]);
  assert.deepEqual(daemonSettings(gpu), { backend: 'vulkan', device: 1, gpuLayers: 20 });
  const only = { ...DEFAULT_SETTINGS, languages: { '*': false, python: true, cpp: true, go: false } };
  assert.deepEqual(daemonSettings(only).enabledLanguages, ['python', 'cpp']);
});

test("package.json contributes every one of latentd's editor settings, as its schema says", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8'));
  const props = pkg.contributes.configuration.properties;
  const schema = JSON.parse(execFileSync(process.env.LATENTD, ['--settings-schema'], { encoding: 'utf8' }));
  for (const s of schema.filter((x) => x.scope === 'everywhere' && x.key !== 'enabledLanguages')) {
    const p = props[`latent.${s.key}`];
    assert.ok(p, `latent.${s.key} missing`);
    assert.deepEqual([p.type, p.default, p.minimum, p.maximum, p.enum], [s.type, s.default, s.minimum, s.maximum, s.enum], s.key);
    assert.ok(DAEMON_KEYS.includes(s.key), s.key);
  }
  assert.deepEqual(DAEMON_KEYS.filter((k) => !schema.some((s) => s.key === k)), [], 'no setting latentd lacks');
  // The one debounce is latentd's: the extension contributes no delay of its own.
  assert.equal(props['latent.debounceMs'].default, schema.find((s) => s.key === 'debounceMs').default);
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
  const s = { ...DEFAULT_SETTINGS, daemon: { model: '/x.gguf' } };
  const r = answerConfiguration([{ section: 'latent' }, { section: 'latent.model' }, { section: 'editor' }, {}], () => s);
  assert.deepEqual(r, [{ model: '/x.gguf' }, '/x.gguf', null, null]);
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

// A latent/status as latentd sends it (lsp/protocol.h StatusResult).
function status(overrides = {}) {
  return {
    version: '0.1.0', pid: 7,
    model: { loaded: true, configuredPath: '/m.gguf', backend: 'vulkan', name: 'deepseek-coder-v2-lite', path: '/m.gguf', contextLength: 4096, fim: true, chatFormat: 'deepseek-v2' },
    workspaces: [
      { root: '/w', state: 'indexing', files: 0, progress: { filesFound: 200, filesDone: 50, walkDone: true } },
      { root: '/v', state: 'ready', files: 10, lastRun: { filesChecked: 12, filesTotal: 10, filesIndexed: 10, filesSkipped: 2, filesRemoved: 0, problems: 0, cancelled: false, seconds: 0.5 } },
    ],
    completions: { requests: 9, engineRuns: 3, reused: 2, superseded: 4, cancelled: 0, empty: 0 },
    queue: { pendingCompletions: 0, pendingQuestions: 0, workerJobs: 1, engineLive: 1, engineQueued: 0 },
    cache: { promptTokens: 1000, cachedPromptTokens: 750, generatedTokens: 30, hitRate: 0.75 },
    settings: { debounceMs: 50 }, conversations: 1,
    ...overrides,
  };
}

test('status bar text from latentd status', () => {
  const v = formatStatusBar(status());
  assert.equal(v.text, 'Latent: deepseek-coder-v2-lite · vulkan · indexing 25% · cache 75%');
  assert.match(v.tooltip, /\/v: ready, 10 files in the index/);
  assert.match(v.tooltip, /750 of 1000 prompt tokens reused \(75\.0%\)/);
  const none = formatStatusBar(status({ model: { loaded: false, configuredPath: '', backend: 'auto', problem: 'no model configured' }, cache: { promptTokens: 0, cachedPromptTokens: 0, generatedTokens: 0, hitRate: 0 } }));
  assert.equal(none.text, 'Latent: no model · auto · indexing 25%');
  assert.match(none.tooltip, /none loaded: no model configured/);
  const report = formatStatusReport(status());
  assert.match(report, /last run: 12 files checked, 10 updated, 0 removed, 2 skipped by rule, 0 problems, 0\.5 s/);
  assert.match(report, /Conversations kept for follow-ups: 1/);
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
  assert.equal(daemonSettings({ ...DEFAULT_SETTINGS, daemon: { model: '~/m.gguf' } }).model, path.join(os.homedir(), 'm.gguf'));
  assert.equal(daemonSettings({ ...DEFAULT_SETTINGS, daemon: { model: '/a/~b.gguf' } }).model, '/a/~b.gguf');
});

test('follow-ups: the answer remembers its conversation', () => {
  const a = new AnswerStream();
  a.finish({ answer: 'x', modelUsed: true, sources: [], conversation: 'c3' });
  assert.equal(a.conversation, 'c3');
});

test('inline suggestions: accept all, a word or a line, each bound and documented', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8'));
  const readme = fs.readFileSync(path.join(extensionDir, 'README.md'), 'utf8');
  for (const command of ['editor.action.inlineSuggest.commit', 'editor.action.inlineSuggest.acceptNextWord', 'editor.action.inlineSuggest.acceptNextLine']) {
    const k = pkg.contributes.keybindings.find((b) => b.command === command);
    assert.ok(k && /inlineSuggestionVisible/.test(k.when), command);
    assert.ok(readme.includes(command), `${command} documented`);
  }
});

test('typing what the ghost text shows is answered with the rest of it, anything else is not', () => {
  const tt = new TypeThrough();
  const at = { uri: 'file:///a.py', line: 3, linePrefix: '    return ' };
  assert.equal(tt.rest(at), undefined, 'nothing shown yet');
  tt.remember(at, 'a + b');
  assert.equal(tt.rest({ ...at, linePrefix: '    return a' }), ' + b');
  assert.equal(tt.rest({ ...at, linePrefix: '    return a +' }), ' b');
  assert.equal(tt.rest({ ...at, linePrefix: '    return x' }), undefined, 'a different character');
  assert.equal(tt.rest(at), undefined, 'nothing typed: ask latentd');
  assert.equal(tt.rest({ ...at, linePrefix: '    return a + b' }), undefined, 'all of it typed');
  assert.equal(tt.rest({ ...at, line: 4, linePrefix: '    return a' }), undefined, 'another line');
  assert.equal(tt.rest({ ...at, uri: 'file:///b.py', linePrefix: '    return a' }), undefined, 'another document');
  tt.forget();
  assert.equal(tt.rest({ ...at, linePrefix: '    return a' }), undefined, 'forgotten');
});
