#!/usr/bin/env bash
# Processes told apart (-f) and the runtime's own memory. On
# tests/e2e/proc_tree.c, whose answers are known by construction:
#   - a parent holding 300 KiB and two children holding 600 and 900 KiB
#     (malloc below a fixed 1 MiB threshold, so on each one's brk heap):
#     extra.processes[] has each with its parent, file and argv, its own peak
#     live bytes exactly, and the summary's peaks are the largest of any one
#     process's, not their sum (the sum was what a -f report said before);
#   - a child that execs /bin/sh -c 'sleep 0.3' x "" "": its argv without the
#     trailing empty strings, its file /bin/sh's real path, named by the exec
#     event in jsonl;
#   - 64 anonymous pages mapped and touched outside any allocator call: 64
#     more first touches of owner "runtime" than the same program without;
#     with --stacks, the 64 count for the mmap's call site ("allocated here");
#   - python3 (pymalloc's arenas): most first touches are "runtime";
#   - make -j2 over two compilations: the peaks are one process's;
#   - -p: the heap at the attach is the [heap] of /proc/PID/maps, and the
#     recording's duration is its --duration window.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin gcc jq make "$PY3"
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
SRC=$PWD/tests/e2e/proc_tree.c
plan 24
cd "$T" || exit 1
gcc -O2 -g -o proc_tree "$SRC" || { echo "Bail out! cannot build proc_tree.c"; exit 1; }
REAL=$(readlink -f proc_tree)

"$FAULTLINE" record -q -f -o tree.data -- ./proc_tree >/dev/null
"$FAULTLINE" report --format json tree.data -o tree.json
ok $? "report --format json of a -f recording"
is "$(jq '.extra.processes | length' tree.json)" 3 "extra.processes: the parent and its two children"
root=$(jq '.extra.processes[0].pid' tree.json)
is "$(jq -r '.target.pid' tree.json)" "$root" "the first process is the command"
is "$(jq "[.extra.processes[1:][] | .ppid == $root] | all" tree.json)" true "the children's parent is the command"
is "$(jq -c '[.extra.processes[] | .argv] | unique' tree.json)" '[["./proc_tree"]]' "every argv is [\"./proc_tree\"]"
is "$(jq -r '[.extra.processes[] | .exe] | unique | .[]' tree.json)" "$REAL" "every exe is the real path"
is "$(jq -c '[.extra.processes[] | .peak_live] | sort' tree.json)" "[307200,614400,921600]" \
	"each process's own peak live bytes: 300, 600, 900 KiB exactly"
is "$(jq '.bytes.peak_live' tree.json)" 921600 "summary peak live: the largest process's (900 KiB), not the sum (1.8 MiB)"
is "$(jq '.bytes.peak_heap == ([.extra.processes[] | .peak_heap] | max)' tree.json)" true \
	"summary peak heap: the largest of the processes' ($(jq '.bytes.peak_heap' tree.json) B)"
"$FAULTLINE" report tree.data >tree.txt
like "$(grep -A4 '^Processes: 3' tree.txt)" "$root .*proc_tree  \[\./proc_tree\]" "text: a Processes section with each process"

"$FAULTLINE" record -q -f -o exec.data -- ./proc_tree exec >/dev/null
"$FAULTLINE" report --format json exec.data -o exec.json
SH=$(readlink -f /bin/sh)
is "$(jq -c "[.extra.processes[] | select(.exe == \"$SH\") | .argv][0]" exec.json)" '["sh","-c","sleep 0.3","x"]' \
	"exec'd child: argv without the trailing empty strings, exe $SH"
is "$(jq -r "[.extra.processes[] | select(.exe == \"$SH\") | .ppid][0]" exec.json)" \
	"$(jq '.extra.processes[0].pid' exec.json)" "exec'd child: its parent is the command"
"$FAULTLINE" report --format jsonl exec.data >exec.jsonl
cmp_ok "$(grep -c "\"kind\":\"exec\",\"file\":\"$SH\"" exec.jsonl)" -ge 1 "jsonl: the exec event names $SH"

"$FAULTLINE" record -q -o none.data -- ./proc_tree none >/dev/null
"$FAULTLINE" record -q -o mmap.data -- ./proc_tree mmap >/dev/null
r0=$("$FAULTLINE" report --format json none.data | jq '.extra.first_touch_by_owner.runtime')
r1=$("$FAULTLINE" report --format json mmap.data | jq '.extra.first_touch_by_owner.runtime')
is "$((r1 - r0))" 64 "64 pages of its own anonymous mapping: 64 more runtime first touches ($r0 -> $r1)"
like "$("$FAULTLINE" report mmap.data)" '  runtime +[0-9]+  first touch +[0-9]+  anonymous mappings made outside' "text: the runtime owner row"
L_MMAP=$(grep -n 'L_MMAP' "$SRC" | cut -d: -f1)
FAULTLINE_BUILDID_DIR=$T/cache "$FAULTLINE" record -q --stacks -o mmaps.data -- ./proc_tree mmap >/dev/null
"$FAULTLINE" report --format json mmaps.data -o mmaps.json
is "$(jq '.extra.call_sites.faults[0].allocated_here' mmaps.json)" 64 \
	"--stacks: the mapping's call site has its 64 first touches as allocated here"
like "$(jq -r '.extra.call_sites.faults[0].site' mmaps.json)" "^(own_mapping|main) \\(proc_tree\\.c:$L_MMAP\\)" \
	"--stacks: that site is the mmap's line (proc_tree.c:$L_MMAP)"

"$FAULTLINE" record -q -o py.data -- "$PY3" -c 'x = [str(i) for i in range(200000)]' >/dev/null
"$FAULTLINE" report --format json py.data -o py.json
rt=$(jq '.extra.first_touch_by_owner.runtime' py.json); other=$(jq '.extra.first_touch_by_owner.other' py.json)
cmp_ok "$rt" -gt $((5 * other)) "python3: runtime first touches ($rt) more than 5x other ($other)"

mkdir mk && cd mk || exit 1
printf 'int a(void) { return 1; }\n' >a.c
printf 'int b(void) { return 2; }\n' >b.c
printf 'all: a.o b.o\n%%.o: %%.c\n\tgcc -O2 -c $< -o $@\n' >Makefile
"$FAULTLINE" record -q -f -o ../make.data -- make -s -j2 >/dev/null
cd .. || exit 1
"$FAULTLINE" report --format json make.data -o make.json
cmp_ok "$(jq '.extra.processes | length' make.json)" -ge 5 "make -j2: make, two gcc, their cc1 and as ($(jq '.extra.processes | length' make.json) processes)"
is "$(jq '.bytes.peak_heap == ([.extra.processes[] | .peak_heap] | max)' make.json)" true \
	"make -j2: peak heap $(jq '.bytes.peak_heap' make.json) B is one process's, not the sum of $(jq '[.extra.processes[] | .peak_heap] | add' make.json) B"
is "$(jq '[.extra.processes[] | .exe // "" | test("/cc1$")] | any' make.json)" true \
	"make -j2: cc1 is named by its real path"

./proc_tree hold & pid=$!
sleep 0.5
heap=$(awk '/\[heap\]/ { split($1, r, "-"); print r[1], r[2] }' /proc/$pid/maps | { read -r s e; echo $((0x$e - 0x$s)); })
"$FAULTLINE" record -q -p $pid --duration 1 -o attach.data 2>/dev/null
kill $pid; wait $pid 2>/dev/null
"$FAULTLINE" report --format json attach.data -o attach.json
is "$(jq '.bytes.peak_heap' attach.json)" "$heap" "-p: peak heap is the [heap] of /proc/PID/maps at the attach ($heap B)"
d=$(jq '.duration_ns' attach.json)
cmp_ok "$d" -ge 1000000000 "-p --duration 1: duration ${d} ns is the window, at least 1 s"
cmp_ok "$d" -lt 1500000000 "-p --duration 1: and under 1.5 s"
done_testing
