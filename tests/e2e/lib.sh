# Shared helpers for the end-to-end TAP tests (sourced by tests/e2e/*.t).
# Run from the repository root, as root:  prove tests/e2e/
# FAULTLINE may point at another build (e.g. build/faultline-asan).

FAULTLINE=${FAULTLINE:-build/faultline}
case $FAULTLINE in /*) ;; *) FAULTLINE=$PWD/$FAULTLINE ;; esac
EXAMPLES=${EXAMPLES:-$PWD/build/examples}
LIBC=/lib/x86_64-linux-gnu/libc.so.6
# Debian's own interpreter: a `python3` earlier in PATH may be a shell shim
# (pyenv), which faultline and bpftrace -c cannot run as an ELF target.
PY3=/usr/bin/python3
export PYTHONHASHSEED=0
# under `sudo make test` too, the traced commands run as root (faultline would
# run them as the user behind sudo); 90-hardening.t sets SUDO_UID itself
unset SUDO_UID SUDO_GID SUDO_USER

TAP_N=0
TAP_FAILED=0

T=$(mktemp -d /tmp/faultline-e2e.XXXXXX)
cleanup() { rm -rf "$T"; }
trap cleanup EXIT

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
diag() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*"; }

# ok COND_STATUS DESC [DIAG]: COND_STATUS is 0 for pass (use: ok $? "desc")
ok() {
	TAP_N=$((TAP_N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $TAP_N - $2"
	else
		TAP_FAILED=$((TAP_FAILED + 1))
		echo "not ok $TAP_N - $2"
		[ -n "${3:-}" ] && diag "$3"
	fi
	return 0
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3" "expected $2 got $1"; fi
}

# isnt GOT UNEXPECTED DESC
isnt() {
	if [ "$1" != "$2" ]; then ok 0 "$3"; else ok 1 "$3" "expected anything but $2 got $1"; fi
}

# cmp_ok GOT OP EXPECTED DESC  (OP: -eq -ne -lt -le -gt -ge)
cmp_ok() {
	if [[ "$1" =~ ^-?[0-9]+$ ]] && [ "$1" "$2" "$3" ]; then ok 0 "$4"
	else ok 1 "$4" "expected $2 $3 got $1"; fi
}

# within GOT REF ABS_TOL DESC: |GOT-REF| <= ABS_TOL
within() {
	local d
	if ! [[ "$1" =~ ^-?[0-9]+$ && "$2" =~ ^-?[0-9]+$ ]]; then
		ok 1 "$4" "expected $2 (+-$3) got $1"; return 0
	fi
	d=$(( $1 - $2 )); d=${d#-}
	if [ "$d" -le "$3" ]; then ok 0 "$4"; else ok 1 "$4" "expected $2 (+-$3) got $1 (diff $d)"; fi
}

# within_pct GOT REF PCT DESC: |GOT-REF| <= REF*PCT/100 (PCT may be fractional)
within_pct() {
	if ! [[ "$1" =~ ^-?[0-9]+$ && "$2" =~ ^-?[0-9]+$ ]]; then
		ok 1 "$4" "expected $2 (+-$3%) got $1"; return 0
	fi
	if $PY3 -c 'import sys; g,r,p=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]); sys.exit(0 if abs(g-r) <= r*p/100 else 1)' "$1" "$2" "$3"
	then ok 0 "$4"
	else ok 1 "$4" "expected $2 (+-$3%) got $1 (diff $(( $1 - $2 )))"; fi
}

like() { # like TEXT REGEX DESC
	if grep -Eq -- "$2" <<<"$1"; then ok 0 "$3"; else ok 1 "$3" "expected text matching /$2/ got: $(head -c 600 <<<"$1")"; fi
}
unlike() {
	if ! grep -Eq -- "$2" <<<"$1"; then ok 0 "$3"; else ok 1 "$3" "expected no match for /$2/ got: $(head -c 600 <<<"$1")"; fi
}

done_testing() { [ "$TAP_FAILED" = 0 ]; exit $?; }

need_root() { [ "$(id -u)" = 0 ] || skip_all "needs root (BPF)"; }
need_bin() { local b; for b; do [ -x "$b" ] || command -v "$b" >/dev/null 2>&1 || skip_all "missing $b"; done; }

# jq-like JSON lookup: json_get FILE PATH.WITH.DOTS  -> value (null -> empty)
json_get() {
	$PY3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'):
    d = d[int(k)] if isinstance(d, list) else d[k]
print('' if d is None else (json.dumps(d) if isinstance(d, (dict, list)) else d))
EOF
}

# fl_record OUT.data CMD... : faultline record (quiet), stdout to /dev/null.
fl_record() {
	local out=$1; shift
	"$FAULTLINE" record -q -f -o "$out" -- "$@" >/dev/null
}

# fl_json DATA OUT.json : JSON summary
fl_json() { "$FAULTLINE" report "$1" --format json -o "$2"; }

# strace_counts FILE : print "brk mmap munmap mremap mprotect madvise" counts
# from an `strace -c -o FILE` table (a syscall absent from the table is 0).
strace_counts() {
	$PY3 - "$1" <<'EOF'
import sys, re
names = ["brk", "mmap", "munmap", "mremap", "mprotect", "madvise"]
c = dict.fromkeys(names, 0)
for line in open(sys.argv[1]):
    f = line.split()
    # % time, seconds, usecs/call, calls, [errors], syscall
    if len(f) >= 5 and f[-1] in c and re.match(r'^[0-9.]+$', f[0]):
        c[f[-1]] = int(f[3])
print(" ".join(str(c[n]) for n in names))
EOF
}

# perf_faults FILE : page-faults count from `perf stat -x, -o FILE`
perf_faults() {
	awk -F, '$3 == "page-faults" || $3 ~ /^page-faults/ { print $1; exit }' "$1"
}

# entry_bt PRELOAD PROG OUT.bt : a bpftrace script counting, in @all, every
# allocator entry point of include/fl_funcs.h in the objects ldd lists for
# PROG (PRELOAD first), each bound to its first definer, one probe per
# distinct address; @new counts the probes of the operator new family.
# Prints the probe count.
entry_bt() {
	local syms
	syms=$(sed -n 's/^	X([A-Z_]*, *\([A-Z_]*\), *"[^"]*", *"\([^"]*\)".*/\2 \1/p' include/fl_funcs.h)
	LD_PRELOAD=$1 ldd "$2" | $PY3 -c '
import re, subprocess, sys
syms = [l.split() for l in sys.argv[1].splitlines() if l.strip()]
objs = []
for line in sys.stdin:
    m = re.search(r"(/\S+) \(0x", line)
    if m and "ld-linux" not in m.group(1) and m.group(1) not in objs:
        objs.append(m.group(1))
defs = {}
for o in objs:
    out = subprocess.run(["nm", "-D", "--defined-only", o], capture_output=True, text=True).stdout
    defs[o] = {}
    for l in out.splitlines():
        f = l.split()
        if len(f) == 3 and f[1] in "TtWi":
            defs[o].setdefault(f[2].split("@")[0], int(f[0], 16))
probes = {}
for sym, call in syms:
    for o in objs:
        if sym in defs[o]:
            key = (o, defs[o][sym])
            probes.setdefault(key, [sym, False])
            if call in ("NEW", "NEW_ARRAY"):
                probes[key][1] = True
            break
with open(sys.argv[2], "w") as bt:
    for (o, addr), (sym, new) in probes.items():
        bt.write("uprobe:\"%s\":%s /pid == cpid/ { @all = count(); %s}\n" % (o, sym, "@new = count(); " if new else ""))
print(len(probes))
' "$syms" "$3"
}

# bpftrace_map FILE NAME : value of @NAME (count map) printed at exit, 0 if absent
bpftrace_map() {
	local v
	v=$(sed -n "s/^@$2: \\([0-9][0-9]*\\)\$/\\1/p" "$1" | tail -1)
	echo "${v:-0}"
}

# The six memory syscalls, in strace_counts order.
SYSCALLS="brk mmap munmap mremap mprotect madvise"
