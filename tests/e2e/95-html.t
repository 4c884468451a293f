#!/usr/bin/env bash
# report --format html (issue 17): the page opened in headless Chromium
# (Debian's chromium, driven by playwright-core from tests/html/, `make deps`)
# makes no network request and logs no error; its timeline has one marker per
# syscall of the recording and hovering one shows its call; the flame graph
# search finds main; a function named `</script><img src=x onerror=...>` and
# a hostile argv are shown as text and run nothing; a recording without stacks
# or cut short still makes a page that says so. The seed_claims page's
# screenshot goes to build/html/seed_claims.png, and to the README's
# docs/img/seed_claims.png with FAULTLINE_UPDATE_DOCS=1 (or when it is missing),
# so a test run leaves the tree unchanged.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin "$PY3" gcc node
ROOT=$PWD
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
[ -x "$EXAMPLES/seed_claims" ] || skip_all "no $EXAMPLES/seed_claims (make)"
[ -x /usr/bin/chromium ] || skip_all "no /usr/bin/chromium (make deps)"
[ -d tests/html/node_modules/playwright-core ] || skip_all "no tests/html/node_modules (make deps)"
plan 38

# field JSON KEY: one value of check_page.js's result, as Python prints it
field() { "$PY3" -c 'import json,sys; v=json.loads(sys.argv[1]); exec("r="+sys.argv[2]); print(r)' "$1" "$2"; }

# ------------------------------------------------------------ seed_claims, with stacks
"$FAULTLINE" record -q --stacks -o "$T/seed.data" -- "$EXAMPLES/seed_claims" >/dev/null 2>&1
is $? 0 "record --stacks of seed_claims"
"$FAULTLINE" report --format html -o "$T/seed.html" "$T/seed.data" 2>"$T/err"
is $? 0 "report --format html -o PAGE exits 0"
is "$(stat -c %s "$T/seed.html" | awk '{ print ($1 > 100000 && $1 < 1000000) }')" 1 \
	"the page is one file of 100 KB - 1 MB (d3 inlined)"
like "$(grep -o '<meta http-equiv="Content-Security-Policy"[^>]*>' "$T/seed.html")" \
	"default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+' 'sha256-[A-Za-z0-9+/=]+'; style-src 'unsafe-inline'; img-src data:" \
	"CSP: nothing from the network, only the page's two scripts by hash"
grep -Eq '<(script|link|img)[^>]* (src|href)=' "$T/seed.html"; isnt $? 0 "no script, link or img refers to a file"

mkdir -p "$ROOT/build/html"
SHOT=$ROOT/build/html/seed_claims.png
rm -f "$SHOT"
R=$(timeout 120 node tests/html/check_page.js "$T/seed.html" "$SHOT" main)
ok $? "Chromium opened the page" "$R"
diag "$R"
is "$(field "$R" 'len(v["requests"])')" 0 "no network request"
is "$(field "$R" 'len(v["console_errors"]) + len(v["page_errors"])')" 0 "no console error, no page error"
SYS=$("$FAULTLINE" report --format json "$T/seed.data" 2>/dev/null | "$PY3" -c 'import json,sys; print(sum(json.load(sys.stdin)["syscalls"].values()))')
cmp_ok "$SYS" -gt 10 "the recording has syscalls ($SYS)"
is "$(field "$R" 'v["markers_drawn"]')" "$SYS" "one timeline marker per syscall of the JSON summary"
is "$(field "$R" 'v["markers_total"]')" "$SYS" "the page's marker total is the summary's syscall total"
like "$(field "$R" '"|".join(h or "" for h in v["hover"])')" '#[0-9]+ malloc\(131072\) = 0x[0-9a-f]+ → mmap 132 KiB' \
	"hovering the 128 KiB block's mmap marker shows its call (#N malloc(131072) → mmap 132 KiB)"
like "$(field "$R" '"|".join(h or "" for h in v["hover"])')" 'first touches that followed on its block: 3[0-9]' \
	"and the first touches that followed on its block"
cmp_ok "$(field "$R" 'v["search_matches"]')" -ge 1 "the flame graph search for main highlights frames"
like "$(field "$R" 'v["search_found"]')" '^[0-9]+ frames match: [0-9.]+% of syscalls' "and says how much of the metric they cover"
is "$(field "$R" 'len(v["warnings"])')" 0 "no warning on a whole recording"
[ -s "$SHOT" ]; ok $? "screenshot saved to build/html/seed_claims.png"
if [ -s "$SHOT" ] && { [ "${FAULTLINE_UPDATE_DOCS:-}" = 1 ] || [ ! -e "$ROOT/docs/img/seed_claims.png" ]; }; then
	mkdir -p "$ROOT/docs/img" && cp "$SHOT" "$ROOT/docs/img/seed_claims.png" && diag "docs/img/seed_claims.png updated"
fi

# ------------------------------------------------------------ hostile names
cat >"$T/evil.c" <<'EOC'
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
EOC
gcc -O0 -g -fno-builtin -o "$T/evil" "$T/evil.c" || exit 1
"$PY3" - "$T/evil" <<'EOP'
import sys
ph = b"PLACEHOLDER_NAME_FOR_A_HOSTILE_SYMBOL_X"
new = b"</script><img src=x onerror=alert(1)>"
new += b"_" * (len(ph) - len(new))
d = open(sys.argv[1], 'rb').read()
assert d.count(ph) >= 1
open(sys.argv[1], 'wb').write(d.replace(ph, new))
EOP
HOSTILE='</script><img src=x onerror=alert(1)>'
ARGV="<img src=x onerror=alert(2)>&amp;$(printf '\342\200\250')"
"$FAULTLINE" record -q --stacks -o "$T/evil.data" -- "$T/evil" "$ARGV" >/dev/null 2>&1
is $? 0 "record --stacks of a program whose function is named $HOSTILE"
"$FAULTLINE" report --format html -o "$T/evil.html" "$T/evil.data" 2>/dev/null
is $? 0 "its page is written"
is "$(grep -c '<img' "$T/evil.html")" 0 "the page's bytes have no '<img' (every '<' of the data is \\u003c)"
grep -q "$(printf '\342\200\250')" "$T/evil.html"; isnt $? 0 "nor a raw U+2028 (written as \\u2028)"
R=$(timeout 120 node tests/html/check_page.js "$T/evil.html" "" "$HOSTILE" "$HOSTILE")
diag "$R"
is "$(field "$R" 'v["dialogs"] + v["imgs"] + v["imgs_after"] + len(v["page_errors"]) + len(v["console_errors"])')" 0 \
	"no alert, no <img> element, no error: nothing ran"
cmp_ok "$(field "$R" 'v["search_matches"]')" -ge 1 "the flame graph search finds the function by its hostile name"
is "$(field "$R" 'v["hostile_shown"] and v["hostile_in_text"]')" True "the hostile function name is shown as text (tables, flame graph labels)"
like "$(field "$R" 'v["command_text"]')" "$(printf '%s' "$ARGV" | sed 's/[][()\\.*^$|+?{}]/\\&/g')\$" \
	"the hostile argv is shown as text"

# ------------------------------------------------------------ the heap analyses' keys (issue 16's contract)
# The page reads "analyses" from the summary when the report writes it: a
# summary given the contract's keys by hand draws every section from them.
"$PY3" - "$T/seed.html" "$T/analyses.html" <<'EOP'
import json, re, sys
page = open(sys.argv[1], encoding='utf-8').read()
m = re.search(r'(<script type="application/json" id="faultline-data">)(.*?)(</script>)', page, re.S)
d = json.loads(m.group(2))
s = d['summary']
t0 = d['timeline']['points']
site = {"site": "main (seed_claims.c:80)", "frames": ["main"]}
s['analyses'] = {
  "leaks": {"blocks": 1, "bytes": 4096, "exact": True, "sites": [dict(site, blocks=1, bytes=4096, touched_pages=1)]},
  "peak": {"ts_ns": 1000, "seq": 163, "live_bytes": 1052672, "sites": [dict(site, bytes=1048576, blocks=1)]},
  "temporary": {"calls": 3, "sites": [dict(site, calls=3, syscalls=2, first_touches=50)]},
  "sizes": [{"min": 1, "max": 1, "calls": 1, "bytes": 1, "syscalls": 2, "first_touches": 1},
            {"min": 131072, "max": 262143, "calls": 3, "bytes": 598016, "syscalls": 3, "first_touches": 82}],
  "timeline": {"interval_ns": 1000, "points": [{"t_ns": p[0], "live": p[1], "heap": p[2], "mmap": p[3], "held": p[4],
               "resident": p[1] // 2, "syscalls": {"brk": 0}, "first_touches": p[6]} for p in t0]},
  "resident": {"model_bytes": 4096, "kernel_bytes": None, "by_region": []}}
js = json.dumps(d, ensure_ascii=False).replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')
open(sys.argv[2], 'w', encoding='utf-8').write(page[:m.start(2)] + js + page[m.end(2):])
EOP
R=$(timeout 120 node tests/html/check_page.js "$T/analyses.html" "")
diag "$R"
is "$(field "$R" 'len(v["console_errors"]) + len(v["page_errors"])')" 0 "with analyses: no console error, no page error"
is "$(field "$R" 'v["not_available"]')" 0 "with analyses (and stacks): no section says not available"
like "$(field "$R" '",".join(v["series"])')" 'resident' "the timeline is the analyses' one, resident bytes included"
is "$(field "$R" 'v["threshold_rows"]')" 1 "the size class holding the 128 KiB mmap threshold is marked"

# ------------------------------------------------------------ record --html PAGE
"$FAULTLINE" record -q --html "$T/rec.html" -o "$T/rec.data" -- "$EXAMPLES/seed_claims" >/dev/null 2>&1
is $? 0 "record --html PAGE: exit status of CMD (0)"
"$FAULTLINE" report --format html "$T/rec.data" 2>/dev/null | sed 's/[0-9]//g' >"$T/rep.stripped"
sed 's/[0-9]//g' "$T/rec.html" | cmp -s - "$T/rep.stripped"; ok $? "and the page is the one report --format html makes of FILE (digits aside)"

# ------------------------------------------------------------ -f: per process
"$FAULTLINE" record -q -f -o "$T/f.data" -- sh -c "$EXAMPLES/seed_claims; $EXAMPLES/fragmentation" >/dev/null 2>&1
"$FAULTLINE" report --format html -o "$T/f.html" "$T/f.data" 2>/dev/null
R=$(timeout 120 node tests/html/check_page.js "$T/f.html" "")
diag "$(field "$R" '{k: v[k] for k in ("pids", "pid_markers_shown", "pid_markers_in_data", "pid_series", "page_errors")}')"
cmp_ok "$(field "$R" 'len(v["pids"])')" -ge 3 "-f: the page offers each process (sh and its two children)"
is "$(field "$R" 'v["pid_markers_shown"] if v["pid_markers_in_data"] > 0 else -1')" "$(field "$R" 'v["pid_markers_in_data"]')" \
	"one process chosen: its markers alone are shown"
is "$(field "$R" 'v["pid_series"] >= 4 and not v["page_errors"] and not v["console_errors"]')" True \
	"and its own levels are drawn, without error"

# ------------------------------------------------------------ without stacks, and cut short
"$FAULTLINE" record -q -o "$T/plain.data" -- "$EXAMPLES/fragmentation" >/dev/null 2>&1
"$FAULTLINE" report --format html -o "$T/plain.html" "$T/plain.data" 2>/dev/null
R=$(timeout 120 node tests/html/check_page.js "$T/plain.html" "")
is "$(field "$R" 'v["flame"]')" False "without stacks: no flame graph (the page says to record --stacks)"
cmp_ok "$(field "$R" 'v["not_available"]')" -ge 1 "sections without their data say so"

head -c $(( $(stat -c %s "$T/seed.data") * 2 / 3 )) "$T/seed.data" >"$T/cut.data"
"$FAULTLINE" report --format html -o "$T/cut.html" "$T/cut.data" 2>/dev/null
is $? 2 "a recording cut short: exit 2 (the page covers its whole blocks)"
R=$(timeout 120 node tests/html/check_page.js "$T/cut.html" "")
like "$(field "$R" '"|".join(v["warnings"])')" "cut short" "and the page shows it as a warning at the top"

exit $((TAP_FAILED > 0))
