#!/usr/bin/env bash
# tests/vm/checks.sh - the kernel-matrix checks: a subset of the end-to-end
# tests that needs no compiler, run by tests/vm/run.sh inside a qemu guest
# (Debian 12's own 6.1 kernel) and on the host, from a directory holding
# build/ and tests/. TAP on stdout; every line names the kernel it ran on.
#   seed claims (tests/e2e/20-claims.t, plain build), syscall counts equal to
#   strace's on two programs (each on both probe paths:
#   --probes preload and uprobes), record --stacks, record --stacks=all on
#   the preload path (the library unwinds), trace -p / record -p with
#   --duration (they must end within 1 s of it), stat -n, refalloc.
# As root. FAULTLINE (default build/faultline) may name another build.
cd "$(dirname "$0")/../.." || exit 1
FAULTLINE=${FAULTLINE:-build/faultline}
. tests/e2e/lib.sh
need_root
K=$(uname -r)
N_PLAN=27
plan $N_PLAN
kok() { ok "$1" "$2 [kernel $K]" "${3:-}"; }
kis() { if [ "$1" = "$2" ]; then kok 0 "$3"; else kok 1 "$3" "expected $2 got $1"; fi; }
NOASLR=(setarch "$(uname -m)" -R)

# The kernel's features as faultline sees them (one line each where one is missing).
"$FAULTLINE" stat -q -n --json "$T/n.json" -- "$EXAMPLES/seed_claims" >/dev/null 2>"$T/n.err"
rc=$?
diag "faultline on $K: $(cat "$T/n.err")"
kis $rc 0 "stat -n exits 0"
kis "$(json_get "$T/n.json" extra.mode)" syscalls-and-faults "stat -n: counts syscalls and faults only"
"${NOASLR[@]}" strace -f -qq -c -o "$T/n.strace" "$EXAMPLES/seed_claims" >/dev/null 2>&1
"${NOASLR[@]}" "$FAULTLINE" stat -q -n --json "$T/n2.json" -- "$EXAMPLES/seed_claims" >/dev/null 2>&1
got=$(for s in $SYSCALLS; do json_get "$T/n2.json" "syscalls.$s"; done | xargs)
kis "$got" "$(strace_counts "$T/n.strace")" "stat -n: seed_claims's memory syscalls equal strace's ($SYSCALLS)"

# Accuracy: two programs, full tracing, against strace -f -c.
head -c 3000000 /usr/bin/python3 >"$T/gz.in" 2>/dev/null || head -c 3000000 /dev/urandom >"$T/gz.in"
for prog in "mmap_threshold:$EXAMPLES/mmap_threshold" "gzip:/usr/bin/gzip -c $T/gz.in"; do
	name=${prog%%:*} cmd=${prog#*:}
	# shellcheck disable=SC2086 # cmd is a word list
	"${NOASLR[@]}" strace -f -qq -c -o "$T/$name.strace" $cmd >/dev/null 2>&1
	# shellcheck disable=SC2086
	# both probe paths: the in-process library's and the uprobes'
	for probes in preload uprobes; do
		# shellcheck disable=SC2086
		"${NOASLR[@]}" "$FAULTLINE" stat -q --probes $probes --json "$T/$name.json" -- $cmd >/dev/null 2>"$T/$name.err"
		kis $? 0 "stat --probes $probes -- $name exits 0"
		got=$(for s in $SYSCALLS; do json_get "$T/$name.json" "syscalls.$s"; done | xargs)
		kis "$got" "$(strace_counts "$T/$name.strace")" "$name ($probes): memory syscalls equal strace's ($SYSCALLS)"
		kis "$(json_get "$T/$name.json" lost_events)" 0 "$name ($probes): no event lost"
	done
done

# The seed claims, whole (20-claims.t's own plan and checks).
FAULTLINE=$FAULTLINE bash tests/e2e/20-claims.t >"$T/claims.tap" 2>&1
rc=$?
nok=$(grep -c '^ok' "$T/claims.tap") nnot=$(grep -c '^not ok' "$T/claims.tap")
kok $rc "tests/e2e/20-claims.t: $nok ok, $nnot not ok" "$(grep -v '^ok' "$T/claims.tap" | head -30)"

# record --stacks: the programs load (the stack copy passes this verifier)
# and the report names the source lines.
"$FAULTLINE" record -q --stacks -o "$T/s.data" -- "$EXAMPLES/seed_claims" >/dev/null 2>"$T/s.err"
kok $? "record --stacks exits 0" "$(head -c 600 "$T/s.err")"
"$FAULTLINE" report "$T/s.data" >"$T/s.txt" 2>&1
grep -q 'main (seed_claims.c:[0-9]*)' "$T/s.txt"
kok $? "record --stacks: the report's call sites name seed_claims.c lines" "$(tail -5 "$T/s.txt")"
# --stacks=all on the preload path: the library's stacks (libunwind) name the lines too
"$FAULTLINE" record -q --probes preload --stacks=all -o "$T/sa.data" -- "$EXAMPLES/seed_claims" >/dev/null 2>"$T/sa.err"
kok $? "record --probes preload --stacks=all exits 0" "$(head -c 600 "$T/sa.err")"
"$FAULTLINE" report "$T/sa.data" >"$T/sa.txt" 2>&1
grep -q '^Leaks: ' "$T/sa.txt" && grep -q 'main (seed_claims.c:[0-9]*)' "$T/sa.txt" && grep -q 'calls by preload' "$T/sa.txt"
kok $? "record --probes preload --stacks=all: the calls' sites name seed_claims.c lines" "$(tail -5 "$T/sa.txt")"

# trace -p and record -p with --duration 2 on a hot malloc loop: the end
# comes within 1 s of the duration, counted from the line saying the probes
# are live (-v), however far behind the consumer is.
stamp() { while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
for mode in trace record; do
	"$EXAMPLES/churn" 2000000000 >/dev/null &
	victim=$!
	sleep 0.5
	if [ $mode = trace ]; then
		"$FAULTLINE" trace -v -p $victim --duration 2 >/dev/null 2> >(stamp >"$T/$mode.err")
	else
		"$FAULTLINE" record -v -q -o "$T/p.data" -p $victim --duration 2 2> >(stamp >"$T/$mode.err")
	fi
	rc=$? end=$EPOCHREALTIME
	sleep 0.2 # the stamper's last lines
	live=$(awk '/probes live/ { print $1; exit }' "$T/$mode.err")
	kill $victim 2>/dev/null; wait $victim 2>/dev/null
	kis $rc 0 "$mode -p PID --duration 2 exits 0"
	late=$($PY3 -c 'import sys; print(int((float(sys.argv[2]) - float(sys.argv[1]) - 2) * 1000))' "${live:-0}" "$end")
	[ -n "$live" ] && [ "$late" -le 1000 ]
	kok $? "$mode -p PID --duration 2: ends ${late} ms after the duration (<= 1000)" "$(cut -c1-300 "$T/$mode.err" | tail -5)"
done

# refalloc: found as the allocator through its USDT probes; counts equal strace's.
LIB=$PWD/build/librefalloc.so
LD_PRELOAD=$LIB "$FAULTLINE" record -v -q -o "$T/r.data" -- "$EXAMPLES/mmap_threshold" >/dev/null 2>"$T/r.err"
kok $? "record under refalloc exits 0" "$(head -c 600 "$T/r.err")"
grep -q "allocator $LIB" "$T/r.err"
kok $? "refalloc is the allocator (USDT probes)" "$(head -c 600 "$T/r.err")"
"$FAULTLINE" report "$T/r.data" --format json -o "$T/r.json"
strace -f -qq -c -o "$T/r.strace" -E LD_PRELOAD="$LIB" "$EXAMPLES/mmap_threshold" >/dev/null 2>&1
got=$(for s in $SYSCALLS; do json_get "$T/r.json" "syscalls.$s"; done | xargs)
kis "$got" "$(strace_counts "$T/r.strace")" "refalloc: mmap_threshold's memory syscalls equal strace's ($SYSCALLS)"
[ "$TAP_N" = $N_PLAN ] || echo "# ran $TAP_N checks, planned $N_PLAN"
done_testing
