#!/usr/bin/env bash
# faultline trace -- CMD: the live view of a new command: a line per call that
# caused a syscall, the summary at the end, --json, CMD's exit status.
set -u
cd "$(dirname "$0")/../.."
FAULTLINE=${FAULTLINE:-build/faultline-asan}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
check() { local d=$1; shift; n=$((n + 1)); if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; echo "# command: $*"; fi; }
echo "1..7"

"$FAULTLINE" trace -- build/examples/seed_claims > "$T/out" 2> "$T/err"
check "trace -- CMD exits 0" test $? = 0
check "a live line for malloc(1) growing the heap with brk" grep -qE '^#[0-9]+ +tid [0-9]+ +malloc\(1\) = 0x[0-9a-f]+ .*brk \+132 KiB' "$T/out"
check "a live line for malloc(131072) getting its own mmap of 135168 bytes" grep -qE 'malloc\(131072\) = 0x[0-9a-f]+ +mmap 132 KiB \(135168 B\)' "$T/out"
check "a live line for the free that unmaps it" grep -qE 'free\(0x[0-9a-f]+\) +munmap 132 KiB' "$T/out"
check "the summary at the end" grep -q '^Memory syscalls' "$T/out"
"$FAULTLINE" trace --json -- build/examples/seed_claims > "$T/j" 2>/dev/null
check "--json: the summary JSON on stdout" python3 -c "
import json; d=json.load(open('$T/j')); assert d['schema']=='faultline.summary.v1' and d['syscalls']['mmap']>=2"
"$FAULTLINE" trace -- sh -c 'exit 7' > /dev/null 2>&1
check "CMD's exit status is passed on" test $? = 7
