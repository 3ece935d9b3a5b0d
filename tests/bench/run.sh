#!/usr/bin/env bash
# Runs every `latent bench` suite and prints their tables (the README's numbers). The engine and
# KV suites need a model: pass one, or the script makes DeepSeek-Coder-V2-Lite-shaped 2-layer
# models with random weights in build/bench/ (Q4_K and Q8_0, about 0.6 and 1.2 GB). With a
# Vulkan device the engine suite runs there too.
# Usage: tests/bench/run.sh [--quick] [MODEL.gguf]
set -euo pipefail
cd "$(dirname "$0")/../.."
latent=build/daemon/latent
[ -x "$latent" ] || { echo "build first: bash packaging/build.sh" >&2; exit 1; }
quick=()
if [ "${1:-}" = "--quick" ]; then quick=(--quick); shift; fi

models=()
if [ $# -gt 0 ]; then
  models=("$1")
else
  mkdir -p build/bench
  vocab=../shared/golden/tokenizer/ggml-vocab-deepseek-llm.gguf
  for type in Q4_K Q8_0; do
    m=build/bench/lite2-$type.gguf
    [ -f "$m" ] || "$latent" make-model --out "$m" --like deepseek-coder-v2-lite --layers 2 --type "$type" \
      --seed 1 --vocab-from "$vocab"
    models+=("$m")
  done
fi

"$latent" bench quant "${quick[@]}"
"$latent" bench tokenizer --model ../shared/golden/tokenizer/ggml-vocab-deepseek-coder.gguf "${quick[@]}"
for m in "${models[@]}"; do
  "$latent" bench engine --model "$m" "${quick[@]}"
done
# The same table on the Vulkan device `latent devices` picks (lavapipe on a machine without a GPU).
if "$latent" devices >/dev/null 2>&1; then
  "$latent" bench engine --model "${models[0]}" --backend vulkan "${quick[@]}"
fi
"$latent" bench kv --model "${models[-1]}" --max-prompt 8192 "${quick[@]}"
"$latent" bench index "${quick[@]}"
# Definition recall on real code in six languages (Debian packages, installed when missing).
[ -d build/bench-corpus ] || tests/bench/context_corpus.sh build/bench-corpus
"$latent" bench context --corpus build/bench-corpus "${quick[@]}"
# The completion latency storm runs on the tiny golden model (unpacked by the test build).
tiny=build/golden/models/ds2-lite-tiny.gguf
[ -f "$tiny" ] || cmake --build build --target latent_golden_models
"$latent" bench lsp --model "$tiny" "${quick[@]}"
