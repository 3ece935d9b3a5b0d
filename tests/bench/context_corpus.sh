#!/usr/bin/env bash
# Lays out the corpus of `latent bench context`: real public code in six languages that Debian's
# packages ship as source, copied into DEST/<language>-<project>/ (one repository each, default
# build/bench-corpus). The packages are pinned to the versions the README's table was measured
# on; another version still works but is named, since its numbers are not comparable.
# Usage: tests/bench/context_corpus.sh [DEST]
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${1:-build/bench-corpus}

# package=version  language-project  directory inside the package  paths left out (regex)
corpus=(
  "python3-jinja2=3.1.2-1+deb12u3 python-jinja2 /usr/lib/python3/dist-packages/jinja2 __pycache__/"
  "node-semver=7.3.5+~7.3.9-2 javascript-semver /usr/share/nodejs/semver -"
  "libstb-dev=0.0~git20220908.8b5f1f3+ds-1 c-stb /usr/include/stb -"
  "libspdlog-dev=1:1.10.0+ds-0.4 cpp-spdlog /usr/include/spdlog -"
  "golang-github-spf13-cobra-dev=1.6.1-1 go-cobra /usr/share/gocode/src/github.com/spf13/cobra -"
  "librust-regex-syntax-dev=0.6.27-1 rust-regex-syntax /usr/share/cargo/registry/regex-syntax-0.6.27 unicode_tables/"
)

missing=()
for entry in "${corpus[@]}"; do
  read -r pin _ _ _ <<<"$entry"
  pkg=${pin%%=*}
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" universal-ctags
fi
command -v ctags >/dev/null || { echo "universal-ctags is needed for the ground truth: apt-get install universal-ctags" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
for entry in "${corpus[@]}"; do
  read -r pin name dir skip <<<"$entry"
  pkg=${pin%%=*} want=${pin#*=}
  have=$(dpkg-query -W -f='${Version}' "$pkg")
  [ "$have" = "$want" ] || echo "note: $pkg is $have, the table was measured on $want" >&2
  mkdir -p "$dest/$name"
  (cd "$dir" && find . -type f -print) | sort | while read -r f; do
    [ "$skip" != "-" ] && [[ "$f" =~ $skip ]] && continue
    mkdir -p "$dest/$name/$(dirname "$f")"
    cp "$dir/$f" "$dest/$name/$f"
  done
  echo "$name: $(find "$dest/$name" -type f | wc -l) files from $pkg $have"
done
