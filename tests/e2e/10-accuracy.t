#!/usr/bin/env bash
# Accuracy against independent tools, on real programs nobody here wrote.
# Each program runs separately under strace -f -c (memory syscalls), perf stat
# (page-faults), bpftrace (uprobes on libc malloc/free) and faultline record,
# all under the same conditions: setarch -R (no ASLR), PYTHONHASHSEED=0, same
# cwd, same argv, same input files, stdout to /dev/null.
# Single-threaded: syscall counts, malloc and free counts exactly equal; faults
# within 1% of perf's; no lost events.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin strace perf bpftrace setarch "$PY3" /usr/bin/gzip /usr/bin/sort /usr/bin/tar /usr/bin/sqlite3
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
[ -x "$EXAMPLES/threads" ] || skip_all "no $EXAMPLES/threads (make build/examples/threads)"

# ---------------------------------------------------------------- inputs
cd "$T" || exit 1
$PY3 - <<'EOF'
import os, random
random.seed(1)
# ~5 MB of compressible text for gzip / xz
with open("big.txt", "w") as f:
    n = 0; i = 0
    while n < 5 * 1024 * 1024:
        s = "line %d %08x %s\n" % (i, random.getrandbits(32), "abcdefgh"[i % 8] * (i % 40))
        f.write(s); n += len(s); i += 1
# 200k lines to sort
with open("lines.txt", "w") as f:
    for i in range(200000):
        f.write("%d %s\n" % (random.getrandbits(40), "xyz"[i % 3] * (i % 17)))
# sqlite script: a table, ~20k rows, a query
with open("db.sql", "w") as f:
    f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);\nBEGIN;\n")
    for i in range(20000):
        f.write("INSERT INTO t(name, v) VALUES('name%d', %d.5);\n" % (i % 977, i))
    f.write("COMMIT;\nCREATE INDEX tn ON t(name);\n")
    f.write("SELECT name, count(*), sum(v) FROM t GROUP BY name ORDER BY 3 DESC LIMIT 5;\n")
# a small directory tree for tar
for d in range(5):
    os.makedirs("tree/d%d" % d, exist_ok=True)
    for j in range(20):
        with open("tree/d%d/f%d" % (d, j), "wb") as f:
            f.write(bytes(random.getrandbits(8) for _ in range(100 + 997 * j)))
# python programs (bpftrace -c splits its command on spaces, so the code
# goes in files, run the same way under every tool)
with open("lists.py", "w") as f:
    f.write('''
d = []
for i in range(20000):
    d.append({"k%d" % i: list(range(i % 50))})
del d
s = {str(i): [i] * 10 for i in range(50000)}
s.clear()
b = [bytearray(200000) for _ in range(20)]
del b
''')
with open("pythreads.py", "w") as f:
    f.write('''
import threading
def work(n):
    x = []
    for i in range(20000):
        # > 512 bytes: lists beyond pymalloc's limit come from malloc
        x.append([i] * (80 + i % 300))
        if len(x) > 200:
            x.clear()
ts = [threading.Thread(target=work, args=(k,)) for k in range(3)]
for t in ts: t.start()
for t in ts: t.join()
''')
EOF
[ -s big.txt ] && [ -s lines.txt ] && [ -s db.sql ] || { echo "Bail out! cannot make inputs"; exit 1; }

# ---------------------------------------------------------------- programs
# name | multi-threaded (0/1) | stdin | command (no argument has a space: bpftrace -c)
PROGRAMS=(
	"python_lists|0|/dev/null|$PY3 lists.py"
	"gzip|0|/dev/null|/usr/bin/gzip -c big.txt"
	"sort|0|/dev/null|/usr/bin/sort --parallel=1 lines.txt"
	"sqlite3|0|db.sql|/usr/bin/sqlite3 :memory:"
	"tar|0|/dev/null|/usr/bin/tar -cf out.tar tree"
	"threads_example|1|/dev/null|$EXAMPLES/threads"
	"sort_parallel2|1|/dev/null|/usr/bin/sort --parallel=2 -S 64M lines.txt"
	"python_threads|1|/dev/null|$PY3 pythreads.py"
)
if [ -x /usr/bin/xz ]; then
	PROGRAMS+=("xz_T2|1|/dev/null|/usr/bin/xz -T2 -1 -c big.txt")
fi

PER_PROGRAM=10 # 6 syscalls + faults + malloc + free + lost
plan $(( ${#PROGRAMS[@]} * PER_PROGRAM ))

BT_PROG="uprobe:$LIBC:malloc /pid == cpid/ { @m = count(); } uprobe:$LIBC:free /pid == cpid/ { @f = count(); }"

# measure NAME INPUT CMDLINE: run CMDLINE once under each tool; sets s_*, p_faults,
# b_malloc, b_free, f_*.
measure() {
	local name=$1 input=$2 cmdline=$3 rc
	local -a cmd
	read -r -a cmd <<<"$cmdline"

	# 1. strace: memory syscalls of the whole process (threads included)
	# strace 6.1 -c segfaults on the uretprobe syscall (x86-64 nr 335, unknown
	# to it) that every process makes while some `faultline record -f` (which
	# probes libc in all processes) runs elsewhere on the machine: retry then.
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		setarch -R strace -f -c -o "$name.strace" -e trace=brk,mmap,munmap,mremap,mprotect,madvise \
			-- "${cmd[@]}" <"$input" >/dev/null 2>"$name.strace.err"
		rc=$?
		[ $rc -lt 128 ] && break
		diag "$name: strace crashed (exit $rc; another 'faultline record -f' running?), retrying"
		sleep 3
	done
	read -r s_brk s_mmap s_munmap s_mremap s_mprotect s_madvise < <(strace_counts "$name.strace")

	# 2. perf: page faults
	setarch -R perf stat -e page-faults -x, -o "$name.perf" -- "${cmd[@]}" \
		<"$input" >/dev/null 2>"$name.perf.err"
	p_faults=$(perf_faults "$name.perf")

	# 3. bpftrace: malloc and free uprobe hits of the child
	setarch -R bpftrace -o "$name.bt" -e "$BT_PROG" -c "$cmdline" \
		<"$input" >/dev/null 2>"$name.bt.err"
	b_malloc=$(bpftrace_map "$name.bt" m)
	b_free=$(bpftrace_map "$name.bt" f)

	# 4. faultline
	setarch -R "$FAULTLINE" record -q -f --probes uprobes -o "$name.data" -- "${cmd[@]}" \
		<"$input" >/dev/null 2>"$name.fl.err"
	rc=$?
	"$FAULTLINE" report "$name.data" --format json -o "$name.json" 2>>"$name.fl.err"
	[ $rc = 0 ] || diag "$name: faultline record exited $rc: $(head -3 "$name.fl.err")"
	read -r f_brk f_mmap f_munmap f_mremap f_mprotect f_madvise f_faults f_malloc f_free f_lost < <(
		$PY3 - "$name.json" <<'EOF' 2>/dev/null || echo "x x x x x x x x x x"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["syscalls"]
print(*[s[k] for k in ("brk", "mmap", "munmap", "mremap", "mprotect", "madvise")],
      d["faults"]["total"], d["calls"]["malloc"], d["calls"]["free"], d["lost_events"])
EOF
	)
}

# Fault totals of a multi-threaded program follow the same interleaving: how
# far each thread's stack and arena get touched before the others run.
# Measured here on build/examples/threads under setarch -R: perf stat alone
# gives 1309 to 1417 from run to run (8%), and in one CI run faultline's
# traced runs took 1344 against perf's 1309 three times over (2.7%: the
# probes slow every malloc, so the threads interleave differently). Single-
# threaded programs are held to 1%.
MT_FAULT_PCT=5

# mt_close: the multi-threaded tolerances below hold (0) or not (1)
mt_close() {
	local k s f d
	for k in $SYSCALLS; do
		s=s_$k f=f_$k
		[[ "${!s}" =~ ^[0-9]+$ && "${!f}" =~ ^[0-9]+$ ]] || return 1
		d=$(( ${!f} - ${!s} )); [ "${d#-}" -le 2 ] || return 1
	done
	within_pct_q "$f_faults" "$p_faults" $MT_FAULT_PCT && within_pct_q "$f_malloc" "$b_malloc" 0.5 1 &&
		within_pct_q "$f_free" "$b_free" 0.5 1
}
within_pct_q() {
	[[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] || return 1
	$PY3 -c 'import sys; g,r,p,m=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]),int(sys.argv[4]); sys.exit(0 if abs(g-r) <= max(r*p/100, m) else 1)' "$1" "$2" "$3" "${4:-0}"
}

for p in "${PROGRAMS[@]}"; do
	IFS='|' read -r name mt input cmdline <<<"$p"
	measure "$name" "$input" "$cmdline"
	if [ "$mt" = 1 ]; then
		# The reference counts themselves vary between runs of a
		# multi-threaded program (see below): when a run falls outside
		# the tolerances, measure again, at most 3 runs in all.
		for attempt in 2 3; do
			mt_close && break
			diag "$name: run $((attempt - 1)) outside the thread tolerances (strace $s_brk $s_mmap $s_munmap $s_mremap $s_mprotect $s_madvise perf $p_faults bpftrace $b_malloc $b_free; faultline $f_brk $f_mmap $f_munmap $f_mremap $f_mprotect $f_madvise $f_faults $f_malloc $f_free): measuring again"
			measure "$name" "$input" "$cmdline"
		done
	fi

	diag "$name: strace $s_brk $s_mmap $s_munmap $s_mremap $s_mprotect $s_madvise perf $p_faults bpftrace $b_malloc $b_free"
	diag "$name: faultline $f_brk $f_mmap $f_munmap $f_mremap $f_mprotect $f_madvise faults $f_faults calls $f_malloc $f_free lost $f_lost"
	if [ "$mt" = 0 ]; then
		for k in $SYSCALLS; do
			s=s_$k f=f_$k
			is "${!f}" "${!s}" "$name: $k count equals strace's"
		done
		within_pct "$f_faults" "$p_faults" 1 "$name: page faults within 1% of perf's"
		is "$f_malloc" "$b_malloc" "$name: malloc calls equal bpftrace's"
		is "$f_free" "$b_free" "$name: free calls equal bpftrace's"
	else
		# Multi-threaded: arena timing. How many arena heaps glibc creates,
		# where each lands (a new heap is a 128 MiB PROT_NONE reservation
		# trimmed to a 64 MiB-aligned window by one or two munmaps, depending
		# on how thread stacks and other arenas were mapped before it), when
		# a thread grows (mprotect) or trims (madvise) its arena, and which
		# thread reuses whose arena all depend on thread interleaving, which
		# differs from run to run and between tracers (strace itself shows 5
		# to 8 munmaps for build/examples/threads). So each kind may differ
		# by 2, and the call counts (which follow the same timing: Python's
		# GIL hand-offs, free(NULL)s at thread start, sort's merge tree) by
		# 0.5%.
		for k in $SYSCALLS; do
			s=s_$k f=f_$k
			within "${!f}" "${!s}" 2 "$name: $k count within 2 of strace's (threads)"
		done
		within_pct "$f_faults" "$p_faults" $MT_FAULT_PCT "$name: page faults within $MT_FAULT_PCT% of perf's (threads)"
		# (at least 1 call: sort --parallel=2 makes 75 or 76 frees from
		# run to run, under bpftrace as under faultline, and 0.5% of 75 is
		# less than one call)
		if within_pct_q "$f_malloc" "$b_malloc" 0.5 1; then ok 0 "$name: malloc calls within 0.5% (min 1) of bpftrace's (threads)"
		else within_pct "$f_malloc" "$b_malloc" 0.5 "$name: malloc calls within 0.5% (min 1) of bpftrace's (threads)"; fi
		if within_pct_q "$f_free" "$b_free" 0.5 1; then ok 0 "$name: free calls within 0.5% (min 1) of bpftrace's (threads)"
		else within_pct "$f_free" "$b_free" 0.5 "$name: free calls within 0.5% (min 1) of bpftrace's (threads)"; fi
	fi
	is "$f_lost" 0 "$name: no lost events"
done
done_testing
