#!/usr/bin/env bash
# Builds the Debian package `p2pcf-server`: the server binary (/usr/bin/p2pcf, release build),
# its systemd unit with sandboxing options, /etc/p2pcf/server.toml (a conffile), and the nginx and
# haproxy recipes with docs/deploy.md under /usr/share/doc/p2pcf-server. Needs dpkg-dev
# (dpkg-shlibdeps, dpkg-deb; part of build-essential). No root needed.
#
#   packaging/build-deb.sh                      # → target/debian/p2pcf-server_VERSION_ARCH.deb
#   packaging/build-deb.sh --binary PATH --out DIR   # package an already built binary
#   packaging/build-deb.sh --compress gzip           # dpkg-deb -Z (default xz; gzip is ~70× faster)
# tests/deb_package.rs packages the debug build with gzip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

binary=""
out=target/debian
compress=xz
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --compress) compress=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out DIR] [--compress xz|gzip|zstd]" >&2; exit 2 ;;
  esac
done

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
arch=$(dpkg --print-architecture)
[ -n "$version" ] || { echo "no version in Cargo.toml [workspace.package]" >&2; exit 1; }

if [ -z "$binary" ]; then
  cargo build --release --locked -p p2pcf-cli --bin p2pcf
  binary=target/release/p2pcf
fi
[ -x "$binary" ] || { echo "$binary is not an executable" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
doc=$root/usr/share/doc/p2pcf-server

install -D -m 0755 "$binary" "$root/usr/bin/p2pcf"
strip --strip-unneeded "$root/usr/bin/p2pcf"
install -D -m 0644 packaging/p2pcf-server.service "$root/lib/systemd/system/p2pcf-server.service"
install -D -m 0644 packaging/server.toml "$root/etc/p2pcf/server.toml"
install -D -m 0644 docs/deploy.md "$doc/deploy.md"
install -D -m 0644 packaging/nginx-p2pcf.conf "$doc/examples/nginx-p2pcf.conf"
install -D -m 0644 packaging/haproxy-p2pcf.cfg "$doc/examples/haproxy-p2pcf.cfg"
cat > "$doc/copyright" <<'TXT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: p2pcf-rs

Files: *
License: MIT
TXT

# Shared-library dependencies of the binary, as dpkg-shlibdeps computes them.
mkdir -p "$stage/debian"
printf 'Source: p2pcf-server\n\nPackage: p2pcf-server\nArchitecture: any\n' > "$stage/debian/control"
depends=$(cd "$stage" && dpkg-shlibdeps -O -e root/usr/bin/p2pcf 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
installed_kib=$(du -sk --exclude=DEBIAN "$root" | cut -f1)

mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<TXT
Package: p2pcf-server
Version: $version
Architecture: $arch
Maintainer: p2pcf-rs maintainers <p2pcf-rs@example.invalid>
Section: net
Priority: optional
Installed-Size: $installed_kib
Depends: $depends
Suggests: redis-server, nginx | haproxy
Homepage: https://example.invalid/p2pcf-rs
Description: P2PCF signalling server (wire-compatible with the P2PCF worker)
 p2pcf serve answers unmodified P2PCF clients exactly as the Cloudflare worker
 does. Rooms live in memory, in files, or in Redis shared by several instances
 behind a load balancer. Runs as the sandboxed systemd service p2pcf-server,
 configured by /etc/p2pcf/server.toml.
TXT
echo /etc/p2pcf/server.toml > "$root/DEBIAN/conffiles"
# Maintainer scripts as dh_installsystemd writes them: enable and start on install, stop on
# removal, forget on purge. Nothing to do without a running systemd or under `dpkg --root`.
cat > "$root/DEBIAN/postinst" <<'TXT'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -z "${DPKG_ROOT:-}" ]; then
  deb-systemd-helper unmask p2pcf-server.service >/dev/null || true
  if deb-systemd-helper --quiet was-enabled p2pcf-server.service; then
    deb-systemd-helper enable p2pcf-server.service >/dev/null || true
  else
    deb-systemd-helper update-state p2pcf-server.service >/dev/null || true
  fi
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    if [ -n "$2" ]; then action=restart; else action=start; fi
    deb-systemd-invoke $action p2pcf-server.service >/dev/null || true
  fi
fi
TXT
cat > "$root/DEBIAN/prerm" <<'TXT'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  deb-systemd-invoke stop p2pcf-server.service >/dev/null || true
fi
TXT
cat > "$root/DEBIAN/postrm" <<'TXT'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ]; then
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
  fi
  if [ "$1" = remove ]; then
    deb-systemd-helper mask p2pcf-server.service >/dev/null || true
  fi
  if [ "$1" = purge ]; then
    deb-systemd-helper purge p2pcf-server.service >/dev/null || true
    deb-systemd-helper unmask p2pcf-server.service >/dev/null || true
  fi
fi
TXT
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/p2pcf-server_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z$compress" --build "$root" "$deb" >/dev/null
echo "$deb"
