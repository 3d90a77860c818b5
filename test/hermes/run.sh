#!/usr/bin/env bash
# The React Native client on the real engine: unit tests of clients/react-native (node --test),
# then the app built the way a React Native app is (Metro-style resolution with esbuild,
# @react-native/babel-preset, @babel/runtime inlined), compiled with hermesc (npm hermes-compiler,
# React Native 0.87's), run as two app launches on the Hermes VM (npm hermes-engine-cli 0.12.0),
# and what it sent posted to the built collector, whose output is checked (hermes.test.js).
#
#   test/hermes/run.sh                       (from anywhere; paths are relative to the repo root)
#   LONGSPAN_BINARY=/path/to/otelcol-longspan KEEP_TMP=1 test/hermes/run.sh
#
# Installs what is missing: node/npm (Debian, as root), the npm packages (npm ci from the committed
# package-lock.json files; the Hermes binaries come inside those npm packages). No Chromium.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${root}"

export LONGSPAN_BINARY="$(realpath -m "${LONGSPAN_BINARY:-_build/otelcol-longspan}")"

need=()
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

npm_ci() { # dir: install when nothing is installed or the lockfile is newer than the install
  local dir="$1"
  if [ ! -f "${dir}/node_modules/.package-lock.json" ] || [ "${dir}/package-lock.json" -nt "${dir}/node_modules/.package-lock.json" ]; then
    echo ">> npm ci in ${dir}"
    (cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci clients/web
npm_ci clients/react-native
npm_ci test/hermes

status=0
echo ">> clients/react-native: unit tests"
(cd clients/react-native && node --test test/*.test.js) || status=1

if [ ! -x "${LONGSPAN_BINARY}" ]; then
  echo "run.sh: collector binary ${LONGSPAN_BINARY} not found (make build)" >&2
  exit 1
fi
echo ">> test/hermes: the React Native client on Hermes against ${LONGSPAN_BINARY}"
(cd test/hermes && node --test --test-concurrency=1 --test-timeout=240000 hermes.test.js) || status=1

exit "${status}"
