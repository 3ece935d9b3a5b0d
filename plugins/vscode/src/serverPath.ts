// Where latentd is: the `latent.serverPath` setting, else $PATH, else next to the extension
// (an extension shipped inside a Latent install: <prefix>/share/latent/vscode -> <prefix>/bin).
// No `vscode` import, for the node tests.
import * as fs from 'fs';
import * as path from 'path';

export type ServerPathResult = { path: string } | { error: string };

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function resolveServerPath(configured: string, envPath: string | undefined, extensionPath: string,
                                  exe = process.platform === 'win32' ? 'latentd.exe' : 'latentd'): ServerPathResult {
  if (configured) {
    return isExecutable(configured)
      ? { path: configured }
      : { error: `latent.serverPath is set to "${configured}", which is not an executable file. Fix the setting or clear it to use latentd from PATH.` };
  }
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, exe))) return { path: path.join(dir, exe) };
  }
  for (const rel of ['bin', path.join('..', '..', '..', 'bin')]) {
    const p = path.join(extensionPath, rel, exe);
    if (isExecutable(p)) return { path: p };
  }
  return { error: 'latentd was not found on PATH. Install Latent (see its README) or set "latent.serverPath" to the latentd binary.' };
}
