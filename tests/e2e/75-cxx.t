#!/usr/bin/env bash
# C++ programs under every allocator a real program uses: glibc (libstdc++'s
# operator new/delete over libc's malloc), and jemalloc, tcmalloc, mimalloc
# preloaded (their own operator new/delete). faultline probes each entry
# point in the object the process gets it from; its JSON "calls" must equal a
# bpftrace uprobe count over every distinct entry address of those objects
# (one probe per address), and new+new[] bpftrace's count of that family.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin g++ bpftrace nm ldd "$PY3"
ALLOCS="glibc:
jemalloc:/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
tcmalloc:/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
mimalloc:/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"
plan $((2 + 4 * 7 + 5 + 4 + 2))

g++ -O1 -o "$T/cxx" tests/e2e/cxx_alloc.cc 2>"$T/g++.err"
ok $? "the C++ workload builds" "$(head -3 "$T/g++.err")"
g++ -O1 -Wno-mismatched-new-delete -o "$T/mismatch" tests/e2e/mismatch.cc 2>"$T/g++.err"
ok $? "the mismatch program builds" "$(head -3 "$T/g++.err")"

make_bt() { entry_bt "$1" "$T/cxx" "$T/$2.bt"; }

while IFS=: read -r name lib; do
	[ -n "$lib" ] && [ ! -e "$lib" ] && { for i in 1 2 3 4 5; do ok 0 "# SKIP $name: $lib is not installed"; done; continue; }
	n=$(make_bt "$lib" "$name")
	env ${lib:+LD_PRELOAD=$lib} bpftrace -q "$T/$name.bt" -c "$T/cxx" >"$T/$name.bpf" 2>"$T/$name.bpf.err"
	all=$(bpftrace_map "$T/$name.bpf" all); new=$(bpftrace_map "$T/$name.bpf" new)
	env ${lib:+LD_PRELOAD=$lib} "$FAULTLINE" record -q --probes uprobes -o "$T/$name.data" -- "$T/cxx" >/dev/null 2>"$T/$name.err"
	ok $? "$name: record ($n distinct entry addresses)" "$(head -3 "$T/$name.err")"
	"$FAULTLINE" report "$T/$name.data" --format json -o "$T/$name.json"
	read -r sum fnew lost <<<"$($PY3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["calls"]
print(sum(c.values()), c["new"] + c["new[]"], d["lost_events"])' "$T/$name.json")"
	is "$lost" 0 "$name: no event lost"
	is "$sum" "$all" "$name: sum of calls = bpftrace's count over the same $n addresses ($all)"
	is "$fnew" "$new" "$name: new + new[] = bpftrace's count of the operator new family ($new)"
	mm=$($PY3 -c 'import json, sys; print(sum(json.load(open(sys.argv[1]))["extra"]["mismatched_frees"].values()))' "$T/$name.json")
	is "$mm" 0 "$name: the workload frees every block with its own kind: no mismatch"
	# trace -p of the running program counts its new and delete
	env ${lib:+LD_PRELOAD=$lib} "$T/cxx" loop & pid=$!
	sleep 0.5
	"$FAULTLINE" trace -p "$pid" --duration 1 --json >"$T/$name.trace.json" 2>"$T/$name.trace.err"
	wait "$pid"
	read -r tn td <<<"$($PY3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["calls"]
print(c["new"] + c["new[]"], c["delete"] + c["delete[]"] + c["free"])' "$T/$name.trace.json" 2>/dev/null)"
	bash -c "[ '${tn:-0}' -gt 1000 ] && [ '${td:-0}' -gt 1000 ]"
	ok $? "$name: trace -p of the running program counts new ($tn) and delete ($td)" "$(head -3 "$T/$name.trace.err")"
	cmp_ok "$fnew" -ge 2515 "$name: every new of the workload is seen (2515 at least: 1000 map nodes, 1000 strings, 400 in the loop, 100 shared strings, the vector's growth; $fnew)"
done <<<"$ALLOCS"

# the allocators' own APIs, in programs linked against them directly
gcc -O1 -DJEMALLOC -o "$T/nj" tests/e2e/native_api.c /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null &&
	"$FAULTLINE" record -q --probes uprobes -o "$T/nj.data" -- "$T/nj" >/dev/null 2>&1 &&
	"$FAULTLINE" report "$T/nj.data" --format json -o "$T/nj.json"
ok $? "jemalloc linked directly: recorded"
got=$($PY3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["calls"]; print(" ".join("%s=%d" % (k, c[k]) for k in ("mallocx", "rallocx", "xallocx", "sdallocx", "dallocx")))' "$T/nj.json")
is "$got" "mallocx=200 rallocx=100 xallocx=100 sdallocx=100 dallocx=100" "jemalloc's mallocx, rallocx, xallocx, sdallocx, dallocx, each under its own name"
gcc -O1 -DMIMALLOC -o "$T/nm" tests/e2e/native_api.c /usr/lib/x86_64-linux-gnu/libmimalloc.so.2 2>/dev/null &&
	"$FAULTLINE" record -q --probes uprobes -o "$T/nm.data" -- "$T/nm" >/dev/null 2>&1 &&
	"$FAULTLINE" report "$T/nm.data" --format json -o "$T/nm.json"
ok $? "mimalloc linked directly: recorded"
got=$($PY3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["calls"]; print(" ".join("%s=%d" % (k, c[k]) for k in ("mi_zalloc", "mi_mallocn", "mi_malloc_aligned", "mi_reallocn", "mi_free_aligned")))' "$T/nm.json")
is "$got" "mi_zalloc=100 mi_mallocn=100 mi_malloc_aligned=100 mi_reallocn=100 mi_free_aligned=100" "mimalloc's own API, each under its own name (mi_free_size is its sized delete: counted as delete)"

# call sites: the first frame outside every allocator object (libstdc++'s
# operator new included), C++ names demangled in the text, mangled in JSON
g++ -O1 -g -o "$T/cxxg" tests/e2e/cxx_alloc.cc 2>/dev/null &&
	"$FAULTLINE" record -q --probes uprobes --stacks=all -o "$T/st.data" -- "$T/cxxg" >/dev/null 2>&1 &&
	"$FAULTLINE" report "$T/st.data" >"$T/st.txt" && "$FAULTLINE" report "$T/st.data" --format json -o "$T/st.json"
sites=$(sed -n '/Top call sites by bytes/,$p' "$T/st.txt")
bash -c "grep -q 'std::vector<int, std::allocator<int> >::_M_realloc_insert' <<<\"\$1\" && ! grep -q 'operator new\|_Znwm\|libstdc++' <<<\"\$1\"" _ "$sites"
ok $? "call sites by bytes: the vector's growth, demangled; no frame of operator new" "$(head -5 <<<"$sites")"
m=$($PY3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["extra"]["call_sites"]["bytes"]
print(sum(1 for x in s if x.get("mangled", "").startswith("_ZNSt6vectorIiSaIiEE17_M_realloc_insert")))' "$T/st.json")
is "$m" 1 "JSON keeps the mangled site next to the demangled one"

# each kind of mismatched deallocation once, under glibc; none when clean
"$FAULTLINE" record -q --probes uprobes -o "$T/mm.data" -- "$T/mismatch" >/dev/null 2>&1
"$FAULTLINE" report "$T/mm.data" --format json -o "$T/mm.json"
got=$($PY3 -c 'import json, sys; m = json.load(open(sys.argv[1]))["extra"]["mismatched_frees"]; print(" ".join("%s=%d" % kv for kv in sorted(m.items())))' "$T/mm.json")
is "$got" "malloc/delete=1 malloc/delete[]=1 new/delete[]=1 new/free=1 new[]/delete=1 new[]/free=1" "each kind of mismatch is counted exactly once"
n=$("$FAULTLINE" report "$T/mm.data" | grep -c 'MISMATCHED: a block of')
is "$n" 6 "the text report lists the 6 mismatched calls, each with its block"
"$FAULTLINE" report "$T/mm.data" | grep -q 'MISMATCHED: a block of new\[\] freed with delete'
ok $? "... naming the pair (new[] freed with delete)"
"$FAULTLINE" record -q --probes uprobes -o "$T/mc.data" -- "$T/mismatch" clean >/dev/null 2>&1
"$FAULTLINE" report "$T/mc.data" --format json -o "$T/mc.json"
is "$($PY3 -c 'import json, sys; print(sum(json.load(open(sys.argv[1]))["extra"]["mismatched_frees"].values()))' "$T/mc.json")" 0 "the clean program has no mismatch"
# the variant of each call is kept per event
"$FAULTLINE" report "$T/glibc.data" --format jsonl >"$T/g.jsonl"
v=$($PY3 -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
al = [e for e in evs if e["ev"] == "call" and e["func"] == "new" and e.get("variant") == "aligned" and e.get("align") == 64 and e.get("size") == 64]
nt = [e for e in evs if e["ev"] == "call" and e["func"] == "new" and e.get("variant") == "nothrow"]
print(len(al), len(nt))' "$T/g.jsonl")
is "$v" "100 100" "jsonl: 100 aligned news (align 64, size 64) and 100 nothrow news, each with its variant"
done_testing
