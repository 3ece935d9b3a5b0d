#!/usr/bin/env bash
# Installs what the VS Code browser test (tests/e2e/vscode/browser) needs, idempotently, kept
# out of install-deps.sh so that the basic install stays lean:
#   Debian: chromium (the browser playwright-core drives), ripgrep, and the headers code-server's
#           native modules build against (libkrb5-dev, libsecret-1-dev, libx11-dev, libxkbfile-dev);
#   npm:    code-server 4.99.4 (the newest accepting Node 20) and playwright-core, pinned by
#           tests/e2e/vscode/browser/npm-shrinkwrap.json.
# code-server's postinstall runs `npm install` for its bundled VS Code, where @vscode/ripgrep
# would download rg from GitHub; its download cache is pre-seeded with Debian's rg instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/tests/e2e/vscode/browser"

packages=(chromium ripgrep libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "plugin-browser-deps: apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/npm-shrinkwrap.json" ] && [ -x "$dir/node_modules/.bin/code-server" ]; then
  echo "plugin-browser-deps: code-server present"
  exit 0
fi

# @vscode/ripgrep's cache folder is named after its own version, which code-server 4.99.4 pins
# in its lib/vscode/npm-shrinkwrap.json; the asset name comes from that package's
# lib/postinstall.js (VERSION v13.0.0-10, a musl target per architecture).
rg_pkg_version=1.15.11
case "$(uname -m)" in
  x86_64) rg_target=x86_64-unknown-linux-musl ;;
  aarch64) rg_target=aarch64-unknown-linux-musl ;;
  *) echo "plugin-browser-deps: no ripgrep asset name known for $(uname -m)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cache="$tmp/vscode-ripgrep-cache-$rg_pkg_version"
mkdir -p "$cache"
cp "$(command -v rg)" "$tmp/rg"
tar -C "$tmp" -czf "$cache/ripgrep-v13.0.0-10-$rg_target.tar.gz" rg

echo "plugin-browser-deps: npm ci code-server (a few minutes the first time)"
start=$(date +%s)
# --unsafe-perm: code-server's postinstall refuses to run as root without it (CI runs as root).
(cd "$dir" && TMPDIR="$tmp" npm_config_yes=true npm ci --unsafe-perm --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1) || {
  tail -40 "$tmp/npm.log" >&2
  echo "plugin-browser-deps: npm ci failed in $dir (log above)" >&2
  exit 1
}
echo "plugin-browser-deps: code-server installed in $(( $(date +%s) - start )) s"
