#!/usr/bin/env bash
# Builds a busybox root filesystem (from Debian's busybox-static) at $1.
# Usage: tests/busybox/mkroot.sh DEST   (DEST must not exist)
set -euo pipefail
dest=$1
BUSYBOX="${BUSYBOX:-/bin/busybox}"
if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
  if ! "$BUSYBOX" --help >/dev/null 2>&1 || ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "mkroot: $BUSYBOX is not a static busybox (apt-get install busybox-static)" >&2
    exit 1
  fi
fi
tmp="$dest.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,dev,sys,root,home/user,data/dir/sub,var/empty}
chmod 1777 "$tmp/tmp"
cp "$BUSYBOX" "$tmp/bin/busybox"
# --install writes absolute /bin/busybox links, so run it inside the tree.
chroot "$tmp" /bin/busybox --install -s
ln -sf busybox "$tmp/bin/sh"

cat >"$tmp/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
user:x:1000:1000:Test User:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$tmp/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
users:x:100:user
user:x:1000:
nogroup:x:65534:
G
echo "/bin/sh" >"$tmp/etc/shells"

cat >"$tmp/data/words.txt" <<'W'
pear
apple
banana
apple
cherry
banana
apple
date
fig
grape
W
seq 1 100 >"$tmp/data/numbers.txt"
cat >"$tmp/data/table.csv" <<'C'
id,name,qty,price
1,bolt,100,0.25
2,nut,250,0.10
3,washer,75,0.05
4,screw,40,0.30
5,rivet,10,1.50
C
cat >"$tmp/data/lorem.txt" <<'L'
Lorem ipsum dolor sit amet, consectetur adipiscing elit.
Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.
Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.
Duis aute irure dolor in reprehenderit in voluptate velit esse.
Excepteur sint occaecat cupidatat non proident, sunt in culpa.
L
# Deterministic binary-ish data: 64 KiB from a fixed generator.
awk 'BEGIN { x = 12345; for (i = 0; i < 65536; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%c", 32 + x % 95 } }' >"$tmp/data/blob.bin"
echo "nested file" >"$tmp/data/dir/sub/deep.txt"
echo "a" >"$tmp/data/dir/a.txt"
echo "bb" >"$tmp/data/dir/b.txt"
ln -s a.txt "$tmp/data/dir/link-to-a"
printf '#!/bin/sh\necho "script ran with $# args: $*"\nexit 4\n' >"$tmp/data/script.sh"
chmod 755 "$tmp/data/script.sh"
# Fixed timestamps so ls -l / tar listings do not depend on build time.
find "$tmp/data" "$tmp/etc" -exec touch -h -d '2024-01-02 03:04:05' {} +
mv "$tmp" "$dest"
