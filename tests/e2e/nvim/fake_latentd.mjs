// A stand-in for latentd that speaks just enough LSP over stdio to drive latent.nvim's
// completion path deterministically: every inlineCompletion with a partialResultToken gets the
// first line of FAKE_COMPLETION at once as a partial result ($/progress), and the whole of it
// FAKE_DELAY_MS later as the response. It records the requests it got in FAKE_LOG (JSON lines).
import fs from 'node:fs';

const completion = process.env.FAKE_COMPLETION ?? 'first();\nsecond();';
const delay = Number(process.env.FAKE_DELAY_MS ?? 1500);
const log = process.env.FAKE_LOG;

function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }));
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}

function handle(m) {
  if (log && m.method) fs.appendFileSync(log, JSON.stringify({ method: m.method, params: m.params }) + '\n');
  if (m.method === 'initialize') {
    send({ id: m.id, result: { capabilities: { textDocumentSync: 2, inlineCompletionProvider: true } } });
  } else if (m.method === 'shutdown') {
    send({ id: m.id, result: null });
  } else if (m.method === 'exit') {
    process.exit(0);
  } else if (m.method === 'textDocument/inlineCompletion') {
    const range = { start: m.params.position, end: m.params.position };
    const token = m.params.partialResultToken;
    if (token !== undefined) send({ method: '$/progress', params: { token, value: { items: [{ insertText: completion.split('\n')[0], range }] } } });
    setTimeout(() => send({ id: m.id, result: { items: [{ insertText: completion, range }] } }), delay);
  } else if (m.id !== undefined && m.method) {
    send({ id: m.id, result: null });
  }
}

let buffer = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = Number(/Content-Length: *(\d+)/i.exec(buffer.subarray(0, end).toString())[1]);
    if (buffer.length < end + 4 + length) return;
    handle(JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString()));
    buffer = buffer.subarray(end + 4 + length);
  }
});
