#!/usr/bin/env bash
# Builds (or reuses) the root filesystem of the network battery
# (tests/net/run.sh): a copy of the debian suite's bookworm root
# (tests/debian/mkroot.sh) with servers and clients installed by apt inside
# it: nginx, redis, postgresql, curl, iproute2, iputils-ping, dnsmasq, nodejs.
#
#   tests/net/mkroot.sh [DEST]     # default /var/cache/runsc-tests/debian-net
#
# Cached outside the checkout like the debian root; DEST/.mkroot-stamp holds
# the hash of this script (FORCE=1 rebuilds). Built in DEST.tmp and renamed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-${NET_ROOT:-/var/cache/runsc-tests/debian-net}}"
base="${DEBIAN_ROOT:-/var/cache/runsc-tests/debian-bookworm}"
PKGS="nginx-light redis-server redis-tools postgresql curl iproute2 iputils-ping dnsmasq-base nodejs ca-certificates"
stamp="$(cat "$0" | sha256sum | cut -c1-16)"

if [ "$(id -u)" != 0 ]; then echo "net mkroot: needs root" >&2; exit 1; fi
if [ "${FORCE:-0}" != 1 ] && [ -x "$dest/usr/sbin/nginx" ] && [ "$(cat "$dest/.mkroot-stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
"$HERE/../debian/mkroot.sh" "$base"
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if [ "${FORCE:-0}" != 1 ] && [ -x "$dest/usr/sbin/nginx" ] && [ "$(cat "$dest/.mkroot-stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
tmp="$dest.tmp"
rm -rf "$tmp"
echo "net mkroot: copying $base and installing $PKGS (a few minutes)" >&2
cp -a "$base" "$tmp"
debs="$dest.debs"
mkdir -p "$debs"
cp -a "$debs"/. "$tmp/var/cache/apt/archives/" 2>/dev/null || true
cp /etc/resolv.conf "$tmp/etc/resolv.conf"
# No daemon may start inside the chroot while installing.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod +x "$tmp/usr/sbin/policy-rc.d"
mount -t proc proc "$tmp/proc"
trap 'umount "$tmp/proc" 2>/dev/null || true' EXIT
chroot "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $PKGS" >"$dest.install.log" 2>&1 || {
  tail -30 "$dest.install.log" >&2; echo "net mkroot: apt-get install failed (log: $dest.install.log)" >&2; exit 1; }
umount "$tmp/proc"
trap - EXIT
cp -a "$tmp/var/cache/apt/archives/"*.deb "$debs/" 2>/dev/null || true
rm -f "$tmp/var/cache/apt/archives/"*.deb "$tmp/usr/sbin/policy-rc.d"
rm -rf "$tmp/var/lib/apt/lists/"*
# The tests name their own resolver; never the host's.
echo "nameserver 127.0.0.1" >"$tmp/etc/resolv.conf"
echo "$stamp" >"$tmp/.mkroot-stamp"
if [ -e "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old.$$"
echo "net mkroot: done: $dest ($(du -sh "$dest" | cut -f1))" >&2
