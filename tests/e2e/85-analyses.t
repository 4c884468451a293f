#!/usr/bin/env bash
# The heap analyses (issue 16): a program whose leaks, peak, temporaries and
# sizes are known by construction (tests/e2e/analyses.c), the contract keys
# of the JSON "analyses" object, held bytes rising in the fragmentation
# example's timeline, the resident model against the kernel's smaps Rss at
# exit (python3, sqlite3, sort, a threaded program), and heaptrack_print's
# leaks and temporary allocations on the same program.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
plan 23

cc -O1 -g -Wall -Wextra -Werror -o "$T/analyses" tests/e2e/analyses.c || { echo "Bail out! cannot build analyses.c"; exit 1; }
"$FAULTLINE" record -o "$T/an.data" -- "$T/analyses" >/dev/null 2>"$T/rec.err"
ok $? "record the analyses program" "$(cat "$T/rec.err")"
"$FAULTLINE" report "$T/an.data" -F json >"$T/an.json" 2>"$T/rep.err"
ok $? "report --format json" "$(cat "$T/rep.err")"

# check NAME PYTHON-EXPR-over-a (the analyses object): prints the values on failure
check() {
	local out
	out=$($PY3 - "$T/an.json" "$2" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["analyses"]
def site(sec, func, lo):
    return [s for s in a[sec]["sites"] if s["frames"] == [func] and s["size_min"] == lo]
ok = eval(" ".join(sys.argv[2].split()))
print(json.dumps({k: a[k] for k in ("leaks", "peak", "temporary")})[:1500] if not ok else "")
sys.exit(0 if ok else 1)
PY
)
	ok $? "$1" "$out"
}

check "every key of the contract is there" \
  'all(k in a for k in ("leaks","peak","temporary","sizes","timeline","resident")) and
   all(k in a["leaks"] for k in ("blocks","bytes","exact","sites")) and
   all(k in a["peak"] for k in ("ts_ns","seq","live_bytes","sites")) and
   all(k in a["temporary"] for k in ("calls","sites")) and
   all(k in a["timeline"] for k in ("interval_ns","points")) and
   all(k in a["resident"] for k in ("model_bytes","kernel_bytes","by_region")) and
   all(k in p for p in a["timeline"]["points"] for k in ("t_ns","live","heap","mmap","held","resident","syscalls","first_touches"))'
check "leaks: 8 blocks, 125000 bytes" 'a["leaks"]["blocks"] == 8 and a["leaks"]["bytes"] == 125000'
check "leaks: leak_small's 5 x malloc(1000) as one site" \
  '[(s["blocks"], s["bytes"]) for s in site("leaks", "malloc", 512)] == [(5, 5000)]'
check "leaks: leak_large's 3 x calloc(40000) as one site, pages touched" \
  '[(s["blocks"], s["bytes"]) for s in site("leaks", "calloc", 32768)] == [(3, 120000)] and site("leaks", "calloc", 32768)[0]["touched_pages"] >= 3'
check "peak: 125000 + 10 x 200000 live bytes" 'a["peak"]["live_bytes"] == 2125000 and a["peak"]["seq"] > 0'
check "peak: its first contributor is the 10 blocks of 200000" \
  'a["peak"]["sites"][0]["frames"] == ["malloc"] and a["peak"]["sites"][0]["blocks"] == 10 and a["peak"]["sites"][0]["bytes"] == 2000000'
check "temporary: the 1000 x malloc(24) loop" \
  '[s["calls"] for s in site("temporary", "malloc", 16)] == [1000] and a["temporary"]["calls"] >= 1005'
check "sizes: 5 calls of 1 MiB, the first mmapped; the threshold moved past 1 MiB" \
  '[(c["calls"], c["mmapped"]) for c in a["sizes"] if c["min"] == 1048576] == [(5, 1)] and
   any(m["threshold"] > 1048576 for m in a["mmap_threshold"]["moves"])'
check "sizes: the 10 blocks of 200000 each got an mmap and a munmap" \
  '[(c["calls"], c["mmapped"], c["syscalls"]) for c in a["sizes"] if c["min"] == 131072] == [(10, 10, 20)]'

# --stacks=all: the sites are the calls' stacks
"$FAULTLINE" record --stacks=all -o "$T/ans.data" -- "$T/analyses" >/dev/null 2>&1
"$FAULTLINE" report "$T/ans.data" -F json >"$T/ans.json" 2>/dev/null
$PY3 - "$T/ans.json" >"$T/ans.out" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["analyses"]
by = {s["frames"][0].split(" ")[0]: (s["blocks"], s["bytes"]) for s in a["leaks"]["sites"]}
print(a["leaks"]["by"], a["leaks"]["exact"], by)
sys.exit(0 if a["leaks"]["by"] == "stack" and a["leaks"]["exact"] and by.get("leak_small") == (5, 5000)
         and by.get("leak_large") == (3, 120000) and len(by) == 2 else 1)
PY
ok $? "--stacks=all: leaks by call site: leak_small 5 blocks 5000 B, leak_large 3 blocks 120000 B" "$(cat "$T/ans.out")"
$PY3 - "$T/ans.json" >"$T/ans2.out" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["analyses"]
t = a["temporary"]["sites"][0]
p = a["peak"]["sites"][0]
print(t["frames"][:2], t["calls"], p["frames"][:2], p["blocks"])
sys.exit(0 if t["calls"] == 1000 and t["frames"][0].startswith("main (analyses.c:") and p["blocks"] == 10 else 1)
PY
ok $? "--stacks=all: the temporaries' site and the peak's by stack" "$(cat "$T/ans2.out")"

# the text report has the sections
"$FAULTLINE" report "$T/an.data" --calls 0 >"$T/an.txt" 2>&1
grep -q '^Leaks: 8 blocks' "$T/an.txt" && grep -q '^Peak live:' "$T/an.txt" && grep -q '^Temporary allocations' "$T/an.txt" &&
	grep -q '^Requests by size' "$T/an.txt" && grep -q '^Timeline:' "$T/an.txt" && grep -q '^Resident allocator memory' "$T/an.txt"
ok $? "the text report has every analysis" "$(sed -n '/^Leaks/,$p' "$T/an.txt" | head -30)"

# heaptrack_print on the same program: leaks equal; temporaries within one
# (heaptrack's own preload library makes one allocation at startup)
if command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null; then
	(cd "$T" && timeout 120 heaptrack -o "$T/ht" "$T/analyses" >/dev/null 2>&1)
	heaptrack_print "$(ls "$T"/ht*.zst "$T"/ht*.gz 2>/dev/null | head -1)" >"$T/ht.txt" 2>/dev/null
	$PY3 - "$T/an.json" "$T/ht.txt" >"$T/ht.cmp" <<'PY'
import json, re, sys
a = json.load(open(sys.argv[1]))["analyses"]
t = open(sys.argv[2]).read()
leak = re.search(r"total memory leaked: ([\d.]+)([KMG]?)", t)
temp = re.search(r"temporary memory allocations: (\d+)", t)
mul = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}
hl = float(leak.group(1)) * mul[leak.group(2)]
ht = int(temp.group(1))
print("heaptrack leaked %d temporaries %d; faultline leaked %d temporaries %d" % (hl, ht, a["leaks"]["bytes"], a["temporary"]["calls"]))
sys.exit(0 if abs(hl - a["leaks"]["bytes"]) < 10 and abs(ht - a["temporary"]["calls"]) <= 1 else 1)
PY
	ok $? "heaptrack_print: leaks equal, temporaries within one" "$(cat "$T/ht.cmp")"
	diag "$(cat "$T/ht.cmp")"
else
	ok 0 "heaptrack_print: # SKIP no heaptrack"
fi

# the fragmentation example: held-but-not-live bytes rise in the timeline
"$FAULTLINE" record -o "$T/frag.data" -- "$EXAMPLES/fragmentation" >/dev/null 2>&1
"$FAULTLINE" report "$T/frag.data" -F json --interval 0.001 >"$T/frag.json" 2>/dev/null
$PY3 - "$T/frag.json" >"$T/frag.out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["analyses"]["timeline"]["points"]
held = [x["held"] for x in p if x["live"] > 0]
print("%d points; held over the run (where live > 0): min %d max %d" % (len(p), min(held), max(held)))
first = held[0]
sys.exit(0 if len(p) > 10 and max(held) >= first + 50000 else 1)
PY
ok $? "fragmentation: held bytes rise by 50 KB or more in the timeline" "$(cat "$T/frag.out")"
diag "$(cat "$T/frag.out")"

# the resident model against the kernel's smaps Rss at exit, within 1%
resident_check() {
	local name=$1; shift
	"$FAULTLINE" record -o "$T/$name.data" -- "$@" >/dev/null 2>&1 <"${STDIN:-/dev/null}"
	"$FAULTLINE" report "$T/$name.data" -F json >"$T/$name.json" 2>/dev/null
	$PY3 - "$T/$name.json" "$name" >"$T/$name.res" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["analyses"]["resident"]
m, k = r["model_bytes"], r["kernel_bytes"]
print("%s: model %s B, kernel smaps Rss %s B over %d mappings" % (sys.argv[2], m, k, len(r["by_region"])))
sys.exit(0 if k and abs(m - k) <= 0.01 * k else 1)
PY
	ok $? "resident model within 1% of smaps Rss: $name" "$(cat "$T/$name.res")"
	diag "$(cat "$T/$name.res")"
}
resident_check python3 $PY3 -c 'x = [str(i) * 10 for i in range(50000)]'
seq 1 20000 | sed 's/.*/INSERT INTO t VALUES(&, hex(randomblob(40)));/' | { echo 'CREATE TABLE t(a, b);'; cat; echo 'SELECT count(*) FROM t;'; } >"$T/sql"
if command -v sqlite3 >/dev/null; then STDIN=$T/sql resident_check sqlite3 sqlite3 :memory:; else ok 0 "# SKIP no sqlite3"; fi
seq 1 200000 | sort -R >"$T/unsorted"
resident_check sort sort "$T/unsorted"
if [ -x "$EXAMPLES/threads" ]; then resident_check threads "$EXAMPLES/threads"; else ok 0 "# SKIP no threads example"; fi
# held means held: the threaded example's arenas shrink with madvise(MADV_DONTNEED) inside free
"$FAULTLINE" report "$T/threads.data" --calls 1000000 >"$T/threads.txt" 2>&1
grep -qE '^  #[0-9]+ +tid [0-9]+ +free\(0x[0-9a-f]+\).* madvise [0-9.]+ [KM]i?B at 0x[0-9a-f]+ MADV_DONTNEED' "$T/threads.txt"
ok $? "madvise advice printed by name in the call lines" "$(grep -m3 madvise "$T/threads.txt")"
$PY3 - "$T/threads.json" >"$T/held.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["analyses"]["timeline"]["points"][-1]
footprint = p["heap"] + p["mmap"] - p["live"]
print("at the end: heap + mmap - live %d, held %d" % (footprint, p["held"]))
sys.exit(0 if p["held"] < footprint - (1 << 20) else 1)
PY
ok $? "held subtracts what madvise gave back (MiBs, on the threaded example)" "$(cat "$T/held.out")"
diag "$(cat "$T/held.out")"
timeout 60 "$FAULTLINE" trace -- "$EXAMPLES/threads" >"$T/trace.out" 2>/dev/null
grep -qE '^ +tid [0-9]+ +outside any call: +madvise .* MADV_DONTNEED' "$T/trace.out"
ok $? "trace's live lines show memory syscalls made outside any call" "$(grep -m3 'outside any call' "$T/trace.out")"
exit $((TAP_FAILED > 0))
