#!/usr/bin/env bash
# One table line is one allocator entry point (include/fl_funcs.h): a copy of
# the tree with one line added to FL_ENTRIES (and one to FL_CALLS, the new
# name it is reported under) builds, probes the new function in a real
# program (its BPF program is made from the line), and reports its calls under
# the new name, with the malloc calls it makes marked nested.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin gcc make
plan 8

SRC=$T/src
mkdir -p "$SRC/build"
cp -r include bpf user tools examples Makefile tests "$SRC"/ 2>/dev/null
cp build/vmlinux.h "$SRC/build/" && touch "$SRC/build/.deps-ok"
# a name to report it under (FL_CALLS) and the entry point (FL_ENTRIES),
# each appended as the last line of its list
$PY3 - "$SRC/include/fl_funcs.h" <<'PYEOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
def append(macro, new):
    i = next(k for k, l in enumerate(lines) if l.startswith("#define " + macro + "(X)"))
    while lines[i].rstrip().endswith("\\"):
        i += 1
    lines[i] = lines[i].rstrip() + " \\"
    lines.insert(i + 1, new)
append("FL_CALLS", '	X(TEST_ALLOC, "test_alloc", C)')
append("FL_ENTRIES", '	X(TEST_ALLOC, TEST_ALLOC, "", "fl_test_alloc", ALLOC, 1, 0, 0)')
open(p, "w").write("\n".join(lines))
PYEOF
d=$(diff include/fl_funcs.h "$SRC/include/fl_funcs.h" | grep -c '^>')
is "$d" 4 "the change is two table lines, a name and an entry point (and the continuations of the lines before them)"

make -C "$SRC" -s -j2 build/faultline >"$T/build.log" 2>&1
ok $? "the tree with the extra entry builds" "$(tail -5 "$T/build.log")"

# a static program: it carries its own malloc, and fl_test_alloc beside it
cat >"$T/extra.c" <<'CEOF'
#include <stdlib.h>
void *volatile sink;
__attribute__((noinline)) void *fl_test_alloc(size_t n)
{
	void *p = malloc(n);
	sink = p;
	return p;
}
int main(void)
{
	for (int i = 0; i < 100; i++)
		free(fl_test_alloc(100 + i));
	return 0;
}
CEOF
gcc -O1 -static -o "$T/extra" "$T/extra.c" 2>"$T/gcc.err"
ok $? "a static test program builds" "$(head -3 "$T/gcc.err")"

"$SRC/build/faultline" record -q -o "$T/x.data" -- "$T/extra" >/dev/null 2>"$T/rec.err"
ok $? "record with the extra entry point" "$(head -3 "$T/rec.err")"
"$SRC/build/faultline" report "$T/x.data" --format json -o "$T/x.json"
is "$(json_get "$T/x.json" calls.test_alloc)" 100 "calls.test_alloc counts each of the 100 calls"
nested=$(json_get "$T/x.json" extra.nested_calls)
cmp_ok "$nested" -ge 100 "the mallocs inside them are marked nested ($nested)"
"$SRC/build/faultline" report "$T/x.data" --format jsonl >"$T/x.jsonl"
n=$($PY3 -c '
import json, sys
c = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for e in c if e["ev"] == "call" and e["func"] == "test_alloc" and e["size"] >= 100 and e["ptr"] != "0x0"))
' "$T/x.jsonl")
is "$n" 100 "jsonl names each call test_alloc, with its size and the block it returned"
"$FAULTLINE" report "$T/x.data" --format json -o "$T/plain.json" 2>/dev/null
is "$(json_get "$T/plain.json" calls.test_alloc 2>/dev/null)" "" "the project's own build has no such entry"
done_testing
