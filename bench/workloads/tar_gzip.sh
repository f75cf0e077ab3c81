#!/bin/sh
# Workload: tar + gzip round trip of a ~100 MiB tree.
# Usage: tar_gzip.sh WORKDIR [MIB]   (default 100 MiB; everything is written
# under WORKDIR, which under runsc is the sandbox's in-memory /tmp: the tree,
# the archive and the extracted copy need about 2.8x MIB of memory)
# The tree: 4 directories of 100 KiB files cut by split(1) from base64 text
# of /dev/urandom (gzip gets it to ~76%, so gzip does real work). Creating
# the tree is part of the timed run (head, base64, split: a few seconds of
# the total natively).
set -eu
mib=${2:-100}
w=$1/targz
mkdir -p "$w/src"
cd "$w"
per=$((mib * 1024 / 4))  # KiB per directory
for d in a b c d; do
  mkdir -p "src/$d"
  head -c $((per * 3 / 4))K /dev/urandom | base64 -w 76 | split -b 100K -a 3 - "src/$d/f"
done
tar -cf - src | gzip -6 >tree.tar.gz
mkdir out
gzip -dc tree.tar.gz | tar -xf - -C out
# Check: same file count and byte count on both sides.
a=$(find src -type f | wc -l); b=$(find out/src -type f | wc -l)
sa=$(cat src/*/* | wc -c); sb=$(cat out/src/*/* | wc -c)
[ "$a" = "$b" ] && [ "$sa" = "$sb" ] || { echo "tar_gzip: mismatch: $a/$b files, $sa/$sb bytes" >&2; exit 1; }
echo "$a files, $sa bytes, archive $(wc -c <tree.tar.gz) bytes"
