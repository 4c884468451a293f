#!/usr/bin/env bash
# Hostile input (issue 18): recordings and summaries built to hurt the reader,
# and a traced program whose argv and function names carry terminal escapes,
# newlines and ';'. Each must cost bounded time and memory, or come out
# escaped for its format (text, live trace lines and summary, JSON, JSONL,
# folded, check's text), or be rejected with one line on stderr:
#   - a command record of 16 MiB of NULs: under 5 s and 200 MB
#   - a maps record of 64 MiB of newlines, under a 1 GB address-space limit
#   - 1000 maps records of 1000 new lines each for one process: under 5 s
#   - 200k distinct threads: report under 5 s
#   - argv / allocator path / function name with ESC[35m, a newline, ';'
#   - a summary naming "lost_events" or "truncated" twice: check exits 2
# The recordings are written by tests/tools/gen_hostile.c (the real writer).
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin "$PY3" gcc /usr/bin/time
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
[ -x "$EXAMPLES/seed_claims" ] || skip_all "no $EXAMPLES/seed_claims (make)"
ROOT=$PWD
plan 46

gcc -O1 -Iinclude -Iuser -D_GNU_SOURCE -o "$T/gen_hostile" tests/tools/gen_hostile.c \
	user/store/tracefile.c user/store/event_codec.c user/util/io.c user/util/safe_file.c -lz -lzstd -pthread || exit 1
cd "$T" || exit 1
lines() { if [ -s "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
has_esc() { grep -qa $'\x1b' "$1"; }
# measure OUT ERR CMD...: runs CMD under /usr/bin/time -v; sets SECS (elapsed,
# integer hundredths) and RSS_KB, RC
measure() {
	local out=$1 err=$2; shift 2
	/usr/bin/time -v -o time.txt "$@" >"$out" 2>"$err"; RC=$?
	RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' time.txt)
	SECS=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0;
		for (i = 1; i <= n; i++) s = s * 60 + a[i]; printf "%d", s * 100 }' time.txt)
}

# ------------------------------------------------------------ memory bombs
./gen_hostile command-bomb 16 cmd-bomb.data || exit 1
measure rep.out rep.err timeout 60 "$FAULTLINE" report cmd-bomb.data
is "$RC" 0 "command bomb: report exits 0 (the bad record is skipped)"
cmp_ok "$SECS" -lt 500 "command bomb: report takes under 5 s"
cmp_ok "$RSS_KB" -lt 204800 "command bomb: report stays under 200 MB (max RSS)"
is "$(lines rep.err)" 1 "command bomb: one line on stderr"
like "$(cat rep.err)" "1 records could not be read" "it counts the record as bad"

./gen_hostile maps-bomb 64 maps-bomb.data || exit 1
# the plain build: ASan reserves more address space than the limit allows
PLAIN=${FAULTLINE%-asan}
( ulimit -v 1048576; timeout 60 "$PLAIN" report maps-bomb.data >rep.out 2>rep.err ); RC=$?
is "$RC" 0 "maps bomb: report exits 0 within 1 GB of address space (no abort)"
is "$(lines rep.err)" 1 "maps bomb: one line on stderr"
like "$(cat rep.err)" "1 records could not be read" "it counts the record as bad"
measure rep.out rep.err timeout 60 "$FAULTLINE" report maps-bomb.data
cmp_ok "$SECS" -lt 500 "maps bomb: report takes under 5 s"

./gen_hostile maps-many 1000 maps-many.data || exit 1
measure rep.out rep.err timeout 30 "$FAULTLINE" report maps-many.data
is "$RC" 0 "1000 maps sets merged: report exits 0"
cmp_ok "$SECS" -lt 500 "1000 maps sets merged: report takes under 5 s (the merge is bounded)"

# ------------------------------------------------------------ 200k threads
./gen_hostile threads 200000 threads.data || exit 1
measure rep.json rep.err timeout 30 "$FAULTLINE" report --format json threads.data
is "$RC" 0 "200k threads: report exits 0"
cmp_ok "$SECS" -lt 500 "200k threads: report takes under 5 s"
is "$(json_get rep.json calls.malloc 2>/dev/null)" 200000 "every thread's malloc is counted"
is "$(json_get rep.json calls.free 2>/dev/null)" 200000 "every thread's free is counted"

# ------------------------------------------------------------ escapes: recordings
./gen_hostile escapes esc.data || exit 1
"$FAULTLINE" report esc.data >esc.txt 2>esc.err
has_esc esc.txt; isnt $? 0 "text report: no raw ESC byte"
grep -a '^command:' esc.txt >cmd.line
like "$(cat cmd.line)" '^command:   \./evil\\x1b\[35mPURPLE\\nforged line arg;two\\twith\\rcontrols \\xff\\xfe bad utf-8$' \
	"text report: argv escaped on the command: line"
grep -qa '^forged line' esc.txt; isnt $? 0 "text report: the newline in argv forged no line"
like "$(grep -a '^allocator:' esc.txt)" '^allocator: /lib/evil\\x1b\[2J\\nlibc\.so\.6$' "text report: allocator path escaped"

"$FAULTLINE" report --format json esc.data >esc.json 2>/dev/null
"$PY3" - esc.json <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))  # strict UTF-8
assert d['target']['command'] == ['./evil\x1b[35mPURPLE\nforged line', 'arg;two\twith\rcontrols',
                                  '\u00ff\u00fe bad utf-8'], d['target']['command']
assert d['extra']['allocator'] == '/lib/evil\x1b[2J\nlibc.so.6'
EOF
ok $? "json: valid UTF-8 JSON, argv and allocator round-trip (invalid bytes as \\u00XX)"

# ------------------------------------------------------------ escapes: a real program
# evil: a function whose symbol (and DWARF name) is patched to hold ESC[35m,
# ';', spaces, a newline and a byte that is not UTF-8
cat >evil.c <<'EOF'
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) void PLACEHOLDER_NAME_FOR_A_HOSTILE_SYMBOL_X(size_t n)
{
	for (int i = 0; i < 4; i++) {
		char *p = malloc(n);
		memset(p, 1, n);
		free(p);
	}
}
int main(void) { PLACEHOLDER_NAME_FOR_A_HOSTILE_SYMBOL_X(1 << 20); return 0; }
EOF
gcc -O0 -g -fno-builtin -o evil evil.c || exit 1
"$PY3" - <<'EOF'
ph = b"PLACEHOLDER_NAME_FOR_A_HOSTILE_SYMBOL_X"
new = b"ev\x1b[35mil;fake;frame 999999\nA B\xff"
new += b"_" * (len(ph) - len(new))
d = open('evil', 'rb').read()
assert d.count(ph) >= 1
open('evil', 'wb').write(d.replace(ph, new))
EOF
"$FAULTLINE" record -q --stacks -o evil.data -- ./evil $'arg\e[35m\nnext' >/dev/null 2>&1
is $? 0 "record --stacks of the patched program"

"$FAULTLINE" report --format folded evil.data >evil.folded 2>/dev/null
"$PY3" - evil.folded <<'EOF'
import re, sys
lines = open(sys.argv[1], 'rb').read().decode('utf-8').split('\n')
assert lines[-1] == '', 'ends with a newline'
lines = lines[:-1]
assert lines, 'no folded lines'
for l in lines:
    # flamegraph.pl's form: frames without spaces, one space, one count
    assert re.fullmatch(r'[^ \x00-\x1f\x7f]+ [0-9]+', l), repr(l)
evil = [f for l in lines for f in l.rsplit(' ', 1)[0].split(';') if f.startswith('ev')]
assert evil, 'the hostile frame is missing'
assert all(f.startswith(r'ev\x1b[35mil\x3bfake\x3bframe\x20999999\nA\x20B\xff') for f in evil), evil
EOF
ok $? "folded: every line is 'frames count', the hostile name is one escaped frame"
grep -a -c ' 999999$' evil.folded >/dev/null; isnt $? 0 "folded: no forged 'fake;frame 999999' line"

"$FAULTLINE" report evil.data >evil.txt 2>/dev/null
has_esc evil.txt; isnt $? 0 "text report with call sites: no raw ESC byte"
like "$(grep -a 'ev\\x1b' evil.txt | head -1)" 'ev\\x1b\[35mil;fake;frame 999999\\nA B\\xff_* \(evil\.c:[0-9]+\)' \
	"text call sites: the name escaped, its file:line on the same line"
like "$(grep -a '^command:' evil.txt)" "^command:   \./evil arg\\\\x1b\[35m\\\\nnext$" "text report: argv of record -- CMD escaped"

"$FAULTLINE" report --format json evil.data >evil.json 2>/dev/null
"$PY3" - evil.json <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))
sites = [s['site'] for m in ('syscalls', 'faults', 'bytes') for s in d['extra']['call_sites'][m]]
assert any(s.startswith('ev\x1b[35mil;fake;frame 999999\nA B\u00ff') for s in sites), sites
EOF
ok $? "json call sites: valid JSON, the name round-trips"
"$FAULTLINE" report --format jsonl evil.data >evil.jsonl 2>/dev/null
"$PY3" -c '
import json, sys
n = 0
for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines():
    json.loads(l); n += 1
assert n > 10
' evil.jsonl
ok $? "jsonl: every line parses (strict UTF-8)"

# trace: the live lines and the summary, of a command and of a running process
"$FAULTLINE" trace -v --stacks -- ./evil $'arg\e[35m\nnext' >trace.out 2>trace.err
is $? 0 "trace --stacks -- CMD exits with the command's status"
has_esc trace.out; isnt $? 0 "trace: no raw ESC byte in the live lines and summary"
like "$(grep -a '^command:' trace.out)" "^command:   \./evil arg\\\\x1b\[35m\\\\nnext$" "trace summary: argv escaped"
grep -qa '^next' trace.out; isnt $? 0 "trace: the newline in argv forged no line"
bad=$(grep -a '^#' trace.out | grep -cav '^#[0-9]\+ \+tid [0-9]\+ \+[a-z_]\+(')
is "$bad" 0 "trace: every live line is one call's line"
( exec -a $'evil\e[35m\nname' sleep 5 ) & SPID=$!
sleep 0.3
"$FAULTLINE" trace -p "$SPID" --duration 1 >tracep.out 2>tracep.err
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
has_esc tracep.out; isnt $? 0 "trace -p: /proc/PID/cmdline shown without a raw ESC"
like "$(grep -a '^command:' tracep.out)" '^command:   evil\\x1b\[35m\\nname 5$' "trace -p summary: cmdline escaped"

# ------------------------------------------------------------ check
"$FAULTLINE" record -q -o seed.data -- "$EXAMPLES/seed_claims" >/dev/null 2>&1
"$FAULTLINE" report --format json seed.data >base.json 2>/dev/null
"$PY3" - base.json cur.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d['target']['command'] = ['./x\x1b[35m', 'fake\nnote: all good']
open(sys.argv[2], 'w').write(json.dumps(d))
EOF
"$FAULTLINE" check --baseline base.json cur.json >check.out 2>check.err
is $? 0 "check: the same counts pass"
has_esc check.out; isnt $? 0 "check text: no raw ESC byte"
grep -qa '^note: all good' check.out; isnt $? 0 "check text: the command's newline forged no line"
like "$(grep -a 'runs differ' check.out)" 'x\\x1b\[35m fake\\nnote: all good' "check text: the note quotes the command escaped"

"$FAULTLINE" check --baseline base.json cur.json --format junit >check.xml 2>/dev/null
"$PY3" - check.xml <<'EOF'
import sys, xml.etree.ElementTree as E
props = [p.get('value') for p in E.parse(sys.argv[1]).getroot().iter('property')]
assert any(v and v.startswith('./x?[35m fake\nnote: all good') for v in props), props
EOF
ok $? "check junit: well-formed XML, the command's ESC replaced (as before this change)"
"$FAULTLINE" check --baseline base.json cur.json --format markdown >check.md 2>/dev/null
grep -qa '^note: all good' check.md; isnt $? 0 "check markdown: the command's newline forged no line"

sed 's/"lost_events":0/"lost_events":0,"lost_events":5/' base.json >dup1.json
grep -q '"lost_events":5' dup1.json || exit 1
"$FAULTLINE" check --baseline base.json dup1.json >/dev/null 2>check.err
is $? 2 "check: \"lost_events\" twice exits 2"
is "$(lines check.err)" 1 "one line on stderr"
like "$(cat check.err)" 'line 1, column [0-9]+: duplicate key "lost_events"' "it names the key and where"
sed 's/"truncated":false/"truncated":false,"truncated":true/' base.json >dup2.json
"$FAULTLINE" check --baseline base.json dup2.json >/dev/null 2>check.err
is $? 2 "check: \"truncated\" twice exits 2"
sed 's/"exit_status":0/"exit_status":0,"exit_status":1/' base.json >dup3.json
grep -q '"exit_status":1' dup3.json || exit 1
"$FAULTLINE" check --baseline dup3.json base.json >/dev/null 2>check.err
is $? 2 "check: a key twice in a nested object (target) of the baseline exits 2"

cd "$ROOT" || exit 1
done_testing
