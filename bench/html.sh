#!/usr/bin/env bash
# The HTML report on 10M-event recordings (issue 17): `make bench` runs it
# (as root, after `make deps`: chromium, tests/html/node_modules).
#
# Two recordings of about 10 million events each:
#   mmap_threshold zero 2000000   4M syscalls (every malloc an mmap, every free
#                                 a munmap) and 2M first touches: the page's
#                                 marker cap and timeline thinning at work
#   churn 5000000 with --stacks   10M allocator calls, stacks at its syscalls
#                                 and faults: the flame graphs
# For each: `report --format json` and `report --format html` interleaved
# (BENCH_ROUNDS, default 3; medians), the page's size, and headless Chromium's
# time from navigation to the page drawn (tests/html/check_page.js: the load
# event, and until the script has drawn everything), median of the rounds.
# The issue's bounds: the page under 5 MB, drawn in under 2 s. Prints a
# Markdown table; BENCH_RESULTS=F also writes it to F (default bench/HTML.md).
set -u
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD
FL=$ROOT/build/faultline
EX=$ROOT/build/examples
ROUNDS=${BENCH_ROUNDS:-3}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/HTML.md}
die() { echo "bench/html: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$FL" ] && [ -x "$EX/churn" ] || die "build first: make all"
[ -x /usr/bin/chromium ] && [ -d tests/html/node_modules/playwright-core ] || die "make deps first (chromium, playwright-core)"
WORK=$(mktemp -d /tmp/faultline-bench-html.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT

now() { echo "${EPOCHREALTIME/./}"; }   # microseconds
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

rows=()
run() { # NAME RECORD-ARGS...
	local name=$1 data=$WORK/${1%% *}.data page=$WORK/${1%% *}.html t0 json=() html=() nav=() drawn=() r i events
	shift
	"$FL" record -q -o "$data" "$@" >/dev/null 2>&1 || die "$name: record failed"
	events=$("$FL" report --format json "$data" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(d["calls"].values()) + sum(d["syscalls"].values()) + d["faults"]["total"])')
	for ((i = 0; i < ROUNDS; i++)); do
		t0=$(now); "$FL" report --format json -o "$WORK/s.json" "$data" 2>/dev/null || die "$name: report json"
		json+=($(( $(now) - t0 )))
		t0=$(now); "$FL" report --format html -o "$page" "$data" 2>/dev/null || die "$name: report html"
		html+=($(( $(now) - t0 )))
		r=$(timeout 120 node tests/html/check_page.js "$page" "") || die "$name: chromium failed"
		nav+=($(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["nav_ms"])' "$r"))
		drawn+=($(/usr/bin/python3 -c 'import json,sys; v=json.loads(sys.argv[1]); assert not v["requests"] and not v["console_errors"] and not v["page_errors"], v; print(v["render_ms"])' "$r")) || die "$name: page errors: $r"
	done
	local mj mh
	mj=$(printf '%s\n' "${json[@]}" | median); mh=$(printf '%s\n' "${html[@]}" | median)
	rows+=("| $name | $events | $(stat -c %s "$page" | awk '{ printf "%.2f MB", $1 / 1e6 }') | $(awk -v a="$mj" 'BEGIN { printf "%.2f s", a / 1e6 }') | $(awk -v a="$mh" -v b="$mj" 'BEGIN { printf "%.2f s (x%.2f)", a / 1e6, a / b }') | $(printf '%s\n' "${nav[@]}" | median) ms | $(printf '%s\n' "${drawn[@]}" | median) ms |")
	echo "bench/html: $name done" >&2
}

run "mmap_threshold zero 2000000" -- "$EX/mmap_threshold" zero 2000000
run "churn 5000000 --stacks" --stacks -- "$EX/churn" 5000000

{
	echo "# HTML report benchmark (bench/html.sh)"
	echo
	echo "$(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs, $(/usr/bin/chromium --version 2>/dev/null | head -1); medians of $ROUNDS rounds."
	echo "Events: calls + syscalls + faults of the recording. Page load: Chromium's load event; drawn: from"
	echo "navigation until page.js has drawn everything (check_page.js, including its own round trips)."
	echo
	echo "| recording | events | page | report json | report html | page load | drawn |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee "$WORK/out.md"
[ -n "$RESULTS" ] && cp "$WORK/out.md" "$RESULTS"
exit 0
