#!/usr/bin/env bash
# The report corpus: recordings that cover every path of the correlator and
# the report writers (glibc, refalloc, -f with forks and execs, threads,
# --stacks and --stacks=all, a cut-short file), and every report format of
# each. Used to show that a change which should not alter any report (a
# re-layout, a speed-up) does not:
#
#   tests/corpus/corpus.sh record DIR            # recordings, made with $FAULTLINE
#   tests/corpus/corpus.sh report DIR OUT        # every report of them, by $FAULTLINE
#   tests/corpus/corpus.sh compare REV           # build REV in a worktree, record with it,
#                                                # report with it and with build/faultline, diff
#
# FAULTLINE defaults to build/faultline. Run from the repository root, as root.
# `compare` exits 0 when every report is byte-identical, 1 otherwise (the diff
# is printed), 2 when something could not be run.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
FAULTLINE=${FAULTLINE:-$PWD/build/faultline}
EX=$PWD/build/examples
REFALLOC=$PWD/build/librefalloc.so

die() { echo "corpus: $*" >&2; exit 2; }

# name: command...   (each recorded with `record -q -o DIR/name.data`)
record_all() {
	local dir=$1 f=$FAULTLINE
	mkdir -p "$dir" || die "cannot create $dir"
	rec() { local name=$1; shift; "$f" record -q -o "$dir/$name.data" "$@" >/dev/null 2>"$dir/$name.err" ||
		[ "$name" = exit3 ] || die "recording $name failed: $(head -3 "$dir/$name.err")"; }
	rec seed_claims -- "$EX/seed_claims"
	rec fragmentation -- "$EX/fragmentation"
	rec mmap_threshold -- "$EX/mmap_threshold" zero 50
	rec nested_realloc -- "$EX/nested_realloc"
	rec threads -- "$EX/threads"
	rec faulty -- "$EX/faulty"
	rec refalloc -- env LD_PRELOAD="$REFALLOC" "$EX/seed_claims"
	rec refalloc_nested -- env LD_PRELOAD="$REFALLOC" "$EX/nested_realloc"
	rec forks -f -- /bin/bash -c 'for i in 1 2 3; do /bin/true; ( echo x >/dev/null ); done; /bin/ls / >/dev/null'
	rec python -- /usr/bin/python3 -c 'd = {i: str(i) * 10 for i in range(20000)}; print(len(d))'
	rec exit3 -- /bin/sh -c 'exit 3'
	rec stacks --stacks -- "$EX/seed_claims"
	rec stacks_all --stacks=all -- "$EX/mmap_threshold" zero 20
	rec stacks_threads --stacks -- "$EX/threads"
	# cut short: the first 60% of a recording (its end block and the last blocks gone)
	local sz; sz=$(stat -c %s "$dir/python.data")
	head -c $((sz * 6 / 10)) "$dir/python.data" >"$dir/cut.data"
	sz=$(stat -c %s "$dir/stacks_threads.data")
	head -c $((sz * 6 / 10)) "$dir/stacks_threads.data" >"$dir/cut_stacks.data"
	rm -f "$dir"/*.err
}

# Every format of every recording; exit status and stderr kept beside stdout.
report_all() {
	local dir=$1 out=$2 d n fmt
	mkdir -p "$out" || die "cannot create $out"
	for d in "$dir"/*.data; do
		n=$(basename "$d" .data)
		for fmt in text json jsonl; do
			"$FAULTLINE" report "$d" --format $fmt >"$out/$n.$fmt" 2>"$out/$n.$fmt.err"
			echo "exit $?" >>"$out/$n.$fmt.err"
		done
		"$FAULTLINE" report "$d" --calls 5 --sites 3 >"$out/$n.short.text" 2>"$out/$n.short.err"
		case $n in stacks*|cut_stacks)
			for m in syscalls faults bytes; do
				"$FAULTLINE" report "$d" --format folded --metric $m >"$out/$n.$m.folded" 2>"$out/$n.$m.err"
			done ;;
		esac
	done
}

compare_rev() {
	local rev=$1 wt ref new
	wt=$(mktemp -d /tmp/faultline-corpus.XXXXXX) || die "mktemp"
	git worktree add -q --detach "$wt/src" "$rev" || die "no revision $rev"
	(cd "$wt/src" && make -s build/faultline >/dev/null) || die "building $rev failed"
	FAULTLINE=$wt/src/build/faultline record_all "$wt/data"
	FAULTLINE=$wt/src/build/faultline report_all "$wt/data" "$wt/old"
	FAULTLINE=$PWD/build/faultline report_all "$wt/data" "$wt/new"
	git worktree remove --force "$wt/src"
	if diff -r "$wt/old" "$wt/new"; then
		echo "corpus: $(ls "$wt/data" | wc -l) recordings, $(ls "$wt/new" | wc -l) reports: identical to $rev's"
		rm -rf "$wt"
		return 0
	fi
	echo "corpus: reports differ from $rev's (kept in $wt)" >&2
	return 1
}

case ${1:-} in
record) [ $# = 2 ] || die "usage: corpus.sh record DIR"; record_all "$2" ;;
report) [ $# = 3 ] || die "usage: corpus.sh report DIR OUT"; report_all "$2" "$3" ;;
compare) [ $# = 2 ] || die "usage: corpus.sh compare REV"; compare_rev "$2" ;;
*) die "usage: corpus.sh record DIR | report DIR OUT | compare REV" ;;
esac
