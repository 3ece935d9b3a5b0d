#!/usr/bin/env bash
# The unit and e2e suites (not the slow golden-model suites) in a second build with
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/, CPU backend only), meant as CI's
# second stage. Any report fails the test that triggered it. Run after packaging/run-tests.sh
# (its dependencies are installed).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
suites=(lsp lsp_fuzz_replay tokenizer_fuzz_replay index_fuzz_replay daemon kv_store gguf sample api_text cli
        indexer tokenizer model_hparams)
e2e=(cli_e2e lsp_e2e settings_sync)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATENT_SANITIZE=ON -DLATENT_VULKAN=OFF \
      -DLATENT_CUDA=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target latentd latent latent_golden_models "${suites[@]/#/test_}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
names=$(IFS='|'; echo "${suites[*]}|${e2e[*]}")
cd build-asan
ctest --output-on-failure -j "$jobs" -R "^(${names})\$"
