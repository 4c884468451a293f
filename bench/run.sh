#!/usr/bin/env bash
# faultline benchmarks: `make bench` (runs `bash bench/run.sh` from the repo root, as root).
#
# For every workload the configurations run INTERLEAVED (one warm-up round, then
# A B C ... A B C ...), so a slow drift of the machine hits every configuration alike;
# each configuration's median and min-max wall time is reported. Wall time is taken by
# bash ($EPOCHREALTIME) around the whole command, so every tool's start-up and tear-down
# is included; the workload `true` measures exactly that start-up, and the table shows
# both the raw ratio to the untraced run and a start-up-corrected one.
#
#   BENCH_QUICK=1      ~1-minute smoke run (smaller workloads, 1 round, no warm-up)
#   BENCH_ROUNDS=N     override the number of rounds
#   BENCH_BUDGET=S     after S seconds (default 420; quick 60) workloads still to come get
#                      one round only, so `make bench` stays under 10 minutes
#   BENCH_RESULTS=F    where to write the Markdown results (default bench/RESULTS.md;
#                      a BENCH_QUICK=1 run only prints them, unless this is set)
#
# Results are marked DISTURBED when another bpftrace or faultline runs at the start or
# between workloads: bpftrace's uprobes on libc are system-wide (filtered in BPF), so
# every malloc on the machine, ours included, takes a trap while it runs.
set -u
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD
FL=$ROOT/build/faultline
EX=$ROOT/build/examples
LIBC=/lib/x86_64-linux-gnu/libc.so.6
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
CMDLINE="${BENCH_QUICK:+BENCH_QUICK=$BENCH_QUICK }bash bench/run.sh"

if [ -n "$QUICK" ]; then
	ROUNDS=${BENCH_ROUNDS:-1}; SLOW_ROUNDS=${BENCH_ROUNDS:-1}; WARMUP=0; BUDGET=${BENCH_BUDGET:-60}
	CHURN_PAIRS=100000; MMAP_N=5000; FAULTY_MIB=64; FAULTY_ROUNDS=2; SQL_ROWS=10000
	RESULTS=${BENCH_RESULTS:-}
else
	ROUNDS=${BENCH_ROUNDS:-5}; SLOW_ROUNDS=${BENCH_ROUNDS:-3}; WARMUP=1; BUDGET=${BENCH_BUDGET:-420}
	CHURN_PAIRS=300000; MMAP_N=20000; FAULTY_MIB=256; FAULTY_ROUNDS=4; SQL_ROWS=50000
	RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
fi

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (uprobes, tracepoints, perf probe)"
[ -x "$FL" ] && [ -x "$EX/churn" ] || die "build first: make -C $ROOT all"
[ -e "$LIBC" ] || die "$LIBC not found (this harness assumes Debian x86-64 glibc)"
for t in bpftrace strace perf sqlite3; do
	command -v $t >/dev/null || die "$t not installed (make deps)"
done
HAVE_HEAPTRACK=; command -v heaptrack >/dev/null && HAVE_HEAPTRACK=1
HAVE_TIME=; [ -x /usr/bin/time ] && HAVE_TIME=1

WORK=$(mktemp -d /tmp/faultline-bench.XXXXXX) || die "mktemp failed"
export WORK
PROBES=
cleanup() {
	# Remove only the probe group this script created (other tools' probe_libc:* stay).
	[ -n "$PROBES" ] && perf probe -q -d 'flbench:*' >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- disturbance check
DISTURBED=
DISTURB_WHY=
# Live processes named $1 (zombies excluded: a defunct faultline holds no probes).
live_pids() {
	local p out=
	for p in $(pgrep -x "$1"); do
		[ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] || out+="$p "
	done
	echo "$out"
}
check_quiet() {   # $1: when
	local b f
	b=$(live_pids bpftrace); f=$(live_pids faultline)$(live_pids faultline-asan)
	if [ -n "$b$f" ]; then
		DISTURBED=1
		DISTURB_WHY+="${DISTURB_WHY:+; }$1:${b:+ bpftrace pid ${b% }}${f:+ faultline pid ${f% }}"
		echo "bench: WARNING: ${b:+bpftrace (pid ${b% }) }${f:+faultline (pid ${f% }) }running $1;" \
		     "timings will be marked DISTURBED" >&2
	fi
}
check_quiet "at start"

# ---------------------------------------------------------------- workloads
SQL=$WORK/insert.sql
awk -v n="$SQL_ROWS" 'BEGIN {
	print "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, val REAL, note TEXT);"
	print "BEGIN;"
	for (i = 1; i <= n; i++) {
		printf "INSERT INTO t(name, val, note) VALUES(%cname-%d%c, %d.25, %c%s%c);\n",
		       39, (i * 7919) % 100003, 39, i, 39, substr("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz", 1, 8 + i % 50), 39
		if (i % 5000 == 0) { print "COMMIT;"; print "BEGIN;" }
	}
	print "COMMIT;"
	print "CREATE INDEX t_name ON t(name);"
	print "SELECT count(*), sum(val), max(length(note)) FROM t;"
	print "SELECT name, count(*) FROM t GROUP BY substr(name, 1, 7) ORDER BY 2 DESC LIMIT 3;"
}' >"$SQL"

# name|stdin|command (no argument may contain spaces: bpftrace -c splits on them)
WORKLOADS=(
	"true|/dev/null|/bin/true"
	"churn|/dev/null|$EX/churn $CHURN_PAIRS"
	"mmap_threshold|/dev/null|$EX/mmap_threshold zero $MMAP_N"
	"faulty|/dev/null|$EX/faulty $FAULTY_MIB $FAULTY_ROUNDS"
	"sqlite3|$SQL|/usr/bin/sqlite3 :memory:"
)

# ---------------------------------------------------------------- probe floor (perf probe, no BPF)
# free's probe goes past its NULL test. glibc 2.36's free starts with
#     test %rdi,%rdi ; je <return>      (free(NULL) returns at once)
#     push %rbp ; lea -0x10(%rdi),%rsi ; push %rbx ...
# so free+9 (the first push) fires only for real frees, like faultline's own free probe
# ought to. An x86 uprobe has to execute the instruction it replaced: the kernel
# emulates push (and branches) in place, while `test`, `lea`, `mov` etc. are
# single-stepped out of line, which costs a second trap per hit. The offset is read
# from `objdump -d` of this very libc: the instruction after the `je` of the
# `test %rdi,%rdi`; it must be a push or a mov, else the probe floor is skipped.
FREE_OFF=
PROBE_EVENTS=
PROBE_WHY=
free_offset() {   # prints "OFFSET MNEMONIC", or why not
	local addr out
	command -v objdump >/dev/null || { echo "objdump not installed (binutils)"; return 1; }
	addr=$(nm -D "$LIBC" 2>/dev/null | awk '$2 ~ /^[Tt]$/ && $3 ~ /^free(@|$)/ { print $1; exit }')
	[ -n "$addr" ] || { echo "no dynamic symbol free in $LIBC"; return 1; }
	out=$(objdump -d --no-show-raw-insn --start-address=0x$addr \
		--stop-address=$(printf '0x%x' $((0x$addr + 64))) "$LIBC" |
	awk -F'\t' '
		/^ *[0-9a-f]+:\t/ {
			a = $1; sub(/^ */, "", a); sub(/:$/, "", a)
			split($2, w, " "); n++; op[n] = w[1]; arg[n] = w[2]; ad[n] = a
		}
		END {
			if (op[1] != "test" || arg[1] != "%rdi,%rdi" || op[2] !~ /^j(e|z)$/) {
				printf "free does not start with test %%rdi,%%rdi; je (%s %s; %s)\n", op[1], arg[1], op[2]; exit 1
			}
			if (op[3] !~ /^(push|mov)/) { printf "instruction after the NULL test is %s, not push/mov\n", op[3]; exit 1 }
			printf "%s %s\n", ad[3], op[3]
		}') || { echo "$out"; return 1; }
	echo "$(( 0x${out%% *} - 0x$addr )) ${out#* }"
}
setup_probes() {
	local out
	out=$(free_offset) || { PROBE_WHY=$out; return 1; }
	case $out in [0-9]*' '*) ;; *) PROBE_WHY=$out; return 1;; esac
	FREE_OFF=${out%% *}; FREE_INSN=${out#* }
	perf probe -q -d 'flbench:*' >/dev/null 2>&1
	if ! out=$(perf probe -x "$LIBC" -a 'flbench:malloc=malloc' -a 'flbench:mallocr=malloc%return' \
			-a "flbench:free=free+$FREE_OFF" 2>&1); then
		PROBE_WHY="perf probe failed: $(echo "$out" | grep -v '^$' | tail -n 2 | tr '\n' ' ')"
		perf probe -q -d 'flbench:*' >/dev/null 2>&1
		return 1
	fi
	PROBES=1
	local d
	for d in /sys/kernel/tracing/events/flbench /sys/kernel/debug/tracing/events/flbench; do
		[ -d "$d" ] && PROBE_EVENTS=$(cd "$d" && ls -d */ | tr -d / | sed 's/^/flbench:/' | paste -sd, -) && break
	done
	[ -n "$PROBE_EVENTS" ] || { PROBE_WHY="probes added but flbench events not found in tracefs"; return 1; }
}
setup_probes || echo "bench: probe floor skipped: $PROBE_WHY" >&2

# ---------------------------------------------------------------- configurations
BT_PROG="uprobe:$LIBC:malloc /pid == cpid/ { @n = count(); }
uretprobe:$LIBC:malloc /pid == cpid/ { @n = count(); }
uprobe:$LIBC:free /pid == cpid/ { @n = count(); }"

# The same tracepoints faultline stat --no-calls counts, counted by bpftrace.
BT_TP_PROG="tracepoint:syscalls:sys_enter_brk,tracepoint:syscalls:sys_enter_mmap,tracepoint:syscalls:sys_enter_munmap,tracepoint:syscalls:sys_enter_mremap,tracepoint:syscalls:sys_enter_mprotect,tracepoint:syscalls:sys_enter_madvise /pid == cpid/ { @s = count(); }
tracepoint:exceptions:page_fault_user,tracepoint:exceptions:page_fault_kernel /pid == cpid/ { @f = count(); }"
REFALLOC=$PWD/build/librefalloc.so

configs_for() {   # $1: workload name
	local c="untraced faultline fl-stacks fl-stat fl-stat-n bpftrace bpftrace-tp strace perf-stat"
	case $1 in true|churn) c+=" fl-stacks-all";; esac
	[ -n "$HAVE_HEAPTRACK" ] && c+=" heaptrack"
	case $1 in true|churn) [ -n "$PROBE_EVENTS" ] && c+=" perf-probe";; esac
	case $1 in true|churn) [ -f "$REFALLOC" ] && c+=" refalloc fl-refalloc";; esac
	echo "$c"
}

SAMPLES=$WORK/samples   # lines: workload config microseconds
: >"$SAMPLES"; : >"$WORK/teardown"
FAILS=

# faultline returns when the command has exited and leaves removing its probes to a
# background process (uprobe-multi links: a grace period or two; perf-event uprobes,
# as refalloc's USDT probes are: ~0.1 s each, one at a time under a kernel mutex that
# every other uprobe attach takes too). Waited for after each faultline run, so the
# next run (maybe a peer's) does not pay it; how long it took goes to $WORK/teardown.
wait_teardown() {   # $1 workload, $2 config
	local t0=$EPOCHREALTIME i
	for ((i = 0; i < 300; i++)); do
		[ -z "$(live_pids faultline)$(live_pids faultline-asan)" ] && break
		sleep 0.05
	done
	[ $i = 300 ] && echo "bench: a faultline process still runs 15 s after $1/$2" >&2
	[ -n "${RECORD:-}" ] && echo "$1 $2 $(( ${EPOCHREALTIME/./} - ${t0/./} ))" >>"$WORK/teardown"
	return 0
}

# run_cfg WORKLOAD CONFIG STDIN CMD... ; appends the wall time to $SAMPLES when $RECORD is set
run_cfg() {
	local wl=$1 cfg=$2 in=$3; shift 3
	local -a pre=()
	case $cfg in
	untraced) ;;
	faultline) rm -f "$WORK/x.data"; pre=("$FL" record -q -o "$WORK/x.data" --) ;;
	fl-stacks) rm -f "$WORK/x.data"; pre=("$FL" record -q --stacks -o "$WORK/x.data" --) ;;
	fl-stacks-all) rm -f "$WORK/x.data"; pre=("$FL" record -q --stacks=all --sample 100 -o "$WORK/x.data" --) ;;
	fl-stat) pre=("$FL" stat -q --) ;;
	fl-stat-n) pre=("$FL" stat -q -n --) ;;
	refalloc) pre=(env LD_PRELOAD="$REFALLOC") ;;
	fl-refalloc) rm -f "$WORK/x.data"; pre=(env LD_PRELOAD="$REFALLOC" "$FL" record -q -o "$WORK/x.data" --) ;;
	bpftrace|bpftrace-tp) ;;
	strace) pre=(strace -f -c -o /dev/null -e trace=brk,mmap,munmap,mremap,mprotect,madvise) ;;
	perf-stat) pre=(perf stat -e page-faults -x, -o /dev/null --) ;;
	heaptrack) rm -f "$WORK"/ht.*; pre=(heaptrack -o "$WORK/ht") ;;
	perf-probe) pre=(perf stat -e "$PROBE_EVENTS" -x, -o "$WORK/probe.$wl.csv" --) ;;
	esac
	local t0 t1 rc
	if [ "$cfg" = bpftrace ] || [ "$cfg" = bpftrace-tp ]; then
		local prog=$BT_PROG
		[ "$cfg" = bpftrace-tp ] && prog=$BT_TP_PROG
		t0=$EPOCHREALTIME
		bpftrace -e "$prog" -c "$*" <"$in" >"$WORK/out.$wl.$cfg" 2>"$WORK/err.$wl.$cfg"
		rc=$?
		t1=$EPOCHREALTIME
	else
		t0=$EPOCHREALTIME
		"${pre[@]}" "$@" <"$in" >"$WORK/out.$wl.$cfg" 2>"$WORK/err.$wl.$cfg"
		rc=$?
		t1=$EPOCHREALTIME
	fi
	[ "$cfg" = heaptrack ] && rm -f "$WORK"/ht.*
	case $cfg in faultline|fl-*) wait_teardown "$wl" "$cfg";; esac
	if [ $rc != 0 ]; then   # not counted: a crashed run's time means nothing
		echo "bench: $wl/$cfg exited $rc (run not counted): $(tail -n 2 "$WORK/err.$wl.$cfg" | tr '\n' ' ')" >&2
		FAILS+="$wl/$cfg exit $rc"$'\n'
		return 0
	fi
	[ -n "${RECORD:-}" ] && echo "$wl $cfg $(( ${t1/./} - ${t0/./} ))" >>"$SAMPLES"
	return 0
}

TOTAL_T0=$EPOCHREALTIME
BUDGET_NOTE=
echo "bench: ${QUICK:+(quick) }rounds: $ROUNDS ($SLOW_ROUNDS for faulty and sqlite3); work dir $WORK" >&2
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r wl in cmd <<<"$w"
	[ "$wl" != true ] && check_quiet "before $wl"
	read -ra argv <<<"$cmd"
	cfgs=$(configs_for "$wl")
	n=$ROUNDS; case $wl in faulty|sqlite3) n=$SLOW_ROUNDS;; esac
	echo "bench: $wl ($cmd): $cfgs x $n" >&2
	RECORD=
	if [ "$WARMUP" = 1 ]; then
		for c in $cfgs; do run_cfg "$wl" "$c" "$in" "${argv[@]}"; done   # discarded
	fi
	RECORD=1
	for ((r = 0; r < n; r++)); do
		if (( r > 0 && (${EPOCHREALTIME/./} - ${TOTAL_T0/./}) / 1000000 > BUDGET )); then
			echo "bench: over the ${BUDGET} s budget: $wl gets $r round(s)" >&2
			BUDGET_NOTE+="${BUDGET_NOTE:+, }$wl: $r of $n rounds"
			break
		fi
		for c in $cfgs; do run_cfg "$wl" "$c" "$in" "${argv[@]}"; done
	done
	RECORD=
done
check_quiet "at the end"

# ---------------------------------------------------------------- faultline extras
# One non-quiet recording per workload: events (from the stderr line), file size, lost
# events (report JSON), and peak RSS of the faultline process.
declare -A EVENTS BYTES LOST RSS_REC RSS_BARE
json_num() { grep -o "\"$1\":[0-9][0-9]*" | head -n 1 | cut -d: -f2; }
peak_rss() {   # $1: out var for KiB; rest: command. Prefers GNU time's %M.
	local __v=$1; shift
	if [ -n "$HAVE_TIME" ]; then
		/usr/bin/time -f %M -o "$WORK/rss" "$@"
		printf -v "$__v" '%s' "$(tail -n 1 "$WORK/rss")"
	else
		"$@" & local pid=$! hwm=0 v
		while kill -0 $pid 2>/dev/null; do
			v=$(awk '/^VmHWM:/ { print $2 }' /proc/$pid/status 2>/dev/null)
			[ -n "$v" ] && hwm=$v
			sleep 0.01
		done
		wait $pid
		printf -v "$__v" '%s' "$hwm"
	fi
}
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r wl in cmd <<<"$w"
	read -ra argv <<<"$cmd"
	f=$WORK/trace.$wl.data; rm -f "$f"
	peak_rss r "$FL" record -o "$f" -- "${argv[@]}" <"$in" >/dev/null 2>"$WORK/rec.$wl.err"
	RSS_REC[$wl]=$r
	peak_rss r "${argv[@]}" <"$in" >/dev/null 2>&1
	RSS_BARE[$wl]=$r
	EVENTS[$wl]=$(sed -n 's/^faultline: recorded \([0-9]*\) events.*/\1/p' "$WORK/rec.$wl.err")
	BYTES[$wl]=$(stat -c %s "$f" 2>/dev/null)
	LOST[$wl]=$("$FL" report "$f" --format json 2>/dev/null | json_num lost_events)
	[ "$wl" = churn ] && "$FL" report "$f" --format json >"$WORK/churn.json" 2>/dev/null
	[ "$wl" = churn ] || [ "$wl" = true ] || rm -f "$f"
done
# report speed on the churn trace: 5 runs each of the JSON and the text report (the
# default format: its sink sees every item); times in µs, one per line, in $1
time_reports() {   # $1: out file; rest: report options
	local out=$1 i t0 t1; shift
	: >"$out"
	for ((i = 0; i < 5; i++)); do
		t0=$EPOCHREALTIME
		"$FL" report "$WORK/trace.churn.data" "$@" >/dev/null 2>&1
		t1=$EPOCHREALTIME
		echo $(( ${t1/./} - ${t0/./} )) >>"$out"
	done
}
time_reports "$WORK/rep" --format json
REPORT_US=$(sort -n "$WORK/rep" | sed -n 3p)
REPORT_BEST_US=$(sort -n "$WORK/rep" | sed -n 1p)
time_reports "$WORK/rep_text"
REPORT_TEXT_US=$(sort -n "$WORK/rep_text" | sed -n 3p)
# unwinding and symbolizing: report of a --stacks recording of the fault-heavy workload
STACKS_REPORT=
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r wl in cmd <<<"$w"
	[ "$wl" = faulty ] || continue
	read -ra argv <<<"$cmd"
	f=$WORK/stacks.$wl.data; rm -f "$f"
	"$FL" record -q --stacks -o "$f" -- "${argv[@]}" <"$in" >/dev/null 2>&1
	t0=$EPOCHREALTIME
	"$FL" report "$f" >"$WORK/stacks.$wl.txt" 2>/dev/null
	t1=$EPOCHREALTIME
	n=$(sed -n 's/^Call sites (--stacks[^)]*): \([0-9]*\) stacks.*/\1/p' "$WORK/stacks.$wl.txt")
	[ -n "$n" ] && STACKS_REPORT=$(awk -v n="$n" -v us=$(( ${t1/./} - ${t0/./} )) -v b="$(stat -c %s "$f")" -v wl="$wl" 'BEGIN {
		printf "`faultline report` of a `record --stacks` of %s: %d stacks (repeats included) unwound and symbolized, whole report in %.2f s (%.0f stacks/s); whole file %.1f MiB", wl, n, us / 1e6, n / (us / 1e6), b / 1048576 }')
	rm -f "$f"
done
CHURN_MALLOC=$(json_num malloc <"$WORK/churn.json")
CHURN_FREE=$(json_num free <"$WORK/churn.json")
BT_N=$(sed -n 's/^@n: \([0-9]*\)/\1/p' "$WORK/out.churn.bpftrace" | tail -n 1)
PP_COUNTS=
[ -n "$PROBE_EVENTS" ] && [ -f "$WORK/probe.churn.csv" ] &&
	PP_COUNTS=$(awk -F, '$3 ~ /^flbench:/ { sub(/^flbench:/, "", $3); printf "%s%s=%s", s, $3, $1; s = " " }' "$WORK/probe.churn.csv")
TOTAL_S=$(( (${EPOCHREALTIME/./} - ${TOTAL_T0/./}) / 1000000 ))

# ---------------------------------------------------------------- table
# Per (workload, config): median and min-max seconds; ratio to untraced (raw), and
# start-up-corrected: (median - startup) / untraced, where a configuration's start-up is
# its median on `true` minus untraced `true`. churn: cost per malloc+free pair, in µs.
TABLE=$WORK/table.md
awk -v pairs="$CHURN_PAIRS" -v cfgs="untraced faultline fl-stacks fl-stacks-all fl-stat fl-stat-n bpftrace bpftrace-tp strace perf-stat heaptrack perf-probe refalloc fl-refalloc" '
	{ k = $1 SUBSEP $2; if (!($1 in seen)) { seen[$1]; wls[++nw] = $1 }; v[k, ++cnt[k]] = $3 / 1e6 }
	function stats(k,   n, i, j, t, a) {
		n = cnt[k]; for (i = 1; i <= n; i++) a[i] = v[k, i]
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		med[k] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2; lo[k] = a[1]; hi[k] = a[n]
	}
	END {
		nc = split(cfgs, cf, " ")
		for (i = 1; i <= nw; i++) for (j = 1; j <= nc; j++) if ((wls[i] SUBSEP cf[j]) in cnt) order[++nk] = wls[i] SUBSEP cf[j]
		for (i = 1; i <= nk; i++) stats(order[i])
		print "| workload | config | median s | min–max s | runs | ratio | ratio, start-up corrected | µs per pair | µs per pair, corrected |"
		print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, p, SUBSEP); wl = p[1]; c = p[2]
			base = med[wl SUBSEP "untraced"]
			su = (wl != "true" && ((("true") SUBSEP c) in med)) ? med["true" SUBSEP c] - med["true" SUBSEP "untraced"] : 0
			if (wl == "true") { r = (c == "untraced") ? "1.00" : sprintf("start-up %.3f s", med[k] - base); rc = "" }
			else if (base <= 0) { r = rc = "?" }
			else { r = sprintf("%.2f", med[k] / base); rc = (c == "untraced") ? "" : sprintf("%.2f", (med[k] - su) / base) }
			us = usc = ""
			if (wl == "churn" && c != "untraced" && base > 0) {
				us = sprintf("%.3f", (med[k] - base) / pairs * 1e6); usc = sprintf("%.3f", (med[k] - su - base) / pairs * 1e6)
			}
			printf "| %s | %s | %.4f | %.4f–%.4f | %d | %s | %s | %s | %s |\n", wl, c, med[k], lo[k], hi[k], cnt[k], r, rc, us, usc
			if (wl == "churn" && base > 0) { pu[c] = (med[k] - su - base) / pairs * 1e6 }
		}
		# the cost of --stacks: its time against record without stacks, both start-up corrected
		for (i = 1; i <= nw; i++) {
			wl = wls[i]; if (wl == "true") continue
			for (j = 1; j <= 2; j++) {
				c = j == 1 ? "fl-stacks" : "fl-stacks-all"
				if (!((wl SUBSEP c) in med) || !((wl SUBSEP "faultline") in med)) continue
				sr = med["true" SUBSEP c] - med["true" SUBSEP "untraced"]; fr = med["true" SUBSEP "faultline"] - med["true" SUBSEP "untraced"]
				a = med[wl SUBSEP c] - sr; b = med[wl SUBSEP "faultline"] - fr
				if (b > 0) printf "| %s | %s | %.3f | %.3f | %.2f |\n", wl, c, a, b, a / b > ENVIRON["WORK"] "/stacks_cost"
			}
		}
		if (("faultline" in pu) && ("perf-probe" in pu) && pu["perf-probe"] > 0)
			printf "\nfaultline / probe floor (churn, start-up corrected, per pair): %.3f / %.3f µs = %.2f (target ≤ 1.15)\n",
			       pu["faultline"], pu["perf-probe"], pu["faultline"] / pu["perf-probe"] > "/dev/stderr"
		if ("faultline" in pu) printf "%.3f\n", pu["faultline"] > ENVIRON["WORK"] "/fl_pair"
		if ("perf-probe" in pu) printf "%.3f\n", pu["perf-probe"] > ENVIRON["WORK"] "/pp_pair"
	}' "$SAMPLES" >"$TABLE" 2>"$WORK/floor"
FL_PAIR=$(cat "$WORK/fl_pair" 2>/dev/null); PP_PAIR=$(cat "$WORK/pp_pair" 2>/dev/null)

EXTRA=$WORK/extra.md
{
	echo "| workload | events | trace bytes | bytes/event | lost events | peak RSS record (KiB) | peak RSS untraced (KiB) |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for w in "${WORKLOADS[@]}"; do
		wl=${w%%|*}
		e=${EVENTS[$wl]:-?}; b=${BYTES[$wl]:-?}
		bpe=?; [ "$e" != ? ] && [ "$b" != ? ] && [ "$e" -gt 0 ] && bpe=$(awk -v b="$b" -v e="$e" 'BEGIN { printf "%.2f", b / e }')
		echo "| $wl | $e | $b | $bpe | ${LOST[$wl]:-?} | ${RSS_REC[$wl]:-?} | ${RSS_BARE[$wl]:-?} |"
	done
	echo
	if [ -n "$REPORT_US" ] && [ -n "${EVENTS[churn]:-}" ]; then
		awk -v e="${EVENTS[churn]}" -v us="$REPORT_US" -v best="$REPORT_BEST_US" 'BEGIN {
			printf "`faultline report --format json` on the churn trace: %d events in %.3f s (median of 5) = %.2f M events/s; best of 5 %.3f s = %.2f M events/s\n", e, us / 1e6, e / us, best / 1e6, e / best }'
		[ -n "$REPORT_TEXT_US" ] && awk -v e="${EVENTS[churn]}" -v us="$REPORT_TEXT_US" 'BEGIN {
			printf "\n`faultline report` (text, the default) on the same trace: %.3f s (median of 5) = %.2f M events/s\n", us / 1e6, e / us }'
	fi
	echo
	if [ -s "$WORK/stacks_cost" ]; then
		echo "Cost of \`--stacks\` (a stack copy per memory syscall and first touch) and \`--stacks=all --sample 100\`"
		echo "(also one call in 100), against \`record\` without stacks; seconds start-up corrected:"
		echo
		echo "| workload | config | s | record s | ratio to record |"
		echo "|---|---|---:|---:|---:|"
		cat "$WORK/stacks_cost"
		echo
	fi
	[ -n "$STACKS_REPORT" ] && echo "$STACKS_REPORT" && echo
	if [ -s "$WORK/teardown" ]; then
		echo "faultline's background teardown (after it has returned; waited for between runs, not in the times"
		echo "above), median per configuration over all workloads:"
		echo
		echo "| config | median s | max s | runs |"
		echo "|---|---:|---:|---:|"
		awk '{ v[$2] = v[$2] " " $3 } END { for (c in v) print c v[c] }' "$WORK/teardown" | sort |
			while read -r c rest; do
				printf '%s\n' $rest | sort -n | awk -v c="$c" '{ a[NR] = $1 } END {
					printf "| %s | %.3f | %.3f | %d |\n", c, a[int((NR + 1) / 2)] / 1e6, a[NR] / 1e6, NR }'
			done
		echo
	fi
	echo "Sanity counts on churn: faultline report: malloc ${CHURN_MALLOC:-?}, free ${CHURN_FREE:-?}; bpftrace @n (malloc entry + return + free): ${BT_N:-?}${PP_COUNTS:+; perf probe: $PP_COUNTS}"
	if [ -n "$PROBE_EVENTS" ]; then
		echo "Probe floor: perf probe on malloc, malloc%return and free+$FREE_OFF (\`$FREE_INSN\`, past free's NULL test)."
	else
		echo "Probe floor: skipped ($PROBE_WHY)."
	fi
	[ -s "$WORK/floor" ] && sed 's/^$//' "$WORK/floor" | grep -v '^$'
	echo
	echo "Targets:"
	verdict() { [ "$1" = 1 ] && echo PASS || echo FAIL; }
	[ -n "$FL_PAIR" ] && echo "- record on churn ≤ 5.0 µs per malloc+free pair (start-up corrected): $FL_PAIR µs — $(verdict "$(awk -v x="$FL_PAIR" 'BEGIN { print (x <= 5.0) }')")"
	[ -n "$FL_PAIR" ] && [ -n "$PP_PAIR" ] && echo "- within 15% of the probe floor: $(awk -v a="$FL_PAIR" -v b="$PP_PAIR" 'BEGIN { printf "%.3f vs %.3f µs = %+.0f%%", a, b, (a / b - 1) * 100 }') — $(verdict "$(awk -v a="$FL_PAIR" -v b="$PP_PAIR" 'BEGIN { print (b > 0 && a <= 1.15 * b) }')")"
	lost_all=0; for w in "${WORKLOADS[@]}"; do lost_all=$(( lost_all + ${LOST[${w%%|*}]:-0} )); done
	echo "- no lost events: $lost_all lost in all workloads — $(verdict $(( lost_all == 0 )))"
	if [ -n "${EVENTS[churn]:-}" ] && [ -n "${BYTES[churn]:-}" ]; then
		echo "- ≤ 2.3 bytes per event (churn): $(awk -v b="${BYTES[churn]}" -v e="${EVENTS[churn]}" 'BEGIN { printf "%.2f", b / e }') — $(verdict "$(awk -v b="${BYTES[churn]}" -v e="${EVENTS[churn]}" 'BEGIN { print (b / e <= 2.3) }')")"
	fi
	[ -n "$REPORT_US" ] && [ -n "${EVENTS[churn]:-}" ] &&
		echo "- report ≥ 10M events/s: median $(awk -v e="${EVENTS[churn]}" -v us="$REPORT_US" 'BEGIN { printf "%.2f M/s", e / us }'), best of 5 $(awk -v e="${EVENTS[churn]}" -v us="$REPORT_BEST_US" 'BEGIN { printf "%.2f M/s", e / us }') — median $(verdict "$(awk -v e="${EVENTS[churn]}" -v us="$REPORT_US" 'BEGIN { print (e / us >= 10) }')"), best $(verdict "$(awk -v e="${EVENTS[churn]}" -v us="$REPORT_BEST_US" 'BEGIN { print (e / us >= 10) }')")"
	[ -n "$BUDGET_NOTE" ] && echo && echo "Rounds cut short by the ${BUDGET} s time budget: $BUDGET_NOTE"
	[ -n "$FAILS" ] && echo && echo "Runs that exited non-zero, not counted (warm-up included): $(printf '%s' "$FAILS" | sort | uniq -c | awk '{ printf "%s%s %s %s x%d", s, $2, $3, $4, $1; s = ", " }')."
} >"$EXTRA"

STATUS="undisturbed (no other bpftrace or faultline seen at start, between workloads or at the end)"
[ -n "$DISTURBED" ] && STATUS="**DISTURBED** — $DISTURB_WHY. Other uprobe users slow every malloc; rerun on a quiet machine."

# ---------------------------------------------------------------- output
echo
[ -n "$DISTURBED" ] && echo "RESULTS DISTURBED: $DISTURB_WHY"
cat "$TABLE"; echo; cat "$EXTRA"
echo
echo "bench: total ${TOTAL_S} s${RESULTS:+; written to ${RESULTS#$ROOT/}}"
[ -n "$RESULTS" ] || exit 0

MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	cat <<'EOF'
# faultline benchmarks

Generated by `bench/run.sh` (`make bench`); do not edit by hand. Wall time of the whole command,
configurations interleaved round by round (after a discarded warm-up round), median and min–max.

Configurations:
- **untraced** — the workload alone.
- **faultline** — `faultline record -q -o FILE -- CMD`: full correlation (every allocator call with
  entry and return uprobes, memory syscalls, page faults), written to a trace file.
- **bpftrace** — naive counting only: `uprobe` and `uretprobe` on libc `malloc`, `uprobe` on `free`,
  each `/pid == cpid/ { @n = count(); }`, `bpftrace -c CMD`. Its start-up and exit (compiling,
  attaching, detaching) are in the raw time; the corrected columns subtract its time on `true`.
- **strace** — `strace -f -c -o /dev/null -e trace=brk,mmap,munmap,mremap,mprotect,madvise` (syscalls only).
- **perf-stat** — `perf stat -e page-faults -x, -o /dev/null` (a counter, no per-event cost).
- **heaptrack** — `heaptrack -o FILE CMD` (LD_PRELOAD allocator tracer), when installed (Debian package `heaptrack`).
- **fl-stat** — `faultline stat -q -- CMD`: the same correlation, counts only, no trace file.
- **fl-stacks** — `faultline record --stacks`: as **faultline**, plus a copy of the user stack (8 KiB)
  for every memory syscall and every first-touch fault.
- **fl-stacks-all** (churn) — `faultline record --stacks=all --sample 100`: also the stack of one
  allocator call in 100.
- **fl-stat-n** — `faultline stat -q -n -- CMD`: no uprobes; syscalls and faults counted in per-CPU
  kernel counters (the CI mode).
- **bpftrace-tp** — bpftrace counting the tracepoints `fl-stat-n` counts (the six memory syscalls'
  `sys_enter`, `page_fault_user`, `page_fault_kernel`), `/pid == cpid/`.
- **refalloc** (churn) — the workload under `LD_PRELOAD=build/librefalloc.so`, untraced: the reference
  allocator against glibc.
- **fl-refalloc** (churn) — `faultline record` of the workload under refalloc: traced through refalloc's
  USDT probes (5-byte NOPs) instead of uprobes on glibc; compare its µs per pair with **faultline**'s.
- **perf-probe** (churn) — the probe floor: plain uprobes without BPF, `perf probe` on `malloc`,
  `malloc%return` and `free` past its NULL test, counted by `perf stat -e ...`. The least any
  uprobe-based malloc tracer can cost.

Workload `true` measures each tool's own start-up and tear-down (faultline's included); "ratio,
start-up corrected" is (median − start-up) / untraced, with start-up = tool on `true` − untraced `true`.
"µs per pair" (churn) = (traced − untraced) / pairs, one pair being a malloc and a free.

Targets: full correlation (record) on glibc ≤ 5.0 µs per malloc+free pair on churn, within 15% of the
probe floor; no lost events; ≤ 2.3 bytes per event in the trace file; `report` ≥ 10M events/s.

Known distances and why:
- `report` speed: a read-ahead thread reads, inflates and decodes the blocks while the main thread
  correlates, so on this 2-core VM the two halves overlap (perf: the decoding thread about 45% of the
  samples, the correlator's 55%; 1.86 CPUs busy). The figure includes the process's start-up and the
  first block, which nothing overlaps (about 6 ms of the 600k-event trace's 45 ms): on a 6M-event
  churn trace the same binary reads 15-17M events/s. This VM's speed drifts by a factor of up to two
  over minutes, so the median and the best of 5 are both given; the best is what the code can do, the
  median what this run saw.
- "Four times cheaper than bpftrace's naive probes" cannot hold on this kernel: bpftrace's naive
  placement costs about 7 µs per pair here, not the 18 µs the issue measured (a single-stepped probe
  at `free`'s entry: 5.8 µs a call by `perf probe` + `perf stat` on churn 1M, against 1.45 µs at
  `free+9`), and the floor of the cheapest placement is about 4 µs, so no uprobe tracer can be more
  than about 1.7 times cheaper; faultline is at that floor (the target "within 15%" above).
- "stat within 10% of bpftrace counting the same probes" cannot be run here: Debian's bpftrace is built
  without uprobe offset support and refuses `free+9`, faultline's placement; bpftrace's naive placement
  (`free` at its entry, a single-stepped `test`) and the perf-probe floor of faultline's placement are
  measured instead.
- Start-up: faultline attaches its glibc uprobes with uprobe-multi links (one BPF link per program,
  Linux 6.10+), whose teardown is one or two grace periods in all, and leaves even that to a child
  process once the command has exited. Perf-event uprobes (what libbpf 1.1 makes, and what the
  refalloc USDT probes still use) take about 0.1 s each to tear down, one at a time under a kernel
  mutex, and the next attach waits for them: `fl-refalloc`'s `true` row shows that (~2.7 s for its 27
  probes), and the "start-up corrected" columns subtract it.

EOF
	echo "## Run"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) CPUs, ${MODEL:-unknown CPU}, kernel $(uname -r), $(ldd --version 2>/dev/null | head -n 1)"
	echo "- command: \`$CMDLINE\` (from the repo root; rounds: $ROUNDS, $SLOW_ROUNDS for faulty and sqlite3, after $WARMUP warm-up; total ${TOTAL_S} s)"
	echo "- workloads: \`churn $CHURN_PAIRS\`, \`mmap_threshold zero $MMAP_N\`, \`faulty $FAULTY_MIB $FAULTY_ROUNDS\`, \`sqlite3 :memory:\` < generated script ($SQL_ROWS INSERTs in transactions of 5000, an index, 2 SELECTs)"
	echo "- status: $STATUS"
	echo
	echo "## Wall time"
	echo
	cat "$TABLE"
	echo
	echo "## faultline trace files, report speed, memory"
	echo
	cat "$EXTRA"
} >"$RESULTS"
