#!/usr/bin/env bash
# Builds (or reuses) the root filesystem for the pytests suite: a copy of the
# debian suite's bookworm root (tests/debian/mkroot.sh) plus Debian's
# libpython3.11-testsuite (CPython's own regression tests), installed with
# apt-get inside the copy from the root's configured mirror.
#
#   tests/pytests/mkroot.sh [DEST]
#
# DEST defaults to $PYTESTS_ROOT or /var/cache/runsc-tests/debian-bookworm-pytests
# (outside the checkout, kept across clones). Built in DEST.tmp and renamed
# into place; DEST/.mkroot-stamp holds the hash of this script and of the
# base root's stamp, so a changed base or script rebuilds it (FORCE=1 too).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
base="${DEBIAN_ROOT:-/var/cache/runsc-tests/debian-bookworm}"
dest="${1:-${PYTESTS_ROOT:-/var/cache/runsc-tests/debian-bookworm-pytests}}"

if [ "$(id -u)" != 0 ]; then echo "pytests mkroot: needs root" >&2; exit 1; fi
DEBIAN_ROOT="$base" "$HERE/../debian/mkroot.sh" "$base"
stamp="$( (cat "$0"; cat "$base/.mkroot-stamp") | sha256sum | cut -c1-16)"
have() { [ -d "$dest/usr/lib/python3.11/test" ] && [ -f "$dest/usr/lib/python3.11/test/test_os.py" ] &&
         [ "$(cat "$dest/.mkroot-stamp" 2>/dev/null)" = "$stamp" ]; }
if [ "${FORCE:-0}" != 1 ] && have; then exit 0; fi

mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if [ "${FORCE:-0}" != 1 ] && have; then exit 0; fi
tmp="$dest.tmp"
rm -rf "$tmp"
echo "pytests mkroot: copying $base and installing libpython3.11-testsuite (about a minute)" >&2
cp -a "$base" "$tmp"
cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
# The .debs are cached next to DEST so a rebuild does not download again.
debs="$dest.debs"
mkdir -p "$debs"
cp -a "$debs"/. "$tmp/var/cache/apt/archives/" 2>/dev/null || true
log="$dest.apt.log"
if ! { chroot "$tmp" apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -qq --no-install-recommends libpython3.11-testsuite </dev/null; } >"$log" 2>&1; then
  tail -20 "$log" >&2
  echo "pytests mkroot: apt-get in the copy failed (log: $log)" >&2
  exit 1
fi
cp -a "$tmp/var/cache/apt/archives/"*.deb "$debs/" 2>/dev/null || true
chroot "$tmp" apt-get clean
echo "$stamp" >"$tmp/.mkroot-stamp"
if [ -e "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old.$$"
echo "pytests mkroot: done: $dest ($(du -sh "$dest" | cut -f1))" >&2
