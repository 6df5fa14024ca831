#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build and test this repository:
# Debian packages (Chromium, wrk, jq, Xvfb, the Tauri build dependencies), the npm packages of the
# interop harness (tests/js, exact versions from package-lock.json) and cargo-nextest.
# Idempotent: each part is skipped when already in place. Needs root for apt (uses sudo if not root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[setup] %s\n' "$*"; }

APT_PACKAGES=(
  # interop tests and benchmarks
  chromium wrk jq
  # the Tauri desktop app (build) and a display for it in CI
  build-essential pkg-config libwebkit2gtk-4.1-dev libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev xvfb
  # end-to-end tests of the app window (WebKitWebDriver)
  webkit2gtk-driver
  # multi-instance tests (shared store, load balancer, TLS reverse proxy) and lossy-link tests
  # (network namespaces with an nftables drop rule)
  redis-server haproxy nginx nftables iproute2
  # the TLS recipe's self-signed certificate; the server's .deb (dpkg-shlibdeps, systemd-analyze)
  openssl dpkg-dev systemd
)
# `P2PCF_SETUP=app` (scripts/start.sh): only what building and running the desktop app needs.
if [ "${P2PCF_SETUP:-all}" = app ]; then
  APT_PACKAGES=(build-essential pkg-config libwebkit2gtk-4.1-dev libxdo-dev libssl-dev
    libayatana-appindicator3-dev librsvg2-dev)
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); fi
fi

# --- Debian packages -----------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
# Node.js: keep whatever node >= 18 is installed (e.g. NodeSource); otherwise take Debian's.
if ! command -v node >/dev/null; then
  missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${missing[@]}"
else
  log "apt: all packages present"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  log "node $(node --version) is too old (need >= 18 for miniflare 4 and playwright-core)"
  exit 1
fi
[ -x /usr/bin/chromium ] || { log "/usr/bin/chromium missing"; exit 1; }

if [ "${P2PCF_SETUP:-all}" = app ]; then
  command -v cargo >/dev/null || { log "cargo missing: install Rust (rustup) first"; exit 1; }
  log "done (app only)"
  exit 0
fi

# --- npm packages of the harness ---------------------------------------------------------
# `npm ci` wipes node_modules, so only run it when package-lock.json changed since the last run
# (a stamp inside node_modules records the lock file's hash). esbuild and workerd need no install
# scripts: their binaries come from platform optional dependencies.
lock_hash=$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)
stamp=tests/js/node_modules/.setup-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  log "npm: tests/js/node_modules up to date"
else
  log "npm: npm ci in tests/js"
  (cd tests/js && npm ci --no-audit --no-fund)
  echo "$lock_hash" > "$stamp"
fi
# Prove the binaries work (they are what a missing install script would have broken).
(cd tests/js && node -e "require('esbuild').transformSync('let a = 1')" \
  && node_modules/.bin/workerd --version >/dev/null) \
  || { log "esbuild or workerd binary does not run"; exit 1; }

# --- Rust tools ------------------------------------------------------------------------------
command -v cargo >/dev/null || { log "cargo missing: install Rust (rustup) first"; exit 1; }
if cargo nextest --version >/dev/null 2>&1; then
  log "cargo-nextest present: $(cargo nextest --version | head -1)"
else
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
log "done"
