#!/usr/bin/env bash
# Bad input, bad files, interrupted recordings: the exit statuses and the one
# stderr line `faultline record --help` / `report --help` promise, no crash.
cd "$(dirname "$0")/../.." || exit 1
# userspace runs sanitized here: bad input and every report path under ASan/UBSan
FAULTLINE=${FAULTLINE:-build/faultline-asan}
. tests/e2e/lib.sh
need_root
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
[ -x "$EXAMPLES/churn" ] || skip_all "no $EXAMPLES/churn (make build/examples/churn)"
plan 74

cd "$T" || exit 1
lines() { if [ -s "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# one_line FILE DESC: FILE (stderr) holds exactly one line
one_line() { is "$(lines "$1")" 1 "$2" ; [ "$(lines "$1")" = 1 ] || diag "stderr: $(head -5 "$1")"; }

# record RC_VAR: run faultline record with the rest of the args; out/err in rec.out/rec.err
rec() { "$FAULTLINE" record "$@" >rec.out 2>rec.err; }
rep() { "$FAULTLINE" report "$@" >rep.out 2>rep.err; }

# ------------------------------------------------------------ record: bad commands
rec -o a.data -- "no-such-command-$$"
is $? 127 "record of a command not in PATH exits 127"
one_line rec.err "one line on stderr"
like "$(cat rec.err)" "no-such-command-$$" "it names the command"
[ ! -e a.data ]; ok $? "no recording left behind"

rec -o a.data -- /nonexistent/dir/prog
is $? 127 "record of a missing path exits 127"
one_line rec.err "one line on stderr"

printf 'just text\n' >plain
chmod 644 plain
rec -o a.data -- ./plain
is $? 126 "record of a non-executable file exits 126 (not executable)"
one_line rec.err "one line on stderr"

printf 'just text, no #! line\n' >textexe
chmod 755 textexe
rec -o a.data -- ./textexe
rc=$?
isnt "$rc" 0 "record of a text file marked executable fails"
cmp_ok "$rc" -lt 128 "without a crash (exit $rc)"
one_line rec.err "one clear line on stderr"

if command -v gcc >/dev/null 2>&1; then
	cat >nolibc.c <<'EOF'
void _start(void) { __asm__ volatile("mov $60, %%eax\n xor %%edi, %%edi\n syscall" ::: "memory"); }
EOF
	gcc -static -nostdlib -o nolibc nolibc.c 2>gcc.err
fi
if [ -x nolibc ]; then
	rec -o a.data -- ./nolibc
	rc=$?
	isnt "$rc" 0 "record of a static binary with no allocator fails"
	cmp_ok "$rc" -lt 128 "without a crash (exit $rc)"
	one_line rec.err "one clear line on stderr"
	like "$(cat rec.err)" "malloc|allocator" "the line says there is no allocator"
else
	for i in 1 2 3 4; do ok 0 "# SKIP no gcc -static -nostdlib"; done
fi

rec -o a.data
rc=$?
isnt "$rc" 0 "record with no command fails"
cmp_ok "$rc" -lt 125 "as a usage error (exit $rc)"
like "$(cat rec.err)" "usage|no command" "stderr says what is missing"
rec -o a.data --
isnt $? 0 "record with nothing after -- fails"

rec -o /nonexistent/dir/out.data -- /bin/true
is $? 125 "record to an uncreatable output file exits 125"
one_line rec.err "one line on stderr"

# ------------------------------------------------------------ exit status passthrough
rec -q -o st.data -- /bin/sh -c 'exit 3'
is $? 3 "record exits with the command's status (3)"
rep st.data --format json
is "$(json_get rep.out target.exit_status)" 3 "report shows exit_status 3"
rec -q -o st.data -- /bin/sh -c 'kill -9 $$'
is $? 137 "a command killed by SIGKILL gives 128+9"

# ------------------------------------------------------------ record as non-root
chmod 711 "$T" && mkdir -m 1777 nr # reachable by uid 65534
setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$FAULTLINE" record -o nr/x.data -- /bin/true >rec.out 2>rec.err
rc=$?
isnt "$rc" 0 "record as a non-root user fails"
cmp_ok "$rc" -lt 128 "without a crash (exit $rc)"
one_line rec.err "one line on stderr"
like "$(cat rec.err)" "root" "it mentions root"
[ ! -e nr/x.data ]; ok $? "no recording left behind"

# ------------------------------------------------------------ report: bad files
rep "$T/missing.data"
is $? 2 "report of a missing file exits 2"
one_line rep.err "one line on stderr"
is "$(lines rep.out)" 0 "nothing on stdout"

: >empty.data
rep empty.data
is $? 2 "report of an empty file exits 2"
one_line rep.err "one line on stderr"
is "$(lines rep.out)" 0 "nothing on stdout"

head -c 200000 /dev/urandom >random.data
rep random.data
is $? 2 "report of random bytes exits 2"
one_line rep.err "one line on stderr"
is "$(lines rep.out)" 0 "nothing on stdout"

# a small recording (one block) and a big one (many blocks)
rec -q -o small.data -- "$EXAMPLES/seed_claims"
is $? 0 "record seed_claims"
rec -q --call-times=exact -o big.data -- "$EXAMPLES/churn" 2000000 # exact: a file of some MB, 9 blocks
is $? 0 "record churn 2000000"
rep big.data --format json
is $? 0 "report of the good big recording exits 0"
good_malloc=$(json_get rep.out calls.malloc)
cmp_ok "$good_malloc" -ge 300000 "it has all >= 300000 malloc calls"

flip() { # flip SRC DST: invert one byte in the middle of SRC
	$PY3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0x5a
open(sys.argv[2], "wb").write(b)' "$1" "$2"
}
for f in small big; do
	flip $f.data flip_$f.data
	for fmt in text json; do
		rep flip_$f.data --format $fmt
		rc=$?
		is $rc 2 "report --format $fmt of $f recording with a flipped byte exits 2"
		one_line rep.err "one line on stderr"
		is "$(lines rep.out)" 0 "nothing on stdout"
	done
done
rep flip_big.data --format jsonl
rc=$?
is $rc 2 "report --format jsonl of a flipped byte exits 2 (events before it may stream out)"
one_line rep.err "one line on stderr"

# truncated in the middle: still reports its whole blocks
head -c $(( $(stat -c %s big.data) / 2 )) big.data >cut.data
rep cut.data
is $? 2 "report of a recording cut in the middle exits 2"
like "$(cat rep.err)" "cut short" "stderr says cut short"
is "$(lines rep.err)" 1 "in one line"
like "$(cat rep.out)" "malloc +[0-9]+" "stdout still has the report"
rep cut.data --format json
is $? 2 "json report of the cut recording exits 2"
m=$(json_get rep.out calls.malloc 2>/dev/null)
cmp_ok "$m" -gt 0 "it reports > 0 malloc calls"
cmp_ok "$m" -lt "$good_malloc" "fewer than the whole recording"
is "$(json_get rep.out extra.truncated 2>/dev/null)" True "json says truncated"

# ------------------------------------------------------------ faultline SIGKILLed mid-recording
# (exact call times: the file grows by MBs a second)
"$FAULTLINE" record -q --call-times=exact -o killed.data -- "$EXAMPLES/churn" 50000000 >/dev/null 2>killrec.err &
fp=$!
# wait until events flow to the file (BPF setup takes a few seconds)
for _ in $(seq 300); do
	[ "$(stat -c %s killed.data 2>/dev/null || echo 0)" -gt 2000000 ] && break
	sleep 0.1
done
cpid=$(pgrep -P $fp | head -1)
kill -9 $fp
wait $fp 2>/dev/null
[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
ok 0 "faultline SIGKILLed while recording churn (child ${cpid:-?} killed too)"
rep killed.data
is $? 2 "report of the killed recording exits 2"
like "$(cat rep.err)" "cut short" "stderr says cut short"
rep killed.data --format json
m=$(json_get rep.out calls.malloc 2>/dev/null)
cmp_ok "$m" -gt 0 "it reports > 0 malloc calls"

# ------------------------------------------------------------ SIGINT ends the recording cleanly
# (job control on, so the background job does not start with SIGINT ignored)
set -m
"$FAULTLINE" record -o int.data -- "$PY3" -c 'import time; time.sleep(60)' >/dev/null 2>intrec.err &
fp=$!
set +m
# wait until the target runs python (it is held before its execve while probes attach)
cpid=
for _ in $(seq 300); do
	cpid=$(pgrep -P $fp | head -1)
	[ -n "$cpid" ] && [[ "$(readlink /proc/$cpid/exe 2>/dev/null)" == */python3* ]] && break
	sleep 0.1
done
sleep 1
kill -INT $fp
ended=1
for _ in $(seq 200); do # up to 20 s, well before the 60 s sleep ends
	kill -0 $fp 2>/dev/null || { ended=0; break; }
	sleep 0.1
done
ok $ended "record ends soon after SIGINT"
if [ $ended != 0 ]; then kill -9 $fp; [ -n "$cpid" ] && kill -9 "$cpid"; fi
wait $fp 2>/dev/null
rc=$?
cmp_ok "$rc" -ne 125 "record does not fail (exit $rc)"
rep int.data
is $? 0 "report of the interrupted recording exits 0"
unlike "$(cat rep.err)" "cut short" "not cut short"
rep int.data --format json
is "$(json_get rep.out extra.truncated 2>/dev/null)" False "json: not truncated"
cmp_ok "$(json_get rep.out calls.malloc 2>/dev/null)" -gt 0 "python's malloc calls were recorded"
done_testing
