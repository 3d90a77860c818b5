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

# ---- system packages: Chromium (Debian), node/npm ---------------------------------------------
need=()
[ -x "${CHROMIUM_PATH}" ] || need+=(chromium chromium-driver)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm  >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "run.sh: missing ${need[*]} and not root: install them first" >&2
    exit 1
  fi
  echo ">> apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "${node_major}" -lt 20 ]; then
  echo "run.sh: node >= 20 needed (found $(node --version))" >&2
  exit 1
fi

# ---- npm packages (lockfiles committed; never `npx playwright install`) ------------------------
npm_ci() { # dir: install when nothing is installed or the lockfile is newer than the install
  local dir="$1"
  if [ ! -f "${dir}/node_modules/.package-lock.json" ] || [ "${dir}/package-lock.json" -nt "${dir}/node_modules/.package-lock.json" ]; then
    echo ">> npm ci in ${dir}"
    (cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
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
