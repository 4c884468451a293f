#!/usr/bin/env bash
# malloc+free under every allocator, with the probes placed past each entry
# (capture/alloc/placement.c) and mimalloc's arguments read from the
# registers they moved to (an attach cookie): the JSON "calls" equal a
# bpftrace uprobe count over the same distinct entry addresses, the bytes
# asked for are the program's (the same under mimalloc as under glibc), no
# probe of mimalloc is single-stepped; jemalloc's syscalls equal strace's
# (its purging off: MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1) and
# those of its background threads count as allocator_background; glibc's
# frees of its thread caches at thread exit are told apart from unknown
# pointers; a loop of frees is not "nested".
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin gcc bpftrace strace nm ldd "$PY3"
LIBDIR=/usr/lib/x86_64-linux-gnu
ALLOCS="glibc:
jemalloc:$LIBDIR/libjemalloc.so.2
tcmalloc:$LIBDIR/libtcmalloc_minimal.so.4
mimalloc:$LIBDIR/libmimalloc.so.2"
plan $((4 * 3 + 9 + 4 + 2))

CHURN=$PWD/build/examples/churn
PAIRS=20000
base_bytes=""
while IFS=: read -r name lib; do
	[ -n "$lib" ] && [ ! -e "$lib" ] && { for i in 1 2 3; do ok 0 "# SKIP $name: $lib is not installed"; done; continue; }
	n=$(entry_bt "$lib" "$CHURN" "$T/$name.bt")
	env ${lib:+LD_PRELOAD=$lib} bpftrace -q "$T/$name.bt" -c "$CHURN $PAIRS hold" >"$T/$name.bpf" 2>"$T/$name.bpf.err"
	all=$(bpftrace_map "$T/$name.bpf" all)
	env ${lib:+LD_PRELOAD=$lib} "$FAULTLINE" stat -q --probes uprobes -j "$T/$name.json" -- "$CHURN" "$PAIRS" hold 2>"$T/$name.err"
	read -r sum bytes nested lost <<<"$($PY3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(d["calls"].values()), d["bytes"]["requested"], d["extra"]["nested_calls"], d["lost_events"])' "$T/$name.json" 2>/dev/null)"
	bash -c "[ '$lost' = 0 ] && [ '$sum' = '$all' ]"
	ok $? "$name: sum of calls ($sum) = bpftrace's count over the same $n addresses ($all), nothing lost" \
		"$(head -3 "$T/$name.err" "$T/$name.bpf.err")"
	is "$nested" 0 "$name: the frees of one loop are not made inside one another"
	# glibc and mimalloc make no call of their own here: the program's bytes, to the byte
	case $name in
	glibc) base_bytes=$bytes; ok 0 "glibc: $bytes bytes asked for" ;;
	mimalloc) is "$bytes" "$base_bytes" "mimalloc: the sizes read from the registers its malloc moved them to are the program's" ;;
	*) cmp_ok "$bytes" -ge "${base_bytes:-0}" "$name: at least the program's bytes asked for ($bytes)" ;;
	esac
done <<<"$ALLOCS"

# no probe of mimalloc single-stepped (13 were before the attach cookies)
LD_PRELOAD=$LIBDIR/libmimalloc.so.2 "$FAULTLINE" stat -v --probes uprobes -- "$CHURN" 10 >/dev/null 2>"$T/mi.v"
if grep -q 'single-steps' "$T/mi.v"; then grep 'single-steps' "$T/mi.v" | grep -q 'libmimalloc'; r=$((!$?)); else r=0; fi
ok "$r" "mimalloc: -v names no single-stepped probe in libmimalloc.so.2" "$(grep single "$T/mi.v")"
# -p warns about the probes that stay single-stepped (glibc's reallocarray, when it is)
"$CHURN" 200000000 & pid=$!
sleep 0.3
"$FAULTLINE" stat -p "$pid" --duration 0.5 >/dev/null 2>"$T/p.err"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
if "$FAULTLINE" stat -v --probes uprobes -- "$CHURN" 10 2>&1 | grep -q 'single-steps'; then
	grep -q 'single-steps' "$T/p.err"
	ok $? "stat -p warns which probes are single-stepped" "$(head -3 "$T/p.err")"
else
	ok 0 "# SKIP no probe of glibc single-stepped here"
fi

# jemalloc's syscalls, its purging off, equal strace's
JE=$LIBDIR/libjemalloc.so.2
if [ -e "$JE" ]; then
	export MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1
	LD_PRELOAD=$JE setarch -R strace -f -c -o "$T/je.strace" -e trace=brk,mmap,munmap,mremap,mprotect,madvise \
		-- "$CHURN" "$PAIRS" hold >/dev/null 2>"$T/je.strace.err"
	LD_PRELOAD=$JE setarch -R "$FAULTLINE" stat -q --probes uprobes -j "$T/je.json" -- "$CHURN" "$PAIRS" hold 2>/dev/null
	unset MALLOC_CONF
	s=$(strace_counts "$T/je.strace")
	f=$($PY3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["syscalls"]; print(" ".join(str(c[k]) for k in sys.argv[2:]))' \
		"$T/je.json" $SYSCALLS)
	is "$f" "$s" "jemalloc (no purging): syscalls per kind ($SYSCALLS) = strace -f -c's"
else
	ok 0 "# SKIP jemalloc not installed"
fi

# jemalloc's background threads purge on their own: allocator_background
cat >"$T/bg.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
void *volatile sink;
int main(void)
{
	for (int r = 0; r < 5; r++) {
		void *p[256];
		for (int i = 0; i < 256; i++) {
			p[i] = malloc(64 << 10);
			memset(p[i], 1, 64 << 10);
			sink = p[i];
		}
		for (int i = 0; i < 256; i++)
			free(p[i]);
		usleep(300000);
	}
	return 0;
}
EOF
gcc -O1 -o "$T/bg" "$T/bg.c"
MALLOC_CONF=background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:100 LD_PRELOAD=$JE \
	"$FAULTLINE" stat -q --probes uprobes -j "$T/bg.json" -- "$T/bg" 2>"$T/bg.err"
read -r bg none <<<"$($PY3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["syscalls_by_caller"]
print(c["allocator_background"]["madvise"], c["none"]["madvise"])' "$T/bg.json" 2>/dev/null)"
bash -c "[ '${bg:-0}' -gt 0 ] && [ '${none:-1}' = 0 ]"
ok $? "jemalloc background_thread: its purges ($bg madvise) count as allocator_background, none as outside ($none)" \
	"$(head -3 "$T/bg.err")"
MALLOC_CONF=background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:100 LD_PRELOAD=$JE \
	"$FAULTLINE" stat --probes uprobes -- "$T/bg" 2>&1 >/dev/null | grep -q 'alloc-bg'
ok $? "the text report has an alloc-bg column"

# glibc frees its per-thread caches at thread exit: not unknown pointers
cat >"$T/thr.c" <<'EOF'
#include <pthread.h>
#include <stdlib.h>
void *volatile sink;
static void *run(void *a)
{
	for (int i = 0; i < 100; i++) {
		void *p = malloc(16 + (i % 7) * 16);
		sink = p;
		free(p);
	}
	return a;
}
int main(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], 0, run, 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], 0);
	return 0;
}
EOF
gcc -O1 -pthread -o "$T/thr" "$T/thr.c"
"$FAULTLINE" stat -q --probes uprobes -j "$T/thr.json" -- "$T/thr" 2>/dev/null
read -r unk tc <<<"$($PY3 -c '
import json, sys
x = json.load(open(sys.argv[1]))["extra"]
print(x["frees_unknown"], x["frees_thread_cache"])' "$T/thr.json" 2>/dev/null)"
is "$unk" 0 "4 threads exiting: no free of an unknown pointer"
# each thread's tcache: 7 bins of one block each (sizes 16..112), then the cache itself
is "$tc" 32 "their 4 x (7 cached blocks + the cache) frees at exit counted as frees_thread_cache"
"$FAULTLINE" stat --probes uprobes -- "$T/thr" 2>&1 >/dev/null | grep -q "at thread exit gave back the allocator's per-thread cache"
ok $? "the text report says so"

# static and custom builds, found the same way: a statically linked C++
# program (its own symbol table), an executable with its own operator new
g++ -O1 -static -o "$T/cxx_static" tests/e2e/cxx_alloc.cc 2>/dev/null
g++ -O1 -o "$T/own_new" tests/e2e/own_new.cc
for prog in cxx_static own_new; do
	n=$(entry_bt "" "$T/$prog" "$T/$prog.bt")
	bpftrace -q "$T/$prog.bt" -c "$T/$prog" >"$T/$prog.bpf" 2>"$T/$prog.bpf.err"
	all=$(bpftrace_map "$T/$prog.bpf" all); new=$(bpftrace_map "$T/$prog.bpf" new)
	"$FAULTLINE" stat -q -j "$T/$prog.json" -- "$T/$prog" >/dev/null 2>"$T/$prog.err"
	read -r sum fnew <<<"$($PY3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["calls"]
print(sum(c.values()), c["new"] + c["new[]"])' "$T/$prog.json" 2>/dev/null)"
	bash -c "[ '$sum' = '$all' ] && [ '$all' -gt 0 ]"
	ok $? "$prog: sum of calls ($sum) = bpftrace's count over its $n entry addresses ($all)" "$(head -3 "$T/$prog.err" "$T/$prog.bpf.err")"
	bash -c "[ '$fnew' = '$new' ] && [ '$new' -ge 1000 ]"
	ok $? "$prog: new + new[] ($fnew) = bpftrace's count of the operator new family ($new)"
done

# a je_-prefixed jemalloc (je_malloc beside libc's malloc): its entry points probed, counted under
# the same names, the libc calls they make nested
gcc -O1 -shared -fPIC -DLIB -o "$T/libjep.so" tests/e2e/je_prefix.c &&
	gcc -O1 -o "$T/jep" tests/e2e/je_prefix.c "$T/libjep.so" -Wl,-rpath,"$T"
n=$(entry_bt "" "$T/jep" "$T/jep.bt")
bpftrace -q "$T/jep.bt" -c "$T/jep" >"$T/jep.bpf" 2>"$T/jep.bpf.err"
all=$(bpftrace_map "$T/jep.bpf" all)
"$FAULTLINE" stat -q -j "$T/jep.json" -- "$T/jep" 2>"$T/jep.err"
read -r sum nested <<<"$($PY3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(d["calls"].values()), d["extra"]["nested_calls"])' "$T/jep.json" 2>/dev/null)"
bash -c "[ '$sum' = '$all' ] && [ '$all' = 1000 ]"
ok $? "je_ prefix: sum of calls ($sum) = bpftrace's count over $n addresses ($all)" "$(head -3 "$T/jep.err" "$T/jep.bpf.err")"
is "$nested" 500 "je_ prefix: libc's malloc, calloc, realloc, free inside je_malloc ... are nested (500)"

# the kernel's [uprobes] page (single-step slots, return trampoline) is the tracer's, not the program's
"$FAULTLINE" stat -q --probes uprobes -j "$T/tr.json" -- "$CHURN" 1000 2>/dev/null
read -r tr sum total <<<"$($PY3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["faults"]
print(f["tracer"], f["allocation"] + f["allocator"] + f["other"] + f["runtime"] + f["tracer"], f["total"])' "$T/tr.json" 2>/dev/null)"
bash -c "[ '${tr:-0}' -ge 1 ] && [ '$sum' = '$total' ]"
ok $? "faults on the [uprobes] page owned by tracer ($tr), the owners summing to the total ($sum = $total)"
done_testing
