// The README's main job, as an editor would do it: start latentd over stdio, open a file of the
// repository, ask for an inline completion at a cursor, then ask a question about the repository
// and print the streamed answer with its sources. Any failure exits non-zero with the reason.
//
// node demo_client.mjs --latentd PATH --repo DIR --file REL --line N --model GGUF
//                      [--question TEXT] [--state DIR]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const rpc = require('vscode-jsonrpc/node');

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['latentd', 'repo', 'file', 'line', 'model'])
    if (!out[k]) throw new Error(`missing --${k}`);
  return out;
}

function step(text) {
  process.stdout.write(`\n== ${text}\n`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const repo = path.resolve(args.repo);
  const file = path.join(repo, args.file);
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const line = Math.min(Number(args.line), lines.length - 1);
  const question = args.question ?? 'Where is the KV cache page eviction implemented?';

  step(`starting latentd (stdio) with ${path.basename(args.model)}`);
  const env = { ...process.env };
  if (args.state) env.XDG_STATE_HOME = args.state;
  const child = spawn(args.latentd, ['--stdio', '--model', path.resolve(args.model), '--log-level', 'warn'],
    { stdio: ['pipe', 'pipe', 'inherit'], env });
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout),
    new rpc.StreamMessageWriter(child.stdin));
  const progress = new Map();
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onRequest('workspace/configuration', (p) => p.items.map(() => ({})));
  conn.onRequest('client/registerCapability', () => null);
  conn.onNotification('$/progress', (p) => {
    const handler = progress.get(p.token);
    if (handler) handler(p.value);
    else if (p.value && p.value.kind === 'end') process.stdout.write(`   indexing: ${p.value.message ?? 'done'}\n`);
  });
  conn.listen();

  const root = pathToFileURL(repo).href;
  const init = await conn.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'latent-demo' },
    rootUri: root,
    workspaceFolders: [{ uri: root, name: path.basename(repo) }],
    capabilities: {
      general: { positionEncodings: ['utf-8', 'utf-16'] },
      window: { workDoneProgress: true },
      workspace: { configuration: true, workspaceFolders: true },
      textDocument: { inlineCompletion: {} },
    },
  });
  conn.sendNotification('initialized', {});
  process.stdout.write(`   server: ${init.serverInfo?.name} ${init.serverInfo?.version}, ` +
    `position encoding ${init.capabilities.positionEncoding}\n`);

  const uri = pathToFileURL(file).href;
  const languageId = { '.cpp': 'cpp', '.h': 'cpp', '.py': 'python', '.ts': 'typescript' }[path.extname(file)] ?? 'plaintext';
  conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });

  // An editor just waits for ghost text; the demo waits until the model is loaded so that the
  // first request already gets a completion.
  let status;
  for (const start = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
    status = await conn.sendRequest('latent/status', {});
    if (status.model?.loaded) break;
    const problem = status.model?.problem ?? 'no model configured';
    if (!problem.startsWith('loading')) throw new Error(`latentd cannot use the model: ${problem}`);
    if (Date.now() - start > 300000) throw new Error('the model did not load within 5 minutes');
  }
  process.stdout.write(`   model loaded: ${JSON.stringify(status.model)}\n`);

  step(`inline completion at ${args.file}:${line + 1} (end of line)`);
  process.stdout.write(`   ${lines[line]}▮\n`);
  const t0 = Date.now();
  const completion = await conn.sendRequest('textDocument/inlineCompletion', {
    textDocument: { uri },
    position: { line, character: Buffer.byteLength(lines[line], 'utf8') },
    context: { triggerKind: 2 },
  });
  const items = Array.isArray(completion) ? completion : completion?.items ?? [];
  if (items.length === 0) throw new Error('latentd returned no completion item');
  const insert = typeof items[0].insertText === 'string' ? items[0].insertText : items[0].insertText.value;
  process.stdout.write(`   ${items.length} item(s) in ${Date.now() - t0} ms; first inserts ${JSON.stringify(insert)}\n`);
  process.stdout.write(`   range ${JSON.stringify(items[0].range)}\n`);

  step(`latent/ask: ${question}`);
  const token = 'demo-ask';
  let streamed = 0;
  let shown = 0;
  progress.set(token, (value) => {
    streamed += 1;
    if (value.sources) process.stdout.write(`   (retrieved ${value.sources.length} sources)\n   `);
    // The streamed text, up to a screenful; the final answer below is printed in full.
    if (value.text && shown < 400) process.stdout.write(value.text.slice(0, 400 - shown));
    if (value.text) shown += value.text.length;
  });
  const answer = await conn.sendRequest('latent/ask', { question, partialResultToken: token });
  process.stdout.write(`\n   (${streamed} streamed parts; model used: ${answer.modelUsed})\n`);
  process.stdout.write(`   answer (${answer.answer.length} characters): ${answer.answer}\n   sources:\n`);
  for (const s of answer.sources ?? []) process.stdout.write(`     ${s.path}:${s.line}${s.symbol ? ` (${s.symbol})` : ''}\n`);
  if (!answer.sources || answer.sources.length === 0) throw new Error('latent/ask returned no sources');

  await conn.sendRequest('shutdown');
  conn.sendNotification('exit');
  const code = await new Promise((resolve) => child.on('exit', resolve));
  step(`latentd exited with status ${code}`);
  if (code !== 0) throw new Error(`latentd exited with ${code}`);
  conn.dispose();
}

main().catch((e) => {
  process.stderr.write(`demo: ${e.message}\n`);
  process.exit(1);
});
