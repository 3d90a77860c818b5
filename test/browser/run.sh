#!/usr/bin/env bash
# Browser tests of the web client: the unit tests of clients/web (node --test: processor logic,
# keepalive budget against the real OTLP/JSON serializer, min+gzip size <= 3 KB, types), then the
# five end-to-end scenarios in Debian's headless Chromium against the built collector.
#
#   test/browser/run.sh                       (from anywhere; paths are relative to the repo root)
#   LONGSPAN_BINARY=/path/to/otelcol-longspan test/browser/run.sh
#   CHROMIUM_PATH=/usr/bin/chromium KEEP_TMP=1 test/browser/run.sh
#
# Installs what is missing: Debian's chromium (as root, apt-get), the npm packages (npm ci from
# the committed package-lock.json files). It never downloads a browser build of its own.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${root}"

export LONGSPAN_BINARY="$(realpath -m "${LONGSPAN_BINARY:-_build/otelcol-longspan}")"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

# ---- system packages: Chromium (Debian), node/npm; npm packages from the committed lockfiles
# (never `npx playwright install`) -------------------------------------------------------------
. test/lib/setup.sh
ensure_debian "${CHROMIUM_PATH}=chromium,chromium-driver"
npm_ci clients/web
npm_ci test/browser

# ---- unit tests of the web package ---------------------------------------------------------------
status=0
echo ">> clients/web: unit tests"
(cd clients/web && node --test test/*.test.js) || status=1

# ---- browser scenarios ------------------------------------------------------------------------------
if [ ! -x "${LONGSPAN_BINARY}" ]; then
  echo "run.sh: collector binary ${LONGSPAN_BINARY} not found (make build)" >&2
  exit 1
fi
echo ">> test/browser: five scenarios in $("${CHROMIUM_PATH}" --version 2>/dev/null | head -1) against ${LONGSPAN_BINARY}"
(cd test/browser && node --test --test-concurrency=1 --test-timeout=180000 scenarios.test.js) || status=1

exit "${status}"
