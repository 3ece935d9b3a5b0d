// Loads the compiled, vscode-free modules of the extension and its npm dependencies from
// plugins/vscode (its node_modules come from the package-lock there).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const extensionDir = process.env.LATENT_VSCODE_DIR ?? path.resolve(here, '../../../plugins/vscode');
const require = createRequire(path.join(extensionDir, 'package.json'));

/** A module of the extension: ext('settings') is out/src/settings.js. */
export function ext(name) {
  try {
    return require(path.join(extensionDir, 'out', 'src', name + '.js'));
  } catch (e) {
    throw new Error(`cannot load the compiled extension (${e.message}); run "npm ci && npm run compile" in ${extensionDir}`);
  }
}

/** A dependency of the extension, e.g. dep('vscode-jsonrpc/node'). */
export function dep(name) {
  return require(name);
}
