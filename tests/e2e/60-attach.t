#!/usr/bin/env bash
# Attaching to running processes: `trace -p`, `record -p`, `stat -p`: calls,
# syscalls and faults of a live python3 loop and of a process in a chroot
# (whose /proc/PID/maps paths name the host's files, not the ones it mapped);
# the target keeps running after detach with no probe left; bad targets get
# one line and a non-zero exit.
set -u
cd "$(dirname "$0")/../.."
FAULTLINE=${FAULTLINE:-build/faultline}
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d" "command: $*"; fi; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "1..18"

cat > "$T/loop.py" <<'EOF'
import time
l = []
for i in range(100000):
    l.append([0] * (1000 * (i % 50)))
    if len(l) > 20:
        l.pop(0)
    time.sleep(0.002)
EOF
python3 "$T/loop.py" &
PY=$!
PIDS+=("$PY")
sleep 0.5

# 1-4: trace -p shows live lines and the summary; the process survives
timeout 30 "$FAULTLINE" trace -p "$PY" --duration 2 > "$T/trace.out" 2> "$T/trace.err"
rc=$?
check "trace -p exits 0 after --duration" test "$rc" = 0
check "trace -p prints live lines for calls that caused syscalls" grep -qE '^#[0-9]+ +tid [0-9]+ +malloc\([0-9]+\) = 0x[0-9a-f]+ +brk' "$T/trace.out"
check "trace -p ends with the summary" grep -q '^Memory syscalls' "$T/trace.out"
check "the target still runs after detach" kill -0 "$PY"

# 5: nothing of ours left: the code at each probed entry point reads as in
# the file again (a uprobe is an int3 written over the first instruction)
check "no probe left in the target's code (malloc, free, calloc, realloc as in the file)" \
	python3 tests/e2e/probes_gone.py "$PY"

# 6-8: record -p and its report
timeout 30 "$FAULTLINE" record -q -p "$PY" --duration 2 -o "$T/p.data"
check "record -p exits 0" test $? = 0
"$FAULTLINE" report "$T/p.data" --format json > "$T/p.json"
calls=$(json "$T/p.json" "d['calls']['malloc']")
brk=$(json "$T/p.json" "d['syscalls_by_caller']['malloc']['brk']")
check "record -p saw malloc calls ($calls)" test "$calls" -gt 10
check "record -p saw brk made by malloc ($brk)" test "$brk" -gt 0

# 9: stat -p
timeout 30 "$FAULTLINE" stat -q -p "$PY" --duration 1 --json "$T/s.json"
calls=$(json "$T/s.json" "d['calls']['malloc']")
check "stat -p counts malloc calls ($calls)" test "$calls" -gt 5

# 10: a second faultline on the same pid is refused
timeout 30 "$FAULTLINE" trace -p "$PY" --duration 3 > /dev/null 2>&1 &
FIRST=$!
sleep 1.5
"$FAULTLINE" trace -p "$PY" --duration 1 > /dev/null 2> "$T/second.err"
rc=$?
wait "$FIRST"
check "a second faultline on the same pid: one line, non-zero exit" \
	bash -c "[ $rc -ne 0 ] && [ \$(wc -l < '$T/second.err') = 1 ] && grep -q 'already tracing' '$T/second.err'"

# 11-12: a process in a chroot: its maps name /lib/... which on the host is a
# different file from the copy it really maps
R="$T/root"
mkdir -p "$R"
cp build/examples/churn "$R/churn"
for lib in $(ldd build/examples/churn | grep -o '/[^ ]*'); do
	mkdir -p "$R$(dirname "$lib")"
	cp "$lib" "$R$lib"
done
chroot "$R" /churn 200000000 hold &
CH=$!
PIDS+=("$CH")
sleep 0.5
timeout 30 "$FAULTLINE" stat -q -p "$CH" --duration 1 --json "$T/c.json"
rc=$?
calls=$(json "$T/c.json" "d['calls']['malloc']" 2>/dev/null || echo 0)
check "stat -p on a chrooted process exits 0" test "$rc" = 0
check "the chrooted process's own libc copy is probed ($calls malloc calls)" test "$calls" -gt 1000
kill -9 "$CH" 2>/dev/null

# 13-14: a shell running a pipeline in a loop: the shell's own allocations
bash -c 'while :; do echo "$RANDOM $RANDOM" | sort | tr a-z A-Z > /dev/null; done' &
SH=$!
PIDS+=("$SH")
sleep 0.5
timeout 30 "$FAULTLINE" stat -q -p "$SH" --duration 1 --json "$T/sh.json"
rc=$?
calls=$(json "$T/sh.json" "d['calls']['malloc'] + d['calls']['free']" 2>/dev/null || echo 0)
check "stat -p on a shell looping over a pipeline exits 0" test "$rc" = 0
check "... and sees the shell's allocator calls ($calls)" test "$calls" -gt 100
kill -9 "$SH" 2>/dev/null

# 15-18: bad targets
"$FAULTLINE" trace -p 999999999 --duration 1 > /dev/null 2> "$T/e1"
rc=$?
check "a wrong pid: one line, non-zero exit" bash -c "[ $rc -ne 0 ] && [ \$(wc -l < '$T/e1') = 1 ] && grep -q 'no process' '$T/e1'"
"$FAULTLINE" trace -p 2 --duration 1 > /dev/null 2> "$T/e2"
rc=$?
check "a kernel thread: one line, non-zero exit" bash -c "[ $rc -ne 0 ] && [ \$(wc -l < '$T/e2') = 1 ] && grep -q 'kernel thread' '$T/e2'"
sleep 0.3 &
SHORT=$!
"$FAULTLINE" record -q -p "$SHORT" -o "$T/short.data" > /dev/null 2> "$T/e3"
rc=$?
check "a process that exits during or right after attach ends cleanly or with one line (rc=$rc)" \
	bash -c "[ $rc = 0 ] || [ \$(wc -l < '$T/e3') = 1 ]"
"$FAULTLINE" record -p "$PY" -- true > /dev/null 2> "$T/e4"
rc=$?
check "-p with a command is a usage error" bash -c "[ $rc = 2 ] && grep -q 'not both' '$T/e4'"
