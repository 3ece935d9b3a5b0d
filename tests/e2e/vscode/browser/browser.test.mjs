// The packaged extension in a real VS Code (code-server 4.99.4) in a real browser (Debian's
// chromium driven by playwright-core): install latent.vsix, open a C file, type, see the
// inline completion as ghost text, accept it with Tab, ask a repository question, and keep
// screenshots of each step.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const codeServer = path.join(here, 'node_modules', '.bin', 'code-server');
const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`set ${k} (ctest sets LATENTD, LATENT_TEST_MODEL, LATENT_VSIX)`);
  return v;
};
const out = process.env.LATENT_BROWSER_OUT ?? fs.mkdtempSync(path.join(os.tmpdir(), 'latent-browser-out-'));
fs.mkdirSync(out, { recursive: true });

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-browser-'));
const ws = path.join(tmp, 'workspace');
const userData = path.join(tmp, 'user-data');
const extensions = path.join(tmp, 'extensions');
let server, context, page, serverLog = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer ${url} within ${ms} ms; its log:\n${serverLog}`);
}

async function shot(name) {
  const file = path.join(out, name);
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
}

/** Pids of the latentd processes that descend from code-server (started by the extension). */
function latentdPids() {
  const parent = new Map();
  const exe = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      exe.set(Number(d), fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0]);
    } catch {
      // the process ended while we looked
    }
  }
  const descends = (pid) => {
    for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === server.pid) return true;
    return false;
  };
  return [...exe].filter(([pid, cmd]) => cmd === env('LATENTD') && descends(pid)).map(([pid]) => pid);
}

/** The cursor column the status bar shows ("Ln 7, Col 13"). */
async function cursorColumn() {
  const t = await page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).first().innerText();
  return Number(/Col (\d+)/.exec(t)[1]);
}

/** The text of the editor's rendered lines (non-breaking spaces as spaces). */
async function editorLines() {
  return (await page.locator('.editor-instance .view-lines .view-line').allInnerTexts()).map((l) => l.replace(/\u00a0/g, ' '));
}

before(async () => {
  fs.mkdirSync(path.join(ws, '.git'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'math.c'), '// Integer helpers.\nint add(int a, int b) {\n  return a + b;\n}\n');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({
    'latent.serverPath': env('LATENTD'),
    'latent.model': env('LATENT_TEST_MODEL'),
    'latent.debounceMs': 0,
    // Short answers, so that a follow-up's conversation fits the tiny model's 1024 tokens.
    'latent.askMaxTokens': 32,
    'editor.inlineSuggest.enabled': true,
    // Keep the word-based suggest widget out of the way of the ghost text.
    'editor.quickSuggestions': { other: false, comments: false, strings: false },
    'editor.suggestOnTriggerCharacters': false,
    'editor.autoClosingBrackets': 'never',
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
  }, null, 2));
  const xdg = { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'config'), XDG_DATA_HOME: path.join(tmp, 'data') };
  const common = ['--extensions-dir', extensions, '--user-data-dir', userData];
  const t0 = Date.now();
  execFileSync(codeServer, [...common, '--install-extension', env('LATENT_VSIX')], { env: xdg, stdio: 'pipe' });
  console.log(`installed ${env('LATENT_VSIX')} in ${Date.now() - t0} ms`);

  const port = await freePort();
  server = spawn(codeServer, [...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override', ws], { env: xdg, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  await waitHttp(`http://127.0.0.1:${port}/healthz`, 60000);

  context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'chromium-')), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    // Without the background-networking flags chromium floods refused connections here.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 120000 });
});

after(async () => {
  await context?.close().catch(() => {});
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => { server.once('exit', r); setTimeout(r, 5000); });
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

// The extension's item reads "Latent: <model> · <backend>[ · indexing n%][ · cache n%]"; the
// language client's own progress item ("Latent: indexing: …") has no "·".
const STATUS_ITEM = /Latent: (?!no model)[^·]+ · (cpu|vulkan|cuda)/;

test('the status bar shows latentd with its model', async () => {
  const item = page.locator('.statusbar-item', { hasText: STATUS_ITEM }).first();
  await item.waitFor({ timeout: 90000 });
  console.log(`status bar: ${(await item.innerText()).trim()}`);
  await shot('status-bar.png');
});

test('typing shows ghost text and Tab accepts it', async () => {
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'math.c' }).click();
  await page.locator('.tab', { hasText: 'math.c' }).waitFor({ timeout: 30000 });
  await page.locator('.editor-instance .view-lines').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\nint sub(int a, int b) {\n  return a', { delay: 20 });
  const ghost = page.locator('.editor-instance [class*="ghost-text"]').first();
  await ghost.waitFor({ state: 'attached', timeout: 90000 });
  const ghostText = (await page.locator('.editor-instance [class*="ghost-text"]').allTextContents())
    .join('').replace(/\u00a0/g, ' ');
  console.log(`ghost text: ${JSON.stringify(ghostText)}`);
  assert.ok(ghostText.trim().length > 0, 'ghost text is empty');
  await shot('ghost-text.png');

  // Ctrl+Right: VS Code's "accept next word" of an inline suggestion.
  const typed = (await editorLines()).findLast((l) => l.includes('return a'));
  const typedPart = typed.slice(0, typed.length - ghostText.split('\n')[0].length);
  const colBefore = await cursorColumn();
  await page.keyboard.press('Control+ArrowRight');
  await page.waitForFunction((c) => {
    const item = [...document.querySelectorAll('.statusbar-item')].find((e) => /Ln \d+, Col \d+/.test(e.textContent ?? ''));
    return item && Number(/Col (\d+)/.exec(item.textContent)[1]) > c;
  }, colBefore, { timeout: 10000 });
  // The rest of the suggestion stays on screen (re-rendered right after the edit).
  await page.locator('.editor-instance [class*="ghost-text"]').first().waitFor({ state: 'attached', timeout: 5000 });
  await shot('accepted-word.png');

  await page.keyboard.press('Tab');
  await page.waitForFunction(() => document.querySelectorAll('.editor-instance [class*="ghost-text"]').length === 0, null, { timeout: 10000 });
  const after = await editorLines();
  const firstGhostLine = ghostText.split('\n')[0].trimEnd();
  // The typed line is the last "return a" line; with no ghost text left on screen, what it
  // shows past the typed text is buffer text.
  const line = after.findLast((l) => l.includes('return a'));
  assert.ok(line && line.startsWith(typedPart + firstGhostLine.slice(0, 20)),
    `accepted text not in the editor.\nghost: ${JSON.stringify(ghostText)}\ntyped: ${JSON.stringify(typedPart)}\nafter: ${JSON.stringify(after)}`);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+S');
  await page.locator('.tab.dirty').waitFor({ state: 'detached', timeout: 10000 });
  await shot('accepted.png');
});

test('"Latent: Ask about this repository" streams an answer with sources, then a follow-up', async () => {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.keyboard.type('Latent: Ask about this repository');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Ask about this repository' }).first().waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
  await page.getByPlaceholder('Where is the request queue drained?').waitFor({ timeout: 10000 });
  await page.keyboard.type('Where is add defined?');
  await page.keyboard.press('Enter');
  let text = '';
  const end = Date.now() + 90000;
  while (Date.now() < end && !/Sources/.test(text)) {
    for (const f of page.frames()) {
      const t = await f.evaluate(() => document.getElementById('turns')?.innerText ?? '').catch(() => '');
      if (t) text = t;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  console.log(`answer view: ${JSON.stringify(text.slice(0, 300))}`);
  assert.match(text, /Sources/);
  assert.match(text, /math\.c:\d+/);
  await shot('ask.png');

  // The box under the answer asks a follow-up in the same conversation, shown below it.
  const frame = await (async () => {
    const until = Date.now() + 30000;
    while (Date.now() < until) {
      for (const f of page.frames()) if (await f.locator('#follow input').isVisible().catch(() => false)) return f;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.fail('no follow-up box under the answer');
  })();
  await frame.locator('#follow input').fill('And where is mul?');
  await frame.locator('#follow input').press('Enter');
  await frame.locator('#turn-1', { hasText: 'And where is mul?' }).waitFor({ timeout: 90000 });
  await frame.locator('#follow input').waitFor({ state: 'visible', timeout: 90000 });
  assert.match(await frame.locator('#turn-0').innerText(), /Where is add defined\?/);
  await shot('follow-up.png');

  // A source link opens the file at its line.
  for (const f of page.frames()) {
    const link = f.locator('#turns a[data-open]', { hasText: /math\.c:\d+/ }).first();
    if (await link.count().catch(() => 0)) {
      const label = await link.innerText();
      const wantLine = Number(/math\.c:(\d+)/.exec(label)[1]);
      await link.click();
      await page.locator('.statusbar-item', { hasText: `Ln ${wantLine},` }).waitFor({ timeout: 10000 });
      await page.locator('.tab.active', { hasText: 'math.c' }).waitFor({ timeout: 10000 });
      return;
    }
  }
  assert.fail('no math.c source link in the answer view');
});

async function command(title) {
  await page.keyboard.press('F1');
  await page.keyboard.type(title);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title.replace(/^[^:]*: /, '') }).first().waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
}

/**
 * Runs "Latent: Show status" in a clean window; resolves when latentd's answer matching `shown`
 * is on screen (the document may first show its previous content, which VS Code keeps).
 */
async function showStatus(shown = /Model:\s/) {
  await command('View: Close All Editors');
  await page.waitForFunction(() => document.querySelectorAll('.editor-instance').length === 0, null, { timeout: 10000 });
  await command('Latent: Show status');
  // Only latentd's answer has a "Model:" line; the not-running message has none. (Monaco
  // renders spaces as no-break spaces, which \s matches.)
  await page.waitForFunction((source) => [...document.querySelectorAll('.editor-instance .view-lines')]
    .some((e) => new RegExp(source).test(e.textContent ?? '')), shown.source, { timeout: 15000 });
}

test('"Latent: Show status" opens the daemon status, written for people', async () => {
  await showStatus();
  const shown = (await editorLines()).join('\n');
  assert.match(shown, /Workspace: .*: ready, \d+ files in the index/, shown);
  assert.doesNotMatch(shown, /\{"/, shown);
  await shot('status.png');
});

test('a crashed latentd is restarted and serves again', async () => {
  const [pid] = latentdPids();
  assert.ok(pid, 'latentd started by the extension');
  process.kill(pid, 'SIGKILL');
  const end = Date.now() + 30000;
  let pids = [];
  while (Date.now() < end) {
    pids = latentdPids();
    if (pids.length > 0 && !pids.includes(pid)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(pids.length > 0 && !pids.includes(pid), `no new latentd after killing ${pid}`);
  // latent/status reports the daemon's pid: the answer comes from the new process.
  await showStatus(new RegExp(`\\(pid\\s${pids[0]}\\)`));
  await shot('restarted.png');
});

test('completions can be switched off and on for a language', async () => {
  const ghosts = page.locator('.editor-instance [class*="ghost-text"]');
  await command('View: Close All Editors');
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'math.c' }).click();
  await page.locator('.tab', { hasText: 'math.c' }).waitFor({ timeout: 30000 });
  await command('Latent: Disable completions for this language');
  await page.locator('.notifications-toasts', { hasText: 'disabled for c' }).waitFor({ timeout: 10000 });
  await page.locator('.editor-instance .view-lines').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\nint x = ', { delay: 20 });
  // With the language off, no suggestion may appear; give the daemon ample time to have answered.
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(await ghosts.count(), 0, 'ghost text shown for a disabled language');
  await command('Latent: Enable completions for this language');
  await page.locator('.notifications-toasts', { hasText: 'enabled for c' }).waitFor({ timeout: 10000 });
  await page.locator('.editor-instance .view-lines').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('1', { delay: 20 });
  await ghosts.first().waitFor({ state: 'attached', timeout: 60000 });
  await shot('language-enabled.png');
});
