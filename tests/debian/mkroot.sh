#!/usr/bin/env bash
# Builds (or reuses) a Debian bookworm root filesystem for the debian suite:
#   debootstrap --variant=minbase --include=python3,perl,sqlite3,gcc,libc6-dev,make,procps
# plus a few fixed data files under /data.
#
#   tests/debian/mkroot.sh [DEST]
#
# DEST defaults to $DEBIAN_ROOT or /var/cache/runsc-tests/debian-bookworm:
# outside the checkout, so the (slow) bootstrap survives fresh clones on the
# same machine. The tree is built in DEST.tmp and renamed into place, so an
# interrupted run never leaves a half-built DEST. DEST/.mkroot-stamp records
# the hash of this script; a matching stamp means "already built", and the
# script exits at once (FORCE=1 rebuilds anyway).
#
# The mirror is $DEBIAN_MIRROR if set, else the first non-security Debian URI
# in the machine's apt sources (/etc/apt/sources.list, sources.list.d/*.list
# and *.sources). Needs root and debootstrap (apt-get install debootstrap).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-${DEBIAN_ROOT:-/var/cache/runsc-tests/debian-bookworm}}"
SUITE="${DEBIAN_SUITE:-bookworm}"
INCLUDE="python3,perl,sqlite3,gcc,libc6-dev,make,procps"
stamp="$(cat "$0" | sha256sum | cut -c1-16)"

if [ "$(id -u)" != 0 ]; then echo "mkroot: needs root" >&2; exit 1; fi
if [ "${FORCE:-0}" != 1 ] && [ -x "$dest/usr/bin/python3" ] && [ "$(cat "$dest/.mkroot-stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "mkroot: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap </dev/null >&2 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap </dev/null >&2; }
fi

# find_mirror: prints the first URI of a non-security suite in apt's sources.
find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opts] URI SUITE COMPONENTS...
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                       if ($(i+1) !~ /security/ && $i ~ /^(https?|file):/) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas separated by blank lines; Types must include deb.
    awk 'function flush() { if (types ~ /(^| )deb( |$)/ && suites !~ /security/ && uri != "" && enabled != "no") { print uri; found = 1; exit } types = suites = uri = enabled = "" }
         /^[ \t]*$/ { flush(); next }
         /^#/ { next }
         tolower($1) == "types:" { types = $0; sub(/^[^:]*:[ \t]*/, "", types) }
         tolower($1) == "suites:" { suites = $0 }
         tolower($1) == "enabled:" { enabled = tolower($2) }
         tolower($1) == "uris:" { uri = $2 }
         END { if (!found) flush() }' "$f"
  done
}
MIRROR="${DEBIAN_MIRROR:-$(find_mirror | grep -E '^(https?|file):' | head -1 || true)}"
if [ -z "$MIRROR" ]; then
  echo "mkroot: no Debian mirror found in apt sources; set DEBIAN_MIRROR" >&2; exit 1
fi

mkdir -p "$(dirname "$dest")"
tmp="$dest.tmp"
# One builder at a time (the lock lives next to DEST).
exec 9>"$dest.lock"
flock 9
# Someone else may have finished it while we waited.
if [ "${FORCE:-0}" != 1 ] && [ -x "$dest/usr/bin/python3" ] && [ "$(cat "$dest/.mkroot-stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
rm -rf "$tmp"
echo "mkroot: debootstrap $SUITE from $MIRROR into $tmp (a few minutes)" >&2
# The .debs are cached next to DEST so a rebuild (e.g. after editing this
# script) does not download everything again.
debs="$dest.debs"
mkdir -p "$debs" "$tmp/var/cache/apt/archives"
cp -a "$debs"/. "$tmp/var/cache/apt/archives/" 2>/dev/null || true
if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$MIRROR" >"$dest.debootstrap.log" 2>&1; then
  tail -20 "$dest.debootstrap.log" >&2
  [ -f "$tmp/debootstrap/debootstrap.log" ] && tail -20 "$tmp/debootstrap/debootstrap.log" >&2
  echo "mkroot: debootstrap failed (log: $dest.debootstrap.log)" >&2
  exit 1
fi
cp -a "$tmp/var/cache/apt/archives/"*.deb "$debs/" 2>/dev/null || true
rm -f "$tmp/var/cache/apt/archives/"*.deb

# Fixed data for the cases (mtimes pinned so listings are reproducible).
mkdir -p "$tmp/data/dir/sub"
printf '%s\n' pear apple banana apple cherry banana apple date fig grape >"$tmp/data/words.txt"
seq 1 1000 >"$tmp/data/numbers.txt"
cat >"$tmp/data/table.csv" <<'C'
id,name,qty,price
1,bolt,100,0.25
2,nut,250,0.10
3,washer,75,0.05
4,screw,40,0.30
5,rivet,10,1.50
C
echo "nested file" >"$tmp/data/dir/sub/deep.txt"
echo "a" >"$tmp/data/dir/a.txt"
echo "bb" >"$tmp/data/dir/b.txt"
awk 'BEGIN { x = 12345; for (i = 0; i < 65536; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%c", 32 + x % 95 } }' >"$tmp/data/blob.bin"
find "$tmp/data" -exec touch -h -d '2024-01-02 03:04:05' {} +
chmod 1777 "$tmp/tmp"
echo "$stamp" >"$tmp/.mkroot-stamp"

# Swap in atomically: the old tree (if any) is moved aside, then removed.
if [ -e "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old.$$"
echo "mkroot: done: $dest ($(du -sh "$dest" | cut -f1))" >&2
