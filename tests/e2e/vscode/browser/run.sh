#!/usr/bin/env bash
# The browser test: installs its dependencies (packaging/plugin-browser-deps.sh; timed), then
# runs browser.test.mjs, which serves VS Code (code-server) with the packaged latent.vsix and
# drives it in Debian's chromium. Needs LATENTD, LATENT_TEST_MODEL, LATENT_VSIX (set by ctest);
# screenshots go to LATENT_BROWSER_OUT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
start=$(date +%s)
bash "$here/../../../../packaging/plugin-browser-deps.sh"
echo "browser test: dependencies ready in $(( $(date +%s) - start )) s"
exec node --test --test-reporter=spec "$here/browser.test.mjs"
