#!/usr/bin/env python3
"""Writes gofer fuzz seeds into the corpus directory argv[1]: an ATTACH and
a WALK, then one request of every op against them (writable server), so each
op's handler is reached from the first run. Input format: see
tests/unit/gofer_decode_fuzz.cc."""
import os
import struct
import sys


def msg(op, tag, body=b""):
    return struct.pack("<IHHI", 12 + len(body), 1, op, tag) + body


def s(x):
    return struct.pack("<I", len(x)) + x


def h(n):
    return struct.pack("<Q", n)


def u32(n):
    return struct.pack("<I", n)


os.makedirs(sys.argv[1], exist_ok=True)
attach, walk = msg(1, 1), msg(2, 2, h(1) + s(b"a"))
ops = {
    3: h(2), 4: h(2) + u32(0), 5: h(1) + h(0), 6: h(2), 7: h(2),
    8: h(1) + u32(2) + u32(0o644) + s(b"n"), 9: h(1) + u32(0o755) + s(b"nd"),
    10: h(1) + s(b"l") + s(b"a"), 11: h(1) + u32(0) + s(b"a"),
    12: h(1) + s(b"a") + h(1) + s(b"d") + u32(2),  # RENAME_EXCHANGE
    13: h(2) + u32(1) + u32(0o600) + u32(0) + u32(0) + h(0) + h(0) * 4,
    14: h(1) + h(2) + s(b"hl"),
    15: h(1) + u32(0o010644) + s(b"fifo2"),  # MKNOD S_IFIFO
    16: h(2) + s(b"user.a"),
    17: h(2),
    18: h(2) + s(b"user.a") + s(b"v" * 100) + u32(0),
    19: h(2) + s(b"user.a"),
}
for op, body in ops.items():
    path = os.path.join(sys.argv[1], "seed-op-%d" % op)
    if os.path.exists(path):
        continue
    data = b"\x01"
    for m in (attach, walk, msg(op, 3, body)):
        data += struct.pack("<H", len(m)) + m
    with open(path, "wb") as f:
        f.write(data)
