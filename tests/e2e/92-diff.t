#!/usr/bin/env bash
# report --diff OLD NEW: two builds of tests/e2e/diff_prog.c, the new one
# with a function that mallocs and frees a 256 KiB block 50 times (glibc,
# threshold fixed at 128 KiB: 50 mmap + 50 munmap at that one site). The
# diff names that row first with mmap +50 / munmap +50, without stacks (by
# function and size class) and with them (by call site); a recording
# against itself shows no change; the JSON has schema faultline.diff.v1;
# bad usage is one line and exit 2. check --sites fails the same change
# by its one call site's syscalls.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin gcc jq
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
SRC=$PWD/tests/e2e/diff_prog.c
plan 25
export FAULTLINE_BUILDID_DIR=$T/cache
cd "$T" || exit 1
gcc -O2 -g -o old "$SRC" && gcc -O2 -g -DEXTRA -o new "$SRC" || { echo "Bail out! cannot build diff_prog.c"; exit 1; }

"$FAULTLINE" record -q -o old.data -- ./old >/dev/null
"$FAULTLINE" record -q -o new.data -- ./new >/dev/null
"$FAULTLINE" report --diff old.data new.data >diff.txt 2>diff.err
ok $? "report --diff (no stacks) exits 0" "$(cat diff.err)"
first=$(grep -A1 '^  state' diff.txt | tail -1)
like "$first" 'appeared +\+50 .*mmap \+50, munmap \+50 +malloc 256 KiB\.\.512 KiB$' \
	"text: the first row is malloc 256 KiB..512 KiB, appeared, +50 calls, mmap +50, munmap +50"
like "$(cat diff.txt)" 'rows by allocating function and size class' "text: says what a row is"

"$FAULTLINE" report --diff old.data new.data --format json -o diff.json
ok $? "report --diff --format json -o"
is "$(jq -r .schema diff.json)" "faultline.diff.v1" "json: schema"
is "$(jq -r '.rows[0].name' diff.json)" "malloc 256 KiB..512 KiB" "json: the first row"
is "$(jq -r '.rows[0].state' diff.json)" "appeared" "json: it appeared"
is "$(jq -r '[.rows[0].change.syscalls.mmap, .rows[0].change.syscalls.munmap, .rows[0].change.calls] | join(" ")' diff.json)" \
	"50 50 50" "json: +50 mmap, +50 munmap, +50 calls"
is "$(jq -r '.rows[0].change.bytes' diff.json)" $((50 * 256 * 1024)) "json: +50 x 256 KiB requested"
is "$(jq -r '.totals.change.syscalls.mmap' diff.json)" 50 "json: totals: mmap +50 in all"
# the 1 MiB blocks are the same in both builds
is "$(jq -r '[.rows[] | select(.name == "malloc 1 MiB..2 MiB") | .state, .new.syscalls.mmap] | join(" ")' diff.json)" \
	"same 10" "json: malloc 1 MiB..2 MiB is unchanged (10 mmap in each)"

"$FAULTLINE" report --diff old.data old.data --format json -o self.json
is "$(jq -r '[.rows[] | select(.state != "same")] | length' self.json)" 0 "a recording against itself: no row changed"

"$FAULTLINE" record -q --stacks -o olds.data -- ./old >/dev/null
"$FAULTLINE" record -q --stacks -o news.data -- ./new >/dev/null
"$FAULTLINE" report --diff olds.data news.data >sdiff.txt 2>sdiff.err
ok $? "report --diff with stacks exits 0" "$(cat sdiff.err)"
first=$(grep -A1 '^  state' sdiff.txt | tail -1)
like "$first" 'appeared .*mmap \+50, munmap \+50 +extra_maps < main' \
	"stacks: the first row is the call site extra_maps < main, mmap +50, munmap +50"
"$FAULTLINE" report --diff olds.data news.data --format json -o sdiff.json
is "$(jq -r '.by' sdiff.json)" "call_site" "json with stacks: by call site"
is "$(jq -r '.rows[0] | [.change.syscalls.mmap, .change.syscalls.munmap] | join(" ")' sdiff.json)" "50 50" \
	"json with stacks: the first row +50/+50"

"$FAULTLINE" report --diff old.data >/dev/null 2>err.txt
is "$?:$(wc -l <err.txt)" "2:1" "--diff with one file: exit 2, one line"
"$FAULTLINE" report --diff old.data nothere.data >/dev/null 2>err.txt
is "$?:$(wc -l <err.txt)" "2:1" "--diff with a missing file: exit 2, one line"
"$FAULTLINE" report --diff old.data new.data --format jsonl >/dev/null 2>err.txt
is "$?" 2 "--diff --format jsonl: a usage error"
"$FAULTLINE" report --diff olds.data new.data >mixed.txt 2>err.txt
like "$(cat err.txt)" 'only olds.data was recorded with --stacks' "one side with stacks: says so, by function"
# check --sites: the other counts get room (--max-increase '*=1000%'), so the verdict is the sites'
"$FAULTLINE" report --format json olds.data -o olds.json
"$FAULTLINE" report --format json news.data -o news.json
"$FAULTLINE" check --baseline olds.json news.json --max-increase '*=1000%' --sites +10 >check.txt
is "$?" 1 "check --sites +10: the change fails"
like "$(grep FAIL check.txt | tail -1)" '^sites\.extra_maps < main .*\+[0-9]+.*FAIL$' "check --sites: the failing row is sites.extra_maps < main"
is "$(grep -c 'FAIL$' check.txt)" 1 "check --sites: no other row fails"
"$FAULTLINE" check --baseline olds.json news.json --max-increase '*=1000%' --sites +200 >/dev/null
is "$?" 0 "check --sites +200: within the limit"
"$FAULTLINE" report --format json old.data -o old.json
"$FAULTLINE" check --baseline old.json old.json --sites +10 >/dev/null 2>err.txt
is "$?:$(wc -l <err.txt)" "2:1" "check --sites of summaries without call sites: exit 2, one line"
done_testing
