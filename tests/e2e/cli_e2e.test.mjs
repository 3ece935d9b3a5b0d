// The `latent` CLI as a new user meets it, end to end on a scratch repository: the index folder
// ignores itself and expected skips are not problems, a cursor past the end of a file is an
// error, `latent ask` from a subdirectory uses the enclosing index and writes no carriage
// return into a pipe, `latent status` is readable, and `latent status` / `latent ask` use a
// shared latentd on its socket. Run: LATENT=<build>/daemon/latent LATENTD=<build>/daemon/latentd
// node --test cli_e2e.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const LATENT = process.env.LATENT && path.resolve(process.env.LATENT);
const LATENTD = process.env.LATENTD && path.resolve(process.env.LATENTD);
if (!LATENT || !LATENTD) throw new Error('set LATENT and LATENTD to the built binaries');

// No shared daemon of the machine's user may answer for these tests.
const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-runtime-'));
const env = { ...process.env, XDG_RUNTIME_DIR: runtime, XDG_CACHE_HOME: path.join(runtime, 'cache') };

function latent(args, cwd) {
  const r = spawnSync(LATENT, args, { cwd, env, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function makeRepo() {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'latent-cli-')));
  fs.mkdirSync(path.join(root, 'pkg', '__pycache__'), { recursive: true });
  fs.writeFileSync(path.join(root, 'pkg', 'shapes.py'),
    'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius * radius\n');
  fs.writeFileSync(path.join(root, 'pkg', '__pycache__', 'shapes.cpython-311.pyc'), Buffer.from([0x6f, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]));
  fs.writeFileSync(path.join(root, 'main.py'), 'from pkg.shapes import circle_area\n\nprint(circle_area(2.0))\n');
  return root;
}

test('index: .latent ignores itself; binary files are expected skips, not problems', () => {
  const root = makeRepo();
  const r = latent(['index', root]);
  assert.equal(r.code, 0, r.err);
  assert.equal(fs.readFileSync(path.join(root, '.latent', '.gitignore'), 'utf8').split('\n').includes('*'), true);
  assert.match(r.out, /1 file\(s\) skipped as expected/);
  assert.doesNotMatch(r.out, /could not be indexed/);
  assert.doesNotMatch(r.out, /__pycache__/, 'skips are listed only with --verbose');
  assert.match(latent(['index', root, '--verbose']).out, /__pycache__\/shapes\.cpython-311\.pyc: skipped: binary file/);
  assert.match(latent(['index', '--help']).out, /usage: latent index .*--verbose/);
  // git agrees, where git is installed.
  if (spawnSync('git', ['--version']).status === 0) {
    spawnSync('git', ['init', '-q'], { cwd: root });
    const st = spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: root, encoding: 'utf8' });
    assert.doesNotMatch(st.stdout, /\.latent/);
  }
});

test('doctor names what to fix', () => {
  const root = makeRepo();
  const missing = latent(['doctor', '--model', path.join(root, 'nope.gguf')], root);
  assert.equal(missing.code, 1);
  assert.match(missing.out, /FAIL +.*nope\.gguf: No such file or directory\n +-> give the path of a downloaded GGUF file/);
  assert.match(missing.out, /warn +no index at or above .*\n +-> run `latent index`/);
  assert.match(missing.out, /quantized dot kernels: (avx512|avx2)|no AVX2 or AVX-512/);
});

test('context: a line past the end of the file is an error naming the file length', () => {
  const root = makeRepo();
  assert.equal(latent(['index', root]).code, 0);
  const r = latent(['context', 'main.py:9999'], root);
  assert.equal(r.code, 1);
  assert.match(r.err, /main\.py:9999: the file has 3 lines/);
  assert.equal(latent(['context', 'main.py:3'], root).code, 0);
});

test('ask in a subdirectory uses the enclosing index; progress in a pipe has no carriage return', () => {
  const root = makeRepo();
  assert.equal(latent(['index', root]).code, 0);
  fs.writeFileSync(path.join(root, 'pkg', 'volume.py'), 'def sphere_volume(r):\n    return 4 / 3 * 3.14159 * r ** 3\n');
  const r = latent(['ask', 'sphere_volume', '--no-daemon'], path.join(root, 'pkg'));
  assert.equal(r.code, 0, r.err);
  assert.ok(!fs.existsSync(path.join(root, 'pkg', '.latent')), 'no nested index');
  assert.match(r.out, /pkg\/volume\.py:1/);
  assert.ok(!r.err.includes('\r'), `no carriage return on a pipe: ${JSON.stringify(r.err)}`);
  assert.match(r.err, new RegExp(`${root}: \\d+ files checked: \\d+ in the index`));
});

test('status and ask use the shared latentd on its socket', async () => {
  const root = makeRepo();
  const sock = path.join(runtime, 'latent', 'latentd.sock');
  fs.mkdirSync(path.dirname(sock), { recursive: true, mode: 0o700 });
  const daemon = spawn(LATENTD, ['--socket', sock, '--no-log-file', '--log-level', 'warn'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => daemon.on('exit', (code) => resolve(code)));
  try {
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    // The default socket (XDG_RUNTIME_DIR/latent/latentd.sock, the systemd unit's) is found.
    const ask = latent(['ask', 'circle_area radius'], root);
    assert.equal(ask.code, 0, ask.err);
    assert.match(ask.out, /pkg\/shapes\.py:\d+/);
    const status = latent(['status'], root);
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /^latentd .* shared on /m);
    assert.match(status.out, new RegExp(`^workspace    ${root}: ready, 2 files in the index`, 'm'), status.out);
    assert.match(status.out, /^cache        0 of 0 prompt tokens/m);
    assert.doesNotMatch(status.out, /\{"|\[\]/, 'no raw JSON');
    const doctor = latent(['doctor'], root);
    assert.equal(doctor.code, 0, doctor.out);
    assert.match(doctor.out, /ok +latentd .* answers on /);
    assert.match(doctor.out, new RegExp(`ok +${root}: 2 files in `));
    const json = JSON.parse(latent(['status', '--json'], root).out);
    assert.equal(json.workspaces[0].lastRun.filesSkipped, 1);
    assert.equal(json.workspaces[0].lastRun.filesChecked, 3);
  } finally {
    daemon.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
  // Without it: said so, and this process reports on the index.
  const alone = latent(['status'], root);
  assert.equal(alone.code, 0, alone.err);
  assert.match(alone.out, /^no shared latentd on /m);
  assert.match(alone.out, /This process, on the index of /);
});
