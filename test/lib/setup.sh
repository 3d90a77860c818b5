# Sourced by the JavaScript end-to-end suites' run.sh (test/browser, test/hermes): installs
# what a fresh machine lacks, from Debian's packages and the committed npm lockfiles.

# ensure_debian CMD=PKG...: installs each PKG whose CMD (a command, or an executable path)
# is missing, as root; node/npm are always checked, and node must be >= 20.
ensure_debian() {
  local need=() pair cmd pkg
  for pair in node=nodejs npm=npm "$@"; do
    cmd="${pair%%=*}"
    pkg="${pair#*=}"
    if [[ "${cmd}" == /* ]]; then [ -x "${cmd}" ] && continue; else command -v "${cmd}" >/dev/null 2>&1 && continue; fi
    need+=(${pkg//,/ })
  done
  if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "run.sh: missing ${need[*]} and not root: install them first" >&2
      exit 1
    fi
    echo ">> apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "${node_major}" -lt 20 ]; then
    echo "run.sh: node >= 20 needed (found $(node --version))" >&2
    exit 1
  fi
}

# npm_ci DIR: installs DIR's packages from its lockfile when nothing is installed or the
# lockfile is newer than the install.
npm_ci() {
  local dir="$1"
  if [ ! -f "${dir}/node_modules/.package-lock.json" ] || [ "${dir}/package-lock.json" -nt "${dir}/node_modules/.package-lock.json" ]; then
    echo ">> npm ci in ${dir}"
    (cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
