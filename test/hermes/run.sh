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

. test/lib/setup.sh
ensure_debian
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
