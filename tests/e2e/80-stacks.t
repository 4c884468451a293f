#!/usr/bin/env bash
# record --stacks: the call sites of memory syscalls, first-touch faults and
# requested bytes, on tests/e2e/callsites.c built three ways: with frame
# pointers, without, and stripped with its debug info found by build-id
# under --debug-dir. Text report sections, folded stacks (--format folded),
# line numbers, sampling (--stacks=all --sample N), and a file without stacks.
# What callsites.c does, measured with strace -k on glibc 2.36 (the test
# asserts ranges around these):
#   map_churn: 50 mmap (malloc) + 50 munmap (free) + 2 brk (the process's
#              first malloc sets up the heap) = 102 syscalls; 50 x 65
#              first-touch faults (1 in malloc, 64 by the loop); 50 x 262144
#              bytes asked for
#   grow_heap: 14 brk, one malloc(1000) each
#   touch_block: 1 mmap + 1 munmap; 257 first-touch faults (1 in malloc,
#              256 by memset)
#   startup (ld.so, libc): 8 mmap, 1 munmap, 1 brk; perf stat: ~4050 page
#              faults in all, ~50 of them before main
cd "$(dirname "$0")/../.." || exit 1
# userspace runs sanitized here: the symbolizer (ELF, DWARF) is a report path
FAULTLINE=${FAULTLINE:-build/faultline-asan}
. tests/e2e/lib.sh
need_root
need_bin gcc objcopy strip readelf "$PY3"
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
SRC=$PWD/tests/e2e/callsites.c
[ -r "$SRC" ] || skip_all "no $SRC"

VARIANTS=(fp nofp stripped)
PER_VARIANT=18
plan $(( 4 + ${#VARIANTS[@]} * PER_VARIANT + 2 + 2 + 4 + 4 + 8 + 6 ))
# the objects the recordings copy (faultline's build-id cache) stay in the test's directory
export FAULTLINE_BUILDID_DIR=$T/cache
cd "$T" || exit 1

# the source lines the report must name (each marked /* L_... */ in callsites.c)
line_of() { grep -n "/\* $1 \*/" "$SRC" | cut -d: -f1; }
L_MAP_MALLOC=$(line_of L_MAP_MALLOC)
L_MAP_FREE=$(line_of L_MAP_FREE)
L_RUN_MAPS=$(line_of L_RUN_MAPS)
L_TOUCH_MALLOC=$(line_of L_TOUCH_MALLOC)
L_RUN_TOUCH=$(line_of L_RUN_TOUCH)
for l in "$L_MAP_MALLOC" "$L_MAP_FREE" "$L_RUN_MAPS" "$L_TOUCH_MALLOC" "$L_RUN_TOUCH"; do
	[[ $l =~ ^[0-9]+$ ]] || { echo "Bail out! line markers missing in $SRC"; exit 1; }
done

# between GOT LO HI DESC: LO <= GOT <= HI
between() {
	if [[ "$1" =~ ^-?[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; then ok 0 "$4"
	else ok 1 "$4" "expected $2..$3 got $1"; fi
}
# fsum FILE REGEX: sum of the counts of the folded lines whose stack matches REGEX (ERE)
fsum() {
	awk -v re="$2" '{ s = $0; sub(/ [^ ]*$/, "", s); if (s ~ re) t += $NF } END { print t + 0 }' "$1"
}
# fnlines FILE REGEX: how many folded lines' stacks match REGEX
fnlines() {
	awk -v re="$2" '{ s = $0; sub(/ [^ ]*$/, "", s); if (s ~ re) n++ } END { print n + 0 }' "$1"
}
# first_row FILE HEADING: the first non-blank line after the line starting with HEADING
first_row() { awk -v h="$2" 'f && NF { print; exit } index($0, h) == 1 { f = 1 }' "$1"; }
# rows FILE HEADING: the lines after the line starting with HEADING, up to a blank line
rows() { awk -v h="$2" 'f && !NF { exit } f { print } index($0, h) == 1 { f = 1 }' "$1"; }
# the call-site file name: callsites.c, perhaps with a directory
CS='([^ ()]*/)?callsites\.c'

# ------------------------------------------------------------ builds
CFLAGS=(-Wall -Wextra -Werror -O2 -g -Wl,--build-id)
gcc "${CFLAGS[@]}" -fno-omit-frame-pointer -o fp "$SRC" 2>gcc.err
ok $? "callsites.c builds with -fno-omit-frame-pointer, no warning" "$(head -5 gcc.err)"
gcc "${CFLAGS[@]}" -fomit-frame-pointer -o nofp "$SRC" 2>gcc.err
ok $? "callsites.c builds with -fomit-frame-pointer, no warning" "$(head -5 gcc.err)"
# stripped: nofp with its symbols and DWARF moved to debug/.build-id/XX/YYYY.debug
# (no .gnu_debuglink: the build-id is the only way to the debug file)
cp nofp stripped && objcopy --only-keep-debug stripped stripped.debug && strip --strip-all stripped
BUILD_ID=$(readelf -n stripped 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
DEBUG_FILE=debug/.build-id/${BUILD_ID:0:2}/${BUILD_ID:2}.debug
if [[ $BUILD_ID =~ ^[0-9a-f]{8,}$ ]]; then
	mkdir -p "${DEBUG_FILE%/*}" && mv stripped.debug "$DEBUG_FILE"
fi
sects=$(readelf -SW stripped 2>/dev/null)
grep -q 'note.gnu.build-id' <<<"$sects" && ! grep -Eq '\.symtab|\.debug_|\.gnu_debuglink' <<<"$sects"
ok $? "stripped: build-id $BUILD_ID kept, no .symtab, .debug_* or .gnu_debuglink" "$(grep -E 'symtab|debug|note' <<<"$sects")"
dsects=$(readelf -SW "$DEBUG_FILE" 2>/dev/null)
dbid=$(readelf -n "$DEBUG_FILE" 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
grep -q ' \.debug_info ' <<<"$dsects" && grep -q ' \.debug_line ' <<<"$dsects" && grep -q ' \.symtab ' <<<"$dsects" &&
	[ "$dbid" = "$BUILD_ID" ]
ok $? "$DEBUG_FILE holds .debug_info, .debug_line and .symtab, same build-id" "build-id $dbid; $(grep -E 'debug|symtab' <<<"$dsects")"
[ -x fp ] && [ -x nofp ] && [ -x stripped ] && [ -s "$DEBUG_FILE" ] || { echo "Bail out! cannot build callsites.c"; exit 1; }

# ------------------------------------------------------------ fp, nofp, stripped
# check_variant NAME [REPORT_OPTION...]: PER_VARIANT assertions
check_variant() {
	local v=$1 m rc row; shift
	"$FAULTLINE" record -q --stacks -o "$v.data" -- "$T/$v" >/dev/null 2>"$v.rec.err"
	rc=$?
	is $rc 0 "$v: record --stacks exits 0"
	[ $rc = 0 ] || diag "$(head -5 "$v.rec.err")"
	"$FAULTLINE" report "$@" "$v.data" >"$v.txt" 2>"$v.rep.err"
	rc=$?
	is $rc 0 "$v: report (text) exits 0"
	[ $rc = 0 ] || diag "$(head -5 "$v.rep.err")"
	rc=0
	for m in syscalls faults bytes; do
		"$FAULTLINE" report "$@" --format folded --metric "$m" "$v.data" >"$v.$m.folded" 2>>"$v.rep.err" || rc=$?
	done
	is $rc 0 "$v: report --format folded --metric syscalls, faults, bytes exit 0"
	[ $rc = 0 ] || diag "$(head -5 "$v.rep.err")"

	# folded syscalls: map_churn's mmap (malloc) and munmap (free), on their own stacks
	between "$(fsum "$v.syscalls.folded" 'map_churn')" 100 102 \
		"$v: folded syscalls: map_churn stacks count 100..102 (50 mmap + 50 munmap, + the first malloc's brk)"
	cmp_ok "$(fnlines "$v.syscalls.folded" '(^|;)run_maps;map_churn;')" -ge 2 \
		"$v: folded syscalls: root-first 'run_maps;map_churn;...' lines, malloc's and free's paths apart"
	cmp_ok "$(awk '/(^|;)run_maps;map_churn;/ { if ($NF > m) m = $NF } END { print m + 0 }' "$v.syscalls.folded")" -ge 50 \
		"$v: folded syscalls: one map_churn stack holds all 50 mmap (or all 50 munmap)"
	unlike "$(grep 'map_churn' "$v.syscalls.folded")" '\+0x|[():]| [^0-9]|^$' \
		"$v: folded: bare frame names, one count per line"
	between "$(fsum "$v.syscalls.folded" '(^|;)run_heap;grow_heap(;|$)')" 5 30 \
		"$v: folded syscalls: run_heap;grow_heap stacks hold the heap's brk calls (14 by strace)"

	# text: the top memory-syscall call site is map_churn, with its line, called by run_maps
	row=$(first_row "$v.txt" 'Top call sites by memory syscalls')
	like "$row" "^ *[0-9]+ +[a-z]+ [0-9]+(, [a-z]+ [0-9]+)* +map_churn \\($CS:[0-9]+\\) < run_maps \\($CS:[0-9]+\\)" \
		"$v: text: first memory-syscall call site is 'map_churn (callsites.c:N) < run_maps (callsites.c:N)'"
	[ -n "$row" ] || diag "no row under the heading; the report begins: $(head -15 "$v.txt")"
	like "$row" "map_churn \\($CS:($L_MAP_MALLOC|$L_MAP_FREE)\\) < run_maps \\($CS:$L_RUN_MAPS\\)" \
		"$v: text: the lines are those of the malloc/free call ($L_MAP_MALLOC/$L_MAP_FREE) and of the map_churn call ($L_RUN_MAPS)"
	unlike "$(cat "$v.txt")" '^ *[0-9]+ +run_maps ' \
		"$v: text: no call site starts at run_maps (map_churn, the caller of malloc/free, is never skipped)"
	is "$(grep -Ec '^Top call sites by (memory syscalls|first-touch faults|bytes requested)' "$v.txt")" 3 \
		"$v: text: the three 'Top call sites by' sections (memory syscalls, first-touch faults, bytes requested)"

	# faults: touch_block's 1 MiB block (touched by memset) counts for the malloc
	# that allocated it: its stack is known from the mmap it made
	like "$(rows "$v.txt" 'Top call sites by first-touch faults')" \
		"^ *25[6-9] +allocated here 25[6-9], touched [0-3] +touch_block \\($CS:$L_TOUCH_MALLOC\\) < run_touch \\($CS:$L_RUN_TOUCH\\)" \
		"$v: text: first-touch-fault call site '256+ allocated here touch_block (callsites.c:$L_TOUCH_MALLOC) < run_touch (callsites.c:$L_RUN_TOUCH)'"
	between "$(fsum "$v.faults.folded" '(^|;)run_touch;touch_block(;|$)')" 256 260 \
		"$v: folded faults: run_touch;touch_block stacks hold the 1 MiB block's 256 (+1 in malloc) first touches"
	between "$(fsum "$v.faults.folded" '(^|;)run_maps;map_churn(;|$)')" 3200 3300 \
		"$v: folded faults: run_maps;map_churn stacks hold 50 x 64 page writes (+50 in malloc)"

	# bytes (default --stacks: calls that caused a syscall): map_churn's 50 malloc(262144)
	between "$(fsum "$v.bytes.folded" '(^|;)run_maps;map_churn(;|$)')" $((50 * 262144)) $((51 * 262144)) \
		"$v: folded bytes: map_churn's 50 malloc(262144) = $((50 * 262144)) B"
	is "$(fsum "$v.bytes.folded" '(^|;)run_heap;grow_heap(;|$)')" \
		"$(( 1000 * $(fsum "$v.syscalls.folded" '(^|;)run_heap;grow_heap(;|$)') ))" \
		"$v: folded bytes: grow_heap's syscall-causing calls, 1000 B each, one per brk"
	[ -s "$v.bytes.folded" ] && ! grep -Evq '^[^ ]+( [^ ]+)* [0-9]+$' "$v.bytes.folded"
	ok $? "$v: folded bytes: every line is 'frame;frame;... COUNT'" "$(grep -Ev '^[^ ]+( [^ ]+)* [0-9]+$' "$v.bytes.folded" | head -3)"
}

check_variant fp
check_variant nofp
check_variant stripped --debug-dir "$T/debug"

# the copies reach the bottom of the stack: whole stacks, from the program's _start
for v in fp nofp; do
	cmp_ok "$(grep -cE '^_start;(.*;)?main;run_maps;map_churn;' "$v.syscalls.folded")" -ge 1 \
		"$v: folded: map_churn's stacks are whole (root _start ... main;run_maps;map_churn)"
done

# without --debug-dir the stripped program has neither names nor lines
"$FAULTLINE" report stripped.data >stripped.nodebug.txt 2>stripped.nodebug.err
unlike "$(cat stripped.nodebug.txt)" 'callsites\.c:' "stripped, no --debug-dir: no callsites.c line"
unlike "$(cat stripped.nodebug.txt)" 'map_churn' "stripped, no --debug-dir: no map_churn (its name is in the debug file only)"

# ------------------------------------------------------------ --stacks=all --sample 10
"$FAULTLINE" record -q --stacks=all --sample 10 -o sample.data -- "$T/nofp" >/dev/null 2>sample.rec.err
rc=$?
is $rc 0 "sample: record --stacks=all --sample 10 exits 0"
[ $rc = 0 ] || diag "$(head -5 sample.rec.err)"
"$FAULTLINE" report sample.data >sample.txt 2>sample.rep.err
like "$(cat sample.txt)" '1 in 10' "sample: the text report says 1 in 10 calls were sampled"
"$FAULTLINE" report --format folded --metric bytes sample.data >sample.bytes.folded 2>>sample.rep.err
is $? 0 "sample: report --format folded --metric bytes exits 0"
within_pct "$(fsum sample.bytes.folded '(^|;)run_heap;grow_heap(;|$)')" 2000000 5 \
	"sample: folded bytes for grow_heap, scaled by 10, near 2000 x 1000 B"

# ------------------------------------------------------------ a file without stacks
"$FAULTLINE" record -q -o nostacks.data -- "$T/nofp" >/dev/null 2>nostacks.rec.err
is $? 0 "no stacks: record without --stacks exits 0"
"$FAULTLINE" report --format folded nostacks.data >nostacks.out 2>nostacks.err
is $? 2 "no stacks: report --format folded exits 2"
is "$(wc -l <nostacks.err | tr -d ' ')" 1 "no stacks: one line on stderr"
like "$(cat nostacks.err)" 'stacks' "no stacks: the line says the file has no stacks"
# ------------------------------------------------------------ live: stat and trace
"$FAULTLINE" stat --stacks --json stat.json -- "$T/nofp" >/dev/null 2>stat.err
is $? 0 "stat --stacks exits 0"
like "$(sed -n '/^Top call sites by memory syscalls/,/^$/p' stat.err)" "map_churn \\($CS:($L_MAP_MALLOC|$L_MAP_FREE)\\) < run_maps" \
	"stat --stacks: the text's top syscall site is map_churn with its line"
python3 - stat.json <<'PY'
import json, sys
cs = json.load(open(sys.argv[1]))["extra"]["call_sites"]
top = cs["syscalls"][0]
assert top["site"].startswith("map_churn (") and top["count"] >= 50, top
assert cs["faults"][0]["allocated_here"] >= 1, cs["faults"][0]
PY
ok $? "stat --stacks --json: extra.call_sites.syscalls starts with map_churn (>= 50)"
"$FAULTLINE" trace --stacks -- "$T/fp" >trace.out 2>trace.err
is $? 0 "trace --stacks -- CMD exits 0"
like "$(sed -n '/^Top call sites by first-touch faults/,/^$/p' trace.out)" "touch_block \\($CS:$L_TOUCH_MALLOC\\) < run_touch" \
	"trace --stacks: the summary's fault sites name touch_block's malloc"

# ------------------------------------------------------------ gone, or in another root
# a binary deleted after its recording: its copy in the build-id cache names the frames
mkdir -p "$T/gone"
cp "$T/nofp" "$T/gone/prog"
"$FAULTLINE" record -q --stacks -o gone.data -- "$T/gone/prog" >/dev/null 2>gone.err
is $? 0 "deleted binary: record --stacks exits 0"
rm -f "$T/gone/prog"
"$FAULTLINE" report --format folded --metric syscalls gone.data >gone.folded 2>>gone.err
between "$(fsum gone.folded '(^|;)run_maps;map_churn;')" 100 102 \
	"deleted binary: run_maps;map_churn stacks still hold the 100 mmap+munmap (from the build-id cache)"
like "$("$FAULTLINE" report gone.data 2>/dev/null | grep '^Call sites')" 'read from the build-id cache' \
	"deleted binary: the report says which objects came from the cache"

# a process in a chroot: /prog exists only inside it, its libraries are copies
R=$T/root
mkdir -p "$R"
cp "$T/fp" "$R/prog"
for lib in $(ldd "$T/fp" | grep -o '/[^ ]*'); do
	mkdir -p "$R$(dirname "$lib")"
	cp "$lib" "$R$lib"
done
"$FAULTLINE" record -q --stacks -o chroot.data -- chroot "$R" /prog >/dev/null 2>chroot.err
is $? 0 "chroot: record --stacks -- chroot ROOT /prog exits 0"
"$FAULTLINE" report --format folded --metric syscalls chroot.data >chroot.folded 2>>chroot.err
between "$(fsum chroot.folded '(^|;)run_maps;map_churn;')" 100 102 \
	"chroot: run_maps;map_churn named though /prog is not on the host (read through /proc/PID/map_files)"
"$FAULTLINE" report chroot.data >chroot.txt 2>>chroot.err
like "$(sed -n '/^Top call sites by memory syscalls/,/^$/p' chroot.txt)" "map_churn \\($CS:[0-9]+\\) < run_maps" \
	"chroot: the text names map_churn with its line"

# ------------------------------------------------------------ usage errors
"$FAULTLINE" record --sample 10 -o bad.data -- true >/dev/null 2>bad.err
is $? 2 "record --sample without --stacks=all: usage error (2)"
"$FAULTLINE" stat --stacks -n -- true >/dev/null 2>bad.err
is $? 2 "stat --stacks --no-calls: usage error (2)"
"$FAULTLINE" record --stacks=some -o bad.data -- true >/dev/null 2>bad.err
is $? 2 "record --stacks=some: usage error (2)"
done_testing
