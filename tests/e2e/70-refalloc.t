#!/usr/bin/env bash
# faultline on refalloc (LD_PRELOAD=build/librefalloc.so): found as the
# allocator, traced through its USDT probes (no uprobe traps), exact and
# deterministic counts, and the allocator's reason for each syscall.
set -u
cd "$(dirname "$0")/../.."
FAULTLINE=${FAULTLINE:-build/faultline}
LIB=$PWD/build/librefalloc.so
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
check() { local d=$1; shift; n=$((n + 1)); if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; echo "# command: $*"; fi; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "1..11"
cat > "$T/big.c" <<'EOF2'
#include <stdlib.h>
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;
	for (int i = 0; i < n; i++) {
		volatile char *p = malloc(200 * 1024);
		p[0] = 1;
		free((void *)p);
	}
	volatile char *q = malloc(1);
	q[0] = 1;
	free((void *)q);
	return 0;
}
EOF2
gcc -O1 -o "$T/big" "$T/big.c" || exit 1

LD_PRELOAD=$LIB "$FAULTLINE" record -v -q -o "$T/r.data" -- "$T/big" 25 2> "$T/rec.err"
check "record under refalloc exits 0" test $? = 0
check "refalloc is the allocator, probed through its USDT notes" grep -q "allocator $LIB" "$T/rec.err"
"$FAULTLINE" report "$T/r.data" --format json > "$T/r.json"
"$FAULTLINE" report "$T/r.data" > "$T/r.txt"
"$FAULTLINE" report "$T/r.data" --format jsonl > "$T/r.jsonl"
check "25 x malloc(200 KiB) + free: exactly 25 mmap made by malloc" test "$(json "$T/r.json" "d['syscalls_by_caller']['malloc']['mmap']")" = 25
check "... and exactly 25 munmap made by free" test "$(json "$T/r.json" "d['syscalls_by_caller']['free']['munmap']")" = 25
check "malloc(1) on a fresh heap: one brk growth of exactly 132 KiB (+ the brk(NULL) query)" \
	test "$(grep -c '"name":"brk"' "$T/r.jsonl")" = "$(python3 - "$T/r.jsonl" <<'EOF2'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
brk = [e for e in ev if e["ev"] == "syscall" and e["name"] == "brk"]
q = [e for e in brk if e["args"][0] == "0x0"]
grow = [e for e in brk if e["args"][0] != "0x0"]
ok = len(grow) == 1 and len(q) >= 1 and int(grow[0]["ret"], 16) - int(q[-1]["ret"], 16) == 132 * 1024
print(len(brk) if ok else -1)
EOF2
)"
check "calls match the program: 26 malloc, 26 free" test "$(json "$T/r.json" "(d['calls']['malloc'], d['calls']['free'])")" = "(26, 26)"
check "the report gives the allocator's reason for the mmap" grep -q "at or above the mmap threshold" "$T/r.txt"
check "the report gives the allocator's reason for the brk" grep -q "heap grown by 132 KiB for 1 B" "$T/r.txt"
check "reasons appear in jsonl, tied to their call" python3 -c "
import json,sys
ev=[json.loads(l) for l in open('$T/r.jsonl')]
calls={e['seq'] for e in ev if e['ev']=='call'}
rs=[e for e in ev if e['ev']=='reason']
sys.exit(not rs or any(r['call'] not in calls for r in rs))"
LD_PRELOAD=$LIB "$FAULTLINE" stat -q --json "$T/s2.json" -r 3 -- "$T/big" 25
check "deterministic: 3 runs, no spread in mmap count" test "$(json "$T/s2.json" "d['extra']['stddev']['syscalls']['mmap']")" = 0

# refalloc's USDT probes are perf-event uprobes: their removal takes the kernel
# ~2.7 s, left to a background process once the command has exited. That
# process holds no file of ours: a pipe faultline inherited ends with faultline
# (cat sees EOF), while the teardown is still going on.
live() { for p in $(pgrep -x faultline); do [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || return 0; done; return 1; }
quiet() { for i in $(seq 1 400); do live || return 0; sleep 0.05; done; } # zombies do not count
quiet # the teardowns of the runs above
( LD_PRELOAD=$LIB "$FAULTLINE" record -q -o "$T/p.data" -- true 3>&1 | cat >/dev/null )
t_pipe=$(date +%s%N)
quiet
gone_ms=$(( ($(date +%s%N) - t_pipe) / 1000000 ))
check "a pipe faultline inherited sees EOF with faultline, not $gone_ms ms later when its probes are gone" \
	test "$gone_ms" -gt 1000
