#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
bash packaging/build.sh
cd build
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"
