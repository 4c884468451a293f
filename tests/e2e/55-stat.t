#!/usr/bin/env bash
# faultline stat: the same counts as record + report, without a trace file;
# --no-calls: syscalls and faults counted in the kernel, equal to strace and
# within 1% of perf; -r N: means and spreads.
set -u
cd "$(dirname "$0")/../.."
FAULTLINE=${FAULTLINE:-build/faultline}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
check() { local d=$1; shift; n=$((n + 1)); if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; echo "# command: $*"; fi; }
get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
echo "1..13"

PROG=(setarch -R build/examples/seed_claims)
"$FAULTLINE" stat -q --probes uprobes --json "$T/stat.json" -- "${PROG[@]}"
check "stat exits with the command's status (0)" test $? = 0
"$FAULTLINE" record -q --probes uprobes -o "$T/r.data" -- "${PROG[@]}"
"$FAULTLINE" report "$T/r.data" --format json -o "$T/rec.json"
for key in calls syscalls syscalls_by_caller; do
	check "stat's $key equal record+report's" test "$(get "$T/stat.json" "d['$key']")" = "$(get "$T/rec.json" "d['$key']")"
done
check "stat's fault total within 1% of record's" python3 -c "
import json; a=json.load(open('$T/stat.json'))['faults']['total']; b=json.load(open('$T/rec.json'))['faults']['total']
raise SystemExit(abs(a-b) > max(1, b/100))"

# Kernels before 6.10 get perf-event uprobes instead of uprobe-multi links
# (forced with FAULTLINE_NO_UPROBE_MULTI=1): the same calls and syscalls by
# caller either way (-v names the kind used).
FAULTLINE_NO_UPROBE_MULTI=1 "$FAULTLINE" stat -v --probes uprobes --json "$T/perf.json" -- "${PROG[@]}" >/dev/null 2>"$T/perf.err"
check "FAULTLINE_NO_UPROBE_MULTI=1: perf-event uprobes" grep -q "uprobes (perf-event uprobes)" "$T/perf.err"
check "perf-event uprobes: same calls and callers as the default run" \
	test "$(get "$T/perf.json" "[d['calls'], d['syscalls_by_caller']]")" = "$(get "$T/stat.json" "[d['calls'], d['syscalls_by_caller']]")"
# With uprobe-multi links the probes go in a grace period or two, after
# faultline has returned: a run right after another does not wait for the
# kernel's teardown of the first, as it does behind perf-event uprobes (0.1 s
# each, one at a time: 1.7 s here).
b2b_ms() {   # back-to-back stat of true; prints the second one's ms
	"$FAULTLINE" stat -q --probes uprobes -- true
	local t0=$(date +%s%N)
	"$FAULTLINE" stat -q --probes uprobes -- true
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
if uname -r | awk -F. '{ exit !($1 > 6 || ($1 == 6 && $2 >= 10)) }'; then
	"$FAULTLINE" stat -v --probes uprobes -- true 2>"$T/multi.err" >/dev/null
	check "by default (kernel $(uname -r)): uprobe-multi links" grep -q "uprobes (uprobe-multi links)" "$T/multi.err"
	perf_ms=$(FAULTLINE_NO_UPROBE_MULTI=1 b2b_ms)
	multi_ms=$(b2b_ms)
	check "back to back: $multi_ms ms with uprobe-multi links, under half of $perf_ms ms with perf-event uprobes" \
		test $((multi_ms * 2)) -lt "$perf_ms"
else
	for i in 1 2; do echo "ok $((n += 1)) # skip kernel $(uname -r): no process-filtering uprobe-multi links"; done
fi

seq 1 200000 | shuf --random-source=/dev/zero > "$T/in.txt"
SORT=(setarch -R /usr/bin/sort --parallel=1 -o "$T/out.txt" "$T/in.txt")
"$FAULTLINE" stat -n -q --json "$T/n.json" -- "${SORT[@]}"
strace -f -c -o "$T/strace.txt" -e trace=brk,mmap,munmap,mremap,mprotect,madvise "${SORT[@]}"
want=$(awk '$NF ~ /^(brk|mmap|munmap|mremap|mprotect|madvise)$/ {c[$NF]=$4} END {printf "%d %d %d %d %d %d", c["brk"], c["mmap"], c["munmap"], c["mremap"], c["mprotect"], c["madvise"]}' "$T/strace.txt")
got=$(get "$T/n.json" "' '.join(str(d['syscalls'][k]) for k in ['brk','mmap','munmap','mremap','mprotect','madvise'])")
check "stat --no-calls: syscalls per kind equal strace's ($got vs $want)" test "$got" = "$want"
perf stat -e page-faults -x, -o "$T/perf.txt" "${SORT[@]}"
pf=$(grep page-faults "$T/perf.txt" | cut -d, -f1)
check "stat --no-calls: faults within 1% of perf's ($(get "$T/n.json" "d['faults']['total']") vs $pf)" python3 -c "
import json; a=json.load(open('$T/n.json'))['faults']['total']; raise SystemExit(abs(a-$pf) > max(1, $pf/100))"
check "stat --no-calls says its mode" test "$(get "$T/n.json" "d['extra']['mode']")" = syscalls-and-faults

"$FAULTLINE" stat -q -r 3 --probes uprobes --json "$T/r3.json" -- "${PROG[@]}"
check "stat -r 3: three runs, a spread for each count" test "$(get "$T/r3.json" "(d['extra']['runs'], 'mmap' in d['extra']['stddev']['syscalls'])")" = "(3, True)"
