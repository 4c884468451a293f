#!/usr/bin/env bash
# The jsonl event stream is consistent with itself and with the JSON summary,
# on real programs: a python3 one-liner and the 4-thread example.
cd "$(dirname "$0")/../.." || exit 1
# userspace runs sanitized here: bad input and every report path under ASan/UBSan
FAULTLINE=${FAULTLINE:-build/faultline-asan}
. tests/e2e/lib.sh
need_root
need_bin "$PY3"
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
[ -x "$EXAMPLES/threads" ] || skip_all "no $EXAMPLES/threads (make build/examples/threads)"

CHECKS=21
PROGS=(python threads)
plan $(( ${#PROGS[@]} * (CHECKS + 3) + 6 ))
cd "$T" || exit 1

check() { # check NAME: print "ok|not ok<TAB>desc<TAB>diag" lines
	$PY3 - "$1.jsonl" "$1.json" <<'EOF'
import json, sys
from collections import Counter
res = []
def t(cond, desc, got="", exp=""):
    res.append((bool(cond), desc, "" if cond else "expected %s got %s" % (exp, got)))

evs, bad = [], 0
for line in open(sys.argv[1]):
    try:
        evs.append(json.loads(line))
    except ValueError:
        bad += 1
S = json.load(open(sys.argv[2]))
t(bad == 0 and evs, "every line is a JSON object", "%d bad lines of %d" % (bad, len(evs) + bad), "0 bad")
kinds = Counter(e.get("ev") for e in evs)
t(set(kinds) <= {"call", "syscall", "fault", "proc"}, "ev is call, syscall, fault or proc", dict(kinds), "only those")
seqs = [e["seq"] for e in evs]
t(len(set(seqs)) == len(seqs), "seq numbers are unique", len(seqs) - len(set(seqs)), "0 duplicates")
t(all(a < b for a, b in zip(seqs, seqs[1:])), "events come out in seq order",
  next(("%d then %d" % (a, b) for a, b in zip(seqs, seqs[1:]) if a >= b), ""), "increasing")
calls = {e["seq"]: e for e in evs if e["ev"] == "call"}

# every syscall/fault "call" is an existing call of the same thread
badref = [e for e in evs if e["ev"] in ("syscall", "fault") and e["call"] is not None
          and (e["call"] not in calls or calls[e["call"]]["tid"] != e["tid"])]
t(not badref, "every syscall/fault call refers to a call seq of the same tid",
  badref[:2], "none dangling")
t(all(e["call"] is None or e["call"] < e["seq"] for e in evs if e["ev"] in ("syscall", "fault")),
  "a caused event comes after its call's seq", "", "")
allocs = ("malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
          "memalign", "valloc", "pvalloc")
faults = [e for e in evs if e["ev"] == "fault"]
badalloc = [f for f in faults if f["alloc"] is not None
            and (f["alloc"] not in calls or calls[f["alloc"]]["func"] not in allocs)]
t(not badalloc, "every fault alloc refers to an existing allocating call", badalloc[:2], "none dangling")
t(all((f["owner"] == "allocation") == (f["alloc"] is not None) for f in faults),
  "owner is allocation exactly when alloc is set",
  [f for f in faults if (f["owner"] == "allocation") != (f["alloc"] is not None)][:2], "none")

# counts against the summary
cc = Counter(e["func"] for e in calls.values())
t(all(cc.get(k, 0) == v for k, v in S["calls"].items()) and set(cc) <= set(S["calls"]),
  "call events per func equal the summary's calls", dict(cc), S["calls"])
sysevs = [e for e in evs if e["ev"] == "syscall"]
sc = Counter(e["name"] for e in sysevs)
t(all(sc.get(k, 0) == v for k, v in S["syscalls"].items()) and set(sc) <= set(S["syscalls"]),
  "syscall events per name equal the summary's syscalls", dict(sc), S["syscalls"])
by = {}
for e in sysevs:
    f = calls[e["call"]]["func"] if e["call"] in calls else "none"
    by.setdefault(f, Counter())[e["name"]] += 1
want = {f: {k: v for k, v in d.items() if v} for f, d in S["syscalls_by_caller"].items()}
want = {f: d for f, d in want.items() if d}
got = {f: dict(d) for f, d in by.items()}
t(got == want, "syscall events by caller equal syscalls_by_caller", got, want)
t(len(faults) == S["faults"]["total"], "fault events equal faults.total", len(faults), S["faults"]["total"])
mc = Counter(f["mode"] for f in faults)
t(mc.get("user", 0) == S["faults"]["user_mode"] and mc.get("kernel", 0) == S["faults"]["kernel_mode"],
  "fault modes equal user_mode/kernel_mode", dict(mc), (S["faults"]["user_mode"], S["faults"]["kernel_mode"]))
oc = Counter(f["owner"] for f in faults)
t(all(oc.get(k, 0) == S["faults"][k] for k in ("allocation", "allocator", "other", "runtime", "tracer")),
  "fault owners equal allocation/allocator/other/runtime/tracer", dict(oc),
  {k: S["faults"][k] for k in ("allocation", "allocator", "other", "runtime", "tracer")})
ft = sum(1 for f in faults if f["first_touch"])
t(ft == S["extra"].get("first_touch_faults", ft), "first_touch faults equal extra.first_touch_faults",
  ft, S["extra"].get("first_touch_faults"))
pid = S["target"]["pid"]
t(all(e["pid"] == pid for e in evs), "every event is of the target pid (no -f)",
  Counter(e["pid"] for e in evs), pid)
t(all(isinstance(c.get("size"), int) and c.get("ptr", "").startswith("0x")
      for c in calls.values() if c["func"] in ("malloc", "calloc", "realloc")),
  "malloc/calloc/realloc events carry size and ptr", "", "")
# record's default call time resolution: 1 ms for the calls, exact for the kernel's events
t(S.get("call_time_res_ns") == 1000000, "the summary says the calls' times are to 1 ms",
  S.get("call_time_res_ns"), 1000000)
kern = [e["ts_ns"] for e in evs if e["ev"] in ("syscall", "fault")]
t(all(c["ts_ns"] % 1000000 == 0 for c in calls.values()) and any(x % 1000000 for x in kern),
  "calls' ts_ns are multiples of 1 ms, syscalls' and faults' are not all",
  [c["ts_ns"] for c in calls.values() if c["ts_ns"] % 1000000][:3], "calls rounded, kernel exact")
procs = Counter(e.get("kind") for e in evs if e["ev"] == "proc")
t(procs.get("exec", 0) >= 1, "a proc exec event is present", dict(procs), "exec >= 1")
t(procs.get("exit", 0) >= 1, "a proc exit event is present", dict(procs), "exit >= 1")
for ok, desc, dg in res:
    print("%s\t%s\t%s" % ("ok" if ok else "not ok", desc, dg))
EOF
}

for name in "${PROGS[@]}"; do
	case $name in
	python) cmd=("$PY3" -c 'd=[{"k%d"%i: list(range(i%40))} for i in range(30000)]; del d; s=[bytearray(300000) for _ in range(5)]; print(len(s))') ;;
	threads) cmd=("$EXAMPLES/threads") ;;
	esac
	"$FAULTLINE" record -q -o $name.data -- "${cmd[@]}" >/dev/null 2>$name.err
	is $? 0 "$name: record exits 0"
	"$FAULTLINE" report $name.data --format jsonl -o $name.jsonl 2>>$name.err
	is $? 0 "$name: report --format jsonl exits 0"
	"$FAULTLINE" report $name.data --format json -o $name.json 2>>$name.err
	is $? 0 "$name: report --format json exits 0"
	n=0
	while IFS=$'\t' read -r st desc dg; do
		n=$((n + 1))
		if [ "$st" = ok ]; then ok 0 "$name: $desc"; else ok 1 "$name: $desc" "$dg"; fi
	done < <(check $name)
	while [ $n -lt $CHECKS ]; do n=$((n + 1)); ok 1 "$name: check $n did not run"; done
done

# --call-times exact: the same counts as the default, nanosecond call times
"$FAULTLINE" record -q -o d.data -- "$EXAMPLES/seed_claims" >/dev/null 2>d.err
"$FAULTLINE" record -q --call-times=exact -o x.data -- "$EXAMPLES/seed_claims" >/dev/null 2>>d.err
is $? 0 "record --call-times=exact exits 0"
"$FAULTLINE" report d.data --format json -o d.json 2>>d.err && "$FAULTLINE" report x.data --format json -o x.json 2>>d.err &&
	"$FAULTLINE" report x.data --format jsonl -o x.jsonl 2>>d.err
is $? 0 "reports of both exit 0"
is "$($PY3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); print(all(a[k]==b[k] for k in ("calls","syscalls","syscalls_by_caller")))' d.json x.json)" True \
	"calls, syscalls and syscalls by caller equal with the calls' times exact and to 1 ms"
is "$($PY3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("call_time_res_ns" in d)' x.json)" False \
	"exact: the summary has no call_time_res_ns"
is "$($PY3 -c 'import json,sys; print(any(e["ts_ns"] % 1000 for e in map(json.loads, open(sys.argv[1])) if e["ev"] == "call"))' x.jsonl)" True \
	"exact: calls' ts_ns keep their nanoseconds"
"$FAULTLINE" record --call-times=3min -o bad.data -- true >/dev/null 2>bad.err
rc=$?
is "$rc:$(wc -l <bad.err):$([ -e bad.data ] && echo file)" "2:1:" "--call-times=3min: exit 2, one line, no file"
done_testing
