#!/usr/bin/env bash
# faultline-gate.sh - a CI memory regression gate: runs a program (your test)
# under faultline, and fails when it calls the allocator or the memory
# syscalls (brk, mmap, munmap, ...) more, or touches more pages, than the
# baseline committed with the code allows (see: faultline check --help).
#
# usage: faultline-gate.sh [--update] [--no-aslr] BASELINE.json -- CMD [ARGS...]
#
#   BASELINE.json  the accepted summary, committed to the repository
#   --update       accept this run as the new baseline (then commit the file)
#   --no-aslr      run CMD under `setarch -R` (record the baseline the same
#                  way): page-fault counts then vary far less between runs
#
# Environment:
#   FAULTLINE             the faultline binary (default: build this checkout's
#                         build/faultline with make, which first installs the
#                         build's missing Debian packages: make deps-build)
#   FAULTLINE_STAT_ARGS   more `faultline stat` options: "-n" where the kernel
#                         has no uprobes (syscalls and faults only; make the
#                         baseline the same way)
#   FAULTLINE_CHECK_ARGS  more `faultline check` options, e.g.
#                         "--max-increase faults=5% --max-increase syscalls.mmap=0"
#   FAULTLINE_OUT         where to leave current.json and the reports
#                         (check.txt, check.md, check.xml; default: faultline-out)
#   GITHUB_STEP_SUMMARY   set by GitHub Actions: the markdown report goes there
#
# Exit status: 0 within the limits; 1 a count grew past its limit (or events
# were lost); 2 bad input, e.g. no baseline yet (then run with --update);
# 3 CMD itself failed, or faultline could not record it.
#
# faultline needs root (eBPF): the script uses sudo when it is not root.
#
# The summary comes from `faultline stat --json`: counts only, no trace file,
# the same JSON as `faultline report --format json`.
set -u

update=0 setarch=()
while [ $# -gt 0 ]; do
	case $1 in
	--update) update=1; shift ;;
	--no-aslr) setarch=(setarch "$(uname -m)" -R); shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) echo "faultline-gate: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 3 ] || [ "$2" != -- ]; then
	echo "usage: faultline-gate.sh [--update] [--no-aslr] BASELINE.json -- CMD [ARGS...]" >&2
	exit 2
fi
baseline=$1
shift 2

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${FAULTLINE_OUT:-faultline-out}
mkdir -p "$out" || exit 2
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)

# 1. Build faultline, unless one is given.
if [ -z "${FAULTLINE:-}" ]; then
	"${sudo[@]}" make -C "$repo" --no-print-directory build/faultline >&2 || exit 3
	FAULTLINE=$repo/build/faultline
fi

# 2. Run the test under faultline, then write its JSON summary.
echo "faultline-gate: counting: $*" >&2
# shellcheck disable=SC2086 # FAULTLINE_STAT_ARGS is a list of options
"${sudo[@]}" "${setarch[@]}" "$FAULTLINE" stat -q -f ${FAULTLINE_STAT_ARGS:-} --json "$out/current.json" -- "$@"
rc=$?
if [ $rc != 0 ]; then
	echo "faultline-gate: the command failed under faultline (exit $rc); no check" >&2
	exit 3
fi
[ "$(id -u)" = 0 ] || "${sudo[@]}" chown "$(id -u):$(id -g)" "$out/current.json"

# 3. Accept it as the baseline, or check it against the baseline.
if [ $update = 1 ]; then
	"$FAULTLINE" check --update-baseline --baseline "$baseline" "$out/current.json"
	exit $?
fi
if [ ! -f "$baseline" ]; then
	echo "faultline-gate: no baseline $baseline yet: run with --update, then commit it" >&2
	exit 2
fi
# shellcheck disable=SC2086 # FAULTLINE_CHECK_ARGS is a list of options
"$FAULTLINE" check --baseline "$baseline" "$out/current.json" ${FAULTLINE_CHECK_ARGS:-} \
	-o "$out/check.txt"
rc=$?
[ $rc = 2 ] && exit 2
# The same verdict for CI viewers: a job summary table and a JUnit report.
# shellcheck disable=SC2086
"$FAULTLINE" check --baseline "$baseline" "$out/current.json" ${FAULTLINE_CHECK_ARGS:-} \
	--format markdown -o "$out/check.md"
# shellcheck disable=SC2086
"$FAULTLINE" check --baseline "$baseline" "$out/current.json" ${FAULTLINE_CHECK_ARGS:-} \
	--format junit -o "$out/check.xml"
# The log shows the verdict and every count that changed.
head -3 "$out/check.txt"
awk 'NR == 5 { print; next } NR > 5 && $0 == "" { exit }
     NR > 5 && ($NF == "FAIL" || $4 != "0")' "$out/check.txt"
sed -n '/^note: /p' "$out/check.txt"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
	cat "$out/check.md" >>"$GITHUB_STEP_SUMMARY"
fi
if [ $rc = 1 ]; then
	echo "faultline-gate: memory regression (full report: $out/check.txt). If the change is" \
	     "intended, accept it: $0 --update $baseline -- $*" >&2
fi
exit $rc
