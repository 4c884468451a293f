#!/usr/bin/env bash
# The heap analyses per process with -f (issue 16 item 8), on
# tests/e2e/analyses_f.c, whose answers are known by construction: a parent
# (peak 50000 B, 3 blocks of 1000 B leaked) and two children it forks before
# allocating (A: peak 80000 B, 2 blocks of 5000 B leaked; B: peak 30000 B, no
# leak). analyses.processes[] has each process's own leaks and peak exactly
# (never a sum), its own timeline and resident model; the top-level keys are
# the command's own process's (analyses.processes[0]); the text report has a
# heading for each further process.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin cc jq
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
plan 14

cc -O1 -g -Wall -Wextra -Werror -o "$T/af" tests/e2e/analyses_f.c || { echo "Bail out! cannot build analyses_f.c"; exit 1; }
"$FAULTLINE" record -q -f -o "$T/af.data" -- "$T/af" >/dev/null 2>"$T/rec.err"
ok $? "record -f the program" "$(cat "$T/rec.err")"
"$FAULTLINE" report -F json "$T/af.data" -o "$T/af.json" 2>"$T/rep.err"
ok $? "report --format json" "$(cat "$T/rep.err")"

A="$T/af.json"
root=$(jq '.target.pid' "$A")
is "$(jq '.analyses.processes | length' "$A")" 3 "analyses.processes: the command and its two children"
is "$(jq '.analyses.processes[0].pid' "$A")" "$root" "the first is the command's process"
is "$(jq -c "[.analyses.processes[1:][] | .ppid == $root] | all" "$A")" true "the children's parent is the command"
# leaks and peak of each: [blocks, bytes, peak live bytes]
is "$(jq -c '[.analyses.processes[] | [.leaks.blocks, .leaks.bytes, .peak.live_bytes]]' "$A")" \
	'[[3,3000,50000],[2,10000,80000],[0,0,30000]]' \
	"each process's own leaks and peak exactly: parent 3 x 1000 B / 50000, A 2 x 5000 B / 80000, B none / 30000"
is "$(jq -c '[.analyses.processes[] | [.leaks.sites[] | [.frames[0], .size_min, .blocks, .bytes]]]' "$A")" \
	'[[["malloc",512,3,3000]],[["malloc",4096,2,10000]],[]]' "each process's leak sites: its own blocks alone"
is "$(jq -c '[.analyses.processes[] | .peak.sites[0] | [.size_min, .bytes, .blocks]]' "$A")" \
	'[[32768,50000,1],[65536,80000,1],[16384,30000,1]]' "each process's peak contributor: its own peak block"
is "$(jq -c '[.analyses.processes[] | .temporary.calls]' "$A")" '[1,1,1]' "each process's one temporary"
is "$(jq '.analyses | del(.processes) == (.processes[0] | del(.pid, .ppid))' "$A")" true \
	"the top-level keys are the command's process's (leaks, peak, temporary, sizes, timeline, resident)"
is "$(jq -c '[.analyses.processes[] | (.timeline.points | length) > 0 and (.resident | has("model_bytes"))] | all' "$A")" \
	true "every process has its own timeline and resident model"
is "$(jq -c '[.analyses.processes[1:][] | .timeline.start_ns > 0] | all' "$A")" true \
	"a child's timeline starts at its first event (start_ns after the command's)"

"$FAULTLINE" report "$T/af.data" >"$T/af.txt"
is "$(grep -c "^== Heap analyses of process [0-9]* (parent $root) ==" "$T/af.txt")" 2 \
	"text: a heading for each child's analyses"

"$FAULTLINE" record -q -o "$T/one.data" -- "$T/af" >/dev/null 2>&1
is "$("$FAULTLINE" report -F json "$T/one.data" | jq -c '[(.analyses.processes | length), .analyses.leaks.blocks, .analyses.peak.live_bytes]')" \
	'[1,3,50000]' "without -f: one process, the command's own"
done_testing
