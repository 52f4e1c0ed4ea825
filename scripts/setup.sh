#!/usr/bin/env bash
# Installs what the repo needs on a fresh machine: a pinned pnpm (in .tools/, never over the
# machine's own), the workspace's npm packages, and, with --system, the Debian packages the
# netns tier and the benchmarks use. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
node_ok=$(node -e "const [a,b]=process.versions.node.split('.').map(Number); console.log(a>20||(a===20&&b>=19)?1:0)")
if [ "$node_ok" != 1 ]; then
  echo "setup: Node.js >= 20.19 is required, found $(node --version)" >&2
  exit 1
fi

if [ "$(.tools/node_modules/.bin/pnpm --version 2>/dev/null || true)" != "$want_pnpm" ]; then
  echo "setup: installing pnpm $want_pnpm into .tools/"
  npm install --silent --no-audit --no-fund --prefix .tools "pnpm@$want_pnpm" >/dev/null
fi
export PATH="$PWD/.tools/node_modules/.bin:$PATH"

if [ "${1:-}" = "--system" ]; then
  missing=()
  for pair in iptables:iptables ip:iproute2 nsenter:util-linux g++:g++ make:make python3:python3 haproxy:/usr/sbin/haproxy nginx:/usr/sbin/nginx wrk:wrk chromium:chromium; do
    bin=${pair%%:*}; pkg=${pair#*:}
    case "$pkg" in /*) pkg=$(basename "$pkg");; esac
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("$pkg")
  done
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ -n "${CI:-}" ] || [ ! -d node_modules ]; then
  pnpm install --frozen-lockfile
else
  pnpm install --frozen-lockfile --prefer-offline >/dev/null
fi
