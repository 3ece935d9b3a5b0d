#!/usr/bin/env bash
# Builds the VS Code extension and packages it as a .vsix with @vscode/vsce (pinned in
# plugins/vscode/package-lock.json). Usage: packaging/vsix.sh [OUTPUT.vsix]
# (default build/latent.vsix). Install it with: code --install-extension latent.vsix
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build/latent.vsix}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
ext="$root/plugins/vscode"

if [ ! -x "$ext/node_modules/.bin/vsce" ] || [ "$ext/package-lock.json" -nt "$ext/node_modules/.package-lock.json" ]; then
  (cd "$ext" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$(dirname "$out")"
cd "$ext"
# vsce runs the "vscode:prepublish" script (npm run compile) before packaging.
# --skip-license: the extension ships inside Latent and carries no separate LICENSE file;
# --allow-missing-repository: there is no public repository URL to link from the marketplace.
npx --no-install vsce package --skip-license --allow-missing-repository --out "$out" >/dev/null
echo "vsix: $out ($(du -k "$out" | cut -f1) KiB)"
