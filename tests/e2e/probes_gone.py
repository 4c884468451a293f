#!/usr/bin/env python3
"""Exit 0 if malloc, free, calloc and realloc in PID's libc read as in the
file (no uprobe's int3 left over them), else the number that differ."""
import subprocess
import sys

pid = sys.argv[1]
for line in open(f"/proc/{pid}/maps"):
    f = line.split()
    if len(f) >= 6 and "r-xp" in f[1] and "/libc.so" in f[5]:
        start, off, path = int(f[0].split("-")[0], 16), int(f[2], 16), f"/proc/{pid}/map_files/{f[0]}"
        shown = f[5]
        break
else:
    sys.exit("no libc text mapping")
syms = subprocess.run(["nm", "-D", "--defined-only", shown], capture_output=True, text=True).stdout
names = {"malloc", "free", "calloc", "realloc"}
bad = 0
with open(f"/proc/{pid}/mem", "rb") as mem, open(path, "rb") as lib:
    for l in syms.splitlines():
        v, _, n = l.split()
        if n.split("@")[0] not in names:
            continue
        v = int(v, 16)
        mem.seek(start + v - off)
        lib.seek(v)
        if mem.read(8) != lib.read(8):
            print(f"# {n} differs from the file: a probe is there", file=sys.stderr)
            bad += 1
sys.exit(bad)
