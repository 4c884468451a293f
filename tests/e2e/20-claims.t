#!/usr/bin/env bash
# The seed article's claims (/work/shared/seed/CLAIMS.md rows 1-7, 9; 8 in
# part) as faultline shows them on build/examples/seed_claims, fragmentation
# and mmap_threshold (what glibc 2.36 does: examples/README.md).
cd "$(dirname "$0")/../.." || exit 1
# userspace runs sanitized here: bad input and every report path under ASan/UBSan
FAULTLINE=${FAULTLINE:-build/faultline-asan}
. tests/e2e/lib.sh
need_root
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
for e in seed_claims mmap_threshold fragmentation; do
	[ -x "$EXAMPLES/$e" ] || skip_all "no $EXAMPLES/$e (make build/examples/$e)"
done
plan 67

# facts FILE.jsonl MODE: "key value" lines about the seed_claims steps
facts() {
	$PY3 - "$1" "$2" <<'EOF'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
mode = sys.argv[2]
calls = [e for e in evs if e["ev"] == "call"]
sys_by_call, faults_by_alloc = {}, {}
for e in evs:
    if e["ev"] == "syscall" and e["call"] is not None:
        sys_by_call.setdefault(e["call"], []).append(e)
    if e["ev"] == "fault" and e["alloc"] is not None:
        faults_by_alloc.setdefault(e["alloc"], []).append(e)
H = lambda s: int(s, 16)
out = {}
def put(k, v): out[k] = v

def mallocs(size):
    return [c for c in calls if c["func"] == "malloc" and c["size"] == size]
def free_of(m):
    for c in calls:
        if c["func"] == "free" and c["seq"] > m["seq"] and c.get("ptr") == m["ptr"]:
            return c
    return None
def sysnames(c):
    return ",".join(s["name"] for s in sys_by_call.get(c["seq"], [])) or "none" if c else "nocall"

brk0 = None
m1 = mallocs(1)
if m1:
    m1 = m1[0]
    sc = sys_by_call.get(m1["seq"], [])
    put("m1.syscalls", sysnames(m1))
    brks = [s for s in sc if s["name"] == "brk"]
    if len(brks) == 2:
        brk0 = H(brks[0]["ret"])
        put("m1.brk0_arg", brks[0]["args"][0])
        put("m1.heap_growth", hex(H(brks[1]["ret"]) - brk0))
        put("m1.ptr_offset", hex(H(m1["ptr"]) - brk0))
    put("f1.syscalls", sysnames(free_of(m1)))

big = mallocs(131072)
put("n131072", len(big))
if big:
    a = big[0]
    sc = sys_by_call.get(a["seq"], [])
    put("mA.syscalls", sysnames(a))
    if len(sc) == 1 and sc[0]["name"] == "mmap":
        mm = sc[0]
        put("mA.mmap_len", H(mm["args"][1]))
        put("mA.mmap_prot_flags", "%s,%s" % (mm["args"][2], mm["args"][3]))
        put("mA.ptr_offset", hex(H(a["ptr"]) - H(mm["ret"])))
        put("mA.tid_match", int(mm["tid"] == a["tid"]))
    fl = faults_by_alloc.get(a["seq"], [])
    put("mA.faults", len(fl))
    put("mA.faults_first_touch_alloc_owned", sum(1 for f in fl if f["first_touch"] and f["owner"] == "allocation"))
    fa = free_of(a)
    put("fA.syscalls", sysnames(fa))
    if fa and sys_by_call.get(fa["seq"]):
        mu = sys_by_call[fa["seq"]][0]
        put("fA.munmap_len", H(mu["args"][1]))
        put("fA.munmap_same_addr", int(len(sc) == 1 and mu["args"][0] == sc[0]["ret"]))
if len(big) > 1:
    b = big[1]
    sc = sys_by_call.get(b["seq"], [])
    put("mB.syscalls", sysnames(b))
    if brk0 is not None and len(sc) == 1 and sc[0]["name"] == "brk":
        put("mB.in_heap", int(brk0 <= H(b["ptr"]) < H(sc[0]["ret"])))
        prev = max(H(s["ret"]) for s in sys_by_call[m1["seq"]] if s["name"] == "brk")
        put("mB.heap_growth", hex(H(sc[0]["ret"]) - prev))
    put("fB.syscalls", sysnames(free_of(b)))
c = mallocs(204800)
if c:
    c = c[0]
    put("mC.syscalls", sysnames(c))
    put("fC.syscalls", sysnames(free_of(c)))
    sc = sys_by_call.get(c["seq"], [])
    if sc and sc[0]["name"] == "mmap":
        put("mC.mmap_len", H(sc[0]["args"][1]))
d = mallocs(1048576)
if d:
    d = d[0]
    sc = sys_by_call.get(d["seq"], [])
    put("mD.syscalls", sysnames(d))
    if len(sc) == 1:
        put("mD.mmap_len", H(sc[0]["args"][1]))
        put("mD.ptr_offset", hex(H(d["ptr"]) - H(sc[0]["ret"])))
    fl = faults_by_alloc.get(d["seq"], [])
    put("mD.kernel_first_touch", sum(1 for f in fl if f["mode"] == "kernel" and f["first_touch"] and f["owner"] == "allocation"))
    put("mD.user_faults_outside_call", sum(1 for f in fl if f["mode"] == "user" and f["call"] is None))
    put("fD.syscalls", sysnames(free_of(d)))
frees = [c for c in calls if c["func"] == "free"]
put("frees", len(frees))
put("frees_without_syscall", sum(1 for f in frees if f["seq"] not in sys_by_call))
for k, v in out.items():
    print(k, v)
EOF
}

declare -A F
load_facts() {
	F=()
	local k v
	while read -r k v; do F[$k]=$v; done < <(facts "$1" "$2")
}

cd "$T" || exit 1

# ----------------------------------------------------------- seed_claims
"$FAULTLINE" record -q ${CLAIMS_PROBES:+--probes $CLAIMS_PROBES} -o sc.data -- "$EXAMPLES/seed_claims" >/dev/null 2>rec.err
is $? 0 "record seed_claims exits 0"
"$FAULTLINE" report sc.data --format jsonl -o sc.jsonl 2>rep.err
is $? 0 "report --format jsonl exits 0"
"$FAULTLINE" report sc.data --format json -o sc.json 2>>rep.err
is $? 0 "report --format json exits 0"
"$FAULTLINE" report sc.data >sc.txt 2>>rep.err
is $? 0 "report (text) exits 0"
load_facts sc.jsonl default

# claims 1, 2, 3: malloc(1) grows the heap by brk, 132 KiB; pointer = heap start + 0x2a0
is "${F[m1.syscalls]}" "brk,brk" "claim 1: first malloc(1) caused brk(NULL) and brk"
is "${F[m1.brk0_arg]}" "0x0" "claim 1: the first brk is brk(NULL)"
is "${F[m1.heap_growth]}" "0x21000" "claim 2: malloc(1) grows the heap by 0x21000 (132 KiB)"
is "${F[m1.ptr_offset]}" "0x2a0" "claim 3: first heap pointer = heap start + 0x2a0 (tcache struct first)"
# claim 4: its free makes no syscall
is "${F[f1.syscalls]}" "none" "claim 4: free of the 1-byte block makes no syscall"
# claims 1, 3, 5: malloc(128 KiB) -> mmap(135168); ptr = map + 0x10; free -> munmap
is "${F[n131072]}" 2 "two malloc(131072) calls recorded"
is "${F[mA.syscalls]}" "mmap" "claim 1: first malloc(128 KiB) caused exactly one mmap"
is "${F[mA.mmap_len]}" 135168 "claim 1: that mmap is 135168 bytes"
is "${F[mA.mmap_prot_flags]}" "0x3,0x22" "claim 1: PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS"
is "${F[mA.tid_match]}" 1 "the mmap is on the calling thread"
is "${F[mA.ptr_offset]}" "0x10" "claim 3: pointer = map start + 0x10"
is "${F[fA.syscalls]}" "munmap" "claim 5: its free caused a munmap"
is "${F[fA.munmap_len]}" 135168 "claim 5: munmap of 135168 bytes"
is "${F[fA.munmap_same_addr]}" 1 "claim 5: munmap of the mapped address"
# claim 7: first-touch faults on the 128 KiB mmap'd block (32 of its 33 pages)
within "${F[mA.faults]}" 32 1 "claim 7: ~32 faults attributed to the mmap'd 128 KiB block"
within "${F[mA.faults_first_touch_alloc_owned]}" 32 1 "claim 7: they are first-touch faults owned by the allocation"
# claim 6: dynamic threshold: 2nd malloc(128 KiB) from brk, malloc(200 KiB) no syscall
is "${F[mB.syscalls]}" "brk" "claim 6: second malloc(128 KiB) grows the heap with brk"
is "${F[mB.heap_growth]}" "0x21000" "claim 6: by 0x21000"
is "${F[mB.in_heap]}" 1 "claim 6: its pointer is in the brk heap"
is "${F[fB.syscalls]}" "none" "claim 4: its free makes no syscall"
is "${F[mC.syscalls]}" "none" "claim 6: malloc(200 KiB) makes no syscall"
is "${F[fC.syscalls]}" "none" "claim 4: its free makes no syscall"
cmp_ok "${F[frees_without_syscall]}" -ge 3 "claim 4: some frees have no syscall"
# claim 7: read() into a fresh 1 MiB block: 256 kernel-mode first-touch faults
is "${F[mD.syscalls]}" "mmap" "malloc(1 MiB) caused one mmap"
is "${F[mD.mmap_len]}" 1052672 "of 1052672 bytes"
is "${F[mD.ptr_offset]}" "0x10" "pointer = map start + 0x10"
is "${F[mD.kernel_first_touch]}" 256 "claim 7: read() gives 256 kernel-mode first-touch faults owned by the 1 MiB block"
is "${F[mD.user_faults_outside_call]}" 0 "claim 7: no user-mode fault on the 1 MiB block outside malloc"
is "${F[fD.syscalls]}" "munmap" "claim 5: free of the 1 MiB block caused a munmap"

# the JSON summary agrees
read -r j_malloc j_free j_mb j_mm j_fu j_kern j_alloc < <($PY3 -c '
import json, sys; d = json.load(open(sys.argv[1])); b = d["syscalls_by_caller"]
print(d["calls"]["malloc"], d["calls"]["free"], b["malloc"]["brk"], b["malloc"]["mmap"],
      b["free"]["munmap"], d["faults"]["kernel_mode"], d["faults"]["allocation"])' sc.json)
is "$j_malloc" 6 "json: 6 malloc calls"
is "$j_free" 6 "json: 6 free calls"
is "$j_mb" 3 "json: malloc caused 3 brk (brk(NULL), +132 KiB, +132 KiB)"
is "$j_mm" 2 "json: malloc caused 2 mmap"
is "$j_fu" 2 "json: free caused 2 munmap"
cmp_ok "$j_kern" -ge 256 "json: >= 256 kernel-mode faults"
cmp_ok "$j_alloc" -ge 288 "json: >= 256+32 faults owned by allocations"

# the text report shows each row
txt=$(cat sc.txt)
like "$txt" 'malloc\(1\) = 0x[0-9a-f]+ +brk\(NULL\) +brk \+132 KiB' "text: malloc(1) line shows brk(NULL) and brk +132 KiB"
like "$txt" 'pointer = heap start \+ 0x2a0' "text: pointer = heap start + 0x2a0"
like "$txt" 'malloc\(131072\) = 0x[0-9a-f]+ +mmap 132 KiB \(135168 B\)' "text: malloc(131072) line shows mmap 132 KiB (135168 B)"
like "$txt" 'pointer = map start \+ 0x10' "text: pointer = map start + 0x10"
like "$txt" 'free\(0x[0-9a-f]+\) \[block of #[0-9]+, 131072 B\] +munmap 132 KiB' "text: free of the 128 KiB block shows munmap"
like "$txt" 'malloc\(131072\) = 0x[0-9a-f]+ +brk \+132 KiB' "text: second malloc(131072) shows brk +132 KiB"
like "$txt" 'malloc\(204800\) = 0x[0-9a-f]+ +no syscall' "text: malloc(204800) shows no syscall"
like "$txt" 'no syscall: memory kept by the allocator' "text: a free kept by the allocator"
like "$txt" 'first-touch faults on this block: 3[123] ' "text: ~32 first-touch faults on the 128 KiB block"
like "$txt" 'first-touch faults on this block: 257 .*256 in kernel mode' "text: 256 kernel-mode faults on the 1 MiB block"
like "$txt" 'malloc\(1048576\) = 0x[0-9a-f]+ +mmap 1.0 MiB \(1052672 B\)' "text: malloc(1 MiB) shows its mmap"

# ----------------------------------------------------------- seed_claims bare
# (claim 1 holds only when the heap top is short: README "bare")
"$FAULTLINE" record -q ${CLAIMS_PROBES:+--probes $CLAIMS_PROBES} -o bare.data -- "$EXAMPLES/seed_claims" bare >/dev/null 2>>rec.err
is $? 0 "record seed_claims bare exits 0"
"$FAULTLINE" report bare.data --format jsonl -o bare.jsonl 2>>rep.err
load_facts bare.jsonl bare
is "${F[mA.syscalls]}" "none" "bare: first malloc(128 KiB) served from the heap top, no syscall"
is "${F[mC.syscalls]}" "mmap" "bare: malloc(200 KiB) is the first mmap"
is "${F[mC.mmap_len]}" 208896 "bare: mmap of 208896 bytes"
is "${F[fC.syscalls]}" "munmap" "bare: its free caused a munmap"

# ----------------------------------------------------------- claim 8
"$FAULTLINE" record -q ${CLAIMS_PROBES:+--probes $CLAIMS_PROBES} -o frag.data -- "$EXAMPLES/fragmentation" >/dev/null 2>>rec.err
is $? 0 "record fragmentation exits 0"
"$FAULTLINE" report frag.data --format json -o frag.json 2>>rep.err
is "$(json_get frag.json bytes.peak_heap)" 299008 "claim 8: peak heap 292 KiB"
is "$(json_get frag.json bytes.peak_live)" 122880 "claim 8: peak live 120 KiB (held but partly unusable)"

# ----------------------------------------------------------- claim 9
N=300
for m in default zero; do
	"$FAULTLINE" record -q -o "mt_$m.data" -- "$EXAMPLES/mmap_threshold" "$m" "$N" >/dev/null 2>>rec.err
	is $? 0 "record mmap_threshold $m $N exits 0"
	"$FAULTLINE" report "mt_$m.data" --format json -o "mt_$m.json" 2>>rep.err
done
zm=$(json_get mt_zero.json syscalls_by_caller.malloc.mmap)
zu=$(json_get mt_zero.json syscalls_by_caller.free.munmap)
dm=$(json_get mt_default.json syscalls_by_caller.malloc.mmap)
du=$(json_get mt_default.json syscalls_by_caller.free.munmap)
za=$(json_get mt_zero.json faults.allocation)
da=$(json_get mt_default.json faults.allocation)
cmp_ok "$zm" -ge $N "claim 9: threshold 0: >= $N mmap attributed to malloc"
is "$zu" $N "claim 9: threshold 0: $N munmap attributed to free"
is "$dm" 0 "claim 9: default threshold: no mmap by malloc"
is "$du" 0 "claim 9: default threshold: no munmap by free"
cmp_ok "$za" -ge $N "claim 9: threshold 0: >= $N faults on allocations (one first touch each)"
cmp_ok "$(( za - da ))" -ge $N "claim 9: threshold 0 costs >= $N more allocation faults than default"
done_testing
