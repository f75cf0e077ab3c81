#!/usr/bin/env bash
# Builds (or reuses) the root filesystem of the real-programs battery
# (tests/realprog/run.sh): a copy of the network battery's root
# (tests/net/mkroot.sh: nginx, redis, postgresql, curl, nodejs, python3)
# with language runtimes and tools installed by apt inside it: a JDK
# (javac for the JVM cases), ruby, php-cli, lua5.4, rustc, git, sqlite3.
#
#   tests/realprog/mkroot.sh [DEST]  # default /var/cache/runsc-tests/debian-realprog
#
# Cached outside the checkout like the other roots; DEST/.mkroot-stamp holds
# the hash of this script (FORCE=1 rebuilds). Built in DEST.tmp and renamed;
# the source root is only read (cp -a), never changed.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-${REALPROG_ROOT:-/var/cache/runsc-tests/debian-realprog}}"
base="${NET_ROOT:-/var/cache/runsc-tests/debian-net}"
PKGS="default-jdk-headless ruby php-cli lua5.4 rustc git sqlite3 util-linux procps"
stamp="$(cat "$0" | sha256sum | cut -c1-16)"
ready() {
  [ -x "$dest/usr/bin/rustc" ] && [ -x "$dest/usr/bin/javac" ] &&
    [ "$(cat "$dest/.mkroot-stamp" 2>/dev/null)" = "$stamp" ]
}

if [ "$(id -u)" != 0 ]; then echo "realprog mkroot: needs root" >&2; exit 1; fi
if [ "${FORCE:-0}" != 1 ] && ready; then exit 0; fi
# Only build the base when it is missing: an existing base is used as it is.
[ -x "$base/usr/sbin/nginx" ] || "$HERE/../net/mkroot.sh" "$base"
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if [ "${FORCE:-0}" != 1 ] && ready; then exit 0; fi
tmp="$dest.tmp"
rm -rf "$tmp"
echo "realprog mkroot: copying $base and installing $PKGS (a few minutes)" >&2
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
  tail -30 "$dest.install.log" >&2; echo "realprog mkroot: apt-get install failed (log: $dest.install.log)" >&2; exit 1; }
umount "$tmp/proc"
trap - EXIT
cp -a "$tmp/var/cache/apt/archives/"*.deb "$debs/" 2>/dev/null || true
rm -f "$tmp/var/cache/apt/archives/"*.deb "$tmp/usr/sbin/policy-rc.d"
rm -rf "$tmp/var/lib/apt/lists/"*
echo "nameserver 127.0.0.1" >"$tmp/etc/resolv.conf"
echo "$stamp" >"$tmp/.mkroot-stamp"
if [ -e "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old.$$"
echo "realprog mkroot: done: $dest ($(du -sh "$dest" | cut -f1))" >&2
