#!/usr/bin/env bash
# bench/preload.sh [ROUNDS] - the preload path against the uprobe path and
# heaptrack (`make bench` runs it): on churn (malloc+free pairs), sqlite3 and
# a C++ container workload (bench/cxx_containers.cc), each configuration
# interleaved with the others round after round (untraced, record --probes
# preload, record --probes uprobes, heaptrack), medians of wall time.
# Start-up is measured on `true` with each tool and taken off, so the
# per-pair cost is the tracing's alone:
#   µs/pair = (median(tool, churn) - median(tool, true) - median(untraced churn)) / pairs
#   slowdown = (median(tool, W) - median(tool, true)) / median(untraced W)
# Sizes: the trace file's bytes per allocator call (faultline's JSON calls
# count) next to heaptrack's file (its .zst) per call, on churn, on a churn
# of random sizes and frees (`churn N hold random`: what no regular cycle
# compresses), on sqlite3 and on the C++ workload; with record's default
# call time resolution (1 ms) and with exact times.
# Then --stacks=all (every outermost call's stack: unwound in the process by
# the library on the preload path, copied by the kernel on the uprobe path)
# against heaptrack (which unwinds every allocation) on a shorter churn and
# on sqlite3, the same way.
set -u
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD
FL=$ROOT/build/faultline
EX=$ROOT/build/examples
ROUNDS=${1:-${BENCH_ROUNDS:-5}}
PAIRS=${PRELOAD_PAIRS:-1000000}
SQL_ROWS=${PRELOAD_SQL_ROWS:-30000}
CXX_ROUNDS=${PRELOAD_CXX_ROUNDS:-100000}
RANDOM_PAIRS=${PRELOAD_RANDOM_PAIRS:-300000}
STACK_PAIRS=${PRELOAD_STACK_PAIRS:-200000}
[ "$(id -u)" = 0 ] || { echo "bench/preload.sh: needs root" >&2; exit 1; }
[ -x "$FL" ] && [ -x "$EX/churn" ] && [ -r build/libfaultline-preload.so ] || { echo "bench/preload.sh: make first" >&2; exit 1; }
HT=; command -v heaptrack >/dev/null && HT=1
W=$(mktemp -d /tmp/faultline-preload-bench.XXXXXX) || exit 1
trap 'rm -rf "$W"' EXIT
g++ -O2 -o "$W/cxx" bench/cxx_containers.cc || { echo "bench/preload.sh: cannot build bench/cxx_containers.cc" >&2; exit 1; }
python3 - "$W/db.sql" "$SQL_ROWS" <<'PYEOF'
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);\nBEGIN;\n")
    for i in range(n):
        f.write("INSERT INTO t(name, v) VALUES('name%d', %d.5);\n" % (i % 977, i))
    f.write("COMMIT;\nCREATE INDEX tn ON t(name);\nSELECT name, count(*), sum(v) FROM t GROUP BY name ORDER BY 3 DESC LIMIT 5;\n")
PYEOF

CONFIGS="untraced preload uprobes${HT:+ heaptrack}"
WORKLOADS="true churn random sqlite3 cxx"
# run CONFIG WORKLOAD: one run; prints its wall seconds
run() {
	local c=$1 w=$2 t0 t1 in=/dev/null
	local -a cmd
	case $w in
	true) cmd=(/bin/true) ;;
	churn) cmd=("$EX/churn" "$PAIRS") ;;
	schurn) cmd=("$EX/churn" "$STACK_PAIRS") ;;
	random) cmd=("$EX/churn" "$RANDOM_PAIRS" hold random) ;;
	cxx) cmd=("$W/cxx" "$CXX_ROUNDS") ;;
	sqlite3) cmd=(/usr/bin/sqlite3 :memory:); in=$W/db.sql ;;
	esac
	rm -f "$W/$c.$w".*
	t0=$EPOCHREALTIME
	case $c in
	untraced) "${cmd[@]}" <"$in" >/dev/null 2>&1 ;;
	preload|uprobes) "$FL" record -q --probes "$c" -o "$W/$c.$w.data" -- "${cmd[@]}" <"$in" >/dev/null 2>"$W/$c.$w.err" ;;
	exact) "$FL" record -q --call-times=exact -o "$W/$c.$w.data" -- "${cmd[@]}" <"$in" >/dev/null 2>"$W/$c.$w.err" ;;
	preload-stacks|uprobes-stacks)
		"$FL" record -q --probes "${c%-stacks}" --stacks=all -o "$W/$c.$w.data" -- "${cmd[@]}" <"$in" >/dev/null 2>"$W/$c.$w.err" ;;
	heaptrack) heaptrack -o "$W/$c.$w.ht" "${cmd[@]}" <"$in" >/dev/null 2>&1 ;;
	esac
	t1=$EPOCHREALTIME
	echo "$t0 $t1" | awk '{ printf "%.6f\n", $2 - $1 }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A T
for r in $(seq 0 "$ROUNDS"); do # round 0: warm-up, not counted
	for w in $WORKLOADS; do
		for c in $CONFIGS; do
			s=$(run "$c" "$w")
			[ "$r" -gt 0 ] && T[$c.$w]+="$s "
		done
	done
done
med() { tr ' ' '\n' <<<"${T[$1]}" | grep . | median; }
calls_of() { "$FL" report "$1" --format json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(d["calls"].values()), d["lost_events"])'; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

echo "preload path benchmark: $ROUNDS rounds (+1 warm-up), interleaved; churn $PAIRS pairs, sqlite3 $SQL_ROWS rows, cxx $CXX_ROUNDS rounds"
u_churn=$(med untraced.churn); u_sql=$(med untraced.sqlite3); u_cxx=$(med untraced.cxx); u_true=$(med untraced.true)
printf '%-10s %8s %8s %10s %8s %12s %10s %8s\n' config true_s churn_s sqlite3_s cxx_s us_per_pair sqlite3_x cxx_x
slowdown() { awk -v a="$1" -v b="$2" -v u="$3" -v ut="$u_true" 'BEGIN { printf "%.2f", (a - b + ut) / u }'; }
declare -A PP SX CX
for c in $CONFIGS; do
	t=$(med "$c.true"); ch=$(med "$c.churn"); sq=$(med "$c.sqlite3"); cx=$(med "$c.cxx")
	if [ "$c" = untraced ]; then pp=0; sx=1; cxx=1; else
		pp=$(awk -v a="$ch" -v b="$t" -v u="$u_churn" -v ut="$u_true" -v n="$PAIRS" 'BEGIN { printf "%.3f", ((a - b) - (u - ut)) * 1e6 / n }')
		sx=$(slowdown "$sq" "$t" "$u_sql"); cxx=$(slowdown "$cx" "$t" "$u_cxx")
	fi
	PP[$c]=$pp; SX[$c]=$sx; CX[$c]=$cxx
	printf '%-10s %8.3f %8.3f %10.3f %8.3f %12s %10s %8s\n' "$c" "$t" "$ch" "$sq" "$cx" "$pp" "${sx}x" "${cxx}x"
done
if [ -n "$HT" ]; then
	awk -v p="${PP[preload]}" -v h="${PP[heaptrack]}" -v u="${PP[uprobes]}" 'BEGIN {
		printf "churn: preload %.3f us/pair = %.2f of heaptrack'"'"'s %.3f; uprobes %.3f = %.1fx heaptrack\n", p, (h > 0 ? p / h : 0), h, u, (h > 0 ? u / h : 0) }'
	for w in sqlite3 cxx; do
		if [ $w = sqlite3 ]; then p=${SX[preload]} h=${SX[heaptrack]} u=${SX[uprobes]}; else p=${CX[preload]} h=${CX[heaptrack]} u=${CX[uprobes]}; fi
		awk -v w=$w -v p="$p" -v h="$h" -v u="$u" 'BEGIN {
			printf "%s: slowdown preload %.2fx, heaptrack %.2fx, uprobes %.2fx; preload/heaptrack extra time %.2f\n", w, p, h, u, (h > 1 ? (p - 1) / (h - 1) : 0) }'
	done
fi
# the file sizes: record's default (the calls' times to 1 ms; heaptrack
# keeps a time every 10 ms), and (once more, not timed) with exact times
for w in churn random sqlite3 cxx; do
	run exact "$w" >/dev/null
	read -r n lost < <(calls_of "$W/preload.$w.data")
	fb=$(size_of "$W/preload.$w.data"); ub=$(size_of "$W/uprobes.$w.data"); eb=$(size_of "$W/exact.$w.data")
	hb=0; [ -n "$HT" ] && hb=$(size_of "$(ls "$W"/heaptrack.$w.ht* 2>/dev/null | head -1)")
	awk -v w="$w" -v n="$n" -v l="$lost" -v f="$fb" -v u="$ub" -v e="$eb" -v h="$hb" 'BEGIN {
		printf "%s: %d calls, %d lost; trace bytes per call: preload %.3f (exact times %.3f), uprobes %.3f, heaptrack file %.3f\n", w, n, l, f / n, e / n, u / n, h / n }'
done

# ---- --stacks=all
SCONFIGS="untraced preload-stacks uprobes-stacks${HT:+ heaptrack}"
for r in $(seq 0 "$ROUNDS"); do
	for w in true schurn sqlite3; do
		for c in $SCONFIGS; do
			case $c in untraced|heaptrack) [ "$w" = schurn ] || continue ;; esac # the rest: measured above
			s=$(run "$c" "$w")
			[ "$r" -gt 0 ] && T[$c.$w]+="$s "
		done
	done
done
echo "--stacks=all: churn $STACK_PAIRS pairs, sqlite3 $SQL_ROWS rows (untraced and heaptrack true/sqlite3 from above)"
u_sch=$(med untraced.schurn)
printf '%-15s %12s %10s %16s\n' config us_per_pair sqlite3_x bytes_per_call
for c in $SCONFIGS; do
	[ "$c" = untraced ] && continue
	t=$(med "$c.true"); ch=$(med "$c.schurn"); sq=$(med "$c.sqlite3")
	pp=$(awk -v a="$ch" -v b="$t" -v u="$u_sch" -v ut="$u_true" -v n="$STACK_PAIRS" 'BEGIN { printf "%.3f", ((a - b) - (u - ut)) * 1e6 / n }')
	sx=$(slowdown "$sq" "$t" "$u_sql")
	PP[$c]=$pp; SX[$c]=$sx
	bpc=-
	if [ "$c" != heaptrack ]; then
		read -r n lost < <(calls_of "$W/$c.schurn.data")
		bpc=$(awk -v f="$(size_of "$W/$c.schurn.data")" -v n="$n" 'BEGIN { printf "%.2f", f / n }')
	fi
	printf '%-15s %12s %10s %16s\n' "$c" "$pp" "${sx}x" "$bpc"
done
if [ -n "$HT" ]; then
	awk -v p="${PP[preload-stacks]}" -v u="${PP[uprobes-stacks]}" -v h="${PP[heaptrack]}" -v ps="${SX[preload-stacks]}" \
	    -v us="${SX[uprobes-stacks]}" -v hs="${SX[heaptrack]}" 'BEGIN {
		printf "--stacks=all churn: preload %.3f us/pair = %.2f of heaptrack'"'"'s %.3f, uprobes %.3f (%.1fx the preload path)\n", p, (h > 0 ? p / h : 0), h, u, (p > 0 ? u / p : 0)
		printf "--stacks=all sqlite3: slowdown preload %.2fx, uprobes %.2fx, heaptrack %.2fx\n", ps, us, hs }'
fi
