#!/usr/bin/env bash
# seeds.sh - (re)makes the seed inputs of the fuzz harnesses in
# tests/fuzz/corpus/NAME/ from real recordings of the example programs (run
# as root, after make): trace files (tracefile), their blocks decompressed
# (trace_records), their JSON summaries (summary), and the example binaries,
# stripped and not (elf). Inputs kept there from past crashes (crash-*) stay.
set -euo pipefail
cd "$(dirname "$0")/../.."
FL=build/faultline
C=tests/fuzz/corpus
T=$(mktemp -d /tmp/faultline-seeds.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p $C/tracefile $C/trace_records $C/summary $C/elf
rec() { local name=$1; shift; "$FL" record -q -o "$T/$name.data" "$@" >/dev/null 2>&1; }
rec seed_claims -- build/examples/seed_claims
rec mmap_threshold -- build/examples/mmap_threshold
rec nested_realloc -- build/examples/nested_realloc
rec seed_stacks --stacks --stack-size 1024 -- build/examples/seed_claims
rec nested_all --stacks=all --stack-size 1024 -- build/examples/nested_realloc
for f in "$T"/*.data; do
	n=$(basename "$f" .data)
	cp "$f" "$C/tracefile/$n"
	"$FL" report --format json "$f" >"$C/summary/$n.json" 2>/dev/null || true
	# the blocks' raw payloads, joined by "FBLK" (fuzz_trace_records.c splits there)
	/usr/bin/python3 - "$f" "$C/trace_records/$n" <<'PY'
import struct, subprocess, sys, zlib
d = open(sys.argv[1], 'rb').read()
version = struct.unpack_from('<I', d, 8)[0]
def unpack(comp):  # format version 3 on: one zstd frame; 2: raw deflate
    if version >= 3:
        return subprocess.run(['zstd', '-dcq'], input=comp, stdout=subprocess.PIPE, check=True).stdout
    return zlib.decompressobj(-15).decompress(comp)
off, parts = 24, []
while off + 24 <= len(d):
    magic, kind, raw, comp, _, _ = struct.unpack_from('<6I', d, off)
    if magic != 0x4b4c4246:
        break
    if kind == 1:
        parts.append(unpack(d[off + 24:off + 24 + comp]))
    off += 24 + comp
open(sys.argv[2], 'wb').write(b'FBLK'.join(parts))
PY
done
"$FL" stat -q --json "$C/summary/stat.json" -- build/examples/seed_claims >/dev/null 2>&1 || true
for p in seed_claims nested_realloc; do
	cp build/examples/$p "$C/elf/$p"
	strip -o "$C/elf/$p.stripped" build/examples/$p
done
gcc -O2 -g -shared -fPIC -o "$C/elf/tiny.so" -x c - <<'SRC'
int tiny_add(int a, int b) { return a + b; }
static int helper(int x) { return x * 3; }
int tiny_call(int x) { return helper(x) + 1; }
SRC
ls -l $C/*/ | awk '{ s += $5 } END { print "seeds.sh: " s " bytes of seeds" }'
