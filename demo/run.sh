#!/usr/bin/env bash
# make demo / make demo-shots: Jaeger v1.75.0 (UI on 127.0.0.1:16686), the collector on the
# demo configuration (config/otelcol-longspan.yaml + demo/otelcol-demo.yaml) and the demo shop
# (127.0.0.1:8080), all on loopback, every process stopped on exit.
#
#   demo/run.sh demo     runs until Ctrl-C                                    (make demo)
#   demo/run.sh shots    drives the stack with headless Chromium, writes the  (make demo-shots)
#                        screenshots docs/demo-*.png, checks Jaeger's /api/traces; exit 1 if not
#
# Environment:
#   JAEGER_UI_ASSETS  jaeger-ui v1.75.0 build output: a directory (index.html + static/) or a
#                     .tar.gz of it (the release asset assets.tar.gz, or a tar of build/).
#                     Unset: .tools/jaeger-ui-v1.75.0/ if present, else downloaded from the
#                     jaeger-ui v1.75.0 release into it.
#   LONGSPAN_BINARY   (_build/otelcol-longspan)   JAEGER_BINARY (.tools/bin/jaeger-v1.75.0)
#   CHROMIUM_PATH     (/usr/bin/chromium)         SHOTS_DIR (docs; demo-shots only)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
mode="${1:-demo}"
case "${mode}" in demo | shots) ;; *) echo "usage: demo/run.sh demo|shots" >&2; exit 2 ;; esac

JAEGER_UI_VERSION=v1.75.0
JAEGER_UI_URL="https://github.com/jaegertracing/jaeger-ui/releases/download/${JAEGER_UI_VERSION}/assets.tar.gz"
BINARY="$(realpath -m "${LONGSPAN_BINARY:-_build/otelcol-longspan}")"
JAEGER="$(realpath -m "${JAEGER_BINARY:-.tools/bin/jaeger-${JAEGER_UI_VERSION}}")"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
DATA="${root}/data/demo"
JAEGER_URL=http://127.0.0.1:16686
SHOP_URL=http://127.0.0.1:8080
log() { echo ">> demo: $*"; }
die() { echo "demo/run.sh: $*" >&2; exit 1; }

[ -x "${BINARY}" ] || die "collector ${BINARY} not found (make build)"
[ -x "${JAEGER}" ] || die "jaeger ${JAEGER} not found (make jaeger)"

# ---- node, npm, Chromium (as test/browser/run.sh: Debian packages, lockfile installs) -----------
need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${mode}" = shots ] && [ ! -x "${CHROMIUM_PATH}" ]; then need+=(chromium); fi
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need[*]} and not root: install them first"
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if [ ! -f demo/shop/node_modules/.package-lock.json ] || [ demo/shop/package-lock.json -nt demo/shop/node_modules/.package-lock.json ]; then
  log "npm ci in demo/shop"
  (cd demo/shop && npm ci --no-audit --no-fund --loglevel=error)
fi

# ---- jaeger-ui assets ------------------------------------------------------------------------------
ui_dir_in() { # the directory holding index.html under $1 (the shallowest one)
  local f
  f="$(find "$1" -maxdepth 5 -name index.html -printf '%d %p\n' 2>/dev/null | sort -n | head -1 | cut -d' ' -f2-)"
  [ -n "${f}" ] && [ -d "$(dirname "${f}")/static" ] && dirname "${f}"
}
no_assets() {
  cat >&2 <<MSG

demo/run.sh: $1
Jaeger built from source (make jaeger) has no UI inside; the demo serves jaeger-ui ${JAEGER_UI_VERSION}
from a directory. Provide it with JAEGER_UI_ASSETS, then run the same command again:

  JAEGER_UI_ASSETS=/path/to/assets.tar.gz make ${MAKE_TARGET:-demo}
      the release asset, downloaded on a machine with internet access from
      ${JAEGER_UI_URL}
  JAEGER_UI_ASSETS=/path/to/jaeger-ui/packages/jaeger-ui/build make ${MAKE_TARGET:-demo}
      jaeger-ui's own build output (a directory with index.html and static/) at tag ${JAEGER_UI_VERSION}:
      git clone -b ${JAEGER_UI_VERSION} https://github.com/jaegertracing/jaeger-ui &&
      cd jaeger-ui && npm ci && cd packages/jaeger-ui && npm run build
  (a .tar.gz of that build/ directory works too)

MSG
  exit 1
}
cache="${root}/.tools/jaeger-ui-${JAEGER_UI_VERSION}"
if [ -n "${JAEGER_UI_ASSETS:-}" ]; then
  src="$(realpath -m "${JAEGER_UI_ASSETS}")"
  if [ -d "${src}" ]; then
    ui="$(ui_dir_in "${src}")" || no_assets "JAEGER_UI_ASSETS=${JAEGER_UI_ASSETS}: no index.html with static/ beside it in that directory."
  elif [ -f "${src}" ]; then
    rm -rf "${DATA}/jaeger-ui" && mkdir -p "${DATA}/jaeger-ui"
    tar -xzf "${src}" -C "${DATA}/jaeger-ui" || no_assets "JAEGER_UI_ASSETS=${JAEGER_UI_ASSETS}: not a readable .tar.gz."
    ui="$(ui_dir_in "${DATA}/jaeger-ui")" || no_assets "JAEGER_UI_ASSETS=${JAEGER_UI_ASSETS}: the archive holds no index.html with static/ beside it."
  else
    no_assets "JAEGER_UI_ASSETS=${JAEGER_UI_ASSETS}: no such file or directory."
  fi
elif ui="$(ui_dir_in "${cache}")"; then
  :
else
  log "JAEGER_UI_ASSETS not set: downloading jaeger-ui ${JAEGER_UI_VERSION} (${JAEGER_UI_URL})"
  tmp="$(mktemp)"
  if ! curl -fsSL --connect-timeout 10 --max-time 300 -o "${tmp}" "${JAEGER_UI_URL}"; then
    rm -f "${tmp}"
    no_assets "JAEGER_UI_ASSETS is not set and downloading ${JAEGER_UI_URL} failed."
  fi
  rm -rf "${cache}" && mkdir -p "${cache}"
  tar -xzf "${tmp}" -C "${cache}" || { rm -rf "${cache}" "${tmp}"; no_assets "the download of ${JAEGER_UI_URL} is not a readable .tar.gz."; }
  rm -f "${tmp}"
  ui="$(ui_dir_in "${cache}")" || { rm -rf "${cache}"; no_assets "the download of ${JAEGER_UI_URL} holds no index.html."; }
fi
log "jaeger-ui ${JAEGER_UI_VERSION} assets: ${ui}"

# ---- ports (all loopback) ------------------------------------------------------------------------
busy=()
for p in 4317 4318 13133 55690 16686 16685 4327 4328 8080; do
  if (exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null; then busy+=("${p}"); fi
done
[ "${#busy[@]}" -eq 0 ] || die "127.0.0.1 port(s) ${busy[*]} already in use (another make run / make demo?)"

# ---- start everything; stop everything we started on exit -----------------------------------------
pids=()
cleanup() {
  trap - EXIT INT TERM
  local p
  for p in "${pids[@]}"; do kill -TERM "${p}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "${p}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${p}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; log "stopping"; exit 130' INT TERM

wait_for() { # what url seconds pid
  local i
  for i in $(seq $(($3 * 5))); do
    curl -fs -o /dev/null "$2" && return 0
    kill -0 "$4" 2>/dev/null || die "$1 exited during start-up; its log: $5"
    sleep 0.2
  done
  die "$1 not ready after $3 s ($2); its log: $5"
}

# A fresh demo every run: Jaeger keeps traces in memory only, so an old journal would
# only bring back sessions whose earlier spans Jaeger no longer has.
rm -rf "${DATA}/journal" "${DATA}/out"
mkdir -p "${DATA}"

JAEGER_UI_DIR="${ui}" "${JAEGER}" --config "${root}/demo/jaeger.yaml" >"${DATA}/jaeger.log" 2>&1 &
pids+=($!)
wait_for jaeger "${JAEGER_URL}/api/services" 60 "$!" "${DATA}/jaeger.log"
log "jaeger ${JAEGER_UI_VERSION} (${JAEGER#"${root}"/}) on ${JAEGER_URL} (log: data/demo/jaeger.log)"

"${BINARY}" --config config/otelcol-longspan.yaml --config demo/otelcol-demo.yaml >"${DATA}/collector.log" 2>&1 &
pids+=($!)
wait_for collector http://127.0.0.1:13133/ 60 "$!" "${DATA}/collector.log"
log "collector ${BINARY#"${root}"/} on 127.0.0.1:4318 (log: data/demo/collector.log, journal: data/demo/journal)"

node demo/shop/server.js >"${DATA}/shop.log" 2>&1 &
pids+=($!)
wait_for "demo shop" "${SHOP_URL}/" 60 "$!" "${DATA}/shop.log"

if [ "${mode}" = shots ]; then
  log "headless Chromium: $("${CHROMIUM_PATH}" --version 2>/dev/null | head -1)"
  status=0
  JAEGER_URL="${JAEGER_URL}" SHOP_URL="${SHOP_URL}" SHOTS_DIR="$(realpath -m "${SHOTS_DIR:-docs}")" \
    node demo/shop/shots.js || status=$?
  [ "${status}" -eq 0 ] || log "demo-shots FAILED (logs: data/demo/*.log)"
  exit "${status}"
fi

cat <<MSG

  ┌─ otelcol-longspan demo ──────────────────────────────────────────────────────────────────
  │ shop:    ${SHOP_URL}/        (a web shop instrumented with clients/web)
  │ Jaeger:  ${JAEGER_URL}/search?service=demo-shop
  │ open:    http://127.0.0.1:55690/v1/open-spans   (what the collector holds open)
  │
  │ 1. Open the shop, add a few things to the cart. Its page.session span stays open: in Jaeger
  │    (service demo-shop, Find Traces) the trace shows snapshots of it (longspan.state=snapshot,
  │    a new one every 10 s, longspan.snapshot.seq counting up).
  │ 2. Open a second tab, add something, click Checkout, and close the tab mid-checkout: its
  │    page.session and checkout are reconciled at once (longspan.close_reason=client_interrupted,
  │    status Error) and the whole trace, cart.add spans included, appears in Jaeger.
  │ 3. Kill the browser (or let a tab's machine sleep): 30 s later (idle_timeout) its sessions are
  │    reconciled as idle_timeout. "Sign out" ends page.session normally (status Unset).
  │ Ctrl-C stops Jaeger, the collector and the shop. Logs: data/demo/*.log
  └─────────────────────────────────────────────────────────────────────────────────────────
MSG
wait -n
die "a demo process exited; see data/demo/*.log"
