// Generates the editor plugins' copies of latentd's settings from its one schema
// (daemon/server/settings.cpp, printed by `latentd --settings-schema`), as rust-analyzer does with
// its configuration docs:
//   plugins/vscode/package.json   contributes.configuration: latent.<key> for each setting
//   plugins/vscode/README.md      the settings table
//   plugins/nvim/lua/latent/schema.lua   the Neovim plugin's defaults and checks of `server`
//   plugins/nvim/doc/latent.txt   *latent-server* in :help latent
//   README.md                     the Configuration table
// Usage: node plugins/sync_settings.mjs [--check] [--latentd PATH]
//   --check: change nothing; exit 1 naming every file that differs (the CI test).
// latentd is PATH, else $LATENTD, else build/daemon/latentd.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const latentdArg = args.indexOf('--latentd');
const latentd = latentdArg >= 0 ? args[latentdArg + 1] : process.env.LATENTD ?? path.join(repo, 'build', 'daemon', 'latentd');

const schema = JSON.parse(execFileSync(latentd, ['--settings-schema'], { encoding: 'utf8' }));
// Settings an editor sends: not the flag-only ones, and not enabledLanguages, which both plugins
// derive from their own per-language switches (VS Code latent.languages, Neovim filetypes).
const editorSettings = schema.filter((s) => s.scope === 'everywhere' && s.key !== 'enabledLanguages');

const sentence = (d) => d.charAt(0).toUpperCase() + d.slice(1) + '.';
const shown = (v) => (v === '' ? 'none' : Array.isArray(v) ? (v.length ? v.join(', ') : 'all') : String(v));
const range = (s) => (s.enum ? s.enum.join(' / ') : s.minimum !== undefined ? `${s.minimum}..${s.maximum}` : '');
const flag = (s) => (s.type === 'boolean' ? `--[no-]${s.flag}` : `--${s.flag}`);

// --- VS Code -----------------------------------------------------------------------------------
// The extension's own settings, kept as they are; every other latent.* property is generated.
const VSCODE_OWN = ['serverPath', 'languages', 'maxRestarts'];

function vscodeProperty(s) {
  const p = { type: s.type, default: s.default };
  if (s.type === 'array') p.items = { type: 'string' };
  if (s.minimum !== undefined) Object.assign(p, { minimum: s.minimum, maximum: s.maximum });
  if (s.enum) p.enum = s.enum;
  if (s.key === 'model') p.scope = 'machine';
  p.markdownDescription = sentence(s.description) + ` (latentd \`${flag(s)}\`)`;
  return p;
}

function packageJson(text) {
  const pkg = JSON.parse(text);
  const old = pkg.contributes.configuration.properties;
  const props = {};
  const own = (k) => { props[`latent.${k}`] = old[`latent.${k}`]; };
  own('serverPath');
  for (const s of editorSettings) props[`latent.${s.key}`] = vscodeProperty(s);
  for (const k of VSCODE_OWN.slice(1)) own(k);
  pkg.contributes.configuration.properties = props;
  return JSON.stringify(pkg, null, 2) + '\n';
}

// Replaces the rows of the markdown table whose header line is `header` (up to the first line
// that is not a table row).
function replaceTable(text, header, rows) {
  const lines = text.split('\n');
  const at = lines.indexOf(header);
  if (at < 0) throw new Error(`table "${header}" not found`);
  let end = at + 2;
  while (end < lines.length && lines[end].startsWith('|')) end++;
  lines.splice(at + 2, end - at - 2, ...rows);
  return lines.join('\n');
}

function vscodeReadme(text) {
  return replaceTable(text, '| setting | default | meaning |', [
    '| `latent.serverPath` | empty | `latentd` binary; empty: from `PATH`, then next to the extension |',
    ...editorSettings.map((s) => `| \`latent.${s.key}\` | ${shown(s.default)} | ${s.description} |`),
    '| `latent.languages` | `{ "*": true, "plaintext": false, ... }` | completions per language id; `*` applies to the rest |',
    '| `latent.maxRestarts` | 3 | crash restarts within 3 minutes before giving up |',
  ]);
}

// --- Neovim ------------------------------------------------------------------------------------
const lua = (v) => (typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
  : Array.isArray(v) ? `{ ${v.map(lua).join(', ')} }` : String(v));

function schemaLua() {
  const entries = editorSettings.map((s) => {
    const f = [`key = ${lua(s.key)}`, `type = ${lua(s.type)}`, `default = ${lua(s.default)}`];
    if (s.minimum !== undefined) f.push(`minimum = ${s.minimum}`, `maximum = ${s.maximum}`);
    if (s.enum) f.push(`enum = ${lua(s.enum)}`);
    f.push(`flag = ${lua(s.flag)}`, `description = ${lua(s.description)}`);
    return `  { ${f.join(', ')} },`;
  });
  return [
    '-- latentd\'s settings that latent.nvim passes on as `server = { ... }`, with their defaults,',
    '-- ranges and descriptions. Generated from `latentd --settings-schema` by',
    '-- plugins/sync_settings.mjs; do not edit (CI checks that it matches).',
    'return {',
    ...entries,
    '}',
    '',
  ].join('\n');
}

// Wraps `text` at 78 columns with `indent`.
function wrap(text, indent) {
  const out = [];
  let line = indent;
  for (const word of text.split(' ')) {
    if (line.trim() && line.length + 1 + word.length > 78) {
      out.push(line);
      line = indent;
    }
    line += (line.trim() ? ' ' : '') + word;
  }
  out.push(line);
  return out;
}

function nvimHelp(text) {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trimEnd().endsWith('*latent-server*'));
  if (at < 0) throw new Error('*latent-server* not found');
  let end = at + 1;
  while (end < lines.length && !lines[end].startsWith('=====')) end++;
  const body = [
    '`server` is sent to latentd as initializationOptions and answers its',
    'workspace/configuration requests (section "latent"). Only the keys you set',
    'are sent; the rest keep latentd\'s defaults (or its command-line flags).',
    'A non-empty `filetypes` is sent as `enabledLanguages`. Keys, defaults and',
    'ranges (the same as `latentd --help`):',
    '',
  ];
  for (const s of editorSettings) {
    const r = range(s);
    body.push(`  ${s.key} (${s.type}, default ${shown(s.default)}${r ? ', ' + r : ''})`);
    body.push(...wrap(s.description, '      '));
  }
  body.push('');
  lines.splice(at + 1, end - at - 1, ...body);
  return lines.join('\n');
}

// --- README ------------------------------------------------------------------------------------
function readme(text) {
  // The description names a string setting's choices itself; integers get their range.
  return replaceTable(text, '| setting | flag | default | meaning |', schema.map((s) => {
    const r = s.minimum !== undefined ? ` (${range(s)})` : '';
    return `| \`${s.key}\` | \`${flag(s)}\` | ${shown(s.default)} | ${s.description}${r}${s.scope === 'flag' ? '; a flag only' : ''} |`;
  }));
}

// -----------------------------------------------------------------------------------------------
const targets = [
  ['plugins/vscode/package.json', packageJson],
  ['plugins/vscode/README.md', vscodeReadme],
  ['plugins/nvim/lua/latent/schema.lua', schemaLua],
  ['plugins/nvim/doc/latent.txt', nvimHelp],
  ['README.md', readme],
];
const stale = [];
for (const [rel, generate] of targets) {
  const file = path.join(repo, rel);
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const after = generate(before);
  if (after === before) continue;
  stale.push(rel);
  if (!check) fs.writeFileSync(file, after);
}
if (check && stale.length) {
  console.error(`settings out of date with latentd --settings-schema: ${stale.join(', ')}\n` +
    'regenerate them: node plugins/sync_settings.mjs --write');
  process.exit(1);
}
console.log(stale.length ? `updated: ${stale.join(', ')}` : 'settings in sync with latentd --settings-schema');
