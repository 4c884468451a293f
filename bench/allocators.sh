#!/usr/bin/env bash
# bench/allocators.sh [PAIRS] - what faultline costs per allocation on each
# allocator: glibc, and jemalloc, tcmalloc, mimalloc preloaded (Debian's
# libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0), on malloc+free pairs
# (build/examples/churn) and new+delete pairs (bench/cxx_churn.cc). Each
# configuration runs untraced, under `faultline stat` and under `faultline
# record`, interleaved, 3 rounds; the table gives µs per pair (traced minus
# untraced, start-up subtracted, median) and the ratio to glibc's malloc+free.
# BENCH_CLOCK=cpu measures CPU time (user + system of the command and its
# children: the target's uprobe handling and faultline's own work) instead of
# wall time, which on a shared machine says more. FAULTLINE_BASE=PATH adds a
# column: stat's µs per pair with that other build, run in the same rounds.
set -u
cd "$(dirname "$0")/.." || exit 2
FL=${FAULTLINE:-$PWD/build/faultline}
PAIRS=${1:-500000}
ROUNDS=${BENCH_ROUNDS:-3}
LIBDIR=/usr/lib/x86_64-linux-gnu
T=$(mktemp -d) && trap 'rm -rf "$T"' EXIT
g++ -O2 -o "$T/cxx_churn" bench/cxx_churn.cc || exit 2

now() { date +%s.%N; }
med() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
CLOCK=${BENCH_CLOCK:-wall}
BASE=${FAULTLINE_BASE:-}
# run SECONDS-FILE CMD...: appends the wall (or CPU) time of CMD
run() {
	local f=$1 s e; shift
	if [ "$CLOCK" = cpu ]; then
		{ TIMEFORMAT='%3U %3S'; time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ print $1 + $2 }' >>"$f"
		return
	fi
	s=$(now); "$@" >/dev/null 2>&1; e=$(now); echo "$e - $s" | bc >>"$f"
}

for r in $(seq 1 "$ROUNDS"); do
	run "$T/startup.stat" "$FL" stat -q -- /bin/true
	run "$T/startup.record" "$FL" record -q -o "$T/t.data" -- /bin/true
	[ -n "$BASE" ] && run "$T/startup.base" "$BASE" stat -q -- /bin/true
done
su=$(med <"$T/startup.stat"); ru=$(med <"$T/startup.record")
bu=0; [ -n "$BASE" ] && bu=$(med <"$T/startup.base")

printf '%-10s %-12s %10s %10s %12s %12s %8s%s\n' allocator workload untraced_s stat_s "stat_us/pair" "record_us/pair" \
	"ratio" "${BASE:+ base_stat_us/pair}"
base=""
for a in glibc jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4 mimalloc:libmimalloc.so.2; do
	name=${a%%:*}; lib=""
	[ "$a" != glibc ] && lib=$LIBDIR/${a#*:}
	[ -n "$lib" ] && [ ! -e "$lib" ] && { echo "$name: $lib not installed"; continue; }
	for w in "malloc+free:$PWD/build/examples/churn" "new+delete:$T/cxx_churn"; do
		wl=${w%%:*}; prog=${w#*:}
		rm -f "$T"/{u,s,rec,b}
		for r in $(seq 1 "$ROUNDS"); do
			run "$T/u" env ${lib:+LD_PRELOAD=$lib} "$prog" "$PAIRS"
			run "$T/s" env ${lib:+LD_PRELOAD=$lib} "$FL" stat -q -- "$prog" "$PAIRS"
			run "$T/rec" env ${lib:+LD_PRELOAD=$lib} "$FL" record -q -o "$T/t.data" -- "$prog" "$PAIRS"
			[ -n "$BASE" ] && run "$T/b" env ${lib:+LD_PRELOAD=$lib} "$BASE" stat -q -- "$prog" "$PAIRS"
		done
		u=$(med <"$T/u"); s=$(med <"$T/s"); rc=$(med <"$T/rec")
		sp=$(echo "($s - $su - $u) * 1000000 / $PAIRS" | bc -l)
		rp=$(echo "($rc - $ru - $u) * 1000000 / $PAIRS" | bc -l)
		bp=""
		[ -n "$BASE" ] && bp=$(printf ' %17.2f' "$(echo "($(med <"$T/b") - $bu - $u) * 1000000 / $PAIRS" | bc -l)")
		[ -z "$base" ] && base=$sp
		printf '%-10s %-12s %10.3f %10.3f %12.2f %12.2f %8.2f%s\n' "$name" "$wl" "$u" "$s" "$sp" "$rp" \
			"$(echo "$sp / $base" | bc -l)" "$bp"
	done
done
echo "(ratio: stat's µs per pair over glibc's malloc+free; $CLOCK time; $ROUNDS rounds, $PAIRS pairs, start-up $su s stat, $ru s record subtracted${BASE:+; base: $BASE})"
