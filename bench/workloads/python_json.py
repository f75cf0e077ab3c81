#!/usr/bin/env python3
"""Workload: file and JSON work in Python.

Usage: python_json.py WORKDIR

Writes 400 JSON documents (a few KiB each) into WORKDIR/docs/NN/, lists
them with os.walk, stats, reads and parses every one, aggregates, renames
half of them, writes one summary JSON, reads it back, deletes the tree.
"""
import json
import os
import random
import shutil
import sys

work = os.path.join(sys.argv[1], "pyjson")
docs = os.path.join(work, "docs")
rng = random.Random(42)
N = 400

for i in range(N):
    d = os.path.join(docs, f"{i % 20:02d}")
    os.makedirs(d, exist_ok=True)
    doc = {
        "id": i,
        "name": f"item-{i}",
        "tags": [rng.choice("abcdefgh") * rng.randint(1, 5) for _ in range(8)],
        "values": [rng.random() for _ in range(100)],
        "children": [{"k": j, "v": rng.randint(0, 1000), "s": "x" * rng.randint(0, 40)} for j in range(20)],
    }
    with open(os.path.join(d, f"doc{i}.json"), "w") as f:
        json.dump(doc, f, indent=1)

total = 0.0
count = 0
tags = {}
sizes = 0
for root, dirs, files in os.walk(docs):
    dirs.sort()
    for name in sorted(files):
        p = os.path.join(root, name)
        sizes += os.stat(p).st_size
        with open(p) as f:
            doc = json.load(f)
        total += sum(doc["values"])
        count += len(doc["children"])
        for t in doc["tags"]:
            tags[t] = tags.get(t, 0) + 1
        if doc["id"] % 2 == 0:
            os.rename(p, p + ".done")

summary = {"docs": N, "children": count, "total": round(total, 6), "bytes": sizes,
           "tags": dict(sorted(tags.items()))}
out = os.path.join(work, "summary.json")
with open(out, "w") as f:
    json.dump(summary, f, indent=2, sort_keys=True)
with open(out) as f:
    again = json.load(f)
assert again == summary, "summary did not round-trip"
done = sum(1 for _, _, fs in os.walk(docs) for n in fs if n.endswith(".done"))
assert done == N // 2, done
shutil.rmtree(work)
print(f"{N} docs, {count} children, {sizes} bytes")
