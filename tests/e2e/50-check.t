#!/usr/bin/env bash
# faultline check, the CI regression gate, on real recordings: a program
# passes against its own baseline 20 times in a row (fresh recordings, no
# false alarm); a variant that makes 8 more mmap calls per run fails, in
# text, markdown and junit; bad input exits 2 with one line on stderr;
# --update-baseline accepts a new baseline.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin "$PY3" gcc cmp
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
[ -x "$EXAMPLES/mmap_threshold" ] || skip_all "no $EXAMPLES/mmap_threshold (make build/examples/mmap_threshold)"

RUNS=20
plan $((RUNS + 45))
cd "$T" || exit 1

# extra_mmap K: mmap_threshold's default loop (200 x malloc/free of 4 KiB,
# all from the brk heap), then K more mmap+munmap pairs: the regression.
cat > extra_mmap.c <<'EOF'
#include <stdlib.h>
#include <sys/mman.h>
int main(int argc, char **argv)
{
	long k = argc > 1 ? atol(argv[1]) : 0;
	for (int i = 0; i < 200; i++) {
		volatile char *p = malloc(4096);
		if (!p)
			return 1;
		p[0] = 1;
		free((void *)p);
	}
	for (long i = 0; i < k; i++) {
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED || munmap(m, 4096))
			return 1;
	}
	return 0;
}
EOF
gcc -O1 -o extra_mmap extra_mmap.c || skip_all "cannot compile the test program"

# summary NAME CMD...: record CMD and write NAME.json
summary() {
	local name=$1; shift
	fl_record "$name.data" "$@" && fl_json "$name.data" "$name.json" && rm -f "$name.data"
}

# chk ARGS...: faultline check, stdout in out, stderr in err; sets rc
chk() {
	"$FAULTLINE" check "$@" >out 2>err
	rc=$?
}

# one_line_err DESC: the failure was one line on stderr and nothing on stdout
one_line_err() {
	is "$(wc -l <err)" 1 "$1: one line on stderr"
}

# --- the program against its own baseline, 20 fresh recordings ---
summary base "$EXAMPLES/mmap_threshold" default 200
ok $? "record the baseline (mmap_threshold default 200)"
for i in $(seq 1 $RUNS); do
	summary run "$EXAMPLES/mmap_threshold" default 200 || { ok 1 "recording $i"; continue; }
	chk --baseline base.json run.json
	is "$rc" 0 "fresh recording $i of $RUNS passes against the baseline"
	[ "$rc" = 0 ] || diag "$(grep -E 'FAIL|faultline check' out; cat err)"
done

# --- the variant: 8 more mmap (and munmap) calls ---
summary v0 ./extra_mmap 0 && summary v8 ./extra_mmap 8
ok $? "record extra_mmap 0 and 8"
chk --baseline v0.json v0.json
is "$rc" 0 "a summary passes against itself"
chk --baseline v0.json v8.json
is "$rc" 1 "8 more mmap calls: exit 1"
like "$(head -1 out)" '^faultline check: FAIL' "text: the first line says FAIL"
like "$(head -1 out)" 'syscalls\.mmap' "text: the first line names syscalls.mmap"
like "$(cat out)" '^syscalls\.mmap +[0-9]+ +[0-9]+ +\+8 \(\+[0-9.]+%\) +\+4 or 5% +FAIL$' \
	"text: the syscalls.mmap row has baseline, current, change +8, limit, FAIL"
like "$(cat out)" '^calls\.malloc +200 +200 +0 ' "text: an unchanged count is listed too"
is "$(wc -c <err)" 0 "text: nothing on stderr"

chk --baseline v0.json v8.json --format junit
is "$rc" 1 "junit: exit 1"
$PY3 - out <<'EOF' >junit.check 2>&1
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuite", root.tag
cases = {c.get("name"): c for c in root.iter("testcase")}
assert int(root.get("tests")) == len(cases), (root.get("tests"), len(cases))
assert int(root.get("failures")) == sum(1 for c in cases.values() if c.find("failure") is not None)
f = cases["syscalls.mmap"].find("failure")
assert f is not None and "syscalls.mmap" in f.get("message"), f
assert cases["calls.malloc"].find("failure") is None
assert "lost_events" in cases
EOF
ok $? "junit: well-formed XML, a testcase per metric, a failure for syscalls.mmap" "$(cat junit.check; head -c 600 out)"

chk --baseline v0.json v8.json --format markdown
is "$rc" 1 "markdown: exit 1"
like "$(cat out)" '^\| `syscalls\.mmap` \| [0-9]+ \| [0-9]+ \| \+8 .*\| \*\*FAIL\*\* \|$' "markdown: a table row for syscalls.mmap"
like "$(cat out)" '^\|:--\|--:\|' "markdown: a table header"

chk --baseline v0.json v8.json -o report.txt
is "$rc" 1 "-o: exit 1"
like "$(cat report.txt)" '^syscalls\.mmap .*FAIL$' "-o: the report is in the file"
is "$(wc -c <out)" 0 "-o: nothing on stdout"

chk --baseline v0.json v8.json --max-increase syscalls=+10 --max-increase syscalls_by_caller.none=+10
is "$rc" 0 "--max-increase syscalls=+10: the variant passes" "$(grep FAIL out)"
chk --baseline v0.json v8.json --max-increase syscalls.mmap=0%
is "$rc" 1 "--max-increase syscalls.mmap=0%: fails"
chk --baseline v0.json v8.json --max-increase sycalls.mmap=5
is "$rc" 2 "--max-increase with a metric that matches nothing: exit 2"
one_line_err "unknown metric"
chk --baseline v0.json v8.json --max-increase syscalls.mmap=lots
is "$rc" 2 "--max-increase with a bad limit: exit 2"

# --- bad input: exit 2, one line on stderr ---
printf '{"schema":"faultline.summary.v1","calls":{' >bad.json
chk --baseline v0.json bad.json
is "$rc" 2 "truncated JSON: exit 2"
one_line_err "truncated JSON"
like "$(cat err)" 'bad\.json: not valid JSON: line 1, column' "truncated JSON: says where"
printf 'not json at all\n' >bad2.json
chk --baseline bad2.json v0.json
is "$rc" 2 "a bad baseline: exit 2"
one_line_err "bad baseline"
$PY3 -c 'import json,sys; d=json.load(open("v0.json")); d["schema"]="faultline.summary.v2"; json.dump(d,open("v2.json","w"))'
chk --baseline v0.json v2.json
is "$rc" 2 "another schema version: exit 2"
one_line_err "another schema"
like "$(cat err)" 'faultline\.summary\.v2' "another schema: names it"
chk --baseline v0.json nosuch.json
is "$rc" 2 "a missing file: exit 2"
one_line_err "missing file"
like "$(cat err)" 'nosuch\.json: No such file' "missing file: names it"
chk v0.json
is "$rc" 2 "no --baseline: exit 2"

# --- incomplete data must not pass ---
$PY3 -c 'import json,sys; d=json.load(open("v0.json")); d["lost_events"]=7; json.dump(d,open("lost.json","w"))'
chk --baseline v0.json lost.json
is "$rc" 1 "the current run lost events: exit 1"
like "$(cat out)" '^lost_events +0 +7 .*must be 0 +FAIL$' "lost events: a failing lost_events row"
like "$(cat out)" 'lost 7 events' "lost events: explained"

# --- --update-baseline ---
cp v0.json accepted.json
chk --update-baseline --baseline accepted.json v8.json
is "$rc" 0 "--update-baseline: exit 0"
cmp -s accepted.json v8.json
ok $? "--update-baseline: the baseline is now the current summary"
chk --baseline accepted.json v8.json
is "$rc" 0 "after --update-baseline the variant passes"
chk --update-baseline --baseline accepted.json v2.json
is "$rc" 2 "--update-baseline with another schema: exit 2"
cmp -s accepted.json v8.json
ok $? "--update-baseline refused: the baseline is unchanged"

chk --help
is "$rc" 0 "--help: exit 0"
like "$(cat out)" 'syscalls\.mmap' "--help names the metrics"
like "$(cat out)" 'Exit status' "--help lists the exit codes"

done_testing
