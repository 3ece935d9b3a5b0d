#!/usr/bin/env bash
# Installs everything Latent needs to build and test on Debian 12, idempotently:
# Debian packages with apt-get, then the npm packages pinned by the package-lock.json files.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config ccache git xz-utils
  libuv1-dev nlohmann-json3-dev libsqlite3-dev libpcre2-dev libxxhash-dev libcpp-httplib-dev libgtest-dev libgmock-dev
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  clang libclang-rt-14-dev
  nodejs npm neovim universal-ctags
)

missing=()
for p in "${packages[@]}"; do
  # nodejs may come from another Debian-format repository that also provides npm.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: Debian packages present"
fi

# npm trees: the tree-sitter runtime and grammars, and any other pinned JavaScript tooling.
# Only package-lock.json files that the repository tracks count (not those inside node_modules).
while IFS= read -r lock; do
  dir=$(dirname "$lock")
  if [ -d "$dir/node_modules" ] && [ "$dir/node_modules/.package-lock.json" -nt "$lock" ]; then
    continue
  fi
  echo "install-deps: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
done < <(git ls-files '*package-lock.json' 2>/dev/null || find . -name package-lock.json -not -path '*/node_modules/*')
