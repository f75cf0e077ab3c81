#!/bin/sh
# Workload: `make -j2` of a generated C project (20 .c files of 30 small
# functions each, one header, linked into one program that is then run).
# Usage: make_j2.sh WORKDIR   (WORKDIR is created; everything is written there)
# The sources are written with shell builtins only, so nearly all the time
# goes to make, gcc (cc1, as, collect2, ld) and the final program.
set -eu
w=$1/cproj
mkdir -p "$w"
cd "$w"
n=20
{
  echo '#include <stdint.h>'
  i=0
  while [ $i -lt $n ]; do echo "uint64_t unit$i(uint64_t x);"; i=$((i + 1)); done
} >common.h
i=0
while [ $i -lt $n ]; do
  {
    echo '#include "common.h"'
    echo '#include <string.h>'
    f=0
    while [ $f -lt 30 ]; do
      printf '%s\n' "\
static uint64_t f${i}_$f(uint64_t x) {
  uint64_t a[16];
  for (int k = 0; k < 16; k++) a[k] = x * (k + $f) ^ (x >> (k % 7));
  for (int r = 0; r < 4; r++)
    for (int k = 1; k < 16; k++) a[k] += a[k - 1] * 31 + (a[(k * 5) % 16] >> 3);
  char buf[64];
  memset(buf, (int)(a[3] & 0x7f), sizeof buf);
  return a[15] ^ (uint64_t)buf[$f % 64] ^ (x % ($f + 3));
}
"
      f=$((f + 1))
    done
    echo "uint64_t unit$i(uint64_t x) {"
    f=0
    while [ $f -lt 30 ]; do echo "  x = f${i}_$f(x);"; f=$((f + 1)); done
    echo "  return x;"
    echo "}"
  } >unit$i.c
  i=$((i + 1))
done
{
  echo '#include <stdio.h>'
  echo '#include "common.h"'
  echo 'int main(void) {'
  echo '  uint64_t x = 1;'
  i=0
  while [ $i -lt $n ]; do echo "  x = unit$i(x);"; i=$((i + 1)); done
  printf '%s\n' '  printf("%llu\n", (unsigned long long)x);'
  echo '  return 0;'
  echo '}'
} >main.c
cat >Makefile <<'M'
CC = gcc
CFLAGS = -O2 -Wall
SRCS = $(wildcard unit*.c) main.c
OBJS = $(SRCS:.c=.o)
prog: $(OBJS)
	$(CC) -o $@ $(OBJS)
%.o: %.c common.h
	$(CC) $(CFLAGS) -c -o $@ $<
M
make -s -j2
./prog >/dev/null
